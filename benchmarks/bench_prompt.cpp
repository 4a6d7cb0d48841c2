// The prompt editor's live preview: what runs on the worker after each pause in typing
// (enrich + renderPrompt + the cost estimate, pipeline::renderPreview) for one user and 50
// CF candidates with the shipped listwise template. The aim is p99 under 16 ms (one frame).
//   bench_prompt                                   the demo-shaped workspace and ML-100K
//   bench_prompt --benchmark_repetitions=5
// Per-iteration percentiles are reported as counters p50_ms, p99_ms, max_ms (over every
// iteration of the run), beside Google Benchmark's mean time.
// Figures and the machine they were taken on: docs/PERFORMANCE.md.
#include "cf/recommender.h"
#include "data/generator.h"
#include "data/import/importers.h"
#include "data/workspace.h"
#include "pipeline/promptpreview.h"
#include "rerank/prompt.h"

#include <QDir>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <algorithm>
#include <benchmark/benchmark.h>
#include <map>

using namespace recwb;

namespace {

struct Fixture {
    Dataset ds;
    std::unique_ptr<cf::Recommender> model;
    std::vector<int32_t> users; // warm users, spread over the dataset
};

const Fixture* fixture(const QString& name)
{
    static std::map<QString, std::unique_ptr<Fixture>> cache;
    static QTemporaryDir dir;
    if (auto it = cache.find(name); it != cache.end())
        return it->second.get();
    auto f = std::make_unique<Fixture>();
    auto ws = Workspace::open(dir.filePath(name + QStringLiteral(".recwb")), Workspace::Mode::CreateOrOpen);
    if (name == u"demo") {
        generateIntoWorkspace(*ws, GeneratorConfig {}); // the demo workspace's shape
    } else {
        const QString folder = QDir(QStringLiteral(RECWB_SHARED_DATA_DIR)).filePath(name);
        if (!QDir(folder).exists())
            return (cache[name] = nullptr).get();
        importMovieLens100k(*ws, folder);
    }
    f->ds = ws->load();
    f->model = cf::makeRecommender(QStringLiteral("ease"));
    f->model->fit(f->ds.userItems);
    for (int32_t u = 0; u < f->ds.numUsers() && f->users.size() < 64; u += std::max(1, f->ds.numUsers() / 64))
        if (!f->ds.isCold(u))
            f->users.push_back(u);
    return (cache[name] = std::move(f)).get();
}

void previewRender(benchmark::State& state, const char* data)
{
    const Fixture* f = fixture(QString::fromLatin1(data));
    if (!f) {
        state.SkipWithError("../shared/data/ml-100k is absent");
        return;
    }
    const int n = static_cast<int>(state.range(0));
    std::vector<std::vector<rerank::Candidate>> candidates;
    for (const int32_t u : f->users)
        candidates.push_back(pipeline::previewCandidates(f->ds, *f->model, nullptr, u, n, kDefaultColdThreshold));
    rerank::PromptTemplate tmpl;
    for (const rerank::PromptTemplate& t : rerank::shippedTemplates())
        if (t.name == u"listwise")
            tmpl = t;
    const rerank::Prices prices { 0.4, 0.1, std::nullopt, 1.6, QString() };
    std::vector<double> ms;
    size_t i = 0;
    qint64 chars = 0;
    for (auto _ : state) {
        QElapsedTimer t;
        t.start();
        const size_t k = i++ % f->users.size();
        auto r = pipeline::renderPreview(f->ds, f->users[k], candidates[k], tmpl, 10, kDefaultColdThreshold, prices);
        ms.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
        if (!r.prompt)
            state.SkipWithError(qPrintable(r.error));
        chars = r.prompt ? r.prompt->chars : 0;
        benchmark::DoNotOptimize(r);
    }
    std::sort(ms.begin(), ms.end());
    auto at = [&ms](double q) {
        return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
    };
    state.counters["p50_ms"] = at(0.50);
    state.counters["p99_ms"] = at(0.99);
    state.counters["max_ms"] = ms.empty() ? 0.0 : ms.back();
    state.counters["prompt_chars"] = static_cast<double>(chars);
}

} // namespace

BENCHMARK_CAPTURE(previewRender, demo, "demo")->Arg(50)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(previewRender, ml100k, "ml-100k")->Arg(50)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
