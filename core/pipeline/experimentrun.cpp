// The experiment runner and the cost projection (docs/EXPERIMENTS.md).
#include "pipeline/experiment.h"

#include "data/workspace.h"
#include "eval/random.h"
#include "eval/usersplit.h"
#include "pipeline/comparearms.h"
#include "pipeline/rerankservice.h"
#include "pipeline/shard.h"
#include "rerank/prices.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QDateTime>
#include <QFutureWatcher>
#include <QScopeGuard>
#include <QSet>
#include <QThreadPool>
#include <QtConcurrent/QtConcurrentRun>
#include <cmath>

namespace recwb::pipeline {
namespace {

    // The split, the train dataset and the cohort of one experiment.
    struct Setup {
        eval::Split split;
        std::shared_ptr<const Dataset> train;
        eval::Popularity pop;
        std::vector<int32_t> users; // the cohort, ascending dataset indices
        std::vector<char> cold; // per dataset user
        std::vector<char> longTail; // per dataset user
    };

    // numpy "linear" quantile of sorted values.
    double quantile(const std::vector<double>& sorted, double q)
    {
        if (sorted.empty())
            return 0;
        const double pos = q * static_cast<double>(sorted.size() - 1);
        const auto lo = static_cast<size_t>(std::floor(pos));
        const size_t hi = std::min(lo + 1, sorted.size() - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
    }

    Setup makeSetup(const Dataset& ds, const ExperimentSpec& spec)
    {
        Setup s;
        s.split = eval::makeSplit(ds, eval::SplitSpec::parse(spec.split), spec.seed);
        s.train = eval::datasetWithInteractions(ds, s.split.train);
        s.pop = eval::Popularity::ofTrain(s.split.train);
        const auto n = static_cast<size_t>(ds.numUsers());
        s.cold.assign(n, 0);
        s.longTail.assign(n, 0);
        std::vector<int32_t> evaluated;
        for (const int32_t u : s.split.evaluatedUsers)
            if (!s.split.test[static_cast<size_t>(u)].empty())
                evaluated.push_back(u);
        std::sort(evaluated.begin(), evaluated.end());
        evaluated.erase(std::unique(evaluated.begin(), evaluated.end()), evaluated.end());
        // Long tail: mean train popularity of the user's train items in the lowest quartile.
        std::vector<double> meanPop(evaluated.size(), 0.0);
        for (size_t i = 0; i < evaluated.size(); ++i) {
            const int32_t u = evaluated[i];
            s.cold[static_cast<size_t>(u)] = s.split.train.rowLength(u) < spec.coldThreshold ? 1 : 0;
            const cf::History h = cf::History::ofUser(s.split.train, u);
            double sum = 0;
            for (const int32_t item : h.items)
                sum += s.pop.usersPerItem[static_cast<size_t>(item)];
            meanPop[i] = h.items.empty() ? 0.0 : sum / static_cast<double>(h.items.size());
        }
        std::vector<double> sorted = meanPop;
        std::sort(sorted.begin(), sorted.end());
        const double q1 = quantile(sorted, 0.25);
        for (size_t i = 0; i < evaluated.size(); ++i)
            s.longTail[static_cast<size_t>(evaluated[i])] = meanPop[i] <= q1 ? 1 : 0;

        const auto pick = [&](CohortSpec::Kind kind) {
            std::vector<int32_t> out;
            for (const int32_t u : evaluated) {
                const bool c = s.cold[static_cast<size_t>(u)];
                if (kind == CohortSpec::Kind::All || (kind == CohortSpec::Kind::Cold && c)
                    || (kind == CohortSpec::Kind::Warm && !c)
                    || (kind == CohortSpec::Kind::LongTail && s.longTail[static_cast<size_t>(u)]))
                    out.push_back(u);
            }
            return out;
        };
        const CohortSpec& c = spec.cohort;
        if (c.kind == CohortSpec::Kind::Users) {
            QStringList unknown;
            for (const QString& id : c.users) {
                const int32_t u = ds.userIndex(id);
                if (u < 0 || !std::binary_search(evaluated.begin(), evaluated.end(), u))
                    unknown << id;
                else
                    s.users.push_back(u);
            }
            if (!unknown.isEmpty())
                throw Error(QStringLiteral("cohort: %1 user(s) are not users the split %2 evaluates: %3")
                                .arg(unknown.size())
                                .arg(spec.split, unknown.mid(0, 10).join(QStringLiteral(", "))));
            std::sort(s.users.begin(), s.users.end());
            s.users.erase(std::unique(s.users.begin(), s.users.end()), s.users.end());
        } else if (c.kind == CohortSpec::Kind::Sample) {
            s.users = eval::seededSample(pick(c.of), static_cast<size_t>(c.sample), spec.seed);
        } else {
            s.users = pick(c.kind);
        }
        if (s.users.empty())
            throw Error(QStringLiteral("cohort %1 of split %2 has no users").arg(c.name(), spec.split));
        if (!spec.shard.isEmpty()) { // after the cohort (and its sample): the shards partition it
            const size_t cohortUsers = s.users.size();
            s.users = usersOfShard(s.users, ds, parseShard(spec.shard));
            if (s.users.empty())
                throw Error(QStringLiteral("shard %1 holds none of the %2 users of cohort %3")
                                .arg(spec.shard)
                                .arg(cohortUsers)
                                .arg(c.name()));
        }
        return s;
    }

    ExperimentProjection project(const Workspace& ws, const ExperimentSpec& spec, qint64 users,
        const std::function<qint64(const ExperimentArm&)>& remaining)
    {
        ExperimentProjection p;
        p.users = users;
        p.usd = 0.0;
        const rerank::PriceTable prices = rerank::PriceTable::loadWithOverride();
        for (const ExperimentArm& arm : spec.arms) {
            ArmProjection a;
            a.arm = arm.name;
            a.users = users;
            a.usd = 0.0;
            const qint64 jobs = remaining(arm);
            if (arm.spec.reranks() && !arm.spec.isOffline() && jobs > 0) {
                const auto profile = rerank::store::findEndpoint(ws, arm.spec.rerank);
                if (!profile)
                    throw Error(QStringLiteral("arm '%1': no endpoint '%2' in %3 (see 'recwb-cli endpoints list')")
                                    .arg(arm.name, arm.spec.rerank, ws.path()));
                const RunProjection r = projectRun({ *profile }, prices, jobs, arm.spec.candidates, std::nullopt);
                a.calls = r.calls;
                a.usd = r.usd;
                a.inputTokens = r.calls
                    * (static_cast<qint64>(RunProjection::kInputTokensPerCandidate) * arm.spec.candidates
                        + RunProjection::kInputTokensOverhead);
                a.outputTokens = r.calls * profile->maxOutputTokens;
            }
            p.calls += a.calls;
            if (!a.usd)
                p.usd.reset();
            else if (p.usd)
                *p.usd += *a.usd;
            p.arms.push_back(a);
        }
        return p;
    }

    QString rowKey(const QString& arm, int repeat, const QString& user)
    {
        return arm + u'\x1f' + QString::number(repeat) + u'\x1f' + user;
    }

} // namespace

ExperimentProjection projectExperiment(const Workspace& ws, const Dataset& ds, const ExperimentSpec& spec)
{
    const Setup s = makeSetup(ds, spec);
    const auto users = static_cast<qint64>(s.users.size());
    return project(ws, spec, users, [users](const ExperimentArm& a) { return users * a.repeats; });
}

// ---------------------------------------------------------------- the runner

struct ExperimentRun::Prepared {
    quint64 generation = 0;
    QString error;
    std::shared_ptr<Setup> setup;
    std::vector<ArmModel> models; // per arm
    ExperimentProjection projection;
    qint64 id = 0;
    int resumedRows = 0;
    QSet<QString> done; // rowKey of the stored rows
};

// The run's one connection to the workspace, opened and used only on the pool's single
// thread (which never expires): a connection per chunk would open the file again and again
// while the service's connection holds its locks.
struct ExperimentRun::Writer {
    std::unique_ptr<Workspace> ws;
    QString outPath; // ExperimentRunOptions::outputPath
    std::unique_ptr<Workspace> out;
    Workspace* open(const QString& path)
    {
        if (!ws)
            ws = Workspace::open(path);
        return ws.get();
    }
    // Where the experiment and its rows are stored: the workspace, or a shard's own file.
    Workspace* store(const QString& path)
    {
        if (outPath.isEmpty())
            return open(path);
        if (!out)
            out = Workspace::open(outPath, Workspace::Mode::CreateOrOpen);
        return out.get();
    }
    void close()
    {
        out.reset();
        ws.reset();
    }
};

struct ExperimentRun::Task {
    size_t arm = 0;
    int repeat = 0;
    std::vector<int32_t> users;
};

ExperimentRun::ExperimentRun(
    RerankService& service, QString workspacePath, std::shared_ptr<const Dataset> dataset, QObject* parent)
    : QObject(parent)
    , m_service(service)
    , m_path(std::move(workspacePath))
    , m_dataset(std::move(dataset))
    , m_pool(new QThreadPool(this))
{
    qRegisterMetaType<recwb::pipeline::ExperimentProjection>();
    qRegisterMetaType<recwb::pipeline::ExperimentResult>();
    m_pool->setMaxThreadCount(1); // preparation, chunk writes and the summary, in order
    m_pool->setExpiryTimeout(-1); // one thread for the run's connection (Writer)
    connect(&m_service, &RerankService::jobFinished, this, &ExperimentRun::onJobFinished);
    connect(&m_service, &RerankService::jobPaused, this, [this](quint64 job, const QString& why) {
        if (m_jobs.contains(job))
            emit paused(why);
    });
}

ExperimentRun::~ExperimentRun()
{
    ++m_generation;
    for (auto it = m_jobs.cbegin(); it != m_jobs.cend(); ++it)
        m_service.cancel(it.key());
    if (m_writer) // closed on its own thread, after the writes of finished chunks landed
        (void)QtConcurrent::run(m_pool, [writer = std::move(m_writer)] { writer->close(); });
    m_pool->waitForDone(); // the experiment stays resumable
}

void ExperimentRun::start(ExperimentSpec spec, ExperimentRunOptions options)
{
    if (m_running)
        cancel();
    const quint64 generation = ++m_generation;
    m_spec = std::move(spec);
    m_options = options;
    m_running = true;
    m_canceling = false;
    m_error.clear();
    m_tasks.clear();
    m_nextTask = 0;
    m_jobs.clear();
    m_done = m_total = m_storing = 0;
    m_rows.clear();
    m_spentUsd = 0;
    m_id = 0;
    m_startedMs = QDateTime::currentMSecsSinceEpoch();

    auto watcher = new QFutureWatcher<std::shared_ptr<Prepared>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher] {
        watcher->deleteLater();
        const auto p = watcher->result();
        if (p->generation == m_generation)
            onPrepared(p);
    });
    m_writer = std::make_shared<Writer>();
    m_writer->outPath = options.outputPath;
    watcher->setFuture(QtConcurrent::run(
        m_pool, [path = m_path, dataset = m_dataset, spec = m_spec, options, generation, writer = m_writer]() {
            auto p = std::make_shared<Prepared>();
            p->generation = generation;
            try {
                Workspace* ws = writer->open(path);
                Workspace* store = writer->store(path);
                p->setup = std::make_shared<Setup>(makeSetup(*dataset, spec));
                const Setup& s = *p->setup;
                QStringList userIds;
                for (const int32_t u : s.users)
                    userIds << dataset->users[static_cast<size_t>(u)].externalId;
                qint64 resume = options.resumeId;
                if (resume == 0 && options.autoResume)
                    resume = experimentstore::findUnfinished(*store, spec).value_or(0);
                if (resume > 0) {
                    const ExperimentResult stored = experimentstore::loadRows(*store, resume);
                    if (stored.status == u"finished")
                        throw Error(QStringLiteral("experiment %1 is finished; nothing to resume").arg(resume));
                    if (stored.spec.toJson() != spec.toJson())
                        throw Error(QStringLiteral("experiment %1 was run with another spec (\"%2\"); it cannot be "
                                                   "resumed with this one")
                                        .arg(resume)
                                        .arg(stored.spec.name));
                    if (stored.users != userIds)
                        throw Error(QStringLiteral("experiment %1: its users differ from this workspace's cohort "
                                                   "(the data changed?); start a new experiment")
                                        .arg(resume));
                    for (const UserRow& r : stored.rows)
                        p->done.insert(rowKey(r.arm, r.repeat, r.userId));
                    p->resumedRows = static_cast<int>(stored.rows.size());
                }
                const auto users = static_cast<qint64>(s.users.size());
                p->projection = project(*ws, spec, users, [&](const ExperimentArm& a) {
                    qint64 left = 0;
                    for (int rep = 0; rep < a.repeats; ++rep)
                        for (const QString& id : userIds)
                            left += p->done.contains(rowKey(a.name, rep, id)) ? 0 : 1;
                    return left;
                });
                const std::optional<double> cap = options.maxCostUsd ? options.maxCostUsd : spec.maxCostUsd;
                if (const QString over = p->projection.overCap(cap); !over.isEmpty())
                    throw Error(QStringLiteral("refused before any call: %1").arg(over));
                if (options.ceiling) {
                    RunProjection r;
                    r.calls = p->projection.calls;
                    r.usd = p->projection.usd;
                    if (const QString over = r.exceeds(*options.ceiling); !over.isEmpty())
                        throw Error(QStringLiteral("refused before any call: this experiment may make %1; confirm "
                                                   "with --yes, or set a max_cost")
                                        .arg(over));
                }
                std::vector<ArmSpec> arms;
                for (const ExperimentArm& a : spec.arms)
                    arms.push_back(a.spec);
                p->models = resolveArmModels(*ws, *s.train, arms, true);
                if (resume > 0) {
                    experimentstore::markRunning(*store, resume);
                    p->id = resume;
                } else {
                    p->id = experimentstore::create(*store, spec, userIds, dataset->numItems());
                }
            } catch (const Error& e) {
                p->error = e.message();
            } catch (const std::exception& e) {
                p->error = QString::fromLocal8Bit(e.what());
            }
            return p;
        }));
}

