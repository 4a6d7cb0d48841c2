// Experiment results: per-user rows, per arm x cohort figures, paired comparisons,
// assertion checks and the cost projection's JSON (docs/EXPERIMENTS.md).
#include "pipeline/experiment.h"

#include "eval/listcompare.h"
#include "util/error.h"

#include <QJsonArray>
#include <cmath>
#include <map>
#include <set>

namespace recwb::pipeline {
namespace {

    const std::array<const char*, 6> kStages { "candidates", "enrichment", "render", "llm", "parse", "total" };

    QJsonValue optionalNumber(std::optional<double> v)
    {
        return v && std::isfinite(*v) ? QJsonValue(*v) : QJsonValue();
    }

    QString metricKey(eval::Metric m, int k)
    {
        return QStringLiteral("%1@%2").arg(eval::metricName(m)).arg(k);
    }

    bool compareOp(double l, const QString& op, double r)
    {
        if (op == u">=")
            return l >= r;
        if (op == u"<=")
            return l <= r;
        if (op == u">")
            return l > r;
        if (op == u"<")
            return l < r;
        if (op == u"==")
            return std::abs(l - r) <= 1e-12 * std::max(1.0, std::abs(r));
        return !(std::abs(l - r) <= 1e-12 * std::max(1.0, std::abs(r))); // !=
    }

    QString num(double v)
    {
        return QString::number(v, 'g', 6);
    }

    // Rows of one arm grouped by user (index into result.users), repeats in order.
    using ByUser = std::vector<std::vector<const UserRow*>>;

    ByUser rowsByUser(const ExperimentResult& r, const QString& arm, const QHash<QString, int>& userPos)
    {
        ByUser by(static_cast<size_t>(r.users.size()));
        for (const UserRow& row : r.rows) {
            if (row.arm != arm)
                continue;
            const auto it = userPos.constFind(row.userId);
            if (it != userPos.cend())
                by[static_cast<size_t>(*it)].push_back(&row);
        }
        for (auto& v : by)
            std::sort(v.begin(), v.end(), [](const UserRow* a, const UserRow* b) { return a->repeat < b->repeat; });
        return by;
    }

    bool inCohort(const UserRow& row, const QString& cohort)
    {
        if (cohort == u"cold")
            return row.cold;
        if (cohort == u"warm")
            return !row.cold;
        if (cohort == u"longtail")
            return row.longTail;
        return true;
    }

    // The per-user value of metric m at K index j, repeats averaged.
    double userValue(const std::vector<const UserRow*>& reps, eval::Metric m, size_t j)
    {
        double sum = 0;
        for (const UserRow* r : reps)
            sum += j < r->metrics.size() ? r->metric(m, j) : 0.0;
        return reps.empty() ? 0.0 : sum / static_cast<double>(reps.size());
    }

