#include "cli.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/workspace.h"
#include "eval/evaluator.h"
#include "eval/rerankeval.h"
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
const QString kRerank = QStringLiteral("rerank");
const QString kCandidates = QStringLiteral("candidates");
const QString kSource = QStringLiteral("source");
const QString kOffline = QStringLiteral("offline");
const QString kOfflineCold = QStringLiteral("offline_cold");

pipeline::CandidateSource parseSource(const QString& text)
{
    const QString t = text.trimmed().toLower();
    if (t == u"auto")
        return pipeline::CandidateSource::Auto;
    if (t == u"cf")
        return pipeline::CandidateSource::Cf;
    if (t == u"coldstart")
        return pipeline::CandidateSource::ColdStart;
    throw Error(QStringLiteral("--source '%1': expected auto, cf or coldstart").arg(text));
}

QString sourceName(pipeline::CandidateSource s)
{
    switch (s) {
    case pipeline::CandidateSource::Cf:
        return QStringLiteral("cf");
    case pipeline::CandidateSource::ColdStart:
        return QStringLiteral("coldstart");
    case pipeline::CandidateSource::Auto:
        break;
    }
    return QStringLiteral("auto");
}

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
        p.addOption({ kRerank,
            QStringLiteral("Score the rerank path: none (each model's candidates in their source order) or offline "
                           "(also the same candidates through the offline reranker, with the user's train history, "
                           "compared with the source on all, cold and warm users). Settings for CF candidates: --param "
                           "offline.lambda=..., offline.cf_weight=..., offline.history=...; for candidates from the "
                           "cold-start blend: offline_cold.lambda=..., ..."),
            QStringLiteral("none|offline") });
        p.addOption({ kCandidates, QStringLiteral("With --rerank: candidates per user (default 50)."), QStringLiteral("n"),
            QStringLiteral("50") });
        p.addOption({ kSource,
            QStringLiteral("With --rerank: where candidates come from: auto (the pipeline's rule: the cold-start blend on "
                           "the model for users with fewer than %1 train interactions, the model for the others), cf, "
                           "coldstart. Default auto.")
                .arg(kDefaultColdThreshold),
            QStringLiteral("name"), QStringLiteral("auto") });
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
        // --rerank: every model is scored through the rerank path (eval/rerankeval.h).
        const QString rerankName = p.isSet(kRerank) ? p.value(kRerank).trimmed().toLower() : QString();
        const bool rerankPath = !rerankName.isEmpty();
        const bool offline = rerankName == kOffline;
        if (rerankPath && rerankName != u"none" && !offline)
            throw Error(QStringLiteral("--rerank '%1': expected none or offline").arg(p.value(kRerank)));
        eval::RerankEvalOptions rerankOptions;
        if (rerankPath) {
            if (models.contains(eval::kColdStartModel))
                throw Error(QStringLiteral("--rerank: use --source coldstart instead of the model coldstart"));
            if (p.isSet(kCompare))
                throw Error(QStringLiteral("--rerank compares each model with its reranked list; --compare does not apply"));
            rerankOptions.source = parseSource(p.value(kSource));
            bool ok = false;
            rerankOptions.candidates = p.value(kCandidates).toInt(&ok);
            if (!ok || rerankOptions.candidates < 1 || rerankOptions.candidates > 1000)
                throw Error(QStringLiteral("--candidates '%1' must be a whole number from 1 to 1000").arg(p.value(kCandidates)));
        } else {
            for (const QString& o : { kSource, kCandidates })
                if (p.isSet(o))
                    throw Error(QStringLiteral("--%1 only applies with --rerank").arg(o));
        }
        const auto params
            = parseParams(p.values(kParam), offline ? models + QStringList { kOffline, kOfflineCold } : models);
        // The settings in full (defaults included), so the output says what was run.
        const QJsonObject offlineSettings { { QStringLiteral("cf_candidates"),
                                                rerank::offlineOptionsToJson(rerank::offlineOptionsFromJson(
                                                    params.value(kOffline), rerank::offlineDefaults(false))) },
            { QStringLiteral("coldstart_candidates"),
                rerank::offlineOptionsToJson(
                    rerank::offlineOptionsFromJson(params.value(kOfflineCold), rerank::offlineDefaults(true))) } };
        if (offline) {
            rerankOptions.offline = params.value(kOffline);
            rerankOptions.offlineCold = params.value(kOfflineCold);
        }
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
        }
        if ((offline || !compare.isEmpty()) && p.isSet(kMetric)) {
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
        std::vector<QJsonObject> rerankInfo; // parallel to results, with --rerank
        std::vector<std::pair<size_t, size_t>> rerankPairs; // (source, reranked) indices into results
        QStringList sourceLines;
        for (const QString& m : models) {
            if (!rerankPath) {
                results.push_back(eval::runEvaluation(m, params.value(m), split, ds, ks, control, threads));
                results.back().model = m;
                continue;
            }
            const eval::RerankArms arms(m, params.value(m), split, ds, rerankOptions, control);
            const int32_t coldUsers = arms.coldSourceUsers();
            sourceLines << QStringLiteral("%1: %2 users from the cold-start blend on %1, %3 from %1")
                               .arg(m)
                               .arg(coldUsers)
                               .arg(static_cast<int32_t>(split.evaluatedUsers.size()) - coldUsers);
            const QJsonObject info { { kSource, sourceName(rerankOptions.source) },
                { kCandidates, rerankOptions.candidates }, { QStringLiteral("cold_source_users"), coldUsers } };
            results.push_back(eval::evaluate(arms.sourceRanker(), split, ds, ks, control, threads));
            results.back().model = m;
            results.back().params = arms.model().params();
            results.back().fitSeconds = arms.fitSeconds();
            QJsonObject none = info;
            none.insert(kRerank, QStringLiteral("none"));
            rerankInfo.push_back(none);
            if (offline) {
                results.push_back(eval::evaluate(arms.offlineRanker(), split, ds, ks, control, threads));
                results.back().model = m + QStringLiteral("+offline");
                results.back().params = arms.model().params();
                results.back().fitSeconds = arms.fitSeconds();
                QJsonObject rr = info;
                rr.insert(kRerank, kOffline);
                rr.insert(kOffline, offlineSettings);
                rerankInfo.push_back(rr);
                rerankPairs.emplace_back(results.size() - 2, results.size() - 1);
            }
        }

        const bool json = p.isSet(kJson);
        if (json) {
            for (size_t i = 0; i < results.size(); ++i) {
                QJsonObject o = results[i].toJson();
                if (i < rerankInfo.size())
                    for (auto it = rerankInfo[i].begin(); it != rerankInfo[i].end(); ++it)
                        o.insert(it.key(), it.value());
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
            if (rerankPath)
                text += QStringLiteral("Rerank    %1 candidates per user, source %2 (%3)%4\n")
                            .arg(rerankOptions.candidates)
                            .arg(sourceName(rerankOptions.source), sourceLines.join(QStringLiteral("; ")),
                                offline ? QStringLiteral("; offline reranker %1")
                                              .arg(QString::fromUtf8(QJsonDocument(offlineSettings).toJson(
                                                  QJsonDocument::Compact)))
                                        : QString());
            int width = 8;
            for (const auto& r : results)
                width = std::max(width, static_cast<int>(r.model.size()) + 2);
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

        // Each model against its reranked list: the chosen metric, then NDCG, HR and recall
        // at its K, on all users and on the cold and warm ones.
        if (!rerankPairs.empty()) {
            std::vector<eval::Metric> metrics { metric.first };
            for (const eval::Metric m : { eval::Metric::NDCG, eval::Metric::HR, eval::Metric::Recall })
                if (m != metric.first)
                    metrics.push_back(m);
            QString text;
            for (const auto& [ai, bi] : rerankPairs) {
                const auto& a = results[ai];
                const auto& b = results[bi];
                if (!json)
                    text += QStringLiteral("\nPaired comparison on %1, B = %2 against A = %3 (95% CI: paired bootstrap, "
                                           "%4 resamples, seed %5; Wilcoxon signed-rank, zeros dropped)\n"
                                           "%6%7%8%9%10%11%12%13verdict\n")
                                .arg(split.name, b.model, a.model)
                                .arg(eval::kBootstrapResamples)
                                .arg(eval::kBootstrapSeed)
                                .arg(QStringLiteral("metric"), -11)
                                .arg(QStringLiteral("cohort"), -8)
                                .arg(QStringLiteral("users"), -7)
                                .arg(QStringLiteral("A"), -9)
                                .arg(QStringLiteral("B"), -9)
                                .arg(QStringLiteral("B - A"), -10)
                                .arg(QStringLiteral("95% CI"), -22)
                                .arg(QStringLiteral("Wilcoxon p"), -12);
                for (const eval::Metric m : metrics)
                    for (const auto& cc : eval::compareByCohort(a, b, m, metric.second, threads)) {
                        const auto& c = cc.comparison;
                        if (json) {
                            QJsonObject o = c.toJson();
                            o.insert(QStringLiteral("cohort"), cc.cohort);
                            o.insert(QStringLiteral("split"), split.name);
                            o.insert(QStringLiteral("workspace"), wsPathAbs);
                            out(QString::fromUtf8(QJsonDocument(QJsonObject { { QStringLiteral("comparison"), o } })
                                                      .toJson(QJsonDocument::Compact)));
                            continue;
                        }
                        text += QStringLiteral("%1%2%3%4%5%6%7%8%9\n")
                                    .arg(c.metric, -11)
                                    .arg(cc.cohort, -8)
                                    .arg(QString::number(c.users), -7)
                                    .arg(fmt(c.meanA), -9)
                                    .arg(fmt(c.meanB), -9)
                                    .arg((c.meanDiff >= 0 ? QStringLiteral("+") : QString()) + fmt(c.meanDiff), -10)
                                    .arg(QStringLiteral("[%1, %2]").arg(fmt(c.ci.low), fmt(c.ci.high)), -22)
                                    .arg(QString::number(c.wilcoxon.pValue, 'g', 3), -12)
                                    .arg(c.verdictText());
                    }
            }
            if (!json)
                out(text);
        }
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
