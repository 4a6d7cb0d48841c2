#include "dialogs/endpointsdialog.h"

#include "common/backgroundtask.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "data/workspace.h"
#include "dialogs/endpointsmodel.h"
#include "rerank/llm/endpointtest.h"
#include "rerank/llm/keystore.h"
#include "rerank/llm/llmclient.h"
#include "rerank/store.h"

#include <QButtonGroup>
#include <QCheckBox>
#include <QComboBox>
#include <QDate>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QDoubleValidator>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QTableView>
#include <QUrl>
#include <QVBoxLayout>

namespace recwb::ui {

struct EndpointsDialog::Snapshot {
    QList<rerank::EndpointProfile> endpoints;
    QString defaultName;
};

namespace {

    const QList<rerank::ProviderKind> kKinds { rerank::ProviderKind::OpenAiChat, rerank::ProviderKind::Anthropic,
        rerank::ProviderKind::Gemini, rerank::ProviderKind::OllamaNative, rerank::ProviderKind::Offline };

    QString kindLabel(rerank::ProviderKind k)
    {
        switch (k) {
        case rerank::ProviderKind::OpenAiChat:
            return EndpointsDialog::tr("OpenAI-compatible (OpenAI, Ollama /v1, llama.cpp, vLLM, LM Studio)");
        case rerank::ProviderKind::Anthropic:
            return EndpointsDialog::tr("Anthropic Messages");
        case rerank::ProviderKind::Gemini:
            return EndpointsDialog::tr("Google Gemini");
        case rerank::ProviderKind::OllamaNative:
            return EndpointsDialog::tr("Ollama native (/api/chat)");
        case rerank::ProviderKind::Offline:
            return EndpointsDialog::tr("Offline reranker (no network)");
        }
        return {};
    }

    QString baseUrlExample(rerank::ProviderKind k)
    {
        switch (k) {
        case rerank::ProviderKind::OpenAiChat:
            return QStringLiteral("https://api.openai.com/v1  or  http://127.0.0.1:11434/v1");
        case rerank::ProviderKind::Anthropic:
            return QStringLiteral("https://api.anthropic.com");
        case rerank::ProviderKind::Gemini:
            return QStringLiteral("https://generativelanguage.googleapis.com");
        case rerank::ProviderKind::OllamaNative:
            return QStringLiteral("http://127.0.0.1:11434");
        case rerank::ProviderKind::Offline:
            return EndpointsDialog::tr("not used");
        }
        return {};
    }

    QLineEdit* priceEdit(QWidget* parent, const char* objectName)
    {
        auto* edit = new QLineEdit(parent);
        edit->setObjectName(QString::fromLatin1(objectName));
        edit->setPlaceholderText(EndpointsDialog::tr("unknown"));
        auto* validator = new QDoubleValidator(0, 1e6, 6, edit);
        validator->setNotation(QDoubleValidator::StandardNotation);
        validator->setLocale(QLocale::c());
        edit->setValidator(validator);
        edit->setMaximumWidth(90);
        return edit;
    }

    QString priceText(const std::optional<double>& v)
    {
        return v ? QString::number(*v) : QString();
    }

    std::optional<double> priceValue(const QLineEdit* edit)
    {
        const QString t = edit->text().trimmed();
        if (t.isEmpty())
            return std::nullopt;
        bool ok = false;
        const double v = t.toDouble(&ok);
        return ok ? std::optional<double>(v) : std::nullopt;
    }

    QString uniqueName(const EndpointsModel* model, const QString& base)
    {
        QString name = base;
        for (int i = 2; model->rowOf(name) >= 0; ++i)
            name = QStringLiteral("%1-%2").arg(base).arg(i);
        return name;
    }

    // text must already be HTML (escaped where it carries user input).
    QString red(const QString& html)
    {
        return u"<span style='color:#b91c1c'>" + html + u"</span>";
    }

