#include "data/import/importcommon.h"

#include <QDateTime>
#include <QRegularExpression>

namespace recwb::importdetail {

Context::Context(Workspace& ws, ImportReport& report, const TaskControl& control, qint64 totalBytes)
    : m_report(report)
    , m_control(control)
    , m_writer((m_timer.start(), ws), report)
    , m_totalBytes(std::max<qint64>(1, totalBytes))
{
}

namespace {

// Keys are UTF-8: Latin-1 bytes above 0x7F are converted so the same id matches across files.
std::string_view normalizedKey(const textio::RecordReader& r, std::string_view bytes, std::string& scratch)
{
    if (r.options().encoding == textio::Encoding::Utf8)
        return bytes;
    bool ascii = true;
    for (const char c : bytes)
        ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii)
        return bytes;
    scratch = r.toQString(bytes).toStdString();
    return scratch;
}

} // namespace

qint64 Context::userId(const textio::RecordReader& r, std::string_view bytes)
{
    const std::string_view key = normalizedKey(r, bytes, m_keyScratch);
    return m_users.get(key, [&] { return m_writer.userId(QString::fromUtf8(key.data(), static_cast<qsizetype>(key.size()))); });
}

qint64 Context::itemId(const textio::RecordReader& r, std::string_view bytes)
{
    const std::string_view key = normalizedKey(r, bytes, m_keyScratch);
    return m_items.get(key, [&] { return m_writer.itemId(QString::fromUtf8(key.data(), static_cast<qsizetype>(key.size()))); });
}

void Context::progress(qint64 bytesInFile, const QString& message)
{
    m_control.throwIfCanceled();
    m_control.progress(std::min(1.0, static_cast<double>(m_doneBytes + bytesInFile) / static_cast<double>(m_totalBytes)),
        message);
}

void Context::commit()
{
    m_control.throwIfCanceled();
    m_control.progress(1.0, QStringLiteral("Committing"));
    m_writer.commit();
    m_report.seconds = static_cast<double>(m_timer.nsecsElapsed()) / 1e9;
}

FileRows::FileRows(Context& ctx, textio::RecordReader& reader, QString what)
    : m_ctx(ctx)
    , m_reader(reader)
    , m_what(std::move(what))
{
    m_ctx.progress(0, QStringLiteral("Reading %1").arg(m_reader.fileName()));
}

void FileRows::tick()
{
    m_ctx.progress(m_reader.bytesConsumed(), QStringLiteral("Reading %1: %2 rows").arg(m_reader.fileName()).arg(m_rows));
}

void FileRows::skip(const QString& reason)
{
    ++m_skipped;
    m_ctx.report().skip(m_reader.path(), m_reader.line(), reason);
    if (m_firstReasons.size() < 3)
        m_firstReasons.append(QStringLiteral("line %1: %2").arg(m_reader.line()).arg(reason));
}

bool FileRows::idFits(std::string_view id, const char* what)
{
    if (id.size() <= kMaxIdBytes)
        return true;
    skip(QStringLiteral("%1 id of %2 bytes is longer than %3 bytes")
             .arg(QLatin1StringView(what))
             .arg(id.size())
             .arg(kMaxIdBytes));
    return false;
}

void FileRows::timestamp(qint64 ts)
{
    constexpr qint64 kYear = 31'556'952; // seconds in a mean Gregorian year
    const qint64 year = ts >= 0 ? ts / kYear : -1 - (-1 - ts) / kYear;
    YearRows& y = m_years[year];
    if (y.rows++ == 0)
        y.firstTimestamp = ts;
    if (y.firstLines.size() < static_cast<size_t>(ImportReport::kMaxSkipped))
        y.firstLines.push_back(m_reader.line());
}

// The core of the file's time range is the years between its 2.5 % and 97.5 % quantiles;
// rows more than that range's own length (at least a year) before or after it are flagged.
void FileRows::flagOutliers()
{
    qint64 total = 0;
    for (const auto& [year, y] : m_years)
        total += y.rows;
    if (total < 20 || m_years.size() < 2)
        return;
    const qint64 lowRank = total / 40, highRank = total - 1 - total / 40;
    qint64 seen = 0, low = 0, high = 0;
    bool lowSet = false;
    for (const auto& [year, y] : m_years) {
        if (!lowSet && seen + y.rows > lowRank) {
            low = year;
            lowSet = true;
        }
        seen += y.rows;
        if (seen > highRank) {
            high = year;
            break;
        }
    }
    const qint64 margin = std::max<qint64>(1, high - low + 1);
    ImportReport& report = m_ctx.report();
    for (const auto& [year, y] : m_years) {
        if (year >= low - margin && year <= high + margin)
            continue;
        report.timestampOutliers += y.rows;
        for (const qint64 line : y.firstLines)
            if (report.outlierRows.size() < ImportReport::kMaxSkipped)
                report.outlierRows.append(SkippedRow { m_reader.path(), line,
                    QStringLiteral("timestamp in %1, far outside the file's range %2-%3")
                        .arg(QDateTime::fromSecsSinceEpoch(y.firstTimestamp, Qt::UTC).date().year())
                        .arg(1970 + low)
                        .arg(1970 + high) });
    }
}

