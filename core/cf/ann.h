#pragma once

#include "cf/recommender.h"

#include <QString>

#include <Eigen/Core>

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace recwb::cf {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Approximate top-n retrieval for factor models over large catalogs (issue 13): an HNSW
// graph (hnswlib, Debian's libhnswlib-dev) per band of items, the items split into bands by
// the norm of their factor vector. Inside a band every vector is lifted to one more
// dimension, sqrt(M^2 - |y|^2) with M the band's largest norm, so that the nearest
// neighbours in L2 are exactly the largest inner products (Bachrach et al. 2014); the bands
// keep that extra coordinate small, which the graph needs to navigate well. A query visits
// the bands from the largest norm down and stops at the first band whose best possible
// score, M |x| (+ the largest bias), cannot beat the n-th score found; every hit is
// rescored exactly (scores equal topNFactors' for the same item). Approximate: an item of
// the exact top n can be missed, never misscored. A model bias b is one more coordinate,
// [x, 1] . [y, b].
class AnnIndex {
public:
    struct Options {
        int bands = 8;
        int m = 16; // graph degree (hnswlib M)
        int efConstruction = 100;
        int ef = 256; // search breadth (at least n)
    };

    AnnIndex();
    ~AnnIndex();
    AnnIndex(AnnIndex&&) noexcept;
    AnnIndex& operator=(AnnIndex&&) noexcept;

    // False when the build lacked hnswlib: build() then leaves the index empty.
    static bool available();
    // Indexes every row of factors (with its bias, if any) on `threads` threads (0: all
    // cores). The index keeps no pointer to factors or bias. When *stop turns true the
    // build gives up and leaves the index empty.
    void build(const RowMatrixF& factors, std::span<const float> bias, const Options& options, int threads = 0,
        const std::atomic<bool>* stop = nullptr);
    void build(const RowMatrixF& factors, std::span<const float> bias) { build(factors, bias, Options {}); }
    bool built() const { return !m_bands.empty(); }
    int64_t rows() const { return m_rows; }
    // Bytes held by the graphs and the band tables.
    size_t memoryBytes() const;

    // The approximate top n of factors * x (+ bias), skipping `exclude` (sorted ascending),
    // in topN's order. factors and bias must be the ones the index was built from.
    // Safe to call from several threads at once.
    std::vector<ScoredItem> search(const RowMatrixF& factors, std::span<const float> bias, const float* x, int n,
        std::span<const int32_t> exclude) const;

    struct Band;

private:
    std::vector<std::unique_ptr<Band>> m_bands; // by largest norm, descending
    std::vector<uint8_t> m_bandOf; // item -> band
    int64_t m_rows = 0;
    int m_dim = 0;
    int m_ef = 256;
};

// The share of `exact`'s items that `got` holds (recall@n of an approximate list; 1 when
// exact is empty).
double recallOf(std::span<const ScoredItem> got, std::span<const ScoredItem> exact);

// How a factor model retrieves its top n: "exact" scans every item (topNFactors); "ann"
// builds the index at the first query and always uses it; "auto" (the default) scans
// exactly and, from `minItems` items up, builds the index in the background at the first
// query, switching to it once built, so no query ever waits for a build. The environment
// overrides a model's choice: RECWB_ANN=exact|ann|auto and RECWB_ANN_MIN_ITEMS=N.
struct AnnPolicy {
    QString mode = QStringLiteral("auto");
    int64_t minItems = 500'000;
    // Throws Error naming the model on a mode that is none of the three.
    static AnnPolicy fromParam(const QString& model, const QString& mode);
    bool wantsIndex(int64_t items) const;
};

// The index of one factor model, built when its policy asks for it (above). The model calls
// reset() before its factors change (fit, restore, import); the factors and bias given to
// index() must then stay unchanged until the next reset() or destruction, which stop and
// wait for a background build.
class AnnRetriever {
public:
    AnnRetriever() = default;
    ~AnnRetriever() { reset(); }
    AnnRetriever(const AnnRetriever&) = delete;
    AnnRetriever& operator=(const AnnRetriever&) = delete;

    void setPolicy(const AnnPolicy& policy) { m_policy = policy; }
    const AnnPolicy& policy() const { return m_policy; }
    void reset();
    // The index to search now, or null to scan exactly. Thread-safe.
    std::shared_ptr<const AnnIndex> index(const RowMatrixF& factors, std::span<const float> bias) const;
    // Blocks until a background build is done (tests, benchmarks).
    void waitForBuild() const;

private:
    AnnPolicy m_policy;
    mutable std::mutex m_mutex;
    mutable std::shared_ptr<const AnnIndex> m_index;
    mutable bool m_started = false;
    mutable std::thread m_builder;
    mutable std::atomic<bool> m_stop { false };
};

} // namespace recwb::cf
