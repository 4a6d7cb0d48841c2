#pragma once

#include "pipeline/batch.h"
#include "rerank/llm/batchapi.h"
#include "rerank/store.h"

#include <QList>
#include <vector>

// The submit side of a provider batch run (docs/RERANK.md "Provider batch APIs"): the
// stages a batch rerank does before its calls, for every user at once; the users that need
// a call become the batch's request lines. The collect side is a BatchReranker with
// BatchOptions::batchAnswers on the submitted run.
namespace recwb::pipeline {

struct BatchSubmission {
    rerank::EndpointProfile profile; // the endpoint the batch goes to (model override applied)
    rerank::store::RunInfo run; // to store, status "submitting"; the collect reads its params
    QList<rerank::BatchRequestLine> requests; // custom_id = the user's external id
    int users = 0;
    int routedAway = 0; // keep the CF order by routing decision
    int cached = 0; // answered from the response cache at collect
    int noCandidates = 0;
};

// Stages 1-3, routing and the cache lookup for each user (dataset indices, duplicates once),
// as BatchReranker would. Throws Error on a bad configuration: a cascade, a provider without
// a batch API, a probe, a draft.
BatchSubmission prepareBatchSubmission(
    PipelineContext& ctx, const BatchOptions& options, const std::vector<int32_t>& users);

} // namespace recwb::pipeline
