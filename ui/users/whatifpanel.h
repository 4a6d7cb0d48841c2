#pragma once

#include <atomic>
#include <memory>

#include "pipeline/whatif.h"

#include <QJsonObject>
#include <QList>
#include <QWidget>
#include <memory>
#include <optional>
#include <vector>

class QComboBox;
class QCompleter;
class QLabel;
class QLineEdit;
class QListWidget;
class QListWidgetItem;
class QPushButton;
class QStringListModel;
class QTableWidget;
class QTableWidgetItem;
class QTimer;

namespace recwb {
class Dataset;
namespace rerank {
    struct EndpointProfile;
    struct RankedItem;
}
namespace pipeline {
    struct RerankReply;
}
} // namespace recwb

namespace recwb::ui {

class ModelStore;

// What-if mode of the Users view (docs/WHATIF.md): the selected user's history with a
// checkbox per item (unticked = left out), items added from the catalog, profile fields and
// stated categories edited; candidates (on a worker, debounced) and the offline rerank
// (through the RerankService, at once; an LLM endpoint only on request) for the edited
// history beside a diff against the stored history's lists. Nothing is written unless
// "Save as synthetic user" writes the edit as a new user (synthetic_of = the source).
class WhatIfPanel final : public QWidget {
    Q_OBJECT

public:
    static constexpr int kSearchOffThreadItems = 50'000;
    static constexpr int kMaxMatches = 50;
    static constexpr int kCandidates = 50;
    static constexpr int kTopK = 10;
    static constexpr int kDebounceMs = 250;

    explicit WhatIfPanel(ModelStore* store, QWidget* parent = nullptr);
    ~WhatIfPanel() override;

    void setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset);
    void setColdThreshold(int threshold);
    void setCfModelKey(const QString& key);
    // Starts editing `user` from their stored state (-1: nobody); discards any edit.
    void setUser(int user);
    int user() const { return m_user; }
    void reset();
    // Adds a catalog item (index) as the latest interaction; false when it is already in.
    bool addItem(int32_t item);
    // The what-if as edited now (history newest last).
    rerank::PromptUser editedUser() const;
    // Saves the edit as a new synthetic user with the id in the id field (asynchronously;
    // syntheticUserSaved or saveFailed follows). False when nothing can be saved.
    bool save();

    // The lists shown: the edited history's candidates / rerank and the stored history's.
    const std::vector<int32_t>& candidates() const { return m_candidates; }
    const std::vector<int32_t>& realCandidates() const { return m_realCandidates; }
    const pipeline::ListDiff& candidateDiff() const { return m_candidateDiff; }
    const pipeline::ListDiff& rerankDiff() const { return m_rerankDiff; }

    QListWidget* historyList() const { return m_history; }
    QLineEdit* addField() const { return m_add; }
    QTableWidget* profileTable() const { return m_profile; }
    QListWidget* categoriesList() const { return m_categories; }
    QLabel* diffLabel() const { return m_diff; }
    QTableWidget* candidatesTable() const { return m_candidatesTable; }
    QTableWidget* rerankTable() const { return m_rerankTable; }
    QLineEdit* saveIdField() const { return m_saveId; }
    QPushButton* saveButton() const { return m_save; }

signals:
    // The candidate lists (stored and edited) and their diff are shown.
    void candidatesUpdated();
    // The rerank lists (stored and edited) and their diff are shown.
    void rerankUpdated();
    void failed(const QString& message);
    void syntheticUserSaved(const QString& externalId);
    void saveFailed(const QString& message);

private:
    void rebuildEditor();
    void rebuildCatalog();
    void readEndpoints();
    void edited();
    void recompute();
    void computeCandidates(quint64 job);
    void submitRerank(quint64 job, const QString& endpoint);
    void onReply(quint64 job, const pipeline::RerankReply& reply);
    void showCandidates();
    void showRerank();
    void updateDiffText();
    void setStatus(const QString& html);
    QJsonObject editedProfile() const;
    // editedUser(), or nullopt with the error in the status line.
    std::optional<rerank::PromptUser> tryEditedUser();
    QListWidgetItem* addedRow(int32_t item) const;
    QSet<int32_t> tickedOut() const; // stored items unticked
    QTableWidgetItem* titleCell(int32_t item, const QSet<int32_t>& tickedOut) const;
    void setRankAndChange(QTableWidget* table, int row, int rank, const pipeline::ListDiff& diff, int32_t item);
    std::vector<int32_t> statedCategories() const;
    QString itemLabel(int32_t item) const;

    ModelStore* m_store;
    QString m_path;
    std::shared_ptr<const Dataset> m_dataset;
    int m_threshold;
    QString m_cfKey;
    int m_user = -1;
    quint64 m_job = 0; // bumped per recompute; older answers are dropped
    quint64 m_catalogJob = 0;
    quint64 m_endpointJob = 0;
    bool m_waitingForModel = false;
    bool m_saving = false;
    std::vector<int32_t> m_added; // items added, oldest first
    QList<rerank::EndpointProfile>* m_endpoints = nullptr; // owned
    QString m_offlineEndpoint = QStringLiteral("offline");

    std::vector<int32_t> m_candidates, m_realCandidates;
    pipeline::ListDiff m_candidateDiff, m_rerankDiff;
    // Service jobs of the newest request: the stored user's and the edit's.
    quint64 m_realJob = 0, m_editJob = 0;
    std::unique_ptr<QList<rerank::RankedItem>> m_realRerank, m_editRerank;
    QString m_rerankBy;

    QTimer* m_debounce;
    QLabel* m_banner;
    QPushButton* m_reset;
    QListWidget* m_history;
    QLineEdit* m_add;
    QCompleter* m_completer;
    // Small catalogs: every label, filtered by the completer. From kSearchOffThreadItems items
    // on (issue 13): the labels stay here and the completer shows the matches of a search run
    // on a pool thread per keystroke (the completer would scan them all on the GUI thread).
    QStringListModel* m_catalogModel;
    std::shared_ptr<const QStringList> m_labels;
    std::shared_ptr<std::atomic<quint64>> m_search = std::make_shared<std::atomic<quint64>>(0);
    void searchLabels(const QString& text);
    QTableWidget* m_profile;
    QListWidget* m_categories;
    QLabel* m_status;
    QLabel* m_diff;
    QTableWidget* m_candidatesTable;
    QTableWidget* m_rerankTable;
    QComboBox* m_endpoint;
    QPushButton* m_llm;
    QLineEdit* m_saveId;
    QPushButton* m_save;
};

} // namespace recwb::ui
