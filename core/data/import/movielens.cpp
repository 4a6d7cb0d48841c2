// MovieLens importers: the 100K folder layout (u.data, u.item, u.user, u.genre) and the
// "latest" layout shared by ml-latest(-small), 25M and 32M (ratings.csv, movies.csv, tags.csv).

#include "data/import/importcommon.h"

#include <QDir>
#include <QFileInfo>

namespace recwb {

using namespace importdetail;
using textio::RecordReader;

namespace {

const QStringList kStandardGenres = {
    QStringLiteral("unknown"), QStringLiteral("Action"), QStringLiteral("Adventure"), QStringLiteral("Animation"),
    QStringLiteral("Children's"), QStringLiteral("Comedy"), QStringLiteral("Crime"), QStringLiteral("Documentary"),
    QStringLiteral("Drama"), QStringLiteral("Fantasy"), QStringLiteral("Film-Noir"), QStringLiteral("Horror"),
    QStringLiteral("Musical"), QStringLiteral("Mystery"), QStringLiteral("Romance"), QStringLiteral("Sci-Fi"),
    QStringLiteral("Thriller"), QStringLiteral("War"), QStringLiteral("Western"),
};

qint64 fileSize(const QString& path) { return QFileInfo::exists(path) ? QFileInfo(path).size() : 0; }

// MovieLens ids are positive integers.
std::optional<qint64> movieLensId(std::string_view bytes)
{
    const auto v = textio::parseInt(bytes);
    return v && *v > 0 ? v : std::nullopt;
}

QString badId(const char* what, std::string_view bytes)
{
    return QStringLiteral("%1 id %2 is not a MovieLens id (a positive integer)")
        .arg(QLatin1StringView(what), describeValue(bytes));
}

QString ragged(int expected, int found)
{
    return QStringLiteral("expected %1 fields, found %2").arg(expected).arg(found);
}

QDir requireFolder(const QString& folder, const QString& format)
{
    const QFileInfo info(folder);
    if (!info.exists())
        throw Error(QStringLiteral("%1: folder not found").arg(folder));
    if (!info.isDir())
        throw Error(QStringLiteral("%1: expected the %2 folder, not a file").arg(folder, format));
    return QDir(folder);
}

// One interaction row: user, item, rating, timestamp fields at the given positions.
void interactionRow(Context& ctx, FileRows& rows, const RecordReader& r, int u, int i, int v, int t)
{
    const auto user = movieLensId(r.field(u));
    if (!user)
        return rows.skip(badId("user", r.field(u)));
    const auto item = movieLensId(r.field(i));
    if (!item)
        return rows.skip(badId("item", r.field(i)));
    const auto rating = textio::parseDouble(r.field(v));
    if (!rating)
        return rows.skip(QStringLiteral("rating %1 is not a number").arg(describeValue(r.field(v))));
    const auto ts = textio::parseTimestampBytes(r.field(t));
    if (!ts)
        return rows.skip(QStringLiteral("timestamp %1 is not seconds, milliseconds or ISO-8601").arg(describeValue(r.field(t))));
    const qint64 uid = ctx.userId(r, textio::trim(r.field(u)));
    const qint64 iid = ctx.itemId(r, textio::trim(r.field(i)));
    rows.timestamp(*ts);
    ctx.writer().addInteraction(uid, iid, *rating, *ts);
}

// Reads the header of a CSV and finds the named columns (throws naming the missing one).
std::vector<int> csvColumns(RecordReader& r, const QStringList& names)
{
    if (!r.next())
        r.fail(QStringLiteral("file is empty"), 0);
    const QStringList header = headerNames(r);
    std::vector<int> cols;
    for (const QString& n : names) {
        const int c = findColumn(header, n);
        if (c < 0)
            missingColumn(r, header, n, QStringLiteral("required"));
        cols.push_back(c);
    }
    return cols;
}

} // namespace

ImportReport importMovieLens100k(Workspace& ws, const QString& folder, const TaskControl& control)
{
    const QDir dir = requireFolder(folder, QStringLiteral("MovieLens 100K"));
    const QString dataPath = dir.filePath(QStringLiteral("u.data"));
    const QString itemPath = dir.filePath(QStringLiteral("u.item"));
    const QString userPath = dir.filePath(QStringLiteral("u.user"));
    const QString genrePath = dir.filePath(QStringLiteral("u.genre"));
    if (!QFileInfo::exists(dataPath))
        throw Error(QStringLiteral("%1: not a MovieLens 100K folder: u.data is missing").arg(folder));
    if (!QFileInfo::exists(itemPath))
        throw Error(QStringLiteral("%1: not a MovieLens 100K folder: u.item is missing").arg(folder));

    ImportReport report;
    report.format = QStringLiteral("ml-100k");
    report.source = folder;
    Context ctx(ws, report, control, fileSize(dataPath) + fileSize(itemPath) + fileSize(userPath));

    // Genre names by index (u.genre: name|index); the standard 19 when the file is absent.
    QStringList genres = kStandardGenres;
    if (QFileInfo::exists(genrePath) && QFileInfo(genrePath).size() > 0) {
        RecordReader r(genrePath, { '|', false, textio::Encoding::Latin1 });
        QStringList read;
        while (r.next()) {
            if (r.fieldCount() < 2)
                continue;
            const auto index = textio::parseInt(r.field(1));
            if (!index || *index < 0 || *index > 1000)
                r.fail(QStringLiteral("expected name|index, found %1").arg(r.toQString(r.raw())), r.line());
            while (read.size() <= *index)
                read.append(QString());
            read[*index] = r.fieldString(0).trimmed();
        }
        if (!read.isEmpty())
            genres = read;
    }
    const int itemFields = 5 + static_cast<int>(genres.size());

    {
        RecordReader r(itemPath, { '|', false, textio::Encoding::Latin1 });
        FileRows rows(ctx, r, QStringLiteral("u.item"));
        while (r.next()) {
            rows.row();
            if (r.fieldCount() != itemFields) {
                rows.skip(ragged(itemFields, r.fieldCount()));
                continue;
            }
            if (!movieLensId(r.field(0))) {
                rows.skip(badId("item", r.field(0)));
                continue;
            }
            ItemRecord rec;
            rec.externalId = r.toQString(textio::trim(r.field(0)));
            const QString title = r.fieldString(1).trimmed();
            rec.title = title;
            rec.year = yearFromTitle(title);
            if (!rec.year)
                rec.year = parseYear(r.field(2));
            QStringList cats;
            for (int g = 0; g < genres.size(); ++g)
                if (textio::trim(r.field(5 + g)) == "1" && !genres[g].isEmpty() && genres[g] != u"unknown")
                    cats.append(genres[g]);
            rec.categories = cats;
            const QString release = r.fieldString(2).trimmed();
            const QString video = r.fieldString(3).trimmed();
            const QString url = r.fieldString(4).trimmed();
            if (!release.isEmpty())
                rec.attributes.insert(QStringLiteral("release_date"), release);
            if (!video.isEmpty())
                rec.attributes.insert(QStringLiteral("video_release_date"), video);
            if (!url.isEmpty())
                rec.attributes.insert(QStringLiteral("imdb_url"), url);
            ctx.writer().upsertItem(rec);
        }
        rows.finish();
    }

    if (QFileInfo::exists(userPath)) {
        RecordReader r(userPath, { '|', false, textio::Encoding::Latin1 });
        FileRows rows(ctx, r, QStringLiteral("u.user"));
        while (r.next()) {
            rows.row();
            if (r.fieldCount() != 5) {
                rows.skip(ragged(5, r.fieldCount()));
                continue;
            }
            if (!movieLensId(r.field(0))) {
                rows.skip(badId("user", r.field(0)));
                continue;
            }
            const auto age = textio::parseInt(r.field(1));
            if (!age || *age < 0) {
                rows.skip(QStringLiteral("age %1 is not an integer").arg(describeValue(r.field(1))));
                continue;
            }
            UserRecord rec;
            rec.externalId = r.toQString(textio::trim(r.field(0)));
            rec.attributes.insert(QStringLiteral("age"), static_cast<int>(*age));
            rec.attributes.insert(QStringLiteral("gender"), r.fieldString(2).trimmed());
            rec.attributes.insert(QStringLiteral("occupation"), r.fieldString(3).trimmed());
            rec.attributes.insert(QStringLiteral("zip"), r.fieldString(4).trimmed());
            ctx.writer().upsertUser(rec);
        }
        rows.finish();
    }

    {
        RecordReader r(dataPath, { '\t', false, textio::Encoding::Latin1 });
        FileRows rows(ctx, r, QStringLiteral("u.data"));
        while (r.next()) {
            rows.row();
            if (r.fieldCount() != 4) {
                rows.skip(ragged(4, r.fieldCount()));
                continue;
            }
            interactionRow(ctx, rows, r, 0, 1, 2, 3);
        }
        rows.finish();
    }
    ctx.commit();
    return report;
}

ImportReport importMovieLensLatest(Workspace& ws, const QString& folder, const TaskControl& control)
{
    const QDir dir = requireFolder(folder, QStringLiteral("MovieLens latest"));
    const QString ratingsPath = dir.filePath(QStringLiteral("ratings.csv"));
    const QString moviesPath = dir.filePath(QStringLiteral("movies.csv"));
    const QString tagsPath = dir.filePath(QStringLiteral("tags.csv"));
    if (!QFileInfo::exists(ratingsPath))
        throw Error(QStringLiteral("%1: not a MovieLens folder: ratings.csv is missing").arg(folder));
    if (!QFileInfo::exists(moviesPath))
        throw Error(QStringLiteral("%1: not a MovieLens folder: movies.csv is missing").arg(folder));

    ImportReport report;
    report.format = QStringLiteral("ml-latest");
    report.source = folder;
    Context ctx(ws, report, control, fileSize(ratingsPath) + fileSize(moviesPath) + fileSize(tagsPath));
    const RecordReader::Options csv { ',', true, textio::Encoding::Utf8 };

    {
        RecordReader r(moviesPath, csv);
        const auto cols = csvColumns(r, { QStringLiteral("movieId"), QStringLiteral("title"), QStringLiteral("genres") });
        const int n = static_cast<int>(headerNames(r).size());
        FileRows rows(ctx, r, QStringLiteral("movies.csv"));
        while (r.next()) {
            rows.row();
            if (r.fieldCount() != n) {
                rows.skip(ragged(n, r.fieldCount()));
                continue;
            }
            if (!movieLensId(r.field(cols[0]))) {
                rows.skip(badId("movie", r.field(cols[0])));
                continue;
            }
            ItemRecord rec;
            rec.externalId = r.toQString(textio::trim(r.field(cols[0])));
            const QString title = r.fieldString(cols[1]).trimmed();
            rec.title = title;
            rec.year = yearFromTitle(title);
            const QString genres = r.fieldString(cols[2]).trimmed();
            rec.categories = genres == u"(no genres listed)" ? QStringList() : splitList(genres, QStringLiteral("|"));
            ctx.writer().upsertItem(rec);
        }
        rows.finish();
    }

    {
        RecordReader r(ratingsPath, csv);
        const auto c = csvColumns(r,
            { QStringLiteral("userId"), QStringLiteral("movieId"), QStringLiteral("rating"), QStringLiteral("timestamp") });
        const int n = static_cast<int>(headerNames(r).size());
        FileRows rows(ctx, r, QStringLiteral("ratings.csv"));
        while (r.next()) {
            rows.row();
            if (r.fieldCount() != n) {
                rows.skip(ragged(n, r.fieldCount()));
                continue;
            }
            interactionRow(ctx, rows, r, c[0], c[1], c[2], c[3]);
        }
        rows.finish();
    }

    if (QFileInfo::exists(tagsPath)) {
        RecordReader r(tagsPath, csv);
        const auto c = csvColumns(r,
            { QStringLiteral("userId"), QStringLiteral("movieId"), QStringLiteral("tag"), QStringLiteral("timestamp") });
        const int n = static_cast<int>(headerNames(r).size());
        FileRows rows(ctx, r, QStringLiteral("tags.csv"));
        while (r.next()) {
            rows.row();
            if (r.fieldCount() != n) {
                rows.skip(ragged(n, r.fieldCount()));
                continue;
            }
            if (!movieLensId(r.field(c[0]))) {
                rows.skip(badId("user", r.field(c[0])));
                continue;
            }
            if (!movieLensId(r.field(c[1]))) {
                rows.skip(badId("movie", r.field(c[1])));
                continue;
            }
            const QString tag = r.fieldString(c[2]).trimmed();
            if (tag.isEmpty()) {
                rows.skip(QStringLiteral("empty tag"));
                continue;
            }
            const auto ts = textio::parseTimestampBytes(r.field(c[3]));
            if (!ts && !textio::trim(r.field(c[3])).empty()) {
                rows.skip(QStringLiteral("timestamp %1 is not seconds, milliseconds or ISO-8601")
                              .arg(describeValue(r.field(c[3]))));
                continue;
            }
            const qint64 uid = ctx.userId(r, textio::trim(r.field(c[0])));
            const qint64 iid = ctx.itemId(r, textio::trim(r.field(c[1])));
            ctx.writer().addTag(iid, uid, tag, ts);
        }
        rows.finish();
    }
    ctx.commit();
    return report;
}

} // namespace recwb
