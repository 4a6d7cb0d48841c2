#pragma once

#include <QSortFilterProxyModel>

#include <functional>

namespace recwb::ui {

// Filters a TableModel by a case-insensitive substring of its searchText() (which the
// model precomputes case-folded, so a keystroke over tens of thousands of rows stays
// cheap) and by an optional row predicate, and sorts by SortRole. For the small tables whose
// models change row by row (evaluation results, candidates, history, endpoints); the tables
// that can hold a million rows use SnapshotTableProxy (issue 13).
class TableFilterProxy final : public QSortFilterProxyModel {
    Q_OBJECT

public:
    explicit TableFilterProxy(QObject* parent = nullptr);

    void setFilterText(const QString& text);
    // The text asked for last (case-folded).
    QString filterText() const { return m_needle; }
    // Called with source rows; an empty function accepts every row.
    void setRowPredicate(std::function<bool(int sourceRow)> predicate);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const final;

private:
    QString m_needle; // case-folded
    std::function<bool(int)> m_predicate;
};

} // namespace recwb::ui
