#include "testllmserver.h"
#include "testutil.h"

#include "cf/recommender.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "pipeline/rerankservice.h"
#include "rerank/store.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QThread>

using namespace recwb;

// The long-lived rerank service of an open workspace, against the real local test LLM
// server: job ids and one finished signal per job, cancel as a call, state that lives
// across requests (circuit breaker, response cache), concurrent jobs, unsaved drafts,
// what-if histories, and "none" (the CF order).
class TestLlmService : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_path;
    std::shared_ptr<const Dataset> m_ds;
    std::shared_ptr<const cf::Recommender> m_cf;
    test::TestLlmServer m_server;

    void addEndpoint(const QString& name, const QString& model, const QString& baseUrl, int retries = 0)
    {
        const auto ws = Workspace::open(m_path);
        rerank::EndpointProfile e;
        e.name = name;
        e.kind = rerank::ProviderKind::OpenAiChat;
        e.baseUrl = baseUrl;
        e.model = model;
        e.maxRetries = retries;
        e.timeoutMs = 30000;
        rerank::store::upsertEndpoint(*ws, e);
    }

    pipeline::RerankRequest request(std::vector<int32_t> users, const QString& endpoint) const
    {
        pipeline::RerankRequest r;
        r.dataset = m_ds;
        r.cfModel = m_cf;
        r.users = std::move(users);
        r.options.cascade = { endpoint };
        r.options.prompt = QStringLiteral("listwise");
        r.options.k = 5;
        r.options.candidates = 20;
        r.options.storeRun = false;
        return r;
    }

    // Waits for job's jobFinished on spy (which records every job) and returns its reply.
    static std::optional<pipeline::RerankReply> waitFor(QSignalSpy& spy, quint64 job, int timeoutMs = 30000)
    {
        QElapsedTimer clock;
        clock.start();
        for (;;) {
            for (const QList<QVariant>& args : std::as_const(spy))
                if (args.at(0).toULongLong() == job)
                    return args.at(1).value<pipeline::RerankReply>();
            if (clock.elapsed() > timeoutMs
                || !spy.wait(std::max<int>(1, timeoutMs - static_cast<int>(clock.elapsed()))))
                return std::nullopt;
        }
    }

    int32_t firstUser(bool cold) const
    {
        for (int32_t u = 0; u < m_ds->numUsers(); ++u)
            if (m_ds->isCold(u) == cold)
                return u;
        return -1;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_path = m_dir.filePath(QStringLiteral("service.recwb"));
        auto ws = Workspace::open(m_path, Workspace::Mode::CreateOrOpen);
        GeneratorConfig config;
        config.users = 300;
        config.items = 300;
        config.interactions = 9000;
        generateIntoWorkspace(*ws, config);
        m_ds = std::make_shared<const Dataset>(ws->load());
        auto cf = cf::makeRecommender(QStringLiteral("pop"));
        cf->fit(m_ds->userItems);
        m_cf = std::move(cf);
        ws.reset();
        addEndpoint(QStringLiteral("local"), QStringLiteral("m"), m_server.openAiBaseUrl());
        addEndpoint(QStringLiteral("slow"), QStringLiteral("m[[fault:delay:20000]]"), m_server.openAiBaseUrl());
        addEndpoint(QStringLiteral("failing"), QStringLiteral("m[[fault:http500]]"), m_server.openAiBaseUrl());
        addEndpoint(QStringLiteral("dead"), QStringLiteral("m"), QStringLiteral("http://127.0.0.1:1/v1"));
    }

    void init()
    {
        m_server.clearFault();
        m_server.resetCounters();
    }

    // Each submit gets its own id at once, the reply comes later through one signal.
    void jobIdsAndOneFinishedSignal()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const int32_t warm = firstUser(false);
        const quint64 a = service.submit(request({ warm }, QStringLiteral("offline")));
        const quint64 b = service.submit(request({ warm }, QStringLiteral("local")));
        QVERIFY(a != 0 && b != 0 && a != b);
        QCOMPARE(spy.count(), 0); // never inside submit()
        const auto ra = waitFor(spy, a);
        const auto rb = waitFor(spy, b);
        QVERIFY(ra && rb);
        QCOMPARE(ra->job, a);
        QVERIFY2(ra->report.error.isEmpty(), qPrintable(ra->report.error));
        QCOMPARE(ra->report.outcomes.size(), size_t(1));
        QCOMPARE(ra->report.outcomes.front().answeredBy(), QStringLiteral("offline"));
        QCOMPARE(ra->report.outcomes.front().result.items.size(), 5);
        QVERIFY2(rb->report.error.isEmpty(), qPrintable(rb->report.error));
        QCOMPARE(rb->report.outcomes.front().answeredBy(), QStringLiteral("local"));
        QCOMPARE(m_server.requestCount(), 1); // the offline job sent nothing
        QTest::qWait(50);
        QCOMPARE(spy.count(), 2); // exactly one signal per job
        QCOMPARE(service.runningJobs(), 0);
    }

    // cancel() is a call: a job waiting on a 20 s answer reports canceled at once.
    void cancelIsACall()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const quint64 job = service.submit(request({ firstUser(false) }, QStringLiteral("slow")));
        QTRY_COMPARE_WITH_TIMEOUT(m_server.inFlight(), 1, 10000);
        QElapsedTimer clock;
        clock.start();
        service.cancel(job);
        const auto reply = waitFor(spy, job, 10000);
        QVERIFY(reply);
        QVERIFY(reply->report.canceled);
        QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
        QTRY_COMPARE_WITH_TIMEOUT(m_server.inFlight(), 0, 5000); // the request was aborted
    }

    // One client for the workspace's lifetime: five failed calls in five separate jobs open
    // the endpoint's circuit, and the sixth job is refused without a request.
    void circuitBreakerLivesAcrossRequests()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const int32_t warm = firstUser(false);
        for (int i = 0; i < 5; ++i) {
            const auto reply = waitFor(spy, service.submit(request({ warm }, QStringLiteral("failing"))));
            QVERIFY(reply);
            QVERIFY(reply->report.outcomes.front().fallback());
        }
        const int sent = m_server.requestCount();
        QCOMPARE(sent, 5);
        const auto reply = waitFor(spy, service.submit(request({ warm }, QStringLiteral("failing"))));
        QVERIFY(reply);
        const pipeline::RerankOutcome& o = reply->report.outcomes.front();
        QVERIFY(o.fallback());
        QVERIFY2(o.result.fallbackReason.contains(QStringLiteral("circuit_open")), qPrintable(o.result.fallbackReason));
        QCOMPARE(m_server.requestCount(), sent); // refused without sending
        // The CF order is what the user gets.
        QCOMPARE(o.result.items.front().cfRank, 1);
    }

    // The response cache is the workspace's: a second identical request is a cache hit.
    void responseCacheAcrossRequests()
    {
        {
            const auto ws = Workspace::open(m_path);
            rerank::store::cacheClear(*ws);
        }
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const int32_t warm = firstUser(false);
        const auto first = waitFor(spy, service.submit(request({ warm }, QStringLiteral("local"))));
        const auto second = waitFor(spy, service.submit(request({ warm }, QStringLiteral("local"))));
        QVERIFY(first && second);
        QVERIFY(!first->report.outcomes.front().cacheHit);
        QVERIFY(second->report.outcomes.front().cacheHit);
        QCOMPARE(m_server.requestCount(), 1);
    }

    // Jobs run concurrently: an offline job submitted after a slow LLM job finishes first.
    void concurrentJobs()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const int32_t warm = firstUser(false);
        const quint64 slow = service.submit(request({ warm }, QStringLiteral("slow")));
        const quint64 offline = service.submit(request({ warm }, QStringLiteral("offline")));
        QVERIFY(waitFor(spy, offline, 10000));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.first().at(0).toULongLong(), offline);
        service.cancel(slow);
        const auto reply = waitFor(spy, slow, 10000);
        QVERIFY(reply && reply->report.canceled);
    }

    // A dead endpoint falls back to the CF order and names the request; the job still ends.
    void deadEndpointFallsBackNamingTheRequest()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const auto reply = waitFor(spy, service.submit(request({ firstUser(false) }, QStringLiteral("dead"))));
        QVERIFY(reply);
        const pipeline::RerankOutcome& o = reply->report.outcomes.front();
        QVERIFY(o.fallback());
        QVERIFY2(o.result.fallbackReason.contains(QStringLiteral("127.0.0.1:1")), qPrintable(o.result.fallbackReason));
    }

    // "Try it": an unsaved template is sent as it is and never becomes a version; a draft that
    // does not parse is refused before anything is sent, naming the line.
    void draftTemplate()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        int versionsBefore = 0;
        {
            const auto ws = Workspace::open(m_path);
            rerank::store::seedDefaultTemplates(*ws);
            versionsBefore = static_cast<int>(rerank::store::templateVersions(*ws, QStringLiteral("listwise")).size());
        }
        const QString text
            = rerank::shippedTemplates().front().text + QStringLiteral("\nDRAFT-MARKER-7781 pick {{k}}.\n");
        auto r = request({ firstUser(false) }, QStringLiteral("local"));
        r.draft = rerank::PromptTemplate { QStringLiteral("listwise"), 0, text };
        r.options.storeRun = true;
        const auto reply = waitFor(spy, service.submit(std::move(r)));
        QVERIFY(reply);
        QVERIFY2(reply->report.error.isEmpty(), qPrintable(reply->report.error));
        QCOMPARE(reply->report.outcomes.front().templateRef, QStringLiteral("listwise@draft"));
        QVERIFY(
            m_server.lastRequest(QStringLiteral("/v1/chat/completions")).body.contains("DRAFT-MARKER-7781 pick 5."));
        {
            const auto ws = Workspace::open(m_path);
            QCOMPARE(static_cast<int>(rerank::store::templateVersions(*ws, QStringLiteral("listwise")).size()),
                versionsBefore);
            const auto run = rerank::store::findRun(*ws, reply->report.runId);
            QVERIFY(run);
            QCOMPARE(run->params.value(QStringLiteral("template")).toString(), QStringLiteral("listwise@draft"));
        }

        const int sent = m_server.requestCount();
        auto broken = request({ firstUser(false) }, QStringLiteral("local"));
        broken.draft = rerank::PromptTemplate { QStringLiteral("mine"), 0,
            QStringLiteral("{{! user }}\nline two\n{{#candidates}}\n{{title}}\n") };
        const auto refused = waitFor(spy, service.submit(std::move(broken)));
        QVERIFY(refused);
        QVERIFY2(refused->report.error.contains(QStringLiteral("line")), qPrintable(refused->report.error));
        QVERIFY(refused->report.outcomes.empty());
        QCOMPARE(m_server.requestCount(), sent);
    }

    // A what-if history: candidates exclude its items, the prompt shows them as the history,
    // and a short one is cold (the cold-start blend).
    void whatIfHistory()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        rerank::PromptUser user;
        user.id = QStringLiteral("what-if");
        for (int32_t item : { 7, 3, 11, 42, 5, 3 }) // unsorted, one duplicate
            user.history.push_back({ item, 1.0f, 0 });
        auto r = request({}, QStringLiteral("local"));
        r.whatIf = user;
        const auto reply = waitFor(spy, service.submit(std::move(r)));
        QVERIFY(reply);
        QVERIFY2(reply->report.error.isEmpty(), qPrintable(reply->report.error));
        const pipeline::RerankOutcome& o = reply->report.outcomes.front();
        QCOMPARE(o.userId, QStringLiteral("what-if"));
        QVERIFY(!o.coldStart);
        QVERIFY(!o.fallback());
        for (const rerank::RankedItem& item : o.result.items)
            QVERIFY2(item.item != 7 && item.item != 3 && item.item != 11 && item.item != 42 && item.item != 5,
                qPrintable(item.externalId));
        const QByteArray body = m_server.lastRequest(QStringLiteral("/v1/chat/completions")).body;
        QVERIFY(body.contains(m_ds->items[42].title.toUtf8()));

        rerank::PromptUser cold;
        cold.id = QStringLiteral("new");
        cold.history.push_back({ 9, 1.0f, 0 });
        auto rc = request({}, QStringLiteral("offline"));
        rc.whatIf = cold;
        const auto coldReply = waitFor(spy, service.submit(std::move(rc)));
        QVERIFY(coldReply);
        QVERIFY2(coldReply->report.error.isEmpty(), qPrintable(coldReply->report.error));
        QVERIFY(coldReply->report.outcomes.front().coldStart);
        QCOMPARE(coldReply->report.outcomes.front().templateRef.section(u'@', 0, 0), QStringLiteral("listwise"));
    }

    // "none": no reranker; the list is the CF order and nothing is sent.
    void noReranker()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const auto reply = waitFor(spy, service.submit(request({ firstUser(false) }, QStringLiteral("none"))));
        QVERIFY(reply);
        QVERIFY2(reply->report.error.isEmpty(), qPrintable(reply->report.error));
        const pipeline::RerankOutcome& o = reply->report.outcomes.front();
        QCOMPARE(o.answeredBy(), QStringLiteral("none"));
        QVERIFY(!o.fallback());
        for (qsizetype i = 0; i < o.result.items.size(); ++i)
            QCOMPARE(o.result.items[i].cfRank, static_cast<int>(i) + 1);
        QCOMPARE(m_server.requestCount(), 0);
    }

    // Candidate sources: the cold-start blend for a warm user on request.
    void candidateSource()
    {
        pipeline::RerankService service;
        service.open(m_path);
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        auto r = request({ firstUser(false) }, QStringLiteral("none"));
        r.source = pipeline::CandidateSource::ColdStart;
        const auto reply = waitFor(spy, service.submit(std::move(r)));
        QVERIFY(reply);
        QVERIFY(reply->report.outcomes.front().coldStart);
        auto rc = request({ firstUser(true) }, QStringLiteral("none"));
        rc.source = pipeline::CandidateSource::Cf;
        const auto coldReply = waitFor(spy, service.submit(std::move(rc)));
        QVERIFY(coldReply);
        QVERIFY(!coldReply->report.outcomes.front().coldStart);
    }

    // A workspace that cannot be opened fails the jobs with the reason, it does not hang.
    void openFailure()
    {
        pipeline::RerankService service;
        QSignalSpy failed(&service, &pipeline::RerankService::openFailed);
        service.open(m_dir.filePath(QStringLiteral("missing/nowhere.recwb")));
        QSignalSpy spy(&service, &pipeline::RerankService::jobFinished);
        const auto reply = waitFor(spy, service.submit(request({ 0 }, QStringLiteral("offline"))));
        QVERIFY(reply);
        QVERIFY2(reply->report.error.contains(QStringLiteral("could not be opened")), qPrintable(reply->report.error));
        QCOMPARE(failed.count(), 1);
    }

    // Destroying the service with a call in flight returns promptly and aborts the call.
    void destroyWhileRunning()
    {
        QElapsedTimer clock;
        {
            pipeline::RerankService service;
            service.open(m_path);
            service.submit(request({ firstUser(false) }, QStringLiteral("slow")));
            QTRY_COMPARE_WITH_TIMEOUT(m_server.inFlight(), 1, 10000);
            clock.start();
        }
        QVERIFY(clock.elapsed() < 3000);
        QTRY_COMPARE_WITH_TIMEOUT(m_server.inFlight(), 0, 5000);
    }
};

QTEST_GUILESS_MAIN(TestLlmService)
#include "tst_llm_service.moc"
