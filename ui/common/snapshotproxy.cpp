#include "common/snapshotproxy.h"

#include "common/tablemodel.h"
#include "util/taskpool.h"

#include <QCoreApplication>
#include <QPointer>
#include <QThreadPool>
#include <QTimer>

#include <algorithm>
#include <limits>
#include <optional>

namespace recwb::ui {

namespace {

    // Source rows 0..keys-1 ordered by key (`key(row)`), ties in row order. Text keys compare
    // case-insensitively, numbers as numbers, an empty key before any other. Returns nothing
    // when `stop()` says the result is no longer wanted.
    std::optional<std::vector<int>> sortedRows(
        int rows, const std::function<QVariant(int)>& key, Qt::SortOrder order, const std::function<bool()>& stop)
    {
        std::vector<QVariant> keys(static_cast<size_t>(rows));
        bool text = false;
        for (int r = 0; r < rows; ++r) {
            if ((r & 4095) == 0 && stop())
                return std::nullopt;
            keys[static_cast<size_t>(r)] = key(r);
            text = text || keys[static_cast<size_t>(r)].typeId() == QMetaType::QString;
        }
        std::vector<int> order_(static_cast<size_t>(rows));
        for (int r = 0; r < rows; ++r)
            order_[static_cast<size_t>(r)] = r;
        const bool descending = order == Qt::DescendingOrder;
        if (text) {
            std::vector<QString> folded(keys.size());
            for (size_t r = 0; r < keys.size(); ++r) {
                if ((r & 4095) == 0 && stop())
                    return std::nullopt;
                folded[r] = keys[r].toString().toCaseFolded();
            }
            keys.clear();
            std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) {
                const int c = folded[static_cast<size_t>(a)].compare(folded[static_cast<size_t>(b)]);
                return descending ? c > 0 : c < 0;
            });
        } else {
            std::vector<double> numbers(keys.size());
            for (size_t r = 0; r < keys.size(); ++r) {
                bool ok = false;
                const double v = keys[r].toDouble(&ok);
                numbers[r] = ok ? v : -std::numeric_limits<double>::infinity();
            }
            keys.clear();
            std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) {
                const double x = numbers[static_cast<size_t>(a)];
                const double y = numbers[static_cast<size_t>(b)];
                return descending ? x > y : x < y;
            });
        }
        if (stop())
            return std::nullopt;
        return order_;
    }

    // Per search text: 1 when it holds `needle`. Returns nothing when `stop()` says so.
    std::optional<std::vector<char>> matchRows(
        const std::vector<QString>& texts, const QString& needle, const std::function<bool()>& stop)
    {
        std::vector<char> match(texts.size());
        for (size_t row = 0; row < texts.size(); ++row) {
            if ((row & 4095) == 0 && stop())
                return std::nullopt;
            match[row] = texts[row].contains(needle) ? 1 : 0;
        }
        return match;
    }

    // Inserts the chunks of every proxy that is filling, one chunk per event-loop turn in
    // turns, so two tables reset together (the Users and Catalog tabs when a workspace opens)
    // do not add their chunks up in one turn. Paints and input run in between.
    class FillQueue final : public QObject {
    public:
        static FillQueue* instance()
        {
            static QPointer<FillQueue> queue;
            if (!queue)
                queue = new FillQueue(QCoreApplication::instance()); // goes with the application
            return queue;
        }
        // `step` inserts one chunk and returns true when none is left.
        void add(const void* owner, std::function<bool()> step)
        {
            remove(owner);
            m_steps.emplace_back(owner, std::move(step));
            m_timer.start();
        }
        void remove(const void* owner)
        {
            std::erase_if(m_steps, [owner](const auto& entry) { return entry.first == owner; });
        }

    private:
        explicit FillQueue(QObject* parent)
            : QObject(parent)
        {
            // Not 0: Qt runs a zero timer restarted from its own timeout again in the same
            // pass over the timers, and the chunks would add up after all.
            m_timer.setInterval(1);
            m_timer.setTimerType(Qt::PreciseTimer);
            m_timer.setSingleShot(true);
            connect(&m_timer, &QTimer::timeout, this, [this] {
                if (m_steps.empty())
                    return;
                auto entry = std::move(m_steps.front());
                m_steps.erase(m_steps.begin());
                if (!entry.second())
                    m_steps.push_back(std::move(entry)); // back of the line
                if (!m_steps.empty())
                    m_timer.start();
            });
        }
        QTimer m_timer;
        std::vector<std::pair<const void*, std::function<bool()>>> m_steps;
    };

} // namespace

