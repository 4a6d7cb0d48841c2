#include "prompts/promptstab.h"

#include "common/userchoicemodel.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "common/backgroundtask.h"
#include "common/ceilingconfirm.h"
#include "common/modelstore.h"
#include "common/tablemodel.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "dialogs/endpointsdialog.h"
#include "pipeline/promptpreview.h"
#include "pipeline/rerankservice.h"
#include "prompts/mustachehighlighter.h"
#include "prompts/promptversionsmodel.h"
#include "rerank/promptdiff.h"

#include <QAction>
#include <QComboBox>
#include <QListView>
#include <QDateTime>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTimer>
#include <QToolBar>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace recwb::ui {

namespace {

    constexpr int kRenderDelayMs = 150; // after the last keystroke
    constexpr int kDefaultAutosaveMs = 3000;

    QString jsonText(const QJsonValue& v)
    {
        switch (v.type()) {
        case QJsonValue::Bool:
            return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
        case QJsonValue::Double:
            return QString::number(v.toDouble());
        case QJsonValue::String:
            return v.toString();
        default:
            return {};
        }
    }

    // One variable per row; lists show their length and the fields of their first element.
    void addVariable(QTreeWidgetItem* parent, QTreeWidget* tree, const QString& name, const QJsonValue& v)
    {
        auto* item = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(tree);
        item->setText(0, name);
        if (v.isObject()) {
            const QJsonObject o = v.toObject();
            for (auto it = o.begin(); it != o.end(); ++it)
                addVariable(item, tree, it.key(), it.value());
            item->setExpanded(true);
        } else if (v.isArray()) {
            const QJsonArray a = v.toArray();
            item->setText(1, PromptsTab::tr("list of %n", nullptr, static_cast<int>(a.size())));
            if (!a.isEmpty() && a.first().isObject()) {
                const QJsonObject first = a.first().toObject();
                for (auto it = first.begin(); it != first.end(); ++it)
                    addVariable(item, tree, it.key(), it.value());
                item->setToolTip(1, PromptsTab::tr("The fields show the first entry"));
            }
        } else {
            const QString text = jsonText(v);
            item->setText(1, text.size() > 200 ? text.left(200) + QChar(0x2026) : text);
            item->setToolTip(1, text.size() > 80 ? text.left(2000) : QString());
        }
    }

    QString formatUsd(double usd)
    {
        return usd < 0.01 ? QStringLiteral("$%1").arg(usd, 0, 'f', 5) : QStringLiteral("$%1").arg(usd, 0, 'f', 4);
    }

} // namespace

struct PromptsTab::Lists {
    QList<PromptVersionsModel::Row> rows;
    QList<rerank::store::Draft> drafts;
    QList<rerank::EndpointProfile> endpoints;
    QString defaultEndpoint;
    std::optional<rerank::PriceTable> prices;
    QString pricesError;
};

