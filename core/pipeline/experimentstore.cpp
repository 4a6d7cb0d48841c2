// Experiments in the workspace (schema v5, docs/EXPERIMENTS.md "Storage").
#include "pipeline/experiment.h"

#include "data/sqlite.h"
#include "data/workspace.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace recwb::pipeline::experimentstore {
namespace {

    QByteArray compactJson(const QJsonObject& o)
    {
        return QJsonDocument(o).toJson(QJsonDocument::Compact);
    }

    QJsonObject parseObject(const QString& text)
    {
        return QJsonDocument::fromJson(text.toUtf8()).object();
    }

    QDateTime fromSeconds(const sql::Statement& st, int col)
    {
        return st.isNull(col) ? QDateTime() : QDateTime::fromSecsSinceEpoch(st.int64(col), Qt::UTC);
    }

    // The spec as stored: canonical JSON, so equal specs compare equal as text.
    QByteArray specText(const ExperimentSpec& spec)
    {
        return compactJson(spec.toJson());
    }

} // namespace

QJsonObject Info::toJson() const
{
    return { { QStringLiteral("id"), id }, { QStringLiteral("name"), name }, { QStringLiteral("status"), status },
        { QStringLiteral("split"), split }, { QStringLiteral("cohort"), cohort }, { QStringLiteral("arms"), arms },
        { QStringLiteral("users"), users }, { QStringLiteral("rows"), rows },
        { QStringLiteral("created"), created.toString(Qt::ISODate) },
        { QStringLiteral("finished"),
            finishedAt.isValid() ? QJsonValue(finishedAt.toString(Qt::ISODate)) : QJsonValue() } };
}

qint64 create(Workspace& ws, const ExperimentSpec& spec, const QStringList& users, int32_t catalogSize)
{
    Transaction tx(ws);
    sql::Statement st(ws.db(),
        "INSERT INTO experiments(name, spec, status, users, catalog_size, created_at) "
        "VALUES(?, ?, 'running', ?, ?, ?)");
    st.bind(1, spec.name)
        .bind(2, specText(spec))
        .bind(3, QJsonDocument(QJsonArray::fromStringList(users)).toJson(QJsonDocument::Compact))
        .bind(4, static_cast<int64_t>(catalogSize))
        .bind(5, static_cast<int64_t>(QDateTime::currentSecsSinceEpoch()));
    st.exec();
    const qint64 id = sql::queryInt(ws.db(), "SELECT last_insert_rowid()");
    tx.commit();
    return id;
}

void addRows(Workspace& ws, qint64 id, const std::vector<UserRow>& rows)
{
    if (rows.empty())
        return;
    Transaction tx(ws);
    sql::Statement st(ws.db(),
        "INSERT OR REPLACE INTO experiment_rows(experiment_id, arm, repeat, user_id, row) VALUES(?, ?, ?, ?, ?)");
    for (const UserRow& r : rows) {
        st.bind(1, static_cast<int64_t>(id))
            .bind(2, r.arm)
            .bind(3, r.repeat)
            .bind(4, r.userId)
            .bind(5, compactJson(r.toJson()));
        st.exec();
    }
    tx.commit();
}

void finish(Workspace& ws, qint64 id, const QString& status, double wallSeconds, const QString& error)
{
    Transaction tx(ws);
    sql::Statement st(ws.db(),
        "UPDATE experiments SET status = ?, error = ?, wall_seconds = wall_seconds + ?, "
        "finished_at = CASE WHEN ? = 'finished' THEN ? ELSE finished_at END WHERE id = ?");
    st.bind(1, status)
        .bind(2, error.isNull() ? QStringLiteral("") : error)
        .bind(3, wallSeconds)
        .bind(4, status)
        .bind(5, static_cast<int64_t>(QDateTime::currentSecsSinceEpoch()))
        .bind(6, static_cast<int64_t>(id));
    st.exec();
    tx.commit();
}

