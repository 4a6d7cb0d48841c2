#include "evaluation/evaluationtab.h"

#include "cf/recommender.h"
#include "common/backgroundtask.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "data/dataset.h"
#include "eval/coldstartranker.h"
#include "eval/evaluator.h"
#include "eval/split.h"
#include "eval/stats.h"
#include "evaluation/evalresultsmodel.h"
#include "util/taskpool.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDir>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QListWidget>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <climits>
#include <cmath>

namespace recwb::ui {

// What the evaluation worker reports, in order: the protocol once the split is built,
// then one step per model (a result or the error that model ran into).
struct EvalStep {
    enum Kind { Protocol, Result, Failed };
    Kind kind = Protocol;
    int usersEvaluated = 0;
    quint64 seed = 0;
    QString model;
    std::shared_ptr<const eval::EvalResult> result;
    QString error;
};

namespace {

    const QStringList kSplits { QStringLiteral("loo"), QStringLiteral("ratio"), QStringLiteral("strat75"),
        QStringLiteral("cold@0"), QStringLiteral("cold@1"), QStringLiteral("cold@3"), QStringLiteral("cold@5") };

    struct ChartMetric {
        eval::Metric metric;
        const char* label;
    };
    const std::array<ChartMetric, eval::kMetricCount> kChartMetrics { {
        { eval::Metric::NDCG, "NDCG" },
        { eval::Metric::HR, "HR" },
        { eval::Metric::Recall, "Recall" },
        { eval::Metric::MRR, "MRR" },
        { eval::Metric::ILD, "ILD" },
        { eval::Metric::Novelty, "Novelty" },
    } };

    // Per-user values of one metric at one K, restricted to a cohort (or all users).
    std::vector<double> cohortValues(const eval::EvalResult& r, eval::Metric metric, int k, int cohort)
    {
        const std::vector<double>& all = r.perUser(metric, k);
        if (cohort < 0 || cohort >= static_cast<int>(r.cohorts.size()))
            return all;
        const eval::Cohort& c = r.cohorts[static_cast<size_t>(cohort)];
        std::vector<double> out;
        for (size_t i = 0; i < all.size(); ++i)
            if (c.contains(r.trainCounts[i]))
                out.push_back(all[i]);
        return out;
    }

    std::optional<std::vector<int>> parseKs(const QString& text)
    {
        std::vector<int> ks;
        for (const QString& part : text.split(u',', Qt::SkipEmptyParts)) {
            bool ok = false;
            const int k = part.trimmed().toInt(&ok);
            if (!ok || k <= 0)
                return std::nullopt;
            ks.push_back(k);
        }
        if (ks.empty())
            return std::nullopt;
        std::sort(ks.begin(), ks.end());
        ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
        return ks;
    }

    QString joinKs(const std::vector<int>& ks)
    {
        QStringList s;
        for (const int k : ks)
            s << QString::number(k);
        return s.join(QStringLiteral(", "));
    }

    QString signedNumber(double v)
    {
        return (v >= 0 ? QStringLiteral("+") : QString()) + QString::number(v, 'f', 4);
    }

