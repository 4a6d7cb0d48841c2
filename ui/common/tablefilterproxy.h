#pragma once

#include <QSortFilterProxyModel>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace recwb::ui {

class TableModel;

// Filters a TableModel by a case-insensitive substring of its searchText() (which the
// model precomputes case-folded, so a keystroke over tens of thousands of rows stays
// cheap) and by an optional row predicate (e.g. cold / warm users).
//
// Large tables (issue 13): from kAsyncFilterRows source rows on, and when the model shares
// its search texts (TableModel::sharedSearchTexts), the text is matched on a pool thread and
// the table keeps showing the previous filter until the match arrives (filtering() is true
// meanwhile; a newer keystroke supersedes an older match, which stops early). Every filter
// change on such a table is applied as one invalidate(): QSortFilterProxyModel's incremental
// path (invalidateFilter) removes scattered rows one range at a time, and the view's header
// answers each range in time proportional to the rows, which took minutes at a million rows.
class TableFilterProxy final : public QSortFilterProxyModel {
    Q_OBJECT

public:
    static constexpr int kAsyncFilterRows = 50'000;

    explicit TableFilterProxy(QObject* parent = nullptr);
    ~TableFilterProxy() override;

    void setSourceModel(QAbstractItemModel* model) override;

    void setFilterText(const QString& text);
    // The text asked for last (case-folded); on a large table it may not be applied yet.
    QString filterText() const { return m_needle; }
    // True while a large table's text match runs off the GUI thread.
    bool filtering() const { return m_filtering; }
    // Called with source rows; an empty function accepts every row.
    void setRowPredicate(std::function<bool(int sourceRow)> predicate);

signals:
    void filteringChanged(bool filtering);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const final;

private:
    bool large() const;
    // Drops any match under way or applied: rows are matched against the needle directly.
    void matchDirectly();
    void refilter();
    void startMatch();
    void setFiltering(bool on);

    QString m_needle; // asked for, case-folded
    QString m_applied; // the needle the rows shown were filtered by
    std::vector<char> m_match; // per source row, for m_applied; empty: match directly
    std::function<bool(int)> m_predicate;
    // Bumped by every new match and by source resets: a match that finds it changed stops,
    // and its result is dropped.
    std::shared_ptr<std::atomic<quint64>> m_generation = std::make_shared<std::atomic<quint64>>(0);
    bool m_filtering = false;
};

} // namespace recwb::ui
