#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

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

// Typed access over a QSettings the caller owns (the application's, or a test's file).
// GUI thread only.
class AppSettings {
public:
    explicit AppSettings(QSettings& settings)
        : m_settings(settings)
    {
    }

    QSettings& raw() const { return m_settings; }

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

private:
    QSettings& m_settings;
};

} // namespace recwb::ui
