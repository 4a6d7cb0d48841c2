#include "cf/kernels.h"
#include "cf/models.h"
#include "util/parallel.h"
#include "util/workerpool.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace recwb::cf {

namespace {

constexpr double kUnit = 0x1.0p-24; // f32 unit roundoff
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kMinRowsPerTask = 4096;

// "a ranks before b": higher score, then lower index (topN's order).
inline bool better(const ScoredItem& a, const ScoredItem& b)
{
    return a.score > b.score || (a.score == b.score && a.item < b.item);
}

// The largest float not above value - margin (so a comparison against it never drops an
// item the real-valued bound keeps).
inline float floorMinus(float value, double margin)
{
    if (margin == 0 || value == kMinusInf)
        return value;
    return std::nextafter(static_cast<float>(static_cast<double>(value) - margin), kMinusInf);
}

// Parts of a pass, one per thread (four per thread measured slower: each part pays its own
// selection); the caller takes a part a late worker has not started.
int scanTasks(int64_t rows, int f, int threads)
{
    if (threads <= 0)
        threads = rows * f >= 2'000'000 ? WorkerPool::instance().workers() + 1 : 1;
    return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, rows / kMinRowsPerTask)));
}

// One query's work space, kept per calling thread so a query allocates nothing but its result.
struct TopNWork {
    std::vector<std::vector<ScoredItem>> candidates; // per task: (item, first-pass score)
    std::vector<std::vector<float>> heaps; // per task: a min-heap of the n best first-pass scores
    std::vector<float> floors; // per task: its n-th best first-pass score (-inf with fewer)
    std::vector<ScoredItem> merged;
};

struct Query {
    const RowMatrixF& factors;
    const HalfFactors* half; // null: the first pass is exact
    const float* x;
    int n;
    std::span<const int32_t> exclude;
    std::span<const float> bias;
    double margin; // two bounds of |first pass - exact|: 0 when exact
};

// First pass over rows [begin, end): keeps every item whose first-pass score reaches the
// running n-th best minus the margin. Any item of the exact top n is among them: the n
// best first-pass items of the block have exact scores >= (n-th first-pass) - bound, so the
// n-th exact score overall is too, and an item reaching it has a first pass >= that - bound.
void scanBlock(const Query& q, int64_t begin, int64_t end, std::vector<ScoredItem>& cand, std::vector<float>& heap,
    float& floor)
{
    cand.clear();
    heap.clear();
    floor = kMinusInf;
    float keep = kMinusInf;
    size_t compactAt = static_cast<size_t>(q.n) * 4 + 64;
    const int f = static_cast<int>(q.factors.cols());
    auto ex = std::lower_bound(q.exclude.begin(), q.exclude.end(), static_cast<int32_t>(begin));
    constexpr int64_t kChunk = 256;
    float buf[kChunk];
    for (int64_t c = begin; c < end; c += kChunk) {
        const int64_t len = std::min(kChunk, end - c);
        if (q.half)
            kernels::gemvHalf(q.half->data() + c * q.half->stride(), len, q.half->stride(), q.x, buf);
        else
            kernels::gemv(q.factors.data() + c * f, len, f, q.x, buf);
        for (int64_t j = 0; j < len; ++j) {
            const auto i = static_cast<int32_t>(c + j);
            while (ex != q.exclude.end() && *ex < i)
                ++ex;
            if (ex != q.exclude.end() && *ex == i)
                continue;
            float a = q.bias.empty() ? buf[j] : buf[j] + q.bias[static_cast<size_t>(i)];
            if (std::isnan(a))
                a = kMinusInf;
            if (static_cast<int>(heap.size()) < q.n) {
                cand.push_back({ i, a });
                heap.push_back(a);
                std::push_heap(heap.begin(), heap.end(), std::greater<> {});
                if (static_cast<int>(heap.size()) == q.n) {
                    floor = heap.front();
                    keep = floorMinus(floor, q.margin);
                }
                continue;
            }
            if (!(a >= keep))
                continue;
            cand.push_back({ i, a });
            if (a > floor) {
                std::pop_heap(heap.begin(), heap.end(), std::greater<> {});
                heap.back() = a;
                std::push_heap(heap.begin(), heap.end(), std::greater<> {});
                floor = heap.front();
                keep = floorMinus(floor, q.margin);
            }
            if (cand.size() >= compactAt) {
                std::erase_if(cand, [keep](const ScoredItem& s) { return !(s.score >= keep); });
                compactAt = std::max(compactAt, cand.size() * 2);
            }
        }
    }
}

