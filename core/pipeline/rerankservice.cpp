#include "pipeline/rerankservice.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "rerank/llm/llmclient.h"
#include "util/error.h"

#include <QCoreApplication>
#include <QHash>
#include <QThread>
#include <QTimer>

#include <deque>

namespace recwb::pipeline {

// Lives in the service's thread; every member function runs there (queued from the
// service with QMetaObject::invokeMethod). Results go back through invokeMethod on the
// service, which drops them if the service is gone.
class RerankService::Worker final : public QObject {
public:
    explicit Worker(RerankService* service)
        : m_service(service)
    {
    }

    void open(const QString& path, const QString& outputPath)
    {
        closeWorkspace(QStringLiteral("the workspace was closed"));
        m_path = path;
        m_openError.clear();
        try {
            m_ws = Workspace::open(path);
            if (!outputPath.isEmpty())
                m_out = Workspace::open(outputPath, Workspace::Mode::CreateOrOpen);
        } catch (const Error& e) {
            m_openError = e.message();
            post([path, message = e.message()](RerankService* s) { emit s->openFailed(path, message); });
        }
        if (!m_client)
            m_client = std::make_unique<rerank::LlmClient>();
    }

    void close() { closeWorkspace(QStringLiteral("the workspace was closed")); }

    void submit(quint64 id, RerankRequest request)
    {
        auto job = std::make_unique<Job>();
        job->id = id;
        job->request = std::move(request);
        RerankRequest& r = job->request;
        r.options.source = r.source;
        if (r.draft)
            r.options.draft = r.draft;
        try {
            if (!m_ws)
                throw Error(m_openError.isEmpty()
                        ? QStringLiteral("rerank service: no workspace is open")
                        : QStringLiteral("rerank service: the workspace could not be opened: ") + m_openError);
            if (!r.dataset || !r.cfModel)
                throw Error(QStringLiteral("rerank service: a request needs a dataset and a CF model"));
            job->context = std::make_unique<PipelineContext>(*m_ws, *r.dataset, *r.cfModel, r.coldThreshold);
            job->context->setOutput(m_out.get());
            job->context->setColdStart(r.coldStart ? r.coldStart : keptColdStart(r));
            job->context->setFaithfulness(keptFaithfulness(r.dataset));
            job->batch = std::make_unique<BatchReranker>(*job->context, *m_client, r.options);
            BatchReranker* batch = job->batch.get();
            QObject::connect(batch, &BatchReranker::progress, this, [this, id](int done, int total) {
                post([id, done, total](RerankService* s) { emit s->jobProgress(id, done, total); });
            });
            QObject::connect(batch, &BatchReranker::paused, this, [this, id](const QString& why) {
                post([id, why](RerankService* s) { emit s->jobPaused(id, why); });
            });
            QObject::connect(batch, &BatchReranker::finished, this, [this, id] { finish(id); });
            m_jobs.emplace(id, std::move(job));
            if (r.whatIf)
                batch->start(*r.whatIf);
            else
                batch->start(r.users);
        } catch (const Error& e) {
            m_jobs.erase(id);
            RerankReply reply;
            reply.job = id;
            reply.report.error = e.message();
            deliver(std::move(reply));
        }
    }

    void cancel(quint64 id)
    {
        if (const auto it = m_jobs.find(id); it != m_jobs.end() && it->second->batch)
            it->second->batch->cancel(); // finished() follows from the event loop
    }

    void cancelAll()
    {
        for (auto& [id, job] : m_jobs)
            if (job->batch)
                job->batch->cancel();
    }

    // On the worker thread, before it stops: everything thread-bound goes here.
    void shutdown(QThread* home)
    {
        m_shuttingDown = true;
        m_jobs.clear(); // no reply: the service is going away
        m_kept.clear();
        m_checkers.clear();
        m_client.reset();
        m_out.reset();
        m_ws.reset();
        moveToThread(home);
    }

private:
    struct Job {
        quint64 id = 0;
        RerankRequest request;
        std::unique_ptr<PipelineContext> context;
        std::unique_ptr<BatchReranker> batch; // declared last: destroyed before the context it refers to
    };

    // Cold-start blends fitted by earlier jobs, kept with the model and dataset they were
    // fitted on (so a second request on the same model does not fit again).
    struct KeptBlend {
        std::shared_ptr<const Dataset> dataset;
        std::shared_ptr<const cf::Recommender> model;
        int threshold = 0;
        std::shared_ptr<const coldstart::ColdStartRecommender> blend;
    };
    static constexpr size_t kKeptBlends = 4;

    std::shared_ptr<const coldstart::ColdStartRecommender> keptColdStart(const RerankRequest& r) const
    {
        for (const KeptBlend& k : m_kept)
            if (k.dataset == r.dataset && k.model == r.cfModel && k.threshold == r.coldThreshold)
                return k.blend;
        return nullptr;
    }

    void keepColdStart(const Job& job)
    {
        const RerankRequest& r = job.request;
        auto blend = job.context->coldStartShared();
        if (!blend || r.coldStart || keptColdStart(r))
            return;
        m_kept.push_front({ r.dataset, r.cfModel, r.coldThreshold, std::move(blend) });
        if (m_kept.size() > kKeptBlends)
            m_kept.pop_back();
    }

