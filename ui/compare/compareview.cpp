#include "compare/compareview.h"

#include "common/backgroundtask.h"
#include "common/ceilingconfirm.h"
#include "common/modelstore.h"
#include "compare/comparemodel.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "pipeline/comparerun.h"
#include "pipeline/rerankservice.h"
#include "rerank/prices.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QComboBox>
#include <QEvent>
#include <QCompleter>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>

namespace recwb::ui {
namespace {

    QString red(const QString& text)
    {
        return QStringLiteral("<span style=\"color:#b42318\">%1</span>").arg(text.toHtmlEscaped());
    }

    QComboBox* editableCombo(const QString& name, QWidget* parent)
    {
        auto combo = new QComboBox(parent);
        combo->setObjectName(name);
        combo->setEditable(true);
        combo->setInsertPolicy(QComboBox::NoInsert);
        return combo;
    }

    // The value of an editable combo: the chosen entry's data, else the typed text.
    QString comboValue(const QComboBox* combo)
    {
        const int i = combo->findText(combo->currentText());
        if (i >= 0 && combo->itemData(i).isValid())
            return combo->itemData(i).toString();
        return combo->currentText().trimmed();
    }

    void selectValue(QComboBox* combo, const QString& value)
    {
        const int i = combo->findData(value);
        if (i >= 0)
            combo->setCurrentIndex(i);
        else
            combo->setEditText(value);
    }

} // namespace

// ---- ArmEditor ----

ArmEditor::ArmEditor(int index, QWidget* parent)
    : QWidget(parent)
    , m_title(new QLabel(this))
    , m_source(editableCombo(QStringLiteral("armSource"), this))
    , m_rerank(editableCombo(QStringLiteral("armRerank"), this))
    , m_prompt(new QLineEdit(this))
    , m_k(new QSpinBox(this))
    , m_candidates(new QSpinBox(this))
    , m_label(new QLineEdit(this))
    , m_remove(new QPushButton(tr("Remove"), this))
    , m_cancel(new QPushButton(tr("Cancel"), this))
    , m_progress(new QProgressBar(this))
    , m_info(new QLabel(this))
{
    m_source->setToolTip(tr("Candidate source: a CF model or snapshot, the cold-start blend or popularity; or a "
                            "stored rerank run, shown as it was stored"));
    connect(m_source, &QComboBox::currentTextChanged, this, [this] {
        const bool live = !comboValue(m_source).startsWith(QStringLiteral("run:"));
        m_rerank->setEnabled(live);
        m_prompt->setEnabled(live);
        m_candidates->setEnabled(live);
    });
    m_rerank->addItem(tr("none (CF order)"), QStringLiteral("none"));
    m_rerank->addItem(tr("offline"), QStringLiteral("offline"));
    m_rerank->setToolTip(tr("Reranker: none keeps the CF order; offline is free; an endpoint calls the LLM"));
    m_prompt->setObjectName(QStringLiteral("armPrompt"));
    m_prompt->setPlaceholderText(tr("listwise (NAME, NAME@2, NAME@production)"));
    m_k->setObjectName(QStringLiteral("armK"));
    m_k->setRange(1, 200);
    m_k->setValue(10);
    m_candidates->setObjectName(QStringLiteral("armCandidates"));
    m_candidates->setRange(1, 1000);
    m_candidates->setValue(50);
    m_label->setObjectName(QStringLiteral("armLabel"));
    m_label->setPlaceholderText(tr("column title (optional)"));
    m_remove->setObjectName(QStringLiteral("armRemove"));
    m_cancel->setObjectName(QStringLiteral("armCancel"));
    m_progress->setObjectName(QStringLiteral("armProgress"));
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_progress->setTextVisible(false);
    m_progress->setMaximumHeight(8);
    m_info->setObjectName(QStringLiteral("armInfo"));
    m_info->setWordWrap(true);
    m_info->setTextFormat(Qt::RichText);
    m_info->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_info->setMinimumHeight(fontMetrics().lineSpacing() * 5); // metrics, stages, tokens, model, fallback
    m_cancel->setEnabled(false);

    auto form = new QFormLayout;
    form->setContentsMargins(0, 0, 0, 0);
    form->addRow(tr("Source"), m_source);
    form->addRow(tr("Reranker"), m_rerank);
    form->addRow(tr("Prompt"), m_prompt);
    auto sizes = new QHBoxLayout;
    sizes->addWidget(m_k);
    sizes->addWidget(new QLabel(tr("cand."), this));
    sizes->addWidget(m_candidates);
    sizes->addWidget(new QLabel(tr("Title"), this));
    sizes->addWidget(m_label, 1);
    form->addRow(tr("K"), sizes);
    m_candidates->setToolTip(tr("Candidates given to the reranker"));
    auto head = new QHBoxLayout;
    head->addWidget(m_title, 1);
    head->addWidget(m_cancel);
    head->addWidget(m_remove);
    auto layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(head);
    layout->addLayout(form);
    layout->addWidget(m_progress);
    layout->addWidget(m_info, 1);
    setIndex(index);
}

void ArmEditor::setIndex(int index)
{
    setObjectName(QStringLiteral("compareColumn%1").arg(index));
    m_title->setText(QStringLiteral("<b>%1</b>").arg(tr("Column %1").arg(index + 1)));
}

void ArmEditor::setSources(const QList<QPair<QString, QString>>& labelAndCf)
{
    const QString current = comboValue(m_source);
    const QSignalBlocker block(m_source);
    m_source->clear();
    for (const auto& [label, cf] : labelAndCf)
        m_source->addItem(label, cf);
    selectValue(m_source, current.isEmpty() ? labelAndCf.value(0).second : current);
}

void ArmEditor::setRerankers(const QStringList& endpoints)
{
    const QString current = comboValue(m_rerank);
    const QSignalBlocker block(m_rerank);
    while (m_rerank->count() > 2)
        m_rerank->removeItem(2);
    for (const QString& e : endpoints)
        if (e != u"offline")
            m_rerank->addItem(e, e);
    selectValue(m_rerank, current);
}

void ArmEditor::setArm(const pipeline::ArmSpec& arm)
{
    if (!arm.cf.isEmpty())
        selectValue(m_source, arm.cf);
    selectValue(m_rerank, arm.rerank);
    m_prompt->setText(arm.prompt);
    m_k->setValue(arm.k);
    m_candidates->setValue(arm.candidates);
    m_label->setText(arm.label);
}

pipeline::ArmSpec ArmEditor::arm() const
{
    // Through the one grammar, so the GUI refuses exactly what the CLI refuses.
    const QString source = comboValue(m_source);
    const bool storedRun = source.startsWith(QStringLiteral("run:")); // reranker and prompt do not apply
    QStringList parts { QStringLiteral("cf=") + source, QStringLiteral("k=%1").arg(m_k->value()) };
    if (!storedRun) {
        parts << QStringLiteral("rerank=") + comboValue(m_rerank)
              << QStringLiteral("candidates=%1").arg(std::max(m_candidates->value(), m_k->value()));
        if (!m_prompt->text().trimmed().isEmpty())
            parts << QStringLiteral("prompt=") + m_prompt->text().trimmed();
    }
    if (!m_label->text().trimmed().isEmpty())
        parts << QStringLiteral("label=") + m_label->text().trimmed();
    return pipeline::ArmSpec::parse(parts.join(u','));
}

void ArmEditor::setRunning(bool running)
{
    m_cancel->setEnabled(running);
    m_progress->setRange(0, running ? 0 : 1); // busy indicator while it runs
    m_progress->setValue(running ? 0 : 1);
}

void ArmEditor::setInfo(const QString& html)
{
    m_info->setText(html);
}

// ---- CompareView ----

CompareView::CompareView(pipeline::RerankService* service, ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_service(service)
    , m_store(store)
    , m_user(new QLineEdit(this))
    , m_split(new QComboBox(this))
    , m_seed(new QSpinBox(this))
    , m_runButton(new QPushButton(tr("Compare"), this))
    , m_cancelButton(new QPushButton(tr("Cancel all"), this))
    , m_addButton(new QPushButton(tr("Add column"), this))
    , m_columnsLayout(new QHBoxLayout)
    , m_table(new QTableView(this))
    , m_pairsView(new QTableView(this))
    , m_model(new CompareModel(this))
    , m_pairs(new ComparePairsModel(this))
    , m_status(new QLabel(this))
{
    setObjectName(QStringLiteral("compareView"));
    m_user->setObjectName(QStringLiteral("compareUser"));
    m_user->setPlaceholderText(tr("user id"));
    m_split->setObjectName(QStringLiteral("compareSplit"));
    m_split->addItem(tr("no split"), QString());
    for (const char* s : { "loo", "ratio", "strat75", "cold@0", "cold@1", "cold@3", "cold@5" })
        m_split->addItem(QString::fromLatin1(s), QString::fromLatin1(s));
    m_split->setToolTip(tr("Hold out the user's test items: they are marked in every column, each column gets "
                           "HR/NDCG/recall@K, and the models see only the training part"));
    m_seed->setObjectName(QStringLiteral("compareSeed"));
    m_seed->setRange(0, 1'000'000);
    m_seed->setValue(static_cast<int>(eval::kDefaultSeed));
    m_seed->setToolTip(tr("Seed of strat75"));
    m_runButton->setObjectName(QStringLiteral("compareRunButton"));
    m_runButton->setDefault(true);
    m_cancelButton->setObjectName(QStringLiteral("compareCancelButton"));
    m_cancelButton->setEnabled(false);
    m_addButton->setObjectName(QStringLiteral("compareAddColumn"));
    m_status->setObjectName(QStringLiteral("compareStatus"));
    m_status->setTextFormat(Qt::RichText);
    m_status->setWordWrap(true);

    auto bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("User"), this));
    bar->addWidget(m_user);
    bar->addWidget(new QLabel(tr("Split"), this));
    bar->addWidget(m_split);
    bar->addWidget(new QLabel(tr("Seed"), this));
    bar->addWidget(m_seed);
    bar->addWidget(m_addButton);
    bar->addStretch(1);
    bar->addWidget(m_runButton);
    bar->addWidget(m_cancelButton);
    for (const auto& [format, label] : { std::pair { "csv", "CSV…" }, { "json", "JSON…" }, { "html", "HTML…" } }) {
        auto button = new QPushButton(tr("Export %1").arg(QString::fromUtf8(label)), this);
        const QString f = QString::fromLatin1(format);
        button->setObjectName(QStringLiteral("compareExport") + f.toUpper());
        connect(button, &QPushButton::clicked, this, [this, f] { askExport(f); });
        bar->addWidget(button);
    }