PromptsTab::PromptsTab(ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_store(store)
    , m_threshold(kDefaultColdThreshold)
{
    setObjectName(QStringLiteral("promptsTab"));
    buildUi();
    m_renderTimer = new QTimer(this);
    m_renderTimer->setSingleShot(true);
    m_renderTimer->setInterval(kRenderDelayMs);
    connect(m_renderTimer, &QTimer::timeout, this, &PromptsTab::renderNow);
    m_autosaveTimer = new QTimer(this);
    bool envOk = false;
    const int envMs = qEnvironmentVariableIntValue("RECWB_AUTOSAVE_MS", &envOk);
    m_autosaveTimer->setInterval(envOk && envMs > 0 ? envMs : kDefaultAutosaveMs);
    connect(m_autosaveTimer, &QTimer::timeout, this, &PromptsTab::autosave);
    m_autosaveTimer->start();

    setRerankService(m_store->rerankService());
    connect(m_store, &ModelStore::modelReady, this, [this](const QString& key) {
        if (key == m_modelKey && !m_candidates)
            requestCandidates();
    });
    connect(m_store, &ModelStore::modelFailed, this, [this](const QString& key, const QString& message) {
        if (key == m_modelKey)
            m_preview->setPlainText(tr("No candidates: the CF model could not be loaded: %1").arg(message));
    });
    connect(m_store, &ModelStore::snapshotsChanged, this, [this] {
        if (m_dataset && m_store->defaultKey() != m_modelKey)
            requestCandidates();
    });
    updateActions();
}

PromptsTab::~PromptsTab() = default;

void PromptsTab::buildUi()
{
    // Left: the versions and labels.
    m_versions = new PromptVersionsModel(this);
    m_versionsView = new QTableView;
    m_versionsView->setObjectName(QStringLiteral("promptVersions"));
    m_versionsView->setModel(m_versions);
    m_versionsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_versionsView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_versionsView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_versionsView->verticalHeader()->hide();
    m_versionsView->verticalHeader()->setDefaultSectionSize(m_versionsView->fontMetrics().height() + 6);
    m_versionsView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_versionsView->horizontalHeader()->setSectionResizeMode(PromptVersionsModel::Note, QHeaderView::Stretch);
    m_versionsView->setWordWrap(false);
    m_versionsView->setToolTip(tr("Double-click (or Enter) opens a version in the editor"));
    connect(m_versionsView, &QTableView::activated, this, [this](const QModelIndex& index) { openRow(index.row()); });

    m_label = new QComboBox;
    m_label->setObjectName(QStringLiteral("promptLabel"));
    m_label->setEditable(true);
    m_label->addItems({ QStringLiteral("production"), QStringLiteral("staging") });
    m_label->setToolTip(tr("A label names one version of a template: rerank --prompt NAME@LABEL uses it"));
    m_setLabel = new QPushButton(tr("Set on version"));
    m_setLabel->setObjectName(QStringLiteral("promptSetLabel"));
    m_setLabel->setToolTip(tr("Point the label at the selected version (moves it if it is on another one)"));
    m_removeLabel = new QPushButton(tr("Remove"));
    m_removeLabel->setObjectName(QStringLiteral("promptRemoveLabel"));
    m_new = new QPushButton(tr("New template…"));
    m_new->setObjectName(QStringLiteral("promptNew"));
    connect(m_setLabel, &QPushButton::clicked, this, [this] { changeLabel(false); });
    connect(m_removeLabel, &QPushButton::clicked, this, [this] { changeLabel(true); });
    connect(m_new, &QPushButton::clicked, this, &PromptsTab::newTemplate);

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    leftLayout->addWidget(m_versionsView, 1);
    auto* labelRow = new QHBoxLayout;
    labelRow->addWidget(new QLabel(tr("Label:")));
    labelRow->addWidget(m_label, 1);
    labelRow->addWidget(m_setLabel);
    labelRow->addWidget(m_removeLabel);
    leftLayout->addLayout(labelRow);
    leftLayout->addWidget(m_new, 0, Qt::AlignLeft);

    // Middle: the editor.
    m_title = new QLabel;
    m_title->setObjectName(QStringLiteral("promptTitle"));
    m_title->setTextFormat(Qt::RichText);
    m_editor = new QPlainTextEdit;
    m_editor->setObjectName(QStringLiteral("promptEditor"));
    m_editor->setFont(TableModel::monospaceFont());
    m_editor->setLineWrapMode(QPlainTextEdit::NoWrap); // line numbers in errors are the template's lines
    m_editor->setTabChangesFocus(false);
    m_editor->setPlaceholderText(tr("Open a template version from the list"));
    m_highlighter = new MustacheHighlighter(m_editor->document());
    connect(m_editor, &QPlainTextEdit::textChanged, this, &PromptsTab::editorChanged);

    auto* bar = new QToolBar;
    bar->setObjectName(QStringLiteral("promptToolBar"));
    bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    m_undo = bar->addAction(tr("Undo"));
    m_undo->setObjectName(QStringLiteral("promptUndo"));
    m_undo->setShortcut(QKeySequence::Undo);
    m_undo->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_undo->setEnabled(false);
    m_redo = bar->addAction(tr("Redo"));
    m_redo->setObjectName(QStringLiteral("promptRedo"));
    m_redo->setShortcut(QKeySequence::Redo);
    m_redo->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_redo->setEnabled(false);
    addAction(m_undo);
    addAction(m_redo);
    connect(m_undo, &QAction::triggered, m_editor, &QPlainTextEdit::undo);
    connect(m_redo, &QAction::triggered, m_editor, &QPlainTextEdit::redo);
    connect(m_editor, &QPlainTextEdit::undoAvailable, m_undo, &QAction::setEnabled);
    connect(m_editor, &QPlainTextEdit::redoAvailable, m_redo, &QAction::setEnabled);
    bar->addSeparator();
    m_note = new QLineEdit;
    m_note->setObjectName(QStringLiteral("promptNote"));
    m_note->setPlaceholderText(tr("Note for the new version: what changed and why"));
    m_note->setClearButtonEnabled(true);
    bar->addWidget(m_note);
    m_save = new QPushButton(tr("Save version…"));
    m_save->setObjectName(QStringLiteral("promptSave"));
    m_save->setToolTip(tr("Store the editor's text as a new version (never overwrites one), with the note and the "
                          "version it was edited from"));
    bar->addWidget(m_save);
    m_save->setShortcut(QKeySequence::Save);
    connect(m_save, &QPushButton::clicked, this, &PromptsTab::saveVersion);
    connect(m_note, &QLineEdit::returnPressed, this, &PromptsTab::saveVersion);

    m_draftBar = new QWidget;
    m_draftBar->setObjectName(QStringLiteral("promptDraftBar"));
    m_draftBar->setAutoFillBackground(true);
    QPalette pal = m_draftBar->palette();
    pal.setColor(QPalette::Window, QColor(0xff, 0xf8, 0xc5));
    pal.setColor(QPalette::WindowText, QColor(0x3b, 0x2e, 0x00));
    m_draftBar->setPalette(pal);
    m_draftText = new QLabel;
    m_draftText->setWordWrap(true);
    m_restoreDraft = new QPushButton(tr("Restore draft"));
    m_restoreDraft->setObjectName(QStringLiteral("promptRestoreDraft"));
    m_discardDraft = new QPushButton(tr("Discard draft"));
    m_discardDraft->setObjectName(QStringLiteral("promptDiscardDraft"));
    auto* draftLayout = new QHBoxLayout(m_draftBar);
    draftLayout->addWidget(m_draftText, 1);
    draftLayout->addWidget(m_restoreDraft);
    draftLayout->addWidget(m_discardDraft);
    m_draftBar->hide();
    connect(m_restoreDraft, &QPushButton::clicked, this, &PromptsTab::restoreDraft);
    connect(m_discardDraft, &QPushButton::clicked, this, &PromptsTab::discardDraft);

    m_error = new QLabel;
    m_error->setObjectName(QStringLiteral("promptError"));
    m_error->setWordWrap(true);
    m_error->setTextFormat(Qt::RichText);
    m_error->setToolTip(tr("Click the position to go there"));
    connect(m_error, &QLabel::linkActivated, this, [this](const QString& link) {
        // "pos:LINE:COLUMN"
        const QStringList parts = link.split(u':');
        const QTextBlock block = m_editor->document()->findBlockByNumber(parts.value(1).toInt() - 1);
        if (!block.isValid())
            return;
        QTextCursor c(block);
        c.setPosition(
            block.position() + std::clamp(parts.value(2).toInt() - 1, 0, static_cast<int>(block.length()) - 1));
        m_editor->setTextCursor(c);
        m_editor->setFocus();
    });
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("promptStatus"));
    m_status->setWordWrap(true);
    m_position = new QLabel;
    m_position->setObjectName(QStringLiteral("promptPosition"));
    connect(m_editor, &QPlainTextEdit::cursorPositionChanged, this, [this] {
        const QTextCursor c = m_editor->textCursor();
        m_position->setText(tr("Line %1, column %2").arg(c.blockNumber() + 1).arg(c.positionInBlock() + 1));
    });

    auto* middle = new QWidget;
    auto* midLayout = new QVBoxLayout(middle);
    midLayout->setContentsMargins(0, 0, 0, 0);
    midLayout->addWidget(m_title);
    midLayout->addWidget(bar);
    midLayout->addWidget(m_draftBar);
    midLayout->addWidget(m_editor, 1);
    midLayout->addWidget(m_error);
    auto* statusRow = new QHBoxLayout;
    statusRow->addWidget(m_status, 1);
    statusRow->addWidget(m_position, 0, Qt::AlignTop | Qt::AlignRight);
    midLayout->addLayout(statusRow);

    // Right: the preview, its inputs and the estimate, the variables, the diff.
    m_userCombo = new QComboBox;
    m_userCombo->setObjectName(QStringLiteral("promptUser"));
    m_userCombo->setToolTip(tr("The user the preview is rendered for (cold users get the cold-start candidates)"));
    m_userCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_userCombo->setMinimumContentsLength(16);
    m_userChoices = new UserChoiceModel(m_userCombo);
    m_userCombo->setModel(m_userChoices);
    if (auto* list = qobject_cast<QListView*>(m_userCombo->view()))
        list->setUniformItemSizes(true); // a million users: no per-row size

    m_endpoint = new QComboBox;
    m_endpoint->setObjectName(QStringLiteral("promptEndpoint"));
    m_endpoint->setToolTip(tr("The endpoint the cost is estimated for (nothing is sent)"));
    m_candidateCount = new QSpinBox;
    m_candidateCount->setObjectName(QStringLiteral("promptCandidates"));
    m_candidateCount->setRange(1, 500);
    m_candidateCount->setValue(50);
    m_k = new QSpinBox;
    m_k->setObjectName(QStringLiteral("promptK"));
    m_k->setRange(1, 100);
    m_k->setValue(10);
    m_estimate = new QLabel;
    m_estimate->setObjectName(QStringLiteral("promptEstimate"));
    m_estimate->setWordWrap(true);
    m_estimate->setTextFormat(Qt::RichText);
    connect(m_userCombo, &QComboBox::currentIndexChanged, this, [this] {
        m_user = m_userCombo->currentData().isValid() ? m_userCombo->currentData().toInt() : -1;
        requestCandidates();
    });
    connect(m_endpoint, &QComboBox::currentIndexChanged, this, &PromptsTab::renderNow);
    connect(m_candidateCount, &QSpinBox::valueChanged, this, &PromptsTab::requestCandidates);
    connect(m_k, &QSpinBox::valueChanged, this, [this] { m_renderTimer->start(); });

    m_endpointsButton = new QPushButton(tr("Endpoints…"));
    m_endpointsButton->setObjectName(QStringLiteral("promptEndpoints"));
    m_endpointsButton->setToolTip(tr("Add, edit or test endpoints and their keys"));
    connect(m_endpointsButton, &QPushButton::clicked, this, [this] {
        if (m_path.isEmpty())
            return;
        auto* dialog = EndpointsDialog::showFor(m_path, this);
        connect(dialog, &EndpointsDialog::endpointsChanged, this, [this] { reloadLists(); });
    });
    auto* endpointRow = new QHBoxLayout;
    endpointRow->addWidget(m_endpoint, 1);
    endpointRow->addWidget(m_endpointsButton);

    auto* form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->addRow(tr("User:"), m_userCombo);
    form->addRow(tr("Endpoint:"), endpointRow);
    auto* counts = new QHBoxLayout;
    counts->addWidget(m_candidateCount);
    counts->addWidget(new QLabel(tr("K:")));
    counts->addWidget(m_k);
    counts->addStretch(1);
    form->addRow(tr("Candidates:"), counts);

    m_preview = new QPlainTextEdit;
    m_preview->setObjectName(QStringLiteral("promptPreview"));
    m_preview->setReadOnly(true);
    m_preview->setFont(TableModel::monospaceFont());
    m_variables = new QTreeWidget;
    m_variables->setObjectName(QStringLiteral("promptVariables"));
    m_variables->setHeaderLabels({ tr("Variable"), tr("Value for this user") });
    m_variables->setColumnWidth(0, 190);
    m_variables->setToolTip(tr("Every documented variable (docs/PROMPTS.md) with the chosen user's value"));

    m_diffFrom = new QComboBox;
    m_diffFrom->setObjectName(QStringLiteral("promptDiffFrom"));
    m_diffTo = new QComboBox;
    m_diffTo->setObjectName(QStringLiteral("promptDiffTo"));
    m_diff = new QTextBrowser;
    m_diff->setObjectName(QStringLiteral("promptDiff"));
    m_diff->setFont(TableModel::monospaceFont());
    m_diff->setLineWrapMode(QTextEdit::WidgetWidth);
    connect(m_diffFrom, &QComboBox::currentIndexChanged, this, &PromptsTab::updateDiff);
    connect(m_diffTo, &QComboBox::currentIndexChanged, this, &PromptsTab::updateDiff);
    auto* diffPage = new QWidget;
    auto* diffLayout = new QVBoxLayout(diffPage);
    auto* diffRow = new QHBoxLayout;
    diffRow->addWidget(new QLabel(tr("From")));
    diffRow->addWidget(m_diffFrom, 1);
    diffRow->addWidget(new QLabel(tr("to")));
    diffRow->addWidget(m_diffTo, 1);
    diffLayout->addLayout(diffRow);
    diffLayout->addWidget(m_diff, 1);

    m_side = new QTabWidget;
    m_side->setObjectName(QStringLiteral("promptSideTabs"));
    m_side->addTab(m_preview, tr("Preview"));
    m_side->addTab(m_variables, tr("Variables"));
    m_side->addTab(diffPage, tr("Diff"));

    m_tryIt = new QPushButton(tr("Try it"));
    m_tryIt->setObjectName(QStringLiteral("promptTryIt"));
    m_tryIt->setToolTip(tr("Rerank the preview user with the editor's text (not saved) against the chosen endpoint"));
    m_tryCancel = new QPushButton(tr("Cancel"));
    m_tryCancel->setObjectName(QStringLiteral("promptTryCancel"));
    m_tryCancel->setEnabled(false);
    m_tryResult = new QTextBrowser;
    m_tryResult->setObjectName(QStringLiteral("promptTryResult"));
    m_tryResult->setPlaceholderText(tr("\"Try it\" reranks the preview user with this draft; nothing is saved."));
    connect(m_tryIt, &QPushButton::clicked, this, &PromptsTab::tryIt);
    connect(m_tryCancel, &QPushButton::clicked, this, [this] {
        if (m_service && m_tryJob != 0)
            m_service->cancel(m_tryJob);
    });
    auto* tryPage = new QWidget;
    auto* tryLayout = new QVBoxLayout(tryPage);
    auto* tryRow = new QHBoxLayout;
    tryRow->addWidget(m_tryIt);
    tryRow->addWidget(m_tryCancel);
    tryRow->addStretch(1);
    tryLayout->addLayout(tryRow);
    tryLayout->addWidget(m_tryResult, 1);
    m_side->addTab(tryPage, tr("Try it"));

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addLayout(form);
    rightLayout->addWidget(m_estimate);
    rightLayout->addWidget(m_side, 1);

    auto* splitter = new QSplitter(Qt::Horizontal);
    splitter->setObjectName(QStringLiteral("promptSplitter"));
    splitter->addWidget(left);
    splitter->addWidget(middle);
    splitter->addWidget(right);
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 3);
    splitter->setStretchFactor(2, 3);
    splitter->setSizes({ 400, 470, 410 });
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(splitter);
}

