#include "rerank/store.h"

#include "data/sqlite.h"
#include "data/workspace.h"
#include "rerank/prompt.h"
#include "util/error.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSysInfo>
#include <cerrno>
#include <signal.h>

#include <string>

namespace recwb::rerank::store {

namespace {

qint64 nowSeconds()
{
    return QDateTime::currentSecsSinceEpoch();
}

QString compactJson(const QJsonObject& o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QJsonObject parseObject(const QString& text)
{
    return QJsonDocument::fromJson(text.toUtf8()).object();
}

TemplateVersion readTemplate(const sql::Statement& st)
{
    TemplateVersion t;
    t.id = st.int64(0);
    t.name = st.text(1);
    t.version = static_cast<int>(st.int64(2));
    if (!st.isNull(3))
        t.parentVersion = static_cast<int>(st.int64(3));
    t.text = st.text(4);
    t.note = st.text(5);
    t.createdAt = st.int64(6);
    return t;
}

constexpr const char* kTemplateColumns = "id, name, version, parent_version, text, note, created_at";

std::optional<int> newestVersion(const Workspace& ws, const QString& name)
{
    sql::Statement st(ws.db(), "SELECT max(version) FROM prompt_templates WHERE name = ?");
    st.bind(1, name);
    if (st.step() && !st.isNull(0))
        return static_cast<int>(st.int64(0));
    return std::nullopt;
}

} // namespace

QList<TemplateVersion> listTemplates(const Workspace& ws)
{
    QList<TemplateVersion> out;
    sql::Statement st(ws.db(),
        QStringLiteral("SELECT %1 FROM prompt_templates t WHERE version = "
                       "(SELECT max(version) FROM prompt_templates WHERE name = t.name) ORDER BY name")
            .arg(QLatin1String(kTemplateColumns))
            .toUtf8()
            .constData());
    while (st.step())
        out.append(readTemplate(st));
    return out;
}

QList<TemplateVersion> templateVersions(const Workspace& ws, const QString& name)
{
    QList<TemplateVersion> out;
    sql::Statement st(ws.db(),
        QStringLiteral("SELECT %1 FROM prompt_templates WHERE name = ? ORDER BY version")
            .arg(QLatin1String(kTemplateColumns))
            .toUtf8()
            .constData());
    st.bind(1, name);
    while (st.step())
        out.append(readTemplate(st));
    return out;
}

namespace {

    struct ParsedRef {
        QString name;
        std::optional<int> version; // NAME@V
        QString label; // NAME@LABEL
    };

    bool isNumber(const QString& s)
    {
        bool ok = false;
        s.toLongLong(&ok);
        return ok;
    }

    ParsedRef parseRef(const QString& ref)
    {
        const qsizetype at = ref.lastIndexOf(u'@');
        ParsedRef r;
        r.name = at < 0 ? ref : ref.left(at);
        if (at < 0)
            return r;
        const QString tail = ref.mid(at + 1);
        if (tail.isEmpty())
            throw Error(QStringLiteral("prompt template \"%1\": a version number or a label must follow @").arg(ref));
        if (isNumber(tail)) {
            r.version = tail.toInt();
            if (*r.version < 1)
                throw Error(
                    QStringLiteral("prompt template \"%1\": the version after @ must be a number >= 1").arg(ref));
        } else {
            r.label = tail;
        }
        return r;
    }

