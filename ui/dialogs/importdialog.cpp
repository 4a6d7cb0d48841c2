#include "dialogs/importdialog.h"

#include "data/import/importers.h"
#include "common/settings.h"
#include "common/tablemodel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace recwb::ui {

namespace {

    enum Page { SourcePage, GenericPage };

    struct ImportRequest {
        ImportDialog::Format format = ImportDialog::MovieLens100k;
        QString source;
        GenericImportSpec generic;
    };

    ImportReport runImport(const QString& workspacePath, const ImportRequest& request, const TaskControl& control)
    {
        // Opened on the worker thread that uses it; the import is one transaction there.
        const auto ws = Workspace::open(workspacePath);
        switch (request.format) {
        case ImportDialog::MovieLens100k:
            return importMovieLens100k(*ws, request.source, control);
        case ImportDialog::MovieLensLatest:
            return importMovieLensLatest(*ws, request.source, control);
        case ImportDialog::RecBole:
            return importRecBole(*ws, request.source, control);
        case ImportDialog::Generic:
            break;
        }
        return importGeneric(*ws, request.generic, control);
    }

    QChar parseSeparator(const QString& text)
    {
        const QString t = text.trimmed();
        if (t.isEmpty())
            return {};
        if (t == u"\\t" || t.compare(u"tab", Qt::CaseInsensitive) == 0)
            return u'\t';
        return t.at(0);
    }

    QLineEdit* columnEdit(QWidget* parent, const QString& placeholder)
    {
        auto* edit = new QLineEdit(parent);
        edit->setPlaceholderText(placeholder);
        return edit;
    }

} // namespace

ImportDialog::ImportDialog(const QString& workspacePath, AppSettings& settings, QWidget* parent)
    : QDialog(parent)
    , m_workspacePath(workspacePath)
    , m_settings(settings)
{
    setWindowTitle(tr("Import into %1").arg(QFileInfo(workspacePath).fileName()));
    setMinimumWidth(620);

    m_form = new QWidget(this);
    auto* formLayout = new QVBoxLayout(m_form);
    formLayout->setContentsMargins(0, 0, 0, 0);
    m_format = new QComboBox(m_form);
    m_format->setObjectName(QStringLiteral("importFormat"));
    m_format->addItem(tr("MovieLens 100K (folder with u.data, u.item, u.user)"), MovieLens100k);
    m_format->addItem(tr("MovieLens latest (folder with ratings.csv, movies.csv, tags.csv)"), MovieLensLatest);
    m_format->addItem(tr("RecBole atomic files (.inter / .item / .user)"), RecBole);
    m_format->addItem(tr("Generic CSV / TSV / JSON Lines"), Generic);
    auto* formatRow = new QFormLayout;
    formatRow->addRow(tr("&Format:"), m_format);
    formLayout->addLayout(formatRow);

    m_pages = new QStackedWidget(m_form);
    m_pages->addWidget(createSourcePage());
    m_pages->addWidget(createGenericPage());
    formLayout->addWidget(m_pages);

    m_progress = new QProgressBar(this);
    m_progress->setRange(0, kProgressRange);
    m_progress->setValue(0);
    m_progress->hide();
    m_status = new QLabel(this);
    m_status->setWordWrap(true);
    m_report = new QPlainTextEdit(this);
    m_report->setObjectName(QStringLiteral("importReport"));
    m_report->setReadOnly(true);
    m_report->setFont(TableModel::monospaceFont());
    m_report->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_report->setMinimumHeight(160);
    m_report->hide();

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    m_start = m_buttons->addButton(tr("&Import"), QDialogButtonBox::AcceptRole);
    m_start->setDefault(true);
    connect(m_start, &QPushButton::clicked, this, &ImportDialog::startImport);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &ImportDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_form);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addWidget(m_report, 1);
    layout->addWidget(m_buttons);

    connect(m_format, &QComboBox::currentIndexChanged, this, &ImportDialog::formatChanged);
    setFormat(static_cast<Format>(m_settings.integer(keys::kImportFormat, MovieLens100k)));
    formatChanged();
}

ImportDialog::~ImportDialog()
{
    cancelIfRunning(m_future);
}

