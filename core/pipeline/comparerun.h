#pragma once

#include "eval/split.h"
#include "pipeline/armspec.h"
#include "pipeline/comparearms.h"
#include "pipeline/comparison.h"

#include <QHash>
#include <QObject>
#include <memory>
#include <optional>
#include <vector>

namespace recwb {
class Dataset;
}

namespace recwb::pipeline {

class RerankService;
struct RerankReply;

// One column to fill: an arm (run through the service) or a stored run opened as a column.
struct CompareColumn {
    ArmSpec arm;
    qint64 runId = 0; // > 0: the stored run's result for the user, nothing is run
    // cf=run:ID becomes a stored-run column.
    static CompareColumn ofArm(ArmSpec a);
};

// Runs one side-by-side comparison for one user through the RerankService: resolves every
// arm's model (trained on the split's training part when a split is given) and the user's
// held-out items on a worker, then submits every column at once, so they run concurrently;
// each column's result arrives as columnFinished as soon as it is ready (offline and
// CF-only columns first). A column whose reranker fails shows the CF order with the reason
// (the pipeline's fallback); a column with bad configuration (unknown endpoint or prompt)
// shows the CF order with that error; neither blocks the others.
//
// Thread contract: create and call from the thread that owns the service; it needs that
// thread's event loop. Models resolved for one (split, seed, cf=) are kept and reused by
// later start() calls of this object while the dataset stays the same.
class CompareRun final : public QObject {
    Q_OBJECT

public:
    CompareRun(RerankService& service, QString workspacePath, std::shared_ptr<const Dataset> dataset,
        QObject* parent = nullptr);
    ~CompareRun() override;

    // Cancels a comparison still running, then starts. The split is optional; seed only
    // matters to strat75. Errors in the request (unknown user, a user the split does not
    // evaluate, an unknown cf=) end in failed().
    void start(const QString& userId, std::vector<CompareColumn> columns, std::optional<eval::SplitSpec> split,
        quint64 seed = eval::kDefaultSeed);
    void cancelColumn(int column);
    void cancel();
    bool isRunning() const { return m_running; }
    const Comparison& comparison() const { return m_comparison; }
    bool columnDone(int column) const;

signals:
    void prepared(); // models resolved, columns submitted; held-out items known
    void columnProgress(int column, int done, int total);
    void columnFinished(int column); // comparison().arms[column] is final
    void finished(); // every column done; pairs computed
    void failed(const QString& message);

private:
    struct Prepared;
    void onPrepared(const std::shared_ptr<Prepared>& p);
    void onJobFinished(quint64 job, const RerankReply& reply);
    void finishColumn(int column);

    RerankService& m_service;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    quint64 m_generation = 0;
    bool m_running = false;
    Comparison m_comparison;
    std::vector<CompareColumn> m_columns;
    std::vector<quint64> m_jobs; // per column; 0 = none in flight
    std::vector<char> m_done;
    std::vector<char> m_retried; // a bad-configuration column resubmitted as plain CF
    std::shared_ptr<Prepared> m_prepared;
    QHash<QString, ArmModel> m_modelCache; // "split|seed|cf" -> model
};

} // namespace recwb::pipeline
