#include "common/settings.h"

#include "data/dataset.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace recwb::ui {

QString AppSettings::lastWorkspace() const
{
    return m_settings.value(keys::kLastWorkspace).toString();
}

void AppSettings::setLastWorkspace(const QString& path)
{
    m_settings.setValue(keys::kLastWorkspace, path);
}

QStringList AppSettings::recentWorkspaces() const
{
    QStringList result;
    const QStringList stored = m_settings.value(keys::kRecentWorkspaces).toStringList();
    for (const QString& path : stored) {
        if (result.size() >= defaults::kMaxRecentWorkspaces)
            break;
        if (!path.isEmpty() && !result.contains(path) && QFileInfo::exists(path))
            result << path;
    }
    return result;
}

void AppSettings::addRecentWorkspace(const QString& path)
{
    const QString clean = QDir::cleanPath(QFileInfo(path).absoluteFilePath());
    QStringList list = recentWorkspaces();
    list.removeAll(clean);
    list.prepend(clean);
    while (list.size() > defaults::kMaxRecentWorkspaces)
        list.removeLast();
    m_settings.setValue(keys::kRecentWorkspaces, list);
}

void AppSettings::clearRecentWorkspaces()
{
    m_settings.remove(keys::kRecentWorkspaces);
}

int AppSettings::coldThreshold() const
{
    const int value = m_settings.value(keys::kColdThreshold, kDefaultColdThreshold).toInt();
    return value > 0 ? value : kDefaultColdThreshold;
}

void AppSettings::setColdThreshold(int threshold)
{
    m_settings.setValue(keys::kColdThreshold, threshold);
}

QByteArray AppSettings::bytes(QAnyStringView key) const
{
    return m_settings.value(key).toByteArray();
}

void AppSettings::setBytes(QAnyStringView key, const QByteArray& value)
{
    m_settings.setValue(key, value);
}

int AppSettings::integer(QAnyStringView key, int fallback) const
{
    return m_settings.value(key, fallback).toInt();
}

void AppSettings::setInteger(QAnyStringView key, int value)
{
    m_settings.setValue(key, value);
}

QString AppSettings::string(QAnyStringView key, const QString& fallback) const
{
    return m_settings.value(key, fallback).toString();
}

void AppSettings::setString(QAnyStringView key, const QString& value)
{
    m_settings.setValue(key, value);
}

} // namespace recwb::ui
