// Crash safety, measured: recwb-cli is SIGKILLed at seeded random points while it imports
// (into a new and into an existing workspace), trains and saves a snapshot, reranks a batch
// against the local test LLM server and adds a prompt version, and SIGKILLs a process of
// its own that gives review verdicts (no CLI command gives them). After every kill the
// workspace passes PRAGMA integrity_check, an import is all or nothing, a snapshot is whole
// or absent, and no finished stored rerank result is lost: resuming the killed run keeps
// every stored row unchanged and completes it; every verdict whose call returned is stored.
// Prints "kills survived X of Y"
// (docs/CRASHSAFETY.md). RECWB_CRASH_KILLS (kills per scenario, default 3) and
// RECWB_CRASH_SEED (default 12) change the run.
#include "testllmserver.h"
#include "testutil.h"

#include "review/review.h"

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QMap>
#include <QProcess>
#include <QTimer>
#include <cstdio>
#include <random>
#include <sqlite3.h>

using namespace recwb;

namespace {

// The rows of one query, each column as text ("" for NULL); empty on any error (with a warning).
QList<QStringList> query(const QString& path, const QString& sql)
{
    QList<QStringList> rows;
    sqlite3* db = nullptr;
    // Read-write, as the application opens it: a killed writer's WAL is recovered here.
    if (sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
        qWarning("cannot open %s: %s", qPrintable(path), db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return rows;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.toUtf8().constData(), -1, &st, nullptr) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            QStringList row;
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
                row << (text ? QString::fromUtf8(text) : QString());
            }
            rows << row;
        }
    } else {
        qWarning("%s: %s", qPrintable(sql), sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

qint64 count(const QString& path, const QString& sql)
{
    const auto rows = query(path, sql);
    return rows.isEmpty() ? -1 : rows.first().value(0).toLongLong();
}

QString integrity(const QString& path)
{
    QStringList lines;
    for (const QStringList& r : query(path, QStringLiteral("PRAGMA integrity_check")))
        lines << r.value(0);
    return lines.join(u'\n');
}

// Helper mode (--give-verdicts WORKSPACE QUEUE COUNT): gives COUNT verdicts on queue QUEUE,
// a note on every fifth, and prints each index once its calls returned.
int giveVerdicts(const QString& path, qint64 queue, int count)
{
    using namespace recwb::review;
    const auto ws = Workspace::open(path);
    const QString reviewer = QStringLiteral("crash");
    for (int i = 0; i < count; ++i) {
        const QString user = QStringLiteral("u%1").arg(i / 10), item = QStringLiteral("i%1").arg(i % 10);
        store::setVerdict(*ws, queue, user, item, reviewer, i % 2 ? Verdict::Bad : Verdict::Good);
        if (i % 5 == 0)
            store::setNote(*ws, queue, user, item, reviewer, QStringLiteral("note %1").arg(i));
        std::printf("%d\n", i);
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

class TestCrashSafety : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    test::TestLlmServer m_server;
    std::mt19937 m_rng;
    int m_killsPerScenario = 3;
    int m_tried = 0;
    int m_survived = 0;
    QString m_events; // interactions CSV (first import)
    QString m_moreEvents; // more interactions (second import)

    struct Run {
        bool killed = false; // SIGKILLed while running
        int code = -1; // exit code when it finished
        qint64 ms = 0; // how long it ran
        QString err;
        QByteArray out;
    };

    // Starts recwb-cli and SIGKILLs it after killAfterMs (< 0: lets it finish). The event
    // loop runs meanwhile, so the test LLM server in this process answers.
    static Run runCli(const QStringList& args, int killAfterMs = -1)
    {
        return runProgram(QStringLiteral(RECWB_CLI_PATH), args, killAfterMs);
    }

    static Run runProgram(const QString& program, const QStringList& args, int killAfterMs)
    {
        QProcess p;
        QEventLoop loop;
        QObject::connect(&p, &QProcess::finished, &loop, &QEventLoop::quit);
        QObject::connect(&p, &QProcess::errorOccurred, &loop, &QEventLoop::quit);
        QTimer killer;
        killer.setSingleShot(true);
        bool killed = false;
        QObject::connect(&killer, &QTimer::timeout, &loop, [&] {
            if (p.state() == QProcess::Running) {
                killed = true;
                p.kill(); // SIGKILL
            }
        });
        QTimer::singleShot(300000, &loop, &QEventLoop::quit);
        QElapsedTimer clock;
        clock.start();
        p.start(program, args);
        if (!p.waitForStarted(10000))
            return {};
        if (killAfterMs >= 0)
            killer.start(killAfterMs);
        if (p.state() == QProcess::Running)
            loop.exec();
        p.waitForFinished(10000);
        Run r;
        r.ms = clock.elapsed();
        r.killed = killed;
        r.code = killed ? -1 : p.exitCode();
        r.err = QString::fromUtf8(p.readAllStandardError());
        r.out = p.readAllStandardOutput();
        return r;
    }

    int killPoint(qint64 fullMs)
    {
        // Between 5 % and 95 % of an uninterrupted run (process start-up included).
        std::uniform_int_distribution<qint64> d(fullMs / 20, std::max<qint64>(fullMs / 20 + 1, fullMs * 19 / 20));
        return static_cast<int>(d(m_rng));
    }

    // Counts a kill that hit a running process; checks the workspace after it.
    bool afterKill(const Run& r, const QString& ws, const QString& what)
    {
        if (!r.killed)
            return false; // finished before the kill point: not a kill
        ++m_tried;
        if (QFileInfo::exists(ws)) {
            const QString check = integrity(ws);
            if (check != u"ok") {
                qWarning("%s: integrity_check after the kill: %s", qPrintable(what), qPrintable(check));
                return true;
            }
        }
        ++m_survived;
        return true;
    }

    static void writeEvents(const QString& path, int users, int items, int rows, int userOffset, quint32 seed)
    {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> u(0, users - 1), i(0, items - 1), v(1, 5);
        QByteArray text = "user_id,item_id,rating,ts\n";
        for (int r = 0; r < rows; ++r)
            text += QByteArray::number(userOffset + u(rng)) + ',' + QByteArray::number(i(rng)) + ','
                + QByteArray::number(v(rng)) + ',' + QByteArray::number(880000000 + r) + '\n';
        f.write(text);
    }

    static QStringList importArgs(const QString& ws, const QString& file)
    {
        return { QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("--format"), QStringLiteral("csv"),
            QStringLiteral("--value-col"), QStringLiteral("rating"), QStringLiteral("--time-col"), QStringLiteral("ts"),
            file };
    }

    static bool copyWorkspace(const QString& from, const QString& to)
    {
        for (const QString& suffix : { QString(), QStringLiteral("-wal"), QStringLiteral("-shm") })
            QFile::remove(to + suffix);
        return QFile::copy(from, to);
    }

    static QMap<QString, QString> results(const QString& ws, qint64 run)
    {
        QMap<QString, QString> out;
        for (const QStringList& r :
            query(ws, QStringLiteral("SELECT user_id, result FROM rerank_results WHERE run_id = %1").arg(run)))
            out.insert(r.value(0), r.value(1));
        return out;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        const int seed = qEnvironmentVariableIntValue("RECWB_CRASH_SEED");
        m_rng.seed(static_cast<quint32>(seed != 0 ? seed : 12));
        if (const int k = qEnvironmentVariableIntValue("RECWB_CRASH_KILLS"); k > 0)
            m_killsPerScenario = k;
        m_events = m_dir.filePath(QStringLiteral("events.csv"));
        m_moreEvents = m_dir.filePath(QStringLiteral("more.csv"));
        writeEvents(m_events, 3000, 1200, 150000, 0, 1);
        writeEvents(m_moreEvents, 1000, 1200, 60000, 100000, 2);
    }

    // A first import into a new path: after a kill the path is absent or holds the whole import.
    void killFirstImport()
    {
        const QString full = m_dir.filePath(QStringLiteral("first-full.recwb"));
        const Run whole = runCli(importArgs(full, m_events));
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        const qint64 rows = count(full, QStringLiteral("SELECT count(*) FROM interactions"));
        QVERIFY(rows > 100000);
        for (int k = 0; k < m_killsPerScenario; ++k) {
            const QString ws = m_dir.filePath(QStringLiteral("first-%1.recwb").arg(k));
            const Run r = runCli(importArgs(ws, m_events), killPoint(whole.ms));
            if (!afterKill(r, ws, QStringLiteral("first import")))
                continue;
            if (QFileInfo::exists(ws))
                QCOMPARE(count(ws, QStringLiteral("SELECT count(*) FROM interactions")), rows);
        }
    }

    // An import into a filled workspace: after a kill it holds the old rows or old + new, never a part.
    void killSecondImport()
    {
        const QString base = m_dir.filePath(QStringLiteral("base.recwb"));
        QVERIFY(runCli(importArgs(base, m_events)).code == 0);
        const qint64 before = count(base, QStringLiteral("SELECT count(*) FROM interactions"));
        const QString full = m_dir.filePath(QStringLiteral("second-full.recwb"));
        QVERIFY(copyWorkspace(base, full));
        const Run whole = runCli(importArgs(full, m_moreEvents));
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        const qint64 after = count(full, QStringLiteral("SELECT count(*) FROM interactions"));
        QVERIFY(after > before);
        for (int k = 0; k < m_killsPerScenario; ++k) {
            const QString ws = m_dir.filePath(QStringLiteral("second-%1.recwb").arg(k));
            QVERIFY(copyWorkspace(base, ws));
            const Run r = runCli(importArgs(ws, m_moreEvents), killPoint(whole.ms));
            if (!afterKill(r, ws, QStringLiteral("second import")))
                continue;
            const qint64 n = count(ws, QStringLiteral("SELECT count(*) FROM interactions"));
            QVERIFY2(n == before || n == after,
                qPrintable(QStringLiteral("%1 rows: neither %2 nor %3").arg(n).arg(before).arg(after)));
            // and the workspace still opens and imports
            QCOMPARE(runCli({ QStringLiteral("info"), QStringLiteral("-w"), ws }).code, 0);
        }
    }

    // train --name: a snapshot is kept whole (with its payload) or not at all.
    void killSnapshotWrite()
    {
        const QString base = m_dir.filePath(QStringLiteral("train-base.recwb"));
        QVERIFY(runCli(importArgs(base, m_events)).code == 0);
        const QStringList train { QStringLiteral("train"), QStringLiteral("--model"), QStringLiteral("ease"),
            QStringLiteral("--name"), QStringLiteral("crash") };
        const QString full = m_dir.filePath(QStringLiteral("train-full.recwb"));
        QVERIFY(copyWorkspace(base, full));
        const Run whole = runCli(QStringList { train } << QStringLiteral("-w") << full);
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        QCOMPARE(count(full, QStringLiteral("SELECT count(*) FROM model_snapshots WHERE payload IS NOT NULL")), 1);
        for (int k = 0; k < m_killsPerScenario; ++k) {
            const QString ws = m_dir.filePath(QStringLiteral("train-%1.recwb").arg(k));
            QVERIFY(copyWorkspace(base, ws));
            const Run r = runCli(QStringList { train } << QStringLiteral("-w") << ws, killPoint(whole.ms));
            if (!afterKill(r, ws, QStringLiteral("snapshot write")))
                continue;
            QCOMPARE(count(ws,
                         QStringLiteral(
                             "SELECT count(*) FROM model_snapshots WHERE payload IS NULL OR length(payload) = 0")),
                0);
            QVERIFY(count(ws, QStringLiteral("SELECT count(*) FROM model_snapshots")) <= 1);
        }
    }

    // A batch rerank against a server that answers after 60 ms: every result stored before
    // the kill is still there, unchanged, after --resume completes the run.
    void killBatchRerank()
    {
        const QString base = m_dir.filePath(QStringLiteral("rerank-base.recwb"));
        test::generateSmallWorkspace(base);
        const Run add = runCli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), base,
            QStringLiteral("--name"), QStringLiteral("slow"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), m_server.openAiBaseUrl(), QStringLiteral("--model"),
            QStringLiteral("m[[fault:delay:60]]"), QStringLiteral("--max-retries"), QStringLiteral("0") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
        const int users = 24;
        const QStringList batch { QStringLiteral("rerank"), QStringLiteral("--cohort"), QStringLiteral("all"),
            QStringLiteral("--limit"), QString::number(users), QStringLiteral("--endpoint"), QStringLiteral("slow"),
            QStringLiteral("--concurrency"), QStringLiteral("2"), QStringLiteral("--no-cache"),
            QStringLiteral("--summary-only"), QStringLiteral("--yes") };
        const QString full = m_dir.filePath(QStringLiteral("rerank-full.recwb"));
        QVERIFY(copyWorkspace(base, full));
        const Run whole = runCli(QStringList { batch } << QStringLiteral("-w") << full);
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        QCOMPARE(count(full, QStringLiteral("SELECT count(*) FROM rerank_results")), users);
        int resumed = 0;
        for (int k = 0; k < m_killsPerScenario; ++k) {
            const QString ws = m_dir.filePath(QStringLiteral("rerank-%1.recwb").arg(k));
            QVERIFY(copyWorkspace(base, ws));
            const Run r = runCli(QStringList { batch } << QStringLiteral("-w") << ws, killPoint(whole.ms));
            if (!afterKill(r, ws, QStringLiteral("batch rerank")))
                continue;
            const qint64 run = count(ws, QStringLiteral("SELECT coalesce(max(id), 0) FROM rerank_runs"));
            if (run <= 0)
                continue; // killed before the run was stored
            const QMap<QString, QString> before = results(ws, run);
            const QString status = query(
                ws, QStringLiteral("SELECT json_extract(params, '$.status') FROM rerank_runs WHERE id = %1").arg(run))
                                       .value(0)
                                       .value(0);
            if (status == u"finished") { // killed on the way out: nothing to resume
                QCOMPARE(before.size(), users);
                continue;
            }
            const Run resume = runCli({ QStringLiteral("rerank"), QStringLiteral("-w"), ws, QStringLiteral("--resume"),
                QString::number(run), QStringLiteral("--summary-only"), QStringLiteral("--yes") });
            QVERIFY2(resume.code == 0, qPrintable(resume.err));
            const QMap<QString, QString> after = results(ws, run);
            QCOMPARE(after.size(), users);
            for (auto it = before.begin(); it != before.end(); ++it)
                QVERIFY2(after.value(it.key()) == it.value(),
                    qPrintable(QStringLiteral("user row %1 changed or lost by the resume").arg(it.key())));
            QCOMPARE(integrity(ws), QStringLiteral("ok"));
            ++resumed;
        }
        qInfo("batch rerank: %d killed run(s) resumed to %d users with every stored row kept", resumed, users);
    }

    // prompts add-version: the version is there whole or not at all.
    void killPromptEdit()
    {
        const QString base = m_dir.filePath(QStringLiteral("prompt-base.recwb"));
        test::generateSmallWorkspace(base);
        const QString file = m_dir.filePath(QStringLiteral("edited.mustache"));
        const QByteArray text = "{{! system }}\nPick {{k}} items. Reply with JSON only.\n{{! user }}\n"
                                "{{#candidates}}{{external_id}} | {{title}}\n{{/candidates}}\n";
        {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        }
        const QStringList add { QStringLiteral("prompts"), QStringLiteral("add-version"), QStringLiteral("listwise"),
            QStringLiteral("--file"), file, QStringLiteral("--note"), QStringLiteral("edited") };
        const QString full = m_dir.filePath(QStringLiteral("prompt-full.recwb"));
        QVERIFY(copyWorkspace(base, full));
        const qint64 before = count(full, QStringLiteral("SELECT count(*) FROM prompt_templates"));
        const Run whole = runCli(QStringList { add } << QStringLiteral("-w") << full);
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        const qint64 after = count(full, QStringLiteral("SELECT count(*) FROM prompt_templates"));
        QVERIFY(after > before);
        const QString shippedSql = QStringLiteral("SELECT count(*) FROM prompt_templates WHERE note = 'shipped default'");
        const qint64 seededBase = count(base, shippedSql);
        const qint64 seededFull = count(full, shippedSql);
        for (int k = 0; k < m_killsPerScenario; ++k) {
            const QString ws = m_dir.filePath(QStringLiteral("prompt-%1.recwb").arg(k));
            QVERIFY(copyWorkspace(base, ws));
            const Run r = runCli(QStringList { add } << QStringLiteral("-w") << ws, killPoint(whole.ms));
            if (!afterKill(r, ws, QStringLiteral("prompt edit")))
                continue;
            // The first edit seeds the shipped templates (one transaction of its own) before it
            // adds the version (another): a kill between them leaves every shipped template and
            // no edit. Each transaction is whole or absent.
            const qint64 n = count(ws, QStringLiteral("SELECT count(*) FROM prompt_templates"));
            const qint64 seeded = count(ws, shippedSql);
            QVERIFY2(seeded == seededBase || seeded == seededFull, qPrintable(QString::number(seeded)));
            const auto edited = query(ws, QStringLiteral("SELECT text FROM prompt_templates WHERE note = 'edited'"));
            QVERIFY(edited.size() <= 1);
            QVERIFY(edited.isEmpty() || seeded == seededFull);
            QCOMPARE(n, before - seededBase + seeded + edited.size());
            QVERIFY(n >= before && n <= after);
            for (const QStringList& row : edited)
                QCOMPARE(row.value(0).toUtf8(), text); // whole, never a part
        }
    }

    // Review verdicts, given by a process of this test (--give-verdicts): every verdict and
    // note whose call returned (its index printed) is in the workspace after the kill.
    void killReviewVerdicts()
    {
        const QString base = m_dir.filePath(QStringLiteral("review-base.recwb"));
        qint64 queue = 0;
        {
            const auto ws = Workspace::open(base, Workspace::Mode::CreateOrOpen);
            review::QueueSpec spec;
            spec.name = QStringLiteral("crash");
            queue = review::store::createQueue(*ws, spec);
        }
        const int total = 3000;
        const auto give = [&](const QString& ws) {
            return QStringList { QStringLiteral("--give-verdicts"), ws, QString::number(queue),
                QString::number(total) };
        };
        const QString full = m_dir.filePath(QStringLiteral("review-full.recwb"));
        QVERIFY(copyWorkspace(base, full));
        const Run whole = runProgram(QCoreApplication::applicationFilePath(), give(full), -1);
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        QCOMPARE(count(full, QStringLiteral("SELECT count(*) FROM review_verdicts")), qint64(total));
        for (int k = 0; k < m_killsPerScenario; ++k) {
            const QString ws = m_dir.filePath(QStringLiteral("review-%1.recwb").arg(k));
            QVERIFY(copyWorkspace(base, ws));
            const Run r = runProgram(QCoreApplication::applicationFilePath(), give(ws), killPoint(whole.ms));
            if (!afterKill(r, ws, QStringLiteral("review verdicts")))
                continue;
            int returned = -1; // the last index printed: its calls and all before returned
            for (const QByteArray& line : r.out.split('\n'))
                if (!line.isEmpty())
                    returned = line.toInt();
            QMap<QString, QStringList> stored;
            for (const QStringList& row : query(ws, QStringLiteral("SELECT user_id || '/' || item_id, verdict, note "
                                                                   "FROM review_verdicts WHERE reviewer = 'crash'")))
                stored.insert(row.value(0), row.mid(1));
            QVERIFY(stored.size() >= returned + 1);
            for (int i = 0; i <= returned; ++i) {
                const QStringList row = stored.value(QStringLiteral("u%1/i%2").arg(i / 10).arg(i % 10));
                QCOMPARE(row.value(0), i % 2 ? QStringLiteral("bad") : QStringLiteral("good"));
                if (i % 5 == 0)
                    QCOMPARE(row.value(1), QStringLiteral("note %1").arg(i));
            }
            qInfo("review verdicts: killed after %d of %d verdicts returned, all stored", returned + 1, total);
        }
    }

    void cleanupTestCase()
    {
        qInfo("kills survived %d of %d", m_survived, m_tried);
        QCOMPARE(m_survived, m_tried);
    }
};

int main(int argc, char** argv)
{
    if (argc == 5 && qstrcmp(argv[1], "--give-verdicts") == 0)
        return giveVerdicts(
            QString::fromLocal8Bit(argv[2]), QByteArray(argv[3]).toLongLong(), QByteArray(argv[4]).toInt());
    QCoreApplication app(argc, argv);
    TestCrashSafety tc;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&tc, argc, argv);
}
#include "tst_crashsafety.moc"
