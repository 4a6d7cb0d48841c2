#include "cli.h"
#include "pipeline/experimentreport.h"

#include "data/workspace.h"
#include "pipeline/experiment.h"
#include "pipeline/rerankservice.h"
#include "pipeline/shard.h"
#include "util/error.h"

#include <QEventLoop>
#include <QFileInfo>
#include <QJsonArray>
#include <QMap>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unistd.h>

namespace recwb::cli {
namespace {

    using pipeline::ExperimentResult;

    const QString kReport = QStringLiteral("report");
    const QString kOut = QStringLiteral("out");
    const QString kMaxCost = QStringLiteral("max-cost");
    const QString kYes = QStringLiteral("yes");
    const QString kResume = QStringLiteral("resume");
    const QString kNew = QStringLiteral("new");
    const QString kArms = QStringLiteral("arms");
    const QString kMetric = QStringLiteral("metric");
    const QString kShard = QStringLiteral("shard");

    QString fmt(double v, int decimals = 4)
    {
        return std::isfinite(v) ? QString::number(v, 'f', decimals) : QStringLiteral("n/a");
    }

    QString textReport(const ExperimentResult& r)
    {
        QString t = QStringLiteral("Experiment %1 \"%2\" (%3): split %4 (seed %5), cohort %6, %7 users, K %8\n")
                        .arg(r.id)
                        .arg(r.spec.name, r.status, r.spec.split)
                        .arg(r.spec.seed)
                        .arg(r.spec.cohort.name())
                        .arg(r.users.size())
                        .arg([&] {
                            QStringList ks;
                            for (const int k : r.spec.ks)
                                ks << QString::number(k);
                            return ks.join(u',');
                        }());
        if (r.resumedUsers > 0)
            t += QStringLiteral("Resumed: %1 stored rows were kept\n").arg(r.resumedUsers);
        const int k = r.spec.ks.front();
        t += QStringLiteral("\n%1%2%3%4%5%6%7%8%9\n")
                 .arg(QStringLiteral("arm"), -12)
                 .arg(QStringLiteral("users"), -7)
                 .arg(QStringLiteral("HR@%1").arg(k), -10)
                 .arg(QStringLiteral("NDCG@%1").arg(k), -10)
                 .arg(QStringLiteral("recall@%1").arg(k), -11)
                 .arg(QStringLiteral("MRR@%1").arg(k), -10)
                 .arg(QStringLiteral("llm"), -7)
                 .arg(QStringLiteral("fallback"), -10)
                 .arg(QStringLiteral("cost USD"));
        for (const pipeline::ExperimentArm& arm : r.spec.arms) {
            const pipeline::ArmFigures* f = r.figuresFor(arm.name);
            if (!f)
                continue;
            const auto v = [&](const QString& key) { return f->value(key).value_or(std::nan("")); };
            t += QStringLiteral("%1%2%3%4%5%6%7%8%9   %10\n")
                     .arg(arm.name, -12)
                     .arg(f->users, -7)
                     .arg(fmt(v(QStringLiteral("hr@%1").arg(k))), -10)
                     .arg(fmt(v(QStringLiteral("ndcg@%1").arg(k))), -10)
                     .arg(fmt(v(QStringLiteral("recall@%1").arg(k))), -11)
                     .arg(fmt(v(QStringLiteral("mrr@%1").arg(k))), -10)
                     .arg(fmt(f->llmShare, 2), -7)
                     .arg(fmt(f->fallbackShare, 2), -10)
                     .arg(f->costKnown ? fmt(f->costUsd, 5) : QStringLiteral("?"))
                     .arg(arm.toString());
        }
        t += QStringLiteral("\nNDCG@%1 by cohort (users in brackets; cold: fewer than %2 train interactions)\n")
                 .arg(k)
                 .arg(r.spec.coldThreshold);
        for (const pipeline::ExperimentArm& arm : r.spec.arms) {
            t += arm.name.leftJustified(12);
            for (const QString& c : { QStringLiteral("cold"), QStringLiteral("warm"), QStringLiteral("longtail") })
                if (const pipeline::ArmFigures* f = r.figuresFor(arm.name, c))
                    t += QStringLiteral("%1 %2 (%3)   ")
                             .arg(c, fmt(f->value(QStringLiteral("ndcg@%1").arg(k)).value_or(0)))
                             .arg(f->users);
            t += u'\n';
        }
        const QString metric = QStringLiteral("ndcg@%1").arg(k);
        bool header = false;
        for (const pipeline::ArmComparison& c : r.comparisons) {
            if (c.stats.metric != metric)
                continue;
            if (!header)
                t += QStringLiteral("\nPaired against %1 on %2 (95% bootstrap CI, Wilcoxon p)\n").arg(c.a, metric);
            header = true;
            t += QStringLiteral("  %1 - %2: %3 [%4, %5], p = %6: %7\n")
                     .arg(c.b, c.a, fmt(c.stats.meanDiff), fmt(c.stats.ci.low), fmt(c.stats.ci.high),
                         QString::number(c.stats.wilcoxon.pValue, 'g', 4), c.stats.verdictText());
        }
        if (!r.assertions.empty()) {
            t += QStringLiteral("\nAssertions\n");
            for (const pipeline::AssertionResult& a : r.assertions)
                t += QStringLiteral("  %1  %2   (%3)\n")
                         .arg(a.passed ? QStringLiteral("PASS") : QStringLiteral("FAIL"), a.text, a.detail);
        }
        return t;
    }

