// CF training, evaluation and candidate-generation benchmarks.
//   bench_cf                                   everything (needs ../shared/data for the MovieLens rows)
//   bench_cf --benchmark_filter=Ials           one family
//   RECWB_BENCH_ALS_INTERACTIONS=20000000      size of the synthetic ML-20M-shaped matrix (default 20M)
// Figures and the machine they were taken on: docs/PERFORMANCE.md.
#include "benchutil.h"
#include "cf/kernels.h"
#include "cf/models.h"
#include "data/import/importers.h"
#include "data/workspace.h"
#include "eval/evaluator.h"
#include "eval/split.h"
#include "util/random.h"

#include <QDir>
#include <QTemporaryDir>
#include <benchmark/benchmark.h>
#include <chrono>
#include <map>
#include <set>

using namespace recwb;
using namespace recwb::bench;

namespace {

const Dataset* movieLens(const QString& name)
{
    static std::map<QString, std::unique_ptr<Dataset>> cache;
    static QTemporaryDir dir;
    auto it = cache.find(name);
    if (it != cache.end())
        return it->second.get();
    const QString folder = QDir(QStringLiteral(RECWB_SHARED_DATA_DIR)).filePath(name);
    std::unique_ptr<Dataset> ds;
    if (QDir(folder).exists()) {
        auto ws = Workspace::open(dir.filePath(name + QStringLiteral(".recwb")), Workspace::Mode::CreateOrOpen);
        if (name == u"ml-100k")
            importMovieLens100k(*ws, folder);
        else
            importMovieLensLatest(*ws, folder);
        ds = std::make_unique<Dataset>(ws->load());
    }
    return (cache[name] = std::move(ds)).get();
}

const Dataset* requireData(benchmark::State& state, const QString& name)
{
    const Dataset* ds = movieLens(name);
    if (!ds)
        state.SkipWithError(qPrintable(QStringLiteral("../shared/data/%1 is absent").arg(name)));
    return ds;
}

void fitBenchmark(benchmark::State& state, const char* model, const char* data, QJsonObject params)
{
    const Dataset* ds = requireData(state, QString::fromLatin1(data));
    if (!ds)
        return;
    resetPeakRss();
    for (auto _ : state) {
        auto m = cf::makeRecommender(QString::fromLatin1(model), params);
        m->fit(ds->userItems);
        benchmark::DoNotOptimize(m.get());
    }
    state.counters["interactions"] = static_cast<double>(ds->numInteractions());
    state.counters["peak_rss_MB"] = peakRssBytes() / 1e6;
}

const QJsonObject kIals64 { { QStringLiteral("factors"), 64 }, { QStringLiteral("iterations"), 15 } };

// A users x items matrix shaped like MovieLens 20M: Zipf-like item popularity and
// heavy-tailed user activity, built directly in memory (timing the solver, not I/O).
const Csr& synthetic20m()
{
    static Csr m = [] {
        const qint64 nnz = envInt("RECWB_BENCH_ALS_INTERACTIONS", 20'000'000);
        const int users = static_cast<int>(std::max<qint64>(100, nnz * 138'000 / 20'000'000));
        const int items = static_cast<int>(std::max<qint64>(100, nnz * 27'000 / 20'000'000));
        Rng rng(7);
        std::vector<double> cdf(static_cast<size_t>(items));
        double total = 0;
        for (int i = 0; i < items; ++i)
            cdf[static_cast<size_t>(i)] = (total += 1.0 / std::pow(i + 10.0, 0.9));
        CsrBuilder b(users, items, false, nnz);
        const double perUser = static_cast<double>(nnz) / users;
        std::set<int32_t> row;
        for (int u = 0; u < users; ++u) {
            const auto want = static_cast<size_t>(std::min<double>(items / 2.0, std::max(5.0, perUser * -std::log(1.0 - rng.uniform()))));
            row.clear();
            while (row.size() < want) {
                const double x = rng.uniform() * total;
                row.insert(static_cast<int32_t>(std::lower_bound(cdf.begin(), cdf.end(), x) - cdf.begin()));
            }
            for (const int32_t i : row)
                b.add(u, i, 1.0f);
        }
        return b.finish();
    }();
    return m;
}

} // namespace

static void BM_IalsFit_ml100k(benchmark::State& s) { fitBenchmark(s, "ials", "ml-100k", kIals64); }
static void BM_IalsFit_mlLatestSmall(benchmark::State& s) { fitBenchmark(s, "ials", "ml-latest-small", kIals64); }
static void BM_EaseFit_ml100k(benchmark::State& s) { fitBenchmark(s, "ease", "ml-100k", {}); }
static void BM_EaseFit_mlLatestSmall(benchmark::State& s) { fitBenchmark(s, "ease", "ml-latest-small", {}); }
static void BM_ItemKnnFit_ml100k(benchmark::State& s) { fitBenchmark(s, "itemknn", "ml-100k", {}); }
static void BM_ItemKnnFit_mlLatestSmall(benchmark::State& s) { fitBenchmark(s, "itemknn", "ml-latest-small", {}); }
static void BM_BprFit_ml100k(benchmark::State& s) { fitBenchmark(s, "bpr", "ml-100k", {}); }
BENCHMARK(BM_IalsFit_ml100k)->Unit(benchmark::kMillisecond)->MinTime(3);
BENCHMARK(BM_IalsFit_mlLatestSmall)->Unit(benchmark::kMillisecond)->MinTime(3);
BENCHMARK(BM_EaseFit_ml100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_EaseFit_mlLatestSmall)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ItemKnnFit_ml100k)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ItemKnnFit_mlLatestSmall)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BprFit_ml100k)->Unit(benchmark::kMillisecond);

// Full evaluation (strat75, K = 10) of a fitted model over every MovieLens 100K user.
static void BM_Eval_ml100k(benchmark::State& state, const char* model)
{
    const Dataset* ds = requireData(state, QStringLiteral("ml-100k"));
    if (!ds)
        return;
    const auto split = eval::makeSplit(*ds, QStringLiteral("strat75"));
    auto m = cf::makeRecommender(QString::fromLatin1(model));
    m->fit(split.train);
    double ndcg = 0;
    for (auto _ : state)
        ndcg = eval::evaluate(*m, split, *ds, { 10 }).value(QStringLiteral("ndcg@10"));
    state.counters["ndcg@10"] = ndcg;
    state.counters["users"] = static_cast<double>(split.evaluatedUsers.size());
}
BENCHMARK_CAPTURE(BM_Eval_ml100k, pop, "pop")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Eval_ml100k, itemknn, "itemknn")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Eval_ml100k, ease, "ease")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Eval_ml100k, ials, "ials")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Eval_ml100k, bpr, "bpr")->Unit(benchmark::kMillisecond);

