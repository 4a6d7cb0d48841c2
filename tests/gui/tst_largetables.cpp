// Tables of a million rows (issue 13): above kMaxSortedRows the Users and Catalog tables are
// not sorted on the GUI thread (they show the workspace's order and say so), and come back
// sorted when a smaller workspace is opened; the derived texts built on a worker are the
// ones the model would build itself.
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "common/userchoicemodel.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "users/usersmodel.h"

#include <QHeaderView>
#include <QTableView>
#include <QTemporaryDir>
#include <QtConcurrent>
#include <QtTest>

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
    void sortingStopsAboveTheLimitAndComesBack()
    {
        QTemporaryDir dir;
        const auto big = generated(dir.filePath(QStringLiteral("big.recwb")), kMaxSortedRows + 500, 3 * kMaxSortedRows);
        const auto small = generated(dir.filePath(QStringLiteral("small.recwb")), 60, 900);

        QTableView view;
        UsersModel model;
        setupTable(&view, &model, nullptr, {}, UsersModel::Profile, UsersModel::Interactions, Qt::DescendingOrder);
        auto* proxy = qobject_cast<TableFilterProxy*>(view.model());
        QVERIFY(proxy);

        auto open = [&](const std::shared_ptr<const Dataset>& ds) {
            limitSortingBeforeReset(&view, ds->numUsers());
            model.setDataset(ds);
            limitSortingAfterReset(&view, ds->numUsers(), UsersModel::Interactions, Qt::DescendingOrder);
        };
        auto interactionsAt = [&](int row) { return proxy->index(row, UsersModel::Interactions).data(SortRole).toInt(); };
        auto sortedDescending = [&] {
            for (int r = 1; r < proxy->rowCount(); ++r)
                if (interactionsAt(r - 1) < interactionsAt(r))
                    return false;
            return true;
        };

        open(small);
        QVERIFY(view.isSortingEnabled());
        QVERIFY(sortedDescending());

        open(big);
        QVERIFY(!view.isSortingEnabled());
        QCOMPARE(proxy->rowCount(), big->numUsers());
        QVERIFY(!view.horizontalHeader()->toolTip().isEmpty());
        for (int r : { 0, 1, 1000, big->numUsers() - 1 }) // the workspace's order
            QCOMPARE(proxy->index(r, 0).data(SourceRowRole).toInt(), r);
        QVERIFY(!sortedDescending()); // so the check above can fail

        open(small);
        QVERIFY(view.isSortingEnabled());
        QVERIFY(view.horizontalHeader()->toolTip().isEmpty());
        QVERIFY(sortedDescending());

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
};

QTEST_MAIN(TestLargeTables)
#include "tst_largetables.moc"