void markRunning(Workspace& ws, qint64 id)
{
    sql::Statement st(ws.db(), "UPDATE experiments SET status = 'running', error = '' WHERE id = ?");
    st.bind(1, static_cast<int64_t>(id));
    st.exec();
}

std::vector<Info> list(const Workspace& ws)
{
    std::vector<Info> out;
    sql::Statement st(ws.db(),
        "SELECT e.id, e.name, e.spec, e.status, e.users, e.created_at, e.finished_at, "
        "(SELECT COUNT(*) FROM experiment_rows r WHERE r.experiment_id = e.id) FROM experiments e ORDER BY e.id");
    while (st.step()) {
        Info i;
        i.id = st.int64(0);
        i.name = st.text(1);
        const QJsonObject spec = parseObject(st.text(2));
        i.status = st.text(3);
        i.split = spec.value(u"split").toString();
        try {
            i.cohort = CohortSpec::fromJson(spec.value(u"cohort"), QStringLiteral("cohort")).name();
        } catch (const Error&) {
            i.cohort = QStringLiteral("?");
        }
        i.arms = static_cast<int>(spec.value(u"arms").toObject().size());
        i.users = static_cast<int>(QJsonDocument::fromJson(st.text(4).toUtf8()).array().size());
        i.created = fromSeconds(st, 5);
        i.finishedAt = fromSeconds(st, 6);
        i.rows = static_cast<int>(st.int64(7));
        out.push_back(i);
    }
    return out;
}

ExperimentResult loadRows(const Workspace& ws, qint64 id, const Dataset* ds, bool withRows)
{
    ExperimentResult r;
    {
        sql::Statement st(ws.db(),
            "SELECT spec, status, error, users, catalog_size, created_at, finished_at, wall_seconds FROM experiments "
            "WHERE id = ?");
        st.bind(1, static_cast<int64_t>(id));
        if (!st.step())
            throw Error(QStringLiteral("%1: no experiment %2").arg(ws.path()).arg(id));
        r.id = id;
        r.spec = ExperimentSpec::fromJson(st.text(0).toUtf8(), QStringLiteral("experiment %1").arg(id));
        r.status = st.text(1);
        r.error = st.text(2);
        for (const QJsonValue& v : QJsonDocument::fromJson(st.text(3).toUtf8()).array())
            r.users << v.toString();
        r.catalogSize = static_cast<int32_t>(st.int64(4));
        r.created = fromSeconds(st, 5);
        r.finishedAt = fromSeconds(st, 6);
        r.wallSeconds = st.real(7);
        r.workspace = ws.path();
    }
    if (!withRows)
        return r;
    sql::Statement st(ws.db(), "SELECT row FROM experiment_rows WHERE experiment_id = ? ORDER BY arm, repeat, user_id");
    st.bind(1, static_cast<int64_t>(id));
    while (st.step())
        r.rows.push_back(UserRow::fromJson(QJsonDocument::fromJson(st.blob(0)).object(), ds));
    return r;
}

ExperimentResult load(const Workspace& ws, qint64 id, const Dataset* ds)
{
    ExperimentResult r = loadRows(ws, id, ds);
    summarize(r);
    return r;
}

std::optional<qint64> findUnfinished(const Workspace& ws, const ExperimentSpec& spec)
{
    sql::Statement st(
        ws.db(), "SELECT id FROM experiments WHERE spec = ? AND status <> 'finished' ORDER BY id DESC LIMIT 1");
    st.bind(1, specText(spec));
    if (st.step())
        return st.int64(0);
    return std::nullopt;
}

void remove(Workspace& ws, qint64 id)
{
    Transaction tx(ws);
    sql::Statement st(ws.db(), "DELETE FROM experiments WHERE id = ?");
    st.bind(1, static_cast<int64_t>(id));
    st.exec();
    tx.commit();
}

} // namespace recwb::pipeline::experimentstore
