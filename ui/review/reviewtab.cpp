#include "review/reviewtab.h"

#include "common/backgroundtask.h"
#include "common/modelstore.h"
#include "common/settings.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "pipeline/ceiling.h"
#include "review/reviewmodels.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QThreadPool>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace recwb::ui {

namespace {
    constexpr auto kReviewerKey = u"review/reviewer";

    QString defaultReviewer()
    {
        const QString user = qEnvironmentVariable("USER");
        return user.isEmpty() ? QStringLiteral("reviewer") : user;
    }
} // namespace

// The candidates before the rerank, with their sources.
class ReviewTab::CandidatesModel final : public TableModel {
public:
    enum Column { Rank, Title, Score, Source, NumColumns };
    using TableModel::TableModel;
    void setUser(const review::QueueUser* u)
    {
        beginResetModel();
        m_rows = u ? u->candidates : std::vector<review::Candidate> {};
        endResetModel();
    }

protected:
    int rows() const final { return static_cast<int>(m_rows.size()); }
    int columns() const final { return NumColumns; }
    bool isNumeric(int column) const final { return column == Rank || column == Score; }
    QString headerText(int column) const final
    {
        switch (static_cast<Column>(column)) {
        case Rank:
            return tr("#");
        case Title:
            return tr("Candidate");
        case Score:
            return tr("Score");
        case Source:
            return tr("Source");
        case NumColumns:
            break;
        }
        return {};
    }
    QVariant cell(int row, int column, int role) const final
    {
        if (role != Qt::DisplayRole && role != SortRole)
            return {};
        const review::Candidate& c = m_rows[static_cast<size_t>(row)];
        switch (static_cast<Column>(column)) {
        case Rank:
            return row + 1;
        case Title:
            return c.title.isEmpty() ? c.itemId : c.title;
        case Score:
            return role == SortRole ? QVariant(c.score) : QVariant(QString::number(c.score, 'f', 3));
        case Source:
            return c.source;
        case NumColumns:
            break;
        }
        return {};
    }

private:
    std::vector<review::Candidate> m_rows;
};

// The writer thread's own workspace connection (opened on first use, on that thread).
struct ReviewTab::WriterState {
    QString path;
    std::unique_ptr<Workspace> ws;
    Workspace& open()
    {
        if (!ws)
            ws = Workspace::open(path);
        return *ws;
    }
};

ReviewTab::ReviewTab(ModelStore* store, AppSettings& settings, QWidget* parent)
    : QWidget(parent)
    , m_store(store)
    , m_settings(settings)
    , m_service(store ? store->rerankService() : nullptr)
    , m_writer(new QThreadPool(this))
{
    setObjectName(QStringLiteral("reviewTab"));
    m_writer->setMaxThreadCount(1);
    m_writer->setExpiryTimeout(-1);
    buildUi();
    m_reviewer->setText(m_settings.string(kReviewerKey, defaultReviewer()));

    auto shortcut = [this](QKeySequence key, auto fn) {
        auto* s = new QShortcut(key, this);
        s->setContext(Qt::WidgetWithChildrenShortcut);
        connect(s, &QShortcut::activated, this, fn);
    };
    shortcut(QKeySequence(Qt::Key_1), [this] { giveVerdict(review::Verdict::Good); });
    shortcut(QKeySequence(Qt::Key_2), [this] { giveVerdict(review::Verdict::Bad); });
    shortcut(QKeySequence(Qt::Key_3), [this] { giveVerdict(review::Verdict::Unsure); });
    shortcut(QKeySequence(Qt::Key_J), [this] { nextItem(); });
    shortcut(QKeySequence(Qt::Key_K), [this] { previousItem(); });
    shortcut(QKeySequence(Qt::Key_N), [this] { nextUser(); });
    shortcut(QKeySequence(Qt::Key_P), [this] { previousUser(); });
}

ReviewTab::~ReviewTab()
{
    m_builder.reset();
    m_writer->waitForDone(); // every verdict given reaches the file
}

