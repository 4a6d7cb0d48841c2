#include "cli.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/workspace.h"
#include "eval/evaluator.h"
#include "eval/split.h"
#include "eval/stats.h"
#include "util/error.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QThread>

namespace recwb::cli {
namespace {

const QString kSplit = QStringLiteral("split");
const QString kModels = QStringLiteral("models");
const QString kK = QStringLiteral("k");
const QString kSeed = QStringLiteral("seed");
const QString kParam = QStringLiteral("param");
const QString kCompare = QStringLiteral("compare");
const QString kMetric = QStringLiteral("metric");
const QString kThreads = QStringLiteral("threads");

QStringList splitList(const QString& text)
{
    QStringList parts;
    for (const QString& p : text.split(u',', Qt::SkipEmptyParts))
        if (!p.trimmed().isEmpty())
            parts << p.trimmed();
    return parts;
}

// "ease.lambda=200" -> params["ease"]["lambda"] = 200 (number, true/false, else string).
QHash<QString, QJsonObject> parseParams(const QStringList& args, const QStringList& models)
{
    QHash<QString, QJsonObject> params;
    for (const QString& a : args) {
        const auto eq = a.indexOf(u'=');
        const auto dot = a.indexOf(u'.');
        if (eq < 0 || dot <= 0 || dot > eq - 2)
            throw Error(QStringLiteral("--param '%1' must look like model.key=value (e.g. ease.lambda=200)").arg(a));
        const QString model = a.left(dot).trimmed().toLower();
        const QString key = a.mid(dot + 1, eq - dot - 1).trimmed();
        const QString text = a.mid(eq + 1).trimmed();
        if (!models.contains(model))
            throw Error(QStringLiteral("--param '%1' is for model '%2', which is not in --models (%3)")
                            .arg(a, model, models.join(u',')));
        params[model].insert(key, jsonValueFromText(text));
    }
    return params;
}

std::vector<int> parseKs(const QString& text)
{
    std::vector<int> ks;
    for (const QString& p : splitList(text)) {
        bool ok = false;
        const int k = p.toInt(&ok);
        if (!ok || k <= 0)
            throw Error(QStringLiteral("--k '%1': every K must be a whole number > 0 (e.g. --k 10,20)").arg(text));
        ks.push_back(k);
    }
    if (ks.empty())
        throw Error(QStringLiteral("--k needs at least one value (e.g. --k 10,20)"));
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    return ks;
}

QString fmt(double v, int decimals = 4)
{
    return QString::number(v, 'f', decimals);
}

QString joinKs(const std::vector<int>& ks)
{
    QStringList s;
    for (const int k : ks)
        s << QString::number(k);
    return s.join(QStringLiteral(", "));
}

const Registrar evalCommand { Command {
    QStringLiteral("eval"),
    QStringLiteral("Offline evaluation of CF models on a split (docs/EVALUATION.md), with paired comparison."),
    [](QCommandLineParser& p) {
        p.addOption({ { QStringLiteral("w"), kWorkspace }, QStringLiteral("Workspace file (*.recwb)."), QStringLiteral("file") });
        p.addOption({ kSplit, QStringLiteral("Protocol: loo, ratio, strat75 or cold@N (N = 0, 1, 3, 5, ...). Default loo."),
            QStringLiteral("name"), QStringLiteral("loo") });
        p.addOption({ kModels,
            QStringLiteral("Comma-separated models: %1, and coldstart (the cold-start blend; its parameters: "
                           "coldstart.cf_model=ease|none, coldstart.cf=1, coldstart.content=0.3, coldstart.cf.lambda=..., ...).")
                .arg(cf::recommenderNames().join(u',')),
            QStringLiteral("list") });
        p.addOption({ kK, QStringLiteral("Comma-separated cut-offs K (default 10)."), QStringLiteral("list"),
            QStringLiteral("10") });
        p.addOption({ kSeed,
            QStringLiteral("Seed of the strat75 split (default %1); printed with its figures.").arg(eval::kDefaultSeed),
            QStringLiteral("S"), QString::number(eval::kDefaultSeed) });
        p.addOption({ kParam, QStringLiteral("A model parameter, model.key=value (repeatable), e.g. ease.lambda=200."),
            QStringLiteral("model.key=value") });
        p.addOption({ kJson,
            QStringLiteral("JSON Lines: one object per model (split, seed, k, users_evaluated, every metric@K, "
                           "fit_seconds, eval_seconds, cohorts, workspace), then with --compare one "
                           "{\"comparison\": {...}} line.") });
        p.addOption({ kCompare, QStringLiteral("Paired comparison of two listed models, A,B (is B better than A?)."),
            QStringLiteral("A,B") });
        p.addOption({ kMetric, QStringLiteral("Metric for --compare, e.g. ndcg@10 (default ndcg@<first K>)."),
            QStringLiteral("metric@K") });
        p.addOption({ kThreads, QStringLiteral("Worker threads (default: all cores)."), QStringLiteral("n"),
            QString::number(QThread::idealThreadCount()) });
    },
    [](QCommandLineParser& p) {
        // Everything is validated before the workspace is loaded.
        const QString wsPath = requireOption(p, kWorkspace);
        const auto spec = eval::SplitSpec::parse(p.value(kSplit));
        bool seedOk = false;
        const quint64 seed = p.value(kSeed).toULongLong(&seedOk);
        if (!seedOk)
            throw Error(QStringLiteral("--seed '%1' must be a whole number >= 0").arg(p.value(kSeed)));
        const std::vector<int> ks = parseKs(p.value(kK));
        QStringList models;
        for (const QString& m : splitList(requireOption(p, kModels)))
            if (!models.contains(m.toLower()))
                models << m.toLower();
        const auto params = parseParams(p.values(kParam), models);
        for (const QString& m : models) {
            // An unknown model or parameter throws now, before the workspace is loaded.
            if (m == eval::kColdStartModel) {
                QJsonObject own, cfParams; // "cf.<key>" goes to the cold-start path's CF model
                const QJsonObject all = params.value(m);
                for (auto it = all.begin(); it != all.end(); ++it) {
                    if (it.key().startsWith(u"cf."))
                        cfParams.insert(it.key().mid(3), it.value());
                    else
                        own.insert(it.key(), it.value());
                }
                const auto config = coldstart::ColdStartConfig::fromJson(own);
                if (config.cfModel != u"none")
                    cf::makeRecommender(config.cfModel, cfParams);
            } else
                cf::makeRecommender(m, params.value(m));
        }
        const int threads = std::max(1, p.value(kThreads).toInt());

        QStringList compare;
        std::pair<eval::Metric, int> metric { eval::Metric::NDCG, ks.front() };
        if (p.isSet(kCompare)) {
            compare = splitList(p.value(kCompare).toLower());
            if (compare.size() != 2 || compare[0] == compare[1])
                throw Error(QStringLiteral("--compare needs two different models, A,B (got '%1')").arg(p.value(kCompare)));
            for (const QString& c : compare)
                if (!models.contains(c))
                    throw Error(QStringLiteral("--compare: '%1' is not in --models (%2)").arg(c, models.join(u',')));
            if (p.isSet(kMetric))
                metric = eval::parseMetricAtK(p.value(kMetric));
            if (std::find(ks.begin(), ks.end(), metric.second) == ks.end())
                throw Error(QStringLiteral("--metric %1@%2: K = %2 is not in --k (%3)")
                                .arg(eval::metricName(metric.first))
                                .arg(metric.second)
                                .arg(joinKs(ks)));
        }

        const TaskControl control { progressPrinter(), {} };
        const auto ws = Workspace::open(wsPath);
        const Dataset ds = ws->load(control);
        const QString wsPathAbs = QFileInfo(ws->path()).absoluteFilePath();
        const eval::Split split = eval::makeSplit(ds, spec, seed);

        std::vector<eval::EvalResult> results;
        for (const QString& m : models) {
            results.push_back(eval::runEvaluation(m, params.value(m), split, ds, ks, control, threads));
            results.back().model = m;
        }

        const bool json = p.isSet(kJson);
        if (json) {
            for (const auto& r : results) {
                QJsonObject o = r.toJson();
                o.insert(QStringLiteral("workspace"), wsPathAbs);
                out(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)));
            }
        } else {
            const int usersEvaluated = results.empty() ? 0 : results.front().usersEvaluated;
            QString text = QStringLiteral("Protocol  %1%2: %3\n"
                                          "Dataset   %4 (%5 users, %6 items, %7 interactions)\n"
                                          "K         %8\n"
                                          "Users     %9 evaluated (every metric is the mean over them; coverage "
                                          "per run)\n")
                               .arg(spec.name(),
                                   spec.usesSeed() ? QStringLiteral(" (seed %1)").arg(split.seed) : QString(),
                                   spec.description(), wsPathAbs)
                               .arg(ds.numUsers())
                               .arg(ds.numItems())
                               .arg(ds.numInteractions())
                               .arg(joinKs(ks))
                               .arg(usersEvaluated);
            int width = 8;
            for (const QString& m : models)
                width = std::max(width, static_cast<int>(m.size()) + 2);
            for (const int k : ks) {
                text += QStringLiteral("\n%1").arg(QStringLiteral("model").leftJustified(width));
                for (const char* h : { "HR", "Recall", "NDCG", "MRR", "Coverage", "ILD", "Novelty" })
                    text += QStringLiteral("%1").arg(QStringLiteral("%1@%2").arg(QLatin1StringView(h)).arg(k), -12);
                text += QStringLiteral("%1%2\n").arg(QStringLiteral("fit s"), -10).arg(QStringLiteral("eval s"));
                for (const auto& r : results) {
                    const auto& a = r.at(k);
                    text += r.model.leftJustified(width);
                    for (const eval::Metric m : { eval::Metric::HR, eval::Metric::Recall, eval::Metric::NDCG, eval::Metric::MRR })
                        text += fmt(a.value(m)).leftJustified(12);
                    text += fmt(a.coverage).leftJustified(12);
                    text += fmt(a.value(eval::Metric::ILD)).leftJustified(12);
                    text += fmt(a.value(eval::Metric::Novelty), 3).leftJustified(12);
                    text += fmt(r.fitSeconds, 2).leftJustified(10) + fmt(r.evalSeconds, 2) + u'\n';
                }
            }
            // Cohorts by train history, on the first K's NDCG: value (users); empty ones left out.
            if (!results.empty()) {
                const int k = ks.front();
                QStringList header { QStringLiteral("model").leftJustified(width) };
                std::vector<size_t> shown;
                for (size_t c = 0; c < results.front().cohorts.size(); ++c) {
                    if (results.front().cohorts[c].users == 0)
                        continue;
                    shown.push_back(c);
                    const auto& co = results.front().cohorts[c];
                    header << QStringLiteral("%1 (%2)").arg(co.name).arg(co.users).leftJustified(20);
                }
                text += QStringLiteral("\nNDCG@%1 by train history (cold: fewer than %2 train interactions; users in "
                                       "brackets)\n%3\n")
                            .arg(k)
                            .arg(kDefaultColdThreshold)
                            .arg(header.join(QString()));
                for (const auto& r : results) {
                    text += r.model.leftJustified(width);
                    for (const size_t c : shown)
                        text += fmt(r.cohorts[c].mean[0][static_cast<size_t>(eval::Metric::NDCG)]).leftJustified(20);
                    text += u'\n';
                }
            }
            out(text);
        }

        if (!compare.isEmpty()) {
            const auto find = [&](const QString& name) -> const eval::EvalResult& {
                return *std::find_if(results.begin(), results.end(), [&](const auto& r) { return r.model == name; });
            };
            const auto& a = find(compare[0]);
            const auto& b = find(compare[1]);
            const QString metricText = QStringLiteral("%1@%2").arg(eval::metricName(metric.first)).arg(metric.second);
            const auto c = eval::comparePaired(a.perUser(metric.first, metric.second),
                b.perUser(metric.first, metric.second), a.model, b.model, metricText, eval::kBootstrapResamples,
                eval::kBootstrapSeed, 0.95, threads);
            if (json) {
                QJsonObject o = c.toJson();
                o.insert(QStringLiteral("split"), split.name);
                o.insert(QStringLiteral("workspace"), wsPathAbs);
                out(QString::fromUtf8(
                    QJsonDocument(QJsonObject { { QStringLiteral("comparison"), o } }).toJson(QJsonDocument::Compact)));
            } else {
                out(QStringLiteral("\nPaired comparison on %1, %2 users of %3 (B = %4 against A = %5)\n"
                                   "  mean %5 %6, mean %4 %7, difference (B - A) %8\n"
                                   "  95% CI [%9, %10] (paired bootstrap, %11 resamples, seed %12)\n"
                                   "  Wilcoxon signed-rank p = %13 (%14, %15 non-zero differences, zeros dropped)\n"
                                   "  Verdict: %16")
                        .arg(metricText)
                        .arg(c.users)
                        .arg(split.name, b.model, a.model, fmt(c.meanA), fmt(c.meanB),
                            (c.meanDiff >= 0 ? QStringLiteral("+") : QString()) + fmt(c.meanDiff))
                        .arg(fmt(c.ci.low), fmt(c.ci.high))
                        .arg(c.resamples)
                        .arg(c.seed)
                        .arg(QString::number(c.wilcoxon.pValue, 'g', 4),
                            c.wilcoxon.exact ? QStringLiteral("exact") : QStringLiteral("normal approximation"))
                        .arg(c.wilcoxon.n)
                        .arg(c.verdictText()));
            }
        }
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
