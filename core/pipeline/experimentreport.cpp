#include "pipeline/experimentreport.h"

#include "util/error.h"
#include "util/inerttext.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLocale>
#include <QMap>
#include <QSaveFile>
#include <algorithm>
#include <cmath>

namespace recwb::pipeline {

namespace {

    QString esc(const QString& s)
    {
        return s.toHtmlEscaped();
    }
    QString num(double v, int decimals = 4)
    {
        return QString::number(v, 'f', decimals);
    }
    // Grouped figures (1,280.00) whatever the machine's locale: reports are shared.
    const QLocale& english()
    {
        static const QLocale locale(QLocale::English, QLocale::UnitedStates);
        return locale;
    }
    QString usd(const std::optional<double>& v)
    {
        if (!v)
            return QStringLiteral("unknown");
        return QStringLiteral("$") + english().toString(*v, 'f', *v != 0 && std::abs(*v) < 1 ? 4 : 2);
    }

    size_t kIndexOf(const ExperimentSpec& spec, int k)
    {
        const auto it = std::find(spec.ks.begin(), spec.ks.end(), k);
        if (it == spec.ks.end())
            throw Error(QStringLiteral("the experiment has no K = %1").arg(k));
        return static_cast<size_t>(it - spec.ks.begin());
    }

    // The metric of the charts and the headline: NDCG at the smallest K.
    QString headlineMetric(const ExperimentSpec& spec)
    {
        return QStringLiteral("ndcg@%1").arg(spec.ks.empty() ? 10 : spec.ks.front());
    }

    constexpr int kChartWidth = 640;
    constexpr int kChartHeight = 280;
    constexpr int kLeft = 60;
    constexpr int kRight = 20;
    constexpr int kTop = 30;
    constexpr int kBottom = 60;

    QString svgOpen(const QString& title)
    {
        return QStringLiteral("<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%1\" height=\"%2\" "
                              "viewBox=\"0 0 %1 %2\" role=\"img\"><title>%3</title>\n"
                              "<text x=\"%4\" y=\"18\" class=\"ct\">%3</text>\n")
            .arg(kChartWidth)
            .arg(kChartHeight)
            .arg(esc(title))
            .arg(kLeft);
    }

