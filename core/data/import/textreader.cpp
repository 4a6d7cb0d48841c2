#include "data/import/textreader.h"

#include "util/error.h"

#include <QFileInfo>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace recwb::textio {

namespace {

constexpr size_t kChunk = size_t(1) << 20; // 1 MiB reads
// A single record may not exceed 4 MiB: far above any real row (a long description), far
// below what would hold a runaway field in memory (a 100 MB id, an unterminated quote).
constexpr size_t kMaxRecord = size_t(4) << 20;

bool isBlank(const char* p, size_t n)
{
    return std::all_of(p, p + n, [](char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; });
}

} // namespace

Encoding parseEncoding(const QString& name)
{
    const QString n = name.trimmed().toLower().remove(u'-').remove(u'_');
    if (n.isEmpty() || n == u"utf8")
        return Encoding::Utf8;
    if (n == u"latin1" || n == u"iso88591" || n == u"l1" || n == u"cp1252" || n == u"windows1252")
        return Encoding::Latin1;
    throw Error(QStringLiteral("unsupported encoding '%1' (use utf-8 or latin-1)").arg(name));
}

RecordReader::RecordReader(const QString& path, Options options)
    : m_path(path)
    , m_name(QFileInfo(path).fileName())
    , m_options(options)
    , m_file(path)
{
    const QFileInfo info(path);
    if (!info.exists())
        throw Error(QStringLiteral("%1: file not found").arg(path));
    if (info.isDir())
        throw Error(QStringLiteral("%1: is a folder, expected a file").arg(path));
    if (!info.isFile())
        throw Error(QStringLiteral("%1: not a regular file (a pipe or device): an import reads its files more than "
                                   "once; save the data to a file first")
                        .arg(path));
    if (!m_file.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: cannot open: %2").arg(path, m_file.errorString()));
    m_size = m_file.size();
    if (m_size == 0)
        throw Error(QStringLiteral("%1: file is empty").arg(path));
    m_buf.resize(kChunk);
    start();
}

RecordReader::RecordReader(QByteArray bytes, const QString& name, Options options, size_t chunk)
    : m_path(name)
    , m_name(name)
    , m_options(options)
    , m_inMemory(true)
    , m_bytes(std::move(bytes))
    , m_size(m_bytes.size())
{
    if (m_size == 0)
        throw Error(QStringLiteral("%1: file is empty").arg(name));
    m_buf.resize(std::clamp(chunk, size_t(4), kChunk));
    start();
}

void RecordReader::start()
{
    const QString& path = m_path;
    fill();
    const auto* b = reinterpret_cast<const unsigned char*>(m_buf.data());
    if (m_end >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF)))
        throw Error(QStringLiteral("%1: the file is UTF-16 encoded; convert it to UTF-8 first").arg(path));
    if (m_end >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
        m_pos = 3;
    // Empty: only a BOM and whitespace. The first chunk rarely holds the end of the file as
    // seen by fill() (m_eof comes with the next, empty read), so a blank first chunk is
    // followed by a look at the rest.
    if (isBlank(m_buf.data() + m_pos, m_end - m_pos) && restIsBlank())
        throw Error(QStringLiteral("%1: file is empty").arg(path));
}

// Whether the source holds nothing but whitespace after what fill() has read; the read
// position is left where it was.
bool RecordReader::restIsBlank()
{
    if (m_eof)
        return true;
    if (m_inMemory)
        return isBlank(m_bytes.constData() + m_bytesRead, static_cast<size_t>(m_size - m_bytesRead));
    const qint64 resume = m_file.pos();
    std::string chunk(size_t(64) << 10, '\0');
    bool blank = true;
    while (blank) {
        const qint64 n = m_file.read(chunk.data(), static_cast<qint64>(chunk.size()));
        if (n < 0)
            fail(QStringLiteral("read error: %1").arg(m_file.errorString()), 0);
        if (n == 0)
            break;
        blank = isBlank(chunk.data(), static_cast<size_t>(n));
    }
    if (!m_file.seek(resume))
        fail(QStringLiteral("cannot seek: %1").arg(m_file.errorString()), 0);
    return blank;
}

RecordReader::~RecordReader() = default;

void RecordReader::fail(const QString& what, qint64 line) const
{
    if (line > 0)
        throw Error(QStringLiteral("%1:%2: %3").arg(m_path).arg(line).arg(what));
    throw Error(QStringLiteral("%1: %2").arg(m_path, what));
}

