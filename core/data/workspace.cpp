#include "data/workspace.h"

#include "data/sqlite.h"
#include "util/hugepages.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QUrl>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <sqlite3.h>
#include <sys/stat.h>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unistd.h>

namespace recwb {

namespace {

// Each entry migrates from version (index) to version (index + 1).
const char* const kMigrations[] = {
    // 0 -> 1: catalog, users, interactions, tags, import log
    R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE categories(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE items(
  id INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  year INTEGER,
  attributes TEXT NOT NULL DEFAULT '{}');
CREATE TABLE item_categories(
  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  category_id INTEGER NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  PRIMARY KEY(item_id, category_id)) WITHOUT ROWID;
CREATE TABLE users(
  id INTEGER PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  attributes TEXT NOT NULL DEFAULT '{}');
CREATE TABLE interactions(
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  value REAL NOT NULL DEFAULT 1,
  ts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(user_id, item_id)) WITHOUT ROWID;
CREATE TABLE tags(
  id INTEGER PRIMARY KEY,
  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  tag TEXT NOT NULL,
  ts INTEGER);
CREATE INDEX tags_by_item ON tags(item_id);
CREATE TABLE imports(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  format TEXT NOT NULL,
  source TEXT NOT NULL,
  report TEXT NOT NULL DEFAULT '{}');
)sql",
    // 1 -> 2: trained model snapshots and QA annotations
    R"sql(
CREATE TABLE model_snapshots(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  params TEXT NOT NULL DEFAULT '{}',
  data_fingerprint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  metrics TEXT NOT NULL DEFAULT '{}',
  payload BLOB);
CREATE INDEX model_snapshots_by_name ON model_snapshots(name, created_at);
CREATE TABLE annotations(
  id INTEGER PRIMARY KEY,
  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  item_id INTEGER REFERENCES items(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  verdict TEXT,
  note TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL);
)sql",
    // 2 -> 3: LLM rerank: prompt templates with every version, endpoints (never keys),
    // the response cache, rerank runs and their per-user results
    R"sql(
CREATE TABLE prompt_templates(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  parent_version INTEGER,
  text TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE(name, version));
CREATE TABLE endpoints(
  name TEXT PRIMARY KEY,
  profile TEXT NOT NULL DEFAULT '{}') WITHOUT ROWID;
INSERT INTO endpoints(name, profile) VALUES('offline',
  '{"name":"offline","kind":"offline","model":"offline","prices":{"input":0,"cached_input":0,"cache_write":0,"output":0}}');
INSERT INTO meta(key, value) VALUES('rerank.default_endpoint', 'offline')
  ON CONFLICT(key) DO NOTHING;
CREATE TABLE response_cache(
  key TEXT PRIMARY KEY,
  endpoint TEXT NOT NULL,
  model TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  response TEXT NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE INDEX response_cache_by_expiry ON response_cache(expires_at);
CREATE TABLE rerank_runs(
  id INTEGER PRIMARY KEY,
  created_at INTEGER NOT NULL,
  prompt_name TEXT NOT NULL DEFAULT '',
  prompt_version INTEGER,
  endpoint TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL DEFAULT '{}',
  summary TEXT NOT NULL DEFAULT '{}');
CREATE TABLE rerank_results(
  run_id INTEGER NOT NULL REFERENCES rerank_runs(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL,
  result TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY(run_id, user_id)) WITHOUT ROWID;
)sql",
    // 3 -> 4: the prompt editor: labels (production, staging, ...) pointing at one version
    // of a template, and autosaved drafts (one per template name, also for a new name)
    R"sql(
CREATE TABLE prompt_labels(
  name TEXT NOT NULL,
  label TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(name, label),
  FOREIGN KEY(name, version) REFERENCES prompt_templates(name, version) ON DELETE CASCADE) WITHOUT ROWID;
CREATE TABLE prompt_drafts(
  name TEXT PRIMARY KEY,
  base_version INTEGER,
  text TEXT NOT NULL,
  updated_at INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // 4 -> 5: rerank experiments (docs/EXPERIMENTS.md): the spec, the cohort's users and
    // one row per arm x repeat x user, written as each chunk of users finishes
    R"sql(
CREATE TABLE experiments(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  users TEXT NOT NULL DEFAULT '[]',
  catalog_size INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  wall_seconds REAL NOT NULL DEFAULT 0);
CREATE TABLE experiment_rows(
  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
  arm TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  row TEXT NOT NULL,
  PRIMARY KEY(experiment_id, arm, repeat, user_id)) WITHOUT ROWID;
)sql",
    // 5 -> 6: the QA review queue (docs/REVIEW.md): a queue's spec and frozen per-user
    // material (known items, held-out truth, the reranked list with explanations), and one
    // verdict row per queue x user x item x reviewer (item '' = the note on the user),
    // written the moment it is given; and synthetic users saved from a what-if history
    // (synthetic_of = the external id of the user it was edited from, '' for none).
    R"sql(
CREATE TABLE review_queues(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
  run TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL);
CREATE TABLE review_users(
  queue_id INTEGER NOT NULL REFERENCES review_queues(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY(queue_id, position)) WITHOUT ROWID;
CREATE TABLE review_verdicts(
  queue_id INTEGER NOT NULL REFERENCES review_queues(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  item_id TEXT NOT NULL,
  reviewer TEXT NOT NULL,
  verdict TEXT,
  note TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(queue_id, user_id, item_id, reviewer)) WITHOUT ROWID;
ALTER TABLE users ADD COLUMN synthetic_of TEXT;
)sql",
    // 6 -> 7: provider batch APIs (docs/RERANK.md "Provider batch APIs"): the batch a run was
    // sent as (provider ids, last state seen) and the request of each of its users, stored
    // when the run is submitted so a later process collects the results
    R"sql(
CREATE TABLE batch_jobs(
  run_id INTEGER PRIMARY KEY REFERENCES rerank_runs(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  batch_id TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  info TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  polls INTEGER NOT NULL DEFAULT 0);
CREATE TABLE batch_requests(
  run_id INTEGER NOT NULL REFERENCES batch_jobs(run_id) ON DELETE CASCADE,
  custom_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  cache_key TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY(run_id, custom_id));
)sql",
};
static_assert(std::size(kMigrations) == Workspace::kSchemaVersion);

void applyPragmas(sqlite3* db)
{
    sql::exec(db, "PRAGMA foreign_keys = ON");
    sql::exec(db, "PRAGMA journal_mode = WAL");
    sql::exec(db, "PRAGMA synchronous = NORMAL");
    sql::exec(db, "PRAGMA cache_size = -131072"); // 128 MiB page cache
    sql::exec(db, "PRAGMA temp_store = MEMORY");
}

// The file's first 16 bytes, read through SQLite's own handle of the open connection. Not
// with a descriptor of our own: closing any descriptor of a file drops every POSIX lock the
// process holds on it (fcntl locks belong to the process), so the other connections of this
// process (the rerank service's, an experiment's) would lose their shared lock, and another
// process closing its connection could checkpoint and delete the WAL under them ("disk I/O
// error"). SQLite shares one descriptor per file inside a process and defers closing it.
QByteArray headerOf(sqlite3* db)
{
    sqlite3_file* f = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f || !f->pMethods)
        return {};
    char buf[16] = {};
    if (f->pMethods->xRead(f, buf, sizeof buf, 0) != SQLITE_OK)
        return {}; // shorter than a header
    return QByteArray(buf, sizeof buf);
}

QString systemError(int code)
{
    return QString::fromLocal8Bit(std::strerror(code));
}

} // namespace

QJsonObject WorkspaceSummary::toJson() const
{
    return QJsonObject {
        { QStringLiteral("users"), static_cast<qint64>(users) },
        { QStringLiteral("items"), static_cast<qint64>(items) },
        { QStringLiteral("interactions"), static_cast<qint64>(interactions) },
        { QStringLiteral("cold_users"), static_cast<qint64>(coldUsers) },
        { QStringLiteral("cold_threshold"), coldThreshold },
        { QStringLiteral("categories"), static_cast<qint64>(categories) },
        { QStringLiteral("tags"), static_cast<qint64>(tags) },
        { QStringLiteral("first_timestamp"), static_cast<qint64>(firstTimestamp) },
        { QStringLiteral("last_timestamp"), static_cast<qint64>(lastTimestamp) },
        { QStringLiteral("schema_version"), schemaVersion },
    };
}

Workspace::Workspace(QString path, sqlite3* db)
    : m_path(std::move(path))
    , m_db(db)
{
}

Workspace::~Workspace()
{
    sqlite3_close_v2(m_db);
}

QString Workspace::resolvePath(const QString& path)
{
    const QByteArray native = QFile::encodeName(path);
    struct stat st {};
    if (::lstat(native.constData(), &st) != 0) {
        if (errno == ENOENT)
            return path;
        throw Error(QStringLiteral("%1: %2").arg(path, systemError(errno)));
    }
    QString file = path;
    if (S_ISLNK(st.st_mode)) {
        char resolved[PATH_MAX];
        if (!::realpath(native.constData(), resolved)) {
            const int code = errno;
            if (code == ELOOP)
                throw Error(QStringLiteral("%1: a loop of symbolic links").arg(path));
            if (code == ENOENT)
                throw Error(QStringLiteral("%1: a symbolic link to %2, which does not exist (give the target's path "
                                           "to create a workspace there)")
                                .arg(path, QFileInfo(path).symLinkTarget()));
            throw Error(QStringLiteral("%1: %2").arg(path, systemError(code)));
        }
        file = QFile::decodeName(resolved);
        if (::stat(resolved, &st) != 0)
            throw Error(QStringLiteral("%1 (a link to %2): %3").arg(path, file, systemError(errno)));
    }
    if (S_ISDIR(st.st_mode))
        throw Error(QStringLiteral("%1: is a folder, not a workspace file").arg(path));
    if (!S_ISREG(st.st_mode))
        throw Error(QStringLiteral("%1: not a regular file (a pipe, socket or device); a workspace is a file").arg(path));
    return file;
}

std::unique_ptr<Workspace> Workspace::open(const QString& path, Mode mode)
{
    const QString file = resolvePath(path);
    const bool exists = QFileInfo::exists(file);
    if (!exists && mode == Mode::OpenExisting)
        throw Error(QStringLiteral("%1: no such workspace").arg(path));
    const qint64 size = exists ? QFileInfo(file).size() : 0;
    const bool filled = size > 0;
    if (exists && !filled && mode == Mode::OpenExisting)
        throw Error(QStringLiteral("%1: the file is empty, not a workspace").arg(path));
    // No write permission on the file or its folder (SQLite's -wal and -shm live beside it):
    // read-only; with no folder permission nothing may be created, so the file is immutable.
    const QByteArray dirName = QFile::encodeName(QFileInfo(file).absolutePath());
    const bool dirWritable = ::access(dirName.constData(), W_OK) == 0;
    const bool readOnly = exists && (::access(QFile::encodeName(file).constData(), W_OK) != 0 || !dirWritable);
    if (readOnly && mode == Mode::CreateOrOpen)
        throw Error(QStringLiteral("%1: read-only (no write permission on the file or its folder)").arg(path));
    sqlite3* db = nullptr;
    QByteArray name = file.toUtf8();
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (exists ? 0 : SQLITE_OPEN_CREATE);
    if (readOnly) {
        name = QUrl::fromLocalFile(QFileInfo(file).absoluteFilePath()).toEncoded()
            + (dirWritable ? QByteArray("?mode=ro") : QByteArray("?mode=ro&immutable=1"));
        flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    }
    if (sqlite3_open_v2(name.constData(), &db, flags, nullptr) != SQLITE_OK) {
        const QString msg = QString::fromUtf8(db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close_v2(db);
        throw Error(QStringLiteral("%1: cannot open workspace: %2").arg(path, msg));
    }
    if (filled && headerOf(db) != QByteArray("SQLite format 3\0", 16)) {
        sqlite3_close_v2(db);
        throw Error(QStringLiteral("%1: not a workspace: the file is not an SQLite database").arg(path));
    }
    // Before anything touches the file: another thread's connection may hold a lock for a
    // moment (WAL switch, a write), and every statement here should wait for it, not fail.
    sqlite3_busy_timeout(db, 5000);
    std::unique_ptr<Workspace> ws(new Workspace(path, db));
    ws->m_file = file;
    ws->m_readOnly = readOnly;
    // Touch the schema first: a corrupt or encrypted file fails here with a clear message.
    const int64_t tables = sql::queryInt(db, "SELECT count(*) FROM sqlite_schema");
    const int64_t appId = sql::queryInt(db, "PRAGMA application_id");
    if (tables > 0 && appId != kApplicationId)
        throw Error(QStringLiteral("%1: not a workspace: an SQLite database of another application").arg(path));
    const int version = ws->schemaVersion();
    if (version > kSchemaVersion)
        throw Error(QStringLiteral("%1: workspace schema version %2 is newer than this build supports (%3); "
                                   "update Recommendation Workbench")
                        .arg(path)
                        .arg(version)
                        .arg(kSchemaVersion));
    if (readOnly) {
        if (tables == 0 || version < kSchemaVersion)
            throw Error(QStringLiteral("%1: read-only, and the workspace needs an upgrade to schema %2 first (open "
                                       "it once with write permission)")
                            .arg(path)
                            .arg(kSchemaVersion));
        sql::exec(db, "PRAGMA foreign_keys = ON");
        return ws;
    }
    if (tables == 0)
        sql::exec(db, "PRAGMA page_size = 16384"); // bulk inserts and full scans: fewer, larger pages
    applyPragmas(db);
    ws->migrate();
    return ws;
}

void Workspace::checkIntegrity() const
{
    sql::Statement st(m_db, "PRAGMA quick_check");
    if (!st.step())
        return;
    const QString first = st.text(0);
    if (first != u"ok")
        throw Error(QStringLiteral("%1: the workspace is damaged (%2); nothing was changed. Restore it from a copy")
                        .arg(m_path, first));
}

void Workspace::createAtVersion(const QString& path, int version)
{
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr)
        != SQLITE_OK) {
        sqlite3_close_v2(db);
        throw Error(QStringLiteral("%1: cannot create").arg(path));
    }
    sql::exec(db, "BEGIN");
    for (int v = 0; v < version; ++v)
        sql::exec(db, kMigrations[v]);
    sql::exec(db, QStringLiteral("PRAGMA application_id = %1").arg(kApplicationId).toUtf8().constData());
    sql::exec(db, QStringLiteral("PRAGMA user_version = %1").arg(version).toUtf8().constData());
    sql::exec(db, "COMMIT");
    sqlite3_close_v2(db);
}

int Workspace::schemaVersion() const
{
    return static_cast<int>(sql::queryInt(m_db, "PRAGMA user_version"));
}

void Workspace::migrate()
{
    int version = schemaVersion();
    if (version == kSchemaVersion)
        return;
    Transaction tx(*this);
    for (; version < kSchemaVersion; ++version)
        sql::exec(m_db, kMigrations[version]);
    sql::exec(m_db, QStringLiteral("PRAGMA application_id = %1").arg(kApplicationId).toUtf8().constData());
    sql::exec(m_db, QStringLiteral("PRAGMA user_version = %1").arg(kSchemaVersion).toUtf8().constData());
    tx.commit();
}

bool Workspace::inTransaction() const
{
    return sqlite3_get_autocommit(m_db) == 0;
}

QString Workspace::meta(const QString& key, const QString& fallback) const
{
    sql::Statement st(m_db, "SELECT value FROM meta WHERE key = ?");
    st.bind(1, key);
    return st.step() ? st.text(0) : fallback;
}

void Workspace::setMeta(const QString& key, const QString& value)
{
    std::optional<Transaction> tx;
    if (!inTransaction())
        tx.emplace(*this);
    sql::Statement st(m_db, "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    st.bind(1, key).bind(2, value).exec();
    if (tx)
        tx->commit();
}

WorkspaceSummary Workspace::summary(int coldThreshold) const
{
    WorkspaceSummary s;
    s.coldThreshold = coldThreshold;
    s.schemaVersion = schemaVersion();
    s.users = sql::queryInt(m_db, "SELECT count(*) FROM users");
    s.items = sql::queryInt(m_db, "SELECT count(*) FROM items");
    s.interactions = sql::queryInt(m_db, "SELECT count(*) FROM interactions");
    s.categories = sql::queryInt(m_db, "SELECT count(*) FROM categories");
    s.tags = sql::queryInt(m_db, "SELECT count(*) FROM tags");
    {
        sql::Statement st(m_db,
            "SELECT count(*) FROM users u WHERE (SELECT count(*) FROM interactions i WHERE i.user_id = u.id) < ?");
        st.bind(1, coldThreshold);
        s.coldUsers = st.step() ? st.int64(0) : 0;
    }
    {
        sql::Statement st(m_db, "SELECT min(ts), max(ts) FROM interactions");
        if (st.step() && !st.isNull(0)) {
            s.firstTimestamp = st.int64(0);
            s.lastTimestamp = st.int64(1);
        }
    }
    return s;
}

namespace {

struct BytesHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view> {}(s); }
};

std::string_view viewOf(QByteArrayView bytes) { return { bytes.data(), static_cast<size_t>(bytes.size()) }; }

// Attribute objects parsed once per distinct text. Users and items share few distinct
// attribute sets (a million generated users have about 3,000), and QJsonObject is
// implicitly shared, so a reopen parses each set once and keeps one copy of it in memory.
// Up to kMaxDistinct texts are kept; past that each is parsed on its own.
class AttributeParser {
public:
    QJsonObject parse(QByteArrayView text)
    {
        if (text.size() <= 2)
            return {};
        const auto it = m_parsed.find(viewOf(text));
        if (it != m_parsed.end())
            return it->second;
        QJsonObject o = QJsonDocument::fromJson(QByteArray::fromRawData(text.data(), text.size())).object();
        if (m_parsed.size() < kMaxDistinct)
            m_parsed.emplace(std::string(viewOf(text)), o);
        return o;
    }

private:
    static constexpr size_t kMaxDistinct = 1 << 16;
    std::unordered_map<std::string, QJsonObject, BytesHash, std::equal_to<>> m_parsed;
};

// Each item's distinct tags, most used first, ties by their bytes (SQLite's BINARY order),
// from one sequential scan of the table. Grouping and ordering in SQL (GROUP BY item_id, tag
// ORDER BY item_id, count DESC, tag) sorted every row through two temporary B-trees: 5 s
// for 3.5M tags. Each distinct text becomes one QString shared by every item that has it.
void readTags(sqlite3* db, const std::vector<int32_t>& itemIndex, std::vector<Item>& items)
{
    std::unordered_map<std::string, int32_t, BytesHash, std::equal_to<>> ids;
    std::vector<QByteArray> bytes; // tag id -> its text
    std::vector<std::pair<int32_t, int32_t>> rows; // (item index, tag id)
    sql::Statement st(db, "SELECT item_id, tag FROM tags");
    while (st.step()) {
        const auto dbId = static_cast<size_t>(st.int64(0));
        if (dbId >= itemIndex.size() || itemIndex[dbId] < 0)
            continue;
        const QByteArrayView text = st.utf8(1);
        auto it = ids.find(viewOf(text));
        if (it == ids.end()) {
            it = ids.emplace(std::string(viewOf(text)), static_cast<int32_t>(bytes.size())).first;
            bytes.emplace_back(text.data(), text.size());
        }
        rows.emplace_back(itemIndex[dbId], it->second);
    }
    if (rows.empty())
        return;
    std::sort(rows.begin(), rows.end());
    std::vector<QString> texts(bytes.size());
    std::vector<std::pair<int64_t, int32_t>> counts; // (count, tag id) of one item
    for (size_t i = 0; i < rows.size();) {
        const int32_t item = rows[i].first;
        counts.clear();
        for (; i < rows.size() && rows[i].first == item;) {
            const int32_t tag = rows[i].second;
            int64_t n = 0;
            for (; i < rows.size() && rows[i].first == item && rows[i].second == tag; ++i)
                ++n;
            counts.emplace_back(n, tag);
        }
        std::sort(counts.begin(), counts.end(), [&bytes](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : bytes[static_cast<size_t>(a.second)] < bytes[static_cast<size_t>(b.second)];
        });
        QStringList& out = items[static_cast<size_t>(item)].tags;
        out.reserve(static_cast<qsizetype>(counts.size()));
        for (const auto& [n, tag] : counts) {
            QString& text = texts[static_cast<size_t>(tag)];
            if (text.isNull())
                text = QString::fromUtf8(bytes[static_cast<size_t>(tag)]);
            out << text;
        }
    }
}

} // namespace

