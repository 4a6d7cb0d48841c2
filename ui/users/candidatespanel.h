#pragma once

#include <QWidget>
#include <memory>

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;
class QTableView;

namespace recwb {
class Dataset;
}

namespace recwb::ui {

class CandidatesModel;
class ModelStore;
class TableFilterProxy;

// The selected user's candidates for the chosen model: CF top 100 for warm users, the
// cold-start blend with its sources for cold users (with stated categories QA can add).
// Candidates are computed on a worker; every computation carries a job id and only the
// newest one may fill the table, so quick clicks never show another user's list.
class CandidatesPanel final : public QWidget {
    Q_OBJECT

public:
    static constexpr int kCandidates = 100;

    explicit CandidatesPanel(ModelStore* store, QWidget* parent = nullptr);
    ~CandidatesPanel() override;

    void setDataset(std::shared_ptr<const Dataset> dataset);
    void setColdThreshold(int threshold);
    void setUser(int user); // -1: nobody
    int user() const { return m_user; }

    QString currentModelKey() const;
    bool setCurrentModelKey(const QString& key);
    // The user whose candidates the table shows (-1 while computing or empty).
    int shownUser() const { return m_shownUser; }

    QComboBox* modelCombo() const { return m_modelCombo; }
    QPushButton* trainButton() const { return m_train; }
    QLabel* otherDataBadge() const { return m_badge; }
    QLabel* caption() const { return m_caption; }
    QListWidget* categoriesList() const { return m_categories; }
    QTableView* view() const { return m_view; }
    CandidatesModel* model() const { return m_model; }
    TableFilterProxy* proxy() const { return m_proxy; }

signals:
    void trainRequested();
    // The table now shows the candidates of `user` for the current model.
    void candidatesShown(int user);
    void candidatesFailed(int user, const QString& message);

private:
    void rebuildModelCombo();
    void refresh();
    void updateBadge();
    void rebuildCategories();
    void setCaption(const QString& html);

    ModelStore* m_store;
    std::shared_ptr<const Dataset> m_dataset;
    int m_threshold;
    int m_user = -1;
    int m_shownUser = -1;
    quint64 m_job = 0; // bumped per computation; an older answer is dropped
    bool m_waitingForModel = false;
    bool m_modelChosen = false; // a model was picked in the combo (else it follows the default)

    CandidatesModel* m_model;
    TableFilterProxy* m_proxy = nullptr;
    QComboBox* m_modelCombo;
    QLabel* m_badge;
    QPushButton* m_train;
    QLabel* m_caption;
    QLabel* m_categoriesLabel;
    QListWidget* m_categories;
    QTableView* m_view;
};

} // namespace recwb::ui