void ExperimentRun::onPrepared(const std::shared_ptr<Prepared>& p)
{
    if (!p->error.isEmpty()) {
        m_running = false;
        emit failed(p->error);
        return;
    }
    m_prepared = p;
    m_projection = p->projection;
    m_id = p->id;
    emit projected(m_projection);
    const Setup& s = *p->setup;
    const auto chunk = static_cast<size_t>(std::max(1, m_spec.chunkSize));
    for (size_t a = 0; a < m_spec.arms.size(); ++a) {
        const ExperimentArm& arm = m_spec.arms[a];
        for (int rep = 0; rep < arm.repeats; ++rep) {
            Task t { a, rep, {} };
            for (const int32_t u : s.users) {
                ++m_total;
                if (p->done.contains(rowKey(arm.name, rep, m_dataset->users[static_cast<size_t>(u)].externalId))) {
                    ++m_done;
                    continue;
                }
                t.users.push_back(u);
                if (t.users.size() == chunk) {
                    m_tasks.push_back(t);
                    t.users.clear();
                }
            }
            if (!t.users.empty())
                m_tasks.push_back(std::move(t));
        }
    }
    emit started(m_id, p->resumedRows);
    emit progress(m_done, m_total);
    pump();
}

void ExperimentRun::pump()
{
    if (!m_running || !m_prepared)
        return;
    const std::optional<double> cap = m_options.maxCostUsd ? m_options.maxCostUsd : m_spec.maxCostUsd;
    const int limit = cap ? 1 : std::max(1, m_options.jobsInFlight);
    while (!m_canceling && m_error.isEmpty() && m_jobs.size() < limit && m_nextTask < m_tasks.size()) {
        const size_t index = m_nextTask++;
        const Task& t = m_tasks[index];
        const ExperimentArm& arm = m_spec.arms[t.arm];
        const ArmModel& model = m_prepared->models[t.arm];
        RerankRequest r;
        r.dataset = m_prepared->setup->train;
        r.cfModel = model.cf;
        r.coldThreshold = m_spec.coldThreshold;
        r.source = model.coldStart ? CandidateSource::ColdStart : arm.source;
        r.users = t.users;
        if (!arm.spec.prompt.isEmpty())
            r.options.prompt = arm.spec.prompt;
        r.options.cascade = QStringList { arm.spec.reranks() ? arm.spec.rerank : QStringLiteral("none") };
        r.options.k = arm.spec.k;
        r.options.candidates = arm.spec.candidates;
        r.options.routing = arm.routingPolicy();
        r.options.bypassCache = t.repeat > 0; // a repeat is a fresh sample
        r.options.storeRun = false;
        r.options.seed = static_cast<quint64>(t.repeat) + 1;
        if (cap)
            r.options.maxCostUsd = std::max(0.0, *cap - m_spentUsd);
        m_jobs.insert(m_service.submit(std::move(r)), index);
    }
    if (m_jobs.isEmpty() && (m_canceling || !m_error.isEmpty() || m_nextTask >= m_tasks.size()) && m_storing == 0)
        complete(m_canceling        ? QStringLiteral("canceled")
                : m_error.isEmpty() ? QStringLiteral("finished")
                                    : QStringLiteral("failed"),
            m_error);
}

