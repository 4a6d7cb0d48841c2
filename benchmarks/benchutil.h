#pragma once

#include <QByteArray>
#include <QFile>
#include <QList>

namespace recwb::bench {

// Linux: peak resident set size (VmHWM) of this process in bytes.
inline double peakRssBytes()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("VmHWM:"))
            return static_cast<double>(line.mid(6).trimmed().split(' ').value(0).toLongLong()) * 1024.0;
    return 0;
}

// Writing 5 to clear_refs resets VmHWM to the current RSS, so each benchmark reports its own peak.
inline void resetPeakRss()
{
    QFile f(QStringLiteral("/proc/self/clear_refs"));
    if (f.open(QIODevice::WriteOnly))
        f.write("5");
}

inline qint64 envInt(const char* name, qint64 fallback)
{
    const QByteArray v = qgetenv(name);
    bool ok = false;
    const qint64 n = v.toLongLong(&ok);
    return ok && n > 0 ? n : fallback;
}

} // namespace recwb::bench
