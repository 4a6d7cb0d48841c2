#include "rerank/llm/llmclient.h"

#include "rerank/llm/providers.h"
#include "rerank/llm/redact.h"
#include "rerank/llm/retrypolicy.h"
#include "util/error.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRandomGenerator>
#include <QUrl>

#ifdef RECWB_HAVE_QTKEYCHAIN
#include <qt6keychain/keychain.h>
#endif

#include <algorithm>

namespace recwb::rerank {

namespace {
Q_LOGGING_CATEGORY(lcLlm, "recwb.llm", QtInfoMsg) // debug lines: QT_LOGGING_RULES="recwb.llm.debug=true"

bool isServiceFailureStatus(int http)
{
    return http == 408 || http == 409 || http == 429 || http >= 500;
}
} // namespace

// ---------------------------------------------------------------------------------------
// LlmCall

LlmCall::LlmCall(LlmClient* client, const EndpointProfile& profile, const ChatRequest& request)
    : QObject(client)
    , m_client(client)
    , m_profile(profile)
    , m_request(request)
{
    m_deadline.setSingleShot(true);
    m_deadline.setTimerType(Qt::PreciseTimer);
    m_backoff.setSingleShot(true);
    m_backoff.setTimerType(Qt::PreciseTimer); // a coarse timer may fire 5% early, before retry-after
    m_clock.start();
}

LlmCall::~LlmCall()
{
    if (!m_finished && m_client)
        m_client->detach(this);
}

void LlmCall::cancel()
{
    if (m_finished || !m_client)
        return;
    ChatResponse r;
    r.status = CallStatus::Canceled;
    r.errorMessage = QStringLiteral("canceled");
    m_client->finish(this, r, LlmClient::Outcome::Neutral);
}

// ---------------------------------------------------------------------------------------
// LlmClient

LlmClient::LlmClient(QObject* parent)
    : LlmClient(LlmClientConfig {}, parent)
{
}

LlmClient::LlmClient(const LlmClientConfig& config, QObject* parent)
    : QObject(parent)
    , m_config(config)
{
    pickManager(); // the first manager exists from the start
    m_monotonic.start();
}

QNetworkAccessManager* LlmClient::pickManager()
{
    constexpr int kConnectionsPerHost = 6; // Qt's fixed HTTP/1.1 limit per host and manager
    constexpr size_t kMaxManagers = 8;
    QNetworkAccessManager* best = nullptr;
    for (QNetworkAccessManager* nam : m_nams)
        if (!best || m_namLoad.value(nam) < m_namLoad.value(best))
            best = nam;
    if (!best || (m_namLoad.value(best) >= kConnectionsPerHost && m_nams.size() < kMaxManagers)) {
        best = new QNetworkAccessManager(this);
        best->setAutoDeleteReplies(false); // every reply is deleteLater()'d by us
        m_nams.push_back(best);
    }
    return best;
}

void LlmClient::replyDone(QNetworkReply* reply)
{
    auto it = m_namLoad.find(reply->manager());
    if (it != m_namLoad.end() && *it > 0)
        --*it;
}

LlmClient::~LlmClient()
{
    // Calls are children and die after this body: cut them loose first, silently.
    for (LlmCall* call : findChildren<LlmCall*>(Qt::FindDirectChildrenOnly)) {
        call->m_finished = true;
        call->m_client = nullptr;
        releaseReply(call);
    }
}

bool LlmClient::keychainSupported()
{
#ifdef RECWB_HAVE_QTKEYCHAIN
    return true;
#else
    return false;
#endif
}

LlmClient::CircuitState LlmClient::circuitState(const QString& endpointName) const
{
    const auto it = m_endpoints.constFind(endpointName);
    if (it == m_endpoints.cend())
        return CircuitState::Closed;
    if (it->circuit == CircuitState::Open && m_monotonic.elapsed() >= it->openUntilMs)
        return CircuitState::HalfOpen; // the next call is let through as the probe
    return it->circuit;
}

qint64 LlmClient::refusedForMs(const QString& endpointName) const
{
    const auto it = m_endpoints.constFind(endpointName);
    if (it == m_endpoints.cend() || it->circuit == CircuitState::Closed)
        return 0;
    if (it->circuit == CircuitState::Open)
        return std::max<qint64>(0, it->openUntilMs - m_monotonic.elapsed());
    return it->probeInFlight ? -1 : 0;
}

int LlmClient::failedProbes(const QString& endpointName) const
{
    return m_endpoints.value(endpointName).failedProbes;
}

int LlmClient::inFlight(const QString& endpointName) const
{
    return m_endpoints.value(endpointName).active;
}

int LlmClient::queued(const QString& endpointName) const
{
    const auto it = m_endpoints.constFind(endpointName);
    if (it == m_endpoints.cend())
        return 0;
    return static_cast<int>(std::count_if(it->queue.begin(), it->queue.end(),
        [](const QPointer<LlmCall>& c) { return c && !c->m_finished; }));
}

QString LlmClient::safe(const LlmCall* call, const QString& text) const
{
    return redact(text, { call->m_key });
}

LlmCall* LlmClient::send(const EndpointProfile& profile, const ChatRequest& request)
{
    auto* call = new LlmCall(this, profile, request);
    connect(&call->m_deadline, &QTimer::timeout, call, [this, call] {
        ChatResponse r = call->m_last;
        r.status = CallStatus::Timeout;
        r.errorMessage = QStringLiteral("endpoint '%1': no answer within the %2 ms deadline (%3 attempt(s))")
                             .arg(call->m_profile.name)
                             .arg(call->m_profile.timeoutMs)
                             .arg(call->m_attempts);
        finish(call, r, Outcome::Failure);
    });
    connect(&call->m_backoff, &QTimer::timeout, call, [this, call] { attempt(call); });

    const QString& name = profile.name;
    const QUrl base(profile.baseUrl);
    const QString scheme = base.scheme().toLower();
    if (profile.kind == ProviderKind::Offline) {
        refuse(call, CallStatus::Refused, QStringLiteral("endpoint '%1' is the offline reranker: nothing to send").arg(name));
        return call;
    }
    if (!base.isValid() || base.host().isEmpty() || (scheme != u"http" && scheme != u"https")) {
        refuse(call, CallStatus::Refused,
            QStringLiteral("endpoint '%1': base URL '%2' is not an http(s) URL").arg(name, redact(profile.baseUrl)));
        return call;
    }
    if (scheme == u"http" && !isLoopbackHost(base.host()) && !profile.allowInsecureHttp) {
        refuse(call, CallStatus::Refused,
            QStringLiteral("endpoint '%1': refusing plain http:// to the non-loopback host %2 (the prompt and key would "
                           "travel unencrypted); use https:// or allow insecure http for this endpoint")
                .arg(name, base.host()));
        return call;
    }
    if (!profile.keyEnv.isEmpty()) {
        call->m_key = qgetenv(profile.keyEnv.toLocal8Bit().constData()).trimmed();
        if (call->m_key.isEmpty()) {
            refuse(call, CallStatus::Refused,
                QStringLiteral("endpoint '%1': the API key environment variable %2 is not set or empty").arg(name, profile.keyEnv));
            return call;
        }
    } else if (!profile.keychainEntry.isEmpty()) {
        call->m_needsKeychain = true;
    } else if (providerRequiresKey(profile)) {
        refuse(call, CallStatus::Refused,
            QStringLiteral("endpoint '%1' needs an API key: name an environment variable or a keychain entry").arg(name));
        return call;
    }

    m_endpoints[name].queue.push_back(call);
    pump(name);
    return call;
}

void LlmClient::refuse(LlmCall* call, CallStatus status, const QString& message)
{
    ChatResponse r;
    r.status = status;
    r.errorMessage = message;
    qCDebug(lcLlm).noquote() << safe(call, message);
    finish(call, r, Outcome::Neutral);
}

void LlmClient::pump(const QString& endpointName)
{
    if (m_endpoints[endpointName].pumping)
        return; // the outer pump() on the stack continues
    m_endpoints[endpointName].pumping = true;
    for (;;) {
        Endpoint& ep = m_endpoints[endpointName];
        if (ep.queue.empty())
            break;
        QPointer<LlmCall> front = ep.queue.front();
        if (!front || front->m_finished) {
            ep.queue.pop_front();
            continue;
        }
        if (ep.active >= std::max(1, front->m_profile.maxConcurrent))
            break;
        ep.queue.pop_front();
        start(front);
    }
    m_endpoints[endpointName].pumping = false;
}

void LlmClient::start(LlmCall* call)
{
    const QString& name = call->m_profile.name;
    Endpoint& ep = m_endpoints[name];
    const qint64 now = m_monotonic.elapsed();
    if (ep.circuit == CircuitState::Open) {
        if (now < ep.openUntilMs) {
            refuse(call, CallStatus::CircuitOpen,
                QStringLiteral("endpoint '%1': circuit breaker open after %2 consecutive failures; next try in %3 s")
                    .arg(name)
                    .arg(ep.consecutiveFailures)
                    .arg(static_cast<double>(ep.openUntilMs - now) / 1000.0, 0, 'f', 1));
            return;
        }
        setCircuit(ep, name, CircuitState::HalfOpen);
        ep.probeInFlight = false;
    }
    if (ep.circuit == CircuitState::HalfOpen) {
        if (ep.probeInFlight) {
            refuse(call, CallStatus::CircuitOpen,
                QStringLiteral("endpoint '%1': circuit breaker half-open, a probe request is in flight").arg(name));
            return;
        }
        ep.probeInFlight = true;
        call->m_isProbe = true;
        qCInfo(lcLlm).noquote() << QStringLiteral("endpoint '%1': circuit half-open, sending a probe").arg(name);
    }
    ++ep.active;
    call->m_holdsSlot = true;
    call->m_deadline.start(std::max(1, call->m_profile.timeoutMs));
    if (call->m_needsKeychain)
        lookupKeychain(call);
    else
        attempt(call);
}

void LlmClient::lookupKeychain(LlmCall* call)
{
    const QString entry = call->m_profile.keychainEntry;
    if (const auto it = m_keychainCache.constFind(entry); it != m_keychainCache.cend()) {
        call->m_key = *it;
        attempt(call);
        return;
    }
#ifdef RECWB_HAVE_QTKEYCHAIN
    call->m_stage = LlmCall::Stage::KeyLookup;
    auto* job = new QKeychain::ReadPasswordJob(m_config.keychainService, this);
    job->setAutoDelete(true);
    job->setKey(entry);
    connect(job, &QKeychain::Job::finished, call, [this, call, entry](QKeychain::Job* j) {
        if (call->m_finished)
            return;
        auto* read = qobject_cast<QKeychain::ReadPasswordJob*>(j);
        if (!read || read->error() != QKeychain::NoError) {
            refuse(call, CallStatus::Refused,
                QStringLiteral("endpoint '%1': keychain entry '%2' (service %3) could not be read: %4")
                    .arg(call->m_profile.name, entry, m_config.keychainService, read ? read->errorString() : QString()));
            return;
        }
        const QByteArray key = read->textData().trimmed().toUtf8();
        if (key.isEmpty()) {
            refuse(call, CallStatus::Refused,
                QStringLiteral("endpoint '%1': keychain entry '%2' is empty").arg(call->m_profile.name, entry));
            return;
        }
        m_keychainCache.insert(entry, key);
        call->m_key = key;
        attempt(call);
    });
    job->start();
#else
    refuse(call, CallStatus::Refused,
        QStringLiteral("endpoint '%1': keychain entry '%2' configured, but keychain support not built (QtKeychain "
                       "was not found at build time); use an environment variable")
            .arg(call->m_profile.name, entry));
#endif
}

void LlmClient::attempt(LlmCall* call)
{
    if (call->m_finished)
        return;
    HttpRequestSpec spec;
    try {
        spec = buildProviderRequest(call->m_profile, call->m_request, ProviderRequestOptions { call->m_key });
    } catch (const Error& e) {
        refuse(call, CallStatus::Refused, e.message());
        return;
    }
    QNetworkRequest req(spec.url);
    for (const auto& [name, value] : spec.headers)
        req.setRawHeader(name, value);
    req.setTransferTimeout(m_config.transferTimeoutMs > 0 ? m_config.transferTimeoutMs : std::max(1, call->m_profile.timeoutMs));
    req.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::NoLessSafeRedirectPolicy);

