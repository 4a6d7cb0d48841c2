#include "rerank/llm/endpointtest.h"
#include "rerank/llm/keystore.h"
#include "rerank/llm/llmclient.h"
#include "testllmserver.h"
#include "testutil.h"

#include <QElapsedTimer>
#include <QSignalSpy>

using namespace recwb;
using namespace recwb::rerank;

// The contracts of KeyStore and EndpointTest: one finished signal, never from inside the
// call; keys never in a result; an endpoint test against the local test LLM server.
class TestLlmKeys : public QObject {
    Q_OBJECT

private:
    test::TestLlmServer m_server;
    static constexpr const char* kKey = "sk-keys-test-SECRET-9911";

    EndpointProfile profile(const QString& model) const
    {
        EndpointProfile p;
        p.name = QStringLiteral("probe");
        p.kind = ProviderKind::OpenAiChat;
        p.baseUrl = m_server.openAiBaseUrl();
        p.model = model;
        p.keyEnv = QStringLiteral("RECWB_TEST_KEYS_KEY");
        p.timeoutMs = 10000;
        p.maxRetries = 3; // the test itself sends once
        return p;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_server.start() != 0);
        qputenv("RECWB_TEST_KEYS_KEY", kKey);
    }

    void keyStoreRefusesEmptyKeyAndEntry_data()
    {
        QTest::addColumn<QString>("entry");
        QTest::addColumn<QByteArray>("key");
        QTest::addColumn<QString>("expected");
        QTest::addRow("empty key") << QStringLiteral("recwb-test-entry") << QByteArray("  ")
                                   << QStringLiteral("empty key");
        QTest::addRow("empty entry") << QString() << QByteArray(kKey) << QStringLiteral("needs a name");
    }
    void keyStoreRefusesEmptyKeyAndEntry()
    {
        QFETCH(QString, entry);
        QFETCH(QByteArray, key);
        QFETCH(QString, expected);
        KeyStore store;
        QSignalSpy done(store.write(entry, key), &KeyJob::finished);
        QCOMPARE(done.count(), 0); // never from inside the call
        QVERIFY(done.wait(5000));
        QCOMPARE(done.count(), 1);
        const auto r = done.at(0).at(0).value<KeyStoreResult>();
        QCOMPARE(r.status, KeyStoreResult::Status::Failed);
        QVERIFY2(r.error.contains(expected), qPrintable(r.error));
        QVERIFY(!r.error.contains(QString::fromLatin1(kKey)));
    }

    // Without a Secret Service the job ends Unavailable (naming entry and service); with
    // one, a missing entry is NotFound. Never Ok, never a key in the text.
    void keyStoreMissingEntry()
    {
        KeyStore store(QStringLiteral("recwb-test-service"));
        store.setTimeoutMs(10000);
        QSignalSpy done(store.has(QStringLiteral("recwb-test-surely-missing")), &KeyJob::finished);
        QCOMPARE(done.count(), 0);
        QVERIFY(done.wait(20000));
        const auto r = done.at(0).at(0).value<KeyStoreResult>();
        QVERIFY(r.status == KeyStoreResult::Status::NotFound || r.status == KeyStoreResult::Status::Unavailable);
        QVERIFY2(r.error.contains(QStringLiteral("recwb-test-surely-missing"))
                && r.error.contains(QStringLiteral("recwb-test-service")),
            qPrintable(r.error));
        if (!KeyStore::supported())
            QVERIFY(r.error.contains(QStringLiteral("keychain support not built")));
        if (qEnvironmentVariableIntValue("RECWB_REQUIRE_KEYCHAIN") == 1)
            QVERIFY2(r.status == KeyStoreResult::Status::NotFound, qPrintable(r.error));
        QCOMPARE(KeyStore::entryForEndpoint(QStringLiteral("gpt")), QStringLiteral("endpoint:gpt"));
    }

    // Written through KeyStore, read back by LlmClient for a request (same service), then
    // removed: has() goes Ok -> NotFound.
    void keyStoreRoundTrip()
    {
        const QString service = QStringLiteral("recwb-test-service");
        const QString entry = QStringLiteral("recwb-test-roundtrip");
        const QByteArray key = "sk-keys-roundtrip-SECRET-4242";
        KeyStore store(service);
        store.setTimeoutMs(10000);
        QSignalSpy written(store.write(entry, key), &KeyJob::finished);
        QVERIFY(written.wait(20000));
        const auto w = written.at(0).at(0).value<KeyStoreResult>();
        if (w.status == KeyStoreResult::Status::Unavailable)
            RECWB_KEYCHAIN_MISSING(QStringLiteral("no keychain answers here: %1").arg(w.error));
        QVERIFY2(w.ok(), qPrintable(w.error));
        QVERIFY(!w.error.contains(QString::fromLatin1(key)));
        QSignalSpy found(store.has(entry), &KeyJob::finished);
        QVERIFY(found.wait(20000));
        QVERIFY(found.at(0).at(0).value<KeyStoreResult>().ok());

        LlmClientConfig config;
        config.keychainService = service;
        LlmClient client(config);
        EndpointProfile p = profile(QStringLiteral("answering-model"));
        p.keyEnv.clear();
        p.keychainEntry = entry;
        m_server.resetCounters();
        QSignalSpy tested(EndpointTest::start(client, p), &EndpointTest::finished);
        QVERIFY(tested.wait(20000));
        const auto t = tested.at(0).at(0).value<EndpointTestResult>();
        QVERIFY2(t.ok(), qPrintable(t.error));
        QVERIFY(m_server.lastRequest(QStringLiteral("/v1/chat/completions")).header("authorization").contains(key));

        QSignalSpy removed(store.remove(entry), &KeyJob::finished);
        QVERIFY(removed.wait(20000));
        const auto r = removed.at(0).at(0).value<KeyStoreResult>();
        QVERIFY2(r.ok(), qPrintable(r.error));
        QSignalSpy gone(store.has(entry), &KeyJob::finished);
        QVERIFY(gone.wait(20000));
        QCOMPARE(gone.at(0).at(0).value<KeyStoreResult>().status, KeyStoreResult::Status::NotFound);
    }

    void endpointTestAnswers()
    {
        LlmClient client;
        m_server.resetCounters();
        auto* t = EndpointTest::start(client, profile(QStringLiteral("answering-model")));
        QSignalSpy done(t, &EndpointTest::finished);
        QCOMPARE(done.count(), 0);
        QVERIFY(done.wait(10000));
        const auto r = done.at(0).at(0).value<EndpointTestResult>();
        QVERIFY2(r.ok(), qPrintable(r.error));
        QCOMPARE(r.httpStatus, 200);
        QCOMPARE(r.model, QStringLiteral("answering-model"));
        QVERIFY(r.latencyMs > 0);
        QCOMPARE(r.url, m_server.openAiBaseUrl() + QStringLiteral("/chat/completions"));
        QVERIFY(r.summary().startsWith(QStringLiteral("ok: HTTP 200 in ")));
        const QJsonObject sent = m_server.lastRequest(QStringLiteral("/v1/chat/completions")).json();
        QCOMPARE(
            sent.value(QStringLiteral("max_tokens")).toInt(sent.value(QStringLiteral("max_completion_tokens")).toInt()),
            16);
    }

    // A 503 is retryable, but a test shows the first answer: one request, no retries.
    void endpointTestDoesNotRetry()
    {
        LlmClient client;
        m_server.resetCounters();
        QSignalSpy done(
            EndpointTest::start(client, profile(QStringLiteral("m[[fault:http503]]"))), &EndpointTest::finished);
        QVERIFY(done.wait(10000));
        const auto r = done.at(0).at(0).value<EndpointTestResult>();
        QCOMPARE(r.status, CallStatus::HttpError);
        QCOMPARE(r.httpStatus, 503);
        QCOMPARE(m_server.requestCount(), 1);
        QVERIFY2(r.summary().contains(QStringLiteral("HTTP 503")), qPrintable(r.summary()));
    }

    void endpointTestRedactsKeys()
    {
        LlmClient client;
        QSignalSpy done(
            EndpointTest::start(client, profile(QStringLiteral("m[[fault:echo_key]]"))), &EndpointTest::finished);
        QVERIFY(done.wait(10000));
        const auto r = done.at(0).at(0).value<EndpointTestResult>();
        QCOMPARE(r.httpStatus, 401);
        QVERIFY(!r.error.isEmpty());
        for (const QString& text : { r.error, r.summary(), QString::fromUtf8(QJsonDocument(r.toJson()).toJson()) })
            QVERIFY2(!text.contains(QString::fromLatin1(kKey)), qPrintable(text));
    }

    void endpointTestCancel()
    {
        LlmClient client;
        auto* t = EndpointTest::start(client, profile(QStringLiteral("m[[fault:delay:3000]]")));
        QSignalSpy done(t, &EndpointTest::finished);
        QTRY_COMPARE_WITH_TIMEOUT(m_server.inFlight(), 1, 5000);
        QElapsedTimer clock;
        clock.start();
        t->cancel();
        QVERIFY(done.wait(5000));
        QVERIFY(clock.elapsed() < 2000);
        QCOMPARE(done.at(0).at(0).value<EndpointTestResult>().status, CallStatus::Canceled);
    }

    void offlineSendsNothing()
    {
        LlmClient client;
        m_server.resetCounters();
        EndpointProfile p;
        p.name = QStringLiteral("offline");
        p.kind = ProviderKind::Offline;
        auto* t = EndpointTest::start(client, p);
        QSignalSpy done(t, &EndpointTest::finished);
        QCOMPARE(done.count(), 0);
        QVERIFY(done.wait(5000));
        const auto r = done.at(0).at(0).value<EndpointTestResult>();
        QVERIFY(r.ok() && r.offline);
        QCOMPARE(r.summary(), QStringLiteral("offline reranker: no network needed"));
        QCOMPARE(m_server.requestCount(), 0);
    }
};

QTEST_GUILESS_MAIN(TestLlmKeys)
#include "tst_llmkeys.moc"
