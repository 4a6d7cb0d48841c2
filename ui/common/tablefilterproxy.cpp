#include "common/tablefilterproxy.h"

#include "common/tablemodel.h"

namespace recwb::ui {

TableFilterProxy::TableFilterProxy(QObject* parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(SortRole);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

void TableFilterProxy::setFilterText(const QString& text)
{
    const QString needle = text.trimmed().toCaseFolded();
    if (needle == m_needle)
        return;
    m_needle = needle;
    invalidateFilter();
}

void TableFilterProxy::setRowPredicate(std::function<bool(int)> predicate)
{
    m_predicate = std::move(predicate);
    invalidateFilter();
}

bool TableFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    if (sourceParent.isValid())
        return false;
    if (m_predicate && !m_predicate(sourceRow))
        return false;
    if (m_needle.isEmpty())
        return true;
    const auto* model = qobject_cast<const TableModel*>(sourceModel());
    return model && model->searchText(sourceRow).contains(m_needle);
}

} // namespace recwb::ui
