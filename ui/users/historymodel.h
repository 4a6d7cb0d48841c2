#pragma once

#include "common/tablemodel.h"

#include <memory>
#include <vector>

namespace recwb {
class Dataset;
}

namespace recwb::ui {

// One user's interactions in a dataset snapshot, newest first. Reset when the dataset
// or the user changes.
class HistoryModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Title, Categories, Value, Time, NumColumns };

    using TableModel::TableModel;
    ~HistoryModel() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    void setUser(int user); // -1: nobody
    int user() const { return m_user; }
    // The item index behind a row.
    int itemAt(int row) const;

protected:
    int rows() const final { return static_cast<int>(m_entries.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    bool isNumeric(int column) const final { return column == Value; }
    QVariant cell(int row, int column, int role) const final;

private:
    void rebuild();

    std::shared_ptr<const Dataset> m_dataset;
    int m_user = -1;
    std::vector<int64_t> m_entries; // offsets into userItems, newest first
};

} // namespace recwb::ui