    rerank::LlmClientConfig testClientConfig()
    {
        rerank::LlmClientConfig c;
        c.circuitFailureThreshold = 1 << 20; // every Test press reaches the server: no breaker here
        return c;
    }

} // namespace

EndpointsDialog::EndpointsDialog(const QString& workspacePath, QWidget* parent)
    : QDialog(parent)
    , m_path(workspacePath)
    , m_model(new EndpointsModel(this))
    , m_client(new rerank::LlmClient(testClientConfig(), this))
    , m_keys(new rerank::KeyStore(testClientConfig().keychainService, this))
{
    qRegisterMetaType<rerank::EndpointTestResult>();
    setObjectName(QStringLiteral("endpointsDialog"));
    setWindowTitle(tr("Endpoints and keys — %1").arg(QFileInfo(workspacePath).fileName()));
    buildUi();
    resize(1040, 700);
    reload(QString());
}

EndpointsDialog* EndpointsDialog::showFor(const QString& workspacePath, QWidget* parent)
{
    auto* dialog = new EndpointsDialog(workspacePath, parent);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
    return dialog;
}

EndpointsDialog::~EndpointsDialog()
{
    ++m_loadJob; // late worker results are dropped by their QPointer/context anyway
    if (m_test)
        m_test->cancel();
}

void EndpointsDialog::buildUi()
{
    // ---- left: the list, its buttons, the default ----
    m_list = new QTableView(this);
    m_list->setObjectName(QStringLiteral("endpointList"));
    setupTable(m_list, m_model, nullptr, { { EndpointsModel::Name, 16 }, { EndpointsModel::Kind, 8 } },
        EndpointsModel::Model, EndpointsModel::Name);
    m_list->setColumnHidden(EndpointsModel::BaseUrl, true);
    // The key source is short and says what matters ("no key needed"): never cut it; a long
    // model name elides instead.
    m_list->horizontalHeader()->setSectionResizeMode(EndpointsModel::Key, QHeaderView::ResizeToContents);
    m_add = new QPushButton(tr("Add"), this);
    m_add->setObjectName(QStringLiteral("endpointAdd"));
    m_add->setToolTip(tr("A new endpoint; fill in the form and press Save"));
    m_duplicate = new QPushButton(tr("Duplicate"), this);
    m_duplicate->setObjectName(QStringLiteral("endpointDuplicate"));
    m_duplicate->setToolTip(tr("A copy of the selected endpoint under a new name (the same key source)"));
    m_remove = new QPushButton(tr("Remove"), this);
    m_remove->setObjectName(QStringLiteral("endpointRemove"));
    m_default = new QComboBox(this);
    m_default->setObjectName(QStringLiteral("endpointDefault"));
    m_default->setToolTip(tr("Reranks use this endpoint unless another one is chosen"));

    auto* listButtons = new QHBoxLayout;
    listButtons->addWidget(m_add);
    listButtons->addWidget(m_duplicate);
    listButtons->addWidget(m_remove);
    listButtons->addStretch();
    auto* defaultRow = new QFormLayout;
    defaultRow->addRow(tr("Default endpoint:"), m_default);
    auto* left = new QVBoxLayout;
    left->addWidget(m_list, 1);
    left->addLayout(listButtons);
    left->addLayout(defaultRow);

    // ---- right: the form ----
    m_form = new QGroupBox(tr("Endpoint"), this);
    m_name = new QLineEdit(m_form);
    m_name->setObjectName(QStringLiteral("endpointName"));
    m_name->setPlaceholderText(tr("a unique name, e.g. gpt-4.1-mini or local-ollama"));
    m_kind = new QComboBox(m_form);
    m_kind->setObjectName(QStringLiteral("endpointKind"));
    for (rerank::ProviderKind k : kKinds)
        m_kind->addItem(kindLabel(k), rerank::providerKindName(k));
    m_baseUrl = new QLineEdit(m_form);
    m_baseUrl->setObjectName(QStringLiteral("endpointBaseUrl"));
    m_modelName = new QLineEdit(m_form);
    m_modelName->setObjectName(QStringLiteral("endpointModel"));
    m_modelName->setPlaceholderText(tr("model id, e.g. gpt-4.1-mini, claude-sonnet-4-5, llama3.1:8b"));

    m_timeout = new QSpinBox(m_form);
    m_timeout->setObjectName(QStringLiteral("endpointTimeout"));
    m_timeout->setRange(1, 3600000);
    m_timeout->setSingleStep(1000);
    m_timeout->setSuffix(tr(" ms"));
    m_timeout->setToolTip(tr("Deadline per request, all retries included"));
    m_retries = new QSpinBox(m_form);
    m_retries->setObjectName(QStringLiteral("endpointRetries"));
    m_retries->setRange(0, 20);
    m_retries->setToolTip(tr("Retries after 429, 5xx or a network error"));
    m_concurrency = new QSpinBox(m_form);
    m_concurrency->setObjectName(QStringLiteral("endpointConcurrency"));
    m_concurrency->setRange(1, 256);
    m_concurrency->setToolTip(tr("Calls in flight at once"));
    auto* requests = new QHBoxLayout;
    requests->addWidget(new QLabel(tr("timeout"), m_form));
    requests->addWidget(m_timeout);
    requests->addWidget(new QLabel(tr("retries"), m_form));
    requests->addWidget(m_retries);
    requests->addWidget(new QLabel(tr("concurrent"), m_form));
    requests->addWidget(m_concurrency);
    requests->addStretch();

    m_temperature = new QDoubleSpinBox(m_form);
    m_temperature->setObjectName(QStringLiteral("endpointTemperature"));
    m_temperature->setRange(0, 2);
    m_temperature->setSingleStep(0.1);
    m_temperature->setDecimals(2);
    m_maxTokens = new QSpinBox(m_form);
    m_maxTokens->setObjectName(QStringLiteral("endpointMaxTokens"));
    m_maxTokens->setRange(1, 1000000);
    m_maxTokens->setToolTip(tr("Answer token cap (max output tokens)"));
    auto* sampling = new QHBoxLayout;
    sampling->addWidget(m_temperature);
    sampling->addWidget(new QLabel(tr("max output tokens"), m_form));
    sampling->addWidget(m_maxTokens);
    sampling->addStretch();

    m_structured = new QComboBox(m_form);
    m_structured->setObjectName(QStringLiteral("endpointStructuredOutput"));
    m_structured->addItem(tr("JSON schema (strict)"), QStringLiteral("json_schema"));
    m_structured->addItem(tr("JSON object (any JSON)"), QStringLiteral("json_object"));
    m_structured->addItem(tr("Text (schema only in the prompt)"), QStringLiteral("text"));
    m_insecure = new QCheckBox(tr("Allow plain http:// to a non-loopback host (the key travels unencrypted)"), m_form);
    m_insecure->setObjectName(QStringLiteral("endpointInsecureHttp"));

    m_priceInput = priceEdit(m_form, "endpointPriceInput");
    m_priceCached = priceEdit(m_form, "endpointPriceCached");
    m_priceOutput = priceEdit(m_form, "endpointPriceOutput");
    auto* prices = new QHBoxLayout;
    prices->addWidget(new QLabel(tr("input"), m_form));
    prices->addWidget(m_priceInput);
    prices->addWidget(new QLabel(tr("cached"), m_form));
    prices->addWidget(m_priceCached);
    prices->addWidget(new QLabel(tr("output"), m_form));
    prices->addWidget(m_priceOutput);
    prices->addWidget(new QLabel(tr("USD per 1M tokens"), m_form));
    prices->addStretch();

    // ---- the key ----
    m_keyBox = new QGroupBox(tr("API key"), m_form);
    m_keyBox->setObjectName(QStringLiteral("endpointKeyBox"));
    m_keyNone = new QRadioButton(tr("No key (local server)"), m_keyBox);
    m_keyNone->setObjectName(QStringLiteral("endpointKeyNone"));
    m_keyEnvMode = new QRadioButton(tr("From environment variable"), m_keyBox);
    m_keyEnvMode->setObjectName(QStringLiteral("endpointKeyEnvMode"));
    m_keychainMode = new QRadioButton(tr("Store in OS keychain"), m_keyBox);
    m_keychainMode->setObjectName(QStringLiteral("endpointKeychainMode"));
    if (!rerank::KeyStore::supported()) {
        m_keychainMode->setEnabled(false);
        m_keychainMode->setToolTip(tr("Keychain support not built (QtKeychain was not found at build time)"));
    }
    m_keyModes = new QButtonGroup(this);
    m_keyModes->addButton(m_keyNone, static_cast<int>(KeyMode::None));
    m_keyModes->addButton(m_keyEnvMode, static_cast<int>(KeyMode::Env));
    m_keyModes->addButton(m_keychainMode, static_cast<int>(KeyMode::Keychain));
    m_keyEnv = new QLineEdit(m_keyBox);
    m_keyEnv->setObjectName(QStringLiteral("endpointKeyEnv"));
    m_keyEnv->setPlaceholderText(tr("variable name, e.g. OPENAI_API_KEY"));
    m_keychainKey = new QLineEdit(m_keyBox);
    m_keychainKey->setObjectName(QStringLiteral("endpointKeychainKey"));
    m_keychainKey->setEchoMode(QLineEdit::Password);
    m_keychainKey->setAttribute(Qt::WA_InputMethodEnabled, false);
    m_keyStatus = new QLabel(m_keyBox);
    m_keyStatus->setObjectName(QStringLiteral("endpointKeyStatus"));
    m_keyStatus->setWordWrap(true);
    m_keyStatus->setTextFormat(Qt::RichText);
    auto* keyGrid = new QFormLayout;
    keyGrid->addRow(m_keyNone);
    keyGrid->addRow(m_keyEnvMode, m_keyEnv);
    keyGrid->addRow(m_keychainMode, m_keychainKey);
    auto* keyColumn = new QVBoxLayout(m_keyBox);
    keyColumn->addLayout(keyGrid);
    keyColumn->addWidget(m_keyStatus); // outside the form layout, so a long message wraps instead of being cut

    m_error = new QLabel(m_form);
    m_error->setObjectName(QStringLiteral("endpointError"));
    m_error->setWordWrap(true);
    m_error->setTextFormat(Qt::RichText);
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_error->hide();
    m_status = new QLabel(m_form);
    m_status->setObjectName(QStringLiteral("endpointStatus"));
    m_save = new QPushButton(tr("Save"), m_form);
    m_save->setObjectName(QStringLiteral("endpointSave"));
    m_save->setDefault(true);
    m_testButton = new QPushButton(tr("Test"), m_form);
    m_testButton->setObjectName(QStringLiteral("endpointTest"));
    m_testButton->setToolTip(tr("Sends one tiny request with the values in the form (saved or not)"));
    m_testResult = new QLabel(m_form);
    m_testResult->setObjectName(QStringLiteral("endpointTestResult"));
    m_testResult->setWordWrap(true);
    m_testResult->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_testResult->setTextFormat(Qt::RichText);
    m_testResult->setMinimumHeight(fontMetrics().height() * 3);
    m_testResult->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    m_testResult->setText(
        tr("<i>Test sends one tiny request and shows status, latency and the model that answered.</i>"));

    auto* form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->addRow(tr("Name:"), m_name);
    form->addRow(tr("Kind:"), m_kind);
    form->addRow(tr("Base URL:"), m_baseUrl);
    form->addRow(tr("Model:"), m_modelName);
    form->addRow(tr("Requests:"), requests);
    form->addRow(tr("Temperature:"), sampling);
    form->addRow(tr("Structured output:"), m_structured);
    form->addRow(QString(), m_insecure);
    form->addRow(tr("Prices:"), prices);
    auto* actions = new QHBoxLayout;
    actions->addWidget(m_status, 1);
    actions->addWidget(m_testButton);
    actions->addWidget(m_save);
    auto* right = new QVBoxLayout(m_form);
    right->addLayout(form);
    right->addWidget(m_keyBox);
    right->addWidget(m_error);
    right->addLayout(actions);
    right->addWidget(m_testResult);
    right->addStretch();

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    buttons->setObjectName(QStringLiteral("endpointButtons"));
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* columns = new QHBoxLayout;
    columns->addLayout(left, 2);
    columns->addWidget(m_form, 3);
    auto* main = new QVBoxLayout(this);
    main->addLayout(columns, 1);
    main->addWidget(buttons);

    // A mouse press makes a row current before it selects it, keys select before they make it
    // current, and showSelected() wants both: listen to both.
    connect(m_list->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] { showSelected(); });
    connect(m_list->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { showSelected(); });
    connect(m_add, &QPushButton::clicked, this, &EndpointsDialog::addNew);
    connect(m_duplicate, &QPushButton::clicked, this, &EndpointsDialog::duplicateSelected);
    connect(m_remove, &QPushButton::clicked, this, &EndpointsDialog::removeSelected);
    connect(m_save, &QPushButton::clicked, this, &EndpointsDialog::save);
    connect(m_testButton, &QPushButton::clicked, this, &EndpointsDialog::test);
    connect(m_default, &QComboBox::activated, this,
        [this](int index) { setDefault(m_default->itemData(index).toString()); });
    connect(m_kind, &QComboBox::currentIndexChanged, this, [this] {
        updateKindDependent();
        updateKeyStatus();
    });
    connect(m_keyModes, &QButtonGroup::idToggled, this, [this](int, bool on) {
        if (on)
            updateKeyStatus();
    });
    // Whether a keychain answers here at all: told before anyone types a key.
    connect(m_keys->has(QStringLiteral("recwb-availability-probe")), &rerank::KeyJob::finished, this,
        [this](const rerank::KeyStoreResult& r) {
            if (r.status == rerank::KeyStoreResult::Status::Unavailable)
                m_keychainProblem = r.error.section(QStringLiteral("unavailable: "), 1);
            updateKeyStatus();
        });
    connect(m_keyEnv, &QLineEdit::textChanged, this, [this] { updateKeyStatus(); });
    connect(m_keychainKey, &QLineEdit::textChanged, this, [this] { updateKeyStatus(); });
    connect(m_keyEnvMode, &QRadioButton::clicked, m_keyEnv, qOverload<>(&QWidget::setFocus));
    connect(m_keychainMode, &QRadioButton::clicked, m_keychainKey, qOverload<>(&QWidget::setFocus));
    // Any edit marks the form unsaved, except while fillForm() is filling it.
    auto dirty = [this] {
        if (!m_filling)
            m_status->setText(tr("<i>unsaved changes</i>"));
    };
    for (QLineEdit* e :
        { m_name, m_baseUrl, m_modelName, m_priceInput, m_priceCached, m_priceOutput, m_keyEnv, m_keychainKey })
        connect(e, &QLineEdit::textEdited, this, dirty);
    for (QSpinBox* b : { m_timeout, m_retries, m_concurrency, m_maxTokens })
        connect(b, &QSpinBox::valueChanged, this, dirty);
    connect(m_temperature, &QDoubleSpinBox::valueChanged, this, dirty);
    for (QComboBox* c : { m_kind, m_structured })
        connect(c, &QComboBox::currentIndexChanged, this, dirty);
    connect(m_insecure, &QCheckBox::toggled, this, dirty);
    connect(m_keyModes, &QButtonGroup::idToggled, this, dirty);
    connect(m_name, &QLineEdit::textEdited, this, [this] { m_error->hide(); });
    connect(m_baseUrl, &QLineEdit::textEdited, this, [this] { m_error->hide(); });
    setBusy(false);
}

