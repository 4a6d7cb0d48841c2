#pragma once

// Shared plumbing of the importers: id caches keyed by raw bytes, per-file row accounting
// (skips, the "mostly skipped means wrong format" rule, progress, cancel), header lookup.

#include "data/import/importers.h"
#include "data/import/textreader.h"

#include <QElapsedTimer>
#include <QJsonValue>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace recwb::importdetail {

// External id bytes -> writer row id. Only a new id is turned into a QString. Canonical decimal
// ids ("123", not "0123") go to a flat array (below 4M) or an integer map, everything else to a map of views into a deque
// of keys (stable addresses), so lookups never allocate.
class IdCache {
public:
    template <class Create>
    qint64 get(std::string_view key, Create&& create)
    {
        if (m_lastId >= 0 && key == m_last)
            return m_lastId;
        qint64 id;
        const qint64 n = canonicalNumber(key);
        if (n >= 0 && n < kDenseLimit) {
            if (static_cast<size_t>(n) >= m_dense.size())
                m_dense.resize(std::max<size_t>(static_cast<size_t>(n) + 1, m_dense.size() * 2), -1);
            qint64& slot = m_dense[static_cast<size_t>(n)];
            if (slot < 0)
                slot = create();
            id = slot;
        } else if (n >= 0) {
            const auto it = m_numbers.find(n);
            if (it != m_numbers.end()) {
                id = it->second;
            } else {
                id = create();
                m_numbers.emplace(n, id);
            }
        } else {
            const auto it = m_map.find(key);
            if (it != m_map.end()) {
                id = it->second;
            } else {
                id = create();
                m_map.emplace(std::string_view(m_keys.emplace_back(key)), id);
            }
        }
        m_last.assign(key);
        m_lastId = id;
        return id;
    }

private:
    // "0".."999999999999999999" without leading zeros -> its value; anything else -> -1.
    static qint64 canonicalNumber(std::string_view s)
    {
        if (s.empty() || s.size() > 18 || (s[0] == '0' && s.size() > 1))
            return -1;
        qint64 v = 0;
        for (const char c : s) {
            if (c < '0' || c > '9')
                return -1;
            v = v * 10 + (c - '0');
        }
        return v;
    }

    static constexpr qint64 kDenseLimit = qint64(1) << 22; // small numeric ids: a flat array (<= 32 MiB)
    std::vector<qint64> m_dense;
    std::unordered_map<qint64, qint64> m_numbers;
    std::deque<std::string> m_keys;
    std::unordered_map<std::string_view, qint64> m_map;
    std::string m_last;
    qint64 m_lastId = -1;
};

// One import: writer, report, caches, progress over all files.
class Context {
public:
    Context(Workspace& ws, ImportReport& report, const TaskControl& control, qint64 totalBytes);
    ImportWriter& writer() { return m_writer; }
    ImportReport& report() { return m_report; }
    const TaskControl& control() const { return m_control; }

    qint64 userId(const textio::RecordReader& r, std::string_view bytes);
    qint64 itemId(const textio::RecordReader& r, std::string_view bytes);
    void progress(qint64 bytesInFile, const QString& message);
    void fileDone(qint64 size) { m_doneBytes += size; }
    void commit();

private:
    ImportReport& m_report;
    const TaskControl& m_control;
    QElapsedTimer m_timer;
    ImportWriter m_writer;
    IdCache m_users;
    IdCache m_items;
    qint64 m_totalBytes = 1;
    qint64 m_doneBytes = 0;
    std::string m_keyScratch;
};

// The longest external id (user, item) an import stores; a longer one skips its row.
inline constexpr size_t kMaxIdBytes = 256;

// Accounting for the data rows of one file.
class FileRows {
public:
    static constexpr int kWindow = 1000; // rows judged by the "mostly skipped" rule
    static constexpr int kCheckEvery = 4096; // rows between cancel checks / progress

    FileRows(Context& ctx, textio::RecordReader& reader, QString what);
    // Call once per data row, before handling it.
    void row()
    {
        ++m_rows;
        ++m_ctx.report().rowsRead;
        if (m_rows % kCheckEvery == 0)
            tick();
        if (m_rows == kWindow + 1)
            judge();
    }
    // The current row is skipped for `reason`.
    void skip(const QString& reason);
    // False (and the row skipped, naming `what`) when id is longer than kMaxIdBytes.
    bool idFits(std::string_view id, const char* what);
    // The current row's timestamp, for flagging those far outside the file's own range.
    void timestamp(qint64 ts);
    // At end of file. Throws when the file was mostly skipped.
    void finish();
    qint64 rows() const { return m_rows; }

private:
    void tick();
    void judge();

    Context& m_ctx;
    textio::RecordReader& m_reader;
    QString m_what;
    qint64 m_rows = 0;
    qint64 m_skipped = 0;
    bool m_judged = false;
    QStringList m_firstReasons;
    // Rows per year of their timestamp, with the first lines of each year: a truncated
    // "88" lands in 1970, far from a file of 1997-1998 (flagOutliers at finish()).
    struct YearRows {
        qint64 rows = 0;
        std::vector<qint64> firstLines;
        qint64 firstTimestamp = 0;
    };
    std::map<qint64, YearRows> m_years;
    void flagOutliers();
};

// Header handling for delimited files.
QStringList headerNames(const textio::RecordReader& r);
// Index of `name` in the header (exact, then case-insensitive), or -1.
int findColumn(const QStringList& header, const QString& name);
// Throws Error: column `name` (used as `role`) is missing; lists the header and hints at the separator.
[[noreturn]] void missingColumn(const textio::RecordReader& r, const QStringList& header, const QString& name,
    const QString& role);

// "3" -> 2 (0-based); 0 or not a number -> -1.
int positionOf(const QString& name);

// An attribute value from text: canonical integers and decimals become numbers, the rest strings
// ("01040" stays a string).
QJsonValue typedValue(const QString& text);
// Year: a number, or the leading four digits of a date.
std::optional<int> parseYear(std::string_view s);
// "Toy Story (1995)" -> 1995.
std::optional<int> yearFromTitle(const QString& title);
QStringList splitList(const QString& text, const QString& separator);

QString describeValue(std::string_view bytes); // for skip reasons: quoted, shortened

} // namespace recwb::importdetail