void PromptsTab::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    autosave(); // the previous workspace's draft, before its path is forgotten
    ++m_listJob;
    ++m_candidateJob;
    ++m_renderJob;
    m_path = path;
    m_dataset = std::move(dataset);
    m_name.clear();
    m_base.reset();
    m_baseText.clear();
    m_lastDraftText.clear();
    m_candidates.reset();
    m_variablesUser = -1;
    m_previewShown = false;
    m_drafts.clear();
    {
        const QSignalBlocker block(m_editor);
        m_editor->clear();
    }
    m_draftBar->hide();
    m_error->clear();
    m_preview->clear();
    m_variables->clear();
    m_diff->clear();
    m_versions->setRows({});
    fillUsers();
    reloadLists();
    updateActions();
}

void PromptsTab::setColdThreshold(int threshold)
{
    if (threshold == m_threshold)
        return;
    m_threshold = threshold;
    fillUsers();
}

void PromptsTab::fillUsers()
{
    const QSignalBlocker block(m_userCombo);
    m_user = -1;
    m_userChoices->setDataset(m_dataset, m_threshold); // texts made when shown
    if (!m_dataset)
        return;
    m_userCombo->setCurrentIndex(m_userChoices->firstWarmRow());
    m_user = m_userCombo->currentData().isValid() ? m_userCombo->currentData().toInt() : -1;
    requestCandidates();
}

