#include "data/import/importers.h"
#include "data/workspace.h"
#include "dialogs/endpointsdialog.h"
#include "mainwindow.h"
#include "prompts/mustachehighlighter.h"
#include "prompts/promptstab.h"
#include "prompts/promptversionsmodel.h"
#include "rerank/prices.h"
#include "rerank/store.h"
#include "testllmserver.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QComboBox>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableView>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextDocument>
#include <QTreeWidget>
#include <memory>

using namespace recwb;
using namespace recwb::ui;

// The Prompts tab driven through its widgets (found by object name) on a real generated
// workspace: edit, live preview, errors with line and column, save as a new version, diff,
// undo, labels, and a draft that survives a "crash".
class TestPromptsTab : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<QSettings> m_settings;
    int m_n = 0;

    QString newWorkspace()
    {
        const QString p = m_dir.filePath(QStringLiteral("ws%1.recwb").arg(++m_n));
        test::generateSmallWorkspace(p);
        return p;
    }

    struct Ui {
        std::unique_ptr<MainWindow> window;
        PromptsTab* tab = nullptr;
        QPlainTextEdit* editor = nullptr;
        QPlainTextEdit* preview = nullptr;
        QLabel* error = nullptr;
    };

    // A window on `path` with the Prompts tab shown and its first preview rendered.
    Ui open(const QString& path, QSignalSpy** offered = nullptr)
    {
        Ui ui;
        ui.window = std::make_unique<MainWindow>(*m_settings);
        ui.tab = ui.window->findChild<PromptsTab*>(QStringLiteral("promptsTab"));
        if (!ui.tab)
            return ui;
        auto* versions = ui.tab->findChild<QTableView*>(QStringLiteral("promptVersions"));
        new QAbstractItemModelTester(
            versions->model(), QAbstractItemModelTester::FailureReportingMode::QtTest, ui.window.get());
        ui.editor = ui.tab->findChild<QPlainTextEdit*>(QStringLiteral("promptEditor"));
        ui.preview = ui.tab->findChild<QPlainTextEdit*>(QStringLiteral("promptPreview"));
        ui.error = ui.tab->findChild<QLabel*>(QStringLiteral("promptError"));
        ui.window->resize(1280, 800);
        ui.window->show();
        ui.window->tabs()->setCurrentWidget(ui.tab);
        if (offered)
            *offered = new QSignalSpy(ui.tab, &PromptsTab::draftOffered);
        QSignalSpy shown(ui.tab, &PromptsTab::previewShown);
        ui.window->openWorkspace(path);
        if (!shown.wait(120000))
            ui.tab = nullptr;
        return ui;
    }

    static bool waitPreview(PromptsTab* tab)
    {
        QSignalSpy shown(tab, &PromptsTab::previewShown);
        return shown.wait(30000);
    }

    static void typeAtEndOfLine(QPlainTextEdit* editor, int line, const QString& text)
    {
        QTextCursor c(editor->document()->findBlockByNumber(line - 1));
        c.movePosition(QTextCursor::EndOfBlock);
        editor->setTextCursor(c);
        editor->setFocus();
        QTest::keyClicks(editor, text);
    }

    // An OpenAI-style endpoint with its own prices (USD per 1M tokens: 0.4 in, 1.6 out).
    static void addEndpoint(const QString& path, const QString& name, const QString& baseUrl)
    {
        const auto ws = Workspace::open(path);
        rerank::EndpointProfile e;
        e.name = name;
        e.kind = rerank::ProviderKind::OpenAiChat;
        e.baseUrl = baseUrl;
        e.model = QStringLiteral("test-model");
        e.timeoutMs = 20000;
        e.maxRetries = 0;
        e.prices.input = 0.4;
        e.prices.cachedInput = 0.1;
        e.prices.output = 1.6;
        rerank::store::upsertEndpoint(*ws, e);
    }

    static QString shownUserId(PromptsTab* tab)
    {
        return tab->findChild<QComboBox*>(QStringLiteral("promptUser"))->currentText().section(u' ', 0, 0);
    }

    // What the title above the editor says, as plain text ("listwise@2 (from version 1) …").
    static QString titleText(PromptsTab* tab)
    {
        QTextDocument doc;
        doc.setHtml(tab->findChild<QLabel*>(QStringLiteral("promptTitle"))->text());
        return doc.toPlainText();
    }

    // A column of the version list's current row.
    static QString selectedCell(PromptsTab* tab, PromptVersionsModel::Column column)
    {
        auto* view = tab->findChild<QTableView*>(QStringLiteral("promptVersions"));
        return view->model()->index(view->currentIndex().row(), column).data().toString();
    }

    static QTreeWidgetItem* variable(QTreeWidget* tree, const QString& top, const QString& child)
    {
        for (int i = 0; i < tree->topLevelItemCount(); ++i) {
            QTreeWidgetItem* t = tree->topLevelItem(i);
            if (t->text(0) != top)
                continue;
            if (child.isEmpty())
                return t;
            for (int k = 0; k < t->childCount(); ++k)
                if (t->child(k)->text(0) == child)
                    return t->child(k);
        }
        return nullptr;
    }

