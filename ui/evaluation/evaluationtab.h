#pragma once

#include <QFuture>
#include <QWidget>
#include <memory>

class QChart;
class QChartView;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableView;

namespace recwb {
class Dataset;
namespace eval {
    struct EvalResult;
}
} // namespace recwb

namespace recwb::ui {

class EvalResultsModel;
class TableFilterProxy;
struct EvalStep;

// Offline evaluation (docs/EVALUATION.md): a split built once, models evaluated one after
// another on a worker, each result appended to the table as it arrives; a bar chart of a
// metric per model with 95 % bootstrap intervals; a paired comparison of two models. The
// protocol (split, dataset, K, users) is always shown above the table.
class EvaluationTab final : public QWidget {
    Q_OBJECT

public:
    explicit EvaluationTab(QWidget* parent = nullptr);
    ~EvaluationTab() override;

    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);

    // "loo", "ratio", "strat75", "cold@0", ...
    bool setSplit(const QString& name);
    void setSeed(quint64 seed);
    void setKs(const QString& text);
    // Checks exactly these models in the list.
    void setModels(const QStringList& models);
    QStringList checkedModels() const;

    bool run(); // false (with the reason in the status line) when the inputs are invalid
    void cancel();
    bool isRunning() const { return m_running; }
    // Chooses the metric of the chart and of the comparison: "hr", "recall", "ndcg", ...
    bool setChartMetric(const QString& metric);
    bool setDisplayK(int k);
    bool setCohort(const QString& name); // "all" or a cohort name
    bool compare(const QString& a, const QString& b);

    QLabel* protocolLabel() const { return m_protocol; }
    QLabel* statusLabel() const { return m_status; }
    QLabel* compareLabel() const { return m_compareResult; }
    QTableView* view() const { return m_view; }
    EvalResultsModel* model() const { return m_model; }
    TableFilterProxy* proxy() const { return m_proxy; }
    QChartView* chartView() const { return m_chartView; }
    QComboBox* cohortCombo() const { return m_cohort; }
    QComboBox* kCombo() const { return m_showK; }

signals:
    void resultArrived(const QString& model);
    void runFinished(); // completed or failed: every result that will come has come
    void runCanceled();
    void chartUpdated();
    void comparisonFinished(const QString& text);

private:
    void handleStep(const EvalStep& step);
    void finishRun(bool canceled);
    void updateProtocol();
    void updateChart();
    void rebuildResultCombos();
    void setRunning(bool running);

    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    bool m_running = false;
    quint64 m_job = 0; // bumped per run; signals of an older run are dropped
    quint64 m_chartJob = 0;
    quint64 m_compareJob = 0;
    QFuture<void> m_future; // the running QFuture<EvalStep>, for cancel()
    // What the current results were computed with (the protocol line names it).
    QString m_runSplit;
    QString m_runSplitDescription;
    quint64 m_runSeed = 0;
    bool m_runUsesSeed = false;
    QString m_runKs;
    int m_runUsers = -1;
    int m_runModels = 0;
    QStringList m_runErrors;

    QComboBox* m_split;
    QSpinBox* m_seed;
    QLineEdit* m_ks;
    QListWidget* m_models;
    QPushButton* m_runButton;
    QPushButton* m_cancelButton;
    QProgressBar* m_progress;
    QLabel* m_status;
    QLabel* m_protocol;
    QComboBox* m_showK;
    QComboBox* m_cohort;
    QComboBox* m_metric;
    EvalResultsModel* m_model;
    TableFilterProxy* m_proxy;
    QTableView* m_view;
    QChart* m_chart;
    QChartView* m_chartView;
    QComboBox* m_compareA;
    QComboBox* m_compareB;
    QPushButton* m_compareButton;
    QLabel* m_compareResult;
};

} // namespace recwb::ui
