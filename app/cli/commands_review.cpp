// recwb-cli review: the QA review queue (docs/REVIEW.md) from the command line: build a
// queue (the GUI's Review tab reviews it), list queues, show a queue's progress per
// reviewer, agreement and summary, and export its verdicts as CSV or JSON.
#include "cli.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "pipeline/ceiling.h"
#include "pipeline/rerankservice.h"
#include "review/review.h"

#include <QEventLoop>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>
#include <cstdio>
#include <unistd.h>

namespace recwb::cli {

namespace {

    const QString kSource = QStringLiteral("source");
    const QString kSample = QStringLiteral("sample");
    const QString kSeed = QStringLiteral("seed");
    const QString kArm = QStringLiteral("arm");
    const QString kK = QStringLiteral("k");
    const QString kName = QStringLiteral("name");
    const QString kYes = QStringLiteral("yes");
    const QString kOut = QStringLiteral("out");

    qint64 queueId(const QCommandLineParser& p)
    {
        const QStringList pos = p.positionalArguments();
        bool ok = false;
        const qint64 id = pos.size() >= 2 ? pos[1].toLongLong(&ok) : 0;
        if (!ok || id <= 0)
            throw UsageError(QStringLiteral("usage: recwb-cli review %1 QUEUE_ID --workspace W").arg(pos.value(0)));
        return id;
    }

    review::Queue findQueue(const Workspace& ws, qint64 id)
    {
        const auto q = review::store::findQueue(ws, id);
        if (!q)
            throw Error(QStringLiteral("%1: no review queue %2 (see 'recwb-cli review list')").arg(ws.path()).arg(id));
        return *q;
    }

    int build(const QCommandLineParser& p)
    {
        review::QueueSpec spec;
        spec.source = p.isSet(kSource) ? p.value(kSource) : spec.source;
        spec.sample = intOption(p, kSample, 200, 0, 100000000);
        if (p.isSet(kSeed)) {
            bool ok = false;
            spec.seed = p.value(kSeed).toULongLong(&ok);
            if (!ok)
                throw UsageError(QStringLiteral("--seed '%1' is not a whole number >= 0").arg(p.value(kSeed)));
        }
        spec.arm = p.isSet(kArm) ? p.value(kArm) : spec.arm;
        spec.k = intOption(p, kK, 10, 1, 100);
        spec.name = p.isSet(kName) ? p.value(kName) : QStringLiteral("%1 %2").arg(spec.source, spec.arm);
        try {
            spec.validate();
        } catch (const Error& e) {
            throw UsageError(e.message());
        }
        pipeline::ExperimentRunOptions options;
        if (!p.isSet(kYes))
            options.ceiling = pipeline::RunCeiling::fromEnvironment();
        const QString path = requireOption(p, kWorkspace);
        std::shared_ptr<const Dataset> ds;
        {
            const auto ws = Workspace::open(path);
            ds = std::make_shared<const Dataset>(ws->load(TaskControl { progressPrinter(), {} }));
        }
        pipeline::RerankService service;
        service.open(path);
        review::QueueBuilder builder(service, path, ds);
        const bool tty = isatty(fileno(stderr));
        qint64 id = 0;
        QString failure;
        QEventLoop loop;
        QObject::connect(&builder, &review::QueueBuilder::progress, &loop,
            [tty](int done, int total, const QString& stage) {
                if (tty) {
                    std::fprintf(stderr, "\r%s %d / %d   ", qPrintable(stage), done, total);
                    std::fflush(stderr);
                }
            });
        QObject::connect(&builder, &review::QueueBuilder::finished, &loop, [&](qint64 q) {
            id = q;
            loop.quit();
        });
        QObject::connect(&builder, &review::QueueBuilder::failed, &loop, [&](const QString& m) {
            failure = m;
            loop.quit();
        });
        builder.start(spec, options);
        loop.exec();
        if (tty)
            std::fputc('\n', stderr);
        if (!failure.isEmpty()) {
            if (failure.startsWith(QStringLiteral("refused")))
                throw UsageError(QStringLiteral("%1 (--yes to build it anyway)").arg(failure));
            throw Error(failure);
        }
        const auto ws = Workspace::open(path);
        const review::Queue q = findQueue(*ws, id);
        if (p.isSet(kJson)) {
            QJsonObject o = q.spec.toJson();
            o.insert(QStringLiteral("id"), q.id);
            o.insert(QStringLiteral("users"), q.users);
            o.insert(QStringLiteral("experiment"), q.experimentId);
            out(compact(o));
        } else {
            out(QStringLiteral("review queue %1: %2 users (%3)%4")
                    .arg(q.id)
                    .arg(q.users)
                    .arg(q.spec.describe(),
                        q.experimentId > 0 ? QStringLiteral("; experiment %1").arg(q.experimentId) : QString()));
        }
        return 0;
    }