SnapshotTableProxy::SnapshotTableProxy(QObject* parent)
    : QAbstractProxyModel(parent)
{
}

SnapshotTableProxy::~SnapshotTableProxy()
{
    ++*m_generation; // a pool task still running stops at its next check
    stopFilling();
}

void SnapshotTableProxy::stopFilling()
{
    if (m_filling) {
        m_filling = false;
        if (QCoreApplication::instance())
            FillQueue::instance()->remove(this);
    }
}

void SnapshotTableProxy::setSourceModel(QAbstractItemModel* model)
{
    sourceAboutToBeReset();
    if (sourceModel())
        disconnect(sourceModel(), nullptr, this, nullptr);
    QAbstractProxyModel::setSourceModel(model);
    m_model = qobject_cast<const TableModel*>(model);
    Q_ASSERT(!model || m_model);
    if (model) {
        connect(model, &QAbstractItemModel::modelAboutToBeReset, this, &SnapshotTableProxy::sourceAboutToBeReset);
        connect(model, &QAbstractItemModel::modelReset, this, &SnapshotTableProxy::sourceReset);
        // The models this proxy is for never change row by row; if one does, it is a reset.
        for (auto about : { &QAbstractItemModel::rowsAboutToBeInserted, &QAbstractItemModel::rowsAboutToBeRemoved,
                 &QAbstractItemModel::columnsAboutToBeInserted, &QAbstractItemModel::columnsAboutToBeRemoved })
            connect(model, about, this, &SnapshotTableProxy::sourceAboutToBeReset);
        for (auto done : { &QAbstractItemModel::rowsInserted, &QAbstractItemModel::rowsRemoved,
                 &QAbstractItemModel::columnsInserted, &QAbstractItemModel::columnsRemoved })
            connect(model, done, this, &SnapshotTableProxy::sourceReset);
        connect(model, &QAbstractItemModel::layoutAboutToBeChanged, this, &SnapshotTableProxy::sourceAboutToBeReset);
        connect(model, &QAbstractItemModel::layoutChanged, this, &SnapshotTableProxy::sourceReset);
        connect(model, &QAbstractItemModel::dataChanged, this,
            [this](const QModelIndex& topLeft, const QModelIndex& bottomRight, const QList<int>& roles) {
                // Cells change in place; the rows shown stay as they are until the next reset.
                if (!m_shown) {
                    emit dataChanged(mapFromSource(topLeft), mapFromSource(bottomRight), roles);
                } else if (topLeft.row() == bottomRight.row()) {
                    if (const int row = proxyRowOf(topLeft.row()); row >= 0)
                        emit dataChanged(index(row, topLeft.column()), index(row, bottomRight.column()), roles);
                } else if (rowCount() > 0) {
                    emit dataChanged(index(0, topLeft.column()), index(rowCount() - 1, bottomRight.column()), roles);
                }
            });
        connect(model, &QAbstractItemModel::headerDataChanged, this, &QAbstractItemModel::headerDataChanged);
    }
    sourceReset();
}

QModelIndex SnapshotTableProxy::index(int row, int column, const QModelIndex& parent) const
{
    if (parent.isValid() || row < 0 || column < 0 || row >= rowCount() || column >= columnCount())
        return {};
    return createIndex(row, column);
}