    void writeReport(const QString& fileName, const ExperimentResult& r)
    {
        const QString suffix = QFileInfo(fileName).suffix().toLower();
        if (suffix != u"json" && suffix != u"csv" && suffix != u"html" && suffix != u"htm")
            throw UsageError(
                QStringLiteral("report '%1': the format is chosen by the extension: .html, .json or .csv").arg(fileName));
        // The renderers the Experiments tab exports with; the JSON keeps every per-user row.
        pipeline::writeExperimentReport(r, fileName, std::nullopt, true);
    }

    // Prints the result; returns 1 when an assertion failed (naming it), else 0.
    int finishOutput(const QCommandLineParser& p, const ExperimentResult& r)
    {
        if (p.isSet(kReport))
            writeReport(p.value(kReport), r);
        if (p.isSet(kJson))
            out(compact(r.toJson(false)));
        else
            out(textReport(r));
        int failedCount = 0;
        for (const pipeline::AssertionResult& a : r.assertions)
            if (!a.passed) {
                err(QStringLiteral("assertion failed: %1 (%2)").arg(a.text, a.detail));
                ++failedCount;
            }
        return failedCount > 0 ? 1 : 0;
    }

    qint64 experimentId(const QCommandLineParser& p, const QString& command)
    {
        const QStringList pos = p.positionalArguments();
        bool ok = false;
        const qint64 id = pos.value(1).toLongLong(&ok);
        if (!ok || id <= 0)
            throw UsageError(
                QStringLiteral("usage: recwb-cli experiment %1 ID (an experiment id from 'experiment list')")
                    .arg(command));
        return id;
    }

    const QString kShardMeta = QStringLiteral("shard.experiment"); // the spec's shard, in a shard's own file

    // run --shard I/N --out FILE: FILE must be new (created here, marked as this shard's), or
    // hold only this shard's unfinished experiment of the same file, which the run resumes.
    void checkShardFile(const QString& outFile, const Workspace& ws, const pipeline::ExperimentSpec& spec, bool noAutoResume)
    {
        const QString file = Workspace::resolvePath(outFile);
        if (QFileInfo(file).absoluteFilePath() == QFileInfo(ws.file()).absoluteFilePath())
            throw UsageError(QStringLiteral("--out %1 is the workspace itself: give each shard a file of its own").arg(outFile));
        if (noAutoResume)
            throw UsageError(QStringLiteral("--out does not take --resume or --new (the same command again resumes the "
                                            "shard's file)"));
        if (!QFileInfo::exists(file)) {
            const auto created = Workspace::open(file, Workspace::Mode::CreateOrOpen);
            created->setMeta(kShardMeta, spec.shard);
            return;
        }
        const auto shardFile = Workspace::open(file);
        if (shardFile->meta(kShardMeta).isEmpty())
            throw Error(QStringLiteral("%1 exists and is not a shard's file (experiment run --shard I/N --out): not "
                                       "writing into it; give a new file")
                            .arg(outFile));
        for (const auto& info : pipeline::experimentstore::list(*shardFile)) {
            const ExperimentResult r = pipeline::experimentstore::loadRows(*shardFile, info.id, nullptr, false);
            if (r.spec.toJson() != spec.toJson())
                throw Error(QStringLiteral("%1 holds shard %2 of another experiment file or shard: give each shard a "
                                           "file of its own")
                                .arg(outFile, r.spec.shard));
            if (r.status == u"finished")
                throw Error(QStringLiteral("%1 holds the finished shard %2 already: merge it (recwb-cli experiment merge "
                                           "-w W FILE...) or give a new file")
                                .arg(outFile, r.spec.shard));
        }
    }

