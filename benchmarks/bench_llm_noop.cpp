// The no-op client: the ceiling a rerank batch can reach against an LLM endpoint on this
// machine. Every user's prompt is prepared first (not timed: candidates, enrichment,
// render, exactly as `recwb-cli rerank` builds them); then the same requests go out
// through the LlmClient at the given concurrency, and each answer is only counted (no
// parsing, no storing, no next user to prepare). Prints one JSON line with users/s and the
// call latency percentiles.
//   bench_llm_noop -w ml100k.recwb --endpoint small [--concurrency 8] [--limit N]
// scripts/bench-rerank.sh runs it interleaved with `recwb-cli rerank`; docs/PERFORMANCE.md.
#include "cf/snapshots.h"
#include "data/workspace.h"
#include "pipeline/rerankpipeline.h"
#include "rerank/llm/llmclient.h"
#include "util/error.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTextStream>

#include <algorithm>

using namespace recwb;

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("The no-op client baseline for LLM rerank throughput."));
    p.addHelpOption();
    p.addOption({ { QStringLiteral("w"), QStringLiteral("workspace") }, QStringLiteral("Workspace."), QStringLiteral("file") });
    p.addOption({ QStringLiteral("endpoint"), QStringLiteral("Endpoint name."), QStringLiteral("name") });
    p.addOption({ QStringLiteral("concurrency"), QStringLiteral("Calls in flight (default 8)."), QStringLiteral("n"),
        QStringLiteral("8") });
    p.addOption({ QStringLiteral("limit"), QStringLiteral("At most this many users (default all)."), QStringLiteral("n") });
    p.process(app);
    QTextStream err(stderr);
    try {
        const auto ws = Workspace::open(p.value(QStringLiteral("workspace")));
        const Dataset ds = ws->load();
        const auto model = cf::snapshotOrTrain(*ws, ds, QStringLiteral("ease"));
        pipeline::PipelineContext ctx(*ws, ds, *model);
        const rerank::EndpointProfile profile = ctx.endpoint(p.value(QStringLiteral("endpoint")));
        const rerank::PromptTemplate warm = ctx.promptTemplate(QStringLiteral("listwise"));
        const rerank::PromptTemplate cold = ctx.promptTemplate(QStringLiteral("coldstart"));
        int users = ds.numUsers();
        if (p.isSet(QStringLiteral("limit")))
            users = std::min(users, p.value(QStringLiteral("limit")).toInt());
        std::vector<rerank::ChatRequest> requests;
        for (int32_t u = 0; u < users; ++u)
            requests.push_back(
                pipeline::prepareUser(ctx, u, ds.isCold(u) ? cold : warm, 50, 10).prompt.request);

        rerank::LlmClient client;
        const int concurrency = std::max(1, p.value(QStringLiteral("concurrency")).toInt());
        size_t next = 0;
        int done = 0;
        int failed = 0;
        std::vector<double> latency;
        QElapsedTimer wall;
        std::function<void()> sendNext = [&] {
            if (next >= requests.size())
                return;
            rerank::LlmCall* call = client.send(profile, requests[next++]);
            QObject::connect(call, &rerank::LlmCall::finished, &app, [&](const rerank::ChatResponse& r) {
                latency.push_back(r.latencyMs);
                failed += r.ok() ? 0 : 1;
                if (++done == static_cast<int>(requests.size()))
                    QCoreApplication::quit();
                else
                    sendNext();
            });
        };
        wall.start();
        for (int i = 0; i < concurrency; ++i)
            sendNext();
        QCoreApplication::exec();
        const double seconds = static_cast<double>(wall.nsecsElapsed()) / 1e9;
        std::sort(latency.begin(), latency.end());
        auto at = [&latency](double q) {
            return latency.empty() ? 0.0 : latency[std::min(latency.size() - 1, static_cast<size_t>(q * latency.size()))];
        };
        const QJsonObject o {
            { QStringLiteral("users"), done },
            { QStringLiteral("failed"), failed },
            { QStringLiteral("concurrency"), concurrency },
            { QStringLiteral("wall_ms"), seconds * 1e3 },
            { QStringLiteral("users_per_second"), done / seconds },
            { QStringLiteral("call_ms"),
                QJsonObject { { QStringLiteral("p50"), at(0.5) }, { QStringLiteral("p95"), at(0.95) },
                    { QStringLiteral("p99"), at(0.99) } } },
        };
        QTextStream(stdout) << QJsonDocument(o).toJson(QJsonDocument::Compact) << '\n';
        return failed == 0 ? 0 : 1;
    } catch (const Error& e) {
        err << "bench_llm_noop: " << e.message() << '\n';
        return 1;
    }
}
