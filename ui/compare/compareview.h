#pragma once

#include "pipeline/armspec.h"

#include <QWidget>
#include <memory>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QHBoxLayout;
class QSplitter;
class QTableView;

namespace recwb {
class Dataset;
namespace rerank {
    struct EndpointProfile;
    class PriceTable;
} // namespace rerank
namespace pipeline {
    class CompareRun;
    class RerankService;
} // namespace pipeline
} // namespace recwb

namespace recwb::ui {

class ComparePairsModel;
class CompareModel;
class ModelStore;

// One column's editor: the arm (CF source, reranker, prompt, K, candidates, title), its
// progress and cancel, and what came back (defects, fallback, metrics, latency, cost).
class ArmEditor final : public QWidget {
    Q_OBJECT

public:
    explicit ArmEditor(int index, QWidget* parent = nullptr);
    void setSources(const QList<QPair<QString, QString>>& labelAndCf); // keeps the current choice
    void setRerankers(const QStringList& endpoints); // besides none and offline
    void setArm(const pipeline::ArmSpec& arm);
    pipeline::ArmSpec arm() const; // throws Error naming the bad field
    void setIndex(int index);
    void setRunning(bool running);
    void setInfo(const QString& html);

    QComboBox* sourceCombo() const { return m_source; }
    QComboBox* rerankCombo() const { return m_rerank; }
    QPushButton* removeButton() const { return m_remove; }
    QPushButton* cancelButton() const { return m_cancel; }
    QProgressBar* progressBar() const { return m_progress; }

private:
    QLabel* m_title;
    QComboBox* m_source;
    QComboBox* m_rerank;
    QLineEdit* m_prompt;
    QSpinBox* m_k;
    QSpinBox* m_candidates;
    QLineEdit* m_label;
    QPushButton* m_remove;
    QPushButton* m_cancel;
    QProgressBar* m_progress;
    QLabel* m_info;
};

// The Compare tab (docs/COMPARE.md): one user, 2-4 arms side by side, optionally on a
// split. Columns run concurrently through the workspace's RerankService; rows are aligned
// by item; the measures between columns below. GUI thread only: model training, the
// split and every database read happen on workers (CompareRun), exports are written on one.
class CompareView final : public QWidget {
    Q_OBJECT

public:
    static constexpr int kMinColumns = 2;
    static constexpr int kMaxColumns = 4;

    CompareView(pipeline::RerankService* service, ModelStore* store, QWidget* parent = nullptr);
    ~CompareView() override;

    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);
    void setUser(const QString& userId);
    // The user, the columns (the first kMaxColumns arms) and the split an experiment had;
    // the user presses Compare (or run() is called) to fill them.
    void setUp(const QString& userId, const std::vector<pipeline::ArmSpec>& arms, const QString& split, quint64 seed);
    // Reads the endpoints and stored runs again (asynchronously; listsLoaded follows).
    void reloadLists() { loadLists(); }
    bool addColumn(const pipeline::ArmSpec& arm = {});
    void removeColumn(int index);
    int columnCount() const { return static_cast<int>(m_editors.size()); }
    ArmEditor* column(int index) const { return m_editors.at(static_cast<size_t>(index)); }
    // Starts the comparison; false (with the reason on the status line) when the input is bad.
    bool run();
    void cancel();
    // Writes the last comparison as "csv", "json" or "html" to path, on a worker.
    void exportTo(const QString& format, const QString& path);

    QTableView* table() const { return m_table; }
    CompareModel* model() const { return m_model; }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

signals:
    void comparisonFinished();
    void exported(const QString& path);
    // The workspace's endpoints and stored runs are in the combos (after setWorkspace, reloadLists).
    void listsLoaded();

private:
    void refreshSources();
    void loadLists();
    void showComparison();
    void updateColumnInfo(int column);
    void askExport(const QString& format);

    pipeline::RerankService* m_service;
    ModelStore* m_store;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    std::unique_ptr<pipeline::CompareRun> m_run;
    quint64 m_job = 0;
    quint64 m_completerJob = 0; // the user-id completer being built off the GUI thread
    bool m_refreshQueued = false;
    QStringList m_endpoints;
    // For the confirmation ceiling: the endpoints' profiles and the price table (null = shipped).
    std::shared_ptr<const QList<rerank::EndpointProfile>> m_endpointProfiles;
    std::shared_ptr<const rerank::PriceTable> m_prices;
    QList<QPair<QString, QString>> m_runs; // stored runs for the source combo: label, "run:ID"
    std::vector<ArmEditor*> m_editors;
    QLineEdit* m_user;
    QComboBox* m_split;
    QSpinBox* m_seed;
    QPushButton* m_runButton;
    QPushButton* m_cancelButton;
    QPushButton* m_addButton;
    QHBoxLayout* m_columnsLayout;
    QSplitter* m_splitter;
    QTableView* m_table;
    QTableView* m_pairsView;
    CompareModel* m_model;
    ComparePairsModel* m_pairs;
    QLabel* m_status;
};

} // namespace recwb::ui