    int runExperiment(const QCommandLineParser& p)
    {
        useBatchScheduling(); // before the network and worker threads start
        const QStringList pos = p.positionalArguments();
        if (pos.size() < 2)
            throw UsageError(QStringLiteral("usage: recwb-cli experiment run FILE --workspace W"));
        pipeline::ExperimentSpec spec;
        try {
            spec = pipeline::ExperimentSpec::fromFile(pos[1]);
        } catch (const Error& e) {
            throw UsageError(e.message());
        }
        if (p.isSet(kShard)) {
            const pipeline::Shard shard = pipeline::parseShard(p.value(kShard));
            spec.shard = QStringLiteral("%1/%2").arg(shard.index).arg(shard.count);
        }
        const QString outFile = p.value(kOut);
        if (p.isSet(kOut) && (outFile.isEmpty() || spec.shard.isEmpty()))
            throw UsageError(QStringLiteral("run --out FILE stores a shard's experiment in a file of its own: give "
                                            "--shard I/N with it"));
        pipeline::ExperimentRunOptions options;
        if (const auto cap = doubleOption(p, kMaxCost)) {
            if (!std::isfinite(*cap) || *cap < 0)
                throw UsageError(QStringLiteral("--max-cost must be an amount in USD >= 0"));
            options.maxCostUsd = *cap;
        }
        if (p.isSet(kResume)) {
            bool ok = false;
            options.resumeId = p.value(kResume).toLongLong(&ok);
            if (!ok || options.resumeId <= 0)
                throw UsageError(QStringLiteral("--resume '%1' is not an experiment id").arg(p.value(kResume)));
        }
        options.autoResume = !p.isSet(kNew);
        if (!p.isSet(kYes))
            options.ceiling = pipeline::RunCeiling::fromEnvironment();
        if (p.isSet(kReport)) {
            const QString suffix = QFileInfo(p.value(kReport)).suffix().toLower();
            if (suffix != u"json" && suffix != u"csv" && suffix != u"html" && suffix != u"htm")
                throw UsageError(QStringLiteral("--report '%1': the format is chosen by the extension: .html, .json or .csv")
                                     .arg(p.value(kReport)));
        }
        const QString path = requireOption(p, kWorkspace);
        std::shared_ptr<const Dataset> ds;
        {
            const auto ws = Workspace::open(path);
            if (!outFile.isEmpty())
                checkShardFile(outFile, *ws, spec, options.resumeId > 0 || !options.autoResume);
            ds = std::make_shared<const Dataset>(ws->load(TaskControl { progressPrinter(), {} }));
        }
        options.outputPath = outFile;
        pipeline::RerankService service;
        QString openError;
        QObject::connect(&service, &pipeline::RerankService::openFailed, &service,
            [&openError](const QString&, const QString& message) { openError = message; });
        service.open(path, outFile);
        pipeline::ExperimentRun run(service, path, ds);
        const bool tty = isatty(fileno(stderr));
        std::optional<ExperimentResult> result;
        QString failure;
        QEventLoop loop;
        QObject::connect(&run, &pipeline::ExperimentRun::started, &loop, [&](qint64 id, int resumed) {
            err(resumed > 0 ? QStringLiteral("experiment %1: resuming, %2 rows already stored").arg(id).arg(resumed)
                            : QStringLiteral("experiment %1: started").arg(id));
        });
        QObject::connect(&run, &pipeline::ExperimentRun::progress, &loop, [tty](int done, int total) {
            if (tty) {
                std::fprintf(stderr, "\r%d / %d rows", done, total);
                std::fflush(stderr);
            }
        });
        QObject::connect(&run, &pipeline::ExperimentRun::finished, &loop, [&](const ExperimentResult& r) {
            result = r;
            loop.quit();
        });
        QObject::connect(&run, &pipeline::ExperimentRun::failed, &loop, [&](const QString& message) {
            failure = message;
            loop.quit();
        });
        run.start(spec, options);
        loop.exec();
        if (tty)
            std::fputc('\n', stderr);
        if (!openError.isEmpty())
            throw Error(QStringLiteral("%1: %2").arg(path, openError));
        if (!failure.isEmpty()) {
            if (failure.startsWith(QStringLiteral("refused")))
                throw UsageError(QStringLiteral("%1: %2").arg(pos[1], failure));
            throw Error(QStringLiteral("%1: %2").arg(pos[1], failure));
        }
        result->workspace = QFileInfo(path).absoluteFilePath();
        return finishOutput(p, *result);
    }

