#pragma once

#include "common/tablemodel.h"

#include <memory>
#include <vector>

namespace recwb {
class Dataset;
}

namespace recwb::ui {

// The catalog of one dataset snapshot, one row per item (row == item index).
class CatalogModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Id, Title, Categories, Tags, Year, Interactions, NumColumns };

    using TableModel::TableModel;
    ~CatalogModel() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    const std::shared_ptr<const Dataset>& dataset() const { return m_dataset; }

    QStringView searchText(int row) const final;
    QString categoriesText(int row) const { return m_categories[static_cast<size_t>(row)]; }
    QString tagsText(int row) const { return m_tags[static_cast<size_t>(row)]; }

protected:
    int rows() const final;
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Year || column == Interactions; }
    QVariant cell(int row, int column, int role) const final;

private:
    std::shared_ptr<const Dataset> m_dataset;
    std::vector<QString> m_categories;
    std::vector<QString> m_tags;
    std::vector<QString> m_search; // case-folded "title\ncategories\ntags"
    bool m_numericIds = false;
};

} // namespace recwb::ui
