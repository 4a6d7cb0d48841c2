#pragma once

#include <optional>
#include <type_traits>

#include "data/dataset.h"
#include "util/task.h"

#include <QJsonObject>
#include <QString>
#include <memory>

struct sqlite3;

namespace recwb {

struct WorkspaceSummary {
    int64_t users = 0;
    int64_t items = 0;
    int64_t interactions = 0;
    int64_t coldUsers = 0;
    int64_t categories = 0;
    int64_t tags = 0;
    int64_t firstTimestamp = 0;
    int64_t lastTimestamp = 0;
    int coldThreshold = kDefaultColdThreshold;
    int schemaVersion = 0;
    QJsonObject toJson() const;
};

// One workspace is one SQLite file (*.recwb): WAL, foreign keys on, every write in a
// transaction, schema versioned through PRAGMA user_version with forward migrations.
//
// Thread contract: a Workspace owns one sqlite3 connection and must only be used by the
// thread that opened it. Work on another thread opens its own Workspace on the same path
// (WAL lets readers run beside one writer).
class Workspace {
public:
    enum class Mode { OpenExisting, CreateOrOpen };
    static constexpr int kSchemaVersion = 7;
    static constexpr int kApplicationId = 0x52574231; // "RWB1"

    // Throws Error naming the file: missing, empty (OpenExisting), not a regular file, a
    // symbolic link loop or dangling link, not SQLite, not a workspace, newer schema. A file
    // or folder without write permission is opened read-only (OpenExisting only).
    static std::unique_ptr<Workspace> open(const QString& path, Mode mode = Mode::OpenExisting);
    // The file a workspace path names: a symbolic link is followed to its final target.
    // Throws Error naming the path for a link loop, a dangling link, a folder and anything
    // that is not a regular file (a FIFO, a socket, a device). A path that does not exist
    // is returned as is.
    static QString resolvePath(const QString& path);
    ~Workspace();
    Workspace(const Workspace&) = delete;
    Workspace& operator=(const Workspace&) = delete;

    const QString& path() const { return m_path; } // as given
    const QString& file() const { return m_file; } // the file opened (a link's target)
    bool readOnly() const { return m_readOnly; }
    // PRAGMA quick_check; throws Error naming the file and the first problem.
    void checkIntegrity() const;
    sqlite3* db() const { return m_db; }
    int schemaVersion() const;

    WorkspaceSummary summary(int coldThreshold = kDefaultColdThreshold) const;
    // Reads everything into memory: catalog, users, interactions as CSR both ways.
    Dataset load(const TaskControl& control = {}) const;

    QString meta(const QString& key, const QString& fallback = {}) const;
    void setMeta(const QString& key, const QString& value); // in its own transaction unless one is open
    bool inTransaction() const;

    // Migration entry point for tests: creates a file at an older schema version.
    static void createAtVersion(const QString& path, int version);

private:
    Workspace(QString path, sqlite3* db);
    void migrate();
    // total: the interactions' count when known (-1: counted here).
    Csr readInteractions(int32_t numUsers, int32_t numItems, const std::vector<int32_t>& userIndex,
        const std::vector<int32_t>& itemIndex, const TaskControl& control, int64_t total = -1) const;

    QString m_path;
    QString m_file;
    bool m_readOnly = false;
    sqlite3* m_db = nullptr;
};

// RAII write transaction (BEGIN IMMEDIATE). Rolls back unless commit() was called,
// so an exception or a cancel leaves the workspace exactly as before.
class Transaction {
public:
    explicit Transaction(Workspace& ws);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Workspace& m_ws;
    bool m_done = false;
};

// Runs fn in a write transaction of its own, unless the caller already opened one (then it
// joins it); returns what fn returns.
template <typename Fn> auto writeTransaction(Workspace& ws, Fn&& fn)
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

} // namespace recwb
