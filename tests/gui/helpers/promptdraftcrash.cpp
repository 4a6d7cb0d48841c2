// Test-only helper for tst_promptstab's crash test (not a test itself): opens MainWindow on
// the workspace given as argument, shows the Prompts tab, types MARKER at the end of line 25
// of the opened template, waits until the tab has autosaved the draft into the workspace,
// prints "draft-saved" and then waits to be killed. Run it with RECWB_AUTOSAVE_MS set low.
#include "mainwindow.h"
#include "prompts/promptstab.h"

#include <QApplication>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTest>
#include <QTextBlock>
#include <QTimer>
#include <cstdio>

using namespace recwb::ui;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 4) {
        std::fprintf(stderr, "usage: promptdraftcrash WORKSPACE SETTINGS.ini MARKER\n");
        return 2;
    }
    QStandardPaths::setTestModeEnabled(true);
    QSettings settings(args[2], QSettings::IniFormat);
    MainWindow window(settings);
    auto* tab = window.findChild<PromptsTab*>(QStringLiteral("promptsTab"));
    auto* editor = tab ? tab->findChild<QPlainTextEdit*>(QStringLiteral("promptEditor")) : nullptr;
    if (!editor) {
        std::fprintf(stderr, "no Prompts tab or editor\n");
        return 3;
    }
    window.resize(1280, 800);
    window.show();
    window.tabs()->setCurrentWidget(tab);

    bool typed = false;
    QObject::connect(tab, &PromptsTab::previewShown, &app, [&] {
        if (typed)
            return;
        typed = true;
        QTextCursor c(editor->document()->findBlockByNumber(24));
        c.movePosition(QTextCursor::EndOfBlock);
        editor->setTextCursor(c);
        editor->setFocus();
        QTest::keyClicks(editor, args[3]);
    });
    QObject::connect(tab, &PromptsTab::draftSaved, &app, [&] {
        if (!typed)
            return;
        std::printf("draft-saved\n");
        std::fflush(stdout);
    });
    QObject::connect(tab, &PromptsTab::failed, &app,
        [](const QString& message) { std::fprintf(stderr, "failed: %s\n", qPrintable(message)); });
    QTimer::singleShot(120000, &app, [] {
        std::fprintf(stderr, "timed out\n");
        QCoreApplication::exit(4);
    });
    window.openWorkspace(args[1]);
    return app.exec();
}
