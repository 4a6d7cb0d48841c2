#include "data/generator.h"
#include "data/importwriter.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "testutil.h"

#include <QFile>
#include <algorithm>
#include <sqlite3.h>

using namespace recwb;

class TestWorkspace : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString path(const char* name) const { return m_dir.filePath(QString::fromLatin1(name)); }

    static void fillSmall(Workspace& ws)
    {
        ImportReport report;
        report.format = QStringLiteral("test");
        ImportWriter w(ws, report);
        w.upsertItem({ QStringLiteral("i1"), QStringLiteral("Alpha"), QStringLiteral("first"),
            QStringList { QStringLiteral("Drama"), QStringLiteral("Comedy") }, 1999, {} });
        w.upsertItem({ QStringLiteral("i2"), QStringLiteral("Beta"), {}, QStringList { QStringLiteral("Drama") }, {}, {} });
        w.upsertUser({ QStringLiteral("u1"), QJsonObject { { QStringLiteral("age"), 30 } } });
        const auto u1 = w.userId(QStringLiteral("u1"));
        const auto u2 = w.userId(QStringLiteral("u2"));
        w.addInteraction(u1, w.itemId(QStringLiteral("i1")), 4, 100);
        w.addInteraction(u1, w.itemId(QStringLiteral("i2")), 3, 200);
        w.addInteraction(u1, w.itemId(QStringLiteral("i1")), 5, 300); // duplicate, later: wins
        w.addInteraction(u1, w.itemId(QStringLiteral("i1")), 1, 50); // duplicate, earlier: ignored
        w.addInteraction(u2, w.itemId(QStringLiteral("i3")), 1, 150); // unknown item: placeholder
        w.addTag(w.itemId(QStringLiteral("i1")), u1, QStringLiteral("classic"), 120);
        w.commit();
        QCOMPARE(report.interactionRows, 5);
        QCOMPARE(report.interactionsAdded, 3);
        QCOMPARE(report.duplicatesCollapsed, 2);
        QCOMPARE(report.itemsAdded, 3);
        QCOMPARE(report.usersAdded, 2);
    }

    // 260,000 generated interactions: above the size from which a load reads on two connections.
    std::unique_ptr<Workspace> largeWorkspace(const char* name) const
    {
        auto ws = Workspace::open(path(name), Workspace::Mode::CreateOrOpen);
        GeneratorConfig cfg;
        cfg.users = 3000;
        cfg.items = 1500;
        cfg.interactions = 260'000;
        generateIntoWorkspace(*ws, cfg);
        return ws;
    }

