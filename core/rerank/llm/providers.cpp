#include "rerank/llm/providers.h"

#include "util/error.h"

#include <QCryptographicHash>
#include <QHostAddress>
#include <QUrl>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSet>

#include <algorithm>
#include <cmath>

namespace recwb::rerank {

namespace {

QString trimmedBase(const QString& baseUrl)
{
    QString base = baseUrl.trimmed();
    while (base.endsWith(u'/'))
        base.chop(1);
    return base;
}

double effectiveTemperature(const EndpointProfile& p, const ChatRequest& r)
{
    return r.temperature.value_or(p.temperature);
}

int effectiveMaxTokens(const EndpointProfile& p, const ChatRequest& r)
{
    return std::max(1, r.maxOutputTokens.value_or(p.maxOutputTokens));
}

QString joinedSystem(const ChatRequest& r)
{
    QStringList parts;
    for (const ChatMessage& m : r.messages)
        if (m.role == u"system")
            parts << m.content;
    return parts.join(QStringLiteral("\n\n"));
}

// A JSON number as a whole number: NaN as 0, the rest clamped to +-1e15 (a cast of 5e35 to
// qint64 is undefined behaviour, found by fuzz_providers in a usage count; 1e15 tokens or
// milliseconds is past any real answer, and thousands of them still sum within 64 bits).
qint64 wholeNumber(double v)
{
    constexpr double kLimit = 1.0e15;
    return std::isnan(v) ? 0 : static_cast<qint64>(std::clamp(v, -kLimit, kLimit));
}

// A token count: a whole number, never negative (fuzz_providers: a negative count from a broken
// or hostile server lowered a call's token total and so the run's cost).
qint64 num(const QJsonObject& o, const QString& key)
{
    return std::max<qint64>(0, wholeNumber(o.value(key).toDouble(0)));
}

// §1: messages as given; response_format json_schema (nested form, strict), json_object or none (text).
QJsonObject openAiBody(const EndpointProfile& p, const ChatRequest& r)
{
    QJsonArray messages;
    for (const ChatMessage& m : r.messages)
        messages.append(QJsonObject { { QStringLiteral("role"), m.role }, { QStringLiteral("content"), m.content } });
    QJsonObject body {
        { QStringLiteral("model"), p.model },
        { QStringLiteral("messages"), messages },
        { QStringLiteral("temperature"), effectiveTemperature(p, r) },
        { QStringLiteral("max_completion_tokens"), effectiveMaxTokens(p, r) }, // §1, F5: max_tokens is rejected by newer models
        { QStringLiteral("stream"), false },
    };
    switch (effectiveOutputMode(p, r)) {
    case OutputMode::JsonSchema: {
        // §1 Structured Outputs; §5/F7: always the nested json_schema.schema form.
        const QJsonObject jsonSchema {
            { QStringLiteral("name"), r.schemaName.isEmpty() ? QStringLiteral("rerank") : r.schemaName },
            { QStringLiteral("strict"), true },
            { QStringLiteral("schema"), strictJsonSchema(r.jsonSchema) },
        };
        body.insert(QStringLiteral("response_format"),
            QJsonObject { { QStringLiteral("type"), QStringLiteral("json_schema") }, { QStringLiteral("json_schema"), jsonSchema } });
        break;
    }
    case OutputMode::JsonObject:
        // §1 JSON mode: valid JSON, no schema (servers without json_schema support).
        body.insert(QStringLiteral("response_format"), QJsonObject { { QStringLiteral("type"), QStringLiteral("json_object") } });
        break;
    case OutputMode::Text:
        break; // no response_format: the schema is in the prompt text only
    }
    // §7: OpenAI caches exact prompt prefixes automatically; prompt_cache_key (a stable key
    // per prefix) improves routing and hit rate. Only api.openai.com is sent the extra
    // field: strict compatible servers reject unknown parameters. The key is a hash of the
    // system messages (the static part every template keeps first).
    if (QUrl(p.baseUrl).host().compare(QStringLiteral("api.openai.com"), Qt::CaseInsensitive) == 0) {
        QCryptographicHash h(QCryptographicHash::Sha256);
        h.addData(p.model.toUtf8());
        for (const ChatMessage& m : r.messages)
            if (m.role == u"system")
                h.addData(m.content.toUtf8());
        body.insert(QStringLiteral("prompt_cache_key"),
            QString(QStringLiteral("recwb-") + QString::fromLatin1(h.result().toHex().left(24))));
    }
    return body;
}

QJsonObject ephemeral()
{
    return QJsonObject { { QStringLiteral("type"), QStringLiteral("ephemeral") } };
}

// §2: system as text blocks (cache_control per §7 on marked blocks), output_config.format json_schema.
QJsonObject anthropicBody(const EndpointProfile& p, const ChatRequest& r)
{
    QJsonArray system;
    QJsonArray messages;
    for (const ChatMessage& m : r.messages) {
        QJsonObject block { { QStringLiteral("type"), QStringLiteral("text") }, { QStringLiteral("text"), m.content } };
        if (m.cacheBreakpoint)
            block.insert(QStringLiteral("cache_control"), ephemeral());
        if (m.role == u"system") {
            system.append(block);
        } else {
            const QString role = m.role == u"assistant" ? QStringLiteral("assistant") : QStringLiteral("user");
            QJsonValue content = m.cacheBreakpoint ? QJsonValue(QJsonArray { block }) : QJsonValue(m.content);
            messages.append(QJsonObject { { QStringLiteral("role"), role }, { QStringLiteral("content"), content } });
        }
    }
    QJsonObject body {
        { QStringLiteral("model"), p.model },
        { QStringLiteral("max_tokens"), effectiveMaxTokens(p, r) },
        { QStringLiteral("messages"), messages },
        { QStringLiteral("temperature"), std::clamp(effectiveTemperature(p, r), 0.0, 1.0) }, // §2: 0..1
    };
    if (!system.isEmpty())
        body.insert(QStringLiteral("system"), system);
    if (!r.jsonSchema.isEmpty()) {
        // §2 structured outputs (GA form; the beta output_format is deprecated).
        const QJsonObject format { { QStringLiteral("type"), QStringLiteral("json_schema") },
            { QStringLiteral("schema"), strictJsonSchema(r.jsonSchema) } };
        body.insert(QStringLiteral("output_config"), QJsonObject { { QStringLiteral("format"), format } });
    }
    return body;
}

// §3: systemInstruction, contents with roles user/model, generationConfig with the schema, thinking off (F2).
QJsonObject geminiBody(const EndpointProfile& p, const ChatRequest& r)
{
    QJsonArray contents;
    for (const ChatMessage& m : r.messages) {
        if (m.role == u"system")
            continue;
        const QString role = m.role == u"assistant" ? QStringLiteral("model") : QStringLiteral("user");
        contents.append(QJsonObject { { QStringLiteral("role"), role },
            { QStringLiteral("parts"), QJsonArray { QJsonObject { { QStringLiteral("text"), m.content } } } } });
    }
    QJsonObject generation {
        { QStringLiteral("temperature"), effectiveTemperature(p, r) },
        { QStringLiteral("maxOutputTokens"), effectiveMaxTokens(p, r) },
        { QStringLiteral("thinkingConfig"), QJsonObject { { QStringLiteral("thinkingBudget"), 0 } } },
    };
    if (!r.jsonSchema.isEmpty()) {
        generation.insert(QStringLiteral("responseMimeType"), QStringLiteral("application/json"));
        generation.insert(QStringLiteral("responseSchema"), geminiResponseSchema(r.jsonSchema));
    }
    QJsonObject body { { QStringLiteral("contents"), contents }, { QStringLiteral("generationConfig"), generation } };
    const QString system = joinedSystem(r);
    if (!system.isEmpty())
        body.insert(QStringLiteral("systemInstruction"),
            QJsonObject { { QStringLiteral("parts"), QJsonArray { QJsonObject { { QStringLiteral("text"), system } } } } });
    return body;
}

// §4: stream:false (it defaults to true), format per the output mode, options.num_ctx always set (F8).
QJsonObject ollamaBody(const EndpointProfile& p, const ChatRequest& r)
{
    QJsonArray messages;
    for (const ChatMessage& m : r.messages)
        messages.append(QJsonObject { { QStringLiteral("role"), m.role }, { QStringLiteral("content"), m.content } });
    const int maxTokens = effectiveMaxTokens(p, r);
    QJsonObject body {
        { QStringLiteral("model"), p.model },
        { QStringLiteral("messages"), messages },
        { QStringLiteral("stream"), false },
        { QStringLiteral("options"),
            QJsonObject { { QStringLiteral("temperature"), effectiveTemperature(p, r) },
                { QStringLiteral("num_ctx"), ollamaContextSize(r, maxTokens) },
                { QStringLiteral("num_predict"), maxTokens } } },
    };
    switch (effectiveOutputMode(p, r)) {
    case OutputMode::JsonSchema: // §4: grammar-constrained decoding to the schema
        body.insert(QStringLiteral("format"), strictJsonSchema(r.jsonSchema));
        break;
    case OutputMode::JsonObject: // §4: any valid JSON
        body.insert(QStringLiteral("format"), QStringLiteral("json"));
        break;
    case OutputMode::Text:
        break; // no format: free text, the schema is in the prompt only
    }
    return body;
}

QJsonObject strictObject(const QJsonObject& schema);

QJsonValue strictValue(const QJsonValue& v)
{
    if (v.isObject())
        return strictObject(v.toObject());
    if (v.isArray()) {
        QJsonArray out;
        for (const QJsonValue& e : v.toArray())
            out.append(strictValue(e));
        return out;
    }
    return v;
}

QJsonValue nullable(const QJsonValue& schema)
{
    QJsonObject o = schema.toObject();
    const QJsonValue type = o.value(QStringLiteral("type"));
    if (type.isString() && type.toString() != u"null") {
        o.insert(QStringLiteral("type"), QJsonArray { type, QStringLiteral("null") });
    } else if (type.isArray()) {
        QJsonArray types = type.toArray();
        if (!types.contains(QStringLiteral("null")))
            types.append(QStringLiteral("null"));
        o.insert(QStringLiteral("type"), types);
    }
    return o;
}

QJsonObject strictObject(const QJsonObject& schema)
{
    QJsonObject out;
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        const QString& key = it.key();
        if (key == u"properties" || key == u"$defs" || key == u"definitions") {
            QJsonObject props;
            const QJsonObject in = it.value().toObject();
            for (auto p = in.begin(); p != in.end(); ++p)
                props.insert(p.key(), strictValue(p.value()));
            out.insert(key, props);
        } else {
            out.insert(key, strictValue(it.value()));
        }
    }
    const QJsonValue type = out.value(QStringLiteral("type"));
    const bool isObject = type.toString() == u"object" || type.toArray().contains(QStringLiteral("object"))
        || out.contains(QStringLiteral("properties"));
    if (isObject) {
        out.insert(QStringLiteral("additionalProperties"), false);
        QJsonObject props = out.value(QStringLiteral("properties")).toObject();
        QJsonArray required;
        QSet<QString> seen;
        for (const QJsonValue& r : out.value(QStringLiteral("required")).toArray()) {
            if (props.contains(r.toString()) && !seen.contains(r.toString())) {
                required.append(r);
                seen.insert(r.toString());
            }
        }
        for (auto p = props.begin(); p != props.end(); ++p) {
            if (seen.contains(p.key()))
                continue;
            required.append(p.key());
            p.value() = nullable(p.value()); // §0: optional fields as ["T","null"]
        }
        out.insert(QStringLiteral("properties"), props);
        out.insert(QStringLiteral("required"), required);
    }
    return out;
}

QJsonObject geminiObject(const QJsonObject& schema)
{
    static const QSet<QString> allowed { QStringLiteral("type"), QStringLiteral("format"), QStringLiteral("description"),
        QStringLiteral("nullable"), QStringLiteral("enum"), QStringLiteral("items"), QStringLiteral("minItems"),
        QStringLiteral("maxItems"), QStringLiteral("properties"), QStringLiteral("required"),
        QStringLiteral("propertyOrdering") };
    QJsonObject out;
    for (auto it = schema.begin(); it != schema.end(); ++it) {
        const QString& key = it.key();
        if (!allowed.contains(key))
            continue;
        if (key == u"type" && it.value().isArray()) {
            QString single;
            for (const QJsonValue& t : it.value().toArray()) {
                if (t.toString() == u"null")
                    out.insert(QStringLiteral("nullable"), true);
                else if (single.isEmpty())
                    single = t.toString();
            }
            if (!single.isEmpty())
                out.insert(QStringLiteral("type"), single);
        } else if (key == u"items") {
            out.insert(key, geminiObject(it.value().toObject()));
        } else if (key == u"properties") {
            QJsonObject props;
            const QJsonObject in = it.value().toObject();
            for (auto p = in.begin(); p != in.end(); ++p)
                props.insert(p.key(), geminiObject(p.value().toObject()));
            out.insert(key, props);
        } else {
            out.insert(key, it.value());
        }
    }
    if (out.contains(QStringLiteral("properties")) && !out.contains(QStringLiteral("propertyOrdering"))
        && out.contains(QStringLiteral("required")))
        out.insert(QStringLiteral("propertyOrdering"), out.value(QStringLiteral("required")));
    return out;
}

void setBadEnvelope(ChatResponse& r, const QString& what)
{
    r.status = CallStatus::BadEnvelope;
    r.errorMessage = what;
}

void parseOpenAi(const QJsonObject& root, ChatResponse& r)
{
    const QJsonArray choices = root.value(QStringLiteral("choices")).toArray();
    if (choices.isEmpty())
        return setBadEnvelope(r, QStringLiteral("OpenAI response without choices[]"));
    const QJsonObject choice = choices.first().toObject();
    const QJsonObject message = choice.value(QStringLiteral("message")).toObject();
    const QJsonValue content = message.value(QStringLiteral("content"));
    if (content.isString()) {
        r.text = content.toString();
    } else if (content.isArray()) {
        for (const QJsonValue& part : content.toArray())
            if (part.toObject().value(QStringLiteral("type")).toString() == u"text")
                r.text += part.toObject().value(QStringLiteral("text")).toString();
    }
    r.rawFinishReason = choice.value(QStringLiteral("finish_reason")).toString();
    r.finish = normaliseFinishReason(ProviderKind::OpenAiChat, r.rawFinishReason);
    const QJsonValue refusal = message.value(QStringLiteral("refusal"));
    if (refusal.isString() && !refusal.toString().isEmpty()) { // §1: refusal set, content null
        r.finish = FinishReason::Filtered;
        r.errorMessage = QStringLiteral("the model refused: ") + refusal.toString();
    }
    const QJsonObject usage = root.value(QStringLiteral("usage")).toObject();
    const QJsonObject inDetails = usage.value(QStringLiteral("prompt_tokens_details")).toObject();
    const QJsonObject outDetails = usage.value(QStringLiteral("completion_tokens_details")).toObject();
    r.usage.inputTokens = num(usage, QStringLiteral("prompt_tokens")); // §0: includes cached
    r.usage.cachedInputTokens = num(inDetails, QStringLiteral("cached_tokens"));
    r.usage.cacheWriteTokens = num(inDetails, QStringLiteral("cache_write_tokens"));
    r.usage.outputTokens = num(usage, QStringLiteral("completion_tokens")); // includes reasoning
    r.usage.reasoningTokens = num(outDetails, QStringLiteral("reasoning_tokens"));
}

void parseAnthropic(const QJsonObject& root, ChatResponse& r)
{
    if (!root.value(QStringLiteral("content")).isArray())
        return setBadEnvelope(r, QStringLiteral("Anthropic response without content[]"));
    QString toolInput;
    for (const QJsonValue& v : root.value(QStringLiteral("content")).toArray()) {
        const QJsonObject block = v.toObject();
        const QString type = block.value(QStringLiteral("type")).toString();
        if (type == u"text") // §2: concatenate text blocks, skip thinking
            r.text += block.value(QStringLiteral("text")).toString();
        else if (type == u"tool_use" && toolInput.isEmpty())
            toolInput = QString::fromUtf8(
                QJsonDocument(block.value(QStringLiteral("input")).toObject()).toJson(QJsonDocument::Compact));
    }
    if (r.text.isEmpty() && !toolInput.isEmpty()) // forced tool use (§2 way 2): the input is the answer
        r.text = toolInput;
    r.rawFinishReason = root.value(QStringLiteral("stop_reason")).toString();
    r.finish = normaliseFinishReason(ProviderKind::Anthropic, r.rawFinishReason);
    const QJsonObject usage = root.value(QStringLiteral("usage")).toObject();
    const qint64 write = num(usage, QStringLiteral("cache_creation_input_tokens"));
    const qint64 read = num(usage, QStringLiteral("cache_read_input_tokens"));
    r.usage.inputTokens = num(usage, QStringLiteral("input_tokens")) + write + read; // §0: input excludes cache
    r.usage.cachedInputTokens = read;
    r.usage.cacheWriteTokens = write;
    r.usage.outputTokens = num(usage, QStringLiteral("output_tokens"));
}

void parseGemini(const QJsonObject& root, ChatResponse& r)
{
    const QJsonObject usage = root.value(QStringLiteral("usageMetadata")).toObject();
    const qint64 thoughts = num(usage, QStringLiteral("thoughtsTokenCount"));
    r.usage.inputTokens = num(usage, QStringLiteral("promptTokenCount")) + num(usage, QStringLiteral("toolUsePromptTokenCount"));
    r.usage.cachedInputTokens = num(usage, QStringLiteral("cachedContentTokenCount"));
    r.usage.outputTokens = num(usage, QStringLiteral("candidatesTokenCount")) + thoughts; // §0: thoughts billed as output
    r.usage.reasoningTokens = thoughts;

    const QJsonArray candidates = root.value(QStringLiteral("candidates")).toArray();
    if (candidates.isEmpty()) {
        const QString block = root.value(QStringLiteral("promptFeedback")).toObject().value(QStringLiteral("blockReason")).toString();
        if (block.isEmpty())
            return setBadEnvelope(r, QStringLiteral("Gemini response without candidates[] or promptFeedback.blockReason"));
        r.finish = FinishReason::Filtered; // §3: the prompt was blocked
        r.rawFinishReason = block;
        r.errorMessage = QStringLiteral("the prompt was blocked: ") + block;
        return;
    }
    const QJsonObject candidate = candidates.first().toObject();
    for (const QJsonValue& v : candidate.value(QStringLiteral("content")).toObject().value(QStringLiteral("parts")).toArray()) {
        const QJsonObject part = v.toObject();
        if (!part.value(QStringLiteral("thought")).toBool())
            r.text += part.value(QStringLiteral("text")).toString();
    }
    r.rawFinishReason = candidate.value(QStringLiteral("finishReason")).toString();
    r.finish = normaliseFinishReason(ProviderKind::Gemini, r.rawFinishReason);
}

void parseOllama(const QJsonObject& root, ChatResponse& r)
{
    if (!root.value(QStringLiteral("message")).isObject())
        return setBadEnvelope(r, root.contains(QStringLiteral("error"))
                ? QStringLiteral("Ollama error: ") + providerErrorMessage(QJsonDocument(root).toJson())
                : QStringLiteral("Ollama response without message"));
    r.text = root.value(QStringLiteral("message")).toObject().value(QStringLiteral("content")).toString();
    r.rawFinishReason = root.value(QStringLiteral("done_reason")).toString();
    r.finish = normaliseFinishReason(ProviderKind::OllamaNative, r.rawFinishReason);
    r.usage.inputTokens = num(root, QStringLiteral("prompt_eval_count"));
    r.usage.outputTokens = num(root, QStringLiteral("eval_count"));
}

} // namespace

