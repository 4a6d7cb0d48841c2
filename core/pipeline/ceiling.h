#pragma once

#include "rerank/llmtypes.h"

#include <QList>
#include <QString>
#include <optional>

namespace recwb::rerank {
class PriceTable;
}

// The confirmation ceiling (docs/RERANK.md "Confirmation ceiling"): a run projected to make
// more calls or cost more than this is not started without an explicit yes (recwb-cli
// rerank --yes). The one place the defaults live.
namespace recwb::pipeline {

struct RunCeiling {
    static constexpr qint64 kDefaultCalls = 1000;
    static constexpr double kDefaultUsd = 5.0;
    qint64 calls = kDefaultCalls;
    double usd = kDefaultUsd;

    // The defaults, with RECWB_CEILING_CALLS and RECWB_CEILING_USD on top when set. Throws
    // Error naming the variable when its value is not a number >= 0.
    static RunCeiling fromEnvironment();
};

// What a run may take at most: every job (user x probe order) sent to every LLM tier of
// the cascade, each call at its worst case (kInputTokensPerCandidate per candidate plus
// kInputTokensOverhead at the input price, the endpoint's output cap at the output price).
struct RunProjection {
    static constexpr int kInputTokensPerCandidate = 80;
    static constexpr int kInputTokensOverhead = 1000;
    qint64 calls = 0;
    std::optional<double> usd; // nullopt: a tier's price is unknown
    // Empty when within the ceiling, else what exceeds it, for a message.
    QString exceeds(const RunCeiling& ceiling) const;
};

// tiers: the LLM endpoints of the run (offline ones make no calls and are skipped);
// maxCostUsd: the run's spending cap, which bounds the projected cost.
RunProjection projectRun(const QList<rerank::EndpointProfile>& tiers, const rerank::PriceTable& prices, qint64 jobs,
    int candidates, std::optional<double> maxCostUsd);

} // namespace recwb::pipeline
