#pragma once

class QThreadPool;

namespace recwb {

// The thread pool for the program's own background tasks: loading and freeing datasets,
// building texts, filtering and searching large tables, comparisons, review sets. Use it
// instead of QThreadPool::globalInstance() (and pass it to QtConcurrent::run).
//
// Why not the global pool: Qt 6.4's raster paint engine cuts large fills into segments that
// it runs on QThreadPool::globalInstance() while the GUI thread waits on a semaphore. With a
// task of ours occupying each of the global pool's threads for a second (the compare view's
// sorted million user ids, the what-if panel's million labels), a repaint waited as long: the
// GUI thread slept 733 ms in QSemaphore::acquire under QRasterPaintEngine::fillRect
// (perf sched_switch stacks of bench_gui_scale on a million rows, 1 Dec 2026; docs/SCALE.md).
//
// As many threads as the machine has cores; safe to call from any thread. It is drained (its
// tasks waited for) when the QCoreApplication is destroyed, like the global pool.
QThreadPool* taskPool();

// Lowers the pool's threads below the caller's (nice +kTaskPoolNice, Linux; elsewhere a
// no-op) and keeps them from expiring, so they keep it. For the GUI: with every core busy
// with background work, a GUI thread of equal priority gets only its share of a core, and a
// 25 ms layout became a 60-120 ms stall on this 2-core VM (bench_gui_scale, 2 Dec 2026).
// Call it once, while the pool is idle (at start-up): it parks a task on each of the pool's
// threads until all have taken the priority. Threads that pool tasks start inherit it.
inline constexpr int kTaskPoolNice = 5;
void lowerTaskPoolPriority();

} // namespace recwb