    m_table->setObjectName(QStringLiteral("compareTable"));
    m_table->setModel(m_model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setWordWrap(true);
    m_table->setMouseTracking(true);
    // Fixed three-line rows: measuring every wrapped cell on each update stalls the event
    // loop with four columns; the full explanation is in the tooltip.
    m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().lineSpacing() * 3 + 8);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->setTextElideMode(Qt::ElideRight);
    m_pairsView->setObjectName(QStringLiteral("comparePairs"));
    m_pairsView->setModel(m_pairs);
    m_pairsView->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_pairsView->verticalHeader()->hide();
    m_pairsView->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    // Hovering a cell highlights its row, so the item lights up in every column; the
    // selection stays where the user put it.
    connect(m_table, &QTableView::entered, this,
        [this](const QModelIndex& index) { m_model->setHoveredRow(index.row()); });
    connect(m_table, &QTableView::viewportEntered, this, [this] { m_model->setHoveredRow(-1); });
    m_table->viewport()->installEventFilter(this);

    auto columns = new QWidget(this);
    columns->setLayout(m_columnsLayout);
    m_columnsLayout->setContentsMargins(0, 0, 0, 0);
    auto splitter = new QSplitter(Qt::Vertical, this);
    splitter->setObjectName(QStringLiteral("compareSplitter"));
    splitter->addWidget(columns);
    splitter->addWidget(m_table);
    splitter->addWidget(m_pairsView);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setStretchFactor(2, 0);
    m_splitter = splitter;
    splitter->setChildrenCollapsible(false);
    columns->setMinimumHeight(columns->sizeHint().height());
    auto layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_status);
    layout->addWidget(splitter, 1);

    connect(m_runButton, &QPushButton::clicked, this, [this] { run(); });
    connect(m_user, &QLineEdit::returnPressed, this, [this] { run(); });
    connect(m_cancelButton, &QPushButton::clicked, this, &CompareView::cancel);
    connect(m_addButton, &QPushButton::clicked, this, [this] { addColumn(); });
    if (m_store)
        connect(m_store, &ModelStore::snapshotsChanged, this, &CompareView::refreshSources);

    pipeline::ArmSpec cf;
    cf.cf = QStringLiteral("ease");
    pipeline::ArmSpec offline = cf;
    offline.rerank = QStringLiteral("offline");
    addColumn(cf);
    addColumn(offline);
    m_status->setText(tr("Pick a user and 2-4 columns, then Compare."));
}

