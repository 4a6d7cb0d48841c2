#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace recwb::eval {

// The evaluation layer's own pseudo-random numbers. std::shuffle and the
// std::*_distribution classes are implementation-defined (libstdc++ and libc++ give
// different results for the same engine and seed), and a seeded split or a bootstrap
// interval must be the same figure everywhere, so everything random in core/eval goes
// through this SplitMix64 generator (Steele, Lea & Flood 2014; the reference constants).
inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed)
        : m_state(seed)
    {
    }
    // An independent stream per (seed, stream index): per user, per bootstrap resample.
    static SplitMix64 stream(uint64_t seed, uint64_t index)
    {
        return SplitMix64(mix64(seed ^ mix64(index + 0x9e3779b97f4a7c15ULL)));
    }

    uint64_t next()
    {
        m_state += 0x9e3779b97f4a7c15ULL;
        return mix64(m_state);
    }

    // Uniform in [0, bound) without modulo bias (rejection of the short top range).
    // bound must be > 0.
    uint64_t below(uint64_t bound)
    {
        const uint64_t threshold = (0 - bound) % bound; // 2^64 mod bound
        for (;;) {
            const uint64_t r = next();
            if (r >= threshold)
                return r % bound;
        }
    }

    // Uniform in [0, 1) with 53 random bits.
    double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

private:
    uint64_t m_state;
};

// A seeded random n of `pool` (all of it when it has <= n), ascending: a partial
// Fisher-Yates on SplitMix64::stream(seed, 0xC0401). Experiment cohorts and review queues
// draw their samples with it, so the same seed gives the same users in both.
template <typename T> std::vector<T> seededSample(std::vector<T> pool, size_t n, uint64_t seed)
{
    if (n < pool.size()) {
        SplitMix64 rng = SplitMix64::stream(seed, 0xC0401);
        for (size_t i = 0; i < n; ++i)
            std::swap(pool[i], pool[i + rng.below(pool.size() - i)]);
        pool.resize(n);
        std::sort(pool.begin(), pool.end());
    }
    return pool;
}

} // namespace recwb::eval
