#include "pipeline/promptpreview.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/dataset.h"
#include "util/error.h"

#include <QElapsedTimer>

namespace recwb::pipeline {

std::vector<rerank::Candidate> previewCandidates(const Dataset& ds, const cf::Recommender& cfModel,
    const coldstart::ColdStartRecommender* cold, int32_t user, int n, int coldThreshold)
{
    if (user < 0 || user >= ds.numUsers())
        throw Error(QStringLiteral("preview: no user with index %1").arg(user));
    n = std::max(1, n);
    std::vector<cf::ScoredItem> scored;
    if (ds.isCold(user, coldThreshold)) {
        if (!cold)
            throw Error(QStringLiteral("preview: user %1 is cold and no cold-start blend is ready")
                            .arg(ds.users[static_cast<size_t>(user)].externalId));
        for (const auto& c : cold->recommend(cold->userFromDataset(ds, ds.userItems, user), n))
            scored.push_back({ c.item, c.score });
    } else {
        scored = cf::recommend(cfModel, cf::History::ofUser(ds.userItems, user), n);
    }
    return rerank::candidatesFrom(ds, scored);
}

PreviewResult renderPreview(const Dataset& ds, int32_t user, const std::vector<rerank::Candidate>& candidates,
    const rerank::PromptTemplate& tmpl, int k, int coldThreshold, const std::optional<rerank::Prices>& prices,
    int maxOutputTokens)
{
    QElapsedTimer timer;
    timer.start();
    PreviewResult r;
    rerank::EnrichOptions options;
    options.k = std::clamp(k, 1, std::max(1, static_cast<int>(candidates.size())));
    options.coldThreshold = coldThreshold;
    r.variables = rerank::enrich(ds, user, candidates, options);
    try {
        r.prompt = rerank::renderPrompt(tmpl, r.variables);
        r.estimate = rerank::estimateCost(
            *r.prompt, prices.value_or(rerank::Prices {}), options.k, rerank::kDefaultTokensPerItem, maxOutputTokens);
        if (!prices)
            r.estimate.usd.reset();
    } catch (const rerank::TemplateError& e) {
        r.error = e.message();
        r.errorLine = e.line();
        r.errorColumn = e.column();
        r.errorDetail = e.detail();
    } catch (const Error& e) {
        r.error = e.message();
        r.errorDetail = e.message();
    }
    r.ms = static_cast<double>(timer.nsecsElapsed()) / 1e6;
    return r;
}

} // namespace recwb::pipeline
