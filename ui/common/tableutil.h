#pragma once

#include <QList>
#include <Qt>

class QLineEdit;
class QTableView;

namespace recwb::ui {

class TableModel;
class TableFilterProxy;

struct ColumnWidth {
    int column;
    int width; // in average character widths of the view's font
};

// One place that wires every table the same way (hotspot's ResultsUtil::setupTreeView):
// a TableFilterProxy owned by the view, the sort role, header sorting, a header context
// menu to hide columns, compact rows, elided text, and the filter box (may be null).
// `stretchColumn` takes the remaining width; the others start at `widths`.
TableFilterProxy* setupTable(QTableView* view, TableModel* model, QLineEdit* filter, const QList<ColumnWidth>& widths,
    int stretchColumn, int sortColumn, Qt::SortOrder order = Qt::AscendingOrder);

// Above this many rows a table set up by setupTable is not sorted: QSortFilterProxyModel
// sorts on the GUI thread (a million rows: seconds, issue 13). Such a table shows the model's
// order, its header does not sort on a click and says why in its tooltip.
constexpr int kMaxSortedRows = 200'000;
// Call before the model is reset to `rows` rows: turns sorting off when it will be too big.
void limitSortingBeforeReset(QTableView* view, int rows);
// Call after the reset: turns sorting back on (sortColumn, order) when it fits again.
void limitSortingAfterReset(QTableView* view, int rows, int sortColumn, Qt::SortOrder order = Qt::AscendingOrder);

// The source row behind the view's current row, or -1.
int currentSourceRow(const QTableView* view);

} // namespace recwb::ui
