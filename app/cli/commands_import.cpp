#include "cli.h"

#include "data/import/importers.h"
#include "data/workspace.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>

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

        const bool existed = QFileInfo::exists(wsPath);
        ImportReport report;
        try {
            auto ws = Workspace::open(wsPath, Workspace::Mode::CreateOrOpen);
            const TaskControl control { progressPrinter(), {} };
            if (format == u"ml-100k")
                report = importMovieLens100k(*ws, args.first(), control);
            else if (format == u"ml-latest")
                report = importMovieLensLatest(*ws, args.first(), control);
            else if (format == u"recbole")
                report = importRecBole(*ws, args.first(), control);
            else
                report = importGeneric(*ws, spec, control);
        } catch (...) {
            if (!existed) { // do not leave an empty workspace behind for a failed first import
                for (const char* suffix : { "", "-wal", "-shm" })
                    QFile::remove(wsPath + QLatin1StringView(suffix));
            }
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
