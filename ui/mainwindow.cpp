#include "mainwindow.h"

#include "users/candidatespanel.h"
#include "catalog/catalogtab.h"
#include "compare/compareview.h"
#include "experiments/experimentstab.h"
#include "review/reviewtab.h"
#include "data/dataset.h"
#include "data/generator.h"
#include "evaluation/evaluationtab.h"
#include "dialogs/importdialog.h"
#include "common/offthread.h"
#include "common/modelstore.h"
#include "dialogs/traindialog.h"
#include "users/userstab.h"
#include "prompts/promptstab.h"
#include "util/taskpool.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QProgressDialog>
#include <QPushButton>
#include <QPointer>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace recwb::ui {

namespace {

    enum StackPage { EmptyPage, TabsPage };

    const QString kWorkspaceFilter = QStringLiteral("Workspaces (*.recwb);;All files (*)");

    QString withSuffix(const QString& path)
    {
        return path.endsWith(u".recwb", Qt::CaseInsensitive) ? path : path + u".recwb";
    }

    void removeDatabaseFiles(const QString& path)
    {
        for (const QString& suffix :
            { QString(), QStringLiteral("-wal"), QStringLiteral("-shm"), QStringLiteral("-journal") })
            QFile::remove(path + suffix);
    }

} // namespace

MainWindow::MainWindow(QSettings& settings, QWidget* parent)
    : QMainWindow(parent)
    , m_settings(settings)
{
    lowerTaskPoolPriority(); // background work must not take the GUI thread's share of the cores
    setObjectName(QStringLiteral("mainWindow"));
    m_stack = new QStackedWidget(this);
    m_stack->addWidget(createEmptyState());

    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("tabs"));
    m_tabs->setDocumentMode(true);
    m_models = new ModelStore(this);
    m_catalog = new CatalogTab(m_tabs);
    m_users = new UsersTab(m_models, m_tabs);
    m_users->setColdThreshold(coldThreshold());
    m_evaluation = new EvaluationTab(m_tabs);
    m_tabs->addTab(m_catalog, tr("&Catalog"));
    m_tabs->addTab(m_users, tr("&Users"));
    m_prompts = new PromptsTab(m_models, m_tabs);
    m_prompts->setColdThreshold(coldThreshold());
    m_tabs->addTab(m_prompts, tr("&Prompts"));
    m_compare = new CompareView(m_models->rerankService(), m_models, m_tabs);
    m_tabs->addTab(m_compare, tr("Compa&re"));
    m_tabs->addTab(m_evaluation, tr("&Evaluation"));
    m_experiments = new ExperimentsTab(m_models, m_tabs);
    m_tabs->addTab(m_experiments, tr("E&xperiments"));
    m_review = new ReviewTab(m_models, m_settings, m_tabs);
    m_tabs->addTab(m_review, tr("Re&view"));
    connect(m_experiments, &ExperimentsTab::compareRequested, this,
        [this](const QString& userId, const std::vector<pipeline::ArmSpec>& arms, const QString& split, quint64 seed) {
            m_compare->setUp(userId, arms, split, seed);
            m_tabs->setCurrentWidget(m_compare);
        });
    connect(m_users, &UsersTab::compareRequested, this, [this](const QString& userId) {
        m_compare->setUser(userId);
        m_tabs->setCurrentWidget(m_compare);
    });
    connect(m_users->candidatesPanel(), &CandidatesPanel::trainRequested, this, &MainWindow::openTrainDialog);
    // A what-if saved as a synthetic user: reload, as after an import (the tab selects them).
    connect(m_users, &UsersTab::syntheticUserSaved, this, [this] { openWorkspace(m_path); });
    m_stack->addWidget(m_tabs);
    setCentralWidget(m_stack);

    createActions();
    createStatusBar();
    restoreSettings();
    updateStatus();
}

MainWindow::~MainWindow()
{
    cancelIfRunning(m_loadFuture);
    // The tabs and dialogs hold m_settings and may write to it as they go (a line edit that
    // loses its focus), so they go first, while it lives; it then writes what is pending.
    QList<QPointer<QWidget>> children;
    for (QWidget* child : findChildren<QWidget*>(Qt::FindDirectChildrenOnly))
        children << child;
    for (const QPointer<QWidget>& child : children)
        delete child.data();
}

int MainWindow::coldThreshold() const
{
    return m_settings.coldThreshold();
}

QString MainWindow::demoWorkspacePath()
{
    return QDir(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation))
        .filePath(QStringLiteral("demo.recwb"));
}