void EndpointsDialog::setBusy(bool busy)
{
    m_busy = busy;
    for (QWidget* w : { static_cast<QWidget*>(m_add), static_cast<QWidget*>(m_duplicate),
             static_cast<QWidget*>(m_remove), static_cast<QWidget*>(m_save), static_cast<QWidget*>(m_default) })
        w->setEnabled(!busy);
    if (!busy) {
        const bool selected = currentSourceRow(m_list) >= 0;
        m_duplicate->setEnabled(selected);
        m_remove->setEnabled(selected);
    }
}

void EndpointsDialog::showError(const QString& message)
{
    m_error->setText(red(message.toHtmlEscaped()));
    m_error->setVisible(!message.isEmpty());
    if (!message.isEmpty())
        emit saveFailed(message);
}

void EndpointsDialog::reload(const QString& select)
{
    const quint64 job = ++m_loadJob;
    auto future = runTask([path = m_path](const TaskControl&) {
        const auto ws = Workspace::open(path);
        Snapshot s;
        s.endpoints = rerank::store::listEndpoints(*ws);
        s.defaultName = rerank::store::defaultEndpoint(*ws);
        return s;
    });
    continueOn(
        future, this,
        [this, job, select](const TaskResult<Snapshot>& result) {
            if (job != m_loadJob)
                return;
            if (!result.value) {
                showError(tr("Could not read the endpoints of %1: %2").arg(m_path, result.error));
                return;
            }
            const QString keep = select.isEmpty() ? m_originalName : select;
            m_model->setEndpoints(result.value->endpoints, result.value->defaultName);
            {
                const QSignalBlocker block(m_default);
                m_default->clear();
                for (const auto& e : result.value->endpoints)
                    m_default->addItem(
                        e.kind == rerank::ProviderKind::Offline ? e.name : tr("%1 (%2)").arg(e.name, e.model), e.name);
                m_default->setCurrentIndex(m_default->findData(result.value->defaultName));
            }
            selectEndpoint(m_model->rowOf(keep) >= 0 ? keep : result.value->defaultName);
            setBusy(false);
            emit endpointsLoaded();
        },
        [] {});
}

