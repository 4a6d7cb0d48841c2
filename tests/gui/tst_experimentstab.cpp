// The Experiments tab against the real engine on the small generated workspace: arms
// defined and validated through the widgets, the projection before firing (and a cap that
// refuses an LLM arm before any call), a two-arm offline run with its tables, charts, cost
// at scale and sample-size planner, a run canceled half way against the local test LLM
// server while the event loop keeps ticking, a stored experiment reopened without
// recomputing, and a user opened in the Compare view with the experiment's arms.
#include "common/modelstore.h"
#include "compare/comparemodel.h"
#include "compare/compareview.h"
#include "data/dataset.h"
#include "data/import/importers.h"
#include "data/workspace.h"
#include "experiments/experimentmodels.h"
#include "experiments/experimentstab.h"
#include "mainwindow.h"
#include "pipeline/experiment.h"
#include "pipeline/rerankservice.h"
#include "rerank/store.h"
#include "testllmserver.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <cmath>

using namespace recwb;
using namespace recwb::ui;

class TestExperimentsTab : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_workspace;
    test::TestLlmServer m_server;
    std::unique_ptr<QSettings> m_settings;
    std::unique_ptr<MainWindow> m_window;
    qint64 m_finishedId = 0; // the offline experiment of run()

    ExperimentsTab* tab() const { return m_window->experimentsTab(); }

    template <typename T> T* child(const QString& name) const
    {
        auto* w = tab()->findChild<T*>(name);
        if (!w)
            qFatal("no child %s", qPrintable(name));
        return w;
    }

    QString text(const QString& label) const { return child<QLabel>(label)->text(); }

    void setArm(int index, const QString& name, const QString& spec)
    {
        child<QLineEdit>(QStringLiteral("experimentArmName%1").arg(index))->setText(name);
        child<QLineEdit>(QStringLiteral("experimentArmSpec%1").arg(index))->setText(spec);
    }

    // Waits for the projection of the current definition (it is debounced and async).
    bool waitProjection()
    {
        QSignalSpy spy(tab(), &ExperimentsTab::projectionUpdated);
        return spy.wait(30000);
    }

    static QString cell(const QAbstractItemModel* m, int row, int column)
    {
        return m->index(row, column).data().toString();
    }