namespace {

// Database id -> index, with the lookup skipped when the ids are one dense run (an
// imported or generated workspace): a random read of a 4 MB table per interaction was
// most of the time spent outside SQLite when reading a hundred million of them.
struct IdMap {
    const std::vector<int32_t>* map = nullptr;
    int64_t denseBase = -1; // >= 0: index = id - denseBase for every id

    explicit IdMap(const std::vector<int32_t>& m)
        : map(&m)
    {
        int64_t first = 0;
        while (first < static_cast<int64_t>(m.size()) && m[static_cast<size_t>(first)] < 0)
            ++first;
        bool dense = first < static_cast<int64_t>(m.size());
        for (int64_t id = first; dense && id < static_cast<int64_t>(m.size()); ++id)
            dense = m[static_cast<size_t>(id)] == id - first;
        if (dense)
            denseBase = first;
    }
    int32_t operator()(int64_t id) const
    {
        return denseBase >= 0 ? static_cast<int32_t>(id - denseBase) : (*map)[static_cast<size_t>(id)];
    }
};

// The final arrays, shared by two readers: one fills them from the front (the low user
// ids, ascending), the other from the back (the high user ids, descending), so neither
// needs to know beforehand where the halves meet (a range count took 1.5 s at 100M).
// Room is claimed in chunks under a lock, so the two never write the same slot even when
// the table changes underneath; a reader that finishes hands back what it did not use.
class InteractionArrays {
public:
    InteractionArrays(Csr& m, int64_t total)
        : m_csr(m)
        , m_back(total)
    {
    }
    enum class End { Front, Back };
    // A range of at most `want` free slots: [first, first + count) at the front, or
    // (first - count, first] at the back. Empty when the arrays are full and the other
    // reader is done (or full too): the table grew while it was being read.
    std::pair<int64_t, int64_t> claim(End end, int64_t want)
    {
        std::unique_lock lock(m_mutex);
        for (;;) {
            if (m_front < m_back) {
                const int64_t take = std::min(want, m_back - m_front);
                if (end == End::Front) {
                    m_front += take;
                    return { m_front - take, take };
                }
                m_back -= take;
                return { m_back + take - 1, take };
            }
            if (m_finished > 0 || m_waiting > 0) {
                m_overflow = true;
                m_changed.notify_all();
                return { 0, 0 };
            }
            ++m_waiting; // the other may hand back room it claimed but will not use
            m_changed.wait(lock);
            --m_waiting;
            if (m_overflow)
                return { 0, 0 };
        }
    }
    // Done: `used` slots from this end hold rows; the rest of its claims go back.
    void finish(End end, int64_t used)
    {
        std::lock_guard lock(m_mutex);
        if (end == End::Front)
            m_front = used;
        else
            m_back = static_cast<int64_t>(m_csr.indices.size()) - used;
        ++m_finished;
        m_changed.notify_all();
    }
    Csr& csr() { return m_csr; }

private:
    Csr& m_csr;
    std::mutex m_mutex;
    std::condition_variable m_changed;
    int64_t m_front = 0; // [0, m_front) claimed from the front
    int64_t m_back; // [m_back, total) claimed from the back
    int m_finished = 0;
    int m_waiting = 0;
    bool m_overflow = false;
};

// Which users each reader takes. The front reader takes user ids upward and the back reader
// downward, a whole user at a time, until they meet: the split follows how fast each one
// runs (with a fixed split at the middle id, one reader sat idle for a second at 100M while
// the other finished its half).
class UserSplit {
public:
    // True when `end` may read user `id` (ids come in its order); false once the other
    // reader has taken it, and then every later id too.
    bool take(InteractionArrays::End end, int64_t id)
    {
        std::lock_guard lock(m_mutex);
        if (end == InteractionArrays::End::Front) {
            if (id >= m_backMin)
                return false;
            m_frontMax = id;
            return true;
        }
        if (id <= m_frontMax)
            return false;
        m_backMin = id;
        return true;
    }

private:
    std::mutex m_mutex;
    int64_t m_frontMax = std::numeric_limits<int64_t>::min(); // the highest id the front took
    int64_t m_backMin = std::numeric_limits<int64_t>::max(); // the lowest id the back took
};

// Reads the interactions into `arrays` from one end, user by user as `split` allows; returns
// the rows read. Rows come in (user_id, item_id) order, the table's primary key, or its reverse.
// Stops when `control` is canceled; reports progress to it as a share of `expected` rows
// when `report` is set.
int64_t readPart(sqlite3* db, UserSplit& split, const IdMap& users, const IdMap& items,
    std::vector<int64_t>& rowCounts, InteractionArrays& arrays, InteractionArrays::End end, const TaskControl& control,
    bool report, int64_t expected, std::atomic<bool>& timesOverflow)
{
    const bool back = end == InteractionArrays::End::Back;
    sql::Statement st(db,
        back ? "SELECT user_id, item_id, value, ts FROM interactions ORDER BY user_id DESC, item_id DESC"
             : "SELECT user_id, item_id, value, ts FROM interactions ORDER BY user_id, item_id");
    Csr& m = arrays.csr();
    int32_t* const itemsOut = m.indices.data();
    float* const valuesOut = m.values.data();
    // Timestamps go in as 32-bit offsets from the column's base; one too far from it is
    // flagged, and the caller reads them all again as 64-bit values.
    int32_t* const timesOut = m.timestamps.narrowData();
    const int64_t timeBase = m.timestamps.base();
    constexpr int64_t kChunk = 1 << 16;
    int64_t n = 0;
    int64_t pos = 0; // the next slot to write
    int64_t room = 0; // slots left in the current claim
    const int64_t step = back ? -1 : 1;
    int64_t user = -1; // the database id of the user being read
    int64_t* count = nullptr; // its row count
    while (st.step()) {
        const int64_t id = st.int64(0);
        if (id != user || !count) {
            if (!split.take(end, id))
                break;
            user = id;
            count = &rowCounts[static_cast<size_t>(users(id))];
        }
        if (room == 0) {
            std::tie(pos, room) = arrays.claim(end, kChunk);
            if (room == 0)
                throw Error(QStringLiteral("interactions changed while the workspace was being read"));
        }
        ++*count;
        itemsOut[pos] = items(st.int64(1));
        valuesOut[pos] = static_cast<float>(st.real(2));
        const int64_t t = st.int64(3);
        if (TimeColumn::fits(timeBase, t)) [[likely]] {
            timesOut[pos] = static_cast<int32_t>(t - timeBase);
        } else {
            timesOut[pos] = 0;
            timesOverflow.store(true, std::memory_order_relaxed);
        }
        pos += step;
        --room;
        ++n;
        if ((n & 0xFFFFF) == 0) {
            if (control.canceled())
                break;
            if (report)
                control.progress(
                    0.1 + 0.8 * std::min(1.0, static_cast<double>(n) / static_cast<double>(std::max<int64_t>(expected, 1))),
                    QStringLiteral("Reading interactions"));
        }
    }
    arrays.finish(end, n);
    return n;
}

} // namespace

