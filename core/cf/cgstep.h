#pragma once

// The update that ends a conjugate-gradient step, shared by the portable and the AVX2 iALS
// kernels (kernels.cpp, kernels_avx2.cpp).
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

} // namespace recwb::cf::kernels
