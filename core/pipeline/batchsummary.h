#pragma once

#include "pipeline/rerankpipeline.h"

#include <QJsonObject>
#include <QList>
#include <optional>
#include <span>
#include <vector>

// The figures of a batch run (docs/RERANK.md "Batch report"): routing shares, who answered,
// escalations, fallbacks and defects, tokens and cost, prompt-cache savings, the cost saved
// against sending everyone to the largest model, and per-stage latency percentiles.
// Pure functions over finished outcomes.
namespace recwb::pipeline {

struct Percentiles {
    int count = 0;
    double p50 = 0, p95 = 0, p99 = 0, mean = 0, max = 0;
    QJsonObject toJson() const;
};
// Linear interpolation between order statistics (numpy's default); zeros when empty.
Percentiles percentiles(std::vector<double> values);

struct TierInfo {
    rerank::EndpointProfile profile;
    std::optional<rerank::Prices> prices; // nullopt: unknown
};

struct CacheCounters {
    int hits = 0;
    int misses = 0;
    int bypassed = 0;
};

// tiers: the cascade, cheapest first (the last is "the largest"); k is the picks per user,
// for the output-token estimate when no call was made. wallMs: the run's wall time.
QJsonObject summarizeBatch(std::span<const RerankOutcome> outcomes, std::span<const TierInfo> tiers, int k,
    double wallMs, const CacheCounters& cache);

} // namespace recwb::pipeline
