#include "mainwindow.h"
#include "screenshots.h"
#include "util/hugepages.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>
#include <cstdio>
#include <memory>

int main(int argc, char* argv[])
{
    recwb::restartWithHugePageHeap(argv); // before any thread: it may exec this program again
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("recwb"));
    QApplication::setOrganizationDomain(QStringLiteral("recwb.example.invalid"));
    QApplication::setApplicationName(QStringLiteral("recwb"));
    QApplication::setApplicationDisplayName(QStringLiteral("Recommendation Workbench"));
    QApplication::setApplicationVersion(QStringLiteral(RECWB_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("io.github.recwb.Workbench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Recommendation Workbench: inspect catalogs, users and hybrid recommendations."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(
        QStringLiteral("workspace"), QStringLiteral("The workspace (.recwb) to open."), QStringLiteral("[FILE.recwb]"));
    const QCommandLineOption demo(
        QStringLiteral("demo"), QStringLiteral("Open the demo workspace (generated on first use)."));
    parser.addOption(demo);
    QCommandLineOption screenshot(QStringLiteral("screenshot"),
        QStringLiteral("Open the workspace, save a PNG of each tab into DIR and exit."), QStringLiteral("DIR"));
    screenshot.setFlags(QCommandLineOption::HiddenFromHelp);
    parser.addOption(screenshot);
    parser.process(app);

    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1)
        parser.showHelp(2);
    const QString screenshotDir = parser.value(screenshot);
    const bool screenshotMode = parser.isSet(screenshot);

    // Screenshot runs must not change the user's window layout or recent files.
    QTemporaryDir scratch;
    std::unique_ptr<QSettings> settings = screenshotMode
        ? std::make_unique<QSettings>(scratch.filePath(QStringLiteral("recwb.ini")), QSettings::IniFormat)
        : std::make_unique<QSettings>();

    recwb::ui::MainWindow window(*settings);
    if (screenshotMode) {
        QObject::connect(&window, &recwb::ui::MainWindow::workspaceLoaded, &window, [&window, screenshotDir] {
            QTimer::singleShot(0, &window, [&window, screenshotDir] {
                QString error;
                const QStringList files = recwb::ui::saveScreenshots(window, screenshotDir, &error);
                for (const QString& file : files)
                    std::printf("%s\n", qPrintable(file));
                if (files.isEmpty())
                    std::fprintf(stderr, "recwb: %s\n", qPrintable(error));
                QCoreApplication::exit(files.isEmpty() ? 1 : 0);
            });
        });
        QObject::connect(&window, &recwb::ui::MainWindow::workspaceLoadFailed, &window,
            [](const QString& path, const QString& message) {
                std::fprintf(stderr, "recwb: %s: %s\n", qPrintable(path), qPrintable(message));
                QCoreApplication::exit(1);
            });
    }
    window.show();

    if (!positional.isEmpty())
        window.openWorkspace(QFileInfo(positional.first()).absoluteFilePath());
    else if (parser.isSet(demo) || screenshotMode)
        window.openDemoWorkspace();
    else
        window.openLastOrDemo();
    return QApplication::exec();
}
