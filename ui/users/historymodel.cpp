#include "users/historymodel.h"

#include "data/dataset.h"
#include "common/modelutil.h"

#include <algorithm>

namespace recwb::ui {

HistoryModel::~HistoryModel() = default;

void HistoryModel::setDataset(std::shared_ptr<const Dataset> dataset)
{
    beginResetModel();
    m_dataset = std::move(dataset);
    m_user = -1;
    m_entries.clear();
    endResetModel();
}

void HistoryModel::setUser(int user)
{
    beginResetModel();
    m_user = (m_dataset && user >= 0 && user < m_dataset->numUsers()) ? user : -1;
    rebuild();
    endResetModel();
}

void HistoryModel::rebuild()
{
    m_entries.clear();
    if (m_user < 0)
        return;
    const Csr& csr = m_dataset->userItems;
    const int64_t begin = csr.offsets[static_cast<size_t>(m_user)];
    const int64_t end = csr.offsets[static_cast<size_t>(m_user) + 1];
    m_entries.reserve(static_cast<size_t>(end - begin));
    for (int64_t k = begin; k < end; ++k)
        m_entries.push_back(k);
    if (!csr.timestamps.empty()) {
        std::stable_sort(m_entries.begin(), m_entries.end(), [&csr](int64_t a, int64_t b) {
            return csr.timestamps[static_cast<size_t>(a)] > csr.timestamps[static_cast<size_t>(b)];
        });
    }
}

int HistoryModel::itemAt(int row) const
{
    return m_dataset->userItems.indices[static_cast<size_t>(m_entries[static_cast<size_t>(row)])];
}

QString HistoryModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Title:
        return tr("Item");
    case Categories:
        return tr("Categories");
    case Value:
        return tr("Value");
    case Time:
        return tr("Time");
    case NumColumns:
        break;
    }
    return {};
}

QVariant HistoryModel::cell(int row, int column, int role) const
{
    const Csr& csr = m_dataset->userItems;
    const auto k = static_cast<size_t>(m_entries[static_cast<size_t>(row)]);
    const Item& item = m_dataset->items[static_cast<size_t>(csr.indices[k])];
    const qint64 ts = csr.timestamps.empty() ? 0 : csr.timestamps[k];
    switch (role) {
    case Qt::DisplayRole:
        switch (static_cast<Column>(column)) {
        case Title:
            return item.title;
        case Categories:
            return m_dataset->categoryNames(item);
        case Value:
            return QString::number(static_cast<double>(csr.values[k]), 'g', 4);
        case Time:
            return ts > 0 ? isoDate(ts) : QString();
        case NumColumns:
            break;
        }
        break;
    case SortRole:
        switch (static_cast<Column>(column)) {
        case Value:
            return static_cast<double>(csr.values[k]);
        case Time:
            return ts;
        default:
            return cell(row, column, Qt::DisplayRole);
        }
    case Qt::ToolTipRole:
        if (column == Title)
            return tr("%1 (id %2)").arg(item.title, item.externalId);
        if (column == Time && ts > 0)
            return isoDateTime(ts);
        if (column == Categories)
            return m_dataset->categoryNames(item);
        break;
    case SourceRowRole:
        return csr.indices[k];
    default:
        break;
    }
    return {};
}

} // namespace recwb::ui
