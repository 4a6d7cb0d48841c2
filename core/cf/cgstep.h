#pragma once

#include <cstdint>

// The update that ends a conjugate-gradient step, shared by the portable, the AVX2 and the
// AVX-512 iALS kernels (kernels.cpp, kernels_avx2.cpp, kernels_avx512.cpp), and the row loop
// of the last two.
namespace recwb::cf::kernels {

// After ap = A p: x += a p and r -= a ap with a = rsold / (p . ap), then p = r + (rsnew / rsold) p.
// Returns false, leaving p and rsold, once the residual has vanished (|r|^2 < 1e-20).
template <typename Dot>
inline bool cgUpdate(float* __restrict x, float* __restrict r, float* __restrict p, const float* __restrict ap, int f,
    float& rsold, Dot dot)
{
    const float step = rsold / dot(p, ap);
    for (int k = 0; k < f; ++k) {
        x[k] += step * p[k];
        r[k] -= step * ap[k];
    }
    const float rsnew = dot(r, r);
    if (rsnew < 1e-20f)
        return false;
    const float beta = rsnew / rsold;
    for (int k = 0; k < f; ++k)
        p[k] = r[k] + beta * p[k];
    rsold = rsnew;
    return true;
}

// Rows [begin, end) of x solved against the fixed side y (f32 or half rows): per row, the
// residual r = Y^T C_u p_u - (YtY + Y^T (C_u - I) Y) x_u by one pass over the row's items,
// then up to cgSteps CG steps. O supplies, for F factors, symMatvec(m, v, out) (out = m v),
// gatherPass<Residual>(y, idx, values, n, alpha, useValues, v, acc) and dot(a, b).
template <typename O, int F, typename T>
inline void cgRowsF(const float* yty, const T* y, const int64_t* offsets, const int32_t* indices, const float* values,
    float alpha, bool useValues, float* x, int64_t begin, int64_t end, int cgSteps)
{
    alignas(64) float r[F], p[F], ap[F];
    for (int64_t u = begin; u < end; ++u) {
        float* xu = x + u * F;
        const int64_t o = offsets[u];
        const int64_t n = offsets[u + 1] - o;
        O::symMatvec(yty, xu, r);
        for (int k = 0; k < F; ++k)
            r[k] = -r[k];
        O::template gatherPass<true>(y, indices + o, values + o, n, alpha, useValues, xu, r);
        for (int k = 0; k < F; ++k)
            p[k] = r[k];
        float rsold = O::dot(r, r);
        if (rsold < 1e-20f)
            continue;
        for (int it = 0; it < cgSteps; ++it) {
            O::symMatvec(yty, p, ap);
            O::template gatherPass<false>(y, indices + o, values + o, n, alpha, useValues, p, ap);
            if (!cgUpdate(xu, r, p, ap, F, rsold, O::dot))
                break;
        }
    }
}

// cgRowsF for f = 32, 64 or 128 with Ops<f>; false for any other f. The AVX2 and AVX-512
// kernels call this from a wrapper with their target attribute and [[gnu::flatten]], so the
// whole loop is inlined and compiled for that instruction set.
template <template <int> class Ops, typename T>
inline bool cgRowsWith(int f, const float* yty, const T* y, const int64_t* offsets, const int32_t* indices,
    const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end, int cgSteps)
{
    switch (f) {
    case 32:
        cgRowsF<Ops<32>, 32>(yty, y, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
        return true;
    case 64:
        cgRowsF<Ops<64>, 64>(yty, y, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
        return true;
    case 128:
        cgRowsF<Ops<128>, 128>(yty, y, offsets, indices, values, alpha, useValues, x, begin, end, cgSteps);
        return true;
    default:
        return false;
    }
}

} // namespace recwb::cf::kernels
