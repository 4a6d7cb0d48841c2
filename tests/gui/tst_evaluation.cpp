#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "data/workspace.h"
#include "eval/evaluator.h"
#include "evaluation/evalresultsmodel.h"
#include "evaluation/evaluationtab.h"
#include "mainwindow.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QLabel>
#include <QLineSeries>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTableView>
#include <memory>

using namespace recwb;
using namespace recwb::ui;

class TestEvaluation : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_workspace;
    std::unique_ptr<QSettings> m_settings;

    std::unique_ptr<MainWindow> openWindow()
    {
        auto window = std::make_unique<MainWindow>(*m_settings);
        EvaluationTab* tab = window->evaluationTab();
        for (QAbstractItemModel* model :
            { static_cast<QAbstractItemModel*>(tab->model()), static_cast<QAbstractItemModel*>(tab->proxy()) })
            new QAbstractItemModelTester(model, QAbstractItemModelTester::FailureReportingMode::QtTest, window.get());
        window->resize(1280, 800);
        window->show();
        QSignalSpy loaded(window.get(), &MainWindow::workspaceLoaded);
        window->openWorkspace(m_workspace);
        if (!loaded.wait(60000))
            return nullptr;
        window->tabs()->setCurrentWidget(tab);
        return window;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_settings = std::make_unique<QSettings>(m_dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
        m_workspace = m_dir.filePath(QStringLiteral("eval.recwb"));
        test::generateSmallWorkspace(m_workspace);
    }

    void protocolShownBeforeRun()
    {
        auto window = openWindow();
        QVERIFY(window);
        EvaluationTab* tab = window->evaluationTab();
        QVERIFY(tab->setSplit(QStringLiteral("strat75")));
        tab->setSeed(7);
        tab->setKs(QStringLiteral("20, 10"));
        const QString text = tab->protocolLabel()->text();
        QVERIFY2(text.contains(QStringLiteral("strat75")) && text.contains(QStringLiteral("seed 7")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("10, 20")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("eval.recwb")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("200 users")), qPrintable(text));
    }

    void invalidInputsAreRefused()
    {
        auto window = openWindow();
        QVERIFY(window);
        EvaluationTab* tab = window->evaluationTab();
        tab->setKs(QStringLiteral("10, x"));
        QVERIFY(!tab->run());
        QVERIFY(!tab->statusLabel()->text().isEmpty());
        tab->setKs(QStringLiteral("10"));
        tab->setModels({});
        QVERIFY(!tab->run());
        QVERIFY(!tab->isRunning());
    }

    void easeBeatsPopOnRatio()
    {
        auto window = openWindow();
        QVERIFY(window);
        EvaluationTab* tab = window->evaluationTab();
        QVERIFY(tab->setSplit(QStringLiteral("ratio")));
        tab->setKs(QStringLiteral("10"));
        tab->setModels({ QStringLiteral("pop"), QStringLiteral("ease"), QStringLiteral("coldstart") });
        QSignalSpy arrived(tab, &EvaluationTab::resultArrived);
        QSignalSpy finished(tab, &EvaluationTab::runFinished);
        QVERIFY(tab->run());
        QVERIFY(tab->isRunning());
        QVERIFY(finished.wait(120000));
        QVERIFY2(
            tab->statusLabel()->text().startsWith(QStringLiteral("Finished")), qPrintable(tab->statusLabel()->text()));
        // Results arrived one model at a time, in the order listed.
        QCOMPARE(arrived.count(), 3);
        QCOMPARE(arrived.at(0).first().toString(), QStringLiteral("pop"));
        QCOMPARE(arrived.at(1).first().toString(), QStringLiteral("ease"));
        QCOMPARE(arrived.at(2).first().toString(), QStringLiteral("coldstart"));

        const QAbstractItemModel* table = tab->view()->model();
        QCOMPARE(table->rowCount(), 3);
        QCOMPARE(table->headerData(EvalResultsModel::NDCG, Qt::Horizontal).toString(), QStringLiteral("NDCG@10"));
        const auto rowOf = [table](const QString& model) {
            for (int r = 0; r < table->rowCount(); ++r)
                if (table->index(r, EvalResultsModel::Model).data().toString() == model)
                    return r;
            return -1;
        };
        const int pop = rowOf(QStringLiteral("pop"));
        const int ease = rowOf(QStringLiteral("ease"));
        QVERIFY(pop >= 0 && ease >= 0);
        const double popNdcg = table->index(pop, EvalResultsModel::NDCG).data(SortRole).toDouble();
        const double easeNdcg = table->index(ease, EvalResultsModel::NDCG).data(SortRole).toDouble();
        QVERIFY2(easeNdcg > popNdcg, qPrintable(QStringLiteral("ease %1 vs pop %2").arg(easeNdcg).arg(popNdcg)));
        const int users = table->index(ease, EvalResultsModel::Users).data(SortRole).toInt();
        QVERIFY(users > 100);

        // The protocol names the split, the dataset, K and the users averaged over.
        const QString protocol = tab->protocolLabel()->text();
        QVERIFY2(protocol.contains(QStringLiteral("ratio")), qPrintable(protocol));
        QVERIFY2(protocol.contains(QStringLiteral("%1 evaluated").arg(users)), qPrintable(protocol));
        QVERIFY2(protocol.contains(QStringLiteral("eval.recwb")), qPrintable(protocol));

        // The chart: one bar per model plus an error bar each.
        QChart* chart = tab->chartView()->chart();
        QTRY_VERIFY(chart->series().size() == 4);
        const auto* bars = qobject_cast<QBarSeries*>(chart->series().first());
        QVERIFY(bars);
        QCOMPARE(bars->barSets().first()->count(), 3);
        QVERIFY(qobject_cast<QLineSeries*>(chart->series().last()));
        QVERIFY(chart->title().contains(QStringLiteral("95 %")));

        // Cohorts: "cold"/"warm" and train-count buckets, from EvalResult::cohorts.
        QComboBox* cohorts = tab->cohortCombo();
        QVERIFY(cohorts->count() >= 2);
        QVERIFY(tab->setCohort(QStringLiteral("warm")));
        const int warmUsers = table->index(ease, EvalResultsModel::Users).data(SortRole).toInt();
        QVERIFY(warmUsers > 0 && warmUsers <= users);
        QCOMPARE(table->index(ease, EvalResultsModel::Coverage).data().toString(), QStringLiteral("—"));
        QVERIFY(tab->setCohort(QStringLiteral("all")));
        QCOMPARE(table->index(ease, EvalResultsModel::Users).data(SortRole).toInt(), users);

        // Paired comparison: B = ease against A = pop.
        QSignalSpy compared(tab, &EvaluationTab::comparisonFinished);
        QVERIFY(tab->compare(QStringLiteral("pop"), QStringLiteral("ease")));
        QVERIFY(compared.wait(30000));
        const QString verdict = tab->compareLabel()->text();
        QVERIFY2(verdict.contains(QStringLiteral("95 % CI")) && verdict.contains(QStringLiteral("Wilcoxon")),
            qPrintable(verdict));
        QVERIFY2(verdict.contains(QStringLiteral("ease beats pop")), qPrintable(verdict));
    }

    void cancelStopsTheRun()
    {
        auto window = openWindow();
        QVERIFY(window);
        EvaluationTab* tab = window->evaluationTab();
        QVERIFY(tab->setSplit(QStringLiteral("loo")));
        tab->setModels({ QStringLiteral("ials"), QStringLiteral("bpr"), QStringLiteral("ease") });
        QSignalSpy canceled(tab, &EvaluationTab::runCanceled);
        QSignalSpy finished(tab, &EvaluationTab::runFinished);
        QVERIFY(tab->run());
        tab->cancel();
        QTRY_VERIFY_WITH_TIMEOUT(!tab->isRunning(), 60000);
        QCOMPARE(canceled.count() + finished.count(), 1);
        if (canceled.count() == 1)
            QVERIFY(tab->model()->rowCount() < 3);
        // A new run after a cancel works.
        tab->setModels({ QStringLiteral("pop") });
        QVERIFY(tab->run());
        QTRY_VERIFY_WITH_TIMEOUT(!tab->isRunning(), 60000);
        QCOMPARE(tab->model()->rowCount(), 1);
    }
};

QTEST_MAIN(TestEvaluation)
#include "tst_evaluation.moc"