    std::optional<TemplateVersion> templateAt(const Workspace& ws, const QString& name, int version)
    {
        sql::Statement st(ws.db(),
            QStringLiteral("SELECT %1 FROM prompt_templates WHERE name = ? AND version = ?")
                .arg(QLatin1String(kTemplateColumns))
                .toUtf8()
                .constData());
        st.bind(1, name).bind(2, version);
        if (!st.step())
            return std::nullopt;
        return readTemplate(st);
    }

} // namespace

std::optional<TemplateVersion> findTemplate(const Workspace& ws, const QString& ref)
{
    const ParsedRef r = parseRef(ref);
    std::optional<int> version = r.version;
    if (!r.label.isEmpty())
        version = labelVersion(ws, r.name, r.label);
    else if (!version)
        version = newestVersion(ws, r.name);
    if (!version)
        return std::nullopt;
    return templateAt(ws, r.name, *version);
}

TemplateVersion getTemplate(const Workspace& ws, const QString& ref)
{
    if (auto t = findTemplate(ws, ref))
        return *t;
    const ParsedRef r = parseRef(ref);
    if (!r.label.isEmpty() && newestVersion(ws, r.name)) {
        QStringList labels;
        for (const QStringList& l : labelsFor(ws, r.name))
            labels += l;
        labels.sort();
        throw Error(QStringLiteral("%1: prompt template \"%2\" has no label \"%3\" (labels: %4)")
                        .arg(ws.path(), r.name, r.label,
                            labels.isEmpty() ? QStringLiteral("none") : labels.join(QStringLiteral(", "))));
    }
    throw Error(QStringLiteral("%1: no prompt template \"%2\"").arg(ws.path(), ref));
}

TemplateVersion addTemplateVersion(Workspace& ws, const QString& name, const QString& text, const QString& note,
    std::optional<int> parentVersion)
{
    if (name.trimmed().isEmpty() || name.contains(u'@'))
        throw Error(QStringLiteral("prompt template name \"%1\": must be non-empty and without @").arg(name));
    return writeTransaction(ws, [&] {
        const std::optional<int> newest = newestVersion(ws, name);
        if (parentVersion) {
            if (!newest || *parentVersion < 1 || *parentVersion > *newest)
                throw Error(QStringLiteral("prompt template %1: no version %2 to derive from").arg(name).arg(*parentVersion));
        } else {
            parentVersion = newest;
        }
        TemplateVersion t;
        t.name = name;
        t.version = newest.value_or(0) + 1;
        t.parentVersion = parentVersion;
        t.text = text;
        t.note = note;
        t.createdAt = nowSeconds();
        sql::Statement st(ws.db(),
            "INSERT INTO prompt_templates(name, version, parent_version, text, note, created_at) VALUES(?, ?, ?, ?, ?, ?)");
        st.bind(1, name)
            .bind(2, t.version)
            .bind(3, t.parentVersion ? std::optional<int64_t>(*t.parentVersion) : std::nullopt)
            .bind(4, text.isNull() ? QStringLiteral("") : text)
            .bind(5, note.isNull() ? QStringLiteral("") : note)
            .bind(6, static_cast<int64_t>(t.createdAt))
            .exec();
        t.id = static_cast<qint64>(sql::queryInt(ws.db(), "SELECT last_insert_rowid()"));
        return t;
    });
}

int seedDefaultTemplates(Workspace& ws)
{
    return writeTransaction(ws, [&] {
        int added = 0;
        for (const PromptTemplate& t : shippedTemplates()) {
            if (newestVersion(ws, t.name))
                continue;
            addTemplateVersion(ws, t.name, t.text, QStringLiteral("shipped default"));
            ++added;
        }
        return added;
    });
}

// ---- labels ----

void checkLabelName(const QString& label)
{
    static const QRegularExpression bad(QStringLiteral(R"([@\s])"));
    if (label.isEmpty() || isNumber(label) || label.contains(bad))
        throw Error(
            QStringLiteral("prompt label \"%1\": must be a name (not a number), without @ or spaces").arg(label));
}

void setLabel(Workspace& ws, const QString& name, const QString& label, int version)
{
    checkLabelName(label);
    writeTransaction(ws, [&] {
        if (!templateAt(ws, name, version))
            throw Error(QStringLiteral("%1: no prompt template \"%2@%3\" to label").arg(ws.path(), name).arg(version));
        sql::Statement st(ws.db(),
            "INSERT INTO prompt_labels(name, label, version, updated_at) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(name, label) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at");
        st.bind(1, name).bind(2, label).bind(3, version).bind(4, static_cast<int64_t>(nowSeconds())).exec();
    });
}

bool removeLabel(Workspace& ws, const QString& name, const QString& label)
{
    return writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "DELETE FROM prompt_labels WHERE name = ? AND label = ?");
        st.bind(1, name).bind(2, label).exec();
        return sql::queryInt(ws.db(), "SELECT changes()") > 0;
    });
}

