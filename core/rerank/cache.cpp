#include "rerank/cache.h"

#include "data/workspace.h"
#include "rerank/store.h"
#include "util/error.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QtDebug>

namespace recwb::rerank {

QString cacheKey(const EndpointProfile& endpoint, const ChatRequest& request)
{
    QJsonArray messages;
    for (const ChatMessage& m : request.messages)
        messages.append(QJsonObject {
            { QStringLiteral("role"), m.role },
            { QStringLiteral("content"), m.content },
            { QStringLiteral("cache"), m.cacheBreakpoint },
        });
    // QJsonDocument writes object keys sorted: the serialisation is canonical.
    const QJsonObject canonical {
        // v2 added output_mode: v1 keys did not tell a json_object answer from a json_schema one.
        { QStringLiteral("v"), 2 },
        { QStringLiteral("kind"), providerKindName(endpoint.kind) },
        { QStringLiteral("base_url"), endpoint.baseUrl },
        { QStringLiteral("model"), endpoint.model },
        { QStringLiteral("messages"), messages },
        { QStringLiteral("temperature"), request.temperature.value_or(endpoint.temperature) },
        { QStringLiteral("max_output_tokens"), request.maxOutputTokens.value_or(endpoint.maxOutputTokens) },
        { QStringLiteral("schema_name"), request.schemaName },
        { QStringLiteral("schema"), request.jsonSchema },
        { QStringLiteral("output_mode"), outputModeName(effectiveOutputMode(endpoint, request)) },
    };
    return QString::fromLatin1(QCryptographicHash::hash(QJsonDocument(canonical).toJson(QJsonDocument::Compact),
        QCryptographicHash::Sha256)
                                   .toHex());
}

QJsonObject chatResponseToJson(const ChatResponse& r)
{
    return QJsonObject {
        { QStringLiteral("status"), callStatusName(r.status) },
        { QStringLiteral("http_status"), r.httpStatus },
        { QStringLiteral("request_id"), r.requestId },
        { QStringLiteral("text"), r.text },
        { QStringLiteral("finish"), finishReasonName(r.finish) },
        { QStringLiteral("raw_finish_reason"), r.rawFinishReason },
        { QStringLiteral("usage"),
            QJsonObject {
                { QStringLiteral("input_tokens"), r.usage.inputTokens },
                { QStringLiteral("cached_input_tokens"), r.usage.cachedInputTokens },
                { QStringLiteral("cache_write_tokens"), r.usage.cacheWriteTokens },
                { QStringLiteral("output_tokens"), r.usage.outputTokens },
                { QStringLiteral("reasoning_tokens"), r.usage.reasoningTokens },
            } },
        { QStringLiteral("attempts"), r.attempts },
        { QStringLiteral("latency_ms"), r.latencyMs },
    };
}

ChatResponse chatResponseFromJson(const QJsonObject& o)
{
    ChatResponse r;
    r.status = CallStatus::Ok;
    for (int s = 0; s <= static_cast<int>(CallStatus::Refused); ++s)
        if (callStatusName(static_cast<CallStatus>(s)) == o.value(QStringLiteral("status")).toString())
            r.status = static_cast<CallStatus>(s);
    r.httpStatus = o.value(QStringLiteral("http_status")).toInt();
    r.requestId = o.value(QStringLiteral("request_id")).toString();
    r.text = o.value(QStringLiteral("text")).toString();
    r.finish = FinishReason::Unknown;
    for (int f = 0; f <= static_cast<int>(FinishReason::Unknown); ++f)
        if (finishReasonName(static_cast<FinishReason>(f)) == o.value(QStringLiteral("finish")).toString())
            r.finish = static_cast<FinishReason>(f);
    r.rawFinishReason = o.value(QStringLiteral("raw_finish_reason")).toString();
    const QJsonObject u = o.value(QStringLiteral("usage")).toObject();
    r.usage.inputTokens = u.value(QStringLiteral("input_tokens")).toInteger();
    r.usage.cachedInputTokens = u.value(QStringLiteral("cached_input_tokens")).toInteger();
    r.usage.cacheWriteTokens = u.value(QStringLiteral("cache_write_tokens")).toInteger();
    r.usage.outputTokens = u.value(QStringLiteral("output_tokens")).toInteger();
    r.usage.reasoningTokens = u.value(QStringLiteral("reasoning_tokens")).toInteger();
    r.attempts = o.value(QStringLiteral("attempts")).toInt();
    r.latencyMs = o.value(QStringLiteral("latency_ms")).toDouble();
    return r;
}

ResponseCache::ResponseCache(Workspace& ws, qint64 ttlSeconds)
    : m_ws(ws)
    , m_ttl(ttlSeconds)
    , m_clock([] { return QDateTime::currentSecsSinceEpoch(); })
{
}

ResponseCache::~ResponseCache()
{
    flush();
}

std::optional<ChatResponse> ResponseCache::lookup(const QString& key, bool bypass)
{
    if (bypass) {
        ++m_bypassed;
        return std::nullopt;
    }
    if (m_pendingIndex.contains(key))
        flush(); // rare (the same prompt twice in a batch): read it back as any other entry
    auto entry = m_out ? store::cacheGet(*m_out, key, m_clock()) : std::nullopt;
    if (!entry)
        entry = store::cacheGet(m_ws, key, m_clock(), !m_out);
    if (!entry) {
        ++m_misses;
        return std::nullopt;
    }
    ++m_hits;
    return chatResponseFromJson(entry->response);
}

void ResponseCache::store(const QString& key, const EndpointProfile& endpoint, const ChatResponse& response)
{
    if (!response.ok() || response.finish != FinishReason::Ok || m_ttl <= 0)
        return;
    if (m_deferred) {
        Pending p { key, endpoint.name, endpoint.model, chatResponseToJson(response), m_clock() };
        if (const auto it = m_pendingIndex.constFind(key); it != m_pendingIndex.cend()) {
            m_pending[*it] = std::move(p); // as the upsert: the latest answer wins
        } else {
            m_pendingIndex.insert(key, m_pending.size());
            m_pending.push_back(std::move(p));
        }
        return;
    }
    // The cache is an optimisation: an answer that was paid for and validated must not be
    // lost because its copy could not be written (a workspace busy past the timeout under
    // load, a full disk). The user keeps the answer; the next run calls again.
    try {
        store::cachePut(m_out ? *m_out : m_ws, key, endpoint.name, endpoint.model, chatResponseToJson(response), m_clock(), m_ttl);
    } catch (const Error& e) {
        qWarning("response cache: answer of endpoint '%s' not stored: %s", qPrintable(endpoint.name),
            qPrintable(e.message()));
    }
}

void ResponseCache::setDeferred(bool deferred)
{
    m_deferred = deferred;
    if (!deferred)
        flush();
}

void ResponseCache::flush()
{
    if (m_pending.empty())
        return;
    std::vector<Pending> pending;
    pending.swap(m_pending);
    m_pendingIndex.clear();
    try { // as store(): a copy that cannot be written is only a warning
        Workspace& target = m_out ? *m_out : m_ws;
        Transaction tx(target);
        for (const Pending& p : pending)
            store::cachePut(target, p.key, p.endpoint, p.model, p.response, p.storedAt, m_ttl);
        tx.commit();
    } catch (const Error& e) {
        qWarning("response cache: %d answer(s) not stored: %s", static_cast<int>(pending.size()),
            qPrintable(e.message()));
    }
}

} // namespace recwb::rerank