CompareView::~CompareView() = default;

bool CompareView::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_table->viewport() && event->type() == QEvent::Leave)
        m_model->setHoveredRow(-1);
    return QWidget::eventFilter(watched, event);
}

void CompareView::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    cancel();
    m_run.reset();
    m_path = path;
    m_dataset = std::move(dataset);
    // The user-id completer: a million ids are collected and sorted on a pool thread (the
    // sorted model lets QCompleter find a prefix by binary search instead of scanning them on
    // every keystroke); the GUI thread only installs the result.
    m_user->setCompleter(nullptr); // deletes the previous one (its parent is m_user)
    const quint64 job = ++m_completerJob;
    if (m_dataset) {
        auto future = runTask([dataset = m_dataset](const TaskControl&) {
            QStringList ids;
            ids.reserve(dataset->numUsers());
            for (const User& u : dataset->users)
                ids << u.externalId;
            std::sort(ids.begin(), ids.end(),
                [](const QString& a, const QString& b) { return a.compare(b, Qt::CaseInsensitive) < 0; });
            return ids;
        });
        continueOn(
            future, this,
            [this, job](const TaskResult<QStringList>& result) {
                if (job != m_completerJob || !result.value)
                    return;
                auto* completer = new QCompleter(*result.value, m_user);
                completer->setCaseSensitivity(Qt::CaseInsensitive);
                completer->setModelSorting(QCompleter::CaseInsensitivelySortedModel);
                m_user->setCompleter(completer);
            },
            [] {});
    }
    m_model->setComparison({});
    m_pairs->setComparison({});
    refreshSources();
    loadLists();
}

