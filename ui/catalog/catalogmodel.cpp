#include "catalog/catalogmodel.h"

#include "data/dataset.h"
#include "common/modelutil.h"

namespace recwb::ui {

CatalogModel::~CatalogModel() = default;

void CatalogModel::setDataset(std::shared_ptr<const Dataset> dataset)
{
    beginResetModel();
    m_dataset = std::move(dataset);
    m_categories.clear();
    m_tags.clear();
    m_search.clear();
    if (m_dataset) {
        const auto& items = m_dataset->items;
        m_categories.reserve(items.size());
        m_tags.reserve(items.size());
        m_search.reserve(items.size());
        for (const Item& item : items) {
            m_categories.push_back(m_dataset->categoryNames(item));
            m_tags.push_back(item.tags.join(QStringLiteral(", ")));
            m_search.push_back(
                QString(item.title + u'\n' + m_categories.back() + u'\n' + m_tags.back()).toCaseFolded());
        }
        m_numericIds = allNumeric(items, [](const Item& item) { return item.externalId; });
    }
    endResetModel();
}

QStringView CatalogModel::searchText(int row) const
{
    return m_search[static_cast<size_t>(row)];
}

int CatalogModel::rows() const
{
    return m_dataset ? m_dataset->numItems() : 0;
}

QString CatalogModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Id:
        return tr("ID");
    case Title:
        return tr("Title");
    case Categories:
        return tr("Categories");
    case Tags:
        return tr("Tags");
    case Year:
        return tr("Year");
    case Interactions:
        return tr("Users");
    case NumColumns:
        break;
    }
    return {};
}

QString CatalogModel::headerToolTip(int column) const
{
    switch (static_cast<Column>(column)) {
    case Id:
        return tr("External item id from the imported data");
    case Interactions:
        return tr("Number of users who interacted with the item (popularity)");
    default:
        return {};
    }
}

QVariant CatalogModel::cell(int row, int column, int role) const
{
    const auto r = static_cast<size_t>(row);
    const Item& item = m_dataset->items[r];
    switch (role) {
    case Qt::DisplayRole:
        switch (static_cast<Column>(column)) {
        case Id:
            return item.externalId;
        case Title:
            return item.title;
        case Categories:
            return m_categories[r];
        case Tags:
            return m_tags[r];
        case Year:
            return item.year > 0 ? QVariant(item.year) : QVariant(QString());
        case Interactions:
            return m_dataset->itemUsers.rowLength(row);
        case NumColumns:
            break;
        }
        break;
    case SortRole:
        switch (static_cast<Column>(column)) {
        case Id:
            return idSortKey(item.externalId, m_numericIds);
        case Year:
            return item.year;
        case Interactions:
            return m_dataset->itemUsers.rowLength(row);
        default:
            return cell(row, column, Qt::DisplayRole);
        }
    case Qt::ToolTipRole:
        switch (static_cast<Column>(column)) {
        case Title:
            return item.title;
        case Categories:
            return m_categories[r];
        case Tags:
            return m_tags[r];
        default:
            return {};
        }
    case Qt::FontRole:
        if (column == Id)
            return monospaceFont();
        break;
    case SourceRowRole:
        return row;
    default:
        break;
    }
    return {};
}

} // namespace recwb::ui
