#pragma once

#include "users/usersmodel.h"

#include <QWidget>
#include <memory>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSplitter;
class QStackedWidget;
class QTabWidget;
class QTableView;

namespace recwb {
class Dataset;
}

namespace recwb::ui {

class CandidatesPanel;
class HistoryModel;
class ModelStore;
class RerankPanel;
class TableFilterProxy;
class SnapshotTableProxy;
class UsersModel;
class WhatIfPanel;

// Users with their cold-start status, filterable by status and id/profile text, and the
// selected user's interaction history, newest first, and their candidates below it.
class UsersTab final : public QWidget {
    Q_OBJECT

public:
    enum StatusFilter { AllUsers, ColdUsers, WarmUsers };

    explicit UsersTab(ModelStore* store, QWidget* parent = nullptr);
    ~UsersTab() override;

    // texts: UsersModel::textsOf(*dataset) built on a worker, or null to build them here.
    void setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const UsersModel::Texts> texts = nullptr);
    // The workspace behind the dataset: the rerank panel reads endpoints and prompts from it.
    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset,
        std::shared_ptr<const UsersModel::Texts> texts = nullptr);
    void setColdThreshold(int threshold);
    void setStatusFilter(StatusFilter filter);
    // Selects the first visible row; false when the table is empty.
    bool selectFirstRow();

    QComboBox* statusCombo() const { return m_status; }
    QLineEdit* filterEdit() const { return m_filter; }
    QTableView* view() const { return m_view; }
    UsersModel* model() const { return m_model; }
    SnapshotTableProxy* proxy() const { return m_proxy; }
    QTableView* historyView() const { return m_historyView; }
    HistoryModel* historyModel() const { return m_history; }
    TableFilterProxy* historyProxy() const { return m_historyProxy; }
    QSplitter* splitter() const { return m_splitter; }
    QSplitter* detailSplitter() const { return m_detailSplitter; }
    CandidatesPanel* candidatesPanel() const { return m_candidates; }
    RerankPanel* rerankPanel() const { return m_rerank; }
    // "Candidates" (stage 1) and "Rerank" (stages 2-3) below the history.
    QTabWidget* stageTabs() const { return m_stages; }
    // The user whose history is shown, or -1.
    int currentUser() const;
    // Selects the user with this external id (clearing filters that hide them); false when absent.
    bool selectUser(const QString& externalId);
    // What-if mode (docs/WHATIF.md): the "What-if" button swaps the history and the lists for
    // the what-if editor of the selected user.
    QPushButton* whatIfToggle() const { return m_whatIfToggle; }
    WhatIfPanel* whatIfPanel() const { return m_whatIf; }
    void setWhatIfMode(bool on);

signals:
    // The "Compare…" button: open the Compare tab on this user (external id).
    void compareRequested(const QString& userId);
    // A what-if was saved as a new synthetic user: the workspace must be reloaded; the tab
    // selects that user when the next dataset arrives.
    void syntheticUserSaved(const QString& userId);

private:
    void applyStatusFilter();
    void updateCount();
    void showUser(int user);

    std::shared_ptr<const Dataset> m_dataset;
    UsersModel* m_model;
    HistoryModel* m_history;
    SnapshotTableProxy* m_proxy;
    TableFilterProxy* m_historyProxy;
    QComboBox* m_status;
    QLineEdit* m_filter;
    QLabel* m_count;
    QTableView* m_view;
    QLabel* m_userHeader;
    QTableView* m_historyView;
    QSplitter* m_splitter;
    QSplitter* m_detailSplitter;
    CandidatesPanel* m_candidates;
    RerankPanel* m_rerank;
    QTabWidget* m_stages;
    QPushButton* m_whatIfToggle;
    WhatIfPanel* m_whatIf;
    QStackedWidget* m_detailStack;
    QString m_selectAfterLoad; // a synthetic user just saved
};

} // namespace recwb::ui
