#pragma once

#include <QElapsedTimer>
#include <QObject>
#include <QTimer>

#include <algorithm>

namespace recwb {

// The worst event-loop stall while it lives: the longest gap between ticks of a 5 ms timer
// on the thread that created it. Used by the GUI tests and bench_gui_scale to measure that
// the GUI thread never blocks.
class EventLoopStallProbe : public QObject {
public:
    EventLoopStallProbe()
    {
        m_timer.setInterval(5);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
            m_worst = std::max(m_worst, static_cast<double>(m_clock.nsecsElapsed()) / 1e6);
            m_clock.restart();
        });
        m_clock.start();
        m_timer.start();
    }
    double worstMs() const { return m_worst; }

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    double m_worst = 0;
};

} // namespace recwb
