#include "testllmserver.h"
#include "testutil.h"

#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTimer>

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

    struct Run {
        int code = -1;
        QString out;
        QString err;
    };
    // Runs the CLI without blocking the event loop, so the server can answer it.
    static Run cli(const QStringList& args)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("sk-fake-pipeline-777"));
        p.setProcessEnvironment(env);
        QEventLoop loop;
        QObject::connect(&p, &QProcess::finished, &loop, &QEventLoop::quit);
        QObject::connect(&p, &QProcess::errorOccurred, &loop, &QEventLoop::quit);
        QTimer::singleShot(300000, &loop, &QEventLoop::quit);
        p.start(QStringLiteral(RECWB_CLI_PATH), args);
        loop.exec();
        if (p.state() != QProcess::NotRunning) {
            p.kill();
            p.waitForFinished();
            return {};
        }
        return { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
    }
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
};

QTEST_GUILESS_MAIN(TestLlmPipeline)
#include "tst_llm_pipeline.moc"
