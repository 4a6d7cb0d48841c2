#pragma once

#include <cstdint>
#include <optional>
#include <span>

// How alike two ranked lists are (side-by-side comparison, docs/COMPARE.md). Lists are
// item indices, best first, without repeats; they may differ in length.
namespace recwb::eval {

// The p of rank-biased overlap: the weight of the first 10 places is ~86 % of the total.
inline constexpr double kRboP = 0.9;

// |A[:k] ∩ B[:k]| / k (k > 0). A list shorter than k counts what it has.
double overlapAtK(std::span<const int32_t> a, std::span<const int32_t> b, int k);

// Kendall's tau between the orders the two lists give their shared items (the items
// in both): (concordant - discordant) / (n (n - 1) / 2) over the n shared items. Inside
// one list there are no ties, so this tau-a equals tau-b. nullopt when fewer than 2 items
// are shared (no pair to compare).
std::optional<double> kendallTauShared(std::span<const int32_t> a, std::span<const int32_t> b);

// Rank-biased overlap, extrapolated (RBO_ext, Webber, Moffat & Zobel 2010, eq. 32 for
// lists of uneven length s <= l):
//   (1-p)/p [ sum_{d=1..l} X_d/d p^d + sum_{d=s+1..l} X_s (d-s)/(s d) p^d ] + [ (X_l - X_s)/l + X_s/s ] p^l
// with X_d the overlap of the first d places (for d > s: the short list whole against the
// first d of the long one). 1 for identical lists, 0 for disjoint ones; 0 when either
// list is empty.
double rankBiasedOverlap(std::span<const int32_t> a, std::span<const int32_t> b, double p = kRboP);

} // namespace recwb::eval
