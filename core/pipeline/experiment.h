#pragma once

#include "data/dataset.h"
#include "eval/metrics.h"
#include "eval/split.h"
#include "eval/stats.h"
#include "pipeline/armspec.h"
#include "pipeline/batchsummary.h"
#include "pipeline/ceiling.h"
#include "pipeline/rerankpipeline.h"
#include "pipeline/routing.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QMap>
#include <QObject>
#include <QString>
#include <QStringList>
#include <array>
#include <memory>
#include <optional>
#include <vector>

class QThreadPool;

namespace recwb {
class Workspace;
}
namespace recwb::pipeline {
class RerankService;
struct RerankReply;
}

// Rerank experiments (docs/EXPERIMENTS.md): arms (a candidate source x a reranker x K x
// candidates) scored on a cohort of a split's evaluated users against the held-out items,
// with per-cohort figures, paired comparisons, repeats, cost projection, assertions for CI,
// and storage that resumes a killed run without redoing finished users.
namespace recwb::pipeline {

// ---------------------------------------------------------------- the file

// Which evaluated users an experiment scores. Cohort rules (on the split's TRAIN part):
// cold = fewer than coldThreshold train interactions; warm = the rest; longtail = users
// whose mean item popularity (train users per item, over their train items) is in the
// lowest quartile of the evaluated users (<= the 25th percentile, numpy "linear"); users =
// a saved list of external ids (ids the split does not evaluate are an error naming them);
// sample = a seeded random N of `of` (all of it when it has <= N users), drawn with the
// experiment's seed, reported in user order.
struct CohortSpec {
    enum class Kind { All, Cold, Warm, LongTail, Users, Sample };
    Kind kind = Kind::All;
    QStringList users; // Kind::Users
    int sample = 0; // Kind::Sample: N > 0
    Kind of = Kind::All; // Kind::Sample: All, Cold, Warm or LongTail

    // "all" | "cold" | "warm" | "longtail" | {"users": [ids]} | {"sample": N, "of": COHORT}
    // ("of" defaults to "all"). Throws Error starting with `where` (e.g. "exp.json: cohort").
    static CohortSpec fromJson(const QJsonValue& v, const QString& where);
    QJsonValue toJson() const;
    QString name() const; // "all", "cold", "users (12)", "sample 50 of warm"
};

// One arm of an experiment: its name in the file (the key in "arms") and the compare
// view's arm spec, plus keys only experiments know (stripped before ArmSpec::parse):
//   repeats=N    samples per user (non-deterministic arms, temperature > 0); default the
//                file's "repeats" (1). Repeat 0 may use the response cache, later repeats
//                bypass it.
//   routing=R    all (default) | selective (every rule of RoutingPolicy) | cold | lowconf
//                | lowconf:THRESHOLD: the LLM only for the users the rule picks, the CF
//                order kept for the rest (routed-CF share).
//   source=S     cf (default: the CF model for every user, cold ones included, so a
//                rerank=none arm equals `recwb-cli eval` of that model) | auto (the
//                pipeline's rule: the cold-start blend for cold users). cf=coldstart is
//                the blend for everyone.
// "LLM-only" in the design's sense is cf=pop with a reranker: popular items, no CF.
// k: when the arm spec gives no k=, the list length is the largest of the file's "k".
struct ExperimentArm {
    QString name;
    ArmSpec spec;
    int repeats = 1;
    QString routing = QStringLiteral("all");
    CandidateSource source = CandidateSource::Cf;
    bool explicitK = false; // k= was given in the spec
    bool explicitCandidates = false; // candidates= was given