void PromptsTab::reloadLists(const QString& openName, int openAt)
{
    if (m_path.isEmpty())
        return;
    const quint64 job = ++m_listJob;
    auto future = runTask([path = m_path](const TaskControl&) {
        const auto ws = Workspace::open(path);
        rerank::store::seedDefaultTemplates(*ws);
        Lists lists;
        QStringList names;
        for (const auto& t : rerank::store::listTemplates(*ws))
            names << t.name;
        for (const QString& name : names) {
            const auto labels = rerank::store::labelsFor(*ws, name);
            for (const auto& v : rerank::store::templateVersions(*ws, name))
                lists.rows.append(PromptVersionsModel::Row { v, labels.value(v.version), false });
        }
        lists.drafts = rerank::store::listDrafts(*ws);
        for (auto& row : lists.rows)
            for (const auto& d : lists.drafts)
                row.hasDraft = row.hasDraft || d.name == row.version.name;
        // A new template that was never saved exists only as its draft: listed as version 0.
        for (const auto& d : lists.drafts)
            if (!names.contains(d.name))
                lists.rows.append(PromptVersionsModel::Row {
                    { 0, d.name, 0, std::nullopt, d.text, QStringLiteral("new template, never saved"), d.updatedAt },
                    {}, true });
        lists.endpoints = rerank::store::listEndpoints(*ws);
        lists.defaultEndpoint = rerank::store::defaultEndpoint(*ws);
        try {
            lists.prices = rerank::PriceTable::loadWithOverride();
        } catch (const Error& e) {
            lists.pricesError = e.message();
        }
        return lists;
    });
    continueOn(
        future, this,
        [this, job, openName, openAt](const TaskResult<Lists>& result) {
            if (job != m_listJob)
                return;
            if (!result.value) {
                setStatus(tr("Could not read the templates: %1").arg(result.error), true);
                emit failed(result.error);
                return;
            }
            applyLists(Lists(*result.value), openName, openAt);
        },
        [] {});
}

void PromptsTab::applyLists(Lists&& lists, const QString& openName, int openAt)
{
    m_drafts.clear();
    for (const auto& d : lists.drafts)
        m_drafts.insert(d.name, d);
    m_versions->setRows(std::move(lists.rows));

    const QString endpointBefore = m_endpoint->currentData().toString();
    {
        const QSignalBlocker block(m_endpoint);
        m_endpoint->clear();
        m_endpoints = lists.endpoints;
        for (const auto& e : m_endpoints)
            m_endpoint->addItem(QStringLiteral("%1 (%2)").arg(e.name, e.model), e.name);
        int index = m_endpoint->findData(endpointBefore.isEmpty() ? lists.defaultEndpoint : endpointBefore);
        if (index < 0)
            index = m_endpoint->findData(lists.defaultEndpoint);
        m_endpoint->setCurrentIndex(std::max(0, index));
    }
    m_defaultEndpoint = lists.defaultEndpoint;
    m_prices = lists.prices;
    m_pricesError = lists.pricesError;

    // What to show: the version asked for, else what is open, else listwise (or the first).
    QString name = openName;
    int version = openAt;
    if (name.isEmpty() && m_name.isEmpty() && m_versions->rowCount() > 0) {
        name = m_versions->findRow(QStringLiteral("listwise"), 1) >= 0 ? QStringLiteral("listwise")
                                                                       : m_versions->rowAt(0)->version.name;
        version = m_versions->versionsOf(name).back()->version.version;
    }
    if (!name.isEmpty())
        openVersion(name, version);
    else if (!m_name.isEmpty() && m_base) {
        const int row = m_versions->findRow(m_name, *m_base);
        if (row >= 0)
            m_versionsView->selectRow(row);
    }
    updateDiffChoices();
    renderNow();
    emit versionsLoaded();
}

void PromptsTab::openVersion(const QString& name, int version)
{
    const int row = m_versions->findRow(name, version);
    if (row < 0) {
        setStatus(tr("No version %1@%2 in this workspace").arg(name).arg(version), true);
        return;
    }
    m_versionsView->selectRow(row);
    openRow(row);
}