    QString yAxis(double yMax, const QString& label)
    {
        const double plotH = kChartHeight - kTop - kBottom;
        QString s = QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\" class=\"ax\"/>\n")
                        .arg(kLeft)
                        .arg(kTop)
                        .arg(kChartHeight - kBottom);
        for (int t = 0; t <= 4; ++t) {
            const double v = yMax * t / 4;
            const double y = kChartHeight - kBottom - plotH * t / 4;
            s += QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%3\" y2=\"%2\" class=\"grid\"/>"
                                "<text x=\"%4\" y=\"%5\" class=\"tick\" text-anchor=\"end\">%6</text>\n")
                     .arg(kLeft)
                     .arg(num(y, 1))
                     .arg(kChartWidth - kRight)
                     .arg(kLeft - 4)
                     .arg(num(y + 4, 1))
                     .arg(num(v, 3));
        }
        s += QStringLiteral("<text x=\"14\" y=\"%1\" class=\"tick\" transform=\"rotate(-90 14 %1)\" "
                            "text-anchor=\"middle\">%2</text>\n")
                 .arg(kTop + plotH / 2)
                 .arg(esc(label));
        return s;
    }

    // Bars of the mean with the 95 % interval as whiskers.
    QString intervalChart(const std::vector<ArmInterval>& arms, const QString& metric)
    {
        QString s = svgOpen(QStringLiteral("%1 by arm (mean, 95 % bootstrap interval)").arg(metric));
        double yMax = 0;
        for (const ArmInterval& a : arms)
            yMax = std::max({ yMax, a.mean, a.ci.high });
        yMax = yMax > 0 ? yMax * 1.15 : 1;
        s += yAxis(yMax, metric);
        const double plotW = kChartWidth - kLeft - kRight;
        const double plotH = kChartHeight - kTop - kBottom;
        const double slot = arms.empty() ? plotW : plotW / static_cast<double>(arms.size());
        const auto yOf = [&](double v) { return kChartHeight - kBottom - plotH * v / yMax; };
        for (size_t i = 0; i < arms.size(); ++i) {
            const ArmInterval& a = arms[i];
            const double cx = kLeft + slot * (static_cast<double>(i) + 0.5);
            const double w = std::min(60.0, slot * 0.5);
            s += QStringLiteral("<rect x=\"%1\" y=\"%2\" width=\"%3\" height=\"%4\" class=\"bar\"/>\n")
                     .arg(num(cx - w / 2, 1), num(yOf(a.mean), 1), num(w, 1),
                         num(kChartHeight - kBottom - yOf(a.mean), 1));
            s += QStringLiteral("<path d=\"M%1 %2H%3M%4 %2V%5M%1 %5H%3\" class=\"ci\"/>\n")
                     .arg(num(cx - 8, 1), num(yOf(a.ci.high), 1), num(cx + 8, 1), num(cx, 1), num(yOf(a.ci.low), 1));
            s += QStringLiteral("<text x=\"%1\" y=\"%2\" class=\"tick\" text-anchor=\"middle\">%3</text>\n")
                     .arg(num(cx, 1), num(yOf(a.ci.high) - 4, 1), num(a.mean));
            s += QStringLiteral("<text x=\"%1\" y=\"%2\" class=\"lab\" text-anchor=\"middle\">%3</text>\n")
                     .arg(num(cx, 1))
                     .arg(kChartHeight - kBottom + 18)
                     .arg(esc(a.arm));
        }
        return s + QStringLiteral("</svg></figure>\n");
    }

    // One point per arm: cost per 1,000 users against the metric.
    QString costQualityChart(
        const ExperimentResult& result, const std::vector<ArmInterval>& arms, const QString& metric)
    {
        QString s = svgOpen(QStringLiteral("Cost per 1,000 users against %1").arg(metric));
        double yMax = 0;
        double xMax = 0;
        for (const ArmInterval& a : arms) {
            yMax = std::max(yMax, a.mean);
            if (const ArmFigures* f = result.figuresFor(a.arm))
                xMax = std::max(xMax, f->costPer1kUsers());
        }
        yMax = yMax > 0 ? yMax * 1.15 : 1;
        xMax = xMax > 0 ? xMax * 1.15 : 1;
        s += yAxis(yMax, metric);
        const double plotW = kChartWidth - kLeft - kRight;
        const double plotH = kChartHeight - kTop - kBottom;
        s += QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%3\" y2=\"%2\" class=\"ax\"/>\n")
                 .arg(kLeft)
                 .arg(kChartHeight - kBottom)
                 .arg(kChartWidth - kRight);
        for (int t = 0; t <= 4; ++t)
            s += QStringLiteral("<text x=\"%1\" y=\"%2\" class=\"tick\" text-anchor=\"middle\">$%3</text>\n")
                     .arg(num(kLeft + plotW * t / 4, 1))
                     .arg(kChartHeight - kBottom + 16)
                     .arg(num(xMax * t / 4, 3));
        s += QStringLiteral("<text x=\"%1\" y=\"%2\" class=\"tick\" text-anchor=\"middle\">cost per 1,000 users "
                            "(USD)</text>\n")
                 .arg(num(kLeft + plotW / 2, 1))
                 .arg(kChartHeight - kBottom + 36);
        for (const ArmInterval& a : arms) {
            const ArmFigures* f = result.figuresFor(a.arm);
            const double x = kLeft + plotW * (f ? f->costPer1kUsers() : 0) / xMax;
            const double y = kChartHeight - kBottom - plotH * a.mean / yMax;
            s += QStringLiteral("<circle cx=\"%1\" cy=\"%2\" r=\"5\" class=\"pt\"/><text x=\"%3\" y=\"%4\" "
                                "class=\"lab\">%5</text>\n")
                     .arg(num(x, 1), num(y, 1), num(x + 8, 1), num(y - 6, 1), esc(a.arm));
        }
        return s + QStringLiteral("</svg></figure>\n");
    }

    QString figuresTable(const ExperimentResult& result)
    {
        const ExperimentSpec& spec = result.spec;
        QString h = QStringLiteral("<table>\n<tr><th>Arm</th><th>Cohort</th><th>Users</th>");
        for (const int k : spec.ks)
            h += QStringLiteral("<th>HR@%1</th><th>Recall@%1</th><th>NDCG@%1</th><th>MRR@%1</th><th>Coverage@%1</th>")
                     .arg(k);
        h += QStringLiteral("<th>ILD@%1</th><th>Novelty@%1</th><th>LLM</th><th>Fallback</th><th>Routed CF</th>"
                            "<th>Tokens in / out</th><th>Cost</th><th>Per 1K users</th><th>Cache hits</th>"
                            "<th>Total ms p50 / p95 / p99</th></tr>\n")
                 .arg(spec.maxK());
        const size_t last = spec.ks.empty() ? 0 : spec.ks.size() - 1;
        for (const ArmFigures& f : result.figures) {
            h += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td>").arg(esc(f.arm), esc(f.cohort)).arg(f.users);
            for (size_t k = 0; k < f.mean.size(); ++k) {
                for (const eval::Metric m :
                    { eval::Metric::HR, eval::Metric::Recall, eval::Metric::NDCG, eval::Metric::MRR })
                    h += QStringLiteral("<td>%1</td>").arg(num(f.mean[k][static_cast<size_t>(m)]));
                h += QStringLiteral("<td>%1</td>").arg(k < f.coverage.size() ? num(f.coverage[k]) : QString());
            }
            const auto at = [&](eval::Metric m) {
                return last < f.mean.size() ? num(f.mean[last][static_cast<size_t>(m)]) : QString();
            };
            const Percentiles total = f.latencyMs.value(QStringLiteral("total"));
            h += QStringLiteral("<td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td><td>%6 / %7</td><td>%8</td>"
                                "<td>%9</td>")
                     .arg(at(eval::Metric::ILD), at(eval::Metric::Novelty), num(f.llmShare, 3), num(f.fallbackShare, 3),
                         num(f.routedCfShare, 3))
                     .arg(f.tokensIn)
                     .arg(f.tokensOut)
                     .arg(usd(f.costKnown ? std::optional<double>(f.costUsd) : std::nullopt),
                         usd(f.costKnown ? std::optional<double>(f.costPer1kUsers()) : std::nullopt));
            h += QStringLiteral("<td>%1</td><td>%2 / %3 / %4</td></tr>\n")
                     .arg(f.cacheHits)
                     .arg(num(total.p50, 1), num(total.p95, 1), num(total.p99, 1));
        }
        return h + QStringLiteral("</table>\n");
    }

    QString comparisonsTable(const ExperimentResult& result)
    {
        if (result.comparisons.empty())
            return QStringLiteral("<p>One arm: nothing to compare.</p>\n");
        QString h = QStringLiteral("<table>\n<tr><th>B against A</th><th>Metric</th><th>Users</th><th>Mean A</th>"
                                   "<th>Mean B</th><th>B &minus; A</th><th>95 % interval</th><th>Wilcoxon p</th>"
                                   "<th>Verdict</th><th>Where B hurts most (user: B &minus; A)</th></tr>\n");
        for (const ArmComparison& c : result.comparisons) {
            const eval::PairedComparison& s = c.stats;
            QStringList worst;
            for (const auto& [user, diff] : c.worstUsers)
                if (diff < 0)
                    worst << QStringLiteral("%1: %2").arg(esc(user), num(diff));
            const QString cls = s.verdict == eval::PairedComparison::Verdict::BBeatsA ? QStringLiteral("win")
                : s.verdict == eval::PairedComparison::Verdict::ABeatsB               ? QStringLiteral("loss")
                                                                                      : QString();
            h += QStringLiteral("<tr class=\"%1\"><td>%2 vs %3</td><td>%4</td><td>%5</td><td>%6</td><td>%7</td>"
                                "<td>%8</td><td>[%9, ")
                     .arg(cls, esc(c.b), esc(c.a), esc(s.metric))
                     .arg(s.users)
                     .arg(num(s.meanA), num(s.meanB), num(s.meanDiff), num(s.ci.low));
            h += QStringLiteral("%1]</td><td>%2</td><td>%3</td><td>%4</td></tr>\n")
                     .arg(num(s.ci.high), QString::number(s.wilcoxon.pValue, 'g', 3), esc(s.verdictText()),
                         worst.join(QStringLiteral(", ")));
        }
        return h + QStringLiteral("</table>\n");
    }

    QString latencyTable(const ExperimentResult& result)
    {
        QString h
            = QStringLiteral("<table>\n<tr><th>Arm</th><th>Stage</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
                             "<th>Max ms</th></tr>\n");
        for (const ArmFigures& f : result.figures) {
            if (f.cohort != u"cohort")
                continue;
            for (auto it = f.latencyMs.cbegin(); it != f.latencyMs.cend(); ++it)
                h += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td><td>%6</td></tr>\n")
                         .arg(esc(f.arm), esc(it.key()), num(it->p50, 2), num(it->p95, 2), num(it->p99, 2),
                             num(it->max, 2));
        }
        return h + QStringLiteral("</table>\n");
    }

    QString projectionTable(const CostProjection& p)
    {
        const ProjectionAssumptions& a = p.assumptions;
        QString h = QStringLiteral("<p class=\"fig\">Assumptions: response cache hit rate %1 %, prompt caching %2, "
                                   "batch discount %3 %, routing share %4 %, %5 days a month.</p>\n")
                        .arg(num(a.cacheHitRate * 100, 1),
                            a.promptCachingShare ? num(*a.promptCachingShare * 100, 1) + QStringLiteral(" % of input")
                                                 : QStringLiteral("as measured"),
                            num(a.batchDiscount * 100, 1), num(a.routingShare * 100, 1))
                        .arg(a.daysPerMonth);
        h += QStringLiteral("<table>\n<tr><th>Users a day</th><th>Scenario</th><th>LLM share</th><th>Calls a day</th>"
                            "<th>Per call</th><th>Per day</th><th>Per month</th></tr>\n");
        for (const ProjectionRow& r : p.rows)
            h += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3 %</td><td>%4</td><td>%5</td><td>%6</td><td>%7</td>"
                                "</tr>\n")
                     .arg(english().toString(r.usersPerDay), esc(scenarioName(r.scenario)), num(r.llmShare * 100, 1),
                         english().toString(static_cast<qlonglong>(std::llround(r.callsPerDay))),
                         r.usdPerCall ? QStringLiteral("$") + QString::number(*r.usdPerCall, 'f', 6)
                                      : QStringLiteral("unknown"),
                         usd(r.usdPerDay), usd(r.usdPerMonth));
        return h + QStringLiteral("</table>\n");
    }

    // Always quoted; inert, and a formula-like start defused (util/inerttext.h).
    QString csvText(const QString& s) { return csvTextField(s, true); }

} // namespace

