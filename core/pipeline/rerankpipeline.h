#pragma once

#include "cf/recommender.h"
#include "data/dataset.h"
#include "rerank/answer.h"
#include "rerank/llmtypes.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <optional>

namespace recwb {
class Workspace;
}
namespace recwb::rerank {
class LlmClient;
}

// One user through the rerank pipeline: CF candidates -> enrichment -> prompt render ->
// the offline reranker or an LLM (with the response cache) -> answer validation. Any
// failure of the LLM stage (call failed, timeout, circuit open, unusable answer) gives the
// CF order (rerank::cfFallback) marked with its reason; it never throws for those.
namespace recwb::pipeline {

struct RerankOptions {
    QString prompt = QStringLiteral("listwise"); // template "name" (newest) or "name@version"
    QString endpoint; // endpoint profile name; empty = the workspace's default endpoint
    QString model; // overrides the endpoint's model when set
    int candidates = 50; // CF candidates handed to the reranker
    int k = 10; // how many the reranker picks
    bool bypassCache = false; // neither read the response cache nor count it (a fresh answer is still stored)
    int coldThreshold = kDefaultColdThreshold; // users with fewer interactions take the cold-start path
    // The client for LLM endpoints; null = a client made for this call. The LLM stage uses
    // rerank::sendBlocking (a local event loop): CLI and tests only, never the GUI thread.
    rerank::LlmClient* client = nullptr;
};

struct StageMs {
    double candidates = 0;
    double enrichment = 0;
    double render = 0;
    double llm = 0; // the offline reranker, the cache lookup or the call
    double parse = 0;
    double total() const { return candidates + enrichment + render + llm + parse; }
};

struct RerankOutcome {
    QString userId;
    QString templateRef; // e.g. "listwise@1"
    QString endpoint;
    QString model;
    rerank::ProviderKind kind = rerank::ProviderKind::Offline;
    bool coldStart = false; // candidates came from the cold-start blend instead of plain CF
    int candidateCount = 0;
    rerank::RerankResult result; // final list; usable == false means CF-order fallback
    QStringList titles; // per result.items entry, the item's title
    rerank::Usage usage; // tokens spent by this call (zero for a cache hit or offline)
    std::optional<double> cost; // USD; nullopt when a needed price is unknown
    bool cacheHit = false;
    StageMs stageMs;
    bool fallback() const { return !result.usable; }
    // user, endpoint, model, template, cold_start, items (item_id, title, rank, score,
    // explanation, cf_rank, filled), fallback, fallback_reason, defects, tokens, cost,
    // cache_hit, stage_ms.
    QJsonObject toJson() const;
};

// Throws Error for bad input (unknown user, template or endpoint; a template that does not
// render). Shipped templates are seeded into the workspace when absent.
RerankOutcome rerankUser(Workspace& ws, const Dataset& ds, const cf::Recommender& cfModel, int32_t user,
    const RerankOptions& options);

} // namespace recwb::pipeline