void PromptsTab::openRow(int row)
{
    const PromptVersionsModel::Row* r = m_versions->rowAt(row);
    if (!r)
        return;
    autosave(); // the template being left keeps its draft
    const auto& v = r->version;
    const bool draftOnly = v.version == 0; // a new template known only by its draft
    m_name = v.name;
    m_base = draftOnly ? std::nullopt : std::optional<int>(v.version);
    m_baseText = draftOnly ? QString() : v.text;
    m_lastDraftText = v.text;
    if (m_editor->toPlainText() != v.text) {
        const QSignalBlocker block(m_editor);
        m_editor->setPlainText(v.text); // a fresh undo history per opened version
        m_undo->setEnabled(false);
        m_redo->setEnabled(false);
    } // else: the version just saved from the editor; its undo history stays
    if (draftOnly)
        m_titleHtml = tr("<b>%1</b> (new template, not saved yet)").arg(v.name.toHtmlEscaped());
    else
        m_titleHtml = tr("<b>%1@%2</b>%3 &nbsp; <span style='color:#57606a'>%4</span>")
                          .arg(v.name.toHtmlEscaped())
                          .arg(v.version)
                          .arg(v.parentVersion ? tr(" (from version %1)").arg(*v.parentVersion) : QString(),
                              v.note.toHtmlEscaped());
    m_draftBar->hide();
    const auto draft = m_drafts.constFind(v.name);
    if (!draftOnly && draft != m_drafts.cend() && draft->text != v.text) {
        m_lastDraftText = draft->text;
        m_draftText->setText(
            tr("An autosaved draft of <b>%1</b> (edited from %2, %3) was not saved as a version.")
                .arg(v.name.toHtmlEscaped(),
                    draft->baseVersion ? tr("version %1").arg(*draft->baseVersion) : tr("a new template"),
                    QDateTime::fromSecsSinceEpoch(draft->updatedAt).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"))));
        m_draftBar->show();
        emit draftOffered(v.name);
    }
    setStatus({});
    updateDiffChoices();
    updateActions();
    renderNow();
    emit versionOpened(v.ref());
}

void PromptsTab::editorChanged()
{
    m_renderTimer->start(); // restarts: renders 150 ms after the last keystroke
    updateActions();
}

void PromptsTab::requestCandidates()
{
    ++m_candidateJob;
    ++m_renderJob; // a render for the previous user or candidates must not land after this
    m_candidates.reset();
    if (!m_dataset || m_user < 0 || m_user >= m_dataset->numUsers())
        return;
    m_modelKey = m_store->defaultKey();
    const bool cold = m_dataset->isCold(m_user, m_threshold);
    if (!m_store->request(m_modelKey, cold)) {
        m_preview->setPlainText(tr("Preparing the CF model for the candidates…"));
        return; // modelReady comes back here
    }
    const quint64 job = m_candidateJob;
    auto future
        = runTask([ds = m_dataset, model = m_store->model(m_modelKey), coldStart = m_store->coldStart(m_modelKey),
                      user = m_user, n = m_candidateCount->value(), threshold = m_threshold](const TaskControl&) {
              return std::make_shared<const std::vector<rerank::Candidate>>(
                  pipeline::previewCandidates(*ds, *model, coldStart.get(), user, n, threshold));
          });
    continueOn(
        future, this,
        [this, job](const TaskResult<std::shared_ptr<const std::vector<rerank::Candidate>>>& result) {
            if (job != m_candidateJob)
                return;
            if (!result.value) {
                m_preview->setPlainText(tr("No candidates for this user: %1").arg(result.error));
                return;
            }
            m_candidates = *result.value;
            renderNow();
        },
        [] {});
}

const rerank::EndpointProfile* PromptsTab::currentEndpoint() const
{
    const QString name = m_endpoint->currentData().toString();
    for (const auto& e : m_endpoints)
        if (e.name == name)
            return &e;
    return nullptr;
}

void PromptsTab::renderNow()
{
    m_renderTimer->stop();
    if (m_name.isEmpty() || !m_candidates || !m_dataset)
        return;
    const quint64 job = ++m_renderJob;
    std::optional<rerank::Prices> prices;
    int maxOut = 0;
    if (const rerank::EndpointProfile* e = currentEndpoint()) {
        maxOut = e->maxOutputTokens;
        if (e->kind == rerank::ProviderKind::Offline)
            prices = rerank::Prices { 0.0, 0.0, 0.0, 0.0, QString() };
        else if (m_prices)
            prices = m_prices->choose(*e).prices;
    }
    const rerank::PromptTemplate tmpl { m_name, 0, m_editor->toPlainText() };
    auto future = runTask([ds = m_dataset, user = m_user, candidates = m_candidates, tmpl, k = m_k->value(),
                              threshold = m_threshold, prices, maxOut](const TaskControl&) {
        return pipeline::renderPreview(*ds, user, *candidates, tmpl, k, threshold, prices, maxOut);
    });
    continueOn(
        future, this,
        [this, job](const TaskResult<pipeline::PreviewResult>& result) {
            if (job != m_renderJob)
                return; // a newer keystroke already asked for another render
            if (!result.value) {
                m_preview->setPlainText(result.error);
                return;
            }
            showPreview(*result.value);
        },
        [] {});
}

void PromptsTab::showPreview(const pipeline::PreviewResult& r)
{
    m_highlighter->setVariables(r.variables);
    if (m_variablesUser != m_user || m_variables->topLevelItemCount() == 0) {
        m_variables->clear();
        for (auto it = r.variables.begin(); it != r.variables.end(); ++it)
            addVariable(nullptr, m_variables, it.key(), it.value());
        m_variablesUser = m_user;
    }
    m_hasError = !r.error.isEmpty();
    if (m_hasError) {
        m_error->setText(r.errorLine > 0
                ? tr("<span style='color:#cf222e'><a href='pos:%1:%2' style='color:#cf222e'><b>Line %1, column "
                     "%2</b></a>: %3</span>")
                      .arg(r.errorLine)
                      .arg(r.errorColumn)
                      .arg(r.errorDetail.toHtmlEscaped())
                : tr("<span style='color:#cf222e'><b>Error:</b> %1</span>").arg(r.errorDetail.toHtmlEscaped()));
        markError(r.errorLine, r.errorColumn);
        m_preview->setPlainText(tr("The template does not render:\n%1").arg(r.error));
        m_estimate->setText(tr("No estimate while the template has an error."));
    } else {
        m_error->clear();
        markError(0, 0);
        QString text;
        for (const rerank::ChatMessage& m : r.prompt->request.messages)
            text += QStringLiteral("───── %1 ─────\n%2\n\n").arg(m.role, m.content);
        const int scroll = m_preview->verticalScrollBar()->value();
        m_preview->setPlainText(text.trimmed());
        m_preview->verticalScrollBar()->setValue(scroll);
        const rerank::EndpointProfile* e = currentEndpoint();
        QString cost;
        if (!e)
            cost = tr("no endpoint");
        else if (e->kind == rerank::ProviderKind::Offline)
            cost = tr("$0 (offline reranker: no call)");
        else if (r.estimate.usd) {
            cost = tr("≈ %1 per call at %2").arg(formatUsd(*r.estimate.usd), e->model.toHtmlEscaped());
            // Table prices are dated: say which row's date (and file) the estimate rests on.
            const rerank::PriceChoice choice = m_prices ? m_prices->choose(*e) : rerank::PriceChoice {};
            if (choice.prices && !choice.source.isEmpty() && choice.source != QStringLiteral("endpoint"))
                cost += tr(" (prices as of %1, %2)")
                            .arg(choice.prices->asOf.isEmpty() ? tr("an undated row")
                                                               : choice.prices->asOf.toHtmlEscaped(),
                                choice.source == rerank::kShippedPriceSource
                                    ? tr("built-in price table")
                                    : tr("price file %1").arg(choice.source.toHtmlEscaped()));
        }
        else if (!m_pricesError.isEmpty())
            cost = tr("unknown (price table: %1)").arg(m_pricesError.toHtmlEscaped());
        else
            cost = tr("unknown (no price for %1 model %2: set prices on the endpoint)")
                       .arg(e->name.toHtmlEscaped(), e->model.toHtmlEscaped());
        m_estimate->setText(tr("%1 characters · ~%2 input tokens · ~%3 output tokens%4 · cost %5")
                                .arg(r.prompt->chars)
                                .arg(r.estimate.inputTokens)
                                .arg(r.estimate.outputTokens)
                                .arg(r.estimate.outputCapped ? tr(" (the endpoint's cap)") : QString(), cost));
    }
    if (m_diffTo->currentData().toInt() < 0)
        updateDiff(); // the editor side changed
    updateActions();
    m_previewShown = true;
    emit previewShown();
}

void PromptsTab::markError(int line, int column)
{
    QList<QTextEdit::ExtraSelection> selections;
    if (line > 0) {
        const QTextBlock block = m_editor->document()->findBlockByNumber(line - 1);
        if (block.isValid()) {
            const QString text = block.text();
            const int start = std::clamp(column - 1, 0, static_cast<int>(text.size()));
            int end = static_cast<int>(text.indexOf(QStringLiteral("}}"), start));
            end = end < 0 ? static_cast<int>(text.size()) : end + 2;
            QTextEdit::ExtraSelection lineSel;
            lineSel.format.setBackground(QColor(0xff, 0xeb, 0xe9));
            lineSel.format.setProperty(QTextFormat::FullWidthSelection, true);
            lineSel.cursor = QTextCursor(block);
            selections << lineSel;
            QTextEdit::ExtraSelection at;
            at.format.setUnderlineStyle(QTextCharFormat::WaveUnderline);
            at.format.setUnderlineColor(QColor(0xcf, 0x22, 0x2e));
            at.format.setBackground(QColor(0xff, 0xc1, 0xc0));
            at.cursor = QTextCursor(block);
            at.cursor.setPosition(block.position() + start);
            at.cursor.setPosition(block.position() + std::max(end, start + 1), QTextCursor::KeepAnchor);
            selections << at;
        }
    }
    m_editor->setExtraSelections(selections);
}

void PromptsTab::updateDiffChoices()
{
    const QSignalBlocker a(m_diffFrom), b(m_diffTo);
    m_diffFrom->clear();
    m_diffTo->clear();
    if (m_name.isEmpty())
        return;
    for (const PromptVersionsModel::Row* r : m_versions->versionsOf(m_name)) {
        if (r->version.version == 0)
            continue; // a draft-only template has no version yet
        const QString text = r->version.note.isEmpty()
            ? r->version.ref()
            : QStringLiteral("%1 · %2").arg(r->version.ref(), r->version.note);
        m_diffFrom->addItem(text, r->version.version);
        m_diffTo->addItem(text, r->version.version);
    }
    m_diffTo->addItem(tr("the editor (unsaved)"), -1);
    // Default: what was opened against its parent (or the editor against what was opened).
    const PromptVersionsModel::Row* base = m_base ? m_versions->rowAt(m_versions->findRow(m_name, *m_base)) : nullptr;
    if (base && base->version.parentVersion) {
        m_diffFrom->setCurrentIndex(m_diffFrom->findData(*base->version.parentVersion));
        m_diffTo->setCurrentIndex(m_diffTo->findData(*m_base));
    } else {
        m_diffFrom->setCurrentIndex(m_base ? m_diffFrom->findData(*m_base) : 0);
        m_diffTo->setCurrentIndex(m_diffTo->findData(-1));
    }
    updateDiff();
}

void PromptsTab::updateDiff()
{
    // In memory and small (templates are a few hundred lines): dtl diffs them in well under
    // a millisecond, so this runs on the GUI thread.
    auto textOf = [this](int version, QString* ref) {
        if (version < 0) {
            *ref = tr("editor");
            return m_editor->toPlainText();
        }
        const PromptVersionsModel::Row* r = m_versions->rowAt(m_versions->findRow(m_name, version));
        *ref = r ? r->version.ref() : QString();
        return r ? r->version.text : QString();
    };
    if (m_diffFrom->count() == 0 || m_diffTo->count() == 0) {
        m_diff->clear();
        return;
    }
    QString fromRef;
    QString toRef;
    const QString from = textOf(m_diffFrom->currentData().toInt(), &fromRef);
    const QString to = textOf(m_diffTo->currentData().toInt(), &toRef);
    const rerank::PromptDiff d = rerank::diffTemplates(from, to, fromRef, toRef);
    m_diff->setHtml(QStringLiteral("<p><b>%1</b> → <b>%2</b>: %3</p>%4")
                        .arg(fromRef.toHtmlEscaped(), toRef.toHtmlEscaped(),
                            d.identical() ? tr("no change") : tr("+%1 −%2 lines").arg(d.added).arg(d.removed),
                            rerank::diffHtml(d)));
}

void PromptsTab::updateActions()
{
    const bool open = !m_name.isEmpty();
    const bool changed = open && m_editor->toPlainText() != m_baseText;
    m_save->setEnabled(open && !m_saving && !m_hasError && (changed || !m_base));
    m_save->setToolTip(m_hasError ? tr("Fix the template error first: a broken template is never stored")
            : !changed && m_base  ? tr("Nothing changed since %1@%2").arg(m_name).arg(*m_base)
                                  : tr("Store the editor's text as a new version (never overwrites one), with the "
                                        "note and the version it was edited from"));
    m_note->setEnabled(open);
    m_title->setText(changed && m_base
            ? m_titleHtml + tr(" &nbsp; <span style='color:#9a6700'>● edited, not saved</span>")
            : m_titleHtml);
    const bool canTry = open && m_service && m_candidates && !m_hasError && m_tryJob == 0;
    m_tryIt->setEnabled(canTry);
    m_tryIt->setToolTip(!m_service ? tr("No rerank service for this workspace")
            : m_hasError           ? tr("Fix the template error first")
                                   : tr("Rerank the preview user with the editor's text (not saved) against the "
                                                  "chosen endpoint"));
    m_tryCancel->setEnabled(m_tryJob != 0);
    m_setLabel->setEnabled(open);
    m_removeLabel->setEnabled(open);
}

void PromptsTab::autosave()
{
    if (m_path.isEmpty() || m_name.isEmpty() || m_autosaving || m_saving)
        return; // a save in flight discards the draft; do not write one behind it
    const QString text = m_editor->toPlainText();
    if (text == m_lastDraftText)
        return;
    m_autosaving = true;
    const rerank::store::Draft draft { m_name, m_base, text, 0 };
    auto future = runTask([path = m_path, draft](const TaskControl&) {
        const auto ws = Workspace::open(path);
        rerank::store::saveDraft(*ws, draft);
        return true;
    });
    continueOn(
        future, this,
        [this, draft](const TaskResult<bool>& result) {
            m_autosaving = false;
            if (!result.value) {
                setStatus(tr("Autosave failed: %1").arg(result.error), true);
                return;
            }
            if (draft.name == m_name)
                m_lastDraftText = draft.text;
            m_drafts.insert(draft.name, draft);
            setStatus(tr("Draft autosaved at %1").arg(QTime::currentTime().toString(QStringLiteral("HH:mm:ss"))));
            emit draftSaved(draft.name);
        },
        [this] { m_autosaving = false; });
}

void PromptsTab::restoreDraft()
{
    const auto draft = m_drafts.constFind(m_name);
    if (draft == m_drafts.cend())
        return;
    // One edit step, so Undo returns to the version's text.
    QTextCursor cursor(m_editor->document());
    cursor.select(QTextCursor::Document);
    cursor.insertText(draft->text);
    m_lastDraftText = draft->text;
    m_draftBar->hide();
    setStatus(tr("Draft restored; Undo returns to %1@%2").arg(m_name).arg(m_base.value_or(0)));
}

void PromptsTab::discardDraft()
{
    const QString name = m_name;
    m_draftBar->hide();
    m_drafts.remove(name);
    m_lastDraftText = m_editor->toPlainText();
    auto future = runTask([path = m_path, name](const TaskControl&) {
        const auto ws = Workspace::open(path);
        return rerank::store::discardDraft(*ws, name);
    });
    continueOn(
        future, this,
        [this](const TaskResult<bool>& result) {
            if (!result.value)
                setStatus(tr("Could not discard the draft: %1").arg(result.error), true);
        },
        [] {});
}

void PromptsTab::saveVersion()
{
    if (m_name.isEmpty() || !m_save->isEnabled())
        return;
    const QString note = m_note->text().trimmed();
    if (note.isEmpty()) {
        setStatus(tr("Write a note for the new version first (what changed and why)."), true);
        m_note->setFocus();
        return;
    }
    m_saving = true;
    updateActions();
    const QString name = m_name;
    const QString text = m_editor->toPlainText();
    const std::optional<int> parent = m_base;
    auto future = runTask([path = m_path, name, text, note, parent](const TaskControl&) {
        rerank::checkTemplate(rerank::PromptTemplate { name, 0, text }); // never store a broken one
        const auto ws = Workspace::open(path);
        Transaction tx(*ws);
        const auto v = rerank::store::addTemplateVersion(*ws, name, text, note, parent);
        rerank::store::discardDraft(*ws, name);
        tx.commit();
        return v;
    });
    continueOn(
        future, this,
        [this, name](const TaskResult<rerank::store::TemplateVersion>& result) {
            m_saving = false;
            if (!result.value) {
                setStatus(tr("Not saved: %1").arg(result.error), true);
                updateActions();
                emit failed(result.error);
                return;
            }
            const auto& v = *result.value;
            m_drafts.remove(name);
            m_note->clear();
            m_name.clear(); // reopened from the new list below
            reloadLists(v.name, v.version);
            setStatus(tr("Saved %1 (from version %2)").arg(v.ref()).arg(v.parentVersion.value_or(0)));
            emit versionSaved(v.ref());
        },
        [this] { m_saving = false; });
}

void PromptsTab::newTemplate()
{
    if (m_path.isEmpty())
        return;
    bool ok = false;
    const QString name
        = QInputDialog::getText(this, tr("New template"), tr("Name (no @):"), QLineEdit::Normal, {}, &ok).trimmed();
    if (!ok || name.isEmpty())
        return;
    if (name.contains(u'@') || !m_versions->versionsOf(name).isEmpty()) {
        setStatus(tr("\"%1\": a template of that name exists, or the name has an @").arg(name), true);
        return;
    }
    autosave();
    m_name = name;
    m_base.reset();
    m_baseText.clear();
    m_lastDraftText.clear();
    const auto draft = m_drafts.constFind(name);
    m_editor->setPlainText(draft != m_drafts.cend() ? draft->text
                                                    : QStringLiteral("{{! system }}\n\n{{! user }}\nPick {{k}} of:\n"
                                                                     "{{#candidates}}\n- {{external_id}}: {{title}}\n"
                                                                     "{{/candidates}}\n"));
    m_titleHtml = tr("<b>%1</b> (new, not saved yet)").arg(name.toHtmlEscaped());
    m_draftBar->hide();
    updateDiffChoices();
    updateActions();
    renderNow();
}

void PromptsTab::changeLabel(bool remove)
{
    const QString label = m_label->currentText().trimmed();
    if (m_name.isEmpty() || label.isEmpty())
        return;
    int version = m_base.value_or(0);
    if (const auto* r = m_versions->rowAt(m_versionsView->currentIndex().row()); r && r->version.name == m_name)
        version = r->version.version;
    if (!remove && version <= 0) {
        setStatus(tr("Save the template as a version before labelling it."), true);
        return;
    }
    const QString name = m_name;
    auto future = runTask([path = m_path, name, label, version, remove](const TaskControl&) {
        const auto ws = Workspace::open(path);
        if (remove)
            return rerank::store::removeLabel(*ws, name, label);
        rerank::store::setLabel(*ws, name, label, version);
        return true;
    });
    continueOn(
        future, this,
        [this, name, label, version, remove](const TaskResult<bool>& result) {
            if (!result.value) {
                setStatus(result.error, true);
                return;
            }
            setStatus(remove ? (*result.value ? tr("Removed label %1 from %2").arg(label, name)
                                              : tr("%1 has no label %2").arg(name, label))
                             : tr("Label %1 → %2@%3").arg(label, name).arg(version));
            reloadLists();
            emit labelsChanged();
        },
        [] {});
}

void PromptsTab::setRerankService(pipeline::RerankService* service)
{
    if (m_service)
        disconnect(m_service, nullptr, this, nullptr);
    m_service = service;
    m_tryJob = 0;
    if (service)
        connect(service, &pipeline::RerankService::jobFinished, this,
            [this](quint64 job, const pipeline::RerankReply& reply) {
                if (job == m_tryJob)
                    showTryIt(reply);
            });
    updateActions();
}

void PromptsTab::tryIt()
{
    if (!m_service || !m_candidates || m_name.isEmpty() || m_hasError || m_tryJob != 0)
        return;
    const rerank::EndpointProfile* endpoint = currentEndpoint();
    pipeline::RerankRequest request;
    request.dataset = m_dataset;
    request.cfModel = m_store->model(m_modelKey);
    request.coldStart = m_store->coldStart(m_modelKey);
    if (!request.cfModel)
        return;
    if (endpoint
        && !confirmCeiling(this,
            projectCalls(*endpoint, m_prices ? &*m_prices : nullptr, 1, m_candidateCount->value()),
            tr("Trying the draft of %1 on %2 (%3)").arg(m_name, endpoint->name, endpoint->model)))
        return;
    request.coldThreshold = m_threshold;
    request.users = { m_user };
    request.options.cascade = QStringList { endpoint ? endpoint->name : m_defaultEndpoint };
    request.options.candidates = m_candidateCount->value();
    request.options.k = m_k->value();
    request.options.storeRun = false; // a draft is not a version: nothing to name the run by
    request.draft = rerank::PromptTemplate { m_name, 0, m_editor->toPlainText() };
    m_tryResult->setHtml(tr("<p>Reranking %1 with the draft of <b>%2</b> on <b>%3</b>…</p>")
                             .arg(m_userCombo->currentText().toHtmlEscaped(), m_name.toHtmlEscaped(),
                                 request.options.cascade.first().toHtmlEscaped()));
    m_side->setCurrentWidget(m_tryResult->parentWidget());
    m_tryJob = m_service->submit(std::move(request));
    updateActions();
}

void PromptsTab::showTryIt(const pipeline::RerankReply& reply)
{
    m_tryJob = 0;
    updateActions();
    const pipeline::BatchReport& report = reply.report;
    if (report.canceled || !report.error.isEmpty() || report.outcomes.empty()) {
        m_tryResult->setHtml(report.canceled
                ? tr("<p>Canceled.</p>")
                : tr("<p style='color:#cf222e'>Failed: %1</p>")
                      .arg((report.error.isEmpty() ? tr("no result") : report.error).toHtmlEscaped()));
        emit tryItFinished(false);
        return;
    }
    const pipeline::RerankOutcome& o = report.outcomes.front();
    QString html = tr("<p><b>%1</b> · %2 · answered by <b>%3</b>%4</p>")
                       .arg(o.userId.toHtmlEscaped(), o.model.toHtmlEscaped(), o.answeredBy().toHtmlEscaped(),
                           o.fallback() ? tr(" · <span style='color:#cf222e'>CF order kept: %1</span>")
                                              .arg(o.result.fallbackReason.toHtmlEscaped())
                                        : QString());
    html += tr("<p>%1 input + %2 output tokens · cost %3 · %4 ms%5</p>")
                .arg(o.usage.inputTokens)
                .arg(o.usage.outputTokens)
                .arg(o.cost ? formatUsd(*o.cost) : tr("unknown"))
                .arg(o.stageMs.total(), 0, 'f', 0)
                .arg(o.cacheHit ? tr(" · from the response cache") : QString());
    html += QStringLiteral("<table cellspacing='0' cellpadding='3'><tr><th>#</th><th>CF</th><th>Item</th>"
                           "<th align='left'>Explanation</th></tr>");
    for (qsizetype i = 0; i < o.result.items.size(); ++i) {
        const rerank::RankedItem& it = o.result.items[i];
        html += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td><td>%4</td></tr>")
                    .arg(it.rank)
                    .arg(it.cfRank)
                    .arg(o.titles.value(i, it.externalId).toHtmlEscaped(),
                        it.filled ? tr("<i>(filled from the CF order)</i>") : it.explanation.toHtmlEscaped());
    }
    html += QStringLiteral("</table>");
    m_tryResult->setHtml(html);
    emit tryItFinished(!o.fallback());
}

void PromptsTab::setStatus(const QString& text, bool error)
{
    m_status->setText(error ? QStringLiteral("<span style='color:#cf222e'>%1</span>").arg(text.toHtmlEscaped())
                            : text.toHtmlEscaped());
}

} // namespace recwb::ui
