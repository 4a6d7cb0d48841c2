#include "common/tableutil.h"

#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "common/tablemodel.h"

#include <QAction>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenu>
#include <QTableView>

namespace recwb::ui {

namespace {

    void installHeaderMenu(QTableView* view)
    {
        QHeaderView* header = view->horizontalHeader();
        header->setContextMenuPolicy(Qt::CustomContextMenu);
        QObject::connect(header, &QHeaderView::customContextMenuRequested, view, [view, header](const QPoint& pos) {
            QMenu menu(view);
            menu.addSection(QHeaderView::tr("Columns"));
            const int count = header->count();
            int visible = 0;
            for (int c = 0; c < count; ++c)
                visible += header->isSectionHidden(c) ? 0 : 1;
            for (int c = 0; c < count; ++c) {
                QAction* action
                    = menu.addAction(view->model()->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
                action->setCheckable(true);
                action->setChecked(!header->isSectionHidden(c));
                action->setEnabled(header->isSectionHidden(c) || visible > 1); // keep one column
                QObject::connect(
                    action, &QAction::toggled, header, [header, c](bool on) { header->setSectionHidden(c, !on); });
            }
            menu.exec(header->mapToGlobal(pos));
        });
    }

} // namespace

namespace {

    void configureView(QTableView* view, QAbstractItemModel* proxy, const QList<ColumnWidth>& widths, int stretchColumn,
        int sortColumn, Qt::SortOrder order)
    {
        view->setModel(proxy);

        view->setSelectionBehavior(QAbstractItemView::SelectRows);
        view->setSelectionMode(QAbstractItemView::SingleSelection);
        view->setAlternatingRowColors(true);
        view->setWordWrap(false);
        view->setTextElideMode(Qt::ElideRight);
        view->setShowGrid(false);
        view->setHorizontalScrollMode(QAbstractItemView::ScrollPerPixel);
        view->setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
        view->setEditTriggers(QAbstractItemView::NoEditTriggers);
        view->setCornerButtonEnabled(false);

        QHeaderView* vertical = view->verticalHeader();
        vertical->hide();
        vertical->setSectionResizeMode(QHeaderView::Fixed);
        vertical->setDefaultSectionSize(view->fontMetrics().height() + 8);

        QHeaderView* header = view->horizontalHeader();
        header->setHighlightSections(false);
        header->setSectionsMovable(true);
        header->setStretchLastSection(false);
        header->setTextElideMode(Qt::ElideRight);
        header->setMinimumSectionSize(view->fontMetrics().horizontalAdvance(u'M') * 4);
        const int charWidth = view->fontMetrics().averageCharWidth();
        for (const ColumnWidth& w : widths)
            header->resizeSection(w.column, w.width * charWidth + 16);
        if (stretchColumn >= 0)
            header->setSectionResizeMode(stretchColumn, QHeaderView::Stretch);
        installHeaderMenu(view);

        view->setSortingEnabled(true);
        if (sortColumn >= 0)
            view->sortByColumn(sortColumn, order);
    }

} // namespace

namespace {

    template <typename Proxy>
    Proxy* setupWith(QTableView* view, TableModel* model, QLineEdit* filter, const QList<ColumnWidth>& widths,
        int stretchColumn, int sortColumn, Qt::SortOrder order)
    {
        auto* proxy = new Proxy(view);
        proxy->setSourceModel(model);
        configureView(view, proxy, widths, stretchColumn, sortColumn, order);
        if (filter) {
            filter->setClearButtonEnabled(true);
            QObject::connect(filter, &QLineEdit::textChanged, proxy, &Proxy::setFilterText);
        }
        return proxy;
    }

} // namespace

TableFilterProxy* setupTable(QTableView* view, TableModel* model, QLineEdit* filter, const QList<ColumnWidth>& widths,
    int stretchColumn, int sortColumn, Qt::SortOrder order)
{
    return setupWith<TableFilterProxy>(view, model, filter, widths, stretchColumn, sortColumn, order);
}

SnapshotTableProxy* setupSnapshotTable(QTableView* view, TableModel* model, QLineEdit* filter,
    const QList<ColumnWidth>& widths, int stretchColumn, int sortColumn, Qt::SortOrder order)
{
    return setupWith<SnapshotTableProxy>(view, model, filter, widths, stretchColumn, sortColumn, order);
}

int currentSourceRow(const QTableView* view)
{
    const QModelIndex index = view->currentIndex();
    if (!index.isValid() || !view->selectionModel()->isRowSelected(index.row(), index.parent()))
        return -1;
    return index.data(SourceRowRole).toInt();
}

} // namespace recwb::ui