QWidget* ImportDialog::createSourcePage()
{
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 0, 0, 0);
    m_source = new QLineEdit(page);
    m_source->setObjectName(QStringLiteral("importSource"));
    auto* browseFolderButton = new QPushButton(tr("Folder…"), page);
    m_browseFile = new QPushButton(tr("File…"), page);
    connect(browseFolderButton, &QPushButton::clicked, this, [this] { browseFolder(m_source); });
    connect(m_browseFile, &QPushButton::clicked, this,
        [this] { browseFile(m_source, tr("RecBole files (*.inter *.item *.user);;All files (*)")); });
    auto* row = new QHBoxLayout;
    row->addWidget(m_source, 1);
    row->addWidget(browseFolderButton);
    row->addWidget(m_browseFile);
    auto* form = new QFormLayout;
    form->addRow(tr("Source:"), row);
    layout->addLayout(form);
    m_sourceHint = new QLabel(page);
    m_sourceHint->setWordWrap(true);
    m_sourceHint->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(m_sourceHint);
    layout->addStretch();
    return page;
}

QWidget* ImportDialog::createGenericPage()
{
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 0, 0, 0);

    auto* interactions = new QGroupBox(tr("Interactions file"), page);
    auto* iform = new QFormLayout(interactions);
    m_interactionsFile = new QLineEdit(interactions);
    m_interactionsFile->setObjectName(QStringLiteral("importInteractionsFile"));
    auto* browse = new QPushButton(tr("Browse…"), interactions);
    connect(browse, &QPushButton::clicked, this, [this] {
        browseFile(m_interactionsFile, tr("Data files (*.csv *.tsv *.txt *.jsonl *.json *.dat);;All files (*)"));
    });
    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(m_interactionsFile, 1);
    fileRow->addWidget(browse);
    iform->addRow(tr("File:"), fileRow);

    m_kind = new QComboBox(interactions);
    m_kind->addItem(tr("Detect"), static_cast<int>(DelimitedFileSpec::Kind::Auto));
    m_kind->addItem(tr("CSV"), static_cast<int>(DelimitedFileSpec::Kind::Csv));
    m_kind->addItem(tr("TSV"), static_cast<int>(DelimitedFileSpec::Kind::Tsv));
    m_kind->addItem(tr("JSON Lines"), static_cast<int>(DelimitedFileSpec::Kind::JsonLines));
    m_separator = new QLineEdit(interactions);
    m_separator->setPlaceholderText(tr("default"));
    m_separator->setToolTip(tr("One character, or \\t / tab for a tab; empty uses the format's default"));
    m_separator->setMaximumWidth(90);
    m_header = new QCheckBox(tr("First row is a &header"), interactions);
    m_header->setChecked(true);
    auto* kindRow = new QHBoxLayout;
    kindRow->addWidget(m_kind);
    kindRow->addSpacing(12);
    kindRow->addWidget(new QLabel(tr("Separator:"), interactions));
    kindRow->addWidget(m_separator);
    kindRow->addSpacing(12);
    kindRow->addWidget(m_header);
    kindRow->addStretch();
    iform->addRow(tr("Format:"), kindRow);

    const QString hint = tr("header name, or 1-based position");
    m_userColumn = columnEdit(interactions, hint);
    m_userColumn->setText(QStringLiteral("user_id"));
    m_itemColumn = columnEdit(interactions, hint);
    m_itemColumn->setText(QStringLiteral("item_id"));
    m_valueColumn = columnEdit(interactions, tr("optional: every row counts 1"));
    m_timeColumn = columnEdit(interactions, tr("optional: seconds, milliseconds or ISO-8601"));
    auto* columns = new QGridLayout;
    columns->addWidget(new QLabel(tr("User:"), interactions), 0, 0);
    columns->addWidget(m_userColumn, 0, 1);
    columns->addWidget(new QLabel(tr("Item:"), interactions), 0, 2);
    columns->addWidget(m_itemColumn, 0, 3);
    columns->addWidget(new QLabel(tr("Value:"), interactions), 1, 0);
    columns->addWidget(m_valueColumn, 1, 1);
    columns->addWidget(new QLabel(tr("Time:"), interactions), 1, 2);
    columns->addWidget(m_timeColumn, 1, 3);
    iform->addRow(tr("Columns:"), columns);
    layout->addWidget(interactions);

    auto* items = new QGroupBox(tr("Items file (optional)"), page);
    auto* tform = new QFormLayout(items);
    m_itemsFile = new QLineEdit(items);
    auto* browseItems = new QPushButton(tr("Browse…"), items);
    connect(browseItems, &QPushButton::clicked, this,
        [this] { browseFile(m_itemsFile, tr("Data files (*.csv *.tsv *.txt *.jsonl *.json *.dat);;All files (*)")); });
    auto* itemsRow = new QHBoxLayout;
    itemsRow->addWidget(m_itemsFile, 1);
    itemsRow->addWidget(browseItems);
    tform->addRow(tr("File:"), itemsRow);
    m_itemsIdColumn = columnEdit(items, hint);
    m_itemsIdColumn->setText(QStringLiteral("item_id"));
    m_itemsTitleColumn = columnEdit(items, tr("optional"));
    m_itemsTitleColumn->setText(QStringLiteral("title"));
    m_itemsCategoriesColumn = columnEdit(items, tr("optional"));
    m_listSeparator = new QLineEdit(QStringLiteral("|"), items);
    m_listSeparator->setMaximumWidth(60);
    auto* itemColumns = new QGridLayout;
    itemColumns->addWidget(new QLabel(tr("Id:"), items), 0, 0);
    itemColumns->addWidget(m_itemsIdColumn, 0, 1);
    itemColumns->addWidget(new QLabel(tr("Title:"), items), 0, 2);
    itemColumns->addWidget(m_itemsTitleColumn, 0, 3);
    itemColumns->addWidget(new QLabel(tr("Categories:"), items), 1, 0);
    itemColumns->addWidget(m_itemsCategoriesColumn, 1, 1);
    itemColumns->addWidget(new QLabel(tr("List separator:"), items), 1, 2);
    itemColumns->addWidget(m_listSeparator, 1, 3, Qt::AlignLeft);
    tform->addRow(tr("Columns:"), itemColumns);
    layout->addWidget(items);
    return page;
}