    // Throws Error naming `where`, the arm and the bad key or value.
    static ExperimentArm parse(
        const QString& name, const QString& text, int defaultRepeats, const std::vector<int>& ks, const QString& where);
    QString toString() const; // the spec as written back to the file (extra keys included)
    RoutingPolicy routingPolicy() const;
};

struct ExperimentSpec {
    QString name;
    QString split = QStringLiteral("strat75"); // eval::SplitSpec name
    quint64 seed = eval::kDefaultSeed; // the split's (strat75) and the cohort sample's
    CohortSpec cohort;
    std::vector<int> ks { 10 }; // ascending, distinct, > 0 ("k": N or [N, ...])
    std::vector<ExperimentArm> arms; // in file order; the first is the baseline of comparisons
    std::optional<double> maxCostUsd; // "max_cost"
    QStringList asserts; // "assert": strings (assertion grammar below)
    int repeats = 1; // "repeats": default for arms
    int coldThreshold = kDefaultColdThreshold; // "cold_threshold"
    int chunkSize = 32; // "chunk": users per rerank job (and per stored batch)
    // "shard": "I/N" (recwb-cli experiment run --shard): only the cohort's users of shard I
    // of N (pipeline::shardOf, docs/SCALE.md); empty: every user. Part of the stored spec,
    // so an unfinished shard resumes only as that shard; experiment merge folds the shards.
    QString shard;

    // Throws Error "FILE: KEY: what is wrong" for bad JSON, unknown keys, bad values, bad
    // arm specs and assertions that do not parse or name unknown arms / metrics.
    static ExperimentSpec fromJson(const QByteArray& json, const QString& fileName);
    static ExperimentSpec fromFile(const QString& fileName); // reads, then fromJson
    QJsonObject toJson() const; // fromJson(toJson()) == *this (arms in order)
    int maxK() const { return ks.empty() ? 10 : ks.back(); }
    const ExperimentArm* arm(const QString& name) const;
};

// ---------------------------------------------------------------- assertions

// One assertion, parsed. Grammar (spaces optional, case-sensitive arm names):
//   METRIC(ARM) OP NUMBER | METRIC(ARM) OP METRIC(ARM)
//   ci_low(METRIC, B - A) OP NUMBER      (also ci_high, mean_diff, p_value)
// METRIC: a per-arm figure of ArmFigures::value ("ndcg@10", "hr@20", "recall@10",
// "mrr@10", "coverage@10", "ild@10", "novelty@10", "cost_usd", "cost_per_1k_users",
// "fallback_share", "llm_share", "routed_cf_share", "tokens_in", "tokens_out",
// "cache_hits", "kendall_tau", "latency_p95_ms", "users"); in ci_*(...) a per-user
// metric@K. OP: >=, <=, >, <, ==, !=. Figures are on the experiment's cohort.
struct Assertion {
    enum class Kind { Compare, CompareArms, Paired };
    Kind kind = Kind::Compare;
    QString text;
    QString metric; // left-hand metric (Compare, CompareArms) or the paired metric@K
    QString arm; // Compare/CompareArms: left arm; Paired: B
    QString op;
    double number = 0; // Compare, Paired
    QString rightMetric; // CompareArms
    QString rightArm; // CompareArms; Paired: A
    QString pairedFn; // Paired: ci_low, ci_high, mean_diff, p_value

    // Throws Error "assertion 'TEXT': what is wrong"; arms/metrics are checked against
    // `spec` when given.
    static Assertion parse(const QString& text, const ExperimentSpec* spec = nullptr);
};

struct AssertionResult {
    QString text;
    bool passed = false;
    double value = 0; // the left-hand side
    QString detail; // e.g. "ndcg@10(B) = 0.3812 >= ndcg@10(A) = 0.3790"
    QJsonObject toJson() const; // {"text", "passed", "value", "detail"}
};

// ---------------------------------------------------------------- results

// One arm's stored result for one user (and repeat): its list and per-user figures.
struct UserRow {
    QString arm;
    int repeat = 0;
    QString userId; // external id
    int32_t user = -1; // dataset index (the workspace's dataset)
    bool cold = false; // cohort flags, from the split's train part
    bool longTail = false;
    int trainCount = 0;
    QStringList items; // external item ids, rank order (the arm's list, cut at its k)
    // Per K of the spec (parallel to ExperimentSpec::ks): HR, recall, NDCG, MRR, ILD,
    // novelty (eval::Metric order), exactly as the evaluator computes them.
    std::vector<std::array<double, eval::kMetricCount>> metrics;
    QString answeredBy; // RerankOutcome::answeredBy()
    bool fallback = false;
    bool routedCf = false; // routing kept the CF order
    bool llmCalled = false;
    QStringList defects; // defect kinds
    qint64 tokensIn = 0;
    qint64 tokensOut = 0;
    std::optional<double> cost; // USD; nullopt unknown price
    bool cacheHit = false;
    StageMs stageMs;
    // The full RerankOutcome::toJson() (items with explanations, tiers, ...): what the
    // compare view needs to show the column (ArmResult::fromOutcomeJson).
    QJsonObject outcome;

