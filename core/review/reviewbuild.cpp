#include "review/review.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/workspace.h"
#include "eval/random.h"
#include "eval/split.h"
#include "eval/usersplit.h"
#include "pipeline/ceiling.h"
#include "pipeline/comparearms.h"
#include "pipeline/rerankservice.h"
#include "rerank/prices.h"
#include "rerank/store.h"
#include "util/error.h"
#include "util/taskpool.h"

#include <QFutureWatcher>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>

namespace recwb::review {

// What the candidates with their sources and the ground truth are computed from: the same
// training data, model and blend the reranker used.
struct QueueBuilder::Material {
    quint64 generation = 0;
    QString error;
    std::shared_ptr<const Dataset> train; // simulated: the split's train part; real: the workspace's data
    pipeline::ArmModel model;
    std::shared_ptr<const coldstart::ColdStartRecommender> blend;
    std::vector<int32_t> users; // real cold users: the queue's users (dataset indices)
    std::vector<std::vector<int32_t>> truth; // simulated: per dataset user, the held-out items
    qint64 queueId = 0;
};

namespace {

    pipeline::ArmSpec armOf(const QueueSpec& spec)
    {
        pipeline::ArmSpec a = pipeline::ArmSpec::parse(spec.arm);
        a.k = spec.k;
        a.candidates = std::max(a.candidates, a.k);
        return a;
    }

    // Item ids of `items`, oldest first by the timestamps of `ds`'s row of `user`.
    QStringList byTime(const Dataset& ds, int32_t user, std::vector<int32_t> items)
    {
        const auto row = ds.userItems.row(user);
        const auto ts = ds.userItems.rowTimestamps(user);
        auto timeOf = [&](int32_t item) -> int64_t {
            const auto it = std::lower_bound(row.begin(), row.end(), item);
            return it != row.end() && *it == item && !ts.empty() ? ts[static_cast<size_t>(it - row.begin())] : 0;
        };
        std::stable_sort(items.begin(), items.end(), [&](int32_t a, int32_t b) {
            const int64_t ta = timeOf(a);
            const int64_t tb = timeOf(b);
            return ta != tb ? ta < tb : a < b;
        });
        QStringList out;
        for (const int32_t i : items)
            out << ds.items[static_cast<size_t>(i)].externalId;
        return out;
    }

    std::shared_ptr<QueueBuilder::Material> prepare(const Workspace& ws, const std::shared_ptr<const Dataset>& ds,
        const QueueSpec& spec, std::shared_ptr<QueueBuilder::Material> m,
        const pipeline::ExperimentRunOptions* options = nullptr)
    {
        const pipeline::ArmSpec arm = armOf(spec);
        if (spec.simulated()) {
            eval::Split split = eval::makeSplit(*ds, eval::SplitSpec::parse(spec.source), spec.seed);
            m->truth = std::move(split.test);
            m->train = eval::datasetWithInteractions(*ds, std::move(split.train));
        } else {
            m->train = ds;
            std::vector<int32_t> cold;
            for (int32_t u = 0; u < ds->numUsers(); ++u)
                if (ds->isCold(u, spec.coldThreshold) && !ds->users[static_cast<size_t>(u)].isSynthetic())
                    cold.push_back(u);
            m->users = spec.sample > 0
                ? eval::seededSample(std::move(cold), static_cast<size_t>(spec.sample), spec.seed)
                : std::move(cold);
            if (m->users.empty())
                throw Error(QStringLiteral("%1 has no cold users (fewer than %2 interactions); build a queue of "
                                           "simulated cold users (cold@N) instead")
                                .arg(ws.path())
                                .arg(spec.coldThreshold));
            // The confirmation ceiling and the cap, before anything is trained or sent.
            if (options && arm.reranks() && !arm.isOffline()) {
                const rerank::EndpointProfile profile = rerank::store::getEndpoint(ws, arm.rerank);
                const pipeline::RunProjection p
                    = pipeline::projectRun({ profile }, rerank::PriceTable::loadWithOverride(),
                        static_cast<qint64>(m->users.size()), arm.candidates, options->maxCostUsd);
                if (options->ceiling)
                    if (const QString over = p.exceeds(*options->ceiling); !over.isEmpty())
                        throw Error(QStringLiteral("refused before any call: %1").arg(over));
            }
        }
        m->model = pipeline::resolveArmModels(ws, *m->train, { arm }, spec.simulated()).front();
        coldstart::ColdStartConfig cfg;
        cfg.threshold = spec.coldThreshold;
        auto blend = std::make_shared<coldstart::ColdStartRecommender>(cfg);
        blend->fit(*m->train, m->train->userItems, m->model.cf);
        m->blend = std::move(blend);
        return m;
    }