    call->m_stage = LlmCall::Stage::InFlight;
    ++call->m_attempts;
    qCDebug(lcLlm).noquote() << safe(call,
        QStringLiteral("endpoint '%1': attempt %2 POST %3 (%4 bytes)")
            .arg(call->m_profile.name)
            .arg(call->m_attempts)
            .arg(spec.url.toString())
            .arg(spec.body.size()));

    QNetworkAccessManager* nam = pickManager();
    QNetworkReply* reply = nam->post(req, spec.body);
    ++m_namLoad[nam];
    call->m_reply = reply;
    const qint64 cap = m_config.maxResponseBytes;
    auto tooLarge = [this, call, cap](qint64 announced) {
        ChatResponse r;
        r.status = CallStatus::ResponseTooLarge;
        if (call->m_reply)
            r.httpStatus = call->m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.errorMessage = QStringLiteral("endpoint '%1': the response (%2 bytes so far or announced) exceeds the %3-byte cap")
                             .arg(call->m_profile.name)
                             .arg(announced)
                             .arg(cap);
        finish(call, r, Outcome::Neutral);
    };
    connect(reply, &QNetworkReply::metaDataChanged, call, [reply, cap, tooLarge] {
        const QVariant length = reply->header(QNetworkRequest::ContentLengthHeader);
        if (length.isValid() && length.toLongLong() > cap)
            tooLarge(length.toLongLong());
    });
    connect(reply, &QNetworkReply::downloadProgress, call, [cap, tooLarge](qint64 received, qint64 total) {
        if (received > cap || total > cap)
            tooLarge(std::max(received, total));
    });
    connect(reply, &QNetworkReply::finished, call, [this, call, reply] { onReplyFinished(call, reply); });
}