std::optional<int> labelVersion(const Workspace& ws, const QString& name, const QString& label)
{
    sql::Statement st(ws.db(), "SELECT version FROM prompt_labels WHERE name = ? AND label = ?");
    st.bind(1, name).bind(2, label);
    if (st.step())
        return static_cast<int>(st.int64(0));
    return std::nullopt;
}

QMap<int, QStringList> labelsFor(const Workspace& ws, const QString& name)
{
    QMap<int, QStringList> out;
    sql::Statement st(ws.db(), "SELECT version, label FROM prompt_labels WHERE name = ? ORDER BY version, label");
    st.bind(1, name);
    while (st.step())
        out[static_cast<int>(st.int64(0))].append(st.text(1));
    return out;
}

// ---- drafts ----

namespace {

    Draft readDraft(const sql::Statement& st)
    {
        Draft d;
        d.name = st.text(0);
        if (!st.isNull(1))
            d.baseVersion = static_cast<int>(st.int64(1));
        d.text = st.text(2);
        d.updatedAt = st.int64(3);
        return d;
    }

} // namespace

void saveDraft(Workspace& ws, const Draft& draft)
{
    if (draft.name.trimmed().isEmpty() || draft.name.contains(u'@'))
        throw Error(
            QStringLiteral("prompt draft \"%1\": the template name must be non-empty and without @").arg(draft.name));
    writeTransaction(ws, [&] {
        sql::Statement st(ws.db(),
            "INSERT INTO prompt_drafts(name, base_version, text, updated_at) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET base_version = excluded.base_version, text = excluded.text, "
            "updated_at = excluded.updated_at");
        st.bind(1, draft.name)
            .bind(2, draft.baseVersion ? std::optional<int64_t>(*draft.baseVersion) : std::nullopt)
            .bind(3, draft.text.isNull() ? QStringLiteral("") : draft.text)
            .bind(4, static_cast<int64_t>(draft.updatedAt > 0 ? draft.updatedAt : nowSeconds()))
            .exec();
    });
}

std::optional<Draft> loadDraft(const Workspace& ws, const QString& name)
{
    sql::Statement st(ws.db(), "SELECT name, base_version, text, updated_at FROM prompt_drafts WHERE name = ?");
    st.bind(1, name);
    if (st.step())
        return readDraft(st);
    return std::nullopt;
}

bool discardDraft(Workspace& ws, const QString& name)
{
    return writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "DELETE FROM prompt_drafts WHERE name = ?");
        st.bind(1, name).exec();
        return sql::queryInt(ws.db(), "SELECT changes()") > 0;
    });
}

QList<Draft> listDrafts(const Workspace& ws)
{
    QList<Draft> out;
    sql::Statement st(ws.db(), "SELECT name, base_version, text, updated_at FROM prompt_drafts ORDER BY name");
    while (st.step())
        out.append(readDraft(st));
    return out;
}

QList<EndpointProfile> listEndpoints(const Workspace& ws)
{
    QList<EndpointProfile> out;
    sql::Statement st(ws.db(), "SELECT name, profile FROM endpoints ORDER BY name");
    while (st.step()) {
        QJsonObject o = parseObject(st.text(1));
        o.insert(QStringLiteral("name"), st.text(0));
        out.append(EndpointProfile::fromJson(o));
    }
    return out;
}

std::optional<EndpointProfile> findEndpoint(const Workspace& ws, const QString& name)
{
    sql::Statement st(ws.db(), "SELECT profile FROM endpoints WHERE name = ?");
    st.bind(1, name);
    if (!st.step())
        return std::nullopt;
    QJsonObject o = parseObject(st.text(0));
    o.insert(QStringLiteral("name"), name);
    return EndpointProfile::fromJson(o);
}