    double metric(eval::Metric m, size_t kIndex) const { return metrics[kIndex][static_cast<size_t>(m)]; }
    QJsonObject toJson() const; // {"arm", "repeat", "user", "cold", "long_tail", "train_count", "items",
    // "ndcg@10", ..., "answered_by", "fallback", "routed_cf", "llm_called", "defects",
    // "tokens_in", "tokens_out", "cost_usd", "cache_hit", "stage_ms", "outcome"}
    static UserRow fromJson(const QJsonObject& o, const Dataset* ds = nullptr); // ds: fills `user`
};

// One arm on one cohort.
struct ArmFigures {
    QString arm;
    QString cohort; // "cohort" (the experiment's), "cold", "warm", "longtail"
    int users = 0;
    int repeats = 1;
    std::vector<int> ks;
    // Per K: means of the per-user metrics (repeats averaged per user first).
    std::vector<std::array<double, eval::kMetricCount>> mean;
    std::vector<double> coverage; // per K, over repeat 0's lists
    double llmShare = 0; // users answered by an LLM
    double fallbackShare = 0; // users whose reranker failed (CF order shown)
    double routedCfShare = 0; // users routing kept in CF order
    QMap<QString, int> defects; // kind -> count
    qint64 tokensIn = 0;
    qint64 tokensOut = 0;
    double costUsd = 0; // over every repeat
    bool costKnown = true; // false when a price was unknown
    int cacheHits = 0;
    int calls = 0; // LLM calls made (tiers)
    QMap<QString, Percentiles> latencyMs; // "candidates", "enrichment", "render", "llm", "parse", "total"
    std::optional<double> kendallTau; // repeats >= 2: mean over users of the mean pairwise tau

    // "ndcg@10" etc., and the keys of the assertion grammar; nullopt when unknown.
    std::optional<double> value(const QString& key) const;
    double costPer1kUsers() const { return users > 0 ? costUsd / users * 1000.0 : 0; }
    // {"arm", "cohort", "users", "repeats", "hr@K", "recall@K", "ndcg@K", "mrr@K", "ild@K",
    //  "novelty@K", "coverage@K", "llm_share", "fallback_share", "routed_cf_share", "defects",
    //  "tokens_in", "tokens_out", "cost_usd" (null when unknown), "cost_per_1k_users",
    //  "cache_hits", "calls", "latency_ms": {stage: {p50, p95, p99, ...}}, "kendall_tau"}
    QJsonObject toJson() const;
};

// B against A on the experiment's cohort for one metric@K, with the users where B hurts most.
struct ArmComparison {
    QString a;
    QString b;
    QString cohort;
    eval::PairedComparison stats; // metric, means, CI, Wilcoxon, verdict
    std::vector<std::pair<QString, double>> worstUsers; // (user id, b - a), most negative first, at most 10
    QJsonObject toJson() const; // stats.toJson() + {"a", "b", "cohort", "worst_users": [{"user", "diff"}]}
};

struct ExperimentResult {
    qint64 id = 0; // the stored experiment; 0 when not stored
    ExperimentSpec spec;
    QString status; // "running", "finished", "canceled", "failed"
    QString error;
    QString workspace;
    QDateTime created;
    QDateTime finishedAt;
    double wallSeconds = 0; // accumulated over resumed runs
    int32_t catalogSize = 0;
    QStringList users; // the cohort's users (external ids), in order
    int resumedUsers = 0; // user x arm x repeat rows found stored when the run started

    std::vector<UserRow> rows; // every arm x repeat x user
    std::vector<ArmFigures> figures; // arm x cohort: for each arm "cohort", then "cold", "warm", "longtail"
    std::vector<ArmComparison> comparisons; // every arm against the first, per metric@K (hr, recall, ndcg, mrr)
    std::vector<AssertionResult> assertions;

