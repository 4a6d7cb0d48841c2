#include "common/modelutil.h"

#include <QDateTime>
#include <QJsonArray>
#include <QStringList>
#include <QTimeZone>

namespace recwb::ui {

QString attributeText(const QJsonValue& value)
{
    switch (value.type()) {
    case QJsonValue::Bool:
        return value.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
    case QJsonValue::Double:
        return QString::number(value.toDouble(), 'g', 10);
    case QJsonValue::String:
        return value.toString();
    case QJsonValue::Array: {
        QStringList parts;
        for (const QJsonValue& v : value.toArray())
            parts << attributeText(v);
        return parts.join(QStringLiteral(", "));
    }
    case QJsonValue::Object:
        return attributesSummary(value.toObject(), QStringLiteral(", "));
    default:
        return {};
    }
}

QString attributesSummary(const QJsonObject& attributes, const QString& separator)
{
    QStringList parts;
    for (auto it = attributes.begin(); it != attributes.end(); ++it) {
        const QString text = attributeText(it.value());
        if (!text.isEmpty())
            parts << it.key() + u' ' + text;
    }
    return parts.join(separator);
}

QString isoDate(qint64 secondsSinceEpoch)
{
    return QDateTime::fromSecsSinceEpoch(secondsSinceEpoch, QTimeZone::utc()).date().toString(Qt::ISODate);
}

QString isoDateTime(qint64 secondsSinceEpoch)
{
    return QDateTime::fromSecsSinceEpoch(secondsSinceEpoch, QTimeZone::utc()).toString(Qt::ISODate);
}

} // namespace recwb::ui