EndpointProfile getEndpoint(const Workspace& ws, const QString& name)
{
    if (auto e = findEndpoint(ws, name))
        return *e;
    throw Error(QStringLiteral("%1: no endpoint \"%2\"").arg(ws.path(), name));
}

void upsertEndpoint(Workspace& ws, const EndpointProfile& profile)
{
    // Round trip through fromJson: the same validation as a profile read back later.
    const QJsonObject json = profile.toJson();
    EndpointProfile::fromJson(json);
    writeTransaction(ws, [&] {
        sql::Statement st(ws.db(),
            "INSERT INTO endpoints(name, profile) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET profile = excluded.profile");
        st.bind(1, profile.name).bind(2, compactJson(json)).exec();
    });
}

bool removeEndpoint(Workspace& ws, const QString& name)
{
    return writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "DELETE FROM endpoints WHERE name = ?");
        st.bind(1, name).exec();
        const bool removed = sql::queryInt(ws.db(), "SELECT changes()") > 0;
        if (removed && ws.meta(QStringLiteral("rerank.default_endpoint")) == name)
            ws.setMeta(QStringLiteral("rerank.default_endpoint"), QStringLiteral("offline"));
        return removed;
    });
}

QString defaultEndpoint(const Workspace& ws)
{
    return ws.meta(QStringLiteral("rerank.default_endpoint"), QStringLiteral("offline"));
}

void setDefaultEndpoint(Workspace& ws, const QString& name)
{
    if (!findEndpoint(ws, name))
        throw Error(QStringLiteral("%1: no endpoint \"%2\"").arg(ws.path(), name));
    ws.setMeta(QStringLiteral("rerank.default_endpoint"), name);
}

std::optional<CacheEntry> cacheGet(Workspace& ws, const QString& key, qint64 now, bool countHit)
{
    CacheEntry e;
    {
        // The SELECT is finished before the UPDATE's BEGIN IMMEDIATE: a statement still open
        // keeps this connection's read snapshot, and if another connection (an experiment's
        // writer) committed since, upgrading it fails with SQLITE_BUSY_SNAPSHOT at once,
        // without the busy timeout ("database is locked").
        sql::Statement st(ws.db(),
            "SELECT endpoint, model, created_at, expires_at, response, hits FROM response_cache WHERE key = ?");
        st.bind(1, key);
        if (!st.step())
            return std::nullopt;
        e.key = key;
        e.endpoint = st.text(0);
        e.model = st.text(1);
        e.createdAt = st.int64(2);
        e.expiresAt = st.int64(3);
        e.response = parseObject(st.text(4));
        e.hits = st.int64(5);
    }
    if (e.expiresAt <= now)
        return std::nullopt;
    if (!countHit || ws.readOnly())
        return e;
    writeTransaction(ws, [&] {
        sql::Statement up(ws.db(), "UPDATE response_cache SET hits = hits + 1 WHERE key = ?");
        up.bind(1, key).exec();
    });
    return e;
}

void cachePut(Workspace& ws, const QString& key, const QString& endpoint, const QString& model,
    const QJsonObject& response, qint64 now, qint64 ttlSeconds)
{
    writeTransaction(ws, [&] {
        sql::Statement st(ws.db(),
            "INSERT INTO response_cache(key, endpoint, model, created_at, expires_at, response, hits) "
            "VALUES(?, ?, ?, ?, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET endpoint = excluded.endpoint, "
            "model = excluded.model, created_at = excluded.created_at, expires_at = excluded.expires_at, "
            "response = excluded.response, hits = 0");
        st.bind(1, key)
            .bind(2, endpoint)
            .bind(3, model)
            .bind(4, static_cast<int64_t>(now))
            .bind(5, static_cast<int64_t>(now + std::max<qint64>(0, ttlSeconds)))
            .bind(6, compactJson(response))
            .exec();
    });
}

