// Tables of a million rows (issue 13): the Users and Catalog tables sort and filter through
// SnapshotTableProxy, from kAsyncRows rows on off the GUI thread, applying the newest result
// only; the derived texts built on a worker are the ones the model would build itself. Our
// background tasks leave Qt's global pool to the paint engine.
#include "common/backgroundtask.h"
#include "common/offthread.h"
#include "common/snapshotproxy.h"
#include "common/tableutil.h"
#include "common/userchoicemodel.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "users/usersmodel.h"
#include "util/taskpool.h"

#include <QDeadlineTimer>
#include <QHeaderView>
#include <QLineEdit>
#include <QPainter>
#include <QTableView>
#include <QTemporaryDir>
#include <QtConcurrent>
#include <QtTest>

#include <atomic>
#include <numeric>
#include <thread>

using namespace recwb;
using namespace recwb::ui;

namespace {

std::shared_ptr<const Dataset> generated(const QString& path, int users, qint64 interactions)
{
    auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
    GeneratorConfig config;
    config.users = users;
    config.items = 300;
    config.interactions = interactions;
    generateIntoWorkspace(*ws, config);
    return std::make_shared<const Dataset>(ws->load());
}

} // namespace

class TestLargeTables : public QObject {
    Q_OBJECT

private slots:
    // From SnapshotTableProxy::kAsyncRows rows on, a sort runs on a pool thread: the rows
    // show in the model's order until it lands, then in exactly the order a sort on the GUI
    // thread gives (ties in the model's order), and the selection follows its row.
    void largeTablesSortOffTheGuiThread()
    {
        QTemporaryDir dir;
        const int users = SnapshotTableProxy::kAsyncRows + 500;
        const auto big = generated(dir.filePath(QStringLiteral("big.recwb")), users, 3 * users);
        const auto small = generated(dir.filePath(QStringLiteral("small.recwb")), 60, 900);

        QTableView view;
        UsersModel model;
        setupSnapshotTable(
            &view, &model, nullptr, {}, UsersModel::Profile, UsersModel::Interactions, Qt::DescendingOrder);
        auto* proxy = qobject_cast<SnapshotTableProxy*>(view.model());
        QVERIFY(proxy);

        auto shownRows = [&] {
            std::vector<int> rows;
            for (int r = 0; r < proxy->rowCount(); ++r)
                rows.push_back(proxy->index(r, 0).data(SourceRowRole).toInt());
            return rows;
        };
        // What a sort must give: every source row, stably sorted by SortRole (text folded).
        auto reference = [&](int column, Qt::SortOrder order) {
            std::vector<int> rows(static_cast<size_t>(model.rowCount()));
            std::iota(rows.begin(), rows.end(), 0);
            std::vector<QVariant> keys;
            for (int r = 0; r < model.rowCount(); ++r)
                keys.push_back(model.index(r, column).data(SortRole));
            std::stable_sort(rows.begin(), rows.end(), [&](int a, int b) {
                const QVariant& x = keys[static_cast<size_t>(order == Qt::AscendingOrder ? a : b)];
                const QVariant& y = keys[static_cast<size_t>(order == Qt::AscendingOrder ? b : a)];
                if (x.typeId() == QMetaType::QString)
                    return x.toString().toCaseFolded() < y.toString().toCaseFolded();
                return x.toDouble() < y.toDouble();
            });
            return rows;
        };

        model.setDataset(small); // small: sorted at once
        QVERIFY(!proxy->busy());
        QCOMPARE(shownRows(), reference(UsersModel::Interactions, Qt::DescendingOrder));

        model.setDataset(big);
        QVERIFY(proxy->sorting()); // sorted on a pool thread...
        QCOMPARE(proxy->allRowCount(), users); // (the last rows reach the view in a later turn)
        for (int r : { 0, 1, 1000, SnapshotTableProxy::kFillRows - 1 }) // ...while the rows show in the model's order
            QCOMPARE(proxy->index(r, 0).data(SourceRowRole).toInt(), r);
        QTRY_VERIFY(!proxy->busy() && !proxy->filling());
        const std::vector<int> byInteractions = reference(UsersModel::Interactions, Qt::DescendingOrder);
        QCOMPARE(shownRows(), byInteractions);
        std::vector<int> identity(byInteractions.size());
        std::iota(identity.begin(), identity.end(), 0);
        QVERIFY(byInteractions != identity); // so the comparison above can fail

        // The selection follows its user through a sort by profile text (the header click).
        const int user = byInteractions[17];
        view.selectRow(17);
        QCOMPARE(currentSourceRow(&view), user);
        view.sortByColumn(UsersModel::Profile, Qt::AscendingOrder);
        QVERIFY(proxy->sorting());
        QTRY_VERIFY(!proxy->busy());
        QCOMPARE(shownRows(), reference(UsersModel::Profile, Qt::AscendingOrder));
        QCOMPARE(currentSourceRow(&view), user);

        // A reset while a sort runs: the late result never lands on the new rows.
        view.sortByColumn(UsersModel::Id, Qt::DescendingOrder);
        QVERIFY(proxy->sorting());
        model.setDataset(small);
        QVERIFY(!proxy->busy());
        QTest::qWait(300);
        QCOMPARE(shownRows(), reference(UsersModel::Id, Qt::DescendingOrder));
        QCOMPARE(proxy->rowCount(), small->numUsers());

        // The texts built on a worker are the model's own.
        const auto texts = QtConcurrent::run([big] { return UsersModel::textsOf(*big); }).result();
        UsersModel fromWorker, own;
        fromWorker.setDataset(big, texts);
        own.setDataset(big); // builds them itself
        for (int r : { 0, 7, big->numUsers() - 1 }) {
            QCOMPARE(fromWorker.searchText(r), own.searchText(r));
            QCOMPARE(fromWorker.profileText(r), own.profileText(r));
            QVERIFY(fromWorker.searchText(r).contains(big->users[static_cast<size_t>(r)].externalId.toCaseFolded()));
        }

        // The Prompts tab's user choices: one row per user, made when asked for.
        UserChoiceModel choices;
        choices.setDataset(big, kDefaultColdThreshold);
        QCOMPARE(choices.rowCount(), big->numUsers());
        const QModelIndex last = choices.index(big->numUsers() - 1);
        QCOMPARE(last.data(Qt::UserRole).toInt(), big->numUsers() - 1);
        QVERIFY(last.data().toString().startsWith(big->users.back().externalId + u" ("));
        QVERIFY(!big->isCold(choices.firstWarmRow(), kDefaultColdThreshold));
    }