private slots:
    void roundTrip()
    {
        const QString p = path("round.recwb");
        {
            auto ws = Workspace::open(p, Workspace::Mode::CreateOrOpen);
            QCOMPARE(ws->schemaVersion(), Workspace::kSchemaVersion);
            fillSmall(*ws);
        }
        auto ws = Workspace::open(p);
        const auto s = ws->summary();
        QCOMPARE(s.users, 2);
        QCOMPARE(s.items, 3);
        QCOMPARE(s.interactions, 3);
        QCOMPARE(s.coldUsers, 2);
        QCOMPARE(s.categories, 2);
        QCOMPARE(s.firstTimestamp, 150);
        QCOMPARE(s.lastTimestamp, 300);

        const Dataset ds = ws->load();
        QCOMPARE(ds.numUsers(), 2);
        QCOMPARE(ds.numItems(), 3);
        QCOMPARE(ds.numInteractions(), 3);
        const int u1 = ds.userIndex(QStringLiteral("u1"));
        const int i1 = ds.itemIndex(QStringLiteral("i1"));
        QVERIFY(u1 >= 0 && i1 >= 0);
        QCOMPARE(ds.users[u1].attributes.value(QStringLiteral("age")).toInt(), 30);
        QCOMPARE(ds.items[i1].title, QStringLiteral("Alpha"));
        QCOMPARE(ds.items[i1].year, 1999);
        QCOMPARE(ds.categoryNames(ds.items[i1]), QStringLiteral("Drama, Comedy"));
        QCOMPARE(ds.items[i1].tags, QStringList { QStringLiteral("classic") });
        QCOMPARE(ds.items[ds.itemIndex(QStringLiteral("i3"))].title, QStringLiteral("i3"));
        // The latest duplicate won: value 5 at time 300.
        const auto row = ds.userItems.row(u1);
        const auto pos = std::find(row.begin(), row.end(), i1) - row.begin();
        QCOMPARE(ds.userItems.rowValues(u1)[pos], 5.0f);
        QCOMPARE(ds.userItems.rowTimestamps(u1)[pos], 300);
        // Both orientations agree.
        QCOMPARE(ds.itemUsers.nnz(), ds.userItems.nnz());
        QVERIFY(ds.itemUsers.contains(i1, u1));
    }

    // Tags come back distinct per item, the most used first, ties in byte order (é after z);
    // users with the same attribute text get equal objects, a different text its own.
    void tagsOrderAndSharedAttributes()
    {
        const QString p = path("tags.recwb");
        {
            auto ws = Workspace::open(p, Workspace::Mode::CreateOrOpen);
            ImportReport report;
            report.format = QStringLiteral("test");
            ImportWriter w(*ws, report);
            for (const char* id : { "i1", "i2", "i3" })
                w.upsertItem({ QString::fromLatin1(id), QString::fromLatin1(id), {}, {}, {}, {} });
            const QJsonObject same { { QStringLiteral("gender"), QStringLiteral("F") }, { QStringLiteral("age"), 31 } };
            w.upsertUser({ QStringLiteral("u1"), same });
            w.upsertUser({ QStringLiteral("u2"), same });
            w.upsertUser({ QStringLiteral("u3"), QJsonObject { { QStringLiteral("age"), 70 } } });
            const auto u1 = w.userId(QStringLiteral("u1"));
            const auto i1 = w.itemId(QStringLiteral("i1"));
            const auto i2 = w.itemId(QStringLiteral("i2"));
            // i1: "funny" x3, "été" x2, "zany" x2, "alpha" x1; i2: "alpha" x1; i3: none
            int ts = 1;
            for (const auto& [tag, n] : { std::pair { "zany", 2 }, { "alpha", 1 }, { "funny", 3 }, { "\xc3\xa9t\xc3\xa9", 2 } })
                for (int k = 0; k < n; ++k)
                    w.addTag(i1, u1, QString::fromUtf8(tag), ts++);
            w.addTag(i2, u1, QStringLiteral("alpha"), ts++);
            w.commit();
        }
        const Dataset ds = Workspace::open(p)->load();
        QCOMPARE(ds.items[ds.itemIndex(QStringLiteral("i1"))].tags,
            (QStringList { QStringLiteral("funny"), QStringLiteral("zany"), QString::fromUtf8("\xc3\xa9t\xc3\xa9"),
                QStringLiteral("alpha") }));
        QCOMPARE(ds.items[ds.itemIndex(QStringLiteral("i2"))].tags, QStringList { QStringLiteral("alpha") });
        QVERIFY(ds.items[ds.itemIndex(QStringLiteral("i3"))].tags.isEmpty());
        const QJsonObject& a1 = ds.users[static_cast<size_t>(ds.userIndex(QStringLiteral("u1")))].attributes;
        QCOMPARE(a1.value(QStringLiteral("gender")).toString(), QStringLiteral("F"));
        QCOMPARE(a1, ds.users[static_cast<size_t>(ds.userIndex(QStringLiteral("u2")))].attributes);
        QCOMPARE(ds.users[static_cast<size_t>(ds.userIndex(QStringLiteral("u3")))].attributes.value(QStringLiteral("age")).toInt(), 70);
    }

    void failedImportLeavesWorkspaceUnchanged()
    {
        const QString p = path("atomic.recwb");
        auto ws = Workspace::open(p, Workspace::Mode::CreateOrOpen);
        fillSmall(*ws);
        const auto before = ws->summary();
        try {
            ImportReport report;
            ImportWriter w(*ws, report);
            for (int i = 0; i < 1000; ++i)
                w.addInteraction(w.userId(QStringLiteral("n%1").arg(i)), w.itemId(QStringLiteral("x%1").arg(i)), 1, i);
            throw Error(QStringLiteral("half-way failure"));
        } catch (const Error&) {
        }
        const auto after = ws->summary();
        QCOMPARE(after.users, before.users);
        QCOMPARE(after.items, before.items);
        QCOMPARE(after.interactions, before.interactions);
        // And the workspace still takes writes.
        ws->setMeta(QStringLiteral("k"), QStringLiteral("v"));
        QCOMPARE(ws->meta(QStringLiteral("k")), QStringLiteral("v"));
    }

    void migratesFromVersion1()
    {
        const QString p = path("v1.recwb");
        Workspace::createAtVersion(p, 1);
        {
            sqlite3* db = nullptr;
            QCOMPARE(sqlite3_open(p.toUtf8().constData(), &db), SQLITE_OK);
            QCOMPARE(sqlite3_exec(db,
                         "INSERT INTO users(id, external_id) VALUES(1, 'old');"
                         "INSERT INTO items(id, external_id, title) VALUES(1, 'it', 'Old item');"
                         "INSERT INTO interactions VALUES(1, 1, 2.5, 42);",
                         nullptr, nullptr, nullptr),
                SQLITE_OK);
            sqlite3_close(db);
        }
        auto ws = Workspace::open(p);
        QCOMPARE(ws->schemaVersion(), Workspace::kSchemaVersion);
        QCOMPARE(ws->summary().interactions, 1);
        // The v2 tables exist after migration.
        sqlite3_stmt* st = nullptr;
        QCOMPARE(sqlite3_prepare_v2(ws->db(), "SELECT count(*) FROM model_snapshots", -1, &st, nullptr), SQLITE_OK);
        sqlite3_finalize(st);
    }

    void rejectsNewerSchema()
    {
        const QString p = path("newer.recwb");
        Workspace::createAtVersion(p, Workspace::kSchemaVersion);
        {
            sqlite3* db = nullptr;
            sqlite3_open(p.toUtf8().constData(), &db);
            sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
            sqlite3_close(db);
        }
        try {
            Workspace::open(p);
            QFAIL("a newer schema must be refused");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("newer")), qPrintable(e.message()));
            QVERIFY(e.message().contains(p));
        }
    }

    void rejectsNonWorkspaceFiles_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("expected");
        QTest::addRow("text") << QByteArray("user,item\n1,2\n") << QStringLiteral("not an SQLite database");
        QTest::addRow("binary") << QByteArray(4096, '\x7f') << QStringLiteral("not an SQLite database");
    }
    void rejectsNonWorkspaceFiles()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, expected);
        const QString p = path("bogus.recwb");
        {
            QFile f(p);
            QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
            f.write(content);
        }
        try {
            Workspace::open(p);
            QFAIL("must be refused");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(expected), qPrintable(e.message()));
            QVERIFY(e.message().contains(p));
        }
        // The file is untouched.
        QFile f(p);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), content);
    }

    void rejectsForeignSqlite()
    {
        const QString p = path("foreign.sqlite");
        sqlite3* db = nullptr;
        sqlite3_open(p.toUtf8().constData(), &db);
        sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
        sqlite3_close(db);
        QVERIFY_THROWS_EXCEPTION(Error, Workspace::open(p));
    }

    void largeLoadReadsBothHalvesExactly()
    {
        // Above 200,000 interactions the load reads two user-id halves on two connections.
        auto ws = largeWorkspace("large.recwb");
        const Dataset ds = ws->load();
        QCOMPARE(ds.numInteractions(), ws->summary().interactions);
        QVERIFY(ds.numInteractions() > 200'000);
        sql::Statement st(ws->db(), "SELECT u.external_id, count(*), sum(i.ts), sum(it.id) FROM interactions i "
                                    "JOIN users u ON u.id = i.user_id JOIN items it ON it.id = i.item_id GROUP BY u.id");
        int checked = 0;
        while (st.step()) {
            const int32_t u = ds.userIndex(st.text(0));
            QVERIFY(u >= 0);
            QCOMPARE(static_cast<int64_t>(ds.interactionCount(u)), st.int64(1));
            int64_t tsSum = 0, idSum = 0;
            const auto row = ds.userItems.row(u);
            for (size_t k = 0; k < row.size(); ++k) {
                if (k > 0)
                    QVERIFY(row[k - 1] < row[k]);
                tsSum += ds.userItems.rowTimestamps(u)[k];
                idSum += ds.items[static_cast<size_t>(row[k])].dbId;
            }
            QCOMPARE(tsSum, st.int64(2));
            QCOMPARE(idSum, st.int64(3));
            ++checked;
        }
        QVERIFY(checked > 2500);
    }

    // Timestamps are held as 32-bit offsets from the first row's when they all lie within
    // 68 years of it, and as 64-bit values otherwise (here milliseconds and one far past):
    // either way every one reads back exactly, on both halves of the parallel read.
    void timestampsNarrowAndWide()
    {
        auto ws = largeWorkspace("times.recwb");
        const auto check = [&](bool narrow) {
            const Dataset ds = ws->load();
            QCOMPARE(ds.userItems.timestamps.isNarrow(), narrow);
            QCOMPARE(ds.userItems.timestamps.size(), static_cast<size_t>(ds.numInteractions()));
            sql::Statement st(ws->db(),
                "SELECT u.external_id, it.external_id, i.ts FROM interactions i JOIN users u ON u.id = i.user_id "
                "JOIN items it ON it.id = i.item_id");
            int64_t rows = 0;
            while (st.step()) {
                const int32_t u = ds.userIndex(st.text(0));
                const int32_t item = ds.itemIndex(st.text(1));
                const auto row = ds.userItems.row(u);
                const auto at = std::lower_bound(row.begin(), row.end(), item);
                QVERIFY(at != row.end() && *at == item);
                const int64_t got = ds.userItems.rowTimestamps(u)[static_cast<size_t>(at - row.begin())];
                if (got != st.int64(2))
                    QFAIL(qPrintable(QStringLiteral("user %1 item %2: %3, stored %4")
                                         .arg(st.text(0), st.text(1))
                                         .arg(got)
                                         .arg(st.int64(2))));
                ++rows;
            }
            QCOMPARE(rows, ds.numInteractions());
        };
        check(true);
        // Milliseconds on the first users, seconds elsewhere, one timestamp before 1900.
        sql::exec(ws->db(), "UPDATE interactions SET ts = ts * 1000 + (item_id % 1000) WHERE user_id <= 40");
        sql::exec(ws->db(), "UPDATE interactions SET ts = -2300000000 WHERE user_id = (SELECT max(user_id) FROM "
                            "interactions) AND item_id = (SELECT max(item_id) FROM interactions WHERE user_id = "
                            "(SELECT max(user_id) FROM interactions))");
        check(false);
    }

    void missingFile()
    {
        try {
            Workspace::open(path("nope.recwb"));
            QFAIL("must throw");
        } catch (const Error& e) {
            QVERIFY(e.message().contains(QStringLiteral("no such workspace")));
        }
    }
};

QTEST_GUILESS_MAIN(TestWorkspace)
#include "tst_workspace.moc"
