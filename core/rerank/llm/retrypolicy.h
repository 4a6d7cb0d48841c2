#pragma once

#include <QByteArray>
#include <QDateTime>
#include <optional>

// The retry rules of LLM_APIS.md section 6, as pure functions (any thread).
namespace recwb::rerank {

enum class RetryVerdict { Retry, DoNotRetry };

// For an HTTP answer: x-should-retry decides first (but never for 400/401/403/404/413/422
// and never for quota 429s), then 408, 409, 429, 5xx (incl. 529) are retried.
RetryVerdict retryVerdictForHttp(int httpStatus, const QByteArray& shouldRetryHeader, bool quotaExhausted);
bool isNeverRetryStatus(int httpStatus);

// The server's requested wait in ms: retry-after-ms, then retry-after (seconds or an HTTP
// date relative to nowUtc); nullopt when neither is present or parsable.
std::optional<qint64> parseRetryAfterMs(const QByteArray& retryAfterMs, const QByteArray& retryAfter, const QDateTime& nowUtc);

// Exponential backoff min(base * 2^retryIndex, cap) with jitter: the result lies in
// [0.75, 1.0] of that value (jitter01 in [0,1) picks where).
qint64 backoffMs(int retryIndex, qint64 baseMs, qint64 capMs, double jitter01);

} // namespace recwb::rerank
