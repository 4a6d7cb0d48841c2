#include "pipeline/comparerun.h"

#include "data/dataset.h"
#include "data/workspace.h"
#include "eval/usersplit.h"
#include "pipeline/rerankservice.h"
#include "rerank/store.h"
#include "util/error.h"
#include "util/taskpool.h"

#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

namespace recwb::pipeline {

CompareColumn CompareColumn::ofArm(ArmSpec a)
{
    const qint64 run = a.storedRun().value_or(0);
    return { std::move(a), run };
}

struct CompareRun::Prepared {
    quint64 generation = 0;
    QString error;
    int32_t user = -1;
    std::optional<eval::UserSplit> split;
    std::shared_ptr<const Dataset> data; // what the models and prompts see
    std::vector<ArmModel> models; // per column; empty for stored runs
    std::vector<std::optional<ArmResult>> stored; // per column: a stored run's result
    QHash<QString, ArmModel> cache; // the run's cache after resolving
};

CompareRun::CompareRun(
    RerankService& service, QString workspacePath, std::shared_ptr<const Dataset> dataset, QObject* parent)
    : QObject(parent)
    , m_service(service)
    , m_path(std::move(workspacePath))
    , m_dataset(std::move(dataset))
{
    connect(&m_service, &RerankService::jobFinished, this, &CompareRun::onJobFinished);
    connect(&m_service, &RerankService::jobProgress, this, [this](quint64 job, int done, int total) {
        for (size_t i = 0; i < m_jobs.size(); ++i)
            if (m_jobs[i] == job)
                emit columnProgress(static_cast<int>(i), done, total);
    });
}

CompareRun::~CompareRun()
{
    cancel();
}

bool CompareRun::columnDone(int column) const
{
    return column >= 0 && static_cast<size_t>(column) < m_done.size() && m_done[static_cast<size_t>(column)];
}

void CompareRun::start(
    const QString& userId, std::vector<CompareColumn> columns, std::optional<eval::SplitSpec> split, quint64 seed)
{
    cancel();
    const quint64 generation = ++m_generation;
    m_running = true;
    m_columns = std::move(columns);
    m_jobs.assign(m_columns.size(), 0);
    m_done.assign(m_columns.size(), 0);
    m_retried.assign(m_columns.size(), 0);
    m_comparison = Comparison {};
    m_comparison.userId = userId;
    m_comparison.split = split ? split->name() : QString();
    m_comparison.seed = split && split->usesSeed() ? std::optional<quint64>(seed) : std::nullopt;
    m_comparison.arms.resize(m_columns.size());
    for (size_t i = 0; i < m_columns.size(); ++i) {
        ArmResult& a = m_comparison.arms[i];
        const CompareColumn& c = m_columns[i];
        a.title = c.runId > 0 && c.arm.label.isEmpty() ? QStringLiteral("run %1").arg(c.runId) : c.arm.title();
        a.spec = c.arm.toString();
        a.k = c.arm.k;
    }

    auto watcher = new QFutureWatcher<std::shared_ptr<Prepared>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher] {
        watcher->deleteLater();
        const auto p = watcher->result();
        if (p->generation == m_generation)
            onPrepared(p);
    });
    watcher->setFuture(QtConcurrent::run(taskPool(),
        [path = m_path, dataset = m_dataset, cache = m_modelCache, columns = m_columns, userId, split, seed,
            generation]() {
            auto p = std::make_shared<Prepared>();
            p->generation = generation;
            p->cache = cache;
            try {
                const auto ws = Workspace::open(path);
                p->user = dataset->userIndex(userId);
                if (p->user < 0)
                    throw Error(QStringLiteral("%1: no user '%2'").arg(path, userId));
                p->data = dataset;
                QString splitKey = QStringLiteral("none");
                if (split) {
                    p->split = eval::makeUserSplit(*dataset, p->user, *split, seed);
                    p->data = p->split->train;
                    splitKey = split->name() + u'|' + QString::number(split->usesSeed() ? seed : 0);
                }
                p->models.resize(columns.size());
                p->stored.resize(columns.size());
                for (size_t i = 0; i < columns.size(); ++i) {
                    const CompareColumn& c = columns[i];
                    if (c.runId > 0) {
                        const auto run = rerank::store::findRun(*ws, c.runId);
                        if (!run)
                            throw Error(QStringLiteral("%1: no rerank run %2").arg(path).arg(c.runId));
                        ArmResult a;
                        a.error = QStringLiteral("run %1 has no result for user '%2'").arg(c.runId).arg(userId);
                        for (const auto& [id, result] : rerank::store::runResults(*ws, c.runId))
                            if (id == userId)
                                a = ArmResult::fromOutcomeJson(
                                    result, *dataset, c.arm.k, p->split ? &*p->split : nullptr);
                        a.note
                            = QStringLiteral("stored run %1: %2@%3 on %4")
                                  .arg(c.runId)
                                  .arg(run->promptName,
                                      run->promptVersion ? QString::number(*run->promptVersion) : QStringLiteral("?"),
                                      run->endpoint);
                        p->stored[i] = std::move(a);
                        continue;
                    }
                    const QString key
                        = splitKey + u'|' + (c.arm.isColdStart() ? QStringLiteral("coldstart") : c.arm.cf);
                    auto it = p->cache.find(key);
                    if (it == p->cache.end())
                        it = p->cache.insert(
                            key, resolveArmModels(*ws, *p->data, { c.arm }, split.has_value()).front());
                    p->models[i] = *it;
                }
            } catch (const Error& e) {
                p->error = e.message();
            } catch (const std::exception& e) {
                p->error = QString::fromLocal8Bit(e.what());
            }
            return p;
        }));
}

