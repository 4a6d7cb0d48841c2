#pragma once

#include "review/review.h"

#include <QHash>
#include <QWidget>
#include <memory>
#include <optional>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTableView;
class QThreadPool;

namespace recwb {
class Dataset;
namespace pipeline {
    class RerankService;
}
} // namespace recwb

namespace recwb::ui {

class AppSettings;
class ModelStore;
class ReviewAgreementModel;
class ReviewItemsModel;
class ReviewSummaryModel;

// The Review tab (issue 11, docs/REVIEW.md): build a queue of cold-start users (real, or
// simulated from warm users cut to their first n interactions as cold@n, with the rest
// shown as ground truth), then for each user see the profile, stated categories, known
// items, the candidates with their sources and the reranked list with explanations and
// the faithfulness check's findings, and give a verdict per item (1 good, 2 bad, 3 unsure;
// J/K next/previous item, N next user, P previous user) with notes. Every verdict and note
// is written to the workspace the moment it is given (a writer thread of its own, in
// order); a queue reopens where the current reviewer stopped. The Summary page shows the
// good share by source, cold@n, endpoint, prompt and CF move, the agreement (Cohen's kappa)
// of every pair of reviewers, and exports CSV and JSON.
//
// GUI thread only; building runs through the workspace's RerankService (review::QueueBuilder),
// reads and exports on workers, writes on the writer thread: never blocks this thread.
class ReviewTab final : public QWidget {
    Q_OBJECT

public:
    ReviewTab(ModelStore* store, AppSettings& settings, QWidget* parent = nullptr);
    ~ReviewTab() override;

    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);

    // The build form as a spec; throws Error naming the bad field.
    review::QueueSpec spec() const;
    bool build(); // false (reason on the status line) for bad input or no workspace
    void cancelBuild();
    bool isBuilding() const;
    void openQueue(qint64 id);
    void refreshQueues();

    QString reviewer() const;
    void setReviewer(const QString& name);

    // The review itself (the keyboard shortcuts call these).
    void giveVerdict(review::Verdict verdict); // the current item; then the next one
    void nextItem();
    void previousItem();
    void nextUser();
    void previousUser();
    void showUser(int position);
    int currentUser() const { return m_position; }
    int currentItem() const;
    qint64 currentQueue() const { return m_queueId; }

    void exportVerdicts(const QString& path); // .csv or .json, on a worker
    int pendingWrites() const { return m_pendingWrites; }

signals:
    void queuesLoaded();
    void queueBuilt(qint64 id);
    void queueOpened(qint64 id);
    void verdictStored(const QString& userId, const QString& itemId);
    void writeFailed(const QString& message);
    void exported(const QString& path);
    void summaryUpdated();

private:
    void buildUi();
    void setStatus(const QString& text, bool error = false);
    void setBuilding(bool building);
    void updateHeader();
    void updateDetail();
    void refreshSummary();
    void write(const QString& userId, const QString& itemId, std::optional<review::Verdict> verdict,
        std::optional<QString> note);
    QHash<QString, std::pair<review::Verdict, QString>> verdictsOf(const QString& userId) const;
    const review::QueueUser* user() const;

    ModelStore* m_store;
    AppSettings& m_settings;
    pipeline::RerankService* m_service;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    std::unique_ptr<review::QueueBuilder> m_builder;
    QThreadPool* m_writer; // one thread: verdict writes, in the order given
    struct WriterState;
    std::shared_ptr<WriterState> m_writerState;
    quint64 m_generation = 0; // the workspace's: answers for an older one are dropped
    quint64 m_opening = 0; // the queue opened last
    int m_pendingWrites = 0;

    // The open queue.
    qint64 m_queueId = 0;
    std::optional<review::Queue> m_queue;
    std::vector<review::QueueUser> m_users;
    std::vector<review::VerdictRow> m_rows; // every reviewer's, kept in step with the writes
    int m_position = -1;

    // Widgets.
    QListWidget* m_queues;
    QComboBox* m_source;
    QSpinBox* m_coldN;
    QSpinBox* m_sample;
    QSpinBox* m_seed;
    QLineEdit* m_arm;
    QSpinBox* m_k;
    QLineEdit* m_name;
    QPushButton* m_buildButton;
    QPushButton* m_cancelButton;
    QPushButton* m_deleteButton;
    QProgressBar* m_progress;
    QLineEdit* m_reviewer;
    QLabel* m_status;
    QTabWidget* m_pages;
    QLabel* m_header;
    QLabel* m_progressLabel;
    QLabel* m_profile;
    QListWidget* m_known;
    QListWidget* m_truth;
    QTableView* m_candidates;
    class CandidatesModel;
    CandidatesModel* m_candidatesModel;
    QTableView* m_items;
    ReviewItemsModel* m_itemsModel;
    QPlainTextEdit* m_detail;
    QLineEdit* m_itemNote;
    QLineEdit* m_userNote;
    QCheckBox* m_summaryAll;
    QTableView* m_summary;
    ReviewSummaryModel* m_summaryModel;
    QTableView* m_agreement;
    ReviewAgreementModel* m_agreementModel;
};

} // namespace recwb::ui