    struct Bar {
        QString model;
        double mean = 0;
        eval::Interval ci;
    };

} // namespace

EvaluationTab::EvaluationTab(QWidget* parent)
    : QWidget(parent)
    , m_split(new QComboBox(this))
    , m_seed(new QSpinBox(this))
    , m_ks(new QLineEdit(QStringLiteral("10, 20"), this))
    , m_models(new QListWidget(this))
    , m_runButton(new QPushButton(tr("&Run"), this))
    , m_cancelButton(new QPushButton(tr("Cancel"), this))
    , m_progress(new QProgressBar(this))
    , m_status(new QLabel(this))
    , m_protocol(new QLabel(this))
    , m_showK(new QComboBox(this))
    , m_cohort(new QComboBox(this))
    , m_metric(new QComboBox(this))
    , m_model(new EvalResultsModel(this))
    , m_view(new QTableView(this))
    , m_chart(new QChart)
    , m_chartView(new QChartView(m_chart, this))
    , m_compareA(new QComboBox(this))
    , m_compareB(new QComboBox(this))
    , m_compareButton(new QPushButton(tr("Co&mpare"), this))
    , m_compareResult(new QLabel(this))
{
    m_split->setObjectName(QStringLiteral("evalSplit"));
    m_split->addItems(kSplits);
    m_split->setCurrentText(QStringLiteral("ratio"));
    m_split->setToolTip(tr("loo: latest interaction held out · ratio: latest fifth · strat75: seeded random "
                           "quarter · cold@n: a fifth of the users keep only their first n interactions"));
    m_seed->setObjectName(QStringLiteral("evalSeed"));
    m_seed->setRange(0, INT_MAX);
    m_seed->setValue(static_cast<int>(eval::kDefaultSeed));
    m_seed->setToolTip(tr("Seed of the strat75 split (printed with its figures)"));
    m_ks->setObjectName(QStringLiteral("evalKs"));
    m_ks->setMaximumWidth(m_ks->fontMetrics().horizontalAdvance(u'0') * 14);
    m_ks->setToolTip(tr("Cut-offs K, comma-separated (e.g. 10, 20)"));

    m_models->setObjectName(QStringLiteral("evalModels"));
    m_models->setFlow(QListView::LeftToRight);
    m_models->setWrapping(true);
    m_models->setResizeMode(QListView::Adjust);
    m_models->setSpacing(2);
    m_models->setSelectionMode(QAbstractItemView::NoSelection);
    m_models->setFixedHeight(m_models->fontMetrics().height() + 16);
    QStringList names = cf::recommenderNames();
    names << eval::kColdStartModel;
    for (const QString& name : names) {
        auto* item = new QListWidgetItem(name, m_models);
        item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled);
        const bool on = name == u"pop" || name == u"itemknn" || name == u"ease";
        item->setCheckState(on ? Qt::Checked : Qt::Unchecked);
    }

    m_runButton->setObjectName(QStringLiteral("evalRun"));
    m_cancelButton->setObjectName(QStringLiteral("evalCancel"));
    m_progress->setRange(0, kProgressRange);
    m_progress->setTextVisible(false);
    m_progress->setMaximumWidth(200);
    m_status->setObjectName(QStringLiteral("evalStatus"));
    m_status->setForegroundRole(QPalette::PlaceholderText);

    m_protocol->setObjectName(QStringLiteral("evalProtocol"));
    m_protocol->setTextFormat(Qt::RichText);
    m_protocol->setWordWrap(true);
    m_protocol->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_protocol->setFrameShape(QFrame::StyledPanel);
    m_protocol->setMargin(6);

    m_showK->setObjectName(QStringLiteral("evalShowK"));
    m_cohort->setObjectName(QStringLiteral("evalCohort"));
    m_cohort->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_metric->setObjectName(QStringLiteral("evalMetric"));
    for (const ChartMetric& m : kChartMetrics)
        m_metric->addItem(QString::fromLatin1(m.label), eval::metricName(m.metric));

    m_view->setObjectName(QStringLiteral("evalView"));
    m_proxy = setupTable(m_view, m_model, nullptr,
        { { EvalResultsModel::HR, 9 }, { EvalResultsModel::Recall, 10 }, { EvalResultsModel::NDCG, 10 },
            { EvalResultsModel::MRR, 9 }, { EvalResultsModel::Coverage, 12 }, { EvalResultsModel::ILD, 9 },
            { EvalResultsModel::Novelty, 11 }, { EvalResultsModel::Users, 7 }, { EvalResultsModel::FitSeconds, 7 },
            { EvalResultsModel::EvalSeconds, 7 } },
        EvalResultsModel::Model, -1);
    // Rows start in run order (the order the models are listed); a header click sorts.
    m_view->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
    m_proxy->sort(-1);

    m_chart->setObjectName(QStringLiteral("evalChart"));
    m_chart->legend()->hide();
    m_chart->setMargins(QMargins(4, 4, 4, 4));
    m_chartView->setObjectName(QStringLiteral("evalChartView"));
    m_chartView->setRenderHint(QPainter::Antialiasing);
    m_chartView->setMinimumHeight(240);

