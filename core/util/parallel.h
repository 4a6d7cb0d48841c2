#pragma once

#include <QThread>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace recwb {

inline int defaultThreads()
{
    return std::max(1, QThread::idealThreadCount());
}

// Runs fn(begin, end) over [0, n) split into contiguous blocks, one std::thread per
// block. The split depends only on n and threads, so results written per index are
// identical whatever the scheduling. The first exception is rethrown on the caller.
template <typename Fn>
void parallelFor(int64_t n, Fn&& fn, int threads = defaultThreads(), int64_t minBlock = 64)
{
    if (n <= 0)
        return;
    const int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(threads, (n + minBlock - 1) / minBlock));
    if (blocks == 1) {
        fn(int64_t { 0 }, n);
        return;
    }
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(static_cast<size_t>(blocks));
    pool.reserve(static_cast<size_t>(blocks));
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t begin = n * b / blocks;
        const int64_t end = n * (b + 1) / blocks;
        pool.emplace_back([&, b, begin, end] {
            try {
                fn(begin, end);
            } catch (...) {
                errors[static_cast<size_t>(b)] = std::current_exception();
            }
        });
    }
    for (auto& t : pool)
        t.join();
    for (auto& e : errors)
        if (e)
            std::rethrow_exception(e);
}

// Dynamic scheduling for uneven work: fn(begin, end) over chunks pulled from a counter.
// Use only when each index's result does not depend on which thread ran it.
template <typename Fn>
void parallelForDynamic(int64_t n, int64_t chunk, Fn&& fn, int threads = defaultThreads())
{
    if (n <= 0)
        return;
    std::atomic<int64_t> next { 0 };
    const int workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, (n + chunk - 1) / chunk)));
    std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
    auto work = [&](int w) {
        try {
            for (;;) {
                const int64_t begin = next.fetch_add(chunk);
                if (begin >= n)
                    break;
                fn(begin, std::min(n, begin + chunk));
            }
        } catch (...) {
            errors[static_cast<size_t>(w)] = std::current_exception();
            next.store(n);
        }
    };
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w)
        pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool)
        t.join();
    for (auto& e : errors)
        if (e)
            std::rethrow_exception(e);
}

} // namespace recwb
