#pragma once

#include "common/tablemodel.h"
#include "rerank/store.h"

#include <QList>

namespace recwb::ui {

// Every version of every prompt template of a workspace: name, version, parent, labels,
// time, note, and whether an autosaved draft of the template waits. Sorted by name, the
// newest version first. Reset for each snapshot read from the workspace.
class PromptVersionsModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Name, Version, Parent, Labels, Created, Note, NumColumns };
    struct Row {
        rerank::store::TemplateVersion version;
        QStringList labels;
        bool hasDraft = false;
    };

    using TableModel::TableModel;
    void setRows(QList<Row> rows);
    const QList<Row>& allRows() const { return m_rows; }
    const Row* rowAt(int row) const;
    int findRow(const QString& name, int version) const; // -1 when absent
    QList<const Row*> versionsOf(const QString& name) const; // oldest first

protected:
    int rows() const final { return static_cast<int>(m_rows.size()); }
    int columns() const final { return NumColumns; }
    QString headerText(int column) const final;
    QString headerToolTip(int column) const final;
    bool isNumeric(int column) const final { return column == Version || column == Parent; }
    QVariant cell(int row, int column, int role) const final;

private:
    QList<Row> m_rows;
};

} // namespace recwb::ui