QUrl providerUrl(const EndpointProfile& p)
{
    QString base = trimmedBase(p.baseUrl);
    switch (p.kind) {
    case ProviderKind::OpenAiChat:
        return QUrl(base + QStringLiteral("/chat/completions"));
    case ProviderKind::Anthropic:
        if (base.endsWith(QStringLiteral("/v1")))
            base.chop(3);
        return QUrl(base + QStringLiteral("/v1/messages"));
    case ProviderKind::Gemini:
        if (base.endsWith(QStringLiteral("/v1beta")))
            base.chop(7);
        return QUrl(base + QStringLiteral("/v1beta/models/") + QString::fromUtf8(QUrl::toPercentEncoding(p.model, "-._~"))
            + QStringLiteral(":generateContent"));
    case ProviderKind::OllamaNative:
        return QUrl(base + QStringLiteral("/api/chat"));
    case ProviderKind::Offline:
        break;
    }
    throw Error(QStringLiteral("endpoint '%1': the offline reranker has no HTTP endpoint").arg(p.name));
}

QJsonObject buildProviderBody(const EndpointProfile& profile, const ChatRequest& request)
{
    switch (profile.kind) {
    case ProviderKind::OpenAiChat:
        return openAiBody(profile, request);
    case ProviderKind::Anthropic:
        return anthropicBody(profile, request);
    case ProviderKind::Gemini:
        return geminiBody(profile, request);
    case ProviderKind::OllamaNative:
        return ollamaBody(profile, request);
    case ProviderKind::Offline:
        break;
    }
    throw Error(QStringLiteral("endpoint '%1': the offline reranker has no HTTP endpoint").arg(profile.name));
}