Csr Workspace::readInteractions(int32_t numUsers, int32_t numItems, const std::vector<int32_t>& userIndex,
    const std::vector<int32_t>& itemIndex, const TaskControl& control, int64_t total) const
{
    if (total < 0)
        total = sql::queryInt(m_db, "SELECT count(*) FROM interactions");
    Csr m;
    m.numRows = numUsers;
    m.numCols = numItems;
    resizeLarge(m.indices, static_cast<size_t>(total));
    resizeLarge(m.values, static_cast<size_t>(total));
    // The narrow timestamps' base: the first row's, so any data within 68 years of it fits.
    int64_t timeBase = 0;
    {
        sql::Statement first(m_db, "SELECT ts FROM interactions ORDER BY user_id, item_id LIMIT 1");
        if (first.step())
            timeBase = first.int64(0);
    }
    m.timestamps.resizeNarrow(timeBase, static_cast<size_t>(total));
    std::atomic<bool> timesOverflow { false };
    std::vector<int64_t> rowCounts(static_cast<size_t>(numUsers), 0);
    const IdMap users(userIndex);
    const IdMap items(itemIndex);
    InteractionArrays arrays(m, total);
    // Read from both ends of the user ids in parallel on two connections (WAL lets readers
    // run side by side), meeting wherever they meet; a large workspace reopens in about half
    // the time on two cores.
    sqlite3* second = nullptr;
    if (total > 200'000 && !m_readOnly
        && sqlite3_open_v2(m_file.toUtf8().constData(), &second, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr)
            != SQLITE_OK) {
        sqlite3_close_v2(second);
        second = nullptr;
    }
    int64_t read = 0;
    if (second) {
        sqlite3_busy_timeout(second, 5000);
        UserSplit split;
        std::exception_ptr error;
        int64_t readHigh = 0;
        std::thread worker([&] {
            try {
                readHigh = readPart(second, split, users, items, rowCounts, arrays, InteractionArrays::End::Back, control,
                    false, total / 2, timesOverflow);
            } catch (...) {
                arrays.finish(InteractionArrays::End::Back, 0); // a waiting front reader must not wait for it
                error = std::current_exception();
            }
        });
        try {
            read = readPart(m_db, split, users, items, rowCounts, arrays, InteractionArrays::End::Front, control, true,
                total / 2, timesOverflow);
        } catch (...) {
            arrays.finish(InteractionArrays::End::Front, 0); // a waiting back reader must not wait for it
            worker.join();
            sqlite3_close_v2(second);
            throw;
        }
        worker.join();
        sqlite3_close_v2(second);
        if (error)
            std::rethrow_exception(error);
        read += readHigh;
    } else {
        UserSplit all;
        read = readPart(
            m_db, all, users, items, rowCounts, arrays, InteractionArrays::End::Front, control, true, total, timesOverflow);
    }
    control.throwIfCanceled();
    const auto changed = [this] {
        return Error(QStringLiteral("%1: interactions changed while the workspace was being read").arg(m_path));
    };
    if (read != total)
        throw changed();
    if (timesOverflow.load()) {
        // Timestamps more than 68 years apart (or milliseconds over more than 24 days): read
        // them again, in the arrays' order, as 64-bit values.
        m.timestamps.resizeWide(static_cast<size_t>(total));
        int64_t* const wide = m.timestamps.wideData();
        sql::Statement st(m_db, "SELECT ts FROM interactions ORDER BY user_id, item_id");
        int64_t k = 0;
        for (; st.step(); ++k) {
            if (k == total)
                throw changed();
            wide[k] = st.int64(0);
            if ((k & 0xFFFFF) == 0)
                control.throwIfCanceled();
        }
        if (k != total)
            throw changed();
    }
    m.offsets.assign(static_cast<size_t>(numUsers) + 1, 0);
    for (int32_t u = 0; u < numUsers; ++u)
        m.offsets[static_cast<size_t>(u) + 1] = m.offsets[static_cast<size_t>(u)] + rowCounts[static_cast<size_t>(u)];
    return m;
}

