#pragma once

#include "rerank/llmtypes.h"

#include <QHash>
#include <QJsonObject>
#include <QString>
#include <functional>
#include <optional>
#include <vector>

namespace recwb {
class Workspace;
}

namespace recwb::rerank {

// SHA-256 (hex) over everything that determines an answer: provider kind, base URL,
// model, every message (role, content, cache breakpoint), effective temperature and max
// output tokens (request overrides, else the profile's), schema name and schema, and the
// structured-output mode the request goes out with (effectiveOutputMode).
QString cacheKey(const EndpointProfile& endpoint, const ChatRequest& request);

QJsonObject chatResponseToJson(const ChatResponse& r); // text, finish, usage, ids, latency; no raw body
ChatResponse chatResponseFromJson(const QJsonObject& o);

// The LLM response cache over the workspace's response_cache table. Store only answers
// that came back ok with FinishReason::Ok and passed validation: the cache never holds a
// failure. Same thread contract as the Workspace it wraps.
class ResponseCache {
public:
    static constexpr qint64 kDefaultTtlSeconds = 3600;
    explicit ResponseCache(Workspace& ws, qint64 ttlSeconds = kDefaultTtlSeconds);

    ~ResponseCache(); // writes what is deferred
    ResponseCache(const ResponseCache&) = delete;
    ResponseCache& operator=(const ResponseCache&) = delete;

    // bypass: neither read nor counted (a forced fresh call); the fresh answer may still be stored.
    std::optional<ChatResponse> lookup(const QString& key, bool bypass = false);
    void store(const QString& key, const EndpointProfile& endpoint, const ChatResponse& response);
    // Deferred: store() keeps answers in memory (lookup() finds them there) until flush()
    // writes them all in one transaction; a batch flushes a few times a second instead of
    // committing once per answer. Turning it off flushes.
    void setDeferred(bool deferred);
    void flush();
    int pending() const { return static_cast<int>(m_pending.size()); }
    // A shard writing a file of its own (docs/SCALE.md): new answers go to `output` (same
    // thread), lookups read it first and then the workspace, which is never written (no hit
    // counts either). Null: everything on the workspace.
    void setOutput(Workspace* output) { m_out = output; }

    qint64 ttlSeconds() const { return m_ttl; }
    void setTtlSeconds(qint64 s) { m_ttl = s; }
    int hits() const { return m_hits; }
    int misses() const { return m_misses; }
    int bypassed() const { return m_bypassed; }
    // Seconds since the epoch; replaceable for tests.
    void setClock(std::function<qint64()> clock) { m_clock = std::move(clock); }

private:
    Workspace& m_ws;
    Workspace* m_out = nullptr;
    qint64 m_ttl;
    int m_hits = 0;
    int m_misses = 0;
    int m_bypassed = 0;
    std::function<qint64()> m_clock;
    bool m_deferred = false;
    struct Pending {
        QString key;
        QString endpoint;
        QString model;
        QJsonObject response;
        qint64 storedAt = 0;
    };
    std::vector<Pending> m_pending; // in store() order
    QHash<QString, size_t> m_pendingIndex; // key -> index in m_pending
};

} // namespace recwb::rerank
