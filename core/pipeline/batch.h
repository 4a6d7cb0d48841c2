#pragma once

#include "pipeline/batchsummary.h"
#include "pipeline/rerankpipeline.h"
#include "pipeline/routing.h"
#include "rerank/positionbias.h"

#include <atomic>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QStringList>
#include <memory>
#include <optional>
#include <vector>

class QThreadPool;
class QTimer;

namespace recwb::rerank {
class LlmCall;
class LlmClient;
}

// Batch reranking (docs/RERANK.md): many users through the pipeline with a bounded number
// of calls in flight, the routing policy, a cascade of endpoints, the response cache, run
// persistence and a summary; or the position-bias probe (each user in several shuffled
// candidate orders).
namespace recwb::pipeline {

// One user's answer from a provider batch: the response (or the failure of its line, with
// the defect kind naming it), and the cache key of the prompt that was sent.
struct BatchAnswer {
    rerank::ChatResponse response;
    QString defect; // batch_failed_line, batch_expired, ...; empty for a delivered answer
    QString cacheKey;
};

struct BatchOptions {
    QString prompt = QStringLiteral("listwise"); // template ref for every user
    QString coldPrompt; // template ref for cold-start users; empty = prompt
    // Endpoint names, cheapest first: a user whose answer from one is unusable (invalid
    // answer, failed call, timeout, open circuit) is sent to the next. Empty = the
    // workspace default endpoint.
    // {"none"}: no reranker, every user keeps the CF order (route "none"; nothing is sent).
    QStringList cascade;
    QString model; // model override; only with a single endpoint
    CandidateSource source = CandidateSource::Auto;
    // An unsaved template used for every user instead of prompt / coldPrompt (never stored
    // as a version; the run records it as NAME@draft).
    std::optional<rerank::PromptTemplate> draft;
    int candidates = 50;
    int k = 10;
    bool bypassCache = false;
    RoutingPolicy routing; // everyone by default
    int concurrency = 0; // users waiting on a call at once; 0 = the first endpoint's maxConcurrent
    int probeOrders = 0; // >= 2: position-bias probe with this many shuffled orders per user
    quint64 seed = 1; // the probe's shuffles
    // Spending cap in USD for the run's calls. Before each call, its worst case (the prompt
    // estimate + 25 % at the input price, the output cap at the output price) is reserved;
    // a call that fits only once the calls in flight have settled waits for them; a call
    // that would take what is already spent past the cap is not made, and from then on no
    // call is: those users keep the CF order (fallback "budget"). Needs known prices for
    // every LLM tier. Cache hits and the offline reranker cost nothing.
    std::optional<double> maxCostUsd;
    bool storeRun = true; // rerank_runs / rerank_results
    // > 0: continue this stored run (interrupted or canceled) instead of creating one; the
    // caller passes only the users it does not hold yet. Its status goes back to running.
    qint64 resumeRunId = 0;
    QJsonObject extraParams; // stored with the run's parameters (e.g. the CF model)
    // Collecting a provider batch (docs/RERANK.md "Provider batch APIs"): the batch's answer
    // per user external id stands in for the call (with resumeRunId: the submitted run). An
    // answer whose cache key differs from the prompt rendered now is not used (batch_stale).
    // Needs a single endpoint.
    std::shared_ptr<const QHash<QString, BatchAnswer>> batchAnswers;
    double priceScale = 1.0; // 0.5: calls priced at the batch rate
    // A run over several users pauses at an open circuit breaker of its last tier: the users
    // that meet it wait, holding their slots, for the breaker's probe (and go on once it
    // closes) instead of keeping the CF order at once, so a short outage does not turn a
    // cohort into CF order. It waits while the endpoint's probes have failed fewer than this
    // many times in a row (the count is the client's, so it holds across the jobs of one
    // service: an endpoint found down is not waited for again until it answers); then the
    // users meeting the breaker keep the CF order (circuit_open). With the default 30 s
    // cooldown, 3 is about 90 s plus the probes' own time (each up to the endpoint's
    // timeout). A probe that ends neither way (a quota 429, say) counts as failed. The pause
    // is not counted as LLM-stage latency. 0 = never wait. A single user's rerank never waits.
    int breakerProbes = 3;
};

struct ProbeReport {
    QString userId;
    QStringList candidateIds; // CF order
    rerank::ProbeStats stats;
};

struct BatchReport {
    qint64 runId = 0; // 0 when not stored
    bool canceled = false;
    QString error; // set when the run stopped on an error (e.g. a template that does not render)
    int total = 0; // jobs asked for (users x probe orders)
    std::vector<RerankOutcome> outcomes; // finished jobs, in input order
    std::vector<ProbeReport> probes; // probe mode: per user
    QJsonObject summary;
    QJsonObject toJson(bool withUsers = true) const;
};

// Thread contract: lives in the thread of its PipelineContext (the Workspace) and its
// LlmClient, which must run an event loop; the GUI runs it in a worker thread. Never
// blocks: each user's CPU stages run in their own event-loop turn. A batch of several
// dataset users prepares the next users (candidates, enrichment, render, cache key) on a
// thread of its own while calls are in flight; those stages read only the dataset, the
// model and the cold-start blend (fitted before they start), never the Workspace. An
// answer that cannot escalate frees its slot for the next send before it is parsed; in such
// a batch it is parsed, checked and made into its row on a finishing thread (no Workspace
// either); the rows and cache copies are written here every 100 ms and at the end.
class BatchReranker final : public QObject {
    Q_OBJECT

public:
    BatchReranker(PipelineContext& ctx, rerank::LlmClient& client, BatchOptions options, QObject* parent = nullptr);
    ~BatchReranker() override;