void ReviewTab::buildUi()
{
    auto* split = new QSplitter(Qt::Horizontal, this);
    split->setObjectName(QStringLiteral("reviewSplitter"));

    // ---- left: queues, the build form, the reviewer
    auto* left = new QWidget(split);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    auto* who = new QFormLayout;
    m_reviewer = new QLineEdit(left);
    m_reviewer->setObjectName(QStringLiteral("reviewReviewer"));
    m_reviewer->setToolTip(tr("Your name on every verdict; agreement is computed between reviewers"));
    who->addRow(tr("Reviewer:"), m_reviewer);
    leftLayout->addLayout(who);
    connect(m_reviewer, &QLineEdit::editingFinished, this, [this] {
        setReviewer(m_reviewer->text());
    });

    auto* queuesLabel = new QLabel(tr("Queues"), left);
    queuesLabel->setStyleSheet(QStringLiteral("font-weight: bold"));
    leftLayout->addWidget(queuesLabel);
    m_queues = new QListWidget(left);
    m_queues->setObjectName(QStringLiteral("reviewQueues"));
    leftLayout->addWidget(m_queues, 1);
    connect(m_queues, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* item) {
        if (item && item->data(Qt::UserRole).toLongLong() != m_queueId)
            openQueue(item->data(Qt::UserRole).toLongLong());
    });
    m_deleteButton = new QPushButton(tr("Delete queue"), left);
    m_deleteButton->setObjectName(QStringLiteral("reviewDelete"));
    leftLayout->addWidget(m_deleteButton);
    connect(m_deleteButton, &QPushButton::clicked, this, [this] {
        if (m_queueId <= 0 || m_path.isEmpty())
            return;
        if (QMessageBox::question(this, tr("Delete the queue?"),
                tr("Delete queue %1 with every verdict and note given on it?").arg(m_queueId))
            != QMessageBox::Yes)
            return;
        const qint64 id = m_queueId;
        m_writer->start([state = m_writerState, id] {
            try {
                review::store::removeQueue(state->open(), id);
            } catch (const Error&) { // shown by the next refresh
            }
        });
        m_queueId = 0;
        m_queue.reset();
        m_users.clear();
        m_rows.clear();
        showUser(-1);
        QThreadPool* writer = m_writer;
        continueOn(
            runTask([writer](const TaskControl&) {
                writer->waitForDone();
                return true;
            }),
            this, [this](const TaskResult<bool>&) { refreshQueues(); }, [] {});
    });

    auto* form = new QGroupBox(tr("New queue"), left);
    auto* f = new QFormLayout(form);
    m_name = new QLineEdit(form);
    m_name->setObjectName(QStringLiteral("reviewName"));
    m_name->setPlaceholderText(tr("e.g. cold@1 offline, week 48"));
    f->addRow(tr("Name:"), m_name);
    m_source = new QComboBox(form);
    m_source->setObjectName(QStringLiteral("reviewSource"));
    m_source->addItem(tr("Simulated cold users (cold@n)"), QStringLiteral("simulated"));
    m_source->addItem(tr("Real cold users"), QStringLiteral("cold"));
    m_source->setToolTip(tr("Simulated: warm users cut to their first n interactions, exactly as the cold@n "
                            "split; what they used later is shown as ground truth"));
    f->addRow(tr("Users:"), m_source);
    m_coldN = new QSpinBox(form);
    m_coldN->setObjectName(QStringLiteral("reviewColdN"));
    m_coldN->setRange(0, 20);
    m_coldN->setValue(1);
    m_coldN->setPrefix(tr("first "));
    m_coldN->setSuffix(tr(" interaction(s)"));
    f->addRow(tr("Known:"), m_coldN);
    connect(m_source, &QComboBox::currentIndexChanged, this,
        [this] { m_coldN->setEnabled(m_source->currentData().toString() == u"simulated"); });
    m_sample = new QSpinBox(form);
    m_sample->setObjectName(QStringLiteral("reviewSample"));
    m_sample->setRange(0, 1000000);
    m_sample->setValue(200);
    m_sample->setSpecialValueText(tr("every user"));
    f->addRow(tr("Sample:"), m_sample);
    m_seed = new QSpinBox(form);
    m_seed->setObjectName(QStringLiteral("reviewSeed"));
    m_seed->setRange(0, 1000000000);
    m_seed->setValue(42);
    f->addRow(tr("Seed:"), m_seed);
    m_arm = new QLineEdit(QStringLiteral("cf=ease,rerank=offline"), form);
    m_arm->setObjectName(QStringLiteral("reviewArm"));
    m_arm->setToolTip(tr("The candidate model and the reranker, as a Compare arm: cf=MODEL,rerank=offline|ENDPOINT"
                         "[,prompt=NAME@VERSION|LABEL][,candidates=N]"));
    f->addRow(tr("Arm:"), m_arm);
    m_k = new QSpinBox(form);
    m_k->setObjectName(QStringLiteral("reviewK"));
    m_k->setRange(1, 50);
    m_k->setValue(10);
    f->addRow(tr("K:"), m_k);
    auto* buttons = new QHBoxLayout;
    m_buildButton = new QPushButton(tr("Build queue"), form);
    m_buildButton->setObjectName(QStringLiteral("reviewBuild"));
    m_cancelButton = new QPushButton(tr("Cancel"), form);
    m_cancelButton->setObjectName(QStringLiteral("reviewCancel"));
    m_cancelButton->setEnabled(false);
    buttons->addWidget(m_buildButton);
    buttons->addWidget(m_cancelButton);
    f->addRow(buttons);
    m_progress = new QProgressBar(form);
    m_progress->setObjectName(QStringLiteral("reviewBuildProgress"));
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    f->addRow(m_progress);
    leftLayout->addWidget(form);
    connect(m_buildButton, &QPushButton::clicked, this, [this] { build(); });
    connect(m_cancelButton, &QPushButton::clicked, this, [this] { cancelBuild(); });
    m_status = new QLabel(left);
    m_status->setObjectName(QStringLiteral("reviewStatus"));
    m_status->setWordWrap(true);
    leftLayout->addWidget(m_status);

    // ---- right: the review page and the summary page
    m_pages = new QTabWidget(split);
    m_pages->setObjectName(QStringLiteral("reviewPages"));
    auto* page = new QWidget(m_pages);
    auto* pageLayout = new QVBoxLayout(page);
    m_header = new QLabel(page);
    m_header->setObjectName(QStringLiteral("reviewUserHeader"));
    m_header->setStyleSheet(QStringLiteral("font-weight: bold; font-size: 13pt"));
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
    pageLayout->addWidget(m_header);
    m_progressLabel = new QLabel(page);
    m_progressLabel->setObjectName(QStringLiteral("reviewProgressLabel"));
    pageLayout->addWidget(m_progressLabel);

    auto* body = new QSplitter(Qt::Horizontal, page);
    auto* context = new QWidget(body);
    auto* c = new QVBoxLayout(context);
    c->setContentsMargins(0, 0, 0, 0);
    m_profile = new QLabel(context);
    m_profile->setObjectName(QStringLiteral("reviewProfile"));
    m_profile->setWordWrap(true);
    m_profile->setTextFormat(Qt::PlainText);
    c->addWidget(m_profile);
    c->addWidget(new QLabel(tr("What the reranker knew (oldest first):"), context));
    m_known = new QListWidget(context);
    m_known->setObjectName(QStringLiteral("reviewKnown"));
    m_known->setMaximumHeight(110);
    c->addWidget(m_known);
    c->addWidget(new QLabel(tr("What they went on to use (ground truth):"), context));
    m_truth = new QListWidget(context);
    m_truth->setObjectName(QStringLiteral("reviewTruth"));
    c->addWidget(m_truth, 1);
    c->addWidget(new QLabel(tr("Candidates before the rerank:"), context));
    m_candidates = new QTableView(context);
    m_candidates->setObjectName(QStringLiteral("reviewCandidates"));
    m_candidatesModel = new CandidatesModel(m_candidates);
    setupTable(m_candidates, m_candidatesModel, nullptr, { { 0, 4 }, { 2, 6 }, { 3, 9 } }, 1, 0);
    c->addWidget(m_candidates, 2);

    auto* judge = new QWidget(body);
    auto* j = new QVBoxLayout(judge);
    j->setContentsMargins(0, 0, 0, 0);
    auto* keys = new QLabel(tr("Keys: <b>1</b> good · <b>2</b> bad · <b>3</b> unsure · <b>J</b>/<b>K</b> next/previous "
                               "item · <b>N</b>/<b>P</b> next/previous user"),
        judge);
    j->addWidget(keys);
    m_items = new QTableView(judge);
    m_items->setObjectName(QStringLiteral("reviewItems"));
    m_itemsModel = new ReviewItemsModel(m_items);
    setupTable(m_items, m_itemsModel, nullptr,
        { { ReviewItemsModel::Rank, 6 }, { ReviewItemsModel::Title, 20 }, { ReviewItemsModel::CfRank, 7 },
            { ReviewItemsModel::Move, 6 }, { ReviewItemsModel::Source, 9 }, { ReviewItemsModel::UsedLater, 9 },
            { ReviewItemsModel::Claims, 5 }, { ReviewItemsModel::Verdict, 7 }, { ReviewItemsModel::Note, 10 } },
        ReviewItemsModel::Explanation, ReviewItemsModel::Rank);
    // The explanation is what is judged: CF rank (the move says it) and the note (the box
    // below says it) start hidden; the header's context menu shows them.
    m_items->setColumnHidden(ReviewItemsModel::CfRank, true);
    m_items->setColumnHidden(ReviewItemsModel::Note, true);
    m_items->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_items->setSelectionMode(QAbstractItemView::SingleSelection);
    j->addWidget(m_items, 3);
    connect(m_items->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { updateDetail(); });
    m_detail = new QPlainTextEdit(judge);
    m_detail->setObjectName(QStringLiteral("reviewDetail"));
    m_detail->setReadOnly(true);
    m_detail->setMaximumHeight(120);
    j->addWidget(m_detail, 1);
    auto* verdictRow = new QHBoxLayout;
    const struct {
        const char* name;
        QString text;
        review::Verdict v;
    } verdicts[] = { { "reviewGood", tr("Good (1)"), review::Verdict::Good },
        { "reviewBad", tr("Bad (2)"), review::Verdict::Bad }, { "reviewUnsure", tr("Unsure (3)"), review::Verdict::Unsure } };
    for (const auto& v : verdicts) {
        auto* b = new QPushButton(v.text, judge);
        b->setObjectName(QString::fromLatin1(v.name));
        b->setFocusPolicy(Qt::NoFocus);
        const review::Verdict verdict = v.v;
        connect(b, &QPushButton::clicked, this, [this, verdict] { giveVerdict(verdict); });
        verdictRow->addWidget(b);
    }
    verdictRow->addStretch();
    auto* prevUser = new QPushButton(tr("◀ Previous user (P)"), judge);
    prevUser->setObjectName(QStringLiteral("reviewPreviousUser"));
    prevUser->setFocusPolicy(Qt::NoFocus);
    auto* nextUserButton = new QPushButton(tr("Next user (N) ▶"), judge);
    nextUserButton->setObjectName(QStringLiteral("reviewNextUser"));
    nextUserButton->setFocusPolicy(Qt::NoFocus);
    connect(prevUser, &QPushButton::clicked, this, [this] { previousUser(); });
    connect(nextUserButton, &QPushButton::clicked, this, [this] { nextUser(); });
    verdictRow->addWidget(prevUser);
    verdictRow->addWidget(nextUserButton);
    j->addLayout(verdictRow);
    auto* notes = new QFormLayout;
    m_itemNote = new QLineEdit(judge);
    m_itemNote->setObjectName(QStringLiteral("reviewItemNote"));
    m_itemNote->setPlaceholderText(tr("A note on this item (Enter saves)"));
    m_userNote = new QLineEdit(judge);
    m_userNote->setObjectName(QStringLiteral("reviewUserNote"));
    m_userNote->setPlaceholderText(tr("A note on this user as a whole (Enter saves)"));
    notes->addRow(tr("Item note:"), m_itemNote);
    notes->addRow(tr("User note:"), m_userNote);
    j->addLayout(notes);
    connect(m_itemNote, &QLineEdit::editingFinished, this, [this] {
        const review::QueueUser* u = user();
        const int row = currentItem();
        if (!u || row < 0 || m_itemsModel->note(row) == m_itemNote->text())
            return;
        const QString item = m_itemsModel->itemId(row);
        m_itemsModel->setNote(item, m_itemNote->text());
        write(u->userId, item, std::nullopt, m_itemNote->text());
    });
    connect(m_userNote, &QLineEdit::editingFinished, this, [this] {
        const review::QueueUser* u = user();
        if (!u || verdictsOf(u->userId).value(QString()).second == m_userNote->text())
            return;
        write(u->userId, QString(), std::nullopt, m_userNote->text());
    });
    body->addWidget(context);
    body->addWidget(judge);
    body->setStretchFactor(0, 2);
    body->setStretchFactor(1, 4);
    body->setSizes({ 300, 730 });
    pageLayout->addWidget(body, 1);
    m_pages->addTab(page, tr("Review"));

    auto* summaryPage = new QWidget(m_pages);
    auto* s = new QVBoxLayout(summaryPage);
    auto* summaryHead = new QHBoxLayout;
    summaryHead->addWidget(new QLabel(tr("Share of good verdicts (every reviewer):"), summaryPage));
    summaryHead->addStretch();
    m_summaryAll = new QCheckBox(tr("All queues"), summaryPage);
    m_summaryAll->setObjectName(QStringLiteral("reviewSummaryAll"));
    m_summaryAll->setToolTip(tr("Summarize every queue of the workspace (e.g. cold@1 against cold@3), "
                                "not only the open one"));
    summaryHead->addWidget(m_summaryAll);
    s->addLayout(summaryHead);
    connect(m_summaryAll, &QCheckBox::toggled, this, [this] { refreshSummary(); });
    m_summary = new QTableView(summaryPage);
    m_summary->setObjectName(QStringLiteral("reviewSummary"));
    m_summaryModel = new ReviewSummaryModel(m_summary);
    setupTable(m_summary, m_summaryModel, nullptr, { { 0, 9 }, { 2, 6 }, { 3, 6 }, { 4, 6 }, { 5, 9 } }, 1, 0);
    s->addWidget(m_summary, 3);
    s->addWidget(new QLabel(tr("Agreement between reviewers who judged the same items:"), summaryPage));
    m_agreement = new QTableView(summaryPage);
    m_agreement->setObjectName(QStringLiteral("reviewAgreement"));
    m_agreementModel = new ReviewAgreementModel(m_agreement);
    setupTable(m_agreement, m_agreementModel, nullptr, { { 0, 12 }, { 1, 12 }, { 2, 6 }, { 3, 6 }, { 4, 7 } }, 5, 0);
    s->addWidget(m_agreement, 1);
    auto* exportRow = new QHBoxLayout;
    auto* csv = new QPushButton(tr("Export CSV…"), summaryPage);
    csv->setObjectName(QStringLiteral("reviewExportCsv"));
    auto* json = new QPushButton(tr("Export JSON…"), summaryPage);
    json->setObjectName(QStringLiteral("reviewExportJson"));
    exportRow->addWidget(csv);
    exportRow->addWidget(json);
    exportRow->addStretch();
    s->addLayout(exportRow);
    for (auto [button, suffix] : { std::pair { csv, QStringLiteral("csv") }, std::pair { json, QStringLiteral("json") } })
        connect(button, &QPushButton::clicked, this, [this, suffix] {
            if (m_queueId <= 0)
                return;
            const QString start = QFileInfo(m_path).dir().filePath(QStringLiteral("review-%1.%2").arg(m_queueId).arg(suffix));
            const QString path = QFileDialog::getSaveFileName(this, tr("Export verdicts"), start,
                suffix == u"csv" ? tr("CSV (*.csv)") : tr("JSON (*.json)"));
            if (!path.isEmpty())
                exportVerdicts(path);
        });
    m_pages->addTab(summaryPage, tr("Summary"));
    connect(m_pages, &QTabWidget::currentChanged, this, [this] { refreshSummary(); });

    split->addWidget(left);
    split->addWidget(m_pages);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 4);
    split->setSizes({ 250, 1030 });
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);
    showUser(-1);
}

