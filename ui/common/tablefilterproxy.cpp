#include "common/tablefilterproxy.h"

#include "common/tablemodel.h"
#include "util/taskpool.h"

#include <QCoreApplication>
#include <QPointer>
#include <QThreadPool>

namespace recwb::ui {

TableFilterProxy::TableFilterProxy(QObject* parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(SortRole);
    setSortCaseSensitivity(Qt::CaseInsensitive);
}

TableFilterProxy::~TableFilterProxy()
{
    ++*m_generation; // a match still running stops at its next check
}

void TableFilterProxy::setSourceModel(QAbstractItemModel* model)
{
    if (sourceModel())
        disconnect(sourceModel(), nullptr, this, nullptr);
    matchDirectly();
    QSortFilterProxyModel::setSourceModel(model);
    if (!model)
        return;
    // Before QSortFilterProxyModel rebuilds its rows for the new contents: a match computed
    // for the old rows must not be read for the new ones, so the new rows are matched
    // directly this once (what a reset costs anyway).
    connect(model, &QAbstractItemModel::modelAboutToBeReset, this, &TableFilterProxy::matchDirectly);
}

void TableFilterProxy::matchDirectly()
{
    ++*m_generation; // a match still running is dropped
    m_match.clear();
    m_applied = m_needle;
    setFiltering(false);
}

bool TableFilterProxy::large() const
{
    return sourceModel() && sourceModel()->rowCount() >= kAsyncFilterRows;
}

void TableFilterProxy::setFilterText(const QString& text)
{
    const QString needle = text.trimmed().toCaseFolded();
    if (needle == m_needle)
        return;
    m_needle = needle;
    const auto* model = qobject_cast<const TableModel*>(sourceModel());
    if (m_needle.isEmpty() || !large() || !model || !model->sharedSearchTexts()) {
        matchDirectly(); // an empty needle passes every row
        refilter();
        return;
    }
    startMatch();
}

void TableFilterProxy::startMatch()
{
    const auto* model = qobject_cast<const TableModel*>(sourceModel());
    std::shared_ptr<const std::vector<QString>> texts = model->sharedSearchTexts();
    const quint64 generation = ++*m_generation;
    setFiltering(true);
    QPointer<TableFilterProxy> self(this);
    taskPool()->start(
        [texts = std::move(texts), needle = m_needle, generation, current = m_generation, self]() mutable {
            std::vector<char> match(texts->size());
            for (size_t row = 0; row < texts->size(); ++row) {
                if ((row & 4095) == 0 && current->load() != generation)
                    return; // superseded: a newer keystroke, a reset, or the proxy is gone
                match[row] = (*texts)[row].contains(needle) ? 1 : 0;
            }
            QCoreApplication* app = QCoreApplication::instance();
            if (current->load() != generation || !app)
                return;
            // Back on the GUI thread (the application outlives any proxy; `self` tells whether
            // this one still exists, and the generation whether the match is still wanted).
            QMetaObject::invokeMethod(
                app,
                [self, generation, needle = std::move(needle), match = std::move(match)]() mutable {
                    if (!self || self->m_generation->load() != generation)
                        return;
                    self->m_match = std::move(match);
                    self->m_applied = std::move(needle);
                    self->setFiltering(false);
                    self->refilter();
                },
                Qt::QueuedConnection);
        });
}

void TableFilterProxy::setRowPredicate(std::function<bool(int)> predicate)
{
    m_predicate = std::move(predicate);
    refilter();
}

void TableFilterProxy::refilter()
{
    if (large())
        invalidate(); // one pass over the rows (see the class comment)
    else
        invalidateFilter();
}

void TableFilterProxy::setFiltering(bool on)
{
    if (m_filtering == on)
        return;
    m_filtering = on;
    emit filteringChanged(on);
}

bool TableFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    if (sourceParent.isValid())
        return false;
    if (m_predicate && !m_predicate(sourceRow))
        return false;
    if (m_applied.isEmpty())
        return true;
    if (static_cast<size_t>(sourceRow) < m_match.size())
        return m_match[static_cast<size_t>(sourceRow)] != 0;
    const auto* model = qobject_cast<const TableModel*>(sourceModel());
    return model && model->searchText(sourceRow).contains(m_applied);
}

} // namespace recwb::ui