int cachePurgeExpired(Workspace& ws, qint64 now)
{
    return writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "DELETE FROM response_cache WHERE expires_at <= ?");
        st.bind(1, static_cast<int64_t>(now)).exec();
        return static_cast<int>(sql::queryInt(ws.db(), "SELECT changes()"));
    });
}

int cacheClear(Workspace& ws)
{
    return writeTransaction(ws, [&] {
        sql::exec(ws.db(), "DELETE FROM response_cache");
        return static_cast<int>(sql::queryInt(ws.db(), "SELECT changes()"));
    });
}

qint64 cacheSize(const Workspace& ws)
{
    return sql::queryInt(ws.db(), "SELECT count(*) FROM response_cache");
}

// ---- runs ----

namespace {

RunInfo readRun(const sql::Statement& st)
{
    RunInfo r;
    r.id = st.int64(0);
    r.createdAt = st.int64(1);
    r.promptName = st.text(2);
    if (!st.isNull(3))
        r.promptVersion = static_cast<int>(st.int64(3));
    r.endpoint = st.text(4);
    r.params = parseObject(st.text(5));
    r.summary = parseObject(st.text(6));
    r.results = static_cast<int>(st.int64(7));
    return r;
}

constexpr const char* kRunSelect = "SELECT id, created_at, prompt_name, prompt_version, endpoint, params, summary, "
                                   "(SELECT count(*) FROM rerank_results WHERE run_id = r.id) FROM rerank_runs r ";

} // namespace

qint64 createRun(Workspace& ws, const RunInfo& run)
{
    return writeTransaction(ws, [&] {
        sql::Statement st(ws.db(),
            "INSERT INTO rerank_runs(created_at, prompt_name, prompt_version, endpoint, params, summary) "
            "VALUES(?, ?, ?, ?, ?, ?)");
        st.bind(1, static_cast<int64_t>(run.createdAt > 0 ? run.createdAt : nowSeconds()))
            .bind(2, run.promptName.isNull() ? QStringLiteral("") : run.promptName);
        if (run.promptVersion)
            st.bind(3, static_cast<int64_t>(*run.promptVersion));
        st.bind(4, run.endpoint.isNull() ? QStringLiteral("") : run.endpoint).bind(5, compactJson(run.params)).bind(6, compactJson(run.summary)).exec();
        return static_cast<qint64>(sql::queryInt(ws.db(), "SELECT last_insert_rowid()"));
    });
}

void putRunResult(Workspace& ws, qint64 runId, qint64 userDbId, const QJsonObject& result)
{
    writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "INSERT OR REPLACE INTO rerank_results(run_id, user_id, result) VALUES(?, ?, ?)");
        st.bind(1, static_cast<int64_t>(runId))
            .bind(2, static_cast<int64_t>(userDbId))
            .bind(3, compactJson(result))
            .exec();
    });
}

void setRunSummary(Workspace& ws, qint64 runId, const QJsonObject& summary)
{
    writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "UPDATE rerank_runs SET summary = ? WHERE id = ?");
        st.bind(1, compactJson(summary)).bind(2, static_cast<int64_t>(runId)).exec();
        if (sql::queryInt(ws.db(), "SELECT changes()") != 1)
            throw Error(QStringLiteral("%1: no rerank run %2").arg(ws.path()).arg(runId));
    });
}

QList<RunInfo> listRuns(const Workspace& ws)
{
    QList<RunInfo> out;
    sql::Statement st(ws.db(), (std::string(kRunSelect) + "ORDER BY id DESC").c_str());
    while (st.step())
        out.append(readRun(st));
    return out;
}

std::optional<RunInfo> findRun(const Workspace& ws, qint64 runId)
{
    sql::Statement st(ws.db(), (std::string(kRunSelect) + "WHERE id = ?").c_str());
    st.bind(1, static_cast<int64_t>(runId));
    if (st.step())
        return readRun(st);
    return std::nullopt;
}

