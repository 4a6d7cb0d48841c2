#include "testllmserver.h"
#include "testutil.h"

#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTimer>
#include <csignal>

// recwb-cli rerank against the in-process test LLM server: usable answer, cache hit on a
// repeat, --no-cache bypass. The CLI runs as a child process while this process's event
// loop serves its requests.
class TestLlmPipeline : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    recwb::test::TestLlmServer m_server;
    static constexpr const char* kPath = "/v1/chat/completions";

    using Run = recwb::test::CliRun;
    // Without blocking the event loop, so the server can answer.
    static Run cli(const QStringList& args) { return recwb::test::runCliAsync(args, QStringLiteral("sk-fake-pipeline-777")); }
    static QJsonObject jsonOf(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }
    Run rerank(const QStringList& extra = {})
    {
        return cli(QStringList { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
                       QStringLiteral("u1"), QStringLiteral("--endpoint"), QStringLiteral("test"), QStringLiteral("--json") }
            + extra);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_ws = m_dir.filePath(QStringLiteral("small.recwb"));
        const Run g = cli({ QStringLiteral("generate"), QStringLiteral("--out"), m_ws, QStringLiteral("--users"),
            QStringLiteral("200"), QStringLiteral("--items"), QStringLiteral("300"), QStringLiteral("--interactions"),
            QStringLiteral("6000") });
        QVERIFY2(g.code == 0, qPrintable(g.err));
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("test"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), m_server.openAiBaseUrl(), QStringLiteral("--model"), QStringLiteral("gpt-test"),
            QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("--price-input"),
            QStringLiteral("0.4"), QStringLiteral("--price-cached"), QStringLiteral("0.1"), QStringLiteral("--price-output"),
            QStringLiteral("1.6") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
    }

    void usableAnswerThenCacheHitThenBypass()
    {
        m_server.resetCounters();
        const Run first = rerank();
        QVERIFY2(first.code == 0, qPrintable(first.err));
        QJsonObject o = jsonOf(first);
        QVERIFY2(!o.value(QStringLiteral("fallback")).toBool(true), qPrintable(first.out));
        QCOMPARE(o.value(QStringLiteral("cache_hit")).toBool(true), false);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 1);
        // The key went out as a bearer token and nowhere else.
        QCOMPARE(m_server.lastRequest(QString::fromLatin1(kPath)).header("authorization"),
            QByteArray("Bearer sk-fake-pipeline-777"));
        QVERIFY(!first.out.contains(QStringLiteral("sk-fake")));
        const QJsonArray items = o.value(QStringLiteral("items")).toArray();
        QCOMPARE(items.size(), 10);
        for (const auto& v : items) {
            QVERIFY(!v.toObject().value(QStringLiteral("explanation")).toString().isEmpty());
            QVERIFY(!v.toObject().value(QStringLiteral("filled")).toBool(true));
        }
        const QJsonObject tokens = o.value(QStringLiteral("tokens")).toObject();
        QVERIFY(tokens.value(QStringLiteral("input")).toInteger() > 0);
        QVERIFY(tokens.value(QStringLiteral("output")).toInteger() > 0);
        QVERIFY(o.value(QStringLiteral("cost")).isDouble());
        QVERIFY(o.value(QStringLiteral("cost")).toDouble() > 0);

        // The same request again: served from the response cache, no call.
        const Run second = rerank();
        QVERIFY2(second.code == 0, qPrintable(second.err));
        const QJsonObject o2 = jsonOf(second);
        QVERIFY(o2.value(QStringLiteral("cache_hit")).toBool());
        QVERIFY(!o2.value(QStringLiteral("fallback")).toBool(true));
        QCOMPARE(o2.value(QStringLiteral("items")).toArray(), items);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 1);

        // --no-cache: a fresh call.
        const Run third = rerank({ QStringLiteral("--no-cache") });
        QVERIFY2(third.code == 0, qPrintable(third.err));
        const QJsonObject o3 = jsonOf(third);
        QCOMPARE(o3.value(QStringLiteral("cache_hit")).toBool(true), false);
        QVERIFY(!o3.value(QStringLiteral("fallback")).toBool(true));
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 2);
    }

    void unusableAnswerFallsBackAndIsNotCached()
    {
        m_server.resetCounters();
        m_server.setFault(QStringLiteral("truncated"));
        const Run r = rerank({ QStringLiteral("--k"), QStringLiteral("7") });
        m_server.clearFault();
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QVERIFY2(o.value(QStringLiteral("fallback")).toBool(), qPrintable(r.out));
        QVERIFY(!o.value(QStringLiteral("fallback_reason")).toString().isEmpty());
        const QJsonArray items = o.value(QStringLiteral("items")).toArray();
        QCOMPARE(items.size(), 7);
        for (int i = 0; i < items.size(); ++i)
            QCOMPARE(items[i].toObject().value(QStringLiteral("cf_rank")).toInt(), i + 1);
        // Not cached: the same command calls again.
        const Run again = rerank({ QStringLiteral("--k"), QStringLiteral("7") });
        QVERIFY(!jsonOf(again).value(QStringLiteral("cache_hit")).toBool(true));
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 2);
    }

    // A cohort batch through the CLI: summary JSON, the run stored and listed.
    void cohortBatchIsStoredAndListed()
    {
        m_server.resetCounters();
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--cohort"),
            QStringLiteral("warm"), QStringLiteral("--limit"), QStringLiteral("30"), QStringLiteral("--endpoint"),
            QStringLiteral("test"), QStringLiteral("--no-cache"), QStringLiteral("--concurrency"), QStringLiteral("5"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        const QJsonObject summary = o.value(QStringLiteral("summary")).toObject();
        QCOMPARE(summary.value(QStringLiteral("users")).toInt(), 30);
        QCOMPARE(summary.value(QStringLiteral("fallbacks")).toInt(), 0);
        QCOMPARE(o.value(QStringLiteral("users")).toArray().size(), 30);
        for (const auto& u : o.value(QStringLiteral("users")).toArray())
            QVERIFY(!u.toObject().value(QStringLiteral("cold_start")).toBool(true));
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 30);
        QVERIFY(m_server.maxInFlight(QString::fromLatin1(kPath)) <= 5);
        for (const char* stage : { "candidates", "enrichment", "render", "llm", "parse", "total" })
            QVERIFY(summary[QStringLiteral("latency_ms")][QLatin1String(stage)][QStringLiteral("p99")].toDouble() > 0);
        const qint64 runId = o.value(QStringLiteral("run_id")).toInteger();
        QVERIFY(runId > 0);

        const Run list = cli({ QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        const QJsonArray runs = QJsonDocument::fromJson(list.out.toUtf8()).array();
        QVERIFY(!runs.isEmpty());
        QCOMPARE(runs.first()[QStringLiteral("id")].toInteger(), runId);
        QCOMPARE(runs.first()[QStringLiteral("results")].toInt(), 30);
        const Run show = cli({ QStringLiteral("runs"), QStringLiteral("show"), QString::number(runId), QStringLiteral("-w"),
            m_ws, QStringLiteral("--json") });
        QCOMPARE(jsonOf(show).value(QStringLiteral("users")).toArray().size(), 30);
        const Run text = cli({ QStringLiteral("runs"), QStringLiteral("show"), QString::number(runId), QStringLiteral("-w"), m_ws });
        QVERIFY(text.out.contains(QStringLiteral("Latency ms")));
    }

    // An unknown id in --users stops before anything is sent, naming file and line.
    void usersFileWithUnknownIdNamesTheLine()
    {
        m_server.resetCounters();
        const QString file = m_dir.filePath(QStringLiteral("ids.txt"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("u1\n# a comment\n\nnobody-here\n");
        f.close();
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--users"), file,
            QStringLiteral("--endpoint"), QStringLiteral("test") });
        QVERIFY(r.code != 0);
        QVERIFY2(r.err.contains(QStringLiteral("ids.txt:4")) && r.err.contains(QStringLiteral("nobody-here")), qPrintable(r.err));
        QCOMPARE(m_server.requestCount(), 0);
    }

    // high-value marks drive the selective routing; everyone else keeps the CF order.
    void highValueUsersAreRouted()
    {
        m_server.resetCounters();
        const Run mark = cli({ QStringLiteral("high-value"), QStringLiteral("add"), QStringLiteral("u3"), QStringLiteral("-w"), m_ws });
        QVERIFY2(mark.code == 0, qPrintable(mark.err));
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            QStringLiteral("u3,u4"), QStringLiteral("--endpoint"), QStringLiteral("test"), QStringLiteral("--route"),
            QStringLiteral("selective"), QStringLiteral("--route-rules"), QStringLiteral("high_value"), QStringLiteral("--no-cache"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonArray users = jsonOf(r).value(QStringLiteral("users")).toArray();
        QCOMPARE(users.size(), 2);
        QCOMPARE(users[0][QStringLiteral("route")].toString(), QStringLiteral("high_value"));
        QCOMPARE(users[1][QStringLiteral("route")].toString(), QStringLiteral("confident"));
        QCOMPARE(users[1][QStringLiteral("answered_by")].toString(), QStringLiteral("cf"));
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 1);
        const Run unmark = cli({ QStringLiteral("high-value"), QStringLiteral("remove"), QStringLiteral("u3"), QStringLiteral("-w"), m_ws });
        QVERIFY(unmark.code == 0);
        const Run list = cli({ QStringLiteral("high-value"), QStringLiteral("list"), QStringLiteral("-w"), m_ws });
        QVERIFY(list.out.trimmed().isEmpty());
    }

    // The position-bias probe from the CLI: the test server follows the shown order.
    void probeFromTheCli()
    {
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), QStringLiteral("u5"),
            QStringLiteral("--endpoint"), QStringLiteral("test"), QStringLiteral("--probe"), QStringLiteral("3"),
            QStringLiteral("--json"), QStringLiteral("--summary-only") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonArray probes = jsonOf(r).value(QStringLiteral("position_bias")).toArray();
        QCOMPARE(probes.size(), 1);
        QCOMPARE(probes[0][QStringLiteral("runs")].toInt(), 3);
        QVERIFY(probes[0][QStringLiteral("mean_kendall_tau")].toDouble() < 0.9);
        QCOMPARE(probes[0][QStringLiteral("borda")].toArray().first()[QStringLiteral("rank")].toInt(), 1);
        const Run bad = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), QStringLiteral("u5"),
            QStringLiteral("--probe"), QStringLiteral("1") });
        QVERIFY(bad.code != 0 && bad.err.contains(QStringLiteral("--probe")));
    }

    // Issue 12 item 7: SIGINT during a batch cancels cleanly (no new calls, finished users
    // kept, the partial summary printed, exit 130); a SIGKILLed run is listed as interrupted
    // with a summary of what it holds; --resume finishes both without redoing a user.
    void interruptedRunsAreHonestAndResumable()
    {
        const QStringList batch { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--cohort"),
            QStringLiteral("warm"), QStringLiteral("--limit"), QStringLiteral("20"), QStringLiteral("--endpoint"),
            QStringLiteral("test"), QStringLiteral("--concurrency"), QStringLiteral("2"), QStringLiteral("--no-cache"),
            QStringLiteral("--summary-only") };
        auto interrupt = [&](int signal, Run& result) {
            m_server.resetCounters();
            m_server.setFault(QStringLiteral("delay:250"));
            QProcess p;
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("sk-fake-pipeline-777"));
            p.setProcessEnvironment(env);
            p.start(QStringLiteral(RECWB_CLI_PATH), batch);
            QVERIFY(QTest::qWaitFor([&] { return m_server.requestCount(QString::fromLatin1(kPath)) >= 6; }, 60000));
            ::kill(static_cast<pid_t>(p.processId()), signal);
            QVERIFY(QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, 30000));
            const int sent = m_server.requestCount(QString::fromLatin1(kPath));
            QTest::qWait(600); // nothing more arrives once it has stopped
            QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), sent);
            QVERIFY2(sent < 20, "the batch finished before the signal");
            m_server.clearFault();
            result = { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2,
                QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
        };
        auto lastRun = [&] {
            const Run list = cli({ QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
                QStringLiteral("--json") });
            return QJsonDocument::fromJson(list.out.toUtf8()).array().first().toObject();
        };

        Run canceled;
        interrupt(SIGINT, canceled);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(canceled.code, 130);
        QVERIFY2(canceled.out.contains(QStringLiteral("CANCELED")), qPrintable(canceled.out));
        QVERIFY2(canceled.err.contains(QStringLiteral("--resume")), qPrintable(canceled.err));
        QJsonObject run = lastRun();
        QCOMPARE(run.value(QStringLiteral("status")).toString(), QStringLiteral("canceled"));
        const int kept = run.value(QStringLiteral("results")).toInt();
        QVERIFY(kept > 0 && kept < 20);
        QCOMPARE(run.value(QStringLiteral("summary")).toObject().value(QStringLiteral("users")).toInt(), kept);
        QVERIFY2(canceled.out.contains(QStringLiteral("Users: %1").arg(kept)), qPrintable(canceled.out));

        Run killed;
        interrupt(SIGKILL, killed);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(killed.code, -2);
        const QJsonObject killedRun = lastRun();
        const qint64 killedId = killedRun.value(QStringLiteral("id")).toInteger();
        QCOMPARE(killedRun.value(QStringLiteral("status")).toString(), QStringLiteral("interrupted"));
        const int held = killedRun.value(QStringLiteral("results")).toInt();
        QVERIFY(held > 0);
        QCOMPARE(killedRun.value(QStringLiteral("summary")).toObject().value(QStringLiteral("users")).toInt(), held);
        const Run shown = cli({ QStringLiteral("runs"), QStringLiteral("show"), QString::number(killedId),
            QStringLiteral("-w"), m_ws });
        QVERIFY2(shown.out.contains(QStringLiteral("interrupted")) && shown.out.contains(QStringLiteral("Users: %1").arg(held))
                && shown.out.contains(QStringLiteral("of 20 users")),
            qPrintable(shown.out));

        // --resume: only the users without a result are sent, into the same run.
        m_server.resetCounters();
        const Run resumed = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--resume"),
            QString::number(killedId), QStringLiteral("--summary-only") });
        QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 20 - held);
        const Run after = cli({ QStringLiteral("runs"), QStringLiteral("show"), QString::number(killedId),
            QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        const QJsonObject done = QJsonDocument::fromJson(after.out.toUtf8()).object();
        QCOMPARE(done.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(done.value(QStringLiteral("results")).toInt(), 20);
        QCOMPARE(done.value(QStringLiteral("summary")).toObject().value(QStringLiteral("users")).toInt(), 20);
        const Run again = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--resume"),
            QString::number(killedId) });
        QCOMPARE(again.code, 1);
        QVERIFY2(again.err.contains(QStringLiteral("finished")), qPrintable(again.err));
    }

    void setDefaultEndpoint()
    {
        const Run set = cli({ QStringLiteral("endpoints"), QStringLiteral("set-default"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("test") });
        QVERIFY2(set.code == 0, qPrintable(set.err));
        const Run list = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        bool found = false;
        for (const auto& e : QJsonDocument::fromJson(list.out.toUtf8()).array())
            if (e[QStringLiteral("name")].toString() == u"test")
                found = e[QStringLiteral("default")].toBool();
        QVERIFY(found);
        const Run missing = cli({ QStringLiteral("endpoints"), QStringLiteral("set-default"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("nope") });
        QVERIFY(missing.code != 0);
        cli({ QStringLiteral("endpoints"), QStringLiteral("set-default"), QStringLiteral("-w"), m_ws, QStringLiteral("--name"),
            QStringLiteral("offline") });
    }
};

QTEST_GUILESS_MAIN(TestLlmPipeline)
#include "tst_llm_pipeline.moc"
