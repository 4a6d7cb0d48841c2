#include "cli.h"

#include "cf/snapshots.h"
#include "data/workspace.h"
#include "pipeline/rerankpipeline.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QDateTime>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

const QString kWorkspace = QStringLiteral("workspace");
const QString kJson = QStringLiteral("json");

void addWorkspaceOption(QCommandLineParser& p)
{
    p.addOption({ { QStringLiteral("w"), kWorkspace }, QStringLiteral("Workspace file (*.recwb)."), QStringLiteral("file") });
}

QString compact(const QJsonValue& v)
{
    return QString::fromUtf8(v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)
                                         : QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
}

QString action(const QCommandLineParser& p, const QStringList& accepted, const QString& command)
{
    const QStringList pos = p.positionalArguments();
    if (pos.isEmpty() || !accepted.contains(pos.first()))
        throw Error(QStringLiteral("usage: recwb-cli %1 %2 ...").arg(command, accepted.join(u'|')));
    return pos.first();
}

int intOption(const QCommandLineParser& p, const QString& name, int fallback)
{
    if (!p.isSet(name))
        return fallback;
    bool ok = false;
    const int v = p.value(name).toInt(&ok);
    if (!ok)
        throw Error(QStringLiteral("--%1 '%2' is not an integer").arg(name, p.value(name)));
    return v;
}

std::optional<double> doubleOption(const QCommandLineParser& p, const QString& name)
{
    if (!p.isSet(name))
        return std::nullopt;
    bool ok = false;
    const double v = p.value(name).toDouble(&ok);
    if (!ok)
        throw Error(QStringLiteral("--%1 '%2' is not a number").arg(name, p.value(name)));
    return v;
}

QString priceText(const std::optional<double>& v)
{
    return v ? QString::number(*v) : QStringLiteral("?");
}

// ---- endpoints ----

