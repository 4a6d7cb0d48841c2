#include "benchutil.h"
#include "data/generator.h"
#include "data/workspace.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <benchmark/benchmark.h>
#include <cstdlib>

// Sizes come from the environment so one binary serves quick runs and the 20M check:
//   RECWB_BENCH_INTERACTIONS  interactions to generate (default 1,000,000); users and items
//                             scale like MovieLens 20M (138k users, 27k items for 20M)
//   RECWB_BENCH_WORKSPACE     an existing workspace for BM_Load (default: one generated
//                             at the size above, once)

using namespace recwb;
using namespace recwb::bench;

namespace {


GeneratorConfig benchConfig()
{
    GeneratorConfig c;
    c.interactions = envInt("RECWB_BENCH_INTERACTIONS", 1'000'000);
    c.users = static_cast<int>(std::max<qint64>(100, c.interactions * 138'000 / 20'000'000));
    c.items = static_cast<int>(std::max<qint64>(200, c.interactions * 27'000 / 20'000'000));
    return c;
}



QTemporaryDir& scratch()
{
    static QTemporaryDir dir;
    return dir;
}

void BM_Generate(benchmark::State& state)
{
    const GeneratorConfig c = benchConfig();
    resetPeakRss();
    qint64 rows = 0;
    for (auto _ : state) {
        state.PauseTiming();
        const QString path = scratch().filePath(QStringLiteral("generate.recwb"));
        for (const QString& suffix : { QString(), QStringLiteral("-wal"), QStringLiteral("-shm") })
            QFile::remove(path + suffix);
        auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
        state.ResumeTiming();
        const ImportReport report = generateIntoWorkspace(*ws, c);
        rows += report.interactionRows;
    }
    state.counters["rows"] = static_cast<double>(rows) / static_cast<double>(state.iterations());
    state.counters["rows_per_s"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
    state.counters["peak_rss_MB"] = peakRssBytes() / 1e6;
}
BENCHMARK(BM_Generate)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

QString loadWorkspacePath()
{
    const QByteArray given = qgetenv("RECWB_BENCH_WORKSPACE");
    if (!given.isEmpty())
        return QString::fromLocal8Bit(given);
    const QString path = scratch().filePath(QStringLiteral("load.recwb"));
    if (!QFile::exists(path)) {
        auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
        generateIntoWorkspace(*ws, benchConfig());
    }
    return path;
}

void BM_Load(benchmark::State& state)
{
    const QString path = loadWorkspacePath();
    resetPeakRss();
    double interactions = 0, csrBytes = 0;
    for (auto _ : state) {
        const auto ws = Workspace::open(path);
        const Dataset ds = ws->load();
        interactions = static_cast<double>(ds.numInteractions());
        csrBytes = static_cast<double>(ds.interactionMemoryBytes());
        benchmark::DoNotOptimize(ds.userItems.indices.data());
    }
    state.counters["interactions"] = interactions;
    state.counters["csr_MB"] = csrBytes / 1e6;
    state.counters["rows_per_s"] = benchmark::Counter(interactions * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["peak_rss_MB"] = peakRssBytes() / 1e6;
}
BENCHMARK(BM_Load)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(3);

} // namespace

BENCHMARK_MAIN();