QWidget* MainWindow::createEmptyState()
{
    auto* page = new QWidget(this);
    page->setObjectName(QStringLiteral("emptyState"));
    m_emptyTitle = new QLabel(tr("No workspace open"), page);
    QFont titleFont = m_emptyTitle->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.6);
    titleFont.setBold(true);
    m_emptyTitle->setFont(titleFont);
    m_emptyTitle->setAlignment(Qt::AlignCenter);
    m_emptyText = new QLabel(page);
    m_emptyText->setAlignment(Qt::AlignCenter);
    m_emptyText->setWordWrap(true);
    m_emptyText->setForegroundRole(QPalette::PlaceholderText);

    auto* open = new QPushButton(tr("Open Workspace…"), page);
    auto* demo = new QPushButton(tr("Open Demo Workspace"), page);
    auto* create = new QPushButton(tr("New Workspace…"), page);
    open->setDefault(true);
    connect(open, &QPushButton::clicked, this, &MainWindow::chooseOpen);
    connect(demo, &QPushButton::clicked, this, &MainWindow::openDemoWorkspace);
    connect(create, &QPushButton::clicked, this, &MainWindow::chooseNew);

    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(open);
    buttons->addWidget(demo);
    buttons->addWidget(create);
    buttons->addStretch();

    auto* layout = new QVBoxLayout(page);
    layout->addStretch(2);
    layout->addWidget(m_emptyTitle);
    layout->addSpacing(6);
    layout->addWidget(m_emptyText);
    layout->addSpacing(18);
    layout->addLayout(buttons);
    layout->addStretch(3);
    return page;
}

void MainWindow::createActions()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* newAction = file->addAction(tr("&New Workspace…"), this, &MainWindow::chooseNew);
    newAction->setShortcut(QKeySequence::New);
    QAction* openAction = file->addAction(tr("&Open…"), this, &MainWindow::chooseOpen);
    openAction->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::rebuildRecentMenu);
    file->addAction(tr("Open &Demo Workspace"), this, &MainWindow::openDemoWorkspace);
    file->addSeparator();
    m_importAction = file->addAction(tr("&Import…"), this, &MainWindow::openImportDialog);
    m_importAction->setShortcut(Qt::CTRL | Qt::Key_I);
    m_importAction->setEnabled(false);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    quit->setMenuRole(QAction::QuitRole);

    QMenu* models = menuBar()->addMenu(tr("&Models"));
    m_trainAction = models->addAction(tr("&Train Model…"), this, &MainWindow::openTrainDialog);
    m_trainAction->setShortcut(Qt::CTRL | Qt::Key_T);
    m_trainAction->setEnabled(false);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Recommendation Workbench"), this, &MainWindow::showAbout)
        ->setMenuRole(QAction::AboutRole);
}

void MainWindow::createStatusBar()
{
    m_pathLabel = new QLabel(this);
    m_pathLabel->setObjectName(QStringLiteral("statusPath"));
    m_pathLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_countsLabel = new QLabel(this);
    m_countsLabel->setObjectName(QStringLiteral("statusCounts"));
    m_progress = new QProgressBar(this);
    m_progress->setRange(0, kProgressRange);
    m_progress->setMaximumWidth(220);
    m_progress->setTextVisible(false);
    m_cancel = new QToolButton(this);
    m_cancel->setText(tr("Cancel"));
    m_cancel->setAutoRaise(true);
    connect(m_cancel, &QToolButton::clicked, this, [this] { cancelIfRunning(m_loadFuture); });
    m_progress->hide();
    m_cancel->hide();
    statusBar()->addWidget(m_pathLabel, 1);
    statusBar()->addPermanentWidget(m_progress);
    statusBar()->addPermanentWidget(m_cancel);
    statusBar()->addPermanentWidget(m_countsLabel);
}

void MainWindow::restoreSettings()
{
    if (!restoreGeometry(m_settings.bytes(keys::kWindowGeometry)))
        resize(defaults::kWindowWidth, defaults::kWindowHeight);
    restoreState(m_settings.bytes(keys::kWindowState));
    m_catalog->splitter()->restoreState(m_settings.bytes(keys::kCatalogSplitter));
    m_users->splitter()->restoreState(m_settings.bytes(keys::kUsersSplitter));
    m_users->detailSplitter()->restoreState(m_settings.bytes(keys::kUsersDetailSplitter));
    m_tabs->setCurrentIndex(m_settings.integer(keys::kCurrentTab, 0));
}