void ReviewTab::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    ++m_generation;
    m_builder.reset();
    setBuilding(false);
    m_writer->waitForDone(); // the old workspace's writes land before its connection goes
    m_path = path;
    m_dataset = std::move(dataset);
    m_writerState = std::make_shared<WriterState>();
    m_writerState->path = path;
    m_queueId = 0;
    m_queue.reset();
    m_users.clear();
    m_rows.clear();
    showUser(-1);
    refreshQueues();
}

void ReviewTab::setStatus(const QString& text, bool error)
{
    m_status->setText(text);
    m_status->setStyleSheet(error ? QStringLiteral("color: #b02020") : QString());
}

QString ReviewTab::reviewer() const
{
    return m_reviewer->text().trimmed();
}

void ReviewTab::setReviewer(const QString& name)
{
    const QString trimmed = name.trimmed();
    if (m_reviewer->text() != trimmed)
        m_reviewer->setText(trimmed);
    if (!trimmed.isEmpty())
        m_settings.setString(kReviewerKey, trimmed);
    // The list shows this reviewer's verdicts; resume where they stopped.
    if (m_queue) {
        const review::Progress p = review::progress(m_users, m_rows, trimmed);
        showUser(p.resumeAt >= 0 ? p.resumeAt : std::max(0, m_position));
    }
}

