// The GUI on a large workspace (issue 13): the worst event-loop stall, i.e. the longest gap
// between ticks of a 5 ms timer, while the main window opens a workspace, while users are
// picked in the Users tab until their candidates and history show, and while filters are
// typed and columns sorted in the Catalog and Users tabs. Not a Google Benchmark: each phase
// runs once per invocation and prints its wall time and worst stall; run it several times.
//
//   QT_QPA_PLATFORM=offscreen build/benchmarks/bench_gui_scale W.recwb [users-to-pick]
//
// With RECWB_GUI_TRACE=MS set, every top-level event delivery on the GUI thread that takes MS
// milliseconds or more is printed (start time, duration, event type, receiver), to take a
// stall apart.
//
// Make W with `recwb-cli generate --users 1000000 --items 1000000 --interactions N` and
// `recwb-cli train -w W --model popularity` (the Users tab shows the candidates of a trained
// model). docs/SCALE.md gives the figures.
#include "catalog/catalogmodel.h"
#include "catalog/catalogtab.h"
#include "common/snapshotproxy.h"
#include "common/modelstore.h"
#include "data/dataset.h"
#include "mainwindow.h"
#include "users/candidatespanel.h"
#include "users/usersmodel.h"
#include "users/userstab.h"
#include "util/stallprobe.h"

#include <QAbstractItemView>
#include <QApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QTableView>
#include <QTemporaryDir>
#include <QTimer>

#include <cstdio>
#include <thread>
#include <memory>
#include <chrono>
#include <atomic>
#include <functional>
#include <random>

using namespace recwb;
using namespace recwb::ui;

namespace {

using StallProbe = EventLoopStallProbe; // core/util/stallprobe.h

// A second view of the same stall: the delay with which the GUI thread runs a call posted to
// it from another thread every 5 ms (what a worker's result or a repaint request waits for).
// The timer probe above can also report a gap when only timers are held back.
class PostedProbe {
public:
    explicit PostedProbe(QObject* target)
        : m_state(std::make_shared<State>())
    {
        m_thread = std::thread([state = m_state, target] {
            while (!state->stop) {
                const auto sent = std::chrono::steady_clock::now();
                QMetaObject::invokeMethod(
                    target,
                    [state, sent] {
                        const double ms
                            = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
                        double w = state->worst.load();
                        while (ms > w && !state->worst.compare_exchange_weak(w, ms)) { }
                    },
                    Qt::QueuedConnection);
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        });
    }
    ~PostedProbe()
    {
        m_state->stop = true;
        m_thread.join();
    }
    double worstMs() const { return m_state->worst; }

private:
    struct State {
        std::atomic<bool> stop { false };
        std::atomic<double> worst { 0 };
    };
    std::shared_ptr<State> m_state;
    std::thread m_thread;
};

// QApplication that times each top-level event delivery when RECWB_GUI_TRACE is set.
class TracingApplication final : public QApplication {
public:
    TracingApplication(int& argc, char** argv)
        : QApplication(argc, argv)
    {
        bool ok = false;
        m_thresholdMs = qEnvironmentVariableIntValue("RECWB_GUI_TRACE", &ok);
        m_trace = ok;
        m_clock.start();
    }
    bool notify(QObject* receiver, QEvent* event) override
    {
        if (!m_trace || m_depth > 0)
            return QApplication::notify(receiver, event);
        const qint64 start = m_clock.nsecsElapsed();
        const int type = event->type(); // the event may be gone after delivery
        const QByteArray what = QByteArray(receiver->metaObject()->className()) + ' ' + receiver->objectName().toUtf8();
        ++m_depth;
        const bool result = QApplication::notify(receiver, event);
        --m_depth;
        const double ms = static_cast<double>(m_clock.nsecsElapsed() - start) / 1e6;
        if (ms >= m_thresholdMs)
            std::printf("  trace %10.1f ms  %6.1f ms  event %3d  %s\n", static_cast<double>(start) / 1e6, ms, type,
                what.constData());
        return result;
    }

private:
    QElapsedTimer m_clock;
    int m_thresholdMs = 0;
    bool m_trace = false;
    int m_depth = 0;
};

// Runs the event loop until done() or the timeout; false on timeout.
bool waitFor(const std::function<bool()>& done, int timeoutMs)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > timeoutMs)
            return false;
        // Sleeps until an event comes (the probes' timers wake it every 5 ms), like an idle
        // window: a spinning GUI thread would take a core from the workers it waits for.
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

void report(const char* phase, double wallMs, double stallMs)
{
    std::printf("%-40s wall %9.1f ms   worst stall %8.1f ms\n", phase, wallMs, stallMs);
    std::fflush(stdout);
}

// Lets the event loop run for `ms` (work posted by the previous step lands here).
double settle(int ms)
{
    StallProbe probe;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    return probe.worstMs();
}

} // namespace

