#include "cli.h"

#include "cf/recommender.h"
#include "data/workspace.h"
#include "eval/coldstartranker.h"
#include "eval/evaluator.h"
#include "eval/split.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

const Registrar tuneCommand { Command {
    QStringLiteral("tune"),
    QStringLiteral("Grid search of one model's parameters on a split, ranked by a metric."),
    [](QCommandLineParser& p) {
        p.addOption({ { QStringLiteral("w"), QStringLiteral("workspace") }, QStringLiteral("Workspace file (*.recwb)."),
            QStringLiteral("file") });
        p.addOption({ QStringLiteral("split"), QStringLiteral("loo, ratio, strat75 or cold@N (default strat75)."),
            QStringLiteral("name"), QStringLiteral("strat75") });
        p.addOption({ QStringLiteral("model"), QStringLiteral("Model: %1 or coldstart.").arg(cf::recommenderNames().join(u',')),
            QStringLiteral("name") });
        p.addOption({ QStringLiteral("grid"), QStringLiteral("key=v1,v2,... (repeatable): the values to try."),
            QStringLiteral("key=values") });
        p.addOption({ QStringLiteral("param"), QStringLiteral("key=value (repeatable): a fixed parameter."),
            QStringLiteral("key=value") });
        p.addOption({ QStringLiteral("k"), QStringLiteral("K (default 10)."), QStringLiteral("k"), QStringLiteral("10") });
        p.addOption({ QStringLiteral("metric"), QStringLiteral("Metric to rank by (default ndcg)."), QStringLiteral("name"),
            QStringLiteral("ndcg") });
        p.addOption({ QStringLiteral("seed"), QStringLiteral("Split seed (strat75)."), QStringLiteral("S"),
            QString::number(eval::kDefaultSeed) });
        p.addOption({ QStringLiteral("json"), QStringLiteral("One JSON object per combination, then the best.") });
    },
    [](QCommandLineParser& p) {
        const QString model = requireOption(p, QStringLiteral("model")).toLower();
        const int k = std::max(1, p.value(QStringLiteral("k")).toInt());
        const QString metric = QStringLiteral("%1@%2").arg(p.value(QStringLiteral("metric")).toLower()).arg(k);
        QJsonObject fixed;
        for (const QString& kv : p.values(QStringLiteral("param"))) {
            const auto eq = kv.indexOf(u'=');
            if (eq <= 0)
                throw Error(QStringLiteral("--param '%1' must look like key=value").arg(kv));
            fixed.insert(kv.left(eq), jsonValueFromText(kv.mid(eq + 1)));
        }
        // Cartesian product of the grid.
        QList<QJsonObject> combos { fixed };
        for (const QString& g : p.values(QStringLiteral("grid"))) {
            const auto eq = g.indexOf(u'=');
            if (eq <= 0)
                throw Error(QStringLiteral("--grid '%1' must look like key=v1,v2").arg(g));
            QList<QJsonObject> next;
            for (const auto& c : combos)
                for (const QString& v : g.mid(eq + 1).split(u',', Qt::SkipEmptyParts)) {
                    QJsonObject o = c;
                    o.insert(g.left(eq), jsonValueFromText(v.trimmed()));
                    next << o;
                }
            combos = next;
        }
        const auto ws = Workspace::open(requireOption(p, QStringLiteral("workspace")));
        const Dataset ds = ws->load();
        const auto split = eval::makeSplit(ds, p.value(QStringLiteral("split")), p.value(QStringLiteral("seed")).toULongLong());
        const bool json = p.isSet(QStringLiteral("json"));
        if (!json)
            out(QStringLiteral("Tuning %1 on %2 (%3 users evaluated), ranked by %4; %5 combinations")
                    .arg(model, split.name)
                    .arg(split.evaluatedUsers.size())
                    .arg(metric)
                    .arg(combos.size()));
        double best = -1;
        QJsonObject bestParams;
        for (const auto& c : combos) {
            const auto r = model == u"coldstart" ? eval::runColdStartEvaluation(c, split, ds, { k })
                                                 : eval::runEvaluation(model, c, split, ds, { k });
            const double v = r.value(metric);
            const QString params = QString::fromUtf8(QJsonDocument(c).toJson(QJsonDocument::Compact));
            if (json) {
                QJsonObject o = r.toJson();
                o.insert(QStringLiteral("grid_params"), c);
                out(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)));
            } else {
                out(QStringLiteral("  %1 = %2   fit %3 s   %4").arg(metric).arg(v, 0, 'f', 4).arg(r.fitSeconds, 0, 'f', 2).arg(params));
            }
            if (v > best) {
                best = v;
                bestParams = c;
            }
        }
        const QString bestText = QString::fromUtf8(QJsonDocument(bestParams).toJson(QJsonDocument::Compact));
        if (json)
            out(QString::fromUtf8(QJsonDocument(QJsonObject { { QStringLiteral("best"), bestParams },
                                                    { metric, best } })
                                      .toJson(QJsonDocument::Compact)));
        else
            out(QStringLiteral("Best %1 = %2 with %3").arg(metric).arg(best, 0, 'f', 4).arg(bestText));
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
