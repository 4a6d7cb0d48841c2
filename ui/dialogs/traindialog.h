#pragma once

#include <QDialog>
#include <QJsonObject>

class QComboBox;
class QDialogButtonBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace recwb::ui {

class ModelStore;
struct TrainingResult;

// Models ▸ Train Model…: an algorithm, a parameter form generated from the model's
// params() (its defaults), an optional snapshot name. Training runs through the
// ModelStore on a worker with progress and Cancel; the dialog stays responsive and,
// when done, shows the fit time and the snapshot's size.
class TrainDialog final : public QDialog {
    Q_OBJECT

public:
    explicit TrainDialog(ModelStore* store, QWidget* parent = nullptr);
    ~TrainDialog() override;

    void setAlgorithm(const QString& algorithm);
    QString algorithm() const;
    // Sets one parameter field (numbers, true/false, text); false when there is no such field.
    bool setParameter(const QString& key, const QVariant& value);
    QJsonObject parameters() const;
    void setSnapshotName(const QString& name);

    bool startTraining();
    bool isRunning() const { return m_running; }
    QString statusText() const;

public slots:
    void reject() final; // cancels a running training first

signals:
    void trainingFinished(const TrainingResult& result);
    void trainingCanceled();
    void trainingFailed(const QString& message);

private:
    void rebuildForm();
    void setRunning(bool running);

    ModelStore* m_store;
    bool m_running = false;
    QJsonObject m_defaults;
    QComboBox* m_algorithm;
    QWidget* m_paramsBox;
    QFormLayout* m_paramsForm;
    QLineEdit* m_name;
    QProgressBar* m_progress;
    QLabel* m_status;
    QDialogButtonBox* m_buttons;
    QPushButton* m_trainButton;
};

} // namespace recwb::ui