void MainWindow::saveSettings()
{
    m_settings.setBytes(keys::kWindowGeometry, saveGeometry());
    m_settings.setBytes(keys::kWindowState, saveState());
    m_settings.setBytes(keys::kCatalogSplitter, m_catalog->splitter()->saveState());
    m_settings.setBytes(keys::kUsersSplitter, m_users->splitter()->saveState());
    m_settings.setBytes(keys::kUsersDetailSplitter, m_users->detailSplitter()->saveState());
    m_settings.setInteger(keys::kCurrentTab, m_tabs->currentIndex());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveSettings();
    ++m_job; // nothing that is still running may land in a closing window
    cancelIfRunning(m_loadFuture);
    QMainWindow::closeEvent(event);
}

void MainWindow::openLastOrDemo()
{
    const QString last = m_settings.lastWorkspace();
    if (last.isEmpty()) {
        openDemoWorkspace(); // first start
    } else if (QFileInfo::exists(last)) {
        openWorkspace(last);
    } else {
        m_emptyText->setText(tr("The last workspace, %1, no longer exists.").arg(QDir::toNativeSeparators(last)));
    }
}

void MainWindow::openWorkspace(const QString& path)
{
    startLoad(path, Workspace::Mode::OpenExisting);
}

void MainWindow::createWorkspace(const QString& path)
{
    startLoad(path, Workspace::Mode::CreateOrOpen);
}

void MainWindow::startLoad(const QString& path, Workspace::Mode mode)
{
    const quint64 job = ++m_job;
    cancelIfRunning(m_loadFuture); // an older load stops early; its result would be dropped anyway
    m_loadFuture = runTask([path, mode, threshold = coldThreshold()](const TaskControl& control) {
        const auto ws = Workspace::open(path, mode); // opened, used and closed on this worker
        auto dataset = shareReleasedOffGuiThread(ws->load(control));
        control.throwIfCanceled();
        auto catalogTexts = CatalogModel::textsOf(*dataset);
        auto usersTexts = UsersModel::textsOf(*dataset);
        const int32_t coldUsers = dataset->coldUserCount(threshold);
        return LoadedWorkspace {
            ws->path(), std::move(dataset), std::move(catalogTexts), std::move(usersTexts), threshold, coldUsers
        };
    });
    setBusy(true, tr("Opening %1…").arg(QDir::toNativeSeparators(path)));

    auto* watcher = new QFutureWatcher<TaskResult<LoadedWorkspace>>(this);
    connect(watcher, &QFutureWatcherBase::progressValueChanged, this, [this, job](int value) {
        if (job == m_job)
            m_progress->setValue(value);
    });
    connect(watcher, &QFutureWatcherBase::finished, watcher, &QObject::deleteLater);
    watcher->setFuture(m_loadFuture);

    continueOn(
        m_loadFuture, this,
        [this, job, path](const TaskResult<LoadedWorkspace>& result) {
            if (job != m_job)
                return; // a newer load started meanwhile
            setBusy(false);
            if (result.value) {
                finishLoad(*result.value);
            } else if (result.canceled) {
                statusBar()->showMessage(tr("Opening canceled"), 5000);
            } else {
                const QString message = tr("Could not open %1:\n%2").arg(QDir::toNativeSeparators(path), result.error);
                showError(tr("Open Workspace"), message);
                emit workspaceLoadFailed(path, result.error);
            }
        },
        [this, job] {
            if (job != m_job)
                return;
            setBusy(false);
            statusBar()->showMessage(tr("Opening canceled"), 5000);
        });
}

void MainWindow::finishLoad(const LoadedWorkspace& loaded)
{
    m_dataset = loaded.dataset;
    m_path = loaded.path;
    m_coldCountOf = loaded.dataset;
    m_coldCountThreshold = loaded.coldThreshold;
    m_coldCount = loaded.coldUsers;
    m_models->setWorkspace(m_path, m_dataset); // before the tabs, so they see the new store state
    m_catalog->setDataset(m_dataset, loaded.catalogTexts);
    m_users->setWorkspace(m_path, m_dataset, loaded.usersTexts);
    m_evaluation->setWorkspace(m_path, m_dataset);
    m_prompts->setWorkspace(m_path, m_dataset);
    m_compare->setWorkspace(m_path, m_dataset);
    m_experiments->setWorkspace(m_path, m_dataset);
    m_review->setWorkspace(m_path, m_dataset);
    // The tabs page shows in a later event-loop turn: showing it lays out and paints every
    // widget on it (25-40 ms on this VM), which would otherwise add to the tabs taking the
    // new workspace above in one stall (issue 13: under 50 ms with a million users). A timer,
    // not a zero timeout: Qt delivers a call posted now in the same pass over the posted
    // events as this one, so the two would still run back to back.
    QTimer::singleShot(1, Qt::PreciseTimer, this, [this, job = m_job, path = m_path] {
        if (job == m_job && path == m_path)
            showLoaded();
    });
}

