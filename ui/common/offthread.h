#pragma once

#include <QCoreApplication>
#include <QThread>
#include <QThreadPool>

#include <memory>
#include <utility>

#include "util/taskpool.h"

namespace recwb::ui {

// Shares `value` like std::make_shared, except that when the last owner lets go on the GUI
// thread the value is destroyed on a pool thread. Freeing a million-row dataset and its derived
// texts takes seconds (issue 13, docs/SCALE.md), and the last owner is usually a view that
// drops it when another workspace opens. Elsewhere, or once the pool is gone, it is destroyed
// where it is released.
template <typename T> std::shared_ptr<const T> shareReleasedOffGuiThread(T&& value)
{
    return std::shared_ptr<const T>(new T(std::forward<T>(value)), [](const T* p) {
        const QCoreApplication* app = QCoreApplication::instance();
        QThreadPool* pool = taskPool();
        if (app && pool && QThread::currentThread() == app->thread())
            pool->start([p] { delete p; });
        else
            delete p;
    });
}

} // namespace recwb::ui
