// What-if histories in the Users view (docs/WHATIF.md), driven through the widgets on a
// real generated workspace: untick a history item and the candidates change while the
// stored history (read back from the SQLite file) stays the same; add an item from the
// catalog; the diff names what enters and leaves; save the edit as a synthetic user and
// see it marked in the users list, the header and the file.
#include "common/modelstore.h"
#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "mainwindow.h"
#include "rerank/store.h"
#include "storedinteractions.h"
#include "testllmserver.h"
#include "testutil.h"
#include "users/candidatespanel.h"
#include "users/historymodel.h"
#include "users/usersmodel.h"
#include "users/userstab.h"
#include "users/whatifpanel.h"

#include <QAbstractItemView>
#include <QComboBox>
#include <QCompleter>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <algorithm>
#include <memory>

using namespace recwb;
using namespace recwb::ui;

class TestWhatIfGui : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_workspace;
    std::unique_ptr<QSettings> m_settings;
    test::TestLlmServer m_server;

    std::unique_ptr<MainWindow> openWindow()
    {
        auto window = std::make_unique<MainWindow>(*m_settings);
        window->resize(1400, 900);
        window->show();
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        QSignalSpy listed(window->modelStore(), &ModelStore::snapshotsChanged);
        window->openWorkspace(m_workspace);
        if (!loaded.wait(60000))
            return nullptr;
        if (listed.count() < 2 && !QTest::qWaitFor([&] { return listed.count() >= 2; }, 30000))
            return nullptr;
        return window;
    }

    static bool selectUser(UsersTab* tab, int user)
    {
        for (int r = 0; r < tab->proxy()->rowCount(); ++r)
            if (tab->proxy()->index(r, 0).data(SourceRowRole).toInt() == user) {
                tab->view()->selectRow(r);
                return tab->currentUser() == user;
            }
        return false;
    }

    // Switches what-if on for a warm user and waits for both lists.
    static WhatIfPanel* startWhatIf(MainWindow* window, int user)
    {
        UsersTab* tab = window->usersTab();
        window->tabs()->setCurrentWidget(tab);
        if (!selectUser(tab, user))
            return nullptr;
        auto* toggle = window->findChild<QPushButton*>(QStringLiteral("whatIfToggle"));
        auto* panel = window->findChild<WhatIfPanel*>();
        if (!toggle || !panel || !toggle->isEnabled())
            return nullptr;
        QSignalSpy candidates(panel, &WhatIfPanel::candidatesUpdated);
        QSignalSpy reranked(panel, &WhatIfPanel::rerankUpdated);
        QTest::mouseClick(toggle, Qt::LeftButton);
        if (!toggle->isChecked() || !panel->isVisible())
            return nullptr;
        if (!QTest::qWaitFor([&] { return candidates.count() > 0 && reranked.count() > 0; }, 60000))
            return nullptr;
        return panel;
    }

    static int warmUser(const Dataset& ds)
    {
        for (int u = 0; u < ds.numUsers(); ++u)
            if (ds.interactionCount(u) >= 20)
                return u;
        return -1;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_settings = std::make_unique<QSettings>(m_dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        m_workspace = m_dir.filePath(QStringLiteral("whatif.recwb"));
        test::generateSmallWorkspace(m_workspace);
        QVERIFY(m_server.start() != 0);
        rerank::EndpointProfile e;
        e.name = QStringLiteral("local");
        e.kind = rerank::ProviderKind::OpenAiChat;
        e.baseUrl = m_server.openAiBaseUrl();
        e.model = QStringLiteral("small-model");
        e.timeoutMs = 20000;
        e.maxRetries = 0;
        rerank::store::upsertEndpoint(*Workspace::open(m_workspace), e);
    }

    // The offline reranker runs on every edit without a call; the LLM endpoint only on
    // the button, for the stored and the edited history, and the diff follows its lists.
    void llmOnlyOnRequest()
    {
        auto window = openWindow();
        QVERIFY(window);
        const int user = warmUser(*window->dataset());
        const int before = m_server.requestCount();
        WhatIfPanel* panel = startWhatIf(window.get(), user);
        QVERIFY(panel);
        auto* history = window->findChild<QListWidget*>(QStringLiteral("whatIfHistory"));
        QSignalSpy offline(panel, &WhatIfPanel::rerankUpdated);
        history->item(0)->setCheckState(Qt::Unchecked);
        QVERIFY(offline.wait(60000));
        QCOMPARE(m_server.requestCount(), before); // nothing sent for the offline rerank
        auto* endpoint = window->findChild<QComboBox*>(QStringLiteral("whatIfEndpoint"));
        QTRY_VERIFY_WITH_TIMEOUT(endpoint->findData(QStringLiteral("local")) >= 0, 30000);
        endpoint->setCurrentIndex(endpoint->findData(QStringLiteral("local")));
        auto* llm = window->findChild<QPushButton*>(QStringLiteral("whatIfLlm"));
        QVERIFY(llm->isEnabled());
        QSignalSpy reranked(panel, &WhatIfPanel::rerankUpdated);
        QTest::mouseClick(llm, Qt::LeftButton);
        QVERIFY(reranked.wait(60000));
        QCOMPARE(m_server.requestCount(), before + 2); // the stored and the edited history
        QVERIFY(window->findChild<QLabel*>(QStringLiteral("whatIfStatus"))->text().contains(QStringLiteral("local")));
        auto* rerank = window->findChild<QTableWidget*>(QStringLiteral("whatIfRerank"));
        QCOMPARE(rerank->rowCount(), WhatIfPanel::kTopK);
        // The edited history's picks are marked against the stored history's LLM list.
        int changed = 0;
        for (int r = 0; r < rerank->rowCount(); ++r)
            changed += rerank->item(r, 1)->text() != QStringLiteral("=") ? 1 : 0;
        QCOMPARE(changed, static_cast<int>(panel->rerankDiff().entering.size() + panel->rerankDiff().moved.size()));
        // Nothing stored as a run.
        const auto ws = Workspace::open(m_workspace);
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM rerank_runs"), 0);
    }

    void untickChangesCandidatesNotTheStore()
    {
        auto window = openWindow();
        QVERIFY(window);
        const auto ds = window->dataset();
        const int user = warmUser(*ds);
        QVERIFY(user >= 0);
        const QString id = ds->users[static_cast<size_t>(user)].externalId;
        const QStringList before = test::storedInteractions(m_workspace, id);
        WhatIfPanel* panel = startWhatIf(window.get(), user);
        QVERIFY(panel);
        auto* banner = window->findChild<QLabel*>(QStringLiteral("whatIfBanner"));
        QVERIFY(banner && banner->isVisible());
        QVERIFY(banner->text().contains(QStringLiteral("What-if: nothing is stored")));
        // Unedited: the same lists as the stored history, no diff.
        QCOMPARE(panel->candidates(), panel->realCandidates());
        QCOMPARE(static_cast<int>(panel->candidates().size()), WhatIfPanel::kCandidates);
        QVERIFY(panel->candidateDiff().empty());
        QVERIFY(panel->rerankDiff().empty());

        auto* history = window->findChild<QListWidget*>(QStringLiteral("whatIfHistory"));
        QVERIFY(history);
        QCOMPARE(history->count(), ds->interactionCount(user));
        QSignalSpy updated(panel, &WhatIfPanel::candidatesUpdated);
        for (int i = 0; i < 3; ++i) // three items out, in quick succession: one recompute (debounced)
            history->item(i)->setCheckState(Qt::Unchecked);
        QVERIFY(updated.wait(30000));
        QTest::qWait(WhatIfPanel::kDebounceMs * 2);
        QCOMPARE(updated.count(), 1);
        QVERIFY(panel->candidates() != panel->realCandidates());
        QVERIFY(!panel->candidateDiff().empty());
        // An item ticked out is no longer history: it may be recommended again, and the
        // candidates no longer exclude it.
        std::vector<int32_t> dropped;
        for (int i = 0; i < 3; ++i)
            dropped.push_back(static_cast<int32_t>(history->item(i)->data(Qt::UserRole).toInt()));
        QVERIFY(std::any_of(dropped.begin(), dropped.end(), [&](int32_t item) {
            return std::find(panel->candidates().begin(), panel->candidates().end(), item) != panel->candidates().end();
        }));
        auto* diff = window->findChild<QLabel*>(QStringLiteral("whatIfDiff"));
        QVERIFY(diff);
        QTRY_VERIFY_WITH_TIMEOUT(diff->text().contains(QStringLiteral("entering")), 30000);
        QVERIFY(
            diff->text().contains(QStringLiteral("%1 → %2 interactions").arg(before.size()).arg(before.size() - 3)));
        // Entering items are marked "new" in the candidates table.
        auto* table = window->findChild<QTableWidget*>(QStringLiteral("whatIfCandidates"));
        QVERIFY(table);
        int marked = 0;
        for (int r = 0; r < table->rowCount(); ++r)
            marked += table->item(r, 1)->text() == QStringLiteral("new") ? 1 : 0;
        QCOMPARE(marked, static_cast<int>(panel->candidateDiff().entering.size()));

        // Nothing was written: the file and the loaded dataset keep the stored history.
        QCOMPARE(test::storedInteractions(m_workspace, id), before);
        QCOMPARE(window->dataset()->interactionCount(user), static_cast<int>(before.size()));
        QCOMPARE(window->usersTab()->historyModel()->rowCount(), static_cast<int>(before.size()));

        // Reset: back to the stored history and no diff.
        QSignalSpy again(panel, &WhatIfPanel::candidatesUpdated);
        QTest::mouseClick(window->findChild<QPushButton*>(QStringLiteral("whatIfReset")), Qt::LeftButton);
        QVERIFY(again.wait(30000));
        for (int i = 0; i < history->count(); ++i)
            QCOMPARE(history->item(i)->checkState(), Qt::Checked);
        QVERIFY(panel->candidateDiff().empty());
    }

    // Issue 13: from kSearchOffThreadItems items on, the item box searches the labels on a
    // pool thread per keystroke and the completer shows at most kMaxMatches of them; a newer
    // keystroke's matches replace the older ones.
    void largeCatalogSearchesOffTheGuiThread()
    {
        QTemporaryDir dir;
        std::shared_ptr<const Dataset> big;
        {
            auto ws = Workspace::open(dir.filePath(QStringLiteral("big.recwb")), Workspace::Mode::CreateOrOpen);
            GeneratorConfig config;
            config.users = 60;
            config.items = WhatIfPanel::kSearchOffThreadItems + 100;
            config.interactions = 1200;
            generateIntoWorkspace(*ws, config);
            big = std::make_shared<const Dataset>(ws->load());
        }
        ModelStore store;
        WhatIfPanel panel(&store);
        panel.resize(900, 700);
        panel.show();
        panel.setWorkspace(QString(), big);
        auto* add = panel.findChild<QLineEdit*>(QStringLiteral("whatIfAddItem"));
        QVERIFY(add);
        QTRY_VERIFY(add->isEnabled()); // the labels are built
        QCompleter* completer = add->completer();
        QVERIFY(completer);
        QCOMPARE(completer->completionMode(), QCompleter::UnfilteredPopupCompletion);
        QCOMPARE(completer->model()->rowCount(), 0); // nothing typed yet: no million-row model
        add->setFocus();

        auto shownAll = [&](const QString& needle) {
            const QAbstractItemModel* m = completer->model();
            for (int r = 0; r < m->rowCount(); ++r)
                if (!m->index(r, 0).data().toString().contains(needle, Qt::CaseInsensitive))
                    return false;
            return m->rowCount() > 0;
        };
        QTest::keyClicks(add, QStringLiteral("I1"));
        QTRY_VERIFY(shownAll(QStringLiteral("I1")));
        QCOMPARE(completer->model()->rowCount(), WhatIfPanel::kMaxMatches); // thousands match: capped
        const QString id = big->items[42424].externalId; // e.g. i42425
        add->clear();
        QTest::keyClicks(add, id);
        QTRY_VERIFY(shownAll(id));
        QVERIFY(completer->model()->rowCount() < WhatIfPanel::kMaxMatches);
        bool found = false;
        for (int r = 0; r < completer->model()->rowCount(); ++r)
            found = found || completer->model()->index(r, 0).data().toString().endsWith(u'(' + id + u')');
        QVERIFY(found);
    }

    void addItemAndRerankDiff()
    {
        auto window = openWindow();
        QVERIFY(window);
        const auto ds = window->dataset();
        const int user = warmUser(*ds);
        WhatIfPanel* panel = startWhatIf(window.get(), user);
        QVERIFY(panel);
        const std::vector<int32_t> real = panel->realCandidates();
        const int32_t top = real.front();
        const QString topId = ds->items[static_cast<size_t>(top)].externalId;
        auto* add = window->findChild<QLineEdit*>(QStringLiteral("whatIfAddItem"));
        QVERIFY(add);
        QTRY_VERIFY_WITH_TIMEOUT(add->isEnabled(), 30000); // the catalog list is built on a worker
        QSignalSpy candidates(panel, &WhatIfPanel::candidatesUpdated);
        QSignalSpy reranked(panel, &WhatIfPanel::rerankUpdated);
        add->setFocus();
        add->setText(topId);
        QTest::keyClick(add, Qt::Key_Return);
        auto* history = window->findChild<QListWidget*>(QStringLiteral("whatIfHistory"));
        QCOMPARE(history->count(), ds->interactionCount(user) + 1);
        QCOMPARE(history->item(0)->data(Qt::UserRole).toInt(), top); // the newest
        QVERIFY(history->item(0)->text().contains(QStringLiteral("added")));
        QTRY_VERIFY_WITH_TIMEOUT(add->text().isEmpty(), 5000);
        QVERIFY(QTest::qWaitFor([&] { return candidates.count() > 0 && reranked.count() > 0; }, 60000));
        // The added item is history now: it leaves the candidates, and the diff says so.
        QVERIFY(std::find(panel->candidates().begin(), panel->candidates().end(), top) == panel->candidates().end());
        const auto& leaving = panel->candidateDiff().leaving;
        QVERIFY(
            std::any_of(leaving.begin(), leaving.end(), [&](const auto& e) { return e.item == top && e.rank == 1; }));
        QVERIFY(!panel->candidateDiff().entering.empty());
        auto* diff = window->findChild<QLabel*>(QStringLiteral("whatIfDiff"));
        QVERIFY(diff->text().contains(QStringLiteral("leaving")));
        QVERIFY(diff->text().contains(ds->items[static_cast<size_t>(top)].title.toHtmlEscaped()));
        // The rerank table marks each pick against the stored history's rerank.
        auto* rerank = window->findChild<QTableWidget*>(QStringLiteral("whatIfRerank"));
        QVERIFY(rerank && rerank->rowCount() > 0);
        QCOMPARE(rerank->rowCount(), WhatIfPanel::kTopK);
        int changed = 0;
        for (int r = 0; r < rerank->rowCount(); ++r) {
            const QString change = rerank->item(r, 1)->text();
            QVERIFY2(change == QStringLiteral("new") || change == QStringLiteral("=") || change.startsWith(u'▲')
                    || change.startsWith(u'▼'),
                qPrintable(change));
            changed += change != QStringLiteral("=") ? 1 : 0;
            QVERIFY(!rerank->item(r, 3)->text().isEmpty()); // an explanation per pick
        }
        QCOMPARE(changed, static_cast<int>(panel->rerankDiff().entering.size() + panel->rerankDiff().moved.size()));

        // Adding an item that is already in the history is refused.
        add->setText(topId);
        QTest::keyClick(add, Qt::Key_Return);
        QCOMPARE(history->count(), ds->interactionCount(user) + 1);
    }

    void saveAsSyntheticUser()
    {
        auto window = openWindow();
        QVERIFY(window);
        const auto ds = window->dataset();
        const int user = warmUser(*ds);
        const QString source = ds->users[static_cast<size_t>(user)].externalId;
        const QStringList before = test::storedInteractions(m_workspace, source);
        WhatIfPanel* panel = startWhatIf(window.get(), user);
        QVERIFY(panel);
        auto* history = window->findChild<QListWidget*>(QStringLiteral("whatIfHistory"));
        history->item(0)->setCheckState(Qt::Unchecked);
        auto* profile = window->findChild<QTableWidget*>(QStringLiteral("whatIfProfile"));
        QVERIFY(profile && profile->rowCount() > 0);
        profile->item(0, 1)->setText(QStringLiteral("edited"));
        const QString field = profile->item(0, 0)->text();
        auto* categories = window->findChild<QListWidget*>(QStringLiteral("whatIfCategories"));
        QVERIFY(categories && categories->count() == ds->categories.size());
        categories->item(0)->setCheckState(Qt::Checked);
        auto* id = window->findChild<QLineEdit*>(QStringLiteral("whatIfSaveId"));
        QCOMPARE(id->text(), source + QStringLiteral("-whatif-1"));

        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        QTest::mouseClick(window->findChild<QPushButton*>(QStringLiteral("whatIfSave")), Qt::LeftButton);
        QVERIFY(loaded.wait(60000)); // saved, then reloaded as after an import
        const auto after = window->dataset();
        QCOMPARE(after->numUsers(), ds->numUsers() + 1);
        const int saved = after->userIndex(source + QStringLiteral("-whatif-1"));
        QVERIFY(saved >= 0);
        const User& u = after->users[static_cast<size_t>(saved)];
        QCOMPARE(u.syntheticOf, source);
        QCOMPARE(after->interactionCount(saved), ds->interactionCount(user) - 1);
        QCOMPARE(u.attributes.value(field).toString(), QStringLiteral("edited"));
        QCOMPARE(u.attributes.value(QStringLiteral("stated_categories")).toString(), ds->categories.first());
        QCOMPARE(test::storedInteractions(m_workspace, source), before); // the source is untouched
        {
            const auto ws = Workspace::open(m_workspace);
            sql::Statement st(ws->db(), "SELECT synthetic_of FROM users WHERE external_id = ?1");
            st.bind(1, source + QStringLiteral("-whatif-1"));
            QVERIFY(st.step());
            QCOMPARE(st.text(0), source);
        }

        // Marked everywhere in the view: the users list, the header; and selected.
        UsersTab* tab = window->usersTab();
        QCOMPARE(tab->currentUser(), saved);
        QVERIFY(!window->findChild<QPushButton*>(QStringLiteral("whatIfToggle"))->isChecked());
        const QModelIndex status = tab->model()->index(saved, UsersModel::Status);
        QVERIFY(status.data().toString().contains(QStringLiteral("synthetic")));
        QVERIFY(tab->model()->index(saved, UsersModel::Id).data(Qt::ToolTipRole).toString().contains(source));
        QVERIFY(!tab->model()->index(user, UsersModel::Status).data().toString().contains(QStringLiteral("synthetic")));
        auto* header = window->findChild<QLabel*>(QStringLiteral("userHeader"));
        QVERIFY(header->text().contains(QStringLiteral("synthetic (from %1)").arg(source)));
        // The stated categories saved with it start ticked in the candidates panel.
        QListWidget* stated = tab->candidatesPanel()->categoriesList();
        QCOMPARE(stated->item(0)->checkState(), Qt::Checked);
        QCOMPARE(stated->item(1)->checkState(), Qt::Unchecked);
        QVERIFY(selectUser(tab, user));
        QCOMPARE(stated->item(0)->checkState(), Qt::Unchecked); // the source user stated nothing
    }
};

QTEST_MAIN(TestWhatIfGui)
#include "tst_whatif.moc"