void CompareView::setUser(const QString& userId)
{
    m_user->setText(userId);
}

void CompareView::setUp(
    const QString& userId, const std::vector<pipeline::ArmSpec>& arms, const QString& split, quint64 seed)
{
    cancel();
    setUser(userId);
    const int want = std::clamp(static_cast<int>(arms.size()), kMinColumns, kMaxColumns);
    while (columnCount() > want)
        removeColumn(columnCount() - 1);
    while (columnCount() < want)
        addColumn();
    for (int i = 0; i < want && i < static_cast<int>(arms.size()); ++i)
        column(i)->setArm(arms[static_cast<size_t>(i)]);
    int i = m_split->findData(split);
    if (i < 0 && !split.isEmpty()) {
        m_split->addItem(split, split);
        i = m_split->count() - 1;
    }
    m_split->setCurrentIndex(std::max(0, i));
    m_seed->setValue(static_cast<int>(seed));
    m_status->setText(arms.size() > static_cast<size_t>(kMaxColumns)
            ? tr("The experiment's first %1 arms for user %2: press Compare.").arg(kMaxColumns).arg(userId)
            : tr("The experiment's arms for user %1: press Compare.").arg(userId));
}

void CompareView::refreshSources()
{
    QList<QPair<QString, QString>> sources;
    QStringList algorithms { QStringLiteral("ease"), QStringLiteral("ials"), QStringLiteral("itemknn"),
        QStringLiteral("bpr") };
    if (m_store) {
        for (const ModelChoice& c : m_store->choices())
            if (c.snapshot)
                sources.append({ tr("%1 (snapshot %2)").arg(c.snapshot->name).arg(c.snapshot->id),
                    QString::number(c.snapshot->id) });
    }
    for (const QString& a : algorithms)
        sources.append({ a, a });
    sources.append({ tr("cold-start blend"), QStringLiteral("coldstart") });
    sources.append({ tr("popularity"), QStringLiteral("pop") });
    sources += m_runs;
    for (ArmEditor* e : m_editors)
        e->setSources(sources);
}