void EndpointsDialog::selectEndpoint(const QString& name)
{
    const int row = m_model->rowOf(name);
    auto* proxy = qobject_cast<TableFilterProxy*>(m_list->model());
    if (row < 0 || !proxy)
        return;
    const QModelIndex index = proxy->mapFromSource(m_model->index(row, EndpointsModel::Name));
    m_list->setCurrentIndex(index); // currentRowChanged fills the form; same row: fill it anyway
    m_list->selectRow(index.row());
    showSelected();
}

void EndpointsDialog::showSelected()
{
    const int row = currentSourceRow(m_list);
    if (row < 0 || row >= m_model->endpoints().size())
        return;
    const rerank::EndpointProfile& e = m_model->endpoints()[row];
    fillForm(e, e.name);
    m_duplicate->setEnabled(!m_busy);
    m_remove->setEnabled(!m_busy);
}

void EndpointsDialog::fillForm(const rerank::EndpointProfile& e, const QString& originalName)
{
    const bool other = originalName != m_originalName || originalName.isEmpty();
    m_filling = true;
    m_originalName = originalName;
    m_storedEntry = originalName.isEmpty() ? QString() : e.keychainEntry;
    m_probeText.clear();
    m_form->setTitle(originalName.isEmpty() ? tr("New endpoint (not saved yet)") : tr("Endpoint %1").arg(originalName));
    m_name->setText(e.name);
    m_kind->setCurrentIndex(std::max(0, m_kind->findData(rerank::providerKindName(e.kind))));
    m_baseUrl->setText(e.baseUrl);
    m_modelName->setText(e.model);
    m_timeout->setValue(e.timeoutMs);
    m_retries->setValue(e.maxRetries);
    m_concurrency->setValue(e.maxConcurrent);
    m_temperature->setValue(e.temperature);
    m_maxTokens->setValue(e.maxOutputTokens);
    m_structured->setCurrentIndex(std::max(0, m_structured->findData(rerank::outputModeName(e.structuredOutput))));
    m_insecure->setChecked(e.allowInsecureHttp);
    m_priceInput->setText(priceText(e.prices.input));
    m_priceCached->setText(priceText(e.prices.cachedInput));
    m_priceOutput->setText(priceText(e.prices.output));
    {
        const QSignalBlocker a(m_keyEnv), b(m_keychainKey);
        m_keyEnv->setText(e.keyEnv);
        m_keychainKey->clear();
    }
    setKeyMode(!e.keyEnv.isEmpty() ? KeyMode::Env : !e.keychainEntry.isEmpty() ? KeyMode::Keychain : KeyMode::None);
    m_error->hide();
    if (other) {
        m_status->clear();
        m_testResult->clear();
    }
    updateKindDependent();
    updateKeyStatus();
    m_filling = false;
    if (!m_storedEntry.isEmpty())
        probeKeychain(m_storedEntry);
}

