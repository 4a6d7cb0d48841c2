#include "pipeline/rerankpipeline.h"

#include "coldstart/coldstart.h"
#include "coldstart/content.h"
#include "data/workspace.h"
#include "pipeline/routing.h"
#include "rerank/cache.h"
#include "rerank/offline.h"
#include "rerank/store.h"
#include "util/error.h"
#include "util/random.h"

#include <QElapsedTimer>
#include <QJsonArray>

#include <algorithm>
#include <memory>
#include <numeric>

namespace recwb::pipeline {
namespace {

double msSince(const QElapsedTimer& t)
{
    return static_cast<double>(t.nsecsElapsed()) / 1e6;
}

double lap(QElapsedTimer& t)
{
    const double ms = msSince(t);
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

QJsonObject usageJson(const rerank::Usage& u)
{
    return { { QStringLiteral("input"), u.inputTokens }, { QStringLiteral("cached_input"), u.cachedInputTokens },
        { QStringLiteral("cache_write"), u.cacheWriteTokens }, { QStringLiteral("output"), u.outputTokens },
        { QStringLiteral("reasoning"), u.reasoningTokens } };
}

QJsonValue costJson(const std::optional<double>& usd)
{
    return usd ? QJsonValue(*usd) : QJsonValue(QJsonValue::Null);
}

} // namespace

// ---- RerankOutcome ----

QString RerankOutcome::answeredBy() const
{
    if (route == u"confident")
        return QStringLiteral("cf");
    if (fallback())
        return QStringLiteral("fallback");
    if (!tiers.isEmpty())
        return tiers.last().endpoint;
    return endpoint;
}

QJsonObject RerankOutcome::toJson() const
{
    QJsonArray list;
    for (qsizetype i = 0; i < result.items.size(); ++i) {
        const rerank::RankedItem& r = result.items[i];
        QJsonObject item {
            { QStringLiteral("item_id"), r.externalId },
            { QStringLiteral("title"), titles.value(i) },
            { QStringLiteral("rank"), r.rank },
            { QStringLiteral("score"), r.score ? QJsonValue(*r.score) : QJsonValue(QJsonValue::Null) },
            { QStringLiteral("explanation"), r.explanation },
            { QStringLiteral("cf_rank"), r.cfRank },
            { QStringLiteral("filled"), r.filled },
        };
        if (!r.claims.isEmpty())
            item.insert(QStringLiteral("claims"), QJsonArray::fromStringList(r.claims));
        list.append(item);
    }
    QJsonArray defects;
    for (const rerank::Defect& d : result.defects)
        defects.append(QJsonObject { { QStringLiteral("kind"), d.kind }, { QStringLiteral("detail"), d.detail } });
    QJsonArray tierList;
    for (const TierAttempt& t : tiers)
        tierList.append(QJsonObject {
            { QStringLiteral("endpoint"), t.endpoint },
            { QStringLiteral("model"), t.model },
            { QStringLiteral("usable"), t.usable },
            { QStringLiteral("failure"), t.failure },
            { QStringLiteral("tokens"), usageJson(t.usage) },
            { QStringLiteral("cost"), costJson(t.cost) },
            { QStringLiteral("cache_hit"), t.cacheHit },
            { QStringLiteral("ms"), t.ms },
        });
    QJsonObject o {
        { QStringLiteral("user"), userId },
        { QStringLiteral("endpoint"), endpoint },
        { QStringLiteral("kind"), rerank::providerKindName(kind) },
        { QStringLiteral("model"), model },
        { QStringLiteral("template"), templateRef },
        { QStringLiteral("cold_start"), coldStart },
        { QStringLiteral("candidates"), candidateCount },
        { QStringLiteral("cf_confidence"), cfConfidence },
        { QStringLiteral("route"), route },
        { QStringLiteral("answered_by"), answeredBy() },
        { QStringLiteral("items"), list },
        { QStringLiteral("fallback"), fallback() },
        { QStringLiteral("fallback_reason"), result.usable ? QString() : result.fallbackReason },
        { QStringLiteral("defects"), defects },
        { QStringLiteral("tiers"), tierList },
        { QStringLiteral("tokens"), usageJson(usage) },
        { QStringLiteral("cost"), costJson(cost) },
        { QStringLiteral("cache_hit"), cacheHit },
        { QStringLiteral("prompt_tokens_estimate"), promptTokensEstimate },
        { QStringLiteral("stage_ms"),
            QJsonObject { { QStringLiteral("candidates"), stageMs.candidates },
                { QStringLiteral("enrichment"), stageMs.enrichment }, { QStringLiteral("render"), stageMs.render },
                { QStringLiteral("llm"), stageMs.llm }, { QStringLiteral("parse"), stageMs.parse },
                { QStringLiteral("total"), stageMs.total() } } },
    };
    if (!shownAt.empty()) {
        QJsonArray shown;
        for (int s : shownAt)
            shown.append(s);
        o.insert(QStringLiteral("shown_at"), shown);
    }
    return o;
}

namespace {

rerank::Usage usageFromJson(const QJsonObject& o)
{
    rerank::Usage u;
    u.inputTokens = o.value(QStringLiteral("input")).toInteger();
    u.cachedInputTokens = o.value(QStringLiteral("cached_input")).toInteger();
    u.cacheWriteTokens = o.value(QStringLiteral("cache_write")).toInteger();
    u.outputTokens = o.value(QStringLiteral("output")).toInteger();
    u.reasoningTokens = o.value(QStringLiteral("reasoning")).toInteger();
    return u;
}

std::optional<double> costFromJson(const QJsonValue& v)
{
    return v.isDouble() ? std::optional<double>(v.toDouble()) : std::nullopt;
}

} // namespace

RerankOutcome RerankOutcome::fromJson(const QJsonObject& o)
{
    RerankOutcome r;
    r.userId = o.value(QStringLiteral("user")).toString();
    r.endpoint = o.value(QStringLiteral("endpoint")).toString();
    r.kind = rerank::providerKindFromName(o.value(QStringLiteral("kind")).toString()).value_or(rerank::ProviderKind::Offline);
    r.model = o.value(QStringLiteral("model")).toString();
    r.templateRef = o.value(QStringLiteral("template")).toString();
    r.coldStart = o.value(QStringLiteral("cold_start")).toBool();
    r.candidateCount = o.value(QStringLiteral("candidates")).toInt();
    r.cfConfidence = o.value(QStringLiteral("cf_confidence")).toDouble();
    r.route = o.value(QStringLiteral("route")).toString(r.route);
    r.promptTokensEstimate = o.value(QStringLiteral("prompt_tokens_estimate")).toInteger();
    for (const QJsonValue& v : o.value(QStringLiteral("items")).toArray()) {
        const QJsonObject it = v.toObject();
        rerank::RankedItem item;
        item.externalId = it.value(QStringLiteral("item_id")).toString();
        item.rank = it.value(QStringLiteral("rank")).toInt();
        item.score = costFromJson(it.value(QStringLiteral("score")));
        item.explanation = it.value(QStringLiteral("explanation")).toString();
        item.cfRank = it.value(QStringLiteral("cf_rank")).toInt();
        item.filled = it.value(QStringLiteral("filled")).toBool();
        for (const QJsonValue& c : it.value(QStringLiteral("claims")).toArray())
            item.claims.append(c.toString());
        r.result.items.append(item);
        r.titles.append(it.value(QStringLiteral("title")).toString());
    }
    r.result.usable = !o.value(QStringLiteral("fallback")).toBool();
    r.result.fallbackReason = o.value(QStringLiteral("fallback_reason")).toString();
    for (const QJsonValue& v : o.value(QStringLiteral("defects")).toArray())
        r.result.defects.append({ v.toObject().value(QStringLiteral("kind")).toString(),
            v.toObject().value(QStringLiteral("detail")).toString() });
    for (const QJsonValue& v : o.value(QStringLiteral("tiers")).toArray()) {
        const QJsonObject t = v.toObject();
        TierAttempt a;
        a.endpoint = t.value(QStringLiteral("endpoint")).toString();
        a.model = t.value(QStringLiteral("model")).toString();
        a.usable = t.value(QStringLiteral("usable")).toBool();
        a.failure = t.value(QStringLiteral("failure")).toString();
        a.usage = usageFromJson(t.value(QStringLiteral("tokens")).toObject());
        a.cost = costFromJson(t.value(QStringLiteral("cost")));
        a.cacheHit = t.value(QStringLiteral("cache_hit")).toBool();
        a.ms = t.value(QStringLiteral("ms")).toDouble();
        r.tiers.append(a);
    }
    r.usage = usageFromJson(o.value(QStringLiteral("tokens")).toObject());
    r.cost = costFromJson(o.value(QStringLiteral("cost")));
    r.cacheHit = o.value(QStringLiteral("cache_hit")).toBool();
    const QJsonObject ms = o.value(QStringLiteral("stage_ms")).toObject();
    r.stageMs.candidates = ms.value(QStringLiteral("candidates")).toDouble();
    r.stageMs.enrichment = ms.value(QStringLiteral("enrichment")).toDouble();
    r.stageMs.render = ms.value(QStringLiteral("render")).toDouble();
    r.stageMs.llm = ms.value(QStringLiteral("llm")).toDouble();
    r.stageMs.parse = ms.value(QStringLiteral("parse")).toDouble();
    return r;
}

// ---- PipelineContext ----

PipelineContext::PipelineContext(Workspace& ws, const Dataset& ds, const cf::Recommender& cfModel, int coldThreshold)
    : m_ws(ws)
    , m_ds(ds)
    , m_cf(cfModel)
    , m_coldThreshold(coldThreshold)
    , m_prices(rerank::PriceTable::loadWithOverride())
{
}

PipelineContext::~PipelineContext() = default;

const coldstart::ColdStartRecommender& PipelineContext::coldStart()
{
    if (!m_cold) {
        coldstart::ColdStartConfig cfg;
        cfg.threshold = m_coldThreshold;
        auto cold = std::make_shared<coldstart::ColdStartRecommender>(cfg);
        // Non-owning: the caller's model outlives the context.
        cold->fit(m_ds, m_ds.userItems, std::shared_ptr<const cf::Recommender>(&m_cf, [](const cf::Recommender*) {}));
        m_cold = std::move(cold);
    }
    return *m_cold;
}

const coldstart::ContentIndex& PipelineContext::content()
{
    return coldStart().content();
}

const rerank::FaithfulnessChecker& PipelineContext::faithfulness()
{
    if (!m_faithfulness)
        m_faithfulness = std::make_shared<const rerank::FaithfulnessChecker>(m_ds);
    return *m_faithfulness;
}

const rerank::ItemPromptTexts& PipelineContext::itemTexts()
{
    if (!m_itemTexts)
        m_itemTexts = std::make_unique<rerank::ItemPromptTexts>(m_ds);
    return *m_itemTexts;
}

rerank::PromptTemplate PipelineContext::promptTemplate(const QString& ref)
{
    if (const auto it = m_templates.constFind(ref); it != m_templates.cend())
        return *it;
    auto t = rerank::store::findTemplate(m_ws, ref);
    if (!t && m_ws.readOnly()) {
        // Never seeded, and it cannot be: the shipped default is what seeding would store
        // as version 1.
        for (const rerank::PromptTemplate& shipped : rerank::shippedTemplates())
            if (ref == shipped.name || ref == shipped.name + QStringLiteral("@1")) {
                const rerank::PromptTemplate tmpl { shipped.name, 1, shipped.text };
                m_templates.insert(ref, tmpl);
                return tmpl;
            }
    }
    if (!t) {
        rerank::store::seedDefaultTemplates(m_ws);
        t = rerank::store::getTemplate(m_ws, ref); // throws naming the ref when still absent
    }
    const rerank::PromptTemplate tmpl { t->name, t->version, t->text };
    m_templates.insert(ref, tmpl);
    return tmpl;
}

rerank::EndpointProfile PipelineContext::endpoint(const QString& name, const QString& model)
{
    rerank::EndpointProfile profile
        = rerank::store::getEndpoint(m_ws, name.isEmpty() ? rerank::store::defaultEndpoint(m_ws) : name);
    if (!model.isEmpty())
        profile.model = model;
    return profile;
}

std::optional<rerank::Prices> PipelineContext::pricesFor(const rerank::EndpointProfile& profile) const
{
    std::optional<rerank::Prices> prices = m_prices.pricesFor(profile);
    if (prices && m_priceScale != 1.0)
        for (std::optional<double>* p : { &prices->input, &prices->cachedInput, &prices->cacheWrite, &prices->output })
            if (*p)
                **p *= m_priceScale;
    return prices;
}

rerank::ResponseCache& PipelineContext::cache()
{
    if (!m_cache) {
        m_cache = std::make_unique<rerank::ResponseCache>(m_ws);
        m_cache->setOutput(m_out);
    }
    return *m_cache;
}

// ---- stages ----

namespace {

// Stages 1-3 for a dataset user (whatIf null) or a what-if user.
PreparedUser prepare(PipelineContext& ctx, int32_t user, const rerank::PromptUser* whatIf,
    const rerank::PromptTemplate& tmpl, int candidates, int k, quint64 shuffleSeed, CandidateSource source)
{
    const Dataset& ds = ctx.dataset();
    PreparedUser p;
    p.user = user;
    if (whatIf)
        p.whatIf = *whatIf;
    const int n = std::max(1, candidates);
    p.k = std::clamp(k, 1, n);
    RerankOutcome& o = p.outcome;
    o.userId = whatIf ? whatIf->id : ds.users[static_cast<size_t>(user)].externalId;
    o.templateRef = tmpl.ref();

    QElapsedTimer timer;
    timer.start();
    // 1. Candidates: CF on the user's history, or the cold-start blend for cold users.
    std::vector<int32_t> items;
    std::vector<float> values;
    if (whatIf) { // sorted and unique, as the models expect of a history row
        std::vector<std::pair<int32_t, float>> rows;
        for (const rerank::HistoryEntry& h : whatIf->history) {
            if (h.item < 0 || h.item >= ds.numItems())
                throw Error(QStringLiteral("rerank: what-if user \"%1\" names no item with index %2")
                                .arg(whatIf->id)
                                .arg(h.item));
            rows.emplace_back(h.item, h.value);
        }
        std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [item, value] : rows)
            if (items.empty() || items.back() != item) {
                items.push_back(item);
                values.push_back(value);
            }
    }
    const cf::History history
        = whatIf ? cf::History::adHoc(items, values) : cf::History::ofUser(ds.userItems, user);
    const bool cold = isColdUser(ctx, user, whatIf);
    o.coldStart = source == CandidateSource::ColdStart || (source == CandidateSource::Auto && cold);
    if (o.coldStart) {
        const auto& blend = ctx.coldStart();
        coldstart::ColdUser cu;
        if (whatIf) {
            cu.history = history;
            cu.profile = whatIf->profile;
        } else {
            cu = blend.userFromDataset(ds, ds.userItems, user);
        }
        for (const auto& c : blend.recommend(cu, n))
            p.scored.push_back({ c.item, c.score });
    } else {
        p.scored = cf::recommend(ctx.cfModel(), history, n);
    }
    p.candidates = rerank::candidatesFrom(ds, p.scored);
    o.candidateCount = static_cast<int>(p.candidates.size());
    o.cfConfidence = cfConfidence(p.scored, p.k);
    o.stageMs.candidates = lap(timer);

