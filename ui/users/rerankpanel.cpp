#include "users/rerankpanel.h"

#include "common/backgroundtask.h"
#include "common/ceilingconfirm.h"
#include "dialogs/endpointsdialog.h"
#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "common/modelstore.h"
#include "pipeline/rerankservice.h"
#include "rerank/prices.h"
#include "rerank/prompt.h"
#include "rerank/store.h"
#include "users/rerankmodel.h"
#include "util/error.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace recwb::ui {

struct RerankPanel::Lists {
    QList<rerank::EndpointProfile> endpoints;
    QString defaultEndpoint;
    QStringList templates; // name@latest version, shipped names first when absent
    std::shared_ptr<const rerank::PriceTable> prices; // for the confirmation ceiling; null = shipped
};

namespace {

    QString muted(const QString& text)
    {
        return u"<span style='color:#6b7280'>" + text.toHtmlEscaped() + u"</span>";
    }

    QString red(const QString& text)
    {
        return u"<span style='color:#b91c1c'>" + text.toHtmlEscaped() + u"</span>";
    }

    QString stageText(const pipeline::StageMs& s)
    {
        const QLocale locale;
        auto ms = [&](double v) { return locale.toString(v, 'f', v < 10 ? 1 : 0); };
        return QObject::tr("candidates %1 · enrichment %2 · render %3 · rerank %4 · parse %5 ms")
            .arg(ms(s.candidates), ms(s.enrichment), ms(s.render), ms(s.llm), ms(s.parse));
    }

} // namespace