std::vector<ArmInterval> armIntervals(const ExperimentResult& result, const QString& metric)
{
    const auto [m, k] = eval::parseMetricAtK(metric);
    const size_t ki = kIndexOf(result.spec, k);
    std::vector<ArmInterval> out;
    for (const ExperimentArm& arm : result.spec.arms) {
        // Repeats averaged per user first, then the users in the cohort's order.
        QMap<QString, std::pair<double, int>> perUser;
        for (const UserRow& r : result.rows) {
            if (r.arm != arm.name || ki >= r.metrics.size())
                continue;
            auto& [sum, n] = perUser[r.userId];
            sum += r.metric(m, ki);
            ++n;
        }
        std::vector<double> values;
        values.reserve(static_cast<size_t>(perUser.size()));
        for (const auto& [sum, n] : perUser)
            values.push_back(sum / n);
        ArmInterval a;
        a.arm = arm.name;
        a.users = static_cast<int>(values.size());
        if (!values.empty()) {
            double total = 0;
            for (const double v : values)
                total += v;
            a.mean = total / static_cast<double>(values.size());
            a.ci = eval::bootstrapMeanCi(values);
        }
        out.push_back(a);
    }
    return out;
}

std::optional<ProjectionInput> projectionInputFor(
    const ExperimentResult& result, const QHash<QString, rerank::Prices>& armPrices)
{
    const ArmFigures* hybrid = nullptr;
    const ArmFigures* llmOnly = nullptr;
    for (const ExperimentArm& arm : result.spec.arms) {
        const ArmFigures* f = result.figuresFor(arm.name);
        if (!f || f->calls == 0)
            continue;
        const bool popular = arm.spec.cf == u"pop";
        if (popular && !llmOnly)
            llmOnly = f;
        else if (!popular && !hybrid)
            hybrid = f;
    }
    if (!hybrid || !armPrices.contains(hybrid->arm))
        return std::nullopt;
    const auto perCall = [](const ArmFigures& f) {
        rerank::Usage u;
        u.inputTokens = f.tokensIn;
        u.outputTokens = f.tokensOut;
        return TokensPerCall::fromTotals(u, f.calls);
    };
    ProjectionInput in;
    in.hybrid = perCall(*hybrid);
    in.prices = armPrices.value(hybrid->arm);
    in.assumptions.routingShare = std::clamp(1.0 - hybrid->routedCfShare, 0.0, 1.0);
    if (llmOnly)
        in.llmOnly = perCall(*llmOnly);
    return in;
}