    // 2. Enrichment, with the candidates in the order the model will see them.
    std::vector<rerank::Candidate> shown = p.candidates;
    if (shuffleSeed != 0) {
        Rng rng(shuffleSeed);
        for (size_t i = shown.size(); i > 1; --i)
            std::swap(shown[i - 1], shown[rng.below(i)]);
        o.shownAt.assign(shown.size(), 0);
        for (size_t pos = 0; pos < shown.size(); ++pos)
            o.shownAt[static_cast<size_t>(shown[pos].cfRank - 1)] = static_cast<int>(pos) + 1;
    }
    rerank::EnrichOptions enrichOptions;
    enrichOptions.k = p.k;
    enrichOptions.coldThreshold = ctx.coldThreshold();
    enrichOptions.itemTexts = &ctx.itemTexts();
    const rerank::PromptVariables variables = whatIf ? rerank::enrichVariables(ds, *whatIf, shown, enrichOptions)
                                                     : rerank::enrichVariables(ds, user, shown, enrichOptions);
    o.stageMs.enrichment = lap(timer);

    // 3. Render (also for the offline reranker: a template error is an error everywhere).
    p.prompt = rerank::renderPrompt(tmpl, variables);
    o.promptTokensEstimate = p.prompt.estimatedTokens;
    o.stageMs.render = lap(timer);
    if (p.candidates.empty())
        o.result = rerank::cfFallback(p.candidates, p.k, QStringLiteral("no candidates for this user"));
    return p;
}

} // namespace

bool isColdUser(const PipelineContext& ctx, int32_t user, const rerank::PromptUser* whatIf)
{
    if (whatIf)
        return static_cast<int>(whatIf->history.size()) < ctx.coldThreshold();
    return ctx.dataset().isCold(user, ctx.coldThreshold());
}

PreparedUser prepareUser(PipelineContext& ctx, int32_t user, const rerank::PromptTemplate& tmpl, int candidates, int k,
    quint64 shuffleSeed, CandidateSource source)
{
    if (user < 0 || user >= ctx.dataset().numUsers())
        throw Error(QStringLiteral("rerank: no user with index %1").arg(user));
    return prepare(ctx, user, nullptr, tmpl, candidates, k, shuffleSeed, source);
}

PreparedUser prepareUser(PipelineContext& ctx, const rerank::PromptUser& user, const rerank::PromptTemplate& tmpl,
    int candidates, int k, quint64 shuffleSeed, CandidateSource source)
{
    return prepare(ctx, -1, &user, tmpl, candidates, k, shuffleSeed, source);
}

void rerankOffline(PipelineContext& ctx, PreparedUser& p)
{
    QElapsedTimer timer;
    timer.start();
    rerank::OfflineOptions offline = rerank::offlineDefaults(p.outcome.coldStart);
    offline.k = p.k;
    const rerank::OfflineReranker reranker(ctx.dataset(), ctx.content());
    p.outcome.result = p.whatIf ? reranker.rerank(p.whatIf->history, p.candidates, offline)
                                : reranker.rerank(p.user, p.candidates, offline);
    p.outcome.cost = 0.0;
    p.outcome.stageMs.llm = lap(timer);
}

void keepCfOrder(PreparedUser& p, const QString& why)
{
    p.outcome.route = why;
    p.outcome.result = rerank::cfFallback(p.candidates, p.k, QString());
    p.outcome.result.usable = true; // a decision, not a failure
    for (rerank::RankedItem& r : p.outcome.result.items)
        r.filled = false;
    p.outcome.cost = 0.0;
}

bool answerToCache(const rerank::ChatResponse& response, bool usable, bool cacheHit)
{
    return response.ok() && usable && !cacheHit && response.finish == rerank::FinishReason::Ok;
}

bool applyAnswer(PipelineContext& ctx, PreparedUser& p, const rerank::EndpointProfile& profile,
    const rerank::ChatResponse& response, bool cacheHit, double ms, const QString& cacheKey, bool storeInCache)
{
    QElapsedTimer timer;
    timer.start();
    RerankOutcome& o = p.outcome;
    TierAttempt t;
    t.endpoint = profile.name;
    t.model = profile.model;
    t.cacheHit = cacheHit;
    t.ms = ms;
    if (cacheHit) {
        t.cost = 0.0; // nothing was sent
    } else {
        t.usage = response.usage;
        t.cost = rerank::costOf(response.usage, ctx.pricesFor(profile).value_or(rerank::Prices {}));
    }
    rerank::RerankResult result = rerank::parseAnswer(response, p.candidates, p.k);
    if (!response.ok())
        result.fallbackReason = callFailure(profile, response);
    const bool keep = storeInCache && answerToCache(response, result.usable, cacheHit);
    t.usable = result.usable;
    t.failure = result.usable ? QString() : result.fallbackReason;

    // Totals over the tiers: an unknown cost anywhere makes the total unknown.
    o.usage += t.usage;
    o.cost = (o.tiers.isEmpty() || o.cost) && t.cost ? std::optional<double>(o.cost.value_or(0) + *t.cost)
                                                     : std::nullopt;
    // Defects of every tier stay on the run, named by endpoint once there is a cascade;
    // the final list is the last tier's.
    QList<rerank::Defect> defects = o.result.defects;
    if (!o.tiers.isEmpty()) {
        auto prefix = [](QList<rerank::Defect>& list, const QString& endpoint) {
            for (rerank::Defect& d : list)
                d.detail = endpoint + QStringLiteral(": ") + d.detail;
        };
        if (o.tiers.size() == 1)
            prefix(defects, o.tiers.first().endpoint);
        prefix(result.defects, t.endpoint);
    }
    o.tiers.append(t);
    defects.append(result.defects);
    result.defects = defects;
    o.result = std::move(result);
    o.cacheHit = cacheHit;
    o.stageMs.llm += ms;
    o.stageMs.parse += lap(timer); // validation; the cache write below is storage, not parsing
    if (keep)
        ctx.cache().store(cacheKey, profile, response);
    return t.usable;
}

void warmUpStages(PipelineContext& ctx, const rerank::PromptTemplate& tmpl)
{
    if (ctx.dataset().items.empty())
        return;
    try {
        (void)rerank::renderPrompt(tmpl, rerank::PromptVariables {});
        const rerank::Candidate c { 0, QStringLiteral("warm-up"), 0.0, 1 };
        rerank::RerankResult r = rerank::parseAnswer(
            QStringLiteral(R"({"recommendations":[{"item_id":"warm-up","rank":1,"score":0.9,)"
                           R"("explanation":"Because you watched \"Heat\" (1995) and liked its genre."}]})"),
            rerank::FinishReason::Ok, std::span(&c, 1), 1);
        ctx.faithfulness().annotate(r, rerank::ClaimContext { {}, {}, std::span(&c, 1) });
    } catch (const Error&) {
        // the first user meets it again and reports it
    }
}

