#include "data/sqlite.h"

#include <sqlite3.h>

namespace recwb::sql {

void fail(sqlite3* db, const QString& what)
{
    const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
    throw Error(QStringLiteral("%1: %2 (%3)")
                    .arg(file && *file ? QString::fromUtf8(file) : QStringLiteral("workspace"), what,
                        QString::fromUtf8(db ? sqlite3_errmsg(db) : "no database")));
}

Statement::Statement(sqlite3* db, const char* sql)
    : m_db(db)
{
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &m_stmt, nullptr) != SQLITE_OK)
        fail(db, QStringLiteral("cannot prepare \"%1\"").arg(QString::fromUtf8(sql)));
}

Statement::~Statement()
{
    sqlite3_finalize(m_stmt);
}

Statement::Statement(Statement&& other) noexcept
    : m_db(other.m_db)
    , m_stmt(other.m_stmt)
{
    other.m_stmt = nullptr;
}

Statement& Statement::bind(int index, int64_t value)
{
    sqlite3_bind_int64(m_stmt, index, value);
    return *this;
}

Statement& Statement::bind(int index, double value)
{
    sqlite3_bind_double(m_stmt, index, value);
    return *this;
}

Statement& Statement::bind(int index, const QString& value)
{
    if (value.isNull())
        return bindNull(index);
    return bind(index, value.toUtf8());
}

Statement& Statement::bind(int index, const QByteArray& utf8)
{
    sqlite3_bind_text(m_stmt, index, utf8.constData(), static_cast<int>(utf8.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::bindBlob(int index, const QByteArray& bytes)
{
    sqlite3_bind_blob64(m_stmt, index, bytes.constData(), static_cast<sqlite3_uint64>(bytes.size()), SQLITE_TRANSIENT);
    return *this;
}

QByteArray Statement::blob(int col) const
{
    const void* p = sqlite3_column_blob(m_stmt, col);
    return p ? QByteArray(static_cast<const char*>(p), sqlite3_column_bytes(m_stmt, col)) : QByteArray();
}

Statement& Statement::bindNull(int index)
{
    sqlite3_bind_null(m_stmt, index);
    return *this;
}

bool Statement::step()
{
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    const QString sql = QString::fromUtf8(sqlite3_sql(m_stmt));
    sqlite3_reset(m_stmt);
    fail(m_db, QStringLiteral("statement failed: %1").arg(sql));
}

void Statement::exec()
{
    while (step()) { }
    reset();
}

void Statement::reset()
{
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

int64_t Statement::int64(int col) const
{
    return sqlite3_column_int64(m_stmt, col);
}

double Statement::real(int col) const
{
    return sqlite3_column_double(m_stmt, col);
}

QByteArrayView Statement::utf8(int col) const
{
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
    return p ? QByteArrayView(p, sqlite3_column_bytes(m_stmt, col)) : QByteArrayView();
}

QString Statement::text(int col) const
{
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
    if (!p)
        return {};
    return QString::fromUtf8(p, sqlite3_column_bytes(m_stmt, col));
}

bool Statement::isNull(int col) const
{
    return sqlite3_column_type(m_stmt, col) == SQLITE_NULL;
}

void exec(sqlite3* db, const char* sql)
{
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        const QString msg = QString::fromUtf8(err ? err : "unknown error");
        sqlite3_free(err);
        fail(db, QStringLiteral("cannot execute \"%1\": %2").arg(QString::fromUtf8(sql).left(80), msg));
    }
}

int64_t queryInt(sqlite3* db, const char* sql, int64_t fallback)
{
    Statement st(db, sql);
    return st.step() ? st.int64(0) : fallback;
}

} // namespace recwb::sql
