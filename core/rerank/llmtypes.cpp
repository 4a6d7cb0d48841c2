#include "rerank/llmtypes.h"

#include "util/error.h"

#include <QJsonValue>
#include <QSet>
#include <QUrl>

namespace recwb::rerank {

namespace {

struct KindName {
    ProviderKind kind;
    const char16_t* name;
};
constexpr KindName kKindNames[] = {
    { ProviderKind::OpenAiChat, u"openai" },
    { ProviderKind::Anthropic, u"anthropic" },
    { ProviderKind::Gemini, u"gemini" },
    { ProviderKind::OllamaNative, u"ollama" },
    { ProviderKind::Offline, u"offline" },
};

std::optional<double> optionalPrice(const QJsonObject& o, const QString& key, const QString& where)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    if (!v.isDouble() || v.toDouble() < 0)
        throw Error(QStringLiteral("%1: \"%2\" must be a price >= 0 in USD per million tokens or null").arg(where, key));
    return v.toDouble();
}

QJsonValue priceValue(const std::optional<double>& p)
{
    return p ? QJsonValue(*p) : QJsonValue(QJsonValue::Null);
}

} // namespace

QString providerKindName(ProviderKind k)
{
    for (const auto& kn : kKindNames)
        if (kn.kind == k)
            return QString::fromUtf16(kn.name);
    return QStringLiteral("unknown");
}

std::optional<ProviderKind> providerKindFromName(const QString& name)
{
    for (const auto& kn : kKindNames)
        if (name.compare(QString::fromUtf16(kn.name), Qt::CaseInsensitive) == 0)
            return kn.kind;
    return std::nullopt;
}

QString outputModeName(OutputMode m)
{
    switch (m) {
    case OutputMode::JsonSchema:
        return QStringLiteral("json_schema");
    case OutputMode::JsonObject:
        return QStringLiteral("json_object");
    case OutputMode::Text:
        return QStringLiteral("text");
    }
    return QStringLiteral("json_schema");
}

std::optional<OutputMode> outputModeFromName(const QString& name)
{
    for (const OutputMode m : { OutputMode::JsonSchema, OutputMode::JsonObject, OutputMode::Text })
        if (name.trimmed().compare(outputModeName(m), Qt::CaseInsensitive) == 0)
            return m;
    return std::nullopt;
}

bool outputModeApplies(ProviderKind k)
{
    return k == ProviderKind::OpenAiChat || k == ProviderKind::OllamaNative;
}

OutputMode effectiveOutputMode(const EndpointProfile& profile, const ChatRequest& request)
{
    if (request.jsonSchema.isEmpty())
        return OutputMode::Text;
    return outputModeApplies(profile.kind) ? profile.structuredOutput : OutputMode::JsonSchema;
}

QString finishReasonName(FinishReason f)
{
    switch (f) {
    case FinishReason::Ok:
        return QStringLiteral("ok");
    case FinishReason::Truncated:
        return QStringLiteral("truncated");
    case FinishReason::Filtered:
        return QStringLiteral("filtered");
    case FinishReason::ToolCall:
        return QStringLiteral("tool_call");
    case FinishReason::Other:
        return QStringLiteral("other");
    case FinishReason::Unknown:
        break;
    }
    return QStringLiteral("unknown");
}

QString callStatusName(CallStatus s)
{
    switch (s) {
    case CallStatus::Ok:
        return QStringLiteral("ok");
    case CallStatus::HttpError:
        return QStringLiteral("http_error");
    case CallStatus::NetworkError:
        return QStringLiteral("network_error");
    case CallStatus::Timeout:
        return QStringLiteral("timeout");
    case CallStatus::Canceled:
        return QStringLiteral("canceled");
    case CallStatus::CircuitOpen:
        return QStringLiteral("circuit_open");
    case CallStatus::ResponseTooLarge:
        return QStringLiteral("response_too_large");
    case CallStatus::BadEnvelope:
        return QStringLiteral("bad_envelope");
    case CallStatus::Refused:
        return QStringLiteral("refused");
    }
    return QStringLiteral("unknown");
}