QString runStatus(const RunInfo& run)
{
    const QString status = run.params.value(QStringLiteral("status")).toString();
    if (status.isEmpty())
        return run.summary.isEmpty() ? QStringLiteral("interrupted") : QStringLiteral("finished");
    if (status != u"running")
        return status;
    const qint64 pid = run.params.value(QStringLiteral("pid")).toInteger();
    if (run.params.value(QStringLiteral("host")).toString() != QSysInfo::machineHostName() || pid <= 0)
        return status; // cannot tell from here
    const bool alive = ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
    return alive ? status : QStringLiteral("interrupted");
}

void setRunStatus(Workspace& ws, qint64 runId, const QString& status)
{
    setRunParam(ws, runId, QStringLiteral("status"), status);
}

void setRunParam(Workspace& ws, qint64 runId, const QString& key, const QJsonValue& value)
{
    writeTransaction(ws, [&] {
        sql::Statement st(ws.db(),
            "UPDATE rerank_runs SET params = json_set(params, '$.' || ?, json_extract(?, '$[0]')) WHERE id = ?");
        st.bind(1, key)
            .bind(2, QString::fromUtf8(QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact)))
            .bind(3, static_cast<int64_t>(runId))
            .exec();
        if (sql::queryInt(ws.db(), "SELECT changes()") != 1)
            throw Error(QStringLiteral("%1: no rerank run %2").arg(ws.path()).arg(runId));
    });
}

QJsonObject summarizeStoredResults(const QList<QPair<QString, QJsonObject>>& results)
{
    int users = 0, cold = 0, fallbacks = 0;
    qint64 input = 0, output = 0;
    double cost = 0;
    bool costKnown = true;
    QJsonObject answeredBy;
    for (const auto& [id, r] : results) {
        Q_UNUSED(id);
        if (r.contains(QStringLiteral("orders"))) { // a probe user: one result per order
            users += 1;
            continue;
        }
        ++users;
        cold += r.value(QStringLiteral("cold_start")).toBool() ? 1 : 0;
        fallbacks += r.value(QStringLiteral("fallback")).toBool() ? 1 : 0;
        const QString by = r.value(QStringLiteral("answered_by")).toString();
        QJsonObject entry = answeredBy.value(by).toObject();
        entry.insert(QStringLiteral("users"), entry.value(QStringLiteral("users")).toInt() + 1);
        answeredBy.insert(by, entry);
        const QJsonObject tokens = r.value(QStringLiteral("tokens")).toObject();
        input += tokens.value(QStringLiteral("input")).toInteger();
        output += tokens.value(QStringLiteral("output")).toInteger();
        if (r.value(QStringLiteral("cost")).isDouble())
            cost += r.value(QStringLiteral("cost")).toDouble();
        else
            costKnown = false;
    }
    for (auto it = answeredBy.begin(); it != answeredBy.end(); ++it) {
        QJsonObject entry = it.value().toObject();
        entry.insert(QStringLiteral("share"), users ? entry.value(QStringLiteral("users")).toDouble() / users : 0.0);
        it.value() = entry;
    }
    return QJsonObject {
        { QStringLiteral("users"), users },
        { QStringLiteral("cold_users"), cold },
        { QStringLiteral("fallbacks"), fallbacks },
        { QStringLiteral("answered_by"), answeredBy },
        { QStringLiteral("tokens"), QJsonObject { { QStringLiteral("input"), input }, { QStringLiteral("output"), output } } },
        { QStringLiteral("cost_usd"), costKnown ? QJsonValue(cost) : QJsonValue(QJsonValue::Null) },
        { QStringLiteral("from_stored_results"), true },
    };
}

