// LlmClient against the local test LLM server: request shapes on the wire, envelopes,
// every injected fault and its recovery, breaker, concurrency, cancel, refusals, redaction.
#include "rerank/llm/blocking.h"
#include "rerank/llm/llmclient.h"
#include "rerank/llm/providers.h"
#include "testllmserver.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QProcess>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QtTest>

using namespace recwb::rerank;
using recwb::test::TestLlmServer;

namespace {

const QByteArray kOpenAiKey = "sk-test-OPENAI-0123456789abcdef";
const QByteArray kAnthropicKey = "sk-ant-test-ANTHROPIC-0123456789";
const QByteArray kGeminiKey = "AIzaTestGEMINI0123456789abcdefghij";
const QStringList kIds { QStringLiteral("m101"), QStringLiteral("m202"), QStringLiteral("9007199254740993"), QStringLiteral("x-4") };

QStringList g_log; // every log line the client wrote while a test captured them
QtMessageHandler g_previous = nullptr;
void captureLog(QtMsgType type, const QMessageLogContext& context, const QString& message)
{
    g_log << message;
    if (type != QtDebugMsg && g_previous)
        g_previous(type, context, message);
}

QString pathFor(ProviderKind kind)
{
    switch (kind) {
    case ProviderKind::OpenAiChat:
        return QStringLiteral("/v1/chat/completions");
    case ProviderKind::Anthropic:
        return QStringLiteral("/v1/messages");
    case ProviderKind::Gemini:
        return QStringLiteral("/v1beta/models/gemini-2.5-flash:generateContent");
    default:
        return QStringLiteral("/api/chat");
    }
}

QJsonObject answerSchema()
{
    return QJsonDocument::fromJson(R"({"type":"object","required":["recommendations"],
        "properties":{"recommendations":{"type":"array","items":{"type":"object",
          "required":["item_id","rank","score","explanation"],
          "properties":{"item_id":{"type":"string"},"rank":{"type":"integer"},
                        "score":{"type":"number"},"explanation":{"type":"string"}}}}}})")
        .object();
}

ChatRequest rerankRequest(const QString& extra = QString())
{
    QString user = QStringLiteral("User u1 likes space operas.\nCandidates (%1):\n").arg(kIds.size());
    for (const QString& id : kIds)
        user += QStringLiteral("- id \"%1\": Title of %1 [Drama]\n").arg(id);
    user += extra;
    ChatRequest r;
    r.messages = { ChatMessage { QStringLiteral("system"), QStringLiteral("You rerank. Answer JSON only."), true },
        ChatMessage { QStringLiteral("user"), user, false } };
    r.jsonSchema = answerSchema();
    return r;
}

QStringList idsIn(const QString& text)
{
    QStringList ids;
    const QJsonArray recs = QJsonDocument::fromJson(text.toUtf8()).object().value(QStringLiteral("recommendations")).toArray();
    for (const QJsonValue& v : recs)
        ids << v.toObject().value(QStringLiteral("item_id")).toString();
    return ids;
}

} // namespace

class TestLlmClient : public QObject {
    Q_OBJECT

    TestLlmServer m_server;

    LlmClientConfig fastConfig() const
    {
        LlmClientConfig c;
        c.backoffBaseMs = 20;
        c.backoffCapMs = 100;
        return c;
    }

    EndpointProfile profile(ProviderKind kind) const
    {
        EndpointProfile p;
        p.name = QStringLiteral("ep-%1").arg(int(kind));
        p.kind = kind;
        p.baseUrl = kind == ProviderKind::OpenAiChat ? m_server.openAiBaseUrl() : m_server.baseUrl();
        p.model = kind == ProviderKind::Gemini ? QStringLiteral("gemini-2.5-flash") : QStringLiteral("test-model");
        p.keyEnv = kind == ProviderKind::OpenAiChat ? QStringLiteral("RECWB_TEST_OPENAI_KEY")
            : kind == ProviderKind::Anthropic       ? QStringLiteral("RECWB_TEST_ANTHROPIC_KEY")
            : kind == ProviderKind::Gemini          ? QStringLiteral("RECWB_TEST_GEMINI_KEY")
                                                    : QString();
        p.timeoutMs = 10000;
        p.maxRetries = 2;
        p.maxOutputTokens = 777;
        return p;
    }

