#pragma once

#include "common/tablemodel.h"
#include "data/dataset.h"

#include <memory>
#include <vector>

namespace recwb::ui {

// The users of one dataset snapshot, one row per user (row == user index).
class UsersModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Id, Interactions, Status, Profile, NumColumns };

    // The texts derived from the users (profile summary, the filter's search text). Built by
    // textsOf() on any thread: the workspace load builds them on its worker (issue 13).
    struct Texts {
        std::vector<QString> profiles;
        std::vector<QString> search; // case-folded "id\nprofile"
        bool numericIds = false;
    };
    static std::shared_ptr<const Texts> textsOf(const Dataset& dataset);

    using TableModel::TableModel;
    ~UsersModel() override;

    // texts: textsOf(*dataset), or null to build them here.
    void setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Texts> texts = nullptr);
    const std::shared_ptr<const Dataset>& dataset() const { return m_dataset; }
    void setColdThreshold(int threshold);
    int coldThreshold() const { return m_coldThreshold; }
    bool isCold(int row) const { return m_dataset->isCold(row, m_coldThreshold); }
    QString profileText(int row) const { return m_texts->profiles[static_cast<size_t>(row)]; }

    QStringView searchText(int row) const final;
    std::shared_ptr<const std::vector<QString>> sharedSearchTexts() const final;
    std::function<QVariant(int row)> sortKeyReader(int column) const final;

protected:
    int rows() const final;
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Interactions; }
    QVariant cell(int row, int column, int role) const final;

private:
    static QVariant sortKey(const Dataset& dataset, const Texts& texts, int coldThreshold, int row, int column);

    std::shared_ptr<const Dataset> m_dataset;
    std::shared_ptr<const Texts> m_texts = std::make_shared<Texts>();
    int m_coldThreshold = kDefaultColdThreshold;
};

} // namespace recwb::ui