    // A million-row dataset takes seconds to free: released last on the GUI thread, it is
    // freed on a pool thread; released elsewhere, where it is released.
    void lastReleaseOnTheGuiThreadFreesOffIt()
    {
        struct Probe {
            std::shared_ptr<std::atomic<Qt::HANDLE>> where;
            explicit Probe(std::shared_ptr<std::atomic<Qt::HANDLE>> w)
                : where(std::move(w))
            {
            }
            Probe(Probe&&) = default;
            ~Probe()
            {
                if (where) // not the moved-from one
                    *where = QThread::currentThreadId();
            }
        };
        auto freedOn = std::make_shared<std::atomic<Qt::HANDLE>>(nullptr);
        auto shared = shareReleasedOffGuiThread(Probe(freedOn));
        QVERIFY(!freedOn->load());
        shared.reset(); // here, on the GUI thread
        QTRY_VERIFY(freedOn->load());
        QVERIFY(freedOn->load() != QThread::currentThreadId());

        auto elsewhere = std::make_shared<std::atomic<Qt::HANDLE>>(nullptr);
        Qt::HANDLE worker = nullptr;
        auto other = shareReleasedOffGuiThread(Probe(elsewhere));
        std::thread([&] {
            worker = QThread::currentThreadId();
            other.reset();
        }).join();
        QCOMPARE(elsewhere->load(), worker);
    }