QModelIndex SnapshotTableProxy::parent(const QModelIndex&) const
{
    return {};
}

int SnapshotTableProxy::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid())
        return 0;
    return std::min(allRowCount(), m_limit);
}

int SnapshotTableProxy::allRowCount() const
{
    return m_shown ? static_cast<int>(m_shown->rows.size()) : m_sourceRows;
}

void SnapshotTableProxy::fillStep(int through)
{
    const int all = allRowCount();
    if (m_limit < all) {
        const int next = std::min(all, std::max(through + 1, m_limit + kFillRows));
        beginInsertRows({}, m_limit, next - 1);
        m_limit = next;
        endInsertRows();
    }
    if (m_limit >= all) {
        m_limit = std::numeric_limits<int>::max();
        stopFilling();
    }
}

QModelIndex SnapshotTableProxy::mapFromSourceRevealing(const QModelIndex& sourceIndex)
{
    if (!sourceIndex.isValid() || sourceIndex.model() != sourceModel())
        return {};
    const int row = proxyRowOf(sourceIndex.row(), true);
    if (row >= m_limit)
        fillStep(row);
    return mapFromSource(sourceIndex);
}

int SnapshotTableProxy::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() || !sourceModel() ? 0 : sourceModel()->columnCount();
}

bool SnapshotTableProxy::hasChildren(const QModelIndex& parent) const
{
    return !parent.isValid() && rowCount() > 0 && columnCount() > 0;
}

QModelIndex SnapshotTableProxy::sibling(int row, int column, const QModelIndex&) const
{
    return index(row, column);
}

int SnapshotTableProxy::sourceRowOf(int proxyRow) const
{
    if (proxyRow < 0 || proxyRow >= rowCount())
        return -1;
    return m_shown ? m_shown->rows[static_cast<size_t>(proxyRow)] : proxyRow;
}

int SnapshotTableProxy::proxyRowOf(int sourceRow, bool evenIfToCome) const
{
    if (sourceRow < 0 || sourceRow >= m_sourceRows)
        return -1;
    const int row = m_shown ? m_shown->proxyOf[static_cast<size_t>(sourceRow)] : sourceRow;
    return evenIfToCome || row < m_limit ? row : -1;
}

QModelIndex SnapshotTableProxy::mapToSource(const QModelIndex& proxyIndex) const
{
    if (!proxyIndex.isValid() || !sourceModel() || proxyIndex.model() != this)
        return {};
    const int row = sourceRowOf(proxyIndex.row());
    return row < 0 ? QModelIndex() : sourceModel()->index(row, proxyIndex.column());
}

QModelIndex SnapshotTableProxy::mapFromSource(const QModelIndex& sourceIndex) const
{
    if (!sourceIndex.isValid() || sourceIndex.model() != sourceModel())
        return {};
    const int row = proxyRowOf(sourceIndex.row());
    return row < 0 ? QModelIndex() : index(row, sourceIndex.column());
}

void SnapshotTableProxy::sourceAboutToBeReset()
{
    ++*m_generation; // results for the old rows must not land on the new ones
    setBusy(false, false);
    beginResetModel();
    stopFilling();
}

void SnapshotTableProxy::sourceReset()
{
    m_sourceRows = sourceModel() ? sourceModel()->rowCount() : 0;
    m_order.reset();
    m_orderColumn = -1;
    m_match.reset();
    m_matchNeedle.clear();
    update(true);
    // A large reset inserts its rows a chunk per event-loop turn (see the header).
    m_limit = allRowCount() > kFillRows ? kFillRows : std::numeric_limits<int>::max();
    endResetModel();
    if (m_limit < allRowCount() && QCoreApplication::instance()) {
        m_filling = true;
        FillQueue::instance()->add(this, [this] {
            fillStep();
            return !m_filling;
        });
    }
    if (large() && (m_sortColumn >= 0 || !m_needle.isEmpty() || m_predicate))
        update(false); // starts the pool task
}

