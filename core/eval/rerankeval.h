#pragma once

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "eval/evaluator.h"
#include "eval/stats.h"
#include "pipeline/rerankpipeline.h"
#include "rerank/offline.h"

#include <functional>
#include <memory>
#include <span>
#include <vector>

// The rerank path under the evaluation protocol (docs/EVALUATION.md): a candidate source
// and a reranker scored against the held-out items, the way the pipeline serves a user
// (rerankpipeline.h), but built from the split's TRAIN part only: the CF model and the
// cold-start blend are fitted on split.train, each user's candidates come from their
// train history, and the reranker is given that train history, never the dataset's rows.
namespace recwb::eval {

// Who sees what, for tests: the user, whether the candidates came from the cold-start
// blend, the history handed to the reranker and its candidates. Called from the
// evaluator's worker threads.
using RerankObserver = std::function<void(int32_t user, bool cold, std::span<const rerank::HistoryEntry> history,
    std::span<const rerank::Candidate> candidates)>;

struct RerankEvalOptions {
    // Auto (the pipeline's rule): the cold-start blend for users with fewer than
    // coldThreshold TRAIN interactions, CF for the others.
    pipeline::CandidateSource source = pipeline::CandidateSource::Auto;
    int candidates = 50; // per user, as the pipeline's default; raised to the largest K when smaller
    int coldThreshold = kDefaultColdThreshold;
    // Offline reranker settings over rerank::offlineDefaults() (offlineOptionsFromJson keys),
    // for CF candidates and for candidates from the cold-start blend; k is always the
    // largest K evaluated.
    QJsonObject offline;
    QJsonObject offlineCold;
    RerankObserver observe;
};

// What the arms of one model share, fitted once on split.train: the CF model, the
// cold-start blend on it (only when some user gets its candidates), the content index
// (item metadata only). Holds references to split and ds: they must outlive it, and so
// must it the rankers it hands out. Read-only and thread-safe after construction.
class RerankArms {
public:
    // Throws Error for an unknown model, parameter or offline setting; Canceled.
    RerankArms(const QString& modelName, const QJsonObject& params, const Split& split, const Dataset& ds,
        RerankEvalOptions options, const TaskControl& control = {});
    ~RerankArms();
    RerankArms(const RerankArms&) = delete;
    RerankArms& operator=(const RerankArms&) = delete;

    // The candidates in their source order: the arm "rerank=none".
    Ranker sourceRanker() const;
    // The same candidates through the offline reranker with the user's train history.
    Ranker offlineRanker() const;
    // Whether the user's candidates come from the cold-start blend.
    bool coldSource(int32_t user) const;
    int32_t coldSourceUsers() const; // among the split's evaluated users
    const cf::Recommender& model() const { return *m_model; }
    double fitSeconds() const { return m_fitSeconds; }
    const RerankEvalOptions& options() const { return m_options; }

private:
    std::vector<rerank::Candidate> candidates(int32_t user, const cf::History& train, int n) const;

    const Split& m_split;
    const Dataset& m_ds;
    std::shared_ptr<const Dataset> m_train; // ds with split.train as its interactions: what the reranker sees
    RerankEvalOptions m_options;
    rerank::OfflineOptions m_offline;
    rerank::OfflineOptions m_offlineCold;
    std::shared_ptr<cf::Recommender> m_model;
    std::unique_ptr<coldstart::ColdStartRecommender> m_cold;
    coldstart::ContentIndex m_content;
    double m_fitSeconds = 0;
};

// B against A on all users, then on the cold and the warm users (EvalResult::cohorts'
// rule, by train length), each with its own bootstrap interval; empty cohorts are left out.
// Throws Error when a and b were not evaluated on the same users.
struct CohortComparison {
    QString cohort; // "all", "cold", "warm"
    PairedComparison comparison;
};
std::vector<CohortComparison> compareByCohort(
    const EvalResult& a, const EvalResult& b, Metric metric, int k, int threads = QThread::idealThreadCount());

} // namespace recwb::eval
