// RecBole atomic files: <name>.inter, <name>.item, <name>.user. Tab separated, UTF-8, one
// header line of typed fields ("user_id:token", "rating:float", "genre:token_seq", ...).

#include "data/import/importcommon.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <optional>

namespace recwb {

using namespace importdetail;
using textio::RecordReader;

namespace {

struct Field {
    QString name;
    QString type; // token, token_seq, float, float_seq
};

std::vector<Field> readHeader(RecordReader& r)
{
    if (!r.next())
        r.fail(QStringLiteral("file is empty"), 0);
    std::vector<Field> fields;
    for (int i = 0; i < r.fieldCount(); ++i) {
        const QString text = r.toQString(textio::trim(r.field(i)));
        const auto colon = text.lastIndexOf(u':');
        if (colon <= 0)
            r.fail(QStringLiteral("RecBole header field '%1' has no type; expected tab-separated name:type fields such as "
                                  "user_id:token (header: %2)")
                       .arg(text, r.toQString(r.raw()).left(200)),
                r.line());
        Field f { text.left(colon), text.mid(colon + 1) };
        if (f.type != u"token" && f.type != u"token_seq" && f.type != u"float" && f.type != u"float_seq")
            r.fail(QStringLiteral("RecBole header field '%1' has unknown type '%2' (expected token, token_seq, float or "
                                  "float_seq; fields are tab separated)")
                       .arg(f.name, f.type),
                r.line());
        fields.push_back(f);
    }
    return fields;
}

int fieldIndex(const std::vector<Field>& fields, std::initializer_list<const char16_t*> names)
{
    for (const char16_t* n : names)
        for (size_t i = 0; i < fields.size(); ++i)
            if (fields[i].name == QStringView(n))
                return static_cast<int>(i);
    return -1;
}

[[noreturn]] void missingField(const RecordReader& r, const std::vector<Field>& fields, const QString& name)
{
    QStringList names;
    for (const auto& f : fields)
        names.append(f.name + u':' + f.type);
    r.fail(QStringLiteral("RecBole field '%1' not found; the header has: %2").arg(name, names.join(QStringLiteral(", "))),
        r.line());
}

QJsonValue recBoleValue(const Field& f, const QString& text)
{
    if (f.type == u"float") {
        bool ok = false;
        const double d = text.toDouble(&ok);
        return ok ? QJsonValue(d) : QJsonValue(text);
    }
    if (f.type == u"token_seq" || f.type == u"float_seq") {
        QJsonArray arr;
        for (const QString& part : text.split(u' ', Qt::SkipEmptyParts)) {
            bool ok = false;
            const double d = f.type == u"float_seq" ? part.toDouble(&ok) : 0;
            arr.append(ok ? QJsonValue(d) : QJsonValue(part));
        }
        return arr;
    }
    return text;
}

QString ragged(int expected, int found)
{
    return QStringLiteral("expected %1 fields, found %2").arg(expected).arg(found);
}

// The id of a well-formed catalog or profile row; a ragged row or an empty id is recorded
// as skipped and gives nothing.
std::optional<QString> rowId(RecordReader& r, FileRows& rows, int n, int id, const char* idName)
{
    rows.row();
    if (r.fieldCount() != n) {
        rows.skip(ragged(n, r.fieldCount()));
        return std::nullopt;
    }
    const auto idBytes = textio::trim(r.field(id));
    if (idBytes.empty()) {
        rows.skip(QStringLiteral("empty ") + QLatin1StringView(idName));
        return std::nullopt;
    }
    if (!rows.idFits(idBytes, idName))
        return std::nullopt;
    return r.toQString(idBytes);
}

void importItems(Context& ctx, const QString& path)
{
    RecordReader r(path, { '\t', false, textio::Encoding::Utf8 });
    const auto fields = readHeader(r);
    const int id = fieldIndex(fields, { u"item_id" });
    if (id < 0)
        missingField(r, fields, QStringLiteral("item_id"));
    const int title = fieldIndex(fields, { u"movie_title", u"title", u"name", u"item_name", u"track_name" });
    const int cats = fieldIndex(fields, { u"genre", u"genres", u"class", u"categories", u"category" });
    const int year = fieldIndex(fields, { u"release_year", u"year" });
    const int n = static_cast<int>(fields.size());
    FileRows rows(ctx, r, QStringLiteral("RecBole .item"));
    while (r.next()) {
        const auto externalId = rowId(r, rows, n, id, "item_id");
        if (!externalId)
            continue;
        ItemRecord rec;
        rec.externalId = *externalId;
        for (int i = 0; i < n; ++i) {
            if (i == id)
                continue;
            const QString text = r.fieldString(i).trimmed();
            if (i == title) {
                if (!text.isEmpty())
                    rec.title = text;
            } else if (i == cats) {
                rec.categories = fields[static_cast<size_t>(i)].type == u"token_seq"
                    ? text.split(u' ', Qt::SkipEmptyParts)
                    : splitList(text, QString());
            } else if (i == year) {
                if (const auto y = parseYear(r.field(i)))
                    rec.year = *y;
            } else if (!text.isEmpty()) {
                rec.attributes.insert(fields[static_cast<size_t>(i)].name, recBoleValue(fields[static_cast<size_t>(i)], text));
            }
        }
        if (!rec.year && rec.title)
            rec.year = yearFromTitle(*rec.title);
        ctx.writer().upsertItem(rec);
    }
    rows.finish();
}

void importUsers(Context& ctx, const QString& path)
{
    RecordReader r(path, { '\t', false, textio::Encoding::Utf8 });
    const auto fields = readHeader(r);
    const int id = fieldIndex(fields, { u"user_id" });
    if (id < 0)
        missingField(r, fields, QStringLiteral("user_id"));
    const int n = static_cast<int>(fields.size());
    FileRows rows(ctx, r, QStringLiteral("RecBole .user"));
    while (r.next()) {
        const auto externalId = rowId(r, rows, n, id, "user_id");
        if (!externalId)
            continue;
        UserRecord rec;
        rec.externalId = *externalId;
        for (int i = 0; i < n; ++i) {
            const QString text = i == id ? QString() : r.fieldString(i).trimmed();
            if (!text.isEmpty())
                rec.attributes.insert(fields[static_cast<size_t>(i)].name, recBoleValue(fields[static_cast<size_t>(i)], text));
        }
        ctx.writer().upsertUser(rec);
    }
    rows.finish();
}

void importInteractions(Context& ctx, const QString& path)
{
    RecordReader r(path, { '\t', false, textio::Encoding::Utf8 });
    const auto fields = readHeader(r);
    const int u = fieldIndex(fields, { u"user_id" });
    if (u < 0)
        missingField(r, fields, QStringLiteral("user_id"));
    const int i = fieldIndex(fields, { u"item_id" });
    if (i < 0)
        missingField(r, fields, QStringLiteral("item_id"));
    const int v = fieldIndex(fields, { u"rating", u"score", u"value", u"weight", u"count", u"plays" });
    const int t = fieldIndex(fields, { u"timestamp", u"time", u"ts" });
    const int n = static_cast<int>(fields.size());
    FileRows rows(ctx, r, QStringLiteral("RecBole .inter"));
    while (r.next()) {
        rows.row();
        if (r.fieldCount() != n) {
            rows.skip(ragged(n, r.fieldCount()));
            continue;
        }
        const auto user = textio::trim(r.field(u));
        const auto item = textio::trim(r.field(i));
        if (user.empty() || item.empty()) {
            rows.skip(QStringLiteral("empty user_id or item_id"));
            continue;
        }
        if (!rows.idFits(user, "user") || !rows.idFits(item, "item"))
            continue;
        double value = 1.0;
        if (v >= 0) {
            const auto d = textio::parseDouble(r.field(v));
            if (!d) {
                rows.skip(QStringLiteral("%1 %2 is not a number").arg(fields[static_cast<size_t>(v)].name, describeValue(r.field(v))));
                continue;
            }
            value = *d;
        }
        qint64 ts = 0;
        if (t >= 0) {
            const auto parsed = textio::parseTimestampBytes(r.field(t));
            if (!parsed) {
                rows.skip(QStringLiteral("timestamp %1 is not seconds, milliseconds or ISO-8601").arg(describeValue(r.field(t))));
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

ImportReport importRecBole(Workspace& ws, const QString& path, const TaskControl& control)
{
    const QFileInfo info(path);
    if (!info.exists())
        throw Error(QStringLiteral("%1: not found").arg(path));
    QDir dir;
    QString name;
    if (info.isDir()) {
        dir = QDir(path);
        const QStringList inter = dir.entryList({ QStringLiteral("*.inter") }, QDir::Files, QDir::Name);
        if (inter.isEmpty())
            throw Error(QStringLiteral("%1: no RecBole .inter file in this folder").arg(path));
        if (inter.size() > 1)
            throw Error(QStringLiteral("%1: several RecBole datasets in this folder (%2); pass the path of one .inter file")
                            .arg(path, inter.join(QStringLiteral(", "))));
        name = QFileInfo(inter.first()).completeBaseName();
    } else {
        const QString suffix = info.suffix();
        if (suffix != u"inter" && suffix != u"item" && suffix != u"user")
            throw Error(QStringLiteral("%1: not a RecBole atomic file (expected .inter, .item or .user)").arg(path));
        dir = info.dir();
        name = info.completeBaseName();
    }
    const QString interPath = dir.filePath(name + QStringLiteral(".inter"));
    const QString itemPath = dir.filePath(name + QStringLiteral(".item"));
    const QString userPath = dir.filePath(name + QStringLiteral(".user"));
    auto size = [](const QString& p) { return QFileInfo::exists(p) ? QFileInfo(p).size() : 0; };

    ImportReport report;
    report.format = QStringLiteral("recbole");
    report.source = dir.filePath(name);
    Context ctx(ws, report, control, size(interPath) + size(itemPath) + size(userPath));
    if (QFileInfo::exists(itemPath))
        importItems(ctx, itemPath);
    if (QFileInfo::exists(userPath))
        importUsers(ctx, userPath);
    if (QFileInfo::exists(interPath))
        importInteractions(ctx, interPath);
    ctx.commit();
    return report;
}

} // namespace recwb
