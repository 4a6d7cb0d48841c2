#pragma once

#include "cf/recommender.h"

#include <QJsonObject>
#include <QSet>
#include <QString>
#include <span>

// Selective LLM use (docs/RERANK.md "Routing"): per user, whether the LLM is worth a call
// or the CF order stays. Pure functions: thread-safe.
namespace recwb::pipeline {

// How sure CF is of its own top k among its n candidates, in [0.5, 1) (0 when it cannot
// say: fewer than k + 1 candidates, non-finite or all-equal scores). For each of the top k
// candidates, the probability that it truly outranks the best candidate left out (rank
// k + 1) under logistic score noise whose scale is the spread (standard deviation) of the
// n candidate scores: sigmoid((s_i - s_k+1) / sd). The confidence is their mean: 0.5 is
// a coin flip (CF cannot separate its top k from the rest), near 1 the top k stand far
// above. Invariant to any positive affine rescaling of the scores, so one threshold works
// for every model. With evenly spaced scores over 50 candidates and k = 10 it is 0.59.
double cfConfidence(std::span<const cf::ScoredItem> candidates, int k);

inline constexpr double kDefaultConfidenceThreshold = 0.6;

struct RoutingPolicy {
    bool everyone = true; // no selection: every user goes to the LLM
    // Selective mode (everyone == false): the LLM is called for a user that matches any
    // enabled rule; everyone else keeps the CF order.
    bool cold = true; // cold-start users
    bool lowConfidence = true; // cfConfidence() below the threshold
    double confidenceThreshold = kDefaultConfidenceThreshold;
    bool highValue = true; // users marked high-value in the workspace
    QSet<QString> highValueUsers; // external ids
    QJsonObject toJson() const;
};

struct RouteDecision {
    bool llm = true;
    // Why: "all" (no selection), "cold", "high_value", "low_confidence" for a call;
    // "confident" when the CF order stays. The first matching rule in that order is named.
    QString reason;
};

RouteDecision route(const RoutingPolicy& policy, const QString& userId, bool coldUser, double confidence);

} // namespace recwb::pipeline
