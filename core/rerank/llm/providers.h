#pragma once

#include "rerank/llmtypes.h"

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QPair>
#include <QUrl>

// Provider adapters: turn a provider-independent ChatRequest into one provider's HTTP
// request, and one provider's response envelope back into a ChatResponse. Pure functions
// without I/O or globals: callable from any thread. Section numbers refer to
// docs/LLM_APIS.md.
namespace recwb::rerank {

struct HttpRequestSpec {
    QUrl url;
    QList<QPair<QByteArray, QByteArray>> headers; // includes the auth header: never log these values
    QByteArray body; // compact JSON
};

struct ProviderRequestOptions {
    QByteArray apiKey; // empty: no auth header
};

// Builds the POST for profile.kind (everything but Offline, which throws Error).
HttpRequestSpec buildProviderRequest(const EndpointProfile& profile, const ChatRequest& request,
    const ProviderRequestOptions& options = {});
// The JSON body alone (what buildProviderRequest sends).
QJsonObject buildProviderBody(const EndpointProfile& profile, const ChatRequest& request);
// The endpoint URL for a profile: OpenAI {base}/chat/completions (base ends in /v1),
// Anthropic {base}/v1/messages, Gemini {base}/v1beta/models/{model}:generateContent,
// Ollama {base}/api/chat.
QUrl providerUrl(const EndpointProfile& profile);

// Parses a 2xx body. status is Ok (text, finish, usage filled) or BadEnvelope
// (errorMessage says what was missing). httpStatus, attempts, latency stay unset.
ChatResponse parseProviderResponse(ProviderKind kind, const QByteArray& body);
FinishReason normaliseFinishReason(ProviderKind kind, const QString& raw);

// The human message inside an error body ({"error":{"message"}} or {"error":"..."}); empty if none.
QString providerErrorMessage(const QByteArray& body);
// A 429 that retrying cannot fix: OpenAI insufficient_quota, Anthropic
// enforced_spend_limit_reached, Gemini per-day quota (LLM_APIS.md section 6).
bool isQuotaExhausted(int httpStatus, const QByteArray& body);
// Gemini's google.rpc.RetryInfo retryDelay ("37s") in an error body, in ms.
std::optional<qint64> bodyRetryDelayMs(const QByteArray& body);

// OpenAI strict-mode rules (section 1, F4): every object gets additionalProperties:false
// and all its keys in required; properties that were optional become nullable.
QJsonObject strictJsonSchema(const QJsonObject& schema);
// Gemini responseSchema (section 3): the OpenAPI 3.0 subset; unsupported keywords
// dropped, ["T","null"] turned into type T + nullable, propertyOrdering from required.
QJsonObject geminiResponseSchema(const QJsonObject& schema);

// A rough token estimate (4 characters per token, plus per-message overhead).
int estimatePromptTokens(const ChatRequest& request);
// Ollama options.num_ctx: prompt estimate + output + margin, rounded up to 1024, at least 2048 (F8).
int ollamaContextSize(const ChatRequest& request, int maxOutputTokens);
// Whether a call to this endpoint needs an API key (cloud providers; OpenAI-compatible
// servers only when not on a loopback host).
bool providerRequiresKey(const EndpointProfile& profile);
bool isLoopbackHost(const QString& host);

} // namespace recwb::rerank
