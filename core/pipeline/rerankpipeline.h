#pragma once

#include "cf/recommender.h"
#include "data/dataset.h"
#include "rerank/answer.h"
#include "rerank/faithfulness.h"
#include "rerank/llmtypes.h"
#include "rerank/prices.h"
#include "rerank/prompt.h"

#include <QHash>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <memory>
#include <optional>
#include <vector>

namespace recwb {
class Workspace;
}
namespace recwb::coldstart {
class ColdStartRecommender;
class ContentIndex;
}
namespace recwb::rerank {
class ResponseCache;
}

// One user through the rerank pipeline: CF candidates -> enrichment -> prompt render ->
// the offline reranker or an LLM (with the response cache) -> answer validation. Any
// failure of the LLM stage (call failed, timeout, circuit open, unusable answer) gives the
// CF order (rerank::cfFallback) marked with its reason; it never throws for those.
// The stages are separate functions so the batch runner (batch.h) can interleave many
// users around asynchronous calls (one user is a batch of one).
namespace recwb::pipeline {

// Where a user's candidates come from.
enum class CandidateSource {
    Auto, // CF for warm users, the cold-start blend for cold ones (the pipeline's rule)
    Cf, // the CF model for everyone, cold users included
    ColdStart, // the cold-start blend for everyone
};

struct StageMs {
    double candidates = 0;
    double enrichment = 0;
    double render = 0;
    double llm = 0; // the offline reranker, the cache lookup or the call(s), escalation included
    double parse = 0;
    double total() const { return candidates + enrichment + render + llm + parse; }
};

// One model call (or cache hit) made for a user; a cascade makes several.
struct TierAttempt {
    QString endpoint;
    QString model;
    bool usable = false; // the answer passed validation
    QString failure; // why not, when !usable
    rerank::Usage usage; // zero for a cache hit
    std::optional<double> cost; // USD; nullopt when a needed price is unknown
    bool cacheHit = false;
    double ms = 0;
};

struct RerankOutcome {
    QString userId;
    QString templateRef; // e.g. "listwise@1"
    QString endpoint; // the first (or only) endpoint asked
    QString model;
    rerank::ProviderKind kind = rerank::ProviderKind::Offline;
    bool coldStart = false; // candidates came from the cold-start blend instead of plain CF
    int candidateCount = 0;
    double cfConfidence = 0; // routing.h cfConfidence() of the candidates
    QString route = QStringLiteral("all"); // routing decision (routing.h); "confident" = CF order kept
    qint64 promptTokensEstimate = 0; // estimateTokens() of the rendered prompt
    rerank::RerankResult result; // final list; usable == false means CF-order fallback
    QStringList titles; // per result.items entry, the item's title
    QList<TierAttempt> tiers; // the calls made, in order (empty for offline and routed-away users)
    rerank::Usage usage; // tokens spent over all tiers (zero for cache hits and offline)
    std::optional<double> cost; // USD over all tiers; nullopt when a needed price is unknown
    bool cacheHit = false; // the final answer came from the response cache
    std::vector<int> shownAt; // probe runs: per candidate (CF order), its 1-based position in the prompt
    StageMs stageMs;
    bool fallback() const { return !result.usable; }
    bool llmCalled() const { return !tiers.isEmpty(); }
    // Who produced the final list: an endpoint name, "cf" (routed away: CF order kept),
    // "fallback" (every tier failed) or the offline endpoint's name.
    QString answeredBy() const;
    // user, endpoint, model, template, cold_start, route, cf_confidence, answered_by, items
    // (item_id, title, rank, score, explanation, cf_rank, filled), fallback,
    // fallback_reason, defects, tiers, tokens, cost, cache_hit, stage_ms.
    QJsonObject toJson() const;
    // The outcome back from a stored toJson() (runs merge recomputes a summary from it):
    // everything summarizeBatch() reads; titles and items as stored, shownAt not.
    static RerankOutcome fromJson(const QJsonObject& o);
};

// What is shared by every user of a run, built once: the dataset and CF model, the
// cold-start blend and the content index (on first use), templates, endpoint profiles,
// prices and the response cache. Same thread contract as the Workspace.
class PipelineContext {
public:
    PipelineContext(Workspace& ws, const Dataset& ds, const cf::Recommender& cfModel,
        int coldThreshold = kDefaultColdThreshold);
    ~PipelineContext();
    PipelineContext(const PipelineContext&) = delete;
    PipelineContext& operator=(const PipelineContext&) = delete;

