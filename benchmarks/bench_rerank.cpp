// The client's own work per user in an LLM rerank batch, without the network: every stage
// the rerank service runs for one user around the model call, on ML-100K with EASE
// candidates (50) and the shipped listwise template, cycling over all 943 users.
//   bench_rerank                        every stage, percentiles per stage as counters
//   bench_rerank --benchmark_repetitions=5
// Stages: candidates, enrichment, render (as pipeline::prepareUser runs them), request (the
// provider body and the cache key), envelope (the test server's answer as the client
// parses it), answer (applyAnswer: validation and the response-cache write), store
// (finishOutcome with the faithfulness check, the result JSON and its rerank_results row),
// and parse as the pipeline reports it (validation + faithfulness, without the cache write). The live throughput against the test server
// is scripts/bench-rerank.sh. Counters: STAGE_p50/_p95/_p99 in wall ms, STAGE_cpu_p50/_p99
// in thread CPU ms; client3 = enrichment + render + parse per user. Figures: docs/PERFORMANCE.md.
#include "cf/recommender.h"
#include "data/import/importers.h"
#include "data/workspace.h"
#include "pipeline/rerankpipeline.h"
#include "rerank/cache.h"
#include "rerank/llm/providers.h"
#include "rerank/store.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <ctime>
#include <algorithm>
#include <benchmark/benchmark.h>
#include <map>

using namespace recwb;

