#include "experiments/experimentstab.h"

#include "common/backgroundtask.h"
#include "common/modelstore.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "eval/samplesize.h"
#include "experiments/experimentmodels.h"
#include "pipeline/ceiling.h"
#include "pipeline/rerankservice.h"
#include "rerank/prices.h"
#include "rerank/store.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QScatterSeries>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>
#include <QValueAxis>
#include <cmath>

namespace recwb::ui {
namespace {

    QString red(const QString& text)
    {
        return QStringLiteral("<span style=\"color:#b42318\">%1</span>").arg(text.toHtmlEscaped());
    }

    QString money(double usd)
    {
        return QStringLiteral("$%1").arg(usd, 0, 'f', usd != 0 && usd < 1 ? 4 : 2);
    }

    QDoubleSpinBox* shareSpin(const QString& name, double value, QWidget* parent)
    {
        auto* s = new QDoubleSpinBox(parent);
        s->setObjectName(name);
        s->setRange(0, 100);
        s->setDecimals(1);
        s->setSuffix(QStringLiteral(" %"));
        s->setValue(value * 100);
        return s;
    }

    QChartView* chartView(QChart* chart, const QString& name, QWidget* parent)
    {
        auto* view = new QChartView(chart, parent);
        view->setObjectName(name);
        view->setRenderHint(QPainter::Antialiasing);
        view->setMinimumHeight(220);
        chart->legend()->setAlignment(Qt::AlignBottom);
        return view;
    }

    // Rows start in the model's order (arms as defined, scales ascending); a header click sorts.
    void keepSourceOrder(QTableView* view, TableFilterProxy* proxy)
    {
        view->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
        proxy->sort(-1);
    }

    void clearChart(QChart* chart)
    {
        chart->removeAllSeries();
        for (QAbstractAxis* axis : chart->axes()) {
            chart->removeAxis(axis);
            delete axis;
        }
    }

    // The chart data, computed on a worker from a result snapshot.
    struct ChartData {
        QString metric;
        std::vector<pipeline::ArmInterval> intervals;
        std::vector<double> costPer1k; // per arm, parallel to intervals
        QStringList buckets; // latency histogram bucket labels
        std::vector<std::vector<int>> counts; // per arm, per bucket
    };

