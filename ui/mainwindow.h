#pragma once

#include "catalog/catalogmodel.h"
#include "common/backgroundtask.h"
#include "users/usersmodel.h"
#include "data/workspace.h"
#include "common/settings.h"

#include <QFuture>
#include <QMainWindow>
#include <memory>

class QLabel;
class QMenu;
class QProgressBar;
class QSettings;
class QStackedWidget;
class QTabWidget;
class QToolButton;

namespace recwb {
class Dataset;
}

namespace recwb::ui {

class CatalogTab;
class ReviewTab;
class CompareView;
class EvaluationTab;
class ExperimentsTab;
class ImportDialog;
class ModelStore;
class TrainDialog;
class UsersTab;
class PromptsTab;

// A workspace read into memory by a background load.
struct LoadedWorkspace {
    QString path;
    std::shared_ptr<const Dataset> dataset;
    // The tables' derived texts, built on the loading worker (a million rows: seconds).
    std::shared_ptr<const CatalogModel::Texts> catalogTexts;
    std::shared_ptr<const UsersModel::Texts> usersTexts;
    // Dataset::coldUserCount(coldThreshold), counted on the worker (a million users: a scan).
    int coldThreshold = -1;
    int32_t coldUsers = 0;
};

// The workbench window. Owns no database connection: every load, creation and import
// opens its own Workspace on a worker thread (a Workspace is bound to the thread that
// opened it) and hands back an immutable Dataset snapshot that the tabs share.
// Settings come from the caller so tests never touch the user's real settings.
class MainWindow final : public QMainWindow {
    Q_OBJECT

public:
    explicit MainWindow(QSettings& settings, QWidget* parent = nullptr);
    ~MainWindow() override;

    // All asynchronous; the result arrives as workspaceLoaded / workspaceLoadFailed.
    void openWorkspace(const QString& path);
    void createWorkspace(const QString& path);
    // Opens <AppDataLocation>/demo.recwb, generating it first when missing.
    void openDemoWorkspace();
    // Startup: the last workspace if it still exists, the demo on first start.
    void openLastOrDemo();
    static QString demoWorkspacePath();

    QString workspacePath() const { return m_path; }
    std::shared_ptr<const Dataset> dataset() const { return m_dataset; }
    bool isBusy() const { return m_busy; }
    int coldThreshold() const;

    // File ▸ Import… for the open workspace (null when none is open); the dialog deletes
    // itself when closed and reloads the workspace after a successful import.
    ImportDialog* openImportDialog();
    // Models ▸ Train Model… (null when no workspace is open); deletes itself when closed.
    TrainDialog* openTrainDialog();

    QTabWidget* tabs() const { return m_tabs; }
    CatalogTab* catalogTab() const { return m_catalog; }
    UsersTab* usersTab() const { return m_users; }
    EvaluationTab* evaluationTab() const { return m_evaluation; }
    PromptsTab* promptsTab() const { return m_prompts; }
    CompareView* compareView() const { return m_compare; }
    ExperimentsTab* experimentsTab() const { return m_experiments; }
    ReviewTab* reviewTab() const { return m_review; }
    ModelStore* modelStore() const { return m_models; }

signals:
    void workspaceLoaded(const QString& path);
    void workspaceLoadFailed(const QString& path, const QString& message);

protected:
    void closeEvent(QCloseEvent* event) final;

private:
    void createActions();
    void createStatusBar();
    QWidget* createEmptyState();
    void restoreSettings();
    void saveSettings();

    void startLoad(const QString& path, Workspace::Mode mode);
    void finishLoad(const LoadedWorkspace& loaded);
    void showLoaded(); // the second half of finishLoad, one event-loop turn later
    void generateDemo(const QString& path);
    void setBusy(bool busy, const QString& message = {});
    void showError(const QString& title, const QString& text);
    void updateStatus();
    void rebuildRecentMenu();

    void chooseOpen();
    void chooseNew();
    void showAbout();

    AppSettings m_settings;
    std::shared_ptr<const Dataset> m_dataset;
    // The status bar's cold-user count, kept for the dataset and threshold it was counted for.
    std::shared_ptr<const Dataset> m_coldCountOf;
    int m_coldCountThreshold = -1;
    int32_t m_coldCount = 0;
    QString m_path;
    quint64 m_job = 0; // bumped per load; a continuation from an older job is dropped
    bool m_busy = false;
    QFuture<TaskResult<LoadedWorkspace>> m_loadFuture;

    QStackedWidget* m_stack = nullptr;
    QLabel* m_emptyTitle = nullptr;
    QLabel* m_emptyText = nullptr;
    QTabWidget* m_tabs = nullptr;
    CatalogTab* m_catalog = nullptr;
    UsersTab* m_users = nullptr;
    PromptsTab* m_prompts = nullptr;
    EvaluationTab* m_evaluation = nullptr;
    CompareView* m_compare = nullptr;
    ExperimentsTab* m_experiments = nullptr;
    ReviewTab* m_review = nullptr;
    ModelStore* m_models = nullptr;
    QAction* m_trainAction = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_importAction = nullptr;
    QLabel* m_pathLabel = nullptr;
    QLabel* m_countsLabel = nullptr;
    QProgressBar* m_progress = nullptr;
    QToolButton* m_cancel = nullptr;
};

} // namespace recwb::ui
