#include "users/candidatesmodel.h"

#include "data/dataset.h"

namespace recwb::ui {

CandidatesModel::~CandidatesModel() = default;

void CandidatesModel::setDataset(std::shared_ptr<const Dataset> dataset)
{
    beginResetModel();
    m_dataset = std::move(dataset);
    m_rows.clear();
    endResetModel();
}

void CandidatesModel::setRows(std::vector<CandidateRow> rows)
{
    beginResetModel();
    m_rows = m_dataset ? std::move(rows) : std::vector<CandidateRow>();
    endResetModel();
}

void CandidatesModel::clear()
{
    setRows({});
}

QString CandidatesModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Rank:
        return tr("Rank");
    case Title:
        return tr("Item");
    case Score:
        return tr("Score");
    case Categories:
        return tr("Categories");
    case Source:
        return tr("Source");
    case NumColumns:
        break;
    }
    return {};
}

QString CandidatesModel::headerToolTip(int column) const
{
    switch (static_cast<Column>(column)) {
    case Score:
        return tr("The model's score (CF), or the weighted blend of the cold-start sources");
    case Source:
        return tr("Where the candidate came from: the CF model, or for cold users the cold-start source "
                  "with the largest weighted share");
    default:
        return {};
    }
}

QVariant CandidatesModel::cell(int row, int column, int role) const
{
    const CandidateRow& c = m_rows[static_cast<size_t>(row)];
    const Item& item = m_dataset->items[static_cast<size_t>(c.item)];
    switch (role) {
    case Qt::DisplayRole:
        switch (static_cast<Column>(column)) {
        case Rank:
            return row + 1;
        case Title:
            return item.title;
        case Score:
            return QString::number(static_cast<double>(c.score), 'f', 4);
        case Categories:
            return m_dataset->categoryNames(item);
        case Source:
            return c.source;
        case NumColumns:
            break;
        }
        break;
    case SortRole:
        switch (static_cast<Column>(column)) {
        case Rank:
            return row + 1;
        case Score:
            return static_cast<double>(c.score);
        default:
            return cell(row, column, Qt::DisplayRole);
        }
    case Qt::ToolTipRole:
        if (column == Title)
            return tr("%1 (id %2)").arg(item.title, item.externalId);
        if (column == Categories)
            return m_dataset->categoryNames(item);
        if (column == Source && !c.parts.empty()) {
            QStringList lines;
            for (const auto& [name, share] : c.parts)
                if (share > 0)
                    lines << tr("%1: %2").arg(name, QString::number(static_cast<double>(share), 'f', 4));
            return tr("Weighted shares of the blend\n%1").arg(lines.join(u'\n'));
        }
        break;
    case SourceRowRole:
        return c.item;
    default:
        break;
    }
    return {};
}

} // namespace recwb::ui
