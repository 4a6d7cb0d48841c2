#include "compare/comparemodel.h"

#include "eval/listcompare.h"

#include <QBrush>
#include <QColor>
#include <utility>

namespace recwb::ui {

void CompareModel::setComparison(const pipeline::Comparison& comparison)
{
    beginResetModel();
    m_comparison = comparison;
    m_rows = m_comparison.alignedRows();
    m_hovered = -1;
    endResetModel();
}

int CompareModel::rowOf(const QString& itemId) const
{
    for (size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i].itemId == itemId)
            return static_cast<int>(i);
    return -1;
}

QString CompareModel::headerText(int column) const
{
    if (column == 0)
        return tr("Item");
    return QStringLiteral("%1. %2").arg(column).arg(m_comparison.arms[static_cast<size_t>(column - 1)].title);
}

QString CompareModel::headerToolTip(int column) const
{
    if (column == 0)
        return tr("Every item of any column, by its best rank; held-out items are marked");
    const auto& a = m_comparison.arms[static_cast<size_t>(column - 1)];
    return a.spec + (a.note.isEmpty() ? QString() : QStringLiteral("\n") + a.note);
}

void CompareModel::setHoveredRow(int row)
{
    row = row >= 0 && row < rows() ? row : -1;
    if (row == m_hovered)
        return;
    const int old = std::exchange(m_hovered, row);
    for (const int r : { old, row })
        if (r >= 0)
            emit dataChanged(index(r, 0), index(r, columns() - 1), { Qt::BackgroundRole, HoveredRole });
}

QVariant CompareModel::cell(int row, int column, int role) const
{
    const pipeline::AlignedRow& r = m_rows[static_cast<size_t>(row)];
    if (role == HeldOutRole)
        return r.heldOut;
    if (role == ItemIdRole)
        return r.itemId;
    if (role == HoveredRole)
        return row == m_hovered;
    if (role == Qt::BackgroundRole) {
        if (row == m_hovered)
            return QBrush(QColor(0xdb, 0xea, 0xfe));
        return r.heldOut ? QVariant(QBrush(QColor(255, 240, 200))) : QVariant();
    }
    if (column == 0) {
        switch (role) {
        case Qt::DisplayRole:
            return r.heldOut ? QStringLiteral("★ %1 (%2) · held out").arg(r.title, r.itemId)
                             : QStringLiteral("%1 (%2)").arg(r.title, r.itemId);
        case SortRole:
            return row;
        case Qt::ToolTipRole:
            return r.heldOut ? tr("A held-out item of the split: the user really interacted with it") : QVariant();
        default:
            return {};
        }
    }
    const auto arm = static_cast<size_t>(column - 1);
    const int at = arm < r.rowInArm.size() ? r.rowInArm[arm] : -1;
    if (at < 0) {
        if (role == RankRole || role == SortRole)
            return 0;
        if (role == Qt::DisplayRole)
            return r.heldOut ? tr("held out, not in this top %1").arg(m_comparison.arms[arm].k) : QStringLiteral("–");
        if (role == Qt::ForegroundRole)
            return QBrush(Qt::gray);
        return {};
    }
    const pipeline::CompareRow& c = m_comparison.arms[arm].rows[static_cast<size_t>(at)];
    switch (role) {
    case RankRole:
    case SortRole:
        return c.rank;
    case Qt::DisplayRole: {
        const int m = c.move();
        const QString move = c.cfRank <= 0 ? QString()
            : m > 0                        ? QStringLiteral(" ▲%1").arg(m)
            : m < 0                        ? QStringLiteral(" ▼%1").arg(-m)
                                           : QStringLiteral(" =");
        QString text = QStringLiteral("#%1%2").arg(c.rank).arg(move);
        if (c.filled)
            text += tr(" (from CF)");
        if (!c.explanation.isEmpty())
            text += QStringLiteral("\n") + (c.claims.isEmpty() ? QString() : QStringLiteral("⚠ ")) + c.explanation;
        return text;
    }
    case Qt::ForegroundRole:
        if (!c.claims.isEmpty())
            return QBrush(QColor(0xb9, 0x1c, 0x1c));
        return {};
    case Qt::ToolTipRole:
        return QString(QStringLiteral("rank %1, CF rank %2\n%3").arg(c.rank).arg(c.cfRank).arg(c.explanation)
            + (c.claims.isEmpty() ? QString() : QString(u'\n' + tr("Unsupported: %1").arg(c.claims.join(u'\n')))));
    default:
        return {};
    }
}

void ComparePairsModel::setComparison(const pipeline::Comparison& comparison)
{
    beginResetModel();
    m_comparison = comparison;
    endResetModel();
}

QString ComparePairsModel::headerText(int column) const
{
    switch (column) {
    case Columns:
        return tr("Columns");
    case Overlap:
        return tr("Overlap@K");
    case KendallTau:
        return tr("Kendall τ");
    default:
        return tr("RBO");
    }
}

QString ComparePairsModel::headerToolTip(int column) const
{
    switch (column) {
    case Overlap:
        return tr("Items in both top-K lists / K (K = the smaller K of the two)");
    case KendallTau:
        return tr("Kendall tau over the items both lists share (n/a with fewer than 2)");
    case Rbo:
        return tr("Rank-biased overlap, extrapolated, p = %1").arg(eval::kRboP);
    default:
        return {};
    }
}

QVariant ComparePairsModel::cell(int row, int column, int role) const
{
    const pipeline::ArmPair& p = m_comparison.pairs[static_cast<size_t>(row)];
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const bool display = role == Qt::DisplayRole;
    switch (column) {
    case Columns:
        return QStringLiteral("%1 / %2").arg(p.a + 1).arg(p.b + 1);
    case Overlap:
        return display ? QVariant(QStringLiteral("%1 (K=%2)").arg(p.overlap, 0, 'f', 2).arg(p.k)) : QVariant(p.overlap);
    case KendallTau:
        if (!p.kendallTau)
            return display ? QVariant(tr("n/a (%1 shared)").arg(p.shared)) : QVariant(-2.0);
        return display ? QVariant(QString::number(*p.kendallTau, 'f', 3)) : QVariant(*p.kendallTau);
    default:
        return display ? QVariant(QString::number(p.rbo, 'f', 3)) : QVariant(p.rbo);
    }
}

} // namespace recwb::ui