QString experimentReportHtml(const ExperimentResult& result, const std::optional<CostProjection>& projection)
{
    const ExperimentSpec& spec = result.spec;
    const QString title = spec.name.isEmpty() ? QStringLiteral("Experiment %1").arg(result.id) : spec.name;
    QString h = QStringLiteral(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>%1</title>\n<style>\n"
        "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\n"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}\nth,td{border:1px solid #ccc;padding:.3em .5em;"
        "text-align:right}\nth{background:#f3f3f3}\ntd:first-child,td:nth-child(2){text-align:left}\n"
        "tr.win td{background:#e6f4ea}\ntr.loss td{background:#fdecea}\n.fig{color:#444;font-size:.92em}\n"
        ".fail{color:#b42318;font-weight:bold}\n.pass{color:#1a7f37;font-weight:bold}\n"
        "svg{font-family:system-ui,sans-serif}\n.ct{font-size:14px;font-weight:bold}\n.tick{font-size:11px;fill:#444}\n"
        ".lab{font-size:12px}\n.ax{stroke:#444}\n.grid{stroke:#e3e3e3}\n.bar{fill:#5b8def}\n"
        ".ci{stroke:#222;stroke-width:1.5;fill:none}\n.pt{fill:#e8710a}\nfigure{margin:0 0 1.5em}\n"
        "</style></head><body>\n")
                    .arg(esc(title));
    h += QStringLiteral("<h1>%1</h1>\n<p class=\"fig\">Experiment %2 · %3 · split <b>%4</b> (seed %5) · cohort "
                        "<b>%6</b>, %7 users · K %8 · created %9")
             .arg(esc(title))
             .arg(result.id)
             .arg(esc(result.status), esc(spec.split))
             .arg(spec.seed)
             .arg(esc(spec.cohort.name()))
             .arg(result.users.size())
             .arg([&] {
                 QStringList ks;
                 for (const int k : spec.ks)
                     ks << QString::number(k);
                 return ks.join(QStringLiteral(", "));
             }())
             .arg(esc(result.created.toUTC().toString(Qt::ISODate)));
    if (result.finishedAt.isValid())
        h += QStringLiteral(" · finished %1").arg(esc(result.finishedAt.toUTC().toString(Qt::ISODate)));
    h += QStringLiteral(" · %1 s</p>\n").arg(num(result.wallSeconds, 1));
    if (!result.error.isEmpty())
        h += QStringLiteral("<p class=\"fail\">%1</p>\n").arg(esc(result.error));

    h += QStringLiteral("<h2>Arms</h2>\n<table>\n<tr><th>Arm</th><th>Spec</th></tr>\n");
    for (const ExperimentArm& arm : spec.arms)
        h += QStringLiteral("<tr><td>%1</td><td>%2</td></tr>\n").arg(esc(arm.name), esc(arm.toString()));
    h += QStringLiteral("</table>\n");

    if (!result.assertions.empty()) {
        h += QStringLiteral(
            "<h2>Assertions</h2>\n<table>\n<tr><th>Assertion</th><th>Result</th><th>Detail</th></tr>\n");
        for (const AssertionResult& a : result.assertions)
            h += QStringLiteral("<tr><td>%1</td><td class=\"%2\">%3</td><td>%4</td></tr>\n")
                     .arg(esc(a.text), a.passed ? QStringLiteral("pass") : QStringLiteral("fail"),
                         a.passed ? QStringLiteral("passed") : QStringLiteral("FAILED"), esc(a.detail));
        h += QStringLiteral("</table>\n");
    }

    const QString metric = headlineMetric(spec);
    const std::vector<ArmInterval> intervals = armIntervals(result, metric);
    h += QStringLiteral("<h2>Charts</h2>\n") + intervalChart(intervals, metric)
        + costQualityChart(result, intervals, metric);
    h += QStringLiteral("<h2>Results per arm and cohort</h2>\n") + figuresTable(result);
    h += QStringLiteral("<h2>Paired comparisons</h2>\n<p class=\"fig\">Mean of B &minus; A over the same users, 95 % "
                        "bootstrap interval, Wilcoxon signed-rank p; &ldquo;B beats A&rdquo; only when the interval "
                        "excludes 0.</p>\n")
        + comparisonsTable(result);
    h += QStringLiteral("<h2>Latency per stage</h2>\n") + latencyTable(result);
    h += QStringLiteral("<h2>Cost at scale</h2>\n");
    h += projection ? projectionTable(*projection)
                    : QStringLiteral("<p>No arm called a priced LLM: nothing measured to project.</p>\n");
    return h + QStringLiteral("</body></html>\n");
}