    Workspace& workspace() { return m_ws; }
    // Where runs, their results and new response-cache entries are written: the workspace,
    // or a shard's file of its own (rerank --shard --out, docs/SCALE.md), which leaves the
    // workspace unwritten (it may be read-only). Set before cache() is first used.
    void setOutput(Workspace* output) { m_out = output; }
    Workspace& output() { return m_out ? *m_out : m_ws; }
    const Dataset& dataset() const { return m_ds; }
    const cf::Recommender& cfModel() const { return m_cf; }
    int coldThreshold() const { return m_coldThreshold; }
    const coldstart::ColdStartRecommender& coldStart(); // fitted on first use
    // A blend already fitted on this dataset with this CF model (the GUI's, shared by its
    // views), used instead of fitting one; null: fit on first use.
    void setColdStart(std::shared_ptr<const coldstart::ColdStartRecommender> cold) { m_cold = std::move(cold); }
    // The blend in use (set, or fitted on first use; null before), for callers that keep it.
    std::shared_ptr<const coldstart::ColdStartRecommender> coldStartShared() const { return m_cold; }
    const coldstart::ContentIndex& content(); // the cold-start blend's index
    // "name" or "name@version"; shipped defaults are seeded when the name is absent.
    // Throws Error naming the ref when it does not exist.
    rerank::PromptTemplate promptTemplate(const QString& ref);
    // The named profile (empty = the workspace default), model overridden when set.
    rerank::EndpointProfile endpoint(const QString& name, const QString& model = {});
    std::optional<rerank::Prices> pricesFor(const rerank::EndpointProfile& profile) const;
    // Every price pricesFor() gives is multiplied by this (0.5: a provider batch API's rate).
    void setPriceScale(double scale) { m_priceScale = scale; }
    double priceScale() const { return m_priceScale; }
    rerank::ResponseCache& cache();
    // The explanation check (unsupported_claim defects), indexed on first use.
    const rerank::FaithfulnessChecker& faithfulness();
    // A checker already indexed on this dataset (the rerank service keeps one per dataset),
    // used instead of indexing one; null: index on first use.
    void setFaithfulness(std::shared_ptr<const rerank::FaithfulnessChecker> checker)
    {
        m_faithfulness = std::move(checker);
    }
    std::shared_ptr<const rerank::FaithfulnessChecker> faithfulnessShared() const { return m_faithfulness; }
    // Candidate and history texts made once per item for every user of the run (made on
    // first use; then safe to read from any thread).
    const rerank::ItemPromptTexts& itemTexts();

private:
    Workspace& m_ws;
    Workspace* m_out = nullptr;
    const Dataset& m_ds;
    const cf::Recommender& m_cf;
    int m_coldThreshold;
    std::shared_ptr<const coldstart::ColdStartRecommender> m_cold;
    std::unique_ptr<rerank::ResponseCache> m_cache;
    rerank::PriceTable m_prices;
    double m_priceScale = 1.0;
    QHash<QString, rerank::PromptTemplate> m_templates;
    std::shared_ptr<const rerank::FaithfulnessChecker> m_faithfulness;
    std::unique_ptr<rerank::ItemPromptTexts> m_itemTexts;
};

// A user after stages 1-3, waiting for the reranker.
struct PreparedUser {
    int32_t user = -1; // -1 for a what-if user
    std::optional<rerank::PromptUser> whatIf; // their history replaces the dataset's
    int k = 10;
    std::vector<rerank::Candidate> candidates; // CF order
    std::vector<cf::ScoredItem> scored; // the same, as CF scored them
    rerank::RenderedPrompt prompt;
    RerankOutcome outcome; // userId, template, cold start, candidates, confidence, stage times so far
};

// Stages 1-3. shuffleSeed != 0 shows the candidates to the model in a seeded random order
// (the position-bias probe); parsing and filling always use the CF order. Throws Error for
// an unknown user or a template that does not render.
PreparedUser prepareUser(PipelineContext& ctx, int32_t user, const rerank::PromptTemplate& tmpl, int candidates, int k,
    quint64 shuffleSeed = 0, CandidateSource source = CandidateSource::Auto);
// The same for a user given by a history of dataset items (a what-if, a new user): CF
// scores the history by fold-in; cold when it has fewer items than the threshold.
PreparedUser prepareUser(PipelineContext& ctx, const rerank::PromptUser& user, const rerank::PromptTemplate& tmpl,
    int candidates, int k, quint64 shuffleSeed = 0, CandidateSource source = CandidateSource::Auto);
// Whether the pipeline treats the user as cold (fewer interactions than the threshold).
bool isColdUser(const PipelineContext& ctx, int32_t user, const rerank::PromptUser* whatIf);

// Stage 4 with the offline reranker, with the settings for where the candidates came from
// (rerank::offlineDefaults(outcome.coldStart)).
void rerankOffline(PipelineContext& ctx, PreparedUser& p);
// The CF order stays by routing decision (not a failure): usable, nothing called.
void keepCfOrder(PreparedUser& p, const QString& why);
// Stage 5 for one tier's answer: validates it, records the attempt (usage, cost, defects),
// stores a good fresh answer in the cache (under cacheKey; unless !storeInCache: then the
// caller does, on the context's thread, when answerToCache()) and sets the result. Returns
// whether the answer is usable; an unusable one leaves a CF-order fallback naming the
// request, which the next tier of a cascade may replace. With !storeInCache it touches
// neither the Workspace nor the cache, and may run on another thread once the context's
// faithfulness() index exists.
bool applyAnswer(PipelineContext& ctx, PreparedUser& p, const rerank::EndpointProfile& profile,
    const rerank::ChatResponse& response, bool cacheHit, double ms, const QString& cacheKey, bool storeInCache = true);
// Whether applyAnswer() keeps a fresh answer in the response cache.
bool answerToCache(const rerank::ChatResponse& response, bool usable, bool cacheHit);
// The faithfulness check of every picked item's explanation against the history the
// reranker saw (an "unsupported_claim" defect per finding, timed as part of "parse"),
// titles and the stage timings on the result; call once when the user is done.
RerankOutcome finishOutcome(PipelineContext& ctx, PreparedUser&& p);

// Render, parse and the faithfulness check once with placeholder data, on the calling thread,
// so that what each does only once per process or thread (compiling its expressions, the answer
// schema, the thread's first heap pages) is not timed as the first user's stages. Touches
// neither the Workspace nor the cache; may run on the preparation thread once the context's
// faithfulness() index exists. Errors are left for the first user to report.
void warmUpStages(PipelineContext& ctx, const rerank::PromptTemplate& tmpl);

} // namespace recwb::pipeline