RerankOutcome finishOutcome(PipelineContext& ctx, PreparedUser&& p)
{
    if (p.outcome.result.pickedCount() > 0) {
        QElapsedTimer timer;
        timer.start();
        std::vector<int32_t> history;
        if (p.whatIf) {
            for (const rerank::HistoryEntry& h : p.whatIf->history)
                history.push_back(h.item);
        } else if (p.user >= 0) {
            const auto row = ctx.dataset().userItems.row(p.user);
            history.assign(row.begin(), row.end());
        }
        ctx.faithfulness().annotate(p.outcome.result, rerank::ClaimContext { history, {}, p.candidates });
        p.outcome.stageMs.parse += lap(timer);
    }
    RerankOutcome o = std::move(p.outcome);
    o.result.timings = {
        { QStringLiteral("candidates"), o.stageMs.candidates },
        { QStringLiteral("enrichment"), o.stageMs.enrichment },
        { QStringLiteral("render"), o.stageMs.render },
        { QStringLiteral("llm"), o.stageMs.llm },
        { QStringLiteral("parse"), o.stageMs.parse },
    };
    const Dataset& ds = ctx.dataset();
    o.titles.clear();
    for (const rerank::RankedItem& r : o.result.items)
        o.titles.append(r.item >= 0 ? ds.items[static_cast<size_t>(r.item)].title : QString());
    return o;
}

} // namespace recwb::pipeline
