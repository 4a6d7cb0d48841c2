#pragma once

#include <QList>
#include <Qt>

class QLineEdit;
class QTableView;

namespace recwb::ui {

class TableModel;
class TableFilterProxy;
class SnapshotTableProxy;

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

// The same for a table whose model is only ever reset as a whole and may hold a million rows
// (Users, Catalog): a SnapshotTableProxy, which sorts and filters large tables off the GUI
// thread.
SnapshotTableProxy* setupSnapshotTable(QTableView* view, TableModel* model, QLineEdit* filter,
    const QList<ColumnWidth>& widths, int stretchColumn, int sortColumn, Qt::SortOrder order = Qt::AscendingOrder);

// The source row behind the view's current row, or -1.
int currentSourceRow(const QTableView* view);

} // namespace recwb::ui