    QueueUser materialFor(const QueueBuilder::Material& m, const Dataset& ds, const QueueSpec& spec, int32_t u,
        const QJsonObject& outcome)
    {
        const Dataset& train = *m.train;
        QueueUser q;
        q.userId = ds.users[static_cast<size_t>(u)].externalId;
        const auto row = train.userItems.row(u);
        q.known = static_cast<int>(row.size());
        q.knownItems = byTime(train, u, { row.begin(), row.end() });
        if (static_cast<size_t>(u) < m.truth.size())
            q.truth = byTime(ds, u, m.truth[static_cast<size_t>(u)]);
        q.profile = ds.users[static_cast<size_t>(u)].attributes;
        const coldstart::ColdUser cu = m.blend->userFromDataset(train, train.userItems, u);
        for (const int32_t c : cu.statedCategories)
            q.statedCategories << ds.categories.value(c);
        const int n = armOf(spec).candidates;
        const bool cold = m.model.coldStart || train.isCold(u, spec.coldThreshold);
        auto titleOf = [&](int32_t item) { return ds.items[static_cast<size_t>(item)].title; };
        if (cold) {
            for (const coldstart::ColdCandidate& c : m.blend->recommend(cu, n))
                q.candidates.push_back({ ds.items[static_cast<size_t>(c.item)].externalId, titleOf(c.item), c.score,
                    coldstart::sourceName(c.source) });
        } else {
            for (const cf::ScoredItem& s : cf::recommend(*m.model.cf, cf::History::ofUser(train.userItems, u), n))
                q.candidates.push_back({ ds.items[static_cast<size_t>(s.item)].externalId, titleOf(s.item), s.score,
                    QStringLiteral("cf") });
        }
        q.outcome = outcome;
        return q;
    }

