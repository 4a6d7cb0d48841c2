// Generic CSV / TSV / JSON Lines import driven by DelimitedFileSpec + ColumnMapping.

#include "data/import/importcommon.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <memory>

namespace recwb {

using namespace importdetail;
using textio::RecordReader;
using Kind = DelimitedFileSpec::Kind;

namespace {

Kind resolveKind(const DelimitedFileSpec& spec)
{
    if (spec.kind != Kind::Auto)
        return spec.kind;
    const QString ext = QFileInfo(spec.path).suffix().toLower();
    if (ext == u"csv")
        return Kind::Csv;
    if (ext == u"tsv" || ext == u"tab")
        return Kind::Tsv;
    if (ext == u"jsonl" || ext == u"ndjson" || ext == u"json")
        return Kind::JsonLines;
    const QByteArray head = RecordReader::firstLine(spec.path).trimmed();
    if (head.startsWith('{'))
        return Kind::JsonLines;
    return head.count('\t') > 0 && head.count('\t') >= head.count(',') ? Kind::Tsv : Kind::Csv;
}

QString kindName(Kind k)
{
    switch (k) {
    case Kind::Csv:
        return QStringLiteral("csv");
    case Kind::Tsv:
        return QStringLiteral("tsv");
    case Kind::JsonLines:
        return QStringLiteral("jsonl");
    case Kind::Auto:
        break;
    }
    return QStringLiteral("auto");
}

RecordReader::Options readerOptions(const DelimitedFileSpec& spec, Kind kind)
{
    RecordReader::Options o;
    o.encoding = textio::parseEncoding(spec.encoding);
    if (kind == Kind::JsonLines) {
        o.separator = '\n';
        o.quoting = false;
        o.encoding = textio::Encoding::Utf8; // JSON is UTF-8 by definition
        return o;
    }
    o.quoting = kind == Kind::Csv;
    o.separator = kind == Kind::Tsv ? '\t' : ',';
    if (!spec.separator.isNull()) {
        if (spec.separator.unicode() >= 0x80 || spec.separator == u'"' || spec.separator == u'\n'
            || spec.separator == u'\r')
            throw Error(QStringLiteral("%1: unusable separator '%2' (use one ASCII character such as , ; | or tab)")
                            .arg(spec.path, QString(spec.separator)));
        o.separator = static_cast<char>(spec.separator.unicode());
    }
    return o;
}

QByteArray jsonText(const QJsonValue& v, const QString& listSeparator)
{
    switch (v.type()) {
    case QJsonValue::String:
        return v.toString().toUtf8();
    case QJsonValue::Double: {
        const double d = v.toDouble();
        if (d == static_cast<double>(static_cast<qint64>(d)) && std::abs(d) < 9e15)
            return QByteArray::number(static_cast<qint64>(d));
        return QByteArray::number(d, 'g', 17);
    }
    case QJsonValue::Bool:
        return v.toBool() ? QByteArrayLiteral("true") : QByteArrayLiteral("false");
    case QJsonValue::Array: {
        QStringList parts;
        for (const auto& e : v.toArray())
            parts.append(e.isString() ? e.toString() : QString::fromUtf8(jsonText(e, listSeparator)));
        return parts.join(listSeparator).toUtf8();
    }
    case QJsonValue::Object:
        return QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact);
    default:
        return {};
    }
}

// The rows of one delimited or JSON Lines file as fields addressed by column index.
class RowSource {
public:
    RowSource(const DelimitedFileSpec& spec, const QString& role)
        : m_spec(spec)
        , m_kind(resolveKind(spec))
        , m_role(role)
    {
        if (!QFileInfo::exists(spec.path))
            throw Error(QStringLiteral("%1: %2 file not found").arg(spec.path, role));
        m_reader = std::make_unique<RecordReader>(spec.path, readerOptions(spec, m_kind));
        if (m_kind == Kind::JsonLines) {
            if (!m_reader->next())
                m_reader->fail(QStringLiteral("file is empty"), 0);
            QJsonParseError err;
            const QJsonDocument doc = QJsonDocument::fromJson(
                QByteArray::fromRawData(m_reader->raw().data(), static_cast<qsizetype>(m_reader->raw().size())), &err);
            if (!doc.isObject())
                m_reader->fail(QStringLiteral("not JSON Lines: the first line is not a JSON object (%1)")
                                   .arg(err.error != QJsonParseError::NoError ? err.errorString() : QStringLiteral("not an object")),
                    m_reader->line());
            m_first = doc.object();
            m_columns = m_first.keys();
            m_pending = true;
        } else if (spec.header) {
            if (!m_reader->next())
                m_reader->fail(QStringLiteral("file is empty"), 0);
            m_columns = headerNames(*m_reader);
            m_expected = static_cast<int>(m_columns.size());
        } else {
            if (!m_reader->next())
                m_reader->fail(QStringLiteral("file is empty"), 0);
            m_expected = m_reader->fieldCount();
            for (int i = 1; i <= m_expected; ++i)
                m_columns.append(QString::number(i));
            m_pending = true;
        }
    }