namespace {

// The catalog (categories, items with their categories and tags) and the users, with
// the index each database id got (ids ascending).
void readCatalog(sqlite3* db, Dataset& ds, std::vector<int32_t>& itemIndex, std::vector<int32_t>& userIndex)
{
    std::vector<int32_t> categoryIndex; // db id -> index
    {
        sql::Statement st(db, "SELECT id, name FROM categories ORDER BY id");
        while (st.step()) {
            const auto id = static_cast<size_t>(st.int64(0));
            if (categoryIndex.size() <= id)
                categoryIndex.resize(id + 1, -1);
            categoryIndex[id] = static_cast<int32_t>(ds.categories.size());
            ds.categories << st.text(1);
        }
    }
    AttributeParser attributes;
    {
        const auto n = sql::queryInt(db, "SELECT count(*) FROM items");
        ds.items.reserve(static_cast<size_t>(n));
        sql::Statement st(db, "SELECT id, external_id, title, description, year, attributes FROM items ORDER BY id");
        while (st.step()) {
            Item it;
            it.dbId = st.int64(0);
            it.externalId = st.text(1);
            it.title = st.text(2);
            it.description = st.text(3);
            it.year = st.isNull(4) ? 0 : static_cast<int>(st.int64(4));
            it.attributes = attributes.parse(st.utf8(5));
            const auto id = static_cast<size_t>(it.dbId);
            if (itemIndex.size() <= id)
                itemIndex.resize(id + 1, -1);
            itemIndex[id] = static_cast<int32_t>(ds.items.size());
            ds.items.push_back(std::move(it));
        }
    }
    {
        sql::Statement st(db, "SELECT item_id, category_id FROM item_categories ORDER BY item_id, category_id");
        while (st.step())
            ds.items[itemIndex[st.int64(0)]].categories.push_back(categoryIndex[st.int64(1)]);
    }
    readTags(db, itemIndex, ds.items);
    {
        const auto n = sql::queryInt(db, "SELECT count(*) FROM users");
        ds.users.reserve(static_cast<size_t>(n));
        sql::Statement st(db, "SELECT id, external_id, attributes, coalesce(synthetic_of, '') FROM users ORDER BY id");
        while (st.step()) {
            User u;
            u.dbId = st.int64(0);
            u.externalId = st.text(1);
            u.attributes = attributes.parse(st.utf8(2));
            u.syntheticOf = st.text(3);
            const auto id = static_cast<size_t>(u.dbId);
            if (userIndex.size() <= id)
                userIndex.resize(id + 1, -1);
            userIndex[id] = static_cast<int32_t>(ds.users.size());
            ds.users.push_back(std::move(u));
        }
    }
}

// Database id -> index for one table's ids, ascending; returns how many.
int32_t readIdIndex(sqlite3* db, const char* sql, std::vector<int32_t>& index)
{
    sql::Statement st(db, sql);
    int32_t n = 0;
    while (st.step()) {
        const auto id = static_cast<size_t>(st.int64(0));
        if (index.size() <= id)
            index.resize(id + 1, -1);
        index[id] = n++;
    }
    return n;
}

} // namespace