    pipeline::ExperimentSpec experimentOf(const QueueSpec& spec)
    {
        pipeline::ExperimentSpec e;
        e.name = QStringLiteral("review queue: %1").arg(spec.name);
        e.split = spec.source;
        e.seed = spec.seed;
        if (spec.sample > 0) {
            e.cohort.kind = pipeline::CohortSpec::Kind::Sample;
            e.cohort.sample = spec.sample;
            e.cohort.of = pipeline::CohortSpec::Kind::All;
        }
        e.ks = { spec.k };
        e.coldThreshold = spec.coldThreshold;
        const pipeline::ArmSpec arm = armOf(spec);
        QString text = arm.toString();
        e.arms.push_back(pipeline::ExperimentArm::parse(
            QStringLiteral("review"), text + QStringLiteral(",source=auto"), 1, e.ks, QStringLiteral("review queue")));
        return e;
    }

} // namespace

QueueBuilder::QueueBuilder(
    pipeline::RerankService& service, QString workspacePath, std::shared_ptr<const Dataset> dataset, QObject* parent)
    : QObject(parent)
    , m_service(service)
    , m_path(std::move(workspacePath))
    , m_dataset(std::move(dataset))
{
    connect(&m_service, &pipeline::RerankService::jobProgress, this, [this](quint64 job, int done, int total) {
        if (job == m_job && m_running) {
            m_jobDone = done;
            m_jobTotal = total;
            emit progress(done, total, tr("Reranking"));
        }
    });
    connect(&m_service, &pipeline::RerankService::jobPaused, this, [this](quint64 job, const QString& why) {
        if (job == m_job && m_running)
            emit progress(m_jobDone, m_jobTotal, why.isEmpty() ? tr("Reranking") : tr("Paused: %1").arg(why));
    });
    connect(&m_service, &pipeline::RerankService::jobFinished, this,
        [this](quint64 job, const pipeline::RerankReply& reply) {
            if (job != m_job || !m_running)
                return;
            m_job = 0;
            const pipeline::BatchReport& r = reply.report;
            if (m_canceled || r.canceled) {
                fail(tr("canceled"));
                return;
            }
            if (!r.error.isEmpty()) {
                fail(r.error);
                return;
            }
            std::vector<std::pair<QString, QJsonObject>> outcomes;
            for (const pipeline::RerankOutcome& o : r.outcomes)
                outcomes.emplace_back(o.userId, o.toJson());
            onRerankDone(0, std::move(outcomes));
        });
}

QueueBuilder::~QueueBuilder()
{
    if (m_job)
        m_service.cancel(m_job);
}

void QueueBuilder::start(QueueSpec spec, pipeline::ExperimentRunOptions options)
{
    const quint64 generation = ++m_generation;
    m_spec = std::move(spec);
    m_options = std::move(options);
    m_canceled = false;
    m_stop = std::make_shared<std::atomic<bool>>(false);
    m_running = true;
    m_material.reset();
    try {
        m_spec.validate();
        if (pipeline::ArmSpec::parse(m_spec.arm).storedRun())
            throw Error(QStringLiteral("review queue: a stored run (cf=run:ID) cannot build a queue"));
    } catch (const Error& e) {
        QMetaObject::invokeMethod(
            this,
            [this, generation, msg = e.message()] {
                if (generation == m_generation)
                    fail(msg);
            },
            Qt::QueuedConnection);
        return;
    }
    emit progress(0, 0, tr("Preparing"));
    if (m_spec.simulated()) {
        delete m_experiment;
        m_experiment = new pipeline::ExperimentRun(m_service, m_path, m_dataset, this);
        connect(m_experiment, &pipeline::ExperimentRun::projected, this, &QueueBuilder::projected);
        connect(m_experiment, &pipeline::ExperimentRun::progress, this,
            [this](int done, int total) { emit progress(done, total, tr("Reranking")); });
        connect(m_experiment, &pipeline::ExperimentRun::failed, this, [this](const QString& m) { fail(m); });
        connect(
            m_experiment, &pipeline::ExperimentRun::finished, this, [this](const pipeline::ExperimentResult& result) {
                if (!m_running)
                    return;
                if (result.status != u"finished") {
                    fail(result.error.isEmpty() ? tr("the rerank was %1").arg(result.status) : result.error);
                    return;
                }
                std::vector<std::pair<QString, QJsonObject>> outcomes;
                for (const pipeline::UserRow& r : result.rows)
                    if (r.repeat == 0)
                        outcomes.emplace_back(r.userId, r.outcome);
                // The cohort's order (ascending user index), whatever order the chunks finished in.
                QHash<QString, int> order;
                for (int i = 0; i < result.users.size(); ++i)
                    order.insert(result.users[i], i);
                std::sort(outcomes.begin(), outcomes.end(),
                    [&](const auto& a, const auto& b) { return order.value(a.first) < order.value(b.first); });
                onRerankDone(result.id, std::move(outcomes));
            });
        m_experiment->start(experimentOf(m_spec), m_options);
        return;
    }
    // Real cold users: the model and blend first (a worker), then one rerank job.
    auto watcher = new QFutureWatcher<std::shared_ptr<Material>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        const std::shared_ptr<Material> m = watcher->result();
        if (generation != m_generation || !m_running)
            return;
        if (!m->error.isEmpty()) {
            fail(m->error);
            return;
        }
        if (m_canceled) {
            fail(tr("canceled"));
            return;
        }
        m_material = m;
        const pipeline::ArmSpec arm = armOf(m_spec);
        pipeline::RerankRequest r;
        r.dataset = m->train;
        r.cfModel = m->model.cf;
        r.coldStart = m->blend;
        r.coldThreshold = m_spec.coldThreshold;
        r.source = m->model.coldStart ? pipeline::CandidateSource::ColdStart : pipeline::CandidateSource::Auto;
        r.users = m->users;
        if (!arm.prompt.isEmpty())
            r.options.prompt = arm.prompt;
        r.options.cascade = QStringList { arm.reranks() ? arm.rerank : QStringLiteral("none") };
        r.options.k = arm.k;
        r.options.candidates = arm.candidates;
        r.options.storeRun = false;
        if (m_options.maxCostUsd)
            r.options.maxCostUsd = m_options.maxCostUsd;
        m_jobDone = 0;
        m_jobTotal = static_cast<int>(r.users.size());
        m_job = m_service.submit(std::move(r));
    });
    watcher->setFuture(
        QtConcurrent::run(taskPool(), [path = m_path, ds = m_dataset, spec = m_spec, options = m_options, generation] {
            auto m = std::make_shared<Material>();
            m->generation = generation;
            try {
                const auto ws = Workspace::open(path);
                prepare(*ws, ds, spec, m, &options);
            } catch (const Error& e) {
                m->error = e.message();
            } catch (const std::exception& e) {
                m->error = QString::fromLocal8Bit(e.what());
            }
            return m;
        }));
}