void ImportDialog::setFormat(Format format)
{
    const int index = m_format->findData(format);
    if (index >= 0)
        m_format->setCurrentIndex(index);
}

void ImportDialog::setSourcePath(const QString& path)
{
    m_source->setText(QDir::toNativeSeparators(path));
}

void ImportDialog::formatChanged()
{
    const auto format = static_cast<Format>(m_format->currentData().toInt());
    m_pages->setCurrentIndex(format == Generic ? GenericPage : SourcePage);
    m_browseFile->setVisible(format == RecBole);
    switch (format) {
    case MovieLens100k:
        m_sourceHint->setText(tr("The ml-100k folder: u.data (interactions), u.item (movies, genres) and "
                                 "u.user (age, gender, occupation)."));
        break;
    case MovieLensLatest:
        m_sourceHint->setText(tr("A ml-latest or ml-latest-small folder: ratings.csv, movies.csv and, when present, "
                                 "tags.csv."));
        break;
    case RecBole:
        m_sourceHint->setText(tr("A folder holding <name>.inter and optionally <name>.item / <name>.user, or the path "
                                 "of one of those files."));
        break;
    case Generic:
        break;
    }
}

QString ImportDialog::browseFolder(QLineEdit* target)
{
    const QString start
        = target->text().isEmpty() ? m_settings.string(keys::kImportLastFolder, QDir::homePath()) : target->text();
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose Folder"), start);
    if (!dir.isEmpty()) {
        target->setText(QDir::toNativeSeparators(dir));
        m_settings.setString(keys::kImportLastFolder, dir);
    }
    return dir;
}

QString ImportDialog::browseFile(QLineEdit* target, const QString& filter)
{
    const QString start = target->text().isEmpty() ? m_settings.string(keys::kImportLastFolder, QDir::homePath())
                                                   : QFileInfo(target->text()).absolutePath();
    const QString file = QFileDialog::getOpenFileName(this, tr("Choose File"), start, filter);
    if (!file.isEmpty()) {
        target->setText(QDir::toNativeSeparators(file));
        m_settings.setString(keys::kImportLastFolder, QFileInfo(file).absolutePath());
    }
    return file;
}

