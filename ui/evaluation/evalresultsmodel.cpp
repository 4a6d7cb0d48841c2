#include "evaluation/evalresultsmodel.h"

#include "eval/evaluator.h"

#include <QLocale>
#include <algorithm>
#include <optional>
#include <cmath>
#include <limits>

namespace recwb::ui {

namespace {

    std::optional<eval::Metric> metricOf(int column)
    {
        switch (column) {
        case EvalResultsModel::HR:
            return eval::Metric::HR;
        case EvalResultsModel::Recall:
            return eval::Metric::Recall;
        case EvalResultsModel::NDCG:
            return eval::Metric::NDCG;
        case EvalResultsModel::MRR:
            return eval::Metric::MRR;
        case EvalResultsModel::ILD:
            return eval::Metric::ILD;
        case EvalResultsModel::Novelty:
            return eval::Metric::Novelty;
        default:
            return std::nullopt;
        }
    }

    constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

} // namespace

EvalResultsModel::~EvalResultsModel() = default;

void EvalResultsModel::clear()
{
    beginResetModel();
    m_results.clear();
    m_cohort = kAllUsers;
    endResetModel();
}

void EvalResultsModel::append(std::shared_ptr<const eval::EvalResult> result)
{
    const int row = rows();
    beginInsertRows({}, row, row);
    m_results.push_back(std::move(result));
    endInsertRows();
}

int EvalResultsModel::rowOf(const QString& model) const
{
    for (size_t r = 0; r < m_results.size(); ++r)
        if (m_results[r]->model == model)
            return static_cast<int>(r);
    return -1;
}

void EvalResultsModel::setK(int k)
{
    if (k == m_k)
        return;
    m_k = k;
    emit headerDataChanged(Qt::Horizontal, 0, NumColumns - 1);
    refreshAll();
}

void EvalResultsModel::setCohort(int cohort)
{
    if (cohort == m_cohort)
        return;
    m_cohort = cohort;
    refreshAll();
}

void EvalResultsModel::refreshAll()
{
    if (rows() > 0)
        emit dataChanged(index(0, 0), index(rows() - 1, NumColumns - 1));
}

double EvalResultsModel::value(int row, int column) const
{
    const eval::EvalResult& r = *m_results[static_cast<size_t>(row)];
    const auto kIt = std::find(r.ks.begin(), r.ks.end(), m_k);
    if (kIt == r.ks.end())
        return kNone;
    const auto kIndex = static_cast<size_t>(kIt - r.ks.begin());
    const bool allUsers = m_cohort < 0 || m_cohort >= static_cast<int>(r.cohorts.size());
    const eval::Cohort* cohort = allUsers ? nullptr : &r.cohorts[static_cast<size_t>(m_cohort)];
    switch (column) {
    case Coverage:
        return allUsers ? r.atK[kIndex].coverage : kNone; // a run-level figure
    case Users:
        return allUsers ? r.usersEvaluated : cohort->users;
    case FitSeconds:
        return r.fitSeconds;
    case EvalSeconds:
        return r.evalSeconds;
    default:
        break;
    }
    const auto metric = metricOf(column);
    if (!metric)
        return kNone;
    if (allUsers)
        return r.atK[kIndex].value(*metric);
    if (cohort->users == 0)
        return kNone;
    return cohort->mean[kIndex][static_cast<size_t>(*metric)];
}

QString EvalResultsModel::headerText(int column) const
{
    const auto atK = [this](const QString& name) { return QStringLiteral("%1@%2").arg(name).arg(m_k); };
    switch (static_cast<Column>(column)) {
    case Model:
        return tr("Model");
    case HR:
        return atK(tr("HR"));
    case Recall:
        return atK(tr("Recall"));
    case NDCG:
        return atK(tr("NDCG"));
    case MRR:
        return atK(tr("MRR"));
    case Coverage:
        return atK(tr("Coverage"));
    case ILD:
        return atK(tr("ILD"));
    case Novelty:
        return atK(tr("Novelty"));
    case Users:
        return tr("Users");
    case FitSeconds:
        return tr("Fit s");
    case EvalSeconds:
        return tr("Eval s");
    case NumColumns:
        break;
    }
    return {};
}

QString EvalResultsModel::headerToolTip(int column) const
{
    switch (static_cast<Column>(column)) {
    case HR:
        return tr("Hit rate: share of users with at least one held-out item in the top K");
    case Recall:
        return tr("Hits / min(K, held-out items), averaged over users");
    case NDCG:
        return tr("Discounted cumulative gain of the hits, normalised by the best possible, averaged over users");
    case MRR:
        return tr("1 / rank of the first hit within K, averaged over users");
    case Coverage:
        return tr("Distinct items in all top-K lists / catalog size (one figure per run, all users only)");
    case ILD:
        return tr("Intra-list diversity: mean 1 - Jaccard of the categories of each pair in the list");
    case Novelty:
        return tr("Mean self-information -log2(popularity) of the listed items");
    case Users:
        return tr("Users evaluated (in the chosen cohort)");
    case FitSeconds:
        return tr("Seconds to fit the model on the training split");
    case EvalSeconds:
        return tr("Seconds to rank and score every evaluated user");
    default:
        return {};
    }
}

QVariant EvalResultsModel::cell(int row, int column, int role) const
{
    const eval::EvalResult& r = *m_results[static_cast<size_t>(row)];
    if (column == Model) {
        if (role == Qt::DisplayRole || role == SortRole)
            return r.model;
        if (role == Qt::ToolTipRole)
            return tr("%1 on %2").arg(r.model, r.splitName);
        return {};
    }
    const double v = value(row, column);
    switch (role) {
    case Qt::DisplayRole:
        if (std::isnan(v))
            return QStringLiteral("—");
        if (column == Users)
            return QLocale().toString(static_cast<qint64>(v));
        if (column == FitSeconds || column == EvalSeconds)
            return QString::number(v, 'f', 2);
        if (column == Novelty)
            return QString::number(v, 'f', 3);
        return QString::number(v, 'f', 4);
    case SortRole:
        return std::isnan(v) ? QVariant(-1.0) : QVariant(v);
    case Qt::ToolTipRole:
        if (column == Coverage && std::isnan(v))
            return tr("Coverage is a run-level figure: shown for all users only");
        break;
    default:
        break;
    }
    return {};
}

} // namespace recwb::ui
