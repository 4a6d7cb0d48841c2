#include "cli.h"

#include "data/import/importers.h"
#include "data/workspace.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QTemporaryFile>
#include <QThread>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>

namespace recwb::cli {
namespace {

QChar parseSeparator(const QString& text)
{
    const QString t = text.toLower();
    if (t == u"tab" || t == u"\\t" || t == u"\t")
        return u'\t';
    if (t == u"comma")
        return u',';
    if (t == u"semicolon")
        return u';';
    if (t == u"pipe")
        return u'|';
    if (t == u"space")
        return u' ';
    if (text.size() != 1)
        throw UsageError(QStringLiteral("--sep: expected one character, tab, comma, semicolon, pipe or space, got '%1'").arg(text));
    return text.front();
}

DelimitedFileSpec::Kind parseKind(const QString& text)
{
    const QString t = text.toLower();
    if (t.isEmpty() || t == u"auto")
        return DelimitedFileSpec::Kind::Auto;
    if (t == u"csv")
        return DelimitedFileSpec::Kind::Csv;
    if (t == u"tsv")
        return DelimitedFileSpec::Kind::Tsv;
    if (t == u"jsonl" || t == u"ndjson")
        return DelimitedFileSpec::Kind::JsonLines;
    throw UsageError(QStringLiteral("--kind: expected csv, tsv, jsonl or auto, got '%1'").arg(text));
}

QStringList listOption(const QCommandLineParser& p, const QString& name)
{
    QStringList out;
    for (const QString& v : p.values(name))
        for (const QString& part : v.split(u',', Qt::SkipEmptyParts))
            out.append(part.trimmed());
    return out;
}

GenericImportSpec genericSpec(const QCommandLineParser& p)
{
    DelimitedFileSpec base;
    base.kind = parseKind(p.value(QStringLiteral("kind")));
    if (p.isSet(QStringLiteral("sep")))
        base.separator = parseSeparator(p.value(QStringLiteral("sep")));
    base.header = !p.isSet(QStringLiteral("no-header"));
    base.encoding = p.value(QStringLiteral("encoding"));
    base.columns.listSeparator = p.value(QStringLiteral("list-sep"));
    if (p.value(QStringLiteral("list-sep")).toLower() == u"space")
        base.columns.listSeparator = QStringLiteral(" ");

    const QString userCol = p.value(QStringLiteral("user-col"));
    const QString itemCol = p.value(QStringLiteral("item-col"));
    GenericImportSpec spec;
    QString interactions = p.value(QStringLiteral("interactions"));
    if (interactions.isEmpty() && !p.positionalArguments().isEmpty())
        interactions = p.positionalArguments().first();
    if (!interactions.isEmpty()) {
        DelimitedFileSpec f = base;
        f.path = interactions;
        f.columns.user = userCol;
        f.columns.item = itemCol;
        f.columns.value = p.value(QStringLiteral("value-col"));
        f.columns.time = p.value(QStringLiteral("time-col"));
        spec.interactions = f;
    }
    if (p.isSet(QStringLiteral("items"))) {
        DelimitedFileSpec f = base;
        f.path = p.value(QStringLiteral("items"));
        f.columns.item = p.isSet(QStringLiteral("items-id-col")) ? p.value(QStringLiteral("items-id-col")) : itemCol;
        f.columns.title = p.value(QStringLiteral("title-col"));
        f.columns.description = p.value(QStringLiteral("description-col"));
        f.columns.categories = p.value(QStringLiteral("categories-col"));
        f.columns.tags = p.value(QStringLiteral("tags-col"));
        f.columns.year = p.value(QStringLiteral("year-col"));
        f.columns.attributes = listOption(p, QStringLiteral("attr-cols"));
        spec.items = f;
    }
    if (p.isSet(QStringLiteral("users"))) {
        DelimitedFileSpec f = base;
        f.path = p.value(QStringLiteral("users"));
        f.columns.user = p.isSet(QStringLiteral("users-id-col")) ? p.value(QStringLiteral("users-id-col")) : userCol;
        f.columns.attributes = listOption(p, QStringLiteral("user-attr-cols"));
        spec.users = f;
    }
    if (!spec.interactions && !spec.items && !spec.users)
        throw UsageError(QStringLiteral("--format csv needs --interactions FILE (or PATH), --items FILE and/or --users FILE"));
    return spec;
}

// A fresh empty file beside target, created exclusively (an empty file opens as a new workspace).
QString newWorkspaceFile(const QString& target)
{
    const QFileInfo info(target);
    QTemporaryFile f(info.absolutePath() + QStringLiteral("/.") + info.fileName() + QStringLiteral(".XXXXXX.importing"));
    f.setAutoRemove(false);
    if (!f.open())
        throw Error(QStringLiteral("%1: cannot create the workspace: %2").arg(target, f.errorString()));
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
    return f.fileName();
}

void removeWorkspaceFiles(const QString& path)
{
    for (const char* suffix : { "", "-wal", "-shm", "-journal" })
        QFile::remove(path + QLatin1StringView(suffix));
}

// Moves the finished workspace into place atomically; refuses when target exists by now.
void publishNewWorkspace(const QString& built, const QString& target)
{
    if (::renameat2(AT_FDCWD, QFile::encodeName(built).constData(), AT_FDCWD, QFile::encodeName(target).constData(),
            RENAME_NOREPLACE)
        == 0)
        return;
    const int code = errno;
    if (code == EEXIST)
        throw Error(QStringLiteral("%1 was created by another process while this import ran; this import was not "
                                   "kept. Import again into the workspace that is there now")
                        .arg(target));
    throw Error(QStringLiteral("%1: cannot move the new workspace into place: %2")
                    .arg(target, QString::fromLocal8Bit(std::strerror(code))));
}

// Tests only: RECWB_TEST_IMPORT_PAUSE_MS holds an import after its workspace is open, so a
// test can run a second import into the same path at a known point.
void pauseForTests()
{
    const int ms = qEnvironmentVariableIntValue("RECWB_TEST_IMPORT_PAUSE_MS");
    if (ms > 0)
        QThread::msleep(static_cast<unsigned long>(ms));
}

const Registrar import { Command {
    QStringLiteral("import"),
    QStringLiteral("Import MovieLens, RecBole or generic CSV/TSV/JSON Lines data into a workspace (see docs/IMPORT.md)."),
    [](QCommandLineParser& p) {
        p.addPositionalArgument(QStringLiteral("path"),
            QStringLiteral("ml-100k / ml-latest: the dataset folder; recbole: the folder or one atomic file; csv: the "
                           "interactions file (same as --interactions)."));
        p.addOptions({
            { { QStringLiteral("w"), kWorkspace }, QStringLiteral("Workspace file (*.recwb); created if missing."),
                QStringLiteral("file") },
            { { QStringLiteral("f"), QStringLiteral("format") }, QStringLiteral("ml-100k, ml-latest, recbole or csv."),
                QStringLiteral("format") },
            { QStringLiteral("json"), QStringLiteral("Print the import report as one JSON object.") },
            { QStringLiteral("create"), QStringLiteral("Create the workspace if missing (the default; kept for scripts).") },
            { QStringLiteral("interactions"), QStringLiteral("csv: interactions file (user, item[, value][, time])."),
                QStringLiteral("file") },
            { QStringLiteral("items"), QStringLiteral("csv: items (catalog) file."), QStringLiteral("file") },
            { QStringLiteral("users"), QStringLiteral("csv: users (profile) file."), QStringLiteral("file") },
            { QStringLiteral("user-col"), QStringLiteral("csv: user id column (name, or 1-based position with --no-header)."),
                QStringLiteral("col"), QStringLiteral("user_id") },
            { QStringLiteral("item-col"), QStringLiteral("csv: item id column."), QStringLiteral("col"),
                QStringLiteral("item_id") },
            { QStringLiteral("value-col"), QStringLiteral("csv: value column (rating, plays...); without it every row is 1.0."),
                QStringLiteral("col") },
            { QStringLiteral("time-col"), QStringLiteral("csv: timestamp column: seconds, milliseconds or ISO-8601."),
                QStringLiteral("col") },
            { QStringLiteral("items-id-col"), QStringLiteral("csv: item id column of the items file (default: --item-col)."),
                QStringLiteral("col") },
            { QStringLiteral("users-id-col"), QStringLiteral("csv: user id column of the users file (default: --user-col)."),
                QStringLiteral("col") },
            { QStringLiteral("title-col"), QStringLiteral("csv: items file title column."), QStringLiteral("col") },
            { QStringLiteral("description-col"), QStringLiteral("csv: items file description column."), QStringLiteral("col") },
            { QStringLiteral("categories-col"), QStringLiteral("csv: items file categories column (a list, see --list-sep)."),
                QStringLiteral("col") },
            { QStringLiteral("tags-col"), QStringLiteral("csv: items file tags column (a list, see --list-sep)."),
                QStringLiteral("col") },
            { QStringLiteral("year-col"), QStringLiteral("csv: items file year column (a year or a date)."), QStringLiteral("col") },
            { QStringLiteral("attr-cols"), QStringLiteral("csv: items file columns stored as attributes: a,b,c or * (all unmapped)."),
                QStringLiteral("cols") },
            { QStringLiteral("user-attr-cols"),
                QStringLiteral("csv: users file columns stored as attributes: a,b,c or * (all but the id)."), QStringLiteral("cols"),
                QStringLiteral("*") },
            { QStringLiteral("list-sep"), QStringLiteral("csv: separator inside category/tag lists (default |; 'space' for ' ')."),
                QStringLiteral("sep"), QStringLiteral("|") },
            { QStringLiteral("sep"), QStringLiteral("csv: field separator: one character, or tab, comma, semicolon, pipe, space."),
                QStringLiteral("sep") },
            { QStringLiteral("no-header"), QStringLiteral("csv: files have no header; columns are 1-based positions.") },
            { QStringLiteral("encoding"), QStringLiteral("csv: utf-8 (default) or latin-1."), QStringLiteral("name"),
                QStringLiteral("utf-8") },
            { QStringLiteral("kind"), QStringLiteral("csv: csv, tsv, jsonl or auto (default: by extension, then by content)."),
                QStringLiteral("kind"), QStringLiteral("auto") },
        });
    },
    [](QCommandLineParser& p) {
        const QString wsPath = requireOption(p, kWorkspace);
        const QString format = requireOption(p, QStringLiteral("format")).toLower();
        const QStringList args = p.positionalArguments();
        if (format != u"csv" && format != u"ml-100k" && format != u"ml-latest" && format != u"recbole")
            throw UsageError(QStringLiteral("--format: expected ml-100k, ml-latest, recbole or csv, got '%1'").arg(format));
        if (args.size() > 1)
            throw UsageError(QStringLiteral("expected one PATH, got %1").arg(args.size()));
        GenericImportSpec spec;
        if (format == u"csv")
            spec = genericSpec(p);
        else if (args.isEmpty())
            throw UsageError(QStringLiteral("--format %1 needs the dataset PATH").arg(format));

        // A new workspace is built under a unique name beside the target and moved into place
        // only when its import succeeded, refusing a target that appeared meanwhile: a failed
        // or losing import removes only its own file, never another process's workspace.
        const QString target = Workspace::resolvePath(wsPath); // a link's target; loops, FIFOs refused
        const bool existed = QFileInfo::exists(target);
        const QString buildPath = existed ? target : newWorkspaceFile(target);
        ImportReport report;
        try {
            auto ws = Workspace::open(buildPath, Workspace::Mode::CreateOrOpen);
            if (existed)
                ws->checkIntegrity(); // never add to a damaged workspace
            pauseForTests();
            const TaskControl control { progressPrinter(), {} };
            if (format == u"ml-100k")
                report = importMovieLens100k(*ws, args.first(), control);
            else if (format == u"ml-latest")
                report = importMovieLensLatest(*ws, args.first(), control);
            else if (format == u"recbole")
                report = importRecBole(*ws, args.first(), control);
            else
                report = importGeneric(*ws, spec, control);
            ws.reset(); // closed: the WAL is checkpointed into the file and removed
            if (!existed)
                publishNewWorkspace(buildPath, target);
        } catch (...) {
            if (!existed)
                removeWorkspaceFiles(buildPath);
            throw;
        }
        if (p.isSet(QStringLiteral("json"))) {
            QJsonObject o = report.toJson();
            o.insert(QStringLiteral("workspace"), wsPath);
            out(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)));
        } else {
            out(report.toText());
        }
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