review::QueueSpec ReviewTab::spec() const
{
    review::QueueSpec s;
    s.source = m_source->currentData().toString() == u"cold" ? QStringLiteral("cold")
                                                              : QStringLiteral("cold@%1").arg(m_coldN->value());
    s.sample = m_sample->value();
    s.seed = static_cast<quint64>(m_seed->value());
    s.arm = m_arm->text().trimmed();
    s.k = m_k->value();
    s.name = m_name->text().trimmed().isEmpty() ? QStringLiteral("%1 %2").arg(s.source, s.arm) : m_name->text().trimmed();
    s.validate();
    return s;
}

bool ReviewTab::isBuilding() const
{
    return m_builder && m_builder->isRunning();
}

void ReviewTab::setBuilding(bool building)
{
    m_buildButton->setEnabled(!building);
    m_cancelButton->setEnabled(building);
    if (!building) {
        m_progress->setRange(0, 1);
        m_progress->setValue(0);
        m_progress->setFormat(QString());
    }
}

bool ReviewTab::build()
{
    if (!m_service || !m_dataset) {
        setStatus(tr("Open a workspace first."), true);
        return false;
    }
    if (isBuilding())
        return false;
    review::QueueSpec s;
    try {
        s = spec();
    } catch (const Error& e) {
        setStatus(e.message(), true);
        return false;
    }
    m_builder = std::make_unique<review::QueueBuilder>(*m_service, m_path, m_dataset);
    connect(m_builder.get(), &review::QueueBuilder::progress, this, [this](int done, int total, const QString& stage) {
        m_progress->setRange(0, total);
        m_progress->setValue(done);
        m_progress->setFormat(total > 0 ? tr("%1: %2 / %3").arg(stage).arg(done).arg(total) : stage);
        m_progress->setTextVisible(true);
        setStatus(stage + QStringLiteral("…"));
    });
    connect(m_builder.get(), &review::QueueBuilder::finished, this, [this](qint64 id) {
        setBuilding(false);
        setStatus(tr("Queue %1 is ready.").arg(id));
        emit queueBuilt(id);
        refreshQueues();
        openQueue(id);
    });
    connect(m_builder.get(), &review::QueueBuilder::failed, this, [this, s](const QString& message) {
        setBuilding(false);
        if (message.startsWith(QStringLiteral("refused before any call"))
            && QMessageBox::question(this, tr("Build the queue?"), tr("%1.\n\nBuild it anyway?").arg(message))
                == QMessageBox::Yes) {
            setBuilding(true);
            m_builder->start(s, {});
            return;
        }
        setStatus(message, true);
    });
    pipeline::ExperimentRunOptions options;
    try {
        options.ceiling = pipeline::RunCeiling::fromEnvironment();
    } catch (const Error& e) {
        setStatus(e.message(), true);
        return false;
    }
    setBuilding(true);
    m_progress->setRange(0, 0);
    setStatus(s.simulated() ? tr("Preparing: the %1 split, the model on its training part…").arg(s.source)
                            : tr("Preparing: the model and the cold users…"));
    m_builder->start(s, options);
    return true;
}

