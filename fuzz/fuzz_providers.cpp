// libFuzzer target: each provider's response decoder (OpenAI Chat Completions, Anthropic
// Messages, Gemini generateContent, Ollama /api/chat) and the error-body readers (message,
// quota exhaustion, Gemini retry delay). The first byte picks the provider.
#include "rerank/llm/providers.h"

#include <QByteArray>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1)
        return 0;
    using recwb::rerank::ProviderKind;
    static const ProviderKind kKinds[]
        = { ProviderKind::OpenAiChat, ProviderKind::Anthropic, ProviderKind::Gemini, ProviderKind::OllamaNative };
    const ProviderKind kind = kKinds[data[0] % std::size(kKinds)];
    const QByteArray body(reinterpret_cast<const char*>(data + 1), static_cast<qsizetype>(size - 1));
    const recwb::rerank::ChatResponse r = recwb::rerank::parseProviderResponse(kind, body);
    if (!r.ok() && r.errorMessage.isEmpty())
        std::abort(); // a rejected envelope says why
    if (r.usage.inputTokens < 0 || r.usage.outputTokens < 0)
        std::abort();
    (void)recwb::rerank::normaliseFinishReason(kind, r.rawFinishReason);
    (void)recwb::rerank::providerErrorMessage(body);
    (void)recwb::rerank::isQuotaExhausted(429, body);
    if (const auto delay = recwb::rerank::bodyRetryDelayMs(body); delay && *delay < 0)
        std::abort();
    return 0;
}
