// The iALS conjugate-gradient solver written with AVX-512 intrinsics, for CPUs that have
// AVX-512F/DQ (Intel since Skylake-SP, AMD since Zen 4). One 512-bit register holds 16 factors,
// so a row of 64 is four registers: the kernel converts each gathered half row once, keeps the
// four rows of a step in registers for both the dot product and the update, and does half the
// multiply-adds of the AVX2 kernel. Same equations as kernels_avx2.cpp; the sums are taken in a
// different order, so results agree with the other kernels to float rounding, not bit for bit.
#include "cf/cgstep.h"
#include "cf/kernels.h"

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_*, which it then reports
// as used uninitialized (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define RECWB_AVX512_KERNELS 1
#define RECWB_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma,f16c")))
#endif

namespace recwb::cf::kernels {

#ifdef RECWB_AVX512_KERNELS

namespace {

RECWB_AVX512 inline __m512 load16(const float* p)
{
    return _mm512_loadu_ps(p);
}

RECWB_AVX512 inline __m512 load16(const uint16_t* p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

RECWB_AVX512 inline __m256 half(__m512 d)
{
    return _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
}

// [a.b for the four (a, b) pairs] from the four 16-lane partial products.
RECWB_AVX512 inline __m128 reduce4(__m512 d0, __m512 d1, __m512 d2, __m512 d3)
{
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(half(d0), half(d1)), _mm256_hadd_ps(half(d2), half(d3)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

template <int V>
RECWB_AVX512 inline float dotV(const float* a, const float* b)
{
    __m512 s = _mm512_mul_ps(load16(a), load16(b));
#pragma GCC unroll 16
    for (int v = 1; v < V; ++v)
        s = _mm512_fmadd_ps(load16(a + 16 * v), load16(b + 16 * v), s);
    return _mm512_reduce_add_ps(s);
}

// out = m v for the symmetric F x F matrix m, as a sum of its rows scaled by v.
template <int V>
RECWB_AVX512 inline void symMatvec(const float* m, const float* v, float* out)
{
    constexpr int F = 16 * V;
    __m512 acc[V];
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        acc[j] = _mm512_setzero_ps();
    for (int k = 0; k < F; ++k) {
        const __m512 vk = _mm512_set1_ps(v[k]);
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j)
            acc[j] = _mm512_fmadd_ps(load16(m + k * F + 16 * j), vk, acc[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        _mm512_storeu_ps(out + 16 * j, acc[j]);
}

#define RECWB_KERNEL RECWB_AVX512
#include "cf/kernels_simd.inc"
#undef RECWB_KERNEL

// acc += sum over the row's items i of (a_i + b_i (y_i . v)) y_i, with a_i, b_i from the
// confidence c_i: the residual pass uses (c_i, 1 - c_i), a CG step (0, c_i - 1). Four items at
// a time; up to 64 factors the four rows stay in registers between the dot product and the
// update (each half row converted once), above that they are read again. The rows a few
// items ahead are prefetched: the gathers miss cache.
template <int V, bool Residual, typename T>
RECWB_AVX512 void gatherPass(const T* y, const int32_t* idx, const float* values, int64_t n, float alpha,
    bool useValues, const float* v, float* acc)
{
    constexpr int F = 16 * V;
    constexpr int kAhead = 32;
    constexpr int kLines = static_cast<int>(F * sizeof(T) / 64);
    constexpr bool kHold = V <= 4; // 4 rows x V + V + V + 4 of the 32 registers
    __m512 sum[V], vv[V];
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j) {
        sum[j] = load16(acc + 16 * j);
        vv[j] = load16(v + 16 * j);
    }
    for (int64_t k = 0; k < std::min<int64_t>(kAhead, n); ++k)
        prefetchRow<kLines>(y + static_cast<int64_t>(idx[k]) * F);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        for (int64_t a = k + kAhead; a < std::min(k + kAhead + 4, n); ++a)
            prefetchRow<kLines>(y + static_cast<int64_t>(idx[a]) * F);
        const T* rows[4] = { y + static_cast<int64_t>(idx[k]) * F, y + static_cast<int64_t>(idx[k + 1]) * F,
            y + static_cast<int64_t>(idx[k + 2]) * F, y + static_cast<int64_t>(idx[k + 3]) * F };
        // Up to 64 factors the four rows are converted once and held; above, read again.
        __m512 held[4][kHold ? V : 1];
        if constexpr (kHold) {
#pragma GCC unroll 16
            for (int i = 0; i < 4; ++i)
#pragma GCC unroll 16
                for (int j = 0; j < V; ++j)
                    held[i][j] = load16(rows[i] + 16 * j);
        }
#define RECWB_ROW(i, j) (kHold ? held[i][kHold ? (j) : 0] : load16(rows[i] + 16 * (j)))
        __m512 d[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            d[i] = _mm512_mul_ps(RECWB_ROW(i, 0), vv[0]);
#pragma GCC unroll 16
            for (int j = 1; j < V; ++j)
                d[i] = _mm512_fmadd_ps(RECWB_ROW(i, j), vv[j], d[i]);
        }
        alignas(16) float w[4];
        _mm_store_ps(w, coefficients<Residual>(reduce4(d[0], d[1], d[2], d[3]), alpha, useValues ? values + k : nullptr));
#pragma GCC unroll 4
        for (int i = 0; i < 4; ++i) {
            const __m512 wi = _mm512_set1_ps(w[i]);
#pragma GCC unroll 16
            for (int j = 0; j < V; ++j)
                sum[j] = _mm512_fmadd_ps(RECWB_ROW(i, j), wi, sum[j]);
        }
    }
#undef RECWB_ROW
    for (; k < n; ++k) {
        const T* r0 = y + static_cast<int64_t>(idx[k]) * F;
        __m512 d0 = _mm512_mul_ps(load16(r0), vv[0]);
#pragma GCC unroll 16
        for (int j = 1; j < V; ++j)
            d0 = _mm512_fmadd_ps(load16(r0 + 16 * j), vv[j], d0);
        const float c = 1.0f + alpha * (useValues ? values[k] : 1.0f);
        const float dot = _mm512_reduce_add_ps(d0);
        const __m512 w0 = _mm512_set1_ps(Residual ? c - (c - 1.0f) * dot : (c - 1.0f) * dot);
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j)
            sum[j] = _mm512_fmadd_ps(load16(r0 + 16 * j), w0, sum[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        _mm512_storeu_ps(acc + 16 * j, sum[j]);
}

template <int F>
struct Ops {
    static constexpr int V = F / 16;
    RECWB_AVX512 static void symMatvec(const float* m, const float* v, float* out) { kernels::symMatvec<V>(m, v, out); }
    RECWB_AVX512 static float dot(const float* a, const float* b) { return dotV<V>(a, b); }
    template <bool Residual, typename T>
    RECWB_AVX512 static void gatherPass(const T* y, const int32_t* idx, const float* values, int64_t n, float alpha,
        bool useValues, const float* v, float* acc)
    {
        kernels::gatherPass<V, Residual>(y, idx, values, n, alpha, useValues, v, acc);
    }
};

template <typename T>
RECWB_AVX512 [[gnu::flatten]] bool cgDispatch(const float* yty, const T* y, int f, const int64_t* offsets,
    const int32_t* indices, const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end,
    int cgSteps)
{
    return cgRowsWith<Ops>(f, yty, y, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
}

} // namespace

bool avx512Available()
{
    static const bool ok = halfAvailable() && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return ok;
}

bool cgSolveRowsAvx512(const float* yty, const float* y, const uint16_t* yHalf, int f, const int64_t* offsets,
    const int32_t* indices, const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end,
    int cgSteps)
{
    if (!avx512Available())
        return false;
    return yHalf ? cgDispatch(yty, yHalf, f, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps)
                 : cgDispatch(yty, y, f, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
}

#else

bool avx512Available()
{
    return false;
}

bool cgSolveRowsAvx512(const float*, const float*, const uint16_t*, int, const int64_t*, const int32_t*,
    const float*, float, bool, float*, int64_t, int64_t, int)
{
    return false;
}

#endif

} // namespace recwb::cf::kernels
