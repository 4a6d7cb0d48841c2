#include "cf/ann.h"

#include "cf/kernels.h"
#include "util/error.h"
#include "util/parallel.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#if RECWB_HAVE_HNSWLIB
// Under AddressSanitizer hnswlib is built without its SSE prefetches. With them, a graph
// search reads the entry one past a full upper-layer neighbour list as a prefetch operand:
// 4 bytes past its malloc'd block (upstream nmslib/hnswlib#107 and #578, fix pending in #459).
// The value only feeds _mm_prefetch and the read stays in the allocator's slack, so the
// release build keeps the prefetches; ASan reports the read and stops the test (tst_ann in
// the sanitizer suite). Distances are ours (L2Space below), so nothing else changes.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>
#endif

namespace recwb::cf {

namespace {

inline bool better(const ScoredItem& a, const ScoredItem& b)
{
    return a.score > b.score || (a.score == b.score && a.item < b.item);
}

#if RECWB_HAVE_HNSWLIB
float l2Squared(const void* a, const void* b, const void* dim)
{
    return kernels::squaredDistance(static_cast<const float*>(a), static_cast<const float*>(b),
        static_cast<int>(*static_cast<const size_t*>(dim)));
}

// hnswlib's own L2Space picks its SIMD at compile time, which for this portable build is
// none; this one calls the kernel compiled for the running CPU (cf/kernels.h).
class L2Space final : public hnswlib::SpaceInterface<float> {
public:
    explicit L2Space(size_t dim)
        : m_dim(dim)
    {
    }
    size_t get_data_size() override { return m_dim * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &l2Squared; }
    void* get_dist_func_param() override { return &m_dim; }

private:
    size_t m_dim;
};
#endif

} // namespace

struct AnnIndex::Band {
    double maxNorm = 0; // of the (bias-augmented) item vectors
    int64_t size = 0;
#if RECWB_HAVE_HNSWLIB
    std::unique_ptr<L2Space> space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
#endif
};

AnnIndex::AnnIndex() = default;
AnnIndex::~AnnIndex() = default;
AnnIndex::AnnIndex(AnnIndex&&) noexcept = default;
AnnIndex& AnnIndex::operator=(AnnIndex&&) noexcept = default;

bool AnnIndex::available()
{
    return RECWB_HAVE_HNSWLIB != 0;
}

void AnnIndex::build(const RowMatrixF& factors, std::span<const float> bias, const Options& options, int threads,
    const std::atomic<bool>* stop)
{
    m_bands.clear();
    m_bandOf.clear();
    m_rows = 0;
#if RECWB_HAVE_HNSWLIB
    const int64_t rows = factors.rows();
    const int f = static_cast<int>(factors.cols());
    if (rows == 0 || f == 0)
        return;
    const bool withBias = !bias.empty();
    m_dim = f + (withBias ? 1 : 0) + 1;
    m_ef = std::max(1, options.ef);
    std::vector<double> squared(static_cast<size_t>(rows)); // |y|^2 with the bias coordinate
    std::vector<float> norm(static_cast<size_t>(rows));
    for (int64_t i = 0; i < rows; ++i) {
        double s = factors.row(i).cast<double>().squaredNorm();
        if (withBias)
            s += static_cast<double>(bias[static_cast<size_t>(i)]) * bias[static_cast<size_t>(i)];
        squared[static_cast<size_t>(i)] = s;
        norm[static_cast<size_t>(i)] = static_cast<float>(std::sqrt(s));
    }
    std::vector<int32_t> order(static_cast<size_t>(rows));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
        [&](int32_t a, int32_t b) { return norm[static_cast<size_t>(a)] > norm[static_cast<size_t>(b)]; });
    const int bands = static_cast<int>(std::clamp<int64_t>(rows / 2000, 1, std::clamp(options.bands, 1, 255)));
    m_bandOf.assign(static_cast<size_t>(rows), 0);
    for (int b = 0; b < bands; ++b) {
        const int64_t begin = rows * b / bands, end = rows * (b + 1) / bands;
        auto band = std::make_unique<Band>();
        band->size = end - begin;
        band->maxNorm = norm[static_cast<size_t>(order[static_cast<size_t>(begin)])];
        band->space = std::make_unique<L2Space>(static_cast<size_t>(m_dim));
        band->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(band->space.get(),
            static_cast<size_t>(band->size), static_cast<size_t>(std::max(2, options.m)),
            static_cast<size_t>(std::max(1, options.efConstruction)), 100 + b);
        band->graph->setEf(static_cast<size_t>(m_ef));
        const double m2 = band->maxNorm * band->maxNorm;
        auto add = [&](int64_t j, std::vector<float>& v) {
            const int32_t item = order[static_cast<size_t>(j)];
            m_bandOf[static_cast<size_t>(item)] = static_cast<uint8_t>(b);
            std::copy_n(factors.row(item).data(), f, v.begin());
            if (withBias)
                v[static_cast<size_t>(f)] = bias[static_cast<size_t>(item)];
            v.back() = static_cast<float>(std::sqrt(std::max(0.0, m2 - squared[static_cast<size_t>(item)])));
            band->graph->addPoint(v.data(), static_cast<hnswlib::labeltype>(item));
        };
        std::vector<float> first(static_cast<size_t>(m_dim));
        add(begin, first); // the entry point, before the parallel inserts
        parallelForDynamic(
            end - begin - 1, 256,
            [&](int64_t b0, int64_t e0) {
                if (stop && stop->load(std::memory_order_relaxed))
                    return;
                std::vector<float> v(static_cast<size_t>(m_dim));
                for (int64_t j = b0; j < e0; ++j)
                    add(begin + 1 + j, v);
            },
            threads > 0 ? threads : defaultThreads());
        if (stop && stop->load()) {
            m_bands.clear();
            m_bandOf.clear();
            return;
        }
        m_bands.push_back(std::move(band));
    }
    m_rows = rows;
#else
    (void)factors;
    (void)bias;
    (void)options;
    (void)threads;
    (void)stop;
#endif
}