    Kind kind() const { return m_kind; }
    RecordReader& reader() { return *m_reader; }
    const QStringList& columns() const { return m_columns; }

    // Column index of a mapped name; -1 when name is empty and the column is optional.
    int column(const QString& name, const QString& what, bool required = false)
    {
        if (name.trimmed().isEmpty()) {
            if (required)
                throw Error(QStringLiteral("%1: no %2 column is mapped for the %3 file").arg(m_spec.path, what, m_role));
            return -1;
        }
        int c = -1;
        if (m_kind == Kind::JsonLines) {
            c = static_cast<int>(m_columns.indexOf(name.trimmed()));
            if (c < 0)
                throw Error(QStringLiteral("%1:%2: %3 key '%4' not found in the first JSON object; its keys are: %5")
                                .arg(m_spec.path)
                                .arg(m_reader->line())
                                .arg(what, name, m_columns.join(QStringLiteral(", "))));
            return c;
        }
        if (m_spec.header) {
            c = findColumn(m_columns, name);
            if (c >= 0)
                return c;
            const int pos = positionOf(name);
            if (pos >= 0 && pos < m_columns.size())
                return pos;
            missingColumn(*m_reader, m_columns, name, what); // the header is the record just read
        }
        c = positionOf(name);
        if (c < 0)
            throw Error(QStringLiteral("%1: the file has no header, so the %2 column must be a 1-based position, not '%3'")
                            .arg(m_spec.path, what, name));
        if (c >= m_expected)
            throw Error(QStringLiteral("%1:%2: %3 column %4 does not exist: the first row has %5 field(s) (read as "
                                       "%6-separated)")
                            .arg(m_spec.path)
                            .arg(m_reader->line())
                            .arg(what, name)
                            .arg(m_expected)
                            .arg(textio::separatorName(m_reader->options().separator)));
        return c;
    }

    // Next data row. Returns false at the end. When the row is unusable as a whole, rowError is set.
    bool next()
    {
        rowError.clear();
        if (m_pending) {
            m_pending = false;
        } else if (!m_reader->next()) {
            return false;
        }
        if (m_kind == Kind::JsonLines) {
            QJsonObject obj;
            if (!m_first.isEmpty()) {
                obj = m_first;
                m_first = {};
            } else {
                QJsonParseError err;
                const QJsonDocument doc = QJsonDocument::fromJson(
                    QByteArray::fromRawData(m_reader->raw().data(), static_cast<qsizetype>(m_reader->raw().size())), &err);
                if (!doc.isObject()) {
                    rowError = err.error != QJsonParseError::NoError
                        ? QStringLiteral("invalid JSON: %1 at offset %2").arg(err.errorString()).arg(err.offset)
                        : QStringLiteral("not a JSON object");
                    return true;
                }
                obj = doc.object();
            }
            m_values.resize(static_cast<size_t>(m_columns.size()));
            m_present.assign(static_cast<size_t>(m_columns.size()), false);
            for (qsizetype i = 0; i < m_columns.size(); ++i) {
                const auto it = obj.constFind(m_columns[i]);
                if (it == obj.constEnd() || it->isNull() || it->isUndefined()) {
                    m_values[static_cast<size_t>(i)].clear();
                } else {
                    m_values[static_cast<size_t>(i)] = jsonText(*it, m_spec.columns.listSeparator);
                    m_present[static_cast<size_t>(i)] = true;
                }
            }
            return true;
        }
        if (m_reader->fieldCount() != m_expected)
            rowError = QStringLiteral("expected %1 fields, found %2").arg(m_expected).arg(m_reader->fieldCount());
        return true;
    }