HttpRequestSpec buildProviderRequest(const EndpointProfile& profile, const ChatRequest& request,
    const ProviderRequestOptions& options)
{
    HttpRequestSpec spec;
    spec.url = providerUrl(profile);
    spec.body = QJsonDocument(buildProviderBody(profile, request)).toJson(QJsonDocument::Compact);
    spec.headers.append({ QByteArrayLiteral("Content-Type"), QByteArrayLiteral("application/json") });
    spec.headers.append({ QByteArrayLiteral("Accept"), QByteArrayLiteral("application/json") });
    const QByteArray& key = options.apiKey;
    switch (profile.kind) {
    case ProviderKind::OpenAiChat: // §1: Authorization: Bearer
    case ProviderKind::OllamaNative: // §4: no auth locally; a reverse proxy may want a Bearer token
        if (!key.isEmpty())
            spec.headers.append({ QByteArrayLiteral("Authorization"), QByteArrayLiteral("Bearer ") + key });
        break;
    case ProviderKind::Anthropic: // §2: x-api-key + anthropic-version
        if (!key.isEmpty())
            spec.headers.append({ QByteArrayLiteral("x-api-key"), key });
        spec.headers.append({ QByteArrayLiteral("anthropic-version"), QByteArrayLiteral("2023-06-01") });
        break;
    case ProviderKind::Gemini: // §3: x-goog-api-key header (never the ?key= query, which ends up in logs)
        if (!key.isEmpty())
            spec.headers.append({ QByteArrayLiteral("x-goog-api-key"), key });
        break;
    case ProviderKind::Offline:
        break;
    }
    return spec;
}

