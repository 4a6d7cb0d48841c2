#include "data/workspace.h"
#include "dialogs/endpointsdialog.h"
#include "dialogs/endpointsmodel.h"
#include "rerank/llm/endpointtest.h"
#include "rerank/llm/keystore.h"
#include "rerank/store.h"
#include "testllmserver.h"
#include "testutil.h"

#include <QAbstractItemModelTester>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QRadioButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTcpServer>
#include <memory>

using namespace recwb;
using namespace recwb::ui;

// The endpoints dialog through its widgets (found by object name) on a real workspace
// file, with Test against the local test LLM server.
class TestEndpointsDialog : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    test::TestLlmServer m_server;
    std::unique_ptr<EndpointsDialog> m_dialog;
    static constexpr const char* kEnvVar = "RECWB_TEST_DIALOG_KEY";
    static constexpr const char* kEnvValue = "sk-env-value-NEVER-SHOWN-8080";
    static constexpr const char* kTypedKey = "sk-typed-NEVER-STORED-3141";

    template <typename T> T* w(const char* name) const
    {
        auto* widget = m_dialog->findChild<T*>(QString::fromLatin1(name));
        if (!widget)
            qWarning("no widget %s", name);
        return widget;
    }
    std::optional<rerank::EndpointProfile> stored(const QString& name) const
    {
        const auto ws = Workspace::open(m_ws);
        return rerank::store::findEndpoint(*ws, name);
    }
    QByteArray workspaceBytes() const { return test::workspaceFileBytes(m_ws); }
    bool click(const char* button, const char* waitFor = "loaded")
    {
        QSignalSpy loaded(m_dialog.get(), &EndpointsDialog::endpointsLoaded);
        QSignalSpy failed(m_dialog.get(), &EndpointsDialog::saveFailed);
        QTest::mouseClick(w<QPushButton>(button), Qt::LeftButton);
        if (QByteArray(waitFor) == "failed")
            return failed.count() > 0 || failed.wait(20000);
        return loaded.wait(20000);
    }
    rerank::EndpointTestResult pressTest()
    {
        QSignalSpy tested(m_dialog.get(), &EndpointsDialog::endpointTested);
        QTest::mouseClick(w<QPushButton>("endpointTest"), Qt::LeftButton);
        if (!tested.wait(30000))
            return {};
        return tested.at(0).at(0).value<rerank::EndpointTestResult>();
    }
    bool selectRow(const QString& name)
    {
        // Click the row whose name cell reads NAME, as a user does.
        auto* list = w<QTableView>("endpointList");
        const QModelIndexList hits
            = list->model()->match(list->model()->index(0, EndpointsModel::Name), SortRole, name, 1, Qt::MatchExactly);
        if (hits.isEmpty())
            return false;
        list->scrollTo(hits.first());
        QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, list->visualRect(hits.first()).center());
        return w<QLineEdit>("endpointName")->text() == name;
    }
    void setKind(const char* kind)
    {
        auto* combo = w<QComboBox>("endpointKind");
        combo->setCurrentIndex(combo->findData(QString::fromLatin1(kind)));
    }
    // Every text the dialog shows, to check that no key is among it.
    QString visibleText() const
    {
        QString all;
        for (auto* l : m_dialog->findChildren<QLabel*>())
            all += l->text() + u'\n';
        for (auto* e : m_dialog->findChildren<QLineEdit*>())
            all += e->displayText() + u'\n' + e->placeholderText() + u'\n';
        return all;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_ws = m_dir.filePath(QStringLiteral("dialog.recwb"));
        QVERIFY(Workspace::open(m_ws, Workspace::Mode::CreateOrOpen) != nullptr);
        qputenv(kEnvVar, kEnvValue);
        qRegisterMetaType<rerank::EndpointTestResult>();
        m_dialog = std::make_unique<EndpointsDialog>(m_ws);
        new QAbstractItemModelTester(
            m_dialog->model(), QAbstractItemModelTester::FailureReportingMode::QtTest, m_dialog.get());
        new QAbstractItemModelTester(w<QTableView>("endpointList")->model(),
            QAbstractItemModelTester::FailureReportingMode::QtTest, m_dialog.get());
        m_dialog->show();
        QSignalSpy loaded(m_dialog.get(), &EndpointsDialog::endpointsLoaded);
        QVERIFY(loaded.wait(20000));
        QCOMPARE(m_dialog->model()->rowOf(QStringLiteral("offline")), 0);
        QCOMPARE(m_dialog->objectName(), QStringLiteral("endpointsDialog"));
    }

    void addTestAndDeadPort()
    {
        QSignalSpy changed(m_dialog.get(), &EndpointsDialog::endpointsChanged);
        QTest::mouseClick(w<QPushButton>("endpointAdd"), Qt::LeftButton);
        auto* name = w<QLineEdit>("endpointName");
        name->clear();
        QTest::keyClicks(name, QStringLiteral("local"));
        setKind("openai");
        QTest::keyClicks(w<QLineEdit>("endpointBaseUrl"), m_server.openAiBaseUrl());
        QTest::keyClicks(w<QLineEdit>("endpointModel"), QStringLiteral("test-small"));
        w<QSpinBox>("endpointTimeout")->setValue(8000);
        w<QSpinBox>("endpointRetries")->setValue(0);
        w<QSpinBox>("endpointConcurrency")->setValue(3);
        w<QDoubleSpinBox>("endpointTemperature")->setValue(0.2);
        w<QSpinBox>("endpointMaxTokens")->setValue(700);
        auto* structured = w<QComboBox>("endpointStructuredOutput");
        structured->setCurrentIndex(structured->findData(QStringLiteral("json_object")));
        QTest::keyClicks(w<QLineEdit>("endpointPriceInput"), QStringLiteral("0.4"));
        QTest::keyClicks(w<QLineEdit>("endpointPriceOutput"), QStringLiteral("1.6"));
        w<QRadioButton>("endpointKeyNone")->setChecked(true);
        QVERIFY(click("endpointSave"));
        QCOMPARE(changed.count(), 1);

        const auto local = stored(QStringLiteral("local"));
        QVERIFY(local);
        QCOMPARE(local->baseUrl, m_server.openAiBaseUrl());
        QCOMPARE(local->model, QStringLiteral("test-small"));
        QCOMPARE(local->timeoutMs, 8000);
        QCOMPARE(local->maxRetries, 0);
        QCOMPARE(local->maxConcurrent, 3);
        QCOMPARE(local->temperature, 0.2);
        QCOMPARE(local->maxOutputTokens, 700);
        QCOMPARE(local->structuredOutput, rerank::OutputMode::JsonObject);
        QCOMPARE(local->prices.input, std::optional<double>(0.4));
        QCOMPARE(local->prices.cachedInput, std::optional<double>());
        QCOMPARE(local->prices.output, std::optional<double>(1.6));
        QVERIFY(m_dialog->model()->rowOf(QStringLiteral("local")) >= 0);

        // Test: one request, status ok, latency and the model that answered.
        m_server.resetCounters();
        const auto ok = pressTest();
        QVERIFY2(ok.ok(), qPrintable(ok.error));
        QCOMPARE(m_server.requestCount(QStringLiteral("/v1/chat/completions")), 1);
        const QString shown = w<QLabel>("endpointTestResult")->text();
        QVERIFY2(shown.contains(QStringLiteral("ok")) && shown.contains(QStringLiteral(" ms"))
                && shown.contains(QStringLiteral("test-small")),
            qPrintable(shown));

        // A dead port (the form's value, not saved): the result says why and names the request.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        const QString dead = QStringLiteral("http://127.0.0.1:%1/v1").arg(probe.serverPort());
        probe.close();
        auto* url = w<QLineEdit>("endpointBaseUrl");
        url->selectAll();
        QTest::keyClicks(url, dead);
        const auto failed = pressTest();
        QCOMPARE(failed.status, rerank::CallStatus::NetworkError);
        const QString why = w<QLabel>("endpointTestResult")->text();
        QVERIFY2(why.contains(QStringLiteral("network_error"))
                && why.contains(dead + QStringLiteral("/chat/completions"))
                && why.contains(QStringLiteral("refused"), Qt::CaseInsensitive),
            qPrintable(why));
        QCOMPARE(stored(QStringLiteral("local"))->baseUrl, m_server.openAiBaseUrl()); // testing saved nothing
    }

    void validationInline_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("baseUrl");
        QTest::addColumn<QString>("expected");
        QTest::addRow("empty name") << QString() << QStringLiteral("http://127.0.0.1:9/v1")
                                    << QStringLiteral("needs a name");
        QTest::addRow("duplicate name") << QStringLiteral("offline") << QStringLiteral("http://127.0.0.1:9/v1")
                                        << QStringLiteral("exists already");
        QTest::addRow("bad url") << QStringLiteral("fresh") << QStringLiteral("not a url")
                                 << QStringLiteral("not an http(s) URL");
        QTest::addRow("ftp url") << QStringLiteral("fresh") << QStringLiteral("ftp://example.com")
                                 << QStringLiteral("not an http(s) URL");
    }
    void validationInline()
    {
        QFETCH(QString, name);
        QFETCH(QString, baseUrl);
        QFETCH(QString, expected);
        QTest::mouseClick(w<QPushButton>("endpointAdd"), Qt::LeftButton);
        w<QLineEdit>("endpointName")->setText(name);
        setKind("openai");
        w<QLineEdit>("endpointBaseUrl")->setText(baseUrl);
        w<QLineEdit>("endpointModel")->setText(QStringLiteral("m"));
        QSignalSpy changed(m_dialog.get(), &EndpointsDialog::endpointsChanged);
        QVERIFY(click("endpointSave", "failed"));
        auto* error = w<QLabel>("endpointError");
        QVERIFY(error->isVisible());
        QVERIFY2(error->text().contains(expected), qPrintable(error->text()));
        QCOMPARE(changed.count(), 0);
        QVERIFY(!stored(QStringLiteral("fresh")));
    }

    void editDuplicateRemove()
    {
        QVERIFY(selectRow(QStringLiteral("local")));
        QCOMPARE(w<QLineEdit>("endpointName")->text(), QStringLiteral("local"));
        QCOMPARE(w<QLineEdit>("endpointBaseUrl")->text(), m_server.openAiBaseUrl()); // the stored value again
        auto* model = w<QLineEdit>("endpointModel");
        model->selectAll();
        QTest::keyClicks(model, QStringLiteral("test-large"));
        QVERIFY(click("endpointSave"));
        QCOMPARE(stored(QStringLiteral("local"))->model, QStringLiteral("test-large"));
        QCOMPARE(stored(QStringLiteral("local"))->timeoutMs, 8000);

        QVERIFY(selectRow(QStringLiteral("local")));
        QVERIFY(click("endpointDuplicate"));
        const auto copy = stored(QStringLiteral("local-copy"));
        QVERIFY(copy);
        QCOMPARE(copy->model, QStringLiteral("test-large"));
        QCOMPARE(copy->maxConcurrent, 3);
        QCOMPARE(w<QLineEdit>("endpointName")->text(), QStringLiteral("local-copy")); // the copy is selected

        // Rename the copy: the old name goes, the new one comes.
        auto* name = w<QLineEdit>("endpointName");
        name->selectAll();
        QTest::keyClicks(name, QStringLiteral("renamed"));
        QVERIFY(click("endpointSave"));
        QVERIFY(!stored(QStringLiteral("local-copy")));
        QVERIFY(stored(QStringLiteral("renamed")));

        QVERIFY(selectRow(QStringLiteral("renamed")));
        QVERIFY(click("endpointRemove"));
        QVERIFY(!stored(QStringLiteral("renamed")));
        QCOMPARE(m_dialog->model()->rowOf(QStringLiteral("renamed")), -1);

        // The built-in offline reranker stays.
        QVERIFY(selectRow(QStringLiteral("offline")));
        QVERIFY(click("endpointRemove", "failed"));
        QVERIFY(stored(QStringLiteral("offline")));
    }

    // The key source ("no key needed", "from $VAR") is never cut off in the list.
    void keyColumnFits()
    {
        auto* list = w<QTableView>("endpointList");
        const QAbstractItemModel* view = list->model();
        QVERIFY(view->rowCount() >= 2);
        bool sawNoKeyNeeded = false;
        for (int r = 0; r < view->rowCount(); ++r) {
            const QString text = view->index(r, EndpointsModel::Key).data().toString();
            sawNoKeyNeeded = sawNoKeyNeeded || text == QStringLiteral("no key needed");
            QTRY_VERIFY2(list->horizontalHeader()->sectionSize(EndpointsModel::Key)
                    > list->fontMetrics().horizontalAdvance(text),
                qPrintable(text));
        }
        QVERIFY(sawNoKeyNeeded);
    }

    void defaultChoice()
    {
        auto* combo = w<QComboBox>("endpointDefault");
        const int index = combo->findData(QStringLiteral("local"));
        QVERIFY(index >= 0);
        QSignalSpy loaded(m_dialog.get(), &EndpointsDialog::endpointsLoaded);
        combo->setCurrentIndex(index);
        emit combo->activated(index);
        QVERIFY(loaded.wait(20000));
        const auto ws = Workspace::open(m_ws);
        QCOMPARE(rerank::store::defaultEndpoint(*ws), QStringLiteral("local"));
        QCOMPARE(m_dialog->model()->defaultName(), QStringLiteral("local"));
    }

    void keyFromEnvironment()
    {
        QVERIFY(selectRow(QStringLiteral("local")));
        QVERIFY(!w<QLineEdit>("endpointKeyEnv")->isEnabled()); // no key yet: the field waits for its mode
        QTest::mouseClick(w<QRadioButton>("endpointKeyEnvMode"), Qt::LeftButton);
        QTest::keyClicks(w<QLineEdit>("endpointKeyEnv"), QString::fromLatin1(kEnvVar));
        QVERIFY(w<QRadioButton>("endpointKeyEnvMode")->isChecked());
        const QString status = w<QLabel>("endpointKeyStatus")->text();
        QVERIFY2(status.contains(QStringLiteral("from $%1").arg(QString::fromLatin1(kEnvVar))), qPrintable(status));
        QVERIFY2(
            status.contains(QStringLiteral("set in this environment")) && !status.contains(QStringLiteral("not set")),
            qPrintable(status));
        QVERIFY(click("endpointSave"));
        QCOMPARE(stored(QStringLiteral("local"))->keyEnv, QString::fromLatin1(kEnvVar));
        QVERIFY(m_dialog->model()
                    ->index(m_dialog->model()->rowOf(QStringLiteral("local")), EndpointsModel::Key)
                    .data()
                    .toString()
                    .contains(QStringLiteral("from $")));
        // The key reaches the server through the variable, and is shown nowhere.
        m_server.resetCounters();
        QVERIFY(pressTest().ok());
        QVERIFY(
            m_server.lastRequest(QStringLiteral("/v1/chat/completions")).header("authorization").contains(kEnvValue));
        QVERIFY(!visibleText().contains(QString::fromLatin1(kEnvValue)));
        QVERIFY(!workspaceBytes().contains(kEnvValue));

        // An unset variable is said to be unset.
        auto* env = w<QLineEdit>("endpointKeyEnv");
        env->selectAll();
        QTest::keyClicks(env, QStringLiteral("RECWB_TEST_SURELY_UNSET"));
        QVERIFY(w<QLabel>("endpointKeyStatus")->text().contains(QStringLiteral("not set")));
    }

    void keyIntoKeychain()
    {
        QVERIFY(selectRow(QStringLiteral("local")));
        const QJsonObject before = stored(QStringLiteral("local"))->toJson();
        auto* key = w<QLineEdit>("endpointKeychainKey");
        QCOMPARE(key->echoMode(), QLineEdit::Password);
        QTest::mouseClick(w<QRadioButton>("endpointKeychainMode"), Qt::LeftButton);
        QTest::keyClicks(key, QString::fromLatin1(kTypedKey));
        QVERIFY(w<QRadioButton>("endpointKeychainMode")->isChecked());
        QVERIFY(!visibleText().contains(QString::fromLatin1(kTypedKey)));

        if (const QString shot = qEnvironmentVariable("RECWB_ENDPOINTS_SCREENSHOT"); !shot.isEmpty()) {
            QTest::qWait(100); // let pending layout requests run, as a user's event loop would
            QVERIFY(m_dialog->grab().save(shot));
        }

        QSignalSpy changed(m_dialog.get(), &EndpointsDialog::endpointsChanged);
        QSignalSpy failed(m_dialog.get(), &EndpointsDialog::saveFailed);
        QSignalSpy loaded(m_dialog.get(), &EndpointsDialog::endpointsLoaded); // the reload may end before the QTRY does
        QTest::mouseClick(w<QPushButton>("endpointSave"), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(changed.count() > 0 || failed.count() > 0, 30000);
        QVERIFY(!workspaceBytes().contains(kTypedKey));
        QVERIFY(!visibleText().contains(QString::fromLatin1(kTypedKey)));
        if (failed.count() > 0) { // no Secret Service here: said so, nothing written
            const QString error = w<QLabel>("endpointError")->text();
            QVERIFY2(error.contains(QStringLiteral("keychain")) && error.contains(QStringLiteral("nothing was saved")),
                qPrintable(error));
            QCOMPARE(changed.count(), 0);
            QCOMPARE(stored(QStringLiteral("local"))->toJson(), before);
            // The key section said so before anything was typed or saved.
            QVERIFY2(w<QLabel>("endpointKeyStatus")->text().contains(QStringLiteral("keychain is unavailable here")),
                qPrintable(w<QLabel>("endpointKeyStatus")->text()));
            RECWB_KEYCHAIN_MISSING(
                QStringLiteral("the unavailable path passed; no OS keychain answers here: %1").arg(error));
        }
        QVERIFY(loaded.count() > 0 || loaded.wait(20000));
        const auto after = stored(QStringLiteral("local"));
        QCOMPARE(after->keychainEntry, rerank::KeyStore::entryForEndpoint(QStringLiteral("local")));
        QCOMPARE(after->keyEnv, QString());
        QCOMPARE(w<QLineEdit>("endpointKeychainKey")->text(), QString()); // never shown again
        QVERIFY(w<QLabel>("endpointKeyStatus")->text().contains(QStringLiteral("stored in keychain")));
        m_server.resetCounters();
        QVERIFY(pressTest().ok());
        QVERIFY(
            m_server.lastRequest(QStringLiteral("/v1/chat/completions")).header("authorization").contains(kTypedKey));
        rerank::KeyStore keys;
        QSignalSpy removed(keys.remove(after->keychainEntry), &rerank::KeyJob::finished);
        QVERIFY(removed.wait(20000));
    }

    void offlineTestSendsNothing()
    {
        QVERIFY(selectRow(QStringLiteral("offline")));
        m_server.resetCounters();
        const auto r = pressTest();
        QVERIFY(r.offline && r.ok());
        QVERIFY(w<QLabel>("endpointTestResult")->text().contains(QStringLiteral("no network needed")));
        QCOMPARE(m_server.requestCount(), 0);
    }

    // The way the Prompts and Rerank tabs open it: non-modal, gone when closed.
    void showForDeletesOnClose()
    {
        QWidget host;
        QPointer<EndpointsDialog> d = EndpointsDialog::showFor(m_ws, &host);
        QVERIFY(d && d->isVisible());
        QSignalSpy loaded(d.data(), &EndpointsDialog::endpointsLoaded);
        QVERIFY(loaded.wait(20000));
        QVERIFY(d->model()->rowOf(QStringLiteral("local")) >= 0);
        d->close();
        QTRY_VERIFY(d.isNull());
    }

    void cleanupTestCase() { m_dialog.reset(); }
};

QTEST_MAIN(TestEndpointsDialog)
#include "tst_endpointsdialog.moc"