void ExperimentRun::onJobFinished(quint64 job, const RerankReply& reply)
{
    const auto it = m_jobs.find(job);
    if (it == m_jobs.end() || !m_prepared)
        return;
    const Task& task = m_tasks[*it];
    m_jobs.erase(it);
    const ExperimentArm& arm = m_spec.arms[task.arm];
    const Setup& s = *m_prepared->setup;
    const BatchReport& report = reply.report;
    if (!report.error.isEmpty() && !report.canceled && m_error.isEmpty())
        m_error = QStringLiteral("arm '%1': %2").arg(arm.name, report.error);
    if (report.canceled && !m_canceling && m_error.isEmpty())
        m_error = report.error.isEmpty() ? QStringLiteral("arm '%1': the rerank job was canceled").arg(arm.name)
                                         : QStringLiteral("arm '%1': %2").arg(arm.name, report.error);
    std::vector<UserRow> rows;
    const size_t nk = m_spec.ks.size();
    for (const RerankOutcome& o : report.outcomes) {
        const int32_t u = s.train->userIndex(o.userId);
        if (u < 0)
            continue;
        UserRow row;
        row.arm = arm.name;
        row.repeat = task.repeat;
        row.userId = o.userId;
        row.user = u;
        row.cold = s.cold[static_cast<size_t>(u)] != 0;
        row.longTail = s.longTail[static_cast<size_t>(u)] != 0;
        row.trainCount = s.split.train.rowLength(u);
        std::vector<int32_t> list;
        for (const rerank::RankedItem& item : o.result.items) {
            if (static_cast<int>(list.size()) >= arm.spec.k)
                break;
            const int32_t i = item.item >= 0 ? item.item : s.train->itemIndex(item.externalId);
            if (i < 0 || std::find(list.begin(), list.end(), i) != list.end())
                continue;
            list.push_back(i);
            row.items << s.train->items[static_cast<size_t>(i)].externalId;
        }
        const auto& test = s.split.test[static_cast<size_t>(u)];
        row.metrics.resize(nk);
        for (size_t j = 0; j < nk; ++j) {
            const int k = m_spec.ks[j];
            const eval::Accuracy acc = eval::accuracyAtK(list, test, k);
            auto& m = row.metrics[j];
            m[static_cast<size_t>(eval::Metric::HR)] = acc.hr;
            m[static_cast<size_t>(eval::Metric::Recall)] = acc.recall;
            m[static_cast<size_t>(eval::Metric::NDCG)] = acc.ndcg;
            m[static_cast<size_t>(eval::Metric::MRR)] = acc.mrr;
            m[static_cast<size_t>(eval::Metric::ILD)] = eval::ildAtK(list, k, s.train->items);
            m[static_cast<size_t>(eval::Metric::Novelty)] = eval::noveltyAtK(list, k, s.pop);
        }
        row.answeredBy = o.answeredBy();
        row.fallback = o.fallback();
        row.routedCf = o.route == u"confident";
        row.llmCalled = o.llmCalled();
        for (const rerank::Defect& d : o.result.defects)
            row.defects << d.kind;
        row.tokensIn = o.usage.inputTokens;
        row.tokensOut = o.usage.outputTokens;
        row.cost = o.cost;
        if (!o.llmCalled() && !row.cost)
            row.cost = 0.0;
        row.cacheHit = o.cacheHit;
        row.stageMs = o.stageMs;
        row.outcome = o.toJson();
        if (o.cost)
            m_spentUsd += *o.cost;
        rows.push_back(std::move(row));
    }
    m_done += static_cast<int>(rows.size());
    m_rows.insert(m_rows.end(), rows.begin(), rows.end());
    if (!rows.empty()) {
        ++m_storing;
        auto watcher = new QFutureWatcher<QString>(this);
        const quint64 generation = m_generation;
        connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
            watcher->deleteLater();
            if (generation != m_generation)
                return;
            --m_storing;
            if (const QString e = watcher->result(); !e.isEmpty() && m_error.isEmpty())
                m_error = e;
            pump();
        });
        watcher->setFuture(QtConcurrent::run(
            m_pool, [path = m_path, writer = m_writer, id = m_id, rows = std::move(rows)]() -> QString {
                try {
                    experimentstore::addRows(*writer->store(path), id, rows);
                    return {};
                } catch (const Error& e) {
                    return e.message();
                }
            }));
    }
    emit progress(m_done, m_total);
    if (!m_error.isEmpty())
        for (auto j = m_jobs.cbegin(); j != m_jobs.cend(); ++j)
            m_service.cancel(j.key());
    pump();
}