void MainWindow::showLoaded()
{
    m_stack->setCurrentIndex(TabsPage);
    setWindowFilePath(m_path);
    m_importAction->setEnabled(true);
    m_trainAction->setEnabled(true);
    m_settings.setLastWorkspace(m_path);
    m_settings.addRecentWorkspace(m_path);
    updateStatus();
    emit workspaceLoaded(m_path);
}

void MainWindow::generateDemo(const QString& path)
{
    const quint64 job = ++m_job;
    cancelIfRunning(m_loadFuture);
    setBusy(true, tr("Generating the demo workspace…"));

    auto* dialog = new QProgressDialog(tr("Generating the demo workspace…"), tr("Cancel"), 0, kProgressRange, this);
    dialog->setWindowTitle(tr("Demo Workspace"));
    dialog->setAutoClose(false);
    dialog->setAutoReset(false);
    dialog->setMinimumDuration(0);
    dialog->setWindowModality(Qt::WindowModal);
    dialog->setMinimumWidth(420);

    // Written to a side file and renamed at the end, so a canceled or failed run never
    // leaves a half-made demo behind for the next start.
    auto future = runTask([path](const TaskControl& control) {
        const QString part = path + QStringLiteral(".part");
        QDir().mkpath(QFileInfo(path).absolutePath());
        removeDatabaseFiles(part);
        try {
            ImportReport report;
            {
                const auto ws = Workspace::open(part, Workspace::Mode::CreateOrOpen);
                report = generateIntoWorkspace(*ws, GeneratorConfig {}, control);
            }
            if (!QFile::rename(part, path))
                throw Error(QStringLiteral("cannot rename %1 to %2").arg(part, path));
            return report;
        } catch (...) {
            removeDatabaseFiles(part);
            throw;
        }
    });

    auto* watcher = new QFutureWatcher<TaskResult<ImportReport>>(dialog);
    connect(watcher, &QFutureWatcherBase::progressValueChanged, dialog, &QProgressDialog::setValue);
    connect(watcher, &QFutureWatcherBase::progressTextChanged, dialog, &QProgressDialog::setLabelText);
    connect(dialog, &QProgressDialog::canceled, watcher, [watcher, dialog] {
        dialog->setLabelText(QProgressDialog::tr("Canceling…"));
        watcher->cancel();
    });
    watcher->setFuture(future);
    dialog->open();

    continueOn(
        future, this,
        [this, job, path, dialog](const TaskResult<ImportReport>& result) {
            dialog->deleteLater();
            if (job != m_job)
                return;
            setBusy(false);
            if (result.value) {
                openWorkspace(path);
            } else if (!result.canceled) {
                showError(tr("Demo Workspace"),
                    tr("Could not generate %1:\n%2").arg(QDir::toNativeSeparators(path), result.error));
                emit workspaceLoadFailed(path, result.error);
            }
        },
        [this, job, dialog] {
            dialog->deleteLater();
            if (job != m_job)
                return;
            setBusy(false);
            statusBar()->showMessage(tr("Demo generation canceled"), 5000);
        });
}

void MainWindow::openDemoWorkspace()
{
    const QString path = demoWorkspacePath();
    if (QFileInfo::exists(path))
        openWorkspace(path);
    else
        generateDemo(path);
}

void MainWindow::setBusy(bool busy, const QString& message)
{
    m_busy = busy;
    m_progress->setValue(0);
    m_progress->setVisible(busy);
    m_cancel->setVisible(busy && m_loadFuture.isRunning());
    if (busy) {
        m_pathLabel->setText(message);
        if (!m_dataset) {
            m_emptyTitle->setText(tr("Opening…"));
            m_emptyText->setText(message);
        }
    } else {
        if (!m_dataset)
            m_emptyTitle->setText(tr("No workspace open"));
        updateStatus();
    }
}

