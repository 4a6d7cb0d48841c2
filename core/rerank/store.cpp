#include "rerank/store.h"

#include "data/sqlite.h"
#include "data/workspace.h"
#include "rerank/prompt.h"

#include <QDateTime>
#include <QJsonDocument>

namespace recwb::rerank::store {

namespace {

qint64 nowSeconds()
{
    return QDateTime::currentSecsSinceEpoch();
}

// A write in its own transaction unless the caller already opened one.
template <typename Fn>
auto write(Workspace& ws, Fn&& fn)
{
    std::optional<Transaction> tx;
    if (!ws.inTransaction())
        tx.emplace(ws);
    if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        if (tx)
            tx->commit();
    } else {
        auto result = fn();
        if (tx)
            tx->commit();
        return result;
    }
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

std::optional<TemplateVersion> findTemplate(const Workspace& ws, const QString& ref)
{
    const qsizetype at = ref.lastIndexOf(u'@');
    const QString name = at < 0 ? ref : ref.left(at);
    std::optional<int> version;
    if (at >= 0) {
        bool ok = false;
        version = ref.mid(at + 1).toInt(&ok);
        if (!ok || *version < 1)
            throw Error(QStringLiteral("prompt template \"%1\": the version after @ must be a number >= 1").arg(ref));
    } else {
        version = newestVersion(ws, name);
        if (!version)
            return std::nullopt;
    }
    sql::Statement st(ws.db(),
        QStringLiteral("SELECT %1 FROM prompt_templates WHERE name = ? AND version = ?")
            .arg(QLatin1String(kTemplateColumns))
            .toUtf8()
            .constData());
    st.bind(1, name).bind(2, *version);
    if (!st.step())
        return std::nullopt;
    return readTemplate(st);
}

TemplateVersion getTemplate(const Workspace& ws, const QString& ref)
{
    if (auto t = findTemplate(ws, ref))
        return *t;
    throw Error(QStringLiteral("%1: no prompt template \"%2\"").arg(ws.path(), ref));
}

TemplateVersion addTemplateVersion(Workspace& ws, const QString& name, const QString& text, const QString& note,
    std::optional<int> parentVersion)
{
    if (name.trimmed().isEmpty() || name.contains(u'@'))
        throw Error(QStringLiteral("prompt template name \"%1\": must be non-empty and without @").arg(name));
    return write(ws, [&] {
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
    return write(ws, [&] {
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
    write(ws, [&] {
        sql::Statement st(ws.db(),
            "INSERT INTO endpoints(name, profile) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET profile = excluded.profile");
        st.bind(1, profile.name).bind(2, compactJson(json)).exec();
    });
}

bool removeEndpoint(Workspace& ws, const QString& name)
{
    return write(ws, [&] {
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

std::optional<CacheEntry> cacheGet(Workspace& ws, const QString& key, qint64 now)
{
    sql::Statement st(ws.db(),
        "SELECT endpoint, model, created_at, expires_at, response, hits FROM response_cache WHERE key = ?");
    st.bind(1, key);
    if (!st.step())
        return std::nullopt;
    CacheEntry e;
    e.key = key;
    e.endpoint = st.text(0);
    e.model = st.text(1);
    e.createdAt = st.int64(2);
    e.expiresAt = st.int64(3);
    e.response = parseObject(st.text(4));
    e.hits = st.int64(5);
    if (e.expiresAt <= now)
        return std::nullopt;
    write(ws, [&] {
        sql::Statement up(ws.db(), "UPDATE response_cache SET hits = hits + 1 WHERE key = ?");
        up.bind(1, key).exec();
    });
    return e;
}

void cachePut(Workspace& ws, const QString& key, const QString& endpoint, const QString& model,
    const QJsonObject& response, qint64 now, qint64 ttlSeconds)
{
    write(ws, [&] {
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
    return write(ws, [&] {
        sql::Statement st(ws.db(), "DELETE FROM response_cache WHERE expires_at <= ?");
        st.bind(1, static_cast<int64_t>(now)).exec();
        return static_cast<int>(sql::queryInt(ws.db(), "SELECT changes()"));
    });
}

int cacheClear(Workspace& ws)
{
    return write(ws, [&] {
        sql::exec(ws.db(), "DELETE FROM response_cache");
        return static_cast<int>(sql::queryInt(ws.db(), "SELECT changes()"));
    });
}

qint64 cacheSize(const Workspace& ws)
{
    return sql::queryInt(ws.db(), "SELECT count(*) FROM response_cache");
}

} // namespace recwb::rerank::store
