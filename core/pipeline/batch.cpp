#include "pipeline/batch.h"

#include "data/workspace.h"
#include "rerank/cache.h"
#include "rerank/llm/llmclient.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QSet>
#include <QSysInfo>
#include <QThreadPool>
#include <QTime>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

namespace recwb::pipeline {
namespace {

// The preparation/finishing thread is background work: the network threads are what keep the
// calls in flight. Under SCHED_BATCH (the CLI's policy) a woken network thread does not preempt
// it; it waits until the worker's time slice ends, and then takes the core in the middle of a
// user's stages (a 0.2 ms stage measured at 1-2 ms). Giving the core away between users, when
// someone is waiting for it, hands it over at the cheapest point: the network thread is not kept
// waiting, and the next user's stages start with nobody queued behind them. A no-op (one cheap
// system call) when nothing else is runnable on this core.
void yieldBetweenUsers()
{
    std::this_thread::yield();
}

// A nonzero seed per (run seed, user, order) so each order is its own shuffle.
quint64 shuffleSeedFor(quint64 seed, int32_t user, int order)
{
    quint64 z = seed * 0x9e3779b97f4a7c15ULL + static_cast<quint64>(user) * 0xbf58476d1ce4e5b9ULL
        + static_cast<quint64>(order + 1) * 0x94d049bb133111ebULL;
    z = (z ^ (z >> 31)) * 0xd6e8feb86659fd93ULL;
    z ^= z >> 32;
    return z == 0 ? 1 : z;
}

CacheCounters countersOf(rerank::ResponseCache& c)
{
    return { c.hits(), c.misses(), c.bypassed() };
}

// Result rows and cached answers are written together this often (and at the end): a
// killed run loses at most this much finished work, which --resume redoes.
constexpr int kFlushMs = 100;
constexpr size_t kFlushRows = 64; // or as soon as this many are waiting
constexpr int kSyncJobsPerTurn = 4; // users finished without a call, per event-loop turn
// Users prepared ahead of the next send, at least: twice the concurrency, so a slot that
// frees finds its next user ready even when several answers arrive in one turn.
constexpr size_t kMinPrepAhead = 8;

} // namespace

QJsonObject BatchReport::toJson(bool withUsers) const
{
    QJsonObject o {
        { QStringLiteral("run_id"), runId },
        { QStringLiteral("canceled"), canceled },
        { QStringLiteral("jobs"), total },
        { QStringLiteral("finished"), static_cast<int>(outcomes.size()) },
        { QStringLiteral("summary"), summary },
    };
    if (!error.isEmpty())
        o.insert(QStringLiteral("error"), error);
    if (withUsers) {
        QJsonArray list;
        for (const RerankOutcome& r : outcomes)
            list.append(r.toJson());
        o.insert(QStringLiteral("users"), list);
    }
    if (!probes.empty()) {
        QJsonArray list;
        for (const ProbeReport& p : probes) {
            QJsonObject j = p.stats.toJson(p.candidateIds);
            j.insert(QStringLiteral("user"), p.userId);
            list.append(j);
        }
        o.insert(QStringLiteral("position_bias"), list);
    }
    return o;
}

BatchReranker::BatchReranker(PipelineContext& ctx, rerank::LlmClient& client, BatchOptions options, QObject* parent)
    : QObject(parent)
    , m_ctx(ctx)
    , m_client(client)
    , m_options(std::move(options))
    , m_flushTimer(new QTimer(this))
{
    m_breakerTimer = new QTimer(this);
    m_breakerTimer->setTimerType(Qt::PreciseTimer); // a coarse timer may fire 5 % (1.5 s of 30) early
    m_flushTimer->setSingleShot(true);
    m_flushTimer->setInterval(kFlushMs);
    connect(m_flushTimer, &QTimer::timeout, this, &BatchReranker::flushWrites);
    m_breakerTimer->setSingleShot(true);
    connect(m_breakerTimer, &QTimer::timeout, this, &BatchReranker::retryBreakerWaiting);
    // A probe settled (closed: go on; open again: wait for the next cooldown).
    connect(&m_client, &rerank::LlmClient::circuitChanged, this, [this](const QString& name) {
        if (!m_breakerWaiting.empty() && !m_tiers.empty() && name == m_tiers.back().profile.name)
            retryBreakerWaiting();
    });
}

struct BatchReranker::Prepared {
    std::optional<PreparedUser> user;
    QString key;
    QString error;
};

struct BatchReranker::Finished {
    std::optional<RerankOutcome> outcome;
    QJsonObject row;
    bool usable = false;
    QString error;
};

BatchReranker::~BatchReranker()
{
    if (m_worker) { // its tasks read m_ctx and post to this: none may outlive it
        m_prepCanceled = true;
        m_worker->waitForDone();
    }
    for (Job& j : m_jobs)
        if (j.call)
            j.call->disconnect(this);
    if (m_running) { // destroyed mid-run: keep what is finished
        writePending();
        m_ctx.cache().setDeferred(false);
    }
}

void BatchReranker::start(const rerank::PromptUser& whatIf)
{
    if (m_running)
        throw Error(QStringLiteral("rerank batch: already running"));
    if (m_options.probeOrders >= 2)
        throw Error(QStringLiteral("rerank batch: the position-bias probe runs on dataset users, not a what-if user"));
    m_whatIf = whatIf;
    begin({ -1 }, 1);
}

void BatchReranker::start(const std::vector<int32_t>& users)
{
    if (m_running)
        throw Error(QStringLiteral("rerank batch: already running"));
    m_whatIf.reset();
    const Dataset& ds = m_ctx.dataset();
    QSet<int32_t> seen;
    std::vector<int32_t> distinct;
    for (const int32_t u : users) {
        if (u < 0 || u >= ds.numUsers())
            throw Error(QStringLiteral("rerank batch: no user with index %1").arg(u));
        if (!seen.contains(u)) {
            seen.insert(u);
            distinct.push_back(u);
        }
    }
    begin(distinct, static_cast<int>(distinct.size()));
}

void BatchReranker::begin(const std::vector<int32_t>& users, int distinctUsers)
{
    // Configuration first: nothing is sent when any of it is wrong.
    m_noReranker = m_options.cascade == QStringList { QStringLiteral("none") };
    m_ctx.setPriceScale(m_options.priceScale);
    const QStringList names
        = m_options.cascade.isEmpty() || m_noReranker ? QStringList { QString() } : m_options.cascade;
    if (!m_options.model.isEmpty() && names.size() > 1)
        throw Error(QStringLiteral("rerank batch: --model applies to a single endpoint, not to a cascade"));
    m_tiers.clear();
    for (const QString& name : names) {
        TierInfo t;
        t.profile = m_ctx.endpoint(name, m_options.model);
        t.prices = m_ctx.pricesFor(t.profile);
        for (const TierInfo& other : m_tiers)
            if (other.profile.name == t.profile.name)
                throw Error(QStringLiteral("rerank batch: endpoint \"%1\" appears twice in the cascade").arg(t.profile.name));
        m_tiers.push_back(t);
    }
    if (m_options.batchAnswers && (m_tiers.size() != 1 || m_noReranker || m_options.probeOrders >= 2))
        throw Error(QStringLiteral("rerank batch: a provider batch is collected with its single endpoint"));
    if (m_options.maxCostUsd) {
        if (!std::isfinite(*m_options.maxCostUsd) || *m_options.maxCostUsd < 0)
            throw Error(QStringLiteral("rerank batch: the cost cap must be a number >= 0"));
        for (const TierInfo& t : m_tiers)
            if (t.profile.kind != rerank::ProviderKind::Offline && (!t.prices || !t.prices->input || !t.prices->output))
                throw Error(QStringLiteral("rerank batch: a cost cap needs the input and output prices of endpoint "
                                           "\"%1\" (model %2); none are known (set them with endpoints add --price-input "
                                           "--price-output, or in the price table)")
                                .arg(t.profile.name, t.profile.model));
    }
    if (m_options.draft) {
        rerank::checkTemplate(*m_options.draft); // throws naming line and column
        m_prompt = *m_options.draft;
        m_coldPrompt = m_prompt;
    } else {
        m_prompt = m_ctx.promptTemplate(m_options.prompt);
        m_coldPrompt = m_options.coldPrompt.isEmpty() ? m_prompt : m_ctx.promptTemplate(m_options.coldPrompt);
    }
    m_concurrency = m_options.concurrency > 0 ? m_options.concurrency : std::max(1, m_tiers.front().profile.maxConcurrent);

    m_jobs.clear();
    m_breakerWaitedMs = 0;
    m_breakerGaveUp = false;
    m_breakerAnnounced.clear();
    const int orders = m_options.probeOrders >= 2 ? m_options.probeOrders : 1;
    for (const int32_t u : users) {
        for (int o = 0; o < orders; ++o) {
            Job j;
            j.user = u;
            j.shuffleSeed = m_options.probeOrders >= 2 ? shuffleSeedFor(m_options.seed, u, o) : 0;
            m_jobs.push_back(std::move(j));
        }
    }
    m_report = BatchReport {};
    m_report.total = static_cast<int>(m_jobs.size());
    if (m_options.storeRun) {
        rerank::store::RunInfo run;
        run.promptName = m_prompt.name;
        if (!m_options.draft)
            run.promptVersion = m_prompt.version;
        run.endpoint = m_noReranker ? QStringLiteral("none") : m_tiers.front().profile.name;
        QJsonArray cascade;
        for (const TierInfo& t : m_tiers)
            cascade.append(QJsonObject { { QStringLiteral("endpoint"), t.profile.name },
                { QStringLiteral("model"), t.profile.model } });
        run.params = m_options.extraParams;
        run.params.insert(QStringLiteral("mode"), orders > 1 ? QStringLiteral("probe") : QStringLiteral("batch"));
        run.params.insert(QStringLiteral("template"), m_options.draft ? m_prompt.name + u"@draft" : m_prompt.ref());
        if (m_options.draft)
            run.params.insert(QStringLiteral("draft_text"), m_prompt.text);
        if (m_whatIf) {
            QJsonArray history;
            for (const rerank::HistoryEntry& h : m_whatIf->history)
                if (h.item >= 0 && h.item < m_ctx.dataset().numItems())
                    history.append(m_ctx.dataset().items[static_cast<size_t>(h.item)].externalId);
            run.params.insert(QStringLiteral("what_if"),
                QJsonObject { { QStringLiteral("user"), m_whatIf->id }, { QStringLiteral("history"), history } });
        }
        run.params.insert(QStringLiteral("cold_template"), m_coldPrompt.ref());
        run.params.insert(QStringLiteral("cascade"), cascade);
        run.params.insert(QStringLiteral("candidates"), m_options.candidates);
        run.params.insert(QStringLiteral("k"), m_options.k);
        run.params.insert(QStringLiteral("routing"), m_options.routing.toJson());
        run.params.insert(QStringLiteral("concurrency"), m_concurrency);
        run.params.insert(QStringLiteral("bypass_cache"), m_options.bypassCache);
        run.params.insert(QStringLiteral("users"), distinctUsers);
        if (orders > 1) {
            run.params.insert(QStringLiteral("probe_orders"), orders);
            run.params.insert(QStringLiteral("seed"), static_cast<double>(m_options.seed));
        }
        // Honest records: running until finalize() says otherwise; a run left running by a
        // process that is gone was killed (store::runStatus). The users, for a resume.
        run.params.insert(QStringLiteral("status"), QStringLiteral("running"));
        run.params.insert(QStringLiteral("pid"), static_cast<qint64>(QCoreApplication::applicationPid()));
        run.params.insert(QStringLiteral("host"), QSysInfo::machineHostName());
        if (!m_whatIf) {
            QJsonArray ids;
            for (const int32_t u : users)
                ids.append(m_ctx.dataset().users[static_cast<size_t>(u)].externalId);
            run.params.insert(QStringLiteral("user_ids"), ids);
        }
        if (m_options.resumeRunId > 0) {
            m_report.runId = m_options.resumeRunId;
            rerank::store::setRunStatus(m_ctx.output(), m_report.runId, QStringLiteral("running"));
            rerank::store::setRunParam(m_ctx.output(), m_report.runId, QStringLiteral("pid"),
                static_cast<qint64>(QCoreApplication::applicationPid()));
            rerank::store::setRunParam(m_ctx.output(), m_report.runId, QStringLiteral("host"),
                QSysInfo::machineHostName());
            const auto previous = rerank::store::findRun(m_ctx.output(), m_report.runId);
            if (!m_options.batchAnswers) // a collect completes the submitted run, it does not resume it
                rerank::store::setRunParam(m_ctx.output(), m_report.runId, QStringLiteral("resumed"),
                    (previous ? previous->params.value(QStringLiteral("resumed")).toInt() : 0) + 1);
        } else {
            m_report.runId = rerank::store::createRun(m_ctx.output(), run);
        }
    }
    m_cacheStart = countersOf(m_ctx.cache());
    m_ctx.cache().setDeferred(true); // until finalize()
    m_pendingRows.clear();
    m_next = 0;
    m_active = 0;
    m_done = 0;
    m_canceled = false;
    m_spentUsd = 0;
    m_reservedUsd = 0;
    m_budgetExhausted = false;
    m_budgetStopped = 0;
    m_budgetWaiting.clear();
    m_settling = 0;
    // Several dataset users: prepare ahead on a thread of its own. What the preparations
    // may touch lazily is made first, here (the cold-start blend, also behind the offline
    // reranker's content index).
    m_prepNext = 0;
    ++m_generation; // late preparations of an earlier start() are dropped
    if (m_worker)
        m_worker->waitForDone();
    if (!m_whatIf && m_jobs.size() > 1) {
        bool needsBlend = m_options.source == CandidateSource::ColdStart;
        for (const TierInfo& t : m_tiers)
            needsBlend = needsBlend || (!m_noReranker && t.profile.kind == rerank::ProviderKind::Offline);
        if (m_options.source == CandidateSource::Auto)
            for (size_t i = 0; i < m_jobs.size() && !needsBlend; ++i)
                needsBlend = isColdUser(m_ctx, m_jobs[i].user, nullptr);
        if (needsBlend)
            m_ctx.coldStart();
        if (!m_worker) {
            m_worker = std::make_unique<QThreadPool>();
            m_worker->setMaxThreadCount(1); // in order; the other core serves the calls
            // Kept for the whole run, also through a 30 s breaker pause or a budget wait: a new
            // thread would pay the warm-up's one-time costs (its compiled templates, its first
            // heap pages) again in some user's stages.
            m_worker->setExpiryTimeout(-1);
            m_worker->setObjectName(QStringLiteral("recwb-rerank-worker"));
        }
        m_prepCanceled = false;
        m_ctx.faithfulness(); // indexed here: the finishing thread only reads it
        // Once per run, ahead of the first user: one-time costs are not that user's latency.
        m_worker->start([ctx = &m_ctx, tmpl = m_prompt, cold = m_coldPrompt] {
            warmUpStages(*ctx, tmpl);
            if (cold.text != tmpl.text)
                warmUpStages(*ctx, cold); // templates are compiled per thread and per text
        });
    } else {
        if (m_worker)
            m_worker->waitForDone();
        m_worker.reset();
    }
    m_running = true;
    m_wall.start();
    QTimer::singleShot(0, this, &BatchReranker::pump);
}

// Hands the next users to the preparation thread, up to the look-ahead window.
void BatchReranker::prefetch()
{
    if (!m_worker || m_canceled)
        return;
    const size_t window = std::max(kMinPrepAhead, 2 * static_cast<size_t>(m_concurrency));
    const rerank::EndpointProfile* first
        = m_noReranker || m_tiers.front().profile.kind == rerank::ProviderKind::Offline ? nullptr : &m_tiers.front().profile;
    while (m_prepNext < m_jobs.size() && m_prepNext < m_next + window) {
        const size_t index = m_prepNext++;
        Job& job = m_jobs[index];
        job.prep = Job::Prep::Running;
        const rerank::PromptTemplate& tmpl = isColdUser(m_ctx, job.user, nullptr) ? m_coldPrompt : m_prompt;
        m_worker->start([this, index, generation = m_generation, ctx = &m_ctx, user = job.user, tmpl, seed = job.shuffleSeed,
                              candidates = m_options.candidates, k = m_options.k, source = m_options.source,
                              profile = first ? std::optional<rerank::EndpointProfile>(*first) : std::nullopt] {
            if (m_prepCanceled)
                return;
            yieldBetweenUsers();
            auto result = std::make_shared<Prepared>();
            try {
                result->user = prepareUser(*ctx, user, tmpl, candidates, k, seed, source);
                if (profile && !result->user->candidates.empty())
                    result->key = rerank::cacheKey(*profile, result->user->prompt.request);
            } catch (const Error& e) {
                result->user.reset();
                result->error = e.message();
            }
            QMetaObject::invokeMethod(
                this,
                [this, index, generation, result] {
                    if (generation == m_generation)
                        onPrepared(index, *result);
                },
                Qt::QueuedConnection);
        });
    }
}

void BatchReranker::onPrepared(size_t index, Prepared& result)
{
    if (index >= m_jobs.size())
        return;
    Job& job = m_jobs[index];
    job.prep = Job::Prep::Ready;
    job.prepError = result.error;
    job.firstKey = result.key;
    if (result.user)
        job.prepared = std::move(result.user);
    if (index == m_next)
        pump();
}

void BatchReranker::cancel()
{
    if (!m_running || m_canceled)
        return;
    m_canceled = true;
    m_prepCanceled = true; // preparations not started yet
    for (Job& j : m_jobs)
        if (j.call)
            j.call->cancel(); // finished(Canceled) follows from the event loop
    retryBudgetWaiting(); // drops the jobs waiting for budget
    retryBreakerWaiting(); // and those waiting at a circuit breaker
    QTimer::singleShot(0, this, &BatchReranker::maybeFinish);
}

void BatchReranker::fail(const QString& message)
{
    if (m_report.error.isEmpty())
        m_report.error = message;
    cancel();
}

BatchReranker::Budget BatchReranker::reserveBudget(Job& job, const TierInfo& tier)
{
    if (!m_options.maxCostUsd)
        return Budget::Reserved;
    if (!m_budgetExhausted) {
        const rerank::Prices& prices = *tier.prices; // checked in start()
        const int outputCap = job.prepared->prompt.request.maxOutputTokens.value_or(tier.profile.maxOutputTokens);
        const double worst = (1.25 * static_cast<double>(job.prepared->outcome.promptTokensEstimate) * *prices.input
                                 + static_cast<double>(outputCap) * *prices.output)
            / 1e6;
        if (m_spentUsd + m_reservedUsd + worst <= *m_options.maxCostUsd) {
            job.reservedUsd = worst;
            m_reservedUsd += worst;
            return Budget::Reserved;
        }
        if (m_reservedUsd > 0 && m_spentUsd + worst <= *m_options.maxCostUsd)
            return Budget::Wait;
        m_budgetExhausted = true;
    }
    ++m_budgetStopped;
    return Budget::Refused;
}

// A call settled: the jobs waiting for budget try again, in order (each may send, wait
// again, or be refused now that the spend is known).
void BatchReranker::retryBudgetWaiting()
{
    std::vector<size_t> waiting;
    waiting.swap(m_budgetWaiting);
    for (const size_t index : waiting) {
        --m_active;
        if (m_canceled) {
            m_jobs[index].prepared.reset(); // unfinished: not reported
            continue;
        }
        if (sendTier(index))
            complete(index);
    }
}

// A job about to be sent to (or just refused by) its last tier: when that endpoint's breaker
// refuses calls and its probes have not failed options.breakerProbes times in a row, the job
// waits, holding its slot, for the probe.
bool BatchReranker::holdAtBreaker(size_t index, bool refused)
{
    Job& job = m_jobs[index];
    if (m_canceled || m_options.breakerProbes <= 0 || m_jobs.size() < 2
        || job.tier + 1 < static_cast<int>(m_tiers.size()))
        return false;
    const QString& name = m_tiers[static_cast<size_t>(job.tier)].profile.name;
    const qint64 refusedFor = m_client.refusedForMs(name);
    if (refusedFor == 0 && !refused)
        return false; // it would be sent (as the probe, when the cooldown is over)
    const int failedProbes = m_client.failedProbes(name);
    if (failedProbes >= m_options.breakerProbes) {
        m_breakerGaveUp = true; // the endpoint looks down: the users meeting it keep the CF order
        return false;
    }
    const bool first = m_breakerWaiting.empty();
    if (first)
        m_breakerPause.start();
    m_breakerWaiting.push_back(index);
    job.waitedAtBreaker = true;
    ++m_active;
    // Until the cooldown is over. A probe in flight is waited for through circuitChanged(),
    // and looked at again each second (a probe canceled by its own job changes no state).
    const qint64 wait = refusedFor >= 0 ? refusedFor + 1 : 1000;
    if (first || !m_breakerTimer->isActive() || m_breakerTimer->remainingTime() > wait)
        m_breakerTimer->start(static_cast<int>(std::min<qint64>(wait, std::numeric_limits<int>::max())));
    // Announced once per state of the breaker (open after N failed probes, or half-open),
    // not at each look.
    const QString state = (refusedFor > 0 ? QStringLiteral("open/") : QStringLiteral("half-open/")) + QString::number(failedProbes);
    if (state != m_breakerAnnounced) {
        m_breakerAnnounced = state;
        emit paused(refusedFor > 0
                ? QStringLiteral("endpoint '%1': circuit breaker open; waiting %2 s (until %3) for its probe (%4 of %5 "
                                 "probes failed so far)")
                      .arg(name)
                      .arg(static_cast<double>(refusedFor) / 1000.0, 0, 'f', 1)
                      .arg(QTime::currentTime().addMSecs(static_cast<int>(refusedFor)).toString(QStringLiteral("HH:mm:ss")))
                      .arg(failedProbes)
                      .arg(m_options.breakerProbes)
                : QStringLiteral("endpoint '%1': circuit breaker half-open; waiting for its probe (%2 of %3 probes "
                                 "failed so far)")
                      .arg(name)
                      .arg(failedProbes)
                      .arg(m_options.breakerProbes));
    }
    return true;
}

// The breaker may be probed, has closed or opened again, the run's patience is spent, or the
// run was canceled: the waiting jobs go again, in order (the first may be the probe; the rest
// wait again while it is in flight).
void BatchReranker::retryBreakerWaiting()
{
    if (m_breakerWaiting.empty())
        return;
    m_breakerTimer->stop();
    m_breakerWaitedMs += m_breakerPause.elapsed();
    std::vector<size_t> waiting;
    waiting.swap(m_breakerWaiting);
    for (const size_t index : waiting) {
        --m_active;
        if (m_canceled) {
            m_jobs[index].prepared.reset(); // unfinished: not reported
            continue;
        }
        // The LLM stage's time starts again here: the pause is reported as breaker_wait,
        // not as the endpoint's latency.
        m_jobs[index].clock.start();
        try {
            if (sendTier(index))
                complete(index);
        } catch (const Error& e) {
            fail(e.message()); // cancels: the rest of the loop drops the jobs still held
        }
    }
    if (m_breakerWaiting.empty() && !m_breakerAnnounced.isEmpty()) {
        m_breakerAnnounced.clear();
        emit paused(QString());
    }
    if (m_canceled)
        return; // cancel() finishes the run from the event loop, never from inside itself
    pump();
    maybeFinish();
}

void BatchReranker::pump()
{
    if (!m_running || m_pumping)
        return;
    m_pumping = true;
    prefetch();
    int budget = kSyncJobsPerTurn;
    while (!m_canceled && m_active < m_concurrency && m_next < m_jobs.size()) {
        if (m_worker && m_jobs[m_next].prep != Job::Prep::Ready)
            break; // onPrepared() pumps again
        const size_t i = m_next++;
        prefetch();
        bool sync = false;
        try {
            sync = launch(i);
        } catch (const Error& e) {
            fail(e.message());
            break;
        }
        if (sync) {
            complete(i);
            if (--budget == 0) { // let the event loop breathe (answers, cancel, progress)
                QTimer::singleShot(0, this, &BatchReranker::pump);
                break;
            }
        }
    }
    m_pumping = false;
    maybeFinish();
}

bool BatchReranker::launch(size_t index)
{
    Job& job = m_jobs[index];
    if (job.prep == Job::Prep::Ready) { // prepared ahead
        if (!job.prepError.isEmpty())
            throw Error(job.prepError);
    } else {
        const rerank::PromptUser* whatIf = job.user < 0 && m_whatIf ? &*m_whatIf : nullptr;
        const bool cold = isColdUser(m_ctx, job.user, whatIf);
        const rerank::PromptTemplate& tmpl = cold ? m_coldPrompt : m_prompt;
        job.prepared = whatIf
            ? prepareUser(m_ctx, *whatIf, tmpl, m_options.candidates, m_options.k, 0, m_options.source)
            : prepareUser(m_ctx, job.user, tmpl, m_options.candidates, m_options.k, job.shuffleSeed, m_options.source);
    }
    PreparedUser& p = *job.prepared;
    if (m_options.draft)
        p.outcome.templateRef = m_prompt.name + u"@draft";
    if (m_noReranker) {
        p.outcome.endpoint = QStringLiteral("none");
        p.outcome.kind = rerank::ProviderKind::Offline;
        if (!p.candidates.empty())
            keepCfOrder(p, QStringLiteral("none"));
        return true;
    }
    const rerank::EndpointProfile& first = m_tiers.front().profile;
    p.outcome.endpoint = first.name;
    p.outcome.model = first.model;
    p.outcome.kind = first.kind;
    if (m_options.probeOrders >= 2)
        for (const rerank::Candidate& c : p.candidates)
            job.candidateIds.append(c.externalId);
    if (p.candidates.empty())
        return true; // the CF-order fallback "no candidates" is already set
    if (m_options.probeOrders < 2) {
        const RouteDecision d = route(m_options.routing, p.outcome.userId, p.outcome.coldStart, p.outcome.cfConfidence);
        p.outcome.route = d.reason;
        if (!d.llm) {
            keepCfOrder(p, d.reason);
            return true;
        }
    }
    return sendTier(index);
}

bool BatchReranker::sendTier(size_t index)
{
    Job& job = m_jobs[index];
    PreparedUser& p = *job.prepared;
    const rerank::EndpointProfile& profile = m_tiers[static_cast<size_t>(job.tier)].profile;
    if (profile.kind == rerank::ProviderKind::Offline) {
        rerankOffline(m_ctx, p);
        return true;
    }
    const bool retry = job.lookedUpTier == job.tier; // back from waiting for budget: looked up already
    if (!retry)
        job.clock.start(); // the wait for budget counts as LLM-stage time
    job.lookedUpTier = job.tier;
    job.cacheKey = job.tier == 0 && !job.firstKey.isEmpty() ? job.firstKey : rerank::cacheKey(profile, p.prompt.request);
    // A user answered in a provider batch takes that (paid) answer, not a cached one.
    const bool fromBatch = m_options.batchAnswers && m_options.batchAnswers->contains(p.outcome.userId);
    if (const auto cached = retry || fromBatch ? std::nullopt : m_ctx.cache().lookup(job.cacheKey, m_options.bypassCache)) {
        const bool usable = applyAnswer(m_ctx, p, profile, *cached, true,
            static_cast<double>(job.clock.nsecsElapsed()) / 1e6, job.cacheKey);
        if (usable || job.tier + 1 >= static_cast<int>(m_tiers.size()))
            return true;
        ++job.tier;
        return sendTier(index);
    }
    if (m_options.batchAnswers) {
        applyBatchAnswer(index);
        return true;
    }
    if (holdAtBreaker(index, false))
        return false;
    const Budget budget = reserveBudget(job, m_tiers[static_cast<size_t>(job.tier)]);
    if (budget == Budget::Wait) { // holds its concurrency slot until a call in flight settles
        ++m_active;
        m_budgetWaiting.push_back(index);
        return false;
    }
    if (budget == Budget::Refused) {
        const QString why = QStringLiteral("budget: the cap of $%1 is spent or held by calls in flight ($%2 spent)")
                                .arg(*m_options.maxCostUsd, 0, 'f', 4)
                                .arg(m_spentUsd, 0, 'f', 4);
        if (job.tier == 0) {
            p.outcome.result = rerank::cfFallback(p.candidates, p.k, why);
            p.outcome.cost = 0.0;
        } else {
            p.outcome.result.fallbackReason += QStringLiteral("; not escalated to \"%1\": %2").arg(profile.name, why);
        }
        return true;
    }
    ++m_active;
    job.call = m_client.send(profile, p.prompt.request);
    connect(job.call, &rerank::LlmCall::finished, this,
        [this, index](const rerank::ChatResponse& r) { onAnswer(index, r); });
    return false;
}

// The provider batch's line for this user, through the same validation, cache and cost as a
// live answer; a failed, expired or missing line leaves the CF order with a defect naming it.
void BatchReranker::applyBatchAnswer(size_t index)
{
    Job& job = m_jobs[index];
    PreparedUser& p = *job.prepared;
    const rerank::EndpointProfile& profile = m_tiers.front().profile;
    BatchAnswer answer;
    const auto it = m_options.batchAnswers->constFind(p.outcome.userId);
    if (it == m_options.batchAnswers->cend()) {
        answer.response.status = rerank::CallStatus::Canceled;
        answer.response.errorMessage = QStringLiteral("this user was not sent in the provider batch");
        answer.defect = QStringLiteral("batch_not_sent");
    } else if (it->cacheKey != job.cacheKey) {
        answer.response.status = rerank::CallStatus::Canceled;
        answer.response.errorMessage = QStringLiteral("the prompt rendered now differs from the one sent in the batch "
                                                      "(the workspace changed since the submit); the answer is not used");
        answer.defect = QStringLiteral("batch_stale");
    } else {
        answer = *it;
    }
    applyAnswer(m_ctx, p, profile, answer.response, false, 0, job.cacheKey);
    if (!answer.defect.isEmpty())
        p.outcome.result.defects.append({ answer.defect, answer.response.errorMessage });
}

void BatchReranker::onAnswer(size_t index, const rerank::ChatResponse& response)
{
    --m_active;
    Job& job = m_jobs[index];
    job.call.clear();
    m_reservedUsd -= job.reservedUsd;
    // What the answer says was billed (a failed call without usage: nothing).
    if (m_options.maxCostUsd && (response.usage.inputTokens > 0 || response.usage.outputTokens > 0)) {
        const std::optional<rerank::Prices>& prices = m_tiers[static_cast<size_t>(job.tier)].prices;
        m_spentUsd += rerank::costOf(response.usage, prices.value_or(rerank::Prices {})).value_or(job.reservedUsd);
    }
    job.reservedUsd = 0;
    if (m_canceled) {
        job.prepared.reset(); // unfinished: not reported
        retryBudgetWaiting(); // drops them
        maybeFinish();
        return;
    }
    // Refused by a breaker that opened while the call waited in the client's queue.
    if (response.status == rerank::CallStatus::CircuitOpen && holdAtBreaker(index, true)) {
        retryBudgetWaiting();
        pump();
        return;
    }
    const double llmMs = static_cast<double>(job.clock.nsecsElapsed()) / 1e6;
    try {
        // The last tier's answer cannot escalate: refill its slot before parsing it. (Not
        // under a cap: the calls waiting for budget settle first, in order.)
        if (job.tier + 1 >= static_cast<int>(m_tiers.size()) && !m_options.maxCostUsd) {
            ++m_settling;
            pump();
            --m_settling;
            if (m_worker) { // parse, check and build the row on the finishing thread
                finishOnPool(index, response, llmMs);
                pump();
                return;
            }
        }
        const rerank::EndpointProfile& profile = m_tiers[static_cast<size_t>(job.tier)].profile;
        const bool usable = applyAnswer(m_ctx, *job.prepared, profile, response, false, llmMs, job.cacheKey);
        bool done = true;
        if (!usable && job.tier + 1 < static_cast<int>(m_tiers.size())) {
            ++job.tier; // escalate
            done = sendTier(index);
        }
        if (done)
            complete(index);
        retryBudgetWaiting();
    } catch (const Error& e) {
        fail(e.message());
    }
    pump();
}

// The answer of the last tier (it cannot escalate): validation, the faithfulness check and
// the result row on m_worker; the cache copy, the row's write and the progress back here.
void BatchReranker::finishOnPool(size_t index, const rerank::ChatResponse& response, double llmMs)
{
    Job& job = m_jobs[index];
    ++m_settling; // until it is back: the run does not finish without it
    auto prepared = std::make_shared<PreparedUser>(std::move(*job.prepared));
    job.prepared.reset();
    const bool row = m_options.storeRun && m_options.probeOrders < 2;
    m_worker->start(
        [this, index, generation = m_generation, ctx = &m_ctx, prepared, response, llmMs, row,
                            profile = m_tiers[static_cast<size_t>(job.tier)].profile, key = job.cacheKey] {
        yieldBetweenUsers();
        auto done = std::make_shared<Finished>();
        try {
            done->usable = applyAnswer(*ctx, *prepared, profile, response, false, llmMs, key, false);
            done->outcome = finishOutcome(*ctx, std::move(*prepared));
            if (row)
                done->row = done->outcome->toJson();
        } catch (const Error& e) {
            done->error = e.message();
        }
        QMetaObject::invokeMethod(
            this,
            [this, index, generation, done, response, profile, key] {
                if (generation != m_generation || index >= m_jobs.size())
                    return;
                --m_settling;
                if (!done->error.isEmpty()) {
                    fail(done->error);
                } else {
                    if (answerToCache(response, done->usable, false))
                        m_ctx.cache().store(key, profile, response);
                    Job& j = m_jobs[index];
                    j.outcome = std::move(done->outcome);
                    j.row = std::move(done->row);
                    record(index);
                }
                maybeFinish();
            },
            Qt::QueuedConnection);
    },
        1); // ahead of the preparations queued
}

void BatchReranker::complete(size_t index)
{
    Job& job = m_jobs[index];
    job.outcome = finishOutcome(m_ctx, std::move(*job.prepared));
    job.prepared.reset();
    if (m_options.storeRun && m_options.probeOrders < 2)
        job.row = job.outcome->toJson();
    record(index);
}

void BatchReranker::record(size_t index)
{
    Job& job = m_jobs[index];
    ++m_done;
    if (m_options.storeRun && m_options.probeOrders < 2) {
        // A what-if user has no row in users: stored under user id -1, history in the run's params.
        const qint64 dbId = job.user >= 0 ? m_ctx.dataset().users[static_cast<size_t>(job.user)].dbId : -1;
        m_pendingRows.emplace_back(dbId, std::move(job.row));
        job.row = {};
    }
    if (m_pendingRows.size() >= kFlushRows)
        flushWrites();
    else if (!m_flushTimer->isActive())
        m_flushTimer->start();
    emit progress(m_done, static_cast<int>(m_jobs.size()));
}

void BatchReranker::flushWrites()
{
    if (const QString error = writePending(); !error.isEmpty())
        fail(error);
}

QString BatchReranker::writePending()
{
    m_flushTimer->stop();
    m_ctx.cache().flush(); // a failed copy is only a warning there
    if (m_pendingRows.empty())
        return {};
    std::vector<std::pair<qint64, QJsonObject>> rows;
    rows.swap(m_pendingRows);
    try {
        Transaction tx(m_ctx.output());
        for (const auto& [dbId, row] : rows)
            rerank::store::putRunResult(m_ctx.output(), m_report.runId, dbId, row);
        tx.commit();
    } catch (const Error& e) {
        return e.message();
    }
    return {};
}

void BatchReranker::maybeFinish()
{
    if (m_running && !m_pumping && m_settling == 0 && m_active == 0 && (m_canceled || m_next >= m_jobs.size()))
        finalize();
}

void BatchReranker::finalize()
{
    if (const QString error = writePending(); !error.isEmpty() && m_report.error.isEmpty())
        m_report.error = error;
    m_ctx.cache().setDeferred(false);
    m_running = false;
    m_report.canceled = m_canceled;
    m_report.outcomes.clear();
    for (Job& j : m_jobs)
        if (j.outcome)
            m_report.outcomes.push_back(*j.outcome);
    const CacheCounters now = countersOf(m_ctx.cache());
    const CacheCounters delta { now.hits - m_cacheStart.hits, now.misses - m_cacheStart.misses,
        now.bypassed - m_cacheStart.bypassed };
    m_report.summary = summarizeBatch(m_report.outcomes, m_tiers, m_options.k,
        static_cast<double>(m_wall.nsecsElapsed()) / 1e6, delta);
    m_report.summary.insert(QStringLiteral("canceled"), m_canceled);
    if (m_options.maxCostUsd)
        m_report.summary.insert(QStringLiteral("budget"),
            QJsonObject { { QStringLiteral("max_usd"), *m_options.maxCostUsd }, { QStringLiteral("spent_usd"), m_spentUsd },
                { QStringLiteral("exhausted"), m_budgetExhausted }, { QStringLiteral("calls_not_made"), m_budgetStopped } });
    m_report.summary.insert(QStringLiteral("jobs"), m_report.total);
    if (m_options.breakerProbes > 0 && m_jobs.size() > 1) {
        int waited = 0;
        for (const Job& j : m_jobs)
            waited += j.waitedAtBreaker;
        m_report.summary.insert(QStringLiteral("breaker_wait"),
            QJsonObject { { QStringLiteral("max_failed_probes"), m_options.breakerProbes },
                { QStringLiteral("waited_ms"), static_cast<double>(m_breakerWaitedMs) },
                { QStringLiteral("users_waited"), waited }, { QStringLiteral("gave_up"), m_breakerGaveUp } });
    }

    if (m_options.probeOrders >= 2) {
        // Group the finished orders by user (jobs of one user are adjacent).
        m_report.probes.clear();
        double tauSum = 0, overlapSum = 0, firstThirdSum = 0;
        int measured = 0;
        for (size_t i = 0; i < m_jobs.size();) {
            size_t end = i;
            while (end < m_jobs.size() && m_jobs[end].user == m_jobs[i].user)
                ++end;
            std::vector<rerank::ProbeRun> runs;
            ProbeReport rep;
            for (size_t j = i; j < end; ++j) {
                const Job& job = m_jobs[j];
                if (!job.outcome)
                    continue;
                rep.userId = job.outcome->userId;
                rep.candidateIds = job.candidateIds;
                rerank::ProbeRun run;
                run.rankOf.assign(static_cast<size_t>(job.candidateIds.size()), 0);
                run.shownAt = job.outcome->shownAt;
                run.usable = job.outcome->result.usable;
                for (const rerank::RankedItem& r : job.outcome->result.items)
                    if (!r.filled && r.cfRank >= 1 && r.cfRank <= static_cast<int>(run.rankOf.size()))
                        run.rankOf[static_cast<size_t>(r.cfRank - 1)] = r.rank;
                runs.push_back(std::move(run));
            }
            i = end;
            if (runs.empty())
                continue;
            rep.stats = rerank::probeStats(runs, m_options.k);
            if (rep.stats.runs >= 2) {
                tauSum += rep.stats.meanKendallTau;
                overlapSum += rep.stats.meanTopKOverlap;
                firstThirdSum += rep.stats.firstThirdShare;
                ++measured;
            }
            if (m_options.storeRun && m_report.runId > 0) {
                try {
                    const int32_t user = m_ctx.dataset().userIndex(rep.userId);
                    QJsonObject j = rep.stats.toJson(rep.candidateIds);
                    QJsonArray orders;
                    for (const RerankOutcome& o : m_report.outcomes)
                        if (o.userId == rep.userId)
                            orders.append(o.toJson());
                    j.insert(QStringLiteral("orders"), orders);
                    rerank::store::putRunResult(m_ctx.output(), m_report.runId,
                        m_ctx.dataset().users[static_cast<size_t>(user)].dbId, j);
                } catch (const Error& e) {
                    if (m_report.error.isEmpty())
                        m_report.error = e.message();
                }
            }
            m_report.probes.push_back(std::move(rep));
        }
        m_report.summary.insert(QStringLiteral("position_bias"),
            QJsonObject {
                { QStringLiteral("users"), measured },
                { QStringLiteral("orders_per_user"), m_options.probeOrders },
                { QStringLiteral("mean_kendall_tau"), measured ? tauSum / measured : 0.0 },
                { QStringLiteral("mean_top_k_overlap"), measured ? overlapSum / measured : 0.0 },
                { QStringLiteral("first_third_share"), measured ? firstThirdSum / measured : 0.0 },
            });
    }
    if (!m_report.error.isEmpty())
        m_report.summary.insert(QStringLiteral("error"), m_report.error);
    if (m_options.storeRun && m_report.runId > 0) {
        try {
            rerank::store::setRunSummary(m_ctx.output(), m_report.runId, m_report.summary);
            rerank::store::setRunStatus(m_ctx.output(), m_report.runId,
                !m_report.error.isEmpty() ? QStringLiteral("failed")
                    : m_canceled          ? QStringLiteral("canceled")
                                          : QStringLiteral("finished"));
        } catch (const Error& e) {
            if (m_report.error.isEmpty())
                m_report.error = e.message();
        }
    }
    emit finished();
}

} // namespace recwb::pipeline
