#include "data/workspace.h"
#include "rerank/llm/keystore.h"
#include "rerank/store.h"
#include "testllmserver.h"
#include "testutil.h"

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QThread>
#include <QTimer>

using namespace recwb;

// recwb-cli endpoints add | edit | duplicate | remove | test | set-key, run as a program
// against a real workspace file and the local test LLM server of this process.
class TestCliEndpoints : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    test::TestLlmServer m_server;
    static constexpr const char* kFakeKey = "sk-fake-endpoints-TEST-7731";
    static constexpr const char* kStdinKey = "sk-stdin-NEVER-STORE-5150";

    struct Run {
        int code = -1;
        QString out;
        QString err;
    };
    // Runs recwb-cli without blocking this thread's event loop: the test server lives here.
    static Run cli(const QStringList& args, const QByteArray& input = {})
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), QString::fromLatin1(kFakeKey));
        env.remove(QStringLiteral("RECWB_TEST_UNSET_KEY"));
        p.setProcessEnvironment(env);
        QEventLoop loop;
        QObject::connect(&p, &QProcess::finished, &loop, &QEventLoop::quit);
        QObject::connect(&p, &QProcess::errorOccurred, &loop, &QEventLoop::quit);
        QTimer::singleShot(recwb::test::scaledTimeout(120000), &loop, &QEventLoop::quit);
        p.start(QStringLiteral(RECWB_CLI_PATH), args);
        if (!p.waitForStarted(10000))
            return {};
        p.write(input);
        p.closeWriteChannel();
        if (p.state() != QProcess::NotRunning)
            loop.exec();
        if (p.state() != QProcess::NotRunning) {
            p.kill();
            p.waitForFinished();
            return {};
        }
        return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1,
            QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
    }
    QStringList ep(const QString& action, const QStringList& rest = {}) const
    {
        return QStringList { QStringLiteral("endpoints"), action, QStringLiteral("-w"), m_ws } + rest;
    }
    Run add(const QString& name, const QString& kind, const QString& baseUrl, const QString& model,
        const QStringList& extra = {})
    {
        return cli(ep(QStringLiteral("add"),
            QStringList { QStringLiteral("--name"), name, QStringLiteral("--kind"), kind, QStringLiteral("--base-url"),
                baseUrl, QStringLiteral("--model"), model, QStringLiteral("--max-retries"), QStringLiteral("0") }
                + extra));
    }
    std::optional<rerank::EndpointProfile> stored(const QString& name) const
    {
        const auto ws = Workspace::open(m_ws);
        return rerank::store::findEndpoint(*ws, name);
    }
    QByteArray workspaceBytes() const { return test::workspaceFileBytes(m_ws); }
    static quint16 deadPort()
    {
        QTcpServer s;
        if (!s.listen(QHostAddress::LocalHost))
            return 1;
        return s.serverPort(); // closed when s goes: nothing listens there afterwards
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_ws = m_dir.filePath(QStringLiteral("endpoints.recwb"));
        QVERIFY(Workspace::open(m_ws, Workspace::Mode::CreateOrOpen) != nullptr);
    }

    void init() { m_server.resetCounters(); }

    void editDuplicateRemove()
    {
        const Run a = add(QStringLiteral("local"), QStringLiteral("openai"), m_server.openAiBaseUrl(),
            QStringLiteral("small-1"),
            { QStringLiteral("--timeout-ms"), QStringLiteral("4321"), QStringLiteral("--price-output"),
                QStringLiteral("1.6") });
        QVERIFY2(a.code == 0, qPrintable(a.err));

        // edit changes only what is given.
        const Run e = cli(ep(QStringLiteral("edit"),
            { QStringLiteral("local"), QStringLiteral("--model"), QStringLiteral("small-2"),
                QStringLiteral("--max-concurrent"), QStringLiteral("3") }));
        QVERIFY2(e.code == 0, qPrintable(e.err));
        auto local = stored(QStringLiteral("local"));
        QVERIFY(local);
        QCOMPARE(local->model, QStringLiteral("small-2"));
        QCOMPARE(local->maxConcurrent, 3);
        QCOMPARE(local->timeoutMs, 4321);
        QCOMPARE(local->baseUrl, m_server.openAiBaseUrl());
        QCOMPARE(local->prices.output, std::optional<double>(1.6));

        // A bad value in an edit changes nothing and names the option.
        const Run bad = cli(ep(QStringLiteral("edit"),
            { QStringLiteral("local"), QStringLiteral("--base-url"), QStringLiteral("ftp://x") }));
        QVERIFY(bad.code != 0);
        QVERIFY2(bad.err.contains(QStringLiteral("ftp://x")), qPrintable(bad.err));
        QCOMPARE(stored(QStringLiteral("local"))->baseUrl, m_server.openAiBaseUrl());
        const Run missing = cli(
            ep(QStringLiteral("edit"), { QStringLiteral("nope"), QStringLiteral("--model"), QStringLiteral("x") }));
        QVERIFY(missing.code != 0);
        QVERIFY2(missing.err.contains(QStringLiteral("nope")), qPrintable(missing.err));

        // duplicate copies every option under the new name.
        const Run d = cli(ep(QStringLiteral("duplicate"), { QStringLiteral("local"), QStringLiteral("local-copy") }));
        QVERIFY2(d.code == 0, qPrintable(d.err));
        const auto copy = stored(QStringLiteral("local-copy"));
        QVERIFY(copy);
        QCOMPARE(copy->model, QStringLiteral("small-2"));
        QCOMPARE(copy->timeoutMs, 4321);
        QCOMPARE(copy->maxConcurrent, 3);
        const Run twice
            = cli(ep(QStringLiteral("duplicate"), { QStringLiteral("local"), QStringLiteral("local-copy") }));
        QVERIFY(twice.code != 0);
        QVERIFY2(twice.err.contains(QStringLiteral("exists already")), qPrintable(twice.err));
        const Run noNew = cli(ep(QStringLiteral("duplicate"), { QStringLiteral("local") }));
        QVERIFY(noNew.code != 0);
        QVERIFY2(noNew.err.contains(QStringLiteral("NEWNAME")), qPrintable(noNew.err));

        const Run rm = cli(ep(QStringLiteral("remove"), { QStringLiteral("local-copy") }));
        QVERIFY2(rm.code == 0, qPrintable(rm.err));
        QVERIFY(!stored(QStringLiteral("local-copy")));
        QVERIFY(stored(QStringLiteral("local")));
    }

    void testAnswers_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<bool>("openAiUrl");
        QTest::addColumn<QString>("path");
        QTest::addRow("openai") << QStringLiteral("openai") << true << QStringLiteral("/v1/chat/completions");
        QTest::addRow("anthropic") << QStringLiteral("anthropic") << false << QStringLiteral("/v1/messages");
        QTest::addRow("gemini") << QStringLiteral("gemini") << false
                                << QStringLiteral("/v1beta/models/test-model-g:generateContent");
        QTest::addRow("ollama") << QStringLiteral("ollama") << false << QStringLiteral("/api/chat");
    }
    void testAnswers()
    {
        QFETCH(QString, kind);
        QFETCH(bool, openAiUrl);
        QFETCH(QString, path);
        const QString name = QStringLiteral("t-") + kind;
        const QString model = kind == u"gemini" ? QStringLiteral("test-model-g") : QStringLiteral("model-") + kind;
        QStringList extra;
        if (kind != u"ollama")
            extra = { QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY") };
        const Run a = add(name, kind, openAiUrl ? m_server.openAiBaseUrl() : m_server.baseUrl(), model, extra);
        QVERIFY2(a.code == 0, qPrintable(a.err));

        const Run t = cli(ep(QStringLiteral("test"), { name, QStringLiteral("--json") }));
        QVERIFY2(t.code == 0, qPrintable(t.err + t.out));
        const QJsonObject o = QJsonDocument::fromJson(t.out.toUtf8()).object();
        QCOMPARE(o.value(QStringLiteral("ok")).toBool(), true);
        QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
        QCOMPARE(o.value(QStringLiteral("http_status")).toInt(), 200);
        QCOMPARE(o.value(QStringLiteral("model")).toString(), model); // from the answer's envelope
        QVERIFY(o.value(QStringLiteral("latency_ms")).toDouble() > 0);
        QVERIFY(o.value(QStringLiteral("input_tokens")).toInt() > 0);
        QCOMPARE(o.value(QStringLiteral("error")).toString(), QString());

        // One small request went out, and it asked for at most 16 tokens.
        QCOMPARE(m_server.requestCount(path), 1);
        const QByteArray body = m_server.lastRequest(path).body;
        QVERIFY2(body.contains("16"), body.constData());
        QVERIFY(body.size() < 1024);

        // The text form: one line naming the endpoint, the latency and the model.
        const Run text = cli(ep(QStringLiteral("test"), { name }));
        QVERIFY2(text.code == 0, qPrintable(text.err));
        QVERIFY2(
            text.out.startsWith(QStringLiteral("endpoint '%1': ok: HTTP 200 in ").arg(name)), qPrintable(text.out));
        QVERIFY2(text.out.contains(QStringLiteral("model ") + model), qPrintable(text.out));
        QVERIFY(!text.out.contains(QString::fromLatin1(kFakeKey)) && !t.out.contains(QString::fromLatin1(kFakeKey)));
    }

    void testOfflineSendsNothing()
    {
        const Run t = cli(ep(QStringLiteral("test"), { QStringLiteral("offline") }));
        QVERIFY2(t.code == 0, qPrintable(t.err));
        QVERIFY2(t.out.contains(QStringLiteral("offline reranker: no network needed")), qPrintable(t.out));
        QCOMPARE(m_server.requestCount(), 0);
    }

    void testFailures_data()
    {
        QTest::addColumn<QString>("baseUrl");
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("keyEnv");
        QTest::addColumn<QStringList>("expected");
        const QString dead = QStringLiteral("http://127.0.0.1:%1/v1").arg(deadPort());
        QTest::addRow("dead port") << dead << QStringLiteral("m") << QString()
                                   << QStringList { QStringLiteral("POST ") + dead
                                              + QStringLiteral("/chat/completions"),
                                          QStringLiteral("network_error") };
        QTest::addRow("http 500") << QString() << QStringLiteral("m[[fault:http500]]") << QString()
                                  << QStringList { QStringLiteral("/v1/chat/completions"), QStringLiteral("HTTP 500") };
        QTest::addRow("key variable unset")
            << QString() << QStringLiteral("m") << QStringLiteral("RECWB_TEST_UNSET_KEY")
            << QStringList { QStringLiteral("refused"), QStringLiteral("RECWB_TEST_UNSET_KEY") };
    }
    void testFailures()
    {
        QFETCH(QString, baseUrl);
        QFETCH(QString, model);
        QFETCH(QString, keyEnv);
        QFETCH(QStringList, expected);
        const QString name = QStringLiteral("failing");
        QStringList extra;
        if (!keyEnv.isEmpty())
            extra = { QStringLiteral("--key-env"), keyEnv };
        cli(ep(QStringLiteral("remove"), { name })); // the previous row's profile: add never overwrites
        const Run a
            = add(name, QStringLiteral("openai"), baseUrl.isEmpty() ? m_server.openAiBaseUrl() : baseUrl, model, extra);
        QVERIFY2(a.code == 0, qPrintable(a.err));
        const Run t = cli(ep(QStringLiteral("test"), { name }));
        QVERIFY(t.code != 0);
        QVERIFY(t.code != -1);
        const QString line = t.err.trimmed();
        QVERIFY2(!line.contains(u'\n'), qPrintable(line)); // one line
        QVERIFY2(line.contains(QStringLiteral("endpoint '%1'").arg(name)), qPrintable(line));
        for (const QString& e : expected)
            QVERIFY2(line.contains(e), qPrintable(QStringLiteral("'%1' not in: %2").arg(e, line)));
        QVERIFY(t.out.isEmpty());
        // --json still prints the result, and fails the same way.
        const Run j = cli(ep(QStringLiteral("test"), { name, QStringLiteral("--json") }));
        QVERIFY(j.code != 0);
        const QJsonObject o = QJsonDocument::fromJson(j.out.toUtf8()).object();
        QCOMPARE(o.value(QStringLiteral("ok")).toBool(true), false);
        QVERIFY(!o.value(QStringLiteral("error")).toString().isEmpty());
    }

    void setKeyRefusesEmptyAndOffline()
    {
        const Run a
            = add(QStringLiteral("keyed"), QStringLiteral("openai"), m_server.openAiBaseUrl(), QStringLiteral("m"));
        QVERIFY2(a.code == 0, qPrintable(a.err));
        for (const QByteArray& input : { QByteArray(), QByteArray("\n"), QByteArray("   \n") }) {
            const Run r = cli(ep(QStringLiteral("set-key"), { QStringLiteral("keyed") }), input);
            QVERIFY(r.code > 0);
            QVERIFY2(r.err.contains(QStringLiteral("empty key is refused")), qPrintable(r.err));
        }
        QCOMPARE(stored(QStringLiteral("keyed"))->keychainEntry, QString());
        const Run offline = cli(ep(QStringLiteral("set-key"), { QStringLiteral("offline") }), "sk-whatever-1234\n");
        QVERIFY(offline.code > 0);
        QVERIFY2(offline.err.contains(QStringLiteral("needs no key")), qPrintable(offline.err));
        const Run none = cli(ep(QStringLiteral("set-key"), { QStringLiteral("no-such") }), "sk-whatever-1234\n");
        QVERIFY(none.code > 0);
        QVERIFY2(none.err.contains(QStringLiteral("no-such")), qPrintable(none.err));
        QVERIFY(!workspaceBytes().contains("sk-whatever-1234"));
    }

    // recwb-cli starts itself again, once, with glibc's heap on transparent huge pages
    // (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), unless told not to or already told how. Read
    // from the running process's /proc/PID/environ, which shows the environment of its
    // current image: set-key waits on standard input after it has opened the workspace, so
    // by the time the workspace is among its open files, any restart has happened.
    void restartsWithHugePageHeap()
    {
        if (!QFileInfo::exists(QStringLiteral("/proc/self/environ")))
            QSKIP("no /proc here: the restart is Linux-only");
        QFile thp(QStringLiteral("/sys/kernel/mm/transparent_hugepage/enabled"));
        const bool thpUsable = thp.open(QIODevice::ReadOnly) && !thp.readAll().contains("[never]");
        const Run a = add(QStringLiteral("heap-probe"), QStringLiteral("openai"), m_server.openAiBaseUrl(),
            QStringLiteral("small-1"));
        QVERIFY2(a.code == 0, qPrintable(a.err));

        struct Case {
            const char* what;
            QByteArray marker; // RECWB_HEAP_HUGEPAGES given, empty for none
            QByteArray tunables; // GLIBC_TUNABLES given, empty for none
            QByteArray expectTunables; // in the running program, empty for none
        };
        const QByteArray on = "glibc.malloc.hugetlb=1";
        const Case cases[] = {
            { "plain start", {}, {}, thpUsable ? on : QByteArray() },
            { "tunables of the caller's kept", {}, "glibc.malloc.tcache_count=7",
                thpUsable ? "glibc.malloc.tcache_count=7:" + on : QByteArray("glibc.malloc.tcache_count=7") },
            { "the caller's own choice stands", {}, "glibc.malloc.hugetlb=0", "glibc.malloc.hugetlb=0" },
            { "opted out", "0", {}, {} },
        };
        const QString wsPath = QFileInfo(m_ws).canonicalFilePath();
        for (const Case& c : cases) {
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.remove(QStringLiteral("RECWB_HEAP_HUGEPAGES"));
            env.remove(QStringLiteral("GLIBC_TUNABLES"));
            if (!c.marker.isEmpty())
                env.insert(QStringLiteral("RECWB_HEAP_HUGEPAGES"), QString::fromLatin1(c.marker));
            if (!c.tunables.isEmpty())
                env.insert(QStringLiteral("GLIBC_TUNABLES"), QString::fromLatin1(c.tunables));
            p.setProcessEnvironment(env);
            p.start(QStringLiteral(RECWB_CLI_PATH), ep(QStringLiteral("set-key"), { QStringLiteral("heap-probe") }));
            QVERIFY(p.waitForStarted(10000));
            const QString proc = QStringLiteral("/proc/%1").arg(p.processId());
            const auto hasWorkspaceOpen = [&] {
                const QDir fds(proc + QStringLiteral("/fd"));
                for (const QFileInfo& fd : fds.entryInfoList(QDir::Files | QDir::System | QDir::NoDotAndDotDot))
                    if (fd.symLinkTarget() == wsPath)
                        return true;
                return false;
            };
            QElapsedTimer waited;
            waited.start();
            while (!hasWorkspaceOpen() && p.state() == QProcess::Running && waited.elapsed() < test::scaledTimeout(20000))
                QThread::msleep(10);
            QVERIFY2(hasWorkspaceOpen(), c.what);
            QFile environ(proc + QStringLiteral("/environ"));
            QVERIFY(environ.open(QIODevice::ReadOnly));
            const QByteArray raw = environ.readAll();
            // glibc 2.36 parses GLIBC_TUNABLES in place and writes a NUL over each ':' it
            // splits at, so the raw bytes of this image's variable are read back with ':'.
            const qsizetype at = raw.indexOf(QByteArray("GLIBC_TUNABLES="));
            QByteArray tunables;
            if (at >= 0 && (at == 0 || raw.at(at - 1) == '\0')) {
                tunables = raw.mid(at + 15, c.expectTunables.size());
                tunables.replace('\0', ':');
                QVERIFY2(raw.size() == at + 15 + tunables.size() || raw.at(at + 15 + tunables.size()) == '\0', c.what);
            }
            QVERIFY2(tunables == c.expectTunables, qPrintable(QStringLiteral("%1: GLIBC_TUNABLES=%2")
                                                                 .arg(QLatin1String(c.what), QString::fromLatin1(tunables))));
            const qsizetype markerAt = raw.indexOf(QByteArray("RECWB_HEAP_HUGEPAGES="));
            const bool hasMarker = markerAt == 0 || (markerAt > 0 && raw.at(markerAt - 1) == '\0');
            const QByteArray marker = hasMarker ? raw.mid(markerAt + 21).split('\0').value(0) : QByteArray();
            const bool restarted = c.marker.isEmpty() && !c.tunables.contains("hugetlb") && thpUsable;
            QVERIFY2(hasMarker == (restarted || !c.marker.isEmpty()), c.what);
            if (restarted)
                QCOMPARE(marker, QByteArray("1"));
            // The program goes on as usual after it: an empty key is refused, nothing stored.
            p.write("\n");
            p.closeWriteChannel();
            QVERIFY(p.waitForFinished(test::scaledTimeout(20000)));
            QVERIFY2(p.exitCode() > 0, c.what);
            QVERIFY2(p.readAllStandardError().contains("no key on standard input"), c.what);
        }
    }

    // set-key stores the key in the OS keychain and records only the entry name; without a
    // keychain (no Secret Service on this machine or in CI) it says so, points to
    // --key-env, and writes nothing.
    void setKeyFromStdin()
    {
        const QString name = QStringLiteral("keyed");
        QVERIFY(stored(name));
        const QString entry = rerank::KeyStore::entryForEndpoint(name);
        rerank::KeyStore probe;
        probe.setTimeoutMs(10000);
        QSignalSpy probed(probe.has(entry), &rerank::KeyJob::finished);
        QVERIFY(probed.wait(20000));
        const auto probeResult = probed.at(0).at(0).value<rerank::KeyStoreResult>();
        const bool available = probeResult.status != rerank::KeyStoreResult::Status::Unavailable;
        qInfo("keychain: %s", available ? "available" : qPrintable(probeResult.error));

        const QJsonObject profileBefore = stored(name)->toJson();
        const Run r = cli(ep(QStringLiteral("set-key"), { name }), QByteArray(kStdinKey) + "\n");
        QVERIFY(!r.out.contains(QString::fromLatin1(kStdinKey)) && !r.err.contains(QString::fromLatin1(kStdinKey)));
        QVERIFY(!workspaceBytes().contains(kStdinKey));
        if (!available) {
            QVERIFY(r.code > 0);
            const QString line = r.err.trimmed();
            QVERIFY2(!line.contains(u'\n'), qPrintable(line));
            QVERIFY2(line.contains(QStringLiteral("keychain")) && line.contains(QStringLiteral("--key-env")),
                qPrintable(line));
            QVERIFY2(line.contains(QStringLiteral("endpoint '%1'").arg(name)), qPrintable(line));
            QCOMPARE(stored(name)->toJson(), profileBefore); // nothing else written
            RECWB_KEYCHAIN_MISSING(QStringLiteral("the unavailable path passed; no Secret Service answers here (%1), "
                                                  "so the keychain write itself is not exercised")
                                       .arg(probeResult.error));
        }
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(stored(name)->keychainEntry, entry);
        QCOMPARE(stored(name)->keyEnv, QString());
        // The key comes back out of the keychain for a request.
        m_server.resetCounters();
        const Run t = cli(ep(QStringLiteral("test"), { name }));
        QVERIFY2(t.code == 0, qPrintable(t.err));
        QVERIFY(
            m_server.lastRequest(QStringLiteral("/v1/chat/completions")).header("authorization").contains(kStdinKey));
        QSignalSpy removed(probe.remove(entry), &rerank::KeyJob::finished);
        QVERIFY(removed.wait(20000));
    }
};

QTEST_GUILESS_MAIN(TestCliEndpoints)
#include "tst_cli_endpoints.moc"