RerankPanel::RerankPanel(ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_store(store)
    , m_threshold(kDefaultColdThreshold)
    , m_prompt(new QComboBox(this))
    , m_endpoint(new QComboBox(this))
    , m_k(new QSpinBox(this))
    , m_candidates(new QSpinBox(this))
    , m_useCache(new QCheckBox(tr("Use cache"), this))
    , m_run(new QPushButton(tr("&Rerank"), this))
    , m_cancel(new QPushButton(tr("Cancel"), this))
    , m_manageEndpoints(new QPushButton(tr("Endpoints…"), this))
    , m_caption(new QLabel(this))
    , m_model(new RerankModel(this))
    , m_view(new QTableView(this))
    , m_details(new QTextBrowser(this))
{
    m_prompt->setObjectName(QStringLiteral("rerankPrompt"));
    m_prompt->setToolTip(tr("The prompt template (newest version). Automatic: listwise for warm users, coldstart for "
                            "cold users"));
    m_prompt->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_prompt->setMinimumContentsLength(10);
    m_endpoint->setObjectName(QStringLiteral("rerankEndpoint"));
    m_endpoint->setToolTip(tr("Where the rerank runs: the offline reranker (free, runs on every selection) or an LLM "
                              "endpoint (sent only when you press Rerank). Add and test endpoints with Endpoints…"));
    m_endpoint->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_endpoint->setMinimumContentsLength(16);
    m_k->setObjectName(QStringLiteral("rerankK"));
    m_k->setRange(1, 100);
    m_k->setValue(10);
    m_k->setToolTip(tr("How many items the reranker picks"));
    m_candidates->setObjectName(QStringLiteral("rerankCandidates"));
    m_candidates->setRange(1, 500);
    m_candidates->setValue(50);
    m_candidates->setToolTip(tr("How many CF candidates the reranker sees"));
    m_useCache->setObjectName(QStringLiteral("rerankUseCache"));
    m_useCache->setChecked(true);
    m_useCache->setToolTip(tr("Answer from the workspace's response cache when the same request was answered within "
                              "its TTL (unchecked: always a fresh call)"));
    m_manageEndpoints->setObjectName(QStringLiteral("rerankEndpoints"));
    m_manageEndpoints->setToolTip(tr("Add, edit and test endpoints and their keys"));
    m_run->setObjectName(QStringLiteral("rerankRun"));
    m_cancel->setObjectName(QStringLiteral("rerankCancel"));
    m_cancel->setEnabled(false);
    m_caption->setObjectName(QStringLiteral("rerankCaption"));
    m_caption->setWordWrap(true);
    m_caption->setTextFormat(Qt::RichText);
    m_caption->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_view->setObjectName(QStringLiteral("rerankView"));
    m_proxy = setupTable(m_view, m_model, nullptr,
        { { RerankModel::Rank, 5 }, { RerankModel::Title, 28 }, { RerankModel::CfRank, 7 }, { RerankModel::Move, 6 },
            { RerankModel::Score, 6 } },
        RerankModel::Explanation, RerankModel::Rank, Qt::AscendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_details->setObjectName(QStringLiteral("rerankDetails"));
    m_details->setOpenLinks(false);
    m_details->setMinimumHeight(m_details->fontMetrics().height() * 4);

    auto* bar = new QHBoxLayout;
    auto* promptLabel = new QLabel(tr("&Prompt:"), this);
    promptLabel->setBuddy(m_prompt);
    auto* endpointLabel = new QLabel(tr("&Endpoint:"), this);
    endpointLabel->setBuddy(m_endpoint);
    auto* kLabel = new QLabel(tr("&K:"), this);
    kLabel->setBuddy(m_k);
    auto* nLabel = new QLabel(tr("of"), this);
    nLabel->setBuddy(m_candidates);
    bar->addWidget(promptLabel);
    bar->addWidget(m_prompt);
    bar->addWidget(endpointLabel);
    bar->addWidget(m_endpoint, 1);
    bar->addWidget(m_manageEndpoints);
    bar->addWidget(kLabel);
    bar->addWidget(m_k);
    bar->addWidget(nLabel);
    bar->addWidget(m_candidates);
    bar->addWidget(m_useCache);
    bar->addWidget(m_run);
    bar->addWidget(m_cancel);

    auto* split = new QSplitter(Qt::Vertical, this);
    split->setObjectName(QStringLiteral("rerankSplitter"));
    split->addWidget(m_view);
    split->addWidget(m_details);
    split->setChildrenCollapsible(false);
    split->setStretchFactor(0, 4);
    split->setStretchFactor(1, 1);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_caption);
    layout->addWidget(split, 1);

    connect(m_run, &QPushButton::clicked, this, [this] { rerank(); });
    connect(m_cancel, &QPushButton::clicked, this, &RerankPanel::cancel);
    connect(m_manageEndpoints, &QPushButton::clicked, this, [this] {
        if (m_path.isEmpty())
            return;
        auto* dialog = EndpointsDialog::showFor(m_path, this);
        connect(dialog, &EndpointsDialog::endpointsChanged, this, &RerankPanel::reloadLists);
    });
    connect(m_prompt, &QComboBox::currentIndexChanged, this, &RerankPanel::settingsChanged);
    connect(m_endpoint, &QComboBox::currentIndexChanged, this, &RerankPanel::settingsChanged);
    connect(m_k, &QSpinBox::valueChanged, this, &RerankPanel::settingsChanged);
    connect(m_candidates, &QSpinBox::valueChanged, this, &RerankPanel::settingsChanged);
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &RerankPanel::showDetails);
    connect(m_store, &ModelStore::modelReady, this, [this](const QString& key) {
        if (m_waitingForModel && key == m_cfKey)
            rerank();
    });
    connect(m_store->rerankService(), &pipeline::RerankService::jobFinished, this,
        [this](quint64 job, const pipeline::RerankReply& reply) { onReply(job, reply); });
    connect(m_store, &ModelStore::modelFailed, this, [this](const QString& key, const QString& message) {
        if (!m_waitingForModel || key != m_cfKey)
            return;
        m_waitingForModel = false;
        setCaption(red(tr("Could not load the CF model: %1").arg(message)));
        emit rerankFailed(m_user, message);
    });
    showIdle();
}

RerankPanel::~RerankPanel()
{
    if (m_serviceJob)
        m_store->rerankService()->cancel(m_serviceJob);
}

void RerankPanel::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    cancel();
    ++m_job;
    m_path = path;
    m_dataset = dataset;
    m_model->setDataset(std::move(dataset));
    m_user = -1;
    m_shownUser = -1;
    m_outcome.reset();
    m_endpoints.reset();
    {
        const QSignalBlocker a(m_prompt), b(m_endpoint);
        m_prompt->clear();
        m_endpoint->clear();
    }
    showIdle();
    reloadLists();
}

