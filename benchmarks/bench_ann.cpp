// Approximate against exact top-n retrieval (issue 13): recall@n of the ANN index
// (core/cf/ann.h) against the exact scan (topNFactors, the default below the auto threshold),
// per-query latency of both, interleaved in rounds, build time and memory.
//
//   bench_ann [--items 1000000] [--factors 64] [--queries 1000] [--rounds 5] [--n 100]
//             [--ef 256] [--bands 8] [--m 16] [--ef-construction 100] [--seed 1]
//   bench_ann --workspace W.recwb [--model ials]   the latest snapshot's real factors, users as queries
//   bench_ann --faiss ...   also faiss (libfaiss-dev, when the build found it): IndexHNSWFlat and
//                           IndexIVFFlat on inner product, in the same rounds (the peer)
//
// Synthetic factors are shaped like a trained model's: items in 1000 taste clusters, norms
// log-normal (popular items have long vectors), queries near an item. Wall-clock, one query
// at a time on the calling thread (the exact scan splits itself over the worker pool as it
// does in the app). Prints one block per round and the median and range over the rounds.
#include "benchutil.h"
#include "cf/ann.h"
#include "cf/models.h"
#include "cf/snapshots.h"
#include "data/workspace.h"
#include "util/error.h"
#include "util/parallel.h"
#include "util/random.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTextStream>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <set>

#if RECWB_HAVE_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#endif

using namespace recwb;
using namespace recwb::cf;

namespace {

double pct(std::vector<double> v, double q)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const double x = static_cast<double>(v.size() - 1) * q;
    const auto lo = static_cast<size_t>(x);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (x - static_cast<double>(lo));
}

double median(std::vector<double> v)
{
    return pct(std::move(v), 0.5);
}