    ArmFigures figuresOf(const ExperimentResult& r, const ExperimentArm& arm, const ByUser& by, const QString& cohort)
    {
        ArmFigures f;
        f.arm = arm.name;
        f.cohort = cohort;
        f.repeats = arm.repeats;
        f.ks = r.spec.ks;
        const size_t nk = f.ks.size();
        f.mean.assign(nk, {});
        // Items listed in the top k, by local index. Not a CoverageCounter sized by the catalog:
        // the local indices count the ids the rows list, which the stored catalog size (0 when
        // unknown) does not bound.
        std::vector<std::set<int32_t>> listed(nk);
        QHash<QString, int32_t> itemIds; // for coverage and Kendall tau: external id -> a local index
        const auto itemIndex = [&](const QString& id) {
            const auto it = itemIds.constFind(id);
            if (it != itemIds.cend())
                return *it;
            const auto n = static_cast<int32_t>(itemIds.size());
            itemIds.insert(id, n);
            return n;
        };
        std::array<std::vector<double>, kStages.size()> stage;
        int rowsCounted = 0;
        double tauSum = 0;
        int tauUsers = 0;
        for (const auto& reps : by) {
            if (reps.empty() || !inCohort(*reps.front(), cohort))
                continue;
            ++f.users;
            for (size_t j = 0; j < nk; ++j)
                for (const eval::Metric m : eval::kAllMetrics)
                    f.mean[j][static_cast<size_t>(m)] += userValue(reps, m, j);
            std::vector<std::vector<int32_t>> lists;
            for (const UserRow* row : reps) {
                std::vector<int32_t> list;
                for (const QString& id : row->items)
                    list.push_back(itemIndex(id));
                lists.push_back(std::move(list));
                ++rowsCounted;
                if (row->llmCalled && !row->fallback)
                    f.llmShare += 1;
                if (row->fallback)
                    f.fallbackShare += 1;
                if (row->routedCf)
                    f.routedCfShare += 1;
                for (const QString& d : row->defects)
                    f.defects[d] += 1;
                f.tokensIn += row->tokensIn;
                f.tokensOut += row->tokensOut;
                if (row->cost)
                    f.costUsd += *row->cost;
                else if (row->llmCalled)
                    f.costKnown = false;
                f.cacheHits += row->cacheHit ? 1 : 0;
                f.calls += row->outcome.value(u"tiers").toArray().size();
                const StageMs& s = row->stageMs;
                const std::array<double, kStages.size()> v { s.candidates, s.enrichment, s.render, s.llm, s.parse,
                    s.total() };
                for (size_t i = 0; i < v.size(); ++i)
                    stage[i].push_back(v[i]);
            }
            for (size_t j = 0; j < nk; ++j) {
                const auto cut = std::min(lists.front().size(), static_cast<size_t>(std::max(f.ks[j], 0)));
                listed[j].insert(lists.front().begin(), lists.front().begin() + static_cast<std::ptrdiff_t>(cut));
            }
            if (lists.size() >= 2) {
                double sum = 0;
                int pairs = 0;
                for (size_t a = 0; a < lists.size(); ++a)
                    for (size_t b = a + 1; b < lists.size(); ++b)
                        if (const auto tau = eval::kendallTauShared(lists[a], lists[b])) {
                            sum += *tau;
                            ++pairs;
                        }
                if (pairs > 0) {
                    tauSum += sum / pairs;
                    ++tauUsers;
                }
            }
        }
        if (f.users > 0)
            for (auto& perK : f.mean)
                for (double& v : perK)
                    v /= f.users;
        f.coverage.resize(nk);
        for (size_t j = 0; j < nk; ++j) // distinct listed items / catalog size, as the evaluator counts
            f.coverage[j] = r.catalogSize > 0 ? static_cast<double>(listed[j].size()) / r.catalogSize : 0.0;
        if (rowsCounted > 0) {
            f.llmShare /= rowsCounted;
            f.fallbackShare /= rowsCounted;
            f.routedCfShare /= rowsCounted;
        }
        for (size_t i = 0; i < kStages.size(); ++i)
            f.latencyMs.insert(QLatin1String(kStages[i]), percentiles(std::move(stage[i])));
        if (tauUsers > 0)
            f.kendallTau = tauSum / tauUsers;
        return f;
    }