QByteArray experimentReportCsv(const ExperimentResult& result)
{
    QString text = QStringLiteral("experiment,arm,cohort,metric,value,users\r\n");
    for (const ArmFigures& f : result.figures) {
        const QJsonObject o = f.toJson();
        const QString prefix = QStringLiteral("%1,%2,%3,").arg(result.id).arg(csvText(f.arm), csvText(f.cohort));
        auto add = [&](const QString& key, double v) {
            text += prefix + csvText(key) + u',' + QString::number(v, 'g', 10) + u',' + QString::number(f.users)
                + QStringLiteral("\r\n");
        };
        for (auto it = o.begin(); it != o.end(); ++it) {
            if (it.key() == u"users" || it.key() == u"repeats")
                continue;
            if (it->isDouble()) {
                add(it.key(), it->toDouble());
            } else if (it.key() == u"latency_ms") {
                const QJsonObject stages = it->toObject();
                for (auto s = stages.begin(); s != stages.end(); ++s)
                    for (const char* q : { "p50", "p95", "p99" })
                        add(QStringLiteral("latency_%1_%2_ms").arg(s.key(), QLatin1StringView(q)),
                            s->toObject().value(QLatin1StringView(q)).toDouble());
            } else if (it.key() == u"defects") {
                const QJsonObject defects = it->toObject();
                for (auto d = defects.begin(); d != defects.end(); ++d)
                    add(QStringLiteral("defects_%1").arg(d.key()), d->toDouble());
            }
        }
    }
    return text.toUtf8();
}