void EndpointsDialog::updateKindDependent()
{
    const auto kind
        = rerank::providerKindFromName(m_kind->currentData().toString()).value_or(rerank::ProviderKind::OpenAiChat);
    const bool online = kind != rerank::ProviderKind::Offline;
    for (QWidget* w :
        { static_cast<QWidget*>(m_baseUrl), static_cast<QWidget*>(m_modelName), static_cast<QWidget*>(m_timeout),
            static_cast<QWidget*>(m_retries), static_cast<QWidget*>(m_concurrency),
            static_cast<QWidget*>(m_temperature), static_cast<QWidget*>(m_maxTokens), static_cast<QWidget*>(m_insecure),
            static_cast<QWidget*>(m_priceInput), static_cast<QWidget*>(m_priceCached),
            static_cast<QWidget*>(m_priceOutput), static_cast<QWidget*>(m_keyBox) })
        w->setEnabled(online);
    m_structured->setEnabled(rerank::outputModeApplies(kind));
    m_structured->setToolTip(rerank::outputModeApplies(kind)
            ? tr("How the endpoint is asked for a JSON answer")
            : tr("Anthropic and Gemini always use their own schema mechanism"));
    m_baseUrl->setPlaceholderText(baseUrlExample(kind));
}

EndpointsDialog::KeyMode EndpointsDialog::keyMode() const
{
    return static_cast<KeyMode>(std::max(0, m_keyModes->checkedId()));
}