    const ArmFigures* figuresFor(const QString& arm, const QString& cohort = QStringLiteral("cohort")) const;
    const ArmComparison* comparison(const QString& a, const QString& b, const QString& metric) const;
    bool passed() const; // every assertion passed
    // {"id", "name", "status", "error"?, "workspace", "split", "seed", "cohort", "k", "users",
    //  "created", "finished", "wall_seconds", "spec", "arms": {NAME: {metrics of "cohort"...,
    //  "cohorts": {"cold": {...}, "warm": {...}, "longtail": {...}}}}, "comparisons": [...],
    //  "assertions": [...], "passed", "rows"? (withRows)}
    QJsonObject toJson(bool withRows = false) const;
};

// Figures, comparisons and assertions from the rows (pure; no model, no call): what a run
// computes when it ends and what reopening a stored experiment computes.
void summarize(ExperimentResult& result);
// Any two arms on the experiment's cohort (experiment compare): throws Error naming an
// unknown arm or metric.
ArmComparison compareArms(const ExperimentResult& result, const QString& a, const QString& b, const QString& metric);
// Evaluates one assertion against the summarized result.
AssertionResult evaluateAssertion(const Assertion& a, const ExperimentResult& result);

// ---------------------------------------------------------------- cost before firing

struct ArmProjection {
    QString arm;
    qint64 users = 0;
    qint64 calls = 0; // worst case: every user x repeat to every LLM tier
    qint64 inputTokens = 0; // estimate (ceiling.h RunProjection constants)
    qint64 outputTokens = 0; // the endpoint's output cap
    std::optional<double> usd; // nullopt: an LLM tier's price is unknown; 0 without LLM
};
struct ExperimentProjection {
    std::vector<ArmProjection> arms;
    qint64 users = 0; // cohort users
    qint64 calls = 0;
    std::optional<double> usd; // nullopt when any arm's is unknown
    // Empty when the projection fits under the cap (none: always fits), else the reason
    // ("projected $1.23 is over the cap $1.00", "the price of endpoint X is unknown").
    QString overCap(std::optional<double> capUsd) const;
    QJsonObject toJson() const;
};

// The experiment's cohort users and the projection of its calls and cost (from the
// endpoints' profiles and the price table; offline and rerank=none arms cost nothing).
// Builds the split: call on a worker with a Workspace of that thread. Throws Error for a
// bad split, cohort or unknown endpoint.
ExperimentProjection projectExperiment(const Workspace& ws, const Dataset& ds, const ExperimentSpec& spec);

// ---------------------------------------------------------------- storage

// Experiments in the workspace (schema v5: tables experiments and experiment_rows).
// Same thread contract as the Workspace.
namespace experimentstore {
    struct Info {
        qint64 id = 0;
        QString name;
        QString status;
        QString split;
        QString cohort;
        int arms = 0;
        int users = 0; // cohort users
        int rows = 0; // stored user x arm x repeat rows
        QDateTime created;
        QDateTime finishedAt;
        QJsonObject toJson() const;
    };
    // A new experiment in status "running" with the cohort's users; returns its id.
    qint64 create(Workspace& ws, const ExperimentSpec& spec, const QStringList& users, int32_t catalogSize);
    // Rows of one chunk, in one transaction (an existing arm/repeat/user row is replaced).
    void addRows(Workspace& ws, qint64 id, const std::vector<UserRow>& rows);
    // status "finished", "canceled" or "failed"; wall seconds are added to the stored ones.
    void finish(Workspace& ws, qint64 id, const QString& status, double wallSeconds, const QString& error = {});
    void markRunning(Workspace& ws, qint64 id); // a resumed experiment
    std::vector<Info> list(const Workspace& ws);
    // The stored experiment with its rows, summarized. ds (the workspace's dataset) fills
    // UserRow::user. Throws Error when there is no such experiment.
    ExperimentResult load(const Workspace& ws, qint64 id, const Dataset* ds = nullptr);
    // The same without summarize(): the spec, users and (withRows) the rows only.
    ExperimentResult loadRows(const Workspace& ws, qint64 id, const Dataset* ds = nullptr, bool withRows = true);
    // The newest unfinished (running, canceled, failed) experiment whose spec equals `spec`.
    std::optional<qint64> findUnfinished(const Workspace& ws, const ExperimentSpec& spec);
    void remove(Workspace& ws, qint64 id);
} // namespace experimentstore

// ---------------------------------------------------------------- the runner

struct ExperimentRunOptions {
    std::optional<double> maxCostUsd; // overrides the file's max_cost
    // > 0: continue this stored experiment (its spec must equal the one given); 0 with
    // autoResume: the newest unfinished experiment of the same spec, else a new one.
    qint64 resumeId = 0;
    bool autoResume = true;
    int jobsInFlight = 2; // rerank jobs (chunks) submitted at once; 1 when a cost cap applies
    // Set: a projection over this confirmation ceiling is refused (recwb-cli without --yes).
    std::optional<RunCeiling> ceiling;
    // Set (experiment run --shard --out): the experiment and its rows are stored in this file
    // (created when absent) and the workspace is only read; the service must be opened with
    // the same output file (RerankService::open) so its cache writes go there too.
    QString outputPath;
};

// Runs one experiment through the RerankService: on a worker, loads nothing new (uses the
// given dataset), builds the split and cohort, projects the cost (refusing before any call
// when over the cap), creates or resumes the stored experiment and fits every distinct cf=
// once on the train part (resolveArmModels, trainPart); then submits the cohort's users in
// chunks (ExperimentSpec::chunkSize) per arm and repeat, with the TRAIN dataset, so the
// candidates, the reranker and the prompt see only training history; each finished chunk
// is stored at once. At the end the result is summarized and the experiment marked
// finished.
//
// Thread contract: like CompareRun: create and call on the thread that owns the service,
// which must run an event loop; never blocks it.
class ExperimentRun final : public QObject {
    Q_OBJECT

public:
    ExperimentRun(RerankService& service, QString workspacePath, std::shared_ptr<const Dataset> dataset,
        QObject* parent = nullptr);
    ~ExperimentRun() override; // cancels

