#include "common/settings.h"

#include "data/dataset.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QThread>

namespace recwb::ui {

// The thread that owns the QSettings writing the file; every call on it is queued there, in
// the order made.
class AppSettings::Writer {
public:
    Writer(const QString& fileName, QSettings::Format format)
    {
        m_thread.setObjectName(QStringLiteral("recwb-settings"));
        m_context.moveToThread(&m_thread);
        m_thread.start();
        // Made on the writer thread, so its deferred sync (a posted event) runs there too.
        run([this, fileName, format] { m_settings = std::make_unique<QSettings>(fileName, format); });
    }
    ~Writer()
    {
        run([this] { m_settings.reset(); }, Qt::BlockingQueuedConnection); // writes what is pending
        m_thread.quit();
        m_thread.wait();
    }
    void set(const QString& key, const QVariant& value)
    {
        run([this, key, value] { m_settings->setValue(key, value); });
    }
    void remove(const QString& key)
    {
        run([this, key] { m_settings->remove(key); });
    }
    void flush()
    {
        run([this] { m_settings->sync(); }, Qt::BlockingQueuedConnection);
    }

private:
    template <typename F> void run(F&& f, Qt::ConnectionType type = Qt::QueuedConnection)
    {
        QMetaObject::invokeMethod(&m_context, std::forward<F>(f), type);
    }
    QThread m_thread;
    QObject m_context; // lives on m_thread
    std::unique_ptr<QSettings> m_settings; // made, used and deleted on m_thread
};

AppSettings::AppSettings(QSettings& settings)
{
    const QStringList all = settings.allKeys();
    for (const QString& key : all)
        m_values.insert(key, settings.value(key));
    m_writer = std::make_unique<Writer>(settings.fileName(), settings.format());
}

AppSettings::~AppSettings() = default;

void AppSettings::flush()
{
    m_writer->flush();
}

QVariant AppSettings::value(QAnyStringView key, const QVariant& fallback) const
{
    return m_values.value(key.toString(), fallback);
}

void AppSettings::setValue(QAnyStringView key, const QVariant& value)
{
    const QString k = key.toString();
    m_values.insert(k, value);
    m_writer->set(k, value);
}

void AppSettings::remove(QAnyStringView key)
{
    const QString k = key.toString();
    const QString group = k + u'/';
    m_values.removeIf([&](const auto& entry) { return entry.key() == k || entry.key().startsWith(group); });
    m_writer->remove(k);
}

QString AppSettings::lastWorkspace() const
{
    return value(keys::kLastWorkspace).toString();
}

void AppSettings::setLastWorkspace(const QString& path)
{
    setValue(keys::kLastWorkspace, path);
}

QStringList AppSettings::recentWorkspaces() const
{
    QStringList result;
    const QStringList stored = value(keys::kRecentWorkspaces).toStringList();
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
    setValue(keys::kRecentWorkspaces, list);
}

void AppSettings::clearRecentWorkspaces()
{
    remove(keys::kRecentWorkspaces);
}

int AppSettings::coldThreshold() const
{
    const int v = value(keys::kColdThreshold, kDefaultColdThreshold).toInt();
    return v > 0 ? v : kDefaultColdThreshold;
}

void AppSettings::setColdThreshold(int threshold)
{
    setValue(keys::kColdThreshold, threshold);
}

QByteArray AppSettings::bytes(QAnyStringView key) const
{
    return value(key).toByteArray();
}

void AppSettings::setBytes(QAnyStringView key, const QByteArray& v)
{
    setValue(key, v);
}

int AppSettings::integer(QAnyStringView key, int fallback) const
{
    return value(key, fallback).toInt();
}

void AppSettings::setInteger(QAnyStringView key, int v)
{
    setValue(key, v);
}

QString AppSettings::string(QAnyStringView key, const QString& fallback) const
{
    return value(key, fallback).toString();
}

void AppSettings::setString(QAnyStringView key, const QString& v)
{
    setValue(key, v);
}

} // namespace recwb::ui
