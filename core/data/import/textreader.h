#pragma once

#include <QFile>
#include <QString>
#include <QStringList>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace recwb::textio {

enum class Encoding { Utf8, Latin1 };

// Parses "utf-8"/"utf8"/"latin-1"/"latin1"/"iso-8859-1" (case-insensitive); throws Error otherwise.
Encoding parseEncoding(const QString& name);

// Streams records out of a delimited text file without ever holding more than one chunk
// (plus the record in flight) in memory.
//
// - Quoting on: RFC 4180 (fields in double quotes may hold separators, newlines and
//   doubled quotes). Quoting off: every byte but the separator and newline is data.
// - Separator '\n' means "one field per line" (JSON Lines).
// - A UTF-8 BOM is stripped; CRLF and LF both end records; blank lines are skipped.
// - NUL bytes, a UTF-16 BOM, invalid UTF-8 (when the encoding is UTF-8) and an
//   unterminated quote throw Error naming the file and the physical line.
// Field views stay valid until the next call to next().
class RecordReader {
public:
    struct Options {
        char separator = ',';
        bool quoting = true;
        Encoding encoding = Encoding::Utf8;
    };

    // Throws Error when the file is missing, unreadable or empty (nothing but a BOM and whitespace).
    RecordReader(const QString& path, Options options);
    // Reads bytes held in memory, chunk bytes at a time (the file reader reads 1 MiB), with
    // the same parsing, checks and messages; name stands for the path in messages. For the
    // fuzzer, which would otherwise pay a file and a 1 MiB buffer per input, and for tests of
    // records across chunk boundaries. Throws Error when bytes is empty or blank.
    RecordReader(QByteArray bytes, const QString& name, Options options, size_t chunk);
    ~RecordReader();
    RecordReader(const RecordReader&) = delete;
    RecordReader& operator=(const RecordReader&) = delete;

    // Reads the next non-blank record; false at end of file.
    bool next();
    const std::vector<std::string_view>& fields() const { return m_fields; }
    int fieldCount() const { return static_cast<int>(m_fields.size()); }
    std::string_view field(int i) const { return m_fields[static_cast<size_t>(i)]; }
    // Physical line (1-based) where the current record starts.
    qint64 line() const { return m_recordLine; }
    // The raw bytes of the current record (without the line terminator).
    std::string_view raw() const { return m_raw; }

    QString fieldString(int i) const { return toQString(field(i)); }
    QString toQString(std::string_view bytes) const;

    qint64 bytesConsumed() const { return m_consumedBefore + static_cast<qint64>(m_pos); }
    qint64 fileSize() const { return m_size; }
    const QString& path() const { return m_path; }
    const QString& fileName() const { return m_name; } // the file's name, for messages
    const Options& options() const { return m_options; }

    // The first bytes of the file (after any BOM), for sniffing: up to n bytes, up to the first newline.
    static QByteArray firstLine(const QString& path, qint64 maxBytes = 65536);

    [[noreturn]] void fail(const QString& what, qint64 line) const;

private:
    void start(); // first chunk, BOM and blank-file checks
    bool restIsBlank();
    bool fill(); // compacts and reads more; false when nothing more was read
    bool parseRecord(bool atEof); // false: need more data
    void validateEncoding(size_t begin, size_t end, qint64 line) const;

    QString m_path;
    QString m_name;
    Options m_options;
    QFile m_file;
    bool m_inMemory = false;
    QByteArray m_bytes; // the in-memory source
    qint64 m_bytesRead = 0;
    qint64 m_size = 0;
    std::string m_buf;
    size_t m_pos = 0; // parse position in m_buf
    size_t m_end = 0; // valid bytes in m_buf
    qint64 m_consumedBefore = 0; // bytes dropped from the front of m_buf by compaction
    bool m_eof = false;
    bool m_started = false;
    qint64 m_line = 1; // physical line at m_pos
    qint64 m_recordLine = 0;
    std::vector<std::string_view> m_fields;
    std::string m_scratch; // unescaped quoted fields
    std::string_view m_raw;

    struct Span {
        bool scratch;
        size_t offset;
        size_t length;
    };
    std::vector<Span> m_spans;
};

// Number parsing on bytes (surrounding spaces allowed).
std::string_view trim(std::string_view s);
std::optional<qint64> parseInt(std::string_view s);
std::optional<double> parseDouble(std::string_view s);
// Timestamp on bytes: same rules as recwb::parseTimestamp.
std::optional<qint64> parseTimestampBytes(std::string_view s);

// Describes a byte for messages: ',' -> "comma", '\t' -> "tab", ...
QString separatorName(char c);

} // namespace recwb::textio
