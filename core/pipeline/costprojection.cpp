#include "pipeline/costprojection.h"

#include "pipeline/ceiling.h"
#include "util/error.h"

#include <QJsonArray>
#include <algorithm>
#include <cmath>

namespace recwb::pipeline {

namespace {

    void requireShare(double value, const char* name)
    {
        if (!std::isfinite(value) || value < 0 || value > 1)
            throw Error(
                QStringLiteral("cost projection: %1 = %2 is outside [0, 1]").arg(QLatin1StringView(name)).arg(value));
    }

    QJsonValue optionalNumber(const std::optional<double>& v)
    {
        return v ? QJsonValue(*v) : QJsonValue();
    }

} // namespace

TokensPerCall TokensPerCall::fromTotals(const rerank::Usage& total, qint64 calls)
{
    if (calls <= 0)
        return {};
    const double n = static_cast<double>(calls);
    return { static_cast<double>(total.inputTokens) / n, static_cast<double>(total.cachedInputTokens) / n,
        static_cast<double>(total.outputTokens) / n };
}

TokensPerCall TokensPerCall::withCandidates(int fromCandidates, int toCandidates) const
{
    TokensPerCall t = *this;
    const double extra = static_cast<double>(toCandidates - fromCandidates) * RunProjection::kInputTokensPerCandidate;
    t.input = std::max(0.0, input + extra);
    t.cachedInput = std::min(cachedInput, t.input);
    return t;
}

void ProjectionAssumptions::validate() const
{
    requireShare(cacheHitRate, "cache hit rate");
    if (promptCachingShare)
        requireShare(*promptCachingShare, "prompt caching share");
    requireShare(batchDiscount, "batch discount");
    requireShare(routingShare, "routing share");
    if (daysPerMonth < 1)
        throw Error(QStringLiteral("cost projection: days per month = %1 must be at least 1").arg(daysPerMonth));
}

std::optional<double> costPerCall(
    const TokensPerCall& tokens, const rerank::Prices& prices, const ProjectionAssumptions& assumptions)
{
    if (!prices.input || !prices.output)
        return std::nullopt;
    const double measuredShare = tokens.input > 0 ? std::clamp(tokens.cachedInput / tokens.input, 0.0, 1.0) : 0.0;
    const double cachedShare = assumptions.promptCachingShare.value_or(measuredShare);
    const double cachedPrice = prices.cachedInput.value_or(*prices.input);
    const double usd = (tokens.input * (1 - cachedShare) * *prices.input + tokens.input * cachedShare * cachedPrice
                           + tokens.output * *prices.output)
        / 1e6;
    return usd * (1 - assumptions.batchDiscount);
}

QString scenarioName(Scenario scenario)
{
    switch (scenario) {
    case Scenario::CfOnly:
        return QStringLiteral("CF only");
    case Scenario::HybridSelective:
        return QStringLiteral("Hybrid, selective routing");
    case Scenario::HybridEveryone:
        return QStringLiteral("Hybrid for everyone");
    case Scenario::LlmOnly:
        return QStringLiteral("LLM only");
    }
    return {};
}

QString scenarioKey(Scenario scenario)
{
    switch (scenario) {
    case Scenario::CfOnly:
        return QStringLiteral("cf_only");
    case Scenario::HybridSelective:
        return QStringLiteral("hybrid_selective");
    case Scenario::HybridEveryone:
        return QStringLiteral("hybrid_all");
    case Scenario::LlmOnly:
        return QStringLiteral("llm_only");
    }
    return {};
}

CostProjection projectCostAtScale(const ProjectionInput& input)
{
    const ProjectionAssumptions& a = input.assumptions;
    a.validate();
    CostProjection out;
    out.assumptions = a;
    for (const qint64 users : input.usersPerDay) {
        if (users <= 0)
            throw Error(QStringLiteral("cost projection: %1 users a day is not a positive number").arg(users));
        auto row = [&](Scenario s, double llmShare, const TokensPerCall& tokens) {
            ProjectionRow r;
            r.scenario = s;
            r.usersPerDay = users;
            r.llmShare = llmShare;
            r.callsPerDay = static_cast<double>(users) * llmShare * (1 - a.cacheHitRate);
            r.inputTokensPerDay = r.callsPerDay * tokens.input;
            r.outputTokensPerDay = r.callsPerDay * tokens.output;
            if (llmShare == 0) {
                r.usdPerCall = 0.0;
            } else {
                r.usdPerCall = costPerCall(tokens, input.prices, a);
            }
            if (r.usdPerCall) {
                r.usdPerDay = r.callsPerDay * *r.usdPerCall;
                r.usdPerMonth = *r.usdPerDay * a.daysPerMonth;
            }
            out.rows.append(r);
        };
        row(Scenario::CfOnly, 0, {});
        row(Scenario::HybridSelective, a.routingShare, input.hybrid);
        row(Scenario::HybridEveryone, 1, input.hybrid);
        if (input.llmOnly)
            row(Scenario::LlmOnly, 1, *input.llmOnly);
    }
    return out;
}

QJsonObject CostProjection::toJson() const
{
    QJsonObject as { { QStringLiteral("cache_hit_rate"), assumptions.cacheHitRate },
        { QStringLiteral("prompt_caching_share"), optionalNumber(assumptions.promptCachingShare) },
        { QStringLiteral("batch_discount"), assumptions.batchDiscount },
        { QStringLiteral("routing_share"), assumptions.routingShare },
        { QStringLiteral("days_per_month"), assumptions.daysPerMonth } };
    QJsonArray rs;
    for (const ProjectionRow& r : rows) {
        rs.append(QJsonObject { { QStringLiteral("scenario"), scenarioKey(r.scenario) },
            { QStringLiteral("users_per_day"), static_cast<double>(r.usersPerDay) },
            { QStringLiteral("llm_share"), r.llmShare }, { QStringLiteral("calls_per_day"), r.callsPerDay },
            { QStringLiteral("input_tokens_per_day"), r.inputTokensPerDay },
            { QStringLiteral("output_tokens_per_day"), r.outputTokensPerDay },
            { QStringLiteral("usd_per_call"), optionalNumber(r.usdPerCall) },
            { QStringLiteral("usd_per_day"), optionalNumber(r.usdPerDay) },
            { QStringLiteral("usd_per_month"), optionalNumber(r.usdPerMonth) } });
    }
    return { { QStringLiteral("assumptions"), as }, { QStringLiteral("rows"), rs } };
}

double cascadeAverageCost(std::span<const double> tierCosts, std::span<const double> escalationRates)
{
    if (tierCosts.empty())
        throw Error(QStringLiteral("cascade cost: no tiers"));
    if (escalationRates.size() + 1 != tierCosts.size())
        throw Error(QStringLiteral("cascade cost: %1 tiers need %2 escalation rates, got %3")
                        .arg(tierCosts.size())
                        .arg(tierCosts.size() - 1)
                        .arg(escalationRates.size()));
    double reach = 1; // share of users that get to tier i
    double total = 0;
    for (size_t i = 0; i < tierCosts.size(); ++i) {
        total += reach * tierCosts[i];
        if (i < escalationRates.size()) {
            requireShare(escalationRates[i], "escalation rate");
            reach *= escalationRates[i];
        }
    }
    return total;
}

} // namespace recwb::pipeline
