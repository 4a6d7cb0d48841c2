#pragma once

#include "cf/recommender.h"
#include "data/dataset.h"
#include "data/workspace.h"

#include <QJsonObject>
#include <QList>
#include <memory>
#include <optional>

namespace recwb::cf {

struct SnapshotInfo {
    qint64 id = 0;
    QString name; // what the user calls it; defaults to the algorithm
    QString algorithm;
    QJsonObject params;
    QString dataFingerprint;
    qint64 createdAt = 0; // seconds since the epoch
    QJsonObject metrics;
    qint64 bytes = 0;
    QJsonObject toJson() const;
};

// Identifies the interaction matrix a model was trained on: a hash of its shape and
// entries. A snapshot whose fingerprint differs from the loaded data was trained on
// other data (the workspace changed since).
QString dataFingerprint(const Csr& userItems);

// Stores a fitted model in the workspace (table model_snapshots) in one transaction.
qint64 saveSnapshot(Workspace& ws, const QString& name, const Recommender& model, const QString& fingerprint,
    const QJsonObject& metrics = {});
QList<SnapshotInfo> listSnapshots(const Workspace& ws);
// The newest snapshot called `name` (or with that algorithm when no name matches).
std::optional<SnapshotInfo> findSnapshot(const Workspace& ws, const QString& name);
// Restores it; throws Error when missing or when it does not match numItems.
std::unique_ptr<Recommender> loadSnapshot(const Workspace& ws, qint64 id, int32_t numItems);

// The model to score with: the newest snapshot called `name` (see findSnapshot), else a
// model of that algorithm trained now on ds.userItems and not kept. *note (when given)
// says which, and warns when the snapshot was trained on other data.
std::shared_ptr<Recommender> snapshotOrTrain(const Workspace& ws, const Dataset& ds, const QString& name,
    QString* note = nullptr);

} // namespace recwb::cf
