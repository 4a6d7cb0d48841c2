#include "testutil.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

namespace {

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

Run cli(const QStringList& args)
{
    QProcess p;
    p.start(QStringLiteral(RECWB_CLI_PATH), args);
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
