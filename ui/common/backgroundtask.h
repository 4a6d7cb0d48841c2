#pragma once

#include "util/error.h"
#include "util/task.h"
#include "util/taskpool.h"

#include <QCoreApplication>
#include <QFuture>
#include <QPointer>
#include <QPromise>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>
#include <exception>
#include <optional>
#include <type_traits>

namespace recwb::ui {

// What a background task produced: a value, an error message, or nothing because it was
// canceled. Errors are values here so they cross threads without exception plumbing.
template <typename T> struct TaskResult {
    std::optional<T> value;
    QString error;
    bool canceled = false;
};

inline constexpr int kProgressRange = 1000;

// Runs `fn(const TaskControl&)` on the task pool (util/taskpool.h). The returned future reports
// progress (0..kProgressRange, with text) and QFuture::cancel() reaches `fn` through
// TaskControl::isCanceled (the adapter over QPromise::isCanceled). `fn` runs entirely on
// the worker thread: anything thread-bound it needs (a Workspace) it must open itself.
// Continue on the GUI thread with future.then(context, ...); a canceled future skips
// then() and runs onCanceled() once the worker has really returned.
template <typename Fn> auto runTask(Fn fn) -> QFuture<TaskResult<std::invoke_result_t<Fn&, const TaskControl&>>>
{
    using Value = std::invoke_result_t<Fn&, const TaskControl&>;
    using Result = TaskResult<Value>;
    return QtConcurrent::run(taskPool(), [fn = std::move(fn)](QPromise<Result>& promise) mutable {
        promise.setProgressRange(0, kProgressRange);
        TaskControl control;
        control.onProgress = [&promise](double fraction, const QString& text) {
            const double clamped = fraction < 0 ? 0.0 : (fraction > 1 ? 1.0 : fraction);
            promise.setProgressValueAndText(static_cast<int>(clamped * kProgressRange), text);
        };
        control.isCanceled = [&promise] { return promise.isCanceled(); };
        Result result;
        try {
            result.value = fn(control);
        } catch (const Canceled&) {
            result.canceled = true;
        } catch (const Error& e) {
            result.error = e.message();
        } catch (const std::exception& e) {
            result.error = QString::fromLocal8Bit(e.what());
        }
        promise.addResult(std::move(result));
    });
}

} // namespace recwb::ui

namespace recwb::ui {

// Cancels work that is still running. (Canceling a future that already finished is
// pointless, and on Qt 6.4 can touch continuation state that is already gone.)
template <typename T> void cancelIfRunning(QFuture<T>& future)
{
    if (future.isRunning())
        future.cancel();
}

} // namespace recwb::ui

namespace recwb::ui {

// Delivers a task's result (onResult) or its cancellation (onCanceled) from the GUI thread's
// event loop, never inside this call (Qt 6.4 runs a continuation inline when the work already
// finished), and drops it if context (a GUI-thread object) died first. Not
// then(context, ...): Qt 6.4 asserts that context is still alive when the work ends
// (qfuture_impl.h, "context"), which aborted Debug builds whenever a view closed or a
// stale request's object went away before its task finished (seen under the asan preset).
// The liveness check runs on the GUI thread, where context is destroyed.
template <typename T, typename OnResult, typename OnCanceled>
void continueOn(QFuture<TaskResult<T>> future, QObject* context, OnResult onResult, OnCanceled onCanceled)
{
    const QPointer<QObject> guard(context);
    future
        .then([guard, onResult = std::move(onResult)](const TaskResult<T>& result) mutable {
            QMetaObject::invokeMethod(
                QCoreApplication::instance(),
                [guard, onResult = std::move(onResult), result] {
                    if (guard)
                        onResult(result);
                },
                Qt::QueuedConnection);
        })
        .onCanceled([guard, onCanceled = std::move(onCanceled)]() mutable {
            QMetaObject::invokeMethod(
                QCoreApplication::instance(),
                [guard, onCanceled = std::move(onCanceled)] {
                    if (guard)
                        onCanceled();
                },
                Qt::QueuedConnection);
        });
}

} // namespace recwb::ui