void LlmClient::onReplyFinished(LlmCall* call, QNetworkReply* reply)
{
    if (call->m_reply == reply)
        call->m_reply = nullptr;
    replyDone(reply);
    reply->deleteLater();
    if (call->m_finished)
        return;

    const QString& name = call->m_profile.name;
    const QVariant statusAttr = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    const int http = statusAttr.isValid() ? statusAttr.toInt() : 0;
    // A reply aborted by its transfer timeout is closed: reading it would only warn.
    const QByteArray body = reply->isOpen() ? reply->read(m_config.maxResponseBytes + 1) : QByteArray();
    if (body.size() > m_config.maxResponseBytes) {
        ChatResponse r;
        r.status = CallStatus::ResponseTooLarge;
        r.httpStatus = http;
        r.errorMessage = QStringLiteral("endpoint '%1': the response exceeds the %2-byte cap").arg(name).arg(m_config.maxResponseBytes);
        finish(call, r, Outcome::Neutral);
        return;
    }
    QByteArray requestId = reply->rawHeader("x-request-id");
    if (requestId.isEmpty())
        requestId = reply->rawHeader("request-id");

    ChatResponse r;
    r.httpStatus = http;
    r.requestId = QString::fromLatin1(requestId);
    r.rawBody = redact(body, { call->m_key });

    if (http == 0) { // no HTTP answer at all
        const QNetworkReply::NetworkError err = reply->error();
        const bool timedOut = err == QNetworkReply::OperationCanceledError || err == QNetworkReply::TimeoutError;
        r.status = timedOut ? CallStatus::Timeout : CallStatus::NetworkError;
        r.errorMessage = QStringLiteral("endpoint '%1': %2").arg(name, timedOut ? QStringLiteral("no data within the transfer timeout") : reply->errorString());
        call->m_last = r;
        call->m_lastOutcome = static_cast<int>(Outcome::Failure);
        qCDebug(lcLlm).noquote() << safe(call, r.errorMessage);
        retryOrFinish(call, true, std::nullopt);
        return;
    }
    if (http >= 200 && http < 300) {
        ChatResponse parsed = parseProviderResponse(call->m_profile.kind, body);
        parsed.httpStatus = http;
        parsed.requestId = r.requestId;
        parsed.rawBody = r.rawBody;
        if (parsed.status == CallStatus::BadEnvelope)
            parsed.errorMessage = QStringLiteral("endpoint '%1': %2").arg(name, parsed.errorMessage);
        finish(call, parsed, Outcome::Success);
        return;
    }

    const bool quota = isQuotaExhausted(http, body);
    const QString providerMessage = providerErrorMessage(body);
    r.status = CallStatus::HttpError;
    r.errorMessage = QStringLiteral("endpoint '%1': HTTP %2").arg(name).arg(http);
    if (!providerMessage.isEmpty())
        r.errorMessage += QStringLiteral(": ") + providerMessage;
    if (quota)
        r.errorMessage += QStringLiteral(" (quota or spend limit exhausted: not retried)");
    call->m_last = r;
    call->m_lastOutcome = static_cast<int>(quota ? Outcome::Neutral : isServiceFailureStatus(http) ? Outcome::Failure : Outcome::Success);
    qCDebug(lcLlm).noquote() << safe(call, r.errorMessage);

    const RetryVerdict verdict = retryVerdictForHttp(http, reply->rawHeader("x-should-retry"), quota);
    std::optional<qint64> serverDelay = parseRetryAfterMs(reply->rawHeader("retry-after-ms"), reply->rawHeader("retry-after"),
        QDateTime::currentDateTimeUtc());
    if (!serverDelay)
        serverDelay = bodyRetryDelayMs(body);
    retryOrFinish(call, verdict == RetryVerdict::Retry, serverDelay);
}

