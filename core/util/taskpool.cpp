#include "util/taskpool.h"

#include <QCoreApplication>
#include <QThread>
#include <QThreadPool>

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

} // namespace recwb
