#include "cli.h"
#include "data/sqlite.h"

#include "data/workspace.h"

#include <QDateTime>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

QString isoTime(qint64 ts)
{
    return ts ? QDateTime::fromSecsSinceEpoch(ts, Qt::UTC).toString(Qt::ISODate) : QStringLiteral("-");
}

const Registrar info { Command {
    QStringLiteral("info"),
    QStringLiteral("Summarise a workspace: users, items, interactions, cold users, time range."),
    [](QCommandLineParser& p) {
        p.addOption({ { QStringLiteral("w"), kWorkspace }, QStringLiteral("Workspace file (*.recwb)."), QStringLiteral("file") });
        p.addOption({ QStringLiteral("json"), QStringLiteral("Print one JSON object.") });
        p.addOption({ QStringLiteral("cold-threshold"),
            QStringLiteral("Users with fewer interactions than this are cold (default 5)."), QStringLiteral("n"),
            QStringLiteral("5") });
    },
    [](QCommandLineParser& p) {
        const auto ws = Workspace::open(requireOption(p, kWorkspace));
        const int threshold = p.value(QStringLiteral("cold-threshold")).toInt();
        const auto s = ws->summary(threshold > 0 ? threshold : kDefaultColdThreshold);
        const int64_t synthetic = ws->schemaVersion() >= 6
            ? sql::queryInt(ws->db(), "SELECT count(*) FROM users WHERE coalesce(synthetic_of, '') <> ''")
            : 0;
        if (p.isSet(QStringLiteral("json"))) {
            QJsonObject o = s.toJson();
            o.insert(QStringLiteral("workspace"), ws->path());
            if (ws->file() != ws->path())
                o.insert(QStringLiteral("file"), ws->file()); // a symbolic link's target
            if (ws->readOnly())
                o.insert(QStringLiteral("read_only"), true);
            o.insert(QStringLiteral("synthetic_users"), static_cast<qint64>(synthetic));
            out(QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact)));
            return 0;
        }
        out(QStringLiteral("Workspace    %1 (schema %2)\n"
                           "Users        %3 (%4 cold: fewer than %5 interactions)\n"
                           "Items        %6 in %7 categories, %8 tags\n"
                           "Interactions %9\n"
                           "Time range   %10 .. %11")
                .arg(ws->path()
                    + (ws->file() != ws->path() ? QStringLiteral(" -> ") + ws->file() : QString())
                    + (ws->readOnly() ? QStringLiteral(", read-only") : QString()))
                .arg(s.schemaVersion)
                .arg(s.users)
                .arg(s.coldUsers)
                .arg(s.coldThreshold)
                .arg(s.items)
                .arg(s.categories)
                .arg(s.tags)
                .arg(s.interactions)
                .arg(isoTime(s.firstTimestamp), isoTime(s.lastTimestamp)));
        if (synthetic > 0)
            out(QStringLiteral("Synthetic    %1 of the users saved from what-if histories (left out of every evaluation)")
                    .arg(synthetic));
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