void LlmClient::retryOrFinish(LlmCall* call, bool retryable, std::optional<qint64> serverDelayMs)
{
    ChatResponse last = call->m_last;
    const auto outcome = static_cast<Outcome>(call->m_lastOutcome);
    if (!retryable || call->m_attempts > call->m_profile.maxRetries) {
        finish(call, last, outcome);
        return;
    }
    if (serverDelayMs && *serverDelayMs > m_config.maxRetryAfterMs) {
        last.errorMessage += QStringLiteral(" (the server asked to wait %1 s: not retried)").arg(*serverDelayMs / 1000);
        finish(call, last, outcome);
        return;
    }
    const qint64 delay = serverDelayMs.value_or(backoffMs(call->m_attempts - 1, m_config.backoffBaseMs, m_config.backoffCapMs,
        QRandomGenerator::global()->generateDouble()));
    const qint64 remaining = call->m_deadline.remainingTime();
    if (call->m_deadline.isActive() && remaining >= 0 && delay >= remaining) {
        last.errorMessage += QStringLiteral(" (a retry in %1 ms would pass the deadline)").arg(delay);
        finish(call, last, outcome);
        return;
    }
    qCDebug(lcLlm).noquote() << QStringLiteral("endpoint '%1': retrying in %2 ms").arg(call->m_profile.name).arg(delay);
    call->m_stage = LlmCall::Stage::Backoff;
    call->m_backoff.start(static_cast<int>(delay));
}