ChatResponse parseProviderResponse(ProviderKind kind, const QByteArray& body)
{
    ChatResponse r;
    r.status = CallStatus::Ok;
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject()) {
        setBadEnvelope(r, QStringLiteral("the response body is not a JSON object (%1 at offset %2)").arg(err.errorString()).arg(err.offset));
        return r;
    }
    const QJsonObject root = doc.object();
    switch (kind) {
    case ProviderKind::OpenAiChat:
        parseOpenAi(root, r);
        break;
    case ProviderKind::Anthropic:
        parseAnthropic(root, r);
        break;
    case ProviderKind::Gemini:
        parseGemini(root, r);
        break;
    case ProviderKind::OllamaNative:
        parseOllama(root, r);
        break;
    case ProviderKind::Offline:
        setBadEnvelope(r, QStringLiteral("the offline reranker has no response envelope"));
        break;
    }
    return r;
}

FinishReason normaliseFinishReason(ProviderKind kind, const QString& raw)
{
    // §0 table.
    if (raw.isEmpty())
        return FinishReason::Unknown;
    switch (kind) {
    case ProviderKind::OpenAiChat:
        if (raw == u"stop")
            return FinishReason::Ok;
        if (raw == u"length")
            return FinishReason::Truncated;
        if (raw == u"content_filter")
            return FinishReason::Filtered;
        if (raw == u"tool_calls" || raw == u"function_call")
            return FinishReason::ToolCall;
        return FinishReason::Other;
    case ProviderKind::Anthropic:
        if (raw == u"end_turn" || raw == u"stop_sequence")
            return FinishReason::Ok;
        if (raw == u"max_tokens" || raw == u"model_context_window_exceeded")
            return FinishReason::Truncated;
        if (raw == u"refusal")
            return FinishReason::Filtered;
        if (raw == u"tool_use")
            return FinishReason::ToolCall;
        return FinishReason::Other;
    case ProviderKind::Gemini: {
        static const QSet<QString> filtered { QStringLiteral("SAFETY"), QStringLiteral("RECITATION"),
            QStringLiteral("BLOCKLIST"), QStringLiteral("PROHIBITED_CONTENT"), QStringLiteral("SPII"),
            QStringLiteral("IMAGE_SAFETY"), QStringLiteral("LANGUAGE"), QStringLiteral("OTHER") };
        if (raw == u"STOP")
            return FinishReason::Ok;
        if (raw == u"MAX_TOKENS")
            return FinishReason::Truncated;
        if (filtered.contains(raw))
            return FinishReason::Filtered;
        if (raw == u"MALFORMED_FUNCTION_CALL")
            return FinishReason::ToolCall;
        return FinishReason::Other;
    }
    case ProviderKind::OllamaNative:
        if (raw == u"stop")
            return FinishReason::Ok;
        if (raw == u"length")
            return FinishReason::Truncated;
        return FinishReason::Other;
    case ProviderKind::Offline:
        break;
    }
    return FinishReason::Unknown;
}