    QJsonObject showJson(const review::Queue& q, const std::vector<review::QueueUser>& users,
        const std::vector<review::VerdictRow>& rows, const QStringList& reviewers)
    {
        QJsonObject o = q.spec.toJson();
        o.insert(QStringLiteral("id"), q.id);
        o.insert(QStringLiteral("status"), q.status);
        o.insert(QStringLiteral("users"), static_cast<int>(users.size()));
        QJsonObject progress;
        for (const QString& r : reviewers) {
            const review::Progress pr = review::progress(users, rows, r);
            progress.insert(r,
                QJsonObject { { QStringLiteral("judged"), pr.judged }, { QStringLiteral("items"), pr.items },
                    { QStringLiteral("users_done"), pr.usersDone }, { QStringLiteral("resume_at"), pr.resumeAt } });
        }
        o.insert(QStringLiteral("reviewers"), progress);
        QJsonArray agreement;
        for (const review::Agreement& a : review::agreement(rows))
            agreement.append(a.toJson());
        o.insert(QStringLiteral("agreement"), agreement);
        QJsonArray summary;
        for (const review::SummaryRow& s : review::summarize(users, rows))
            summary.append(s.toJson());
        o.insert(QStringLiteral("summary"), summary);
        return o;
    }

    int show(const QCommandLineParser& p)
    {
        const qint64 id = queueId(p);
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        const review::Queue q = findQueue(*ws, id);
        const auto users = review::store::queueUsers(*ws, id);
        const auto rows = review::store::verdicts(*ws, id);
        const QStringList reviewers = review::store::reviewers(*ws, id);
        if (p.isSet(kJson)) {
            out(compact(showJson(q, users, rows, reviewers)));
            return 0;
        }
        QString t = QStringLiteral("queue %1 \"%2\": %3, %4 users\n%5\n")
                        .arg(q.id)
                        .arg(q.spec.name, q.status)
                        .arg(users.size())
                        .arg(q.spec.describe());
        for (const QString& r : reviewers) {
            const review::Progress pr = review::progress(users, rows, r);
            t += QStringLiteral("  %1: %2 of %3 items judged, %4 users done\n")
                     .arg(r)
                     .arg(pr.judged)
                     .arg(pr.items)
                     .arg(pr.usersDone);
        }
        for (const review::Agreement& a : review::agreement(rows))
            t += QStringLiteral("  agreement %1 / %2: %3 items, %4 % agree, kappa %5\n")
                     .arg(a.a, a.b)
                     .arg(a.items)
                     .arg(a.observed * 100, 0, 'f', 1)
                     .arg(a.kappa ? QString::number(*a.kappa, 'f', 3) : QStringLiteral("n/a"));
        const auto summary = review::summarize(users, rows);
        if (!summary.empty())
            t += QStringLiteral("  good share:\n");
        for (const review::SummaryRow& s : summary)
            t += QStringLiteral("    %1 = %2: %3 % of %4\n")
                     .arg(s.dimension, -8)
                     .arg(s.value)
                     .arg(s.goodShare() * 100, 0, 'f', 1)
                     .arg(s.total());
        out(t.trimmed());
        return 0;
    }