void CompareView::loadLists()
{
    if (m_path.isEmpty())
        return;
    const quint64 job = ++m_job;
    struct Lists {
        QStringList endpoints;
        std::shared_ptr<const QList<rerank::EndpointProfile>> profiles;
        std::shared_ptr<const rerank::PriceTable> prices;
        QList<QPair<QString, QString>> runs; // label, "run:ID"
    };
    auto future = runTask([path = m_path](const TaskControl&) {
        const auto ws = Workspace::open(path);
        Lists lists;
        lists.profiles = std::make_shared<const QList<rerank::EndpointProfile>>(rerank::store::listEndpoints(*ws));
        for (const rerank::EndpointProfile& e : *lists.profiles)
            lists.endpoints << e.name;
        try {
            lists.prices = std::make_shared<const rerank::PriceTable>(rerank::PriceTable::loadWithOverride());
        } catch (const Error&) {
            // a malformed price file: the ceiling falls back to the shipped prices
        }
        for (const rerank::store::RunInfo& r : rerank::store::listRuns(*ws))
            lists.runs.append(
                { QObject::tr("stored run %1 · %2@%3 · %4 · %5 users")
                        .arg(r.id)
                        .arg(r.promptName, r.promptVersion ? QString::number(*r.promptVersion) : QStringLiteral("?"),
                            r.endpoint)
                        .arg(r.results),
                    QStringLiteral("run:%1").arg(r.id) });
        return lists;
    });
    continueOn(
        future, this,
        [this, job](const TaskResult<Lists>& result) {
            if (job != m_job || !result.value)
                return;
            m_endpoints = result.value->endpoints;
            m_endpointProfiles = result.value->profiles;
            m_prices = result.value->prices;
            m_runs = result.value->runs;
            refreshSources();
            for (ArmEditor* e : m_editors)
                e->setRerankers(m_endpoints);
            emit listsLoaded();
        },
        [] {});
}

bool CompareView::addColumn(const pipeline::ArmSpec& arm)
{
    if (columnCount() >= kMaxColumns)
        return false;
    auto editor = new ArmEditor(columnCount(), this);
    m_editors.push_back(editor);
    m_columnsLayout->addWidget(editor, 1);
    refreshSources();
    editor->setRerankers(m_endpoints);
    if (!arm.cf.isEmpty())
        editor->setArm(arm);
    connect(editor->removeButton(), &QPushButton::clicked, this, [this, editor] {
        const auto it = std::find(m_editors.begin(), m_editors.end(), editor);
        if (it != m_editors.end())
            removeColumn(static_cast<int>(it - m_editors.begin()));
    });
    connect(editor->cancelButton(), &QPushButton::clicked, this, [this, editor] {
        const auto it = std::find(m_editors.begin(), m_editors.end(), editor);
        if (m_run && it != m_editors.end())
            m_run->cancelColumn(static_cast<int>(it - m_editors.begin()));
    });
    for (ArmEditor* e : m_editors)
        e->removeButton()->setEnabled(columnCount() > kMinColumns);
    m_addButton->setEnabled(columnCount() < kMaxColumns);
    return true;
}

void CompareView::removeColumn(int index)
{
    if (columnCount() <= kMinColumns || index < 0 || index >= columnCount())
        return;
    cancel();
    ArmEditor* editor = m_editors[static_cast<size_t>(index)];
    m_editors.erase(m_editors.begin() + index);
    editor->deleteLater();
    for (size_t i = 0; i < m_editors.size(); ++i) {
        m_editors[i]->setIndex(static_cast<int>(i));
        m_editors[i]->removeButton()->setEnabled(columnCount() > kMinColumns);
    }
    m_addButton->setEnabled(true);
}