private slots:
    void initTestCase()
    {
        qputenv("RECWB_TEST_FAKE_KEY", "sk-fake-experimentstab-1");
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_workspace = m_dir.filePath(QStringLiteral("small.recwb"));
        test::generateSmallWorkspace(m_workspace);
        {
            auto ws = Workspace::open(m_workspace);
            rerank::EndpointProfile e;
            e.name = QStringLiteral("test");
            e.baseUrl = m_server.openAiBaseUrl();
            e.model = QStringLiteral("gpt-test");
            e.timeoutMs = 10000;
            e.maxRetries = 0;
            e.keyEnv = QStringLiteral("RECWB_TEST_FAKE_KEY");
            e.prices.input = 0.4;
            e.prices.cachedInput = 0.1;
            e.prices.output = 1.6;
            rerank::store::upsertEndpoint(*ws, e);
            e.name = QStringLiteral("down"); // answers every call with 503 (its own circuit breaker)
            e.model = QStringLiteral("gpt-test[[fault:http503]]");
            rerank::store::upsertEndpoint(*ws, e);
        }
        m_settings = std::make_unique<QSettings>(m_dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        m_window = std::make_unique<MainWindow>(*m_settings);
        m_window->resize(1400, 900);
        m_window->show();
        QSignalSpy loaded(m_window.get(), &MainWindow::workspaceLoaded);
        QSignalSpy history(tab(), &ExperimentsTab::historyLoaded);
        m_window->openWorkspace(m_workspace);
        QVERIFY(loaded.wait(60000));
        QVERIFY(history.count() > 0 || history.wait(30000));
        m_window->tabs()->setCurrentWidget(tab());
        for (const char* name :
            { "experimentFigures", "experimentPairs", "experimentUsers", "experimentHistory", "experimentScale" })
            new QAbstractItemModelTester(child<QTableView>(QLatin1String(name))->model(),
                QAbstractItemModelTester::FailureReportingMode::QtTest, tab());
    }

    void cleanupTestCase() { m_window.reset(); }

    // Arms are validated through ExperimentArm::parse as they are typed; names must be unique.
    void defineArms()
    {
        QCOMPARE(tab()->armCount(), 2);
        child<QPushButton>(QStringLiteral("experimentAddArm"))->click();
        QCOMPARE(tab()->armCount(), 3);
        QCOMPARE(child<QLineEdit>(QStringLiteral("experimentArmName2"))->text(), QStringLiteral("C"));
        setArm(2, QStringLiteral("C"), QStringLiteral("cf=ease,rerank=offline,bogus=1"));
        auto* error = child<QLabel>(QStringLiteral("experimentArmError2"));
        QVERIFY(!error->isHidden());
        QVERIFY2(error->text().contains(QStringLiteral("bogus")), qPrintable(error->text()));
        setArm(2, QStringLiteral("A"), QStringLiteral("cf=pop"));
        QVERIFY2(error->text().contains(QStringLiteral("taken")), qPrintable(error->text()));
        QVERIFY(!tab()->run()); // refused, with the reason on the status line
        QVERIFY(text(QStringLiteral("experimentStatus")).contains(QStringLiteral("taken")));
        setArm(2, QStringLiteral("C"), QStringLiteral("cf=pop"));
        QVERIFY(error->isHidden());
        child<QPushButton>(QStringLiteral("experimentArmRemove2"))->click();
        QCOMPARE(tab()->armCount(), 2);
        const pipeline::ExperimentSpec s = tab()->spec();
        QCOMPARE(s.arms.size(), size_t(2));
        QCOMPARE(s.arms[1].spec.rerank, QStringLiteral("offline"));
        QCOMPARE(s.split, QStringLiteral("strat75"));
    }

    // Before firing: offline arms make no call; an LLM arm over the cap is refused before any call.
    void projectionAndCap()
    {
        setArm(0, QStringLiteral("A"), QStringLiteral("cf=ease"));
        setArm(1, QStringLiteral("B"), QStringLiteral("cf=ease,rerank=test"));
        child<QDoubleSpinBox>(QStringLiteral("experimentMaxCost"))->setValue(0.01);
        QVERIFY(waitProjection());
        QVERIFY(tab()->projection());
        const pipeline::ExperimentProjection& p = *tab()->projection();
        QVERIFY(p.users > 0);
        QCOMPARE(p.calls, p.users); // every cohort user of B, once
        QVERIFY(p.usd && *p.usd > 0.01);
        const QString label = text(QStringLiteral("experimentProjection"));
        QVERIFY2(label.contains(QStringLiteral("Refused")), qPrintable(label));
        m_server.resetCounters();
        QVERIFY(!tab()->run());
        QVERIFY(text(QStringLiteral("experimentStatus")).contains(QStringLiteral("Refused before any call")));
        QTest::qWait(200);
        QCOMPARE(m_server.requestCount(), 0);

        setArm(1, QStringLiteral("B"), QStringLiteral("cf=ease,rerank=offline"));
        child<QDoubleSpinBox>(QStringLiteral("experimentMaxCost"))->setValue(0);
        QVERIFY(waitProjection());
        QCOMPARE(tab()->projection()->calls, 0);
        QVERIFY(!text(QStringLiteral("experimentProjection")).contains(QStringLiteral("Refused")));
    }

    // Two offline arms on strat75, K 10 and 20: results per arm and cohort, the paired row,
    // charts, the cost at scale and the sample size.
    void runTwoOfflineArms()
    {
        child<QLineEdit>(QStringLiteral("experimentKs"))->setText(QStringLiteral("10, 20"));
        child<QLineEdit>(QStringLiteral("experimentName"))->setText(QStringLiteral("offline <vs> CF"));
        QSignalSpy finished(tab(), &ExperimentsTab::experimentFinished);
        QSignalSpy charts(tab(), &ExperimentsTab::chartsUpdated);
        QVERIFY(tab()->run());
        QVERIFY(!child<QPushButton>(QStringLiteral("experimentRun"))->isEnabled());
        QVERIFY2(finished.wait(120000), qPrintable(text(QStringLiteral("experimentStatus"))));
        QVERIFY(tab()->result());
        const pipeline::ExperimentResult& r = *tab()->result();
        m_finishedId = r.id;
        QVERIFY(r.id > 0);
        QCOMPARE(r.status, QStringLiteral("finished"));
        QCOMPARE(r.spec.ks, (std::vector<int> { 10, 20 }));
        QVERIFY(r.users.size() > 50);
        QCOMPARE(r.rows.size(), size_t(2) * static_cast<size_t>(r.users.size()));

        // The figures table shows each arm x cohort with the engine's figures.
        const QAbstractItemModel* figures = child<QTableView>(QStringLiteral("experimentFigures"))->model();
        QCOMPARE(figures->rowCount(), static_cast<int>(r.figures.size()));
        QVERIFY(figures->rowCount() >= 4); // 2 arms x (cohort, cold, warm, ...)
        int ndcg10 = -1;
        for (int c = 0; c < figures->columnCount(); ++c)
            if (figures->headerData(c, Qt::Horizontal).toString() == u"NDCG@10")
                ndcg10 = c;
        QVERIFY(ndcg10 > 0);
        bool sawA = false;
        for (int row = 0; row < figures->rowCount(); ++row) {
            const QModelIndex arm = figures->index(row, 0);
            const QString cohort = cell(figures, row, 1);
            const pipeline::ArmFigures* f = r.figuresFor(arm.data().toString(), cohort);
            QVERIFY(f);
            QCOMPARE(figures->index(row, ndcg10).data(Qt::DisplayRole).toString(),
                QString::number(f->mean[0][static_cast<size_t>(eval::Metric::NDCG)], 'f', 4));
            if (arm.data().toString() == u"A" && cohort == u"cohort") {
                sawA = true;
                // the figure is the mean of the stored per-user NDCG@10 of arm A
                double sum = 0;
                int n = 0;
                for (const pipeline::UserRow& u : r.rows)
                    if (u.arm == u"A") {
                        sum += u.metric(eval::Metric::NDCG, 0);
                        ++n;
                    }
                QCOMPARE(n, f->users);
                QVERIFY(std::abs(sum / n - f->mean[0][static_cast<size_t>(eval::Metric::NDCG)]) < 1e-9);
            }
        }
        QVERIFY(sawA);

        // The paired comparison B against A on NDCG@10: interval around the mean difference,
        // the verdict from the interval.
        const QAbstractItemModel* pairs = child<QTableView>(QStringLiteral("experimentPairs"))->model();
        QVERIFY(pairs->rowCount() >= 1);
        int pairRow = -1;
        for (int row = 0; row < pairs->rowCount(); ++row)
            if (cell(pairs, row, ExperimentPairsModel::Arms) == u"B vs A"
                && cell(pairs, row, ExperimentPairsModel::Metric) == u"ndcg@10")
                pairRow = row;
        QVERIFY(pairRow >= 0);
        const double low = pairs->index(pairRow, ExperimentPairsModel::CiLow).data(SortRole).toDouble();
        const double high = pairs->index(pairRow, ExperimentPairsModel::CiHigh).data(SortRole).toDouble();
        const double diff = pairs->index(pairRow, ExperimentPairsModel::Diff).data(SortRole).toDouble();
        QVERIFY(low <= diff && diff <= high);
        const QString verdict = cell(pairs, pairRow, ExperimentPairsModel::Verdict);
        if (low > 0)
            QVERIFY2(verdict.contains(QStringLiteral("B beats A")), qPrintable(verdict));
        else if (high < 0)
            QVERIFY2(verdict.contains(QStringLiteral("A beats B")), qPrintable(verdict));
        else
            QVERIFY2(verdict.contains(QStringLiteral("no significant")), qPrintable(verdict));

        // Users: one row per cohort user.
        QCOMPARE(child<QTableView>(QStringLiteral("experimentUsers"))->model()->rowCount(),
            static_cast<int>(r.users.size()));
        QVERIFY(text(QStringLiteral("experimentSummary")).contains(QStringLiteral("offline &lt;vs&gt; CF")));

        // Charts: bars + one whisker per arm; a point per arm; the latency histogram.
        QVERIFY(charts.count() > 0 || charts.wait(30000));
        QCOMPARE(child<QChartView>(QStringLiteral("experimentMetricChart"))->chart()->series().size(), 3);
        QCOMPARE(child<QChartView>(QStringLiteral("experimentCostChart"))->chart()->series().size(), 2);
        QCOMPARE(child<QChartView>(QStringLiteral("experimentLatencyChart"))->chart()->series().size(), 1);

        // Cost at scale: no LLM arm, so estimated at the test endpoint's prices; the batch
        // discount halves every cost.
        const QAbstractItemModel* scale = child<QTableView>(QStringLiteral("experimentScale"))->model();
        QCOMPARE(scale->rowCount(), 5 * 4);
        QVERIFY(text(QStringLiteral("experimentScaleBasis")).contains(QStringLiteral("Estimated")));
        const int last = scale->rowCount() - 2; // 10M users, hybrid for everyone
        QCOMPARE(cell(scale, last, ProjectionModel::Scenario), QStringLiteral("Hybrid for everyone"));
        const double before = scale->index(last, ProjectionModel::PerMonth).data(SortRole).toDouble();
        QVERIFY2(before > 0,
            qPrintable(cell(scale, last, ProjectionModel::PerMonth) + u' ' + cell(scale, last, ProjectionModel::PerCall)
                + u' ' + cell(scale, last, ProjectionModel::CallsPerDay) + u' '
                + text(QStringLiteral("experimentScaleBasis"))));
        child<QDoubleSpinBox>(QStringLiteral("experimentBatchDiscount"))->setValue(50);
        QVERIFY(std::abs(scale->index(last, ProjectionModel::PerMonth).data(SortRole).toDouble() - before / 2)
            < 1e-6 * before);
        QCOMPARE(scale->index(0, ProjectionModel::PerDay).data(SortRole).toDouble(), 0.0); // CF only
        // The cascade offline -> test, 10 % escalated, at the estimate of 5,000 input and 800
        // output tokens with the batch discount: c2 = (5000 x 0.4 + 800 x 1.6) / 1e6 x 0.5
        // = $0.00164, so c1 + p c2 = 0 + 0.1 x 0.00164 = $0.000164 per user.
        auto* small = child<QComboBox>(QStringLiteral("experimentCascadeSmall"));
        auto* large = child<QComboBox>(QStringLiteral("experimentCascadeLarge"));
        small->setCurrentIndex(small->findText(QStringLiteral("offline")));
        large->setCurrentIndex(large->findText(QStringLiteral("test")));
        child<QDoubleSpinBox>(QStringLiteral("experimentEscalation"))->setValue(10);
        QVERIFY2(text(QStringLiteral("experimentCascade")).contains(QStringLiteral("<b>$0.000164</b> per user")),
            qPrintable(text(QStringLiteral("experimentCascade"))));

        // Sample size: prefilled from arm A's HR@10 and the measured difference.
        const pipeline::ArmFigures* a = r.figuresFor(QStringLiteral("A"));
        QVERIFY(std::abs(child<QDoubleSpinBox>(QStringLiteral("experimentBaseline"))->value()
                    - a->mean[0][static_cast<size_t>(eval::Metric::HR)])
            < 1e-4);
        child<QDoubleSpinBox>(QStringLiteral("experimentBaseline"))->setValue(0.2);
        child<QDoubleSpinBox>(QStringLiteral("experimentEffect"))->setValue(0.05);
        QVERIFY2(text(QStringLiteral("experimentSampleSize")).contains(QLocale().toString(1094)),
            qPrintable(text(QStringLiteral("experimentSampleSize"))));
        child<QDoubleSpinBox>(QStringLiteral("experimentEffect"))->setValue(0);
        QVERIFY(text(QStringLiteral("experimentSampleSize")).contains(QStringLiteral("effect is 0")));
    }

    // An LLM arm against a slow server, canceled after the first rows: the run stops, what
    // finished is kept, and the event loop never stalls long meanwhile.
    void cancelMidway()
    {
        setArm(0, QStringLiteral("A"), QStringLiteral("cf=ease"));
        setArm(1, QStringLiteral("B"), QStringLiteral("cf=ease,rerank=test"));
        child<QSpinBox>(QStringLiteral("experimentSample"))->setValue(96);
        child<QLineEdit>(QStringLiteral("experimentKs"))->setText(QStringLiteral("10"));
        QVERIFY(waitProjection());
        m_server.setFault(QStringLiteral("delay:150"));
        m_server.resetCounters();
        QSignalSpy finished(tab(), &ExperimentsTab::experimentFinished);
        test::EventLoopStallProbe probe;
        QVERIFY(tab()->run());
        // Cancel once B's first calls are on the wire.
        QTRY_VERIFY_WITH_TIMEOUT(m_server.requestCount() > 0, 60000);
        child<QPushButton>(QStringLiteral("experimentCancel"))->click();
        QVERIFY2(finished.wait(60000), qPrintable(text(QStringLiteral("experimentStatus"))));
        m_server.setFault(QString());
        qInfo("worst event-loop stall while running and canceling: %.1f ms", probe.worstMs());
        QVERIFY2(probe.worstMs() < test::stallBoundMs(250), qPrintable(QString::number(probe.worstMs())));
        const pipeline::ExperimentResult& r = *tab()->result();
        QCOMPARE(r.status, QStringLiteral("canceled"));
        QVERIFY(r.rows.size() < 2 * static_cast<size_t>(r.users.size()));
        QVERIFY(m_server.requestCount() < r.users.size());
        QVERIFY(text(QStringLiteral("experimentStatus")).contains(QStringLiteral("canceled")));
        QVERIFY(child<QPushButton>(QStringLiteral("experimentRun"))->isEnabled());
        child<QSpinBox>(QStringLiteral("experimentSample"))->setValue(0);
    }

    // An endpoint that is down: five failed calls open its breaker, and the run pauses for
    // the probe instead of giving the rest of the cohort the CF order; the status line says
    // so and which endpoint. Cancel still works while it waits.
    void pausesAtAnOpenBreaker()
    {
        setArm(0, QStringLiteral("A"), QStringLiteral("cf=ease"));
        setArm(1, QStringLiteral("B"), QStringLiteral("cf=ease,rerank=down"));
        child<QSpinBox>(QStringLiteral("experimentSample"))->setValue(64);
        child<QLineEdit>(QStringLiteral("experimentKs"))->setText(QStringLiteral("10"));
        QVERIFY(waitProjection());
        m_server.resetCounters();
        QSignalSpy finished(tab(), &ExperimentsTab::experimentFinished);
        QVERIFY(tab()->run());
        QTRY_VERIFY_WITH_TIMEOUT(text(QStringLiteral("experimentStatus")).startsWith(QStringLiteral("Paused:")), 60000);
        const QString status = text(QStringLiteral("experimentStatus"));
        QVERIFY2(status.contains(QStringLiteral("'down'")) && status.contains(QStringLiteral("circuit breaker open")),
            qPrintable(status));
        QTest::qWait(200); // requests sent just before the breaker opened reach the server
        const int sent = m_server.requestCount();
        QTest::qWait(300);
        QCOMPARE(m_server.requestCount(), sent); // nothing is sent while it waits
        if (const QString dir = qEnvironmentVariable("RECWB_SCREENSHOT_DIR"); !dir.isEmpty())
            m_window->grab().save(dir + QStringLiteral("/experiments-paused.png"));
        child<QPushButton>(QStringLiteral("experimentCancel"))->click();
        QVERIFY2(finished.wait(60000), qPrintable(text(QStringLiteral("experimentStatus"))));
        QCOMPARE(tab()->result()->status, QStringLiteral("canceled"));
        QVERIFY(text(QStringLiteral("experimentStatus")).contains(QStringLiteral("canceled")));
        child<QSpinBox>(QStringLiteral("experimentSample"))->setValue(0);
    }

    // The stored offline experiment reopens from the list: the same figures, read back
    // without a single rerank job or LLM call.
    void reopenWithoutRecomputing()
    {
        QVERIFY(m_finishedId > 0);
        QSignalSpy history(tab(), &ExperimentsTab::historyLoaded);
        tab()->refreshHistory();
        QVERIFY(history.wait(30000));
        auto* view = child<QTableView>(QStringLiteral("experimentHistory"));
        const QAbstractItemModel* list = view->model();
        QVERIFY(list->rowCount() >= 1);
        int row = -1;
        for (int i = 0; i < list->rowCount(); ++i)
            if (list->index(i, ExperimentListModel::Id).data().toLongLong() == m_finishedId)
                row = i;
        QVERIFY(row >= 0);
        // Show something else first, so the reopened figures really come from the store.
        tab()->setWorkspace(m_workspace, m_window->dataset());
        QVERIFY(!tab()->result());
        QVERIFY(history.wait(30000));
        m_server.resetCounters();
        QSignalSpy opened(tab(), &ExperimentsTab::experimentOpened);
        view->scrollTo(list->index(row, 1));
        view->selectRow(row);
        const QPoint at = view->visualRect(list->index(row, 1)).center();
        QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, at); // a double click starts with a click
        QTest::mouseDClick(view->viewport(), Qt::LeftButton, {}, at);
        QVERIFY2(opened.wait(30000),
            qPrintable(QStringLiteral("%1; viewport %2x%3, row rect y %4")
                           .arg(text(QStringLiteral("experimentStatus")))
                           .arg(view->viewport()->width())
                           .arg(view->viewport()->height())
                           .arg(view->visualRect(list->index(row, 1)).y())));
        QCOMPARE(opened.first().first().toLongLong(), m_finishedId);
        QVERIFY(!tab()->isRunning());
        QCOMPARE(m_window->modelStore()->rerankService()->runningJobs(), 0);
        QCOMPARE(m_server.requestCount(), 0);
        const pipeline::ExperimentResult& r = *tab()->result();
        QCOMPARE(r.id, m_finishedId);
        QCOMPARE(r.status, QStringLiteral("finished"));
        QCOMPARE(r.rows.size(), 2 * static_cast<size_t>(r.users.size()));
        QVERIFY(text(QStringLiteral("experimentStatus")).contains(QStringLiteral("nothing recomputed")));
        QCOMPARE(child<QTableView>(QStringLiteral("experimentFigures"))->model()->rowCount(),
            static_cast<int>(r.figures.size()));
    }

    // A double-click on a user opens the Compare view with the experiment's arms and split.
    void openUserInCompare()
    {
        QVERIFY(tab()->result());
        const pipeline::ExperimentResult& r = *tab()->result();
        auto* users = child<QTableView>(QStringLiteral("experimentUsers"));
        child<QTabWidget>(QStringLiteral("experimentResults"))->setCurrentIndex(1);
        const QModelIndex first = users->model()->index(0, 0);
        const QString userId = first.data().toString();
        QVERIFY(!userId.isEmpty());
        users->selectRow(0);
        QTest::mouseClick(users->viewport(), Qt::LeftButton, {}, users->visualRect(first).center());
        QTest::mouseDClick(users->viewport(), Qt::LeftButton, {}, users->visualRect(first).center());
        CompareView* compare = m_window->compareView();
        QTRY_COMPARE(m_window->tabs()->currentWidget(), compare);
        QCOMPARE(compare->findChild<QLineEdit*>(QStringLiteral("compareUser"))->text(), userId);
        QCOMPARE(compare->columnCount(), 2);
        QCOMPARE(
            compare->findChild<QComboBox*>(QStringLiteral("compareSplit"))->currentData().toString(), r.spec.split);
        QCOMPARE(compare->findChild<QSpinBox*>(QStringLiteral("compareSeed"))->value(), static_cast<int>(r.spec.seed));
        QCOMPARE(compare->column(0)->arm().cf, QStringLiteral("ease"));
        QCOMPARE(compare->column(0)->arm().rerank, QStringLiteral("none"));
        QCOMPARE(compare->column(1)->arm().rerank, QStringLiteral("offline"));
        QCOMPARE(compare->column(1)->arm().label, QStringLiteral("B"));
        QSignalSpy done(compare, &CompareView::comparisonFinished);
        QVERIFY(compare->run());
        QVERIFY(done.wait(60000));
        QVERIFY(compare->model()->rowCount() >= 10);
        m_window->tabs()->setCurrentWidget(tab());
    }

    // ML-100K strat75, three arms from the tab (EASE, EASE + offline, EASE + the local test
    // LLM server) on a seeded sample of 48 users: every user x arm stored as it finished,
    // one LLM call per user of the LLM arm, and the stored experiment reads back the same.
    void movieLens100kThreeArms()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        const QString path = m_dir.filePath(QStringLiteral("ml100k.recwb"));
        std::shared_ptr<const Dataset> ds;
        {
            auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
            importMovieLens100k(*ws, test::sharedData(QStringLiteral("ml-100k")));
            rerank::EndpointProfile e;
            e.name = QStringLiteral("test");
            e.baseUrl = m_server.openAiBaseUrl();
            e.model = QStringLiteral("gpt-test");
            e.maxRetries = 0;
            e.keyEnv = QStringLiteral("RECWB_TEST_FAKE_KEY");
            e.prices = { 0.4, 0.1, std::nullopt, 1.6, {} };
            rerank::store::upsertEndpoint(*ws, e);
            ds = std::make_shared<const Dataset>(ws->load());
        }
        ModelStore store;
        store.setWorkspace(path, ds);
        ExperimentsTab view(&store);
        view.resize(1400, 900);
        view.show();
        QSignalSpy history(&view, &ExperimentsTab::historyLoaded);
        view.setWorkspace(path, ds);
        QVERIFY(history.wait(30000));
        view.addArm();
        const QStringList specs { QStringLiteral("cf=ease"), QStringLiteral("cf=ease,rerank=offline"),
            QStringLiteral("cf=ease,rerank=test") };
        for (int i = 0; i < 3; ++i)
            view.findChild<QLineEdit*>(QStringLiteral("experimentArmSpec%1").arg(i))->setText(specs[i]);
        view.findChild<QSpinBox*>(QStringLiteral("experimentSample"))->setValue(48);
        QSignalSpy projected(&view, &ExperimentsTab::projectionUpdated);
        QVERIFY(projected.wait(30000));
        QVERIFY(view.projection());
        QCOMPARE(view.projection()->users, 48);
        QCOMPARE(view.projection()->calls, 48);
        m_server.resetCounters();
        QSignalSpy finished(&view, &ExperimentsTab::experimentFinished);
        auto* runButton = view.findChild<QPushButton*>(QStringLiteral("experimentRun"));
        QVERIFY(runButton && runButton->isEnabled());
        QTest::mouseClick(runButton, Qt::LeftButton);
        QVERIFY2(
            finished.wait(180000), qPrintable(view.findChild<QLabel*>(QStringLiteral("experimentStatus"))->text()));
        const pipeline::ExperimentResult r = *view.result();
        QCOMPARE(r.status, QStringLiteral("finished"));
        QCOMPARE(r.spec.split, QStringLiteral("strat75"));
        QCOMPARE(r.users.size(), 48);
        QCOMPARE(r.rows.size(), size_t(3 * 48));
        QCOMPARE(m_server.requestCount(QStringLiteral("/v1/chat/completions")), 48);
        const pipeline::ArmFigures* c = r.figuresFor(QStringLiteral("C"));
        QVERIFY(c);
        QCOMPARE(c->llmShare, 1.0);
        QVERIFY(c->tokensIn > 0 && c->costKnown && c->costUsd > 0);
        QCOMPARE(r.figuresFor(QStringLiteral("A"))->calls, 0);
        // Two comparisons per metric@K: B and C against A.
        QVERIFY(r.comparison(QStringLiteral("A"), QStringLiteral("C"), QStringLiteral("ndcg@10")));
        // The cost at scale now comes from C's measured tokens.
        QVERIFY2(view.findChild<QLabel*>(QStringLiteral("experimentScaleBasis"))
                     ->text()
                     .contains(QStringLiteral("measured")),
            qPrintable(view.findChild<QLabel*>(QStringLiteral("experimentScaleBasis"))->text()));
        // Stored per user and arm: the store reads the same lists back.
        const auto ws = Workspace::open(path);
        const pipeline::ExperimentResult stored = pipeline::experimentstore::load(*ws, r.id, ds.get());
        QCOMPARE(stored.rows.size(), r.rows.size());
        for (const pipeline::UserRow& row : r.rows) {
            const auto it = std::find_if(stored.rows.begin(), stored.rows.end(), [&](const pipeline::UserRow& s) {
                return s.arm == row.arm && s.userId == row.userId && s.repeat == row.repeat;
            });
            QVERIFY(it != stored.rows.end());
            QCOMPARE(it->items, row.items);
        }
    }

    // The report of the shown experiment: HTML with escaped text, CSV and JSON.
    void exportReport()
    {
        QVERIFY(tab()->result());
        QSignalSpy written(tab(), &ExperimentsTab::reportWritten);
        const QString html = m_dir.filePath(QStringLiteral("report.html"));
        tab()->exportReport(html);
        QVERIFY(written.wait(30000));
        QFile f(html);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString page = QString::fromUtf8(f.readAll());
        QVERIFY(page.contains(QStringLiteral("offline &lt;vs&gt; CF")));
        QVERIFY(!page.contains(QStringLiteral("offline <vs> CF")));
        QVERIFY(page.contains(QStringLiteral("<svg")));
        QVERIFY(page.contains(QStringLiteral("Hybrid for everyone")));
    }
};

QTEST_MAIN(TestExperimentsTab)
#include "tst_experimentstab.moc"
