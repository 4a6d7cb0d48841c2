#include "pipeline/routing.h"

#include <QJsonArray>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace recwb::pipeline {

double cfConfidence(std::span<const cf::ScoredItem> candidates, int k)
{
    const auto n = static_cast<int>(candidates.size());
    if (k <= 0 || n <= k)
        return 0.0;
    double sum = 0;
    for (const cf::ScoredItem& c : candidates) {
        if (!std::isfinite(c.score))
            return 0.0;
        sum += c.score;
    }
    const double mean = sum / n;
    double var = 0;
    for (const cf::ScoredItem& c : candidates)
        var += (c.score - mean) * (c.score - mean);
    const double sd = std::sqrt(var / n);
    if (!(sd > 0))
        return 0.0;
    // The candidates come best first; take the (k+1)-th best score even if they do not.
    std::vector<double> scores;
    scores.reserve(static_cast<size_t>(n));
    for (const cf::ScoredItem& c : candidates)
        scores.push_back(c.score);
    std::nth_element(scores.begin(), scores.begin() + k, scores.end(), std::greater<>());
    const double cut = scores[static_cast<size_t>(k)];
    double p = 0;
    for (int i = 0; i < k; ++i)
        p += 1.0 / (1.0 + std::exp(-(scores[static_cast<size_t>(i)] - cut) / sd));
    return p / k;
}

QJsonObject RoutingPolicy::toJson() const
{
    if (everyone)
        return { { QStringLiteral("mode"), QStringLiteral("all") } };
    QStringList ids(highValueUsers.begin(), highValueUsers.end());
    ids.sort();
    return {
        { QStringLiteral("mode"), QStringLiteral("selective") },
        { QStringLiteral("cold"), cold },
        { QStringLiteral("low_confidence"), lowConfidence },
        { QStringLiteral("confidence_threshold"), confidenceThreshold },
        { QStringLiteral("high_value"), highValue },
        { QStringLiteral("high_value_users"), static_cast<int>(ids.size()) },
    };
}

RouteDecision route(const RoutingPolicy& policy, const QString& userId, bool coldUser, double confidence)
{
    if (policy.everyone)
        return { true, QStringLiteral("all") };
    if (policy.cold && coldUser)
        return { true, QStringLiteral("cold") };
    if (policy.highValue && policy.highValueUsers.contains(userId))
        return { true, QStringLiteral("high_value") };
    if (policy.lowConfidence && confidence < policy.confidenceThreshold)
        return { true, QStringLiteral("low_confidence") };
    return { false, QStringLiteral("confident") };
}

} // namespace recwb::pipeline
