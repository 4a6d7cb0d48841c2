#include "data/importwriter.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <sqlite3.h>

namespace recwb {

void ImportReport::skip(const QString& file, qint64 line, const QString& reason)
{
    ++rowsSkipped;
    if (skipped.size() < kMaxSkipped)
        skipped.append(SkippedRow { file, line, reason });
}

QJsonObject ImportReport::toJson() const
{
    QJsonArray skippedRows;
    for (const auto& s : skipped)
        skippedRows.append(QJsonObject {
            { QStringLiteral("file"), s.file }, { QStringLiteral("line"), s.line }, { QStringLiteral("reason"), s.reason } });
    return QJsonObject {
        { QStringLiteral("format"), format },
        { QStringLiteral("source"), source },
        { QStringLiteral("rows_read"), rowsRead },
        { QStringLiteral("items_added"), itemsAdded },
        { QStringLiteral("items_updated"), itemsUpdated },
        { QStringLiteral("users_added"), usersAdded },
        { QStringLiteral("users_updated"), usersUpdated },
        { QStringLiteral("interaction_rows"), interactionRows },
        { QStringLiteral("interactions_added"), interactionsAdded },
        { QStringLiteral("duplicates_collapsed"), duplicatesCollapsed },
        { QStringLiteral("tags_added"), tagsAdded },
        { QStringLiteral("rows_skipped"), rowsSkipped },
        { QStringLiteral("seconds"), seconds },
        { QStringLiteral("skipped"), skippedRows },
        { QStringLiteral("timestamp_outliers"), timestampOutliers },
        { QStringLiteral("timestamp_outlier_rows"), [this] {
             QJsonArray a;
             for (const auto& s : outlierRows)
                 a.append(s.toString());
             return a;
         }() },
    };
}

QString ImportReport::toText() const
{
    QString out = QStringLiteral("Imported %1 from %2 in %3 s\n").arg(format, source).arg(seconds, 0, 'f', 2);
    out += QStringLiteral("  items: %1 added, %2 updated\n").arg(itemsAdded).arg(itemsUpdated);
    out += QStringLiteral("  users: %1 added, %2 updated\n").arg(usersAdded).arg(usersUpdated);
    out += QStringLiteral("  interactions: %1 rows, %2 added, %3 duplicates collapsed\n")
               .arg(interactionRows)
               .arg(interactionsAdded)
               .arg(duplicatesCollapsed);
    out += QStringLiteral("  tags: %1 added\n").arg(tagsAdded);
    out += QStringLiteral("  rows read: %1, skipped: %2\n").arg(rowsRead).arg(rowsSkipped);
    for (const auto& s : skipped)
        out += QStringLiteral("    skipped %1\n").arg(s.toString());
    if (rowsSkipped > skipped.size())
        out += QStringLiteral("    ... and %1 more skipped rows\n").arg(rowsSkipped - skipped.size());
    if (timestampOutliers > 0) {
        out += QStringLiteral("  timestamps far outside their file's range (kept; check them): %1 rows\n")
                   .arg(timestampOutliers);
        for (const auto& s : outlierRows)
            out += QStringLiteral("    %1\n").arg(s.toString());
    }
    return out;
}

ImportWriter::ImportWriter(Workspace& ws, ImportReport& report)
    : m_ws(ws)
    , m_report(report)
    , m_fkOff(ws)
    , m_tx(ws)
    , m_insertItem(ws.db(), "INSERT INTO items(id, external_id, title, description, year, attributes) VALUES(?,?,?,?,?,?)")
    , m_updateItem(ws.db(),
          "UPDATE items SET title = coalesce(?2, title), description = coalesce(?3, description), "
          "year = coalesce(?4, year), attributes = ?5 WHERE id = ?1")
    , m_selectItemAttrs(ws.db(), "SELECT attributes FROM items WHERE id = ?")
    , m_clearItemCategories(ws.db(), "DELETE FROM item_categories WHERE item_id = ?")
    , m_insertItemCategory(ws.db(), "INSERT OR IGNORE INTO item_categories(item_id, category_id) VALUES(?, ?)")
    , m_insertCategory(ws.db(), "INSERT INTO categories(id, name) VALUES(?, ?)")
    , m_insertUser(ws.db(), "INSERT INTO users(id, external_id, attributes) VALUES(?, ?, ?)")
    , m_selectUserAttrs(ws.db(), "SELECT attributes FROM users WHERE id = ?")
    , m_updateUser(ws.db(), "UPDATE users SET attributes = ?2 WHERE id = ?1")
    , m_upsertInteraction(ws.db(),
          "INSERT INTO interactions(user_id, item_id, value, ts) VALUES(?1, ?2, ?3, ?4) "
          "ON CONFLICT(user_id, item_id) DO UPDATE SET value = excluded.value, ts = excluded.ts "
          "WHERE excluded.ts >= interactions.ts")
    , m_insertTag(ws.db(), "INSERT INTO tags(item_id, user_id, tag, ts) VALUES(?, ?, ?, ?)")
{
    sqlite3* db = ws.db();
    m_interactionsBefore = sql::queryInt(db, "SELECT count(*) FROM interactions");
    {
        sql::Statement st(db, "SELECT id, external_id FROM items");
        while (st.step())
            m_items.insert(st.text(1), st.int64(0));
    }
    {
        sql::Statement st(db, "SELECT id, external_id FROM users");
        while (st.step())
            m_users.insert(st.text(1), st.int64(0));
    }
    {
        sql::Statement st(db, "SELECT id, name FROM categories");
        while (st.step())
            m_categories.insert(st.text(1), st.int64(0));
    }
    m_nextItem = sql::queryInt(db, "SELECT coalesce(max(id), 0) + 1 FROM items");
    m_nextUser = sql::queryInt(db, "SELECT coalesce(max(id), 0) + 1 FROM users");
    m_nextCategory = sql::queryInt(db, "SELECT coalesce(max(id), 0) + 1 FROM categories");
}

ImportWriter::~ImportWriter() = default;

std::optional<qint64> ImportWriter::findItem(const QString& externalId) const
{
    const auto it = m_items.constFind(externalId);
    return it == m_items.cend() ? std::nullopt : std::optional<qint64>(*it);
}

std::optional<qint64> ImportWriter::findUser(const QString& externalId) const
{
    const auto it = m_users.constFind(externalId);
    return it == m_users.cend() ? std::nullopt : std::optional<qint64>(*it);
}

qint64 ImportWriter::itemId(const QString& externalId)
{
    if (const auto found = findItem(externalId))
        return *found;
    const qint64 id = m_nextItem++;
    m_insertItem.bind(1, static_cast<int64_t>(id))
        .bind(2, externalId)
        .bind(3, externalId)
        .bind(4, QStringLiteral(""))
        .bindNull(5)
        .bind(6, QStringLiteral("{}"))
        .exec();
    m_items.insert(externalId, id);
    ++m_report.itemsAdded;
    return id;
}

qint64 ImportWriter::userId(const QString& externalId)
{
    if (const auto found = findUser(externalId))
        return *found;
    const qint64 id = m_nextUser++;
    m_insertUser.bind(1, static_cast<int64_t>(id)).bind(2, externalId).bind(3, QStringLiteral("{}")).exec();
    m_users.insert(externalId, id);
    ++m_report.usersAdded;
    return id;
}

qint64 ImportWriter::categoryId(const QString& name)
{
    const auto it = m_categories.constFind(name);
    if (it != m_categories.cend())
        return *it;
    const qint64 id = m_nextCategory++;
    m_insertCategory.bind(1, static_cast<int64_t>(id)).bind(2, name).exec();
    m_categories.insert(name, id);
    return id;
}

namespace {

QJsonObject merged(sql::Statement& select, qint64 id, const QJsonObject& extra)
{
    select.bind(1, static_cast<int64_t>(id));
    QJsonObject obj;
    if (select.step())
        obj = QJsonDocument::fromJson(select.text(0).toUtf8()).object();
    select.reset();
    for (auto it = extra.begin(); it != extra.end(); ++it)
        obj.insert(it.key(), it.value());
    return obj;
}

QString compactJson(const QJsonObject& obj)
{
    return QString::fromUtf8(QJsonDocument(obj).toJson(QJsonDocument::Compact));
}

} // namespace

void ImportWriter::upsertItem(const ItemRecord& r)
{
    const bool existed = findItem(r.externalId).has_value();
    const qint64 id = itemId(r.externalId);
    if (existed)
        ++m_report.itemsUpdated;
    const QJsonObject attrs = r.attributes.isEmpty() ? merged(m_selectItemAttrs, id, {}) : merged(m_selectItemAttrs, id, r.attributes);
    m_updateItem.bind(1, static_cast<int64_t>(id));
    if (r.title)
        m_updateItem.bind(2, *r.title);
    if (r.description)
        m_updateItem.bind(3, *r.description);
    if (r.year)
        m_updateItem.bind(4, static_cast<int64_t>(*r.year));
    m_updateItem.bind(5, compactJson(attrs)).exec();
    if (r.categories) {
        m_clearItemCategories.bind(1, static_cast<int64_t>(id)).exec();
        for (const QString& c : *r.categories) {
            const QString name = c.trimmed();
            if (name.isEmpty())
                continue;
            m_insertItemCategory.bind(1, static_cast<int64_t>(id)).bind(2, static_cast<int64_t>(categoryId(name))).exec();
        }
    }
}

void ImportWriter::upsertUser(const UserRecord& r)
{
    const bool existed = findUser(r.externalId).has_value();
    const qint64 id = userId(r.externalId);
    if (existed)
        ++m_report.usersUpdated;
    if (r.attributes.isEmpty())
        return;
    m_updateUser.bind(1, static_cast<int64_t>(id)).bind(2, compactJson(merged(m_selectUserAttrs, id, r.attributes))).exec();
}

ImportWriter::ForeignKeysOff::ForeignKeysOff(Workspace& w)
    : ws(w)
{
    if (!ws.inTransaction())
        sql::exec(ws.db(), "PRAGMA foreign_keys = OFF");
}

ImportWriter::ForeignKeysOff::~ForeignKeysOff()
{
    if (!ws.inTransaction())
        sqlite3_exec(ws.db(), "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
}

void ImportWriter::addInteraction(qint64 userId, qint64 itemId, double value, qint64 timestamp)
{
    if (m_pending.capacity() == 0)
        m_pending.reserve(1 << 16);
    m_pending.push_back({ userId, itemId, timestamp, value, static_cast<quint32>(m_pending.size()) });
    ++m_report.interactionRows;
    if (m_pending.size() >= kInteractionBuffer)
        flushInteractions();
}

void ImportWriter::flushInteractions()
{
    if (m_pending.empty())
        return;
    std::sort(m_pending.begin(), m_pending.end(), [](const PendingInteraction& a, const PendingInteraction& b) {
        if (a.user != b.user)
            return a.user < b.user;
        if (a.item != b.item)
            return a.item < b.item;
        if (a.timestamp != b.timestamp)
            return a.timestamp < b.timestamp;
        return a.seq < b.seq;
    });
    // The last of each (user, item) run is the latest (ties: the later row), the one the
    // upsert would keep; rows already in the workspace are resolved by the upsert itself.
    size_t kept = 0;
    for (size_t k = 0; k < m_pending.size(); ++k) {
        const auto& r = m_pending[k];
        if (k + 1 < m_pending.size() && m_pending[k + 1].user == r.user && m_pending[k + 1].item == r.item)
            continue;
        m_pending[kept++] = r;
    }
    m_pending.resize(kept);
    // Into an empty table a plain insert is enough (keys are unique and ascending); after
    // that, an upsert keeps the later of a stored and a new row.
    const bool empty = sql::queryInt(m_ws.db(), "SELECT NOT EXISTS (SELECT 1 FROM interactions)") != 0;
    QByteArray values;
    for (int k = 0; k < kRowsPerInsert; ++k)
        values += k ? ",(?,?,?,?)" : "(?,?,?,?)";
    const QByteArray upsertTail = " ON CONFLICT(user_id, item_id) DO UPDATE SET value = excluded.value, ts = excluded.ts "
                                  "WHERE excluded.ts >= interactions.ts";
    if (!m_insertMany)
        m_insertMany.emplace(m_ws.db(), QByteArray("INSERT INTO interactions(user_id, item_id, value, ts) VALUES " + values).constData());
    if (!m_upsertMany)
        m_upsertMany.emplace(m_ws.db(),
            QByteArray("INSERT INTO interactions(user_id, item_id, value, ts) VALUES " + values + upsertTail).constData());
    sql::Statement& many = empty ? *m_insertMany : *m_upsertMany;
    size_t k = 0;
    for (; k + kRowsPerInsert <= m_pending.size(); k += kRowsPerInsert) {
        for (int j = 0; j < kRowsPerInsert; ++j) {
            const auto& r = m_pending[k + static_cast<size_t>(j)];
            many.bind(4 * j + 1, static_cast<int64_t>(r.user))
                .bind(4 * j + 2, static_cast<int64_t>(r.item))
                .bind(4 * j + 3, r.value)
                .bind(4 * j + 4, static_cast<int64_t>(r.timestamp));
        }
        many.exec();
    }
    for (; k < m_pending.size(); ++k) {
        const auto& r = m_pending[k];
        m_upsertInteraction.bind(1, static_cast<int64_t>(r.user))
            .bind(2, static_cast<int64_t>(r.item))
            .bind(3, r.value)
            .bind(4, static_cast<int64_t>(r.timestamp))
            .exec();
    }
    m_pending.clear();
}

void ImportWriter::addTag(qint64 itemId, std::optional<qint64> userId, const QString& tag, std::optional<qint64> timestamp)
{
    m_insertTag.bind(1, static_cast<int64_t>(itemId));
    if (userId)
        m_insertTag.bind(2, static_cast<int64_t>(*userId));
    else
        m_insertTag.bindNull(2);
    m_insertTag.bind(3, tag);
    if (timestamp)
        m_insertTag.bind(4, static_cast<int64_t>(*timestamp));
    else
        m_insertTag.bindNull(4);
    m_insertTag.exec();
    ++m_report.tagsAdded;
}

void ImportWriter::commit()
{
    flushInteractions();
    const int64_t after = sql::queryInt(m_ws.db(), "SELECT count(*) FROM interactions");
    m_report.interactionsAdded = after - m_interactionsBefore;
    m_report.duplicatesCollapsed = m_report.interactionRows - m_report.interactionsAdded;
    sql::Statement log(m_ws.db(), "INSERT INTO imports(at, format, source, report) VALUES(?, ?, ?, ?)");
    log.bind(1, static_cast<int64_t>(QDateTime::currentSecsSinceEpoch()))
        .bind(2, m_report.format.isNull() ? QStringLiteral("") : m_report.format)
        .bind(3, m_report.source.isNull() ? QStringLiteral("") : m_report.source)
        .bind(4, compactJson(m_report.toJson()))
        .exec();
    m_tx.commit();
}

} // namespace recwb
