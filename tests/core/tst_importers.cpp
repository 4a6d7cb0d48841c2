#include "data/import/importers.h"
#include "data/workspace.h"
#include "testutil.h"

#include <QFile>
#include <QJsonArray>

using namespace recwb;

namespace {

QString importData(const char* name)
{
    return recwb::test::testData(QStringLiteral("import/") + QLatin1StringView(name));
}

// The crafted MovieLens-layout folders are kept as *.fixture files (the repo tracks no file
// named like a MovieLens file); this copies one into a temporary folder under the real names.
QString stagedFixture(const char* name)
{
    static QTemporaryDir staging;
    const QString target = staging.filePath(QLatin1StringView(name));
    if (!QDir(target).exists()) {
        QDir().mkpath(target);
        const QDir source(importData(name));
        for (const QString& f : source.entryList(QDir::Files)) {
            const QString dest = f.endsWith(u".fixture") ? f.chopped(8) : f;
            QFile::copy(source.filePath(f), QDir(target).filePath(dest));
        }
    }
    return target;
}

struct Counts {
    int64_t users, items, interactions, tags, categories;
    bool operator==(const Counts&) const = default;
};

Counts counts(const Workspace& ws)
{
    const auto s = ws.summary();
    return { s.users, s.items, s.interactions, s.tags, s.categories };
}

DelimitedFileSpec csvSpec(const char* name, const QString& user = QStringLiteral("user_id"),
    const QString& item = QStringLiteral("item_id"))
{
    DelimitedFileSpec f;
    f.path = importData(name);
    f.columns.user = user;
    f.columns.item = item;
    return f;
}

// Runs `fn`, expects an Error whose message contains every needle; returns the message.
template <class Fn>
QString expectError(Fn&& fn)
{
    try {
        fn();
    } catch (const Canceled&) {
        return QStringLiteral("<canceled>");
    } catch (const Error& e) {
        return e.message();
    }
    return QStringLiteral("<no error>");
}

bool hasSkip(const ImportReport& r, const QString& fileEnd, qint64 line, const QString& reasonPart)
{
    for (const auto& s : r.skipped)
        if (s.file.endsWith(fileEnd) && s.line == line && s.reason.contains(reasonPart))
            return true;
    return false;
}

// Category names in alphabetical order (the dataset orders them by category id).
QString sortedCategories(const Dataset& ds, const Item& item)
{
    QStringList names = ds.categoryNames(item).split(QStringLiteral(", "), Qt::SkipEmptyParts);
    names.sort();
    return names.join(QStringLiteral(", "));
}

QString skipsText(const ImportReport& r)
{
    QStringList out;
    for (const auto& s : r.skipped)
        out.append(s.toString());
    return out.join(u'\n');
}

} // namespace

class TestImporters : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_n = 0;
    std::unique_ptr<Workspace> freshWorkspace()
    {
        return Workspace::open(m_dir.filePath(QStringLiteral("ws%1.recwb").arg(++m_n)), Workspace::Mode::CreateOrOpen);
    }
    // A workspace with a few rows already, to show failed imports change nothing.
    std::unique_ptr<Workspace> seededWorkspace()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("good.csv");
        spec.interactions->columns.value = QStringLiteral("rating");
        importGeneric(*ws, spec);
        return ws;
    }