QString providerErrorMessage(const QByteArray& body)
{
    const QJsonObject root = QJsonDocument::fromJson(body).object();
    const QJsonValue error = root.value(QStringLiteral("error"));
    if (error.isString())
        return error.toString();
    const QJsonObject e = error.toObject();
    QString message = e.value(QStringLiteral("message")).toString();
    const QString type = e.value(QStringLiteral("type")).toString();
    const QString status = e.value(QStringLiteral("status")).toString();
    const QString code = e.value(QStringLiteral("code")).isString() ? e.value(QStringLiteral("code")).toString() : QString();
    const QString tag = !code.isEmpty() ? code : !type.isEmpty() ? type : status;
    if (!tag.isEmpty() && !message.isEmpty())
        return tag + QStringLiteral(": ") + message;
    return message.isEmpty() ? tag : message;
}

bool isQuotaExhausted(int httpStatus, const QByteArray& body)
{
    if (httpStatus != 429)
        return false;
    const QJsonObject error = QJsonDocument::fromJson(body).object().value(QStringLiteral("error")).toObject();
    if (error.value(QStringLiteral("code")).toString() == u"insufficient_quota"
        || error.value(QStringLiteral("type")).toString() == u"insufficient_quota")
        return true; // §1
    if (error.value(QStringLiteral("details")).toObject().value(QStringLiteral("error_code")).toString()
        == u"enforced_spend_limit_reached")
        return true; // §2
    for (const QJsonValue& d : error.value(QStringLiteral("details")).toArray()) { // §3 QuotaFailure
        for (const QJsonValue& v : d.toObject().value(QStringLiteral("violations")).toArray()) {
            const QJsonObject violation = v.toObject();
            if (violation.value(QStringLiteral("quotaId")).toString().contains(QStringLiteral("PerDay"))
                || violation.value(QStringLiteral("quotaMetric")).toString().contains(QStringLiteral("per_day")))
                return true;
        }
    }
    // Bodies that are not quite the documented shape (gateways re-wrap them).
    return body.contains("insufficient_quota") || body.contains("enforced_spend_limit_reached");
}

