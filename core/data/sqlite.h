#pragma once

#include "util/error.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <cstdint>
#include <optional>

struct sqlite3;
struct sqlite3_stmt;

namespace recwb::sql {

// A prepared statement. Bind indices are 1-based like SQLite's. Not copyable.
class Statement {
public:
    Statement(sqlite3* db, const char* sql);
    ~Statement();
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement(Statement&& other) noexcept;

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, const QString& value); // null QString binds NULL
    Statement& bind(int index, const QByteArray& utf8);
    Statement& bindNull(int index);
    Statement& bindBlob(int index, const QByteArray& bytes);
    Statement& bind(int index, std::optional<int64_t> value)
    {
        return value ? bind(index, *value) : bindNull(index);
    }

    // Returns true while a row is available.
    bool step();
    // Runs a statement that returns no rows, then resets it for reuse.
    void exec();
    void reset();

    int64_t int64(int col) const;
    double real(int col) const;
    QString text(int col) const;
    QByteArray blob(int col) const;
    // The column's text as UTF-8 bytes, without a copy: valid until the next step().
    QByteArrayView utf8(int col) const;
    bool isNull(int col) const;

private:
    sqlite3* m_db = nullptr;
    sqlite3_stmt* m_stmt = nullptr;
};

void exec(sqlite3* db, const char* sql);
int64_t queryInt(sqlite3* db, const char* sql, int64_t fallback = 0);
[[noreturn]] void fail(sqlite3* db, const QString& what);

} // namespace recwb::sql
