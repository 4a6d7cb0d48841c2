// The kernels written with AVX2/FMA/F16C intrinsics (x86-64-v3): the half-precision factor
// copies and the iALS conjugate-gradient solver for the common factor counts. Each entry
// point checks the CPU at run time; kernels.cpp holds the portable versions.
#include "cf/kernels.h"
#include "cf/cgstep.h"

#include <algorithm>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define RECWB_AVX2_KERNELS 1
#define RECWB_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

namespace recwb::cf::kernels {

#ifdef RECWB_AVX2_KERNELS

namespace {

RECWB_AVX2 inline __m256 load8(const float* p)
{
    return _mm256_loadu_ps(p);
}

RECWB_AVX2 inline __m256 load8(const uint16_t* p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

RECWB_AVX2 inline float hsum(__m256 v)
{
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

} // namespace

bool halfAvailable()
{
    static const bool ok
        = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    return ok;
}

RECWB_AVX2
void toHalf(const float* in, uint16_t* out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
            _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

RECWB_AVX2
void fromHalf(const uint16_t* in, float* out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 8)
        _mm256_storeu_ps(out + i, load8(in + i));
}


RECWB_AVX2
void gemvHalf(const uint16_t* m, int64_t rows, int stride, const float* x, float* out)
{
    int64_t r = 0;
    // Eight rows at a time: one accumulator per row, reduced together by a horizontal-add tree.
    for (; r + 8 <= rows; r += 8) {
        const uint16_t* b = m + r * stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int k = 0; k < stride; k += 8) {
            const __m256 xv = _mm256_loadu_ps(x + k);
            a0 = _mm256_fmadd_ps(load8(b + k), xv, a0);
            a1 = _mm256_fmadd_ps(load8(b + stride + k), xv, a1);
            a2 = _mm256_fmadd_ps(load8(b + 2 * stride + k), xv, a2);
            a3 = _mm256_fmadd_ps(load8(b + 3 * stride + k), xv, a3);
            a4 = _mm256_fmadd_ps(load8(b + 4 * stride + k), xv, a4);
            a5 = _mm256_fmadd_ps(load8(b + 5 * stride + k), xv, a5);
            a6 = _mm256_fmadd_ps(load8(b + 6 * stride + k), xv, a6);
            a7 = _mm256_fmadd_ps(load8(b + 7 * stride + k), xv, a7);
        }
        const __m256 h0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        const __m256 h1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
        _mm256_storeu_ps(out + r,
            _mm256_add_ps(_mm256_permute2f128_ps(h0, h1, 0x20), _mm256_permute2f128_ps(h0, h1, 0x31)));
    }
    for (; r < rows; ++r) {
        __m256 a = _mm256_setzero_ps();
        for (int k = 0; k < stride; k += 8)
            a = _mm256_fmadd_ps(load8(m + r * stride + k), _mm256_loadu_ps(x + k), a);
        out[r] = hsum(a);
    }
}

namespace {

// Four dot products at once: [a0.b0, a1.b1, a2.b2, a3.b3] from per-row partial vectors.
RECWB_AVX2 inline __m128 reduce4(__m256 d0, __m256 d1, __m256 d2, __m256 d3)
{
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(d0, d1), _mm256_hadd_ps(d2, d3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

template <int V>
RECWB_AVX2 inline float dotV(const float* a, const float* b)
{
    __m256 s = _mm256_mul_ps(load8(a), load8(b));
#pragma GCC unroll 16
    for (int v = 1; v < V; ++v)
        s = _mm256_fmadd_ps(load8(a + 8 * v), load8(b + 8 * v), s);
    return hsum(s);
}

// out = m v for the symmetric F x F matrix m, as a sum of its rows scaled by v.
template <int V>
RECWB_AVX2 inline void symMatvec(const float* m, const float* v, float* out)
{
    constexpr int F = 8 * V;
    __m256 acc[V];
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        acc[j] = _mm256_setzero_ps();
    for (int k = 0; k < F; ++k) {
        const __m256 vk = _mm256_broadcast_ss(v + k);
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j)
            acc[j] = _mm256_fmadd_ps(load8(m + k * F + 8 * j), vk, acc[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        _mm256_storeu_ps(out + 8 * j, acc[j]);
}

#define RECWB_KERNEL RECWB_AVX2
#include "cf/kernels_simd.inc"
#undef RECWB_KERNEL

// acc += sum over the row's items i of (a_i + b_i (y_i . v)) y_i, with a_i, b_i from the
// confidence c_i: the residual pass uses (c_i, 1 - c_i), a CG step (0, c_i - 1). Four
// items at a time, and the rows a few items ahead are prefetched (the gathers miss cache).
template <int V, bool Residual, typename T>
RECWB_AVX2 void gatherPass(const T* y, const int32_t* idx, const float* values, int64_t n, float alpha, bool useValues,
    const float* v, float* acc)
{
    constexpr int F = 8 * V;
    constexpr int kAhead = 32;
    constexpr int kLines = static_cast<int>(F * sizeof(T) / 64);
    __m256 sum[V];
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        sum[j] = load8(acc + 8 * j);
    for (int64_t k = 0; k < std::min<int64_t>(kAhead, n); ++k)
        prefetchRow<kLines>(y + static_cast<int64_t>(idx[k]) * F);
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
        for (int64_t a = k + kAhead; a < std::min(k + kAhead + 4, n); ++a)
            prefetchRow<kLines>(y + static_cast<int64_t>(idx[a]) * F);
        const T* r0 = y + static_cast<int64_t>(idx[k]) * F;
        const T* r1 = y + static_cast<int64_t>(idx[k + 1]) * F;
        const T* r2 = y + static_cast<int64_t>(idx[k + 2]) * F;
        const T* r3 = y + static_cast<int64_t>(idx[k + 3]) * F;
        __m256 d0 = _mm256_setzero_ps(), d1 = d0, d2 = d0, d3 = d0;
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j) {
            const __m256 vj = load8(v + 8 * j);
            d0 = _mm256_fmadd_ps(load8(r0 + 8 * j), vj, d0);
            d1 = _mm256_fmadd_ps(load8(r1 + 8 * j), vj, d1);
            d2 = _mm256_fmadd_ps(load8(r2 + 8 * j), vj, d2);
            d3 = _mm256_fmadd_ps(load8(r3 + 8 * j), vj, d3);
        }
        alignas(16) float w[4];
        _mm_store_ps(w, coefficients<Residual>(reduce4(d0, d1, d2, d3), alpha, useValues ? values + k : nullptr));
        const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]),
                     w3 = _mm256_set1_ps(w[3]);
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j) {
            __m256 s = _mm256_fmadd_ps(load8(r0 + 8 * j), w0, sum[j]);
            s = _mm256_fmadd_ps(load8(r1 + 8 * j), w1, s);
            s = _mm256_fmadd_ps(load8(r2 + 8 * j), w2, s);
            sum[j] = _mm256_fmadd_ps(load8(r3 + 8 * j), w3, s);
        }
    }
    for (; k < n; ++k) {
        const T* r0 = y + static_cast<int64_t>(idx[k]) * F;
        __m256 d0 = _mm256_setzero_ps();
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j)
            d0 = _mm256_fmadd_ps(load8(r0 + 8 * j), load8(v + 8 * j), d0);
        const float c = 1.0f + alpha * (useValues ? values[k] : 1.0f);
        const float d = hsum(d0);
        const __m256 w0 = _mm256_set1_ps(Residual ? c - (c - 1.0f) * d : (c - 1.0f) * d);
#pragma GCC unroll 16
        for (int j = 0; j < V; ++j)
            sum[j] = _mm256_fmadd_ps(load8(r0 + 8 * j), w0, sum[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < V; ++j)
        _mm256_storeu_ps(acc + 8 * j, sum[j]);
}

template <int F>
struct Ops {
    static constexpr int V = F / 8;
    RECWB_AVX2 static void symMatvec(const float* m, const float* v, float* out) { kernels::symMatvec<V>(m, v, out); }
    RECWB_AVX2 static float dot(const float* a, const float* b) { return dotV<V>(a, b); }
    template <bool Residual, typename T>
    RECWB_AVX2 static void gatherPass(const T* y, const int32_t* idx, const float* values, int64_t n, float alpha,
        bool useValues, const float* v, float* acc)
    {
        kernels::gatherPass<V, Residual>(y, idx, values, n, alpha, useValues, v, acc);
    }
};

template <typename T>
RECWB_AVX2 [[gnu::flatten]] bool cgDispatch(const float* yty, const T* y, int f, const int64_t* offsets,
    const int32_t* indices, const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end,
    int cgSteps)
{
    return cgRowsWith<Ops>(f, yty, y, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
}

} // namespace

bool cgSolveRowsAvx2(const float* yty, const float* y, const uint16_t* yHalf, int f, const int64_t* offsets,
    const int32_t* indices, const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end,
    int cgSteps)
{
    if (!halfAvailable())
        return false;
    return yHalf ? cgDispatch(yty, yHalf, f, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps)
                 : cgDispatch(yty, y, f, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
}

#else

bool halfAvailable()
{
    return false;
}

void toHalf(const float*, uint16_t*, int64_t) { }
void fromHalf(const uint16_t*, float*, int64_t) { }
void gemvHalf(const uint16_t*, int64_t, int, const float*, float*) { }
bool cgSolveRowsAvx2(const float*, const float*, const uint16_t*, int, const int64_t*, const int32_t*, const float*,
    float, bool, float*, int64_t, int64_t, int)
{
    return false;
}

#endif

} // namespace recwb::cf::kernels