void CompareRun::onPrepared(const std::shared_ptr<Prepared>& p)
{
    if (!p->error.isEmpty()) {
        m_running = false;
        emit failed(p->error);
        return;
    }
    m_prepared = p;
    m_modelCache = p->cache;
    if (p->split) {
        for (const int32_t item : p->split->heldOut) {
            m_comparison.heldOutIds << m_dataset->items[static_cast<size_t>(item)].externalId;
            m_comparison.heldOutTitles << m_dataset->items[static_cast<size_t>(item)].title;
        }
    }
    std::vector<int> ready;
    for (size_t i = 0; i < m_columns.size(); ++i) {
        if (p->stored[i]) {
            const ArmResult header = m_comparison.arms[i];
            ArmResult& a = m_comparison.arms[i];
            a = std::move(*p->stored[i]);
            a.title = header.title;
            a.spec = header.spec;
            ready.push_back(static_cast<int>(i));
            continue;
        }
        const CompareColumn& c = m_columns[i];
        const ArmModel& m = p->models[i];
        m_comparison.arms[i].note = m.note;
        RerankRequest r;
        r.dataset = p->data;
        r.cfModel = m.cf;
        r.source = m.coldStart ? CandidateSource::ColdStart : CandidateSource::Cf;
        r.users = { p->user };
        if (!c.arm.prompt.isEmpty())
            r.options.prompt = c.arm.prompt;
        r.options.cascade = QStringList { c.arm.reranks() ? c.arm.rerank : QStringLiteral("none") };
        r.options.k = c.arm.k;
        r.options.candidates = c.arm.candidates;
        r.options.storeRun = false;
        m_jobs[i] = m_service.submit(std::move(r));
    }
    emit prepared();
    for (const int column : ready)
        finishColumn(column);
}

void CompareRun::onJobFinished(quint64 job, const RerankReply& reply)
{
    if (job == 0 || !m_prepared)
        return;
    const auto it = std::find(m_jobs.begin(), m_jobs.end(), job);
    if (it == m_jobs.end())
        return;
    const auto column = static_cast<size_t>(it - m_jobs.begin());
    m_jobs[column] = 0;
    ArmResult& a = m_comparison.arms[column];
    const eval::UserSplit* split = m_prepared->split ? &*m_prepared->split : nullptr;
    const BatchReport& report = reply.report;
    if (report.outcomes.empty() && !report.error.isEmpty() && !report.canceled && !m_retried[column]) {
        // Bad configuration (unknown endpoint or prompt): show the CF order with the reason.
        m_retried[column] = 1;
        a.error = report.error;
        const CompareColumn& c = m_columns[column];
        RerankRequest r;
        r.dataset = m_prepared->data;
        r.cfModel = m_prepared->models[column].cf;
        r.source = m_prepared->models[column].coldStart ? CandidateSource::ColdStart : CandidateSource::Cf;
        r.users = { m_prepared->user };
        r.options.cascade = QStringList { QStringLiteral("none") };
        r.options.k = c.arm.k;
        r.options.candidates = c.arm.candidates;
        r.options.storeRun = false;
        m_jobs[column] = m_service.submit(std::move(r));
        return;
    }
    const ArmResult header = a;
    if (!report.outcomes.empty())
        a = ArmResult::fromOutcomeJson(report.outcomes.front().toJson(), *m_dataset, header.k, split);
    if (!m_columns[column].arm.reranks())
        a.templateRef.clear(); // the CF order: no prompt was rendered
    a.title = header.title;
    a.spec = header.spec;
    a.note = header.note;
    a.k = header.k;
    a.canceled = report.canceled;
    if (!header.error.isEmpty()) {
        a.error = header.error;
        a.fallback = true;
        a.fallbackReason = header.error;
    } else if (!report.error.isEmpty()) {
        a.error = report.error;
    }
    finishColumn(static_cast<int>(column));
}

void CompareRun::finishColumn(int column)
{
    m_done[static_cast<size_t>(column)] = 1;
    emit columnFinished(column);
    if (std::all_of(m_done.begin(), m_done.end(), [](char d) { return d != 0; })) {
        m_comparison.computePairs();
        m_running = false;
        emit finished();
    }
}

void CompareRun::cancelColumn(int column)
{
    if (column < 0 || static_cast<size_t>(column) >= m_jobs.size())
        return;
    if (const quint64 job = m_jobs[static_cast<size_t>(column)])
        m_service.cancel(job); // jobFinished (canceled) follows
}

void CompareRun::cancel()
{
    ++m_generation; // a preparation still running is dropped
    const auto jobs = m_jobs;
    for (const quint64 job : jobs)
        if (job)
            m_service.cancel(job);
    m_jobs.assign(m_jobs.size(), 0);
    m_prepared.reset();
    m_running = false;
}

} // namespace recwb::pipeline