const Registrar endpointsCommand { Command {
    QStringLiteral("endpoints"),
    QStringLiteral("List, add or remove LLM endpoint profiles (keys are never stored: only the env variable name)."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addPositionalArgument(QStringLiteral("action"), QStringLiteral("list | add | remove"));
        p.addOption({ QStringLiteral("name"), QStringLiteral("Endpoint name."), QStringLiteral("name") });
        p.addOption({ QStringLiteral("kind"), QStringLiteral("openai | anthropic | gemini | ollama | offline."),
            QStringLiteral("kind") });
        p.addOption({ QStringLiteral("base-url"), QStringLiteral("Base URL, e.g. https://api.openai.com/v1."),
            QStringLiteral("url") });
        p.addOption({ QStringLiteral("model"), QStringLiteral("Model id."), QStringLiteral("model") });
        p.addOption({ QStringLiteral("key-env"),
            QStringLiteral("Environment variable holding the API key (the key itself is never stored)."),
            QStringLiteral("var") });
        p.addOption({ QStringLiteral("timeout-ms"), QStringLiteral("Deadline per request (default 60000)."),
            QStringLiteral("ms") });
        p.addOption({ QStringLiteral("max-concurrent"), QStringLiteral("Calls in flight at once (default 4)."),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("temperature"), QStringLiteral("Sampling temperature (default 0)."),
            QStringLiteral("t") });
        p.addOption({ QStringLiteral("max-output-tokens"), QStringLiteral("Answer token cap (default 2048)."),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("price-input"), QStringLiteral("USD per 1M input tokens."), QStringLiteral("usd") });
        p.addOption({ QStringLiteral("price-cached"), QStringLiteral("USD per 1M cached input tokens."),
            QStringLiteral("usd") });
        p.addOption({ QStringLiteral("price-output"), QStringLiteral("USD per 1M output tokens."), QStringLiteral("usd") });
        p.addOption({ QStringLiteral("allow-insecure-http"),
            QStringLiteral("Allow http:// to a non-loopback host (keys travel in clear text).") });
        p.addOption({ kJson, QStringLiteral("Print JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p, { QStringLiteral("list"), QStringLiteral("add"), QStringLiteral("remove") },
            QStringLiteral("endpoints"));
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        if (what == u"list") {
            const auto list = rerank::store::listEndpoints(*ws);
            const QString def = rerank::store::defaultEndpoint(*ws);
            if (p.isSet(kJson)) {
                QJsonArray a;
                for (const auto& e : list) {
                    QJsonObject o = e.toJson();
                    o.insert(QStringLiteral("default"), e.name == def);
                    a.append(o);
                }
                out(compact(a));
                return 0;
            }
            for (const auto& e : list)
                out(QStringLiteral("%1 %2  %3  %4  %5  key %6  prices in/cached/out %7/%8/%9 per 1M")
                        .arg(e.name == def ? QStringLiteral("*") : QStringLiteral(" "))
                        .arg(e.name.leftJustified(16), rerank::providerKindName(e.kind).leftJustified(9),
                            e.model.leftJustified(20), (e.baseUrl.isEmpty() ? QStringLiteral("-") : e.baseUrl),
                            e.keyEnv.isEmpty() ? QStringLiteral("-") : QStringLiteral("$") + e.keyEnv,
                            priceText(e.prices.input), priceText(e.prices.cachedInput), priceText(e.prices.output)));
            return 0;
        }
        const QString name = requireOption(p, QStringLiteral("name"));
        if (what == u"remove") {
            if (!rerank::store::removeEndpoint(*ws, name))
                throw Error(QStringLiteral("%1: no endpoint \"%2\"").arg(ws->path(), name));
            out(QStringLiteral("Removed endpoint %1").arg(name));
            return 0;
        }
        // add (or replace)
        rerank::EndpointProfile e;
        e.name = name;
        const QString kindName = requireOption(p, QStringLiteral("kind"));
        const auto kind = rerank::providerKindFromName(kindName);
        if (!kind)
            throw Error(QStringLiteral("--kind '%1': expected openai, anthropic, gemini, ollama or offline").arg(kindName));
        e.kind = *kind;
        e.baseUrl = p.value(QStringLiteral("base-url"));
        e.model = p.value(QStringLiteral("model"));
        e.keyEnv = p.value(QStringLiteral("key-env"));
        e.timeoutMs = intOption(p, QStringLiteral("timeout-ms"), e.timeoutMs);
        e.maxConcurrent = intOption(p, QStringLiteral("max-concurrent"), e.maxConcurrent);
        e.maxOutputTokens = intOption(p, QStringLiteral("max-output-tokens"), e.maxOutputTokens);
        if (const auto t = doubleOption(p, QStringLiteral("temperature")))
            e.temperature = *t;
        e.prices.input = doubleOption(p, QStringLiteral("price-input"));
        e.prices.cachedInput = doubleOption(p, QStringLiteral("price-cached"));
        e.prices.output = doubleOption(p, QStringLiteral("price-output"));
        if (e.prices.input || e.prices.cachedInput || e.prices.output)
            e.prices.asOf = QDateTime::currentDateTimeUtc().date().toString(Qt::ISODate);
        e.allowInsecureHttp = p.isSet(QStringLiteral("allow-insecure-http"));
        if (e.kind != rerank::ProviderKind::Offline && e.baseUrl.isEmpty())
            throw Error(QStringLiteral("missing required option --base-url for a %1 endpoint").arg(kindName));
        if (e.kind != rerank::ProviderKind::Offline && e.model.isEmpty())
            throw Error(QStringLiteral("missing required option --model for a %1 endpoint").arg(kindName));
        rerank::store::upsertEndpoint(*ws, e);
        if (p.isSet(kJson))
            out(compact(e.toJson()));
        else
            out(QStringLiteral("Saved endpoint %1 (%2, %3)").arg(e.name, rerank::providerKindName(e.kind), e.model));
        return 0;
    } } };

// ---- prompts ----

const Registrar promptsCommand { Command {
    QStringLiteral("prompts"),
    QStringLiteral("List prompt templates, show one, or add a version from a file."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addPositionalArgument(QStringLiteral("action"),
            QStringLiteral("list | show NAME[@VERSION] | add-version NAME --file F [--note N]"));
        p.addOption({ QStringLiteral("file"), QStringLiteral("Template text file (mustache)."), QStringLiteral("file") });
        p.addOption({ QStringLiteral("note"), QStringLiteral("A note for the new version."), QStringLiteral("text") });
        p.addOption({ kJson, QStringLiteral("Print JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p,
            { QStringLiteral("list"), QStringLiteral("show"), QStringLiteral("add-version") }, QStringLiteral("prompts"));
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        rerank::store::seedDefaultTemplates(*ws);
        auto toJson = [](const rerank::store::TemplateVersion& t, bool withText) {
            QJsonObject o { { QStringLiteral("name"), t.name }, { QStringLiteral("version"), t.version },
                { QStringLiteral("ref"), t.ref() }, { QStringLiteral("note"), t.note },
                { QStringLiteral("created_at"), t.createdAt } };
            if (t.parentVersion)
                o.insert(QStringLiteral("parent_version"), *t.parentVersion);
            if (withText)
                o.insert(QStringLiteral("text"), t.text);
            return o;
        };
        if (what == u"list") {
            const auto list = rerank::store::listTemplates(*ws);
            if (p.isSet(kJson)) {
                QJsonArray a;
                for (const auto& t : list)
                    a.append(toJson(t, false));
                out(compact(a));
                return 0;
            }
            for (const auto& t : list)
                out(QStringLiteral("%1  %2  %3")
                        .arg(t.ref().leftJustified(20),
                            QDateTime::fromSecsSinceEpoch(t.createdAt, Qt::UTC).toString(Qt::ISODate), t.note));
            return 0;
        }
        const QStringList pos = p.positionalArguments();
        if (pos.size() < 2)
            throw Error(QStringLiteral("usage: recwb-cli prompts %1 NAME%2").arg(what,
                what == u"show" ? QStringLiteral("[@VERSION]") : QStringLiteral(" --file F [--note N]")));
        if (what == u"show") {
            const auto t = rerank::store::getTemplate(*ws, pos[1]);
            if (p.isSet(kJson))
                out(compact(toJson(t, true)));
            else
                out(t.text);
            return 0;
        }
        const QString fileName = requireOption(p, QStringLiteral("file"));
        QFile f(fileName);
        if (!f.open(QIODevice::ReadOnly))
            throw Error(QStringLiteral("%1: %2").arg(fileName, f.errorString()));
        const QString text = QString::fromUtf8(f.readAll());
        if (pos[1].contains(u'@'))
            throw Error(QStringLiteral("add-version takes a template name without @version"));
        rerank::checkTemplate(rerank::PromptTemplate { pos[1], 0, text }); // refuse a broken template before storing
        const auto t = rerank::store::addTemplateVersion(*ws, pos[1], text, p.value(QStringLiteral("note")));
        if (p.isSet(kJson))
            out(compact(toJson(t, false)));
        else
            out(QStringLiteral("Added %1").arg(t.ref()));
        return 0;
    } } };

// ---- rerank ----

const Registrar rerankCommand { Command {
    QStringLiteral("rerank"),
    QStringLiteral("Rerank one user's CF candidates with a prompt and an endpoint (offline or an LLM)."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addOption({ QStringLiteral("user"), QStringLiteral("The user's external id."), QStringLiteral("id") });
        p.addOption({ QStringLiteral("prompt"), QStringLiteral("Template NAME or NAME@VERSION (default listwise)."),
            QStringLiteral("ref"), QStringLiteral("listwise") });
        p.addOption({ QStringLiteral("endpoint"), QStringLiteral("Endpoint name (default: the workspace's default)."),
            QStringLiteral("name") });
        p.addOption({ QStringLiteral("model"), QStringLiteral("Override the endpoint's model."), QStringLiteral("model") });
        p.addOption({ QStringLiteral("cf-model"), QStringLiteral("CF model or snapshot name for candidates (default ease)."),
            QStringLiteral("name"), QStringLiteral("ease") });
        p.addOption({ QStringLiteral("candidates"), QStringLiteral("CF candidates to rerank (default 50)."),
            QStringLiteral("n"), QStringLiteral("50") });
        p.addOption({ QStringLiteral("k"), QStringLiteral("How many to pick (default 10)."), QStringLiteral("k"),
            QStringLiteral("10") });
        p.addOption({ QStringLiteral("no-cache"), QStringLiteral("Do not read the response cache (fresh call).") });
        p.addOption({ kJson, QStringLiteral("Print one JSON object.") });
    },
    [](QCommandLineParser& p) {
        const QString userId = requireOption(p, QStringLiteral("user"));
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        const Dataset ds = ws->load(TaskControl { progressPrinter(), {} });
        const int32_t user = ds.userIndex(userId);
        if (user < 0)
            throw Error(QStringLiteral("%1: no user '%2'").arg(ws->path(), userId));
        QString note;
        const auto model = cf::snapshotOrTrain(*ws, ds, p.value(QStringLiteral("cf-model")), &note);
        pipeline::RerankOptions options;
        options.prompt = p.value(QStringLiteral("prompt"));
        options.endpoint = p.value(QStringLiteral("endpoint"));
        options.model = p.value(QStringLiteral("model"));
        options.candidates = std::max(1, intOption(p, QStringLiteral("candidates"), 50));
        options.k = std::max(1, intOption(p, QStringLiteral("k"), 10));
        options.bypassCache = p.isSet(QStringLiteral("no-cache"));
        const pipeline::RerankOutcome o = pipeline::rerankUser(*ws, ds, *model, user, options);
        if (p.isSet(kJson)) {
            QJsonObject j = o.toJson();
            j.insert(QStringLiteral("cf_model"), model->algorithm());
            j.insert(QStringLiteral("cf_model_source"), note);
            out(compact(j));
            return 0;
        }
        QString text = QStringLiteral("User %1: %2 via %3 (%4, %5), %6 candidates from %7%8\n")
                           .arg(o.userId, o.templateRef, o.endpoint, rerank::providerKindName(o.kind), o.model)
                           .arg(o.candidateCount)
                           .arg(model->algorithm(), o.coldStart ? QStringLiteral(" (cold-start blend)") : QString());
        for (qsizetype i = 0; i < o.result.items.size(); ++i) {
            const auto& r = o.result.items[i];
            text += QStringLiteral("%1  %2  %3  %4  cf#%5  %6\n")
                        .arg(r.rank, 3)
                        .arg(r.externalId.leftJustified(10), o.titles.value(i).left(40).leftJustified(40),
                            r.score ? QString::number(*r.score, 'f', 3).rightJustified(7) : QStringLiteral("      -"))
                        .arg(r.cfRank, -3)
                        .arg(r.explanation.simplified());
        }
        QStringList defects;
        for (const auto& d : o.result.defects)
            defects.append(d.kind);
        text += QStringLiteral("fallback: %1; defects: %2; tokens: %3 in (%4 cached) / %5 out; cost: %6; cache: %7; "
                               "ms: candidates %8, enrichment %9, render %10, llm %11, parse %12")
                    .arg(o.fallback() ? QStringLiteral("yes (") + o.result.fallbackReason + u')' : QStringLiteral("no"),
                        defects.isEmpty() ? QStringLiteral("none") : defects.join(u','))
                    .arg(o.usage.inputTokens)
                    .arg(o.usage.cachedInputTokens)
                    .arg(o.usage.outputTokens)
                    .arg(o.cost ? QStringLiteral("$%1").arg(*o.cost, 0, 'f', 6) : QStringLiteral("unknown"),
                        o.kind == rerank::ProviderKind::Offline ? QStringLiteral("n/a") : o.cacheHit ? QStringLiteral("hit") : (options.bypassCache ? QStringLiteral("bypassed")
                                                                                  : QStringLiteral("miss")))
                    .arg(o.stageMs.candidates, 0, 'f', 1)
                    .arg(o.stageMs.enrichment, 0, 'f', 1)
                    .arg(o.stageMs.render, 0, 'f', 1)
                    .arg(o.stageMs.llm, 0, 'f', 1)
                    .arg(o.stageMs.parse, 0, 'f', 1);
        out(text);
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