RowMatrixF synthetic(int64_t rows, int f, uint64_t seed)
{
    const int clusters = 1000;
    Rng rng(seed);
    RowMatrixF centres(clusters, f);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = static_cast<float>(rng.normal());
    RowMatrixF m(rows, f);
    parallelFor(rows, [&](int64_t begin, int64_t end) {
        Rng local(seed * 1000003 + static_cast<uint64_t>(begin));
        for (int64_t r = begin; r < end; ++r) {
            const auto c = static_cast<Eigen::Index>(local.below(clusters));
            for (int k = 0; k < f; ++k)
                m(r, k) = centres(c, k) + 0.5f * static_cast<float>(local.normal());
            m.row(r) *= static_cast<float>(std::exp(local.normal())) / m.row(r).norm();
        }
    });
    return m;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral("ANN against exact top-n retrieval over factors."));
    p.addHelpOption();
    auto opt = [&](const char* name, const char* help, const char* def) {
        p.addOption({ QString::fromLatin1(name), QString::fromLatin1(help), QStringLiteral("n"), QString::fromLatin1(def) });
    };
    opt("items", "Synthetic items (default 1000000).", "1000000");
    opt("factors", "Synthetic factors per item (default 64).", "64");
    opt("queries", "Queries per round (default 1000).", "1000");
    opt("rounds", "Rounds of exact and ANN queries, interleaved (default 5).", "5");
    opt("n", "Top n (default 100).", "100");
    opt("ef", "Search breadth (default 256).", "256");
    opt("bands", "Norm bands (default 8).", "8");
    opt("m", "Graph degree (default 16).", "16");
    opt("ef-construction", "Build breadth (default 100).", "100");
    opt("seed", "Seed (default 1).", "1");
    p.addOption({ { QStringLiteral("w"), QStringLiteral("workspace") }, QStringLiteral("Use a workspace's factors."),
        QStringLiteral("file") });
    p.addOption({ QStringLiteral("model"), QStringLiteral("Its model (default ials)."), QStringLiteral("name"),
        QStringLiteral("ials") });
    p.addOption({ QStringLiteral("faiss"), QStringLiteral("Also measure faiss HNSW and IVF-Flat (inner product).") });
    opt("nlist", "faiss IVF lists (default 4096).", "4096");
    opt("nprobe", "faiss IVF lists probed (default 64).", "64");
    p.process(app);
    auto num = [&](const char* name) { return p.value(QString::fromLatin1(name)).toLongLong(); };
    QTextStream out(stdout);
    try {
        RowMatrixF items, users;
        QString source;
        QElapsedTimer t;
        t.start();
        if (p.isSet(QStringLiteral("workspace"))) {
            const auto ws = Workspace::open(p.value(QStringLiteral("workspace")));
            const Dataset ds = ws->load();
            const auto model = snapshotOrTrain(*ws, ds, p.value(QStringLiteral("model")));
            const auto* ials = dynamic_cast<const Ials*>(model.get());
            if (!ials)
                throw Error(QStringLiteral("bench_ann: --model must be ials (factors with user vectors)"));
            items = ials->itemFactors();
            users = ials->userFactors();
            source = QStringLiteral("%1 (%2 items x %3 factors, users as queries)")
                         .arg(p.value(QStringLiteral("workspace")))
                         .arg(items.rows())
                         .arg(items.cols());
        } else {
            items = synthetic(num("items"), static_cast<int>(num("factors")), static_cast<uint64_t>(num("seed")));
            source = QStringLiteral("synthetic %1 items x %2 factors, 1000 clusters, log-normal norms")
                         .arg(items.rows())
                         .arg(items.cols());
        }
        const double loadS = static_cast<double>(t.nsecsElapsed()) / 1e9;
        const int n = static_cast<int>(num("n"));
        const int queries = static_cast<int>(num("queries"));
        const int rounds = static_cast<int>(num("rounds"));
        out << "# " << source << ", ready in " << QString::number(loadS, 'f', 1) << " s; n " << n << ", "
            << queries << " queries x " << rounds << " rounds\n";
        out.flush();

        AnnIndex::Options o;
        o.ef = static_cast<int>(num("ef"));
        o.bands = static_cast<int>(num("bands"));
        o.m = static_cast<int>(num("m"));
        o.efConstruction = static_cast<int>(num("ef-construction"));
        const double rssBefore = bench::peakRssBytes();
        t.restart();
        AnnIndex index;
        index.build(items, {}, o);
        const double buildS = static_cast<double>(t.nsecsElapsed()) / 1e9;
        out << "build " << QString::number(buildS, 'f', 1) << " s (wall, " << defaultThreads() << " threads), index "
            << QString::number(static_cast<double>(index.memoryBytes()) / 1e6, 'f', 0) << " MB, peak RSS +"
            << QString::number((bench::peakRssBytes() - rssBefore) / 1e6, 'f', 0) << " MB (factors "
            << QString::number(static_cast<double>(items.size()) * 4 / 1e6, 'f', 0) << " MB)\n";
        out.flush();

        // The peer: faiss on the same factors, its own inner-product indexes.
        struct Peer {
            QString name;
            std::function<std::vector<ScoredItem>(const float*)> search;
            std::vector<double> p50, p99, recall;
        };
        std::vector<Peer> peers;
#if RECWB_HAVE_FAISS
        std::unique_ptr<faiss::IndexHNSWFlat> fHnsw;
        std::unique_ptr<faiss::IndexFlatIP> fQuantizer;
        std::unique_ptr<faiss::IndexIVFFlat> fIvf;
        if (p.isSet(QStringLiteral("faiss"))) {
            const auto d = static_cast<int>(items.cols());
            // the top n of one query through a faiss index, as scored items
            auto peerSearch = [n](const faiss::Index& index) {
                return [&index, n](const float* x) {
                    std::vector<float> dist(static_cast<size_t>(n));
                    std::vector<faiss::Index::idx_t> ids(static_cast<size_t>(n));
                    index.search(1, x, n, dist.data(), ids.data());
                    std::vector<ScoredItem> r;
                    for (int i = 0; i < n; ++i)
                        if (ids[static_cast<size_t>(i)] >= 0)
                            r.push_back({ static_cast<int32_t>(ids[static_cast<size_t>(i)]), dist[static_cast<size_t>(i)] });
                    return r;
                };
            };
            t.restart();
            fHnsw = std::make_unique<faiss::IndexHNSWFlat>(d, static_cast<int>(num("m")), faiss::METRIC_INNER_PRODUCT);
            fHnsw->hnsw.efConstruction = static_cast<int>(num("ef-construction"));
            fHnsw->add(items.rows(), items.data());
            fHnsw->hnsw.efSearch = static_cast<int>(num("ef"));
            out << "faiss IndexHNSWFlat (M " << num("m") << ", efConstruction " << num("ef-construction") << ", efSearch "
                << num("ef") << "): build " << QString::number(static_cast<double>(t.nsecsElapsed()) / 1e9, 'f', 1)
                << " s\n";
            out.flush();
            peers.push_back({ QStringLiteral("faiss-hnsw"), peerSearch(*fHnsw), {}, {}, {} });
            t.restart();
            const auto nlist = static_cast<size_t>(num("nlist"));
            fQuantizer = std::make_unique<faiss::IndexFlatIP>(d);
            fIvf = std::make_unique<faiss::IndexIVFFlat>(fQuantizer.get(), d, nlist, faiss::METRIC_INNER_PRODUCT);
            const int64_t sample = std::min<int64_t>(items.rows(), static_cast<int64_t>(nlist) * 40);
            fIvf->train(sample, items.data());
            fIvf->add(items.rows(), items.data());
            fIvf->nprobe = static_cast<size_t>(num("nprobe"));
            out << "faiss IndexIVFFlat (nlist " << nlist << ", nprobe " << num("nprobe") << ", trained on " << sample
                << "): build " << QString::number(static_cast<double>(t.nsecsElapsed()) / 1e9, 'f', 1) << " s\n";
            out.flush();
            peers.push_back({ QStringLiteral("faiss-ivf"), peerSearch(*fIvf), {}, {}, {} });
        }
#else
        if (p.isSet(QStringLiteral("faiss")))
            out << "# --faiss: this build has no faiss (install libfaiss-dev and reconfigure)\n";
#endif

        const HalfFactors half(items);
        Rng rng(static_cast<uint64_t>(num("seed")) + 99);
        std::vector<double> exactP50, exactP99, annP50, annP99, recalls, minRecalls;
        for (int round = 0; round < rounds; ++round) {
            std::vector<std::vector<float>> qs;
            for (int q = 0; q < queries; ++q) {
                std::vector<float> x(static_cast<size_t>(items.cols()));
                if (users.rows() > 0) {
                    const auto u = static_cast<Eigen::Index>(rng.below(static_cast<uint64_t>(users.rows())));
                    std::copy_n(users.row(u).data(), items.cols(), x.begin());
                } else {
                    const auto r = static_cast<Eigen::Index>(rng.below(static_cast<uint64_t>(items.rows())));
                    for (Eigen::Index k = 0; k < items.cols(); ++k)
                        x[static_cast<size_t>(k)] = items(r, k) + 0.3f * static_cast<float>(rng.normal());
                }
                qs.push_back(std::move(x));
            }
            std::vector<double> exactMs, annMs, rec;
            std::vector<std::vector<double>> peerMs(peers.size()), peerRec(peers.size());
            for (int q = 0; q < queries; ++q) { // interleaved per query
                const float* x = qs[static_cast<size_t>(q)].data();
                t.restart();
                const auto exact = topNFactors(items, half, x, n, {});
                exactMs.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
                t.restart();
                const auto got = index.search(items, {}, x, n, {});
                annMs.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
                rec.push_back(recallOf(got, exact));
                for (size_t k = 0; k < peers.size(); ++k) {
                    t.restart();
                    const auto theirs = peers[k].search(x);
                    peerMs[k].push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
                    peerRec[k].push_back(recallOf(theirs, exact));
                }
            }
            double mean = 0;
            for (const double r : rec)
                mean += r;
            mean /= static_cast<double>(rec.size());
            exactP50.push_back(pct(exactMs, 0.5));
            exactP99.push_back(pct(exactMs, 0.99));
            annP50.push_back(pct(annMs, 0.5));
            annP99.push_back(pct(annMs, 0.99));
            recalls.push_back(mean);
            minRecalls.push_back(*std::min_element(rec.begin(), rec.end()));
            std::fprintf(stdout,
                "round %d: recall@%d mean %.4f (p1 %.2f, min %.2f); exact p50 %.3f p99 %.3f ms; ann p50 %.3f p99 %.3f ms\n",
                round + 1, n, mean, pct(rec, 0.01), minRecalls.back(), exactP50.back(), exactP99.back(),
                annP50.back(), annP99.back());
            for (size_t k = 0; k < peers.size(); ++k) {
                double m = 0;
                for (const double r : peerRec[k])
                    m += r;
                peers[k].recall.push_back(m / static_cast<double>(queries));
                peers[k].p50.push_back(pct(peerMs[k], 0.5));
                peers[k].p99.push_back(pct(peerMs[k], 0.99));
                std::fprintf(stdout, "  %s: recall@%d mean %.4f (min %.2f); p50 %.3f p99 %.3f ms\n",
                    qPrintable(peers[k].name), n, peers[k].recall.back(),
                    *std::min_element(peerRec[k].begin(), peerRec[k].end()), peers[k].p50.back(), peers[k].p99.back());
            }
            std::fflush(stdout);
        }
        auto range = [](const std::vector<double>& v) {
            return QStringLiteral("%1 (%2-%3)")
                .arg(median(v), 0, 'f', 3)
                .arg(*std::min_element(v.begin(), v.end()), 0, 'f', 3)
                .arg(*std::max_element(v.begin(), v.end()), 0, 'f', 3);
        };
        out << "median (range) over " << rounds << " rounds: recall@" << n << " " << range(recalls) << "; exact p50 "
            << range(exactP50) << " p99 " << range(exactP99) << " ms; ann p50 " << range(annP50) << " p99 "
            << range(annP99) << " ms\n";
        for (const Peer& peer : peers)
            out << "  " << peer.name << ": recall@" << n << " " << range(peer.recall) << "; p50 " << range(peer.p50)
                << " p99 " << range(peer.p99) << " ms\n";
    } catch (const std::exception& e) {
        QTextStream(stderr) << e.what() << "\n";
        return 1;
    }
    return 0;
}
