#include "cli.h"

#include "data/workspace.h"
#include "eval/listcompare.h"
#include "pipeline/comparerun.h"
#include "pipeline/rerankservice.h"
#include "util/error.h"

#include <QEventLoop>
#include <QFile>
#include <QSaveFile>

namespace recwb::cli {
namespace {

    void writeText(const QString& fileName, const QString& text)
    {
        QSaveFile f(fileName);
        if (!f.open(QIODevice::WriteOnly) || f.write(text.toUtf8()) < 0 || !f.commit())
            throw Error(QStringLiteral("%1: %2").arg(fileName, f.errorString()));
    }

    QString figure(double v)
    {
        return QString::number(v, 'f', 3);
    }

    QString textReport(const pipeline::Comparison& c)
    {
        QString t = QStringLiteral("User %1").arg(c.userId);
        if (!c.split.isEmpty())
            t += QStringLiteral(", split %1%2, held out: %3")
                     .arg(c.split, c.seed ? QStringLiteral(" (seed %1)").arg(*c.seed) : QString(),
                         c.heldOutIds.join(QStringLiteral(", ")));
        t += u'\n';
        for (size_t i = 0; i < c.arms.size(); ++i) {
            const pipeline::ArmResult& a = c.arms[i];
            t += a.title == a.spec ? QStringLiteral("\n[%1] %2\n").arg(i + 1).arg(a.spec)
                                   : QStringLiteral("\n[%1] %2  (%3)\n").arg(i + 1).arg(a.title, a.spec);
            if (!a.note.isEmpty())
                t += QStringLiteral("    model: %1\n").arg(a.note);
            if (!a.error.isEmpty())
                t += QStringLiteral("    error: %1\n").arg(a.error);
            if (a.fallback)
                t += QStringLiteral("    CF order (fallback: %1)\n").arg(a.fallbackReason);
            for (const rerank::Defect& d : a.defects)
                t += QStringLiteral("    defect %1: %2\n").arg(d.kind, d.detail);
            if (a.metrics)
                t += QStringLiteral("    HR@%1 %2  NDCG@%1 %3  recall@%1 %4\n")
                         .arg(a.k)
                         .arg(figure(a.metrics->hr), figure(a.metrics->ndcg), figure(a.metrics->recall));
            t += QStringLiteral("    %1 ms, tokens %2 in / %3 out, cost %4%5\n")
                     .arg(a.stageMs.total(), 0, 'f', 1)
                     .arg(a.usage.inputTokens)
                     .arg(a.usage.outputTokens)
                     .arg(a.cost ? QStringLiteral("$%1").arg(*a.cost, 0, 'f', 5) : QStringLiteral("?"),
                         a.cacheHit ? QStringLiteral(", cache hit") : QString());
            for (const pipeline::CompareRow& r : a.rows) {
                const int m = r.move();
                t += QStringLiteral("    %1. %2 %3  [cf %4%5]%6%7\n")
                         .arg(r.rank, 2)
                         .arg(r.itemId, r.title)
                         .arg(r.cfRank)
                         .arg(m > 0      ? QStringLiteral(" +%1").arg(m)
                                 : m < 0 ? QStringLiteral(" %1").arg(m)
                                         : QString(),
                             r.heldOut ? QStringLiteral("  HELD OUT") : QString(),
                             r.explanation.isEmpty() ? QString() : QStringLiteral("\n        ") + r.explanation);
            }
        }
        if (!c.pairs.empty()) {
            t += QStringLiteral("\nBetween columns (RBO p = %1):\n").arg(eval::kRboP);
            for (const pipeline::ArmPair& p : c.pairs)
                t += QStringLiteral("  [%1] vs [%2]: overlap@%3 %4, Kendall tau %5 (%6 shared), RBO %7\n")
                         .arg(p.a + 1)
                         .arg(p.b + 1)
                         .arg(p.k)
                         .arg(figure(p.overlap), p.kendallTau ? figure(*p.kendallTau) : QStringLiteral("n/a"))
                         .arg(p.shared)
                         .arg(figure(p.rbo));
        }
        return t;
    }