std::vector<ScoredItem> selectTop(const Query& q, int threads)
{
    const int64_t rows = q.factors.rows();
    const int f = static_cast<int>(q.factors.cols());
    const int tasks = scanTasks(rows, f, threads);
    thread_local TopNWork callerWork;
    TopNWork& w = callerWork; // a thread_local is not captured: name it by reference for the workers
    w.candidates.resize(static_cast<size_t>(tasks));
    w.heaps.resize(static_cast<size_t>(tasks));
    w.floors.resize(static_cast<size_t>(tasks));
    WorkerPool::instance().run(tasks, [&](int t) {
        const auto k = static_cast<size_t>(t);
        scanBlock(q, rows * t / tasks, rows * (t + 1) / tasks, w.candidates[k], w.heaps[k], w.floors[k]);
    });
    // The best block's n-th score bounds the overall n-th from below: filter by it, then by
    // the overall n-th first-pass score.
    const float keep = floorMinus(*std::max_element(w.floors.begin(), w.floors.end()), q.margin);
    auto& all = w.merged;
    all.clear();
    for (const auto& part : w.candidates)
        for (const ScoredItem& s : part)
            if (s.score >= keep)
                all.push_back(s);
    if (static_cast<int>(all.size()) > q.n) {
        std::nth_element(all.begin(), all.begin() + (q.n - 1), all.end(),
            [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score; });
        const float cut = floorMinus(all[static_cast<size_t>(q.n - 1)].score, q.margin);
        std::erase_if(all, [cut](const ScoredItem& s) { return !(s.score >= cut); });
    }
    if (q.half) {
        // Exact scores for the survivors, computed as scoreFactors computes them.
        for (ScoredItem& s : all) {
            kernels::gemv(q.factors.data() + static_cast<int64_t>(s.item) * f, 1, f, q.x, &s.score);
            if (!q.bias.empty())
                s.score += q.bias[static_cast<size_t>(s.item)];
        }
    }
    const auto n = std::min(all.size(), static_cast<size_t>(q.n));
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), better);
    return { all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n) };
}

} // namespace

HalfFactors::HalfFactors(const RowMatrixF& factors)
{
    if (!kernels::halfAvailable() || factors.size() == 0)
        return;
    const int64_t rows = factors.rows();
    const int f = static_cast<int>(factors.cols());
    m_stride = (f + 7) / 8 * 8;
    m_rows = rows;
    m_half.resize(static_cast<size_t>(rows * m_stride));
    std::vector<float> row(static_cast<size_t>(m_stride), 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
        double norm2 = 0;
        for (int k = 0; k < f; ++k) {
            const float v = factors(r, k);
            if (!(std::abs(v) <= 65504.0f)) { // beyond the largest half, or not finite
                *this = {};
                return;
            }
            row[static_cast<size_t>(k)] = v;
            norm2 += static_cast<double>(v) * v;
        }
        m_maxNorm = std::max(m_maxNorm, std::sqrt(norm2));
        kernels::toHalf(row.data(), m_half.data() + r * m_stride, m_stride);
    }
}

double HalfFactors::errorBound(const float* x, int f, double maxAbsBias) const
{
    double norm2 = 0, norm1 = 0;
    for (int k = 0; k < f; ++k) {
        norm2 += static_cast<double>(x[k]) * x[k];
        norm1 += std::abs(static_cast<double>(x[k]));
    }
    const double dot = m_maxNorm * std::sqrt(norm2); // >= |x . y_i| for every row (Cauchy-Schwarz)
    if (!std::isfinite(dot) || !std::isfinite(maxAbsBias) || dot + maxAbsBias > 1e30)
        return -1;
    // Per entry a half is within 2^-11 relative (2^-25 absolute below 2^-14) of the float;
    // each f32 dot product of `stride` terms, in any order, is within 1.01 * stride * u of
    // the sum of |terms|; with a bias, each of the two final additions adds u |result|.
    const double gamma = 1.01 * (m_stride + 2) * kUnit;
    double bound = (0x1.0p-11 + 2 * gamma) * (1 + 0x1.0p-11) * dot + 1.01 * 0x1.0p-25 * norm1
        + m_stride * std::numeric_limits<float>::min();
    if (maxAbsBias > 0)
        bound += 2.02 * kUnit * (dot + maxAbsBias);
    return bound * 1.01;
}

void scoreFactors(const RowMatrixF& factors, const float* x, float* out, int threads)
{
    const auto rows = factors.rows();
    const int f = static_cast<int>(factors.cols());
    const int tasks = scanTasks(rows, f, threads);
    WorkerPool::instance().run(tasks, [&](int t) {
        const int64_t begin = rows * t / tasks;
        kernels::gemv(factors.data() + begin * f, rows * (t + 1) / tasks - begin, f, x, out + begin);
    });
}

std::vector<ScoredItem> topNFactors(const RowMatrixF& factors, const HalfFactors& half, const float* x, int n,
    std::span<const int32_t> exclude, std::span<const float> bias, int threads)
{
    if (n <= 0 || factors.rows() == 0)
        return {};
    const int f = static_cast<int>(factors.cols());
    const HalfFactors* firstPass = nullptr;
    double margin = 0;
    const float* query = x;
    if (half.usable() && half.rows() == factors.rows()) {
        double maxAbsBias = 0;
        for (const float b : bias)
            maxAbsBias = std::max(maxAbsBias, std::abs(static_cast<double>(b)));
        const double bound = half.errorBound(x, f, maxAbsBias);
        if (bound >= 0) {
            thread_local std::vector<float> padded;
            padded.assign(static_cast<size_t>(half.stride()), 0.0f);
            std::copy(x, x + f, padded.begin());
            firstPass = &half;
            margin = 2 * bound;
            query = padded.data();
        }
    }
    return selectTop(Query { factors, firstPass, query, n, exclude, bias, margin }, threads);
}

} // namespace recwb::cf
