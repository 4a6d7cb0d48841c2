#include "cli.h"

#include "cf/snapshots.h"
#include "data/workspace.h"
#include "pipeline/rerankpipeline.h"
#include "rerank/prices.h"
#include "rerank/prompt.h"
#include "rerank/promptdiff.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

QJsonValue priceJson(const std::optional<double>& v)
{
    return v.has_value() ? QJsonValue(v.value_or(0.0)) : QJsonValue(QJsonValue::Null);
}

QString priceText(const std::optional<double>& v)
{
    return v ? QString::number(*v) : QStringLiteral("unknown");
}

QJsonObject pricesJson(const rerank::PriceChoice& c)
{
    const rerank::Prices pr = c.prices.value_or(rerank::Prices {});
    return { { QStringLiteral("input"), priceJson(pr.input) }, { QStringLiteral("cached_input"), priceJson(pr.cachedInput) },
        { QStringLiteral("cache_write"), priceJson(pr.cacheWrite) }, { QStringLiteral("output"), priceJson(pr.output) },
        { QStringLiteral("as_of"), pr.asOf }, { QStringLiteral("source"), c.source },
        { QStringLiteral("provider"), c.provider }, { QStringLiteral("model"), c.model },
        { QStringLiteral("known"), c.prices.has_value() } };
}

