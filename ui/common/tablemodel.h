#pragma once

#include <QAbstractTableModel>
#include <QFont>
#include <QStringView>

#include <functional>
#include <memory>
#include <vector>

namespace recwb::ui {

enum ItemRole {
    SortRole = Qt::UserRole + 1, // numbers for numeric columns, text otherwise
    ColdRole, // users: bool, true for cold-start users
    SourceRowRole, // index into the dataset's users / items (or history entries)
};

// A small base for flat tables (hotspot's HashModel idea): subclasses declare
// `enum Column { ..., NumColumns }` and answer cell() for one row and column; this class
// does the index and role plumbing. Models are reset as a whole for each dataset snapshot.
class TableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    using QAbstractTableModel::QAbstractTableModel;

    int rowCount(const QModelIndex& parent = {}) const final;
    int columnCount(const QModelIndex& parent = {}) const final;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const final;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const final;

    // Case-folded text the filter box matches against (see TableFilterProxy); empty when
    // the model offers no text filter.
    virtual QStringView searchText(int row) const;
    // The same texts as one immutable vector that any thread may read while it holds the
    // pointer (null when the model has none): TableFilterProxy matches large tables against it
    // off the GUI thread.
    virtual std::shared_ptr<const std::vector<QString>> sharedSearchTexts() const;
    // A function that any thread may call for the SortRole value of `column` in any row while
    // it holds the function (it shares what it reads), or an empty one when the model has none:
    // SnapshotTableProxy sorts large tables off the GUI thread with it.
    virtual std::function<QVariant(int row)> sortKeyReader(int column) const;

    static const QFont& monospaceFont();

protected:
    virtual int rows() const = 0;
    virtual int columns() const = 0;
    virtual QString headerText(int column) const = 0;
    virtual QString headerToolTip(int column) const;
    virtual bool isNumeric(int column) const;
    virtual QVariant cell(int row, int column, int role) const = 0;
};

} // namespace recwb::ui