private slots:
    void initTestCase()
    {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        m_settings = std::make_unique<QSettings>(m_dir.filePath(QStringLiteral("settings.ini")), QSettings::IniFormat);
    }

    void editPreviewErrorSaveDiffUndo()
    {
        const QString path = newWorkspace();
        Ui ui = open(path);
        QVERIFY(ui.tab);
        QVERIFY2(titleText(ui.tab).startsWith(QStringLiteral("listwise@1")), qPrintable(titleText(ui.tab)));
        QCOMPARE(selectedCell(ui.tab, PromptVersionsModel::Name), QStringLiteral("listwise"));
        QCOMPARE(selectedCell(ui.tab, PromptVersionsModel::Version), QStringLiteral("1"));
        const QString user = shownUserId(ui.tab);
        QVERIFY(!user.isEmpty());
        QVERIFY2(ui.preview->toPlainText().contains(QStringLiteral("User %1 (warm user").arg(user)),
            qPrintable(ui.preview->toPlainText().left(2000)));
        QVERIFY(ui.error->text().isEmpty());
        auto* variables = ui.tab->findChild<QTreeWidget*>(QStringLiteral("promptVariables"));
        for (const char* name : { "user", "history", "category_preferences", "candidates", "k", "candidate_count",
                 "schema", "has_history", "has_category_preferences" })
            QVERIFY2(variable(variables, QString::fromLatin1(name), {}), name);
        QCOMPARE(variable(variables, QStringLiteral("user"), QStringLiteral("id"))->text(1), user);
        QCOMPARE(variable(variables, QStringLiteral("candidates"), {})->text(1), QStringLiteral("list of 50"));

        // Typing re-renders the preview (once, after the keystrokes settle).
        typeAtEndOfLine(ui.editor, 25, QStringLiteral(" Watch-{{user.id}}"));
        QVERIFY(waitPreview(ui.tab));
        QTRY_VERIFY_WITH_TIMEOUT(
            ui.preview->toPlainText().contains(QStringLiteral("interactions). Watch-%1").arg(user)), 10000);
        auto* save = ui.tab->findChild<QPushButton*>(QStringLiteral("promptSave"));
        QVERIFY(save->isEnabled());
        QVERIFY(ui.tab->findChild<QLabel*>(QStringLiteral("promptTitle"))->text().contains(QStringLiteral("edited")));

        // A broken template: the error names line and column and is marked in the editor.
        const int column = static_cast<int>(ui.editor->document()->findBlockByNumber(25).text().size()) + 2;
        typeAtEndOfLine(ui.editor, 26, QStringLiteral(" {{nosuch}}"));
        QTRY_VERIFY_WITH_TIMEOUT(!ui.error->text().isEmpty(), 10000);
        QVERIFY2(
            ui.error->text().contains(QStringLiteral("Line 26, column %1").arg(column)), qPrintable(ui.error->text()));
        QVERIFY2(ui.error->text().contains(QStringLiteral("nosuch")), qPrintable(ui.error->text()));
        const auto marks = ui.editor->extraSelections();
        QVERIFY(!marks.isEmpty());
        QCOMPARE(marks.back().cursor.block().blockNumber(), 25);
        QCOMPARE(marks.back().cursor.selectionStart() - marks.back().cursor.block().position(), column - 1);
        QCOMPARE(marks.back().cursor.selectedText(), QStringLiteral("{{nosuch}}"));
        QVERIFY(!save->isEnabled()); // a broken template is never stored

        // Undo (the tab's action) back to the good edit: the error goes away.
        auto* undo = ui.tab->findChild<QAction*>(QStringLiteral("promptUndo"));
        QVERIFY(undo && undo->isEnabled());
        for (int i = 0; i < 40 && ui.editor->toPlainText().contains(QStringLiteral("nosuch")); ++i)
            undo->trigger();
        QVERIFY(!ui.editor->toPlainText().contains(QStringLiteral("nosuch")));
        QVERIFY(ui.editor->toPlainText().contains(QStringLiteral(" Watch-{{user.id}}")));
        QTRY_VERIFY_WITH_TIMEOUT(ui.error->text().isEmpty(), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(save->isEnabled(), 10000);

        // Save: a note is required; then version 2 with parent 1, nothing overwritten.
        QSignalSpy saved(ui.tab, &PromptsTab::versionSaved);
        QTest::mouseClick(save, Qt::LeftButton);
        QCOMPARE(saved.count(), 0);
        QVERIFY(ui.tab->findChild<QLabel*>(QStringLiteral("promptStatus"))->text().contains(QStringLiteral("note")));
        ui.tab->findChild<QLineEdit*>(QStringLiteral("promptNote"))->setText(QStringLiteral("name the user twice"));
        QTest::mouseClick(save, Qt::LeftButton);
        QVERIFY(saved.wait(30000));
        QCOMPARE(saved.first().first().toString(), QStringLiteral("listwise@2"));
        {
            const auto ws = Workspace::open(path);
            const auto v2 = rerank::store::getTemplate(*ws, QStringLiteral("listwise@2"));
            QCOMPARE(v2.parentVersion.value_or(0), 1);
            QCOMPARE(v2.note, QStringLiteral("name the user twice"));
            QVERIFY(v2.text.contains(QStringLiteral(" Watch-{{user.id}}")));
            QVERIFY(
                !rerank::store::getTemplate(*ws, QStringLiteral("listwise@1")).text.contains(QStringLiteral("Watch")));
            QVERIFY(!rerank::store::loadDraft(*ws, QStringLiteral("listwise"))); // saved: no draft left
        }
        QTRY_VERIFY_WITH_TIMEOUT(titleText(ui.tab).startsWith(QStringLiteral("listwise@2 (from version 1)")), 10000);
        QCOMPARE(selectedCell(ui.tab, PromptVersionsModel::Version), QStringLiteral("2"));
        QVERIFY(!titleText(ui.tab).contains(QStringLiteral("edited")));
        auto* versions = ui.tab->findChild<QTableView*>(QStringLiteral("promptVersions"));
        QCOMPARE(versions->model()->rowCount(), 4); // listwise 1-2, coldstart, compact

        // The diff against the parent: the changed line with the new words highlighted.
        auto* diff = ui.tab->findChild<QTextBrowser*>(QStringLiteral("promptDiff"));
        QCOMPARE(ui.tab->findChild<QComboBox*>(QStringLiteral("promptDiffFrom"))->currentData().toInt(), 1);
        QCOMPARE(ui.tab->findChild<QComboBox*>(QStringLiteral("promptDiffTo"))->currentData().toInt(), 2);
        QVERIFY2(diff->toPlainText().contains(QStringLiteral("+1 −1 lines")), qPrintable(diff->toPlainText()));
        QVERIFY2(diff->toPlainText().contains(QStringLiteral("Watch-{{user.id}}")), qPrintable(diff->toPlainText()));
        const QString html = diff->toHtml();
        QVERIFY2(html.contains(QStringLiteral("#4ac26b")), "the added words are not highlighted");
        QVERIFY2(html.contains(QStringLiteral("#ffebe9")), "the removed line is not marked");

        // Undo after saving: the editor's history survived; the text differs from version 2.
        QVERIFY(undo->isEnabled());
        undo->trigger();
        QVERIFY(!ui.editor->toPlainText().contains(QStringLiteral(" Watch-{{user.id}}")));
        QVERIFY(save->isEnabled());
        auto* redo = ui.tab->findChild<QAction*>(QStringLiteral("promptRedo"));
        QVERIFY(redo->isEnabled());
        redo->trigger();
        QVERIFY(ui.editor->toPlainText().contains(QStringLiteral(" Watch-{{user.id}}")));
    }

    void coldUserAndEndpointEstimate()
    {
        const QString path = newWorkspace();
        addEndpoint(path, QStringLiteral("priced"), QStringLiteral("http://127.0.0.1:9/v1")); // never called
        Ui ui = open(path);
        QVERIFY(ui.tab);
        auto* estimate = ui.tab->findChild<QLabel*>(QStringLiteral("promptEstimate"));
        QVERIFY2(estimate->text().contains(QStringLiteral("$0 (offline")), qPrintable(estimate->text()));
        auto* endpoint = ui.tab->findChild<QComboBox*>(QStringLiteral("promptEndpoint"));
        const int priced = endpoint->findData(QStringLiteral("priced"));
        QVERIFY(priced >= 0);
        endpoint->setCurrentIndex(priced);
        QVERIFY(waitPreview(ui.tab));
        // The estimate is the hand computation from the shown token counts and the prices.
        static const QRegularExpression re(
            QStringLiteral(R"(~(\d+) input tokens · ~(\d+) output tokens.*≈ \$([0-9.]+) per call)"));
        const auto m = re.match(estimate->text());
        QVERIFY2(m.hasMatch(), qPrintable(estimate->text()));
        const double usd = (m.captured(1).toDouble() * 0.4 + m.captured(2).toDouble() * 1.6) / 1e6;
        QVERIFY2(std::abs(m.captured(3).toDouble() - usd) < 1e-5, qPrintable(estimate->text()));

        // Endpoints… opens the endpoints dialog; what it writes reaches the endpoint list.
        QTest::mouseClick(ui.tab->findChild<QPushButton*>(QStringLiteral("promptEndpoints")), Qt::LeftButton);
        auto* dialog = ui.tab->findChild<EndpointsDialog*>();
        QVERIFY(dialog && dialog->isVisible());
        QCOMPARE(dialog->workspacePath(), path);
        addEndpoint(path, QStringLiteral("added-later"), QStringLiteral("http://127.0.0.1:9/v1"));
        QSignalSpy loaded(ui.tab, &PromptsTab::versionsLoaded);
        emit dialog->endpointsChanged(); // what the dialog emits after a save
        QVERIFY(loaded.wait(30000));
        QVERIFY(endpoint->findData(QStringLiteral("added-later")) >= 0);
        QCOMPARE(endpoint->currentData().toString(), QStringLiteral("priced")); // the choice is kept
        dialog->close();

        // A cold user: the cold-start candidates and the user's values in the variables.
        auto* users = ui.tab->findChild<QComboBox*>(QStringLiteral("promptUser"));
        const int cold = users->findText(QStringLiteral("(cold"), Qt::MatchContains);
        QVERIFY(cold >= 0);
        users->setCurrentIndex(cold);
        QTRY_VERIFY_WITH_TIMEOUT(ui.preview->toPlainText().contains(QStringLiteral("(cold user")), 60000);
        auto* variables = ui.tab->findChild<QTreeWidget*>(QStringLiteral("promptVariables"));
        QTRY_COMPARE_WITH_TIMEOUT(variable(variables, QStringLiteral("user"), QStringLiteral("status"))->text(1),
            QStringLiteral("cold"), 10000);
        QCOMPARE(variable(variables, QStringLiteral("user"), QStringLiteral("id"))->text(1), shownUserId(ui.tab));
    }

    // An endpoint without prices of its own: the estimate uses the built-in table's row for
    // its model and says the row's date and where it came from.
    void estimateFromThePriceTableShowsItsDate()
    {
        const QString path = newWorkspace();
        {
            const auto ws = Workspace::open(path);
            rerank::EndpointProfile e;
            e.name = QStringLiteral("table-priced");
            e.kind = rerank::ProviderKind::OpenAiChat;
            e.baseUrl = QStringLiteral("https://api.openai.com/v1"); // never called: nothing is sent
            e.model = QStringLiteral("gpt-4.1-mini");
            rerank::store::upsertEndpoint(*ws, e);
        }
        const auto row = rerank::PriceTable::builtin().lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini"));
        QVERIFY(row && row->prices.input && row->prices.output);
        QVERIFY(!row->prices.asOf.isEmpty());
        Ui ui = open(path);
        QVERIFY(ui.tab);
        auto* endpoint = ui.tab->findChild<QComboBox*>(QStringLiteral("promptEndpoint"));
        const int index = endpoint->findData(QStringLiteral("table-priced"));
        QVERIFY(index >= 0);
        endpoint->setCurrentIndex(index);
        QVERIFY(waitPreview(ui.tab));
        const QString text = ui.tab->findChild<QLabel*>(QStringLiteral("promptEstimate"))->text();
        static const QRegularExpression re(
            QStringLiteral(R"(~(\d+) input tokens · ~(\d+) output tokens.*≈ \$([0-9.]+) per call at gpt-4\.1-mini)"));
        const auto m = re.match(text);
        QVERIFY2(m.hasMatch(), qPrintable(text));
        const double usd
            = (m.captured(1).toDouble() * *row->prices.input + m.captured(2).toDouble() * *row->prices.output) / 1e6;
        QVERIFY2(usd > 0 && std::abs(m.captured(3).toDouble() - usd) < 1e-5, qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("prices as of %1, built-in price table").arg(row->prices.asOf)),
            qPrintable(text));
    }

    void labelsFromTheTab()
    {
        const QString path = newWorkspace();
        {
            const auto ws = Workspace::open(path);
            rerank::store::seedDefaultTemplates(*ws);
            rerank::store::addTemplateVersion(*ws, QStringLiteral("compact"),
                rerank::store::getTemplate(*ws, QStringLiteral("compact")).text + QStringLiteral("\nShort."),
                QStringLiteral("shorter"));
        }
        Ui ui = open(path);
        QVERIFY(ui.tab);
        auto* versions = ui.tab->findChild<QTableView*>(QStringLiteral("promptVersions"));
        QSignalSpy opened(ui.tab, &PromptsTab::versionOpened);
        ui.tab->openVersion(QStringLiteral("compact"), 1);
        QCOMPARE(opened.count(), 1);
        QVERIFY2(titleText(ui.tab).startsWith(QStringLiteral("compact@1")), qPrintable(titleText(ui.tab)));
        QCOMPARE(selectedCell(ui.tab, PromptVersionsModel::Version), QStringLiteral("1"));
        auto* label = ui.tab->findChild<QComboBox*>(QStringLiteral("promptLabel"));
        label->setCurrentText(QStringLiteral("production"));
        QSignalSpy changed(ui.tab, &PromptsTab::labelsChanged);
        QTest::mouseClick(ui.tab->findChild<QPushButton*>(QStringLiteral("promptSetLabel")), Qt::LeftButton);
        QVERIFY(changed.wait(30000));
        {
            const auto ws = Workspace::open(path);
            QCOMPARE(rerank::store::getTemplate(*ws, QStringLiteral("compact@production")).version, 1);
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            !versions->model()
                 ->match(versions->model()->index(0, 3), Qt::DisplayRole, QStringLiteral("production"))
                 .isEmpty(),
            10000);
        // Move it to version 2 (select the row of version 2 first), then remove it.
        ui.tab->openVersion(QStringLiteral("compact"), 2);
        QTest::mouseClick(ui.tab->findChild<QPushButton*>(QStringLiteral("promptSetLabel")), Qt::LeftButton);
        QVERIFY(changed.wait(30000));
        {
            const auto ws = Workspace::open(path);
            QCOMPARE(rerank::store::getTemplate(*ws, QStringLiteral("compact@production")).version, 2);
            QCOMPARE(rerank::store::labelsFor(*ws, QStringLiteral("compact")).size(), 1);
        }
        QTest::mouseClick(ui.tab->findChild<QPushButton*>(QStringLiteral("promptRemoveLabel")), Qt::LeftButton);
        QVERIFY(changed.wait(30000));
        const auto ws = Workspace::open(path);
        QVERIFY(rerank::store::labelsFor(*ws, QStringLiteral("compact")).isEmpty());
    }

    // A separate recwb process types into the editor, the tab autosaves the draft into the
    // workspace (RECWB_AUTOSAVE_MS=200), and the process is killed with SIGKILL: nothing runs
    // on the way down. The next window offers the draft back, restores it, and Undo returns
    // to the version.
    void draftSurvivesACrash()
    {
        const QString path = newWorkspace();
        const QString marker = QStringLiteral(" Unsaved-work");
        QProcess helper;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("RECWB_AUTOSAVE_MS"), QStringLiteral("200"));
        helper.setProcessEnvironment(env);
        helper.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        helper.start(QStringLiteral(RECWB_DRAFT_CRASH_HELPER),
            { path, m_dir.filePath(QStringLiteral("crash-settings.ini")), marker });
        QVERIFY2(helper.waitForStarted(10000), qPrintable(helper.errorString()));
        QByteArray out;
        QElapsedTimer clock;
        clock.start();
        while (!out.contains("draft-saved\n") && helper.state() == QProcess::Running && clock.elapsed() < 120000) {
            helper.waitForReadyRead(1000);
            out += helper.readAllStandardOutput();
        }
        QVERIFY2(out.contains("draft-saved\n"), out.constData());
        QCOMPARE(helper.state(), QProcess::Running);
        helper.kill(); // SIGKILL
        QVERIFY(helper.waitForFinished(10000));
        QCOMPARE(helper.exitStatus(), QProcess::CrashExit);
        QString versionText;
        {
            const auto ws = Workspace::open(path);
            versionText = rerank::store::getTemplate(*ws, QStringLiteral("listwise@1")).text;
            const auto draft = rerank::store::loadDraft(*ws, QStringLiteral("listwise"));
            QVERIFY(draft);
            QVERIFY(draft->text.contains(marker));
            QCOMPARE(draft->baseVersion.value_or(0), 1);
        }

        QSignalSpy* offered = nullptr;
        Ui ui = open(path, &offered);
        std::unique_ptr<QSignalSpy> own(offered);
        QVERIFY(ui.tab);
        QCOMPARE(offered->count(), 1);
        QCOMPARE(offered->first().first().toString(), QStringLiteral("listwise"));
        auto* bar = ui.tab->findChild<QWidget*>(QStringLiteral("promptDraftBar"));
        QVERIFY(bar->isVisible());
        QCOMPARE(ui.editor->toPlainText(), versionText); // the version until the user chooses
        QTest::mouseClick(ui.tab->findChild<QPushButton*>(QStringLiteral("promptRestoreDraft")), Qt::LeftButton);
        QVERIFY(!bar->isVisible());
        QVERIFY(ui.editor->document()->findBlockByNumber(24).text().endsWith(marker));
        QCOMPARE(ui.editor->toPlainText().count(marker), 1);
        QVERIFY(waitPreview(ui.tab));
        QVERIFY(ui.preview->toPlainText().contains(marker));
        ui.tab->findChild<QAction*>(QStringLiteral("promptUndo"))->trigger();
        QCOMPARE(ui.editor->toPlainText(), versionText);
    }

    // A new template that was never saved lives only as its draft: it is listed, opens
    // with the draft's text, and saving makes it version 1 without a parent.
    void newTemplateDraftIsListedAndSaved()
    {
        const QString path = newWorkspace();
        const QString text = QStringLiteral("{{! user }}\nPick {{k}} for {{user.id}}:\n{{#candidates}}\n- {{title}}\n"
                                            "{{/candidates}}\n");
        {
            const auto ws = Workspace::open(path);
            rerank::store::saveDraft(*ws, rerank::store::Draft { QStringLiteral("fresh"), std::nullopt, text, 0 });
        }
        Ui ui = open(path);
        QVERIFY(ui.tab);
        auto* versions = ui.tab->findChild<QTableView*>(QStringLiteral("promptVersions"));
        const auto hits = versions->model()->match(
            versions->model()->index(0, 0), Qt::DisplayRole, QStringLiteral("fresh (draft)"), 1, Qt::MatchExactly);
        QCOMPARE(hits.size(), 1);
        QCOMPARE(versions->model()->index(hits[0].row(), 1).data().toString(), QStringLiteral("draft"));
        ui.tab->openVersion(QStringLiteral("fresh"), 0);
        QCOMPARE(ui.editor->toPlainText(), text);
        QVERIFY2(titleText(ui.tab).contains(QStringLiteral("fresh (new template, not saved yet)")),
            qPrintable(titleText(ui.tab)));
        QCOMPARE(selectedCell(ui.tab, PromptVersionsModel::Version), QStringLiteral("draft"));
        QVERIFY(!ui.tab->findChild<QWidget*>(QStringLiteral("promptDraftBar"))->isVisible());
        QVERIFY(waitPreview(ui.tab));
        QVERIFY2(ui.preview->toPlainText().contains(QStringLiteral("Pick 10 for %1:").arg(shownUserId(ui.tab))),
            qPrintable(ui.preview->toPlainText().left(500)));
        ui.tab->findChild<QLineEdit*>(QStringLiteral("promptNote"))->setText(QStringLiteral("first cut"));
        QSignalSpy saved(ui.tab, &PromptsTab::versionSaved);
        QTest::mouseClick(ui.tab->findChild<QPushButton*>(QStringLiteral("promptSave")), Qt::LeftButton);
        QVERIFY(saved.wait(30000));
        QCOMPARE(saved.first().first().toString(), QStringLiteral("fresh@1"));
        const auto ws = Workspace::open(path);
        const auto v1 = rerank::store::getTemplate(*ws, QStringLiteral("fresh"));
        QCOMPARE(v1.version, 1);
        QVERIFY(!v1.parentVersion);
        QCOMPARE(v1.text, text);
        QVERIFY(!rerank::store::loadDraft(*ws, QStringLiteral("fresh")));
    }

    // "Try it": the preview user reranked with the unsaved editor text through the rerank
    // service against the local test LLM server; nothing is saved as a version.
    void tryItSendsTheDraft()
    {
        test::TestLlmServer server;
        QVERIFY(server.start() != 0);
        const QString path = newWorkspace();
        addEndpoint(path, QStringLiteral("local"), server.openAiBaseUrl());
        Ui ui = open(path);
        QVERIFY(ui.tab);
        auto* endpoint = ui.tab->findChild<QComboBox*>(QStringLiteral("promptEndpoint"));
        endpoint->setCurrentIndex(endpoint->findData(QStringLiteral("local")));
        typeAtEndOfLine(ui.editor, 25, QStringLiteral(" Try-marker-7"));
        QVERIFY(waitPreview(ui.tab));
        auto* tryIt = ui.tab->findChild<QPushButton*>(QStringLiteral("promptTryIt"));
        QTRY_VERIFY_WITH_TIMEOUT(tryIt->isEnabled(), 10000);
        QSignalSpy finished(ui.tab, &PromptsTab::tryItFinished);
        QTest::mouseClick(tryIt, Qt::LeftButton);
        QVERIFY(!tryIt->isEnabled()); // one at a time
        QVERIFY(finished.wait(60000));
        QCOMPARE(finished.first().first().toBool(), true);
        // The model saw the draft, not version 1.
        const QJsonObject sent = server.lastRequest(QStringLiteral("/v1/chat/completions")).json();
        QString userText;
        for (const QJsonValue& m : sent.value(QStringLiteral("messages")).toArray())
            userText += m.toObject().value(QStringLiteral("content")).toString();
        QVERIFY2(userText.contains(QStringLiteral("Try-marker-7")), qPrintable(userText.left(500)));
        auto* result = ui.tab->findChild<QTextBrowser*>(QStringLiteral("promptTryResult"));
        QVERIFY2(
            result->toPlainText().contains(QStringLiteral("answered by local")), qPrintable(result->toPlainText()));
        QVERIFY(tryIt->isEnabled());
        const auto ws = Workspace::open(path);
        QCOMPARE(rerank::store::templateVersions(*ws, QStringLiteral("listwise")).size(), 1);

        // A broken draft cannot be tried.
        typeAtEndOfLine(ui.editor, 26, QStringLiteral(" {{nosuch}}"));
        QTRY_VERIFY_WITH_TIMEOUT(!ui.error->text().isEmpty(), 10000);
        QVERIFY(!tryIt->isEnabled());
    }

    // Typing 200 characters (a key every 20 ms, a 250 ms pause every 25) into the editor
    // with the live preview on, on ML-100K: a 5 ms timer on the GUI thread reports the
    // longest gap between its ticks, i.e. the worst stall the typist could feel. Printed for
    // docs/PERFORMANCE.md; the bound is only a sanity check (the figures depend on the load).
    void typingStallWithLivePreview()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        const QString path = m_dir.filePath(QStringLiteral("ml100k.recwb"));
        if (!QFileInfo::exists(path)) {
            auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
            importMovieLens100k(*ws, test::sharedData(QStringLiteral("ml-100k")));
        }
        Ui ui = open(path);
        QVERIFY(ui.tab);
        QTextCursor c(ui.editor->document()->findBlockByNumber(24));
        c.movePosition(QTextCursor::EndOfBlock);
        ui.editor->setTextCursor(c);
        ui.editor->setFocus();

        QSignalSpy shown(ui.tab, &PromptsTab::previewShown);
        const QString typed = QStringLiteral(" Recommend {{k}} titles for user {{user.id}}; prefer what they "
                                             "rated highly, avoid what they have seen, and explain each pick in one "
                                             "short sentence that names the history item it follows from. Thanks!");
        QVERIFY(typed.size() >= 195);
        std::optional<test::EventLoopStallProbe> probe(std::in_place);
        for (qsizetype i = 0; i < typed.size(); ++i) {
            QTest::keyClicks(ui.editor, QString(typed[i]));
            QTest::qWait(i % 25 == 24 ? 250 : 20); // a pause every 25 keys: a render lands mid-typing
        }
        QTRY_VERIFY_WITH_TIMEOUT(ui.preview->toPlainText().contains(QStringLiteral("Thanks!")), 10000);
        const double worstMs = probe->worstMs();
        probe.reset();
        QVERIFY(ui.editor->toPlainText().contains(typed));
        QVERIFY2(shown.count() >= 5, "the preview did not re-render during the pauses");
        qInfo("typing %d chars into the Prompts tab on ML-100K (live preview, %d renders shown): worst GUI stall "
              "%.1f ms",
            static_cast<int>(typed.size()), static_cast<int>(shown.count()), worstMs);
        QVERIFY2(worstMs < test::stallBoundMs(500), qPrintable(QStringLiteral("worst stall %1 ms").arg(worstMs)));
    }

    void highlighterClassifiesTags_data()
    {
        QTest::addColumn<QString>("tag");
        QTest::addColumn<int>("kind");
        using K = MustacheHighlighter::Kind;
        QTest::addRow("variable") << QStringLiteral("user.id") << static_cast<int>(K::Variable);
        QTest::addRow("section") << QStringLiteral("#candidates") << static_cast<int>(K::Section);
        QTest::addRow("close") << QStringLiteral("/candidates") << static_cast<int>(K::Section);
        QTest::addRow("inverted") << QStringLiteral("^has_history") << static_cast<int>(K::Section);
        QTest::addRow("comment") << QStringLiteral("! a note ") << static_cast<int>(K::Comment);
        QTest::addRow("marker") << QStringLiteral("! system ") << static_cast<int>(K::Marker);
        QTest::addRow("unknown") << QStringLiteral("usr.id") << static_cast<int>(K::Unknown);
        QTest::addRow("unknown field") << QStringLiteral("user.nme") << static_cast<int>(K::Unknown);
        QTest::addRow("partial") << QStringLiteral("> other") << static_cast<int>(K::Unknown);
    }
    void highlighterClassifiesTags()
    {
        QFETCH(QString, tag);
        QFETCH(int, kind);
        const QSet<QString> known { QStringLiteral("user"), QStringLiteral("id"), QStringLiteral("candidates"),
            QStringLiteral("has_history") };
        QCOMPARE(static_cast<int>(MustacheHighlighter::classify(tag, known)), kind);
    }
};

QTEST_MAIN(TestPromptsTab)
#include "tst_promptstab.moc"