    m_compareA->setObjectName(QStringLiteral("evalCompareA"));
    m_compareB->setObjectName(QStringLiteral("evalCompareB"));
    m_compareA->setMinimumContentsLength(10);
    m_compareB->setMinimumContentsLength(10);
    m_compareButton->setObjectName(QStringLiteral("evalCompare"));
    m_compareResult->setObjectName(QStringLiteral("evalCompareResult"));
    m_compareResult->setWordWrap(true);
    m_compareResult->setTextFormat(Qt::RichText);
    m_compareResult->setTextInteractionFlags(Qt::TextSelectableByMouse);

    // Layout: inputs, protocol, view options, table over chart, comparison.
    auto* inputs = new QHBoxLayout;
    const auto addLabeled = [this](QHBoxLayout* row, const QString& text, QWidget* w) {
        auto* label = new QLabel(text, this);
        label->setBuddy(w);
        row->addWidget(label);
        row->addWidget(w);
    };
    addLabeled(inputs, tr("&Split:"), m_split);
    addLabeled(inputs, tr("S&eed:"), m_seed);
    addLabeled(inputs, tr("&K:"), m_ks);
    addLabeled(inputs, tr("M&odels:"), m_models);
    inputs->setStretchFactor(m_models, 1);
    inputs->addWidget(m_runButton);
    inputs->addWidget(m_cancelButton);

    auto* progressRow = new QHBoxLayout;
    progressRow->addWidget(m_progress);
    progressRow->addWidget(m_status, 1);

    auto* options = new QHBoxLayout;
    addLabeled(options, tr("Show &at K:"), m_showK);
    addLabeled(options, tr("C&ohort:"), m_cohort);
    addLabeled(options, tr("C&hart metric:"), m_metric);
    options->addStretch();

    auto* compareRow = new QHBoxLayout;
    addLabeled(compareRow, tr("Compare A:"), m_compareA);
    addLabeled(compareRow, tr("with B:"), m_compareB);
    compareRow->addWidget(m_compareButton);
    compareRow->addWidget(m_compareResult, 1);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_view);
    splitter->addWidget(m_chartView);
    splitter->setChildrenCollapsible(false);
    splitter->setSizes({ 200, 360 });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(inputs);
    layout->addLayout(progressRow);
    layout->addWidget(m_protocol);
    layout->addLayout(options);
    layout->addWidget(splitter, 1);
    layout->addLayout(compareRow);

    connect(m_runButton, &QPushButton::clicked, this, &EvaluationTab::run);
    connect(m_cancelButton, &QPushButton::clicked, this, &EvaluationTab::cancel);
    connect(m_split, &QComboBox::currentIndexChanged, this, [this] {
        m_seed->setEnabled(m_split->currentText() == u"strat75");
        updateProtocol();
    });
    connect(m_ks, &QLineEdit::textChanged, this, &EvaluationTab::updateProtocol);
    connect(m_seed, &QSpinBox::valueChanged, this, &EvaluationTab::updateProtocol);
    connect(m_showK, &QComboBox::currentIndexChanged, this, [this] {
        if (m_showK->currentIndex() >= 0)
            m_model->setK(m_showK->currentData().toInt());
        updateProtocol();
        updateChart();
    });
    connect(m_cohort, &QComboBox::currentIndexChanged, this, [this] {
        if (m_cohort->currentIndex() >= 0)
            m_model->setCohort(m_cohort->currentData().toInt());
        updateProtocol();
        updateChart();
    });
    connect(m_metric, &QComboBox::currentIndexChanged, this, &EvaluationTab::updateChart);
    connect(m_compareButton, &QPushButton::clicked, this,
        [this] { compare(m_compareA->currentText(), m_compareB->currentText()); });

    m_seed->setEnabled(false);
    setRunning(false);
    updateProtocol();
    updateChart();
}

EvaluationTab::~EvaluationTab()
{
    ++m_job;
    cancelIfRunning(m_future);
}