Dataset Workspace::load(const TaskControl& control) const
{
    control.progress(0.0, QStringLiteral("Reading catalog"));
    // A large workspace reads its catalog and users on a connection of their own while
    // the interactions are read (they need only the ids), and builds the id lookups there
    // too: at 1M items and users that is about 5 s taken off the reopen. That reader starts
    // first, so it also fills the second core while this thread counts the interactions
    // (a scan of the whole table) and reads the ids. A small database is read on one connection.
    constexpr qint64 kParallelBytes = 4 << 20; // about 150,000 interactions with their catalog
    sqlite3* catalogDb = nullptr;
    const int64_t bytes = sql::queryInt(m_db, "PRAGMA page_count") * sql::queryInt(m_db, "PRAGMA page_size");
    if (!m_readOnly && bytes >= kParallelBytes
        && sqlite3_open_v2(m_file.toUtf8().constData(), &catalogDb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr)
            != SQLITE_OK) {
        sqlite3_close_v2(catalogDb);
        catalogDb = nullptr;
    }
    if (!catalogDb) {
        const int64_t total = sql::queryInt(m_db, "SELECT count(*) FROM interactions");
        Dataset ds;
        std::vector<int32_t> itemIndex, userIndex;
        readCatalog(m_db, ds, itemIndex, userIndex);
        control.throwIfCanceled();
        control.progress(0.1, QStringLiteral("Reading interactions"));
        ds.userItems = readInteractions(ds.numUsers(), ds.numItems(), userIndex, itemIndex, control, total);
        control.progress(0.92, QStringLiteral("Indexing"));
        ds.itemUsers = ds.userItems.transposed(false);
        ds.rebuildIndexes();
        control.progress(1.0, QStringLiteral("Loaded"));
        return ds;
    }

    sqlite3_busy_timeout(catalogDb, 5000);
    Dataset catalog;
    std::vector<int32_t> catalogItemIndex, catalogUserIndex;
    std::exception_ptr catalogError;
    std::thread reader([&] {
        try {
            readCatalog(catalogDb, catalog, catalogItemIndex, catalogUserIndex);
            catalog.rebuildIndexes();
        } catch (...) {
            catalogError = std::current_exception();
        }
    });
    const auto stopReader = [&] {
        reader.join();
        sqlite3_close_v2(catalogDb);
    };
    std::vector<int32_t> itemIndex, userIndex;
    int32_t numItems = 0, numUsers = 0;
    int64_t total = 0;
    try {
        total = sql::queryInt(m_db, "SELECT count(*) FROM interactions");
        numItems = readIdIndex(m_db, "SELECT id FROM items ORDER BY id", itemIndex);
        numUsers = readIdIndex(m_db, "SELECT id FROM users ORDER BY id", userIndex);
    } catch (...) {
        stopReader();
        throw;
    }
    Csr interactions;
    try {
        control.progress(0.1, QStringLiteral("Reading interactions"));
        interactions = readInteractions(numUsers, numItems, userIndex, itemIndex, control, total);
    } catch (...) {
        stopReader();
        throw;
    }
    stopReader();
    if (catalogError)
        std::rethrow_exception(catalogError);
    if (catalogItemIndex != itemIndex || catalogUserIndex != userIndex)
        throw Error(QStringLiteral("%1: items or users changed while the workspace was being read").arg(m_path));
    Dataset ds = std::move(catalog);
    ds.userItems = std::move(interactions);
    control.progress(0.92, QStringLiteral("Indexing"));
    ds.itemUsers = ds.userItems.transposed(false);
    control.progress(1.0, QStringLiteral("Loaded"));
    return ds;
}

Transaction::Transaction(Workspace& ws)
    : m_ws(ws)
{
    sql::exec(ws.db(), "BEGIN IMMEDIATE");
}

Transaction::~Transaction()
{
    if (!m_done)
        sqlite3_exec(m_ws.db(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit()
{
    sql::exec(m_ws.db(), "COMMIT");
    m_done = true;
}

} // namespace recwb
