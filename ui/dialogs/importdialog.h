#pragma once

#include "common/backgroundtask.h"
#include "data/importwriter.h"

#include <QDialog>
#include <QFuture>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QStackedWidget;

namespace recwb::ui {

class AppSettings;

// File ▸ Import…: picks a format and its files, runs the importer on a worker thread
// against its own Workspace on `workspacePath`, shows progress, cancels for real (the
// import's transaction rolls back) and shows the ImportReport or the error.
class ImportDialog final : public QDialog {
    Q_OBJECT

public:
    enum Format { MovieLens100k, MovieLensLatest, RecBole, Generic };

    ImportDialog(const QString& workspacePath, AppSettings& settings, QWidget* parent = nullptr);
    ~ImportDialog() override;

    void setFormat(Format format);
    void setSourcePath(const QString& path); // folder / file for the non-generic formats
    // Starts the import with what the form holds; false (with a message) when incomplete.
    bool startImport();
    bool isRunning() const { return m_running; }
    QString reportText() const;

signals:
    void importFinished(const recwb::ImportReport& report);
    void importFailed(const QString& message);
    void importCanceled();

public slots:
    void reject() final;

private:
    QWidget* createSourcePage();
    QWidget* createGenericPage();
    void formatChanged();
    void setRunning(bool running);
    void finish(const TaskResult<ImportReport>& result);
    QString browseFolder(QLineEdit* target);
    QString browseFile(QLineEdit* target, const QString& filter);

    QString m_workspacePath;
    AppSettings& m_settings;
    QFuture<TaskResult<ImportReport>> m_future;
    bool m_running = false;
    bool m_closeWhenDone = false;

    QComboBox* m_format = nullptr;
    QStackedWidget* m_pages = nullptr;
    QLabel* m_sourceHint = nullptr;
    QLineEdit* m_source = nullptr;
    QPushButton* m_browseFile = nullptr;

    QLineEdit* m_interactionsFile = nullptr;
    QComboBox* m_kind = nullptr;
    QLineEdit* m_separator = nullptr;
    QCheckBox* m_header = nullptr;
    QLineEdit* m_userColumn = nullptr;
    QLineEdit* m_itemColumn = nullptr;
    QLineEdit* m_valueColumn = nullptr;
    QLineEdit* m_timeColumn = nullptr;
    QLineEdit* m_itemsFile = nullptr;
    QLineEdit* m_itemsIdColumn = nullptr;
    QLineEdit* m_itemsTitleColumn = nullptr;
    QLineEdit* m_itemsCategoriesColumn = nullptr;
    QLineEdit* m_listSeparator = nullptr;

    QWidget* m_form = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_status = nullptr;
    QPlainTextEdit* m_report = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
    QPushButton* m_start = nullptr;
};

} // namespace recwb::ui