void EvaluationTab::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    cancel();
    ++m_job;
    m_path = path;
    m_dataset = std::move(dataset);
    m_model->clear();
    m_runSplit.clear();
    m_runUsers = -1;
    m_compareResult->clear();
    m_status->clear();
    setRunning(false);
    rebuildResultCombos();
    updateProtocol();
    updateChart();
}

bool EvaluationTab::setSplit(const QString& name)
{
    const int index = m_split->findText(name);
    if (index < 0)
        return false;
    m_split->setCurrentIndex(index);
    return true;
}

void EvaluationTab::setSeed(quint64 seed)
{
    m_seed->setValue(static_cast<int>(seed));
}

void EvaluationTab::setKs(const QString& text)
{
    m_ks->setText(text);
}

void EvaluationTab::setModels(const QStringList& models)
{
    for (int i = 0; i < m_models->count(); ++i)
        m_models->item(i)->setCheckState(models.contains(m_models->item(i)->text()) ? Qt::Checked : Qt::Unchecked);
}

QStringList EvaluationTab::checkedModels() const
{
    QStringList out;
    for (int i = 0; i < m_models->count(); ++i)
        if (m_models->item(i)->checkState() == Qt::Checked)
            out << m_models->item(i)->text();
    return out;
}

bool EvaluationTab::run()
{
    if (m_running)
        return false;
    const auto ks = parseKs(m_ks->text());
    const QStringList models = checkedModels();
    const auto refuse = [this](const QString& why) {
        m_status->setText(why);
        return false;
    };
    if (!m_dataset)
        return refuse(tr("Open a workspace first."));
    if (m_dataset->numInteractions() == 0)
        return refuse(tr("The workspace has no interactions to evaluate on."));
    if (!ks)
        return refuse(tr("K must be whole numbers > 0, comma-separated (e.g. 10, 20)."));
    if (models.isEmpty())
        return refuse(tr("Check at least one model."));

    const eval::SplitSpec spec = eval::SplitSpec::parse(m_split->currentText());
    const quint64 seed = static_cast<quint64>(m_seed->value());
    const quint64 job = ++m_job;
    m_model->clear();
    m_model->setK(ks->front());
    m_runSplit = spec.name();
    m_runSplitDescription = spec.description();
    m_runUsesSeed = spec.usesSeed();
    m_runSeed = seed;
    m_runKs = joinKs(*ks);
    m_runUsers = -1;
    m_runModels = static_cast<int>(models.size());
    m_runErrors.clear();
    m_compareResult->clear();
    {
        const QSignalBlocker blocker(m_showK);
        m_showK->clear();
        for (const int k : *ks)
            m_showK->addItem(QString::number(k), k);
    }
    rebuildResultCombos();
    updateProtocol();
    updateChart();

    // The split is built once; the models run one after another on it, each result
    // handed over as soon as it is there.
    const QFuture<EvalStep> future = QtConcurrent::run(
        taskPool(), [dataset = m_dataset, spec, seed, ks = *ks, models](QPromise<EvalStep>& promise) {
            promise.setProgressRange(0, kProgressRange);
            const auto count = static_cast<double>(models.size());
            int current = 0;
            TaskControl control;
            control.isCanceled = [&promise] { return promise.isCanceled(); };
            control.onProgress = [&promise, &current, &models, count](double fraction, const QString& text) {
                const double overall = (current + std::clamp(fraction, 0.0, 1.0)) / count;
                promise.setProgressValueAndText(static_cast<int>(overall * kProgressRange),
                    QStringLiteral("%1 (%2 of %3): %4")
                        .arg(models[current])
                        .arg(current + 1)
                        .arg(models.size())
                        .arg(text));
            };
            try {
                promise.setProgressValueAndText(0, QStringLiteral("Building the %1 split…").arg(spec.name()));
                const eval::Split split = eval::makeSplit(*dataset, spec, seed);
                EvalStep protocol;
                protocol.kind = EvalStep::Protocol;
                protocol.usersEvaluated = static_cast<int>(split.evaluatedUsers.size());
                protocol.seed = split.seed;
                promise.addResult(protocol);
                for (; current < static_cast<int>(models.size()); ++current) {
                    const QString& name = models[current];
                    control.progress(0, QStringLiteral("fitting…"));
                    EvalStep step;
                    step.model = name;
                    try {
                        eval::EvalResult r = name == eval::kColdStartModel
                            ? eval::runColdStartEvaluation({}, split, *dataset, ks, control)
                            : eval::runEvaluation(name, {}, split, *dataset, ks, control);
                        r.model = name;
                        step.kind = EvalStep::Result;
                        step.result = std::make_shared<const eval::EvalResult>(std::move(r));
                    } catch (const Canceled&) {
                        throw;
                    } catch (const Error& e) {
                        step.kind = EvalStep::Failed;
                        step.error = e.message();
                    } catch (const std::exception& e) {
                        step.kind = EvalStep::Failed;
                        step.error = QString::fromLocal8Bit(e.what());
                    }
                    promise.addResult(std::move(step));
                }
            } catch (const Canceled&) {
                // Nothing more to report: the GUI asked for it.
            } catch (const std::exception& e) {
                EvalStep failed;
                failed.kind = EvalStep::Failed;
                failed.error = QString::fromLocal8Bit(e.what());
                promise.addResult(std::move(failed));
            }
        });

    auto* watcher = new QFutureWatcher<EvalStep>(this);
    connect(watcher, &QFutureWatcherBase::resultReadyAt, this, [this, job, watcher](int index) {
        if (job == m_job)
            handleStep(watcher->resultAt(index));
    });
    connect(watcher, &QFutureWatcherBase::progressValueChanged, this, [this, job, watcher](int value) {
        if (job != m_job)
            return;
        m_progress->setValue(value);
        if (!watcher->progressText().isEmpty())
            m_status->setText(watcher->progressText());
    });
    connect(watcher, &QFutureWatcherBase::finished, this, [this, job, watcher] {
        const bool canceled = watcher->isCanceled();
        watcher->deleteLater();
        if (job == m_job)
            finishRun(canceled);
    });
    watcher->setFuture(future);
    m_future = QFuture<void>(future);
    setRunning(true);
    m_status->setText(tr("Building the %1 split…").arg(spec.name()));
    return true;
}

