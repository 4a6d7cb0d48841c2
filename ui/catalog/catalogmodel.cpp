#include "catalog/catalogmodel.h"

#include "common/modelutil.h"
#include "common/offthread.h"
#include "data/dataset.h"

namespace recwb::ui {

CatalogModel::~CatalogModel() = default;

std::shared_ptr<const CatalogModel::Texts> CatalogModel::textsOf(const Dataset& dataset)
{
    Texts t;
    const auto& items = dataset.items;
    t.categories.reserve(items.size());
    t.tags.reserve(items.size());
    t.search.reserve(items.size());
    for (const Item& item : items) {
        t.categories.push_back(dataset.categoryNames(item));
        t.tags.push_back(item.tags.join(QStringLiteral(", ")));
        t.search.push_back(QString(item.title + u'\n' + t.categories.back() + u'\n' + t.tags.back()).toCaseFolded());
    }
    t.numericIds = allNumeric(items, [](const Item& item) { return item.externalId; });
    return shareReleasedOffGuiThread(std::move(t)); // a million texts take a while to free
}

void CatalogModel::setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Texts> texts)
{
    if (dataset && (!texts || texts->search.size() != dataset->items.size()))
        texts = textsOf(*dataset);
    beginResetModel();
    m_dataset = std::move(dataset);
    m_texts = texts ? std::move(texts) : std::make_shared<Texts>();
    endResetModel();
}

QStringView CatalogModel::searchText(int row) const
{
    return m_texts->search[static_cast<size_t>(row)];
}

std::shared_ptr<const std::vector<QString>> CatalogModel::sharedSearchTexts() const
{
    return { m_texts, &m_texts->search }; // shares ownership of the texts
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

QVariant CatalogModel::sortKey(const Dataset& dataset, const Texts& texts, int row, int column)
{
    const auto r = static_cast<size_t>(row);
    const Item& item = dataset.items[r];
    switch (static_cast<Column>(column)) {
    case Id:
        return idSortKey(item.externalId, texts.numericIds);
    case Title:
        return item.title;
    case Categories:
        return texts.categories[r];
    case Tags:
        return texts.tags[r];
    case Year:
        return item.year;
    case Interactions:
        return dataset.itemUsers.rowLength(row);
    case NumColumns:
        break;
    }
    return {};
}

std::function<QVariant(int)> CatalogModel::sortKeyReader(int column) const
{
    if (!m_dataset || column < 0 || column >= NumColumns)
        return {};
    return [dataset = m_dataset, texts = m_texts, column](int row) { return sortKey(*dataset, *texts, row, column); };
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
            return m_texts->categories[r];
        case Tags:
            return m_texts->tags[r];
        case Year:
            return item.year > 0 ? QVariant(item.year) : QVariant(QString());
        case Interactions:
            return m_dataset->itemUsers.rowLength(row);
        case NumColumns:
            break;
        }
        break;
    case SortRole:
        return sortKey(*m_dataset, *m_texts, row, column);
    case Qt::ToolTipRole:
        switch (static_cast<Column>(column)) {
        case Title:
            return item.title;
        case Categories:
            return m_texts->categories[r];
        case Tags:
            return m_texts->tags[r];
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