    void largeTablesFilterOffTheGuiThread()
    {
        QTemporaryDir dir;
        const int users = SnapshotTableProxy::kAsyncRows + 4000;
        const auto big = generated(dir.filePath(QStringLiteral("big.recwb")), users, 4 * users);
        const auto small = generated(dir.filePath(QStringLiteral("small.recwb")), 60, 900);

        QTableView view;
        QLineEdit filter;
        UsersModel model;
        setupSnapshotTable(&view, &model, &filter, {}, UsersModel::Profile, -1);
        auto* proxy = qobject_cast<SnapshotTableProxy*>(view.model());
        QVERIFY(proxy);
        model.setDataset(big);
        QCOMPARE(proxy->allRowCount(), users);
        QTRY_VERIFY(!proxy->filling());
        QCOMPARE(proxy->rowCount(), users);

        // What the filter must show: the source rows whose search text holds the needle (and
        // pass the predicate), in the model's order.
        auto expected = [&](const QString& text, const std::function<bool(int)>& pass = {}) {
            const QString needle = text.trimmed().toCaseFolded();
            std::vector<int> rows;
            for (int r = 0; r < model.rowCount(); ++r)
                if ((!pass || pass(r)) && model.searchText(r).contains(needle))
                    rows.push_back(r);
            return rows;
        };
        auto shown = [&] { // as a set: the view sorts them
            std::vector<int> rows;
            for (int r = 0; r < proxy->rowCount(); ++r)
                rows.push_back(proxy->index(r, 0).data(SourceRowRole).toInt());
            std::sort(rows.begin(), rows.end());
            return rows;
        };

        const QString id = big->users[12345].externalId;
        filter.setText(id);
        QVERIFY(proxy->filtering()); // matched on a pool thread...
        QCOMPARE(proxy->rowCount(), users); // ...while the table still shows what it showed
        QTRY_VERIFY(!proxy->filtering());
        const std::vector<int> want = expected(id);
        QVERIFY(!want.empty() && want.size() < static_cast<size_t>(users));
        QCOMPARE(shown(), want);

        // Keystrokes in a row: only the last text's rows are shown, also after a while.
        filter.setText(QStringLiteral("1"));
        filter.setText(QStringLiteral("12"));
        filter.setText(QStringLiteral("123"));
        QTRY_VERIFY(!proxy->filtering());
        QTest::qWait(200); // a superseded match that arrived late would show here
        QCOMPARE(shown(), expected(QStringLiteral("123")));

        // With a row predicate (the Users tab's cold / warm choice).
        auto cold = [&](int r) { return model.isCold(r); };
        proxy->setRowPredicate(cold);
        QVERIFY(proxy->filtering()); // the rows are composed on a pool thread too
        QTRY_VERIFY(!proxy->busy());
        QCOMPARE(shown(), expected(QStringLiteral("123"), cold));
        proxy->setRowPredicate({});
        QTRY_VERIFY(!proxy->busy());

        // A new dataset while a match runs: the new rows are matched directly, and the old
        // match never lands on them.
        filter.setText(QStringLiteral("u"));
        QVERIFY(proxy->filtering());
        model.setDataset(small);
        QVERIFY(!proxy->filtering());
        QTest::qWait(300);
        QCOMPARE(shown(), expected(QStringLiteral("u")));
        QVERIFY(!shown().empty());

        // Back to the big one, and the box cleared: every row.
        model.setDataset(big);
        filter.clear();
        QVERIFY(!proxy->filtering());
        QCOMPARE(proxy->allRowCount(), users);
        QTRY_COMPARE(proxy->rowCount(), users);
    }
    // A reset to more than kFillRows rows reaches the view a chunk per event-loop turn (the
    // header makes an item per row: a million at once stalled the window). The rows come in
    // order and complete, a row asked for by source is inserted at once, and a reset in the
    // middle stops the old fill.
    void largeResetReachesTheViewInChunks()
    {
        QTemporaryDir dir;
        const int chunk = SnapshotTableProxy::kFillRows;
        const int users = 2 * chunk + 1234;
        const auto big = generated(dir.filePath(QStringLiteral("big.recwb")), users, 2 * users);
        const auto small = generated(dir.filePath(QStringLiteral("small.recwb")), 60, 900);

        QTableView view;
        UsersModel model;
        setupSnapshotTable(&view, &model, nullptr, {}, UsersModel::Profile, -1);
        auto* proxy = qobject_cast<SnapshotTableProxy*>(view.model());
        QVERIFY(proxy);
        view.setSortingEnabled(false); // the model's order, so rows can be checked by number
        proxy->sort(-1);
        std::vector<std::pair<int, int>> inserted; // (first, last) of each rowsInserted
        connect(proxy, &QAbstractItemModel::rowsInserted, this,
            [&](const QModelIndex&, int first, int last) { inserted.emplace_back(first, last); });

        model.setDataset(big);
        QCOMPARE(proxy->rowCount(), chunk); // the first chunk at once...
        QCOMPARE(view.verticalHeader()->count(), chunk);
        QCOMPARE(proxy->allRowCount(), users); // ...counted whole
        QVERIFY(proxy->filling());
        QVERIFY(!proxy->index(chunk, 0).isValid());
        QVERIFY(!proxy->mapFromSource(model.index(users - 1, 0)).isValid()); // not inserted yet
        QTRY_VERIFY(!proxy->filling());
        QCOMPARE(proxy->rowCount(), users);
        QCOMPARE(view.verticalHeader()->count(), users);
        // In order, contiguous, one chunk at a time, in more than one turn.
        QCOMPARE(inserted.size(), size_t(2));
        int next = chunk;
        for (const auto& [first, last] : inserted) {
            QCOMPARE(first, next);
            QVERIFY(last - first + 1 <= chunk);
            next = last + 1;
        }
        QCOMPARE(next, users);
        for (int r : { 0, chunk - 1, chunk, users - 1 })
            QCOMPARE(proxy->index(r, 0).data(SourceRowRole).toInt(), r);

        // A row asked for by source (the Users tab selecting a user) is inserted at once.
        inserted.clear();
        model.setDataset(big);
        QVERIFY(proxy->filling());
        const int wanted = chunk + 17;
        const QModelIndex at = proxy->mapFromSourceRevealing(model.index(wanted, 0));
        QVERIFY(at.isValid());
        QCOMPARE(at.row(), wanted);
        QVERIFY(proxy->rowCount() > wanted);
        view.selectRow(at.row());
        QCOMPARE(currentSourceRow(&view), wanted);
        QTRY_VERIFY(!proxy->filling());
        QCOMPARE(proxy->rowCount(), users);
        QCOMPARE(currentSourceRow(&view), wanted);

        // A reset in the middle of a fill: the old fill stops, the new rows are all there.
        model.setDataset(big);
        QVERIFY(proxy->filling());
        inserted.clear();
        model.setDataset(small);
        QVERIFY(!proxy->filling());
        QTest::qWait(100);
        QVERIFY(inserted.empty());
        QCOMPARE(proxy->rowCount(), small->numUsers());
        QCOMPARE(view.verticalHeader()->count(), small->numUsers());
    }

