#pragma once

#include "rerank/llmtypes.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <optional>
#include <span>

// Cost at scale from measured tokens (issue 10 "Cost before and after"): what the LLM part
// of the pipeline costs per day and per month for 1K .. 10M users a day, for CF only,
// hybrid with selective routing, hybrid for everyone and LLM-only, under editable
// assumptions (response cache hit rate, prompt caching, provider batch discount); and the
// cascade's average cost from its measured escalation rates. Pure functions, no I/O.
namespace recwb::pipeline {

// Mean LLM tokens of one rerank call (one user), as measured by an experiment arm.
struct TokensPerCall {
    double input = 0; // every input token, including the cached part
    double cachedInput = 0; // of input, read from the provider's prompt cache
    double output = 0; // including reasoning tokens

    // Totals of a run divided by its calls; all zero when calls <= 0.
    static TokensPerCall fromTotals(const rerank::Usage& total, qint64 calls);
    // The same call with `toCandidates` candidates instead of `fromCandidates`, at
    // RunProjection::kInputTokensPerCandidate input tokens per candidate; the output, which
    // follows K and not the candidates, is unchanged. For the LLM-only row when its own
    // arm was not measured.
    TokensPerCall withCandidates(int fromCandidates, int toCandidates) const;
};

struct ProjectionAssumptions {
    double cacheHitRate = 0; // share of LLM-bound users answered by the response cache (no call)
    // Share of input tokens billed at the cached-input price; nullopt: the measured share
    // (TokensPerCall::cachedInput / input).
    std::optional<double> promptCachingShare;
    double batchDiscount = 0; // off input and output (0.5: the providers' 50 % batch price)
    double routingShare = 1; // selective routing: the measured share of users sent to the LLM
    int daysPerMonth = 30;

    // Throws Error naming the assumption that is out of range ([0, 1]; days >= 1).
    void validate() const;
};

// USD of one call: uncached input at the input price, the prompt-cached share at the
// cached-input price (at the input price when the model has none), output at the output
// price, all times (1 - batchDiscount). nullopt when the input or output price is unknown.
// The response cache is not applied here (a hit makes no call at all).
std::optional<double> costPerCall(
    const TokensPerCall& tokens, const rerank::Prices& prices, const ProjectionAssumptions& assumptions);

enum class Scenario { CfOnly, HybridSelective, HybridEveryone, LlmOnly };
QString scenarioName(Scenario scenario); // "CF only", "Hybrid, selective routing", ...
QString scenarioKey(Scenario scenario); // "cf_only", "hybrid_selective", "hybrid_all", "llm_only"

inline const QList<qint64> kProjectionScales = { 1'000, 10'000, 100'000, 1'000'000, 10'000'000 };

struct ProjectionInput {
    TokensPerCall hybrid; // the hybrid arm's measured tokens (CF candidates to the LLM)
    // The LLM-only arm's own tokens (usually more candidates); nullopt leaves its rows out.
    std::optional<TokensPerCall> llmOnly;
    rerank::Prices prices;
    ProjectionAssumptions assumptions;
    QList<qint64> usersPerDay = kProjectionScales;
};

struct ProjectionRow {
    Scenario scenario = Scenario::CfOnly;
    qint64 usersPerDay = 0;
    double llmShare = 0; // share of users whose list goes to the LLM
    double callsPerDay = 0; // after response cache hits
    double inputTokensPerDay = 0;
    double outputTokensPerDay = 0;
    std::optional<double> usdPerCall; // nullopt: a price is unknown
    std::optional<double> usdPerDay;
    std::optional<double> usdPerMonth;
};

struct CostProjection {
    ProjectionAssumptions assumptions;
    QList<ProjectionRow> rows; // for each scale (ascending) the scenarios in enum order
    QJsonObject toJson() const;
};

// Throws Error when an assumption is out of range or a scale is not positive.
CostProjection projectCostAtScale(const ProjectionInput& input);

// The cascade's average cost per user, cheapest tier first:
//   c1 + p1 c2 + p1 p2 c3 + ... = sum_i c_i prod_{j<i} p_j
// where c_i is the cost of a call at tier i and p_j the measured share of tier-j calls that
// escalated to tier j + 1 (escalationRates has one entry fewer than tierCosts). Throws
// Error when the sizes do not fit or a rate is outside [0, 1].
double cascadeAverageCost(std::span<const double> tierCosts, std::span<const double> escalationRates);

} // namespace recwb::pipeline
