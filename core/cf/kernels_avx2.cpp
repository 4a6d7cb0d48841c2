// The kernels written with AVX2/FMA/F16C intrinsics (x86-64-v3): the half-precision factor
// copies. Callers check halfAvailable() at run time; kernels.cpp holds the portable kernels.
#include "cf/kernels.h"

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

#else

bool halfAvailable()
{
    return false;
}

void toHalf(const float*, uint16_t*, int64_t) { }
void gemvHalf(const uint16_t*, int64_t, int, const float*, float*) { }

#endif

} // namespace recwb::cf::kernels
