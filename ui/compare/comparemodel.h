#pragma once

#include "common/tablemodel.h"
#include "pipeline/comparison.h"

#include <vector>

namespace recwb::ui {

enum CompareRole {
    HeldOutRole = Qt::UserRole + 40, // bool: the row's item is a held-out (test) item
    ItemIdRole, // the row's item external id
    RankRole, // int: the item's rank in that column; 0 when the column does not list it
    HoveredRole, // bool: the mouse is over the row (highlighted in every column, not selected)
};

// The aligned view of a comparison: one row per item (ordered by its best rank, held-out
// items no column lists at the end), column 0 the item, then one column per arm with the
// rank, the move against CF and the explanation. The same item is on the same row in every
// column, so selecting a row highlights it everywhere. Reset per comparison snapshot.
class CompareModel final : public TableModel {
    Q_OBJECT

public:
    using TableModel::TableModel;
    void setComparison(const pipeline::Comparison& comparison);
    const pipeline::Comparison& comparison() const { return m_comparison; }
    // The row showing itemId, or -1.
    int rowOf(const QString& itemId) const;
    // The row under the mouse (-1: none): painted highlighted in every column, without
    // touching the selection.
    void setHoveredRow(int row);
    int hoveredRow() const { return m_hovered; }

protected:
    int rows() const override { return static_cast<int>(m_rows.size()); }
    int columns() const override { return 1 + static_cast<int>(m_comparison.arms.size()); }
    QString headerText(int column) const override;
    QString headerToolTip(int column) const override;
    QVariant cell(int row, int column, int role) const override;

private:
    pipeline::Comparison m_comparison;
    std::vector<pipeline::AlignedRow> m_rows;
    int m_hovered = -1;
};

// overlap@K, Kendall tau and RBO between every two columns.
class ComparePairsModel final : public TableModel {
    Q_OBJECT

public:
    enum Column { Columns, Overlap, KendallTau, Rbo, NumColumns };
    using TableModel::TableModel;
    void setComparison(const pipeline::Comparison& comparison);

protected:
    int rows() const override { return static_cast<int>(m_comparison.pairs.size()); }
    int columns() const override { return NumColumns; }
    QString headerText(int column) const override;
    QString headerToolTip(int column) const override;
    bool isNumeric(int column) const override { return column != Columns; }
    QVariant cell(int row, int column, int role) const override;

private:
    pipeline::Comparison m_comparison;
};

} // namespace recwb::ui
