#pragma once

#include <QAbstractProxyModel>

#include <atomic>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

namespace recwb::ui {

class TableModel;

// The sorting and filtering proxy of the tables that can hold a million rows (the Users and
// Catalog tabs, issue 13). Their models are only ever reset as a whole (one dataset snapshot
// after another), which lets this proxy keep the rows it shows as one index vector and
// replace it in one step, where QSortFilterProxyModel keeps a mapping per row and rebuilds it
// on the GUI thread at every reset (45-105 ms per million rows even with nothing to sort or
// filter, measured with Qt 6.4) and sorts through data() on the GUI thread (8.4 s for a
// million titles).
//
// - Nothing to sort or filter: the proxy passes rows through and holds no vector at all, so
//   a reset costs nothing whatever the size.
// - Filter text: matched against TableModel::sharedSearchTexts(); from kAsyncRows rows on,
//   on a pool thread (the table shows the previous rows meanwhile, busy() is true, a newer
//   keystroke supersedes the match). The row predicate (cold / warm) is applied on the GUI
//   thread: it is one call per row.
// - Sorting: by the model's SortRole, case-insensitively for text, ties in the model's order
//   (as QSortFilterProxyModel). From kAsyncRows rows on, the keys come from
//   TableModel::sortKeyReader() and are sorted on a pool thread; the header shows the new
//   order at once and the rows follow when sorted.
// - Every change of the rows shown is one layoutChanged (the selection follows its rows);
//   a source reset is a reset.
// - A reset to more than kFillRows rows shows the first kFillRows at once and inserts the
//   rest kFillRows at a time, one chunk per event-loop turn (of all such proxies): a view's header makes an item
//   per row (QHeaderView::initializeSections, 35-60 ms per million rows on this VM, half of
//   it page faults), and a table of ten million rows would stall the window for half a
//   second. allRowCount() counts the rows still to come; mapFromSourceRevealing() inserts the
//   rows up to a source row at once, for code that must select it now.
//
// Do not use it for models that insert, remove or change rows one at a time: such changes
// are applied as a reset.
class SnapshotTableProxy final : public QAbstractProxyModel {
    Q_OBJECT

public:
    static constexpr int kAsyncRows = 50'000;
    static constexpr int kFillRows = 50'000;

    explicit SnapshotTableProxy(QObject* parent = nullptr);
    ~SnapshotTableProxy() override;

    void setSourceModel(QAbstractItemModel* model) override;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    bool hasChildren(const QModelIndex& parent = {}) const override;
    QModelIndex mapToSource(const QModelIndex& proxyIndex) const override;
    QModelIndex mapFromSource(const QModelIndex& sourceIndex) const override;
    QModelIndex sibling(int row, int column, const QModelIndex& idx) const override;

    // The rows shown once every chunk is in (rowCount() counts the rows inserted so far).
    int allRowCount() const;
    // True while the rows of a large reset are still being inserted.
    bool filling() const { return m_limit < allRowCount(); }
    // mapFromSource(), first inserting the rows up to this one if they are still to come.
    QModelIndex mapFromSourceRevealing(const QModelIndex& sourceIndex);

    void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;
    // The sort asked for last (the rows may still be on their way: see busy()).
    int sortColumn() const { return m_sortColumn; }
    Qt::SortOrder sortOrder() const { return m_sortOrder; }

    void setFilterText(const QString& text);
    // The text asked for last (case-folded); on a large table it may not be applied yet.
    QString filterText() const { return m_needle; }
    // Called with source rows; an empty function accepts every row.
    void setRowPredicate(std::function<bool(int sourceRow)> predicate);

    // True while a large table's filter (text or predicate) is applied off the GUI thread.
    bool filtering() const { return m_matching; }
    // True while a large table's sort runs off the GUI thread.
    bool sorting() const { return m_sortingAsync; }
    bool busy() const { return m_matching || m_sortingAsync; }

signals:
    // busy() changed.
    void busyChanged(bool busy);

private:
    struct Shown {
        std::vector<int> rows; // proxy row -> source row
        std::vector<int> proxyOf; // source row -> proxy row, or -1
    };
    using Order = std::shared_ptr<const std::vector<int>>;
    using Match = std::shared_ptr<const std::vector<char>>;

    bool large() const { return m_sourceRows >= kAsyncRows; }
    int sourceRowOf(int proxyRow) const;
    // The proxy row of a source row (-1: filtered out, or not inserted yet unless `evenIfToCome`).
    int proxyRowOf(int sourceRow, bool evenIfToCome = false) const;
    // Inserts the next chunk of a large reset's rows, or up to proxy row `through`.
    void fillStep(int through = -1);
    void stopFilling();
    void sourceAboutToBeReset();
    void sourceReset();
    // Brings the rows shown in line with the sort, filter text and predicate asked for: at
    // once for small tables, through a pool task for large ones. `inReset`: between
    // beginResetModel and endResetModel (no layout change of its own).
    void update(bool inReset);
    // The rows to show: `order` (null: the model's order) filtered by `match` (null: every
    // row) and `mask` (null: every row). Any thread.
    static std::shared_ptr<const Shown> compose(
        int rows, const Order& order, const Match& match, const std::shared_ptr<const std::vector<char>>& mask);
    // Applies `shown` as one layout change (the persistent indexes follow their rows).
    void relayout(std::shared_ptr<const Shown> shown);
    void setBusy(bool matching, bool sorting);

    const TableModel* m_model = nullptr;
    int m_sourceRows = 0;

    int m_sortColumn = -1; // asked for
    Qt::SortOrder m_sortOrder = Qt::AscendingOrder;
    Order m_order; // source rows sorted by m_orderColumn / m_orderOrder; null: the model's order
    int m_orderColumn = -1;
    Qt::SortOrder m_orderOrder = Qt::AscendingOrder;

    QString m_needle; // asked for, case-folded
    Match m_match; // per source row: holds m_matchNeedle; null when no text is applied
    QString m_matchNeedle;
    std::function<bool(int)> m_predicate;

    std::shared_ptr<const Shown> m_shown; // null: every source row in the model's order
    int m_limit = std::numeric_limits<int>::max(); // rows inserted so far after a large reset
    bool m_filling = false; // queued for chunks (see FillQueue in the .cpp)

    // Bumped by each new pool task and by source resets: older results are dropped.
    std::shared_ptr<std::atomic<quint64>> m_generation = std::make_shared<std::atomic<quint64>>(0);
    bool m_matching = false;
    bool m_sortingAsync = false;
};

} // namespace recwb::ui