int main(int argc, char** argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    TracingApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() < 2) {
        std::fprintf(stderr, "usage: bench_gui_scale W.recwb [users-to-pick]\n");
        return 2;
    }
    const QString path = args.at(1);
    const int picks = args.size() > 2 ? args.at(2).toInt() : 5;
    QTemporaryDir dir;
    QSettings settings(dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
    MainWindow window(settings);
    window.resize(1280, 800);
    window.show();
    // The empty window's first layout and paint (15-25 ms on this VM) are their own phase,
    // so they do not land in the open's figure below (the same whatever the workspace).
    report("show the empty window (first paint)", 300, settle(300));

    QElapsedTimer t;
    {
        StallProbe probe;
        PostedProbe posted(&window);
        bool loaded = false, listed = false;
        QObject::connect(&window, &MainWindow::workspaceLoaded, &window, [&] { loaded = true; });
        int lists = 0;
        QObject::connect(window.modelStore(), &ModelStore::snapshotsChanged, &window, [&] { listed = ++lists >= 2; });
        t.start();
        window.openWorkspace(path);
        if (!waitFor([&] { return loaded; }, 600000)) {
            std::fprintf(stderr, "bench_gui_scale: %s did not load\n", qPrintable(path));
            return 1;
        }
        report("open workspace (until loaded)", static_cast<double>(t.elapsed()), probe.worstMs());
        t.restart();
        waitFor([&] { return listed; }, 600000);
        report("  then the model list", static_cast<double>(t.elapsed()), probe.worstMs());
        QCoreApplication::processEvents(); // the posted probe's last calls
        std::printf("%-40s worst delay of a call posted from another thread %8.1f ms\n", "  (open + model list)",
            posted.worstMs());
    }
    report("  then 2 s idle", 2000, settle(2000));
    const auto dataset = window.dataset();
    std::printf("# %d users, %d items, %lld interactions\n", dataset->numUsers(), dataset->numItems(),
        static_cast<long long>(dataset->userItems.nnz()));

    window.tabs()->setCurrentWidget(window.usersTab());
    report("show the Users tab", 300, settle(300));
    UsersTab* users = window.usersTab();
    CandidatesPanel* panel = users->candidatesPanel();
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> pick(0, dataset->numUsers() - 1);
    double worstPick = 0, slowestPick = 0;
    for (int i = 0; i < picks; ++i) {
        int user = pick(rng);
        while (dataset->userItems.row(user).size() < 5)
            user = pick(rng);
        StallProbe probe;
        t.restart();
        if (!users->selectUser(dataset->users[static_cast<size_t>(user)].externalId)) {
            std::fprintf(stderr, "bench_gui_scale: user %d not selectable\n", user);
            return 1;
        }
        if (!waitFor([&] { return panel->shownUser() == user; }, 120000)) {
            const auto* caption = panel->findChild<QLabel*>(QStringLiteral("candidatesCaption"));
            std::fprintf(stderr, "bench_gui_scale: no candidates for user %d (the panel says: %s)\n", user,
                caption ? qPrintable(caption->text()) : "nothing");
            return 1;
        }
        const double ms = static_cast<double>(t.elapsed());
        worstPick = std::max(worstPick, probe.worstMs());
        slowestPick = std::max(slowestPick, ms);
    }
    report(qPrintable(QStringLiteral("pick %1 users, candidates shown (slowest)").arg(picks)), slowestPick, worstPick);

    auto typeInto = [](QLineEdit* edit, const QString& text) {
        StallProbe probe;
        QElapsedTimer t;
        t.start();
        for (const QChar c : text) {
            edit->setText(edit->text() + c);
            settle(150);
        }
        edit->clear();
        settle(300);
        return std::pair { static_cast<double>(t.elapsed()), probe.worstMs() };
    };
    if (auto* filter = users->findChild<QLineEdit*>(QStringLiteral("usersFilter"))) {
        const auto [ms, stall] = typeInto(filter, QStringLiteral("u12"));
        report("type 'u12' in the users filter, clear", ms, stall);
    }
    window.tabs()->setCurrentWidget(window.catalogTab());
    report("show the Catalog tab", 300, settle(300));
    if (auto* filter = window.catalogTab()->findChild<QLineEdit*>(QStringLiteral("catalogFilter"))) {
        const auto [ms, stall] = typeInto(filter, QStringLiteral("dra"));
        report("type 'dra' in the catalog filter, clear", ms, stall);
    }
    // What a header click does: sortByColumn on the view. The wall time runs until the
    // sorted rows show (the sort runs on a pool thread for large tables).
    auto sortBy = [&](QTableView* view, int column, const char* what) {
        auto* proxy = qobject_cast<SnapshotTableProxy*>(view->model());
        StallProbe probe;
        t.restart();
        view->sortByColumn(column, Qt::AscendingOrder);
        const bool done = waitFor([&] { return proxy && !proxy->busy(); }, 600000);
        const double ms = static_cast<double>(t.elapsed());
        const double stall = std::max(probe.worstMs(), settle(300));
        report(what, ms, stall);
        if (!done)
            std::printf("  (not sorted within 600 s)\n");
        const QString first = view->model()->index(0, column).data().toString();
        const QString second = view->model()->index(1, column).data().toString();
        std::printf("  first rows: \"%s\", \"%s\"\n", qPrintable(first.left(40)), qPrintable(second.left(40)));
    };
    if (auto* view = window.catalogTab()->findChild<QTableView*>(QStringLiteral("catalogView")))
        sortBy(view, CatalogModel::Title, "sort the catalog by title (until shown)");
    window.tabs()->setCurrentWidget(window.usersTab());
    settle(300);
    if (auto* view = window.usersTab()->findChild<QTableView*>(QStringLiteral("usersView")))
        sortBy(view, UsersModel::Profile, "sort the users by profile (until shown)");
    return 0;
}
