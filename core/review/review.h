#pragma once

#include "pipeline/experiment.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QStringList>
#include <atomic>
#include <memory>
#include <optional>
#include <vector>

namespace recwb {
class Dataset;
class Workspace;
} // namespace recwb
namespace recwb::pipeline {
class RerankService;
struct RerankReply;
} // namespace recwb::pipeline

// The QA review queue (docs/REVIEW.md): cold-start users, real or simulated (warm users cut
// to their first n interactions exactly as the cold@n split, with their later interactions
// kept as ground truth), each with what the reranker saw and what it recommended and why,
// frozen when the queue is built; reviewers give a verdict per recommended item and notes,
// written to the workspace the moment they are given (schema v6).
namespace recwb::review {

enum class Verdict { None, Good, Bad, Unsure };
QString verdictName(Verdict v); // "", "good", "bad", "unsure"
Verdict verdictFromName(const QString& name); // unknown names: None

// How a queue is built (stored as JSON with the queue).
struct QueueSpec {
    QString name;
    // "cold": the workspace's real cold users (fewer than coldThreshold interactions; no
    // ground truth); "cold@N": simulated cold users of the cold@N split (evaluated users of
    // the split: the fixed fifth with more than N interactions), N >= 0.
    QString source = QStringLiteral("cold@1");
    int sample = 0; // > 0: a seeded random sample of that many users; 0: every user
    quint64 seed = 42;
    // The compare view's arm spec: the candidate model (cf=) and the reranker (rerank=
    // offline | none | an endpoint, prompt=NAME@VERSION|LABEL). Candidates follow the
    // pipeline's rule: the cold-start blend for cold users.
    QString arm = QStringLiteral("cf=ease,rerank=offline");
    int k = 10;
    int coldThreshold = kDefaultColdThreshold;

    bool simulated() const { return source != u"cold"; }
    int coldN() const; // N of cold@N; -1 for "cold"
    // Throws Error "review queue: what is wrong" (bad source, sample, k, arm spec).
    void validate() const;
    QJsonObject toJson() const;
    static QueueSpec fromJson(const QJsonObject& o); // throws Error on bad values
    QString describe() const; // "simulated cold@1, sample 200 (seed 42), cf=ease,rerank=offline, K 10"
};

// One candidate as the reviewer sees it: where it came from.
struct Candidate {
    QString itemId;
    QString title;
    double score = 0;
    QString source; // "cf" or a cold-start source: content, profile, category, popularity
};

// The frozen material of one queued user.
struct QueueUser {
    int position = 0; // 0-based, in queue order
    QString userId;
    int known = 0; // interactions the reranker saw
    QStringList knownItems; // their item ids, oldest first
    QStringList truth; // held-out later interactions (simulated users), oldest first
    QJsonObject profile; // the user's attributes (age, occupation, ...)
    QStringList statedCategories;
    std::vector<Candidate> candidates; // CF order (before the rerank)
    // pipeline::RerankOutcome::toJson(): the reranked list with explanations, cf_rank,
    // claims (faithfulness), endpoint, model, template, answered_by, fallback, ...
    QJsonObject outcome;

    QJsonArray items() const { return outcome.value(QStringLiteral("items")).toArray(); }
    QStringList itemIds() const; // the reranked list's item ids, in rank order
    QString sourceOf(const QString& itemId) const; // the candidate's source, "" when unknown
    QJsonObject toJson() const;
    static QueueUser fromJson(const QJsonObject& o);
};

struct Queue {
    qint64 id = 0;
    QueueSpec spec;
    QString status; // "building", "ready", "canceled", "failed"
    QString error;
    qint64 experimentId = 0; // simulated queues: the experiment that reranked them (0: none)
    int users = 0;
    QDateTime created;
};

// One verdict row: a reviewer's verdict and note on one recommended item of one user;
// itemId "" is the reviewer's note on the user as a whole.
struct VerdictRow {
    qint64 queueId = 0;
    QString userId;
    QString itemId;
    QString reviewer;
    Verdict verdict = Verdict::None;
    QString note;
    QDateTime updated;
};

// ---------------------------------------------------------------- storage

// Same thread contract as the Workspace. Every write is its own transaction, committed
// before the call returns (a verdict survives a kill right after it was given).
namespace store {
    qint64 createQueue(Workspace& ws, const QueueSpec& spec); // status "building"
    void addUsers(Workspace& ws, qint64 queueId, const std::vector<QueueUser>& users); // one transaction
    void finishQueue(Workspace& ws, qint64 queueId, const QString& status, const QString& error = {},
        qint64 experimentId = 0);
    std::vector<Queue> listQueues(const Workspace& ws); // newest first
    std::optional<Queue> findQueue(const Workspace& ws, qint64 queueId);
    std::vector<QueueUser> queueUsers(const Workspace& ws, qint64 queueId); // in position order
    bool removeQueue(Workspace& ws, qint64 queueId); // its users and verdicts go with it

