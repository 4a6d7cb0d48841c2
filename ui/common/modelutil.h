#pragma once

#include <QJsonObject>
#include <QString>
#include <QVariant>
#include <vector>

namespace recwb::ui {

// Sort key for an external id: numeric ids sort as numbers when every id is numeric.
inline QVariant idSortKey(const QString& id, bool allNumeric)
{
    return allNumeric ? QVariant(id.toLongLong()) : QVariant(id);
}

template <typename Range, typename Proj> bool allNumeric(const Range& range, Proj proj)
{
    for (const auto& element : range) {
        bool ok = false;
        proj(element).toLongLong(&ok);
        if (!ok)
            return false;
    }
    return true;
}

// "age 24 · gender M · occupation technician": a one-line summary of attributes.
QString attributesSummary(const QJsonObject& attributes, const QString& separator = QStringLiteral(" · "));
// Plain text for one attribute value (numbers without trailing zeros, arrays joined).
QString attributeText(const QJsonValue& value);
QString isoDate(qint64 secondsSinceEpoch);
QString isoDateTime(qint64 secondsSinceEpoch);

} // namespace recwb::ui
