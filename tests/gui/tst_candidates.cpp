#include "cf/snapshots.h"
#include "common/modelstore.h"
#include "common/settings.h"
#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "dialogs/traindialog.h"
#include "mainwindow.h"
#include "testutil.h"
#include "users/candidatesmodel.h"
#include "users/candidatespanel.h"
#include "users/userstab.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <algorithm>
#include <memory>

using namespace recwb;
using namespace recwb::ui;

class TestCandidates : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_workspace;
    std::unique_ptr<QSettings> m_settings;

    std::unique_ptr<MainWindow> openWindow()
    {
        auto window = std::make_unique<MainWindow>(*m_settings);
        CandidatesPanel* panel = window->usersTab()->candidatesPanel();
        for (QAbstractItemModel* model :
            { static_cast<QAbstractItemModel*>(panel->model()), static_cast<QAbstractItemModel*>(panel->proxy()) })
            new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest, window.get());
        window->resize(1280, 800);
        window->show();
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        QSignalSpy listed(window->modelStore(), &ModelStore::snapshotsChanged);
        window->openWorkspace(m_workspace);
        if (!loaded.wait(60000))
            return nullptr;
        // The snapshot listing (and the data fingerprint) arrive asynchronously: the
        // store lists once empty when the workspace changes, then what the file holds.
        if (listed.count() < 2 && !QTest::qWaitFor([&] { return listed.count() >= 2; }, 30000))
            return nullptr;
        return window;
    }

    // The proxy row of a user in the users table, or -1.
    static int rowOfUser(UsersTab* tab, int user)
    {
        for (int r = 0; r < tab->proxy()->rowCount(); ++r)
            if (tab->proxy()->index(r, 0).data(SourceRowRole).toInt() == user)
                return r;
        return -1;
    }

    // Selects a user and waits for their candidates.
    static bool showCandidates(UsersTab* tab, int user)
    {
        CandidatesPanel* panel = tab->candidatesPanel();
        const int row = rowOfUser(tab, user);
        if (row < 0)
            return false;
        tab->view()->selectRow(row);
        if (panel->shownUser() == user)
            return true;
        QSignalSpy shown(panel, &CandidatesPanel::candidatesShown);
        return shown.wait(60000) && panel->shownUser() == user;
    }

    static int firstUser(const Dataset& ds, bool cold, int threshold, int skip = 0)
    {
        for (int u = 0; u < ds.numUsers(); ++u)
            if (ds.isCold(u, threshold) == cold && skip-- == 0)
                return u;
        return -1;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_settings = std::make_unique<QSettings>(m_dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        m_workspace = m_dir.filePath(QStringLiteral("cand.recwb"));
        test::generateSmallWorkspace(m_workspace);
    }

    void comboListsAlgorithms()
    {
        auto window = openWindow();
        QVERIFY(window);
        QComboBox* combo = window->usersTab()->candidatesPanel()->modelCombo();
        QTRY_VERIFY(combo->count() >= 5);
        for (const QString& name : cf::recommenderNames())
            QVERIFY2(combo->findText(name + QStringLiteral(" (not trained)")) >= 0, qPrintable(name));
        QCOMPARE(combo->currentData().toString(), ModelStore::algorithmKey(QStringLiteral("ease")));
    }

    void warmUserGetsTop100()
    {
        auto window = openWindow();
        QVERIFY(window);
        const auto ds = window->dataset();
        UsersTab* tab = window->usersTab();
        CandidatesPanel* panel = tab->candidatesPanel();
        const int user = firstUser(*ds, false, window->coldThreshold());
        QVERIFY(user >= 0);
        QVERIFY(showCandidates(tab, user));

        const QAbstractItemModel* shown = panel->view()->model();
        QCOMPARE(shown->rowCount(), CandidatesPanel::kCandidates);
        const auto history = ds->userItems.row(user);
        double previous = std::numeric_limits<double>::infinity();
        for (int r = 0; r < shown->rowCount(); ++r) {
            QCOMPARE(shown->index(r, CandidatesModel::Rank).data().toInt(), r + 1);
            const int item = shown->index(r, 0).data(SourceRowRole).toInt();
            QVERIFY2(!std::binary_search(history.begin(), history.end(), item), "a history item was recommended");
            const double score = shown->index(r, CandidatesModel::Score).data(SortRole).toDouble();
            QVERIFY(score <= previous);
            previous = score;
            QCOMPARE(shown->index(r, CandidatesModel::Source).data().toString(), QStringLiteral("ease"));
            QCOMPARE(
                shown->index(r, CandidatesModel::Title).data().toString(), ds->items[static_cast<size_t>(item)].title);
        }
        QVERIFY(!panel->categoriesList()->isVisibleTo(panel)); // stated categories are for cold users
        QVERIFY(panel->caption()->text().contains(QStringLiteral("ease")));
    }

    void quickClicksNeverShowAStaleUser()
    {
        auto window = openWindow();
        QVERIFY(window);
        const auto ds = window->dataset();
        UsersTab* tab = window->usersTab();
        CandidatesPanel* panel = tab->candidatesPanel();
        const int threshold = window->coldThreshold();
        QVERIFY(showCandidates(tab, firstUser(*ds, false, threshold))); // the model is cached from here on

        QSignalSpy shown(panel, &CandidatesPanel::candidatesShown);
        int last = -1;
        for (int i = 1; i <= 8; ++i) {
            last = firstUser(*ds, false, threshold, i);
            tab->view()->selectRow(rowOfUser(tab, last));
        }
        QTRY_VERIFY_WITH_TIMEOUT(panel->shownUser() == last, 30000);
        QTest::qWait(200); // anything still in flight would land now
        QCOMPARE(panel->shownUser(), last);
        for (const QList<QVariant>& args : shown)
            QCOMPARE(args.first().toInt(), last);
        const auto history = ds->userItems.row(last);
        for (int r = 0; r < panel->model()->rowCount(); ++r)
            QVERIFY(!std::binary_search(
                history.begin(), history.end(), panel->model()->candidates()[static_cast<size_t>(r)].item));
    }

    void coldUserShowsSourcesAndStatedCategories()
    {
        auto window = openWindow();
        QVERIFY(window);
        const auto ds = window->dataset();
        UsersTab* tab = window->usersTab();
        CandidatesPanel* panel = tab->candidatesPanel();
        const int user = firstUser(*ds, true, window->coldThreshold());
        QVERIFY2(user >= 0, "the generated workspace has no cold user");
        QVERIFY(showCandidates(tab, user));

        const QStringList sources { QStringLiteral("cf"), QStringLiteral("content"), QStringLiteral("profile"),
            QStringLiteral("category"), QStringLiteral("popularity") };
        const QAbstractItemModel* shown = panel->view()->model();
        QVERIFY(shown->rowCount() > 0);
        for (int r = 0; r < shown->rowCount(); ++r) {
            const QString source = shown->index(r, CandidatesModel::Source).data().toString();
            QVERIFY2(sources.contains(source), qPrintable(source));
        }
        QVERIFY(panel->categoriesList()->isVisibleTo(panel));
        QVERIFY2(panel->caption()->text().contains(QStringLiteral("popularity")), qPrintable(panel->caption()->text()));
        const std::vector<CandidateRow> before = panel->model()->candidates();

        // A stated category pulls that category's items in.
        QListWidget* categories = panel->categoriesList();
        QCOMPARE(categories->count(), static_cast<int>(ds->categories.size()));
        QSignalSpy again(panel, &CandidatesPanel::candidatesShown);
        categories->item(categories->count() - 1)->setCheckState(Qt::Checked);
        QVERIFY(again.wait(30000));
        const std::vector<CandidateRow>& after = panel->model()->candidates();
        bool changed = after.size() != before.size();
        bool fromCategory = false;
        for (size_t i = 0; i < after.size(); ++i) {
            changed = changed || i >= before.size() || after[i].item != before[i].item;
            fromCategory = fromCategory || after[i].source == u"category";
        }
        QVERIFY(changed);
        QVERIFY(fromCategory);
    }

    void trainingAddsSnapshotToCombo()
    {
        auto window = openWindow();
        QVERIFY(window);
        CandidatesPanel* panel = window->usersTab()->candidatesPanel();
        QTRY_VERIFY(panel->modelCombo()->count() >= 5);
        TrainDialog* dialog = window->openTrainDialog();
        QVERIFY(dialog);
        dialog->setAlgorithm(QStringLiteral("itemknn"));
        QVERIFY(dialog->setParameter(QStringLiteral("k"), 50));
        QVERIFY(!dialog->setParameter(QStringLiteral("no_such_param"), 1));
        QCOMPARE(dialog->parameters().value(QStringLiteral("k")).toInt(), 50);
        dialog->setSnapshotName(QStringLiteral("knn50"));
        QSignalSpy finished(dialog, &TrainDialog::trainingFinished);
        QVERIFY(dialog->startTraining());
        QVERIFY(dialog->isRunning());
        QVERIFY(finished.wait(60000));
        QVERIFY2(dialog->statusText().contains(QStringLiteral(" s ")), qPrintable(dialog->statusText()));
        QTRY_VERIFY_WITH_TIMEOUT(
            panel->modelCombo()->findText(QStringLiteral("knn50"), Qt::MatchStartsWith) >= 0, 30000);
        const int index = panel->modelCombo()->findText(QStringLiteral("knn50"), Qt::MatchStartsWith);
        QVERIFY2(index >= 0, "the new snapshot is not in the model combo");
        QVERIFY(panel->modelCombo()->itemText(index).contains(QStringLiteral("snapshot")));
        // itemknn has a snapshot now, so it is no longer offered as "(not trained)".
        QCOMPARE(panel->modelCombo()->findText(QStringLiteral("itemknn (not trained)")), -1);
        QVERIFY(!panel->otherDataBadge()->isVisibleTo(panel));
        dialog->close();

        const auto ws = Workspace::open(m_workspace);
        const auto info = cf::findSnapshot(*ws, QStringLiteral("knn50"));
        QVERIFY(info);
        QCOMPARE(info->params.value(QStringLiteral("k")).toInt(), 50);
    }

    void canceledTrainingAddsNoSnapshot()
    {
        // Workspace reads here happen while no worker of the window has the file open.
        const int before = [&] {
            const auto ws = Workspace::open(m_workspace);
            return static_cast<int>(cf::listSnapshots(*ws).size());
        }();
        auto window = openWindow();
        QVERIFY(window);
        TrainDialog* dialog = window->openTrainDialog();
        QVERIFY(dialog);
        dialog->setAlgorithm(QStringLiteral("bpr"));
        QVERIFY(dialog->setParameter(QStringLiteral("epochs"), 100000));
        QSignalSpy canceled(dialog, &TrainDialog::trainingCanceled);
        QSignalSpy failed(dialog, &TrainDialog::trainingFailed);
        QSignalSpy listed(window->modelStore(), &ModelStore::snapshotsChanged);
        QVERIFY(dialog->startTraining());
        QTest::qWait(300);
        QVERIFY(dialog->isRunning()); // the GUI thread is free while bpr trains
        dialog->reject(); // Cancel
        QVERIFY(canceled.wait(30000));
        QCOMPARE(failed.count(), 0);
        QCOMPARE(dialog->statusText(), QStringLiteral("Canceled"));
        QVERIFY(!window->modelStore()->isTraining());
        QTRY_VERIFY_WITH_TIMEOUT(!listed.isEmpty(), 30000); // the store re-listed the snapshots after the cancel
        const auto ws = Workspace::open(m_workspace);
        QCOMPARE(static_cast<int>(cf::listSnapshots(*ws).size()), before);
        dialog->close();
    }

    void snapshotOfOtherDataShowsBadge()
    {
        // A snapshot trained on a different matrix: the loaded data's fingerprint differs.
        {
            const auto ws = Workspace::open(m_workspace);
            const Dataset ds = ws->load();
            auto model = cf::makeRecommender(QStringLiteral("pop"));
            model->fit(ds.userItems);
            cf::saveSnapshot(*ws, QStringLiteral("oldpop"), *model, QStringLiteral("deadbeef"));
        }
        auto window = openWindow();
        QVERIFY(window);
        CandidatesPanel* panel = window->usersTab()->candidatesPanel();
        QTRY_VERIFY(panel->modelCombo()->findText(QStringLiteral("oldpop"), Qt::MatchStartsWith) >= 0);
        const int index = panel->modelCombo()->findText(QStringLiteral("oldpop"), Qt::MatchStartsWith);
        panel->modelCombo()->setCurrentIndex(index);
        QVERIFY(panel->otherDataBadge()->isVisibleTo(panel));
        QVERIFY(!panel->modelCombo()->itemIcon(index).isNull());
        // It still scores: loaded on a worker, then the candidates come.
        const auto ds = window->dataset();
        QVERIFY(showCandidates(window->usersTab(), firstUser(*ds, false, window->coldThreshold())));
        QCOMPARE(panel->model()->rowCount(), CandidatesPanel::kCandidates);
        QCOMPARE(panel->model()->candidates().front().source, QStringLiteral("pop"));
    }

    // The panel's first model list comes before the snapshots are read: until someone picks a
    // model it follows the store's default, so the trained snapshot that arrives a moment
    // later is what scores (it kept EASE in memory before, which on a 1M-item workspace died
    // of std::bad_alloc). Once a model is picked, a new listing keeps it.
    void followsTheDefaultUntilAModelIsPicked()
    {
        qint64 id = 0;
        {
            const auto ws = Workspace::open(m_workspace);
            const Dataset ds = ws->load();
            auto model = cf::makeRecommender(QStringLiteral("pop"));
            model->fit(ds.userItems);
            id = cf::saveSnapshot(*ws, QStringLiteral("newestpop"), *model, cf::dataFingerprint(ds.userItems));
        }
        auto window = openWindow();
        QVERIFY(window);
        CandidatesPanel* panel = window->usersTab()->candidatesPanel();
        QCOMPARE(window->modelStore()->defaultKey(), ModelStore::snapshotKey(id));
        QTRY_COMPARE(panel->modelCombo()->currentData().toString(), ModelStore::snapshotKey(id));
        const auto ds = window->dataset();
        QVERIFY(showCandidates(window->usersTab(), firstUser(*ds, false, window->coldThreshold())));
        QCOMPARE(panel->model()->candidates().front().source, QStringLiteral("pop"));

        const QString ease = ModelStore::algorithmKey(QStringLiteral("ease"));
        panel->modelCombo()->setCurrentIndex(panel->modelCombo()->findData(ease));
        QSignalSpy listed(window->modelStore(), &ModelStore::snapshotsChanged);
        window->modelStore()->refreshSnapshots();
        QVERIFY(listed.wait(30000));
        QCOMPARE(panel->modelCombo()->currentData().toString(), ease);
    }
};

QTEST_MAIN(TestCandidates)
#include "tst_candidates.moc"
