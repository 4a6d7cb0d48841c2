#include "catalog/catalogmodel.h"
#include "catalog/catalogtab.h"
#include "common/settings.h"
#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "dialogs/importdialog.h"
#include "mainwindow.h"
#include "testutil.h"
#include "users/historymodel.h"
#include "users/usersmodel.h"
#include "users/userstab.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <QTextBrowser>
#include <memory>

using namespace recwb;
using namespace recwb::ui;

class TestMainWindow : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_demo;
    std::unique_ptr<QSettings> m_settings;

    QString path(const char* name) const { return m_dir.filePath(QString::fromLatin1(name)); }

    // A window with a model tester on every model and proxy, attached before any data.
    std::unique_ptr<MainWindow> makeWindow()
    {
        auto window = std::make_unique<MainWindow>(*m_settings);
        const QList<QAbstractItemModel*> models { window->catalogTab()->model(), window->catalogTab()->proxy(),
            window->usersTab()->model(), window->usersTab()->proxy(), window->usersTab()->historyModel(),
            window->usersTab()->historyProxy() };
        for (QAbstractItemModel* model : models)
            new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest, window.get());
        window->resize(1280, 800);
        window->show();
        return window;
    }

    std::unique_ptr<MainWindow> openDemo()
    {
        auto window = makeWindow();
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        window->openWorkspace(m_demo);
        if (!loaded.wait(60000))
            return nullptr;
        return window;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_settings = std::make_unique<QSettings>(path("settings.ini"), QSettings::IniFormat);
        m_demo = path("demo.recwb");
        test::generateSmallWorkspace(m_demo);
        QCOMPARE(Workspace::open(m_demo)->summary().users, 200);
    }

    void loadsWorkspace()
    {
        auto window = makeWindow();
        QVERIFY(!window->dataset());
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        window->openWorkspace(m_demo);
        QVERIFY(window->isBusy()); // the load runs off the GUI thread
        QVERIFY(loaded.wait(60000));
        QVERIFY(!window->isBusy());
        QCOMPARE(window->workspacePath(), QFileInfo(m_demo).absoluteFilePath());
        QCOMPARE(window->catalogTab()->model()->rowCount(), 300);
        QCOMPARE(window->usersTab()->model()->rowCount(), 200);
        const auto* counts = window->findChild<QLabel*>(QStringLiteral("statusCounts"));
        QVERIFY(counts);
        QVERIFY2(counts->text().contains(QStringLiteral("200 users")), qPrintable(counts->text()));

        // Written by the window's settings thread; a window made later reads them.
        const QString opened = window->workspacePath();
        window.reset();
        AppSettings settings(*m_settings);
        QCOMPARE(settings.lastWorkspace(), opened);
        QCOMPARE(settings.recentWorkspaces().value(0), opened);
    }

    // AppSettings writes the file on a thread of its own: a write is read back at once from
    // the same object, is on disk after flush() (the file's text, not QSettings' shared
    // in-memory copy), survives into a new AppSettings, and a removal does too.
    void settingsWrittenOffTheGuiThread()
    {
        const QString file = path("own-settings.ini");
        QSettings qsettings(file, QSettings::IniFormat);
        const QString workspace = path("demo.recwb");
        {
            AppSettings settings(qsettings);
            settings.setString(u"import/lastFolder", QStringLiteral("/data/ml-1m"));
            settings.setInteger(keys::kColdThreshold, 7);
            settings.addRecentWorkspace(workspace);
            QCOMPARE(settings.string(u"import/lastFolder"), QStringLiteral("/data/ml-1m"));
            QCOMPARE(settings.coldThreshold(), 7);
            QCOMPARE(settings.recentWorkspaces(), QStringList { QFileInfo(workspace).absoluteFilePath() });
            settings.flush();
            QFile text(file);
            QVERIFY(text.open(QIODevice::ReadOnly));
            const QByteArray onDisk = text.readAll();
            QVERIFY2(onDisk.contains("lastFolder=/data/ml-1m"), onDisk.constData());
            QVERIFY2(onDisk.contains("coldThreshold=7"), onDisk.constData());
        }
        {
            AppSettings settings(qsettings);
            QCOMPARE(settings.string(u"import/lastFolder"), QStringLiteral("/data/ml-1m"));
            QCOMPARE(settings.coldThreshold(), 7);
            QCOMPARE(settings.recentWorkspaces().size(), 1);
            settings.clearRecentWorkspaces();
            QVERIFY(settings.recentWorkspaces().isEmpty());
        } // the destructor writes what is pending
        QFile text(file);
        QVERIFY(text.open(QIODevice::ReadOnly));
        const QByteArray onDisk = text.readAll();
        QVERIFY2(!onDisk.contains("recent"), onDisk.constData());
        QVERIFY2(onDisk.contains("coldThreshold=7"), onDisk.constData());
        AppSettings again(qsettings);
        QVERIFY(again.recentWorkspaces().isEmpty());
        QCOMPARE(again.coldThreshold(), 7);
    }

    void catalogFiltersByCategory_data()
    {
        QTest::addColumn<bool>("upperCase");
        QTest::addRow("as named") << false;
        QTest::addRow("upper case") << true;
    }

    void catalogFiltersByCategory()
    {
        QFETCH(bool, upperCase);
        auto window = openDemo();
        QVERIFY(window);
        const auto dataset = window->dataset();
        QVERIFY(!dataset->categories.isEmpty());
        const QString category = dataset->categories.first();
        CatalogTab* tab = window->catalogTab();
        const int before = tab->proxy()->rowCount();
        QCOMPARE(before, dataset->numItems());

        tab->filterEdit()->setText(upperCase ? category.toUpper() : category);
        const int after = tab->proxy()->rowCount();
        QVERIFY(after > 0);
        QVERIFY(after < before);
        for (int r = 0; r < after; ++r) {
            QString text;
            for (int c : { CatalogModel::Title, CatalogModel::Categories, CatalogModel::Tags })
                text += tab->proxy()->index(r, c).data().toString() + u'\n';
            QVERIFY2(text.contains(category, Qt::CaseInsensitive), qPrintable(text));
        }
        // Every item of the category is there.
        int inCategory = 0;
        for (const Item& item : dataset->items)
            inCategory += dataset->categoryNames(item).contains(category, Qt::CaseInsensitive) ? 1 : 0;
        QVERIFY(after >= inCategory);

        tab->view()->selectRow(0);
        QVERIFY(tab->detail()->toPlainText().contains(tab->proxy()->index(0, CatalogModel::Title).data().toString()));
        tab->filterEdit()->clear();
        QCOMPARE(tab->proxy()->rowCount(), before);
    }

    void catalogSortsNumerically()
    {
        auto window = openDemo();
        QVERIFY(window);
        QTableView* view = window->catalogTab()->view();
        view->sortByColumn(CatalogModel::Interactions, Qt::DescendingOrder);
        const QAbstractItemModel* proxy = view->model();
        for (int r = 1; r < proxy->rowCount(); ++r)
            QVERIFY(proxy->index(r - 1, CatalogModel::Interactions).data().toInt()
                >= proxy->index(r, CatalogModel::Interactions).data().toInt());
    }

    void historyShowsSelectedUser()
    {
        auto window = openDemo();
        QVERIFY(window);
        UsersTab* tab = window->usersTab();
        const auto dataset = window->dataset();
        for (const int row : { 0, 7, 42 }) {
            tab->view()->selectRow(row);
            const int user = tab->proxy()->index(row, 0).data(SourceRowRole).toInt();
            QCOMPARE(tab->proxy()->index(row, UsersModel::Id).data().toString(),
                dataset->users[static_cast<size_t>(user)].externalId);
            QCOMPARE(tab->historyModel()->user(), user);
            QCOMPARE(tab->historyProxy()->rowCount(), dataset->interactionCount(user));
            const QAbstractItemModel* history = tab->historyView()->model();
            for (int r = 1; r < history->rowCount(); ++r)
                QVERIFY(history->index(r - 1, HistoryModel::Time).data(SortRole).toLongLong()
                    >= history->index(r, HistoryModel::Time).data(SortRole).toLongLong());
        }
        tab->view()->clearSelection();
        QCOMPARE(tab->historyProxy()->rowCount(), 0);
    }

    void usersStatusFilter()
    {
        auto window = openDemo();
        QVERIFY(window);
        UsersTab* tab = window->usersTab();
        const auto dataset = window->dataset();
        const int all = tab->proxy()->rowCount();
        QCOMPARE(all, 200);

        tab->statusCombo()->setCurrentIndex(tab->statusCombo()->findData(UsersTab::ColdUsers));
        const int cold = tab->proxy()->rowCount();
        QVERIFY(cold > 0);
        QCOMPARE(cold, dataset->coldUserCount(window->coldThreshold()));
        for (int r = 0; r < cold; ++r) {
            QVERIFY(tab->proxy()->index(r, 0).data(ColdRole).toBool());
            QVERIFY(tab->proxy()->index(r, UsersModel::Interactions).data().toInt() < kDefaultColdThreshold);
        }
        QVERIFY(tab->selectFirstRow());
        const int user = tab->proxy()->index(0, 0).data(SourceRowRole).toInt();
        QCOMPARE(tab->historyProxy()->rowCount(), dataset->interactionCount(user));

        tab->setStatusFilter(UsersTab::WarmUsers);
        const int warm = tab->proxy()->rowCount();
        for (int r = 0; r < warm; ++r)
            QVERIFY(!tab->proxy()->index(r, 0).data(ColdRole).toBool());
        QCOMPARE(cold + warm, all);

        // Status and text filters combine.
        tab->setStatusFilter(UsersTab::AllUsers);
        const QString id = dataset->users[5].externalId;
        tab->filterEdit()->setText(id);
        QVERIFY(tab->proxy()->rowCount() >= 1);
        for (int r = 0; r < tab->proxy()->rowCount(); ++r)
            QVERIFY(tab->proxy()->index(r, UsersModel::Id).data().toString().contains(id)
                || tab->proxy()->index(r, UsersModel::Profile).data().toString().contains(id, Qt::CaseInsensitive));
    }

    void staleLoadIsDropped()
    {
        const QString empty = path("empty.recwb");
        Workspace::open(empty, Workspace::Mode::CreateOrOpen);
        auto window = makeWindow();
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        window->openWorkspace(m_demo);
        window->openWorkspace(empty); // the newer request wins, whichever finishes first
        QVERIFY(loaded.wait(60000));
        QTest::qWait(300);
        QCOMPARE(loaded.count(), 1);
        QCOMPARE(loaded.first().first().toString(), QFileInfo(empty).absoluteFilePath());
        QCOMPARE(window->dataset()->numUsers(), 0);
        QCOMPARE(window->catalogTab()->model()->rowCount(), 0);
    }

    void loadErrorNamesFile()
    {
        auto window = makeWindow();
        QSignalSpy failed(window.get(), &MainWindow::workspaceLoadFailed);
        const QString missing = path("missing.recwb");
        window->openWorkspace(missing);
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.first().at(1).toString().contains(QStringLiteral("missing.recwb")),
            qPrintable(failed.first().at(1).toString()));
        QVERIFY(!window->dataset());
        QVERIFY(!window->isBusy());
    }

    void createsEmptyWorkspace()
    {
        auto window = makeWindow();
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        const QString created = path("created.recwb");
        window->createWorkspace(created);
        QVERIFY(loaded.wait(30000));
        QVERIFY(QFileInfo::exists(created));
        QCOMPARE(window->dataset()->numItems(), 0);
    }

    void importCancelLeavesWorkspaceUnchanged()
    {
        // A generic CSV import into a fresh workspace: run one to completion, then cancel one.
        const QString csv = path("inter.csv");
        {
            QFile file(csv);
            QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Text));
            file.write("user_id,item_id,rating,ts\n");
            for (int i = 0; i < 20000; ++i)
                file.write(
                    QStringLiteral("u%1,i%2,%3,%4\n").arg(i % 500).arg(i % 777).arg(1 + i % 5).arg(1000 + i).toUtf8());
        }
        const QString target = path("import.recwb");
        Workspace::open(target, Workspace::Mode::CreateOrOpen);
        AppSettings settings(*m_settings);
        ImportDialog dialog(target, settings);
        dialog.setFormat(ImportDialog::Generic);
        auto* file = dialog.findChild<QLineEdit*>(QStringLiteral("importInteractionsFile"));
        QVERIFY(file);
        file->setText(csv);
        QSignalSpy finished(&dialog, &ImportDialog::importFinished);
        QSignalSpy canceled(&dialog, &ImportDialog::importCanceled);
        QSignalSpy failed(&dialog, &ImportDialog::importFailed);

        QVERIFY(dialog.startImport());
        dialog.reject(); // cancels the running import
        QTRY_VERIFY_WITH_TIMEOUT(!dialog.isRunning(), 30000);
        QCOMPARE(failed.count(), 0);
        if (canceled.count() == 1)
            QCOMPARE(Workspace::open(target)->summary().interactions, 0);
        else
            QCOMPARE(finished.count(), 1); // the import beat the cancel

        finished.clear();
        QVERIFY(dialog.startImport());
        QTRY_VERIFY_WITH_TIMEOUT(!dialog.isRunning(), 60000);
        QVERIFY2(failed.isEmpty(), qPrintable(dialog.reportText()));
        QCOMPARE(finished.count(), 1);
        QVERIFY(!dialog.reportText().isEmpty());
        QCOMPARE(Workspace::open(target)->summary().users, 500);
    }
};

QTEST_MAIN(TestMainWindow)
#include "tst_mainwindow.moc"
