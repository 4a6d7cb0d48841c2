#include "rerank/llm/retrypolicy.h"

#include <QLocale>
#include <QTimeZone>

#include <algorithm>
#include <cmath>

namespace recwb::rerank {

bool isNeverRetryStatus(int httpStatus)
{
    switch (httpStatus) {
    case 400:
    case 401:
    case 403:
    case 404:
    case 413:
    case 422:
        return true;
    default:
        return false;
    }
}

RetryVerdict retryVerdictForHttp(int httpStatus, const QByteArray& shouldRetryHeader, bool quotaExhausted)
{
    if (isNeverRetryStatus(httpStatus) || quotaExhausted)
        return RetryVerdict::DoNotRetry;
    const QByteArray should = shouldRetryHeader.trimmed().toLower();
    if (should == "true")
        return RetryVerdict::Retry;
    if (should == "false")
        return RetryVerdict::DoNotRetry;
    if (httpStatus == 408 || httpStatus == 409 || httpStatus == 429 || httpStatus >= 500)
        return RetryVerdict::Retry;
    return RetryVerdict::DoNotRetry;
}

std::optional<qint64> parseRetryAfterMs(const QByteArray& retryAfterMs, const QByteArray& retryAfter, const QDateTime& nowUtc)
{
    bool ok = false;
    const double ms = retryAfterMs.trimmed().toDouble(&ok);
    if (ok && ms >= 0 && std::isfinite(ms))
        return static_cast<qint64>(std::ceil(ms));
    const QByteArray ra = retryAfter.trimmed();
    if (ra.isEmpty())
        return std::nullopt;
    const double seconds = ra.toDouble(&ok);
    if (ok && seconds >= 0 && std::isfinite(seconds))
        return static_cast<qint64>(std::ceil(seconds * 1000.0));
    // HTTP date (RFC 9110 IMF-fixdate), e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
    const QString text = QString::fromLatin1(ra);
    QDateTime when = QDateTime::fromString(text, Qt::RFC2822Date);
    if (!when.isValid()) {
        when = QLocale::c().toDateTime(text, QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
        if (when.isValid())
            when.setTimeZone(QTimeZone::utc());
    }
    if (!when.isValid())
        return std::nullopt;
    return std::max<qint64>(0, nowUtc.msecsTo(when));
}

qint64 backoffMs(int retryIndex, qint64 baseMs, qint64 capMs, double jitter01)
{
    const double raw = static_cast<double>(baseMs) * std::pow(2.0, std::clamp(retryIndex, 0, 30));
    const double capped = std::min(raw, static_cast<double>(capMs));
    const double jitter = 1.0 - 0.25 * std::clamp(jitter01, 0.0, 1.0);
    return static_cast<qint64>(std::llround(capped * jitter));
}

} // namespace recwb::rerank
