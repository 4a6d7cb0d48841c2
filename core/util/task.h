#pragma once

#include "util/error.h"

#include <QString>
#include <atomic>
#include <functional>

namespace recwb {

// How long work reports progress and learns it was canceled. Core never knows about
// QPromise or threads: the GUI adapts a QPromise into one of these, the CLI a printer.
// Callbacks are called from the working thread.
struct TaskControl {
    std::function<void(double fraction, const QString& message)> onProgress;
    std::function<bool()> isCanceled;

    void progress(double fraction, const QString& message = {}) const
    {
        if (onProgress)
            onProgress(fraction, message);
    }
    bool canceled() const { return isCanceled && isCanceled(); }
    void throwIfCanceled() const
    {
        if (canceled())
            throw Canceled();
    }
};

// A cancel flag usable from any thread.
class CancelFlag {
public:
    void cancel() { m_flag.store(true, std::memory_order_relaxed); }
    bool isSet() const { return m_flag.load(std::memory_order_relaxed); }
    TaskControl control(std::function<void(double, const QString&)> progress = {}) const
    {
        return TaskControl { std::move(progress), [this] { return isSet(); } };
    }

private:
    std::atomic<bool> m_flag { false };
};

} // namespace recwb
