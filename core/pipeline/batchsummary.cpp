#include "pipeline/batchsummary.h"

#include <QJsonArray>
#include <QMap>
#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace recwb::pipeline {
namespace {

QJsonValue usd(const std::optional<double>& v)
{
    return v ? QJsonValue(*v) : QJsonValue(QJsonValue::Null);
}

QJsonObject tokensJson(const rerank::Usage& u)
{
    return { { QStringLiteral("input"), u.inputTokens }, { QStringLiteral("cached_input"), u.cachedInputTokens },
        { QStringLiteral("cache_write"), u.cacheWriteTokens }, { QStringLiteral("output"), u.outputTokens } };
}

QJsonObject counts(const QMap<QString, int>& m, int total)
{
    QJsonObject o;
    for (auto it = m.cbegin(); it != m.cend(); ++it)
        o.insert(it.key(),
            QJsonObject { { QStringLiteral("users"), it.value() },
                { QStringLiteral("share"), total > 0 ? static_cast<double>(it.value()) / total : 0.0 } });
    return o;
}

// Fallback reasons name the request; group them by what went wrong: a failed call by its
// status ("call failed: timeout", "call failed: circuit_open"), anything else by what
// comes before the details.
QString reasonGroup(const QString& reason)
{
    static const QRegularExpression failedCall(QStringLiteral(R"(^(?:request to endpoint .* )?(?:call )?failed: (\w+))"));
    if (const QRegularExpressionMatch m = failedCall.match(reason); m.hasMatch())
        return QStringLiteral("call failed: ") + m.captured(1);
    const qsizetype colon = reason.indexOf(QStringLiteral(": "));
    return colon > 0 ? reason.left(colon) : reason;
}

// What prompt caching saved on one call: cached reads at the cached price instead of the
// input price, minus the premium paid for cache writes. nullopt when a price is unknown.
std::optional<double> promptCacheSaving(const rerank::Usage& u, const std::optional<rerank::Prices>& p)
{
    if (u.cachedInputTokens == 0 && u.cacheWriteTokens == 0)
        return 0.0;
    if (!p || !p->input || (u.cachedInputTokens > 0 && !p->cachedInput) || (u.cacheWriteTokens > 0 && !p->cacheWrite))
        return std::nullopt;
    double saved = static_cast<double>(u.cachedInputTokens) * (*p->input - p->cachedInput.value_or(0));
    saved -= static_cast<double>(u.cacheWriteTokens) * (p->cacheWrite.value_or(0) - *p->input);
    return saved / 1e6;
}

} // namespace

QJsonObject Percentiles::toJson() const
{
    return { { QStringLiteral("count"), count }, { QStringLiteral("p50"), p50 }, { QStringLiteral("p95"), p95 },
        { QStringLiteral("p99"), p99 }, { QStringLiteral("mean"), mean }, { QStringLiteral("max"), max } };
}

Percentiles percentiles(std::vector<double> values)
{
    Percentiles p;
    p.count = static_cast<int>(values.size());
    if (values.empty())
        return p;
    std::sort(values.begin(), values.end());
    auto q = [&](double level) {
        const double pos = level * static_cast<double>(values.size() - 1);
        const auto lo = static_cast<size_t>(std::floor(pos));
        const size_t hi = std::min(lo + 1, values.size() - 1);
        return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
    };
    p.p50 = q(0.50);
    p.p95 = q(0.95);
    p.p99 = q(0.99);
    p.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    p.max = values.back();
    return p;
}