void EvaluationTab::cancel()
{
    if (!m_running)
        return;
    m_status->setText(tr("Canceling…"));
    cancelIfRunning(m_future);
}

void EvaluationTab::handleStep(const EvalStep& step)
{
    switch (step.kind) {
    case EvalStep::Protocol:
        m_runUsers = step.usersEvaluated;
        m_runSeed = step.seed != 0 ? step.seed : m_runSeed;
        updateProtocol();
        break;
    case EvalStep::Result: {
        m_model->append(step.result);
        if (m_model->rowCount() == 1)
            rebuildResultCombos(); // the cohorts come with the first result
        else {
            m_compareA->addItem(step.model);
            m_compareB->addItem(step.model);
            if (m_compareB->count() == 2)
                m_compareB->setCurrentIndex(1);
            m_compareButton->setEnabled(m_compareA->count() >= 2);
        }
        updateChart();
        emit resultArrived(step.model);
        break;
    }
    case EvalStep::Failed:
        m_runErrors << (step.model.isEmpty() ? step.error : tr("%1: %2").arg(step.model, step.error));
        break;
    }
}

void EvaluationTab::finishRun(bool canceled)
{
    setRunning(false);
    const int done = m_model->rowCount();
    if (canceled) {
        m_progress->setValue(0);
        m_status->setText(tr("Canceled after %1 of %2 models").arg(done).arg(m_runModels));
        emit runCanceled();
        return;
    }
    m_progress->setValue(kProgressRange);
    if (!m_runErrors.isEmpty())
        m_status->setText(tr("Finished with errors: %1").arg(m_runErrors.join(QStringLiteral("; "))));
    else
        m_status->setText(tr("Finished: %1 models evaluated").arg(done));
    emit runFinished();
}

