// Provider batch APIs end to end (issue #13, docs/RERANK.md "Provider batch APIs"): the real
// recwb-cli submits a cohort as one OpenAI Batch, Anthropic Message Batch or Gemini batch to the local test
// LLM server, exits, and a second process collects the results into the stored run.
#include "testllmserver.h"
#include "testutil.h"

#include "rerank/llm/batchapi.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>

using namespace recwb;

class TestBatchApi : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    test::TestLlmServer m_server;
    int m_workspaces = 0;

    using Run = test::CliRun;
    static Run cli(const QStringList& args) { return test::runCliAsync(args, QStringLiteral("sk-fake-batch-77")); }
    static QJsonObject jsonOf(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }

    // A fresh generated workspace with an endpoint "llm" of the given kind on the test server.
    QString workspace(const QString& kind)
    {
        const QString ws = m_dir.filePath(QStringLiteral("ws%1.recwb").arg(++m_workspaces));
        test::generateSmallWorkspace(ws);
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), ws,
            QStringLiteral("--name"), QStringLiteral("llm"), QStringLiteral("--kind"), kind,
            QStringLiteral("--base-url"), kind == u"openai" ? m_server.openAiBaseUrl() : m_server.baseUrl(),
            QStringLiteral("--model"), QStringLiteral("test-model"), QStringLiteral("--key-env"),
            QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("--max-retries"), QStringLiteral("0"),
            QStringLiteral("--price-input"), QStringLiteral("2"), QStringLiteral("--price-cached"),
            QStringLiteral("0.5"), QStringLiteral("--price-output"), QStringLiteral("8") });
        if (add.code != 0)
            qWarning("%s", qPrintable(add.err));
        return ws;
    }

    // Live calls on any provider's path.
    int liveRequests() const
    {
        return m_server.requestCount(QStringLiteral("/v1/chat/completions"))
            + m_server.requestCount(QStringLiteral("/v1/messages"))
            + m_server.requestCount(QStringLiteral("/v1beta/models/test-model:generateContent"));
    }

    static QStringList cohort(const QString& ws, int users)
    {
        return { QStringLiteral("rerank"), QStringLiteral("-w"), ws, QStringLiteral("--cohort"), QStringLiteral("all"),
            QStringLiteral("--limit"), QString::number(users), QStringLiteral("--endpoint"), QStringLiteral("llm"),
            QStringLiteral("--yes"), QStringLiteral("--json") };
    }

    // Submits; returns the run id (0 on failure, reported).
    static qint64 submit(const QString& ws, int users)
    {
        const Run r = cli(cohort(ws, users) << QStringLiteral("--batch-api"));
        if (r.code != 0) {
            qWarning("submit failed: %s", qPrintable(r.err));
            return 0;
        }
        const QJsonObject o = jsonOf(r);
        if (o.value(QStringLiteral("status")).toString() != u"submitted")
            return 0;
        return o.value(QStringLiteral("run_id")).toInteger();
    }

    static QJsonObject show(const QString& ws, qint64 run)
    {
        const Run r = cli({ QStringLiteral("runs"), QStringLiteral("show"), QString::number(run), QStringLiteral("-w"),
            ws, QStringLiteral("--json") });
        return r.code == 0 ? jsonOf(r) : QJsonObject {};
    }

    static QHash<QString, QJsonObject> usersOf(const QJsonArray& users)
    {
        QHash<QString, QJsonObject> out;
        for (const QJsonValue& v : users)
            out.insert(v.toObject().value(QStringLiteral("user")).toString(), v.toObject());
        return out;
    }

    static QStringList itemsOf(const QJsonObject& user)
    {
        QStringList ids;
        for (const QJsonValue& v : user.value(QStringLiteral("items")).toArray())
            ids << v.toObject().value(QStringLiteral("item_id")).toString();
        return ids;
    }

    static QStringList defectKinds(const QJsonObject& user)
    {
        QStringList kinds;
        for (const QJsonValue& v : user.value(QStringLiteral("defects")).toArray())
            kinds << v.toObject().value(QStringLiteral("kind")).toString();
        return kinds;
    }

    static Run collect(const QString& ws, qint64 run, bool wait)
    {
        QStringList args { QStringLiteral("runs"), QStringLiteral("collect"), QString::number(run),
            QStringLiteral("-w"), ws, QStringLiteral("--json") };
        if (wait)
            args << QStringLiteral("--wait") << QStringLiteral("--poll-ms") << QStringLiteral("20");
        return cli(args);
    }

    // Submit, close, collect in new processes; then the same users live: identical lists and
    // tokens, and the batch costs half.
    void submitCollectAndCompare(const QString& kind)
    {
        m_server.setBatchCompletion(3);
        const QString ws = workspace(kind);
        const int requestsBefore = liveRequests();
        const qint64 run = submit(ws, 30);
        QVERIFY(run > 0);
        if (kind == u"openai") {
            QVERIFY(m_server.hasRequest(QStringLiteral("/v1/files")));
            const test::RecordedRequest upload = m_server.lastRequest(QStringLiteral("/v1/files"));
            QVERIFY(upload.header("content-type").startsWith("multipart/form-data"));
            QCOMPARE(upload.body.count("\"custom_id\""), 30);
            QCOMPARE(upload.header("authorization"), QByteArray("Bearer sk-fake-batch-77"));
        }
        QCOMPARE(liveRequests(), requestsBefore); // nothing went live

        QJsonObject shown = show(ws, run);
        QCOMPARE(shown.value(QStringLiteral("status")).toString(), QStringLiteral("submitted"));
        QCOMPARE(shown.value(QStringLiteral("results")).toInt(-1), 0);
        const QString batchId
            = shown.value(QStringLiteral("batch")).toObject().value(QStringLiteral("batch_id")).toString();
        QVERIFY(!batchId.isEmpty());

        // One poll: not ended yet (3 polls needed); nothing stored.
        const Run once = collect(ws, run, false);
        QVERIFY2(once.code == 0, qPrintable(once.err));
        QCOMPARE(jsonOf(once).value(QStringLiteral("status")).toString(), QStringLiteral("submitted"));
        QCOMPARE(show(ws, run).value(QStringLiteral("results")).toInt(-1), 0);

        const Run done = collect(ws, run, true);
        QVERIFY2(done.code == 0, qPrintable(done.err));
        const QJsonObject report = jsonOf(done);
        QCOMPARE(report.value(QStringLiteral("batch")).toObject().value(QStringLiteral("state")).toString(),
            QStringLiteral("collected"));
        shown = show(ws, run);
        QCOMPARE(shown.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(shown.value(QStringLiteral("batch")).toObject().value(QStringLiteral("polls")).toInt(), 3);
        const QHash<QString, QJsonObject> batch = usersOf(shown.value(QStringLiteral("users")).toArray());
        QCOMPARE(batch.size(), 30);

        // A second collect changes nothing.
        const Run again = collect(ws, run, true);
        QVERIFY2(again.code == 0, qPrintable(again.err));
        QVERIFY(again.out.contains(QStringLiteral("collected already")));

        const Run live = cli(cohort(ws, 30) << QStringLiteral("--no-cache"));
        QVERIFY2(live.code == 0, qPrintable(live.err));
        const QHash<QString, QJsonObject> liveUsers = usersOf(jsonOf(live).value(QStringLiteral("users")).toArray());
        QCOMPARE(liveUsers.size(), 30);
        double batchCost = 0;
        double liveCost = 0;
        for (auto it = liveUsers.cbegin(); it != liveUsers.cend(); ++it) {
            const QJsonObject b = batch.value(it.key());
            QVERIFY2(!b.isEmpty(), qPrintable(it.key()));
            QCOMPARE(b.value(QStringLiteral("fallback")).toBool(true), false);
            QCOMPARE(itemsOf(b), itemsOf(it.value()));
            QCOMPARE(
                b.value(QStringLiteral("tokens")).toObject(), it.value().value(QStringLiteral("tokens")).toObject());
            const double bc = b.value(QStringLiteral("cost")).toDouble(-1);
            const double lc = it.value().value(QStringLiteral("cost")).toDouble(-1);
            QVERIFY(lc > 0);
            QVERIFY2(
                qAbs(bc - 0.5 * lc) < 1e-12, qPrintable(QStringLiteral("%1: %2 vs %3").arg(it.key()).arg(bc).arg(lc)));
            batchCost += bc;
            liveCost += lc;
        }
        const double summaryCost
            = report.value(QStringLiteral("summary")).toObject().value(QStringLiteral("cost_usd")).toDouble(-1);
        QVERIFY2(qAbs(summaryCost - batchCost) < 1e-9, qPrintable(QString::number(summaryCost)));
        QVERIFY(qAbs(batchCost - 0.5 * liveCost) < 1e-9);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() > 0);
    }

    void init()
    {
        m_server.setBatchCompletion(1);
        m_server.setBatchExpire(false);
    }

    void openAiSubmitCloseCollect() { submitCollectAndCompare(QStringLiteral("openai")); }
    void anthropicSubmitCloseCollect() { submitCollectAndCompare(QStringLiteral("anthropic")); }
    void geminiSubmitCloseCollect() { submitCollectAndCompare(QStringLiteral("gemini")); }

    // A failed line leaves that user in the CF order with a reason; an invalid answer goes
    // through the same validation as a live one; the others are answered.
    void partlyFailedBatch_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::newRow("openai") << QStringLiteral("openai");
        QTest::newRow("anthropic") << QStringLiteral("anthropic");
        QTest::newRow("gemini") << QStringLiteral("gemini");
    }
    void partlyFailedBatch()
    {
        QFETCH(QString, kind);
        const QString ws = workspace(kind);
        m_server.setBatchLineFault(QStringLiteral("u2"), QStringLiteral("http500"));
        m_server.setBatchLineFault(QStringLiteral("u3"), QStringLiteral("prose"));
        const qint64 run = submit(ws, 12);
        QVERIFY(run > 0);
        const Run done = collect(ws, run, true); // the server answers the lines when the batch ends
        m_server.setBatchLineFault(QStringLiteral("u2"), QStringLiteral("good"));
        m_server.setBatchLineFault(QStringLiteral("u3"), QStringLiteral("good"));
        QVERIFY2(done.code == 0, qPrintable(done.err));
        const QHash<QString, QJsonObject> users = usersOf(show(ws, run).value(QStringLiteral("users")).toArray());
        QCOMPARE(users.size(), 12);
        QVERIFY(users.contains(QStringLiteral("u2")) && users.contains(QStringLiteral("u3")));
        for (auto it = users.cbegin(); it != users.cend(); ++it) {
            const QJsonObject& u = it.value();
            QCOMPARE(itemsOf(u).size(), 10); // everyone has a list
            if (it.key() == u"u2") {
                QVERIFY(u.value(QStringLiteral("fallback")).toBool());
                QVERIFY2(defectKinds(u).contains(QStringLiteral("batch_failed_line")),
                    qPrintable(defectKinds(u).join(u',')));
                QVERIFY2(u.value(QStringLiteral("fallback_reason")).toString().contains(QStringLiteral("failed")),
                    qPrintable(u.value(QStringLiteral("fallback_reason")).toString()));
                for (const QJsonValue& v : u.value(QStringLiteral("items")).toArray()) // the CF order
                    QCOMPARE(v.toObject().value(QStringLiteral("cf_rank")).toInt(),
                        v.toObject().value(QStringLiteral("rank")).toInt());
            } else if (it.key() == u"u3") {
                QVERIFY(u.value(QStringLiteral("fallback")).toBool()); // prose: no JSON in the answer
                QVERIFY(!defectKinds(u).contains(QStringLiteral("batch_failed_line")));
                QVERIFY(u.value(QStringLiteral("cost")).toDouble() > 0); // a delivered answer is billed
            } else {
                QVERIFY2(!u.value(QStringLiteral("fallback")).toBool(), qPrintable(it.key()));
                QVERIFY2(!defectKinds(u).join(u',').contains(QStringLiteral("batch_")),
                    qPrintable(defectKinds(u).join(u',')));
            }
        }
    }

    // An expired batch: every user keeps the CF order with the reason, nothing is billed.
    void expiredBatch_data() { partlyFailedBatch_data(); }
    void expiredBatch()
    {
        QFETCH(QString, kind);
        const QString ws = workspace(kind);
        const qint64 run = submit(ws, 10);
        QVERIFY(run > 0);
        m_server.setBatchExpire(true);
        const Run done = collect(ws, run, true);
        m_server.setBatchExpire(false);
        QVERIFY2(done.code == 0, qPrintable(done.err));
        const QJsonObject shown = show(ws, run);
        QCOMPARE(shown.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(shown.value(QStringLiteral("batch"))
                     .toObject()
                     .value(QStringLiteral("info"))
                     .toObject()
                     .value(QStringLiteral("provider_state"))
                     .toString(),
            kind == u"openai"       ? QStringLiteral("expired")
                : kind == u"gemini" ? QStringLiteral("BATCH_STATE_EXPIRED")
                                    : QStringLiteral("ended"));
        const QHash<QString, QJsonObject> users = usersOf(shown.value(QStringLiteral("users")).toArray());
        QCOMPARE(users.size(), 10);
        for (const QJsonObject& u : users) {
            QVERIFY(u.value(QStringLiteral("fallback")).toBool());
            QVERIFY2(defectKinds(u).contains(QStringLiteral("batch_expired")), qPrintable(defectKinds(u).join(u',')));
            QCOMPARE(itemsOf(u).size(), 10);
            QCOMPARE(u.value(QStringLiteral("cost")).toDouble(-1), 0.0);
        }
    }

    // A batch that takes time (at least 1.5 s, whatever the polls): one poll leaves it
    // submitted; --wait polls until it has ended; runs show says so in text too.
    void collectWaitsForTheProvider()
    {
        m_server.setBatchCompletion(1, 1500);
        const QString ws = workspace(QStringLiteral("openai"));
        const qint64 run = submit(ws, 6);
        QVERIFY(run > 0);
        const Run once = collect(ws, run, false);
        QVERIFY2(once.code == 0, qPrintable(once.err));
        QCOMPARE(jsonOf(once).value(QStringLiteral("batch")).toObject().value(QStringLiteral("state")).toString(),
            QStringLiteral("in_progress"));
        const Run text
            = cli({ QStringLiteral("runs"), QStringLiteral("show"), QString::number(run), QStringLiteral("-w"), ws });
        QVERIFY2(text.out.contains(QStringLiteral("in_progress after 1 polls")), qPrintable(text.out));
        QVERIFY2(text.out.contains(QStringLiteral("runs collect %1").arg(run)), qPrintable(text.out));
        const Run done = collect(ws, run, true);
        QVERIFY2(done.code == 0, qPrintable(done.err));
        const QJsonObject shown = show(ws, run);
        QCOMPARE(shown.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QVERIFY(shown.value(QStringLiteral("batch")).toObject().value(QStringLiteral("polls")).toInt() >= 2);
        QCOMPARE(shown.value(QStringLiteral("results")).toInt(), 6);
    }

    // Result files: a broken line is named; a Gemini response without its key is matched by
    // position; a failed line carries its defect.
    void resultParsing()
    {
        const QByteArray good
            = R"({"custom_id":"u1","response":{"status_code":200,"body":{"choices":[{"message":{"content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}},"error":null})";
        try {
            rerank::parseBatchResults(rerank::ProviderKind::OpenAiChat, good + "\n{not json\n");
            QFAIL("a broken line was accepted");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("line 2")), qPrintable(e.message()));
        }
        const auto ok = rerank::parseBatchResults(rerank::ProviderKind::OpenAiChat,
            good + "\n"
                + R"({"custom_id":"u2","response":{"status_code":500,"body":{"error":{"message":"boom"}}},"error":null})");
        QCOMPARE(ok.size(), 2);
        QVERIFY(ok.value(QStringLiteral("u1")).response.ok());
        QCOMPARE(ok.value(QStringLiteral("u1")).response.usage.inputTokens, 3);
        QCOMPARE(ok.value(QStringLiteral("u2")).defect, QStringLiteral("batch_failed_line"));
        QCOMPARE(ok.value(QStringLiteral("u2")).response.httpStatus, 500);

        const QJsonObject op = QJsonDocument::fromJson(
            R"({"name":"batches/1","done":true,"response":{"inlinedResponses":{"inlinedResponses":[
            {"response":{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}]}},
            {"error":{"code":500,"message":"bad"}}]}}})")
                                   .object();
        const auto gemini = rerank::parseGeminiBatch(op, { QStringLiteral("u7"), QStringLiteral("u9") });
        QCOMPARE(gemini.value(QStringLiteral("u7")).response.text, QStringLiteral("a"));
        QCOMPARE(gemini.value(QStringLiteral("u9")).defect, QStringLiteral("batch_failed_line"));
        QVERIFY_THROWS_EXCEPTION(Error, rerank::parseGeminiBatch(op, { QStringLiteral("u7") }));
    }

    // A batch run is collected, not resumed live; a provider without a batch API is refused
    // before anything is stored.
    void refusals()
    {
        const QString ws = workspace(QStringLiteral("openai"));
        const qint64 run = submit(ws, 5);
        QVERIFY(run > 0);
        const Run resume = cli(
            { QStringLiteral("rerank"), QStringLiteral("-w"), ws, QStringLiteral("--resume"), QString::number(run) });
        QVERIFY(resume.code != 0);
        QVERIFY2(resume.err.contains(QStringLiteral("runs collect")), qPrintable(resume.err));
        const Run offline = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), ws, QStringLiteral("--cohort"),
            QStringLiteral("all"), QStringLiteral("--limit"), QStringLiteral("5"), QStringLiteral("--endpoint"),
            QStringLiteral("offline"), QStringLiteral("--batch-api") });
        QVERIFY(offline.code != 0);
        QVERIFY2(offline.err.contains(QStringLiteral("batch APIs exist for openai, anthropic and gemini")),
            qPrintable(offline.err));
        const Run list = cli(
            { QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("-w"), ws, QStringLiteral("--json") });
        QCOMPARE(QJsonDocument::fromJson(list.out.toUtf8()).array().size(), 1);
    }
};

QTEST_GUILESS_MAIN(TestBatchApi)
#include "tst_batchapi.moc"
