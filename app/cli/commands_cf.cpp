#include "cli.h"

#include "cf/recommender.h"
#include "cf/snapshots.h"
#include "coldstart/coldstart.h"
#include "data/workspace.h"
#include "pipeline/whatif.h"
#include "rerank/prompt.h"

#include <QElapsedTimer>
#include <QHash>
#include <QSet>
#include <QJsonArray>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

const QString kModel = QStringLiteral("model");
const QString kParam = QStringLiteral("param");
// "key=value" pairs (repeatable --param) into a params object.
QJsonObject parseKeyValues(const QStringList& args)
{
    QJsonObject o;
    for (const QString& a : args) {
        const auto eq = a.indexOf(u'=');
        if (eq <= 0)
            throw Error(QStringLiteral("--param '%1' must look like key=value (e.g. lambda=250)").arg(a));
        o.insert(a.left(eq).trimmed(), jsonValueFromText(a.mid(eq + 1).trimmed()));
    }
    return o;
}

std::pair<std::unique_ptr<Workspace>, Dataset> openAndLoad(const QCommandLineParser& p)
{
    auto ws = Workspace::open(requireOption(p, kWorkspace));
    Dataset ds = ws->load(TaskControl { progressPrinter(), {} });
    return { std::move(ws), std::move(ds) };
}

