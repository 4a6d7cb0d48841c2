#include "pipeline/providerbatch.h"

#include "data/workspace.h"
#include "rerank/cache.h"
#include "rerank/llm/providers.h"
#include "util/error.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QSet>

namespace recwb::pipeline {

BatchSubmission prepareBatchSubmission(
    PipelineContext& ctx, const BatchOptions& options, const std::vector<int32_t>& users)
{
    if (options.cascade.size() > 1 || options.cascade == QStringList { QStringLiteral("none") })
        throw Error(QStringLiteral("a provider batch goes to one endpoint: give --endpoint, not a cascade or none"));
    if (options.probeOrders >= 2 || options.draft || options.resumeRunId > 0)
        throw Error(QStringLiteral("a provider batch does not take a probe, a draft template or a resume"));
    BatchSubmission s;
    s.profile = ctx.endpoint(options.cascade.value(0), options.model);
    if (!rerank::supportsBatchApi(s.profile.kind))
        throw Error(
            QStringLiteral("endpoint \"%1\" is %2: provider batch APIs exist for openai, anthropic and gemini endpoints")
                .arg(s.profile.name, rerank::providerKindName(s.profile.kind)));
    const rerank::PromptTemplate prompt = ctx.promptTemplate(options.prompt);
    const rerank::PromptTemplate cold = options.coldPrompt.isEmpty() ? prompt : ctx.promptTemplate(options.coldPrompt);
    const Dataset& ds = ctx.dataset();
    QSet<int32_t> seen;
    QJsonArray ids;
    for (const int32_t u : users) {
        if (u < 0 || u >= ds.numUsers())
            throw Error(QStringLiteral("provider batch: no user with index %1").arg(u));
        if (seen.contains(u))
            continue;
        seen.insert(u);
        ++s.users;
        ids.append(ds.users[static_cast<size_t>(u)].externalId);
        const PreparedUser p = prepareUser(
            ctx, u, isColdUser(ctx, u, nullptr) ? cold : prompt, options.candidates, options.k, 0, options.source);
        if (p.candidates.empty()) {
            ++s.noCandidates;
            continue;
        }
        if (!route(options.routing, p.outcome.userId, p.outcome.coldStart, p.outcome.cfConfidence).llm) {
            ++s.routedAway;
            continue;
        }
        const QString key = rerank::cacheKey(s.profile, p.prompt.request);
        if (ctx.cache().lookup(key, options.bypassCache)) {
            ++s.cached;
            continue;
        }
        s.requests.append(
            { p.outcome.userId, p.outcome.userId, key, rerank::buildProviderBody(s.profile, p.prompt.request) });
    }
    // The parameters a collect resumes the run with (the CLI's applyRunParams).
    s.run.promptName = prompt.name;
    s.run.promptVersion = prompt.version;
    s.run.endpoint = s.profile.name;
    s.run.params = options.extraParams;
    s.run.params.insert(QStringLiteral("mode"), QStringLiteral("batch_api"));
    s.run.params.insert(QStringLiteral("template"), prompt.ref());
    s.run.params.insert(QStringLiteral("cold_template"), cold.ref());
    s.run.params.insert(QStringLiteral("cascade"),
        QJsonArray { QJsonObject {
            { QStringLiteral("endpoint"), s.profile.name }, { QStringLiteral("model"), s.profile.model } } });
    s.run.params.insert(QStringLiteral("candidates"), options.candidates);
    s.run.params.insert(QStringLiteral("k"), options.k);
    s.run.params.insert(QStringLiteral("routing"), options.routing.toJson());
    s.run.params.insert(QStringLiteral("bypass_cache"), options.bypassCache);
    s.run.params.insert(QStringLiteral("users"), s.users);
    s.run.params.insert(QStringLiteral("user_ids"), ids);
    s.run.params.insert(QStringLiteral("batch_requests"), static_cast<int>(s.requests.size()));
    s.run.params.insert(QStringLiteral("status"), QStringLiteral("submitting"));
    return s;
}

} // namespace recwb::pipeline
