#include "rerank/llm/redact.h"

#include <QRegularExpression>

#include <algorithm>

namespace recwb::rerank {

namespace {

const QString kRedacted = QStringLiteral("[REDACTED]");

const QList<QRegularExpression>& credentialPatterns()
{
    static const QList<QRegularExpression> patterns {
        QRegularExpression(QStringLiteral("(Bearer\\s+)[^\\s\"',;]+"), QRegularExpression::CaseInsensitiveOption),
        QRegularExpression(QStringLiteral("((?:x-api-key|x-goog-api-key|api[-_]?key)\"?\\s*[:=]\\s*\"?)[^\\s\"',;&]+"),
            QRegularExpression::CaseInsensitiveOption),
        QRegularExpression(QStringLiteral("([?&]key=)[^&\\s\"']+")),
        QRegularExpression(QStringLiteral("()sk-[A-Za-z0-9_\\-]{8,}")),
        QRegularExpression(QStringLiteral("()AIza[0-9A-Za-z_\\-]{20,}")),
    };
    return patterns;
}

} // namespace

QString redact(const QString& text, const QList<QByteArray>& secrets)
{
    QString out = text;
    for (const QByteArray& secret : secrets) {
        if (secret.size() >= 4)
            out.replace(QString::fromUtf8(secret), kRedacted);
    }
    for (const QRegularExpression& re : credentialPatterns())
        out.replace(re, QStringLiteral("\\1") + kRedacted);
    return out;
}

QByteArray redact(const QByteArray& bytes, const QList<QByteArray>& secrets)
{
    QByteArray out = bytes;
    for (const QByteArray& secret : secrets) {
        if (secret.size() >= 4)
            out.replace(secret, kRedacted.toUtf8());
    }
    // The pattern pass needs text; skip it for bodies that hold nothing credential-like.
    static const QList<QByteArray> hints { QByteArrayLiteral("earer"), QByteArrayLiteral("api-key"),
        QByteArrayLiteral("api_key"), QByteArrayLiteral("apikey"), QByteArrayLiteral("key="), QByteArrayLiteral("sk-"),
        QByteArrayLiteral("AIza") };
    const bool suspicious = std::any_of(hints.begin(), hints.end(), [&](const QByteArray& h) { return out.contains(h); });
    if (!suspicious)
        return out;
    return redact(QString::fromUtf8(out), {}).toUtf8();
}

} // namespace recwb::rerank