    ChartData computeCharts(const pipeline::ExperimentResult& r)
    {
        ChartData d;
        d.metric = QStringLiteral("ndcg@%1").arg(r.spec.ks.empty() ? 10 : r.spec.ks.front());
        d.intervals = pipeline::armIntervals(r, d.metric);
        for (const pipeline::ArmInterval& a : d.intervals) {
            const pipeline::ArmFigures* f = r.figuresFor(a.arm);
            d.costPer1k.push_back(f && f->costKnown ? f->costPer1kUsers() : 0);
        }
        // Total ms per user, in 10 buckets from 0 to the 99th percentile (the rest in the last).
        std::vector<double> all;
        for (const pipeline::UserRow& u : r.rows)
            all.push_back(u.stageMs.total());
        std::sort(all.begin(), all.end());
        const double top = all.empty() ? 1.0 : std::max(0.01, all[static_cast<size_t>(0.99 * (all.size() - 1))]);
        constexpr int kBuckets = 10;
        const double width = top / kBuckets;
        for (int b = 0; b < kBuckets; ++b)
            d.buckets << (b == kBuckets - 1
                    ? QStringLiteral("≥%1").arg(width * b, 0, 'g', 3)
                    : QStringLiteral("%1–%2").arg(width * b, 0, 'g', 3).arg(width * (b + 1), 0, 'g', 3));
        for (const pipeline::ExperimentArm& arm : r.spec.arms) {
            std::vector<int> counts(kBuckets, 0);
            for (const pipeline::UserRow& u : r.rows)
                if (u.arm == arm.name)
                    ++counts[static_cast<size_t>(
                        std::clamp(static_cast<int>(u.stageMs.total() / width), 0, kBuckets - 1))];
            d.counts.push_back(std::move(counts));
        }
        return d;
    }

} // namespace

// ---- ExperimentArmRow ----

ExperimentArmRow::ExperimentArmRow(int index, const QString& name, const QString& spec, QWidget* parent)
    : QWidget(parent)
    , m_name(new QLineEdit(name, this))
    , m_spec(new QLineEdit(spec, this))
    , m_remove(new QPushButton(tr("Remove"), this))
    , m_error(new QLabel(this))
{
    m_name->setMaximumWidth(m_name->fontMetrics().horizontalAdvance(u'M') * 6);
    m_name->setToolTip(tr("The arm's name, used in comparisons and assertions (e.g. A, B)"));
    m_spec->setPlaceholderText(tr("cf=ease,rerank=offline"));
    m_spec->setToolTip(tr("cf=MODEL, rerank=none|offline|ENDPOINT, prompt=REF, k=N, candidates=N, label=TEXT; "
                          "experiment keys: routing=all|selective|cold|lowconf, source=cf|auto, repeats=N"));
    m_error->setWordWrap(true);
    m_error->setTextFormat(Qt::RichText);
    m_error->hide();
    auto* line = new QHBoxLayout;
    line->setContentsMargins(0, 0, 0, 0);
    line->addWidget(m_name);
    line->addWidget(m_spec, 1);
    line->addWidget(m_remove);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(line);
    layout->addWidget(m_error);
    connect(m_name, &QLineEdit::textChanged, this, &ExperimentArmRow::changed);
    connect(m_spec, &QLineEdit::textChanged, this, &ExperimentArmRow::changed);
    setIndex(index);
}

void ExperimentArmRow::setIndex(int index)
{
    setObjectName(QStringLiteral("experimentArm%1").arg(index));
    m_name->setObjectName(QStringLiteral("experimentArmName%1").arg(index));
    m_spec->setObjectName(QStringLiteral("experimentArmSpec%1").arg(index));
    m_remove->setObjectName(QStringLiteral("experimentArmRemove%1").arg(index));
    m_error->setObjectName(QStringLiteral("experimentArmError%1").arg(index));
}

void ExperimentArmRow::setError(const QString& error)
{
    m_error->setText(red(error));
    m_error->setVisible(!error.isEmpty());
    m_spec->setStyleSheet(error.isEmpty() ? QString() : QStringLiteral("QLineEdit{border:1px solid #b42318}"));
}

// ---- ExperimentsTab ----

ExperimentsTab::ExperimentsTab(ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_store(store)
    , m_service(store ? store->rerankService() : nullptr)
    , m_name(new QLineEdit(this))
    , m_armsLayout(new QVBoxLayout)
    , m_addArm(new QPushButton(tr("Add arm"), this))
    , m_split(new QComboBox(this))
    , m_seed(new QSpinBox(this))
    , m_cohort(new QComboBox(this))
    , m_sample(new QSpinBox(this))
    , m_ks(new QLineEdit(QStringLiteral("10"), this))
    , m_maxCost(new QDoubleSpinBox(this))
    , m_projectionLabel(new QLabel(this))
    , m_runButton(new QPushButton(tr("&Run experiment"), this))
    , m_cancelButton(new QPushButton(tr("Cancel"), this))
    , m_progress(new QProgressBar(this))
    , m_status(new QLabel(this))
    , m_projectionTimer(new QTimer(this))
    , m_historyView(new QTableView(this))
    , m_history(new ExperimentListModel(this))
    , m_openButton(new QPushButton(tr("Open"), this))
    , m_exportButton(new QPushButton(tr("Export report…"), this))
    , m_results(new QTabWidget(this))
    , m_summary(new QLabel(this))
    , m_figuresView(new QTableView(this))
    , m_figures(new ExperimentFiguresModel(this))
    , m_pairsView(new QTableView(this))
    , m_pairs(new ExperimentPairsModel(this))
    , m_userMetric(new QComboBox(this))
    , m_userFilter(new QLineEdit(this))
    , m_usersView(new QTableView(this))
    , m_users(new ExperimentUsersModel(this))
    , m_metricChart(new QChart)
    , m_metricChartView(chartView(m_metricChart, QStringLiteral("experimentMetricChart"), this))
    , m_costChart(new QChart)
    , m_costChartView(chartView(m_costChart, QStringLiteral("experimentCostChart"), this))
    , m_latencyChart(new QChart)
    , m_latencyChartView(chartView(m_latencyChart, QStringLiteral("experimentLatencyChart"), this))
    , m_priceEndpoint(new QComboBox(this))
    , m_cacheHitRate(shareSpin(QStringLiteral("experimentCacheHitRate"), 0, this))
    , m_promptCaching(shareSpin(QStringLiteral("experimentPromptCaching"), 0, this))
    , m_batchDiscount(shareSpin(QStringLiteral("experimentBatchDiscount"), 0, this))
    , m_routingShare(shareSpin(QStringLiteral("experimentRoutingShare"), 1, this))
    , m_scaleBasis(new QLabel(this))
    , m_scaleView(new QTableView(this))
    , m_scale(new ProjectionModel(this))
    , m_cascadeSmall(new QComboBox(this))
    , m_cascadeLarge(new QComboBox(this))
    , m_escalation(shareSpin(QStringLiteral("experimentEscalation"), 0.1, this))
    , m_cascade(new QLabel(this))
    , m_baseline(new QDoubleSpinBox(this))
    , m_effect(new QDoubleSpinBox(this))
    , m_relative(new QCheckBox(tr("relative lift"), this))
    , m_alpha(new QDoubleSpinBox(this))
    , m_power(new QDoubleSpinBox(this))
    , m_sampleSize(new QLabel(this))
{
    setObjectName(QStringLiteral("experimentsTab"));
    m_projectionTimer->setSingleShot(true);
    m_projectionTimer->setInterval(250);
    connect(m_projectionTimer, &QTimer::timeout, this, &ExperimentsTab::updateProjection);

    // Left: the definition above the stored experiments.
    m_historyView->setObjectName(QStringLiteral("experimentHistory"));
    keepSourceOrder(m_historyView,
        setupTable(m_historyView, m_history, nullptr,
            { { ExperimentListModel::Id, 5 }, { ExperimentListModel::Status, 9 } }, ExperimentListModel::Name, -1));
    m_historyView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_historyView->setMinimumHeight(m_historyView->fontMetrics().height() * 9);
    m_historyView->setToolTip(tr("Stored experiments: double-click to reopen (read back, not recomputed)"));
    m_openButton->setObjectName(QStringLiteral("experimentOpen"));
    m_exportButton->setObjectName(QStringLiteral("experimentExport"));
    m_exportButton->setEnabled(false);
    auto openCurrent = [this] {
        const int row = currentSourceRow(m_historyView);
        if (row >= 0)
            openExperiment(m_history->info(row).id);
    };
    connect(m_historyView, &QTableView::doubleClicked, this, openCurrent);
    connect(m_openButton, &QPushButton::clicked, this, openCurrent);
    connect(m_exportButton, &QPushButton::clicked, this, [this] {
        if (!m_result)
            return;
        const QString path = QFileDialog::getSaveFileName(this, tr("Export the experiment report"),
            QStringLiteral("experiment-%1.html").arg(m_result->id),
            tr("HTML page (*.html);;CSV (*.csv);;JSON (*.json)"));
        if (!path.isEmpty())
            exportReport(path);
    });
    auto* historyBox = new QGroupBox(tr("Stored experiments"), this);
    auto* historyLayout = new QVBoxLayout(historyBox);
    historyLayout->addWidget(m_historyView, 1);
    auto* historyButtons = new QHBoxLayout;
    historyButtons->addWidget(m_openButton);
    historyButtons->addStretch(1);
    historyButtons->addWidget(m_exportButton);
    historyLayout->addLayout(historyButtons);

    auto* left = new QSplitter(Qt::Vertical, this);
    left->setObjectName(QStringLiteral("experimentLeftSplitter"));
    left->addWidget(createDefinition());
    left->addWidget(historyBox);
    left->setStretchFactor(0, 3);
    left->setStretchFactor(1, 1);
    left->setChildrenCollapsible(false);

    // Right: the results.
    m_results->setObjectName(QStringLiteral("experimentResults"));
    m_summary->setObjectName(QStringLiteral("experimentSummary"));
    m_summary->setWordWrap(true);
    m_summary->setTextFormat(Qt::RichText);
    m_summary->setText(tr("Define two or more arms and run, or reopen a stored experiment."));
    m_figuresView->setObjectName(QStringLiteral("experimentFigures"));
    keepSourceOrder(m_figuresView, setupTable(m_figuresView, m_figures, nullptr, {}, -1, -1));
    m_pairsView->setObjectName(QStringLiteral("experimentPairs"));
    keepSourceOrder(m_pairsView,
        setupTable(m_pairsView, m_pairs, nullptr,
            { { ExperimentPairsModel::Arms, 10 }, { ExperimentPairsModel::Metric, 9 },
                { ExperimentPairsModel::Users, 6 }, { ExperimentPairsModel::MeanA, 8 },
                { ExperimentPairsModel::MeanB, 8 }, { ExperimentPairsModel::Diff, 8 },
                { ExperimentPairsModel::CiLow, 9 }, { ExperimentPairsModel::CiHigh, 9 },
                { ExperimentPairsModel::PValue, 9 } },
            ExperimentPairsModel::Verdict, -1));
    auto* resultsPage = new QSplitter(Qt::Vertical, this);
    resultsPage->addWidget(m_figuresView);
    resultsPage->addWidget(m_pairsView);
    resultsPage->setStretchFactor(0, 2);
    resultsPage->setStretchFactor(1, 1);
    m_results->addTab(resultsPage, tr("Arms && cohorts"));

    m_userMetric->setObjectName(QStringLiteral("experimentUserMetric"));
    m_userFilter->setObjectName(QStringLiteral("experimentUserFilter"));
    m_userFilter->setPlaceholderText(tr("Filter users"));
    m_usersView->setObjectName(QStringLiteral("experimentUsers"));
    keepSourceOrder(
        m_usersView, setupTable(m_usersView, m_users, m_userFilter, { { ExperimentUsersModel::User, 10 } }, -1, -1));
    m_usersView->setToolTip(tr("Double-click a user to compare the experiment's arms for them"));
    connect(m_usersView, &QTableView::doubleClicked, this, &ExperimentsTab::openUserInCompare);
    connect(m_userMetric, &QComboBox::currentTextChanged, this, [this](const QString& metric) {
        if (m_result && !metric.isEmpty())
            m_users->setResult(*m_result, metric);
    });
    auto* usersPage = new QWidget(this);
    auto* usersLayout = new QVBoxLayout(usersPage);
    auto* usersBar = new QHBoxLayout;
    usersBar->addWidget(new QLabel(tr("Metric"), usersPage));
    usersBar->addWidget(m_userMetric);
    usersBar->addWidget(m_userFilter, 1);
    usersBar->addWidget(new QLabel(tr("Double-click a user to open them in Compare."), usersPage));
    usersLayout->addLayout(usersBar);
    usersLayout->addWidget(m_usersView, 1);
    m_results->addTab(usersPage, tr("Users"));

    auto* charts = new QWidget(this);
    auto* chartsLayout = new QGridLayout(charts);
    chartsLayout->addWidget(m_metricChartView, 0, 0);
    chartsLayout->addWidget(m_costChartView, 0, 1);
    chartsLayout->addWidget(m_latencyChartView, 1, 0, 1, 2);
    m_results->addTab(charts, tr("Charts"));
    m_results->addTab(createScalePanel(), tr("Cost at scale"));
    m_results->addTab(createSampleSizePanel(), tr("A/B sample size"));

    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(m_summary);
    rightLayout->addWidget(m_results, 1);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName(QStringLiteral("experimentSplitter"));
    splitter->addWidget(left);
    splitter->addWidget(right);
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 5);
    splitter->setSizes({ 460, 820 }); // the arm specs and the projection need the room
    splitter->setChildrenCollapsible(false);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(splitter);

    addArm(QStringLiteral("A"), QStringLiteral("cf=ease"));
    addArm(QStringLiteral("B"), QStringLiteral("cf=ease,rerank=offline"));
    setRunning(false);
    updateSampleSize();
}

ExperimentsTab::~ExperimentsTab()
{
    if (m_run)
        m_run->disconnect(this);
}

QWidget* ExperimentsTab::createDefinition()
{
    auto* box = new QGroupBox(tr("Experiment"), this);
    m_name->setObjectName(QStringLiteral("experimentName"));
    m_name->setPlaceholderText(tr("name (default: the arms, e.g. A vs B)"));
    auto* arms = new QWidget(box);
    arms->setObjectName(QStringLiteral("experimentArms"));
    arms->setLayout(m_armsLayout);
    m_armsLayout->setContentsMargins(0, 0, 0, 0);
    m_addArm->setObjectName(QStringLiteral("experimentAddArm"));
    connect(m_addArm, &QPushButton::clicked, this, [this] { addArm(); });

    m_split->setObjectName(QStringLiteral("experimentSplit"));
    for (const char* s : { "strat75", "loo", "ratio", "cold@1", "cold@3", "cold@5" })
        m_split->addItem(QString::fromLatin1(s));
    m_split->setToolTip(tr("The held-out items are the truth; models and rerankers see only the training part"));
    m_seed->setObjectName(QStringLiteral("experimentSeed"));
    m_seed->setRange(0, INT_MAX);
    m_seed->setValue(static_cast<int>(eval::kDefaultSeed));
    m_cohort->setObjectName(QStringLiteral("experimentCohort"));
    m_cohort->addItem(tr("all users"), QStringLiteral("all"));
    m_cohort->addItem(tr("cold"), QStringLiteral("cold"));
    m_cohort->addItem(tr("warm"), QStringLiteral("warm"));
    m_cohort->addItem(tr("long tail"), QStringLiteral("longtail"));
    m_sample->setObjectName(QStringLiteral("experimentSample"));
    m_sample->setRange(0, 10'000'000);
    m_sample->setSpecialValueText(tr("every user"));
    m_sample->setPrefix(tr("sample "));
    m_sample->setToolTip(tr("A seeded random sample of the cohort (0: every user of it)"));
    m_ks->setObjectName(QStringLiteral("experimentKs"));
    m_ks->setToolTip(tr("Cut-offs K, comma-separated (e.g. 10, 20)"));
    m_maxCost->setObjectName(QStringLiteral("experimentMaxCost"));
    m_maxCost->setRange(0, 100'000);
    m_maxCost->setDecimals(2);
    m_maxCost->setPrefix(QStringLiteral("$"));
    m_maxCost->setSpecialValueText(tr("no cap"));
    m_maxCost->setToolTip(tr("Spending cap: a projection over it is refused before any call"));
    m_projectionLabel->setObjectName(QStringLiteral("experimentProjection"));
    m_projectionLabel->setWordWrap(true);
    m_projectionLabel->setTextFormat(Qt::RichText);
    m_runButton->setObjectName(QStringLiteral("experimentRun"));
    m_runButton->setDefault(true);
    m_cancelButton->setObjectName(QStringLiteral("experimentCancel"));
    m_progress->setObjectName(QStringLiteral("experimentProgress"));
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status->setObjectName(QStringLiteral("experimentStatus"));
    m_status->setWordWrap(true);
    m_status->setTextFormat(Qt::RichText);
    connect(m_runButton, &QPushButton::clicked, this, [this] { run(); });
    connect(m_cancelButton, &QPushButton::clicked, this, &ExperimentsTab::cancel);

    auto* form = new QFormLayout;
    form->addRow(tr("Name"), m_name);
    auto* cohort = new QHBoxLayout;
    cohort->addWidget(m_cohort, 1);
    cohort->addWidget(m_sample, 1);
    auto* split = new QHBoxLayout;
    split->addWidget(m_split, 1);
    split->addWidget(new QLabel(tr("seed"), box));
    split->addWidget(m_seed, 1);
    form->addRow(tr("Split"), split);
    form->addRow(tr("Cohort"), cohort);
    auto* limits = new QHBoxLayout;
    limits->addWidget(m_ks, 1);
    limits->addWidget(new QLabel(tr("max cost"), box));
    limits->addWidget(m_maxCost, 1);
    form->addRow(tr("K"), limits);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_runButton);
    buttons->addWidget(m_cancelButton);
    buttons->addStretch(1);

    auto* layout = new QVBoxLayout(box);
    layout->addWidget(new QLabel(tr("Arms (name, spec as in Compare):"), box));
    layout->addWidget(arms);
    auto* add = new QHBoxLayout;
    add->addWidget(m_addArm);
    add->addStretch(1);
    layout->addLayout(add);
    layout->addLayout(form);
    layout->addWidget(m_projectionLabel);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addStretch(1);

    for (QObject* o : std::initializer_list<QObject*> { m_split, m_cohort })
        connect(
            qobject_cast<QComboBox*>(o), &QComboBox::currentIndexChanged, this, &ExperimentsTab::scheduleProjection);
    connect(m_seed, &QSpinBox::valueChanged, this, &ExperimentsTab::scheduleProjection);
    connect(m_sample, &QSpinBox::valueChanged, this, &ExperimentsTab::scheduleProjection);
    connect(m_maxCost, &QDoubleSpinBox::valueChanged, this, &ExperimentsTab::scheduleProjection);
    connect(m_ks, &QLineEdit::textChanged, this, &ExperimentsTab::validateArms);

    auto* scroll = new QScrollArea(this);
    scroll->setObjectName(QStringLiteral("experimentDefinition"));
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(box);
    return scroll;
}

QWidget* ExperimentsTab::createScalePanel()
{
    auto* page = new QWidget(this);
    m_priceEndpoint->setObjectName(QStringLiteral("experimentPriceEndpoint"));
    m_priceEndpoint->setToolTip(tr("Whose prices the projection uses when no arm of the experiment called an LLM"));
    m_promptCaching->setToolTip(tr("Share of input tokens billed at the cached-input price (the prompt's fixed part)"));
    m_batchDiscount->setToolTip(tr("The providers' batch APIs bill 50 % of the list price"));
    m_routingShare->setToolTip(tr("Selective routing: share of users sent to the LLM (measured when an arm routes)"));
    m_cacheHitRate->setToolTip(tr("Share of LLM-bound users answered from the response cache, without a call"));
    m_scaleBasis->setObjectName(QStringLiteral("experimentScaleBasis"));
    m_scaleBasis->setWordWrap(true);
    m_scaleView->setObjectName(QStringLiteral("experimentScale"));
    keepSourceOrder(
        m_scaleView, setupTable(m_scaleView, m_scale, nullptr, { { ProjectionModel::Scenario, 24 } }, -1, -1));
    auto* form = new QGridLayout;
    form->addWidget(new QLabel(tr("Prices of"), page), 0, 0);
    form->addWidget(m_priceEndpoint, 0, 1);
    form->addWidget(new QLabel(tr("Response cache hits"), page), 0, 2);
    form->addWidget(m_cacheHitRate, 0, 3);
    form->addWidget(new QLabel(tr("Prompt caching"), page), 1, 0);
    form->addWidget(m_promptCaching, 1, 1);
    form->addWidget(new QLabel(tr("Batch discount"), page), 1, 2);
    form->addWidget(m_batchDiscount, 1, 3);
    form->addWidget(new QLabel(tr("Routed to the LLM"), page), 2, 0);
    form->addWidget(m_routingShare, 2, 1);
    m_cascadeSmall->setObjectName(QStringLiteral("experimentCascadeSmall"));
    m_cascadeLarge->setObjectName(QStringLiteral("experimentCascadeLarge"));
    m_escalation->setToolTip(tr("Share of the small model's answers that are unusable and go on to the large one "
                                "(a cascade run's escalations / calls)"));
    m_cascade->setObjectName(QStringLiteral("experimentCascade"));
    m_cascade->setWordWrap(true);
    m_cascade->setTextFormat(Qt::RichText);
    auto* cascade = new QHBoxLayout;
    cascade->addWidget(new QLabel(tr("Cascade"), page));
    cascade->addWidget(m_cascadeSmall, 1);
    cascade->addWidget(new QLabel(tr("then"), page));
    cascade->addWidget(m_cascadeLarge, 1);
    cascade->addWidget(new QLabel(tr("escalated"), page));
    cascade->addWidget(m_escalation);
    auto* layout = new QVBoxLayout(page);
    layout->addLayout(form);
    layout->addWidget(m_scaleBasis);
    layout->addWidget(m_scaleView, 1);
    layout->addLayout(cascade);
    layout->addWidget(m_cascade);
    connect(m_cascadeSmall, &QComboBox::currentIndexChanged, this, &ExperimentsTab::updateCascade);
    connect(m_cascadeLarge, &QComboBox::currentIndexChanged, this, &ExperimentsTab::updateCascade);
    connect(m_escalation, &QDoubleSpinBox::valueChanged, this, &ExperimentsTab::updateCascade);
    for (QDoubleSpinBox* s : { m_cacheHitRate, m_promptCaching, m_batchDiscount, m_routingShare })
        connect(s, &QDoubleSpinBox::valueChanged, this, &ExperimentsTab::updateScaleProjection);
    connect(m_priceEndpoint, &QComboBox::currentIndexChanged, this, &ExperimentsTab::updateScaleProjection);
    return page;
}

QWidget* ExperimentsTab::createSampleSizePanel()
{
    auto* page = new QWidget(this);
    m_baseline->setObjectName(QStringLiteral("experimentBaseline"));
    m_baseline->setRange(0, 1);
    m_baseline->setDecimals(4);
    m_baseline->setSingleStep(0.01);
    m_baseline->setValue(0.2);
    m_baseline->setToolTip(tr("The control's rate online (e.g. the click-through or conversion rate of the list)"));
    m_effect->setObjectName(QStringLiteral("experimentEffect"));
    m_effect->setRange(-1, 10);
    m_effect->setDecimals(4);
    m_effect->setSingleStep(0.005);
    m_effect->setValue(0.05);
    m_effect->setToolTip(tr("The difference to detect: absolute (rate B - rate A) or relative (B / A - 1)"));
    m_relative->setObjectName(QStringLiteral("experimentRelative"));
    m_alpha->setObjectName(QStringLiteral("experimentAlpha"));
    m_alpha->setRange(0.0001, 0.5);
    m_alpha->setDecimals(4);
    m_alpha->setValue(0.05);
    m_power->setObjectName(QStringLiteral("experimentPower"));
    m_power->setRange(0.5, 0.9999);
    m_power->setDecimals(4);
    m_power->setValue(0.8);
    m_sampleSize->setObjectName(QStringLiteral("experimentSampleSize"));
    m_sampleSize->setTextFormat(Qt::RichText);
    m_sampleSize->setWordWrap(true);
    auto* form = new QFormLayout;
    form->addRow(tr("Baseline rate"), m_baseline);
    auto* effect = new QHBoxLayout;
    effect->addWidget(m_effect, 1);
    effect->addWidget(m_relative);
    form->addRow(tr("Effect"), effect);
    form->addRow(tr("Alpha (two-sided)"), m_alpha);
    form->addRow(tr("Power"), m_power);
    auto* layout = new QVBoxLayout(page);
    layout->addWidget(new QLabel(tr("Users per arm for an online A/B test of two proportions. After a run, the "
                                    "baseline is arm A's HR and the effect the measured difference of the next arm."),
        page));
    layout->addLayout(form);
    layout->addWidget(m_sampleSize);
    layout->addStretch(1);
    for (QDoubleSpinBox* s : { m_baseline, m_effect, m_alpha, m_power })
        connect(s, &QDoubleSpinBox::valueChanged, this, &ExperimentsTab::updateSampleSize);
    connect(m_relative, &QCheckBox::toggled, this, &ExperimentsTab::updateSampleSize);
    return page;
}

void ExperimentsTab::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    cancel();
    m_run.reset();
    m_path = path;
    m_dataset = std::move(dataset);
    m_result.reset();
    m_projection.reset();
    m_figures->setResult({});
    m_pairs->setResult({});
    m_users->setResult({}, QStringLiteral("ndcg@10"));
    m_exportButton->setEnabled(false);
    loadLists();
    validateArms();
}