QList<QPair<QString, QJsonObject>> runResults(const Workspace& ws, qint64 runId)
{
    QList<QPair<QString, QJsonObject>> out;
    // A shard's own file (rerank --shard --out) has no users: there the id comes from the
    // result itself (a probe user's from its first order).
    sql::Statement st(ws.db(),
        "SELECT u.external_id, r.result FROM rerank_results r LEFT JOIN users u ON u.id = r.user_id "
        "WHERE r.run_id = ? ORDER BY r.user_id");
    st.bind(1, static_cast<int64_t>(runId));
    while (st.step()) {
        const QJsonObject result = parseObject(st.text(1));
        QString id = st.isNull(0) ? result.value(QStringLiteral("user")).toString() : st.text(0);
        if (id.isEmpty())
            id = result.value(QStringLiteral("orders")).toArray().first().toObject().value(QStringLiteral("user")).toString();
        out.append({ id, result });
    }
    return out;
}

int cacheCopy(const Workspace& from, Workspace& to, qint64 now)
{
    return writeTransaction(to, [&] {
        int copied = 0;
        sql::Statement get(from.db(),
            "SELECT key, endpoint, model, created_at, expires_at, response FROM response_cache WHERE expires_at > ?");
        get.bind(1, static_cast<int64_t>(now));
        // The entry that lives longer wins (the newer answer to the same prompt).
        sql::Statement put(to.db(),
            "INSERT INTO response_cache(key, endpoint, model, created_at, expires_at, response, hits) "
            "VALUES(?, ?, ?, ?, ?, ?, 0) ON CONFLICT(key) DO UPDATE SET endpoint = excluded.endpoint, "
            "model = excluded.model, created_at = excluded.created_at, expires_at = excluded.expires_at, "
            "response = excluded.response WHERE excluded.expires_at > response_cache.expires_at");
        while (get.step()) {
            put.bind(1, get.text(0))
                .bind(2, get.text(1))
                .bind(3, get.text(2))
                .bind(4, get.int64(3))
                .bind(5, get.int64(4))
                .bind(6, get.text(5))
                .exec();
            copied += static_cast<int>(sql::queryInt(to.db(), "SELECT changes()"));
        }
        return copied;
    });
}

bool removeRun(Workspace& ws, qint64 runId)
{
    return writeTransaction(ws, [&] {
        sql::Statement st(ws.db(), "DELETE FROM rerank_runs WHERE id = ?");
        st.bind(1, static_cast<int64_t>(runId)).exec();
        return sql::queryInt(ws.db(), "SELECT changes()") > 0;
    });
}

// ---- high-value users: annotations of kind "high_value" ----

QStringList highValueUsers(const Workspace& ws)
{
    QStringList out;
    sql::Statement st(ws.db(),
        "SELECT DISTINCT u.external_id FROM annotations a JOIN users u ON u.id = a.user_id "
        "WHERE a.kind = 'high_value' ORDER BY u.external_id");
    while (st.step())
        out.append(st.text(0));
    return out;
}

int setHighValue(Workspace& ws, const QStringList& externalIds, bool highValue)
{
    return writeTransaction(ws, [&] {
        std::vector<int64_t> ids;
        for (const QString& ext : externalIds) {
            sql::Statement find(ws.db(), "SELECT id FROM users WHERE external_id = ?");
            find.bind(1, ext);
            if (!find.step())
                throw Error(QStringLiteral("%1: no user '%2'").arg(ws.path(), ext));
            ids.push_back(find.int64(0));
        }
        int changed = 0;
        for (const int64_t id : ids) {
            sql::Statement del(ws.db(), "DELETE FROM annotations WHERE kind = 'high_value' AND user_id = ?");
            del.bind(1, id).exec();
            const bool was = sql::queryInt(ws.db(), "SELECT changes()") > 0;
            if (highValue) {
                sql::Statement ins(ws.db(),
                    "INSERT INTO annotations(user_id, item_id, kind, verdict, note, created_at) "
                    "VALUES(?, NULL, 'high_value', NULL, '', ?)");
                ins.bind(1, id).bind(2, static_cast<int64_t>(nowSeconds())).exec();
            }
            changed += was != highValue;
        }
        return changed;
    });
}

} // namespace recwb::rerank::store