void SnapshotTableProxy::setRowPredicate(std::function<bool(int)> predicate)
{
    m_predicate = std::move(predicate);
    update(false);
}

void SnapshotTableProxy::setFilterText(const QString& text)
{
    const QString needle = text.trimmed().toCaseFolded();
    if (needle == m_needle)
        return;
    m_needle = needle;
    update(false);
}

void SnapshotTableProxy::sort(int column, Qt::SortOrder order)
{
    if (column == m_sortColumn && order == m_sortOrder)
        return;
    m_sortColumn = column;
    m_sortOrder = order;
    update(false);
}

void SnapshotTableProxy::update(bool inReset)
{
    const QAbstractItemModel* model = sourceModel();
    const bool sortable = model && m_sortColumn >= 0 && m_sortColumn < model->columnCount();
    if (!sortable) {
        m_order.reset();
        m_orderColumn = -1;
    }
    if (m_needle.isEmpty()) {
        m_match.reset();
        m_matchNeedle.clear();
    }
    const bool orderOk = !sortable || (m_order && m_orderColumn == m_sortColumn && m_orderOrder == m_sortOrder);
    const bool matchOk = m_needle.isEmpty() || (m_match && m_matchNeedle == m_needle);
    std::shared_ptr<const std::vector<QString>> searchTexts = m_model ? m_model->sharedSearchTexts() : nullptr;
    std::function<QVariant(int)> key = orderOk || !m_model ? nullptr : m_model->sortKeyReader(m_sortColumn);

    if (inReset && large()) {
        // Every row in the model's order until the pool task (started once the reset is
        // done) brings the sorted and filtered rows.
        m_shown.reset();
        return;
    }

    // The predicate runs here, on the GUI thread: one call per row.
    std::shared_ptr<std::vector<char>> mask;
    if (m_predicate) {
        mask = std::make_shared<std::vector<char>>(static_cast<size_t>(m_sourceRows));
        for (int r = 0; r < m_sourceRows; ++r)
            (*mask)[static_cast<size_t>(r)] = m_predicate(r) ? 1 : 0;
    }

    // Composing the rows of a large table is itself tens of milliseconds (a random write per
    // row into the inverse map), so anything but the pass-through goes to the pool.
    const bool passThrough = orderOk && !m_order && m_needle.isEmpty() && !mask;
    const bool async = large() && (orderOk || key) && (matchOk || searchTexts) && !passThrough;
    if (!async) {
        ++*m_generation;
        if (!orderOk) {
            auto sortKey = [model, column = m_sortColumn](int row) { return model->index(row, column).data(SortRole); };
            m_order = std::make_shared<const std::vector<int>>(
                *sortedRows(m_sourceRows, sortKey, m_sortOrder, [] { return false; }));
            m_orderColumn = m_sortColumn;
            m_orderOrder = m_sortOrder;
        }
        if (!matchOk) {
            std::vector<char> match(static_cast<size_t>(m_sourceRows));
            for (int r = 0; r < m_sourceRows; ++r)
                match[static_cast<size_t>(r)] = m_model && m_model->searchText(r).contains(m_needle) ? 1 : 0;
            m_match = std::make_shared<const std::vector<char>>(std::move(match));
            m_matchNeedle = m_needle;
        }
        setBusy(false, false);
        auto shown = compose(m_sourceRows, m_order, m_match, mask);
        if (inReset)
            m_shown = std::move(shown);
        else
            relayout(std::move(shown));
        return;
    }

    // Large: sort, match and the rows shown are made by one pool task; the table keeps
    // showing what it shows until they arrive.
    const quint64 generation = ++*m_generation;
    setBusy(!matchOk || orderOk, !orderOk); // composing the rows alone counts as filtering
    QPointer<SnapshotTableProxy> self(this);
    taskPool()->start([rows = m_sourceRows, key = std::move(key), sortOrder = m_sortOrder, column = m_sortColumn,
                          order = m_order, needle = m_needle, searchTexts = matchOk ? nullptr : searchTexts,
                          match = m_match, mask = std::shared_ptr<const std::vector<char>>(std::move(mask)), generation,
                          current = m_generation, self]() mutable {
        const auto stop = [&] { return current->load() != generation; };
        if (key) {
            auto sorted = sortedRows(rows, key, sortOrder, stop);
            if (!sorted)
                return;
            order = std::make_shared<const std::vector<int>>(std::move(*sorted));
        }
        if (searchTexts) {
            auto matched = matchRows(*searchTexts, needle, stop);
            if (!matched)
                return;
            match = std::make_shared<const std::vector<char>>(std::move(*matched));
        }
        auto shown = compose(rows, order, match, mask);
        QCoreApplication* app = QCoreApplication::instance();
        if (stop() || !app)
            return;
        // Back on the GUI thread (the application outlives any proxy; `self` tells whether
        // this one still exists, and the generation whether the result is still wanted).
        QMetaObject::invokeMethod(
            app,
            [self, generation, column, sortOrder, order = std::move(order), needle = std::move(needle),
                match = std::move(match), shown = std::move(shown)]() mutable {
                if (!self || self->m_generation->load() != generation)
                    return;
                self->m_order = std::move(order);
                self->m_orderColumn = self->m_order ? column : -1;
                self->m_orderOrder = sortOrder;
                self->m_match = std::move(match);
                self->m_matchNeedle = self->m_match ? needle : QString();
                self->setBusy(false, false);
                self->relayout(std::move(shown));
            },
            Qt::QueuedConnection);
    });
}