ExperimentArmRow* ExperimentsTab::addArm(const QString& name, const QString& spec)
{
    const int index = armCount();
    QString armName = name;
    if (armName.isEmpty()) {
        // The next free letter.
        for (char c = 'A'; c <= 'Z' && armName.isEmpty(); ++c) {
            const QString candidate = QString(QLatin1Char(c));
            if (std::none_of(m_arms.begin(), m_arms.end(),
                    [&](const ExperimentArmRow* r) { return r->nameEdit()->text().trimmed() == candidate; }))
                armName = candidate;
        }
    }
    auto* row = new ExperimentArmRow(index, armName, spec.isEmpty() ? QStringLiteral("cf=ease") : spec, this);
    m_arms.push_back(row);
    m_armsLayout->addWidget(row);
    connect(row, &ExperimentArmRow::changed, this, &ExperimentsTab::validateArms);
    connect(row->removeButton(), &QPushButton::clicked, this, [this, row] {
        const auto it = std::find(m_arms.begin(), m_arms.end(), row);
        if (it != m_arms.end())
            removeArm(static_cast<int>(it - m_arms.begin()));
    });
    validateArms();
    return row;
}

void ExperimentsTab::removeArm(int index)
{
    if (index < 0 || index >= armCount() || armCount() <= 1)
        return;
    ExperimentArmRow* row = m_arms[static_cast<size_t>(index)];
    m_arms.erase(m_arms.begin() + index);
    row->hide();
    row->deleteLater();
    for (size_t i = 0; i < m_arms.size(); ++i)
        m_arms[i]->setIndex(static_cast<int>(i));
    validateArms();
}