// Reads the endpoints and prompts again (after the endpoints dialog saved), keeping the
// chosen endpoint and prompt when they still exist.
void RerankPanel::reloadLists()
{
    const quint64 job = ++m_listJob;
    const QString keepEndpoint = m_endpoint->currentData().toString();
    const QString keepPrompt = m_prompt->currentData().toString();
    auto future = runTask([path = m_path](const TaskControl&) {
        const auto ws = Workspace::open(path);
        Lists lists;
        lists.endpoints = rerank::store::listEndpoints(*ws);
        lists.defaultEndpoint = rerank::store::defaultEndpoint(*ws);
        QStringList names;
        for (const rerank::store::TemplateVersion& t : rerank::store::listTemplates(*ws))
            if (!names.contains(t.name))
                names.append(t.name);
        for (const rerank::PromptTemplate& t : rerank::shippedTemplates())
            if (!names.contains(t.name))
                names.append(t.name);
        lists.templates = names;
        try {
            lists.prices = std::make_shared<const rerank::PriceTable>(rerank::PriceTable::loadWithOverride());
        } catch (const Error&) {
            // a malformed price file: the ceiling falls back to the shipped prices
        }
        return lists;
    });
    continueOn(
        future, this,
        [this, job, keepEndpoint, keepPrompt](const TaskResult<Lists>& result) {
            if (job != m_listJob)
                return;
            if (!result.value) {
                setCaption(red(tr("Could not read the endpoints and prompts: %1").arg(result.error)));
                return;
            }
            const Lists& lists = *result.value;
            {
                const QSignalBlocker a(m_prompt), b(m_endpoint);
                m_prompt->clear();
                m_prompt->addItem(tr("automatic"), QString());
                for (const QString& name : lists.templates)
                    m_prompt->addItem(name, name);
                m_endpoint->clear();
                m_endpoints = std::make_unique<QList<rerank::EndpointProfile>>(lists.endpoints);
                m_prices = lists.prices;
                for (const rerank::EndpointProfile& e : lists.endpoints) {
                    const QString label = e.kind == rerank::ProviderKind::Offline ? e.name
                                                                                  : tr("%1 (%2)").arg(e.name, e.model);
                    m_endpoint->addItem(e.name == lists.defaultEndpoint ? tr("%1 · default").arg(label) : label, e.name);
                    m_endpoint->setItemData(m_endpoint->count() - 1,
                        e.kind == rerank::ProviderKind::Offline
                            ? tr("The offline reranker: CF score, content similarity and MMR; no network, no cost")
                            : tr("%1 at %2, model %3").arg(rerank::providerKindName(e.kind), e.baseUrl, e.model),
                        Qt::ToolTipRole);
                }
                const int kept = keepEndpoint.isEmpty() ? -1 : m_endpoint->findData(keepEndpoint);
                m_endpoint->setCurrentIndex(kept >= 0 ? kept : std::max(0, m_endpoint->findData(lists.defaultEndpoint)));
                m_prompt->setCurrentIndex(std::max(0, m_prompt->findData(keepPrompt)));
            }
            emit listsLoaded();
            settingsChanged();
        },
        [] {});
}

void RerankPanel::setColdThreshold(int threshold)
{
    m_threshold = threshold;
    settingsChanged();
}

void RerankPanel::setUser(int user)
{
    if (user == m_user)
        return;
    m_user = user;
    settingsChanged();
}

void RerankPanel::setCfModelKey(const QString& key)
{
    if (key == m_cfKey)
        return;
    m_cfKey = key;
    settingsChanged();
}

const rerank::EndpointProfile* RerankPanel::currentEndpoint() const
{
    if (!m_endpoints)
        return nullptr;
    const QString name = m_endpoint->currentData().toString();
    for (const rerank::EndpointProfile& e : *m_endpoints)
        if (e.name == name)
            return &e;
    return nullptr;
}

bool RerankPanel::autoRuns() const
{
    const rerank::EndpointProfile* e = currentEndpoint();
    return e && e->kind == rerank::ProviderKind::Offline;
}

// A new user, endpoint, prompt or size: what is shown no longer applies. The offline
// reranker runs right away; an LLM endpoint waits for the button.
void RerankPanel::settingsChanged()
{
    cancel();
    ++m_job;
    m_waitingForModel = false;
    m_shownUser = -1;
    m_outcome.reset();
    m_model->clear();
    m_details->clear();
    if (autoRuns() && isVisible() && m_dataset && m_user >= 0 && !m_cfKey.isEmpty())
        rerank();
    else
        showIdle();
}

// The offline reranker runs when the panel is shown for a user it has not reranked yet.
void RerankPanel::showEvent(QShowEvent* event)
{
    QWidget::showEvent(event);
    if (autoRuns() && !m_running && !m_waitingForModel && m_user >= 0 && m_shownUser != m_user)
        rerank();
}