QJsonObject EndpointProfile::toJson() const
{
    return QJsonObject {
        { QStringLiteral("name"), name },
        { QStringLiteral("kind"), providerKindName(kind) },
        { QStringLiteral("base_url"), baseUrl },
        { QStringLiteral("model"), model },
        { QStringLiteral("key_env"), keyEnv },
        { QStringLiteral("keychain_entry"), keychainEntry },
        { QStringLiteral("timeout_ms"), timeoutMs },
        { QStringLiteral("max_concurrent"), maxConcurrent },
        { QStringLiteral("temperature"), temperature },
        { QStringLiteral("max_output_tokens"), maxOutputTokens },
        { QStringLiteral("allow_insecure_http"), allowInsecureHttp },
        { QStringLiteral("max_retries"), maxRetries },
        { QStringLiteral("structured_output"), outputModeName(structuredOutput) },
        { QStringLiteral("prices"),
            QJsonObject {
                { QStringLiteral("input"), priceValue(prices.input) },
                { QStringLiteral("cached_input"), priceValue(prices.cachedInput) },
                { QStringLiteral("cache_write"), priceValue(prices.cacheWrite) },
                { QStringLiteral("output"), priceValue(prices.output) },
                { QStringLiteral("as_of"), prices.asOf },
            } },
    };
}