std::optional<qint64> bodyRetryDelayMs(const QByteArray& body)
{
    const QJsonObject error = QJsonDocument::fromJson(body).object().value(QStringLiteral("error")).toObject();
    static const QRegularExpression seconds(QStringLiteral("^(\\d+(?:\\.\\d+)?)s$"));
    for (const QJsonValue& d : error.value(QStringLiteral("details")).toArray()) {
        const QRegularExpressionMatch m = seconds.match(d.toObject().value(QStringLiteral("retryDelay")).toString());
        if (m.hasMatch())
            return wholeNumber(std::round(m.captured(1).toDouble() * 1000.0));
    }
    return std::nullopt;
}

QJsonObject strictJsonSchema(const QJsonObject& schema)
{
    return strictObject(schema);
}

QJsonObject geminiResponseSchema(const QJsonObject& schema)
{
    return geminiObject(schema);
}

int estimatePromptTokens(const ChatRequest& request)
{
    qint64 chars = 0;
    for (const ChatMessage& m : request.messages)
        chars += m.content.size() + 16; // role and framing
    chars += QJsonDocument(request.jsonSchema).toJson(QJsonDocument::Compact).size();
    return static_cast<int>(std::min<qint64>((chars + 3) / 4, 100'000'000));
}

int ollamaContextSize(const ChatRequest& request, int maxOutputTokens)
{
    // Char/4 underestimates for non-English text and JSON: add a quarter plus 256 tokens of margin.
    const qint64 need = estimatePromptTokens(request) * 5LL / 4 + std::max(0, maxOutputTokens) + 256;
    const qint64 rounded = ((need + 1023) / 1024) * 1024;
    return static_cast<int>(std::clamp<qint64>(rounded, 2048, 1 << 20));
}

bool isLoopbackHost(const QString& host)
{
    const QString h = host.toLower();
    if (h == u"localhost" || h.endsWith(QStringLiteral(".localhost")))
        return true;
    QHostAddress address;
    return address.setAddress(h) && address.isLoopback();
}

bool providerRequiresKey(const EndpointProfile& profile)
{
    switch (profile.kind) {
    case ProviderKind::Anthropic:
    case ProviderKind::Gemini:
        return true;
    case ProviderKind::OpenAiChat:
        return !isLoopbackHost(QUrl(profile.baseUrl).host());
    case ProviderKind::OllamaNative:
    case ProviderKind::Offline:
        return false;
    }
    return false;
}

} // namespace recwb::rerank