void FileRows::judge()
{
    if (m_judged)
        return;
    m_judged = true;
    if (m_rows > 0 && m_skipped * 2 > m_rows)
        throw Error(QStringLiteral("%1: %2 of the first %3 data rows could not be used, so this is probably the wrong "
                                   "format or separator (read as %4-separated %5). First problems: %6")
                        .arg(m_reader.path())
                        .arg(m_skipped)
                        .arg(m_rows)
                        .arg(textio::separatorName(m_reader.options().separator), m_what,
                            m_firstReasons.join(QStringLiteral("; "))));
}

void FileRows::finish()
{
    judge();
    flagOutliers();
    m_ctx.fileDone(m_reader.fileSize());
    m_ctx.progress(0, QStringLiteral("Read %1").arg(m_reader.fileName()));
}

QStringList headerNames(const textio::RecordReader& r)
{
    QStringList names;
    for (int i = 0; i < r.fieldCount(); ++i)
        names.append(r.toQString(textio::trim(r.field(i))));
    return names;
}

int findColumn(const QStringList& header, const QString& name)
{
    const QString n = name.trimmed();
    int i = static_cast<int>(header.indexOf(n));
    if (i >= 0)
        return i;
    for (int k = 0; k < header.size(); ++k)
        if (header[k].compare(n, Qt::CaseInsensitive) == 0)
            return k;
    return -1;
}

void missingColumn(const textio::RecordReader& r, const QStringList& header, const QString& name, const QString& role)
{
    QString shown = header.join(QStringLiteral(", "));
    if (shown.size() > 200)
        shown = shown.left(200) + QStringLiteral("...");
    QString hint;
    if (header.size() == 1) {
        const QString h = header.first();
        for (const char c : { ',', '\t', ';', '|' })
            if (c != r.options().separator && h.contains(QLatin1Char(c))) {
                hint = QStringLiteral(" The header is a single field containing %1s: is the separator %1 rather than %2?")
                           .arg(textio::separatorName(c), textio::separatorName(r.options().separator));
                break;
            }
    }
    throw Error(QStringLiteral("%1:%2: %3 column '%4' not found; the header (read as %5-separated) has %6 column(s): %7.%8")
                    .arg(r.path())
                    .arg(r.line())
                    .arg(role, name, textio::separatorName(r.options().separator))
                    .arg(header.size())
                    .arg(shown, hint));
}

int positionOf(const QString& name)
{
    bool ok = false;
    const int v = name.trimmed().toInt(&ok);
    return ok && v > 0 ? v - 1 : -1;
}

QJsonValue typedValue(const QString& text)
{
    static const QRegularExpression kInt(QStringLiteral("^-?(0|[1-9][0-9]{0,14})$"));
    static const QRegularExpression kDec(QStringLiteral("^-?(0|[1-9][0-9]*)\\.[0-9]+$"));
    if (kInt.match(text).hasMatch())
        return QJsonValue(text.toLongLong());
    if (kDec.match(text).hasMatch())
        return QJsonValue(text.toDouble());
    return QJsonValue(text);
}

std::optional<int> parseYear(std::string_view s)
{
    s = textio::trim(s);
    if (const auto v = textio::parseInt(s))
        return (*v > 0 && *v < 10000) ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
    if (s.size() >= 4) {
        int y = 0;
        for (size_t i = 0; i < 4; ++i) {
            if (s[i] < '0' || s[i] > '9')
                return std::nullopt;
            y = y * 10 + (s[i] - '0');
        }
        if (s.size() == 4 || s[4] == '-' || s[4] == '/')
            return y > 0 ? std::optional<int>(y) : std::nullopt;
    }
    // "01-Jan-1995" (MovieLens release dates): the trailing four digits.
    if (s.size() >= 4) {
        const auto tail = s.substr(s.size() - 4);
        const auto v = textio::parseInt(tail);
        if (v && *v > 1000 && (s.size() == 4 || s[s.size() - 5] == '-' || s[s.size() - 5] == '/' || s[s.size() - 5] == ' '))
            return static_cast<int>(*v);
    }
    return std::nullopt;
}

std::optional<int> yearFromTitle(const QString& title)
{
    static const QRegularExpression kYear(QStringLiteral("\\((\\d{4})\\)\\s*$"));
    const auto m = kYear.match(title);
    if (!m.hasMatch())
        return std::nullopt;
    return m.captured(1).toInt();
}

QStringList splitList(const QString& text, const QString& separator)
{
    QStringList out;
    if (separator.isEmpty()) {
        if (!text.trimmed().isEmpty())
            out.append(text.trimmed());
        return out;
    }
    for (const QString& part : text.split(separator)) {
        const QString t = part.trimmed();
        if (!t.isEmpty() && !out.contains(t))
            out.append(t);
    }
    return out;
}

QString describeValue(std::string_view bytes)
{
    QString s = QString::fromUtf8(bytes.data(), static_cast<qsizetype>(std::min<size_t>(bytes.size(), 40)));
    if (bytes.size() > 40)
        s += QStringLiteral("...");
    return u'\'' + s + u'\'';
}

} // namespace recwb::importdetail