private slots:
    void timestamps()
    {
        QCOMPARE(parseTimestamp(u"1600000000"), 1600000000);
        QCOMPARE(parseTimestamp(u"1600000000000"), 1600000000); // milliseconds
        QCOMPARE(parseTimestamp(u"1600000000.75"), 1600000000);
        QCOMPARE(parseTimestamp(u" 881250949 "), 881250949);
        QCOMPARE(parseTimestamp(u"2020-09-13T12:26:40Z"), 1600000000);
        QCOMPARE(parseTimestamp(u"2020-09-13 12:26:40"), 1600000000);
        QCOMPARE(parseTimestamp(u"2020-09-13T14:26:40+02:00"), 1600000000);
        QCOMPARE(parseTimestamp(u"2020-09-13T12:26:40.123Z"), 1600000000);
        QCOMPARE(parseTimestamp(u"1970-01-02"), 86400);
        QCOMPARE(parseTimestamp(u"2021-01-01T00:00:00+0100"), 1609455600);
        QVERIFY(!parseTimestamp(u""));
        QVERIFY(!parseTimestamp(u"yesterday"));
        QVERIFY(!parseTimestamp(u"2021-02-30"));
        QVERIFY(!parseTimestamp(u"2021-13-01"));
        QVERIFY(!parseTimestamp(u"12:00"));
    }

    void movieLens100kReal()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        auto ws = freshWorkspace();
        QList<double> fractions;
        TaskControl control;
        control.onProgress = [&](double f, const QString&) { fractions.append(f); };
        const auto r = importMovieLens100k(*ws, recwb::test::sharedData(QStringLiteral("ml-100k")), control);
        QCOMPARE(r.format, QStringLiteral("ml-100k"));
        QCOMPARE(r.interactionRows, 100000);
        QCOMPARE(r.interactionsAdded, 100000);
        QCOMPARE(r.itemsAdded, 1682);
        QCOMPARE(r.usersAdded, 943);
        QVERIFY(r.seconds > 0);
        // This copy of u.user carries a placeholder row "0|0|D|default_user|0000": not a MovieLens id.
        QVERIFY2(r.rowsSkipped <= 1, qPrintable(skipsText(r)));
        if (r.rowsSkipped == 1)
            QVERIFY2(hasSkip(r, QStringLiteral("u.user"), 1, QStringLiteral("not a MovieLens id")), qPrintable(skipsText(r)));
        QCOMPARE(r.rowsRead, 100000 + 1682 + 943 + r.rowsSkipped);
        QVERIFY(!fractions.isEmpty());
        QCOMPARE(fractions.last(), 1.0);
        QVERIFY(std::is_sorted(fractions.begin(), fractions.end()));

        const auto s = ws->summary();
        QCOMPARE(s.users, 943);
        QCOMPARE(s.items, 1682);
        QCOMPARE(s.interactions, 100000);
        QCOMPARE(s.categories, 18); // the 19 genres without "unknown"
        const Dataset ds = ws->load();
        const Item& toy = ds.items[ds.itemIndex(QStringLiteral("1"))];
        QCOMPARE(toy.title, QStringLiteral("Toy Story (1995)"));
        QCOMPARE(toy.year, 1995);
        QCOMPARE(sortedCategories(ds, toy), QStringLiteral("Animation, Children's, Comedy"));
        QCOMPARE(toy.attributes.value(QStringLiteral("release_date")).toString(), QStringLiteral("01-Jan-1995"));
        const User& u1 = ds.users[ds.userIndex(QStringLiteral("1"))];
        QVERIFY(u1.attributes.value(QStringLiteral("age")).isDouble());
        QCOMPARE(u1.attributes.value(QStringLiteral("age")).toInt(), 24);
        QCOMPARE(u1.attributes.value(QStringLiteral("gender")).toString(), QStringLiteral("M"));
        QCOMPARE(u1.attributes.value(QStringLiteral("occupation")).toString(), QStringLiteral("technician"));
        QCOMPARE(u1.attributes.value(QStringLiteral("zip")).toString(), QStringLiteral("85711"));
        QCOMPARE(ds.userIndex(QStringLiteral("0")), -1);
        // "... (1995) (V)": no trailing (YYYY) in the title, so the year comes from the release date.
        const Item& v = ds.items[ds.itemIndex(QStringLiteral("1667"))];
        QVERIFY(v.year > 1900);

        // Importing again changes no counts: items and users are updated, ratings collapse.
        const auto again = importMovieLens100k(*ws, recwb::test::sharedData(QStringLiteral("ml-100k")));
        QCOMPARE(again.itemsAdded, 0);
        QCOMPARE(again.itemsUpdated, 1682);
        QCOMPARE(again.interactionsAdded, 0);
        QCOMPARE(again.duplicatesCollapsed, 100000);
        QCOMPARE(ws->summary().interactions, 100000);
    }

    void movieLensLatestSmallReal()
    {
        RECWB_REQUIRE_SHARED("ml-latest-small");
        auto ws = freshWorkspace();
        const auto r = importMovieLensLatest(*ws, recwb::test::sharedData(QStringLiteral("ml-latest-small")));
        QCOMPARE(r.rowsSkipped, 0);
        QCOMPARE(r.interactionRows, 100836);
        QCOMPARE(r.tagsAdded, 3683);
        QCOMPARE(r.itemsAdded, 9742);
        QCOMPARE(r.usersAdded, 610);
        const auto s = ws->summary();
        QCOMPARE(s.users, 610);
        QCOMPARE(s.items, 9742);
        QCOMPARE(s.interactions, 100836);
        QCOMPARE(s.tags, 3683);
        const Dataset ds = ws->load();
        const Item& ap = ds.items[ds.itemIndex(QStringLiteral("11"))];
        QCOMPARE(ap.title, QStringLiteral("American President, The (1995)"));
        QCOMPARE(ap.year, 1995);
        QCOMPARE(sortedCategories(ds, ap), QStringLiteral("Comedy, Drama, Romance"));
        // Every rated item has a real title (items were imported before ratings).
        for (const Item& it : ds.items)
            QVERIFY2(it.title != it.externalId, qPrintable(it.externalId));
    }

    void movieLensLatestCrafted()
    {
        auto ws = freshWorkspace();
        const auto r = importMovieLensLatest(*ws, stagedFixture("ml_latest"));
        QCOMPARE(r.rowsSkipped, 1);
        QVERIFY2(hasSkip(r, QStringLiteral("movies.csv"), 4, QStringLiteral("'x' is not a MovieLens id")), qPrintable(skipsText(r)));
        QCOMPARE(r.tagsAdded, 2);
        const Dataset ds = ws->load();
        QCOMPARE(ds.numItems(), 3);
        const Item& q = ds.items[ds.itemIndex(QStringLiteral("2"))];
        QCOMPARE(q.title, QStringLiteral("Movie \"Quoted\" (2001)"));
        QCOMPARE(q.year, 2001);
        QVERIFY(q.categories.empty()); // "(no genres listed)"
        QCOMPARE(ds.items[ds.itemIndex(QStringLiteral("3"))].tags, QStringList { QStringLiteral("dark, slow") });
    }

    void movieLens100kCrafted()
    {
        auto ws = freshWorkspace();
        const auto r = importMovieLens100k(*ws, stagedFixture("ml100k_bad"));
        QCOMPARE(r.interactionRows, 3);
        QVERIFY2(hasSkip(r, QStringLiteral("u.data"), 3, QStringLiteral("user id 'x' is not a MovieLens id")), qPrintable(skipsText(r)));
        const Dataset ds = ws->load();
        // No u.genre: the standard genre names.
        QCOMPARE(sortedCategories(ds, ds.items[ds.itemIndex(QStringLiteral("1"))]), QStringLiteral("Animation, Children's, Comedy"));
        QCOMPARE(ds.numUsers(), 3);

        const QString missing = expectError([&] { importMovieLens100k(*ws, stagedFixture("ml_latest")); });
        QVERIFY2(missing.contains(QStringLiteral("u.data is missing")), qPrintable(missing));
        const QString latest = expectError([&] { importMovieLensLatest(*ws, stagedFixture("ml100k_bad")); });
        QVERIFY2(latest.contains(QStringLiteral("ratings.csv is missing")), qPrintable(latest));
    }

    void recBole()
    {
        for (const QString& path : { importData("recbole"), importData("recbole/mini.inter") }) {
            auto ws = freshWorkspace();
            const auto r = importRecBole(*ws, path);
            QCOMPARE(r.format, QStringLiteral("recbole"));
            QCOMPARE(r.interactionRows, 4);
            QCOMPARE(r.rowsSkipped, 2);
            QVERIFY2(hasSkip(r, QStringLiteral("mini.inter"), 5, QStringLiteral("rating 'x' is not a number")), qPrintable(skipsText(r)));
            QVERIFY2(hasSkip(r, QStringLiteral("mini.inter"), 7, QStringLiteral("expected 4 fields, found 3")), qPrintable(skipsText(r)));
            const Dataset ds = ws->load();
            QCOMPARE(ds.numItems(), 3);
            QCOMPARE(ds.numUsers(), 3);
            const Item& toy = ds.items[ds.itemIndex(QStringLiteral("10"))];
            QCOMPARE(toy.title, QStringLiteral("Toy Story"));
            QCOMPARE(toy.year, 1995);
            QCOMPARE(sortedCategories(ds, toy), QStringLiteral("Animation, Comedy"));
            QCOMPARE(toy.attributes.value(QStringLiteral("price")).toDouble(), 9.5);
            QCOMPARE(ds.items[ds.itemIndex(QStringLiteral("30"))].year, 0);
            const User& u2 = ds.users[ds.userIndex(QStringLiteral("2"))];
            QCOMPARE(u2.attributes.value(QStringLiteral("age")).toString(), QStringLiteral("53"));
            QCOMPARE(u2.attributes.value(QStringLiteral("occupation")).toString(), QStringLiteral("other"));
        }
    }

    void recBoleBadHeader()
    {
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        const QString e = expectError([&] { importRecBole(*ws, importData("recbole_bad")); });
        QVERIFY2(e.contains(QStringLiteral("bad.inter:1")), qPrintable(e));
        QVERIFY2(e.contains(QStringLiteral("tab")), qPrintable(e));
        QVERIFY(counts(*ws) == before);
        const QString none = expectError([&] { importRecBole(*ws, stagedFixture("ml_latest")); });
        QVERIFY2(none.contains(QStringLiteral("no RecBole .inter file")), qPrintable(none));
    }

    void genericCsvWithCatalog()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("good.csv");
        spec.interactions->columns.value = QStringLiteral("rating");
        spec.interactions->columns.time = QStringLiteral("ts");
        spec.items = csvSpec("items.csv");
        spec.items->columns.title = QStringLiteral("title");
        spec.items->columns.categories = QStringLiteral("genres");
        spec.items->columns.year = QStringLiteral("year");
        spec.items->columns.attributes = QStringList { QStringLiteral("color") };
        spec.users = csvSpec("users.csv");
        spec.users->columns.attributes = QStringList { QStringLiteral("*") };
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.format, QStringLiteral("csv"));
        QCOMPARE(r.rowsSkipped, 0);
        QCOMPARE(r.interactionRows, 6);
        QCOMPARE(r.rowsRead, 6 + 3 + 2);
        const Dataset ds = ws->load();
        QCOMPARE(ds.numItems(), 3);
        QCOMPARE(ds.numUsers(), 3);
        const Item& a = ds.items[ds.itemIndex(QStringLiteral("i1"))];
        QCOMPARE(a.title, QStringLiteral("Alpha, the \"first\""));
        QCOMPARE(a.year, 1999);
        QCOMPARE(sortedCategories(ds, a), QStringLiteral("Comedy, Drama"));
        QCOMPARE(a.attributes.value(QStringLiteral("color")).toString(), QStringLiteral("red"));
        const Item& b = ds.items[ds.itemIndex(QStringLiteral("i2"))];
        QCOMPARE(b.title, QStringLiteral("Beta\nTwo lines"));
        QCOMPARE(b.year, 2001);
        const User& u2 = ds.users[ds.userIndex(QStringLiteral("u2"))];
        QCOMPARE(u2.attributes.value(QStringLiteral("age")).toInt(), 41);
        QCOMPARE(u2.attributes.value(QStringLiteral("city")).toString(), QStringLiteral("01040")); // not a number
        // Seconds, milliseconds, ISO date-time, ISO date, fractional seconds.
        const int u1 = ds.userIndex(QStringLiteral("u1"));
        for (const auto ts : ds.userItems.rowTimestamps(u1))
            QCOMPARE(ts, 1600000000);
        const int u2i = ds.userIndex(QStringLiteral("u2"));
        QCOMPARE(ds.userItems.rowTimestamps(u2i)[0], 1600000000);
        QCOMPARE(ds.userItems.rowTimestamps(u2i)[1], 1599955200);
        const int i2 = ds.itemIndex(QStringLiteral("i2"));
        const auto row = ds.userItems.row(u1);
        const auto pos = std::find(row.begin(), row.end(), i2) - row.begin();
        QCOMPARE(ds.userItems.rowValues(u1)[pos], 3.5f);
    }

    void bomAndCrlf()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("bom_crlf.csv");
        spec.interactions->columns.value = QStringLiteral("rating");
        spec.interactions->columns.time = QStringLiteral("ts");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.rowsSkipped, 0);
        QCOMPARE(r.interactionRows, 4);
        QCOMPARE(r.interactionsAdded, 3);
        QCOMPARE(r.duplicatesCollapsed, 1);
        const Dataset ds = ws->load();
        QCOMPARE(ds.userItems.rowTimestamps(ds.userIndex(QStringLiteral("u2")))[0], 400); // no stray '\r'
        QVERIFY(ds.itemIndex(QStringLiteral("i2")) >= 0);
    }

    void missingValueColumnMeansOne()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("good.csv");
        importGeneric(*ws, spec);
        const Dataset ds = ws->load();
        for (const float v : ds.userItems.values)
            QCOMPARE(v, 1.0f);
        for (const auto t : ds.userItems.timestamps)
            QCOMPARE(t, 0);
    }

    void raggedAndBadRowsAreSkipped()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("ragged.csv");
        spec.interactions->columns.value = QStringLiteral("rating");
        spec.interactions->columns.time = QStringLiteral("ts");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.rowsRead, 8);
        QCOMPARE(r.rowsSkipped, 4);
        QCOMPARE(r.interactionRows, 4);
        const QString s = skipsText(r);
        QVERIFY2(hasSkip(r, QStringLiteral("ragged.csv"), 3, QStringLiteral("expected 4 fields, found 3")), qPrintable(s));
        QVERIFY2(hasSkip(r, QStringLiteral("ragged.csv"), 4, QStringLiteral("value 'abc' is not a number")), qPrintable(s));
        QVERIFY2(hasSkip(r, QStringLiteral("ragged.csv"), 5, QStringLiteral("timestamp 'not-a-time'")), qPrintable(s));
        QVERIFY2(hasSkip(r, QStringLiteral("ragged.csv"), 9, QStringLiteral("empty item id")), qPrintable(s));
        QVERIFY(r.toText().contains(QStringLiteral("ragged.csv:3: expected 4 fields, found 3")));
    }

    // Issue 12 item 5: an oversized id skips its row naming the line; a runaway record stops
    // the import naming the line; a timestamp far outside the file's own range (a u.data
    // line cut in its timestamp) is counted and listed in the report.
    void oversizedFieldsAndOutlierTimestamps()
    {
        QTemporaryDir dir;
        const QString csv = dir.filePath(QStringLiteral("long.csv"));
        {
            QFile f(csv);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("user_id,item_id,ts\n");
            for (int i = 0; i < 100; ++i)
                f.write(QStringLiteral("u%1,i%2,%3\n").arg(i % 7).arg(i % 11).arg(874965758 + i * 5000).toUtf8());
            f.write("u1," + QByteArray(300, 'x') + ",874965758\n"); // line 102
            f.write("u2,i3,88\n"); // line 103: cut in its timestamp
        }
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("good.csv");
        spec.interactions->path = csv;
        spec.interactions->columns.time = QStringLiteral("ts");
        const auto r = importGeneric(*ws, spec);
        QVERIFY2(hasSkip(r, QStringLiteral("long.csv"), 102, QStringLiteral("item id of 300 bytes is longer than 256 bytes")),
            qPrintable(skipsText(r)));
        QCOMPARE(r.timestampOutliers, 1);
        QCOMPARE(r.outlierRows.size(), 1);
        QCOMPARE(r.outlierRows.front().line, 103);
        QVERIFY2(r.toText().contains(QStringLiteral("long.csv:103: timestamp in 1970")), qPrintable(r.toText()));
        QCOMPARE(r.toJson().value(QStringLiteral("timestamp_outliers")).toInt(), 1);

        // MovieLens 100K: the same cut line in u.data.
        const QString folder = dir.filePath(QStringLiteral("ml"));
        QVERIFY(QDir().mkpath(folder));
        QVERIFY(QFile::copy(QDir(stagedFixture("ml100k_bad")).filePath(QStringLiteral("u.item")),
            QDir(folder).filePath(QStringLiteral("u.item"))));
        {
            QFile f(QDir(folder).filePath(QStringLiteral("u.data")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            for (int i = 0; i < 40; ++i)
                f.write(QStringLiteral("%1\t%2\t4\t%3\n").arg(1 + i % 5).arg(1 + i % 3).arg(874965758 + i * 9000).toUtf8());
            f.write("3\t2\t5\t88\n"); // line 41
        }
        auto ml = freshWorkspace();
        const auto m = importMovieLens100k(*ml, folder);
        QCOMPARE(m.timestampOutliers, 1);
        QCOMPARE(m.outlierRows.front().line, 41);

        // A runaway record (a 5 MB id) stops the import, naming the line; nothing is kept.
        const QString huge = dir.filePath(QStringLiteral("huge.csv"));
        {
            QFile f(huge);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("user_id,item_id\nu1,i1\nu2," + QByteArray(5 << 20, 'y') + "\n");
        }
        auto hws = freshWorkspace();
        GenericImportSpec hugeSpec;
        hugeSpec.interactions = csvSpec("good.csv");
        hugeSpec.interactions->path = huge;
        const QString message = expectError([&] { importGeneric(*hws, hugeSpec); });
        QVERIFY2(message.contains(QStringLiteral("huge.csv:3")) && message.contains(QStringLiteral("longer than 4 MiB")),
            qPrintable(message));
        QCOMPARE(hws->summary().interactions, 0);
    }

    void quotedNewlinesKeepLineNumbers()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("quoted_lines.csv");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.interactionRows, 2);
        QVERIFY2(hasSkip(r, QStringLiteral("quoted_lines.csv"), 5, QStringLiteral("expected 3 fields, found 2")), qPrintable(skipsText(r)));
    }

    void noHeaderPositions()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("noheader.tsv", QStringLiteral("1"), QStringLiteral("2"));
        spec.interactions->header = false;
        spec.interactions->columns.value = QStringLiteral("3");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.format, QStringLiteral("tsv"));
        QCOMPARE(r.interactionRows, 3);
        QCOMPARE(ws->summary().users, 2);
        spec.interactions->columns.user = QStringLiteral("user");
        const QString e = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e.contains(QStringLiteral("1-based position")), qPrintable(e));
        spec.interactions->columns.user = QStringLiteral("7");
        const QString e2 = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e2.contains(QStringLiteral("noheader.tsv:1")) && e2.contains(QStringLiteral("3 field(s)")), qPrintable(e2));
    }

    void jsonLines()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("events.jsonl", QStringLiteral("user"), QStringLiteral("item"));
        spec.interactions->columns.value = QStringLiteral("value");
        spec.interactions->columns.time = QStringLiteral("time");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.format, QStringLiteral("jsonl"));
        QCOMPARE(r.interactionRows, 3);
        QVERIFY2(hasSkip(r, QStringLiteral("events.jsonl"), 3, QStringLiteral("invalid JSON")), qPrintable(skipsText(r)));
        const Dataset ds = ws->load();
        QCOMPARE(ds.userItems.rowTimestamps(ds.userIndex(QStringLiteral("u1")))[0], 1609455600);
        QCOMPARE(ds.userItems.rowTimestamps(ds.userIndex(QStringLiteral("u3")))[0], 1609459200);
        spec.interactions->columns.user = QStringLiteral("uid");
        const QString e = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e.contains(QStringLiteral("events.jsonl:1")) && e.contains(QStringLiteral("'uid' not found"))
                && e.contains(QStringLiteral("user")) && e.contains(QStringLiteral("time")),
            qPrintable(e));
    }

    void wrongSeparatorIsFatal()
    {
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        GenericImportSpec spec;
        spec.interactions = csvSpec("comma_as_tsv.csv");
        spec.interactions->kind = DelimitedFileSpec::Kind::Tsv;
        const QString e = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e.contains(QStringLiteral("comma_as_tsv.csv:1")), qPrintable(e));
        QVERIFY2(e.contains(QStringLiteral("'user_id' not found")), qPrintable(e));
        QVERIFY2(e.contains(QStringLiteral("user_id,item_id,rating")), qPrintable(e));
        QVERIFY2(e.contains(QStringLiteral("separator comma")), qPrintable(e));
        QVERIFY(counts(*ws) == before);
    }

    void missingColumnListsAvailable()
    {
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        GenericImportSpec spec;
        spec.interactions = csvSpec("nomatch.tsv");
        const QString e = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e.contains(QStringLiteral("nomatch.tsv:1")), qPrintable(e));
        QVERIFY2(e.contains(QStringLiteral("user, item, plays")), qPrintable(e));
        QVERIFY(counts(*ws) == before);
        spec.interactions->columns.user.clear();
        const QString e2 = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e2.contains(QStringLiteral("no user column is mapped")), qPrintable(e2));
    }

    void encodings()
    {
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        GenericImportSpec spec;
        spec.interactions = csvSpec("latin1.csv");
        const QString e = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e.contains(QStringLiteral("latin1.csv:3")), qPrintable(e));
        QVERIFY2(e.contains(QStringLiteral("invalid UTF-8")) && e.contains(QStringLiteral("latin-1")), qPrintable(e));
        QVERIFY(counts(*ws) == before);
        spec.interactions->encoding = QStringLiteral("latin-1");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.interactionRows, 3);
        QVERIFY(ws->load().itemIndex(QStringLiteral("Caf\u00e9")) >= 0);
        spec.interactions->encoding = QStringLiteral("klingon");
        QVERIFY(expectError([&] { importGeneric(*ws, spec); }).contains(QStringLiteral("unsupported encoding")));
    }

    void structuralErrors_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("needle");
        QTest::newRow("binary") << QStringLiteral("binary.csv") << QStringLiteral("binary.csv:3: contains a NUL byte");
        QTest::newRow("empty") << QStringLiteral("empty.csv") << QStringLiteral("empty.csv: file is empty");
        QTest::newRow("missing") << QStringLiteral("no_such_file.csv") << QStringLiteral("no_such_file.csv: file not found");
        QTest::newRow("unterminated") << QStringLiteral("unterminated.csv")
                                      << QStringLiteral("unterminated.csv:3: unterminated quoted field");
        QTest::newRow("mostly bad") << QStringLiteral("mostly_bad.csv")
                                    << QStringLiteral("mostly_bad.csv: 8 of the first 10 data rows could not be used");
        QTest::newRow("wrong header") << QStringLiteral("wrongformat_header.csv")
                                      << QStringLiteral("wrongformat_header.csv:1: user column 'user_id' not found");
    }

    void structuralErrors()
    {
        QFETCH(QString, file);
        QFETCH(QString, needle);
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        GenericImportSpec spec;
        spec.interactions = csvSpec("good.csv");
        spec.interactions->path = recwb::test::testData(QStringLiteral("import/") + file);
        const QString e = expectError([&] { importGeneric(*ws, spec); });
        QVERIFY2(e.contains(needle), qPrintable(e));
        QVERIFY(counts(*ws) == before);
        if (file == u"mostly_bad.csv")
            QVERIFY2(e.contains(QStringLiteral("line 2: expected 3 fields, found 1")), qPrintable(e));
    }

    void duplicateItemsLaterWins()
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.items = csvSpec("items_dup.csv");
        spec.items->columns.title = QStringLiteral("title");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.itemsAdded, 2);
        QCOMPARE(r.itemsUpdated, 1);
        const Dataset ds = ws->load();
        QCOMPARE(ds.items[ds.itemIndex(QStringLiteral("i1"))].title, QStringLiteral("First again"));
    }

    void playCountLogWithArtists() // the worked example of docs/IMPORT.md
    {
        auto ws = freshWorkspace();
        GenericImportSpec spec;
        spec.interactions = csvSpec("plays.tsv", QStringLiteral("user"), QStringLiteral("artist_id"));
        spec.interactions->columns.value = QStringLiteral("plays");
        spec.items = csvSpec("artists.tsv", {}, QStringLiteral("artist_id"));
        spec.items->columns.title = QStringLiteral("name");
        spec.items->columns.categories = QStringLiteral("genres");
        spec.items->columns.tags = QStringLiteral("tags");
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.interactionRows, 5);
        QCOMPARE(r.tagsAdded, 6);
        const Dataset ds = ws->load();
        const Item& a3 = ds.items[ds.itemIndex(QStringLiteral("a3"))];
        QCOMPARE(a3.title, QStringLiteral("Gamma Ray"));
        QCOMPARE(sortedCategories(ds, a3), QStringLiteral("metal, rock"));
        QCOMPARE(a3.tags.size(), 3);
        QCOMPARE(ds.userItems.rowValues(ds.userIndex(QStringLiteral("bob")))[1], 40.0f);
    }

    void cancelLeavesWorkspaceUnchanged()
    {
        // A file large enough to reach several cancel checks.
        const QString path = m_dir.filePath(QStringLiteral("cancel.csv"));
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("user_id,item_id,rating\n");
            for (int i = 0; i < 30000; ++i)
                f.write(QStringLiteral("u%1,i%2,%3\n").arg(i / 10).arg(i % 997).arg(i % 5 + 1).toUtf8());
        }
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        int calls = 0;
        TaskControl control;
        control.isCanceled = [&calls] { return ++calls > 3; };
        GenericImportSpec spec;
        spec.interactions = csvSpec("good.csv");
        spec.interactions->path = path;
        bool canceled = false;
        try {
            importGeneric(*ws, spec, control);
        } catch (const Canceled&) {
            canceled = true;
        }
        QVERIFY(canceled);
        QVERIFY(calls > 3);
        QVERIFY(counts(*ws) == before);
        // Without cancel the same import succeeds.
        const auto r = importGeneric(*ws, spec);
        QCOMPARE(r.interactionRows, 30000);
        QCOMPARE(ws->summary().interactions, before.interactions + 30000);
    }

    void cancelRealMovieLens()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        auto ws = seededWorkspace();
        const Counts before = counts(*ws);
        int calls = 0;
        TaskControl control;
        control.isCanceled = [&calls] { return ++calls > 10; };
        const QString e = expectError([&] { importMovieLens100k(*ws, recwb::test::sharedData(QStringLiteral("ml-100k")), control); });
        QCOMPARE(e, QStringLiteral("<canceled>"));
        QVERIFY(counts(*ws) == before);
    }
};

QTEST_GUILESS_MAIN(TestImporters)
#include "tst_importers.moc"