void ExperimentRun::cancel()
{
    if (!m_running)
        return;
    if (!m_prepared) { // still preparing: nothing was sent
        ++m_generation;
        m_running = false;
        emit failed(QStringLiteral("canceled before any call"));
        return;
    }
    m_canceling = true;
    for (auto it = m_jobs.cbegin(); it != m_jobs.cend(); ++it)
        m_service.cancel(it.key()); // their jobFinished (canceled) follow
    pump();
}

void ExperimentRun::complete(const QString& status, const QString& error)
{
    if (m_finishing)
        return;
    m_finishing = true;
    const double wall = static_cast<double>(QDateTime::currentMSecsSinceEpoch() - m_startedMs) / 1000.0;
    const quint64 generation = m_generation;
    auto watcher = new QFutureWatcher<std::shared_ptr<ExperimentResult>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation, status, error] {
        watcher->deleteLater();
        if (generation != m_generation)
            return;
        m_running = false;
        m_finishing = false;
        m_prepared.reset();
        const auto result = watcher->result();
        if (status == u"failed" || !result)
            emit failed(error.isEmpty() ? QStringLiteral("the experiment could not be stored") : error);
        else
            emit finished(*result);
    });
    // Without resumed rows, the rows of this run are the whole experiment: no need to read them back.
    watcher->setFuture(QtConcurrent::run(m_pool,
        [path = m_path, id = m_id, status, error, wall, dataset = m_dataset, resumed = m_prepared->resumedRows,
            rows = std::move(m_rows), writer = m_writer]() mutable -> std::shared_ptr<ExperimentResult> {
            const auto close = qScopeGuard([&writer] { writer->close(); });
            try {
                Workspace* ws = writer->store(path);
                experimentstore::finish(*ws, id, status, wall, error);
                auto r = std::make_shared<ExperimentResult>(
                    experimentstore::loadRows(*ws, id, dataset.get(), resumed > 0));
                if (resumed == 0)
                    r->rows = std::move(rows);
                summarize(*r);
                r->resumedUsers = resumed;
                return r;
            } catch (const Error&) {
                return nullptr;
            }
        }));
}

} // namespace recwb::pipeline
