#include "cf/snapshots.h"

#include "data/sqlite.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonDocument>

namespace recwb::cf {

QJsonObject SnapshotInfo::toJson() const
{
    return { { QStringLiteral("id"), id }, { QStringLiteral("name"), name }, { QStringLiteral("algorithm"), algorithm },
        { QStringLiteral("params"), params }, { QStringLiteral("data_fingerprint"), dataFingerprint },
        { QStringLiteral("created_at"), QDateTime::fromSecsSinceEpoch(createdAt, Qt::UTC).toString(Qt::ISODate) },
        { QStringLiteral("metrics"), metrics }, { QStringLiteral("bytes"), bytes } };
}

QString dataFingerprint(const Csr& m)
{
    QCryptographicHash h(QCryptographicHash::Sha1);
    h.addData(QByteArrayView(reinterpret_cast<const char*>(&m.numRows), sizeof m.numRows));
    h.addData(QByteArrayView(reinterpret_cast<const char*>(&m.numCols), sizeof m.numCols));
    h.addData(QByteArrayView(reinterpret_cast<const char*>(m.offsets.data()),
        static_cast<qsizetype>(m.offsets.size() * sizeof(int64_t))));
    h.addData(QByteArrayView(reinterpret_cast<const char*>(m.indices.data()),
        static_cast<qsizetype>(m.indices.size() * sizeof(int32_t))));
    return QString::fromLatin1(h.result().toHex().left(16));
}

namespace {

QString json(const QJsonObject& o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

SnapshotInfo readInfo(const sql::Statement& st)
{
    SnapshotInfo s;
    s.id = st.int64(0);
    s.name = st.text(1);
    s.algorithm = st.text(2);
    s.params = QJsonDocument::fromJson(st.text(3).toUtf8()).object();
    s.dataFingerprint = st.text(4);
    s.createdAt = st.int64(5);
    s.metrics = QJsonDocument::fromJson(st.text(6).toUtf8()).object();
    s.bytes = st.int64(7);
    return s;
}

constexpr const char* kInfoColumns
    = "SELECT id, name, algorithm, params, data_fingerprint, created_at, metrics, length(payload) FROM model_snapshots ";

} // namespace

qint64 saveSnapshot(Workspace& ws, const QString& name, const Recommender& model, const QString& fingerprint,
    const QJsonObject& metrics)
{
    const QByteArray payload = model.save();
    if (payload.size() > 900'000'000)
        throw Error(QStringLiteral("%1: the %2 model is %3 MB, too large to keep as a snapshot")
                        .arg(ws.path(), model.algorithm())
                        .arg(payload.size() / 1'000'000));
    Transaction tx(ws);
    sql::Statement st(ws.db(),
        "INSERT INTO model_snapshots(name, algorithm, params, data_fingerprint, created_at, metrics, payload) "
        "VALUES(?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, name.isEmpty() ? model.algorithm() : name)
        .bind(2, model.algorithm())
        .bind(3, json(model.params()))
        .bind(4, fingerprint)
        .bind(5, static_cast<int64_t>(QDateTime::currentSecsSinceEpoch()))
        .bind(6, json(metrics))
        .bindBlob(7, payload)
        .exec();
    const qint64 id = sql::queryInt(ws.db(), "SELECT last_insert_rowid()");
    tx.commit();
    return id;
}

QList<SnapshotInfo> listSnapshots(const Workspace& ws)
{
    QList<SnapshotInfo> out;
    sql::Statement st(ws.db(), QByteArray(QByteArray(kInfoColumns) + "ORDER BY created_at DESC, id DESC").constData());
    while (st.step())
        out << readInfo(st);
    return out;
}

std::optional<SnapshotInfo> findSnapshot(const Workspace& ws, const QString& name)
{
    sql::Statement st(ws.db(),
        QByteArray(QByteArray(kInfoColumns) + "WHERE name = ?1 OR (algorithm = ?1 AND NOT EXISTS "
                                    "(SELECT 1 FROM model_snapshots WHERE name = ?1)) "
                                    "ORDER BY created_at DESC, id DESC LIMIT 1")
            .constData());
    st.bind(1, name);
    if (!st.step())
        return std::nullopt;
    return readInfo(st);
}

std::unique_ptr<Recommender> loadSnapshot(const Workspace& ws, qint64 id, int32_t numItems)
{
    sql::Statement st(ws.db(), "SELECT algorithm, params, payload FROM model_snapshots WHERE id = ?");
    st.bind(1, static_cast<int64_t>(id));
    if (!st.step())
        throw Error(QStringLiteral("%1: no model snapshot %2").arg(ws.path()).arg(id));
    // Only the retrieval setting of the stored params: the rest is in the payload.
    const QJsonObject stored = QJsonDocument::fromJson(st.text(1).toUtf8()).object();
    QJsonObject retrieval;
    if (stored.contains(QStringLiteral("ann")))
        retrieval.insert(QStringLiteral("ann"), stored.value(QStringLiteral("ann")));
    auto model = makeRecommender(st.text(0), retrieval);
    model->restore(st.blob(2));
    if (model->numItems() != numItems)
        throw Error(QStringLiteral("%1: snapshot %2 (%3) knows %4 items but the catalog has %5: retrain it")
                        .arg(ws.path())
                        .arg(id)
                        .arg(st.text(0))
                        .arg(model->numItems())
                        .arg(numItems));
    return model;
}

std::shared_ptr<Recommender> snapshotOrTrain(const Workspace& ws, const Dataset& ds, const QString& name, QString* note)
{
    QString said;
    std::shared_ptr<Recommender> model;
    if (const auto info = findSnapshot(ws, name)) {
        model = loadSnapshot(ws, info->id, ds.numItems());
        if (info->dataFingerprint != dataFingerprint(ds.userItems))
            said = QStringLiteral("snapshot %1 was trained on other data (the workspace changed since)").arg(info->id);
        else
            said = QStringLiteral("snapshot %1").arg(info->id);
    } else {
        model = makeRecommender(name);
        model->fit(ds.userItems);
        said = QStringLiteral("no snapshot: trained now, not kept (use 'recwb-cli train' to keep one)");
    }
    if (note)
        *note = said;
    return model;
}

} // namespace recwb::cf