// `prompts render`: stages 1-3 of the pipeline for one user, then the size and the cost
// estimate for an endpoint. Nothing is sent: no LlmClient exists here.
int renderPrompt(QCommandLineParser& p)
{
    const auto ws = Workspace::open(requireOption(p, kWorkspace));
    const QString userId = requireOption(p, QStringLiteral("user"));
    const Dataset ds = ws->load(TaskControl { progressPrinter(), {} });
    const int32_t user = ds.userIndex(userId);
    if (user < 0)
        throw Error(QStringLiteral("--user '%1': no such user in the workspace").arg(userId));
    QString cfNote;
    const auto model = cf::snapshotOrTrain(*ws, ds, p.value(QStringLiteral("cf-model")), &cfNote);
    pipeline::PipelineContext ctx(*ws, ds, *model); // loads the price table the way a run does
    const rerank::PriceTable prices = rerank::PriceTable::loadWithOverride();
    const rerank::EndpointProfile endpoint = ctx.endpoint(p.value(QStringLiteral("endpoint")), p.value(QStringLiteral("model")));

    // The same template choice as `rerank`: cold users get coldstart unless a prompt is given.
    const bool cold = ds.isCold(user, ctx.coldThreshold());
    const QString ref = cold && p.isSet(QStringLiteral("cold-prompt")) ? p.value(QStringLiteral("cold-prompt"))
        : p.isSet(QStringLiteral("prompt"))                            ? p.value(QStringLiteral("prompt"))
        : cold                                                         ? QStringLiteral("coldstart")
                                                                       : QStringLiteral("listwise");
    const pipeline::PreparedUser prepared = pipeline::prepareUser(ctx, user, ctx.promptTemplate(ref),
        std::max(1, intOption(p, QStringLiteral("candidates"), 50)), std::max(1, intOption(p, QStringLiteral("k"), 10)));
    const rerank::RenderedPrompt& prompt = prepared.prompt;

    const bool offline = endpoint.kind == rerank::ProviderKind::Offline;
    const rerank::PriceChoice choice = prices.choose(endpoint);
    const rerank::PromptEstimate estimate
        = rerank::estimateCost(prompt, choice.prices.value_or(rerank::Prices {}), prepared.k,
            rerank::kDefaultTokensPerItem, endpoint.maxOutputTokens);
    // The offline reranker makes no call: 0. Unknown prices stay unknown, never 0.
    const bool costKnown = offline || (choice.prices.has_value() && estimate.usd.has_value());
    const double costUsd = offline ? 0.0 : estimate.usd.value_or(0.0); // meaningful only when costKnown

    if (p.isSet(kJson)) {
        QJsonArray messages;
        for (const rerank::ChatMessage& m : prompt.request.messages)
            messages.append(QJsonObject { { QStringLiteral("role"), m.role }, { QStringLiteral("content"), m.content },
                { QStringLiteral("cache_breakpoint"), m.cacheBreakpoint } });
        out(compact(QJsonObject {
            { QStringLiteral("user"), prepared.outcome.userId },
            { QStringLiteral("cold_start"), prepared.outcome.coldStart },
            { QStringLiteral("template"), prompt.templateRef },
            { QStringLiteral("candidates"), prepared.outcome.candidateCount },
            { QStringLiteral("k"), prepared.k },
            { QStringLiteral("cf_model"), model->algorithm() },
            { QStringLiteral("endpoint"), endpoint.name },
            { QStringLiteral("kind"), rerank::providerKindName(endpoint.kind) },
            { QStringLiteral("model"), endpoint.model },
            { QStringLiteral("messages"), messages },
            { QStringLiteral("chars"), prompt.chars },
            { QStringLiteral("estimated_input_tokens"), estimate.inputTokens },
            { QStringLiteral("estimated_output_tokens"), estimate.outputTokens },
            { QStringLiteral("tokens_per_item"), rerank::kDefaultTokensPerItem },
            { QStringLiteral("output_capped"), estimate.outputCapped },
            { QStringLiteral("estimated_cost_usd"), costKnown ? QJsonValue(costUsd) : QJsonValue(QJsonValue::Null) },
            { QStringLiteral("prices"), pricesJson(choice) },
            { QStringLiteral("call"), !offline },
            { QStringLiteral("sent"), false },
        }));
        return 0;
    }

    QString text;
    for (const rerank::ChatMessage& m : prompt.request.messages)
        text += QStringLiteral("===== %1 =====\n%2\n").arg(m.role, m.content.trimmed());
    text += QStringLiteral("===== estimate (nothing was sent) =====\n");
    text += QStringLiteral("user: %1 (%2), template %3, %4 candidates from %5, k %6\n")
                .arg(prepared.outcome.userId, cold ? QStringLiteral("cold: cold-start blend") : QStringLiteral("warm"),
                    prompt.templateRef)
                .arg(prepared.outcome.candidateCount)
                .arg(model->algorithm())
                .arg(prepared.k);
    text += QStringLiteral("size: %1 characters, ~%2 input tokens (estimate)\n").arg(prompt.chars).arg(estimate.inputTokens);
    text += estimate.outputCapped
        ? QStringLiteral("output: %1 tokens (the endpoint's output cap; k %2 x %3 per item + 16 would be more: the "
                         "answer may be truncated)\n")
              .arg(estimate.outputTokens)
              .arg(prepared.k)
              .arg(rerank::kDefaultTokensPerItem)
        : QStringLiteral("output: ~%1 tokens (k %2 x %3 per item + 16)\n")
              .arg(estimate.outputTokens)
              .arg(prepared.k)
              .arg(rerank::kDefaultTokensPerItem);
    text += QStringLiteral("endpoint: %1 (%2, model %3)\n")
                .arg(endpoint.name, rerank::providerKindName(endpoint.kind), endpoint.model);
    if (offline) {
        text += QStringLiteral("cost: $0 (offline reranker: no call)");
    } else if (!choice.prices) {
        text += QStringLiteral("prices: unknown (no endpoint prices, no row for %1 model \"%2\")\n")
                    .arg(choice.provider, endpoint.model);
        text += QStringLiteral("estimated cost: unknown (set --price-* on the endpoint or add a row to %1)")
                    .arg(rerank::priceOverrideLocation().path);
    } else {
        const rerank::Prices& pr = *choice.prices;
        const QString row = choice.source == u"endpoint"
            ? QStringLiteral("the endpoint's own prices")
            : QStringLiteral("row %1 \"%2\" from %3").arg(choice.provider, choice.model, choice.source);
        text += QStringLiteral("prices: input %1, cached input %2, output %3 USD per 1M tokens, as of %4; %5\n")
                    .arg(priceText(pr.input), priceText(pr.cachedInput), priceText(pr.output),
                        pr.asOf.isEmpty() ? QStringLiteral("(no date)") : pr.asOf, row);
        text += costKnown ? QStringLiteral("estimated cost: $%1 (no prompt-cache reads assumed)").arg(costUsd, 0, 'f', 6)
                          : QStringLiteral("estimated cost: unknown (a price needed for this estimate is unknown)");
    }
    out(text);
    return 0;
}

// ---- prompts versions / diff / label ----

QString utcTime(qint64 secs)
{
    return QDateTime::fromSecsSinceEpoch(secs, Qt::UTC).toString(Qt::ISODate);
}

