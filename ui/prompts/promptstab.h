#pragma once

#include "rerank/llmtypes.h"
#include "rerank/prices.h"
#include "rerank/prompt.h"
#include "rerank/store.h"

#include <QHash>
#include <QPointer>
#include <QWidget>
#include <memory>
#include <optional>
#include <vector>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QTabWidget;
class QTableView;
class QTextBrowser;
class QTimer;
class QTreeWidget;

namespace recwb {
class Dataset;
namespace pipeline {
    class RerankService;
    struct RerankReply;
    struct PreviewResult;
} // namespace pipeline
} // namespace recwb

namespace recwb::ui {

class ModelStore;
class MustacheHighlighter;
class PromptVersionsModel;

// The prompt engineer's editor: every version of every template (with labels), an editor
// with Mustache highlighting and undo/redo, the documented variables with the chosen
// user's values, a live preview for any user of the dataset (re-rendered on a worker,
// 150 ms after the last keystroke; stale renders are dropped), template errors with line
// and column marked in the editor, size, tokens and cost for an endpoint, "Save version"
// (always a new version with its parent and a note), a word-level diff between any two
// versions, labels, drafts autosaved into the workspace (every 3 s, or RECWB_AUTOSAVE_MS)
// and offered back when the template is opened again, and "Try it": the preview user
// reranked with the unsaved editor text against the chosen endpoint through the
// workspace's RerankService (nothing is saved).
//
// GUI thread only. Every workspace read and write runs on a worker with its own Workspace.
class PromptsTab final : public QWidget {
    Q_OBJECT

public:
    explicit PromptsTab(ModelStore* store, QWidget* parent = nullptr);
    ~PromptsTab() override;

    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);
    void setColdThreshold(int threshold);
    // The rerank service "Try it" uses: the model store's (set by the constructor); null
    // turns "Try it" off.
    void setRerankService(pipeline::RerankService* service);

    // Opens NAME@VERSION in the editor once the version list has it.
    void openVersion(const QString& name, int version);
    bool hasPreview() const { return m_previewShown; } // a render reached the screen since the workspace opened

signals:
    void versionsLoaded();
    void versionOpened(const QString& ref);
    void previewShown(); // after each render that reached the screen
    void versionSaved(const QString& ref);
    void draftSaved(const QString& name);
    void draftOffered(const QString& name);
    void labelsChanged();
    void failed(const QString& message);
    void tryItFinished(bool ok);

private:
    struct Lists;
    void buildUi();
    void reloadLists(const QString& openName = {}, int openAt = 0);
    void applyLists(Lists&& lists, const QString& openName, int openAt);
    void fillUsers();
    void openRow(int row);
    void editorChanged();
    void requestCandidates();
    void renderNow();
    void showPreview(const pipeline::PreviewResult& result);
    void markError(int line, int column);
    void updateDiff();
    void updateDiffChoices();
    void updateActions();
    void autosave();
    void restoreDraft();
    void discardDraft();
    void saveVersion();
    void newTemplate();
    void changeLabel(bool remove);
    void setStatus(const QString& text, bool error = false);
    void tryIt();
    void showTryIt(const pipeline::RerankReply& reply);
    const rerank::EndpointProfile* currentEndpoint() const;

    ModelStore* m_store;
    QPointer<pipeline::RerankService> m_service;
    quint64 m_tryJob = 0; // the service's job id of the running "Try it"; 0 = none
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    int m_threshold;
    quint64 m_listJob = 0;
    quint64 m_candidateJob = 0;
    quint64 m_renderJob = 0;
    bool m_autosaving = false;
    bool m_saving = false;

    QList<rerank::EndpointProfile> m_endpoints;
    QString m_defaultEndpoint;
    std::optional<rerank::PriceTable> m_prices;
    QString m_pricesError;
    QHash<QString, rerank::store::Draft> m_drafts; // by template name, as last read

    QString m_name; // the template open in the editor ("" = none)
    std::optional<int> m_base; // the version it was opened from; none for a new template
    QString m_baseText;
    QString m_titleHtml; // what is open; updateActions() adds the "edited" mark
    QString m_lastDraftText; // what the workspace holds as the draft (or the base text)
    bool m_hasError = false;
    bool m_previewShown = false;
    int m_user = -1;
    QString m_modelKey; // the store key the candidates came from
    std::shared_ptr<const std::vector<rerank::Candidate>> m_candidates; // null: not ready
    int m_variablesUser = -1; // the user whose values the variables panel shows

    PromptVersionsModel* m_versions;
    QTableView* m_versionsView;
    QComboBox* m_label;
    QPushButton* m_setLabel;
    QPushButton* m_removeLabel;
    QPushButton* m_new;
    QAction* m_undo;
    QAction* m_redo;
    QLineEdit* m_note;
    QPushButton* m_save;
    QLabel* m_title;
    QWidget* m_draftBar;
    QLabel* m_draftText;
    QPushButton* m_restoreDraft;
    QPushButton* m_discardDraft;
    QPlainTextEdit* m_editor;
    MustacheHighlighter* m_highlighter;
    QLabel* m_error;
    QLabel* m_status;
    QLabel* m_position;
    QComboBox* m_userCombo;
    class UserChoiceModel* m_userChoices = nullptr;
    QComboBox* m_endpoint;
    QPushButton* m_endpointsButton;
    QSpinBox* m_candidateCount;
    QSpinBox* m_k;
    QLabel* m_estimate;
    QTabWidget* m_side;
    QPlainTextEdit* m_preview;
    QTreeWidget* m_variables;
    QComboBox* m_diffFrom;
    QComboBox* m_diffTo;
    QTextBrowser* m_diff;
    QPushButton* m_tryIt;
    QPushButton* m_tryCancel;
    QTextBrowser* m_tryResult;
    QTimer* m_renderTimer;
    QTimer* m_autosaveTimer;
};

} // namespace recwb::ui
