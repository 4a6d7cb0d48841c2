#pragma once

#include "coldstart/coldstart.h"
#include "eval/evaluator.h"

namespace recwb::eval {

// Evaluates the cold-start path under the same protocol as the CF models: the CF source
// (config.cfModel, or none when it is "none") and the popularity/profile counts are fitted
// on split.train; every evaluated user is ranked by the blend from their train history and
// profile. Params are ColdStartConfig keys (cf, content, profile, category, popularity,
// threshold, profile_attributes, cf_model) plus "cf.<key>" for the CF model's own params.
EvalResult runColdStartEvaluation(const QJsonObject& params, const Split& split, const Dataset& ds,
    std::vector<int> ks, const TaskControl& control = {}, int threads = QThread::idealThreadCount());

} // namespace recwb::eval
