#pragma once

#include <cstdint>

namespace recwb {

// Persistent worker threads for short, latency-bound parallel loops (candidate scoring
// takes well under a millisecond, where starting a std::thread per call shows in the tail).
// One process-wide pool of defaultThreads() - 1 workers, started on first use.
// Thread contract: run() may be called from any thread; while one call is in flight a
// concurrent or nested call runs all its tasks on its own thread (callers that are already
// parallel, such as the evaluator, lose nothing by that).
class WorkerPool {
public:
    static WorkerPool& instance();

    // Runs fn(task) for every task in [0, tasks) and returns when all are done; the caller
    // runs tasks too. The first exception is rethrown on the caller.
    template <typename Fn>
    void run(int tasks, Fn&& fn)
    {
        runTasks(tasks, [](void* ctx, int t) { (*static_cast<Fn*>(ctx))(t); }, &fn);
    }
    int workers() const;

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

private:
    WorkerPool();
    ~WorkerPool();
    void runTasks(int tasks, void (*call)(void*, int), void* ctx);
    struct State;
    State* m_state;
};

} // namespace recwb