    // Resolves templates and endpoints (throws Error on bad configuration before any
    // work) and starts. Users are dataset indices; duplicates are reranked once.
    void start(const std::vector<int32_t>& users);
    // One user given by a history of dataset items (a what-if, a new user) instead.
    void start(const rerank::PromptUser& whatIf);
    // Stops sending; calls in flight are canceled; finished() follows with what is done.
    void cancel();
    bool isRunning() const { return m_running; }
    const BatchReport& report() const { return m_report; }

signals:
    void progress(int done, int total);
    // The run pauses at an open circuit breaker (why says which endpoint and for how long),
    // or goes on (why is empty).
    void paused(const QString& why);
    void finished();

private:
    struct Job {
        int32_t user = -1; // -1: m_whatIf
        quint64 shuffleSeed = 0;
        std::optional<PreparedUser> prepared;
        std::optional<RerankOutcome> outcome;
        int tier = 0;
        QString cacheKey;
        QStringList candidateIds; // probe mode: the candidates in CF order
        QElapsedTimer clock;
        QPointer<rerank::LlmCall> call;
        double reservedUsd = 0; // the budget held for the call in flight
        int lookedUpTier = -1; // the tier whose cache lookup is done (a budget wait skips a second one)
        enum class Prep { None, Running, Ready } prep = Prep::None; // preparation ahead (m_worker)
        QString prepError; // prepareUser() threw this on the pool; reported when the job is launched
        QString firstKey; // the response-cache key for tier 0, computed with the preparation
        QJsonObject row; // the stored result row, built with the outcome on m_worker
        bool waitedAtBreaker = false;
    };
    struct Prepared; // a preparation's result, on its way back from the pool
    struct Finished; // a finished answer, on its way back from m_worker

    void begin(const std::vector<int32_t>& users, int distinctUsers);
    void prefetch();
    void onPrepared(size_t index, Prepared& result);
    void pump();
    bool launch(size_t index); // true when the job finished synchronously
    bool sendTier(size_t index); // true when finished synchronously
    void applyBatchAnswer(size_t index); // options.batchAnswers instead of a call
    void onAnswer(size_t index, const rerank::ChatResponse& response);
    void finishOnPool(size_t index, const rerank::ChatResponse& response, double llmMs);
    void complete(size_t index);
    void record(size_t index); // the finished outcome: its row, progress
    void maybeFinish();
    void finalize();
    void flushWrites(); // the result rows and cached answers held since the last flush; fails the run on error
    QString writePending(); // the same; returns the error
    void fail(const QString& message);

    PipelineContext& m_ctx;
    rerank::LlmClient& m_client;
    BatchOptions m_options;
    std::vector<TierInfo> m_tiers;
    rerank::PromptTemplate m_prompt;
    rerank::PromptTemplate m_coldPrompt;
    std::optional<rerank::PromptUser> m_whatIf;
    bool m_noReranker = false; // cascade {"none"}
    std::vector<Job> m_jobs;
    size_t m_next = 0;
    int m_active = 0; // jobs waiting on a call
    int m_done = 0;
    int m_concurrency = 1;
    bool m_running = false;
    bool m_canceled = false;
    bool m_pumping = false;
    int m_settling = 0; // answers being parsed after their slot was refilled: not finished yet
    // One worker thread beside the one that feeds the network: it prepares users ahead (the
    // look-ahead window) and, first, parses, checks and turns into its row each last-tier
    // answer (finishing tasks go ahead of queued preparations). Null when preparing in line.
    // Never cleared: a cancel stops the preparations through m_prepCanceled, and every
    // finishing task runs, so m_settling returns to 0. One thread rather than one per kind:
    // on a 2-core machine two would preempt each other inside their timed stages (issue 10).
    std::unique_ptr<QThreadPool> m_worker;
    std::atomic<bool> m_prepCanceled { false }; // preparations not started yet do nothing
    size_t m_prepNext = 0; // the next job to hand to m_worker
    quint64 m_generation = 0; // per start(): tells a late preparation from a current one
    double m_spentUsd = 0; // calls answered so far (budget accounting)
    double m_reservedUsd = 0; // worst cases of the calls in flight
    bool m_budgetExhausted = false;
    int m_budgetStopped = 0; // users (or escalations) not sent for the budget
    std::vector<size_t> m_budgetWaiting; // jobs whose call fits the cap once calls in flight settle
    enum class Budget { Reserved, Wait, Refused };
    Budget reserveBudget(Job& job, const TierInfo& tier);
    void retryBudgetWaiting();
    // Circuit breaker pauses (options.breakerProbes): jobs whose last tier's breaker refuses
    // them wait here, holding their slots, until it may be probed or has closed.
    bool holdAtBreaker(size_t index, bool refused); // true when the job now waits
    void retryBreakerWaiting();
    std::vector<size_t> m_breakerWaiting;
    QTimer* m_breakerTimer = nullptr; // the end of the breaker's cooldown
    QElapsedTimer m_breakerPause; // running while jobs wait at the breaker
    qint64 m_breakerWaitedMs = 0; // finished pauses
    QString m_breakerAnnounced; // the breaker state last announced by paused(); empty: not paused
    bool m_breakerGaveUp = false; // a user met the breaker after its probes had failed breakerProbes times
    // Result rows waiting for flushWrites() (user db id, row): written in one transaction a
    // few times a second rather than committed per user on the thread that feeds the network.
    std::vector<std::pair<qint64, QJsonObject>> m_pendingRows;
    QTimer* m_flushTimer = nullptr;
    CacheCounters m_cacheStart;
    QElapsedTimer m_wall;
    BatchReport m_report;
};

} // namespace recwb::pipeline
