#include "cli.h"

#include "data/generator.h"
#include "data/workspace.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>

namespace recwb::cli {
namespace {

const QString kOut = QStringLiteral("out");
const QString kCsvDir = QStringLiteral("csv-dir");
const QString kForce = QStringLiteral("force");

qint64 numberOption(const QCommandLineParser& p, const QString& name, qint64 fallback, qint64 minimum)
{
    if (!p.isSet(name))
        return fallback;
    bool ok = false;
    const qint64 v = p.value(name).toLongLong(&ok);
    if (!ok || v < minimum)
        throw Error(QStringLiteral("--%1: expected an integer >= %2, got '%3'").arg(name).arg(minimum).arg(p.value(name)));
    return v;
}

// Peak resident set size of this process, from /proc (Linux); 0 elsewhere.
qint64 peakRssBytes()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').value(0).toLongLong() * 1024;
    return 0;
}

void removeWorkspaceFiles(const QString& path)
{
    for (const QString& suffix : { QString(), QStringLiteral("-wal"), QStringLiteral("-shm") }) {
        const QString f = path + suffix;
        if (QFileInfo::exists(f) && !QFile::remove(f))
            throw Error(QStringLiteral("%1: cannot delete the existing file").arg(f));
    }
}

const Registrar generate { Command {
    QStringLiteral("generate"),
    QStringLiteral("Generate a synthetic, learnable demo dataset into a workspace or CSV files."),
    [](QCommandLineParser& p) {
        p.addOption({ { QStringLiteral("o"), kOut }, QStringLiteral("Workspace file to create (*.recwb)."), QStringLiteral("file") });
        p.addOption({ kCsvDir, QStringLiteral("Write interactions.csv, items.csv, users.csv into this folder instead."),
            QStringLiteral("dir") });
        p.addOption({ QStringLiteral("users"), QStringLiteral("Number of users (default 1000)."), QStringLiteral("n") });
        p.addOption({ QStringLiteral("items"), QStringLiteral("Number of items (default 2000)."), QStringLiteral("n") });
        p.addOption({ QStringLiteral("interactions"), QStringLiteral("Approximate number of interactions (default 60000)."),
            QStringLiteral("n") });
        p.addOption({ QStringLiteral("categories"), QStringLiteral("Number of categories (default 15)."), QStringLiteral("n") });
        p.addOption({ QStringLiteral("seed"), QStringLiteral("Random seed (default 42)."), QStringLiteral("n") });
        p.addOption({ QStringLiteral("cold-fraction"), QStringLiteral("Share of users with 0-4 interactions (default 0.1)."),
            QStringLiteral("f") });
        p.addOption({ kForce, QStringLiteral("Replace an existing non-empty workspace or existing CSV files.") });
    },
    [](QCommandLineParser& p) {
        GeneratorConfig c;
        c.users = static_cast<int>(std::min<qint64>(numberOption(p, QStringLiteral("users"), c.users, 0), 1'000'000'000));
        c.items = static_cast<int>(std::min<qint64>(numberOption(p, QStringLiteral("items"), c.items, 1), 1'000'000'000));
        c.interactions = numberOption(p, QStringLiteral("interactions"), c.interactions, 0);
        c.categories = static_cast<int>(std::min<qint64>(numberOption(p, QStringLiteral("categories"), c.categories, 1), 1000));
        if (p.isSet(QStringLiteral("seed"))) {
            bool ok = false;
            c.seed = p.value(QStringLiteral("seed")).toULongLong(&ok);
            if (!ok)
                throw Error(QStringLiteral("--seed: expected a non-negative integer, got '%1'").arg(p.value(QStringLiteral("seed"))));
        }
        if (p.isSet(QStringLiteral("cold-fraction"))) {
            bool ok = false;
            c.coldFraction = p.value(QStringLiteral("cold-fraction")).toDouble(&ok);
            if (!ok || c.coldFraction < 0 || c.coldFraction > 1)
                throw Error(QStringLiteral("--cold-fraction: expected a number between 0 and 1, got '%1'")
                                .arg(p.value(QStringLiteral("cold-fraction"))));
        }
        const bool force = p.isSet(kForce);
        const TaskControl control { progressPrinter(), {} };
        QElapsedTimer timer;
        timer.start();

        if (p.isSet(kCsvDir)) {
            if (p.isSet(kOut))
                throw Error(QStringLiteral("give either --out or --csv-dir, not both"));
            const QString dir = p.value(kCsvDir);
            for (const char* name : { "interactions.csv", "items.csv", "users.csv" }) {
                const QString f = QDir(dir).filePath(QString::fromLatin1(name));
                if (QFileInfo::exists(f) && !force)
                    throw Error(QStringLiteral("%1 exists; use --force to overwrite").arg(f));
            }
            generateCsvFiles(dir, c, control);
            const double s = static_cast<double>(timer.nsecsElapsed()) / 1e9;
            const QString inter = QDir(dir).filePath(QStringLiteral("interactions.csv"));
            out(QStringLiteral("Wrote %1 (%2 MB), items.csv, users.csv in %3 s\n"
                               "  users %4, items %5, about %6 interactions, seed %7")
                    .arg(inter)
                    .arg(static_cast<double>(QFileInfo(inter).size()) / 1e6, 0, 'f', 1)
                    .arg(s, 0, 'f', 2)
                    .arg(c.users)
                    .arg(c.items)
                    .arg(c.interactions)
                    .arg(c.seed));
            return 0;
        }

        const QString path = requireOption(p, kOut);
        if (QFileInfo::exists(path)) {
            if (force) {
                removeWorkspaceFiles(path);
            } else if (QFileInfo(path).size() > 0) {
                const auto existing = Workspace::open(path); // refuses non-workspace files with a message
                const auto s = existing->summary();
                if (s.users + s.items + s.interactions > 0)
                    throw Error(QStringLiteral("%1 is a non-empty workspace; use --force to replace it").arg(path));
            }
        }
        const auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
        const ImportReport report = generateIntoWorkspace(*ws, c, control);
        const double s = static_cast<double>(timer.nsecsElapsed()) / 1e9;
        const auto sum = ws->summary();
        out(QStringLiteral("Generated %1 in %2 s (%3 interactions/s)\n"
                           "  users %4 (%5 cold), items %6 in %7 categories, %8 tags, %9 interactions, seed %10")
                .arg(ws->path())
                .arg(s, 0, 'f', 2)
                .arg(static_cast<qint64>(static_cast<double>(sum.interactions) / std::max(report.seconds, 1e-9)))
                .arg(sum.users)
                .arg(sum.coldUsers)
                .arg(sum.items)
                .arg(sum.categories)
                .arg(sum.tags)
                .arg(sum.interactions)
                .arg(c.seed));
        return 0;
    } } };

// Reopens a workspace into memory (the GUI's load path) and reports time and footprint.
const Registrar load { Command {
    QStringLiteral("load"),
    QStringLiteral("Load a workspace into memory and report time, interactions and memory (benchmarking)."),
    [](QCommandLineParser& p) {
        p.addOption({ { QStringLiteral("w"), QStringLiteral("workspace") }, QStringLiteral("Workspace file (*.recwb)."),
            QStringLiteral("file") });
    },
    [](QCommandLineParser& p) {
        QElapsedTimer timer;
        timer.start();
        const auto ws = Workspace::open(requireOption(p, QStringLiteral("workspace")));
        // Each phase's wall time, from the load's own progress messages.
        QList<std::pair<QString, double>> phases { { QStringLiteral("Opening"), 0.0 } };
        double phaseStart = 0.0;
        auto printer = progressPrinter();
        auto progress = [&](double fraction, const QString& message) {
            const double now = static_cast<double>(timer.nsecsElapsed()) / 1e9;
            if (!message.isEmpty() && message != phases.last().first) {
                phases.last().second = now - phaseStart;
                phaseStart = now;
                phases.append({ message, 0.0 });
            }
            if (printer)
                printer(fraction, message);
        };
        const Dataset ds = ws->load(TaskControl { progress, {} });
        const double s = static_cast<double>(timer.nsecsElapsed()) / 1e9;
        phases.last().second = s - phaseStart;
        QStringList phaseText;
        for (const auto& [name, seconds] : phases)
            if (name != u"Loaded")
                phaseText << QStringLiteral("%1 %2 s").arg(name.toLower()).arg(seconds, 0, 'f', 2);
        out(QStringLiteral("Loaded %1 in %2 s\n"
                           "  users %3, items %4, interactions %5\n"
                           "  CSR memory %6 MB, peak resident %7 MB\n"
                           "  phases: %8")
                .arg(ws->path())
                .arg(s, 0, 'f', 3)
                .arg(ds.numUsers())
                .arg(ds.numItems())
                .arg(ds.numInteractions())
                .arg(static_cast<double>(ds.interactionMemoryBytes()) / 1e6, 0, 'f', 1)
                .arg(static_cast<double>(peakRssBytes()) / 1e6, 0, 'f', 1)
                .arg(phaseText.join(QStringLiteral(", "))));
        return 0;
    } } };

} // namespace
} // namespace recwb::cli
