#pragma once

#include <QString>
#include <QStringList>

namespace recwb::ui {

class MainWindow;

// Grabs the window (resized to 1280x800) on each tab into `dir`: the catalog with the
// first item selected, the catalog filtered by its most common category, and the users
// tab filtered to cold-start users with the first one selected, the Prompts tab
// (prompts.png) with listwise previewed for the first warm user. Returns the files
// written; on failure an empty list and `error`. The workspace must be loaded.
QStringList saveScreenshots(MainWindow& window, const QString& dir, QString* error = nullptr);

} // namespace recwb::ui