QByteArray experimentReportJson(
    const ExperimentResult& result, const std::optional<CostProjection>& projection, bool withRows)
{
    QJsonObject o = result.toJson(withRows);
    QJsonArray intervals;
    for (const int k : result.spec.ks)
        for (const char* m : { "hr", "recall", "ndcg", "mrr" }) {
            const QString metric = QStringLiteral("%1@%2").arg(QLatin1StringView(m)).arg(k);
            for (const ArmInterval& a : armIntervals(result, metric))
                intervals.append(QJsonObject { { QStringLiteral("arm"), a.arm }, { QStringLiteral("metric"), metric },
                    { QStringLiteral("users"), a.users }, { QStringLiteral("mean"), a.mean },
                    { QStringLiteral("ci_low"), a.ci.low }, { QStringLiteral("ci_high"), a.ci.high } });
        }
    o.insert(QStringLiteral("intervals"), intervals);
    if (projection)
        o.insert(QStringLiteral("projection"), projection->toJson());
    return QJsonDocument(o).toJson(QJsonDocument::Indented);
}

void writeExperimentReport(const ExperimentResult& result, const QString& fileName,
    const std::optional<CostProjection>& projection, bool withRows)
{
    const QString suffix = QFileInfo(fileName).suffix().toLower();
    QByteArray bytes;
    if (suffix == u"html" || suffix == u"htm")
        bytes = experimentReportHtml(result, projection).toUtf8();
    else if (suffix == u"csv")
        bytes = experimentReportCsv(result);
    else if (suffix == u"json")
        bytes = experimentReportJson(result, projection, withRows);
    else
        throw Error(QStringLiteral("%1: unknown report format '.%2' (use .html, .csv or .json)").arg(fileName, suffix));
    QSaveFile f(fileName);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size() || !f.commit())
        throw Error(QStringLiteral("%1: cannot write the report: %2").arg(fileName, f.errorString()));
}

} // namespace recwb::pipeline
