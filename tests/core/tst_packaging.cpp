#include "testutil.h"

#include <QProcess>
#include <QStandardPaths>
#include <QXmlStreamReader>

class TestPackaging : public QObject {
    Q_OBJECT

private:
    static QString packaging(const QString& relative)
    {
        return QDir(recwb::test::testData(QStringLiteral("../../packaging"))).absoluteFilePath(relative);
    }
    static const QString& appId()
    {
        static const QString id = QStringLiteral("io.github.recwb.Workbench");
        return id;
    }

    // Runs a tool; returns false (and sets output) when it is not installed.
    static bool run(const QString& tool, const QStringList& args, int& exitCode, QString& output)
    {
        const QString exe = QStandardPaths::findExecutable(tool);
        if (exe.isEmpty())
            return false;
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(exe, args);
        if (!p.waitForFinished(60000))
            qFatal("%s did not finish", qPrintable(tool));
        exitCode = p.exitCode();
        output = QString::fromLocal8Bit(p.readAll());
        return true;
    }

    static bool wellFormedXml(const QString& path, QString& error)
    {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) {
            error = f.errorString();
            return false;
        }
        QXmlStreamReader xml(&f);
        while (!xml.atEnd())
            xml.readNext();
        error = xml.errorString();
        return !xml.hasError();
    }

private slots:
    void desktopEntryIsValid()
    {
        const QString file = packaging(appId() + QStringLiteral(".desktop"));
        QVERIFY2(QFileInfo::exists(file), qPrintable(file));
        int rc = 0;
        QString output;
        if (!run(QStringLiteral("desktop-file-validate"), { file }, rc, output))
            QSKIP("desktop-file-validate is not installed (scripts/install-deps.sh installs desktop-file-utils)");
        QVERIFY2(rc == 0 && output.trimmed().isEmpty(), qPrintable(output));

        QFile f(file);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(f.readAll());
        QVERIFY(text.contains(QStringLiteral("\nExec=recwb %f\n")));
        QVERIFY(text.contains(QStringLiteral("\nIcon=") + appId() + u'\n'));
        QVERIFY(text.contains(QStringLiteral("MimeType=application/x-recwb-workspace;")));
    }

    void metainfoIsValid()
    {
        const QString file = packaging(appId() + QStringLiteral(".metainfo.xml"));
        QVERIFY2(QFileInfo::exists(file), qPrintable(file));
        int rc = 0;
        QString output;
        if (!run(QStringLiteral("appstreamcli"), { QStringLiteral("validate"), QStringLiteral("--no-net"), file }, rc, output))
            QSKIP("appstreamcli is not installed (scripts/install-deps.sh installs appstream)");
        QVERIFY2(rc == 0, qPrintable(output));
    }

    void iconAndMimeTypeAreWellFormed()
    {
        QString error;
        const QString icon = packaging(QStringLiteral("icons/") + appId() + QStringLiteral(".svg"));
        QVERIFY2(wellFormedXml(icon, error), qPrintable(icon + QStringLiteral(": ") + error));
        const QString mime = packaging(appId() + QStringLiteral(".mime.xml"));
        QVERIFY2(wellFormedXml(mime, error), qPrintable(mime + QStringLiteral(": ") + error));
        QFile f(mime);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll();
        QVERIFY(text.contains("type=\"application/x-recwb-workspace\""));
        QVERIFY(text.contains("pattern=\"*.recwb\""));
    }

    void cliPrintsTheProjectVersion()
    {
        QProcess p;
        p.start(QStringLiteral(RECWB_CLI_PATH), { QStringLiteral("--version") });
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitCode(), 0);
        QCOMPARE(QString::fromUtf8(p.readAllStandardOutput()).trimmed(), QStringLiteral("recwb-cli " RECWB_VERSION));
    }
};

QTEST_GUILESS_MAIN(TestPackaging)
#include "tst_packaging.moc"