    // The faithfulness index of a dataset, built once and shared by every job on it (the
    // checker refers to the dataset, so the dataset is kept with it).
    struct KeptChecker {
        std::shared_ptr<const Dataset> dataset;
        std::shared_ptr<const rerank::FaithfulnessChecker> checker;
    };

    std::shared_ptr<const rerank::FaithfulnessChecker> keptFaithfulness(const std::shared_ptr<const Dataset>& ds) const
    {
        for (const KeptChecker& k : m_checkers)
            if (k.dataset == ds)
                return k.checker;
        return nullptr;
    }

    void keepFaithfulness(const Job& job)
    {
        auto checker = job.context->faithfulnessShared();
        if (!checker || keptFaithfulness(job.request.dataset))
            return;
        m_checkers.push_front({ job.request.dataset, std::move(checker) });
        if (m_checkers.size() > kKeptBlends)
            m_checkers.pop_back();
    }

    void finish(quint64 id)
    {
        const auto it = m_jobs.find(id);
        if (it == m_jobs.end())
            return;
        RerankReply reply;
        reply.job = id;
        reply.report = it->second->batch->report();
        keepColdStart(*it->second);
        keepFaithfulness(*it->second);
        // The batch is inside its own finished() emission: destroy it on the next turn.
        std::shared_ptr<Job> done(it->second.release());
        m_jobs.erase(it);
        QTimer::singleShot(0, this, [done] {});
        deliver(std::move(reply));
    }

    void deliver(RerankReply reply)
    {
        if (m_shuttingDown)
            return;
        post([reply = std::move(reply)](RerankService* s) {
            --s->m_running;
            emit s->jobFinished(reply.job, reply);
        });
    }

    void closeWorkspace(const QString& why)
    {
        for (auto& [id, job] : m_jobs) {
            RerankReply reply;
            reply.job = id;
            if (job->batch)
                reply.report = job->batch->report();
            reply.report.canceled = true;
            if (reply.report.error.isEmpty())
                reply.report.error = why;
            if (job->batch) {
                job->batch->disconnect(this);
                job->batch->cancel();
            }
            deliver(std::move(reply));
        }
        m_jobs.clear();
        m_kept.clear();
        m_checkers.clear();
        m_out.reset();
        m_ws.reset();
        m_path.clear();
    }

    // Runs fn on the service's thread; dropped with the event if the service is deleted first.
    template <typename Fn> void post(Fn fn)
    {
        RerankService* service = m_service;
        QMetaObject::invokeMethod(
            service, [service, fn = std::move(fn)] { fn(service); }, Qt::QueuedConnection);
    }

    RerankService* m_service; // only dereferenced on the service's thread, through post()
    QString m_path;
    QString m_openError;
    std::unique_ptr<Workspace> m_ws;
    std::unique_ptr<Workspace> m_out; // a shard's own file, or null
    std::unique_ptr<rerank::LlmClient> m_client;
    std::map<quint64, std::unique_ptr<Job>> m_jobs;
    std::deque<KeptBlend> m_kept;
    std::deque<KeptChecker> m_checkers;
    bool m_shuttingDown = false;
};

RerankService::RerankService(QObject* parent)
    : QObject(parent)
    , m_thread(new QThread)
{
    qRegisterMetaType<recwb::pipeline::RerankReply>();
    m_thread->setObjectName(QStringLiteral("recwb-rerank-service"));
    m_worker = new Worker(this);
    m_worker->moveToThread(m_thread);
    m_thread->start();
}

RerankService::~RerankService()
{
    QThread* home = thread();
    Worker* worker = m_worker;
    // Blocking is safe here: the worker's thread never waits for this one.
    QMetaObject::invokeMethod(
        worker, [worker, home] { worker->shutdown(home); }, Qt::BlockingQueuedConnection);
    m_thread->quit();
    m_thread->wait();
    delete m_worker;
    delete m_thread;
}

void RerankService::open(const QString& workspacePath, const QString& outputPath)
{
    m_path = workspacePath;
    Worker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker, workspacePath, outputPath] { worker->open(workspacePath, outputPath); }, Qt::QueuedConnection);
}

void RerankService::close()
{
    m_path.clear();
    Worker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker] { worker->close(); }, Qt::QueuedConnection);
}

quint64 RerankService::submit(RerankRequest request)
{
    const quint64 id = ++m_nextJob;
    ++m_running;
    Worker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker, id, request = std::move(request)]() mutable { worker->submit(id, std::move(request)); },
        Qt::QueuedConnection);
    return id;
}

void RerankService::cancel(quint64 job)
{
    Worker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker, job] { worker->cancel(job); }, Qt::QueuedConnection);
}

void RerankService::cancelAll()
{
    Worker* worker = m_worker;
    QMetaObject::invokeMethod(
        worker, [worker] { worker->cancelAll(); }, Qt::QueuedConnection);
}

} // namespace recwb::pipeline