void RerankPanel::showIdle()
{
    m_run->setEnabled(m_dataset && m_user >= 0 && m_endpoints && !m_running);
    if (!m_dataset || m_user < 0) {
        setCaption(muted(tr("Select a user to rerank their candidates.")));
        return;
    }
    if (!m_endpoints) {
        setCaption(muted(tr("Reading the workspace's endpoints and prompts…")));
        return;
    }
    const rerank::EndpointProfile* e = currentEndpoint();
    if (!e) {
        setCaption(muted(tr("No endpoint to rerank with.")));
        return;
    }
    if (e->kind == rerank::ProviderKind::Offline) {
        setCaption(muted(tr("The offline reranker runs when this tab is shown (no network, no cost).")));
        return;
    }
    setCaption(muted(tr("Press Rerank to send this user's %1 candidates to %2 (%3, model %4). It is a real call: "
                        "tokens and cost are reported here.")
                         .arg(m_candidates->value())
                         .arg(e->name, rerank::providerKindName(e->kind), e->model)));
}

bool RerankPanel::rerank()
{
    if (!m_dataset || m_user < 0 || m_cfKey.isEmpty() || !currentEndpoint())
        return false;
    cancel();
    ++m_job;
    m_waitingForModel = false;
    const int user = m_user;
    // The CF model, and the cold-start blend fitted on it (cold users' candidates and the
    // content index of the offline reranker), both cached by the store for every view.
    if (!m_store->request(m_cfKey, true)) {
        m_waitingForModel = true;
        setCaption(muted(tr("Loading the CF model…")));
        return true;
    }
    // Above the confirmation ceiling (an expensive endpoint, or a lowered RECWB_CEILING_*)
    // nothing is sent without a yes.
    if (const rerank::EndpointProfile* e = currentEndpoint(); !confirmCeiling(this,
            projectCalls(*e, m_prices.get(), 1, m_candidates->value()),
            tr("Reranking user %1 with %2 (%3)").arg(m_dataset->users[static_cast<size_t>(user)].externalId, e->name, e->model))) {
        setCaption(muted(tr("Not sent: above the confirmation ceiling.")));
        return false;
    }
    pipeline::BatchOptions options;
    const QString prompt = m_prompt->currentData().toString();
    options.prompt = prompt.isEmpty() ? QStringLiteral("listwise") : prompt;
    options.coldPrompt = prompt.isEmpty() ? QStringLiteral("coldstart") : QString();
    options.cascade = { m_endpoint->currentData().toString() };
    options.candidates = m_candidates->value();
    options.k = std::min(m_k->value(), m_candidates->value());
    options.bypassCache = !m_useCache->isChecked();
    options.concurrency = 1;
    // LLM calls are kept as runs (they cost money and are worth comparing later); the
    // offline reranker runs on every selection and is not.
    options.storeRun = currentEndpoint()->kind != rerank::ProviderKind::Offline;
    options.extraParams = { { QStringLiteral("source"), QStringLiteral("gui") },
        { QStringLiteral("cf_model"), m_store->choice(m_cfKey) ? m_store->choice(m_cfKey)->label : m_cfKey } };

    setRunning(true);
    m_model->clear();
    m_details->clear();
    const rerank::EndpointProfile* e = currentEndpoint();
    setCaption(muted(e->kind == rerank::ProviderKind::Offline
            ? tr("Reranking offline…")
            : tr("Waiting for %1 (%2)… the call may take a while; Cancel stops it.").arg(e->name, e->model)));
    pipeline::RerankRequest request;
    request.dataset = m_dataset;
    request.cfModel = m_store->model(m_cfKey);
    request.coldStart = m_store->coldStart(m_cfKey); // the store's blend and content index: not fitted per click
    request.coldThreshold = m_threshold;
    request.users = { user };
    request.options = options;
    m_serviceJob = m_store->rerankService()->submit(std::move(request));
    m_serviceUser = user;
    return true;
}

// The service's answer: shown only when it is the newest request (another user or
// setting chosen meanwhile cancels the old job and drops its answer).
void RerankPanel::onReply(quint64 job, const pipeline::RerankReply& reply)
{
    if (job != m_serviceJob)
        return;
    m_serviceJob = 0;
    setRunning(false);
    const pipeline::BatchReport& report = reply.report;
    if (!report.error.isEmpty()) {
        setCaption(red(tr("Could not rerank: %1").arg(report.error)));
        emit rerankFailed(m_serviceUser, report.error);
        return;
    }
    if (report.canceled || report.outcomes.empty()) {
        setCaption(muted(tr("Canceled.")));
        return;
    }
    showOutcome(report.outcomes.front(), report.runId);
    m_shownUser = m_serviceUser;
    emit rerankShown(m_serviceUser);
}

