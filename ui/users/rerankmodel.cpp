#include "users/rerankmodel.h"

#include "data/dataset.h"

#include <QBrush>
#include <QColor>

namespace recwb::ui {

RerankModel::~RerankModel() = default;

void RerankModel::setDataset(std::shared_ptr<const Dataset> dataset)
{
    beginResetModel();
    m_dataset = std::move(dataset);
    m_items.clear();
    m_titles.clear();
    endResetModel();
}

void RerankModel::setRows(QList<rerank::RankedItem> items, QStringList titles)
{
    beginResetModel();
    m_items = std::move(items);
    m_titles = std::move(titles);
    endResetModel();
}

void RerankModel::clear()
{
    setRows({}, {});
}

QString RerankModel::title(int row) const
{
    const rerank::RankedItem& r = m_items[row];
    const QString t = m_titles.value(row);
    if (!t.isEmpty() || !m_dataset || r.item < 0 || r.item >= m_dataset->numItems())
        return t.isEmpty() ? r.externalId : t;
    return m_dataset->items[static_cast<size_t>(r.item)].title;
}

QString RerankModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Rank:
        return tr("Rank");
    case Title:
        return tr("Item");
    case CfRank:
        return tr("CF rank");
    case Move:
        return tr("Move");
    case Score:
        return tr("Score");
    case Explanation:
        return tr("Explanation");
    case NumColumns:
        break;
    }
    return {};
}

QString RerankModel::headerToolTip(int column) const
{
    switch (static_cast<Column>(column)) {
    case CfRank:
        return tr("Where the CF model ranked this item among the candidates");
    case Move:
        return tr("Places gained (+) or lost (−) against the CF order");
    case Score:
        return tr("The reranker's score for the pick (none when the model gave none)");
    case Explanation:
        return tr("Why the reranker picked it; \"filled from CF order\" when the reranker left the place empty");
    default:
        return {};
    }
}

QVariant RerankModel::cell(int row, int column, int role) const
{
    const rerank::RankedItem& r = m_items[row];
    const int move = r.cfRank > 0 ? r.cfRank - r.rank : 0;
    switch (role) {
    case Qt::DisplayRole:
        switch (static_cast<Column>(column)) {
        case Rank:
            return r.rank;
        case Title:
            return title(row);
        case CfRank:
            return r.cfRank > 0 ? QVariant(r.cfRank) : QVariant(QStringLiteral("–"));
        case Move:
            return move > 0 ? QStringLiteral("▲ %1").arg(move)
                : move < 0  ? QStringLiteral("▼ %1").arg(-move)
                            : QStringLiteral("=");
        case Score:
            return r.score ? QString::number(*r.score, 'f', 3) : QStringLiteral("–");
        case Explanation:
            if (r.filled)
                return tr("(filled from CF order)");
            return r.claims.isEmpty() ? r.explanation.simplified()
                                      : QStringLiteral("⚠ ") + r.explanation.simplified();
        case NumColumns:
            break;
        }
        break;
    case SortRole:
        switch (static_cast<Column>(column)) {
        case Rank:
            return r.rank;
        case CfRank:
            return r.cfRank;
        case Move:
            return move;
        case Score:
            return r.score.value_or(-1e300);
        default:
            return cell(row, column, Qt::DisplayRole);
        }
    case Qt::ForegroundRole:
        if (column == Move && move != 0)
            return QBrush(move > 0 ? QColor(0x15, 0x80, 0x3d) : QColor(0xb9, 0x1c, 0x1c));
        if (column == Explanation && r.filled)
            return QBrush(QColor(0x6b, 0x72, 0x80));
        if (column == Explanation && !r.claims.isEmpty())
            return QBrush(QColor(0xb9, 0x1c, 0x1c));
        break;
    case Qt::ToolTipRole:
        if (column == Title)
            return tr("%1 (id %2)").arg(title(row), r.externalId);
        if (column == Explanation && !r.filled)
            return r.claims.isEmpty() ? r.explanation
                                      : r.explanation + u'\n' + tr("Unsupported: %1").arg(r.claims.join(u'\n'));
        break;
    case SourceRowRole:
        return r.item;
    default:
        break;
    }
    return {};
}

} // namespace recwb::ui