EndpointProfile EndpointProfile::fromJson(const QJsonObject& o)
{
    EndpointProfile p;
    p.name = o.value(QStringLiteral("name")).toString();
    const QString where = QStringLiteral("endpoint \"%1\"").arg(p.name);
    if (p.name.trimmed().isEmpty())
        throw Error(QStringLiteral("endpoint: \"name\" is required"));
    static const QSet<QString> known {
        QStringLiteral("name"),
        QStringLiteral("kind"),
        QStringLiteral("base_url"),
        QStringLiteral("model"),
        QStringLiteral("key_env"),
        QStringLiteral("keychain_entry"),
        QStringLiteral("timeout_ms"),
        QStringLiteral("max_concurrent"),
        QStringLiteral("temperature"),
        QStringLiteral("max_output_tokens"),
        QStringLiteral("allow_insecure_http"),
        QStringLiteral("max_retries"),
        QStringLiteral("structured_output"),
        QStringLiteral("json_object_fallback"), // legacy: read, never written
        QStringLiteral("prices"),
    };
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (known.contains(it.key()))
            continue;
        if (it.key().contains(QStringLiteral("key"), Qt::CaseInsensitive)
            || it.key().contains(QStringLiteral("secret"), Qt::CaseInsensitive)
            || it.key().contains(QStringLiteral("token"), Qt::CaseInsensitive))
            throw Error(QStringLiteral("%1: \"%2\" looks like a secret; profiles name a key_env or keychain_entry, "
                                       "never the key itself")
                            .arg(where, it.key()));
        throw Error(QStringLiteral("%1: unknown key \"%2\"").arg(where, it.key()));
    }
    auto str = [&](const char16_t* key, QString& out) {
        const QJsonValue v = o.value(QString::fromUtf16(key));
        if (v.isUndefined() || v.isNull())
            return;
        if (!v.isString())
            throw Error(QStringLiteral("%1: \"%2\" must be a string").arg(where, QString::fromUtf16(key)));
        out = v.toString();
    };
    auto integer = [&](const char16_t* key, int& out, int min) {
        const QJsonValue v = o.value(QString::fromUtf16(key));
        if (v.isUndefined() || v.isNull())
            return;
        const double d = v.toDouble(-1e300);
        if (!v.isDouble() || d != static_cast<double>(static_cast<int>(d)) || d < min)
            throw Error(QStringLiteral("%1: \"%2\" must be an integer >= %3").arg(where, QString::fromUtf16(key)).arg(min));
        out = static_cast<int>(d);
    };
    QString kind = providerKindName(p.kind);
    str(u"kind", kind);
    const auto k = providerKindFromName(kind);
    if (!k)
        throw Error(QStringLiteral("%1: unknown kind \"%2\" (openai, anthropic, gemini, ollama, offline)").arg(where, kind));
    p.kind = *k;
    str(u"base_url", p.baseUrl);
    if (!p.baseUrl.isEmpty()) {
        const QUrl url(p.baseUrl, QUrl::StrictMode);
        if (!url.isValid() || (url.scheme() != u"http" && url.scheme() != u"https") || url.host().isEmpty())
            throw Error(QStringLiteral("%1: base_url \"%2\" is not an http(s) URL").arg(where, p.baseUrl));
        if (!url.userInfo().isEmpty())
            throw Error(QStringLiteral("%1: base_url must not carry credentials").arg(where));
    }
    str(u"model", p.model);
    str(u"key_env", p.keyEnv);
    str(u"keychain_entry", p.keychainEntry);
    integer(u"timeout_ms", p.timeoutMs, 1);
    integer(u"max_concurrent", p.maxConcurrent, 1);
    integer(u"max_output_tokens", p.maxOutputTokens, 1);
    integer(u"max_retries", p.maxRetries, 0);
    if (const QJsonValue t = o.value(QStringLiteral("temperature")); !t.isUndefined() && !t.isNull()) {
        if (!t.isDouble() || t.toDouble() < 0 || t.toDouble() > 2)
            throw Error(QStringLiteral("%1: \"temperature\" must be a number in [0, 2]").arg(where));
        p.temperature = t.toDouble();
    }
    auto boolean = [&](const char16_t* key, bool& out) {
        const QJsonValue b = o.value(QString::fromUtf16(key));
        if (b.isUndefined() || b.isNull())
            return;
        if (!b.isBool())
            throw Error(QStringLiteral("%1: \"%2\" must be true or false").arg(where, QString::fromUtf16(key)));
        out = b.toBool();
    };
    boolean(u"allow_insecure_http", p.allowInsecureHttp);
    if (const QJsonValue m = o.value(QStringLiteral("structured_output")); !m.isUndefined() && !m.isNull()) {
        const auto mode = m.isString() ? outputModeFromName(m.toString()) : std::nullopt;
        if (!mode)
            throw Error(QStringLiteral("%1: \"structured_output\" must be \"json_schema\", \"json_object\" or \"text\"")
                            .arg(where));
        p.structuredOutput = *mode;
    } else {
        // Profiles stored before structured_output: json_object_fallback true meant json_object.
        bool legacyJsonObject = false;
        boolean(u"json_object_fallback", legacyJsonObject);
        p.structuredOutput = legacyJsonObject ? OutputMode::JsonObject : OutputMode::JsonSchema;
    }
    if (const QJsonValue pv = o.value(QStringLiteral("prices")); !pv.isUndefined() && !pv.isNull()) {
        if (!pv.isObject())
            throw Error(QStringLiteral("%1: \"prices\" must be an object").arg(where));
        const QJsonObject po = pv.toObject();
        const QString pw = where + QStringLiteral(" prices");
        p.prices.input = optionalPrice(po, QStringLiteral("input"), pw);
        p.prices.cachedInput = optionalPrice(po, QStringLiteral("cached_input"), pw);
        p.prices.cacheWrite = optionalPrice(po, QStringLiteral("cache_write"), pw);
        p.prices.output = optionalPrice(po, QStringLiteral("output"), pw);
        p.prices.asOf = po.value(QStringLiteral("as_of")).toString();
    }
    return p;
}

std::optional<double> costOf(const Usage& usage, const Prices& prices)
{
    // Usage is normalised: inputTokens is the total, cached reads and cache writes are parts of it.
    const qint64 uncached = std::max<qint64>(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens);
    double usd = 0;
    auto add = [&](qint64 tokens, const std::optional<double>& price) {
        if (tokens <= 0)
            return true;
        if (!price)
            return false;
        usd += static_cast<double>(tokens) * *price / 1e6;
        return true;
    };
    if (!add(uncached, prices.input) || !add(usage.cachedInputTokens, prices.cachedInput)
        || !add(usage.cacheWriteTokens, prices.cacheWrite) || !add(usage.outputTokens, prices.output))
        return std::nullopt;
    return usd;
}

} // namespace recwb::rerank
