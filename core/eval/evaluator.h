#pragma once

#include "cf/recommender.h"
#include "data/dataset.h"
#include "eval/metrics.h"
#include "eval/split.h"
#include "util/task.h"

#include <QJsonObject>
#include <QString>
#include <QThread>
#include <array>
#include <functional>
#include <span>
#include <vector>

namespace recwb::eval {

// Every metric at one K. perUser[m] is parallel to EvalResult::users.
struct MetricsAtK {
    int k = 0;
    std::array<std::vector<double>, kMetricCount> perUser;
    std::array<double, kMetricCount> mean {}; // plain mean over the evaluated users
    double coverage = 0; // run level: distinct items in all top-K lists / catalog size

    double value(Metric m) const { return mean[static_cast<size_t>(m)]; }
    const std::vector<double>& values(Metric m) const { return perUser[static_cast<size_t>(m)]; }
};

// Users grouped by the length of their TRAIN history (what the model saw).
struct Cohort {
    QString name; // "cold", "warm", "train 0", "train 1-4", ..., "train 200+"
    int32_t minTrain = 0; // inclusive
    int32_t maxTrain = -1; // inclusive; -1 = no upper bound
    int32_t users = 0;
    std::vector<std::array<double, kMetricCount>> mean; // per K, in EvalResult::ks order; 0 when empty

    bool contains(int32_t trainCount) const
    {
        return trainCount >= minTrain && (maxTrain < 0 || trainCount <= maxTrain);
    }
};

// The train-history buckets of the cohort breakdown (lower bounds; the last is open).
inline constexpr std::array<int32_t, 6> kCohortBucketStarts { 0, 1, 5, 20, 50, 200 };

struct EvalResult {
    QString model; // algorithm name ("ease", ...), empty for an anonymous ranker
    QJsonObject params; // the fitted model's parameters, when known
    QString splitName;
    quint64 seed = 0;
    std::vector<int> ks; // ascending, distinct
    int32_t catalogSize = 0;

    std::vector<int32_t> users; // the evaluated users (index into the dataset), ascending
    std::vector<int32_t> trainCounts; // parallel to users: train history length
    int32_t usersEvaluated = 0;
    std::vector<MetricsAtK> atK; // parallel to ks
    std::vector<Cohort> cohorts; // "cold" (< kDefaultColdThreshold in train), "warm", then the buckets

    double fitSeconds = 0;
    double evalSeconds = 0;

    // Throws Error when k was not evaluated.
    const MetricsAtK& at(int k) const;
    // "ndcg@10", "coverage@20", ...: the run-level figure; throws Error when unknown.
    double value(const QString& metricAtK) const;
    const std::vector<double>& perUser(Metric m, int k) const { return at(k).values(m); }

    // {"model", "params", "split", "seed" (null for the splits without randomness), "k",
    //  "users_evaluated", "catalog_size", "hr@K", "recall@K", "ndcg@K", "mrr@K",
    //  "coverage@K", "ild@K", "novelty@K" for every K, "fit_seconds", "eval_seconds",
    //  "cohorts": [{"name", "min_train", "max_train" (null = open), "users", metric@K (null
//  when the cohort is empty)...}]}
    QJsonObject toJson() const;
};

// Ranks items for one user: at most n item indices, best first, from the user's TRAIN
// history. Called from several threads at once, so it must be thread-safe. The
// evaluator drops from its answer any index out of range, any repeat and any item of
// the train history (the ranking is over the catalog without the user's train items).
using Ranker = std::function<std::vector<int32_t>(int32_t user, const cf::History& train, int n)>;

// Evaluates a fitted model on the split: for each evaluated user, model.score() of the
// user's TRAIN row, then cf::topN over the whole catalog without the train items (ties
// by item index ascending), cut at max(ks). ks are sorted and deduplicated; each must be
// > 0. Users are shared out to `threads` workers in fixed chunks and every result goes to
// the user's own slot, and means are summed in user order, so the figures do not depend
// on the thread count. The calling thread reports progress and polls cancellation
// (throws Canceled). fitSeconds is left 0.
EvalResult evaluate(const cf::Recommender& fittedModel, const Split& split, const Dataset& ds, std::vector<int> ks,
    const TaskControl& control = {}, int threads = QThread::idealThreadCount());

// The same protocol for anything that ranks without being a cf::Recommender (the
// cold-start path): see Ranker.
EvalResult evaluate(const Ranker& ranker, const Split& split, const Dataset& ds, std::vector<int> ks,
    const TaskControl& control = {}, int threads = QThread::idealThreadCount());

// The name runEvaluation gives the cold-start path (coldstart::ColdStartRecommender).
inline const QString kColdStartModel = QStringLiteral("coldstart");

// Fits cf::makeRecommender(modelName, params) on split.train and evaluates it, timing
// both (fitSeconds, evalSeconds). Throws Error for an unknown model or parameter.
// modelName "coldstart" evaluates the cold-start blend instead, through the Ranker
// overload: runColdStartEvaluation() (eval/coldstartranker.h) with its params
// (coldstart::ColdStartConfig keys, plus "cf.<key>" for its CF model); "fit" then times
// fitting its CF model and its content/profile indexes.
EvalResult runEvaluation(const QString& modelName, const QJsonObject& params, const Split& split,
    const Dataset& ds, std::vector<int> ks, const TaskControl& control = {},
    int threads = QThread::idealThreadCount());

} // namespace recwb::eval