void EndpointsDialog::setKeyMode(KeyMode mode)
{
    if (QAbstractButton* b = m_keyModes->button(static_cast<int>(mode)))
        b->setChecked(true);
}

void EndpointsDialog::updateKeyStatus()
{
    const bool stored = !m_storedEntry.isEmpty();
    m_keychainKey->setPlaceholderText(stored ? tr("stored in keychain — type a new key to replace it")
                                             : tr("paste the API key; it is stored on Save and never shown again"));
    m_keyEnv->setEnabled(keyMode() == KeyMode::Env);
    m_keychainKey->setEnabled(keyMode() == KeyMode::Keychain);
    QString text;
    switch (keyMode()) {
    case KeyMode::None: {
        const auto kind = rerank::providerKindFromName(m_kind->currentData().toString());
        const bool cloud = kind == rerank::ProviderKind::Anthropic || kind == rerank::ProviderKind::Gemini;
        text = cloud ? red(tr("This provider needs a key: name a variable or store one in the keychain."))
                     : tr("No key is sent (fine for a local server).");
        break;
    }
    case KeyMode::Env: {
        const QString var = m_keyEnv->text().trimmed();
        if (var.isEmpty())
            text = tr("Name the environment variable that holds the key.");
        else if (qEnvironmentVariableIsEmpty(var.toLocal8Bit().constData()))
            text = red(tr("from $%1 — not set in this environment: requests will be refused").arg(var.toHtmlEscaped()));
        else
            text = tr("from $%1 — set in this environment").arg(var.toHtmlEscaped());
        break;
    }
    case KeyMode::Keychain:
        if (!m_keychainProblem.isEmpty() && m_probeText.isEmpty())
            text = red(tr("The OS keychain is unavailable here: %1. Keep the key in an environment variable instead.")
                           .arg(m_keychainProblem.toHtmlEscaped()));
        else if (!m_keychainKey->text().isEmpty())
            text = tr("A new key will be stored in the OS keychain on Save.");
        else if (stored)
            text = m_probeText.isEmpty() ? tr("stored in keychain") : m_probeText;
        else
            text = tr("Type the key to store it in the OS keychain.");
        break;
    }
    m_keyStatus->setText(text);
}

void EndpointsDialog::probeKeychain(const QString& entry)
{
    const quint64 job = ++m_probeJob;
    connect(m_keys->has(entry), &rerank::KeyJob::finished, this, [this, job, entry](const rerank::KeyStoreResult& r) {
        if (job != m_probeJob || entry != m_storedEntry)
            return;
        using S = rerank::KeyStoreResult::Status;
        m_probeText = r.status == S::Ok ? tr("stored in keychain")
            : r.status == S::NotFound
            ? red(tr("keychain entry %1 is missing: type the key again").arg(entry.toHtmlEscaped()))
            : red(tr("stored in keychain, but the keychain cannot be read here: %1").arg(r.error.toHtmlEscaped()));
        updateKeyStatus();
    });
}

