#include "cf/kernels.h"
#include "cf/cgstep.h"

#include <cstddef>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RECWB_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RECWB_CLONES
#endif

namespace recwb::cf::kernels {

namespace {

inline float dotN(const float* __restrict a, const float* __restrict b, int n)
{
    // Eight partial sums let the vectoriser keep independent accumulators.
    float acc[8] = {};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k)
            acc[k] += a[i + k] * b[i + k];
    float s = 0;
    for (; i < n; ++i)
        s += a[i] * b[i];
    for (int k = 0; k < 8; ++k)
        s += acc[k];
    return s;
}

inline void axpyN(float alpha, const float* __restrict x, float* __restrict y, int n)
{
    for (int i = 0; i < n; ++i)
        y[i] += alpha * x[i];
}

inline void matvec(const float* __restrict m, const float* __restrict x, float* __restrict out, int f)
{
    for (int r = 0; r < f; ++r)
        out[r] = dotN(m + static_cast<int64_t>(r) * f, x, f);
}

} // namespace

RECWB_CLONES
void gemv(const float* m, int64_t rows, int f, const float* x, float* out)
{
    for (int64_t r = 0; r < rows; ++r)
        out[r] = dotN(m + r * f, x, f);
}

RECWB_CLONES
void cgSolveRows(const float* yty, const float* y, int f, const int64_t* offsets, const int32_t* indices,
    const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end, int cgSteps)
{
    std::vector<float> rbuf(static_cast<size_t>(f)), pbuf(static_cast<size_t>(f)), apbuf(static_cast<size_t>(f));
    float* __restrict r = rbuf.data();
    float* __restrict p = pbuf.data();
    float* __restrict ap = apbuf.data();
    for (int64_t u = begin; u < end; ++u) {
        float* __restrict xu = x + u * f;
        // r = Y^T C_u p_u - (YtY + Y^T (C_u - I) Y) x_u
        matvec(yty, xu, r, f);
        for (int k = 0; k < f; ++k)
            r[k] = -r[k];
        for (int64_t n = offsets[u]; n < offsets[u + 1]; ++n) {
            const float c = 1.0f + alpha * (useValues ? values[n] : 1.0f);
            const float* yi = y + static_cast<int64_t>(indices[n]) * f;
            axpyN(c - (c - 1.0f) * dotN(yi, xu, f), yi, r, f);
        }
        for (int k = 0; k < f; ++k)
            p[k] = r[k];
        float rsold = dotN(r, r, f);
        if (rsold < 1e-20f)
            continue;
        for (int it = 0; it < cgSteps; ++it) {
            matvec(yty, p, ap, f);
            for (int64_t n = offsets[u]; n < offsets[u + 1]; ++n) {
                const float c = 1.0f + alpha * (useValues ? values[n] : 1.0f);
                const float* yi = y + static_cast<int64_t>(indices[n]) * f;
                axpyN((c - 1.0f) * dotN(yi, p, f), yi, ap, f);
            }
            if (!cgUpdate(xu, r, p, ap, f, rsold, [f](const float* a, const float* b) { return dotN(a, b, f); }))
                break;
        }
    }
}

} // namespace recwb::cf::kernels

namespace recwb::cf::kernels {

RECWB_CLONES
float squaredDistance(const float* a, const float* b, int n)
{
    float acc[8] = {};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) {
            const float d = a[i + k] - b[i + k];
            acc[k] += d * d;
        }
    float s = 0;
    for (; i < n; ++i)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    for (int k = 0; k < 8; ++k)
        s += acc[k];
    return s;
}

} // namespace recwb::cf::kernels