void EvaluationTab::setRunning(bool running)
{
    m_running = running;
    m_runButton->setEnabled(!running);
    m_cancelButton->setEnabled(running);
    m_progress->setVisible(running);
    if (!running)
        m_progress->setValue(0);
}

void EvaluationTab::rebuildResultCombos()
{
    const QSignalBlocker blockA(m_compareA);
    const QSignalBlocker blockB(m_compareB);
    const QString cohortBefore = m_cohort->currentText();
    m_compareA->clear();
    m_compareB->clear();
    for (const auto& r : m_model->results()) {
        m_compareA->addItem(r->model);
        m_compareB->addItem(r->model);
    }
    if (m_compareB->count() > 1)
        m_compareB->setCurrentIndex(1);
    {
        const QSignalBlocker blockCohort(m_cohort);
        m_cohort->clear();
        m_cohort->addItem(tr("all users"), EvalResultsModel::kAllUsers);
        if (!m_model->results().empty()) {
            const auto& cohorts = m_model->results().front()->cohorts;
            for (size_t c = 0; c < cohorts.size(); ++c)
                if (cohorts[c].users > 0)
                    m_cohort->addItem(
                        tr("%1 (%2 users)").arg(cohorts[c].name).arg(cohorts[c].users), static_cast<int>(c));
        }
        const int keep = m_cohort->findText(cohortBefore);
        m_cohort->setCurrentIndex(std::max(keep, 0));
    }
    m_model->setCohort(m_cohort->currentData().toInt());
    m_compareButton->setEnabled(m_compareA->count() >= 2);
}

void EvaluationTab::updateProtocol()
{
    const QLocale locale;
    QString dataset = tr("none loaded");
    if (m_dataset)
        dataset = tr("%1 (%2 users, %3 items, %4 interactions)")
                      .arg(QDir::toNativeSeparators(m_path), locale.toString(m_dataset->numUsers()),
                          locale.toString(m_dataset->numItems()), locale.toString(m_dataset->numInteractions()));
    QString split;
    QString ks;
    QString users;
    if (!m_runSplit.isEmpty()) {
        split = u"<b>" + m_runSplit.toHtmlEscaped() + u"</b>"
            + (m_runUsesSeed ? tr(" (seed %1)").arg(m_runSeed).toHtmlEscaped() : QString()) + u": "
            + m_runSplitDescription.toHtmlEscaped();
        ks = m_runKs + tr(" (table at K = %1)").arg(m_model->k());
        if (m_runUsers < 0) {
            users = tr("counting…");
        } else {
            users = tr("%1 evaluated; every metric is the mean over them (coverage per run)")
                        .arg(locale.toString(m_runUsers));
            if (m_cohort->currentIndex() > 0)
                users += tr("; table and chart: cohort %1").arg(m_cohort->currentText());
        }
    } else {
        try {
            const auto spec = eval::SplitSpec::parse(m_split->currentText());
            split = u"<b>" + spec.name().toHtmlEscaped() + u"</b>"
                + (spec.usesSeed() ? tr(" (seed %1)").arg(m_seed->value()).toHtmlEscaped() : QString()) + u": "
                + spec.description().toHtmlEscaped();
        } catch (const Error&) {
        }
        const auto parsed = parseKs(m_ks->text());
        ks = parsed ? joinKs(*parsed) : tr("invalid");
        users = tr("counted when the split is built (no run yet)");
    }
    m_protocol->setText(QStringLiteral("<table cellspacing='0' cellpadding='1'><tr><td><b>")
        + tr("Protocol").toHtmlEscaped() + u"</b>&nbsp;&nbsp;</td><td>" + split + u"</td></tr><tr><td><b>"
        + tr("Dataset").toHtmlEscaped() + u"</b></td><td>" + dataset.toHtmlEscaped() + u"</td></tr><tr><td><b>"
        + tr("K").toHtmlEscaped() + u"</b></td><td>" + ks.toHtmlEscaped() + u"</td></tr><tr><td><b>"
        + tr("Users").toHtmlEscaped() + u"</b></td><td>" + users.toHtmlEscaped() + u"</td></tr></table>");
}