    const Registrar reviewCommand { Command { QStringLiteral("review"),
        QStringLiteral("The QA review queue of cold-start users (build | list | show ID | export ID --out F)."),
        [](QCommandLineParser& p) {
            addWorkspaceOption(p);
            p.addPositionalArgument(QStringLiteral("action"), QStringLiteral("build | list | show ID | export ID"));
            p.addOption({ kJson, QStringLiteral("Print one JSON value (build, list, show).") });
            p.addOption({ kSource,
                QStringLiteral("build: cold@N (simulated cold users: warm users cut to their first N "
                               "interactions; default cold@1) or cold (the workspace's cold users)."),
                QStringLiteral("source") });
            p.addOption({ kSample, QStringLiteral("build: a seeded random sample of N users (0: every user; default 200)."),
                QStringLiteral("n") });
            p.addOption({ kSeed, QStringLiteral("build: the sample's seed (default 42)."), QStringLiteral("seed") });
            p.addOption({ kArm,
                QStringLiteral("build: the candidate model and reranker as a Compare arm (default "
                               "cf=ease,rerank=offline)."),
                QStringLiteral("spec") });
            p.addOption({ kK, QStringLiteral("build: list length to review (default 10)."), QStringLiteral("k") });
            p.addOption({ kName, QStringLiteral("build: the queue's name."), QStringLiteral("name") });
            p.addOption({ kYes, QStringLiteral("build: confirm a projection over the confirmation ceiling.") });
            p.addOption({ kOut, QStringLiteral("export: the file to write (.csv or .json)."), QStringLiteral("file") });
        },
        [](QCommandLineParser& p) {
            const QString act = action(p,
                { QStringLiteral("build"), QStringLiteral("list"), QStringLiteral("show"), QStringLiteral("export") },
                QStringLiteral("review"));
            if (act == u"build")
                return build(p);
            if (act == u"show")
                return show(p);
            if (act == u"export") {
                const qint64 id = queueId(p);
                const QString file = requireOption(p, kOut);
                const QString suffix = QFileInfo(file).suffix().toLower();
                if (suffix != u"csv" && suffix != u"json")
                    throw UsageError(QStringLiteral("--out '%1': the format is chosen by the extension: .csv or .json")
                                         .arg(file));
                const auto ws = Workspace::open(requireOption(p, kWorkspace));
                const review::Queue q = findQueue(*ws, id);
                const auto users = review::store::queueUsers(*ws, id);
                const auto rows = review::store::verdicts(*ws, id);
                if (suffix == u"csv")
                    review::exportCsv(file, q, users, rows);
                else
                    review::exportJson(file, q, users, rows);
                err(QStringLiteral("%1 verdict row(s) written to %2").arg(rows.size()).arg(file));
                return 0;
            }
            const auto ws = Workspace::open(requireOption(p, kWorkspace));
            const auto queues = review::store::listQueues(*ws);
            if (p.isSet(kJson)) {
                QJsonArray a;
                for (const review::Queue& q : queues) {
                    QJsonObject o = q.spec.toJson();
                    o.insert(QStringLiteral("id"), q.id);
                    o.insert(QStringLiteral("status"), q.status);
                    o.insert(QStringLiteral("users"), q.users);
                    o.insert(QStringLiteral("created"), q.created.toString(Qt::ISODate));
                    a.append(o);
                }
                out(compact(a));
                return 0;
            }
            QString t = QStringLiteral("%1%2%3%4\n")
                            .arg(QStringLiteral("id"), -6)
                            .arg(QStringLiteral("status"), -10)
                            .arg(QStringLiteral("users"), -8)
                            .arg(QStringLiteral("name"));
            for (const review::Queue& q : queues)
                t += QStringLiteral("%1%2%3%4\n").arg(q.id, -6).arg(q.status, -10).arg(q.users, -8).arg(q.spec.name);
            out(t.trimmed());
            return 0;
        } } };

} // namespace

} // namespace recwb::cli
