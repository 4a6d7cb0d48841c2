#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

// Keeps API keys out of logs and error messages. Pure functions: any thread.
namespace recwb::rerank {

// Replaces every occurrence of each secret (at least 4 bytes long) with "[REDACTED]",
// then anything that looks like a credential: "Bearer <token>", x-api-key / x-goog-api-key
// header values, key=... query parameters, sk-... and AIza... keys.
QString redact(const QString& text, const QList<QByteArray>& secrets = {});
QByteArray redact(const QByteArray& bytes, const QList<QByteArray>& secrets = {});

} // namespace recwb::rerank