void RerankPanel::cancel()
{
    if (m_serviceJob) {
        m_store->rerankService()->cancel(m_serviceJob); // its reply is dropped: m_serviceJob is cleared
        m_serviceJob = 0;
    }
    if (m_running) {
        setRunning(false);
        setCaption(muted(tr("Canceled.")));
    }
}

void RerankPanel::setRunning(bool running)
{
    m_running = running;
    m_run->setEnabled(!running && m_dataset && m_user >= 0 && m_endpoints);
    m_cancel->setEnabled(running);
}

void RerankPanel::setCaption(const QString& html)
{
    m_caption->setText(html);
}

void RerankPanel::showOutcome(const pipeline::RerankOutcome& o, qint64 runId)
{
    m_outcome = std::make_unique<pipeline::RerankOutcome>(o);
    m_model->setRows(o.result.items, o.titles);
    const QLocale locale;
    QString text;
    if (o.fallback()) {
        text += u"<span style='background:#fee2e2; color:#991b1b'>&nbsp;" + tr("CF order kept").toHtmlEscaped()
            + u"&nbsp;</span> " + red(tr("the reranker's answer was not usable: %1").arg(o.result.fallbackReason));
    } else {
        const QString by = o.answeredBy();
        text += u"<b>" + tr("Reranked by %1").arg(by).toHtmlEscaped() + u"</b> "
            + muted(o.kind == rerank::ProviderKind::Offline ? tr("(offline: CF score, content similarity to the "
                                                                  "history and MMR for diversity)")
                                                            : tr("(model %1)").arg(o.tiers.isEmpty() ? o.model : o.tiers.last().model));
    }
    text += u"<br>";
    QStringList facts;
    facts << tr("prompt %1").arg(o.templateRef);
    facts << tr("%1 of %2 candidates").arg(o.result.items.size()).arg(o.candidateCount);
    if (o.coldStart)
        facts << tr("cold-start candidates");
    if (o.llmCalled()) {
        facts << tr("tokens %1 in (%2 cached) / %3 out")
                     .arg(locale.toString(o.usage.inputTokens), locale.toString(o.usage.cachedInputTokens),
                         locale.toString(o.usage.outputTokens));
        facts << (o.cost ? tr("cost $%1").arg(*o.cost, 0, 'f', 6) : tr("cost unknown (no price for this model)"));
        facts << (o.cacheHit ? tr("response cache hit") : tr("fresh call"));
    } else {
        facts << tr("no LLM call, cost $0");
    }
    int filled = 0;
    for (const rerank::RankedItem& r : o.result.items)
        filled += r.filled;
    if (filled > 0)
        facts << tr("%1 filled from CF order").arg(filled);
    QStringList defects;
    for (const rerank::Defect& d : o.result.defects)
        if (!defects.contains(d.kind))
            defects << d.kind;
    text += muted(facts.join(QStringLiteral(" · ")));
    if (!defects.isEmpty())
        text += u"<br>" + red(tr("Defects: %1").arg(defects.join(QStringLiteral(", "))));
    text += u"<br>" + muted(stageText(o.stageMs) + (runId > 0 ? tr(" · stored as run %1").arg(runId) : QString()));
    setCaption(text);
    if (m_proxy->rowCount() > 0)
        m_view->selectRow(0);
    showDetails();
}

// The selected pick's whole explanation, and the run's defects in full.
void RerankPanel::showDetails()
{
    if (!m_outcome) {
        m_details->clear();
        return;
    }
    QString html;
    const QModelIndex current = m_view->currentIndex();
    const int row = current.isValid() ? m_proxy->mapToSource(current).row() : -1;
    if (row >= 0 && row < m_model->items().size()) {
        const rerank::RankedItem& r = m_model->items()[row];
        html += u"<p><b>" + QString::number(r.rank) + u". " + m_model->title(row).toHtmlEscaped() + u"</b> "
            + muted(tr("(id %1, CF rank %2)").arg(r.externalId).arg(r.cfRank)) + u"<br>"
            + (r.filled ? muted(tr("Not picked by the reranker: filled from the CF order."))
                        : r.explanation.toHtmlEscaped())
            + u"</p>";
        for (const QString& claim : r.claims)
            html += red(tr("Unsupported claim: %1").arg(claim)) + u"<br>";
    }
    if (!m_outcome->result.defects.isEmpty()) {
        html += u"<p>";
        for (const rerank::Defect& d : m_outcome->result.defects)
            html += red(d.kind) + u": " + d.detail.toHtmlEscaped() + u"<br>";
        html += u"</p>";
    }
    m_details->setHtml(html);
}

} // namespace recwb::ui