    // Upserts: setVerdict keeps the row's note, setNote keeps its verdict. Reviewer must
    // not be empty (Error).
    void setVerdict(Workspace& ws, qint64 queueId, const QString& userId, const QString& itemId,
        const QString& reviewer, Verdict verdict);
    void setNote(Workspace& ws, qint64 queueId, const QString& userId, const QString& itemId,
        const QString& reviewer, const QString& note);
    // Every row of the queue (all reviewers when `reviewer` is empty), by user, item, reviewer.
    std::vector<VerdictRow> verdicts(const Workspace& ws, qint64 queueId, const QString& reviewer = {});
    QStringList reviewers(const Workspace& ws, qint64 queueId);
} // namespace store

// ---------------------------------------------------------------- progress, agreement, summary

// Items of the reranked lists with a verdict by `reviewer`, and all of them.
struct Progress {
    int judged = 0;
    int items = 0;
    int usersDone = 0; // users whose every item has a verdict
    // Where the reviewer stopped: the first user (position) with an item without verdict;
    // -1 when the queue is done.
    int resumeAt = 0;
};
Progress progress(const std::vector<QueueUser>& users, const std::vector<VerdictRow>& rows, const QString& reviewer);

// Cohen's kappa of two reviewers over the items both gave a verdict (good/bad/unsure as
// three categories): (po - pe) / (1 - pe). kappa is nullopt when they share no item, or
// when pe == 1 (both used one and the same category throughout: agreement by construction).
struct Agreement {
    QString a;
    QString b;
    int users = 0; // users both reviewed (at least one common item)
    int items = 0; // items both judged
    double observed = 0; // po
    std::optional<double> kappa;
    QJsonObject toJson() const;
};
std::vector<Agreement> agreement(const std::vector<VerdictRow>& rows); // every pair of reviewers, by name

// The share of good verdicts along one dimension.
struct SummaryRow {
    QString dimension; // "source", "cold@n", "endpoint", "prompt", "moved"
    QString value; // e.g. "content", "1", "offline", "listwise@3", "up 1-4"
    int good = 0;
    int bad = 0;
    int unsure = 0;
    int total() const { return good + bad + unsure; }
    double goodShare() const { return total() > 0 ? static_cast<double>(good) / total() : 0.0; }
    QJsonObject toJson() const;
};
// Over every verdict given (all reviewers): by candidate source, by n of cold@n (the known
// interactions), by endpoint (who answered), by prompt version, and by how far the item
// moved from its CF rank ("up 5+", "up 1-4", "kept", "down 1-4", "down 5+").
std::vector<SummaryRow> summarize(const std::vector<QueueUser>& users, const std::vector<VerdictRow>& rows);
QString movedBucket(int cfRank, int rank);
// Several queues at once (the same user may sit in two queues with another n): each queue
// summarized on its own, then the counts added per dimension and value.
std::vector<SummaryRow> mergeSummaries(const std::vector<std::vector<SummaryRow>>& perQueue);

// ---------------------------------------------------------------- export

// Every verdict and note with its context: queue, user, item, title, rank, cf_rank, source,
// run (the experiment id or "live"), endpoint, model, prompt version, reviewer, verdict,
// note, time (ISO 8601 UTC). CSV cells are neutralised (util/inerttext.h); JSON is
// {"queue": {...}, "verdicts": [...], "agreement": [...], "summary": [...]}.
// Throws Error naming the file when it cannot be written (written to a temporary file and
// renamed, so a failed export leaves no half file).
void exportCsv(const QString& path, const Queue& queue, const std::vector<QueueUser>& users,
    const std::vector<VerdictRow>& rows);
void exportJson(const QString& path, const Queue& queue, const std::vector<QueueUser>& users,
    const std::vector<VerdictRow>& rows);
// Reads an exported CSV back (RFC 4180; for tests and re-import checks): header + rows.
std::vector<QStringList> readCsv(const QString& path);

// ---------------------------------------------------------------- building a queue

// Builds a queue through the RerankService. Simulated queues run as a one-arm experiment
// (split cold@N, the sample as its cohort, source=auto) so the reranker sees only the first
// N interactions (the experiment's leak-free path, its cost projection and cap, resume);
// real cold users go as one rerank job on the workspace's data. Then, on a worker, the
// candidates with their sources are computed with the same model and blend, and every
// user is stored with the queue; the queue turns "ready".
//
// Thread contract: like pipeline::ExperimentRun: create and call on the thread that owns
// the service (which runs an event loop); never blocks it.
class QueueBuilder final : public QObject {
    Q_OBJECT

public:
    QueueBuilder(pipeline::RerankService& service, QString workspacePath, std::shared_ptr<const Dataset> dataset,
        QObject* parent = nullptr);
    ~QueueBuilder() override;

    // options.ceiling/maxCostUsd guard LLM arms as for experiments.
    void start(QueueSpec spec, pipeline::ExperimentRunOptions options = {});
    void cancel();
    bool isRunning() const { return m_running; }

    struct Material; // what the candidates and truth are computed from (reviewbuild.cpp)

signals:
    void projected(const recwb::pipeline::ExperimentProjection& projection);
    void progress(int done, int total, const QString& stage);
    void finished(qint64 queueId);
    void failed(const QString& message);

private:
    void onRerankDone(qint64 experimentId, std::vector<std::pair<QString, QJsonObject>> outcomes);
    void fail(const QString& message);

    pipeline::RerankService& m_service;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    QueueSpec m_spec;
    pipeline::ExperimentRunOptions m_options;
    pipeline::ExperimentRun* m_experiment = nullptr;
    std::shared_ptr<Material> m_material; // real cold users: prepared before the rerank
    quint64 m_job = 0;
    int m_jobDone = 0; // the job's last progress (a pause is reported at it)
    int m_jobTotal = 0;
    quint64 m_generation = 0;
    bool m_running = false;
    bool m_canceled = false;
    // Set by cancel(); the worker storing the queue reads it before it commits.
    std::shared_ptr<std::atomic<bool>> m_stop = std::make_shared<std::atomic<bool>>(false);
};

} // namespace recwb::review
