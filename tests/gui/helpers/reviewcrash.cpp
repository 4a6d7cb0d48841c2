// Test-only helper for tst_reviewtab's crash test (not a test itself): opens MainWindow on
// the workspace given as argument, shows the Review tab as REVIEWER, opens queue QUEUE,
// gives COUNT verdicts with the keyboard (1, 2, 3, 1, ... on the items from the first one
// on), waits until every one is stored, prints "verdicts-stored" and then waits to be killed.
#include "mainwindow.h"
#include "review/reviewtab.h"

#include <QApplication>
#include <QLineEdit>
#include <QSettings>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <QTimer>
#include <cstdio>

using namespace recwb::ui;

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 6) {
        std::fprintf(stderr, "usage: reviewcrash WORKSPACE SETTINGS.ini REVIEWER QUEUE COUNT\n");
        return 2;
    }
    QStandardPaths::setTestModeEnabled(true);
    QSettings settings(args[2], QSettings::IniFormat);
    MainWindow window(settings);
    auto* tab = window.findChild<ReviewTab*>(QStringLiteral("reviewTab"));
    auto* items = tab ? tab->findChild<QTableView*>(QStringLiteral("reviewItems")) : nullptr;
    if (!items) {
        std::fprintf(stderr, "no Review tab or items view\n");
        return 3;
    }
    window.resize(1280, 800);
    window.show();
    window.tabs()->setCurrentWidget(tab);
    const qint64 queue = args[4].toLongLong();
    const int count = args[5].toInt();
    int stored = 0;
    QObject::connect(&window, &MainWindow::workspaceLoaded, &app, [&] {
        tab->findChild<QLineEdit*>(QStringLiteral("reviewReviewer"))->setText(args[3]);
        tab->setReviewer(args[3]);
        tab->openQueue(queue);
    });
    QObject::connect(tab, &ReviewTab::queueOpened, &app, [&] {
        tab->showUser(0);
        items->setFocus();
        const Qt::Key keys[] = { Qt::Key_1, Qt::Key_2, Qt::Key_3 };
        for (int i = 0; i < count; ++i)
            QTest::keyClick(items, keys[i % 3]);
    });
    QObject::connect(tab, &ReviewTab::verdictStored, &app, [&] {
        if (++stored == count) {
            std::printf("verdicts-stored\n");
            std::fflush(stdout);
        }
    });
    QObject::connect(tab, &ReviewTab::writeFailed, &app,
        [](const QString& message) { std::fprintf(stderr, "failed: %s\n", qPrintable(message)); });
    QTimer::singleShot(120000, &app, [] {
        std::fprintf(stderr, "timed out\n");
        QCoreApplication::exit(4);
    });
    window.openWorkspace(args[1]);
    return app.exec();
}