void MainWindow::showError(const QString& title, const QString& text)
{
    auto* box = new QMessageBox(QMessageBox::Warning, title, text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::updateStatus()
{
    if (m_busy)
        return;
    if (!m_dataset) {
        m_pathLabel->setText(tr("No workspace open"));
        m_pathLabel->setToolTip({});
        m_countsLabel->clear();
        if (m_emptyText->text().isEmpty() || m_stack->currentIndex() == EmptyPage)
            m_emptyText->setText(m_emptyText->text().isEmpty()
                    ? tr("Open a workspace file, create an empty one and import data into it,\n"
                         "or explore the generated demo workspace.")
                    : m_emptyText->text());
        return;
    }
    const QString native = QDir::toNativeSeparators(m_path);
    m_pathLabel->setText(m_pathLabel->fontMetrics().elidedText(native, Qt::ElideMiddle, 560));
    m_pathLabel->setToolTip(native);
    const QLocale locale;
    const int threshold = coldThreshold();
    if (m_coldCountOf != m_dataset || m_coldCountThreshold != threshold) {
        m_coldCountOf = m_dataset;
        m_coldCountThreshold = threshold;
        m_coldCount = m_dataset->coldUserCount(threshold);
    }
    m_countsLabel->setText(
        tr("%1 users · %2 items · %3 interactions · %4 cold users")
            .arg(locale.toString(m_dataset->numUsers()), locale.toString(m_dataset->numItems()),
                locale.toString(m_dataset->numInteractions()), locale.toString(m_coldCount)));
    m_countsLabel->setToolTip(tr("Cold-start users have fewer than %1 interactions").arg(threshold));
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = m_settings.recentWorkspaces();
    for (const QString& path : recent) {
        QAction* action
            = m_recentMenu->addAction(QFileInfo(path).fileName(), this, [this, path] { openWorkspace(path); });
        action->setToolTip(QDir::toNativeSeparators(path));
        action->setStatusTip(QDir::toNativeSeparators(path));
    }
    if (recent.isEmpty())
        m_recentMenu->addAction(tr("No recent workspaces"))->setEnabled(false);
    m_recentMenu->addSeparator();
    QAction* clear = m_recentMenu->addAction(tr("Clear List"), this, [this] { m_settings.clearRecentWorkspaces(); });
    clear->setEnabled(!recent.isEmpty());
}

void MainWindow::chooseOpen()
{
    const QString dir = m_path.isEmpty() ? QDir::homePath() : QFileInfo(m_path).absolutePath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Workspace"), dir, kWorkspaceFilter);
    if (!path.isEmpty())
        openWorkspace(path);
}

void MainWindow::chooseNew()
{
    const QString dir = m_path.isEmpty() ? QDir::homePath() : QFileInfo(m_path).absolutePath();
    const QString path = QFileDialog::getSaveFileName(
        this, tr("New Workspace"), QDir(dir).filePath(QStringLiteral("untitled.recwb")), kWorkspaceFilter);
    if (!path.isEmpty())
        createWorkspace(withSuffix(path));
}

ImportDialog* MainWindow::openImportDialog()
{
    if (m_path.isEmpty())
        return nullptr;
    auto* dialog = new ImportDialog(m_path, m_settings, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    connect(dialog, &ImportDialog::importFinished, this, [this, path = m_path] { openWorkspace(path); });
    dialog->open();
    return dialog;
}

TrainDialog* MainWindow::openTrainDialog()
{
    if (!m_dataset)
        return nullptr;
    if (auto* existing = findChild<TrainDialog*>()) {
        existing->raise();
        existing->activateWindow();
        return existing;
    }
    auto* dialog = new TrainDialog(m_models, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    if (const ModelChoice* c = m_models->choice(m_users->candidatesPanel()->currentModelKey()))
        dialog->setAlgorithm(c->algorithm);
    dialog->open();
    return dialog;
}

void MainWindow::showAbout()
{
    auto* box = new QMessageBox(this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setWindowTitle(tr("About Recommendation Workbench"));
    box->setIconPixmap(windowIcon().pixmap(64, 64));
    box->setTextFormat(Qt::RichText);
    box->setText(tr("<h3>Recommendation Workbench %1</h3>"
                    "<p>Hybrid recommendation: collaborative filtering finds candidates, a reranker "
                    "orders and explains them, and you inspect, compare and measure every stage.</p>"
                    "<p>Built with Qt %2.</p>")
                     .arg(QStringLiteral(RECWB_VERSION), QString::fromLatin1(qVersion())));
    box->open();
}

} // namespace recwb::ui