std::optional<rerank::EndpointProfile> EndpointsDialog::profileFromForm(QString* error) const
{
    rerank::EndpointProfile e;
    e.name = m_name->text().trimmed();
    if (e.name.isEmpty()) {
        *error = tr("The endpoint needs a name.");
        return std::nullopt;
    }
    if (e.name != m_originalName && m_model->rowOf(e.name) >= 0) {
        *error = tr("An endpoint named \"%1\" exists already: choose another name.").arg(e.name);
        return std::nullopt;
    }
    e.kind = rerank::providerKindFromName(m_kind->currentData().toString()).value_or(rerank::ProviderKind::OpenAiChat);
    if (e.kind != rerank::ProviderKind::Offline) {
        e.baseUrl = m_baseUrl->text().trimmed();
        const QUrl url(e.baseUrl, QUrl::StrictMode);
        if (e.baseUrl.isEmpty() || !url.isValid() || (url.scheme() != u"http" && url.scheme() != u"https")
            || url.host().isEmpty()) {
            *error = tr("Base URL \"%1\" is not an http(s) URL (e.g. %2).").arg(e.baseUrl, baseUrlExample(e.kind));
            return std::nullopt;
        }
        e.model = m_modelName->text().trimmed();
        if (e.model.isEmpty()) {
            *error = tr("The endpoint needs a model id.");
            return std::nullopt;
        }
    }
    e.timeoutMs = m_timeout->value();
    e.maxRetries = m_retries->value();
    e.maxConcurrent = m_concurrency->value();
    e.temperature = m_temperature->value();
    e.maxOutputTokens = m_maxTokens->value();
    e.structuredOutput = rerank::outputModeApplies(e.kind)
        ? rerank::outputModeFromName(m_structured->currentData().toString()).value_or(rerank::OutputMode::JsonSchema)
        : rerank::OutputMode::JsonSchema;
    e.allowInsecureHttp = m_insecure->isChecked();
    for (const auto& [edit, field] : { std::pair { m_priceInput, &e.prices.input },
             std::pair { m_priceCached, &e.prices.cachedInput }, std::pair { m_priceOutput, &e.prices.output } }) {
        if (!edit->text().trimmed().isEmpty() && !priceValue(edit)) {
            *error = tr("Price \"%1\" is not a number (USD per 1M tokens; empty = unknown).").arg(edit->text());
            return std::nullopt;
        }
        *field = priceValue(edit);
    }
    const int row = m_model->rowOf(m_originalName);
    const rerank::Prices old = row >= 0 ? m_model->endpoints()[row].prices : rerank::Prices {};
    e.prices.cacheWrite = old.cacheWrite;
    const bool pricesChanged
        = e.prices.input != old.input || e.prices.cachedInput != old.cachedInput || e.prices.output != old.output;
    e.prices.asOf = pricesChanged ? QDate::currentDate().toString(Qt::ISODate) : old.asOf;
    if (e.kind != rerank::ProviderKind::Offline) {
        switch (keyMode()) {
        case KeyMode::None:
            break;
        case KeyMode::Env: {
            e.keyEnv = m_keyEnv->text().trimmed();
            static const QRegularExpression varName(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
            if (!varName.match(e.keyEnv).hasMatch()) {
                *error = tr("\"%1\" is not an environment variable name (letters, digits, _).").arg(e.keyEnv);
                return std::nullopt;
            }
            break;
        }
        case KeyMode::Keychain:
            if (m_keychainKey->text().trimmed().isEmpty() && m_storedEntry.isEmpty()) {
                *error = tr("Type the API key to store it in the keychain, or choose another key source.");
                return std::nullopt;
            }
            e.keychainEntry = m_storedEntry; // a new key gets its entry when it is written
            break;
        }
    }
    try {
        rerank::EndpointProfile::fromJson(e.toJson()); // the store's own checks
    } catch (const Error& ex) {
        *error = ex.message();
        return std::nullopt;
    }
    return e;
}

template <typename Fn> void EndpointsDialog::writeThen(Fn write, const QString& select, const QString& doneText)
{
    setBusy(true);
    auto future = runTask([path = m_path, write = std::move(write)](const TaskControl&) {
        const auto ws = Workspace::open(path);
        write(*ws);
        return true;
    });
    continueOn(
        future, this,
        [this, select, doneText](const TaskResult<bool>& result) {
            if (!result.value) {
                setBusy(false);
                showError(tr("Nothing was saved: %1").arg(result.error));
                return;
            }
            m_status->setText(doneText);
            emit endpointsChanged();
            reload(select);
        },
        [this] { setBusy(false); });
}

void EndpointsDialog::addNew()
{
    rerank::EndpointProfile e;
    e.name = uniqueName(m_model, QStringLiteral("new-endpoint"));
    e.kind = rerank::ProviderKind::OpenAiChat;
    m_list->clearSelection();
    m_list->setCurrentIndex({});
    fillForm(e, QString());
    m_duplicate->setEnabled(false);
    m_remove->setEnabled(false);
    m_testResult->clear();
    m_name->setFocus();
    m_name->selectAll();
}

void EndpointsDialog::save()
{
    if (m_busy)
        return;
    QString error;
    auto profile = profileFromForm(&error);
    if (!profile) {
        showError(error);
        return;
    }
    m_error->hide();
    const QString original = m_originalName;
    auto store = [this, original](rerank::EndpointProfile e) {
        writeThen(
            [e, original](Workspace& ws) {
                Transaction tx(ws);
                const bool renamed = !original.isEmpty() && original != e.name;
                const bool wasDefault = renamed && rerank::store::defaultEndpoint(ws) == original;
                if (renamed)
                    rerank::store::removeEndpoint(ws, original);
                rerank::store::upsertEndpoint(ws, e);
                if (wasDefault)
                    rerank::store::setDefaultEndpoint(ws, e.name);
                tx.commit();
            },
            e.name, tr("Saved %1.").arg(e.name));
    };
    const QByteArray key = m_keychainKey->text().trimmed().toUtf8();
    if (keyMode() != KeyMode::Keychain || key.isEmpty() || profile->kind == rerank::ProviderKind::Offline) {
        store(*profile);
        return;
    }
    // The key goes to the keychain first; the profile is written only when that worked.
    setBusy(true);
    m_status->setText(tr("Storing the key in the OS keychain…"));
    const QString entry = rerank::KeyStore::entryForEndpoint(profile->name);
    connect(m_keys->write(entry, key), &rerank::KeyJob::finished, this,
        [this, store, profile = *profile, entry](const rerank::KeyStoreResult& r) mutable {
            if (!r.ok()) {
                setBusy(false);
                m_status->clear();
                showError(tr("The key was not stored, and nothing was saved: %1.%2")
                              .arg(r.error,
                                  r.status == rerank::KeyStoreResult::Status::Unavailable
                                      ? tr(" Keep the key in an environment variable and choose \"From environment "
                                           "variable\".")
                                      : QString()));
                return;
            }
            {
                const QSignalBlocker block(m_keychainKey);
                m_keychainKey->clear();
            }
            m_storedEntry = entry;
            m_probeText.clear();
            updateKeyStatus();
            // The client caches keys it read: a fresh one reads the new key.
            m_client->deleteLater();
            m_client = new rerank::LlmClient(testClientConfig(), this);
            profile.keychainEntry = entry;
            store(profile);
        });
}

void EndpointsDialog::duplicateSelected()
{
    const int row = currentSourceRow(m_list);
    if (m_busy || row < 0)
        return;
    rerank::EndpointProfile e = m_model->endpoints()[row];
    e.name = uniqueName(m_model, e.name + QStringLiteral("-copy"));
    writeThen(
        [e](Workspace& ws) { rerank::store::upsertEndpoint(ws, e); }, e.name, tr("Duplicated as %1.").arg(e.name));
}

void EndpointsDialog::removeSelected()
{
    const int row = currentSourceRow(m_list);
    if (m_busy || row < 0)
        return;
    const rerank::EndpointProfile& e = m_model->endpoints()[row];
    if (e.kind == rerank::ProviderKind::Offline && e.name == u"offline") {
        showError(tr("The offline reranker is built in and stays: it is the fallback that needs no network."));
        return;
    }
    const QString name = e.name;
    m_originalName.clear();
    writeThen(
        [name](Workspace& ws) {
            if (!rerank::store::removeEndpoint(ws, name))
                throw Error(QStringLiteral("no endpoint \"%1\"").arg(name));
        },
        QString(), tr("Removed %1.").arg(name));
}

void EndpointsDialog::setDefault(const QString& name)
{
    if (m_busy || name.isEmpty() || name == m_model->defaultName())
        return;
    writeThen([name](Workspace& ws) { rerank::store::setDefaultEndpoint(ws, name); }, QString(),
        tr("Default endpoint: %1.").arg(name));
}

void EndpointsDialog::test()
{
    QString error;
    auto profile = profileFromForm(&error);
    if (!profile) {
        showError(error);
        return;
    }
    if (keyMode() == KeyMode::Keychain && !m_keychainKey->text().trimmed().isEmpty()) {
        m_testResult->setText(
            red(tr("Save first: the typed key is stored in the keychain on Save, and Test reads it from there.")));
        return;
    }
    if (m_test)
        m_test->cancel();
    const quint64 job = ++m_testJob;
    m_testResult->setText(tr("Testing %1…").arg(profile->name.toHtmlEscaped()));
    m_test = rerank::EndpointTest::start(*m_client, *profile, this);
    connect(m_test, &rerank::EndpointTest::finished, this, [this, job](const rerank::EndpointTestResult& r) {
        if (job != m_testJob)
            return;
        showTestResult(r);
        emit endpointTested(r);
    });
}

void EndpointsDialog::showTestResult(const rerank::EndpointTestResult& r)
{
    const QString who = r.endpoint.toHtmlEscaped();
    if (r.offline) {
        m_testResult->setText(tr("%1: <b>ok</b> — offline reranker: no network needed").arg(who));
        return;
    }
    if (r.ok()) {
        QString text = tr("%1: <b>ok</b> — HTTP %2 in <b>%3 ms</b><br>model that answered: <b>%4</b><br>"
                          "%5 input / %6 output tokens")
                           .arg(who)
                           .arg(r.httpStatus)
                           .arg(r.latencyMs, 0, 'f', 0)
                           .arg(r.model.isEmpty() ? tr("(not named in the answer)") : r.model.toHtmlEscaped())
                           .arg(r.usage.inputTokens)
                           .arg(r.usage.outputTokens);
        if (r.finish == rerank::FinishReason::Truncated)
            text += tr("<br>(the answer was cut at the test's 16-token limit: fine for a test)");
        m_testResult->setText(text);
        return;
    }
    QString why = r.error;
    if (const QString prefix = QStringLiteral("endpoint '%1': ").arg(r.endpoint); why.startsWith(prefix))
        why = why.mid(prefix.size());
    m_testResult->setText(red(tr("%1: <b>%2</b>%3 after %4 ms<br>POST %5<br>%6")
                                  .arg(who, rerank::callStatusName(r.status),
                                      r.httpStatus > 0 ? tr(" (HTTP %1)").arg(r.httpStatus) : QString())
                                  .arg(r.latencyMs, 0, 'f', 0)
                                  .arg(r.url.toHtmlEscaped(), why.toHtmlEscaped())));
}

} // namespace recwb::ui
