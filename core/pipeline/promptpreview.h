#pragma once

#include "rerank/prices.h"
#include "rerank/prompt.h"

#include <QJsonObject>
#include <QString>
#include <optional>
#include <vector>

namespace recwb {
class Dataset;
namespace cf {
    class Recommender;
}
namespace coldstart {
    class ColdStartRecommender;
}
} // namespace recwb

// The prompt editor's preview: stage 1 once per user (the candidates the pipeline would
// rerank), then stages 2-3 (enrich + render) on every edit, with the size and the cost
// estimate. Pure functions over shared, immutable data: call from any thread.
namespace recwb::pipeline {

// The pipeline's stage 1: CF candidates for a warm user, the cold-start blend for a cold
// one (cold may be null only when the user is warm). Throws Error for an unknown user.
std::vector<rerank::Candidate> previewCandidates(const Dataset& ds, const cf::Recommender& cfModel,
    const coldstart::ColdStartRecommender* cold, int32_t user, int n, int coldThreshold);

struct PreviewResult {
    QJsonObject variables; // what enrich() gave the template
    std::optional<rerank::RenderedPrompt> prompt; // none when the template does not render
    QString error; // the template error's message
    int errorLine = 0; // 1-based; 0 when no error or no position
    int errorColumn = 0;
    QString errorDetail; // the message without the "prompt template NAME@V" prefix
    rerank::PromptEstimate estimate; // with prices (empty prices: usd unknown)
    double ms = 0; // enrich + render + estimate
};

// Stages 2-3 and the estimate. Template errors come back in the result, never thrown.
PreviewResult renderPreview(const Dataset& ds, int32_t user, const std::vector<rerank::Candidate>& candidates,
    const rerank::PromptTemplate& tmpl, int k, int coldThreshold, const std::optional<rerank::Prices>& prices,
    int maxOutputTokens = 0);

} // namespace recwb::pipeline