bool EvaluationTab::setChartMetric(const QString& metric)
{
    const int index = m_metric->findData(metric.toLower());
    if (index < 0)
        return false;
    m_metric->setCurrentIndex(index);
    return true;
}

bool EvaluationTab::setDisplayK(int k)
{
    const int index = m_showK->findData(k);
    if (index < 0)
        return false;
    m_showK->setCurrentIndex(index);
    return true;
}

bool EvaluationTab::setCohort(const QString& name)
{
    if (name == u"all") {
        m_cohort->setCurrentIndex(0);
        return true;
    }
    for (int i = 1; i < m_cohort->count(); ++i) {
        const int c = m_cohort->itemData(i).toInt();
        if (!m_model->results().empty() && m_model->results().front()->cohorts[static_cast<size_t>(c)].name == name) {
            m_cohort->setCurrentIndex(i);
            return true;
        }
    }
    return false;
}

void EvaluationTab::updateChart()
{
    const quint64 job = ++m_chartJob;
    const auto results = m_model->results();
    const int k = m_model->k();
    const int cohort = m_model->cohort();
    const auto metric = eval::parseMetricAtK(m_metric->currentData().toString() + QStringLiteral("@1")).first;
    const QString metricLabel = m_metric->currentText();
    if (results.empty()) {
        m_chart->removeAllSeries();
        for (QAbstractAxis* axis : m_chart->axes()) {
            m_chart->removeAxis(axis);
            delete axis;
        }
        m_chart->setTitle(m_running ? tr("Waiting for the first model…") : tr("Run an evaluation to see the chart"));
        emit chartUpdated();
        return;
    }
    // Bootstrap intervals (10,000 resamples per model) are computed on a worker.
    auto future = runTask([results, k, cohort, metric](const TaskControl&) {
        std::vector<Bar> bars;
        for (const auto& r : results) {
            const std::vector<double> values = cohortValues(*r, metric, k, cohort);
            Bar bar;
            bar.model = r->model;
            for (const double v : values)
                bar.mean += v;
            bar.mean = values.empty() ? 0.0 : bar.mean / static_cast<double>(values.size());
            bar.ci = eval::bootstrapMeanCi(values);
            bars.push_back(bar);
        }
        return bars;
    });
    const int users
        = cohort < 0 ? results.front()->usersEvaluated : results.front()->cohorts[static_cast<size_t>(cohort)].users;
    continueOn(
        future, this,
        [this, job, k, metricLabel, users](const TaskResult<std::vector<Bar>>& result) {
            if (job != m_chartJob || !result.value)
                return;
            const std::vector<Bar>& bars = *result.value;
            m_chart->removeAllSeries();
            for (QAbstractAxis* axis : m_chart->axes()) {
                m_chart->removeAxis(axis);
                delete axis;
            }

            auto* set = new QBarSet(QStringLiteral("%1@%2").arg(metricLabel).arg(k));
            set->setColor(QColor(0x60, 0x8f, 0xd6));
            set->setBorderColor(QColor(0x3b, 0x6c, 0xb5));
            QStringList categories;
            double top = 0;
            for (const Bar& b : bars) {
                *set << b.mean;
                categories << b.model;
                top = std::max({ top, b.mean, b.ci.high });
            }
            auto* series = new QBarSeries;
            series->append(set);
            series->setBarWidth(0.6);
            series->setLabelsVisible(true);
            series->setLabelsPosition(QAbstractBarSeries::LabelsInsideBase);
            series->setLabelsPrecision(3);
            set->setLabelColor(Qt::white);
            m_chart->addSeries(series);

            auto* x = new QBarCategoryAxis;
            x->append(categories);
            auto* y = new QValueAxis;
            y->setRange(0, top > 0 ? top * 1.08 : 1.0);
            y->applyNiceNumbers();
            y->setLabelFormat(QStringLiteral("%.3g"));
            y->setTitleText(QStringLiteral("%1@%2").arg(metricLabel).arg(k));
            m_chart->addAxis(x, Qt::AlignBottom);
            m_chart->addAxis(y, Qt::AlignLeft);
            series->attachAxis(x);
            series->attachAxis(y);

            // Error bars: one polyline per model (low cap, whisker, high cap), drawn on the
            // category axis where category i sits at x = i.
            QPen pen(QColor(0x1f, 0x29, 0x37));
            pen.setWidthF(1.6);
            constexpr double cap = 0.12;
            for (size_t i = 0; i < bars.size(); ++i) {
                const double xi = static_cast<double>(i);
                const Bar& b = bars[i];
                auto* whisker = new QLineSeries;
                whisker->setPen(pen);
                whisker->append({ QPointF(xi - cap, b.ci.low), QPointF(xi + cap, b.ci.low), QPointF(xi, b.ci.low),
                    QPointF(xi, b.ci.high), QPointF(xi - cap, b.ci.high), QPointF(xi + cap, b.ci.high) });
                m_chart->addSeries(whisker);
                whisker->attachAxis(x);
                whisker->attachAxis(y);
            }
            m_chart->setTitle(tr("%1@%2 per model, mean over %3 users with its 95 % bootstrap interval")
                                  .arg(metricLabel)
                                  .arg(k)
                                  .arg(QLocale().toString(users)));
            emit chartUpdated();
        },
        [] {});
}

