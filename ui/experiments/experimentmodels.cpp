#include "experiments/experimentmodels.h"

#include <QColor>
#include <QFont>
#include <QLocale>
#include <cmath>

namespace recwb::ui {
namespace {

    // A number cell: text with `decimals` for display, the value itself for sorting.
    QVariant number(double v, int role, int decimals = 4)
    {
        if (role == SortRole)
            return v;
        if (role == Qt::DisplayRole)
            return std::isnan(v) ? QString() : QString::number(v, 'f', decimals);
        return {};
    }

    QVariant money(const std::optional<double>& v, int role, int decimals = 2)
    {
        if (role == SortRole)
            return v ? *v : -1.0;
        if (role == Qt::DisplayRole)
            return v ? QStringLiteral("$") + QLocale().toString(*v, 'f', decimals) : QObject::tr("unknown");
        return {};
    }

    constexpr int kPerK = 5; // HR, recall, NDCG, MRR, coverage
    constexpr int kTail = 11;
    constexpr std::array kKMetrics { eval::Metric::HR, eval::Metric::Recall, eval::Metric::NDCG, eval::Metric::MRR };

} // namespace

// ---- ExperimentFiguresModel ----

void ExperimentFiguresModel::setResult(const pipeline::ExperimentResult& result)
{
    beginResetModel();
    m_figures = result.figures;
    m_ks = result.spec.ks;
    endResetModel();
}

int ExperimentFiguresModel::columns() const
{
    return 3 + kPerK * static_cast<int>(m_ks.size()) + kTail;
}

QString ExperimentFiguresModel::headerText(int column) const
{
    if (column == 0)
        return tr("Arm");
    if (column == 1)
        return tr("Cohort");
    if (column == 2)
        return tr("Users");
    const int perK = kPerK * static_cast<int>(m_ks.size());
    if (column < 3 + perK) {
        const int k = m_ks[static_cast<size_t>((column - 3) / kPerK)];
        static const std::array names { "HR", "Recall", "NDCG", "MRR", "Coverage" };
        return QStringLiteral("%1@%2").arg(QLatin1StringView(names[static_cast<size_t>((column - 3) % kPerK)])).arg(k);
    }
    const int maxK = m_ks.empty() ? 10 : m_ks.back();
    switch (column - 3 - perK) {
    case 0:
        return tr("ILD@%1").arg(maxK);
    case 1:
        return tr("Novelty@%1").arg(maxK);
    case 2:
        return tr("LLM share");
    case 3:
        return tr("Fallback");
    case 4:
        return tr("Routed CF");
    case 5:
        return tr("Tokens in");
    case 6:
        return tr("Tokens out");
    case 7:
        return tr("Cost");
    case 8:
        return tr("Per 1K users");
    case 9:
        return tr("Cache hits");
    default:
        return tr("p95 ms");
    }
}

QVariant ExperimentFiguresModel::cell(int row, int column, int role) const
{
    const pipeline::ArmFigures& f = m_figures[static_cast<size_t>(row)];
    if (column == 0 || column == 1) {
        if (role == Qt::DisplayRole || role == SortRole)
            return column == 0 ? f.arm : f.cohort;
        if (role == Qt::FontRole && f.cohort == u"cohort") {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    }
    if (column == 2)
        return number(f.users, role, 0);
    const int perK = kPerK * static_cast<int>(m_ks.size());
    if (column < 3 + perK) {
        const size_t k = static_cast<size_t>((column - 3) / kPerK);
        const int which = (column - 3) % kPerK;
        if (which == kPerK - 1)
            return number(k < f.coverage.size() ? f.coverage[k] : std::nan(""), role);
        return number(
            k < f.mean.size() ? f.mean[k][static_cast<size_t>(kKMetrics[static_cast<size_t>(which)])] : std::nan(""),
            role);
    }
    const size_t last = f.mean.empty() ? 0 : f.mean.size() - 1;
    const auto at
        = [&](eval::Metric m) { return f.mean.empty() ? std::nan("") : f.mean[last][static_cast<size_t>(m)]; };
    const std::optional<double> cost = f.costKnown ? std::optional<double>(f.costUsd) : std::nullopt;
    switch (column - 3 - perK) {
    case 0:
        return number(at(eval::Metric::ILD), role);
    case 1:
        return number(at(eval::Metric::Novelty), role, 2);
    case 2:
        return number(f.llmShare, role, 3);
    case 3:
        return number(f.fallbackShare, role, 3);
    case 4:
        return number(f.routedCfShare, role, 3);
    case 5:
        return number(static_cast<double>(f.tokensIn), role, 0);
    case 6:
        return number(static_cast<double>(f.tokensOut), role, 0);
    case 7:
        return money(cost, role, 4);
    case 8:
        return money(f.costKnown ? std::optional<double>(f.costPer1kUsers()) : std::nullopt, role, 4);
    case 9:
        return number(f.cacheHits, role, 0);
    default:
        return number(f.latencyMs.value(QStringLiteral("total")).p95, role, 1);
    }
}

// ---- ExperimentPairsModel ----

void ExperimentPairsModel::setResult(const pipeline::ExperimentResult& result)
{
    beginResetModel();
    m_rows = result.comparisons;
    endResetModel();
}

QString ExperimentPairsModel::headerText(int column) const
{
    switch (column) {
    case Arms:
        return tr("B vs A");
    case Metric:
        return tr("Metric");
    case Users:
        return tr("Users");
    case MeanA:
        return tr("Mean A");
    case MeanB:
        return tr("Mean B");
    case Diff:
        return tr("B − A");
    case CiLow:
        return tr("95 % low");
    case CiHigh:
        return tr("95 % high");
    case PValue:
        return tr("Wilcoxon p");
    default:
        return tr("Verdict");
    }
}

QString ExperimentPairsModel::headerToolTip(int column) const
{
    switch (column) {
    case Diff:
        return tr("Mean over the same users of B's metric minus A's");
    case CiLow:
    case CiHigh:
        return tr("Paired bootstrap interval of the mean difference (10,000 resamples)");
    case PValue:
        return tr("Wilcoxon signed-rank test, two-sided");
    case Verdict:
        return tr("\"B beats A\" only when the interval excludes 0");
    default:
        return {};
    }
}

QVariant ExperimentPairsModel::cell(int row, int column, int role) const
{
    const pipeline::ArmComparison& c = m_rows[static_cast<size_t>(row)];
    const eval::PairedComparison& s = c.stats;
    if (role == Qt::ForegroundRole && column == Verdict) {
        if (s.verdict == eval::PairedComparison::Verdict::BBeatsA)
            return QColor(0x1a, 0x7f, 0x37);
        if (s.verdict == eval::PairedComparison::Verdict::ABeatsB)
            return QColor(0xb4, 0x23, 0x18);
        return {};
    }
    if (role == Qt::ToolTipRole && column == Verdict && !c.worstUsers.empty()) {
        QStringList worst;
        for (const auto& [user, diff] : c.worstUsers)
            worst << QStringLiteral("%1: %2").arg(user).arg(diff, 0, 'f', 4);
        return tr("Where %1 hurts most: %2").arg(c.b, worst.join(QStringLiteral(", ")));
    }
    switch (column) {
    case Arms:
        return role == Qt::DisplayRole || role == SortRole ? QVariant(QStringLiteral("%1 vs %2").arg(c.b, c.a))
                                                           : QVariant();
    case Metric:
        return role == Qt::DisplayRole || role == SortRole ? QVariant(s.metric) : QVariant();
    case Users:
        return number(s.users, role, 0);
    case MeanA:
        return number(s.meanA, role);
    case MeanB:
        return number(s.meanB, role);
    case Diff:
        return number(s.meanDiff, role);
    case CiLow:
        return number(s.ci.low, role);
    case CiHigh:
        return number(s.ci.high, role);
    case PValue:
        if (role == Qt::DisplayRole)
            return QString::number(s.wilcoxon.pValue, 'g', 3);
        return role == SortRole ? QVariant(s.wilcoxon.pValue) : QVariant();
    default:
        return role == Qt::DisplayRole || role == SortRole ? QVariant(s.verdictText()) : QVariant();
    }
}

// ---- ExperimentUsersModel ----

void ExperimentUsersModel::setResult(const pipeline::ExperimentResult& result, const QString& metric)
{
    beginResetModel();
    m_users.clear();
    m_arms.clear();
    m_metric = metric;
    const auto [m, k] = eval::parseMetricAtK(metric);
    const auto kIt = std::find(result.spec.ks.begin(), result.spec.ks.end(), k);
    const size_t ki = static_cast<size_t>(kIt - result.spec.ks.begin());
    QHash<QString, int> arms;
    for (const pipeline::ExperimentArm& a : result.spec.arms) {
        arms.insert(a.name, static_cast<int>(m_arms.size()));
        m_arms << a.name;
    }
    QHash<QString, int> rowOf;
    for (const QString& id : result.users) {
        rowOf.insert(id, static_cast<int>(m_users.size()));
        Row r;
        r.id = id;
        r.folded = id.toCaseFolded();
        r.values.assign(static_cast<size_t>(m_arms.size()), std::nan(""));
        m_users.append(r);
    }
    for (const pipeline::UserRow& u : result.rows) {
        const auto row = rowOf.constFind(u.userId);
        const auto arm = arms.constFind(u.arm);
        if (u.repeat != 0 || row == rowOf.cend() || arm == arms.cend())
            continue;
        Row& r = m_users[*row];
        r.cold = u.cold;
        r.longTail = u.longTail;
        r.train = u.trainCount;
        if (kIt != result.spec.ks.end() && ki < u.metrics.size())
            r.values[static_cast<size_t>(*arm)] = u.metric(m, ki);
    }
    endResetModel();
}

QStringView ExperimentUsersModel::searchText(int row) const
{
    return m_users[row].folded;
}

QString ExperimentUsersModel::headerText(int column) const
{
    switch (column) {
    case User:
        return tr("User");
    case Cold:
        return tr("Cold");
    case LongTail:
        return tr("Long tail");
    case Train:
        return tr("Train items");
    default:
        return QStringLiteral("%1 %2").arg(m_arms.value(column - NumFixed), m_metric);
    }
}

QVariant ExperimentUsersModel::cell(int row, int column, int role) const
{
    const Row& r = m_users[row];
    switch (column) {
    case User:
        return role == Qt::DisplayRole || role == SortRole ? QVariant(r.id) : QVariant();
    case Cold:
    case LongTail: {
        const bool on = column == Cold ? r.cold : r.longTail;
        if (role == SortRole)
            return on ? 1 : 0;
        return role == Qt::DisplayRole ? QVariant(on ? tr("yes") : QString()) : QVariant();
    }
    case Train:
        return number(r.train, role, 0);
    default:
        return number(r.values[static_cast<size_t>(column - NumFixed)], role);
    }
}

// ---- ExperimentListModel ----

void ExperimentListModel::setExperiments(std::vector<pipeline::experimentstore::Info> list)
{
    beginResetModel();
    m_list = std::move(list);
    endResetModel();
}

QString ExperimentListModel::headerText(int column) const
{
    static const std::array names { "Id", "Name", "Status", "Split", "Cohort", "Arms", "Users", "Rows", "Created" };
    return tr(names[static_cast<size_t>(column)]);
}

QVariant ExperimentListModel::cell(int row, int column, int role) const
{
    const pipeline::experimentstore::Info& e = m_list[static_cast<size_t>(row)];
    if (role == Qt::ForegroundRole && column == Status && e.status != u"finished")
        return QColor(0xb4, 0x23, 0x18);
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    switch (column) {
    case Id:
        return static_cast<double>(e.id);
    case Name:
        return e.name;
    case Status:
        return e.status;
    case Split:
        return e.split;
    case Cohort:
        return e.cohort;
    case Arms:
        return e.arms;
    case Users:
        return e.users;
    case Rows:
        return e.rows;
    default:
        return role == SortRole ? QVariant(e.created)
                                : QVariant(e.created.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm")));
    }
}

// ---- ProjectionModel ----

void ProjectionModel::setProjection(const pipeline::CostProjection& projection)
{
    beginResetModel();
    m_rows = projection.rows;
    endResetModel();
}

QString ProjectionModel::headerText(int column) const
{
    switch (column) {
    case UsersPerDay:
        return tr("Users a day");
    case Scenario:
        return tr("Scenario");
    case LlmShare:
        return tr("To the LLM");
    case CallsPerDay:
        return tr("Calls a day");
    case PerCall:
        return tr("Per call");
    case PerDay:
        return tr("Per day");
    default:
        return tr("Per month");
    }
}

QVariant ProjectionModel::cell(int row, int column, int role) const
{
    const pipeline::ProjectionRow& r = m_rows[row];
    if (role == Qt::FontRole && column == PerMonth) {
        QFont bold;
        bold.setBold(true);
        return bold;
    }
    switch (column) {
    case UsersPerDay:
        if (role == Qt::DisplayRole)
            return QLocale().toString(r.usersPerDay);
        return role == SortRole ? QVariant(static_cast<double>(r.usersPerDay)) : QVariant();
    case Scenario:
        return role == Qt::DisplayRole || role == SortRole ? QVariant(pipeline::scenarioName(r.scenario)) : QVariant();
    case LlmShare:
        return role == Qt::DisplayRole ? QVariant(QStringLiteral("%1 %").arg(r.llmShare * 100, 0, 'f', 1))
                                       : number(r.llmShare, role);
    case CallsPerDay:
        if (role == Qt::DisplayRole)
            return QLocale().toString(static_cast<qlonglong>(std::llround(r.callsPerDay)));
        return number(r.callsPerDay, role);
    case PerCall:
        return money(r.usdPerCall, role, 6);
    case PerDay:
        return money(r.usdPerDay, role);
    default:
        return money(r.usdPerMonth, role);
    }
}

} // namespace recwb::ui
