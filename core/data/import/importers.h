#pragma once

#include "data/importwriter.h"
#include "data/workspace.h"
#include "util/task.h"

#include <QString>
#include <QStringList>
#include <optional>

namespace recwb {

// How a column of a generic delimited / JSON Lines file maps onto the workspace.
// A column is named by its header name, or by its 1-based position ("3") when the
// file has no header. For JSON Lines, by key.
struct ColumnMapping {
    QString user; // interactions, users
    QString item; // interactions, items
    QString value; // interactions; empty = 1.0 for every row
    QString time; // interactions; seconds, milliseconds or ISO-8601 (auto-detected)
    QString title; // items
    QString description; // items
    QString categories; // items: a list split by listSeparator
    QString tags; // items: a list split by listSeparator
    QString year; // items
    QStringList attributes; // items, users: extra columns stored as attributes
    QString listSeparator = QStringLiteral("|");
};

struct DelimitedFileSpec {
    QString path;
    enum class Kind { Csv, Tsv, JsonLines, Auto } kind = Kind::Auto; // Auto: by extension, then by sniffing
    QChar separator; // overrides the kind's default when set
    bool header = true;
    QString encoding = QStringLiteral("utf-8"); // "utf-8" or "latin-1"
    ColumnMapping columns;
};

struct GenericImportSpec {
    std::optional<DelimitedFileSpec> interactions;
    std::optional<DelimitedFileSpec> items;
    std::optional<DelimitedFileSpec> users;
};

// Every importer streams its files (memory bounded by the number of distinct users and
// items, never by file size), writes through one ImportWriter transaction, reports
// progress, honours cancel (throws Canceled, workspace unchanged) and throws Error naming
// file and line for anything fatal. Rows that can be skipped are skipped and reported.
ImportReport importMovieLens100k(Workspace& ws, const QString& folder, const TaskControl& control = {});
ImportReport importMovieLensLatest(Workspace& ws, const QString& folder, const TaskControl& control = {});
// `path` is a folder holding <name>.inter / .item / .user, or the path of one of them.
ImportReport importRecBole(Workspace& ws, const QString& path, const TaskControl& control = {});
ImportReport importGeneric(Workspace& ws, const GenericImportSpec& spec, const TaskControl& control = {});

// Parses a timestamp: integer seconds, integer milliseconds (> 10^11), fractional
// seconds, or ISO-8601 date / date-time (UTC unless an offset is given).
std::optional<qint64> parseTimestamp(QStringView text);

} // namespace recwb
