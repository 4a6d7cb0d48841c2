#pragma once

#include "pipeline/batch.h"
#include "rerank/prompt.h"

#include <QMetaType>
#include <QObject>
#include <QString>
#include <memory>
#include <optional>
#include <vector>

class QThread;

namespace recwb {
class Dataset;
namespace cf {
    class Recommender;
}
namespace coldstart {
    class ColdStartRecommender;
}
} // namespace recwb

namespace recwb::pipeline {

// One piece of work for the service: one user, a what-if history, or a list of users
// (a batch, a probe), with a candidate source, a reranker, a prompt and K. The dataset and
// models are shared, immutable objects (the GUI's ModelStore hands them out), so the
// service scores with them on its thread without copying.
struct RerankRequest {
    std::shared_ptr<const Dataset> dataset;
    std::shared_ptr<const cf::Recommender> cfModel; // required
    // A blend already fitted on this dataset and model; null: fitted on first use (once per
    // model, then kept by the service).
    std::shared_ptr<const coldstart::ColdStartRecommender> coldStart;
    int coldThreshold = kDefaultColdThreshold;
    CandidateSource source = CandidateSource::Auto; // copied into options.source

    std::vector<int32_t> users; // dataset user indices
    // A user who is not (or not so) in the dataset: their history replaces any dataset
    // history; used instead of `users` when set.
    std::optional<rerank::PromptUser> whatIf;

    // Prompt refs (NAME, NAME@VERSION, NAME@LABEL), the cascade of endpoint names
    // (empty = the workspace default; {"none"} = no reranker: the CF order), K, number of
    // candidates, cache, routing, probe, spending cap, run storage.
    BatchOptions options;
    // An unsaved template ("Try it" in the prompt editor): used for every user instead of
    // options.prompt / coldPrompt. Never stored as a version. Copied into options.draft.
    std::optional<rerank::PromptTemplate> draft;
};

struct RerankReply {
    quint64 job = 0;
    BatchReport report; // canceled, error, outcomes (input order), run id, summary
};

// The rerank service of one open workspace (STYLE.md "a long-lived manager that hands out
// jobs"): lives for as long as the workspace is open, on its own worker thread, where it
// owns its Workspace connection, its LlmClient (circuit breakers, keychain cache, reused
// connections survive between requests) and the response cache. Every view and the CLI
// rerank through it.
//
// Thread contract: create, call and destroy the service from one thread (the GUI thread,
// or the CLI's main thread); that thread must run an event loop for the signals. The
// work happens on the service's own thread. submit() returns at once with a job id;
// exactly one jobFinished() follows for every id, also for canceled and failed jobs.
class RerankService final : public QObject {
    Q_OBJECT

public:
    explicit RerankService(QObject* parent = nullptr);
    ~RerankService() override; // cancels every job and joins the worker thread

    // Opens `path` on the worker (closing the previous workspace, canceling its jobs).
    // Jobs submitted before the open completes wait for it; a failed open fails them.
    // outputPath (a shard's file of its own, docs/SCALE.md): runs and new response-cache
    // entries are written there, created when absent; the workspace is only read.
    void open(const QString& workspacePath, const QString& outputPath = {});
    void close();
    QString workspacePath() const { return m_path; }

    quint64 submit(RerankRequest request);
    // A call, not a poll: the job stops sending, its calls in flight are aborted, and its
    // jobFinished() reports canceled with what was done. Unknown or finished ids: no-op.
    void cancel(quint64 job);
    void cancelAll();
    int runningJobs() const { return m_running; }

signals:
    void jobProgress(quint64 job, int done, int total);
    // The job pauses at an open circuit breaker (why names the endpoint and the wait), or
    // goes on (why is empty). BatchOptions::breakerProbes.
    void jobPaused(quint64 job, const QString& why);
    void jobFinished(quint64 job, const recwb::pipeline::RerankReply& reply);
    void openFailed(const QString& path, const QString& message);

private:
    class Worker;
    QThread* m_thread = nullptr;
    Worker* m_worker = nullptr; // lives in m_thread
    QString m_path;
    quint64 m_nextJob = 0;
    int m_running = 0;
};

} // namespace recwb::pipeline

Q_DECLARE_METATYPE(recwb::pipeline::RerankReply)
