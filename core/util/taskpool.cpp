#include "util/taskpool.h"

#include <QCoreApplication>
#include <QThread>
#include <QThreadPool>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <memory>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace recwb {

namespace {

    struct TaskPool {
        QThreadPool pool;
        TaskPool()
        {
            pool.setObjectName(QStringLiteral("recwb task pool"));
            pool.setMaxThreadCount(std::max(2, QThread::idealThreadCount()));
            // Like the global pool: no task of ours runs on into the application's teardown.
            qAddPostRoutine([] {
                if (QThreadPool* p = taskPool())
                    p->waitForDone();
            });
        }
    };

    Q_GLOBAL_STATIC(TaskPool, s_taskPool)

} // namespace

QThreadPool* taskPool()
{
    TaskPool* p = s_taskPool();
    return p ? &p->pool : nullptr;
}

void lowerTaskPoolPriority()
{
#ifdef Q_OS_LINUX
    static std::atomic<bool> done { false };
    QThreadPool* pool = taskPool();
    if (!pool || done.exchange(true))
        return; // once per process: a second round could park tasks behind busy threads
    pool->setExpiryTimeout(-1); // a thread made anew would not have the priority
    const int threads = pool->maxThreadCount();
    // Each task blocks until all have started, so each runs on a thread of its own; for 2 s
    // at most, so a busy pool (a task waiting on a task queued behind these) cannot deadlock.
    struct Gate {
        std::mutex mutex;
        std::condition_variable arrived;
        int waiting = 0;
    };
    auto gate = std::make_shared<Gate>();
    for (int i = 0; i < threads; ++i) {
        pool->start([gate, threads] {
            // The nice value is per thread on Linux (who = the calling thread's id).
            const int current = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
            setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::max(current, kTaskPoolNice));
            std::unique_lock lock(gate->mutex);
            if (++gate->waiting == threads)
                gate->arrived.notify_all();
            gate->arrived.wait_for(lock, std::chrono::seconds(2), [&] { return gate->waiting >= threads; });
        });
    }
#endif
}

} // namespace recwb
