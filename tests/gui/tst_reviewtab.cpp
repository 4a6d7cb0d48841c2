// The Review tab on ML-100K through its widgets (issue 11): a simulated cold@1 queue built
// from the tab with the offline reranker, verdicts given with the keyboard (1/2/3, J/K, N)
// and notes, each in the SQLite file as soon as it is stored; a second reviewer in another
// process killed (SIGKILL) right after their verdicts were stored, then the workspace
// reopened and their verdicts found, with the queue resuming where they stopped; Cohen's
// kappa between the two; and the CSV export read back.
#include "common/modelstore.h"
#include "common/settings.h"
#include "data/dataset.h"
#include "data/import/importers.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "eval/split.h"
#include "review/review.h"
#include "review/reviewtab.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <sqlite3.h>

using namespace recwb;
using namespace recwb::ui;

class TestReviewTab : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_workspace;
    std::shared_ptr<const Dataset> m_ds;
    std::unique_ptr<QSettings> m_qsettings;
    std::unique_ptr<AppSettings> m_settings;
    std::unique_ptr<ModelStore> m_store;
    std::unique_ptr<ReviewTab> m_tab;
    qint64 m_queue = 0;

    template <typename T> T* child(const QString& name) const
    {
        auto* w = m_tab->findChild<T*>(name);
        if (!w)
            qFatal("no child %s", qPrintable(name));
        return w;
    }
    QAbstractItemModel* items() const { return child<QTableView>(QStringLiteral("reviewItems"))->model(); }
    QString itemCell(int row, int column) const { return items()->index(row, column).data().toString(); }

    // (item, verdict, note) of `reviewer` for `user`, read from the file itself.
    QList<QStringList> storedVerdicts(const QString& reviewer, const QString& user = {}) const
    {
        QList<QStringList> out;
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(m_workspace.toUtf8().constData(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
            qFatal("cannot open %s", qPrintable(m_workspace));
        {
            sql::Statement st(db,
                "SELECT item_id, coalesce(verdict, ''), note FROM review_verdicts "
                "WHERE reviewer = ? AND (? = '' OR user_id = ?) ORDER BY user_id, item_id");
            const QString u = user.isNull() ? QStringLiteral("") : user;
            st.bind(1, reviewer).bind(2, u).bind(3, u);
            while (st.step())
                out.append({ st.text(0), st.text(1), st.text(2) });
        }
        sqlite3_close(db);
        return out;
    }

    void waitStored()
    {
        QSignalSpy stored(m_tab.get(), &ReviewTab::verdictStored);
        QElapsedTimer t;
        t.start();
        while (m_tab->pendingWrites() > 0 && t.elapsed() < 30000)
            stored.wait(1000);
        QCOMPARE(m_tab->pendingWrites(), 0);
    }

private slots:
    void initTestCase()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_workspace = m_dir.filePath(QStringLiteral("ml100k.recwb"));
        {
            auto ws = Workspace::open(m_workspace, Workspace::Mode::CreateOrOpen);
            importMovieLens100k(*ws, test::sharedData(QStringLiteral("ml-100k")));
            m_ds = std::make_shared<const Dataset>(ws->load());
        }
        m_qsettings = std::make_unique<QSettings>(m_dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        m_settings = std::make_unique<AppSettings>(*m_qsettings);
        m_store = std::make_unique<ModelStore>();
        m_store->setWorkspace(m_workspace, m_ds);
        m_tab = std::make_unique<ReviewTab>(m_store.get(), *m_settings);
        m_tab->resize(1500, 900);
        m_tab->show();
        m_tab->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_tab.get()));
        for (const char* name : { "reviewItems", "reviewCandidates", "reviewSummary", "reviewAgreement" })
            new QAbstractItemModelTester(child<QTableView>(QLatin1String(name))->model(),
                QAbstractItemModelTester::FailureReportingMode::QtTest, m_tab.get());
        QSignalSpy loaded(m_tab.get(), &ReviewTab::queuesLoaded);
        m_tab->setWorkspace(m_workspace, m_ds);
        QVERIFY(loaded.wait(30000));
        QCOMPARE(child<QListWidget>(QStringLiteral("reviewQueues"))->count(), 0);
    }

    void cleanupTestCase()
    {
        m_tab.reset();
        m_store.reset();
    }

    // ML-100K has no cold user: a queue of real cold users is refused with the reason.
    void realColdRefused()
    {
        child<QComboBox>(QStringLiteral("reviewSource"))->setCurrentIndex(1);
        QVERIFY(!child<QSpinBox>(QStringLiteral("reviewColdN"))->isEnabled());
        QSignalSpy built(m_tab.get(), &ReviewTab::queueBuilt);
        QVERIFY2(m_tab->build(), qPrintable(child<QLabel>(QStringLiteral("reviewStatus"))->text()));
        auto* status = child<QLabel>(QStringLiteral("reviewStatus"));
        QTRY_VERIFY_WITH_TIMEOUT(status->text().contains(QStringLiteral("no cold users")), 60000);
        QCOMPARE(built.count(), 0);
        QVERIFY(child<QPushButton>(QStringLiteral("reviewBuild"))->isEnabled());
        child<QComboBox>(QStringLiteral("reviewSource"))->setCurrentIndex(0);
    }

    // cold@1, a seeded sample of 40, the offline reranker: each user shows exactly their
    // first interaction, what they used later as ground truth, candidates with their sources
    // and ten explained picks.
    void buildSimulatedQueue()
    {
        child<QSpinBox>(QStringLiteral("reviewColdN"))->setValue(1);
        child<QSpinBox>(QStringLiteral("reviewSample"))->setValue(40);
        child<QLineEdit>(QStringLiteral("reviewName"))->setText(QStringLiteral("cold@1 offline"));
        QSignalSpy built(m_tab.get(), &ReviewTab::queueBuilt);
        QSignalSpy opened(m_tab.get(), &ReviewTab::queueOpened);
        child<QPushButton>(QStringLiteral("reviewBuild"))->click();
        QVERIFY(!child<QPushButton>(QStringLiteral("reviewBuild"))->isEnabled());
        QVERIFY2(built.wait(240000), qPrintable(child<QLabel>(QStringLiteral("reviewStatus"))->text()));
        m_queue = built.first().first().toLongLong();
        QVERIFY(opened.count() > 0 || opened.wait(30000));
        QCOMPARE(m_tab->currentQueue(), m_queue);
        QTRY_COMPARE_WITH_TIMEOUT(child<QListWidget>(QStringLiteral("reviewQueues"))->count(), 1, 10000);
        QCOMPARE(m_tab->currentUser(), 0);
        QVERIFY2(child<QLabel>(QStringLiteral("reviewUserHeader"))->text().contains(QStringLiteral("1 of 40")),
            qPrintable(child<QLabel>(QStringLiteral("reviewUserHeader"))->text()));

        const eval::Split split = eval::makeSplit(*m_ds, QStringLiteral("cold@1"));
        auto* known = child<QListWidget>(QStringLiteral("reviewKnown"));
        auto* truth = child<QListWidget>(QStringLiteral("reviewTruth"));
        QCOMPARE(known->count(), 1);
        // The header names the user; their known item is their first by time, the truth the rest.
        const QString header = child<QLabel>(QStringLiteral("reviewUserHeader"))->text();
        const QString userId = header.section(u' ', 1, 1);
        const int32_t u = m_ds->userIndex(userId);
        QVERIFY2(u >= 0, qPrintable(header));
        QCOMPARE(truth->count(), static_cast<int>(split.test[static_cast<size_t>(u)].size()));
        QCOMPARE(static_cast<int>(split.train.rowLength(u)), 1);
        const QString knownId = m_ds->items[static_cast<size_t>(split.train.row(u)[0])].externalId;
        QVERIFY2(known->item(0)->text().contains(u'(' + knownId + u')'), qPrintable(known->item(0)->text()));

        QCOMPARE(items()->rowCount(), 10);
        for (int r = 0; r < 10; ++r) {
            QCOMPARE(itemCell(r, 0).toInt(), r + 1);
            QVERIFY(!itemCell(r, 6).isEmpty()); // an explanation
            QVERIFY(!itemCell(r, 4).isEmpty()); // a source
        }
        auto* candidates = child<QTableView>(QStringLiteral("reviewCandidates"))->model();
        QVERIFY(candidates->rowCount() >= 10);
        const QStringList sources { QStringLiteral("content"), QStringLiteral("profile"), QStringLiteral("category"),
            QStringLiteral("popularity"), QStringLiteral("cf") };
        for (int r = 0; r < candidates->rowCount(); ++r)
            QVERIFY2(sources.contains(candidates->index(r, 3).data().toString()),
                qPrintable(candidates->index(r, 3).data().toString()));
    }

    // 1/2/3 judge the current item and move to the next; J/K move; N goes to the next user.
    // Each verdict is in the file once stored; a note keeps the verdict.
    void keyboardVerdicts()
    {
        QVERIFY(m_queue > 0);
        m_tab->setReviewer(QStringLiteral("alice"));
        m_settings->flush(); // written on the settings thread
        QCOMPARE(m_qsettings->value(QStringLiteral("review/reviewer")).toString(), QStringLiteral("alice"));
        auto* view = child<QTableView>(QStringLiteral("reviewItems"));
        view->setFocus();
        const QString user = child<QLabel>(QStringLiteral("reviewUserHeader"))->text().section(u' ', 1, 1);
        const QString first = itemCell(0, 1);
        QTest::keyClick(view, Qt::Key_1);
        QCOMPARE(m_tab->currentItem(), 1);
        QTest::keyClick(view, Qt::Key_2);
        QTest::keyClick(view, Qt::Key_3);
        QCOMPARE(m_tab->currentItem(), 3);
        QTest::keyClick(view, Qt::Key_K);
        QCOMPARE(m_tab->currentItem(), 2);
        QTest::keyClick(view, Qt::Key_J);
        QTest::keyClick(view, Qt::Key_J);
        QCOMPARE(m_tab->currentItem(), 4);
        QTest::keyClick(view, Qt::Key_K);
        QTest::keyClick(view, Qt::Key_K); // on the third item (row 2) again
        QTest::keyClick(view, Qt::Key_1); // changes unsure to good
        QCOMPARE(itemCell(0, 8), QStringLiteral("good"));
        QCOMPARE(itemCell(1, 8), QStringLiteral("bad"));
        QCOMPARE(itemCell(2, 8), QStringLiteral("good"));
        QCOMPARE(itemCell(3, 8), QString());
        // A note on the first item, typed into the note box (digits in it are text, not verdicts).
        QTest::keyClick(view, Qt::Key_K);
        QTest::keyClick(view, Qt::Key_K);
        QTest::keyClick(view, Qt::Key_K);
        QCOMPARE(m_tab->currentItem(), 0);
        auto* note = child<QLineEdit>(QStringLiteral("reviewItemNote"));
        note->setFocus();
        QTest::keyClicks(note, QStringLiteral("seen 2 times"));
        QTest::keyClick(note, Qt::Key_Return);
        QCOMPARE(itemCell(0, 8), QStringLiteral("good"));
        // A note on the user as a whole: item "".
        auto* userNote = child<QLineEdit>(QStringLiteral("reviewUserNote"));
        userNote->setFocus();
        QTest::keyClicks(userNote, QStringLiteral("profile says scientist; picks are generic"));
        QTest::keyClick(userNote, Qt::Key_Return);
        waitStored();
        QList<QStringList> rows = storedVerdicts(QStringLiteral("alice"), user);
        QCOMPARE(rows.size(), 4);
        QCOMPARE(rows.front(),
            (QStringList { QString(), QString(), QStringLiteral("profile says scientist; picks are generic") }));
        rows.removeFirst();
        // The first item: good, with the note.
        bool found = false;
        for (const QStringList& r : rows)
            if (r[2] == u"seen 2 times") {
                QCOMPARE(r[1], QStringLiteral("good"));
                found = true;
            }
        QVERIFY2(found, qPrintable(first));
        QCOMPARE(std::count_if(rows.begin(), rows.end(), [](const QStringList& r) { return r[1] == u"bad"; }), 1);
        // N: the next user, whose list starts unjudged.
        view->setFocus();
        QTest::keyClick(view, Qt::Key_N);
        QCOMPARE(m_tab->currentUser(), 1);
        QVERIFY(child<QLabel>(QStringLiteral("reviewUserHeader"))->text().contains(QStringLiteral("2 of 40")));
        QCOMPARE(itemCell(0, 8), QString());
        QTest::keyClick(view, Qt::Key_P);
        QCOMPARE(m_tab->currentUser(), 0);
        QCOMPARE(itemCell(1, 8), QStringLiteral("bad"));
        if (const QString dir = qEnvironmentVariable("RECWB_SCREENSHOT_DIR"); !dir.isEmpty())
            QVERIFY(m_tab->grab().save(dir + QStringLiteral("/review-test.png")));
    }

    // Another reviewer in another process gives 5 verdicts and is SIGKILLed right after they
    // are stored: the workspace is intact, the 5 are there, and reopening the queue as that
    // reviewer resumes on their first user with the rest of the list unjudged.
    void killedReviewerKeepsVerdicts()
    {
        QVERIFY(m_queue > 0);
        const QString settingsFile = m_dir.filePath(QStringLiteral("bob.ini"));
        QProcess helper;
        helper.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        helper.setProcessEnvironment(env);
        helper.start(QStringLiteral(RECWB_REVIEW_CRASH_HELPER),
            { m_workspace, settingsFile, QStringLiteral("bob"), QString::number(m_queue), QStringLiteral("5") });
        QVERIFY2(helper.waitForStarted(10000), qPrintable(helper.errorString()));
        QByteArray out;
        QElapsedTimer clock;
        clock.start();
        while (!out.contains("verdicts-stored\n") && helper.state() == QProcess::Running && clock.elapsed() < 120000) {
            helper.waitForReadyRead(1000);
            out += helper.readAllStandardOutput();
        }
        QVERIFY2(out.contains("verdicts-stored"), out.constData());
        QCOMPARE(helper.state(), QProcess::Running);
        helper.kill(); // SIGKILL
        QVERIFY(helper.waitForFinished(10000));
        QCOMPARE(helper.exitStatus(), QProcess::CrashExit);

        {
            auto ws = Workspace::open(m_workspace);
            QCOMPARE(
                sql::queryInt(ws->db(), "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
        }
        const QList<QStringList> bob = storedVerdicts(QStringLiteral("bob"));
        QCOMPARE(bob.size(), 5);
        // Reopened as bob: the first user (5 of 10 judged), bob's verdicts shown.
        QSignalSpy opened(m_tab.get(), &ReviewTab::queueOpened);
        m_tab->setReviewer(QStringLiteral("bob"));
        m_tab->openQueue(m_queue);
        QVERIFY(opened.wait(30000));
        QCOMPARE(m_tab->currentUser(), 0);
        QCOMPARE(itemCell(0, 8), QStringLiteral("good"));
        QCOMPARE(itemCell(1, 8), QStringLiteral("bad"));
        QCOMPARE(itemCell(2, 8), QStringLiteral("unsure"));
        QCOMPARE(itemCell(5, 8), QString());
        QVERIFY2(child<QLabel>(QStringLiteral("reviewProgressLabel"))->text().contains(QStringLiteral("5 of 400")),
            qPrintable(child<QLabel>(QStringLiteral("reviewProgressLabel"))->text()));
    }

    // alice and bob share three judged items of the first user: alice good, bad, good;
    // bob good, bad, unsure. po = 2/3; marginals alice (good 2, bad 1), bob (good 1, bad 1,
    // unsure 1): pe = (2/3)(1/3) + (1/3)(1/3) = 1/3; kappa = (2/3 - 1/3) / (2/3) = 0.5.
    void agreementAndSummary()
    {
        child<QTabWidget>(QStringLiteral("reviewPages"))->setCurrentIndex(1);
        auto* agreement = child<QTableView>(QStringLiteral("reviewAgreement"))->model();
        QCOMPARE(agreement->rowCount(), 1);
        QCOMPARE(agreement->index(0, 0).data().toString(), QStringLiteral("alice"));
        QCOMPARE(agreement->index(0, 1).data().toString(), QStringLiteral("bob"));
        QCOMPARE(agreement->index(0, 3).data().toInt(), 3);
        QCOMPARE(agreement->index(0, 5).data().toString(), QStringLiteral("0.500"));
        auto* summary = child<QTableView>(QStringLiteral("reviewSummary"))->model();
        int goodBySource = 0;
        int totalByPrompt = 0;
        for (int r = 0; r < summary->rowCount(); ++r) {
            const QString dim = summary->index(r, 0).data().toString();
            if (dim == u"source")
                goodBySource += summary->index(r, 2).data().toInt();
            if (dim == u"cold@n") {
                QCOMPARE(summary->index(r, 1).data().toString(), QStringLiteral("1"));
                totalByPrompt += summary->index(r, 2).data().toInt() + summary->index(r, 3).data().toInt()
                    + summary->index(r, 4).data().toInt();
            }
        }
        QCOMPARE(goodBySource, 2 + 2); // alice 2, bob 2 (items 1 and 4)
        QCOMPARE(totalByPrompt, 3 + 5);
        child<QTabWidget>(QStringLiteral("reviewPages"))->setCurrentIndex(0);
    }

    // The CSV export holds every verdict row with its context and reads back cell for cell.
    void exportCsvReadsBack()
    {
        const QString path = m_dir.filePath(QStringLiteral("verdicts.csv"));
        QSignalSpy exported(m_tab.get(), &ReviewTab::exported);
        m_tab->exportVerdicts(path);
        QVERIFY(exported.wait(30000));
        const std::vector<QStringList> rows = review::readCsv(path);
        QCOMPARE(rows.size(), size_t(1 + 4 + 5)); // alice: 3 verdicts and the note on the user
        const QStringList header = rows.front();
        const auto col = [&](const char* name) { return header.indexOf(QLatin1String(name)); };
        for (const char* name : { "queue", "user", "item", "title", "run", "endpoint", "prompt_version", "reviewer",
                 "verdict", "note", "time" })
            QVERIFY2(col(name) >= 0, name);
        int alice = 0;
        for (size_t i = 1; i < rows.size(); ++i) {
            const QStringList& r = rows[i];
            QCOMPARE(r.size(), header.size());
            QCOMPARE(r[col("queue")].toLongLong(), m_queue);
            QCOMPARE(r[col("endpoint")], QStringLiteral("offline"));
            QVERIFY(r[col("run")].startsWith(QStringLiteral("experiment ")));
            QVERIFY(QDateTime::fromString(r[col("time")], Qt::ISODate).isValid());
            if (r[col("reviewer")] == u"alice") {
                ++alice;
                if (r[col("note")] == u"seen 2 times")
                    QCOMPARE(r[col("verdict")], QStringLiteral("good"));
            }
        }
        QCOMPARE(alice, 4);
    }

    // A second queue (cold@3): "All queues" summarizes both, by n of cold@n.
    void summaryAcrossQueues()
    {
        child<QSpinBox>(QStringLiteral("reviewColdN"))->setValue(3);
        child<QSpinBox>(QStringLiteral("reviewSample"))->setValue(10);
        child<QLineEdit>(QStringLiteral("reviewName"))->setText(QStringLiteral("cold@3 offline"));
        QSignalSpy opened(m_tab.get(), &ReviewTab::queueOpened);
        QVERIFY(m_tab->build());
        QVERIFY(opened.wait(240000));
        QVERIFY(m_tab->currentQueue() != m_queue);
        QCOMPARE(child<QListWidget>(QStringLiteral("reviewKnown"))->count(), 3);
        m_tab->setReviewer(QStringLiteral("alice"));
        m_tab->giveVerdict(review::Verdict::Bad);
        waitStored();
        QSignalSpy updated(m_tab.get(), &ReviewTab::summaryUpdated);
        child<QCheckBox>(QStringLiteral("reviewSummaryAll"))->setChecked(true);
        QVERIFY(updated.wait(30000));
        auto* summary = child<QTableView>(QStringLiteral("reviewSummary"))->model();
        QMap<QString, QList<int>> byN;
        for (int r = 0; r < summary->rowCount(); ++r)
            if (summary->index(r, 0).data().toString() == u"cold@n")
                byN.insert(summary->index(r, 1).data().toString(),
                    { summary->index(r, 2).data().toInt(), summary->index(r, 3).data().toInt(),
                        summary->index(r, 4).data().toInt() });
        QCOMPARE(byN.value(QStringLiteral("1")), (QList<int> { 4, 3, 1 })); // alice 2/1/0 + bob 2/2/1
        QCOMPARE(byN.value(QStringLiteral("3")), (QList<int> { 0, 1, 0 }));
    }
};

QTEST_MAIN(TestReviewTab)
#include "tst_reviewtab.moc"