    // Qt 6.4's raster engine runs the segments of a large fill on QThreadPool::globalInstance()
    // and makes the GUI thread wait for them. With every thread of our task pool busy (as when
    // a million-row dataset loads, its labels are built and its ids sorted), a repaint must
    // still finish at once: before the task pool, these tasks ran on the global pool and the
    // repaint below waited for them to end (a 733 ms stall on a million rows, docs/SCALE.md).
    void backgroundTasksLeaveQtsPoolToPainting()
    {
        const int threads = taskPool()->maxThreadCount();
        QVERIFY(threads >= 2);
        std::atomic<bool> release { false };
        std::atomic<int> started { 0 };
        std::atomic<int> running { 0 };
        std::vector<QFuture<TaskResult<int>>> tasks;
        for (int i = 0; i < threads; ++i)
            tasks.push_back(runTask([&](const TaskControl&) {
                ++started;
                ++running;
                const QDeadlineTimer deadline(10000); // the fallback: never hang the suite
                while (!release.load() && !deadline.hasExpired())
                    QThread::msleep(2);
                --running;
                return 0;
            }));
        QTRY_COMPARE(started.load(), threads);

        // A translucent fill over a large image: the kind of fill the raster engine splits
        // (Fusion draws header sections and scroll bars with such fills).
        QImage painted(1600, 1200, QImage::Format_ARGB32_Premultiplied);
        painted.fill(Qt::white);
        {
            QPainter painter(&painted);
            painter.fillRect(painted.rect(), QColor(0, 0, 0, 128));
            painter.setPen(QColor(12, 200, 90, 200));
            for (int y = 0; y < 1200; y += 3)
                painter.drawLine(0, y, 1599, y);
        }
        const int stillRunning = running.load();
        release = true;
        for (auto& task : tasks)
            task.waitForFinished();
        QCOMPARE(stillRunning, threads); // painted while every task of ours still ran
        const QColor between = painted.pixelColor(800, 1); // white under half-black
        QVERIFY(between.red() == between.green() && between.green() == between.blue() && between.red() < 200);
        const QColor onLine = painted.pixelColor(800, 0);
        QVERIFY(onLine.green() > onLine.red() + 60);
    }
};

QTEST_MAIN(TestLargeTables)
#include "tst_largetables.moc"