// Seconds per iALS iteration (64 factors, 3 CG steps) on a MovieLens-20M-sized matrix. Each
// run fits 3 iterations; s_per_iteration is the median over runs of the time from the
// progress report of iteration 1 to that of iteration 3, halved (the fit's set-up,
// transposing the matrix and drawing the initial factors, is left out; it is setup_s).
static void ialsIterations(benchmark::State& state, const Csr& m)
{
    using Clock = std::chrono::steady_clock;
    resetPeakRss();
    std::vector<double> perIteration, setup;
    for (auto _ : state) {
        cf::Ials als(QJsonObject { { QStringLiteral("factors"), 64 }, { QStringLiteral("iterations"), 3 } });
        std::vector<Clock::time_point> marks { Clock::now() };
        TaskControl control;
        control.onProgress = [&](double, const QString&) { marks.push_back(Clock::now()); };
        als.fit(m, control);
        benchmark::DoNotOptimize(&als);
        const double iteration = std::chrono::duration<double>(marks[3] - marks[1]).count() / 2;
        perIteration.push_back(iteration);
        setup.push_back(std::chrono::duration<double>(marks[1] - marks[0]).count() - iteration);
    }
    std::sort(perIteration.begin(), perIteration.end());
    std::sort(setup.begin(), setup.end());
    state.counters["s_per_iteration"] = perIteration[perIteration.size() / 2];
    state.counters["setup_s"] = setup[setup.size() / 2];
    state.counters["users"] = m.numRows;
    state.counters["items"] = m.numCols;
    state.counters["interactions"] = static_cast<double>(m.nnz());
    state.counters["peak_rss_MB"] = peakRssBytes() / 1e6;
}
static void BM_IalsIteration_20m(benchmark::State& state)
{
    ialsIterations(state, synthetic20m());
}
BENCHMARK(BM_IalsIteration_20m)->Unit(benchmark::kMillisecond)->Iterations(3);

// The same on a workspace's interactions, RECWB_BENCH_WORKSPACE=path (e.g. the 1M x 1M x 100M
// one of docs/SCALE.md, made by `recwb-cli generate`); skipped when unset.
static void BM_IalsIteration_workspace(benchmark::State& state)
{
    const QString path = qEnvironmentVariable("RECWB_BENCH_WORKSPACE");
    if (path.isEmpty()) {
        state.SkipWithError("RECWB_BENCH_WORKSPACE is not set");
        for (auto _ : state) { }
        return;
    }
    static const Csr m = Workspace::open(path, Workspace::Mode::OpenExisting)->load().userItems;
    ialsIterations(state, m);
}
BENCHMARK(BM_IalsIteration_workspace)->Unit(benchmark::kMillisecond)->Iterations(3);

// Top-100 candidates for one user over 100,000 items with 64 factors, as cf::recommend does
// for iALS: a first pass over a half-precision copy (12.8 MB) and exact f32 rescoring of the
// few items near the cut, or (second argument 0) one f32 pass over the 25.6 MB matrix.
// Reports p50 and p99 over many users. First argument: parts of the pass (worker pool).
static void BM_Candidates_100k_items(benchmark::State& state)
{
    const int items = 100'000;
    const int f = 64;
    const int threads = static_cast<int>(state.range(0));
    Rng rng(3);
    cf::RowMatrixF y(items, f);
    for (Eigen::Index i = 0; i < y.size(); ++i)
        y.data()[i] = static_cast<float>(rng.normal());
    const cf::HalfFactors half = state.range(1) ? cf::HalfFactors(y) : cf::HalfFactors();
    std::vector<float> x(f);
    std::vector<int32_t> seen { 5, 77, 4000, 99'999 };
    std::vector<double> micros;
    for (auto _ : state) {
        for (float& v : x)
            v = static_cast<float>(rng.normal());
        const auto t0 = std::chrono::steady_clock::now();
        auto top = cf::topNFactors(y, half, x.data(), 100, seen, {}, threads);
        const auto t1 = std::chrono::steady_clock::now();
        benchmark::DoNotOptimize(top.data());
        micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    std::sort(micros.begin(), micros.end());
    state.counters["p50_us"] = micros[micros.size() / 2];
    state.counters["p99_us"] = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
    state.counters["half"] = half.usable() ? 1 : 0;
}
BENCHMARK(BM_Candidates_100k_items)
    ->ArgNames({ "threads", "half" })
    ->ArgsProduct({ { 1, 2 }, { 0, 1 } })
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(3000);

BENCHMARK_MAIN();
