#pragma once

#include "pipeline/armspec.h"
#include "pipeline/costprojection.h"
#include "pipeline/experiment.h"
#include "pipeline/experimentreport.h"
#include "rerank/llmtypes.h"

#include <QWidget>
#include <memory>
#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTableView;
class QTimer;
class QVBoxLayout;

QT_FORWARD_DECLARE_CLASS(QChart)
QT_FORWARD_DECLARE_CLASS(QChartView)

namespace recwb {
class Dataset;
namespace pipeline {
    class RerankService;
}
} // namespace recwb

namespace recwb::ui {

class ExperimentFiguresModel;
class ExperimentListModel;
class ExperimentPairsModel;
class ExperimentUsersModel;
class ModelStore;
class ProjectionModel;

// One arm of the definition: its name, its spec in the compare view's grammar (plus the
// experiment keys routing=, source=, repeats=) and the parse error, if any.
class ExperimentArmRow final : public QWidget {
    Q_OBJECT

public:
    ExperimentArmRow(int index, const QString& name, const QString& spec, QWidget* parent = nullptr);
    void setIndex(int index); // objectNames end in the index
    QLineEdit* nameEdit() const { return m_name; }
    QLineEdit* specEdit() const { return m_spec; }
    QPushButton* removeButton() const { return m_remove; }
    void setError(const QString& error); // empty: valid

signals:
    void changed();

private:
    QLineEdit* m_name;
    QLineEdit* m_spec;
    QPushButton* m_remove;
    QLabel* m_error;
};

// The Experiments tab (issue 10, docs/EXPERIMENTS.md): define arms, split, cohort, K and
// the cost cap; see the projected calls and cost before running; run with progress and
// cancel; the results per arm and cohort, the paired comparisons, charts, the cost at
// scale with editable assumptions and the A/B sample-size planner; stored experiments
// reopen without recomputing, and a user's row opens the Compare view with the arms.
//
// GUI thread only: the projection, the store and the report run on workers (runTask) with
// a job counter so stale answers are dropped; the experiment itself runs through the
// workspace's RerankService (pipeline::ExperimentRun), which never blocks this thread.
class ExperimentsTab final : public QWidget {
    Q_OBJECT

public:
    explicit ExperimentsTab(ModelStore* store, QWidget* parent = nullptr);
    ~ExperimentsTab() override;

    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);

    // The definition.
    ExperimentArmRow* addArm(const QString& name = {}, const QString& spec = {});
    void removeArm(int index);
    int armCount() const { return static_cast<int>(m_arms.size()); }
    // The spec the widgets describe; throws Error naming the bad field.
    pipeline::ExperimentSpec spec() const;

    // Starts the experiment; false (reason on the status line) for bad input, a projection
    // over the cap, or a declined confirmation.
    bool run();
    void cancel();
    bool isRunning() const;
    // Reopens a stored experiment (read from the workspace, nothing recomputed).
    void openExperiment(qint64 id);
    void refreshHistory();
    // Writes the shown experiment's report (.html, .csv, .json) on a worker.
    void exportReport(const QString& path);

    const std::optional<pipeline::ExperimentResult>& result() const { return m_result; }
    const std::optional<pipeline::ExperimentProjection>& projection() const { return m_projection; }

signals:
    void projectionUpdated();
    void experimentFinished(qint64 id);
    void experimentOpened(qint64 id);
    void historyLoaded();
    void reportWritten(const QString& path);
    void chartsUpdated();
    // A user's row was double-clicked: compare the experiment's arms for that user.
    void compareRequested(
        const QString& userId, const std::vector<recwb::pipeline::ArmSpec>& arms, const QString& split, quint64 seed);

private:
    void scheduleProjection();
    void updateProjection();
    void validateArms();
    void loadLists();
    void showResult(const pipeline::ExperimentResult& result);
    void updateCharts();
    void updateScaleProjection();
    void updateSampleSize();
    void updateCascade();
    void setRunning(bool running);
    void setStatus(const QString& text, bool error = false);
    void openUserInCompare(const QModelIndex& index);
    QWidget* createDefinition();
    QWidget* createScalePanel();
    QWidget* createSampleSizePanel();

    ModelStore* m_store;
    pipeline::RerankService* m_service;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    std::unique_ptr<pipeline::ExperimentRun> m_run;
    std::optional<pipeline::ExperimentResult> m_result;
    std::optional<pipeline::ExperimentProjection> m_projection;
    std::optional<pipeline::CostProjection> m_scaleProjection; // the cost at scale as shown
    QList<rerank::EndpointProfile> m_endpoints;
    QHash<QString, rerank::Prices> m_endpointPrices; // endpoint name -> prices (table or its own)
    quint64 m_projectionJob = 0;
    quint64 m_listJob = 0;
    quint64 m_openJob = 0;
    quint64 m_chartJob = 0;

    // definition
    QLineEdit* m_name;
    QVBoxLayout* m_armsLayout;
    std::vector<ExperimentArmRow*> m_arms;
    QPushButton* m_addArm;
    QComboBox* m_split;
    QSpinBox* m_seed;
    QComboBox* m_cohort;
    QSpinBox* m_sample;
    QLineEdit* m_ks;
    QDoubleSpinBox* m_maxCost;
    QLabel* m_projectionLabel;
    QPushButton* m_runButton;
    QPushButton* m_cancelButton;
    QProgressBar* m_progress;
    QLabel* m_status;
    QTimer* m_projectionTimer;
    // history
    QTableView* m_historyView;
    ExperimentListModel* m_history;
    QPushButton* m_openButton;
    QPushButton* m_exportButton;
    // results
    QTabWidget* m_results;
    QLabel* m_summary;
    QTableView* m_figuresView;
    ExperimentFiguresModel* m_figures;
    QTableView* m_pairsView;
    ExperimentPairsModel* m_pairs;
    QComboBox* m_userMetric;
    QLineEdit* m_userFilter;
    QTableView* m_usersView;
    ExperimentUsersModel* m_users;
    QChart* m_metricChart;
    QChartView* m_metricChartView;
    QChart* m_costChart;
    QChartView* m_costChartView;
    QChart* m_latencyChart;
    QChartView* m_latencyChartView;
    // cost at scale
    QComboBox* m_priceEndpoint;
    QDoubleSpinBox* m_cacheHitRate;
    QDoubleSpinBox* m_promptCaching;
    QDoubleSpinBox* m_batchDiscount;
    QDoubleSpinBox* m_routingShare;
    QLabel* m_scaleBasis;
    QTableView* m_scaleView;
    ProjectionModel* m_scale;
    std::optional<pipeline::ProjectionInput> m_scaleInput; // the tokens and assumptions shown
    QComboBox* m_cascadeSmall;
    QComboBox* m_cascadeLarge;
    QDoubleSpinBox* m_escalation;
    QLabel* m_cascade;
    // sample size
    QDoubleSpinBox* m_baseline;
    QDoubleSpinBox* m_effect;
    QCheckBox* m_relative;
    QDoubleSpinBox* m_alpha;
    QDoubleSpinBox* m_power;
    QLabel* m_sampleSize;
};

} // namespace recwb::ui