namespace {

struct Fixture {
    QTemporaryDir dir;
    std::unique_ptr<Workspace> ws;
    Dataset ds;
    std::unique_ptr<cf::Recommender> model;
};

Fixture* fixture()
{
    static std::unique_ptr<Fixture> f;
    static bool tried = false;
    if (tried)
        return f.get();
    tried = true;
    const QString folder = QDir(QStringLiteral(RECWB_SHARED_DATA_DIR)).filePath(QStringLiteral("ml-100k"));
    if (!QDir(folder).exists())
        return nullptr;
    f = std::make_unique<Fixture>();
    f->ws = Workspace::open(f->dir.filePath(QStringLiteral("ml100k.recwb")), Workspace::Mode::CreateOrOpen);
    importMovieLens100k(*f->ws, folder);
    f->ds = f->ws->load();
    f->model = cf::makeRecommender(QStringLiteral("ease"));
    f->model->fit(f->ds.userItems);
    return f.get();
}

// What the test server answers: the first k candidate ids shown, in an OpenAI envelope.
QByteArray serverAnswer(const pipeline::PreparedUser& p)
{
    QJsonArray recs;
    for (int i = 0; i < p.k && i < static_cast<int>(p.candidates.size()); ++i)
        recs.append(QJsonObject { { QStringLiteral("item_id"), p.candidates[static_cast<size_t>(i)].externalId },
            { QStringLiteral("rank"), i + 1 }, { QStringLiteral("score"), 0.95 - 0.05 * i },
            { QStringLiteral("explanation"), QStringLiteral("Test server pick %1 for this user.").arg(i + 1) } });
    const QString text = QString::fromUtf8(
        QJsonDocument(QJsonObject { { QStringLiteral("recommendations"), recs } }).toJson(QJsonDocument::Compact));
    const QJsonObject envelope {
        { QStringLiteral("id"), QStringLiteral("chatcmpl-test") },
        { QStringLiteral("object"), QStringLiteral("chat.completion") },
        { QStringLiteral("model"), QStringLiteral("small-1") },
        { QStringLiteral("choices"),
            QJsonArray { QJsonObject { { QStringLiteral("index"), 0 },
                { QStringLiteral("message"),
                    QJsonObject { { QStringLiteral("role"), QStringLiteral("assistant") },
                        { QStringLiteral("content"), text } } },
                { QStringLiteral("finish_reason"), QStringLiteral("stop") } } } },
        { QStringLiteral("usage"),
            QJsonObject { { QStringLiteral("prompt_tokens"), 2500 }, { QStringLiteral("completion_tokens"), 300 },
                { QStringLiteral("total_tokens"), 2800 } } },
    };
    return QJsonDocument(envelope).toJson(QJsonDocument::Compact);
}

// Wall and thread CPU time of one stage: on a loaded machine the wall percentiles carry
// the scheduler's delays, the CPU ones only this thread's own work.
class StageTimer {
public:
    explicit StageTimer(std::map<std::string, std::vector<double>>& out)
        : m_out(out)
    {
        restart();
    }
    void restart()
    {
        m_wall.start();
        m_cpu = cpuNs();
    }
    void lap(const std::string& stage)
    {
        m_out[stage].push_back(static_cast<double>(m_wall.nsecsElapsed()) / 1e6);
        m_out[stage + "_cpu"].push_back(static_cast<double>(cpuNs() - m_cpu) / 1e6);
        restart();
    }

private:
    static qint64 cpuNs()
    {
        timespec ts {};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<qint64>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    }
    std::map<std::string, std::vector<double>>& m_out;
    QElapsedTimer m_wall;
    qint64 m_cpu = 0;
};

void clientStages(benchmark::State& state)
{
    Fixture* f = fixture();
    if (!f) {
        state.SkipWithError("../shared/data/ml-100k is absent");
        return;
    }
    pipeline::PipelineContext ctx(*f->ws, f->ds, *f->model);
    const rerank::PromptTemplate tmpl = ctx.promptTemplate(QStringLiteral("listwise"));
    rerank::EndpointProfile profile;
    profile.name = QStringLiteral("small");
    profile.kind = rerank::ProviderKind::OpenAiChat;
    profile.baseUrl = QStringLiteral("http://127.0.0.1:8099/v1");
    profile.model = QStringLiteral("small-1");
    rerank::store::RunInfo run;
    run.promptName = tmpl.name;
    run.promptVersion = tmpl.version;
    run.endpoint = profile.name;
    const qint64 runId = rerank::store::createRun(*f->ws, run);

    rerank::EnrichOptions enrichOptions;
    enrichOptions.k = 10;
    enrichOptions.itemTexts = &ctx.itemTexts(); // as pipeline::prepareUser does
    std::map<std::string, std::vector<double>> ms;
    int32_t user = 0;
    for (auto _ : state) {
        // The stages of pipeline::prepareUser, one by one, then around the call.
        StageTimer t(ms);
        pipeline::PreparedUser p;
        p.user = user;
        p.k = 10;
        p.scored = cf::recommend(*f->model, cf::History::ofUser(f->ds.userItems, user), 50);
        p.candidates = rerank::candidatesFrom(f->ds, p.scored);
        t.lap("candidates");
        const rerank::PromptVariables variables = rerank::enrichVariables(f->ds, user, p.candidates, enrichOptions);
        t.lap("enrichment");
        p.prompt = rerank::renderPrompt(tmpl, variables);
        t.lap("render");

        state.PauseTiming();
        const QByteArray body = serverAnswer(p);
        state.ResumeTiming();

        t.restart();
        const rerank::HttpRequestSpec spec = rerank::buildProviderRequest(profile, p.prompt.request);
        const QString key = rerank::cacheKey(profile, p.prompt.request);
        benchmark::DoNotOptimize(spec);
        t.lap("request");

        rerank::ChatResponse response = rerank::parseProviderResponse(profile.kind, body);
        response.httpStatus = 200;
        t.lap("envelope");
        pipeline::applyAnswer(ctx, p, profile, response, false, 50.0, key);
        t.lap("answer");
        if (!p.outcome.result.usable)
            state.SkipWithError("the answer did not validate");

        const qint64 dbId = f->ds.users[static_cast<size_t>(user)].dbId;
        const pipeline::RerankOutcome outcome = pipeline::finishOutcome(ctx, std::move(p));
        rerank::store::putRunResult(*f->ws, runId, dbId, outcome.toJson());
        t.lap("store");
        ms["parse"].push_back(outcome.stageMs.parse); // as the pipeline reports it (wall)
        user = (user + 1) % f->ds.numUsers();
    }
    // Issue 10 targets these three together: enrichment + render + parse, per user.
    std::vector<double> client;
    for (size_t i = 0; i < ms["render"].size(); ++i)
        client.push_back(ms["enrichment"][i] + ms["render"][i] + ms["parse"][i]);
    ms["client3"] = std::move(client);
    for (auto& [stage, v] : ms) {
        std::sort(v.begin(), v.end());
        auto at = [&v](double q) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
        state.counters[stage + "_p50"] = at(0.50);
        state.counters[stage + "_p99"] = at(0.99);
        if (stage.ends_with("_cpu"))
            continue;
        state.counters[stage + "_p95"] = at(0.95);
    }
}

} // namespace

BENCHMARK(clientStages)->Iterations(943)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