void QueueBuilder::cancel()
{
    if (!m_running)
        return;
    m_canceled = true;
    m_stop->store(true);
    if (m_experiment && m_experiment->isRunning())
        m_experiment->cancel();
    if (m_job)
        m_service.cancel(m_job);
}

void QueueBuilder::fail(const QString& message)
{
    if (!m_running)
        return;
    m_running = false;
    m_job = 0;
    emit failed(message);
}

void QueueBuilder::onRerankDone(qint64 experimentId, std::vector<std::pair<QString, QJsonObject>> outcomes)
{
    if (m_canceled) {
        fail(tr("canceled"));
        return;
    }
    emit progress(0, 0, tr("Storing the queue"));
    const quint64 generation = m_generation;
    auto watcher = new QFutureWatcher<std::pair<qint64, QString>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        const auto [id, error] = watcher->result();
        if (generation != m_generation || !m_running)
            return;
        if (!error.isEmpty()) {
            fail(error);
            return;
        }
        m_running = false;
        emit finished(id);
    });
    watcher->setFuture(QtConcurrent::run(taskPool(),
        [path = m_path, ds = m_dataset, spec = m_spec, material = m_material, stop = m_stop, experimentId,
            outcomes = std::move(outcomes)]() mutable {
            qint64 id = 0;
            try {
                const auto ws = Workspace::open(path);
                auto m = material ? material : prepare(*ws, ds, spec, std::make_shared<Material>());
                std::vector<QueueUser> users;
                users.reserve(outcomes.size());
                for (auto& [userId, outcome] : outcomes) {
                    const int32_t u = ds->userIndex(userId);
                    if (u < 0)
                        throw Error(
                            QStringLiteral("review queue: the rerank answered for an unknown user '%1'").arg(userId));
                    QueueUser q = materialFor(*m, *ds, spec, u, outcome);
                    q.position = static_cast<int>(users.size());
                    users.push_back(std::move(q));
                }
                if (users.empty())
                    throw Error(QStringLiteral("review queue: no user to review (%1)").arg(spec.describe()));
                // The queue, its users and "ready" in one transaction: a kill leaves no half queue.
                Transaction tx(*ws);
                id = store::createQueue(*ws, spec);
                store::addUsers(*ws, id, users);
                store::finishQueue(*ws, id, QStringLiteral("ready"), {}, experimentId);
                // Canceled while storing: roll back. A cancel after the commit comes too late;
                // the queue is whole and reported as finished.
                if (stop->load())
                    return std::pair<qint64, QString>(0, QStringLiteral("canceled"));
                tx.commit();
                return std::pair<qint64, QString>(id, {});
            } catch (const Error& e) {
                return std::pair<qint64, QString>(0, e.message());
            } catch (const std::exception& e) {
                return std::pair<qint64, QString>(0, QString::fromLocal8Bit(e.what()));
            }
        }));
}

} // namespace recwb::review
