#include "cli.h"

#include "util/error.h"
#include "util/hugepages.h"
#include "util/inerttext.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTextStream>
#include <cstdio>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

namespace recwb::cli {

QList<Command>& registry()
{
    static QList<Command> commands;
    return commands;
}

// Catalog values reach the terminal here: control characters are written inert (\uXXXX).
static QString terminalSafe(const QString& text)
{
    return inertControls(text);
}

void out(const QString& text)
{
    QTextStream s(stdout);
    s << terminalSafe(text);
    if (!text.endsWith(u'\n'))
        s << '\n';
}

void err(const QString& text)
{
    QTextStream s(stderr);
    s << terminalSafe(text);
    if (!text.endsWith(u'\n'))
        s << '\n';
}

bool useBatchScheduling()
{
#ifdef __linux__
    if (qEnvironmentVariable("RECWB_SCHED") == u"other")
        return false;
    sched_param param {};
    param.sched_priority = 0;
    // pid 0: the calling thread; threads it starts later inherit the policy.
    return sched_setscheduler(0, SCHED_BATCH, &param) == 0;
#else
    return false;
#endif
}

QString requireOption(const QCommandLineParser& p, const QString& name)
{
    const QString v = p.value(name);
    if (v.isEmpty())
        throw UsageError(QStringLiteral("missing required option --%1").arg(name));
    return v;
}

QJsonValue jsonValueFromText(const QString& text)
{
    bool ok = false;
    const double number = text.toDouble(&ok);
    if (ok)
        return number;
    if (text == u"true" || text == u"false")
        return text == u"true";
    return text;
}

void addWorkspaceOption(QCommandLineParser& p)
{
    p.addOption({ { QStringLiteral("w"), kWorkspace }, QStringLiteral("Workspace file (*.recwb)."), QStringLiteral("file") });
}

QString compact(const QJsonValue& v)
{
    return QString::fromUtf8(v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)
                                         : QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
}

QString action(const QCommandLineParser& p, const QStringList& accepted, const QString& command)
{
    const QStringList pos = p.positionalArguments();
    if (pos.isEmpty() || !accepted.contains(pos.first()))
        throw UsageError(QStringLiteral("usage: recwb-cli %1 %2 ...").arg(command, accepted.join(u'|')));
    return pos.first();
}

int intOption(const QCommandLineParser& p, const QString& name, int fallback)
{
    if (!p.isSet(name))
        return fallback;
    bool ok = false;
    const int v = p.value(name).toInt(&ok);
    if (!ok)
        throw UsageError(QStringLiteral("--%1 '%2' is not an integer").arg(name, p.value(name)));
    return v;
}

int intOption(const QCommandLineParser& p, const QString& name, int fallback, int min, int max)
{
    const int v = intOption(p, name, fallback);
    if (p.isSet(name) && (v < min || v > max))
        throw UsageError(QStringLiteral("--%1 %2 is out of range: expected %3 to %4").arg(name).arg(v).arg(min).arg(max));
    return v;
}

std::optional<double> doubleOption(const QCommandLineParser& p, const QString& name)
{
    if (!p.isSet(name))
        return std::nullopt;
    bool ok = false;
    const double v = p.value(name).toDouble(&ok);
    if (!ok)
        throw UsageError(QStringLiteral("--%1 '%2' is not a number").arg(name, p.value(name)));
    return v;
}

std::function<void(double, const QString&)> progressPrinter()
{
    if (!isatty(fileno(stderr)))
        return {};
    return [last = -1](double f, const QString& msg) mutable {
        const int pct = static_cast<int>(f * 100);
        if (pct == last)
            return;
        last = pct;
        std::fprintf(stderr, "\r%3d%% %-60s", pct, msg.left(60).toLocal8Bit().constData());
        if (pct >= 100)
            std::fputc('\n', stderr);
        std::fflush(stderr);
    };
}

} // namespace recwb::cli

using namespace recwb;
using namespace recwb::cli;

static void printUsage()
{
    QString text = QStringLiteral("Usage: recwb-cli <command> [options]\n\n"
                                  "Recommendation Workbench, headless.\n\nCommands:\n");
    for (const auto& c : registry())
        text += QStringLiteral("  %1%2\n").arg(c.name.leftJustified(14), c.summary);
    text += QStringLiteral("\nRun 'recwb-cli <command> --help' for a command's options.\n"
                           "Options: --help, --version\n");
    out(text);
}

int main(int argc, char** argv)
{
    recwb::restartWithHugePageHeap(argv); // before any thread: it may exec this program again
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("recwb-cli"));
    QCoreApplication::setOrganizationName(QStringLiteral("recwb"));
    QCoreApplication::setApplicationVersion(QStringLiteral(RECWB_VERSION));
    std::sort(registry().begin(), registry().end(), [](const Command& a, const Command& b) { return a.name < b.name; });

    const QStringList args = QCoreApplication::arguments();
    if (args.size() < 2 || args[1] == u"--help" || args[1] == u"-h" || args[1] == u"help") {
        printUsage();
        return args.size() < 2 ? 1 : 0;
    }
    if (args[1] == u"--version" || args[1] == u"-v") {
        out(QStringLiteral("recwb-cli %1").arg(QCoreApplication::applicationVersion()));
        return 0;
    }
    const QString name = args[1];
    const auto it = std::find_if(registry().begin(), registry().end(), [&](const Command& c) { return c.name == name; });
    if (it == registry().end()) {
        err(QStringLiteral("recwb-cli: unknown command '%1' (see recwb-cli --help)").arg(name));
        return 2;
    }
    QCommandLineParser parser;
    parser.setApplicationDescription(it->summary);
    parser.addHelpOption();
    parser.addVersionOption();
    if (it->setup)
        it->setup(parser);
    QStringList subArgs = args;
    subArgs.removeAt(1);
    subArgs[0] = QStringLiteral("recwb-cli ") + name;
    if (!parser.parse(subArgs)) {
        err(QStringLiteral("recwb-cli %1: %2").arg(name, parser.errorText()));
        return 2;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        // QCommandLineParser names the binary's path; users type "recwb-cli <command>".
        QString help = parser.helpText();
        help.replace(QStringLiteral("Usage: ") + QCoreApplication::arguments().constFirst(),
            QStringLiteral("Usage: recwb-cli ") + name);
        out(help);
        return 0;
    }
    if (parser.isSet(QStringLiteral("version"))) {
        out(QStringLiteral("recwb-cli %1").arg(QCoreApplication::applicationVersion()));
        return 0;
    }
    try {
        return it->run(parser);
    } catch (const Canceled&) {
        err(QStringLiteral("recwb-cli %1: canceled").arg(name));
        return 130;
    } catch (const UsageError& e) {
        err(QStringLiteral("recwb-cli %1: %2").arg(name, e.message().simplified()));
        return 2;
    } catch (const Error& e) {
        err(QStringLiteral("recwb-cli %1: %2").arg(name, e.message().simplified()));
        return 1;
    } catch (const std::exception& e) {
        err(QStringLiteral("recwb-cli %1: %2").arg(name, QString::fromLocal8Bit(e.what())));
        return 1;
    }
}
