#include "screenshots.h"

#include "catalogtab.h"
#include "data/dataset.h"
#include "importdialog.h"
#include "mainwindow.h"
#include "tablefilterproxy.h"
#include "userstab.h"

#include <QApplication>
#include <QDir>
#include <QLineEdit>
#include <QPixmap>
#include <QTabWidget>
#include <QTableView>

namespace recwb::ui {

namespace {

    void settle()
    {
        for (int i = 0; i < 3; ++i)
            QApplication::processEvents();
    }

    QString mostCommonCategory(const Dataset& dataset)
    {
        std::vector<int> counts(static_cast<size_t>(dataset.categories.size()), 0);
        for (const Item& item : dataset.items)
            for (const int32_t c : item.categories)
                ++counts[static_cast<size_t>(c)];
        const auto best = std::max_element(counts.begin(), counts.end());
        return best == counts.end() ? QString()
                                    : dataset.categories.value(static_cast<qsizetype>(best - counts.begin()));
    }

} // namespace

QStringList saveScreenshots(MainWindow& window, const QString& dir, QString* error)
{
    const auto fail = [error](const QString& message) {
        if (error)
            *error = message;
        return QStringList();
    };
    const auto dataset = window.dataset();
    if (!dataset)
        return fail(QStringLiteral("no workspace is loaded"));
    if (!QDir().mkpath(dir))
        return fail(QStringLiteral("cannot create %1").arg(dir));

    QStringList written;
    const auto shoot = [&](const QString& name) {
        settle();
        const QString file = QDir(dir).filePath(name);
        if (window.grab().save(file))
            written << file;
        return QFileInfo::exists(file);
    };

    window.resize(1280, 800);
    window.show();
    CatalogTab* catalog = window.catalogTab();
    UsersTab* users = window.usersTab();

    window.tabs()->setCurrentWidget(catalog);
    catalog->filterEdit()->clear();
    catalog->view()->selectRow(0);
    if (!shoot(QStringLiteral("catalog.png")))
        return fail(QStringLiteral("cannot write catalog.png into %1").arg(dir));

    catalog->filterEdit()->setText(mostCommonCategory(*dataset));
    catalog->view()->selectRow(0);
    shoot(QStringLiteral("catalog-filtered.png"));
    catalog->filterEdit()->clear();

    window.tabs()->setCurrentWidget(users);
    users->setStatusFilter(UsersTab::ColdUsers);
    users->selectFirstRow();
    shoot(QStringLiteral("users-cold.png"));

    users->setStatusFilter(UsersTab::WarmUsers);
    users->selectFirstRow();
    shoot(QStringLiteral("users-warm.png"));
    users->setStatusFilter(UsersTab::AllUsers);

    if (ImportDialog* dialog = window.openImportDialog()) {
        dialog->setFormat(ImportDialog::Generic);
        settle();
        if (dialog->grab().save(QDir(dir).filePath(QStringLiteral("import.png"))))
            written << QDir(dir).filePath(QStringLiteral("import.png"));
        dialog->close();
    }
    return written;
}

} // namespace recwb::ui