std::shared_ptr<const SnapshotTableProxy::Shown> SnapshotTableProxy::compose(
    int rows, const Order& order, const Match& match, const std::shared_ptr<const std::vector<char>>& mask)
{
    if (!order && !match && !mask)
        return nullptr; // pass-through
    auto shown = std::make_shared<Shown>();
    shown->proxyOf.assign(static_cast<size_t>(rows), -1);
    shown->rows.reserve(static_cast<size_t>(rows));
    for (int i = 0; i < rows; ++i) {
        const int row = order ? (*order)[static_cast<size_t>(i)] : i;
        if ((match && !(*match)[static_cast<size_t>(row)]) || (mask && !(*mask)[static_cast<size_t>(row)]))
            continue;
        shown->proxyOf[static_cast<size_t>(row)] = static_cast<int>(shown->rows.size());
        shown->rows.push_back(row);
    }
    return shown;
}

void SnapshotTableProxy::relayout(std::shared_ptr<const Shown> shown)
{
    emit layoutAboutToBeChanged();
    const QModelIndexList from = persistentIndexList();
    std::vector<std::pair<int, int>> sources; // (source row, column) of each persistent index
    sources.reserve(static_cast<size_t>(from.size()));
    for (const QModelIndex& i : from)
        sources.emplace_back(sourceRowOf(i.row()), i.column());
    std::shared_ptr<const Shown> old = std::exchange(m_shown, std::move(shown));
    QModelIndexList to;
    to.reserve(from.size());
    for (const auto& [row, column] : sources) {
        const int at = proxyRowOf(row);
        to << (at < 0 ? QModelIndex() : index(at, column));
    }
    changePersistentIndexList(from, to);
    emit layoutChanged();
    QThreadPool* pool = taskPool(); // null only while the program's statics are destroyed
    if (pool && old && old.use_count() == 1 && old->proxyOf.size() >= static_cast<size_t>(kAsyncRows)) {
        // Freeing megabytes of index vectors: not on the GUI thread.
        pool->start([old = std::move(old)]() mutable { old.reset(); });
    }
}

void SnapshotTableProxy::setBusy(bool matching, bool sorting)
{
    const bool was = busy();
    m_matching = matching;
    m_sortingAsync = sorting;
    if (busy() != was)
        emit busyChanged(busy());
}

} // namespace recwb::ui