bool CompareView::run()
{
    if (!m_service || !m_dataset) {
        m_status->setText(red(tr("Open a workspace first.")));
        return false;
    }
    const QString userId = m_user->text().trimmed();
    if (m_dataset->userIndex(userId) < 0) {
        m_status->setText(
            red(userId.isEmpty() ? tr("Pick a user.") : tr("No user '%1' in this workspace.").arg(userId)));
        return false;
    }
    std::vector<pipeline::CompareColumn> columns;
    for (size_t i = 0; i < m_editors.size(); ++i) {
        try {
            columns.push_back(pipeline::CompareColumn::ofArm(m_editors[i]->arm()));
        } catch (const Error& e) {
            m_status->setText(red(tr("Column %1: %2").arg(i + 1).arg(e.message())));
            return false;
        }
    }
    // Every live LLM column sends one call: above the confirmation ceiling, only with a yes.
    pipeline::RunProjection projection;
    QStringList llmColumns;
    for (const pipeline::CompareColumn& c : columns) {
        if (!c.arm.reranks() || c.arm.isOffline() || c.runId > 0)
            continue;
        const rerank::EndpointProfile* profile = nullptr;
        if (m_endpointProfiles)
            for (const rerank::EndpointProfile& e : *m_endpointProfiles)
                if (e.name == c.arm.rerank)
                    profile = &e;
        if (profile && profile->kind == rerank::ProviderKind::Offline)
            continue;
        // Profiles not read yet: still one call, of unknown cost.
        addProjection(projection,
            profile ? projectCalls(*profile, m_prices.get(), 1, c.arm.candidates) : pipeline::RunProjection { 1, {} });
        llmColumns << c.arm.rerank;
    }
    if (!confirmCeiling(this, projection,
            tr("Comparing user %1 (LLM columns: %2)").arg(userId, llmColumns.join(QStringLiteral(", "))))) {
        m_status->setText(tr("Not sent: above the confirmation ceiling."));
        return false;
    }
    std::optional<eval::SplitSpec> split;
    if (const QString s = m_split->currentData().toString(); !s.isEmpty())
        split = eval::SplitSpec::parse(s);
    if (!m_run) {
        m_run = std::make_unique<pipeline::CompareRun>(*m_service, m_path, m_dataset);
        connect(m_run.get(), &pipeline::CompareRun::prepared, this, [this] {
            showComparison();
            m_status->setText(tr("Running %1 column(s)…").arg(columnCount()));
        });
        connect(m_run.get(), &pipeline::CompareRun::columnFinished, this, [this](int column) {
            if (static_cast<size_t>(column) < m_editors.size())
                m_editors[static_cast<size_t>(column)]->setRunning(false);
            // Columns finishing together are shown by one model reset.
            if (!m_refreshQueued) {
                m_refreshQueued = true;
                QTimer::singleShot(0, this, [this] {
                    if (std::exchange(m_refreshQueued, false))
                        showComparison();
                });
            }
        });
        connect(m_run.get(), &pipeline::CompareRun::finished, this, [this] {
            m_refreshQueued = false;
            showComparison();
            m_cancelButton->setEnabled(false);
            const auto& c = m_run->comparison();
            m_status->setText(c.split.isEmpty()
                    ? tr("User %1: %2 columns.").arg(c.userId).arg(c.arms.size())
                    : tr("User %1, split %2: %3 held-out item(s) (★), marked in every column; the models saw only the "
                         "training part.")
                          .arg(c.userId, c.split)
                          .arg(c.heldOutIds.size()));
            emit comparisonFinished();
        });
        connect(m_run.get(), &pipeline::CompareRun::failed, this, [this](const QString& message) {
            for (ArmEditor* e : m_editors)
                e->setRunning(false);
            m_cancelButton->setEnabled(false);
            m_status->setText(red(message));
        });
    }
    for (ArmEditor* e : m_editors) {
        e->setRunning(true);
        e->setInfo(QString());
    }
    m_cancelButton->setEnabled(true);
    m_status->setText(
        split ? tr("Preparing: the split and each column's model on its training part…") : tr("Preparing the models…"));
    m_run->start(userId, std::move(columns), split, static_cast<quint64>(m_seed->value()));
    return true;
}

void CompareView::cancel()
{
    if (m_run && m_run->isRunning()) {
        m_run->cancel();
        m_status->setText(tr("Canceled."));
    }
    for (ArmEditor* e : m_editors)
        e->setRunning(false);
    m_cancelButton->setEnabled(false);
}