bool EvaluationTab::compare(const QString& a, const QString& b)
{
    const int rowA = m_model->rowOf(a);
    const int rowB = m_model->rowOf(b);
    if (rowA < 0 || rowB < 0 || a == b) {
        m_compareResult->setText(tr("Choose two different evaluated models."));
        return false;
    }
    m_compareA->setCurrentText(a);
    m_compareB->setCurrentText(b);
    const quint64 job = ++m_compareJob;
    const auto ra = m_model->results()[static_cast<size_t>(rowA)];
    const auto rb = m_model->results()[static_cast<size_t>(rowB)];
    const int k = m_model->k();
    const int cohort = m_model->cohort();
    const auto metric = eval::parseMetricAtK(m_metric->currentData().toString() + QStringLiteral("@1")).first;
    const QString metricText = QStringLiteral("%1@%2").arg(m_metric->currentText()).arg(k);
    const QString cohortText = m_cohort->currentText();
    m_compareResult->setText(tr("Comparing…"));
    auto future = runTask([ra, rb, k, cohort, metric, metricText](const TaskControl&) {
        return eval::comparePaired(cohortValues(*ra, metric, k, cohort), cohortValues(*rb, metric, k, cohort),
            ra->model, rb->model, metricText);
    });
    continueOn(
        future, this,
        [this, job, cohortText](const TaskResult<eval::PairedComparison>& result) {
            if (job != m_compareJob)
                return;
            if (!result.value) {
                m_compareResult->setText(tr("Comparison failed: %1").arg(result.error).toHtmlEscaped());
                return;
            }
            const eval::PairedComparison& c = *result.value;
            const QString color = c.verdict == eval::PairedComparison::Verdict::NoDifference
                ? QStringLiteral("#374151")
                : QStringLiteral("#166534");
            const QString text
                = tr("%1 on %2 users (%3): %4 %5 vs %6 %7, difference (B − A) %8, 95 % CI [%9, %10], "
                     "Wilcoxon p = %11")
                      .arg(c.metric)
                      .arg(c.users)
                      .arg(cohortText, c.nameA, QString::number(c.meanA, 'f', 4), c.nameB,
                          QString::number(c.meanB, 'f', 4), signedNumber(c.meanDiff), QString::number(c.ci.low, 'f', 4))
                      .arg(QString::number(c.ci.high, 'f', 4), QString::number(c.wilcoxon.pValue, 'g', 3));
            m_compareResult->setText(text.toHtmlEscaped() + u" → <b style='color:" + color + u"'>"
                + c.verdictText().toHtmlEscaped() + u"</b>");
            emit comparisonFinished(m_compareResult->text());
        },
        [] {});
    return true;
}

} // namespace recwb::ui
