#include "cli.h"

#include "cf/factorimport.h"
#include "cf/snapshots.h"
#include "data/workspace.h"

#include <QElapsedTimer>
#include <QJsonDocument>

namespace recwb::cli {
namespace {

    const QString kFormat = QStringLiteral("format");
    const QString kNpz = QStringLiteral("npz");
    const QString kUserIds = QStringLiteral("user-ids");
    const QString kItemIds = QStringLiteral("item-ids");
    const QString kUsers = QStringLiteral("users");
    const QString kItems = QStringLiteral("items");

    // The factor files the options name, read and checked before the workspace is touched.
    cf::ExternalFactors readFactors(const QCommandLineParser& p)
    {
        const QString format = requireOption(p, kFormat);
        if (format == u"implicit") {
            if (p.isSet(kUsers) || p.isSet(kItems))
                throw UsageError(
                    QStringLiteral("--format implicit reads --npz FILE (with --user-ids / --item-ids), not "
                                   "--users / --items"));
            return cf::readImplicitNpz(requireOption(p, kNpz), p.value(kUserIds), p.value(kItemIds));
        }
        if (format == u"spark") {
            if (p.isSet(kNpz) || p.isSet(kUserIds) || p.isSet(kItemIds))
                throw UsageError(QStringLiteral("--format spark reads --users and --items (userFactors / itemFactors "
                                                "folders or files), not --npz / --user-ids / --item-ids"));
            return cf::readSparkAls(requireOption(p, kUsers), requireOption(p, kItems));
        }
        throw UsageError(QStringLiteral("--format must be implicit or spark, not '%1'").arg(format));
    }

    const Registrar importFactorsCommand { Command { QStringLiteral("import-factors"),
        QStringLiteral("Import user and item factors trained elsewhere (implicit .npz, Spark ALS JSON) as an iALS "
                       "snapshot."),
        [](QCommandLineParser& p) {
            addWorkspaceOption(p);
            p.addOption({ kFormat,
                QStringLiteral("implicit (an AlternatingLeastSquares.save .npz) or spark (ALSModel "
                               "userFactors / itemFactors JSON lines)."),
                QStringLiteral("format") });
            p.addOption(
                { QStringLiteral("name"), QStringLiteral("Snapshot name (required)."), QStringLiteral("name") });
            p.addOption({ kNpz, QStringLiteral("implicit: the .npz file."), QStringLiteral("file") });
            p.addOption({ kUserIds,
                QStringLiteral("implicit: the user ids of user_factors' rows, one per line (default: "
                               "the npz's user_ids array)."),
                QStringLiteral("file") });
            p.addOption({ kItemIds,
                QStringLiteral("implicit: the item ids of item_factors' rows, one per line (default: "
                               "the npz's item_ids array)."),
                QStringLiteral("file") });
            p.addOption({ kUsers, QStringLiteral("spark: the userFactors folder (part-* files) or a JSON lines file."),
                QStringLiteral("path") });
            p.addOption({ kItems, QStringLiteral("spark: the itemFactors folder (part-* files) or a JSON lines file."),
                QStringLiteral("path") });
            p.addOption({ QStringLiteral("reg"),
                QStringLiteral("Fold-in regularisation (default: the npz's "
                               "regularization, else 0.01 for implicit, 0.1 for spark)."),
                QStringLiteral("x") });
            p.addOption({ QStringLiteral("alpha"),
                QStringLiteral("Fold-in confidence 1 + alpha per interaction (default: "
                               "the npz's alpha - 1, else 1)."),
                QStringLiteral("x") });
            p.addOption({ QStringLiteral("skip-unknown-ids"),
                QStringLiteral("Drop rows whose id is not in the workspace (reported) instead of failing.") });
            p.addOption({ kJson, QStringLiteral("Print the report as JSON.") });
        },
        [](QCommandLineParser& p) {
            const QString name = requireOption(p, QStringLiteral("name"));
            const QString wsPath = requireOption(p, kWorkspace);
            cf::FactorImportOptions options;
            options.reg = doubleOption(p, QStringLiteral("reg"));
            options.alpha = doubleOption(p, QStringLiteral("alpha"));
            options.skipUnknownIds = p.isSet(QStringLiteral("skip-unknown-ids"));
            if (options.reg && !(*options.reg >= 0))
                throw UsageError(QStringLiteral("--reg must be 0 or more"));
            QElapsedTimer timer;
            timer.start();
            const cf::ExternalFactors factors = readFactors(p);
            const double readSeconds = timer.nsecsElapsed() / 1e9;
            auto ws = Workspace::open(wsPath);
            const Dataset ds = ws->load(TaskControl { progressPrinter(), {} });
            cf::FactorImportReport report;
            const auto model = cf::buildImportedModel(factors, ds, options, &report);
            const double seconds = timer.nsecsElapsed() / 1e9;
            const QJsonObject metrics { { QStringLiteral("import_seconds"), seconds },
                { QStringLiteral("read_seconds"), readSeconds } };
            const qint64 id = cf::saveSnapshot(*ws, name, *model, cf::dataFingerprint(ds.userItems), metrics);
            if (p.isSet(kJson)) {
                QJsonObject o = report.toJson();
                o.insert(QStringLiteral("snapshot"), id);
                o.insert(QStringLiteral("name"), name);
                o.insert(QStringLiteral("format"), factors.format);
                o.insert(QStringLiteral("seconds"), seconds);
                out(compact(o));
                return 0;
            }
            QString text = QStringLiteral("Imported %1 factors (%2 per row) as snapshot %3 '%4' (ials) in %5 s\n")
                               .arg(factors.format)
                               .arg(report.factors)
                               .arg(id)
                               .arg(name)
                               .arg(seconds, 0, 'f', 2);
            text += QStringLiteral(
                "Users: %1 of %2 in the file matched; %3 workspace users not in the file folded in from "
                "their history\n")
                        .arg(report.usersMatched)
                        .arg(report.fileUsers)
                        .arg(report.usersFoldedIn);
            text += QStringLiteral(
                "Items: %1 of %2 in the file matched; %3 workspace items not in the file have no factors "
                "(never recommended)%4\n")
                        .arg(report.itemsMatched)
                        .arg(report.fileItems)
                        .arg(report.itemsWithoutFactors)
                        .arg(report.firstItemsWithoutFactors.isEmpty()
                                ? QString()
                                : QStringLiteral(": %1").arg(
                                    report.firstItemsWithoutFactors.join(QStringLiteral(", "))));
            if (report.unknownUsers + report.unknownItems > 0)
                text += QStringLiteral("Dropped (not in the workspace): %1 users (%2), %3 items (%4)\n")
                            .arg(report.unknownUsers)
                            .arg(report.firstUnknownUsers.join(QStringLiteral(", ")))
                            .arg(report.unknownItems)
                            .arg(report.firstUnknownItems.join(QStringLiteral(", ")));
            text += QStringLiteral("Fold-in: reg %1, alpha %2").arg(report.reg).arg(report.alpha);
            out(text);
            return 0;
        } } };

} // namespace
} // namespace recwb::cli