void CompareView::showComparison()
{
    if (!m_run)
        return;
    pipeline::Comparison c = m_run->comparison();
    c.computePairs(); // between the columns done so far
    m_model->setComparison(c);
    m_pairs->setComparison(c);
    // as tall as the header and the pairs (1, 3 or 6), no more
    // the pairs get just their rows (1, 3 or 6), the aligned table the rest
    const int want = m_pairsView->horizontalHeader()->sizeHint().height()
        + std::max(1, m_pairs->rowCount()) * m_pairsView->verticalHeader()->defaultSectionSize()
        + 2 * m_pairsView->frameWidth() + 2;
    QList<int> sizes = m_splitter->sizes();
    if (sizes.size() == 3 && sizes[2] != want) {
        sizes[1] = std::max(0, sizes[1] + sizes[2] - want);
        sizes[2] = want;
        m_splitter->setSizes(sizes);
    }
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Interactive);
    m_table->horizontalHeader()->resizeSection(0, std::min(260, m_table->width() / 5 + 40));
    for (int i = 0; i < columnCount() && i < static_cast<int>(c.arms.size()); ++i)
        if (m_run->columnDone(i))
            updateColumnInfo(i);
}

void CompareView::updateColumnInfo(int column)
{
    const pipeline::ArmResult& a = m_run->comparison().arms[static_cast<size_t>(column)];
    QStringList lines;
    if (a.canceled)
        lines << red(tr("canceled"));
    if (!a.error.isEmpty())
        lines << red(tr("error: %1").arg(a.error));
    if (a.fallback)
        lines << red(tr("CF order (fallback: %1)").arg(a.fallbackReason));
    if (!a.defects.isEmpty()) {
        QStringList kinds;
        for (const rerank::Defect& d : a.defects)
            kinds << d.kind;
        lines << red(tr("defects: %1").arg(kinds.join(QStringLiteral(", "))));
    }
    if (a.metrics)
        lines << QStringLiteral("<b>HR@%1 %2 · NDCG@%1 %3 · recall@%1 %4</b>")
                     .arg(a.k)
                     .arg(a.metrics->hr, 0, 'f', 3)
                     .arg(a.metrics->ndcg, 0, 'f', 3)
                     .arg(a.metrics->recall, 0, 'f', 3);
    lines << tr("ms: candidates %1 · enrich %2 · render %3 · rerank %4 · parse %5")
                 .arg(a.stageMs.candidates, 0, 'f', 1)
                 .arg(a.stageMs.enrichment, 0, 'f', 1)
                 .arg(a.stageMs.render, 0, 'f', 1)
                 .arg(a.stageMs.llm, 0, 'f', 1)
                 .arg(a.stageMs.parse, 0, 'f', 1);
    lines << tr("tokens %1 in / %2 out · cost %3%4")
                 .arg(a.usage.inputTokens)
                 .arg(a.usage.outputTokens)
                 .arg(a.cost ? QStringLiteral("$%1").arg(*a.cost, 0, 'f', 5) : tr("unknown"),
                     a.cacheHit ? tr(" · cache hit") : QString());
    if (!a.note.isEmpty())
        lines << QStringLiteral("<i>%1</i>").arg(a.note.toHtmlEscaped());
    m_editors[static_cast<size_t>(column)]->setInfo(lines.join(QStringLiteral("<br>")));
}

void CompareView::askExport(const QString& format)
{
    if (!m_run || m_run->isRunning() || m_run->comparison().arms.empty()) {
        m_status->setText(red(tr("Nothing to export yet: run a comparison first.")));
        return;
    }
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the comparison"),
        QStringLiteral("comparison-%1.%2").arg(m_run->comparison().userId, format),
        tr("%1 files (*.%2)").arg(format.toUpper(), format));
    if (!path.isEmpty())
        exportTo(format, path);
}

void CompareView::exportTo(const QString& format, const QString& path)
{
    if (!m_run)
        return;
    auto future = runTask([c = m_run->comparison(), format, path](const TaskControl&) {
        const QString text = format == u"csv" ? c.toCsv()
            : format == u"html"               ? c.toHtml()
                                : QString::fromUtf8(QJsonDocument(c.toJson()).toJson(QJsonDocument::Indented));
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(text.toUtf8()) < 0 || !f.commit())
            throw Error(QStringLiteral("%1: %2").arg(path, f.errorString()));
        return path;
    });
    continueOn(
        future, this,
        [this](const TaskResult<QString>& result) {
            if (!result.value) {
                m_status->setText(red(result.error));
                return;
            }
            m_status->setText(tr("Exported to %1").arg(*result.value));
            emit exported(*result.value);
        },
        [] {});
}

} // namespace recwb::ui