    void start(ExperimentSpec spec, ExperimentRunOptions options = {});
    // Stops submitting, cancels the jobs in flight; the experiment is stored as "canceled"
    // (resumable) and finished() follows with what was done.
    void cancel();
    bool isRunning() const { return m_running; }
    const ExperimentProjection& projection() const { return m_projection; }
    qint64 experimentId() const { return m_id; }

signals:
    void projected(const recwb::pipeline::ExperimentProjection& projection); // before any call
    void started(qint64 experimentId, int resumedRows);
    void progress(int done, int total); // user x arm x repeat rows
    // A job pauses at an open circuit breaker (why names the endpoint and the wait), or
    // goes on (why is empty).
    void paused(const QString& why);
    void finished(const recwb::pipeline::ExperimentResult& result);
    void failed(const QString& message); // refused (cap), bad spec, or a failed job

private:
    struct Prepared;
    struct Task;
    struct Writer;
    void onPrepared(const std::shared_ptr<Prepared>& p);
    void pump();
    void onJobFinished(quint64 job, const RerankReply& reply);
    void onRowsStored(int rows);
    void complete(const QString& status, const QString& error = {});

    RerankService& m_service;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    QThreadPool* m_pool = nullptr; // one thread: preparation, chunk writes, the final summary, in order
    ExperimentSpec m_spec;
    ExperimentRunOptions m_options;
    ExperimentProjection m_projection;
    std::shared_ptr<Prepared> m_prepared;
    std::shared_ptr<Writer> m_writer;
    std::vector<Task> m_tasks;
    std::vector<UserRow> m_rows; // this run's rows (the stored ones of a resumed run are read back at the end)
    size_t m_nextTask = 0;
    QHash<quint64, size_t> m_jobs; // job -> task
    quint64 m_generation = 0;
    qint64 m_id = 0;
    int m_done = 0;
    int m_total = 0;
    int m_storing = 0; // chunks being written
    double m_spentUsd = 0;
    bool m_running = false;
    bool m_canceling = false;
    bool m_finishing = false;
    QString m_error;
    qint64 m_startedMs = 0;
};

} // namespace recwb::pipeline

Q_DECLARE_METATYPE(recwb::pipeline::ExperimentProjection)
Q_DECLARE_METATYPE(recwb::pipeline::ExperimentResult)