QJsonObject summarizeBatch(std::span<const RerankOutcome> outcomes, std::span<const TierInfo> tiers, int k,
    double wallMs, const CacheCounters& cache)
{
    const int users = static_cast<int>(outcomes.size());
    QMap<QString, int> byRoute, byAnswer, fallbackReasons, defects;
    int reranked = 0, escalations = 0, fallbacks = 0, cold = 0;
    struct TierTotals {
        int calls = 0, cacheHits = 0, usable = 0, failed = 0;
        rerank::CostTotals cost;
        std::vector<double> ms;
    };
    QHash<QString, TierTotals> perTier;
    rerank::CostTotals total;
    rerank::Usage promptCacheUsage;
    double promptCacheSaved = 0;
    bool promptCacheKnown = true;
    std::vector<double> stage[6];
    std::vector<double> freshOutputLargest, freshOutputAll;
    const QString largest = tiers.empty() ? QString() : tiers.back().profile.name;
    auto pricesOf = [&](const QString& endpoint) -> std::optional<rerank::Prices> {
        for (const TierInfo& t : tiers)
            if (t.profile.name == endpoint)
                return t.prices;
        return std::nullopt;
    };

    for (const RerankOutcome& o : outcomes) {
        byRoute[o.route] += 1;
        byAnswer[o.answeredBy()] += 1;
        reranked += o.route != u"confident";
        cold += o.coldStart;
        escalations += o.tiers.size() > 1;
        if (o.fallback()) {
            ++fallbacks;
            fallbackReasons[reasonGroup(o.result.fallbackReason)] += 1;
        }
        for (const rerank::Defect& d : o.result.defects)
            defects[d.kind] += 1;
        for (const TierAttempt& t : o.tiers) {
            TierTotals& tt = perTier[t.endpoint];
            if (t.cacheHit) {
                ++tt.cacheHits;
            } else {
                ++tt.calls;
                tt.cost.add(t.usage, t.cost);
                total.add(t.usage, t.cost);
                tt.ms.push_back(t.ms);
                freshOutputAll.push_back(static_cast<double>(t.usage.outputTokens));
                if (t.endpoint == largest)
                    freshOutputLargest.push_back(static_cast<double>(t.usage.outputTokens));
                promptCacheUsage += t.usage;
                if (const auto s = promptCacheSaving(t.usage, pricesOf(t.endpoint)))
                    promptCacheSaved += *s;
                else
                    promptCacheKnown = false;
            }
            (t.usable ? tt.usable : tt.failed) += 1;
        }
        stage[0].push_back(o.stageMs.candidates);
        stage[1].push_back(o.stageMs.enrichment);
        stage[2].push_back(o.stageMs.render);
        stage[3].push_back(o.stageMs.llm);
        stage[4].push_back(o.stageMs.parse);
        stage[5].push_back(o.stageMs.total());
    }

    // The baseline: every user sent fresh (no routing, no cascade, no caches) to the largest
    // model. Input tokens: what the user's call reported, else the prompt estimate; output
    // tokens: the largest model's mean, else any model's mean, else the estimate per pick.
    auto mean = [](const std::vector<double>& v) {
        return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    };
    const double outputEstimate = !freshOutputLargest.empty() ? mean(freshOutputLargest)
        : !freshOutputAll.empty()                             ? mean(freshOutputAll)
                                                              : static_cast<double>(k * rerank::kDefaultTokensPerItem + 16);
    const std::optional<rerank::Prices> largestPrices = tiers.empty() ? std::nullopt : tiers.back().prices;
    std::optional<double> baseline = 0.0;
    for (const RerankOutcome& o : outcomes) {
        const TierAttempt* onLargest = nullptr;
        const TierAttempt* anyFresh = nullptr;
        for (const TierAttempt& t : o.tiers) {
            if (t.cacheHit)
                continue;
            anyFresh = anyFresh ? anyFresh : &t;
            if (t.endpoint == largest)
                onLargest = &t;
        }
        std::optional<double> c;
        if (onLargest && onLargest->usage.cachedInputTokens == 0 && onLargest->usage.cacheWriteTokens == 0) {
            c = onLargest->cost;
        } else if (onLargest && onLargest->usage.inputTokens > 0) {
            // The largest model answered from a prompt cache: the same tokens, all fresh.
            rerank::Usage u;
            u.inputTokens = onLargest->usage.inputTokens;
            u.outputTokens = onLargest->usage.outputTokens;
            c = rerank::costOf(u, largestPrices.value_or(rerank::Prices {}));
        } else {
            rerank::Usage u;
            u.inputTokens = anyFresh && anyFresh->usage.inputTokens > 0 ? anyFresh->usage.inputTokens
                                                                       : o.promptTokensEstimate;
            u.outputTokens = static_cast<qint64>(std::llround(outputEstimate));
            c = rerank::costOf(u, largestPrices.value_or(rerank::Prices {}));
        }
        baseline = baseline && c ? std::optional<double>(*baseline + *c) : std::nullopt;
    }
    const std::optional<double> actual = total.usd();
    // Plain values from here (GCC 12 misreads optional<double> flow as uninitialised).
    const bool savedKnown = baseline.has_value() && actual.has_value();
    const double baselineUsd = baseline.value_or(0);
    const double savedUsd = savedKnown ? baselineUsd - actual.value_or(0) : 0;
    const QJsonValue savedJson = savedKnown ? QJsonValue(savedUsd) : QJsonValue(QJsonValue::Null);
    const QJsonValue savedShare
        = savedKnown && baselineUsd > 0 ? QJsonValue(savedUsd / baselineUsd) : QJsonValue(QJsonValue::Null);

    QJsonArray tierList;
    for (const TierInfo& t : tiers) {
        const TierTotals tt = perTier.value(t.profile.name);
        tierList.append(QJsonObject {
            { QStringLiteral("endpoint"), t.profile.name },
            { QStringLiteral("kind"), rerank::providerKindName(t.profile.kind) },
            { QStringLiteral("model"), t.profile.model },
            { QStringLiteral("calls"), tt.calls },
            { QStringLiteral("cache_hits"), tt.cacheHits },
            { QStringLiteral("usable"), tt.usable },
            { QStringLiteral("failed_or_invalid"), tt.failed },
            { QStringLiteral("final_answers"), byAnswer.value(t.profile.name) },
            { QStringLiteral("share_of_users"), users > 0 ? static_cast<double>(byAnswer.value(t.profile.name)) / users : 0.0 },
            { QStringLiteral("tokens"), tokensJson(tt.cost.usage) },
            { QStringLiteral("cost_usd"), usd(tt.cost.usd()) },
            { QStringLiteral("call_ms"), percentiles(tt.ms).toJson() },
        });
    }
    const char* stageNames[] = { "candidates", "enrichment", "render", "llm", "parse", "total" };
    QJsonObject latency;
    for (int s = 0; s < 6; ++s)
        latency.insert(QLatin1String(stageNames[s]), percentiles(stage[s]).toJson());

    return {
        { QStringLiteral("users"), users },
        { QStringLiteral("cold_users"), cold },
        { QStringLiteral("wall_ms"), wallMs },
        { QStringLiteral("users_per_second"), wallMs > 0 ? users * 1000.0 / wallMs : 0.0 },
        { QStringLiteral("routing"),
            QJsonObject { { QStringLiteral("reranked"), reranked }, { QStringLiteral("cf_kept"), users - reranked },
                { QStringLiteral("by_reason"), counts(byRoute, users) } } },
        { QStringLiteral("answered_by"), counts(byAnswer, users) },
        { QStringLiteral("tiers"), tierList },
        { QStringLiteral("escalations"), escalations },
        { QStringLiteral("fallbacks"), fallbacks },
        { QStringLiteral("fallback_reasons"), counts(fallbackReasons, users) },
        { QStringLiteral("defects"), [&] {
             QJsonObject o;
             for (auto it = defects.cbegin(); it != defects.cend(); ++it)
                 o.insert(it.key(), it.value());
             return o;
         }() },
        { QStringLiteral("tokens"), tokensJson(total.usage) },
        { QStringLiteral("calls"), total.calls },
        { QStringLiteral("cost_usd"), usd(actual) },
        { QStringLiteral("unpriced_calls"), total.unpricedCalls },
        { QStringLiteral("prompt_cache"),
            QJsonObject { { QStringLiteral("cached_input_tokens"), promptCacheUsage.cachedInputTokens },
                { QStringLiteral("cache_write_tokens"), promptCacheUsage.cacheWriteTokens },
                { QStringLiteral("share_of_input"),
                    promptCacheUsage.inputTokens > 0 ? static_cast<double>(promptCacheUsage.cachedInputTokens)
                            / static_cast<double>(promptCacheUsage.inputTokens)
                                                     : 0.0 },
                { QStringLiteral("saved_usd"), promptCacheKnown ? QJsonValue(promptCacheSaved) : QJsonValue(QJsonValue::Null) } } },
        { QStringLiteral("response_cache"),
            QJsonObject { { QStringLiteral("hits"), cache.hits }, { QStringLiteral("misses"), cache.misses },
                { QStringLiteral("bypassed"), cache.bypassed } } },
        { QStringLiteral("baseline"),
            QJsonObject { { QStringLiteral("endpoint"), largest },
                { QStringLiteral("method"),
                    QStringLiteral("every user, fresh call to the largest tier, no routing or caches; input tokens "
                                   "as reported (else estimated), output tokens its mean") },
                { QStringLiteral("estimated_usd"), usd(baseline) }, { QStringLiteral("saved_usd"), savedJson },
                { QStringLiteral("saved_share"), savedShare } } },
        { QStringLiteral("latency_ms"), latency },
    };
}

} // namespace recwb::pipeline
