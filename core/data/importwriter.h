#pragma once

#include "data/sqlite.h"
#include "data/workspace.h"

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QStringList>
#include <optional>

namespace recwb {

struct SkippedRow {
    QString file;
    qint64 line = 0;
    QString reason;
    QString toString() const { return QStringLiteral("%1:%2: %3").arg(file).arg(line).arg(reason); }
};

// What an import did. Counts are exact; only the first kMaxSkipped skipped rows are kept.
struct ImportReport {
    static constexpr int kMaxSkipped = 20;
    QString format;
    QString source;
    qint64 rowsRead = 0; // data rows seen in all files
    qint64 itemsAdded = 0;
    qint64 itemsUpdated = 0;
    qint64 usersAdded = 0;
    qint64 usersUpdated = 0;
    qint64 interactionRows = 0; // interaction rows accepted (before collapsing)
    qint64 interactionsAdded = 0; // new (user, item) pairs
    qint64 duplicatesCollapsed = 0; // rows that hit an existing (user, item) pair
    qint64 tagsAdded = 0;
    qint64 rowsSkipped = 0;
    double seconds = 0;
    QList<SkippedRow> skipped;
    // Rows kept whose timestamp lies far outside their file's own range (a truncated
    // "88" in a file of the 1990s): counted, the first kMaxSkipped listed.
    qint64 timestampOutliers = 0;
    QList<SkippedRow> outlierRows;

    void skip(const QString& file, qint64 line, const QString& reason);
    QJsonObject toJson() const;
    QString toText() const;
};

struct ItemRecord {
    QString externalId;
    std::optional<QString> title;
    std::optional<QString> description;
    std::optional<QStringList> categories; // replaces the item's categories when set
    std::optional<int> year;
    QJsonObject attributes; // merged into the stored attributes
};

struct UserRecord {
    QString externalId;
    QJsonObject attributes; // merged into the stored attributes
};

// Writes one import into a workspace inside a single transaction. Nothing is visible
// until commit(); destroying the writer without commit() (error, cancel) rolls back,
// leaving the workspace exactly as before.
class ImportWriter {
public:
    ImportWriter(Workspace& ws, ImportReport& report);
    ~ImportWriter();

    // Internal row ids; created on first sight (an item seen only in interactions gets
    // its external id as title until a catalog import fills it in).
    qint64 itemId(const QString& externalId);
    qint64 userId(const QString& externalId);
    std::optional<qint64> findItem(const QString& externalId) const;
    std::optional<qint64> findUser(const QString& externalId) const;

    void upsertItem(const ItemRecord& record);
    void upsertUser(const UserRecord& record);
    void addInteraction(qint64 userId, qint64 itemId, double value, qint64 timestamp);
    void addTag(qint64 itemId, std::optional<qint64> userId, const QString& tag, std::optional<qint64> timestamp);

    void commit();

    // Interactions are buffered, sorted by (user, item) and written in key order, which is
    // several times faster than upserting rows in file order. This many rows are held at
    // most (40 bytes each), so memory stays bounded for any file size.
    static constexpr size_t kInteractionBuffer = 4'000'000;

private:
    qint64 categoryId(const QString& name);
    void flushInteractions();

    struct PendingInteraction {
        qint64 user;
        qint64 item;
        qint64 timestamp;
        double value;
        quint32 seq; // arrival order inside the buffer: the later of two equal times wins
    };

    // Foreign-key checks cost 40 % of an import and are redundant here: every id the writer
    // writes comes from its own maps. The pragma only takes effect outside a transaction, so
    // this guard switches it off before m_tx begins and back on after it ends.
    struct ForeignKeysOff {
        explicit ForeignKeysOff(Workspace& ws);
        ~ForeignKeysOff();
        Workspace& ws;
    };

    Workspace& m_ws;
    ImportReport& m_report;
    ForeignKeysOff m_fkOff;
    Transaction m_tx;
    std::vector<PendingInteraction> m_pending;
    static constexpr int kRowsPerInsert = 64;
    std::optional<sql::Statement> m_insertMany; // kRowsPerInsert rows per statement: fewer VM runs
    std::optional<sql::Statement> m_upsertMany;
    qint64 m_interactionsBefore = 0;
    QHash<QString, qint64> m_items;
    QHash<QString, qint64> m_users;
    QHash<QString, qint64> m_categories;
    qint64 m_nextItem = 1;
    qint64 m_nextUser = 1;
    qint64 m_nextCategory = 1;
    sql::Statement m_insertItem;
    sql::Statement m_updateItem;
    sql::Statement m_selectItemAttrs;
    sql::Statement m_clearItemCategories;
    sql::Statement m_insertItemCategory;
    sql::Statement m_insertCategory;
    sql::Statement m_insertUser;
    sql::Statement m_selectUserAttrs;
    sql::Statement m_updateUser;
    sql::Statement m_upsertInteraction;
    sql::Statement m_insertTag;
};

} // namespace recwb
