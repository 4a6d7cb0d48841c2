#include "util/taskpool.h"

#include <QCoreApplication>
#include <QThread>
#include <QThreadPool>

#include <algorithm>
#include <atomic>
#include <latch>
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
    // Each task blocks until all have started, so each runs on a thread of its own.
    auto all = std::make_shared<std::latch>(threads);
    for (int i = 0; i < threads; ++i) {
        pool->start([all] {
            // The nice value is per thread on Linux (who = the calling thread's id).
            const int current = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
            setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), std::max(current, kTaskPoolNice));
            all->arrive_and_wait();
        });
    }
#endif
}

} // namespace recwb