pipeline::ExperimentSpec ExperimentsTab::spec() const
{
    const QString where = tr("Experiments tab");
    pipeline::ExperimentSpec s;
    s.name = m_name->text().trimmed();
    s.split = m_split->currentText();
    s.seed = static_cast<quint64>(m_seed->value());
    const QJsonValue cohort = m_sample->value() > 0
        ? QJsonValue(QJsonObject { { QStringLiteral("sample"), m_sample->value() },
            { QStringLiteral("of"), m_cohort->currentData().toString() } })
        : QJsonValue(m_cohort->currentData().toString());
    s.cohort = pipeline::CohortSpec::fromJson(cohort, where + QStringLiteral(": cohort"));
    std::vector<int> ks;
    for (const QString& part : m_ks->text().split(u',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int k = part.trimmed().toInt(&ok);
        if (!ok || k < 1 || k > 200)
            throw Error(tr("K: '%1' is not a number from 1 to 200").arg(part.trimmed()));
        ks.push_back(k);
    }
    if (ks.empty())
        throw Error(tr("K: give at least one cut-off, e.g. 10"));
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    s.ks = ks;
    QStringList names;
    for (const ExperimentArmRow* row : m_arms) {
        const QString name = row->nameEdit()->text().trimmed();
        if (name.isEmpty())
            throw Error(tr("Arm %1: give it a name").arg(names.size() + 1));
        if (names.contains(name))
            throw Error(tr("Arm %1: the name '%2' is taken").arg(names.size() + 1).arg(name));
        names << name;
        s.arms.push_back(pipeline::ExperimentArm::parse(name, row->specEdit()->text().trimmed(), 1, s.ks, where));
    }
    if (m_maxCost->value() > 0)
        s.maxCostUsd = m_maxCost->value();
    // Experiments need a name; the default is stable (not a time), so running the same
    // definition again resumes a canceled run of it.
    if (s.name.isEmpty())
        s.name = names.join(QStringLiteral(" vs "));
    return s;
}

void ExperimentsTab::validateArms()
{
    std::vector<int> ks { 10 };
    for (const QString& part : m_ks->text().split(u',', Qt::SkipEmptyParts))
        if (const int k = part.trimmed().toInt(); k > 0)
            ks.push_back(k);
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    QStringList names;
    for (ExperimentArmRow* row : m_arms) {
        const QString name = row->nameEdit()->text().trimmed();
        QString error;
        if (name.isEmpty())
            error = tr("The arm needs a name.");
        else if (names.contains(name))
            error = tr("The name '%1' is taken.").arg(name);
        else
            try {
                pipeline::ExperimentArm::parse(name, row->specEdit()->text().trimmed(), 1, ks, tr("arm"));
            } catch (const Error& e) {
                error = e.message();
            }
        names << name;
        row->setError(error);
        row->removeButton()->setEnabled(armCount() > 1);
    }
    scheduleProjection();
}

void ExperimentsTab::scheduleProjection()
{
    ++m_projectionJob; // a projection in flight is stale now
    m_projection.reset();
    m_projectionTimer->start();
}

void ExperimentsTab::updateProjection()
{
    if (m_path.isEmpty() || !m_dataset) {
        m_projectionLabel->setText(tr("Open a workspace to see the projected cost."));
        return;
    }
    pipeline::ExperimentSpec s;
    try {
        s = spec();
    } catch (const Error& e) {
        m_projectionLabel->setText(red(e.message()));
        emit projectionUpdated();
        return;
    }
    const quint64 job = ++m_projectionJob;
    m_projectionLabel->setText(tr("Projecting the cost…"));
    auto future = runTask([path = m_path, ds = m_dataset, s](const TaskControl&) {
        const auto ws = Workspace::open(path);
        return pipeline::projectExperiment(*ws, *ds, s);
    });
    continueOn(
        future, this,
        [this, job, cap = s.maxCostUsd](const TaskResult<pipeline::ExperimentProjection>& r) {
            if (job != m_projectionJob)
                return;
            if (!r.value) {
                m_projectionLabel->setText(red(r.error));
                emit projectionUpdated();
                return;
            }
            m_projection = *r.value;
            const pipeline::ExperimentProjection& p = *m_projection;
            QString text = tr("Before firing: <b>%1</b> users, <b>%2</b> LLM call(s) at most, cost <b>%3</b>")
                               .arg(p.users)
                               .arg(p.calls)
                               .arg(p.usd ? money(*p.usd) : tr("unknown"));
            QStringList arms;
            for (const pipeline::ArmProjection& a : p.arms)
                if (a.calls > 0)
                    arms << tr("%1: %2 calls, %3 in / %4 out tokens, %5")
                                .arg(a.arm.toHtmlEscaped())
                                .arg(a.calls)
                                .arg(a.inputTokens)
                                .arg(a.outputTokens)
                                .arg(a.usd ? money(*a.usd) : tr("price unknown"));
            if (!arms.isEmpty())
                text += QStringLiteral("<br>") + arms.join(QStringLiteral("<br>"));
            if (const QString over = p.overCap(cap); !over.isEmpty())
                text += QStringLiteral("<br>") + red(tr("Refused: %1").arg(over));
            m_projectionLabel->setText(text);
            emit projectionUpdated();
        },
        [] {});
}

void ExperimentsTab::loadLists()
{
    if (m_path.isEmpty())
        return;
    const quint64 job = ++m_listJob;
    struct Lists {
        std::vector<pipeline::experimentstore::Info> experiments;
        QList<rerank::EndpointProfile> endpoints;
        QHash<QString, rerank::Prices> prices;
    };
    auto future = runTask([path = m_path](const TaskControl&) {
        const auto ws = Workspace::open(path);
        Lists lists;
        lists.experiments = pipeline::experimentstore::list(*ws);
        lists.endpoints = rerank::store::listEndpoints(*ws);
        const rerank::PriceTable table = rerank::PriceTable::loadWithOverride();
        for (const rerank::EndpointProfile& e : lists.endpoints)
            if (const auto p = table.pricesFor(e))
                lists.prices.insert(e.name, *p);
        return lists;
    });
    continueOn(
        future, this,
        [this, job](const TaskResult<Lists>& r) {
            if (job != m_listJob)
                return;
            if (!r.value) {
                setStatus(r.error, true);
                return;
            }
            m_history->setExperiments(r.value->experiments);
            m_endpoints = r.value->endpoints;
            m_endpointPrices = r.value->prices;
            const QString current = m_priceEndpoint->currentText();
            {
                const QSignalBlocker block(m_priceEndpoint);
                m_priceEndpoint->clear();
                for (const rerank::EndpointProfile& e : m_endpoints)
                    if (m_endpointPrices.contains(e.name))
                        m_priceEndpoint->addItem(e.name);
                // Keep the user's choice; else the first endpoint that costs money (local
                // servers and the offline reranker cost nothing to project).
                int i = m_priceEndpoint->findText(current);
                for (int j = 0; i < 0 && j < m_priceEndpoint->count(); ++j)
                    if (m_endpointPrices.value(m_priceEndpoint->itemText(j)).input.value_or(0) > 0)
                        i = j;
                m_priceEndpoint->setCurrentIndex(std::max(0, i));
            }
            for (QComboBox* combo : { m_cascadeSmall, m_cascadeLarge }) {
                const QSignalBlocker block(combo);
                const QString chosen = combo->currentText();
                combo->clear();
                for (int j = 0; j < m_priceEndpoint->count(); ++j)
                    combo->addItem(m_priceEndpoint->itemText(j));
                combo->setCurrentIndex(std::max(0, combo->findText(chosen)));
            }
            if (m_cascadeLarge->currentIndex() == 0 && m_cascadeLarge->count() > 1)
                m_cascadeLarge->setCurrentIndex(1);
            updateScaleProjection();
            emit historyLoaded();
        },
        [] {});
}

void ExperimentsTab::refreshHistory()
{
    loadLists();
}

bool ExperimentsTab::isRunning() const
{
    return m_run && m_run->isRunning();
}

bool ExperimentsTab::run()
{
    if (!m_service || !m_dataset) {
        setStatus(tr("Open a workspace first."), true);
        return false;
    }
    if (isRunning())
        return false;
    pipeline::ExperimentSpec s;
    try {
        s = spec();
    } catch (const Error& e) {
        setStatus(e.message(), true);
        return false;
    }
    if (s.arms.size() < 2) {
        setStatus(tr("Define at least two arms to compare."), true);
        return false;
    }
    // The runner refuses a projection over the cap before any call; over the confirmation
    // ceiling (RECWB_CEILING_*) the user says yes first.
    if (m_projection && m_projection->calls > 0) {
        if (const QString over = m_projection->overCap(s.maxCostUsd); !over.isEmpty()) {
            setStatus(tr("Refused before any call: %1").arg(over), true);
            return false;
        }
        pipeline::RunProjection rp;
        rp.calls = m_projection->calls;
        rp.usd = m_projection->usd;
        const pipeline::RunCeiling ceiling = pipeline::RunCeiling::fromEnvironment();
        if (const QString exceeds = rp.exceeds(ceiling); !exceeds.isEmpty()
            && QMessageBox::question(this, tr("Run the experiment?"),
                   tr("This experiment may make %1 LLM call(s) costing up to %2 (%3). Run it?")
                       .arg(m_projection->calls)
                       .arg(m_projection->usd ? money(*m_projection->usd) : tr("an unknown amount"), exceeds))
                != QMessageBox::Yes) {
            setStatus(tr("Not started."));
            return false;
        }
    }
    if (!m_run) {
        m_run = std::make_unique<pipeline::ExperimentRun>(*m_service, m_path, m_dataset);
        connect(m_run.get(), &pipeline::ExperimentRun::started, this, [this](qint64 id, int resumed) {
            setStatus(resumed > 0 ? tr("Experiment %1: resumed, %2 stored row(s) kept.").arg(id).arg(resumed)
                                  : tr("Experiment %1 running…").arg(id));
        });
        connect(m_run.get(), &pipeline::ExperimentRun::progress, this, [this](int done, int total) {
            m_progress->setRange(0, std::max(1, total));
            m_progress->setValue(done);
            m_progress->setFormat(tr("%1 / %2").arg(done).arg(total));
        });
        connect(m_run.get(), &pipeline::ExperimentRun::paused, this, [this](const QString& why) {
            setStatus(why.isEmpty() ? tr("Experiment %1 running…").arg(m_run->experimentId())
                                    : tr("Paused: %1. Cancel to stop; the finished users are kept.").arg(why));
        });
        connect(m_run.get(), &pipeline::ExperimentRun::finished, this, [this](const pipeline::ExperimentResult& r) {
            setRunning(false);
            showResult(r);
            setStatus(r.status == u"canceled"
                    ? tr("Experiment %1 canceled after %2 row(s); run it again to resume.").arg(r.id).arg(r.rows.size())
                    : tr("Experiment %1 %2 in %3 s.").arg(r.id).arg(r.status).arg(r.wallSeconds, 0, 'f', 1));
            loadLists();
            emit experimentFinished(r.id);
        });
        connect(m_run.get(), &pipeline::ExperimentRun::failed, this, [this](const QString& message) {
            setRunning(false);
            setStatus(message, true);
            loadLists();
        });
    }
    setRunning(true);
    m_progress->setRange(0, 0);
    setStatus(tr("Preparing: the split, the cohort and each model on the training part…"));
    m_run->start(std::move(s));
    return true;
}

void ExperimentsTab::cancel()
{
    if (isRunning()) {
        m_run->cancel();
        setStatus(tr("Canceling…"));
    }
}

void ExperimentsTab::setRunning(bool running)
{
    m_runButton->setEnabled(!running);
    m_cancelButton->setEnabled(running);
    m_addArm->setEnabled(!running);
    m_openButton->setEnabled(!running);
    if (!running) {
        m_progress->setRange(0, 1);
        m_progress->setValue(m_result ? 1 : 0);
    }
}

void ExperimentsTab::setStatus(const QString& text, bool error)
{
    m_status->setText(error ? red(text) : text.toHtmlEscaped());
}

void ExperimentsTab::openExperiment(qint64 id)
{
    if (m_path.isEmpty())
        return;
    const quint64 job = ++m_openJob;
    setStatus(tr("Reading experiment %1…").arg(id));
    auto future = runTask([path = m_path, ds = m_dataset, id](const TaskControl&) {
        const auto ws = Workspace::open(path);
        return pipeline::experimentstore::load(*ws, id, ds.get());
    });
    continueOn(
        future, this,
        [this, job, id](const TaskResult<pipeline::ExperimentResult>& r) {
            if (job != m_openJob)
                return;
            if (!r.value) {
                setStatus(r.error, true);
                return;
            }
            showResult(*r.value);
            setStatus(
                tr("Experiment %1 reopened (%2 stored row(s), nothing recomputed).").arg(id).arg(r.value->rows.size()));
            emit experimentOpened(id);
        },
        [] {});
}

void ExperimentsTab::showResult(const pipeline::ExperimentResult& result)
{
    m_result = result;
    const pipeline::ExperimentSpec& s = result.spec;
    m_figures->setResult(result);
    m_pairs->setResult(result);
    {
        const QSignalBlocker block(m_userMetric);
        m_userMetric->clear();
        for (const int k : s.ks)
            for (const char* m : { "ndcg", "hr", "recall", "mrr" })
                m_userMetric->addItem(QStringLiteral("%1@%2").arg(QLatin1StringView(m)).arg(k));
    }
    m_users->setResult(result, m_userMetric->currentText());
    m_exportButton->setEnabled(true);
    int passed = 0;
    for (const pipeline::AssertionResult& a : result.assertions)
        passed += a.passed ? 1 : 0;
    QString summary = tr("<b>%1</b> · experiment %2 · %3 · split %4 (seed %5) · cohort %6, %7 users · %8 arm(s)")
                          .arg((s.name.isEmpty() ? tr("unnamed") : s.name).toHtmlEscaped())
                          .arg(result.id)
                          .arg(result.status.toHtmlEscaped(), s.split.toHtmlEscaped())
                          .arg(s.seed)
                          .arg(s.cohort.name().toHtmlEscaped())
                          .arg(result.users.size())
                          .arg(s.arms.size());
    if (!result.assertions.empty())
        summary += tr(" · assertions %1/%2 passed").arg(passed).arg(result.assertions.size());
    if (!result.error.isEmpty())
        summary += QStringLiteral("<br>") + red(result.error);
    m_summary->setText(summary);

    // Routing share and the sample-size defaults from what was measured.
    for (const pipeline::ExperimentArm& arm : s.arms)
        if (arm.spec.reranks())
            if (const pipeline::ArmFigures* f = result.figuresFor(arm.name)) {
                const QSignalBlocker block(m_routingShare);
                m_routingShare->setValue((1.0 - f->routedCfShare) * 100);
                break;
            }
    if (s.arms.size() >= 2 && !s.ks.empty()) {
        const QString hr = QStringLiteral("hr@%1").arg(s.ks.front());
        const pipeline::ArmFigures* a = result.figuresFor(s.arms[0].name);
        const pipeline::ArmComparison* c = result.comparison(s.arms[0].name, s.arms[1].name, hr);
        if (a && !a->mean.empty()) {
            const QSignalBlocker b1(m_baseline);
            const QSignalBlocker b2(m_effect);
            const QSignalBlocker b3(m_relative);
            m_baseline->setValue(a->mean[0][static_cast<size_t>(eval::Metric::HR)]);
            m_relative->setChecked(false);
            if (c && c->stats.meanDiff != 0)
                m_effect->setValue(c->stats.meanDiff);
        }
    }
    updateSampleSize();
    updateScaleProjection();
    updateCharts();
}

void ExperimentsTab::updateCharts()
{
    if (!m_result)
        return;
    const quint64 job = ++m_chartJob;
    auto future = runTask([r = *m_result](const TaskControl&) { return computeCharts(r); });
    continueOn(
        future, this,
        [this, job](const TaskResult<ChartData>& r) {
            if (job != m_chartJob || !r.value)
                return;
            const ChartData& d = *r.value;
            const QPen whiskerPen(QColor(0x1f, 0x29, 0x37), 1.6);

            // Metric by arm, with the 95 % interval as whiskers (category i sits at x = i).
            clearChart(m_metricChart);
            auto* set = new QBarSet(d.metric);
            set->setColor(QColor(0x60, 0x8f, 0xd6));
            QStringList categories;
            double top = 0;
            for (const pipeline::ArmInterval& a : d.intervals) {
                *set << a.mean;
                categories << a.arm;
                top = std::max({ top, a.mean, a.ci.high });
            }
            auto* bars = new QBarSeries;
            bars->append(set);
            bars->setBarWidth(0.6);
            m_metricChart->addSeries(bars);
            auto* x = new QBarCategoryAxis;
            x->append(categories);
            auto* y = new QValueAxis;
            y->setRange(0, top > 0 ? top * 1.1 : 1.0);
            y->applyNiceNumbers();
            y->setLabelFormat(QStringLiteral("%.3g"));
            m_metricChart->addAxis(x, Qt::AlignBottom);
            m_metricChart->addAxis(y, Qt::AlignLeft);
            bars->attachAxis(x);
            bars->attachAxis(y);
            for (size_t i = 0; i < d.intervals.size(); ++i) {
                const double xi = static_cast<double>(i);
                const eval::Interval ci = d.intervals[i].ci;
                auto* whisker = new QLineSeries;
                whisker->setPen(whiskerPen);
                whisker->append({ QPointF(xi - 0.1, ci.low), QPointF(xi + 0.1, ci.low), QPointF(xi, ci.low),
                    QPointF(xi, ci.high), QPointF(xi - 0.1, ci.high), QPointF(xi + 0.1, ci.high) });
                m_metricChart->addSeries(whisker);
                whisker->attachAxis(x);
                whisker->attachAxis(y);
            }
            m_metricChart->legend()->hide();
            m_metricChart->setTitle(tr("%1 by arm, with its 95 % bootstrap interval").arg(d.metric));

            // Cost per 1,000 users against quality, one point per arm.
            clearChart(m_costChart);
            double maxCost = 0;
            double maxQuality = 0;
            for (size_t i = 0; i < d.intervals.size(); ++i) {
                auto* point = new QScatterSeries;
                point->setName(d.intervals[i].arm);
                point->setMarkerSize(12);
                point->append(d.costPer1k[i], d.intervals[i].mean);
                maxCost = std::max(maxCost, d.costPer1k[i]);
                maxQuality = std::max(maxQuality, d.intervals[i].mean);
                m_costChart->addSeries(point);
            }
            auto* cx = new QValueAxis;
            cx->setTitleText(tr("USD per 1,000 users"));
            // A little room left of 0, so free arms are not drawn on the axis.
            cx->setRange(maxCost > 0 ? -maxCost * 0.05 : -0.05, maxCost > 0 ? maxCost * 1.15 : 1.0);
            cx->setLabelFormat(QStringLiteral("%.3g"));
            auto* cy = new QValueAxis;
            cy->setTitleText(d.metric);
            cy->setRange(0, maxQuality > 0 ? maxQuality * 1.15 : 1.0);
            cy->applyNiceNumbers();
            cy->setLabelFormat(QStringLiteral("%.3g"));
            m_costChart->addAxis(cx, Qt::AlignBottom);
            m_costChart->addAxis(cy, Qt::AlignLeft);
            for (QAbstractSeries* s : m_costChart->series()) {
                s->attachAxis(cx);
                s->attachAxis(cy);
            }
            m_costChart->setTitle(tr("Cost against %1").arg(d.metric));

            // Latency histogram: users per bucket of total ms, one bar set per arm.
            clearChart(m_latencyChart);
            auto* histogram = new QBarSeries;
            int most = 0;
            for (size_t a = 0; a < d.counts.size() && a < d.intervals.size(); ++a) {
                auto* armSet = new QBarSet(d.intervals[a].arm);
                for (const int c : d.counts[a]) {
                    *armSet << c;
                    most = std::max(most, c);
                }
                histogram->append(armSet);
            }
            m_latencyChart->addSeries(histogram);
            auto* hx = new QBarCategoryAxis;
            hx->append(d.buckets);
            hx->setTitleText(tr("ms per user, all stages"));
            auto* hy = new QValueAxis;
            hy->setRange(0, std::max(1, most));
            hy->setLabelFormat(QStringLiteral("%d"));
            hy->setTitleText(tr("users"));
            m_latencyChart->addAxis(hx, Qt::AlignBottom);
            m_latencyChart->addAxis(hy, Qt::AlignLeft);
            histogram->attachAxis(hx);
            histogram->attachAxis(hy);
            m_latencyChart->setTitle(tr("Latency per user"));
            emit chartsUpdated();
        },
        [] {});
}

void ExperimentsTab::updateScaleProjection()
{
    pipeline::ProjectionAssumptions assumptions;
    assumptions.cacheHitRate = m_cacheHitRate->value() / 100;
    assumptions.batchDiscount = m_batchDiscount->value() / 100;
    assumptions.routingShare = m_routingShare->value() / 100;
    // Measured tokens when an arm called a priced LLM; else an estimate at the chosen
    // endpoint's prices for the experiment's first reranking arm's candidates and K.
    std::optional<pipeline::ProjectionInput> input;
    QString basis;
    if (m_result) {
        QHash<QString, rerank::Prices> armPrices;
        for (const pipeline::ExperimentArm& arm : m_result->spec.arms)
            if (m_endpointPrices.contains(arm.spec.rerank))
                armPrices.insert(arm.name, m_endpointPrices.value(arm.spec.rerank));
        input = pipeline::projectionInputFor(*m_result, armPrices);
        if (input)
            basis = tr("Tokens measured in experiment %1: %2 input (%3 % cached) and %4 output "
                       "per call.")
                        .arg(m_result->id)
                        .arg(input->hybrid.input, 0, 'f', 0)
                        .arg(input->hybrid.input > 0 ? 100 * input->hybrid.cachedInput / input->hybrid.input : 0.0, 0,
                            'f', 1)
                        .arg(input->hybrid.output, 0, 'f', 0);
    }
    if (!input) {
        const QString endpoint = m_priceEndpoint->currentText();
        if (endpoint.isEmpty() || !m_endpointPrices.contains(endpoint)) {
            m_scaleBasis->setText(tr("No arm called a priced LLM and no endpoint with known prices is configured: "
                                     "add one (Endpoints…) to project the cost."));
            m_scale->setProjection({});
            m_scaleProjection.reset();
            m_scaleInput.reset();
            updateCascade();
            return;
        }
        int candidates = 50;
        int k = 10;
        if (m_result)
            for (const pipeline::ExperimentArm& arm : m_result->spec.arms)
                if (arm.spec.reranks()) {
                    candidates = arm.spec.candidates;
                    k = arm.explicitK ? arm.spec.k : m_result->spec.maxK();
                    break;
                }
        // The prompt estimate of the confirmation ceiling, and about 40 output tokens per listed item.
        constexpr int kOutputTokensPerItem = 40;
        input.emplace();
        input->hybrid = { static_cast<double>(pipeline::RunProjection::kInputTokensOverhead
                              + candidates * pipeline::RunProjection::kInputTokensPerCandidate),
            0, static_cast<double>(k * kOutputTokensPerItem) };
        input->llmOnly = input->hybrid.withCandidates(candidates, 200);
        input->prices = m_endpointPrices.value(endpoint);
        basis = tr("Estimated (no arm called a priced LLM): %1 input tokens (%2 candidates), %3 output tokens (K = %4) "
                   "per call at %5's prices; LLM-only with 200 candidates.")
                    .arg(input->hybrid.input, 0, 'f', 0)
                    .arg(candidates)
                    .arg(input->hybrid.output, 0, 'f', 0)
                    .arg(k)
                    .arg(endpoint);
    }
    if (m_promptCaching->value() > 0)
        assumptions.promptCachingShare = m_promptCaching->value() / 100;
    input->assumptions = assumptions;
    m_scaleInput = input;
    updateCascade();
    try {
        m_scaleProjection = pipeline::projectCostAtScale(*input);
        m_scale->setProjection(*m_scaleProjection);
        m_scaleBasis->setText(basis);
    } catch (const Error& e) {
        m_scaleProjection.reset();
        m_scale->setProjection({});
        m_scaleBasis->setText(e.message());
    }
}

// The cascade's average cost per user from its tiers' prices at the tokens shown above:
// c1 + p c2 (pipeline::cascadeAverageCost), with the escalation rate p as set.
void ExperimentsTab::updateCascade()
{
    const QString small = m_cascadeSmall->currentText();
    const QString large = m_cascadeLarge->currentText();
    if (!m_scaleInput || small.isEmpty() || large.isEmpty()) {
        m_cascade->setText(tr("Two priced endpoints give the cascade's average cost (c1 + p · c2)."));
        return;
    }
    const auto c1
        = pipeline::costPerCall(m_scaleInput->hybrid, m_endpointPrices.value(small), m_scaleInput->assumptions);
    const auto c2
        = pipeline::costPerCall(m_scaleInput->hybrid, m_endpointPrices.value(large), m_scaleInput->assumptions);
    if (!c1 || !c2) {
        m_cascade->setText(red(tr("A tier's price is unknown.")));
        return;
    }
    const double p = m_escalation->value() / 100;
    const std::array costs { *c1, *c2 };
    const std::array rates { p };
    const double average = pipeline::cascadeAverageCost(costs, rates);
    m_cascade->setText(tr("c1 + p · c2 = %1 + %2 × %3 = <b>%4</b> per user: %5 per 1,000 users, %6 a month at 1M "
                          "users a day (%7 with %8 alone).")
                           .arg(QString::number(*c1, 'f', 6), QString::number(p, 'f', 3), QString::number(*c2, 'f', 6),
                               QStringLiteral("$") + QString::number(average, 'f', 6), money(average * 1000),
                               money(average * 1e6 * m_scaleInput->assumptions.daysPerMonth),
                               money(*c2 * 1e6 * m_scaleInput->assumptions.daysPerMonth), large.toHtmlEscaped()));
}

void ExperimentsTab::updateSampleSize()
{
    eval::SampleSizeInput in;
    in.baseline = m_baseline->value();
    in.effect = m_effect->value();
    in.kind
        = m_relative->isChecked() ? eval::SampleSizeInput::Effect::Relative : eval::SampleSizeInput::Effect::Absolute;
    in.alpha = m_alpha->value();
    in.power = m_power->value();
    try {
        const eval::SampleSize s = eval::sampleSizeTwoProportions(in);
        m_sampleSize->setText(tr("<b>%1</b> users per arm (%2 in all) to detect %3 → %4 with alpha %5 (two-sided) "
                                 "and power %6.")
                                  .arg(QLocale().toString(s.perArm), QLocale().toString(s.total()))
                                  .arg(s.p1, 0, 'f', 4)
                                  .arg(s.p2, 0, 'f', 4)
                                  .arg(in.alpha)
                                  .arg(in.power));
    } catch (const Error& e) {
        m_sampleSize->setText(red(e.message()));
    }
}

void ExperimentsTab::openUserInCompare(const QModelIndex& index)
{
    if (!m_result || !index.isValid())
        return;
    const int row = currentSourceRow(m_usersView);
    const QString user = m_users->userId(row >= 0 ? row : index.row());
    if (user.isEmpty())
        return;
    std::vector<pipeline::ArmSpec> arms;
    for (const pipeline::ExperimentArm& a : m_result->spec.arms) {
        pipeline::ArmSpec spec = a.spec;
        if (!a.explicitK)
            spec.k = m_result->spec.maxK();
        spec.candidates = std::max(spec.candidates, spec.k);
        if (spec.label.isEmpty())
            spec.label = a.name;
        arms.push_back(spec);
    }
    emit compareRequested(user, arms, m_result->spec.split, m_result->spec.seed);
}

void ExperimentsTab::exportReport(const QString& path)
{
    if (!m_result)
        return;
    // The cost at scale as shown, with the assumptions the user set.
    const std::optional<pipeline::CostProjection> projection = m_scaleProjection;
    auto future = runTask([r = *m_result, path, projection](const TaskControl&) {
        pipeline::writeExperimentReport(r, path, projection);
        return path;
    });
    continueOn(
        future, this,
        [this](const TaskResult<QString>& r) {
            if (!r.value) {
                setStatus(r.error, true);
                return;
            }
            setStatus(tr("Report written to %1").arg(*r.value));
            emit reportWritten(*r.value);
        },
        [] {});
}

} // namespace recwb::ui
