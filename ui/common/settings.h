#pragma once

#include <QByteArray>
#include <QHash>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <memory>

class QSettings;

namespace recwb::ui {

// Every QSettings key the GUI uses, in one place.
namespace keys {
    inline constexpr auto kLastWorkspace = u"workspace/last";
    inline constexpr auto kRecentWorkspaces = u"workspace/recent";
    inline constexpr auto kColdThreshold = u"data/coldThreshold";
    inline constexpr auto kWindowGeometry = u"window/geometry";
    inline constexpr auto kWindowState = u"window/state";
    inline constexpr auto kCurrentTab = u"window/currentTab";
    inline constexpr auto kCatalogSplitter = u"catalog/splitter";
    inline constexpr auto kUsersSplitter = u"users/splitter";
    inline constexpr auto kUsersDetailSplitter = u"users/detailSplitter";
    inline constexpr auto kImportLastFolder = u"import/lastFolder";
    inline constexpr auto kImportFormat = u"import/format";
} // namespace keys

// Every default, in one place.
namespace defaults {
    inline constexpr int kMaxRecentWorkspaces = 10;
    inline constexpr int kWindowWidth = 1280;
    inline constexpr int kWindowHeight = 800;
} // namespace defaults

// Typed access to the settings file of a QSettings the caller owns (the application's, or a
// test's file), without file I/O on the GUI thread.
//
// The values are read once, when it is made; reads come from that copy and the writes made
// through this object since. Each write goes to the copy and to a writer thread of its own,
// which holds its own QSettings on the same file and writes it to disk there (QSettings'
// deferred sync, an fdatasync through its lock file: 4-45 ms on this VM). A plain QSettings
// on the GUI thread with a sync elsewhere is not enough: the QSettings of one file share one
// mutex, held during the write.
//
// The destructor writes what is pending and waits for it. Another AppSettings or QSettings
// on the same file sees a write once the writer has applied it (at the latest after this
// object is gone). GUI thread only.
class AppSettings {
public:
    explicit AppSettings(QSettings& settings);
    ~AppSettings();
    AppSettings(const AppSettings&) = delete;
    AppSettings& operator=(const AppSettings&) = delete;

    QString lastWorkspace() const;
    void setLastWorkspace(const QString& path);

    // Most recent first, at most kMaxRecentWorkspaces, files that no longer exist pruned.
    QStringList recentWorkspaces() const;
    void addRecentWorkspace(const QString& path);
    void clearRecentWorkspaces();

    int coldThreshold() const;
    void setColdThreshold(int threshold);

    QByteArray bytes(QAnyStringView key) const;
    void setBytes(QAnyStringView key, const QByteArray& value);
    int integer(QAnyStringView key, int fallback) const;
    void setInteger(QAnyStringView key, int value);
    QString string(QAnyStringView key, const QString& fallback = {}) const;
    void setString(QAnyStringView key, const QString& value);

    // Blocks until every write so far is on disk (tests; the destructor does it too).
    void flush();

private:
    QVariant value(QAnyStringView key, const QVariant& fallback = {}) const;
    void setValue(QAnyStringView key, const QVariant& value);
    void remove(QAnyStringView key);

    class Writer;
    QHash<QString, QVariant> m_values;
    std::unique_ptr<Writer> m_writer;
};

} // namespace recwb::ui
