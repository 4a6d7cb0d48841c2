#pragma once

#include "rerank/llmtypes.h"

#include <QElapsedTimer>
#include <QHash>
#include <QMetaType>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <deque>
#include <vector>

class QNetworkAccessManager;
class QNetworkReply;

namespace recwb::rerank {

class LlmClient;

// One call in progress, shaped like qBittorrent's DownloadHandler: cancel() and one
// finished() signal. finished() is emitted exactly once, always from the event loop
// (never inside LlmClient::send() or cancel()), and the handle deleteLater()s itself right
// after; keep it in a QPointer if you may cancel late. Deleting an unfinished handle
// abandons the call silently.
// Thread contract: lives in its client's thread; call it only from there.
class LlmCall final : public QObject {
    Q_OBJECT

public:
    ~LlmCall() override;

    // Stops the call wherever it is (queued, waiting for a key, in flight, backing off).
    // It then finishes with status Canceled (not an error); a no-op once finished.
    void cancel();
    bool isFinished() const { return m_finished; }
    const QString& endpointName() const { return m_profile.name; }

signals:
    void finished(const recwb::rerank::ChatResponse& response);

private:
    friend class LlmClient;
    LlmCall(LlmClient* client, const EndpointProfile& profile, const ChatRequest& request);

    enum class Stage { Queued, KeyLookup, InFlight, Backoff, Done };

    QPointer<LlmClient> m_client;
    EndpointProfile m_profile;
    ChatRequest m_request;
    QByteArray m_key; // never logged; redacted from everything reported
    QNetworkReply* m_reply = nullptr; // owned while in flight
    QTimer m_deadline; // overall deadline (profile.timeoutMs), from dequeue to the end
    QTimer m_backoff;
    QElapsedTimer m_clock; // from send()
    ChatResponse m_last; // what the last attempt produced
    Stage m_stage = Stage::Queued;
    int m_attempts = 0; // HTTP requests sent
    int m_lastOutcome = 0; // LlmClient::Outcome of the last attempt
    bool m_needsKeychain = false;
    bool m_holdsSlot = false;
    bool m_isProbe = false;
    bool m_finished = false;
};

struct LlmClientConfig {
    int circuitFailureThreshold = 5; // consecutive failed calls that open the breaker
    int circuitCooldownMs = 30000; // open -> half-open (one probe) after this
    qint64 maxResponseBytes = 8 * 1024 * 1024;
    qint64 backoffBaseMs = 500; // min(base * 2^n, cap) with jitter (LLM_APIS.md section 6)
    qint64 backoffCapMs = 8000;
    qint64 maxRetryAfterMs = 60000; // a longer server-requested wait is reported, not slept
    int transferTimeoutMs = 0; // per-attempt inactivity timeout; 0 = profile.timeoutMs
    QString keychainService = QStringLiteral("recwb"); // QtKeychain service for keychain entries
};

// The LLM HTTP client (STYLE.md pattern 5). Owns one QNetworkAccessManager. Per endpoint
// name it keeps a FIFO queue limited to profile.maxConcurrent calls in flight and a
// circuit breaker. Retries follow LLM_APIS.md section 6. Deadline: profile.timeoutMs
// covers the whole call from the moment it leaves the queue (all attempts and backoff
// waits); each attempt also has a transfer (inactivity) timeout. The breaker counts calls,
// not attempts: a call that ends in a network error, timeout, 408/409/429 or 5xx is a
// failure; any other answer from the server is a success. Never blocks, never opens
// dialogs, never runs a nested event loop (see sendBlocking() in blocking.h for the CLI).
// Thread contract: a QObject living in the thread that created it (or was moved to before
// first use); send() and every other member must be called from that thread. Use one
// client per thread.
class LlmClient final : public QObject {
    Q_OBJECT

public:
    enum class CircuitState { Closed, Open, HalfOpen };

    explicit LlmClient(QObject* parent = nullptr);
    explicit LlmClient(const LlmClientConfig& config, QObject* parent = nullptr);
    ~LlmClient() override;

    // Starts (or queues) one call. Never returns null and never emits from inside.
    LlmCall* send(const EndpointProfile& profile, const ChatRequest& request);

    const LlmClientConfig& config() const { return m_config; }
    void setConfig(const LlmClientConfig& config) { m_config = config; }

    CircuitState circuitState(const QString& endpointName) const;
    // How long a call to this endpoint would be refused from now, in ms: 0 when it would be
    // sent (the breaker closed, or open with its cooldown over: the call goes as the probe);
    // the rest of the cooldown while it is open; -1 while a half-open probe is in flight
    // (until it settles and circuitChanged() says how).
    qint64 refusedForMs(const QString& endpointName) const;
    // Probes that failed in a row since the endpoint last answered (0 after any success).
    int failedProbes(const QString& endpointName) const;
    int inFlight(const QString& endpointName) const;
    int queued(const QString& endpointName) const;

    // Whether QtKeychain was found at build time (keychainEntry works only then).
    static bool keychainSupported();

signals:
    // An endpoint's circuit breaker changed state (queued: never emitted from inside a call).
    void circuitChanged(const QString& endpointName, recwb::rerank::LlmClient::CircuitState state);

private:
    friend class LlmCall;
    struct Endpoint;
    void setCircuit(Endpoint& ep, const QString& name, CircuitState state);
    struct Endpoint {
        int active = 0;
        std::deque<QPointer<LlmCall>> queue;
        int consecutiveFailures = 0;
        CircuitState circuit = CircuitState::Closed;
        qint64 openUntilMs = 0; // m_monotonic time
        bool probeInFlight = false;
        int failedProbes = 0; // in a row, since the last success
        bool pumping = false;
    };
    enum class Outcome { Success, Failure, Neutral };

    void pump(const QString& endpointName);
    void start(LlmCall* call);
    void lookupKeychain(LlmCall* call);
    void attempt(LlmCall* call);
    void onReplyFinished(LlmCall* call, QNetworkReply* reply);
    void retryOrFinish(LlmCall* call, bool retryable, std::optional<qint64> serverDelayMs);
    void finish(LlmCall* call, ChatResponse response, Outcome outcome);
    void detach(LlmCall* call);
    void releaseReply(LlmCall* call);
    void refuse(LlmCall* call, CallStatus status, const QString& message);
    QString safe(const LlmCall* call, const QString& text) const;
    QNetworkAccessManager* pickManager();
    void replyDone(QNetworkReply* reply);

    LlmClientConfig m_config;
    // QNetworkAccessManager opens at most 6 HTTP/1.1 connections per host (Qt 6.4 has no
    // setting for it), so calls beyond 6 to one server would queue inside Qt, out of our
    // sight and past our deadlines. A small pool of managers lifts that: each reply goes to
    // the least-loaded manager, and a new one is made when all carry 6.
    std::vector<QNetworkAccessManager*> m_nams;
    QHash<QNetworkAccessManager*, int> m_namLoad; // replies in flight per manager
    QHash<QString, Endpoint> m_endpoints;
    QHash<QString, QByteArray> m_keychainCache; // entry -> key, for the client's lifetime
    QElapsedTimer m_monotonic;
};

} // namespace recwb::rerank

Q_DECLARE_METATYPE(recwb::rerank::ChatResponse)
