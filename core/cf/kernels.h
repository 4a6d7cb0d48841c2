#pragma once

#include <cstdint>

// Hot loops of the factor models, compiled twice (AVX2 + FMA, and the baseline) and
// picked at load time by the CPU (GCC target_clones), so one binary is both portable
// and fast. Plain loops: the compiler vectorises them for each target.
namespace recwb::cf::kernels {

// out[r] = dot(m[r, :], x) for a row-major rows x f matrix.
void gemv(const float* m, int64_t rows, int f, const float* x, float* out);
// The squared Euclidean distance between a and b (n entries): the metric of the ANN graphs.
float squaredDistance(const float* a, const float* b, int n);

// Half-precision (IEEE binary16) factor copies for an approximate first scoring pass. These
// need AVX2, FMA and F16C (all in x86-64-v3); callers check halfAvailable() and use the f32
// kernels otherwise.
bool halfAvailable();
// out = in rounded to the nearest half (|error| <= 2^-11 |in|, or <= 2^-25 below 2^-14);
// n is a multiple of 8.
void toHalf(const float* in, uint16_t* out, int64_t n);
// out = in as floats (exact); n is a multiple of 8.
void fromHalf(const uint16_t* in, float* out, int64_t n);
// out[r] = dot(m[r, :], x) over rows of `stride` halves (a multiple of 8; x has stride
// entries), accumulated in f32 with FMA.
void gemvHalf(const uint16_t* m, int64_t rows, int stride, const float* x, float* out);

// Conjugate-gradient least-squares updates of rows [begin, end) of x (row-major, f
// columns) with the other side y fixed, as in Takacs et al. 2011 / implicit's CG solver:
// (yty + Y^T (C_u - I) Y) x_u = Y^T C_u p_u, C_u = 1 + alpha * (useValues ? value : 1).
// yty is f x f (row-major) and already includes the regularisation.
void cgSolveRows(const float* yty, const float* y, int f, const int64_t* offsets, const int32_t* indices,
    const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end, int cgSteps);
// The same with AVX2 intrinsics for f = 32, 64 or 128, the fixed side given as f32 rows (y)
// or as half rows (yHalf, f entries each; then yty must be built from those halves).
// Returns false, doing nothing, when the CPU or f does not fit.
bool cgSolveRowsAvx2(const float* yty, const float* y, const uint16_t* yHalf, int f, const int64_t* offsets,
    const int32_t* indices, const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end,
    int cgSteps);

// The same with AVX-512 (F, DQ, VL and F16C), for f = 32, 64 or 128: half the instructions
// of the AVX2 kernel. Returns false, doing nothing, when the CPU or f does not fit.
bool avx512Available();
bool cgSolveRowsAvx512(const float* yty, const float* y, const uint16_t* yHalf, int f, const int64_t* offsets,
    const int32_t* indices, const float* values, float alpha, bool useValues, float* x, int64_t begin, int64_t end,
    int cgSteps);

} // namespace recwb::cf::kernels
