#pragma once

#include "util/error.h"

#include <QJsonObject>
#include <QStringList>

namespace recwb::cf {

// Reads a model's parameters, remembering which keys it asked for, so unknown keys
// (typos like "lamda") are refused instead of silently ignored.
class ParamReader {
public:
    ParamReader(QString model, QJsonObject params)
        : m_model(std::move(model))
        , m_params(std::move(params))
    {
    }
    double number(const QString& key, double fallback)
    {
        m_known << key;
        const QJsonValue v = m_params.value(key);
        if (v.isUndefined() || v.isNull())
            return fallback;
        if (v.isDouble())
            return v.toDouble();
        bool ok = false;
        const double d = v.toString().toDouble(&ok);
        if (!ok)
            throw Error(QStringLiteral("%1: parameter %2 must be a number, got '%3'").arg(m_model, key, v.toString()));
        return d;
    }
    QString text(const QString& key, const QString& fallback)
    {
        m_known << key;
        const QJsonValue v = m_params.value(key);
        return v.isString() ? v.toString() : fallback;
    }
    int integer(const QString& key, int fallback) { return static_cast<int>(number(key, fallback)); }
    bool flag(const QString& key, bool fallback)
    {
        m_known << key;
        const QJsonValue v = m_params.value(key);
        if (v.isBool())
            return v.toBool();
        if (v.isDouble())
            return v.toDouble() != 0;
        if (v.isString())
            return v.toString() == u"true" || v.toString() == u"1";
        return fallback;
    }
    void finish() const
    {
        for (auto it = m_params.begin(); it != m_params.end(); ++it)
            if (!m_known.contains(it.key()))
                throw Error(QStringLiteral("%1: unknown parameter '%2' (accepted: %3)")
                                .arg(m_model, it.key(), m_known.join(QStringLiteral(", "))));
    }

private:
    QString m_model;
    QJsonObject m_params;
    QStringList m_known;
};

} // namespace recwb::cf
