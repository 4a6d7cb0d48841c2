#include "data/syntheticuser.h"

#include "data/dataset.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "util/error.h"

#include <QJsonDocument>
#include <QSet>
#include <sqlite3.h>

namespace recwb {

namespace {

    std::optional<qint64> rowId(Workspace& ws, const char* sql, const QString& externalId)
    {
        sql::Statement st(ws.db(), sql);
        st.bind(1, externalId);
        if (st.step())
            return st.int64(0);
        return std::nullopt;
    }

} // namespace

qint64 saveSyntheticUser(Workspace& ws, const SyntheticUser& user)
{
    const QString id = user.externalId.trimmed();
    if (id.isEmpty())
        throw Error(QStringLiteral("%1: a synthetic user needs an id").arg(ws.path()));
    if (user.history.empty())
        throw Error(QStringLiteral("%1: synthetic user '%2' has no interactions").arg(ws.path(), id));
    Transaction tx(ws);
    if (rowId(ws, "SELECT id FROM users WHERE external_id = ?1", id))
        throw Error(QStringLiteral("%1: there is already a user '%2'").arg(ws.path(), id));
    if (!rowId(ws, "SELECT id FROM users WHERE external_id = ?1", user.syntheticOf))
        throw Error(QStringLiteral("%1: no user '%2' to save a what-if of").arg(ws.path(), user.syntheticOf));
    sql::Statement insertUser(ws.db(), "INSERT INTO users(external_id, attributes, synthetic_of) VALUES(?1, ?2, ?3)");
    insertUser.bind(1, id)
        .bind(2, QString::fromUtf8(QJsonDocument(user.attributes).toJson(QJsonDocument::Compact)))
        .bind(3, user.syntheticOf)
        .exec();
    const qint64 userRow = sqlite3_last_insert_rowid(ws.db());
    sql::Statement insert(ws.db(), "INSERT INTO interactions(user_id, item_id, value, ts) VALUES(?1, ?2, ?3, ?4)");
    QSet<QString> seen;
    for (const SyntheticUser::Interaction& i : user.history) {
        const auto item = rowId(ws, "SELECT id FROM items WHERE external_id = ?1", i.itemId);
        if (!item)
            throw Error(QStringLiteral("%1: no item '%2' in the catalog").arg(ws.path(), i.itemId));
        if (seen.contains(i.itemId))
            throw Error(QStringLiteral("%1: item '%2' is twice in the history of '%3'").arg(ws.path(), i.itemId, id));
        seen.insert(i.itemId);
        insert.bind(1, static_cast<int64_t>(userRow))
            .bind(2, static_cast<int64_t>(*item))
            .bind(3, i.value)
            .bind(4, static_cast<int64_t>(i.timestamp))
            .exec();
    }
    tx.commit();
    return userRow;
}

QString nextSyntheticId(const Dataset& ds, const QString& sourceId)
{
    for (int n = 1;; ++n) {
        const QString id = QStringLiteral("%1-whatif-%2").arg(sourceId).arg(n);
        if (ds.userIndex(id) < 0)
            return id;
    }
}

} // namespace recwb
