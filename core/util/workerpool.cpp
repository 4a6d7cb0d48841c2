#include "util/workerpool.h"

#include "util/parallel.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RECWB_PAUSE() _mm_pause()
#else
#define RECWB_PAUSE() std::this_thread::yield()
#endif

namespace recwb {

// Tasks are pulled from a shared ticket (job generation in the high half, next task in the
// low half), so a worker that wakes late, or not at all on a busy machine, only means the
// caller runs more of them. A worker that still holds an old job fails its compare-exchange
// against the new generation, so it can never run a task with the wrong job's function.
struct WorkerPool::State {
    std::mutex mutex;
    std::condition_variable wake;
    std::mutex callerMutex; // held by the caller of the job in flight
    std::atomic<uint64_t> ticket { 0 };
    std::atomic<int> remaining { 0 };
    uint32_t generation = 0; // guarded by mutex, like the job fields below
    int tasks = 0;
    void (*call)(void*, int) = nullptr;
    void* ctx = nullptr;
    std::exception_ptr error;
    bool stop = false;
    std::vector<std::thread> threads;

    void pull(uint32_t gen, int count, void (*fn)(void*, int), void* c)
    {
        uint64_t t = ticket.load(std::memory_order_acquire);
        for (;;) {
            const auto index = static_cast<int>(t & 0xffffffffu);
            if (static_cast<uint32_t>(t >> 32) != gen || index >= count)
                return;
            if (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire))
                continue;
            try {
                fn(c, index);
            } catch (...) {
                std::lock_guard lock(mutex);
                if (!error)
                    error = std::current_exception();
            }
            remaining.fetch_sub(1, std::memory_order_acq_rel);
            t = ticket.load(std::memory_order_acquire);
        }
    }

    void workerLoop()
    {
        uint32_t seen = 0;
        for (;;) {
            // Spin a little before sleeping: back-to-back queries then skip the futex wake-up.
            for (int spin = 0; spin < 20'000 && static_cast<uint32_t>(ticket.load(std::memory_order_relaxed) >> 32) == seen;
                 ++spin)
                RECWB_PAUSE();
            int count = 0;
            void (*fn)(void*, int) = nullptr;
            void* c = nullptr;
            {
                std::unique_lock lock(mutex);
                wake.wait(lock, [&] { return stop || generation != seen; });
                if (stop)
                    return;
                seen = generation;
                count = tasks;
                fn = call;
                c = ctx;
            }
            pull(seen, count, fn, c);
        }
    }
};

WorkerPool& WorkerPool::instance()
{
    static WorkerPool pool;
    return pool;
}

WorkerPool::WorkerPool()
    : m_state(new State)
{
    const int n = defaultThreads() - 1;
    for (int w = 0; w < n; ++w)
        m_state->threads.emplace_back([s = m_state] { s->workerLoop(); });
}

WorkerPool::~WorkerPool()
{
    {
        std::lock_guard lock(m_state->mutex);
        m_state->stop = true;
    }
    m_state->wake.notify_all();
    for (auto& t : m_state->threads)
        t.join();
    delete m_state;
}

int WorkerPool::workers() const
{
    return static_cast<int>(m_state->threads.size());
}

void WorkerPool::runTasks(int tasks, void (*call)(void*, int), void* ctx)
{
    State& s = *m_state;
    std::unique_lock caller(s.callerMutex, std::try_to_lock);
    if (tasks <= 1 || s.threads.empty() || !caller.owns_lock()) {
        for (int t = 0; t < tasks; ++t)
            call(ctx, t);
        return;
    }
    uint32_t gen = 0;
    {
        std::lock_guard lock(s.mutex);
        gen = ++s.generation;
        s.tasks = tasks;
        s.call = call;
        s.ctx = ctx;
        s.error = nullptr;
        s.remaining.store(tasks, std::memory_order_relaxed);
        s.ticket.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
    }
    s.wake.notify_all();
    s.pull(gen, tasks, call, ctx);
    for (int spin = 0; s.remaining.load(std::memory_order_acquire) > 0; ++spin) {
        if (spin < 4096)
            RECWB_PAUSE();
        else
            std::this_thread::yield();
    }
    std::exception_ptr error;
    {
        std::lock_guard lock(s.mutex);
        error = std::exchange(s.error, nullptr);
    }
    if (error)
        std::rethrow_exception(error);
}

} // namespace recwb
