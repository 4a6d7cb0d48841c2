#include "pipeline/rerankpipeline.h"

#include "coldstart/coldstart.h"
#include "coldstart/content.h"
#include "data/workspace.h"
#include "rerank/cache.h"
#include "rerank/llm/blocking.h"
#include "rerank/llm/llmclient.h"
#include "rerank/offline.h"
#include "rerank/prices.h"
#include "rerank/prompt.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QElapsedTimer>
#include <QJsonArray>

#include <algorithm>
#include <memory>

namespace recwb::pipeline {
namespace {

double lap(QElapsedTimer& t)
{
    const double ms = static_cast<double>(t.nsecsElapsed()) / 1e6;
    t.restart();
    return ms;
}

// Names the request that failed: endpoint, URL, model, status and the client's message.
QString callFailure(const rerank::EndpointProfile& profile, const rerank::ChatResponse& r)
{
    QString reason = QStringLiteral("request to endpoint \"%1\" (%2, model %3) failed: %4")
                         .arg(profile.name, profile.baseUrl, profile.model, rerank::callStatusName(r.status));
    if (r.httpStatus > 0)
        reason += QStringLiteral(" (HTTP %1)").arg(r.httpStatus);
    if (!r.errorMessage.isEmpty())
        reason += QStringLiteral(": ") + r.errorMessage;
    return reason;
}

// The template by ref; shipped defaults are seeded first when the name is absent.
rerank::PromptTemplate templateFor(Workspace& ws, const QString& ref)
{
    auto t = rerank::store::findTemplate(ws, ref);
    if (!t) {
        rerank::store::seedDefaultTemplates(ws);
        t = rerank::store::getTemplate(ws, ref); // throws naming the ref when still absent
    }
    return rerank::PromptTemplate { t->name, t->version, t->text };
}

std::vector<cf::ScoredItem> coldCandidates(const Dataset& ds, const cf::Recommender& cfModel, int32_t user, int n,
    int threshold, std::unique_ptr<coldstart::ColdStartRecommender>& keep)
{
    coldstart::ColdStartConfig cfg;
    cfg.threshold = threshold;
    keep = std::make_unique<coldstart::ColdStartRecommender>(cfg);
    // Non-owning: the caller's model outlives this call.
    keep->fit(ds, ds.userItems, std::shared_ptr<const cf::Recommender>(&cfModel, [](const cf::Recommender*) {}));
    const auto cu = keep->userFromDataset(ds, ds.userItems, user);
    std::vector<cf::ScoredItem> out;
    for (const auto& c : keep->recommend(cu, n))
        out.push_back({ c.item, c.score });
    return out;
}

} // namespace

QJsonObject RerankOutcome::toJson() const
{
    QJsonArray list;
    for (qsizetype i = 0; i < result.items.size(); ++i) {
        const rerank::RankedItem& r = result.items[i];
        list.append(QJsonObject {
            { QStringLiteral("item_id"), r.externalId },
            { QStringLiteral("title"), titles.value(i) },
            { QStringLiteral("rank"), r.rank },
            { QStringLiteral("score"), r.score ? QJsonValue(*r.score) : QJsonValue(QJsonValue::Null) },
            { QStringLiteral("explanation"), r.explanation },
            { QStringLiteral("cf_rank"), r.cfRank },
            { QStringLiteral("filled"), r.filled },
        });
    }
    QJsonArray defects;
    for (const rerank::Defect& d : result.defects)
        defects.append(QJsonObject { { QStringLiteral("kind"), d.kind }, { QStringLiteral("detail"), d.detail } });
    return QJsonObject {
        { QStringLiteral("user"), userId },
        { QStringLiteral("endpoint"), endpoint },
        { QStringLiteral("kind"), rerank::providerKindName(kind) },
        { QStringLiteral("model"), model },
        { QStringLiteral("template"), templateRef },
        { QStringLiteral("cold_start"), coldStart },
        { QStringLiteral("candidates"), candidateCount },
        { QStringLiteral("items"), list },
        { QStringLiteral("fallback"), fallback() },
        { QStringLiteral("fallback_reason"), result.usable ? QString() : result.fallbackReason },
        { QStringLiteral("defects"), defects },
        { QStringLiteral("tokens"),
            QJsonObject { { QStringLiteral("input"), usage.inputTokens },
                { QStringLiteral("cached_input"), usage.cachedInputTokens },
                { QStringLiteral("cache_write"), usage.cacheWriteTokens },
                { QStringLiteral("output"), usage.outputTokens },
                { QStringLiteral("reasoning"), usage.reasoningTokens } } },
        { QStringLiteral("cost"), cost ? QJsonValue(*cost) : QJsonValue(QJsonValue::Null) },
        { QStringLiteral("cache_hit"), cacheHit },
        { QStringLiteral("stage_ms"),
            QJsonObject { { QStringLiteral("candidates"), stageMs.candidates },
                { QStringLiteral("enrichment"), stageMs.enrichment }, { QStringLiteral("render"), stageMs.render },
                { QStringLiteral("llm"), stageMs.llm }, { QStringLiteral("parse"), stageMs.parse },
                { QStringLiteral("total"), stageMs.total() } } },
    };
}

RerankOutcome rerankUser(Workspace& ws, const Dataset& ds, const cf::Recommender& cfModel, int32_t user,
    const RerankOptions& options)
{
    if (user < 0 || user >= ds.numUsers())
        throw Error(QStringLiteral("rerank: no user with index %1").arg(user));
    const int n = std::max(1, options.candidates);
    const int k = std::clamp(options.k, 1, n);
    RerankOutcome o;
    o.userId = ds.users[static_cast<size_t>(user)].externalId;

    // Configuration first, so bad input fails before any work.
    rerank::EndpointProfile profile = rerank::store::getEndpoint(ws,
        options.endpoint.isEmpty() ? rerank::store::defaultEndpoint(ws) : options.endpoint);
    if (!options.model.isEmpty())
        profile.model = options.model;
    o.endpoint = profile.name;
    o.model = profile.model;
    o.kind = profile.kind;
    const rerank::PromptTemplate tmpl = templateFor(ws, options.prompt);
    o.templateRef = tmpl.ref();

    QElapsedTimer timer;
    timer.start();

    // 1. Candidates: CF on the user's history, or the cold-start blend for cold users.
    std::unique_ptr<coldstart::ColdStartRecommender> cold;
    std::vector<cf::ScoredItem> scored;
    o.coldStart = ds.isCold(user, options.coldThreshold);
    if (o.coldStart)
        scored = coldCandidates(ds, cfModel, user, n, options.coldThreshold, cold);
    else
        scored = cf::recommend(cfModel, cf::History::ofUser(ds.userItems, user), n);
    const std::vector<rerank::Candidate> candidates = rerank::candidatesFrom(ds, scored);
    o.candidateCount = static_cast<int>(candidates.size());
    o.stageMs.candidates = lap(timer);

    // 2. Enrichment.
    rerank::EnrichOptions enrichOptions;
    enrichOptions.k = k;
    enrichOptions.coldThreshold = options.coldThreshold;
    const QJsonObject variables = rerank::enrich(ds, user, candidates, enrichOptions);
    o.stageMs.enrichment = lap(timer);

    // 3. Render (also for the offline reranker: a template error is an error everywhere).
    const rerank::RenderedPrompt prompt = rerank::renderPrompt(tmpl, variables);
    o.stageMs.render = lap(timer);

    if (candidates.empty()) {
        o.result = rerank::cfFallback(candidates, k, QStringLiteral("no candidates for this user"));
    } else if (profile.kind == rerank::ProviderKind::Offline) {
        // 4. The embedded reranker: no call, no tokens, no cost.
        std::unique_ptr<coldstart::ContentIndex> ownIndex;
        const coldstart::ContentIndex* content = cold ? &cold->content() : nullptr;
        if (!content) {
            ownIndex = std::make_unique<coldstart::ContentIndex>();
            ownIndex->build(ds);
            content = ownIndex.get();
        }
        rerank::OfflineOptions offline;
        offline.k = k;
        o.result = rerank::OfflineReranker(ds, *content).rerank(user, candidates, offline);
        o.cost = 0.0;
        o.stageMs.llm = lap(timer);
    } else {
        // 4. The response cache, else the model.
        rerank::ResponseCache cache(ws);
        const QString key = rerank::cacheKey(profile, prompt.request);
        std::optional<rerank::ChatResponse> response = cache.lookup(key, options.bypassCache);
        o.cacheHit = response.has_value();
        if (!response) {
            std::unique_ptr<rerank::LlmClient> own;
            rerank::LlmClient* client = options.client;
            if (!client) {
                own = std::make_unique<rerank::LlmClient>();
                client = own.get();
            }
            response = rerank::sendBlocking(*client, profile, prompt.request);
            o.usage = response->usage;
            o.cost = rerank::costOf(response->usage,
                rerank::PriceTable::load().pricesFor(profile).value_or(rerank::Prices {}));
        } else {
            o.cost = 0.0; // nothing was sent
        }
        o.stageMs.llm = lap(timer);

        // 5. Validation; failures fall back to the CF order with a reason.
        o.result = rerank::parseAnswer(*response, candidates, k);
        if (!response->ok())
            o.result.fallbackReason = callFailure(profile, *response);
        else if (o.result.usable && !o.cacheHit && response->finish == rerank::FinishReason::Ok)
            cache.store(key, profile, *response);
        o.stageMs.parse = lap(timer);
    }

    o.result.timings = {
        { QStringLiteral("candidates"), o.stageMs.candidates },
        { QStringLiteral("enrichment"), o.stageMs.enrichment },
        { QStringLiteral("render"), o.stageMs.render },
        { QStringLiteral("llm"), o.stageMs.llm },
        { QStringLiteral("parse"), o.stageMs.parse },
    };
    for (const rerank::RankedItem& r : o.result.items)
        o.titles.append(r.item >= 0 ? ds.items[static_cast<size_t>(r.item)].title : QString());
    return o;
}

} // namespace recwb::pipeline