size_t AnnIndex::memoryBytes() const
{
    size_t bytes = m_bandOf.size();
#if RECWB_HAVE_HNSWLIB
    for (const auto& band : m_bands) {
        const auto& g = *band->graph;
        bytes += g.max_elements_ * g.size_data_per_element_; // level 0: links, vector, label
        for (size_t i = 0; i < g.cur_element_count; ++i)
            bytes += g.size_links_per_element_ * static_cast<size_t>(g.element_levels_[i]);
        bytes += g.max_elements_ * (sizeof(int) + sizeof(void*) + sizeof(std::mutex)); // levels, link lists, locks
    }
#endif
    return bytes;
}

std::vector<ScoredItem> AnnIndex::search(const RowMatrixF& factors, std::span<const float> bias, const float* x,
    int n, std::span<const int32_t> exclude) const
{
    std::vector<ScoredItem> found;
#if RECWB_HAVE_HNSWLIB
    if (n <= 0 || m_bands.empty())
        return found;
    const int f = static_cast<int>(factors.cols());
    const bool withBias = !bias.empty();
    std::vector<float> q(static_cast<size_t>(m_dim), 0.0f);
    std::copy_n(x, f, q.begin());
    if (withBias)
        q[static_cast<size_t>(f)] = 1.0f;
    double qNorm = 0;
    for (int k = 0; k < m_dim; ++k)
        qNorm += static_cast<double>(q[static_cast<size_t>(k)]) * q[static_cast<size_t>(k)];
    qNorm = std::sqrt(qNorm);
    std::vector<int> excludedIn(m_bands.size(), 0);
    for (const int32_t item : exclude)
        if (item >= 0 && item < m_rows)
            ++excludedIn[m_bandOf[static_cast<size_t>(item)]];
    auto isExcluded = [&](int32_t item) { return std::binary_search(exclude.begin(), exclude.end(), item); };
    std::vector<ScoredItem> pool;
    for (size_t b = 0; b < m_bands.size(); ++b) {
        const Band& band = *m_bands[b];
        if (static_cast<int>(pool.size()) >= n) {
            std::nth_element(pool.begin(), pool.begin() + (n - 1), pool.end(), better);
            // The band's best possible score, with room for the f32 rounding of the rescoring.
            const double bound = band.maxNorm * qNorm * (1 + 1e-5) + 1e-30;
            if (pool[static_cast<size_t>(n - 1)].score > bound)
                break;
        }
        const auto k = static_cast<size_t>(std::min<int64_t>(band.size, n + excludedIn[b]));
        auto hits = band.graph->searchKnn(q.data(), k);
        while (!hits.empty()) {
            const auto item = static_cast<int32_t>(hits.top().second);
            hits.pop();
            if (isExcluded(item))
                continue;
            float s = 0;
            kernels::gemv(factors.data() + static_cast<int64_t>(item) * f, 1, f, x, &s);
            if (withBias)
                s += bias[static_cast<size_t>(item)];
            pool.push_back({ item, std::isnan(s) ? -std::numeric_limits<float>::infinity() : s });
        }
    }
    const auto keep = std::min(pool.size(), static_cast<size_t>(n));
    std::partial_sort(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(keep), pool.end(), better);
    pool.resize(keep);
    found = std::move(pool);
#else
    (void)factors;
    (void)bias;
    (void)x;
    (void)n;
    (void)exclude;
#endif
    return found;
}