    std::string_view get(int col) const
    {
        if (m_kind == Kind::JsonLines) {
            const QByteArray& v = m_values[static_cast<size_t>(col)];
            return { v.constData(), static_cast<size_t>(v.size()) };
        }
        return m_reader->field(col);
    }
    QString text(int col) const
    {
        const auto b = textio::trim(get(col));
        return m_kind == Kind::JsonLines ? QString::fromUtf8(b.data(), static_cast<qsizetype>(b.size())) : m_reader->toQString(b);
    }
    QString rowError;

private:
    const DelimitedFileSpec& m_spec;
    Kind m_kind;
    QString m_role;
    std::unique_ptr<RecordReader> m_reader;
    QStringList m_columns;
    int m_expected = 0;
    bool m_pending = false;
    QJsonObject m_first;
    std::vector<QByteArray> m_values;
    std::vector<bool> m_present;
};

// Attribute columns: the listed names, or "*" for every column not otherwise mapped.
std::vector<std::pair<QString, int>> attributeColumns(RowSource& src, const QStringList& names, const std::vector<int>& mapped)
{
    std::vector<std::pair<QString, int>> out;
    for (const QString& raw : names) {
        const QString n = raw.trimmed();
        if (n.isEmpty())
            continue;
        if (n == u"*") {
            for (int i = 0; i < src.columns().size(); ++i)
                if (std::find(mapped.begin(), mapped.end(), i) == mapped.end()
                    && std::none_of(out.begin(), out.end(), [i](const auto& p) { return p.second == i; }))
                    out.emplace_back(src.columns()[i], i);
            continue;
        }
        const int c = src.column(n, QStringLiteral("attribute"));
        out.emplace_back(n, c);
    }
    return out;
}

void importItems(Context& ctx, const DelimitedFileSpec& spec)
{
    RowSource src(spec, QStringLiteral("items"));
    const ColumnMapping& m = spec.columns;
    const int id = src.column(m.item, QStringLiteral("item id"), true);
    const int title = src.column(m.title, QStringLiteral("title"));
    const int desc = src.column(m.description, QStringLiteral("description"));
    const int cats = src.column(m.categories, QStringLiteral("categories"));
    const int tags = src.column(m.tags, QStringLiteral("tags"));
    const int year = src.column(m.year, QStringLiteral("year"));
    const auto attrs = attributeColumns(src, m.attributes, { id, title, desc, cats, tags, year });
    FileRows rows(ctx, src.reader(), QStringLiteral("items file"));
    while (src.next()) {
        rows.row();
        if (!src.rowError.isEmpty()) {
            rows.skip(src.rowError);
            continue;
        }
        const auto idBytes = textio::trim(src.get(id));
        if (idBytes.empty()) {
            rows.skip(QStringLiteral("empty item id"));
            continue;
        }
        if (!rows.idFits(idBytes, "item"))
            continue;
        ItemRecord rec;
        rec.externalId = src.text(id);
        if (title >= 0) {
            if (QString t = src.text(title); !t.isEmpty())
                rec.title = t;
        }
        if (desc >= 0) {
            if (QString d = src.text(desc); !d.isEmpty())
                rec.description = d;
        }
        if (cats >= 0)
            rec.categories = splitList(src.text(cats), m.listSeparator);
        if (year >= 0)
            rec.year = parseYear(src.get(year));
        for (const auto& [name, col] : attrs) {
            const QString v = src.text(col);
            if (!v.isEmpty())
                rec.attributes.insert(name, typedValue(v));
        }
        ctx.writer().upsertItem(rec);
        if (tags >= 0) {
            const QStringList list = splitList(src.text(tags), m.listSeparator);
            if (!list.isEmpty()) {
                const qint64 iid = *ctx.writer().findItem(rec.externalId);
                for (const QString& t : list)
                    ctx.writer().addTag(iid, std::nullopt, t, std::nullopt);
            }
        }
    }
    rows.finish();
}

void importUsers(Context& ctx, const DelimitedFileSpec& spec)
{
    RowSource src(spec, QStringLiteral("users"));
    const ColumnMapping& m = spec.columns;
    const int id = src.column(m.user, QStringLiteral("user id"), true);
    const auto attrs = attributeColumns(src, m.attributes, { id });
    FileRows rows(ctx, src.reader(), QStringLiteral("users file"));
    while (src.next()) {
        rows.row();
        if (!src.rowError.isEmpty()) {
            rows.skip(src.rowError);
            continue;
        }
        if (textio::trim(src.get(id)).empty()) {
            rows.skip(QStringLiteral("empty user id"));
            continue;
        }
        if (!rows.idFits(textio::trim(src.get(id)), "user"))
            continue;
        UserRecord rec;
        rec.externalId = src.text(id);
        for (const auto& [name, col] : attrs) {
            const QString v = src.text(col);
            if (!v.isEmpty())
                rec.attributes.insert(name, typedValue(v));
        }
        ctx.writer().upsertUser(rec);
    }
    rows.finish();
}

void importInteractions(Context& ctx, const DelimitedFileSpec& spec)
{
    RowSource src(spec, QStringLiteral("interactions"));
    const ColumnMapping& m = spec.columns;
    const int u = src.column(m.user, QStringLiteral("user"), true);
    const int i = src.column(m.item, QStringLiteral("item"), true);
    const int v = src.column(m.value, QStringLiteral("value"));
    const int t = src.column(m.time, QStringLiteral("time"));
    RecordReader& r = src.reader();
    FileRows rows(ctx, r, QStringLiteral("interactions file"));
    while (src.next()) {
        rows.row();
        if (!src.rowError.isEmpty()) {
            rows.skip(src.rowError);
            continue;
        }
        const auto user = textio::trim(src.get(u));
        if (user.empty()) {
            rows.skip(QStringLiteral("empty user id"));
            continue;
        }
        const auto item = textio::trim(src.get(i));
        if (item.empty()) {
            rows.skip(QStringLiteral("empty item id"));
            continue;
        }
        if (!rows.idFits(user, "user") || !rows.idFits(item, "item"))
            continue;
        double value = 1.0;
        if (v >= 0) {
            const auto d = textio::parseDouble(src.get(v));
            if (!d) {
                rows.skip(QStringLiteral("value %1 is not a number").arg(describeValue(src.get(v))));
                continue;
            }
            value = *d;
        }
        qint64 ts = 0;
        if (t >= 0) {
            const auto parsed = textio::parseTimestampBytes(src.get(t));
            if (!parsed) {
                rows.skip(QStringLiteral("timestamp %1 is not seconds, milliseconds or ISO-8601").arg(describeValue(src.get(t))));
                continue;
            }
            ts = *parsed;
            rows.timestamp(ts);
        }
        ctx.writer().addInteraction(ctx.userId(r, user), ctx.itemId(r, item), value, ts);
    }
    rows.finish();
}

} // namespace

ImportReport importGeneric(Workspace& ws, const GenericImportSpec& spec, const TaskControl& control)
{
    if (!spec.interactions && !spec.items && !spec.users)
        throw Error(QStringLiteral("nothing to import: give an interactions, items or users file"));
    QStringList sources;
    qint64 total = 0;
    QString format;
    for (const auto* f : { &spec.items, &spec.users, &spec.interactions }) {
        if (!*f)
            continue;
        const QFileInfo info((*f)->path);
        if (!info.exists())
            throw Error(QStringLiteral("%1: file not found").arg((*f)->path));
        total += info.size();
        sources.append((*f)->path);
        if (format.isEmpty())
            format = kindName(resolveKind(**f));
    }
    ImportReport report;
    report.format = format;
    report.source = sources.join(QStringLiteral(", "));
    Context ctx(ws, report, control, total);
    if (spec.items)
        importItems(ctx, *spec.items);
    if (spec.users)
        importUsers(ctx, *spec.users);
    if (spec.interactions)
        importInteractions(ctx, *spec.interactions);
    ctx.commit();
    return report;
}

} // namespace recwb