    // experiment merge ID...: the finished experiments of run FILE --shard 0/N .. N-1/N (the
    // same file otherwise) become one finished experiment holding every row, with the
    // cohort's users in workspace order as an unsharded run stores them; its figures,
    // comparisons and assertions are computed from the rows like any stored experiment's.
    int mergeExperiments(const QCommandLineParser& p, const QString& path)
    {
        const QStringList ids = p.positionalArguments().mid(1);
        if (ids.size() < 2)
            throw UsageError(QStringLiteral("usage: recwb-cli experiment merge -w W ID ID... (the experiments of run "
                                            "FILE --shard 0/N..N-1/N)"));
        const auto ws = Workspace::open(path);
        const Dataset ds = ws->load(TaskControl {});
        std::vector<ExperimentResult> parts;
        QStringList labels; // "experiment 7" or the file, per part
        QMap<int, QString> byShard;
        int count = 0;
        const auto unsharded = [](pipeline::ExperimentSpec spec) {
            spec.shard.clear();
            return spec.toJson();
        };
        for (const QString& text : ids) {
            bool ok = false;
            qint64 id = text.toLongLong(&ok);
            ExperimentResult r;
            if (QFileInfo(text).isFile() || !ok) { // a shard's own file (run --shard --out)
                if (!QFileInfo::exists(text))
                    throw UsageError(QStringLiteral("experiment merge: '%1' is neither an experiment id nor a file").arg(text));
                const auto file = Workspace::open(text);
                const auto list = pipeline::experimentstore::list(*file);
                if (file->meta(kShardMeta).isEmpty() || list.size() != 1)
                    throw Error(QStringLiteral("%1 is not a shard's file (experiment run --shard I/N --out FILE holding "
                                               "one experiment)")
                                    .arg(text));
                r = pipeline::experimentstore::loadRows(*file, list.front().id, &ds);
                id = -1; // named by the file below
            } else {
                r = pipeline::experimentstore::loadRows(*ws, id, &ds);
            }
            const QString label = id > 0 ? QStringLiteral("experiment %1").arg(id) : text;
            if (r.status != u"finished")
                throw Error(QStringLiteral("%1 is %2, not finished: run its file again with --shard %3 to resume it")
                                .arg(label, r.status, r.spec.shard));
            if (r.spec.shard.isEmpty())
                throw Error(QStringLiteral("%1 is not a shard (it was not run with --shard I/N)").arg(label));
            const pipeline::Shard shard = pipeline::parseShard(r.spec.shard);
            if (count == 0)
                count = shard.count;
            if (shard.count != count)
                throw Error(QStringLiteral("%1 is shard %2, but %3 is one of %4 shards")
                                .arg(label, r.spec.shard, labels.front())
                                .arg(count));
            if (byShard.contains(shard.index))
                throw Error(QStringLiteral("shard %1/%2 given twice: %3 and %4")
                                .arg(shard.index)
                                .arg(count)
                                .arg(byShard.value(shard.index), label));
            if (!parts.empty() && unsharded(r.spec) != unsharded(parts.front().spec))
                throw Error(QStringLiteral("%1 was run from another file than %2").arg(label, labels.front()));
            byShard.insert(shard.index, label);
            labels.append(label);
            parts.push_back(std::move(r));
        }
        QStringList missing;
        for (int i = 0; i < count; ++i)
            if (!byShard.contains(i))
                missing.append(QStringLiteral("%1/%2").arg(i).arg(count));
        if (!missing.isEmpty())
            throw Error(QStringLiteral("missing shard %1: give the experiments of all %2 shards")
                            .arg(missing.join(QStringLiteral(", ")))
                            .arg(count));
        std::vector<std::pair<int32_t, QString>> users;
        std::vector<pipeline::UserRow> rows;
        double wallSeconds = 0;
        for (const ExperimentResult& r : parts) {
            for (const QString& id : r.users) {
                const int32_t u = ds.userIndex(id);
                if (u < 0)
                    throw Error(QStringLiteral("%1: user '%2' is not in the workspace").arg(labels[&r - parts.data()], id));
                users.emplace_back(u, id);
            }
            rows.insert(rows.end(), r.rows.begin(), r.rows.end());
            wallSeconds = std::max(wallSeconds, r.wallSeconds); // the shards ran side by side
        }
        std::sort(users.begin(), users.end());
        QStringList userIds;
        for (const auto& u : users)
            userIds.append(u.second);
        pipeline::ExperimentSpec spec = parts.front().spec;
        spec.shard.clear();
        const qint64 id = pipeline::experimentstore::create(*ws, spec, userIds, parts.front().catalogSize);
        pipeline::experimentstore::addRows(*ws, id, rows);
        pipeline::experimentstore::finish(*ws, id, QStringLiteral("finished"), wallSeconds);
        err(QStringLiteral("Merged %1 shards (%2 users, %3 rows) into experiment %4")
                .arg(count)
                .arg(userIds.size())
                .arg(rows.size())
                .arg(id));
        ExperimentResult r = pipeline::experimentstore::load(*ws, id, &ds);
        r.workspace = QFileInfo(path).absoluteFilePath();
        return finishOutput(p, r);
    }

