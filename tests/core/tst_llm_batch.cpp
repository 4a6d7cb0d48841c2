#include "testllmserver.h"
#include "testutil.h"

#include "cf/recommender.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "pipeline/batch.h"
#include "rerank/llm/llmclient.h"
#include "rerank/store.h"

#include <QEventLoop>
#include <QJsonArray>
#include <QSet>
#include <QTimer>

using namespace recwb;

// Batch reranking against the real local test LLM server over QNetworkAccessManager:
// 1,000 users at concurrency 8 against a 50 ms server with nothing lost, the cascade,
// selective routing, prompt-cache and cost-saved arithmetic, the position-bias probe,
// cold users with the cold-start prompt, cancel, and stored runs.
class TestLlmBatch : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<Workspace> m_ws;
    Dataset m_ds;
    std::unique_ptr<cf::Recommender> m_cf;
    test::TestLlmServer m_server;
    static constexpr const char* kPath = "/v1/chat/completions";

    rerank::EndpointProfile endpoint(const QString& name, const QString& model, double in, double cached, double outp,
        int maxConcurrent = 8)
    {
        rerank::EndpointProfile e;
        e.name = name;
        e.kind = rerank::ProviderKind::OpenAiChat;
        e.baseUrl = m_server.openAiBaseUrl();
        e.model = model;
        e.maxConcurrent = maxConcurrent;
        e.timeoutMs = 20000;
        e.prices.input = in;
        e.prices.cachedInput = cached;
        e.prices.output = outp;
        e.prices.asOf = QStringLiteral("2026-11-25");
        rerank::store::upsertEndpoint(*m_ws, e);
        return e;
    }

    struct Run {
        pipeline::BatchReport report;
        int progressEvents = 0;
        int lastDone = 0;
        QStringList pauses; // BatchReranker::paused(), in order
    };
    rerank::LlmClientConfig m_clientConfig; // the client runBatch() makes
    Run runBatch(const pipeline::BatchOptions& options, const std::vector<int32_t>& users,
        const std::function<void(pipeline::BatchReranker&, int)>& onProgress = {})
    {
        pipeline::PipelineContext ctx(*m_ws, m_ds, *m_cf);
        rerank::LlmClient client(m_clientConfig);
        pipeline::BatchReranker batch(ctx, client, options);
        Run run;
        connect(&batch, &pipeline::BatchReranker::paused, &batch, [&](const QString& why) { run.pauses.append(why); });
        QEventLoop loop;
        connect(&batch, &pipeline::BatchReranker::finished, &loop, &QEventLoop::quit);
        connect(&batch, &pipeline::BatchReranker::progress, &batch, [&](int done, int) {
            ++run.progressEvents;
            run.lastDone = done;
            if (onProgress)
                onProgress(batch, done);
        });
        QTimer::singleShot(recwb::test::scaledTimeout(120000), &loop, &QEventLoop::quit);
        batch.start(users);
        loop.exec();
        run.report = batch.report();
        return run;
    }

    std::vector<int32_t> usersWhere(const std::function<bool(int32_t)>& keep, int limit = 1 << 30)
    {
        std::vector<int32_t> out;
        for (int32_t u = 0; u < m_ds.numUsers() && static_cast<int>(out.size()) < limit; ++u)
            if (keep(u))
                out.push_back(u);
        return out;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_ws = Workspace::open(m_dir.filePath(QStringLiteral("batch.recwb")), Workspace::Mode::CreateOrOpen);
        GeneratorConfig config;
        config.users = 1100;
        config.items = 400;
        config.interactions = 30000;
        generateIntoWorkspace(*m_ws, config);
        m_ds = m_ws->load();
        m_cf = cf::makeRecommender(QStringLiteral("pop"));
        m_cf->fit(m_ds.userItems);
        endpoint(QStringLiteral("small"), QStringLiteral("small-model"), 0.1, 0.025, 0.4);
        endpoint(QStringLiteral("large"), QStringLiteral("large-model"), 2.0, 0.5, 8.0);
        endpoint(QStringLiteral("broken-small"), QStringLiteral("small-model[[fault:prose]]"), 0.1, 0.025, 0.4);
        rerank::EndpointProfile dead;
        dead.name = QStringLiteral("dead");
        dead.kind = rerank::ProviderKind::OpenAiChat;
        dead.baseUrl = QStringLiteral("http://127.0.0.1:1/v1"); // nothing listens on port 1
        dead.model = QStringLiteral("m");
        dead.maxRetries = 0;
        rerank::store::upsertEndpoint(*m_ws, dead);
    }

    void init()
    {
        m_server.clearFault();
        m_server.resetCounters();
        rerank::store::cacheClear(*m_ws);
    }

    // The issue's load test: 1,000 users, 8 calls at once, 50 ms per answer, none lost.
    void thousandUsersAtConcurrencyEightNoneLost()
    {
        m_server.setFault(QStringLiteral("delay:50"));
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.concurrency = 8;
        const std::vector<int32_t> users = usersWhere([](int32_t) { return true; }, 1000);
        QCOMPARE(users.size(), size_t(1000));
        const Run run = runBatch(options, users);
        const pipeline::BatchReport& r = run.report;
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(!r.canceled);
        QCOMPARE(r.outcomes.size(), size_t(1000));
        QSet<QString> seen;
        for (size_t i = 0; i < r.outcomes.size(); ++i) {
            const auto& o = r.outcomes[i];
            QCOMPARE(o.userId, m_ds.users[static_cast<size_t>(users[i])].externalId); // input order kept
            QVERIFY2(!o.fallback(), qPrintable(o.userId + u' ' + o.result.fallbackReason));
            QCOMPARE(o.result.items.size(), 10);
            QCOMPARE(o.answeredBy(), QStringLiteral("small"));
            seen.insert(o.userId);
        }
        QCOMPARE(seen.size(), 1000);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 1000);
        QCOMPARE(m_server.maxInFlight(QString::fromLatin1(kPath)), 8); // bounded, and the bound was used
        QCOMPARE(run.lastDone, 1000);
        QCOMPARE(run.progressEvents, 1000);
        // Per-stage percentiles over the batch; the LLM stage includes the 50 ms delay.
        const QJsonObject llm = r.summary[QStringLiteral("latency_ms")][QStringLiteral("llm")].toObject();
        QCOMPARE(llm[QStringLiteral("count")].toInt(), 1000);
        QVERIFY(llm[QStringLiteral("p50")].toDouble() >= 50);
        QVERIFY(llm[QStringLiteral("p50")].toDouble() <= llm[QStringLiteral("p95")].toDouble());
        QVERIFY(llm[QStringLiteral("p95")].toDouble() <= llm[QStringLiteral("p99")].toDouble());
        // Stored: the run and one result per user.
        QVERIFY(r.runId > 0);
        const auto stored = rerank::store::findRun(*m_ws, r.runId);
        QVERIFY(stored.has_value());
        QCOMPARE(stored->results, 1000);
        QCOMPARE(stored->summary[QStringLiteral("users")].toInt(), 1000);
        QCOMPARE(stored->params[QStringLiteral("concurrency")].toInt(), 8);
    }

    // Small model first; its invalid answers (prose, no JSON) escalate to the large one.
    void cascadeEscalatesInvalidAnswers()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("broken-small"), QStringLiteral("large") };
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 20);
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(20));
        for (const auto& o : r.outcomes) {
            QCOMPARE(o.tiers.size(), 2);
            QVERIFY(!o.tiers[0].usable);
            QVERIFY(o.tiers[1].usable);
            QVERIFY(!o.fallback());
            QCOMPARE(o.answeredBy(), QStringLiteral("large"));
            QVERIFY(o.result.hasDefect(QStringLiteral("invalid_json")) || o.result.hasDefect(QStringLiteral("prose")));
            QVERIFY(o.result.defects.first().detail.startsWith(QStringLiteral("broken-small: "))); // named by tier
        }
        QCOMPARE(r.summary[QStringLiteral("escalations")].toInt(), 20);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 40);
        const QJsonArray tiers = r.summary[QStringLiteral("tiers")].toArray();
        QCOMPARE(tiers[0][QStringLiteral("failed_or_invalid")].toInt(), 20);
        QCOMPARE(tiers[1][QStringLiteral("final_answers")].toInt(), 20);
        QCOMPARE(tiers[1][QStringLiteral("share_of_users")].toDouble(), 1.0);
        // The baseline prices what the large model was sent as fresh input (its answer used a
        // prompt cache: 1234 in, 1024 of them cached, 210 out), not the small model's usage.
        const double largeFresh = (1234 * 2.0 + 210 * 8.0) / 1e6;
        const QJsonObject base = r.summary[QStringLiteral("baseline")].toObject();
        QVERIFY(qAbs(base[QStringLiteral("estimated_usd")].toDouble() - 20 * largeFresh) < 1e-12);
        const double spent = r.summary[QStringLiteral("cost_usd")].toDouble();
        QVERIFY(spent > 0);
        QVERIFY(qAbs(base[QStringLiteral("saved_usd")].toDouble() - (20 * largeFresh - spent)) < 1e-12);
        QVERIFY(base[QStringLiteral("saved_usd")].toDouble() > 0);
    }

    // The baseline after an escalation to a model whose usage differs from the small one's
    // (Gemini: 1500 in, 1024 of them cached): the large model's own tokens, all priced fresh.
    void baselineAfterEscalationUsesTheLargeModelsTokens()
    {
        rerank::EndpointProfile gemini = endpoint(QStringLiteral("large-gemini"), QStringLiteral("gemini-large"), 2.0, 0.5, 8.0);
        gemini.kind = rerank::ProviderKind::Gemini;
        gemini.baseUrl = m_server.baseUrl();
        gemini.keyEnv = QStringLiteral("RECWB_TEST_GEMINI_KEY");
        qputenv("RECWB_TEST_GEMINI_KEY", "test-key");
        rerank::store::upsertEndpoint(*m_ws, gemini);
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("broken-small"), QStringLiteral("large-gemini") };
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 5);
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(5));
        double expected = 0;
        for (const auto& o : r.outcomes) {
            QCOMPARE(o.answeredBy(), QStringLiteral("large-gemini"));
            QCOMPARE(o.tiers[1].usage.inputTokens, 1500);
            QCOMPARE(o.tiers[1].usage.cachedInputTokens, 1024);
            expected += (1500 * 2.0 + static_cast<double>(o.tiers[1].usage.outputTokens) * 8.0) / 1e6;
        }
        const QJsonObject base = r.summary[QStringLiteral("baseline")].toObject();
        QVERIFY2(qAbs(base[QStringLiteral("estimated_usd")].toDouble() - expected) < 1e-12,
            qPrintable(QStringLiteral("%1 vs %2").arg(base[QStringLiteral("estimated_usd")].toDouble()).arg(expected)));
        QVERIFY(base[QStringLiteral("saved_usd")].toDouble() > 0);
    }

    // A small model that answers well: nobody escalates, and the cost saved against
    // everyone on the large model follows from the prices (usage: 1234 in, 1024 cached, 210 out).
    void cascadeCostSavedAndPromptCacheSavings()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small"), QStringLiteral("large") };
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 10);
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(10));
        QCOMPARE(r.summary[QStringLiteral("escalations")].toInt(), 0);
        const double smallCall = ((1234 - 1024) * 0.1 + 1024 * 0.025 + 210 * 0.4) / 1e6;
        const double largeFresh = (1234 * 2.0 + 210 * 8.0) / 1e6; // baseline: no caches
        QVERIFY(qAbs(r.summary[QStringLiteral("cost_usd")].toDouble() - 10 * smallCall) < 1e-12);
        const QJsonObject base = r.summary[QStringLiteral("baseline")].toObject();
        QCOMPARE(base[QStringLiteral("endpoint")].toString(), QStringLiteral("large"));
        QVERIFY(qAbs(base[QStringLiteral("estimated_usd")].toDouble() - 10 * largeFresh) < 1e-12);
        QVERIFY(qAbs(base[QStringLiteral("saved_usd")].toDouble() - 10 * (largeFresh - smallCall)) < 1e-12);
        const QJsonObject pc = r.summary[QStringLiteral("prompt_cache")].toObject();
        QCOMPARE(pc[QStringLiteral("cached_input_tokens")].toInteger(), 10240);
        QVERIFY(qAbs(pc[QStringLiteral("saved_usd")].toDouble() - 10 * 1024 * (0.1 - 0.025) / 1e6) < 1e-12);
        // A repeat is served from the response cache: no request, no cost.
        const int before = m_server.requestCount(QString::fromLatin1(kPath));
        const pipeline::BatchReport again = runBatch(options, users).report;
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), before);
        QCOMPARE(again.summary[QStringLiteral("response_cache")][QStringLiteral("hits")].toInt(), 10);
        QCOMPARE(again.summary[QStringLiteral("cost_usd")].toDouble(), 0.0);
        for (const auto& o : again.outcomes)
            QVERIFY(o.cacheHit && !o.fallback());
    }

    // A dead first endpoint (connection refused) escalates too; with one tier it falls back.
    void deadEndpointEscalatesOrFallsBack()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("dead"), QStringLiteral("small") };
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 3);
        pipeline::BatchReport r = runBatch(options, users).report;
        for (const auto& o : r.outcomes) {
            QCOMPARE(o.answeredBy(), QStringLiteral("small"));
            QVERIFY(o.tiers[0].failure.contains(QStringLiteral("127.0.0.1:1")));
        }
        options.cascade = { QStringLiteral("dead") };
        r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(3));
        for (const auto& o : r.outcomes) {
            QVERIFY(o.fallback());
            QCOMPARE(o.result.items.size(), 10); // the CF order is never lost
            QVERIFY(o.result.fallbackReason.contains(QStringLiteral("\"dead\"")));
        }
        QCOMPARE(r.summary[QStringLiteral("fallbacks")].toInt(), 3);
    }

    // A model that answers past the deadline: each user times out and keeps the CF order;
    // after five consecutive failures the circuit opens and (breakerProbes = 0) the rest fall back at once,
    // without a request. The report groups the reasons by what went wrong.
    void timeoutThenOpenCircuitFallBack()
    {
        rerank::EndpointProfile slow = endpoint(QStringLiteral("slow"), QStringLiteral("m[[fault:delay:3000]]"), 0.1, 0.025, 0.4, 1);
        slow.timeoutMs = 250;
        slow.maxRetries = 0;
        rerank::store::upsertEndpoint(*m_ws, slow);
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("slow") };
        options.breakerProbes = 0; // the users meeting the open breaker do not wait for its probe
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 8);
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(8));
        int timeouts = 0, open = 0;
        for (const auto& o : r.outcomes) {
            QVERIFY(o.fallback());
            QCOMPARE(o.result.items.size(), 10); // the CF order, complete
            for (qsizetype i = 0; i < o.result.items.size(); ++i)
                QCOMPARE(o.result.items[i].cfRank, static_cast<int>(i + 1));
            QVERIFY(o.result.fallbackReason.contains(QStringLiteral("\"slow\"")));
            timeouts += o.result.fallbackReason.contains(QStringLiteral("failed: timeout"));
            open += o.result.fallbackReason.contains(QStringLiteral("failed: circuit_open"));
        }
        QCOMPARE(timeouts, 5); // LlmClientConfig::circuitFailureThreshold
        QCOMPARE(open, 3);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 5);
        const QJsonObject reasons = r.summary[QStringLiteral("fallback_reasons")].toObject();
        QCOMPARE(reasons[QStringLiteral("call failed: timeout")][QStringLiteral("users")].toInt(), 5);
        QCOMPARE(reasons[QStringLiteral("call failed: circuit_open")][QStringLiteral("users")].toInt(), 3);
        QCOMPARE(r.summary[QStringLiteral("fallbacks")].toInt(), 8);
    }

    // A short outage: five failed calls open the breaker; the run pauses instead of giving
    // the remaining users the CF order, probes after the cooldown (the probe fails: the sixth
    // 503), waits again, and the second probe closes the breaker. Every user after the outage
    // is answered by the LLM; none keeps the CF order for an open circuit.
    void shortOutagePausesTheRun()
    {
        rerank::EndpointProfile e = endpoint(QStringLiteral("flaky"), QStringLiteral("flaky-model"), 0.1, 0.025, 0.4, 1);
        e.maxRetries = 0;
        rerank::store::upsertEndpoint(*m_ws, e);
        m_clientConfig = {};
        m_clientConfig.circuitCooldownMs = 300;
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("flaky") };
        options.bypassCache = true;
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 12);
        m_server.resetCounters();
        m_server.setFault(QStringLiteral("http503"), 6);
        QElapsedTimer clock;
        clock.start();
        const Run run = runBatch(options, users);
        const qint64 ms = clock.elapsed();
        m_clientConfig = {};
        m_server.clearFault();
        const pipeline::BatchReport& r = run.report;
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.outcomes.size(), size_t(12));
        int failed = 0, open = 0, llm = 0;
        for (const auto& o : r.outcomes) {
            QCOMPARE(o.result.items.size(), 10);
            if (!o.fallback()) {
                ++llm;
                continue;
            }
            failed += o.result.fallbackReason.contains(QStringLiteral("http_error"));
            open += o.result.fallbackReason.contains(QStringLiteral("circuit_open"));
        }
        QCOMPARE(open, 0);
        QCOMPARE(failed, 6); // five to open the breaker, one failed probe
        QCOMPARE(llm, 6);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 12); // nothing sent while it was open
        const QJsonObject wait = r.summary[QStringLiteral("breaker_wait")].toObject();
        // Two cooldowns of 300 ms, less the event-loop turns between the breaker opening and
        // the next user meeting it (a loaded or ASan runner takes longer over those).
        QVERIFY2(wait[QStringLiteral("waited_ms")].toDouble() >= 360, qPrintable(QString::number(wait[QStringLiteral("waited_ms")].toDouble())));
        QVERIFY(ms >= 600); // two cooldowns
        QVERIFY(wait[QStringLiteral("users_waited")].toInt() >= 2);
        QVERIFY(!wait[QStringLiteral("gave_up")].toBool());
        // The pauses are announced and their end too.
        QVERIFY(!run.pauses.isEmpty());
        QVERIFY2(run.pauses.front().contains(QStringLiteral("'flaky'")), qPrintable(run.pauses.front()));
        QVERIFY(run.pauses.back().isEmpty());
    }

    // An endpoint that stays down: the run waits at its breaker through three failed probes
    // (BatchOptions::breakerProbes), then the rest keep the CF order (circuit_open) at once,
    // each with its reason.
    void breakerWaitIsBounded()
    {
        rerank::EndpointProfile e = endpoint(QStringLiteral("down"), QStringLiteral("down-model"), 0.1, 0.025, 0.4, 1);
        e.maxRetries = 0;
        rerank::store::upsertEndpoint(*m_ws, e);
        m_clientConfig = {};
        m_clientConfig.circuitCooldownMs = 200;
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("down") };
        options.bypassCache = true;
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 20);
        m_server.resetCounters();
        m_server.setFault(QStringLiteral("http503"));
        const Run run = runBatch(options, users);
        m_clientConfig = {};
        m_server.clearFault();
        const pipeline::BatchReport& r = run.report;
        QCOMPARE(r.outcomes.size(), size_t(20));
        int open = 0;
        for (const auto& o : r.outcomes) {
            QVERIFY(o.fallback());
            QCOMPARE(o.result.items.size(), 10);
            open += o.result.fallbackReason.contains(QStringLiteral("circuit_open"));
        }
        // Five to open the breaker, three probes; one more only if a cooldown ends before the
        // remaining users have all been refused.
        const int sent = m_server.requestCount(QString::fromLatin1(kPath));
        QVERIFY2(sent >= 8 && sent <= 10, qPrintable(QString::number(sent)));
        QCOMPARE(open, 20 - sent);
        const QJsonObject wait = r.summary[QStringLiteral("breaker_wait")].toObject();
        QVERIFY(wait[QStringLiteral("gave_up")].toBool());
        QCOMPARE(wait[QStringLiteral("max_failed_probes")].toInt(), 3);
        // Three cooldowns of 200 ms, less the event-loop turns before each pause begins.
        QVERIFY2(wait[QStringLiteral("waited_ms")].toDouble() >= 360, qPrintable(QString::number(wait[QStringLiteral("waited_ms")].toDouble())));
    }

    // A spending cap: each call's worst case (prompt estimate + 25 % at the input price, the
    // 2,048-token output cap at the output price) is held before it is sent; the first call
    // that does not fit stops all sending, and the rest keep the CF order. Nothing spent
    // goes past the cap.
    void budgetCapStopsSpending()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.concurrency = 1; // one reservation at a time: the arithmetic below is exact
        const double smallCall = ((1234 - 1024) * 0.1 + 1024 * 0.025 + 210 * 0.4) / 1e6;
        options.maxCostUsd = 0.003;
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 30);
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(30));
        const int sent = m_server.requestCount(QString::fromLatin1(kPath));
        QVERIFY(sent >= 1 && sent < 30);
        const QJsonObject budget = r.summary[QStringLiteral("budget")].toObject();
        QVERIFY(budget[QStringLiteral("exhausted")].toBool());
        QCOMPARE(budget[QStringLiteral("calls_not_made")].toInt(), 30 - sent);
        QVERIFY(qAbs(budget[QStringLiteral("spent_usd")].toDouble() - sent * smallCall) < 1e-12);
        QVERIFY(budget[QStringLiteral("spent_usd")].toDouble() <= 0.003);
        QVERIFY(qAbs(r.summary[QStringLiteral("cost_usd")].toDouble() - sent * smallCall) < 1e-12);
        for (size_t i = 0; i < r.outcomes.size(); ++i) {
            const auto& o = r.outcomes[i];
            if (static_cast<int>(i) < sent) {
                QVERIFY(!o.fallback());
                continue;
            }
            QVERIFY(o.fallback());
            QVERIFY(o.result.fallbackReason.startsWith(QStringLiteral("budget: ")));
            QCOMPARE(o.result.items.size(), 10); // the CF order, complete
            QVERIFY(!o.llmCalled());
            if (static_cast<int>(i) == sent) { // the call that did not fit
                const double worst = (1.25 * static_cast<double>(o.promptTokensEstimate) * 0.1 + 2048 * 0.4) / 1e6;
                QVERIFY(sent * smallCall + worst > 0.003);
                QVERIFY((sent - 1) * smallCall + worst <= 0.003);
            }
        }
        QCOMPARE(r.summary[QStringLiteral("fallback_reasons")][QStringLiteral("budget")][QStringLiteral("users")].toInt(),
            30 - sent);

        // Eight at once: a call that fits once the calls in flight settle waits for them
        // instead of ending the run early; the cap still holds.
        rerank::store::cacheClear(*m_ws);
        m_server.resetCounters();
        options.concurrency = 8;
        const pipeline::BatchReport wide = runBatch(options, users).report;
        const int sentWide = m_server.requestCount(QString::fromLatin1(kPath));
        QVERIFY2(sentWide >= sent - 1, qPrintable(QStringLiteral("%1 vs %2").arg(sentWide).arg(sent)));
        const double spentWide = wide.summary[QStringLiteral("budget")][QStringLiteral("spent_usd")].toDouble();
        QVERIFY(spentWide <= 0.003);
        QVERIFY(qAbs(spentWide - sentWide * smallCall) < 1e-12);
        QCOMPARE(wide.outcomes.size(), size_t(30));

        // Prices must be known for a cap to mean anything.
        rerank::EndpointProfile unpriced = endpoint(QStringLiteral("unpriced"), QStringLiteral("mystery-model"), 0, 0, 0);
        unpriced.prices = {};
        unpriced.baseUrl = QStringLiteral("https://api.example.com/v1"); // not loopback: no "local, free" row
        rerank::store::upsertEndpoint(*m_ws, unpriced);
        options.cascade = { QStringLiteral("unpriced") };
        pipeline::PipelineContext ctx(*m_ws, m_ds, *m_cf);
        rerank::LlmClient client;
        pipeline::BatchReranker batch(ctx, client, options);
        try {
            batch.start(users);
            QFAIL("a cap with unknown prices must be refused before anything is sent");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("\"unpriced\"")), qPrintable(e.message()));
        }
    }

    // The run's warm-up (render, parse and the faithfulness check once with placeholder data,
    // ahead of the first user) writes nothing, sends nothing, and swallows a template error
    // (the run reports it for the users, as before); in a run with a cold-start template of its
    // own (both are warmed), every user still gets exactly one call and its own template.
    void warmUpTouchesNothing()
    {
        const QString path = m_dir.filePath(QStringLiteral("batch.recwb"));
        pipeline::PipelineContext ctx(*m_ws, m_ds, *m_cf);
        const rerank::PromptTemplate listwise = ctx.promptTemplate(QStringLiteral("listwise"));
        ctx.faithfulness(); // as BatchReranker::start() does before it (indexed once)
        const QByteArray before = test::workspaceFileBytes(path);
        const int requests = m_server.requestCount(QString::fromLatin1(kPath));
        pipeline::warmUpStages(ctx, listwise);
        const rerank::PromptTemplate broken { QStringLiteral("broken"), 1,
            QStringLiteral("{{! user }}\nline2\n  {{#candidates}}\n{{title}}\n") };
        pipeline::warmUpStages(ctx, broken); // must not throw
        QCOMPARE(test::workspaceFileBytes(path), before);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), requests);

        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.coldPrompt = QStringLiteral("coldstart");
        options.storeRun = false;
        std::vector<int32_t> users = usersWhere([this](int32_t u) { return m_ds.isCold(u); }, 3);
        const auto warm = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 5);
        users.insert(users.end(), warm.begin(), warm.end());
        const pipeline::BatchReport r = runBatch(options, users).report;
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.outcomes.size(), size_t(8));
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), requests + 8);
        for (const pipeline::RerankOutcome& o : r.outcomes) {
            QVERIFY2(!o.fallback(), qPrintable(o.result.fallbackReason));
            QVERIFY2(o.templateRef.startsWith(o.coldStart ? QStringLiteral("coldstart") : QStringLiteral("listwise")),
                qPrintable(o.templateRef));
        }
    }

    // Selective routing: cold users and marked high-value users go to the LLM; warm users
    // keep the CF order when CF is confident, and nothing is sent for them.
    void selectiveRoutingSendsOnlyChosenUsers()
    {
        const auto cold = usersWhere([this](int32_t u) { return m_ds.isCold(u); }, 5);
        const auto warm = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 10);
        QCOMPARE(cold.size(), size_t(5));
        const QString vip = m_ds.users[static_cast<size_t>(warm[3])].externalId;
        rerank::store::setHighValue(*m_ws, { vip }, true);
        QCOMPARE(rerank::store::highValueUsers(*m_ws), QStringList { vip });

        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.routing.everyone = false;
        options.routing.confidenceThreshold = 0.0; // nobody is low-confidence
        const QStringList marked = rerank::store::highValueUsers(*m_ws);
        options.routing.highValueUsers = QSet<QString>(marked.begin(), marked.end());
        std::vector<int32_t> users = cold;
        users.insert(users.end(), warm.begin(), warm.end());
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(15));
        int called = 0;
        for (const auto& o : r.outcomes) {
            if (o.coldStart)
                QCOMPARE(o.route, QStringLiteral("cold"));
            else if (o.userId == vip)
                QCOMPARE(o.route, QStringLiteral("high_value"));
            else
                QCOMPARE(o.route, QStringLiteral("confident"));
            QCOMPARE(o.llmCalled(), o.route != u"confident");
            if (o.route == u"confident") {
                QVERIFY(!o.fallback()); // a decision, not a failure
                QCOMPARE(o.answeredBy(), QStringLiteral("cf"));
                for (int i = 0; i < o.result.items.size(); ++i)
                    QCOMPARE(o.result.items[i].cfRank, i + 1);
            }
            called += o.llmCalled();
        }
        QCOMPARE(called, 6);
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 6);
        QCOMPARE(r.summary[QStringLiteral("routing")][QStringLiteral("cf_kept")].toInt(), 9);
        // The threshold rule alone: everyone below 1.0 is low-confidence.
        options.routing.cold = false;
        options.routing.highValue = false;
        options.routing.confidenceThreshold = 1.0;
        const pipeline::BatchReport all = runBatch(options, warm).report;
        for (const auto& o : all.outcomes)
            QCOMPARE(o.route, QStringLiteral("low_confidence"));
        rerank::store::setHighValue(*m_ws, { vip }, false);
        QVERIFY(rerank::store::highValueUsers(*m_ws).isEmpty());
    }

    // Cold users: candidates from the cold-start blend, the cold-start prompt, a valid answer.
    void coldUsersUseTheColdStartPrompt()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.coldPrompt = QStringLiteral("coldstart");
        const auto cold = usersWhere([this](int32_t u) { return m_ds.isCold(u); }, 3);
        const pipeline::BatchReport r = runBatch(options, cold).report;
        QCOMPARE(r.outcomes.size(), size_t(3));
        for (const auto& o : r.outcomes) {
            QVERIFY(o.coldStart);
            QVERIFY(o.templateRef.startsWith(QStringLiteral("coldstart@")));
            QVERIFY2(!o.fallback(), qPrintable(o.result.fallbackReason));
            QCOMPARE(o.result.items.size(), 10);
        }
        const QString body = QString::fromUtf8(m_server.lastRequest(QString::fromLatin1(kPath)).body);
        QVERIFY(body.contains(QStringLiteral("cold"), Qt::CaseInsensitive));
    }

    // The test server picks the candidates in the order shown: maximal position bias. The
    // offline reranker does not look at the order: no bias at all.
    void positionBiasProbe()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.probeOrders = 4;
        options.seed = 7;
        const auto users = usersWhere([this](int32_t u) { return !m_ds.isCold(u); }, 2);
        const pipeline::BatchReport r = runBatch(options, users).report;
        QCOMPARE(r.outcomes.size(), size_t(8));
        QCOMPARE(r.probes.size(), size_t(2));
        for (const auto& p : r.probes) {
            QCOMPARE(p.stats.runs, 4);
            QVERIFY2(p.stats.meanKendallTau < 0.5, qPrintable(QString::number(p.stats.meanKendallTau)));
            QCOMPARE(p.stats.firstThirdShare, 1.0); // every pick was among the first 10 of 50 shown
            QVERIFY(!p.stats.borda.empty());
        }
        // Each order was a different prompt: 8 requests, none from the cache.
        QCOMPARE(m_server.requestCount(QString::fromLatin1(kPath)), 8);

        options.cascade = { QStringLiteral("offline") };
        const pipeline::BatchReport off = runBatch(options, users).report;
        for (const auto& p : off.probes) {
            QCOMPARE(p.stats.meanKendallTau, 1.0);
            QCOMPARE(p.stats.meanTopKOverlap, 1.0);
        }
        QCOMPARE(off.summary[QStringLiteral("position_bias")][QStringLiteral("mean_kendall_tau")].toDouble(), 1.0);
        const auto stored = rerank::store::runResults(*m_ws, off.runId);
        QCOMPARE(stored.size(), 2);
        QCOMPARE(stored[0].second[QStringLiteral("orders")].toArray().size(), 4);
    }

    // Cancel in the middle: what finished is reported and stored, nothing else, no crash.
    void cancelMidway()
    {
        m_server.setFault(QStringLiteral("delay:30"));
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small") };
        options.concurrency = 4;
        const auto users = usersWhere([](int32_t) { return true; }, 200);
        const Run run = runBatch(options, users, [](pipeline::BatchReranker& b, int done) {
            if (done == 20)
                b.cancel();
        });
        const pipeline::BatchReport& r = run.report;
        QVERIFY(r.canceled);
        QVERIFY(r.outcomes.size() >= 20 && r.outcomes.size() < 200);
        QCOMPARE(static_cast<int>(r.outcomes.size()), run.lastDone);
        const auto stored = rerank::store::findRun(*m_ws, r.runId);
        QCOMPARE(stored->results, static_cast<int>(r.outcomes.size()));
        QVERIFY(stored->summary[QStringLiteral("canceled")].toBool());
    }

    void badConfigurationFailsBeforeAnyRequest()
    {
        pipeline::PipelineContext ctx(*m_ws, m_ds, *m_cf);
        rerank::LlmClient client;
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("small"), QStringLiteral("nope") };
        pipeline::BatchReranker batch(ctx, client, options);
        QVERIFY_THROWS_EXCEPTION(Error, batch.start({ 0, 1 }));
        options.cascade = { QStringLiteral("small") };
        options.prompt = QStringLiteral("listwise@99");
        pipeline::BatchReranker batch2(ctx, client, options);
        QVERIFY_THROWS_EXCEPTION(Error, batch2.start({ 0, 1 }));
        QCOMPARE(m_server.requestCount(), 0);
        QVERIFY_THROWS_EXCEPTION(Error, rerank::store::setHighValue(*m_ws, { QStringLiteral("no-such-user") }, true));
    }

    void runsAreListedAndRemoved()
    {
        pipeline::BatchOptions options;
        options.cascade = { QStringLiteral("offline") };
        const pipeline::BatchReport r = runBatch(options, { 0, 1, 2, 2 }).report;
        QCOMPARE(r.outcomes.size(), size_t(3)); // duplicates reranked once
        const auto runs = rerank::store::listRuns(*m_ws);
        QVERIFY(!runs.isEmpty());
        QCOMPARE(runs.first().id, r.runId); // newest first
        QCOMPARE(rerank::store::runResults(*m_ws, r.runId).size(), 3);
        QVERIFY(rerank::store::removeRun(*m_ws, r.runId));
        QVERIFY(rerank::store::runResults(*m_ws, r.runId).isEmpty()); // cascade delete
        QVERIFY(!rerank::store::findRun(*m_ws, r.runId));
    }
};

QTEST_GUILESS_MAIN(TestLlmBatch)
#include "tst_llm_batch.moc"