bool RecordReader::fill()
{
    if (m_eof)
        return false;
    if (m_pos > 0) {
        std::memmove(m_buf.data(), m_buf.data() + m_pos, m_end - m_pos);
        m_consumedBefore += static_cast<qint64>(m_pos);
        m_end -= m_pos;
        m_pos = 0;
    }
    if (m_end == m_buf.size()) {
        if (m_buf.size() >= kMaxRecord)
            fail(QStringLiteral("a record is longer than 4 MiB (an unterminated quote, or a runaway field?)"), m_line);
        m_buf.resize(m_buf.size() * 2);
    }
    const qint64 room = static_cast<qint64>(m_buf.size() - m_end);
    qint64 n = 0;
    if (m_inMemory) {
        n = std::min(room, m_size - m_bytesRead);
        std::memcpy(m_buf.data() + m_end, m_bytes.constData() + m_bytesRead, static_cast<size_t>(n));
        m_bytesRead += n;
    } else {
        n = m_file.read(m_buf.data() + m_end, room);
    }
    if (n < 0)
        fail(QStringLiteral("read error: %1").arg(m_file.errorString()), m_line);
    if (n == 0) {
        m_eof = true;
        return false;
    }
    m_end += static_cast<size_t>(n);
    return true;
}

bool RecordReader::next()
{
    for (;;) {
        if (parseRecord(m_eof))
            return true;
        if (m_pos >= m_end && m_eof)
            return false;
        fill(); // sets m_eof when nothing more comes
    }
}

// Returns true with a record, false when more data is needed (or, at EOF with m_pos == m_end, the end).
bool RecordReader::parseRecord(bool atEof)
{
    const char* buf = m_buf.data();
    const size_t end = m_end;
    // Skip blank lines.
    while (m_pos < end) {
        const char c = buf[m_pos];
        if (c == '\n') {
            ++m_pos;
            ++m_line;
        } else if (c == '\r') {
            if (m_pos + 1 < end) {
                if (buf[m_pos + 1] != '\n')
                    break;
                m_pos += 2;
                ++m_line;
            } else if (atEof) {
                ++m_pos;
            } else {
                return false;
            }
        } else {
            break;
        }
    }
    if (m_pos >= end)
        return false;

    const char sep = m_options.separator;
    const bool lineMode = sep == '\n';
    const bool quoting = m_options.quoting && !lineMode;
    size_t p = m_pos;
    qint64 lines = 0;
    m_spans.clear();
    m_scratch.clear();
    size_t recordEnd = 0; // end of the record's bytes (before the terminator)
    for (;;) {
        if (quoting && p < end && buf[p] == '"') {
            ++p;
            const size_t start = m_scratch.size();
            for (;;) {
                const void* q = std::memchr(buf + p, '"', end - p);
                const size_t segEnd = q ? static_cast<size_t>(static_cast<const char*>(q) - buf) : end;
                for (size_t i = p; i < segEnd; ++i) {
                    if (buf[i] == '\n')
                        ++lines;
                    else if (buf[i] == '\0')
                        fail(QStringLiteral("contains a NUL byte: this is not a text file"), m_line + lines);
                }
                m_scratch.append(buf + p, segEnd - p);
                if (!q) {
                    if (!atEof)
                        return false;
                    fail(QStringLiteral("unterminated quoted field (the quote opens on this line)"), m_line);
                }
                if (segEnd + 1 < end && buf[segEnd + 1] == '"') {
                    m_scratch.push_back('"');
                    p = segEnd + 2;
                    continue;
                }
                if (segEnd + 1 >= end && !atEof)
                    return false;
                p = segEnd + 1;
                break;
            }
            // Lenient: bytes after the closing quote up to the separator are kept as data.
            while (p < end && buf[p] != sep && buf[p] != '\n' && !(buf[p] == '\r' && p + 1 < end && buf[p + 1] == '\n')) {
                if (buf[p] == '\0')
                    fail(QStringLiteral("contains a NUL byte: this is not a text file"), m_line + lines);
                if (buf[p] != '\r')
                    m_scratch.push_back(buf[p]);
                ++p;
            }
            if (p >= end && !atEof)
                return false;
            if (p < end && buf[p] == '\r')
                ++p;
            m_spans.push_back({ true, start, m_scratch.size() - start });
        } else {
            const size_t start = p;
            if (lineMode) {
                while (p < end && buf[p] != '\n' && buf[p] != '\0')
                    ++p;
            } else {
                while (p < end) {
                    const char c = buf[p];
                    if (c == sep || c == '\n' || c == '\0')
                        break;
                    ++p;
                }
            }
            if (p < end && buf[p] == '\0')
                fail(QStringLiteral("contains a NUL byte: this is not a text file"), m_line + lines);
            if (p >= end && !atEof)
                return false;
            size_t len = p - start;
            if ((p >= end || buf[p] == '\n') && len > 0 && buf[start + len - 1] == '\r')
                --len;
            m_spans.push_back({ false, start, len });
        }
        if (p < end && buf[p] == sep && !lineMode) {
            ++p;
            continue;
        }
        recordEnd = p;
        if (recordEnd > m_pos && buf[recordEnd - 1] == '\r')
            --recordEnd;
        if (p < end) { // at '\n'
            ++p;
            ++lines;
        }
        break;
    }
    if (m_options.encoding == Encoding::Utf8)
        validateEncoding(m_pos, recordEnd, m_line);
    m_raw = std::string_view(buf + m_pos, recordEnd - m_pos);
    m_recordLine = m_line;
    m_line += lines;
    m_pos = p;
    m_fields.clear();
    for (const Span& s : m_spans)
        m_fields.emplace_back((s.scratch ? m_scratch.data() : buf) + s.offset, s.length);
    return true;
}