    // Sends and waits for the one finished(); checks it came asynchronously and only once.
    static bool run(LlmClient& client, const EndpointProfile& p, const ChatRequest& r, ChatResponse& out, int waitMs = 20000)
    {
        LlmCall* call = client.send(p, r);
        QSignalSpy spy(call, &LlmCall::finished);
        if (spy.count() != 0) // never inside send()
            return false;
        if (!spy.wait(waitMs))
            return false;
        QTest::qWait(30);
        if (spy.count() != 1)
            return false;
        out = spy.at(0).at(0).value<ChatResponse>();
        return true;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_server.start() != 0);
        qputenv("RECWB_TEST_OPENAI_KEY", kOpenAiKey);
        qputenv("RECWB_TEST_ANTHROPIC_KEY", kAnthropicKey);
        qputenv("RECWB_TEST_GEMINI_KEY", kGeminiKey);
        qunsetenv("RECWB_TEST_MISSING_KEY");
    }

    void init()
    {
        m_server.clearFault();
        m_server.resetCounters();
    }

    void candidateIdConvention()
    {
        QCOMPARE(TestLlmServer::extractCandidateIds(QStringLiteral("- id \"a\": A\n- id \"b\": B")), (QStringList { QStringLiteral("a"), QStringLiteral("b") }));
        QCOMPARE(TestLlmServer::extractCandidateIds(QStringLiteral("[{\"id\":\"a\"},{\"item_id\":42}]")), (QStringList { QStringLiteral("a"), QStringLiteral("42") }));
        QCOMPARE(TestLlmServer::extractCandidateIds(QStringLiteral("id: a\n* item_id: b\n")), (QStringList { QStringLiteral("a"), QStringLiteral("b") }));
        QCOMPARE(TestLlmServer::extractCandidateIds(QStringLiteral("Candidates:\nc1 | Alien | Horror\nc2 | Heat | Crime\n")),
            (QStringList { QStringLiteral("c1"), QStringLiteral("c2") }));
    }

    void requestShape_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addRow("openai") << int(ProviderKind::OpenAiChat);
        QTest::addRow("anthropic") << int(ProviderKind::Anthropic);
        QTest::addRow("gemini") << int(ProviderKind::Gemini);
        QTest::addRow("ollama") << int(ProviderKind::OllamaNative);
    }

    void requestShape()
    {
        QFETCH(int, kind);
        const auto k = static_cast<ProviderKind>(kind);
        LlmClient client(fastConfig());
        ChatResponse r;
        QVERIFY(run(client, profile(k), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(r.httpStatus, 200);
        QCOMPARE(r.attempts, 1);
        QCOMPARE(r.finish, FinishReason::Ok);
        QCOMPARE(idsIn(r.text), kIds); // thinking parts skipped, text parts concatenated

        const QString path = pathFor(k);
        QVERIFY2(m_server.hasRequest(path), qPrintable(path));
        const auto rec = m_server.lastRequest(path);
        QCOMPARE(rec.method, QByteArray("POST"));
        QVERIFY(rec.header("content-type").startsWith("application/json"));
        const QJsonObject body = rec.json();
        switch (k) {
        case ProviderKind::OpenAiChat: {
            QCOMPARE(rec.header("authorization"), QByteArray("Bearer ") + kOpenAiKey);
            QCOMPARE(body.value(QStringLiteral("model")).toString(), QStringLiteral("test-model"));
            QCOMPARE(body.value(QStringLiteral("max_completion_tokens")).toInt(), 777);
            const QJsonObject rf = body.value(QStringLiteral("response_format")).toObject();
            QCOMPARE(rf.value(QStringLiteral("type")).toString(), QStringLiteral("json_schema"));
            QCOMPARE(rf.value(QStringLiteral("json_schema")).toObject().value(QStringLiteral("strict")).toBool(), true);
            QVERIFY(rf.value(QStringLiteral("json_schema")).toObject().value(QStringLiteral("schema")).toObject().contains(QStringLiteral("properties")));
            QCOMPARE(body.value(QStringLiteral("messages")).toArray().at(0).toObject().value(QStringLiteral("role")).toString(), QStringLiteral("system"));
            QCOMPARE(r.requestId, QStringLiteral("req-openai-%1").arg(m_server.requestCount()));
            // §0: prompt_tokens includes cached.
            QCOMPARE(r.usage.inputTokens, 1234);
            QCOMPARE(r.usage.cachedInputTokens, 1024);
            QCOMPARE(r.usage.outputTokens, 210);
            break;
        }
        case ProviderKind::Anthropic: {
            QCOMPARE(rec.header("x-api-key"), kAnthropicKey);
            QCOMPARE(rec.header("anthropic-version"), QByteArray("2023-06-01"));
            QVERIFY(rec.header("authorization").isEmpty());
            QCOMPARE(body.value(QStringLiteral("max_tokens")).toInt(), 777);
            const QJsonObject sys = body.value(QStringLiteral("system")).toArray().at(0).toObject();
            QCOMPARE(sys.value(QStringLiteral("cache_control")).toObject().value(QStringLiteral("type")).toString(), QStringLiteral("ephemeral"));
            QCOMPARE(body.value(QStringLiteral("output_config")).toObject().value(QStringLiteral("format")).toObject().value(QStringLiteral("type")).toString(),
                QStringLiteral("json_schema"));
            QVERIFY(r.requestId.startsWith(QStringLiteral("req_anthropic_")));
            // §0: total input = 312 + 0 + 2048.
            QCOMPARE(r.usage.inputTokens, 2360);
            QCOMPARE(r.usage.cachedInputTokens, 2048);
            QCOMPARE(r.usage.outputTokens, 180);
            break;
        }
        case ProviderKind::Gemini: {
            QCOMPARE(rec.header("x-goog-api-key"), kGeminiKey);
            const QJsonObject gen = body.value(QStringLiteral("generationConfig")).toObject();
            QCOMPARE(gen.value(QStringLiteral("responseMimeType")).toString(), QStringLiteral("application/json"));
            QVERIFY(gen.value(QStringLiteral("responseSchema")).toObject().contains(QStringLiteral("properties")));
            QVERIFY(!gen.value(QStringLiteral("responseSchema")).toObject().contains(QStringLiteral("additionalProperties")));
            QCOMPARE(gen.value(QStringLiteral("thinkingConfig")).toObject().value(QStringLiteral("thinkingBudget")).toInt(-1), 0);
            QVERIFY(body.contains(QStringLiteral("systemInstruction")));
            // §0: output = candidates + thoughts.
            QCOMPARE(r.usage.inputTokens, 1500);
            QCOMPARE(r.usage.cachedInputTokens, 1024);
            QCOMPARE(r.usage.outputTokens, 550);
            QCOMPARE(r.usage.reasoningTokens, 350);
            break;
        }
        default: {
            QVERIFY(rec.header("authorization").isEmpty());
            QCOMPARE(body.value(QStringLiteral("stream")).toBool(true), false);
            QVERIFY(body.value(QStringLiteral("format")).isObject());
            QVERIFY(body.value(QStringLiteral("options")).toObject().value(QStringLiteral("num_ctx")).toInt() >= 2048);
            QCOMPARE(body.value(QStringLiteral("options")).toObject().value(QStringLiteral("num_predict")).toInt(), 777);
            QCOMPARE(r.usage.inputTokens, 36);
            QCOMPARE(r.usage.outputTokens, 180);
            break;
        }
        }
    }

    void contentFaults_data()
    {
        QTest::addColumn<QString>("fault");
        QTest::addRow("fences") << QStringLiteral("fences");
        QTest::addRow("numeric_ids") << QStringLiteral("numeric_ids");
        QTest::addRow("invented_ids") << QStringLiteral("invented_ids");
        QTest::addRow("repeated_ids") << QStringLiteral("repeated_ids");
    }

    void contentFaults()
    {
        // The client delivers the text as is (validation is the answer parser's job).
        QFETCH(QString, fault);
        LlmClient client(fastConfig());
        ChatResponse r;
        QVERIFY(run(client, profile(ProviderKind::OpenAiChat), rerankRequest(QStringLiteral("[[fault:%1]]").arg(fault)), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(r.finish, FinishReason::Ok);
        QCOMPARE(m_server.faultCount(fault), 1);
        if (fault == u"fences")
            QVERIFY(r.text.contains(QStringLiteral("```json")));
        else if (fault == u"numeric_ids")
            QVERIFY(r.text.contains(QStringLiteral("\"item_id\":9007199254740993")));
        else if (fault == u"invented_ids")
            QVERIFY(idsIn(r.text).contains(QStringLiteral("invented-1")));
        else
            QCOMPARE(idsIn(r.text).count(kIds.first()), 2);
    }

    void faultByHeaderAndServerWide()
    {
        LlmClient client(fastConfig());
        m_server.setFault(QStringLiteral("fences"));
        ChatResponse r;
        QVERIFY(run(client, profile(ProviderKind::OllamaNative), rerankRequest(), r));
        QVERIFY(r.text.contains(QStringLiteral("```")));
        QCOMPARE(m_server.faultCount(QStringLiteral("fences")), 1);
    }

    void truncated_data() { requestShape_data(); }
    void truncated()
    {
        QFETCH(int, kind);
        LlmClient client(fastConfig());
        ChatResponse r;
        QVERIFY(run(client, profile(static_cast<ProviderKind>(kind)), rerankRequest(QStringLiteral("[[fault:truncated]]")), r));
        QCOMPARE(r.status, CallStatus::Ok); // not an envelope problem, not a parse error
        QCOMPARE(r.finish, FinishReason::Truncated);
        QVERIFY(!r.rawFinishReason.isEmpty());
        QVERIFY(QJsonDocument::fromJson(r.text.toUtf8()).isNull()); // the JSON is cut
        QCOMPARE(r.attempts, 1);
    }

    void retryAfterHonoured()
    {
        LlmClient client(fastConfig());
        m_server.setFault(QStringLiteral("http429:1"), 1);
        QElapsedTimer clock;
        clock.start();
        ChatResponse r;
        QVERIFY(run(client, profile(ProviderKind::Anthropic), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(r.attempts, 2);
        QVERIFY2(clock.elapsed() >= 1000, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(m_server.faultCount(QStringLiteral("http429")), 1);
        QCOMPARE(m_server.requestCount(), 2);
    }

    void quotaNotRetried_data() { requestShape_data(); }
    void quotaNotRetried()
    {
        QFETCH(int, kind);
        LlmClient client(fastConfig());
        m_server.setFault(QStringLiteral("quota429"));
        ChatResponse r;
        QVERIFY(run(client, profile(static_cast<ProviderKind>(kind)), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::HttpError);
        QCOMPARE(r.httpStatus, 429);
        QCOMPARE(r.attempts, 1);
        QCOMPARE(m_server.requestCount(), 1);
        QVERIFY2(r.errorMessage.contains(QStringLiteral("quota")), qPrintable(r.errorMessage));
    }

    void serverErrorsRetried_data()
    {
        QTest::addColumn<QString>("fault");
        QTest::addColumn<int>("status");
        QTest::addRow("500") << QStringLiteral("http500") << 500;
        QTest::addRow("503") << QStringLiteral("http503") << 503;
        QTest::addRow("529") << QStringLiteral("http529") << 529;
    }

    void serverErrorsRetried()
    {
        QFETCH(QString, fault);
        QFETCH(int, status);
        LlmClient client(fastConfig());
        m_server.setFault(fault, 2); // the first two requests fail
        ChatResponse r;
        QVERIFY(run(client, profile(ProviderKind::Anthropic), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(r.attempts, 3);
        QCOMPARE(m_server.faultCount(fault), 2);

        // Past the retry budget: the last HTTP error is reported.
        m_server.setFault(fault, 3);
        QVERIFY(run(client, profile(ProviderKind::Anthropic), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::HttpError);
        QCOMPARE(r.httpStatus, status);
        QCOMPARE(r.attempts, 3);
    }

    void closeGivesNetworkError()
    {
        LlmClient client(fastConfig());
        m_server.setFault(QStringLiteral("close"));
        ChatResponse r;
        QVERIFY(run(client, profile(ProviderKind::OpenAiChat), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::NetworkError);
        QCOMPARE(r.httpStatus, 0);
        QCOMPARE(r.attempts, 3);
        QVERIFY(m_server.faultCount(QStringLiteral("close")) >= 3);
    }

    void deadlineGivesTimeout()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::Gemini);
        p.timeoutMs = 500;
        QElapsedTimer clock;
        clock.start();
        ChatResponse r;
        QVERIFY(run(client, p, rerankRequest(QStringLiteral("[[fault:delay:3000]]")), r));
        QCOMPARE(r.status, CallStatus::Timeout);
        QVERIFY2(clock.elapsed() >= 450 && clock.elapsed() < 2500, qPrintable(QString::number(clock.elapsed())));
        // The server was not blocked meanwhile: another request is answered at once.
        QVERIFY(run(client, profile(ProviderKind::OpenAiChat), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Ok);
    }

    void hugeResponseCapped()
    {
        LlmClient client(fastConfig()); // default cap 8 MiB, server sends 9 MiB
        ChatResponse r;
        QVERIFY(run(client, profile(ProviderKind::OpenAiChat), rerankRequest(QStringLiteral("[[fault:huge]]")), r));
        QCOMPARE(r.status, CallStatus::ResponseTooLarge);
        QCOMPARE(r.attempts, 1);

        LlmClientConfig small = fastConfig();
        small.maxResponseBytes = 64 * 1024;
        LlmClient client2(small);
        m_server.setHugeBytes(200 * 1024);
        QVERIFY(run(client2, profile(ProviderKind::OllamaNative), rerankRequest(QStringLiteral("[[fault:huge]]")), r));
        m_server.setHugeBytes(9 * 1024 * 1024);
        QCOMPARE(r.status, CallStatus::ResponseTooLarge);
    }

    void circuitBreaker()
    {
        LlmClientConfig config = fastConfig();
        config.circuitFailureThreshold = 3;
        config.circuitCooldownMs = 400;
        LlmClient client(config);
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.maxRetries = 0;
        m_server.setFault(QStringLiteral("http500"));
        ChatResponse r;
        for (int i = 0; i < 3; ++i) {
            QVERIFY(run(client, p, rerankRequest(), r));
            QCOMPARE(r.status, CallStatus::HttpError);
        }
        QCOMPARE(client.circuitState(p.name), LlmClient::CircuitState::Open);
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::CircuitOpen);
        QCOMPARE(r.attempts, 0);
        QCOMPARE(m_server.requestCount(), 3); // refused without a request

        // Other endpoints are unaffected.
        QVERIFY(run(client, profile(ProviderKind::OllamaNative), rerankRequest(QStringLiteral("[[fault:good]]")), r));
        QCOMPARE(r.status, CallStatus::Ok);

        // After the cool-down: exactly one probe goes through; a second call meanwhile is refused.
        QTest::qWait(450);
        QCOMPARE(client.circuitState(p.name), LlmClient::CircuitState::HalfOpen);
        m_server.setFault(QStringLiteral("delay:300"));
        LlmCall* probe = client.send(p, rerankRequest());
        QSignalSpy probeSpy(probe, &LlmCall::finished);
        ChatResponse second;
        QVERIFY(run(client, p, rerankRequest(), second));
        QCOMPARE(second.status, CallStatus::CircuitOpen);
        QVERIFY(probeSpy.wait(5000));
        QCOMPARE(probeSpy.at(0).at(0).value<ChatResponse>().status, CallStatus::Ok);
        QCOMPARE(client.circuitState(p.name), LlmClient::CircuitState::Closed);

        // A failing probe reopens the circuit at once.
        m_server.setFault(QStringLiteral("http500"));
        for (int i = 0; i < 3; ++i)
            QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(client.circuitState(p.name), LlmClient::CircuitState::Open);
        QTest::qWait(450);
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::HttpError);
        QCOMPARE(client.circuitState(p.name), LlmClient::CircuitState::Open);
        QCOMPARE(client.failedProbes(p.name), 1); // what a waiting batch counts (BatchOptions::breakerProbes)
        QVERIFY(client.refusedForMs(p.name) > 0);

        // A probe answered "quota exhausted" leaves the breaker half-open but counts as failed;
        // a probe that succeeds closes it and clears the count.
        QTest::qWait(450);
        QCOMPARE(client.refusedForMs(p.name), 0); // the next call goes as the probe
        m_server.setFault(QStringLiteral("quota429"));
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(client.failedProbes(p.name), 2);
        m_server.setFault(QStringLiteral("good"));
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(client.circuitState(p.name), LlmClient::CircuitState::Closed);
        QCOMPARE(client.failedProbes(p.name), 0);
        QCOMPARE(client.refusedForMs(p.name), 0);
        m_server.clearFault();
    }

    void concurrencyLimit()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.maxConcurrent = 2;
        m_server.setFault(QStringLiteral("delay:150"));
        QList<LlmCall*> calls;
        QList<QSharedPointer<QSignalSpy>> spies;
        QStringList order;
        int maxSeen = 0;
        for (int i = 0; i < 6; ++i) {
            LlmCall* call = client.send(p, rerankRequest(QStringLiteral("call %1").arg(i)));
            spies << QSharedPointer<QSignalSpy>::create(call, &LlmCall::finished);
            connect(call, &LlmCall::finished, this, [&, i] {
                order << QString::number(i);
                maxSeen = std::max(maxSeen, client.inFlight(p.name));
            });
            maxSeen = std::max(maxSeen, client.inFlight(p.name));
        }
        QCOMPARE(client.inFlight(p.name), 2);
        QCOMPARE(client.queued(p.name), 4);
        QTRY_COMPARE_WITH_TIMEOUT(order.size(), 6, 10000);
        for (const auto& spy : spies) {
            QCOMPARE(spy->count(), 1);
            QCOMPARE(spy->at(0).at(0).value<ChatResponse>().status, CallStatus::Ok);
        }
        QCOMPARE(m_server.maxInFlight(pathFor(ProviderKind::OpenAiChat)), 2);
        QVERIFY(maxSeen <= 2);
        QCOMPARE(order.first(), QStringLiteral("0")); // FIFO: the first sent finishes among the first
        QCOMPARE(client.inFlight(p.name), 0);
    }

    void cancelInFlight()
    {
        LlmClient client(fastConfig());
        LlmCall* call = client.send(profile(ProviderKind::Anthropic), rerankRequest(QStringLiteral("[[fault:delay:2000]]")));
        QSignalSpy spy(call, &LlmCall::finished);
        QTRY_COMPARE(m_server.inFlight(pathFor(ProviderKind::Anthropic)), 1);
        call->cancel();
        QCOMPARE(spy.count(), 0); // not inside cancel()
        QVERIFY(spy.wait(2000));
        QCOMPARE(spy.at(0).at(0).value<ChatResponse>().status, CallStatus::Canceled);
        QTest::qWait(300);
        QCOMPARE(spy.count(), 1); // no further signals
        QCOMPARE(client.inFlight(profile(ProviderKind::Anthropic).name), 0);
    }

    void cancelQueued()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.maxConcurrent = 1;
        LlmCall* first = client.send(p, rerankRequest(QStringLiteral("[[fault:delay:200]]")));
        LlmCall* second = client.send(p, rerankRequest());
        QSignalSpy firstSpy(first, &LlmCall::finished);
        QSignalSpy secondSpy(second, &LlmCall::finished);
        QCOMPARE(client.queued(p.name), 1);
        second->cancel();
        QVERIFY(secondSpy.wait(2000));
        QCOMPARE(secondSpy.at(0).at(0).value<ChatResponse>().status, CallStatus::Canceled);
        QCOMPARE(secondSpy.at(0).at(0).value<ChatResponse>().attempts, 0);
        QVERIFY(firstSpy.wait(5000));
        QCOMPARE(firstSpy.at(0).at(0).value<ChatResponse>().status, CallStatus::Ok);
        QCOMPARE(m_server.requestCount(), 1);
    }

    void insecureHttpRefused()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.baseUrl = QStringLiteral("http://llm.example.invalid/v1");
        ChatResponse r;
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Refused);
        QCOMPARE(r.attempts, 0);
        QVERIFY(r.errorMessage.contains(QStringLiteral("http://")));
        QCOMPARE(m_server.requestCount(), 0);
    }

    // allowInsecureHttp lets http:// to a non-loopback host past the scheme check: the call is
    // really attempted and fails on the network (192.0.2.1 is TEST-NET-1, never routed), not
    // with the insecure-http refusal.
    void insecureHttpAllowedIsAttempted()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.name = QStringLiteral("insecure-allowed");
        p.baseUrl = QStringLiteral("http://192.0.2.1:9/v1");
        p.timeoutMs = 1500;
        p.maxRetries = 0;
        ChatResponse r;
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Refused); // not allowed: refused before sending
        QCOMPARE(r.attempts, 0);
        QVERIFY2(r.errorMessage.contains(QStringLiteral("refusing plain http://")), qPrintable(r.errorMessage));

        p.allowInsecureHttp = true;
        QVERIFY(run(client, p, rerankRequest(), r));
        QVERIFY2(r.status == CallStatus::NetworkError || r.status == CallStatus::Timeout,
            qPrintable(callStatusName(r.status) + QStringLiteral(": ") + r.errorMessage));
        QCOMPARE(r.attempts, 1);
        QVERIFY2(!r.errorMessage.contains(QStringLiteral("refusing")), qPrintable(r.errorMessage));
        QCOMPARE(m_server.requestCount(), 0);
    }

    // Gemini carries the model in the URL path, not the body: a [[fault:X]] marker in the
    // model name still reaches the test server, so one Gemini profile can misbehave.
    void geminiFaultInModelName()
    {
        LlmClient client(fastConfig());
        EndpointProfile bad = profile(ProviderKind::Gemini);
        bad.name = QStringLiteral("gemini-503");
        bad.model = QStringLiteral("gemini-2.5-flash[[fault:http503]]");
        ChatResponse r;
        QVERIFY(run(client, bad, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::HttpError);
        QCOMPARE(r.httpStatus, 503);
        QCOMPARE(r.attempts, 3); // retried up to maxRetries, then given up
        QCOMPARE(m_server.faultCount(QStringLiteral("http503")), 3);
        const QString path = providerUrl(bad).path();
        QVERIFY2(m_server.hasRequest(path), qPrintable(path));
        QVERIFY(!m_server.lastRequest(path).json().contains(QStringLiteral("model"))); // the marker came from the path

        // Another Gemini profile on the same server is unaffected.
        QVERIFY(run(client, profile(ProviderKind::Gemini), rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(idsIn(r.text), kIds);

        // A delay past the deadline in the model name gives a timeout.
        EndpointProfile slow = profile(ProviderKind::Gemini);
        slow.name = QStringLiteral("gemini-slow");
        slow.model = QStringLiteral("gemini-2.5-flash[[fault:delay:3000]]");
        slow.timeoutMs = 400;
        QVERIFY(run(client, slow, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Timeout);
        // At least one delayed request; a second when the per-attempt transfer timeout fired
        // just before the deadline and the client retried.
        QVERIFY(m_server.faultCount(QStringLiteral("delay")) >= 1);
    }

    // The recwb-llm-testserver program itself: started on a free port (--port 0, the port is
    // read from its first line), answers a real request through LlmClient, and injects faults.
    void testServerExecutable()
    {
        QProcess server;
        server.setProgram(QStringLiteral(RECWB_LLM_TESTSERVER_PATH));
        server.setArguments({ QStringLiteral("--port"), QStringLiteral("0") });
        server.setProcessChannelMode(QProcess::SeparateChannels);
        server.start();
        QVERIFY2(server.waitForStarted(10000), qPrintable(server.errorString()));
        const auto stop = qScopeGuard([&] {
            server.terminate();
            if (!server.waitForFinished(5000)) {
                server.kill();
                server.waitForFinished(5000);
            }
        });
        QByteArray banner;
        QElapsedTimer clock;
        clock.start();
        while (!banner.contains('\n') && clock.elapsed() < 10000 && server.state() == QProcess::Running) {
            server.waitForReadyRead(200);
            banner += server.readAllStandardOutput();
        }
        static const QRegularExpression listening(QStringLiteral(R"(listening on (http://127\.0\.0\.1:(\d+)))"));
        const QRegularExpressionMatch m = listening.match(QString::fromUtf8(banner));
        QVERIFY2(m.hasMatch(), banner.constData());
        QVERIFY(m.captured(2).toInt() > 0);

        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.name = QStringLiteral("testserver-program");
        p.baseUrl = m.captured(1) + QStringLiteral("/v1");
        p.keyEnv.clear(); // loopback OpenAI-compatible server: no key needed
        ChatResponse r;
        QVERIFY(run(client, p, rerankRequest(), r));
        QVERIFY2(r.status == CallStatus::Ok, qPrintable(r.errorMessage));
        QCOMPARE(r.finish, FinishReason::Ok);
        QCOMPARE(idsIn(r.text), kIds);
        QCOMPARE(r.usage.inputTokens, 1234);
        QVERIFY(run(client, p, rerankRequest(QStringLiteral("[[fault:fences]]")), r));
        QCOMPARE(r.status, CallStatus::Ok);
        QVERIFY(r.text.contains(QStringLiteral("```json")));
        QCOMPARE(m_server.requestCount(), 0); // the in-process server saw none of it
        QCOMPARE(server.state(), QProcess::Running);
    }

    void missingKeyRefused()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::Anthropic);
        p.keyEnv = QStringLiteral("RECWB_TEST_MISSING_KEY");
        ChatResponse r;
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Refused);
        QVERIFY2(r.errorMessage.contains(QStringLiteral("RECWB_TEST_MISSING_KEY")), qPrintable(r.errorMessage));
        QCOMPARE(m_server.requestCount(), 0);

        p.keyEnv.clear(); // Anthropic needs a key even without a variable named
        QVERIFY(run(client, p, rerankRequest(), r));
        QCOMPARE(r.status, CallStatus::Refused);
        QCOMPARE(m_server.requestCount(), 0);
    }

    void keychain()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::Anthropic);
        p.keyEnv.clear();
        p.keychainEntry = QStringLiteral("recwb-test-no-such-entry");
        if (LlmClient::keychainSupported() && !qEnvironmentVariableIsSet("RECWB_TEST_KEYCHAIN")
            && !qEnvironmentVariableIsSet("RECWB_REQUIRE_KEYCHAIN"))
            QSKIP("QtKeychain is built in; set RECWB_TEST_KEYCHAIN=1 to let the test query the OS keychain");
        ChatResponse r;
        QVERIFY(run(client, p, rerankRequest(), r, 30000));
        QCOMPARE(r.status, CallStatus::Refused);
        if (!LlmClient::keychainSupported())
            QVERIFY(r.errorMessage.contains(QStringLiteral("keychain support not built")));
        else
            QVERIFY(r.errorMessage.contains(p.keychainEntry));
        QCOMPARE(m_server.requestCount(), 0);
    }

    void keysNeverLeak_data() { requestShape_data(); }
    void keysNeverLeak()
    {
        QFETCH(int, kind);
        const auto k = static_cast<ProviderKind>(kind);
        if (k == ProviderKind::OllamaNative)
            QSKIP("no key on Ollama");
        const QByteArray key = k == ProviderKind::OpenAiChat ? kOpenAiKey : k == ProviderKind::Anthropic ? kAnthropicKey : kGeminiKey;
        QLoggingCategory::setFilterRules(QStringLiteral("recwb.llm.debug=true"));
        g_log.clear();
        g_previous = qInstallMessageHandler(captureLog);
        LlmClient client(fastConfig());
        ChatResponse r;
        const bool ran = run(client, profile(k), rerankRequest(QStringLiteral("[[fault:echo_key]]")), r);
        qInstallMessageHandler(g_previous);
        QLoggingCategory::setFilterRules(QStringLiteral("recwb.llm.debug=false"));
        QVERIFY(ran);
        QCOMPARE(r.status, CallStatus::HttpError);
        QCOMPARE(r.httpStatus, 401);
        QCOMPARE(r.attempts, 1); // 401 is never retried
        QVERIFY(m_server.lastRequest(pathFor(k)).headers.size() > 0);
        QVERIFY2(!r.errorMessage.contains(QString::fromLatin1(key)), qPrintable(r.errorMessage));
        QVERIFY(r.errorMessage.contains(QStringLiteral("[REDACTED]")));
        QVERIFY(!r.rawBody.contains(key));
        QVERIFY(!g_log.isEmpty());
        for (const QString& line : std::as_const(g_log))
            QVERIFY2(!line.contains(QString::fromLatin1(key)), qPrintable(line));
        // And the server really got the key (so there was something to hide).
        QVERIFY(m_server.lastRequest(pathFor(k)).body.size() > 0);
    }

    void deleteHandleEarly()
    {
        LlmClient client(fastConfig());
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        p.maxConcurrent = 1;
        LlmCall* first = client.send(p, rerankRequest(QStringLiteral("[[fault:delay:300]]")));
        LlmCall* second = client.send(p, rerankRequest());
        QSignalSpy secondSpy(second, &LlmCall::finished);
        delete first; // abandons the call and frees its slot
        QCOMPARE(client.inFlight(p.name), 1);
        QVERIFY(secondSpy.wait(5000));
        QCOMPARE(secondSpy.at(0).at(0).value<ChatResponse>().status, CallStatus::Ok);
    }

    void blockingHelper()
    {
        LlmClient client(fastConfig());
        const ChatResponse r = sendBlocking(client, profile(ProviderKind::OllamaNative), rerankRequest());
        QCOMPARE(r.status, CallStatus::Ok);
        QCOMPARE(idsIn(r.text), kIds);
    }
};

QTEST_GUILESS_MAIN(TestLlmClient)
#include "tst_llmclient.moc"