QJsonObject templateJson(const rerank::store::TemplateVersion& t, const QStringList& labels, bool withText)
{
    QJsonObject o { { QStringLiteral("name"), t.name }, { QStringLiteral("version"), t.version },
        { QStringLiteral("ref"), t.ref() }, { QStringLiteral("note"), t.note },
        { QStringLiteral("created_at"), t.createdAt },
        { QStringLiteral("labels"), QJsonArray::fromStringList(labels) } };
    if (t.parentVersion)
        o.insert(QStringLiteral("parent_version"), *t.parentVersion);
    if (withText)
        o.insert(QStringLiteral("text"), t.text);
    return o;
}

int listVersions(const Workspace& ws, const QString& name, bool json)
{
    const auto versions = rerank::store::templateVersions(ws, name);
    if (versions.isEmpty())
        throw Error(QStringLiteral("%1: no prompt template \"%2\"").arg(ws.path(), name));
    const auto labels = rerank::store::labelsFor(ws, name);
    if (json) {
        QJsonArray a;
        for (const auto& t : versions)
            a.append(templateJson(t, labels.value(t.version), false));
        out(compact(a));
        return 0;
    }
    QString text = QStringLiteral("%1 %2 %3  %4  %5\n")
                       .arg(QStringLiteral("version").leftJustified(8), QStringLiteral("parent").leftJustified(7),
                           QStringLiteral("created (UTC)").leftJustified(20),
                           QStringLiteral("labels").leftJustified(20), QStringLiteral("note"));
    for (const auto& t : versions)
        text += QStringLiteral("%1 %2 %3  %4  %5\n")
                    .arg(QString::number(t.version).leftJustified(8),
                        (t.parentVersion ? QString::number(*t.parentVersion) : QStringLiteral("-")).leftJustified(7),
                        utcTime(t.createdAt).leftJustified(20),
                        labels.value(t.version).join(QStringLiteral(", ")).leftJustified(20), t.note);
    text.chop(1);
    out(text);
    return 0;
}

int diffVersions(const Workspace& ws, const QString& a, const QString& b, bool json)
{
    const auto oldT = rerank::store::getTemplate(ws, a);
    const auto newT = rerank::store::getTemplate(ws, b);
    const rerank::PromptDiff diff = rerank::diffTemplates(oldT.text, newT.text, oldT.ref(), newT.ref());
    if (json)
        out(compact(rerank::diffJson(diff)));
    else if (diff.identical())
        out(QStringLiteral("%1 and %2 are identical").arg(oldT.ref(), newT.ref()));
    else
        out(rerank::diffText(diff).chopped(1));
    return 0;
}

// `prompts label NAME@V LABEL` sets or moves; `prompts label NAME[@V] LABEL --remove` removes.
int labelVersion(Workspace& ws, const QString& ref, const QString& label, bool remove, bool json)
{
    const qsizetype at = ref.lastIndexOf(u'@');
    const QString name = at < 0 ? ref : ref.left(at);
    if (remove) {
        if (!rerank::store::removeLabel(ws, name, label))
            throw Error(QStringLiteral("%1: prompt template \"%2\" has no label \"%3\"").arg(ws.path(), name, label));
        if (json)
            out(compact(QJsonObject { { QStringLiteral("name"), name }, { QStringLiteral("label"), label },
                { QStringLiteral("removed"), true } }));
        else
            out(QStringLiteral("Removed label %1 from %2").arg(label, name));
        return 0;
    }
    if (at < 0)
        throw Error(QStringLiteral("usage: recwb-cli prompts label NAME@VERSION LABEL (the version to point at)"));
    const auto t = rerank::store::getTemplate(ws, ref); // a label as the target resolves to its version
    const std::optional<int> before = rerank::store::labelVersion(ws, name, label);
    rerank::store::setLabel(ws, t.name, label, t.version);
    if (json) {
        QJsonObject o { { QStringLiteral("name"), t.name }, { QStringLiteral("label"), label },
            { QStringLiteral("version"), t.version } };
        if (before)
            o.insert(QStringLiteral("previous_version"), *before);
        out(compact(o));
    } else {
        out(before && *before != t.version ? QStringLiteral("Moved label %1 of %2 from version %3 to %4")
                                                 .arg(label, t.name)
                                                 .arg(*before)
                                                 .arg(t.version)
                                           : QStringLiteral("Label %1 -> %2").arg(label, t.ref()));
    }
    return 0;
}

// ---- prompts ----