void RecordReader::validateEncoding(size_t begin, size_t end, qint64 line) const
{
    const auto* b = reinterpret_cast<const unsigned char*>(m_buf.data());
    size_t i = begin;
    while (i < end) {
        // ASCII fast path, eight bytes at a time.
        while (i + 8 <= end) {
            quint64 w;
            std::memcpy(&w, b + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= end)
            break;
        const unsigned char c = b[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        int n = 0;
        unsigned int cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        }
        bool ok = n > 0 && i + static_cast<size_t>(n) < end;
        for (int k = 1; ok && k <= n; ++k) {
            const unsigned char cc = b[i + static_cast<size_t>(k)];
            ok = (cc & 0xC0) == 0x80;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (ok)
            ok = !(n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) && !(n == 3 && (cp < 0x10000 || cp > 0x10FFFF));
        if (!ok) {
            qint64 l = line;
            for (size_t k = begin; k < i; ++k)
                if (b[k] == '\n')
                    ++l;
            fail(QStringLiteral("invalid UTF-8 (byte 0x%1); if the file is Latin-1 encoded, import it with encoding "
                                "latin-1")
                     .arg(QString::number(c, 16).toUpper().rightJustified(2, u'0')),
                l);
        }
        i += static_cast<size_t>(n) + 1;
    }
}

QString RecordReader::toQString(std::string_view bytes) const
{
    const auto n = static_cast<qsizetype>(bytes.size());
    return m_options.encoding == Encoding::Utf8 ? QString::fromUtf8(bytes.data(), n) : QString::fromLatin1(bytes.data(), n);
}

QByteArray RecordReader::firstLine(const QString& path, qint64 maxBytes)
{
    QFile f(path);
    const QFileInfo info(path);
    if (info.exists() && !info.isDir() && !info.isFile())
        return {}; // a pipe: opening it could block, reading it would consume it; the reader refuses it
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QByteArray head = f.read(maxBytes);
    if (head.startsWith("\xEF\xBB\xBF"))
        head.remove(0, 3);
    const auto nl = head.indexOf('\n');
    if (nl >= 0)
        head.truncate(nl);
    if (head.endsWith('\r'))
        head.chop(1);
    return head;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::optional<qint64> parseInt(std::string_view s)
{
    s = trim(s);
    if (!s.empty() && s.front() == '+')
        s.remove_prefix(1);
    if (s.empty())
        return std::nullopt;
    long long v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
        return std::nullopt;
    return static_cast<qint64>(v);
}

std::optional<double> parseDouble(std::string_view s)
{
    s = trim(s);
    if (!s.empty() && s.front() == '+')
        s.remove_prefix(1);
    if (s.empty())
        return std::nullopt;
    double v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

QString separatorName(char c)
{
    switch (c) {
    case ',':
        return QStringLiteral("comma");
    case '\t':
        return QStringLiteral("tab");
    case ';':
        return QStringLiteral("semicolon");
    case '|':
        return QStringLiteral("'|'");
    case ' ':
        return QStringLiteral("space");
    case '\n':
        return QStringLiteral("one record per line");
    default:
        return QStringLiteral("'%1'").arg(QLatin1Char(c));
    }
}

} // namespace recwb::textio