double recallOf(std::span<const ScoredItem> got, std::span<const ScoredItem> exact)
{
    if (exact.empty())
        return 1.0;
    std::vector<int32_t> truth;
    for (const ScoredItem& s : exact)
        truth.push_back(s.item);
    std::sort(truth.begin(), truth.end());
    size_t hit = 0;
    for (const ScoredItem& s : got)
        hit += std::binary_search(truth.begin(), truth.end(), s.item) ? 1 : 0;
    return static_cast<double>(hit) / static_cast<double>(exact.size());
}

AnnPolicy AnnPolicy::fromParam(const QString& model, const QString& mode)
{
    AnnPolicy p;
    const QString env = qEnvironmentVariable("RECWB_ANN");
    p.mode = env.isEmpty() ? mode : env;
    if (p.mode != u"auto" && p.mode != u"exact" && p.mode != u"ann")
        throw Error(QStringLiteral("%1: parameter ann must be auto, exact or ann, got '%2'%3")
                        .arg(model, p.mode, env.isEmpty() ? QString() : QStringLiteral(" (from RECWB_ANN)")));
    bool ok = false;
    const qint64 minItems = qEnvironmentVariable("RECWB_ANN_MIN_ITEMS").toLongLong(&ok);
    if (ok && minItems >= 0)
        p.minItems = minItems;
    return p;
}

bool AnnPolicy::wantsIndex(int64_t items) const
{
    if (!AnnIndex::available() || mode == u"exact")
        return false;
    return mode == u"ann" || items >= minItems;
}

void AnnRetriever::reset()
{
    std::thread builder;
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        builder = std::move(m_builder);
    }
    if (builder.joinable())
        builder.join();
    std::lock_guard lock(m_mutex);
    m_index.reset();
    m_started = false;
    m_stop = false;
}

std::shared_ptr<const AnnIndex> AnnRetriever::index(const RowMatrixF& factors, std::span<const float> bias) const
{
    std::unique_lock lock(m_mutex);
    if (m_index || m_started || !m_policy.wantsIndex(factors.rows()))
        return m_index;
    m_started = true;
    if (m_policy.mode == u"ann") { // now, holding the lock: every query of this model is approximate
        auto built = std::make_shared<AnnIndex>();
        built->build(factors, bias);
        m_index = std::move(built);
        return m_index;
    }
    // auto: in the background, on all but one core, while queries go on scanning exactly.
    m_builder = std::thread([this, &factors, bias] {
        auto built = std::make_shared<AnnIndex>();
        built->build(factors, bias, AnnIndex::Options {}, std::max(1, defaultThreads() - 1), &m_stop);
        std::lock_guard guard(m_mutex);
        if (!m_stop && built->built())
            m_index = std::move(built);
    });
    return nullptr;
}

void AnnRetriever::waitForBuild() const
{
    std::thread builder;
    {
        std::lock_guard lock(m_mutex);
        builder = std::move(m_builder);
    }
    if (builder.joinable())
        builder.join();
}

} // namespace recwb::cf