const Registrar promptsCommand { Command {
    QStringLiteral("prompts"),
    QStringLiteral("List prompt templates, show one, add a version from a file, or render one for a user "
                   "with its size and estimated cost (nothing is sent)."),
    [](QCommandLineParser& p) {
        addWorkspaceOption(p);
        p.addPositionalArgument(QStringLiteral("action"),
            QStringLiteral("list | show NAME[@VERSION|@LABEL] | versions NAME | diff NAME@A NAME@B | "
                           "label NAME@VERSION LABEL [--remove] | add-version NAME --file F [--note N] [--parent V] | "
                           "render --user ID [--prompt NAME[@VERSION|@LABEL]] [--endpoint NAME] [--model M]"));
        p.addOption({ QStringLiteral("remove"), QStringLiteral("label: remove the label instead of setting it.") });
        p.addOption({ QStringLiteral("file"), QStringLiteral("Template text file (mustache)."), QStringLiteral("file") });
        p.addOption({ QStringLiteral("note"), QStringLiteral("A note for the new version."), QStringLiteral("text") });
        p.addOption({ QStringLiteral("parent"),
            QStringLiteral("add-version: the version the new one was edited from (default: the newest)."),
            QStringLiteral("version") });
        p.addOption({ QStringLiteral("user"), QStringLiteral("render: the user's external id."), QStringLiteral("id") });
        p.addOption({ QStringLiteral("prompt"),
            QStringLiteral("render: template NAME, NAME@VERSION or NAME@LABEL (default listwise; coldstart for cold "
                           "users)."),
            QStringLiteral("ref") });
        p.addOption({ QStringLiteral("cold-prompt"), QStringLiteral("render: template for a cold user (as in rerank)."),
            QStringLiteral("ref") });
        p.addOption({ QStringLiteral("endpoint"),
            QStringLiteral("render: endpoint to estimate the cost for (default: the workspace's default)."),
            QStringLiteral("name") });
        p.addOption({ QStringLiteral("model"), QStringLiteral("render: override the endpoint's model."),
            QStringLiteral("model") });
        p.addOption({ QStringLiteral("cf-model"),
            QStringLiteral("render: CF model or snapshot name for candidates (default ease)."), QStringLiteral("name"),
            QStringLiteral("ease") });
        p.addOption({ QStringLiteral("candidates"), QStringLiteral("render: CF candidates (default 50)."),
            QStringLiteral("n"), QStringLiteral("50") });
        p.addOption({ QStringLiteral("k"), QStringLiteral("render: how many to pick (default 10)."), QStringLiteral("k"),
            QStringLiteral("10") });
        p.addOption({ kJson, QStringLiteral("Print JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p,
            { QStringLiteral("list"), QStringLiteral("show"), QStringLiteral("versions"), QStringLiteral("diff"),
                QStringLiteral("label"), QStringLiteral("add-version"), QStringLiteral("render") },
            QStringLiteral("prompts"));
        if (what == u"render")
            return renderPrompt(p);
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        rerank::store::seedDefaultTemplates(*ws);
        auto toJson = [&ws](const rerank::store::TemplateVersion& t, bool withText) {
            return templateJson(t, rerank::store::labelsFor(*ws, t.name).value(t.version), withText);
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
                out(QStringLiteral("%1  %2  %3").arg(t.ref().leftJustified(20), utcTime(t.createdAt), t.note));
            return 0;
        }
        const QStringList pos = p.positionalArguments();
        if (what == u"versions") {
            if (pos.size() != 2)
                throw Error(QStringLiteral("usage: recwb-cli prompts versions NAME"));
            return listVersions(*ws, pos[1], p.isSet(kJson));
        }
        if (what == u"diff") {
            if (pos.size() != 3)
                throw Error(QStringLiteral("usage: recwb-cli prompts diff NAME@A NAME@B"));
            return diffVersions(*ws, pos[1], pos[2], p.isSet(kJson));
        }
        if (what == u"label") {
            if (pos.size() != 3)
                throw Error(QStringLiteral("usage: recwb-cli prompts label NAME@VERSION LABEL [--remove]"));
            return labelVersion(*ws, pos[1], pos[2], p.isSet(QStringLiteral("remove")), p.isSet(kJson));
        }
        if (pos.size() < 2)
            throw Error(QStringLiteral("usage: recwb-cli prompts %1 NAME%2")
                            .arg(what,
                                what == u"show" ? QStringLiteral("[@VERSION|@LABEL]")
                                                : QStringLiteral(" --file F [--note N] [--parent V]")));
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
        std::optional<int> parent; // default: the newest version
        if (p.isSet(QStringLiteral("parent")))
            parent = intOption(p, QStringLiteral("parent"), 0);
        const auto t = rerank::store::addTemplateVersion(*ws, pos[1], text, p.value(QStringLiteral("note")), parent);
        if (p.isSet(kJson))
            out(compact(toJson(t, false)));
        else
            out(t.parentVersion ? QStringLiteral("Added %1 (from version %2)").arg(t.ref()).arg(*t.parentVersion)
                                : QStringLiteral("Added %1").arg(t.ref()));
        return 0;
    } } };

// ---- prices ----

const Registrar pricesCommand { Command {
    QStringLiteral("prices"),
    QStringLiteral("The price table (USD per 1M tokens): the shipped rows and the user's override file."),
    [](QCommandLineParser& p) {
        p.addPositionalArgument(QStringLiteral("action"),
            QStringLiteral("list (every row with its source) | path (where the override file is looked for)"));
        p.addOption({ kJson, QStringLiteral("Print JSON.") });
    },
    [](QCommandLineParser& p) {
        const QString what = action(p, { QStringLiteral("list"), QStringLiteral("path") }, QStringLiteral("prices"));
        const rerank::PriceOverrideLocation where = rerank::priceOverrideLocation();
        const bool exists = !where.path.isEmpty() && QFileInfo::exists(where.path);
        const QString rule = where.fromEnvironment ? QStringLiteral("from RECWB_PRICES")
                                                   : QStringLiteral("the per-user file; RECWB_PRICES names another");
        if (what == u"path") {
            if (p.isSet(kJson)) {
                out(compact(QJsonObject { { QStringLiteral("path"), where.path },
                    { QStringLiteral("from_environment"), where.fromEnvironment },
                    { QStringLiteral("exists"), exists } }));
                return 0;
            }
            out(where.path);
            err(QStringLiteral("(%1; %2)").arg(rule, exists ? QStringLiteral("exists") : QStringLiteral("not present")));
            return 0;
        }
        const rerank::PriceTable table = rerank::PriceTable::loadWithOverride();
        if (p.isSet(kJson)) {
            QJsonArray rows;
            for (const rerank::PriceRow& r : table.rows())
                rows.append(QJsonObject { { QStringLiteral("provider"), r.provider }, { QStringLiteral("model"), r.model },
                    { QStringLiteral("input"), priceJson(r.prices.input) },
                    { QStringLiteral("cached_input"), priceJson(r.prices.cachedInput) },
                    { QStringLiteral("cache_write"), priceJson(r.prices.cacheWrite) },
                    { QStringLiteral("output"), priceJson(r.prices.output) }, { QStringLiteral("as_of"), r.prices.asOf },
                    { QStringLiteral("note"), r.note }, { QStringLiteral("source"), r.source } });
            out(compact(QJsonObject { { QStringLiteral("override_path"), where.path },
                { QStringLiteral("override_exists"), exists }, { QStringLiteral("rows"), rows } }));
            return 0;
        }
        auto cell = [](const std::optional<double>& v) {
            return (v ? QString::number(*v) : QStringLiteral("unknown")).rightJustified(8);
        };
        QString text = QStringLiteral("%1 %2 %3 %4 %5 %6  %7  %8\n")
                           .arg(QStringLiteral("provider").leftJustified(10), QStringLiteral("model").leftJustified(28),
                               QStringLiteral("input").rightJustified(8), QStringLiteral("cached").rightJustified(8),
                               QStringLiteral("write").rightJustified(8), QStringLiteral("output").rightJustified(8),
                               QStringLiteral("as of").leftJustified(10), QStringLiteral("source"));
        for (const rerank::PriceRow& r : table.rows())
            text += QStringLiteral("%1 %2 %3 %4 %5 %6  %7  %8\n")
                        .arg(r.provider.leftJustified(10),
                            (r.model.isEmpty() ? QStringLiteral("(any)") : r.model).leftJustified(28), cell(r.prices.input),
                            cell(r.prices.cachedInput), cell(r.prices.cacheWrite), cell(r.prices.output),
                            (r.prices.asOf.isEmpty() ? QStringLiteral("-") : r.prices.asOf).leftJustified(10), r.source);
        text += QStringLiteral("USD per 1M tokens. Override file: %1 (%2; %3)")
                    .arg(where.path, rule, exists ? QStringLiteral("loaded") : QStringLiteral("not present"));
        out(text);
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