const Registrar trainCommand { Command {
    QStringLiteral("train"),
    QStringLiteral("Train a CF model on all interactions and keep it as a snapshot in the workspace."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addOption({ kModel, QStringLiteral("Model: %1.").arg(cf::recommenderNames().join(QStringLiteral(", "))),
            QStringLiteral("name") });
        p.addOption({ kParam, QStringLiteral("A model parameter key=value (repeatable), e.g. --param lambda=250."),
            QStringLiteral("key=value") });
        p.addOption({ QStringLiteral("name"), QStringLiteral("Snapshot name (default: the model name)."),
            QStringLiteral("name") });
        p.addOption({ kJson, QStringLiteral("Print the snapshot as JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString modelName = requireOption(p, kModel);
        auto model = cf::makeRecommender(modelName, parseKeyValues(p.values(kParam)));
        auto [ws, ds] = openAndLoad(p);
        if (ds.numInteractions() == 0)
            throw Error(QStringLiteral("%1: no interactions to train on (import some first)").arg(ws->path()));
        QElapsedTimer timer;
        timer.start();
        model->fit(ds.userItems, TaskControl { progressPrinter(), {} });
        const double seconds = timer.nsecsElapsed() / 1e9;
        const QJsonObject metrics { { QStringLiteral("fit_seconds"), seconds } };
        const QString name = p.value(QStringLiteral("name")).isEmpty() ? model->algorithm() : p.value(QStringLiteral("name"));
        const qint64 id = cf::saveSnapshot(*ws, name, *model, cf::dataFingerprint(ds.userItems), metrics);
        const auto info = cf::findSnapshot(*ws, name);
        if (p.isSet(kJson)) {
            out(QString::fromUtf8(QJsonDocument(info ? info->toJson() : QJsonObject {}).toJson(QJsonDocument::Compact)));
        } else {
            out(QStringLiteral("Trained %1 %2 on %3 users x %4 items (%5 interactions) in %6 s; snapshot %7 '%8' (%9 MB)")
                    .arg(model->algorithm(),
                        QString::fromUtf8(QJsonDocument(model->params()).toJson(QJsonDocument::Compact)))
                    .arg(ds.numUsers())
                    .arg(ds.numItems())
                    .arg(ds.numInteractions())
                    .arg(seconds, 0, 'f', 2)
                    .arg(id)
                    .arg(name)
                    .arg(info ? static_cast<double>(info->bytes) / 1e6 : 0.0, 0, 'f', 1));
        }
        return 0;
    } } };

const Registrar modelsCommand { Command {
    QStringLiteral("models"),
    QStringLiteral("List the model snapshots kept in a workspace."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addOption({ kJson, QStringLiteral("Print a JSON array.") });
    },
    [](QCommandLineParser& p) {
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        const auto list = cf::listSnapshots(*ws);
        if (p.isSet(kJson)) {
            QJsonArray a;
            for (const auto& s : list)
                a.append(s.toJson());
            out(QString::fromUtf8(QJsonDocument(a).toJson(QJsonDocument::Compact)));
            return 0;
        }
        if (list.isEmpty())
            out(QStringLiteral("No model snapshots: train one with 'recwb-cli train'."));
        for (const auto& s : list)
            out(QStringLiteral("%1  %2  %3  %4  %5 MB  data %6")
                    .arg(s.id, 4)
                    .arg(s.name.leftJustified(12), s.algorithm.leftJustified(8),
                        QDateTime::fromSecsSinceEpoch(s.createdAt).toString(Qt::ISODate))
                    .arg(static_cast<double>(s.bytes) / 1e6, 0, 'f', 1)
                    .arg(s.dataFingerprint));
        return 0;
    } } };

const Registrar candidatesCommand { Command {
    QStringLiteral("candidates"),
    QStringLiteral("A user's candidates: CF scores for warm users, the cold-start blend with sources for cold users."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addOption({ QStringLiteral("user"), QStringLiteral("The user's external id."), QStringLiteral("id") });
        p.addOption({ kModel, QStringLiteral("CF model or snapshot name (default ease)."), QStringLiteral("name"),
            QStringLiteral("ease") });
        p.addOption({ QStringLiteral("n"), QStringLiteral("How many candidates (default 100)."), QStringLiteral("n"),
            QStringLiteral("100") });
        p.addOption({ QStringLiteral("cold-threshold"),
            QStringLiteral("Users with fewer interactions use the cold-start path (default 5)."), QStringLiteral("n"),
            QStringLiteral("5") });
        p.addOption({ QStringLiteral("categories"),
            QStringLiteral("Stated category preferences for the cold-start path, comma-separated."),
            QStringLiteral("list") });
        p.addOption({ QStringLiteral("blend"),
            QStringLiteral("A cold-start blend weight key=value (repeatable): cf, content, profile, category, "
                           "popularity, profile_attributes (e.g. --blend profile=2 --blend popularity=0.5)."),
            QStringLiteral("key=value") });
        addWhatIfOptions(p);
        p.addOption({ kJson, QStringLiteral("Print one JSON object.") });
    },
    [](QCommandLineParser& p) {
        const QString userId = requireOption(p, QStringLiteral("user"));
        const int n = std::max(1, p.value(QStringLiteral("n")).toInt());
        auto [ws, ds] = openAndLoad(p);
        const int32_t user = ds.userIndex(userId);
        if (user < 0)
            throw Error(QStringLiteral("%1: no user '%2'").arg(ws->path(), userId));
        QElapsedTimer timer;
        timer.start();
        QString note;
        const QString modelName = p.value(kModel);
        const auto model = cf::snapshotOrTrain(*ws, ds, modelName, &note);
        const int threshold = std::max(1, p.value(QStringLiteral("cold-threshold")).toInt());
        // The what-if history (--without/--with) or the stored one, sorted by item as the
        // models expect; nothing is written.
        const bool whatIf = hasWhatIf(p);
        std::vector<int32_t> items;
        std::vector<float> values;
        rerank::PromptUser edited;
        if (whatIf) {
            edited = whatIfUser(p, ds, user);
            std::vector<std::pair<int32_t, float>> rows;
            for (const rerank::HistoryEntry& h : edited.history)
                rows.emplace_back(h.item, h.value);
            std::sort(rows.begin(), rows.end());
            for (const auto& [item, value] : rows) {
                items.push_back(item);
                values.push_back(value);
            }
        }
        const int historySize = whatIf ? static_cast<int>(items.size()) : ds.interactionCount(user);
        const bool cold = historySize < threshold;
        QJsonArray rows;
        QString text = QStringLiteral("User %1: %2 interactions%3, %4\n")
                           .arg(userId)
                           .arg(historySize)
                           .arg(whatIf ? QStringLiteral(" (what-if: %1 stored)").arg(ds.interactionCount(user)) : QString())
                           .arg(cold ? QStringLiteral("COLD (cold-start path)") : QStringLiteral("warm"));
        const QString syntheticOf = ds.users[static_cast<size_t>(user)].syntheticOf;
        if (!syntheticOf.isEmpty())
            text += QStringLiteral("Synthetic user (saved from a what-if of %1; not evaluated)\n").arg(syntheticOf);
        auto addRow = [&](int rank, int32_t item, float score, const QString& source) {
            const Item& it = ds.items[static_cast<size_t>(item)];
            rows.append(QJsonObject { { QStringLiteral("rank"), rank }, { QStringLiteral("item_id"), it.externalId },
                { QStringLiteral("title"), it.title }, { QStringLiteral("score"), score },
                { QStringLiteral("categories"), QJsonArray::fromStringList(ds.categoryNames(it).split(QStringLiteral(", "), Qt::SkipEmptyParts)) },
                { QStringLiteral("source"), source } });
            text += QStringLiteral("%1  %2  %3  %4  %5  %6\n")
                        .arg(rank, 4)
                        .arg(it.externalId.leftJustified(10), it.title.left(48).leftJustified(48))
                        .arg(score, 9, 'f', 4)
                        .arg(source.leftJustified(10), ds.categoryNames(it));
        };
        struct Pick {
            int32_t item;
            float score;
            QString source;
        };
        std::optional<coldstart::ColdStartRecommender> blend;
        auto listFor = [&](const cf::History& history, bool coldUser) {
            std::vector<Pick> picks;
            if (coldUser) {
                coldstart::ColdStartConfig cfg = coldstart::ColdStartConfig::fromJson(parseKeyValues(p.values(QStringLiteral("blend"))));
                cfg.threshold = threshold;
                if (!blend) {
                    blend.emplace(cfg);
                    blend->fit(ds, ds.userItems, model);
                }
                coldstart::ColdUser cu = blend->userFromDataset(ds, ds.userItems, user);
                cu.history = history;
                for (const QString& c : p.value(QStringLiteral("categories")).split(u',', Qt::SkipEmptyParts)) {
                    const auto idx = ds.categories.indexOf(c.trimmed());
                    if (idx < 0)
                        throw Error(QStringLiteral("unknown category '%1' (known: %2)").arg(c, ds.categories.join(QStringLiteral(", "))));
                    cu.statedCategories.push_back(static_cast<int32_t>(idx));
                }
                for (const auto& c : blend->recommend(cu, n))
                    picks.push_back({ c.item, c.score, coldstart::sourceName(c.source) });
            } else {
                for (const auto& sc : cf::recommend(*model, history, n))
                    picks.push_back({ sc.item, sc.score, model->algorithm() });
            }
            return picks;
        };
        const std::vector<Pick> picks = listFor(whatIf ? cf::History::adHoc(items, values)
                                                       : cf::History::ofUser(ds.userItems, user),
            cold);
        if (cold) {
            const coldstart::ColdStartConfig& cfg = blend->config();
            text += QStringLiteral("Blend: cf %1, content %2, profile %3, category %4, popularity %5 (each source scaled "
                                   "to [0, 1], weighted, summed; source = the largest weighted share)\n")
                        .arg(cfg.cfWeight)
                        .arg(cfg.contentWeight)
                        .arg(cfg.profileWeight)
                        .arg(cfg.categoryWeight)
                        .arg(cfg.popularityWeight);
        }
        int rank = 0;
        for (const Pick& pick : picks)
            addRow(++rank, pick.item, pick.score, pick.source);
        // Against the stored history's list: items entering and leaving, and rank moves.
        QJsonObject diff;
        if (whatIf) {
            const std::vector<Pick> real = listFor(cf::History::ofUser(ds.userItems, user), ds.isCold(user, threshold));
            std::vector<int32_t> realItems, nowItems;
            for (const Pick& pick : real)
                realItems.push_back(pick.item);
            for (const Pick& pick : picks)
                nowItems.push_back(pick.item);
            const pipeline::ListDiff d = pipeline::diffLists(realItems, nowItems);
            auto idOf = [&](int32_t item) { return ds.items[static_cast<size_t>(item)].externalId; };
            QJsonArray entering, leaving, moved;
            QStringList enterText, leaveText;
            for (const auto& e : d.entering) {
                entering.append(QJsonObject { { QStringLiteral("item_id"), idOf(e.item) }, { QStringLiteral("rank"), e.rank } });
                enterText << QStringLiteral("%1 (#%2)").arg(idOf(e.item)).arg(e.rank);
            }
            for (const auto& m : d.moved)
                moved.append(QJsonObject { { QStringLiteral("item_id"), idOf(m.item) }, { QStringLiteral("from"), m.from },
                    { QStringLiteral("to"), m.to } });
            for (const auto& e : d.leaving) {
                leaving.append(QJsonObject { { QStringLiteral("item_id"), idOf(e.item) }, { QStringLiteral("rank"), e.rank } });
                leaveText << QStringLiteral("%1 (was #%2)").arg(idOf(e.item)).arg(e.rank);
            }
            diff = QJsonObject { { QStringLiteral("entering"), entering }, { QStringLiteral("leaving"), leaving },
                { QStringLiteral("moved"), moved } };
            text += QStringLiteral("Against the stored history: %1 entering, %2 leaving, %3 moved\n")
                        .arg(entering.size())
                        .arg(leaving.size())
                        .arg(moved.size());
            if (!enterText.isEmpty())
                text += QStringLiteral("  entering: %1\n").arg(enterText.join(QStringLiteral(", ")));
            if (!leaveText.isEmpty())
                text += QStringLiteral("  leaving:  %1\n").arg(leaveText.join(QStringLiteral(", ")));
        }
        const double ms = timer.nsecsElapsed() / 1e6;
        if (p.isSet(kJson)) {
            out(QString::fromUtf8(QJsonDocument(QJsonObject { { QStringLiteral("user"), userId },
                                                    { QStringLiteral("interactions"), historySize },
                                                    { QStringLiteral("what_if"), whatIf },
                                                    { QStringLiteral("synthetic_of"),
                                                        syntheticOf.isEmpty() ? QJsonValue() : QJsonValue(syntheticOf) },
                                                    { QStringLiteral("diff"), whatIf ? QJsonValue(diff) : QJsonValue() },
                                                    { QStringLiteral("cold"), cold },
                                                    { QStringLiteral("model"), model->algorithm() },
                                                    { QStringLiteral("model_source"), note },
                                                    { QStringLiteral("milliseconds"), ms },
                                                    { QStringLiteral("candidates"), rows } })
                                      .toJson(QJsonDocument::Compact)));
        } else {
            out(text + QStringLiteral("(%1; %2 ms)").arg(note).arg(ms, 0, 'f', 1));
        }
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