    // Per-user values of metric@K for two arms on the users both have, in result.users order.
    ArmComparison pairedOn(
        const ExperimentResult& r, const QString& a, const QString& b, const QString& metric, const QString& cohort)
    {
        const auto [m, k] = eval::parseMetricAtK(metric);
        const auto kIt = std::find(r.spec.ks.begin(), r.spec.ks.end(), k);
        if (kIt == r.spec.ks.end())
            throw Error(QStringLiteral("metric %1: K = %2 is not one of the experiment's K").arg(metric).arg(k));
        const auto j = static_cast<size_t>(kIt - r.spec.ks.begin());
        for (const QString& arm : { a, b })
            if (!r.spec.arm(arm))
                throw Error(QStringLiteral("experiment %1 has no arm '%2'").arg(r.id).arg(arm));
        QHash<QString, int> pos;
        for (int i = 0; i < r.users.size(); ++i)
            pos.insert(r.users[i], i);
        const ByUser byA = rowsByUser(r, a, pos);
        const ByUser byB = rowsByUser(r, b, pos);
        std::vector<double> va, vb;
        std::vector<std::pair<QString, double>> diffs;
        for (size_t u = 0; u < byA.size(); ++u) {
            if (byA[u].empty() || byB[u].empty() || !inCohort(*byA[u].front(), cohort))
                continue;
            va.push_back(userValue(byA[u], m, j));
            vb.push_back(userValue(byB[u], m, j));
            diffs.emplace_back(r.users[static_cast<qsizetype>(u)], vb.back() - va.back());
        }
        ArmComparison c;
        c.a = a;
        c.b = b;
        c.cohort = cohort;
        c.stats = eval::comparePaired(va, vb, a, b, metric);
        std::stable_sort(diffs.begin(), diffs.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
        for (const auto& d : diffs) {
            if (d.second >= 0 || c.worstUsers.size() >= 10)
                break;
            c.worstUsers.push_back(d);
        }
        return c;
    }

} // namespace

// ---------------------------------------------------------------- UserRow

QJsonObject UserRow::toJson() const
{
    QJsonObject o { { QStringLiteral("arm"), arm }, { QStringLiteral("repeat"), repeat },
        { QStringLiteral("user"), userId }, { QStringLiteral("cold"), cold }, { QStringLiteral("long_tail"), longTail },
        { QStringLiteral("train_count"), trainCount }, { QStringLiteral("items"), QJsonArray::fromStringList(items) },
        { QStringLiteral("answered_by"), answeredBy }, { QStringLiteral("fallback"), fallback },
        { QStringLiteral("routed_cf"), routedCf }, { QStringLiteral("llm_called"), llmCalled },
        { QStringLiteral("defects"), QJsonArray::fromStringList(defects) }, { QStringLiteral("tokens_in"), tokensIn },
        { QStringLiteral("tokens_out"), tokensOut }, { QStringLiteral("cost_usd"), optionalNumber(cost) },
        { QStringLiteral("cache_hit"), cacheHit },
        { QStringLiteral("stage_ms"),
            QJsonObject { { QStringLiteral("candidates"), stageMs.candidates },
                { QStringLiteral("enrichment"), stageMs.enrichment }, { QStringLiteral("render"), stageMs.render },
                { QStringLiteral("llm"), stageMs.llm }, { QStringLiteral("parse"), stageMs.parse } } },
        { QStringLiteral("outcome"), outcome } };
    o.insert(QStringLiteral("metrics"), [&] {
        QJsonArray perK;
        for (const auto& values : metrics) {
            QJsonArray a;
            for (const double v : values)
                a.append(v);
            perK.append(a);
        }
        return perK;
    }());
    return o;
}

UserRow UserRow::fromJson(const QJsonObject& o, const Dataset* ds)
{
    UserRow r;
    r.arm = o.value(u"arm").toString();
    r.repeat = o.value(u"repeat").toInt();
    r.userId = o.value(u"user").toString();
    r.user = ds ? ds->userIndex(r.userId) : -1;
    r.cold = o.value(u"cold").toBool();
    r.longTail = o.value(u"long_tail").toBool();
    r.trainCount = o.value(u"train_count").toInt();
    for (const QJsonValue& v : o.value(u"items").toArray())
        r.items << v.toString();
    for (const QJsonValue& perK : o.value(u"metrics").toArray()) {
        std::array<double, eval::kMetricCount> values {};
        const QJsonArray a = perK.toArray();
        for (qsizetype i = 0; i < a.size() && i < eval::kMetricCount; ++i)
            values[static_cast<size_t>(i)] = a[i].toDouble();
        r.metrics.push_back(values);
    }
    r.answeredBy = o.value(u"answered_by").toString();
    r.fallback = o.value(u"fallback").toBool();
    r.routedCf = o.value(u"routed_cf").toBool();
    r.llmCalled = o.value(u"llm_called").toBool();
    for (const QJsonValue& v : o.value(u"defects").toArray())
        r.defects << v.toString();
    r.tokensIn = o.value(u"tokens_in").toInteger();
    r.tokensOut = o.value(u"tokens_out").toInteger();
    if (o.value(u"cost_usd").isDouble())
        r.cost = o.value(u"cost_usd").toDouble();
    r.cacheHit = o.value(u"cache_hit").toBool();
    const QJsonObject s = o.value(u"stage_ms").toObject();
    r.stageMs.candidates = s.value(u"candidates").toDouble();
    r.stageMs.enrichment = s.value(u"enrichment").toDouble();
    r.stageMs.render = s.value(u"render").toDouble();
    r.stageMs.llm = s.value(u"llm").toDouble();
    r.stageMs.parse = s.value(u"parse").toDouble();
    r.outcome = o.value(u"outcome").toObject();
    return r;
}

// ---------------------------------------------------------------- ArmFigures

std::optional<double> ArmFigures::value(const QString& key) const
{
    const auto at = key.indexOf(u'@');
    if (at > 0) {
        bool ok = false;
        const int k = key.mid(at + 1).toInt(&ok);
        const auto it = std::find(ks.begin(), ks.end(), k);
        if (!ok || it == ks.end())
            return std::nullopt;
        const auto j = static_cast<size_t>(it - ks.begin());
        if (key.left(at) == u"coverage")
            return coverage[j];
        for (const eval::Metric m : eval::kAllMetrics)
            if (key.left(at) == eval::metricName(m))
                return mean[j][static_cast<size_t>(m)];
        return std::nullopt;
    }
    if (key == u"cost_usd")
        return costKnown ? std::optional<double>(costUsd) : std::nullopt;
    if (key == u"cost_per_1k_users")
        return costKnown ? std::optional<double>(costPer1kUsers()) : std::nullopt;
    if (key == u"fallback_share")
        return fallbackShare;
    if (key == u"llm_share")
        return llmShare;
    if (key == u"routed_cf_share")
        return routedCfShare;
    if (key == u"tokens_in")
        return static_cast<double>(tokensIn);
    if (key == u"tokens_out")
        return static_cast<double>(tokensOut);
    if (key == u"cache_hits")
        return cacheHits;
    if (key == u"calls")
        return calls;
    if (key == u"kendall_tau")
        return kendallTau;
    if (key == u"users")
        return users;
    const auto total = latencyMs.value(QStringLiteral("total"));
    if (key == u"latency_p50_ms")
        return total.p50;
    if (key == u"latency_p95_ms")
        return total.p95;
    if (key == u"latency_p99_ms")
        return total.p99;
    return std::nullopt;
}

QJsonObject ArmFigures::toJson() const
{
    QJsonObject o { { QStringLiteral("arm"), arm }, { QStringLiteral("cohort"), cohort },
        { QStringLiteral("users"), users }, { QStringLiteral("repeats"), repeats } };
    for (size_t j = 0; j < ks.size(); ++j) {
        for (const eval::Metric m : eval::kAllMetrics)
            o.insert(metricKey(m, ks[j]), mean[j][static_cast<size_t>(m)]);
        o.insert(QStringLiteral("coverage@%1").arg(ks[j]), coverage[j]);
    }
    QJsonObject d;
    for (auto it = defects.begin(); it != defects.end(); ++it)
        d.insert(it.key(), it.value());
    QJsonObject latency;
    for (auto it = latencyMs.begin(); it != latencyMs.end(); ++it)
        latency.insert(it.key(), it.value().toJson());
    o.insert(QStringLiteral("llm_share"), llmShare);
    o.insert(QStringLiteral("fallback_share"), fallbackShare);
    o.insert(QStringLiteral("routed_cf_share"), routedCfShare);
    o.insert(QStringLiteral("defects"), d);
    o.insert(QStringLiteral("tokens_in"), tokensIn);
    o.insert(QStringLiteral("tokens_out"), tokensOut);
    o.insert(QStringLiteral("cost_usd"), costKnown ? QJsonValue(costUsd) : QJsonValue());
    o.insert(QStringLiteral("cost_per_1k_users"), costKnown ? QJsonValue(costPer1kUsers()) : QJsonValue());
    o.insert(QStringLiteral("cache_hits"), cacheHits);
    o.insert(QStringLiteral("calls"), calls);
    o.insert(QStringLiteral("latency_ms"), latency);
    o.insert(QStringLiteral("kendall_tau"), optionalNumber(kendallTau));
    return o;
}

QJsonObject ArmComparison::toJson() const
{
    QJsonObject o = stats.toJson();
    QJsonArray worst;
    for (const auto& [user, diff] : worstUsers)
        worst.append(QJsonObject { { QStringLiteral("user"), user }, { QStringLiteral("diff"), diff } });
    o.insert(QStringLiteral("a"), a);
    o.insert(QStringLiteral("b"), b);
    o.insert(QStringLiteral("cohort"), cohort);
    o.insert(QStringLiteral("worst_users"), worst);
    return o;
}

// ---------------------------------------------------------------- the result

const ArmFigures* ExperimentResult::figuresFor(const QString& arm, const QString& cohort) const
{
    for (const ArmFigures& f : figures)
        if (f.arm == arm && f.cohort == cohort)
            return &f;
    return nullptr;
}

const ArmComparison* ExperimentResult::comparison(const QString& a, const QString& b, const QString& metric) const
{
    for (const ArmComparison& c : comparisons)
        if (c.a == a && c.b == b && c.stats.metric == metric)
            return &c;
    return nullptr;
}

bool ExperimentResult::passed() const
{
    return std::all_of(assertions.begin(), assertions.end(), [](const AssertionResult& a) { return a.passed; });
}

QJsonObject ExperimentResult::toJson(bool withRows) const
{
    QJsonObject arms;
    for (const ExperimentArm& arm : spec.arms) {
        const ArmFigures* f = figuresFor(arm.name);
        QJsonObject o = f ? f->toJson() : QJsonObject {};
        o.insert(QStringLiteral("spec"), arm.toString());
        QJsonObject cohorts;
        for (const ArmFigures& c : figures)
            if (c.arm == arm.name && c.cohort != u"cohort")
                cohorts.insert(c.cohort, c.toJson());
        o.insert(QStringLiteral("cohorts"), cohorts);
        arms.insert(arm.name, o);
    }
    QJsonArray comps;
    for (const ArmComparison& c : comparisons)
        comps.append(c.toJson());
    QJsonArray asserts;
    for (const AssertionResult& a : assertions)
        asserts.append(a.toJson());
    QJsonArray ks;
    for (const int k : spec.ks)
        ks.append(k);
    QJsonObject o { { QStringLiteral("id"), id }, { QStringLiteral("name"), spec.name },
        { QStringLiteral("status"), status }, { QStringLiteral("workspace"), workspace },
        { QStringLiteral("split"), spec.split }, { QStringLiteral("seed"), static_cast<qint64>(spec.seed) },
        { QStringLiteral("cohort"), spec.cohort.toJson() }, { QStringLiteral("k"), ks },
        { QStringLiteral("users"), users.size() }, { QStringLiteral("created"), created.toString(Qt::ISODate) },
        { QStringLiteral("finished"),
            finishedAt.isValid() ? QJsonValue(finishedAt.toString(Qt::ISODate)) : QJsonValue() },
        { QStringLiteral("wall_seconds"), wallSeconds }, { QStringLiteral("spec"), spec.toJson() },
        { QStringLiteral("arms"), arms }, { QStringLiteral("comparisons"), comps },
        { QStringLiteral("assertions"), asserts }, { QStringLiteral("passed"), passed() },
        { QStringLiteral("resumed_rows"), resumedUsers } };
    if (!error.isEmpty())
        o.insert(QStringLiteral("error"), error);
    if (withRows) {
        QJsonArray rowList;
        for (const UserRow& r : rows)
            rowList.append(r.toJson());
        o.insert(QStringLiteral("rows"), rowList);
    }
    return o;
}

void summarize(ExperimentResult& r)
{
    r.figures.clear();
    r.comparisons.clear();
    r.assertions.clear();
    QHash<QString, int> pos;
    for (int i = 0; i < r.users.size(); ++i)
        pos.insert(r.users[i], i);
    for (const ExperimentArm& arm : r.spec.arms) {
        const ByUser by = rowsByUser(r, arm.name, pos);
        for (const QString& cohort :
            { QStringLiteral("cohort"), QStringLiteral("cold"), QStringLiteral("warm"), QStringLiteral("longtail") })
            r.figures.push_back(figuresOf(r, arm, by, cohort));
    }
    if (!r.spec.arms.empty())
        for (size_t i = 1; i < r.spec.arms.size(); ++i)
            for (const int k : r.spec.ks)
                for (const eval::Metric m :
                    { eval::Metric::HR, eval::Metric::Recall, eval::Metric::NDCG, eval::Metric::MRR })
                    r.comparisons.push_back(pairedOn(
                        r, r.spec.arms.front().name, r.spec.arms[i].name, metricKey(m, k), QStringLiteral("cohort")));
    for (const QString& text : r.spec.asserts) {
        try {
            r.assertions.push_back(evaluateAssertion(Assertion::parse(text, &r.spec), r));
        } catch (const Error& e) {
            r.assertions.push_back({ text, false, std::nan(""), e.message() });
        }
    }
}

ArmComparison compareArms(const ExperimentResult& result, const QString& a, const QString& b, const QString& metric)
{
    if (const ArmComparison* c = result.comparison(a, b, metric))
        return *c;
    return pairedOn(result, a, b, metric, QStringLiteral("cohort"));
}

AssertionResult evaluateAssertion(const Assertion& a, const ExperimentResult& result)
{
    AssertionResult out;
    out.text = a.text;
    out.value = std::nan("");
    const auto figure = [&](const QString& metric, const QString& arm) -> std::optional<double> {
        const ArmFigures* f = result.figuresFor(arm);
        return f ? f->value(metric) : std::nullopt;
    };
    if (a.kind == Assertion::Kind::Paired) {
        const ArmComparison c = compareArms(result, a.rightArm, a.arm, a.metric);
        const double v = a.pairedFn == u"ci_low" ? c.stats.ci.low
            : a.pairedFn == u"ci_high"           ? c.stats.ci.high
            : a.pairedFn == u"mean_diff"         ? c.stats.meanDiff
                                                 : c.stats.wilcoxon.pValue;
        out.value = v;
        out.passed = compareOp(v, a.op, a.number);
        out.detail = QStringLiteral("%1(%2, %3 - %4) = %5 %6 %7 (mean diff %8, 95% CI [%9, %10], %11 users)")
                         .arg(a.pairedFn, a.metric, a.arm, a.rightArm, num(v), a.op, num(a.number),
                             num(c.stats.meanDiff), num(c.stats.ci.low))
                         .arg(num(c.stats.ci.high))
                         .arg(c.stats.users);
        return out;
    }
    const auto left = figure(a.metric, a.arm);
    const QString leftText = QStringLiteral("%1(%2)").arg(a.metric, a.arm);
    if (!left) {
        out.detail = QStringLiteral("%1 is unknown (no rows, or a price was unknown)").arg(leftText);
        return out;
    }
    out.value = *left;
    double right = a.number;
    QString rightText = num(a.number);
    if (a.kind == Assertion::Kind::CompareArms) {
        const auto r = figure(a.rightMetric, a.rightArm);
        rightText = QStringLiteral("%1(%2)").arg(a.rightMetric, a.rightArm);
        if (!r) {
            out.detail = QStringLiteral("%1 is unknown (no rows, or a price was unknown)").arg(rightText);
            return out;
        }
        right = *r;
        rightText += QStringLiteral(" = ") + num(right);
    }
    out.passed = compareOp(*left, a.op, right);
    out.detail = QStringLiteral("%1 = %2 %3 %4").arg(leftText, num(*left), a.op, rightText);
    return out;
}

// ---------------------------------------------------------------- projection

QString ExperimentProjection::overCap(std::optional<double> capUsd) const
{
    if (!capUsd || calls == 0)
        return {};
    for (const ArmProjection& a : arms)
        if (a.calls > 0 && !a.usd)
            return QStringLiteral("arm '%1': the price of its endpoint is unknown, so its cost cannot be held under "
                                  "the cap $%2")
                .arg(a.arm)
                .arg(*capUsd, 0, 'f', 2);
    if (usd && *usd > *capUsd)
        return QStringLiteral("projected %1 calls, up to $%2, over the cap $%3")
            .arg(calls)
            .arg(*usd, 0, 'f', 4)
            .arg(*capUsd, 0, 'f', 4);
    return {};
}

QJsonObject ExperimentProjection::toJson() const
{
    QJsonArray list;
    for (const ArmProjection& a : arms)
        list.append(QJsonObject { { QStringLiteral("arm"), a.arm }, { QStringLiteral("users"), a.users },
            { QStringLiteral("calls"), a.calls }, { QStringLiteral("input_tokens"), a.inputTokens },
            { QStringLiteral("output_tokens"), a.outputTokens }, { QStringLiteral("usd"), optionalNumber(a.usd) } });
    return { { QStringLiteral("users"), users }, { QStringLiteral("calls"), calls },
        { QStringLiteral("usd"), optionalNumber(usd) }, { QStringLiteral("arms"), list } };
}

} // namespace recwb::pipeline
