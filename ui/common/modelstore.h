#pragma once

#include "cf/snapshots.h"
#include "common/backgroundtask.h"

#include <QFuture>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <memory>

namespace recwb {
class Dataset;
namespace coldstart {
    class ColdStartRecommender;
}
namespace pipeline {
    class RerankService;
}
} // namespace recwb

namespace recwb::ui {

// One entry of the model combo: a snapshot kept in the workspace, or an algorithm with
// no snapshot yet (fitted in memory with its defaults when chosen, not kept).
struct ModelChoice {
    QString key; // "snapshot:<id>" or "algorithm:<name>"
    QString label; // "ease (snapshot 3, 2026-11-25 18:01)", "bpr (not trained)"
    QString algorithm;
    std::optional<cf::SnapshotInfo> snapshot;
    bool otherData = false; // the snapshot was trained on data other than the loaded one
};

struct TrainingResult {
    cf::SnapshotInfo snapshot;
    double fitSeconds = 0;
};

// The fitted models of one loaded dataset, for every view that scores: the snapshot list,
// models loaded or fitted once per choice and cached (shared, immutable, so workers may
// score with them concurrently), the cold-start blend fitted on each, and training into a
// new snapshot. GUI thread only; every load, fit and database access runs on a worker that
// opens its own Workspace. Results of an older dataset are dropped (generation counter).
class ModelStore final : public QObject {
    Q_OBJECT

public:
    explicit ModelStore(QObject* parent = nullptr);
    ~ModelStore() override;

    // Drops every cached model and lists the workspace's snapshots (asynchronously).
    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);
    QString workspacePath() const { return m_path; }
    std::shared_ptr<const Dataset> dataset() const { return m_dataset; }
    void refreshSnapshots();
    // The open workspace's rerank service (one for the store's lifetime, reopened on every
    // setWorkspace): every view reranks through it.
    pipeline::RerankService* rerankService() const { return m_rerank; }

    const QList<ModelChoice>& choices() const { return m_choices; }
    const ModelChoice* choice(const QString& key) const;
    // The choice a fresh view starts with: the newest snapshot, else EASE in memory (popularity
    // above kEaseDefaultMaxItems items, where EASE's dense matrix gets too large).
    QString defaultKey() const;
    static constexpr int kEaseDefaultMaxItems = 20000;
    static QString snapshotKey(qint64 id);
    static QString algorithmKey(const QString& algorithm);

    // What is cached for a key (null when not ready yet).
    std::shared_ptr<const cf::Recommender> model(const QString& key) const;
    std::shared_ptr<const coldstart::ColdStartRecommender> coldStart(const QString& key) const;
    // Starts loading / fitting what is missing for key (the cold-start blend too when
    // withColdStart); modelReady or modelFailed follows. Returns true when all is ready.
    bool request(const QString& key, bool withColdStart);
    bool isLoading(const QString& key) const;
    QString lastError(const QString& key) const { return m_errors.value(key); }

    // Training into a new snapshot: one at a time. Progress arrives as trainingProgress,
    // the end as exactly one of trainingFinished / trainingCanceled / trainingFailed.
    bool startTraining(const QString& algorithm, const QJsonObject& params, const QString& name);
    void cancelTraining();
    bool isTraining() const { return m_training; }

signals:
    void snapshotsChanged();
    void modelReady(const QString& key);
    void modelFailed(const QString& key, const QString& message);
    void trainingProgress(int value, const QString& text); // value in 0..kProgressRange
    void trainingFinished(const TrainingResult& result);
    void trainingCanceled();
    void trainingFailed(const QString& message);

private:
    void rebuildChoices(const QList<cf::SnapshotInfo>& snapshots);
    void startModelLoad(const QString& key);
    void startColdStartFit(const QString& key);

    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    pipeline::RerankService* m_rerank;
    QString m_fingerprint; // of the loaded data; computed with the first snapshot listing
    quint64 m_generation = 0;
    QList<ModelChoice> m_choices;
    QHash<QString, std::shared_ptr<const cf::Recommender>> m_models;
    QHash<QString, std::shared_ptr<const coldstart::ColdStartRecommender>> m_coldStarts;
    QHash<QString, bool> m_loading; // key -> a model load is running
    QHash<QString, bool> m_coldLoading; // key -> a cold-start fit is running
    QHash<QString, QString> m_errors;
    bool m_training = false;
    QFuture<TaskResult<TrainingResult>> m_trainFuture;
};

} // namespace recwb::ui

Q_DECLARE_METATYPE(recwb::ui::TrainingResult)