    const Registrar experimentCommand { Command { QStringLiteral("experiment"),
        QStringLiteral(
            "Rerank experiments: arms on a cohort of a split against held-out truth, with paired "
            "statistics, cost projection and assertions (run FILE | list | show ID | report ID | compare ID | "
            "merge ID...)."),
        [](QCommandLineParser& p) {
            addWorkspaceOption(p);
            p.addPositionalArgument(
                QStringLiteral("action"),
                QStringLiteral("run FILE | list | show ID | report ID | compare ID | merge ID... (the shards of run "
                               "--shard)"));
            p.addOption({ kShard,
                QStringLiteral("run: only shard I of N of the cohort's users (stable hash of the external id; "
                               "docs/SCALE.md); fold the shards with experiment merge."),
                QStringLiteral("I/N") });
            p.addOption({ kJson, QStringLiteral("Print one JSON object (run, show, list, compare).") });
            p.addOption(
                { kReport, QStringLiteral("run: also write a report (.html, .json or .csv)."), QStringLiteral("file") });
            p.addOption({ kOut,
                QStringLiteral("report: the file to write (.html, .json or .csv). run with --shard: store the shard's "
                               "experiment in this file of its own, never writing the workspace (docs/SCALE.md)."),
                QStringLiteral("file") });
            p.addOption({ kMaxCost,
                QStringLiteral("run: spending cap in USD (overrides the file's max_cost); a "
                               "projection over it is refused before any call."),
                QStringLiteral("usd") });
            p.addOption({ kYes, QStringLiteral("run: confirm a projection over the confirmation ceiling.") });
            p.addOption({ kResume, QStringLiteral("run: continue this stored experiment."), QStringLiteral("id") });
            p.addOption({ kNew,
                QStringLiteral("run: start a new experiment even when an unfinished one of the same "
                               "file exists.") });
            p.addOption(
                { kArms, QStringLiteral("compare: the two arms, A,B (is B better than A?)."), QStringLiteral("A,B") });
            p.addOption(
                { kMetric, QStringLiteral("compare: metric@K (default ndcg@<first K>)."), QStringLiteral("metric@K") });
        },
        [](QCommandLineParser& p) {
            const QString act = action(p,
                { QStringLiteral("run"), QStringLiteral("list"), QStringLiteral("show"), QStringLiteral("report"),
                    QStringLiteral("compare"), QStringLiteral("merge") },
                QStringLiteral("experiment"));
            if (act == u"run")
                return runExperiment(p);
            const QString path = requireOption(p, kWorkspace);
            if (act == u"merge")
                return mergeExperiments(p, path);
            if (act == u"list") {
                const auto ws = Workspace::open(path);
                const auto list = pipeline::experimentstore::list(*ws);
                if (p.isSet(kJson)) {
                    QJsonArray a;
                    for (const auto& i : list)
                        a.append(i.toJson());
                    out(compact(a));
                } else {
                    QString t = QStringLiteral("%1%2%3%4%5%6\n")
                                    .arg(QStringLiteral("id"), -6)
                                    .arg(QStringLiteral("status"), -10)
                                    .arg(QStringLiteral("split"), -10)
                                    .arg(QStringLiteral("cohort"), -20)
                                    .arg(QStringLiteral("arms x rows"), -14)
                                    .arg(QStringLiteral("name"));
                    for (const auto& i : list)
                        t += QStringLiteral("%1%2%3%4%5%6\n")
                                 .arg(i.id, -6)
                                 .arg(i.status, -10)
                                 .arg(i.split, -10)
                                 .arg(i.cohort, -20)
                                 .arg(QStringLiteral("%1 x %2").arg(i.arms).arg(i.rows), -14)
                                 .arg(i.name);
                    out(t);
                }
                return 0;
            }
            const qint64 id = experimentId(p, act);
            const auto ws = Workspace::open(path);
            ExperimentResult r = pipeline::experimentstore::load(*ws, id);
            r.workspace = QFileInfo(path).absoluteFilePath();
            if (act == u"show") {
                if (p.isSet(kJson))
                    out(compact(r.toJson(false)));
                else
                    out(textReport(r));
                return 0;
            }
            if (act == u"report") {
                writeReport(requireOption(p, kOut), r);
                return 0;
            }
            // compare
            const QStringList arms = p.value(kArms).split(u',', Qt::SkipEmptyParts);
            if (arms.size() != 2 || arms[0] == arms[1])
                throw UsageError(QStringLiteral("--arms needs two different arms, A,B (got '%1')").arg(p.value(kArms)));
            const QString metric
                = p.isSet(kMetric) ? p.value(kMetric) : QStringLiteral("ndcg@%1").arg(r.spec.ks.front());
            pipeline::ArmComparison c;
            try {
                c = pipeline::compareArms(r, arms[0].trimmed(), arms[1].trimmed(), metric);
            } catch (const Error& e) {
                throw UsageError(e.message());
            }
            if (p.isSet(kJson)) {
                out(compact(c.toJson()));
                return 0;
            }
            QString t = QStringLiteral("%1: %2 - %3 on %4 users: mean %5 vs %6, difference %7, 95% CI [%8, %9], "
                                       "Wilcoxon p = %10\nVerdict: %11\n")
                            .arg(metric, c.b, c.a)
                            .arg(c.stats.users)
                            .arg(fmt(c.stats.meanB), fmt(c.stats.meanA), fmt(c.stats.meanDiff), fmt(c.stats.ci.low),
                                fmt(c.stats.ci.high), QString::number(c.stats.wilcoxon.pValue, 'g', 4),
                                c.stats.verdictText());
            if (!c.worstUsers.empty()) {
                t += QStringLiteral("Users where %1 hurts most:").arg(c.b);
                for (const auto& [user, diff] : c.worstUsers)
                    t += QStringLiteral(" %1 (%2)").arg(user, fmt(diff));
                t += u'\n';
            }
            out(t);
            return 0;
        } } };

} // namespace
} // namespace recwb::cli