    const Registrar compareCommand { Command { QStringLiteral("compare"),
        QStringLiteral(
            "Compare 2-4 arms (CF source, reranker, prompt, K) side by side for one user, optionally on a split."),
        [](QCommandLineParser& p) {
            addWorkspaceOption(p);
            p.addOption({ QStringLiteral("user"), QStringLiteral("The user's external id."), QStringLiteral("id") });
            p.addOption({ QStringLiteral("arm"),
                QStringLiteral(
                    "An arm (repeat 2-4 times): comma-separated key=value: cf=MODEL|SNAPSHOT|ID|coldstart|pop, "
                    "rerank=none|offline|ENDPOINT, prompt=NAME[@VERSION|@LABEL], k=N, candidates=N, label=TEXT; "
                    "e.g. cf=ease,rerank=offline."),
                QStringLiteral("spec") });
            p.addOption({ QStringLiteral("split"),
                QStringLiteral(
                    "Hold out the user's test items (loo, ratio, strat75, cold@N); models see only the train part."),
                QStringLiteral("split") });
            p.addOption(
                { QStringLiteral("seed"), QStringLiteral("Seed of strat75 (default 42)."), QStringLiteral("n") });
            p.addOption({ kJson, QStringLiteral("Print the comparison as one JSON object.") });
            p.addOption({ QStringLiteral("html"), QStringLiteral("Write a self-contained HTML page."),
                QStringLiteral("file") });
            p.addOption({ QStringLiteral("csv"), QStringLiteral("Write one CSV row per arm and rank."),
                QStringLiteral("file") });
        },
        [](QCommandLineParser& p) {
            const QString userId = requireOption(p, QStringLiteral("user"));
            const QStringList specs = p.values(QStringLiteral("arm"));
            if (specs.size() < 2 || specs.size() > 4)
                throw Error(QStringLiteral("give 2 to 4 --arm SPEC options (got %1)").arg(specs.size()));
            std::vector<pipeline::CompareColumn> columns;
            for (const QString& s : specs)
                columns.push_back(pipeline::CompareColumn::ofArm(pipeline::ArmSpec::parse(s)));
            std::optional<eval::SplitSpec> split;
            if (p.isSet(QStringLiteral("split")))
                split = eval::SplitSpec::parse(p.value(QStringLiteral("split")));
            const int seedValue = intOption(p, QStringLiteral("seed"), static_cast<int>(eval::kDefaultSeed));
            if (seedValue < 0)
                throw Error(QStringLiteral("--seed must be 0 or more"));
            const QString path = requireOption(p, kWorkspace);
            std::shared_ptr<const Dataset> ds;
            {
                const auto ws = Workspace::open(path);
                ds = std::make_shared<const Dataset>(ws->load(TaskControl { progressPrinter(), {} }));
            }
            if (ds->userIndex(userId) < 0)
                throw Error(QStringLiteral("%1: no user '%2'").arg(path, userId));

            pipeline::RerankService service;
            QString openError;
            QObject::connect(&service, &pipeline::RerankService::openFailed, &service,
                [&openError](const QString&, const QString& message) { openError = message; });
            service.open(path);
            pipeline::CompareRun run(service, path, ds);
            QString failure;
            QEventLoop loop;
            QObject::connect(&run, &pipeline::CompareRun::finished, &loop, &QEventLoop::quit);
            QObject::connect(&run, &pipeline::CompareRun::failed, &loop, [&](const QString& message) {
                failure = message;
                loop.quit();
            });
            run.start(userId, std::move(columns), split, static_cast<quint64>(seedValue));
            loop.exec();
            if (!failure.isEmpty())
                throw Error(failure);
            if (!openError.isEmpty())
                throw Error(QStringLiteral("%1: %2").arg(path, openError));
            const pipeline::Comparison& c = run.comparison();
            if (p.isSet(QStringLiteral("html")))
                writeText(p.value(QStringLiteral("html")), c.toHtml());
            if (p.isSet(QStringLiteral("csv")))
                writeText(p.value(QStringLiteral("csv")), c.toCsv());
            if (p.isSet(kJson))
                out(compact(c.toJson()));
            else if (!p.isSet(QStringLiteral("html")) && !p.isSet(QStringLiteral("csv")))
                out(textReport(c));
            return 0;
        } } };

} // namespace
} // namespace recwb::cli
