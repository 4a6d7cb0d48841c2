#pragma once

#include <QList>
#include <QWidget>
#include <functional>
#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTableView;
class QTextBrowser;

namespace recwb {
class Dataset;
namespace rerank {
    struct EndpointProfile;
    class PriceTable;
}
namespace pipeline {
    struct RerankOutcome;
    struct RerankReply;
}
} // namespace recwb

namespace recwb::ui {

class ModelStore;
class RerankModel;
class TableFilterProxy;

// Stages 2-3 for the selected user: their CF candidates (from the model the candidates
// panel shows) reranked by a prompt and an endpoint, with each pick's CF rank, move,
// score and explanation, and what the run cost (answered by, fallback and why, defects,
// tokens, cost, cache, per-stage milliseconds). The offline endpoint reranks as soon as a
// user is selected; an LLM endpoint only when asked (it costs money). The work runs on the
// workspace's RerankService (the ModelStore's), which keeps its LLM client, circuit
// breakers and connections between clicks; cancel is a call to it; an answer for another
// user, model or setting than the newest request is dropped.
class RerankPanel final : public QWidget {
    Q_OBJECT

public:
    explicit RerankPanel(ModelStore* store, QWidget* parent = nullptr);
    ~RerankPanel() override;

    // Reads the workspace's endpoints and templates (asynchronously; listsLoaded follows).
    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);
    void setColdThreshold(int threshold);
    void setUser(int user); // -1: nobody
    void setCfModelKey(const QString& key);

    // Starts a rerank of the current user; false when nothing can run (no user, no model).
    bool rerank();
    void cancel();
    bool isRunning() const { return m_running; }
    int shownUser() const { return m_shownUser; }

    QComboBox* promptCombo() const { return m_prompt; }
    QComboBox* endpointCombo() const { return m_endpoint; }
    QSpinBox* kSpin() const { return m_k; }
    QSpinBox* candidatesSpin() const { return m_candidates; }
    QCheckBox* useCacheCheck() const { return m_useCache; }
    QPushButton* rerankButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }
    QLabel* caption() const { return m_caption; }
    QTableView* view() const { return m_view; }
    RerankModel* model() const { return m_model; }
    QTextBrowser* details() const { return m_details; }

signals:
    void listsLoaded();
    void rerankShown(int user);
    void rerankFailed(int user, const QString& message);

protected:
    void showEvent(QShowEvent* event) override;

private:
    struct Lists;
    const rerank::EndpointProfile* currentEndpoint() const;
    bool autoRuns() const; // the offline endpoint: free, no network
    void settingsChanged();
    void showIdle();
    void reloadLists();
    void onReply(quint64 job, const pipeline::RerankReply& reply);
    void showOutcome(const pipeline::RerankOutcome& outcome, qint64 runId);
    void showDetails();
    void setCaption(const QString& html);
    void setRunning(bool running);

    ModelStore* m_store;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    int m_threshold;
    int m_user = -1;
    int m_shownUser = -1;
    QString m_cfKey;
    quint64 m_job = 0; // bumped per request; an older answer is dropped
    quint64 m_listJob = 0; // bumped per endpoint/prompt list read
    bool m_running = false;
    bool m_waitingForModel = false;
    std::unique_ptr<QList<rerank::EndpointProfile>> m_endpoints;
    std::shared_ptr<const rerank::PriceTable> m_prices; // read with the lists; null = the shipped table
    quint64 m_serviceJob = 0; // the rerank service's job for the newest request; 0 = none
    int m_serviceUser = -1; // the user of that job
    std::unique_ptr<pipeline::RerankOutcome> m_outcome; // the shown outcome, for details

    QComboBox* m_prompt;
    QComboBox* m_endpoint;
    QSpinBox* m_k;
    QSpinBox* m_candidates;
    QCheckBox* m_useCache;
    QPushButton* m_run;
    QPushButton* m_cancel;
    QPushButton* m_manageEndpoints;
    QLabel* m_caption;
    RerankModel* m_model;
    TableFilterProxy* m_proxy = nullptr;
    QTableView* m_view;
    QTextBrowser* m_details;
};

} // namespace recwb::ui