bool ImportDialog::startImport()
{
    if (m_running)
        return false;
    ImportRequest request;
    request.format = static_cast<Format>(m_format->currentData().toInt());
    if (request.format == Generic) {
        const QString file = QDir::fromNativeSeparators(m_interactionsFile->text().trimmed());
        if (file.isEmpty() || m_userColumn->text().trimmed().isEmpty() || m_itemColumn->text().trimmed().isEmpty()) {
            m_status->setText(tr("Choose the interactions file and name its user and item columns."));
            return false;
        }
        DelimitedFileSpec spec;
        spec.path = file;
        spec.kind = static_cast<DelimitedFileSpec::Kind>(m_kind->currentData().toInt());
        spec.separator = parseSeparator(m_separator->text());
        spec.header = m_header->isChecked();
        spec.columns.user = m_userColumn->text().trimmed();
        spec.columns.item = m_itemColumn->text().trimmed();
        spec.columns.value = m_valueColumn->text().trimmed();
        spec.columns.time = m_timeColumn->text().trimmed();
        request.generic.interactions = spec;
        const QString itemsFile = QDir::fromNativeSeparators(m_itemsFile->text().trimmed());
        if (!itemsFile.isEmpty()) {
            DelimitedFileSpec items;
            items.path = itemsFile;
            items.kind = spec.kind;
            items.separator = spec.separator;
            items.header = spec.header;
            items.columns.item = m_itemsIdColumn->text().trimmed();
            items.columns.title = m_itemsTitleColumn->text().trimmed();
            items.columns.categories = m_itemsCategoriesColumn->text().trimmed();
            if (!m_listSeparator->text().isEmpty())
                items.columns.listSeparator = m_listSeparator->text();
            request.generic.items = items;
        }
    } else {
        request.source = QDir::fromNativeSeparators(m_source->text().trimmed());
        if (request.source.isEmpty()) {
            m_status->setText(tr("Choose the folder to import from."));
            return false;
        }
    }
    m_settings.setInteger(keys::kImportFormat, request.format);

    m_future = runTask(
        [path = m_workspacePath, request](const TaskControl& control) { return runImport(path, request, control); });
    auto* watcher = new QFutureWatcher<TaskResult<ImportReport>>(this);
    connect(watcher, &QFutureWatcherBase::progressValueChanged, m_progress, &QProgressBar::setValue);
    connect(watcher, &QFutureWatcherBase::progressTextChanged, m_status, &QLabel::setText);
    connect(watcher, &QFutureWatcherBase::finished, watcher, &QObject::deleteLater);
    watcher->setFuture(m_future);
    setRunning(true);

    continueOn(
        m_future, this, [this](const TaskResult<ImportReport>& result) { finish(result); },
        [this] {
            TaskResult<ImportReport> canceled;
            canceled.canceled = true;
            finish(canceled);
        });
    return true;
}

void ImportDialog::finish(const TaskResult<ImportReport>& result)
{
    setRunning(false);
    if (result.value) {
        m_progress->setValue(kProgressRange);
        m_status->setText(tr("Import finished."));
        m_report->setPlainText(result.value->toText());
        m_report->show();
        emit importFinished(*result.value);
    } else if (result.canceled) {
        m_progress->setValue(0);
        m_status->setText(tr("Import canceled: the workspace is unchanged."));
        emit importCanceled();
    } else {
        m_progress->setValue(0);
        m_status->setText(tr("Import failed: the workspace is unchanged."));
        m_report->setPlainText(result.error);
        m_report->show();
        emit importFailed(result.error);
    }
    if (m_closeWhenDone)
        QDialog::reject();
}

void ImportDialog::setRunning(bool running)
{
    m_running = running;
    m_form->setEnabled(!running);
    m_start->setEnabled(!running);
    if (running)
        m_progress->show();
    QPushButton* close = m_buttons->button(QDialogButtonBox::Close);
    close->setText(running ? tr("Cancel") : tr("Close"));
    close->setEnabled(true);
    if (running) {
        m_progress->setValue(0);
        m_status->setText(tr("Importing…"));
        m_report->clear();
        m_report->hide();
    }
}

void ImportDialog::reject()
{
    if (!m_running) {
        QDialog::reject();
        return;
    }
    // Cancel and wait for the worker to roll back before going away.
    m_status->setText(tr("Canceling…"));
    m_buttons->button(QDialogButtonBox::Close)->setEnabled(false);
    cancelIfRunning(m_future);
}

QString ImportDialog::reportText() const
{
    return m_report->toPlainText();
}

} // namespace recwb::ui
