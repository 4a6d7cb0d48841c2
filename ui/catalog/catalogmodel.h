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

    // The texts derived from the items (joined categories and tags, the filter's search text).
    // Built by textsOf() on any thread: for a million items that is seconds of work, so the
    // workspace load builds them on its worker and hands them in with the dataset (issue 13).
    struct Texts {
        std::vector<QString> categories;
        std::vector<QString> tags;
        std::vector<QString> search; // case-folded "title\ncategories\ntags"
        bool numericIds = false;
    };
    static std::shared_ptr<const Texts> textsOf(const Dataset& dataset);

    using TableModel::TableModel;
    ~CatalogModel() override;

    // texts: textsOf(*dataset), or null to build them here.
    void setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Texts> texts = nullptr);
    const std::shared_ptr<const Dataset>& dataset() const { return m_dataset; }

    QStringView searchText(int row) const final;
    std::shared_ptr<const std::vector<QString>> sharedSearchTexts() const final;
    std::function<QVariant(int row)> sortKeyReader(int column) const final;
    QString categoriesText(int row) const { return m_texts->categories[static_cast<size_t>(row)]; }
    QString tagsText(int row) const { return m_texts->tags[static_cast<size_t>(row)]; }

protected:
    int rows() const final;
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Year || column == Interactions; }
    QVariant cell(int row, int column, int role) const final;

private:
    static QVariant sortKey(const Dataset& dataset, const Texts& texts, int row, int column);

    std::shared_ptr<const Dataset> m_dataset;
    std::shared_ptr<const Texts> m_texts = std::make_shared<Texts>();
};

} // namespace recwb::ui