void LlmClient::releaseReply(LlmCall* call)
{
    QNetworkReply* reply = call->m_reply;
    if (!reply)
        return;
    call->m_reply = nullptr;
    QObject::disconnect(reply, nullptr, call, nullptr);
    replyDone(reply);
    reply->abort();
    reply->deleteLater();
}

void LlmClient::setCircuit(Endpoint& ep, const QString& name, CircuitState state)
{
    if (ep.circuit == state)
        return;
    ep.circuit = state;
    QMetaObject::invokeMethod(
        this, [this, name, state] { emit circuitChanged(name, state); }, Qt::QueuedConnection);
}

void LlmClient::finish(LlmCall* call, ChatResponse response, Outcome outcome)
{
    if (call->m_finished)
        return;
    call->m_finished = true;
    call->m_stage = LlmCall::Stage::Done;
    call->m_deadline.stop();
    call->m_backoff.stop();
    releaseReply(call);

    response.attempts = call->m_attempts;
    response.latencyMs = static_cast<double>(call->m_clock.nsecsElapsed()) / 1e6;
    response.errorMessage = safe(call, response.errorMessage);
    response.rawBody = redact(response.rawBody, { call->m_key });

    const QString name = call->m_profile.name;
    auto it = m_endpoints.find(name);
    if (it != m_endpoints.end() && call->m_holdsSlot) {
        Endpoint& ep = *it;
        --ep.active;
        call->m_holdsSlot = false;
        if (call->m_isProbe) {
            ep.probeInFlight = false;
            // A probe that ends neither way (a quota 429, an answer too large, a refused key)
            // leaves the breaker half-open, but tells a waiting batch nothing good: it counts
            // as a failed probe. One canceled by its own caller says nothing of the endpoint.
            if (outcome == Outcome::Neutral && response.status != CallStatus::Canceled)
                ++ep.failedProbes;
        }
        if (outcome == Outcome::Success) {
            if (ep.circuit != CircuitState::Closed)
                qCInfo(lcLlm).noquote() << QStringLiteral("endpoint '%1': circuit closed").arg(name);
            ep.consecutiveFailures = 0;
            ep.failedProbes = 0;
            setCircuit(ep, name, CircuitState::Closed);
        } else if (outcome == Outcome::Failure) {
            ++ep.consecutiveFailures;
            if (call->m_isProbe)
                ++ep.failedProbes;
            const bool trip = call->m_isProbe
                || (ep.circuit == CircuitState::Closed && ep.consecutiveFailures >= std::max(1, m_config.circuitFailureThreshold));
            if (trip) {
                setCircuit(ep, name, CircuitState::Open);
                ep.openUntilMs = m_monotonic.elapsed() + std::max(0, m_config.circuitCooldownMs);
                qCWarning(lcLlm).noquote() << QStringLiteral("endpoint '%1': circuit opened after %2 consecutive failures")
                                                  .arg(name)
                                                  .arg(ep.consecutiveFailures);
            }
        }
    }
    qCDebug(lcLlm).noquote() << QStringLiteral("endpoint '%1': finished, status %2, HTTP %3, %4 attempt(s), %5 ms")
                                    .arg(name)
                                    .arg(static_cast<int>(response.status))
                                    .arg(response.httpStatus)
                                    .arg(response.attempts)
                                    .arg(response.latencyMs, 0, 'f', 1);
    QMetaObject::invokeMethod(
        call,
        [call, response] {
            emit call->finished(response);
            call->deleteLater();
        },
        Qt::QueuedConnection);
    if (it != m_endpoints.end())
        pump(name);
}

void LlmClient::detach(LlmCall* call)
{
    // The handle is being deleted before it finished: release everything, emit nothing.
    call->m_finished = true;
    releaseReply(call);
    const QString name = call->m_profile.name;
    auto it = m_endpoints.find(name);
    if (it == m_endpoints.end())
        return;
    if (call->m_holdsSlot) {
        --it->active;
        call->m_holdsSlot = false;
        if (call->m_isProbe)
            it->probeInFlight = false;
    }
    pump(name);
}

} // namespace recwb::rerank