void ReviewTab::cancelBuild()
{
    if (isBuilding()) {
        m_builder->cancel();
        setStatus(tr("Canceling…"));
    }
}

void ReviewTab::refreshQueues()
{
    if (m_path.isEmpty()) {
        m_queues->clear();
        return;
    }
    const quint64 generation = m_generation; // the workspace's
    continueOn(
        runTask([path = m_path](const TaskControl&) {
            const auto ws = Workspace::open(path);
            return review::store::listQueues(*ws);
        }),
        this,
        [this, generation](const TaskResult<std::vector<review::Queue>>& r) {
            if (generation != m_generation)
                return;
            if (!r.error.isEmpty()) {
                setStatus(r.error, true);
                return;
            }
            const QSignalBlocker block(m_queues);
            m_queues->clear();
            for (const review::Queue& q : *r.value) {
                auto* item = new QListWidgetItem(
                    tr("#%1 %2\n%3 users · %4 · %5")
                        .arg(q.id)
                        .arg(q.spec.name, QString::number(q.users), q.status,
                            q.created.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm"))),
                    m_queues);
                item->setData(Qt::UserRole, q.id);
                item->setToolTip(q.spec.describe() + (q.error.isEmpty() ? QString() : u'\n' + q.error));
                if (q.id == m_queueId)
                    m_queues->setCurrentItem(item);
            }
            emit queuesLoaded();
        },
        [] {});
}

void ReviewTab::openQueue(qint64 id)
{
    if (m_path.isEmpty())
        return;
    const quint64 generation = m_generation;
    const quint64 opening = ++m_opening;
    struct Loaded {
        std::optional<review::Queue> queue;
        std::vector<review::QueueUser> users;
        std::vector<review::VerdictRow> rows;
    };
    // Reads see every write given before (the writer thread runs in order; wait for it).
    continueOn(
        runTask([path = m_path, id, writer = m_writer](const TaskControl&) {
            writer->waitForDone();
            const auto ws = Workspace::open(path);
            Loaded l;
            l.queue = review::store::findQueue(*ws, id);
            if (!l.queue)
                throw Error(QStringLiteral("%1: no review queue %2").arg(path).arg(id));
            l.users = review::store::queueUsers(*ws, id);
            l.rows = review::store::verdicts(*ws, id);
            return l;
        }),
        this,
        [this, generation, opening, id](const TaskResult<Loaded>& r) {
            if (generation != m_generation || opening != m_opening)
                return;
            if (!r.error.isEmpty()) {
                setStatus(r.error, true);
                return;
            }
            m_queueId = id;
            m_queue = r.value->queue;
            m_users = r.value->users;
            m_rows = r.value->rows;
            const review::Progress p = review::progress(m_users, m_rows, reviewer());
            showUser(m_users.empty() ? -1 : (p.resumeAt >= 0 ? p.resumeAt : 0));
            refreshSummary();
            setStatus(p.resumeAt > 0 ? tr("Queue %1: you stopped at user %2 of %3.")
                                           .arg(id)
                                           .arg(p.resumeAt + 1)
                                           .arg(m_users.size())
                                     : tr("Queue %1: %2 users.").arg(id).arg(m_users.size()));
            for (int i = 0; i < m_queues->count(); ++i)
                if (m_queues->item(i)->data(Qt::UserRole).toLongLong() == id) {
                    const QSignalBlocker block(m_queues);
                    m_queues->setCurrentRow(i);
                }
            emit queueOpened(id);
        },
        [] {});
}

const review::QueueUser* ReviewTab::user() const
{
    return m_position >= 0 && static_cast<size_t>(m_position) < m_users.size() ? &m_users[static_cast<size_t>(m_position)]
                                                                               : nullptr;
}

QHash<QString, std::pair<review::Verdict, QString>> ReviewTab::verdictsOf(const QString& userId) const
{
    QHash<QString, std::pair<review::Verdict, QString>> out;
    const QString me = reviewer();
    for (const review::VerdictRow& r : m_rows)
        if (r.userId == userId && r.reviewer == me)
            out.insert(r.itemId, { r.verdict, r.note });
    return out;
}

void ReviewTab::showUser(int position)
{
    m_position = position >= 0 && static_cast<size_t>(position) < m_users.size() ? position : -1;
    const review::QueueUser* u = user();
    m_itemsModel->setUser(u, u ? verdictsOf(u->userId) : QHash<QString, std::pair<review::Verdict, QString>> {});
    m_candidatesModel->setUser(u);
    m_known->clear();
    m_truth->clear();
    const auto titleOf = [this](const QString& id) {
        const int32_t i = m_dataset ? m_dataset->itemIndex(id) : -1;
        return i >= 0 ? QStringLiteral("%1  (%2)").arg(m_dataset->items[static_cast<size_t>(i)].title, id) : id;
    };
    if (u) {
        for (const QString& id : u->knownItems)
            m_known->addItem(titleOf(id));
        for (const QString& id : u->truth)
            m_truth->addItem(titleOf(id));
        if (u->truth.isEmpty())
            m_truth->addItem(m_queue && m_queue->spec.simulated() ? tr("(nothing held out)")
                                                                   : tr("(real cold user: no ground truth)"));
        QStringList profile;
        for (auto it = u->profile.begin(); it != u->profile.end(); ++it)
            profile << QStringLiteral("%1: %2").arg(it.key(), it.value().toVariant().toString());
        m_profile->setText(tr("Profile: %1\nStated categories: %2")
                               .arg(profile.isEmpty() ? tr("(none)") : profile.join(QStringLiteral(", ")),
                                   u->statedCategories.isEmpty() ? tr("(none)")
                                                                 : u->statedCategories.join(QStringLiteral(", "))));
        m_userNote->setText(verdictsOf(u->userId).value(QString()).second);
        if (m_itemsModel->rowCount() > 0)
            m_items->setCurrentIndex(m_items->model()->index(0, ReviewItemsModel::Title));
    } else {
        m_profile->clear();
        m_userNote->clear();
    }
    const bool enabled = u != nullptr;
    for (const char* name : { "reviewGood", "reviewBad", "reviewUnsure", "reviewNextUser", "reviewPreviousUser" })
        if (auto* b = findChild<QPushButton*>(QString::fromLatin1(name)))
            b->setEnabled(enabled);
    m_itemNote->setEnabled(enabled);
    m_userNote->setEnabled(enabled);
    m_deleteButton->setEnabled(m_queueId > 0);
    updateHeader();
    updateDetail();
}

void ReviewTab::updateHeader()
{
    const review::QueueUser* u = user();
    if (!u) {
        m_header->setText(m_queueId > 0 ? tr("Queue %1 has no users").arg(m_queueId)
                                        : tr("Build a queue or pick one on the left"));
        m_progressLabel->clear();
        return;
    }
    const QString kind = m_queue && m_queue->spec.simulated()
        ? tr("simulated cold user (first %1 of their interactions)").arg(u->known)
        : tr("cold user (%1 interaction(s))").arg(u->known);
    const QString by = u->outcome.value(QStringLiteral("answered_by")).toString();
    const QString tmpl = u->outcome.value(QStringLiteral("template")).toString();
    const bool fallback = u->outcome.value(QStringLiteral("fallback")).toBool();
    m_header->setText(tr("User %1 · %2 of %3 · %4")
                          .arg(u->userId)
                          .arg(m_position + 1)
                          .arg(m_users.size())
                          .arg(kind));
    const review::Progress p = review::progress(m_users, m_rows, reviewer());
    m_progressLabel->setText(tr("Reranked by %1 with %2%3 · %4 of %5 items judged by %6 · %7 users done%8")
                                 .arg(by.isEmpty() ? tr("?") : by, tmpl.isEmpty() ? tr("no prompt") : tmpl,
                                     fallback ? tr(" (fell back to the candidate order: %1)")
                                                    .arg(u->outcome.value(QStringLiteral("fallback_reason")).toString())
                                              : QString())
                                 .arg(p.judged)
                                 .arg(p.items)
                                 .arg(reviewer().isEmpty() ? tr("nobody (set your name)") : reviewer())
                                 .arg(p.usersDone)
                                 .arg(m_pendingWrites > 0 ? tr(" · saving…") : tr(" · saved")));
}

int ReviewTab::currentItem() const
{
    return currentSourceRow(m_items);
}

void ReviewTab::updateDetail()
{
    const int row = currentItem();
    if (row < 0) {
        m_detail->clear();
        m_itemNote->clear();
        return;
    }
    QString text = QStringLiteral("%1\n%2").arg(m_itemsModel->title(row), m_itemsModel->explanation(row));
    const QStringList claims = m_itemsModel->claims(row);
    if (!claims.isEmpty())
        text += QStringLiteral("\n\n⚠ ") + claims.join(QStringLiteral("\n⚠ "));
    m_detail->setPlainText(text);
    m_itemNote->setText(m_itemsModel->note(row));
}

void ReviewTab::write(const QString& userId, const QString& itemId, std::optional<review::Verdict> verdict,
    std::optional<QString> note)
{
    const QString who = reviewer();
    if (who.isEmpty()) {
        setStatus(tr("Set your reviewer name first: every verdict carries it."), true);
        m_reviewer->setFocus();
        return;
    }
    // The local copy first (the view follows at once), then the file, in order.
    auto it = std::find_if(m_rows.begin(), m_rows.end(), [&](const review::VerdictRow& r) {
        return r.userId == userId && r.itemId == itemId && r.reviewer == who;
    });
    if (it == m_rows.end()) {
        m_rows.push_back({ m_queueId, userId, itemId, who, review::Verdict::None, {}, QDateTime::currentDateTimeUtc() });
        it = std::prev(m_rows.end());
    }
    if (verdict)
        it->verdict = *verdict;
    if (note)
        it->note = *note;
    it->updated = QDateTime::currentDateTimeUtc();
    ++m_pendingWrites;
    updateHeader();
    const qint64 queue = m_queueId;
    const quint64 generation = m_generation;
    QPointer<ReviewTab> self(this);
    m_writer->start([state = m_writerState, queue, userId, itemId, who, verdict, note, self, generation] {
        QString error;
        try {
            Workspace& ws = state->open();
            if (verdict)
                review::store::setVerdict(ws, queue, userId, itemId, who, *verdict);
            if (note)
                review::store::setNote(ws, queue, userId, itemId, who, *note);
        } catch (const Error& e) {
            error = e.message();
        } catch (const std::exception& e) {
            error = QString::fromLocal8Bit(e.what());
        }
        QMetaObject::invokeMethod(
            self.data(),
            [self, userId, itemId, error, generation] {
                if (!self)
                    return;
                --self->m_pendingWrites;
                if (generation == self->m_generation)
                    self->updateHeader();
                if (!error.isEmpty()) {
                    self->setStatus(tr("The verdict was NOT saved: %1").arg(error), true);
                    emit self->writeFailed(error);
                    return;
                }
                emit self->verdictStored(userId, itemId);
            },
            Qt::QueuedConnection);
    });
}

void ReviewTab::giveVerdict(review::Verdict verdict)
{
    const review::QueueUser* u = user();
    const int row = currentItem();
    if (!u || row < 0)
        return;
    const QString item = m_itemsModel->itemId(row);
    m_itemsModel->setVerdict(item, verdict);
    write(u->userId, item, verdict, std::nullopt);
    nextItem();
}

void ReviewTab::nextItem()
{
    const int row = m_items->currentIndex().row();
    if (row + 1 < m_items->model()->rowCount())
        m_items->setCurrentIndex(m_items->model()->index(row + 1, ReviewItemsModel::Title));
}

void ReviewTab::previousItem()
{
    const int row = m_items->currentIndex().row();
    if (row > 0)
        m_items->setCurrentIndex(m_items->model()->index(row - 1, ReviewItemsModel::Title));
}

void ReviewTab::nextUser()
{
    if (m_position + 1 < static_cast<int>(m_users.size()))
        showUser(m_position + 1);
}

void ReviewTab::previousUser()
{
    if (m_position > 0)
        showUser(m_position - 1);
}

void ReviewTab::refreshSummary()
{
    m_agreementModel->setRows(review::agreement(m_rows));
    if (!m_summaryAll->isChecked() || m_path.isEmpty()) {
        m_summaryModel->setRows(review::summarize(m_users, m_rows));
        emit summaryUpdated();
        return;
    }
    const quint64 generation = m_generation;
    continueOn(
        runTask([path = m_path, writer = m_writer](const TaskControl& control) {
            writer->waitForDone();
            const auto ws = Workspace::open(path);
            std::vector<std::vector<review::SummaryRow>> perQueue;
            for (const review::Queue& q : review::store::listQueues(*ws)) {
                control.throwIfCanceled();
                perQueue.push_back(
                    review::summarize(review::store::queueUsers(*ws, q.id), review::store::verdicts(*ws, q.id)));
            }
            return review::mergeSummaries(perQueue);
        }),
        this,
        [this, generation](const TaskResult<std::vector<review::SummaryRow>>& r) {
            if (generation != m_generation || !m_summaryAll->isChecked())
                return;
            if (!r.error.isEmpty()) {
                setStatus(r.error, true);
                return;
            }
            m_summaryModel->setRows(*r.value);
            emit summaryUpdated();
        },
        [] {});
}

void ReviewTab::exportVerdicts(const QString& path)
{
    if (!m_queue)
        return;
    setStatus(tr("Exporting…"));
    continueOn(
        runTask([path, queue = *m_queue, users = m_users, rows = m_rows, writer = m_writer](const TaskControl&) {
            writer->waitForDone(); // what is exported is what is stored
            if (path.endsWith(QStringLiteral(".json"), Qt::CaseInsensitive))
                review::exportJson(path, queue, users, rows);
            else
                review::exportCsv(path, queue, users, rows);
            return rows.size();
        }),
        this,
        [this, path](const TaskResult<size_t>& r) {
            if (!r.error.isEmpty()) {
                setStatus(r.error, true);
                return;
            }
            setStatus(tr("Exported %1 verdict row(s) to %2.").arg(*r.value).arg(QDir::toNativeSeparators(path)));
            emit exported(path);
        },
        [] {});
}

} // namespace recwb::ui
