#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <optional>

// The vocabulary shared by the LLM client (core/rerank/llm), the prompt layer, the
// answer parser, the cache and the cost meter. Plain values; no Qt objects.
namespace recwb::rerank {

enum class ProviderKind {
    OpenAiChat, // OpenAI Chat Completions and compatible servers (Ollama /v1, llama.cpp, vLLM, LM Studio)
    Anthropic, // Messages API
    Gemini, // generateContent
    OllamaNative, // /api/chat
    Offline, // the embedded offline reranker: no HTTP at all
};
QString providerKindName(ProviderKind k); // "openai", "anthropic", "gemini", "ollama", "offline"
std::optional<ProviderKind> providerKindFromName(const QString& name);

// How an OpenAI-compatible or Ollama-native endpoint is asked for a JSON answer when the
// request carries a schema (docs/PROMPTS.md, "Structured output"):
//   JsonSchema  OpenAI response_format json_schema (strict) / Ollama format = the schema
//   JsonObject  OpenAI response_format json_object (any JSON; the messages must say "JSON")
//               / Ollama format "json"
//   Text        nothing in the request: the schema is only in the prompt text, and the
//               answer parser digs the JSON out of whatever comes back
// Anthropic and Gemini always use their own schema mechanism (output_config.format,
// responseSchema); the mode does not apply to them.
enum class OutputMode { JsonSchema, JsonObject, Text };
QString outputModeName(OutputMode m); // "json_schema", "json_object", "text"
std::optional<OutputMode> outputModeFromName(const QString& name);
bool outputModeApplies(ProviderKind k); // OpenAiChat and OllamaNative

// Prices in USD per million tokens. Unknown stays unknown (std::nullopt), never 0.
struct Prices {
    std::optional<double> input;
    std::optional<double> cachedInput; // cache reads
    std::optional<double> cacheWrite; // Anthropic 5-minute cache writes (and OpenAI where billed)
    std::optional<double> output;
    QString asOf; // the price table's date for this row
};

// One endpoint as the user configures it. The key itself never lives here: only where
// to get it (an environment variable, or an OS keychain entry through QtKeychain).
struct EndpointProfile {
    QString name; // unique, e.g. "gpt-4.1-mini", "local-ollama"
    ProviderKind kind = ProviderKind::OpenAiChat;
    QString baseUrl; // e.g. https://api.openai.com/v1, http://127.0.0.1:11434
    QString model;
    QString keyEnv; // environment variable holding the key, e.g. OPENAI_API_KEY
    QString keychainEntry; // alternatively an OS keychain entry name
    int timeoutMs = 60000; // overall deadline per request
    int maxConcurrent = 4;
    double temperature = 0.0;
    int maxOutputTokens = 2048;
    bool allowInsecureHttp = false; // http:// to a non-loopback host only when set
    int maxRetries = 2;
    // JSON key "structured_output"; profiles stored before it had the boolean
    // "json_object_fallback" (true = JsonObject), still read.
    OutputMode structuredOutput = OutputMode::JsonSchema;
    Prices prices;
    QJsonObject toJson() const; // without any secret
    static EndpointProfile fromJson(const QJsonObject& o); // throws Error on bad values
};

struct ChatMessage {
    QString role; // "system", "user", "assistant"
    QString content;
    bool cacheBreakpoint = false; // Anthropic cache_control on this block; ignored elsewhere
};

// What one rerank asks of a model, provider-independent.
struct ChatRequest {
    QList<ChatMessage> messages;
    QJsonObject jsonSchema; // the answer's JSON schema; empty = plain text
    QString schemaName = QStringLiteral("rerank");
    std::optional<double> temperature; // overrides the profile
    std::optional<int> maxOutputTokens; // overrides the profile
};

// The mode a request really goes out with: Text when it carries no schema, else the
// profile's mode for OpenAI-compatible and Ollama endpoints, else JsonSchema (Anthropic,
// Gemini: their own mechanism). Part of the response-cache key.
OutputMode effectiveOutputMode(const EndpointProfile& profile, const ChatRequest& request);

enum class FinishReason { Ok, Truncated, Filtered, ToolCall, Other, Unknown };
QString finishReasonName(FinishReason f);

// Token usage normalised across providers (LLM_APIS.md section 0): inputTokens is the
// TOTAL input including cached reads and cache writes.
struct Usage {
    qint64 inputTokens = 0;
    qint64 cachedInputTokens = 0; // of inputTokens, read from a cache
    qint64 cacheWriteTokens = 0; // of inputTokens, written to a cache (billed extra)
    qint64 outputTokens = 0; // including reasoning/thinking tokens
    qint64 reasoningTokens = 0; // of outputTokens
};

// Cost of one call in USD; nullopt when a price needed for it is unknown.
std::optional<double> costOf(const Usage& usage, const Prices& prices);

enum class CallStatus {
    Ok, // HTTP 200 with a parsable provider envelope
    HttpError, // a non-2xx answer after retries
    NetworkError, // connection refused, reset, DNS, TLS
    Timeout,
    Canceled,
    CircuitOpen, // refused without sending: the endpoint's circuit breaker is open
    ResponseTooLarge,
    BadEnvelope, // 200 but not the provider's JSON shape
    Refused, // configuration refused it: insecure http, missing key
};
QString callStatusName(CallStatus s);

struct ChatResponse {
    CallStatus status = CallStatus::Ok;
    int httpStatus = 0;
    QString errorMessage; // for people; never contains a key
    QString requestId; // x-request-id / request-id when sent
    QString text; // the model's answer text (concatenated text parts)
    FinishReason finish = FinishReason::Unknown;
    QString rawFinishReason;
    Usage usage;
    int attempts = 0; // 1 + retries
    double latencyMs = 0; // wall time including retries
    QByteArray rawBody; // the last response body (size-capped)
    bool ok() const { return status == CallStatus::Ok; }
};

} // namespace recwb::rerank
