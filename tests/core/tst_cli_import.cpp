#include "testutil.h"

#include "data/sqlite.h"
#include "data/workspace.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <sys/stat.h>
#include <unistd.h>

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList& args, int timeoutMs = 120000)
{
    QProcess p;
    p.start(QStringLiteral(RECWB_CLI_PATH), args);
    if (!p.waitForFinished(timeoutMs))
        return {}; // exit code -1; the process is killed with p
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

// Starts an import that pauses RECWB_TEST_IMPORT_PAUSE_MS after opening its workspace.
void startPaused(QProcess& p, const QStringList& args, int pauseMs)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("RECWB_TEST_IMPORT_PAUSE_MS"), QString::number(pauseMs));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(RECWB_CLI_PATH), args);
}

Run finish(QProcess& p)
{
    if (!p.waitForFinished(120000))
        return {};
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

QString data(const char* name) { return recwb::test::testData(QStringLiteral("import/") + QLatin1StringView(name)); }

QJsonObject info(const QString& ws)
{
    const Run r = cli({ QStringLiteral("info"), QStringLiteral("-w"), ws, QStringLiteral("--json") });
    return QJsonDocument::fromJson(r.out.toUtf8()).object();
}

} // namespace

class TestCliImport : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;

private slots:
    void help()
    {
        const Run r = cli({ QStringLiteral("import"), QStringLiteral("--help") });
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains(QStringLiteral("--items-id-col")));
        QVERIFY(r.out.contains(QStringLiteral("--format")));
    }

    void importCsvText()
    {
        const QString ws = m_dir.filePath(QStringLiteral("text.recwb"));
        const Run r = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("--format"), QStringLiteral("csv"),
            QStringLiteral("--value-col"), QStringLiteral("rating"), QStringLiteral("--time-col"), QStringLiteral("ts"),
            QStringLiteral("--items"), data("items.csv"), QStringLiteral("--title-col"), QStringLiteral("title"),
            QStringLiteral("--categories-col"), QStringLiteral("genres"), QStringLiteral("--users"), data("users.csv"),
            data("good.csv") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains(QStringLiteral("interactions: 6 rows")), qPrintable(r.out));
        const QJsonObject s = info(ws);
        QCOMPARE(s.value(QStringLiteral("users")).toInt(), 3);
        QCOMPARE(s.value(QStringLiteral("items")).toInt(), 3);
        QCOMPARE(s.value(QStringLiteral("interactions")).toInt(), 6);
    }

    void importJsonAndPlayLog()
    {
        const QString ws = m_dir.filePath(QStringLiteral("json.recwb"));
        const Run r = cli({ QStringLiteral("import"), QStringLiteral("--workspace"), ws, QStringLiteral("--format"),
            QStringLiteral("csv"), QStringLiteral("--json"), QStringLiteral("--create"), QStringLiteral("--sep"),
            QStringLiteral("tab"), QStringLiteral("--interactions"), data("plays.tsv"), QStringLiteral("--user-col"),
            QStringLiteral("user"), QStringLiteral("--item-col"), QStringLiteral("artist_id"), QStringLiteral("--value-col"),
            QStringLiteral("plays"), QStringLiteral("--items"), data("artists.tsv"), QStringLiteral("--title-col"),
            QStringLiteral("name"), QStringLiteral("--categories-col"), QStringLiteral("genres"), QStringLiteral("--tags-col"),
            QStringLiteral("tags") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QJsonParseError pe;
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8(), &pe).object();
        QVERIFY2(pe.error == QJsonParseError::NoError, qPrintable(r.out));
        QCOMPARE(o.value(QStringLiteral("format")).toString(), QStringLiteral("tsv"));
        QCOMPARE(o.value(QStringLiteral("interaction_rows")).toInt(), 5);
        QCOMPARE(o.value(QStringLiteral("items_added")).toInt(), 3);
        QCOMPARE(o.value(QStringLiteral("tags_added")).toInt(), 6);
        QCOMPARE(o.value(QStringLiteral("rows_skipped")).toInt(), 0);
        QCOMPARE(o.value(QStringLiteral("workspace")).toString(), ws);
    }

    void failureLeavesWorkspaceUnchanged()
    {
        const QString ws = m_dir.filePath(QStringLiteral("fail.recwb"));
        const Run ok = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
            data("good.csv") });
        QVERIFY2(ok.exitCode == 0, qPrintable(ok.err));
        const QJsonObject before = info(ws);

        const Run bad = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
            QStringLiteral("--kind"), QStringLiteral("tsv"), data("comma_as_tsv.csv") });
        QVERIFY(bad.exitCode != 0);
        QCOMPARE(bad.err.trimmed().count(u'\n'), 0); // one line
        QVERIFY2(bad.err.contains(QStringLiteral("comma_as_tsv.csv:1")), qPrintable(bad.err));
        QVERIFY(bad.out.isEmpty());
        QCOMPARE(info(ws), before);

        const Run latin = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
            data("latin1.csv") });
        QVERIFY(latin.exitCode != 0);
        QCOMPARE(latin.err.trimmed().count(u'\n'), 0);
        QVERIFY2(latin.err.contains(QStringLiteral("latin1.csv:3")), qPrintable(latin.err));
        QCOMPARE(info(ws), before);

        // A failed first import does not leave an empty workspace behind.
        const QString fresh = m_dir.filePath(QStringLiteral("fresh.recwb"));
        const Run missing = cli({ QStringLiteral("import"), QStringLiteral("-w"), fresh, QStringLiteral("-f"),
            QStringLiteral("ml-100k"), m_dir.filePath(QStringLiteral("nowhere")) });
        QVERIFY(missing.exitCode != 0);
        QVERIFY(!QFileInfo::exists(fresh));

        const Run badFormat = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"),
            QStringLiteral("parquet"), data("good.csv") });
        QVERIFY(badFormat.exitCode != 0);
        QVERIFY(badFormat.err.contains(QStringLiteral("--format")));
    }

    // Issue 12 item 8: usage errors exit 2, as docs/IMPORT.md says.
    void usageErrorsExit2_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addRow("missing --format") << QStringList { data("good.csv") } << QStringLiteral("--format");
        QTest::addRow("unknown format") << QStringList { QStringLiteral("-f"), QStringLiteral("parquet"), data("good.csv") }
                                        << QStringLiteral("--format");
        QTest::addRow("no path") << QStringList { QStringLiteral("-f"), QStringLiteral("ml-100k") }
                                 << QStringLiteral("PATH");
        QTest::addRow("bad --sep") << QStringList { QStringLiteral("-f"), QStringLiteral("csv"), QStringLiteral("--sep"),
            QStringLiteral("ab"), data("good.csv") } << QStringLiteral("--sep");
    }
    void usageErrorsExit2()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const QString ws = m_dir.filePath(QStringLiteral("usage.recwb"));
        const Run r = cli(QStringList { QStringLiteral("import"), QStringLiteral("-w"), ws } + args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QVERIFY(!QFileInfo::exists(ws));
        const Run noWorkspace = cli({ QStringLiteral("import"), QStringLiteral("-f"), QStringLiteral("csv"), data("good.csv") });
        QCOMPARE(noWorkspace.exitCode, 2);
    }

    // Issue 12 item 1: two first imports into one new path. The one that fails (A, paused
    // after opening its workspace) must not remove what the other (B) created and filled
    // meanwhile; a winner that finds the path taken keeps nothing and says so.
    void firstImportRace()
    {
        const QString ws = m_dir.filePath(QStringLiteral("race.recwb"));
        const QStringList good { QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"),
            QStringLiteral("csv"), data("good.csv") };
        QProcess a;
        startPaused(a,
            { QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("ml-100k"),
                m_dir.filePath(QStringLiteral("nowhere")) },
            2000);
        QTest::qWait(700); // A has opened (created) its workspace and is paused
        const Run b = cli(good);
        QVERIFY2(b.exitCode == 0, qPrintable(b.err));
        const Run failed = finish(a);
        QVERIFY(failed.exitCode != 0);
        QVERIFY2(failed.err.contains(QStringLiteral("nowhere")), qPrintable(failed.err));
        QCOMPARE(info(ws).value(QStringLiteral("interactions")).toInt(), 6); // B's workspace is intact

        // Both succeed: the later one finds the path taken and keeps nothing of its own.
        const QString ws2 = m_dir.filePath(QStringLiteral("race2.recwb"));
        QProcess slow;
        startPaused(slow,
            { QStringLiteral("import"), QStringLiteral("-w"), ws2, QStringLiteral("-f"), QStringLiteral("csv"),
                data("plays.tsv"), QStringLiteral("--sep"), QStringLiteral("tab"), QStringLiteral("--user-col"),
                QStringLiteral("user"), QStringLiteral("--item-col"), QStringLiteral("artist_id") },
            2000);
        QTest::qWait(700);
        const Run fast = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws2, QStringLiteral("-f"),
            QStringLiteral("csv"), data("good.csv") });
        QVERIFY2(fast.exitCode == 0, qPrintable(fast.err));
        const Run late = finish(slow);
        QCOMPARE(late.exitCode, 1);
        QVERIFY2(late.err.contains(QStringLiteral("created by another process")), qPrintable(late.err));
        QCOMPARE(info(ws2).value(QStringLiteral("interactions")).toInt(), 6); // the fast one's data only
        const QStringList leftovers = QDir(m_dir.path()).entryList({ QStringLiteral(".race*") }, QDir::Files | QDir::Hidden);
        QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers.join(u' ')));
    }

    // Issue 12 item 2: symbolic links are followed, never removed; a dangling link and a loop
    // are reported as such.
    void symlinks()
    {
        const QString target = m_dir.filePath(QStringLiteral("real.recwb"));
        QVERIFY(cli({ QStringLiteral("import"), QStringLiteral("-w"), target, QStringLiteral("-f"), QStringLiteral("csv"),
                        data("good.csv") })
                    .exitCode
            == 0);
        const QString link = m_dir.filePath(QStringLiteral("link.recwb"));
        QVERIFY(QFile::link(target, link));
        const Run shown = cli({ QStringLiteral("info"), QStringLiteral("-w"), link });
        QVERIFY2(shown.exitCode == 0 && shown.out.contains(QStringLiteral(" -> ") + target), qPrintable(shown.out));
        const Run failing = cli({ QStringLiteral("import"), QStringLiteral("-w"), link, QStringLiteral("-f"),
            QStringLiteral("csv"), QStringLiteral("--kind"), QStringLiteral("tsv"), data("comma_as_tsv.csv") });
        QVERIFY(failing.exitCode != 0);
        QVERIFY(QFileInfo(link).isSymLink());
        QCOMPARE(info(link).value(QStringLiteral("interactions")).toInt(), 6);

        const QString dangling = m_dir.filePath(QStringLiteral("dangling.recwb"));
        QVERIFY(QFile::link(m_dir.filePath(QStringLiteral("target-dangling.recwb")), dangling));
        for (const QString& format : { QStringLiteral("csv"), QStringLiteral("ml-100k") }) {
            const Run r = cli({ QStringLiteral("import"), QStringLiteral("-w"), dangling, QStringLiteral("-f"), format,
                format == u"csv" ? data("good.csv") : m_dir.filePath(QStringLiteral("nowhere")) });
            QVERIFY(r.exitCode != 0);
            QVERIFY2(r.err.contains(QStringLiteral("does not exist")), qPrintable(r.err));
            QVERIFY(!QFileInfo::exists(m_dir.filePath(QStringLiteral("target-dangling.recwb"))));
            QVERIFY(QFileInfo(dangling).isSymLink());
        }

        const QString loopA = m_dir.filePath(QStringLiteral("loop-a.recwb"));
        const QString loopB = m_dir.filePath(QStringLiteral("loop-b.recwb"));
        QVERIFY(QFile::link(loopB, loopA) && QFile::link(loopA, loopB));
        for (const QString& command : { QStringLiteral("info"), QStringLiteral("import") }) {
            QStringList args { command, QStringLiteral("-w"), loopA };
            if (command == u"import")
                args += { QStringLiteral("-f"), QStringLiteral("csv"), data("good.csv") };
            const Run r = cli(args);
            QCOMPARE(r.exitCode, 1);
            QVERIFY2(r.err.contains(QStringLiteral("loop of symbolic links")), qPrintable(r.err));
        }
    }

    // Issue 12 items 3 and 8: a FIFO as the workspace or as input is refused at once, naming
    // it (it used to hang); a 0-byte file is not a workspace for info (and stays 0 bytes).
    void notRegularFiles()
    {
        const QString fifo = m_dir.filePath(QStringLiteral("fifo.recwb"));
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        QElapsedTimer clock;
        clock.start();
        const Run i = cli({ QStringLiteral("info"), QStringLiteral("-w"), fifo }, 10000);
        QCOMPARE(i.exitCode, 1);
        QVERIFY2(i.err.contains(fifo) && i.err.contains(QStringLiteral("not a regular file")), qPrintable(i.err));
        const Run im = cli({ QStringLiteral("import"), QStringLiteral("-w"), fifo, QStringLiteral("-f"),
                               QStringLiteral("csv"), data("good.csv") },
            10000);
        QCOMPARE(im.exitCode, 1);
        QVERIFY2(im.err.contains(QStringLiteral("not a regular file")), qPrintable(im.err));
        const QString ws = m_dir.filePath(QStringLiteral("pipe-input.recwb"));
        const Run input = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"),
                                  QStringLiteral("csv"), fifo },
            10000);
        QCOMPARE(input.exitCode, 1);
        QVERIFY2(input.err.contains(fifo) && input.err.contains(QStringLiteral("save the data to a file")),
            qPrintable(input.err));
        QVERIFY(!QFileInfo::exists(ws));
        QVERIFY(clock.elapsed() < 20000);

        const QString empty = m_dir.filePath(QStringLiteral("empty.recwb"));
        QFile f(empty);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        const Run e = cli({ QStringLiteral("info"), QStringLiteral("-w"), empty });
        QCOMPARE(e.exitCode, 1);
        QVERIFY2(e.err.contains(QStringLiteral("empty")), qPrintable(e.err));
        QCOMPARE(QFileInfo(empty).size(), 0);
    }

    // Issue 12 item 8: an import into a damaged workspace is refused (quick_check first).
    void damagedWorkspaceRefused()
    {
        const QString ws = m_dir.filePath(QStringLiteral("damaged.recwb"));
        QVERIFY(cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
                        data("good.csv") })
                    .exitCode
            == 0);
        qint64 root = 0;
        qint64 pageSize = 0;
        {
            const auto w = recwb::Workspace::open(ws);
            root = recwb::sql::queryInt(w->db(), "SELECT rootpage FROM sqlite_schema WHERE name = 'rerank_runs'");
            pageSize = recwb::sql::queryInt(w->db(), "PRAGMA page_size");
        }
        QVERIFY(root > 1);
        QFile f(ws);
        QVERIFY(f.open(QIODevice::ReadWrite));
        // A table the import does not write to: its page header and cell pointers.
        f.seek((root - 1) * pageSize);
        f.write(QByteArray(64, '\x5a'));
        f.close();
        const Run r = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
            data("plays.tsv"), QStringLiteral("--sep"), QStringLiteral("tab"), QStringLiteral("--user-col"),
            QStringLiteral("user"), QStringLiteral("--item-col"), QStringLiteral("artist_id") });
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(ws), qPrintable(r.err));
    }

    // Issue 12 item 8: info on a workspace in a folder without write permission works
    // (read-only, nothing written). As root, the CLI runs as nobody through setpriv.
    void readOnlyFolder()
    {
        QStringList prefix;
        if (::geteuid() == 0) {
            if (!QFileInfo::exists(QStringLiteral("/usr/bin/setpriv")))
                QSKIP("running as root without setpriv: permissions cannot be taken away");
            prefix = { QStringLiteral("--reuid=65534"), QStringLiteral("--regid=65534"), QStringLiteral("--clear-groups") };
        }
        QTemporaryDir dir(QDir::tempPath() + QStringLiteral("/recwb-ro-XXXXXX"));
        const QString ws = dir.filePath(QStringLiteral("ro.recwb"));
        QVERIFY(cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
                        data("good.csv") })
                    .exitCode
            == 0);
        const QByteArray before = recwb::test::workspaceFileBytes(ws);
        QFile::setPermissions(ws, QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
        QFile::setPermissions(dir.path(),
            QFileDevice::ReadOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup | QFileDevice::ExeGroup
                | QFileDevice::ReadOther | QFileDevice::ExeOther);
        QProcess p;
        if (prefix.isEmpty())
            p.start(QStringLiteral(RECWB_CLI_PATH), { QStringLiteral("info"), QStringLiteral("-w"), ws, QStringLiteral("--json") });
        else
            p.start(QStringLiteral("/usr/bin/setpriv"),
                prefix + QStringList { QStringLiteral(RECWB_CLI_PATH), QStringLiteral("info"), QStringLiteral("-w"), ws,
                    QStringLiteral("--json") });
        QVERIFY(p.waitForFinished(60000));
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QVERIFY2(p.exitCode() == 0, qPrintable(err));
        const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        QCOMPARE(o.value(QStringLiteral("interactions")).toInt(), 6);
        QCOMPARE(o.value(QStringLiteral("read_only")).toBool(), true);
        QCOMPARE(recwb::test::workspaceFileBytes(ws), before);
        QFile::setPermissions(dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    }

    // Issue 12 item 6: escape codes in catalog titles never reach the terminal (candidates,
    // prompts render); they show as \u001b.
    void escapesInTitlesAreInertOnTheTerminal()
    {
        const QString items = m_dir.filePath(QStringLiteral("ansi-items.csv"));
        {
            QFile f(items);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("item_id,title\ni1,Alpha\x1b]0;pwned\x07\ni2,Beta\x1b[2J\ni3,Gamma\x1b[31mred\n");
        }
        const QString ws = m_dir.filePath(QStringLiteral("ansi.recwb"));
        const Run imp = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("csv"),
            QStringLiteral("--items"), items, QStringLiteral("--title-col"), QStringLiteral("title"), data("good.csv") });
        QVERIFY2(imp.exitCode == 0, qPrintable(imp.err));
        for (const QStringList& args : { QStringList { QStringLiteral("candidates"), QStringLiteral("-w"), ws,
                                             QStringLiteral("--user"), QStringLiteral("u2"), QStringLiteral("--model"),
                                             QStringLiteral("pop") },
                 QStringList { QStringLiteral("prompts"), QStringLiteral("render"), QStringLiteral("-w"), ws,
                     QStringLiteral("--user"), QStringLiteral("u2") } }) {
            const Run r = cli(args);
            QVERIFY2(r.exitCode == 0, qPrintable(r.err));
            QVERIFY2(!r.out.contains(QChar(0x1b)) && !r.out.contains(QChar(0x07)), qPrintable(args.first()));
            QVERIFY2(r.out.contains(QStringLiteral("Beta")), qPrintable(r.out));
        }
    }

    void recBoleFolder()
    {
        const QString ws = m_dir.filePath(QStringLiteral("recbole.recwb"));
        const Run r = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("-f"), QStringLiteral("recbole"),
            QStringLiteral("--json"), data("recbole") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o.value(QStringLiteral("interaction_rows")).toInt(), 4);
        QCOMPARE(o.value(QStringLiteral("rows_skipped")).toInt(), 2);
    }
};

QTEST_GUILESS_MAIN(TestCliImport)
#include "tst_cli_import.moc"
