#pragma once

#include "data/sqlite.h"
#include "data/workspace.h"

#include <QString>
#include <QStringList>

namespace recwb::test {

// A user's stored interactions read back from the workspace file, one "item|value|ts"
// line each, ordered by item id: what a test compares to prove nothing was written.
inline QStringList storedInteractions(const QString& path, const QString& user)
{
    const auto ws = Workspace::open(path);
    sql::Statement st(ws->db(),
        "SELECT i.external_id, x.value, x.ts FROM interactions x JOIN users u ON u.id = x.user_id "
        "JOIN items i ON i.id = x.item_id WHERE u.external_id = ?1 ORDER BY i.external_id");
    st.bind(1, user);
    QStringList rows;
    while (st.step())
        rows << QStringLiteral("%1|%2|%3").arg(st.text(0)).arg(st.real(1)).arg(st.int64(2));
    return rows;
}

} // namespace recwb::test
