#pragma once

#include "rerank/llmtypes.h"

#include <QDialog>
#include <QPointer>
#include <optional>

class QButtonGroup;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTableView;

namespace recwb::rerank {
class EndpointTest;
class KeyStore;
class LlmClient;
struct EndpointTestResult;
}

namespace recwb::ui {

class EndpointsModel;

// Endpoints and keys (issue 9, section 3): lists the workspace's endpoint profiles and
// adds, edits, duplicates and removes them with every option `recwb-cli endpoints add`
// has; picks the default; stores a key in the OS keychain (never shown again) or names an
// environment variable (shown as "from $VAR", never its value); Test sends a minimal
// request and shows status, latency, the model that answered and the error.
// Database reads and writes run on a worker with their own Workspace; keychain jobs and the
// test call are asynchronous on the GUI thread. Nothing here blocks.
// Open it from any tab with showFor(path, this) and connect endpointsChanged() to reload
// that tab's endpoint list.
class EndpointsDialog final : public QDialog {
    Q_OBJECT

public:
    explicit EndpointsDialog(const QString& workspacePath, QWidget* parent = nullptr);
    ~EndpointsDialog() override;

    // Opens a non-modal dialog that deletes itself when closed; connect endpointsChanged()
    // of the returned dialog to reload the caller's endpoint list.
    static EndpointsDialog* showFor(const QString& workspacePath, QWidget* parent);

    EndpointsModel* model() const { return m_model; }
    const QString& workspacePath() const { return m_path; }
    void selectEndpoint(const QString& name);

signals:
    void endpointsChanged(); // a profile or the default was written: reload endpoint lists
    void endpointsLoaded(); // the list was (re)read from the workspace
    void saveFailed(const QString& message); // validation, keychain or database
    void endpointTested(const recwb::rerank::EndpointTestResult& result);

private:
    struct Snapshot;
    enum class KeyMode { None, Env, Keychain };

    void buildUi();
    void reload(const QString& select);
    void showSelected();
    void fillForm(const rerank::EndpointProfile& e, const QString& originalName);
    void updateKindDependent();
    void updateKeyStatus();
    void probeKeychain(const QString& entry);
    std::optional<rerank::EndpointProfile> profileFromForm(QString* error) const;
    KeyMode keyMode() const;
    void setKeyMode(KeyMode mode);
    void showError(const QString& message);
    void setBusy(bool busy);

    void addNew();
    void save();
    void duplicateSelected();
    void removeSelected();
    void setDefault(const QString& name);
    void test();
    void showTestResult(const rerank::EndpointTestResult& r);
    // Runs `write` on a worker with its own Workspace, then reloads and selects `select`.
    template <typename Fn> void writeThen(Fn write, const QString& select, const QString& doneText);

    QString m_path;
    EndpointsModel* m_model;
    rerank::LlmClient* m_client = nullptr;
    rerank::KeyStore* m_keys;
    QPointer<rerank::EndpointTest> m_test;
    quint64 m_loadJob = 0;
    quint64 m_testJob = 0;
    quint64 m_probeJob = 0;
    bool m_busy = false;
    QString m_originalName; // the stored name of the endpoint in the form; empty for a new one
    QString m_storedEntry; // its keychain entry as stored
    QString m_probeText; // what the keychain said about m_storedEntry
    QString m_keychainProblem; // why no keychain answers here; empty when one does (or not known yet)
    bool m_filling = false;

    QTableView* m_list;
    QPushButton* m_add;
    QPushButton* m_duplicate;
    QPushButton* m_remove;
    QComboBox* m_default;
    QGroupBox* m_form;
    QLineEdit* m_name;
    QComboBox* m_kind;
    QLineEdit* m_baseUrl;
    QLineEdit* m_modelName;
    QSpinBox* m_timeout;
    QSpinBox* m_retries;
    QSpinBox* m_concurrency;
    QDoubleSpinBox* m_temperature;
    QSpinBox* m_maxTokens;
    QComboBox* m_structured;
    QCheckBox* m_insecure;
    QLineEdit* m_priceInput;
    QLineEdit* m_priceCached;
    QLineEdit* m_priceOutput;
    QGroupBox* m_keyBox;
    QButtonGroup* m_keyModes;
    QRadioButton* m_keyNone;
    QRadioButton* m_keyEnvMode;
    QRadioButton* m_keychainMode;
    QLineEdit* m_keyEnv;
    QLineEdit* m_keychainKey;
    QLabel* m_keyStatus;
    QLabel* m_error;
    QLabel* m_status;
    QPushButton* m_save;
    QPushButton* m_testButton;
    QLabel* m_testResult;
};

} // namespace recwb::ui
