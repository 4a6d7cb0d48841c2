#include "dialogs/traindialog.h"

#include "common/backgroundtask.h"
#include "cf/recommender.h"
#include "data/dataset.h"
#include "common/modelstore.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>
#include <climits>

namespace recwb::ui {

namespace {

    // Parameters that are counts or seeds (whole numbers); every other number is real.
    bool isWholeNumberParam(const QString& key)
    {
        static const QStringList whole { QStringLiteral("k"), QStringLiteral("factors"), QStringLiteral("iterations"),
            QStringLiteral("cg_steps"), QStringLiteral("epochs"), QStringLiteral("fold_in_epochs"),
            QStringLiteral("seed") };
        return whole.contains(key);
    }

    QString fieldName(const QString& key)
    {
        return QStringLiteral("param_") + key;
    }

    QString sizeText(qint64 bytes)
    {
        return QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeSIFormat);
    }

} // namespace

TrainDialog::TrainDialog(ModelStore* store, QWidget* parent)
    : QDialog(parent)
    , m_store(store)
    , m_algorithm(new QComboBox(this))
    , m_paramsBox(new QGroupBox(tr("Parameters"), this))
    , m_paramsForm(new QFormLayout(m_paramsBox))
    , m_name(new QLineEdit(this))
    , m_progress(new QProgressBar(this))
    , m_status(new QLabel(this))
    , m_buttons(new QDialogButtonBox(QDialogButtonBox::Cancel, this))
    , m_trainButton(m_buttons->addButton(tr("&Train"), QDialogButtonBox::AcceptRole))
{
    setWindowTitle(tr("Train Model"));
    setObjectName(QStringLiteral("trainDialog"));
    setMinimumWidth(460);
    m_algorithm->setObjectName(QStringLiteral("trainAlgorithm"));
    m_algorithm->addItems(cf::recommenderNames());
    m_name->setObjectName(QStringLiteral("trainName"));
    m_progress->setObjectName(QStringLiteral("trainProgress"));
    m_progress->setRange(0, kProgressRange);
    m_progress->setValue(0);
    m_progress->setTextVisible(false);
    m_status->setObjectName(QStringLiteral("trainStatus"));
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_paramsForm->setFieldGrowthPolicy(QFormLayout::FieldsStayAtSizeHint);

    auto* top = new QFormLayout;
    top->addRow(tr("&Algorithm:"), m_algorithm);
    top->addRow(tr("Snapshot &name:"), m_name);

    const auto dataset = m_store->dataset();
    auto* data = new QLabel(this);
    data->setForegroundRole(QPalette::PlaceholderText);
    data->setWordWrap(true);
    if (dataset)
        data->setText(tr("Fitted on every interaction of the loaded workspace (%1 users × %2 items, %3 "
                         "interactions) and kept in it as a snapshot.")
                          .arg(QLocale().toString(dataset->numUsers()), QLocale().toString(dataset->numItems()),
                              QLocale().toString(dataset->numInteractions())));

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(m_paramsBox);
    layout->addWidget(data);
    layout->addWidget(m_progress);
    layout->addWidget(m_status);
    layout->addStretch();
    layout->addWidget(m_buttons);

    connect(m_algorithm, &QComboBox::currentIndexChanged, this, &TrainDialog::rebuildForm);
    connect(m_trainButton, &QPushButton::clicked, this, &TrainDialog::startTraining);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &TrainDialog::reject);

    connect(m_store, &ModelStore::trainingProgress, this, [this](int value, const QString& text) {
        if (!m_running)
            return;
        m_progress->setValue(value);
        if (!text.isEmpty())
            m_status->setText(text);
    });
    connect(m_store, &ModelStore::trainingFinished, this, [this](const TrainingResult& result) {
        if (!m_running)
            return;
        setRunning(false);
        m_progress->setValue(kProgressRange);
        m_status->setText(tr("Trained %1 in %2 s · snapshot %3 “%4” · %5")
                              .arg(result.snapshot.algorithm)
                              .arg(QLocale().toString(result.fitSeconds, 'f', 2))
                              .arg(result.snapshot.id)
                              .arg(result.snapshot.name, sizeText(result.snapshot.bytes)));
        emit trainingFinished(result);
    });
    connect(m_store, &ModelStore::trainingCanceled, this, [this] {
        if (!m_running)
            return;
        setRunning(false);
        m_progress->setValue(0);
        m_status->setText(tr("Canceled"));
        emit trainingCanceled();
    });
    connect(m_store, &ModelStore::trainingFailed, this, [this](const QString& message) {
        if (!m_running)
            return;
        setRunning(false);
        m_progress->setValue(0);
        m_status->setText(tr("Training failed: %1").arg(message));
        emit trainingFailed(message);
    });

    const int ease = m_algorithm->findText(QStringLiteral("ease"));
    m_algorithm->setCurrentIndex(std::max(ease, 0));
    rebuildForm();
    setRunning(false);
    m_progress->hide();
}

TrainDialog::~TrainDialog()
{
    if (m_running)
        m_store->cancelTraining();
}

void TrainDialog::setAlgorithm(const QString& algorithm)
{
    m_algorithm->setCurrentIndex(m_algorithm->findText(algorithm));
}

QString TrainDialog::algorithm() const
{
    return m_algorithm->currentText();
}

void TrainDialog::setSnapshotName(const QString& name)
{
    m_name->setText(name);
}

QString TrainDialog::statusText() const
{
    return m_status->text();
}

void TrainDialog::rebuildForm()
{
    while (m_paramsForm->rowCount() > 0)
        m_paramsForm->removeRow(0);
    m_defaults = {};
    try {
        m_defaults = cf::makeRecommender(algorithm())->params();
    } catch (const Error& e) {
        m_status->setText(e.message());
    }
    m_name->setPlaceholderText(algorithm());
    if (m_defaults.isEmpty()) {
        auto* none = new QLabel(tr("This model has no parameters."), m_paramsBox);
        none->setForegroundRole(QPalette::PlaceholderText);
        m_paramsForm->addRow(none);
        return;
    }
    for (auto it = m_defaults.begin(); it != m_defaults.end(); ++it) {
        const QString key = it.key();
        const QJsonValue value = it.value();
        QWidget* field = nullptr;
        if (value.isBool()) {
            auto* box = new QCheckBox(m_paramsBox);
            box->setChecked(value.toBool());
            field = box;
        } else if (value.isDouble() && isWholeNumberParam(key)) {
            auto* spin = new QSpinBox(m_paramsBox);
            spin->setRange(key == u"seed" ? 0 : 1, INT_MAX);
            spin->setValue(value.toInt());
            spin->setMinimumWidth(120);
            field = spin;
        } else if (value.isDouble()) {
            auto* spin = new QDoubleSpinBox(m_paramsBox);
            spin->setDecimals(4);
            spin->setRange(0, 1e9);
            spin->setValue(value.toDouble());
            spin->setMinimumWidth(120);
            field = spin;
        } else {
            auto* edit = new QLineEdit(value.toVariant().toString(), m_paramsBox);
            field = edit;
        }
        field->setObjectName(fieldName(key));
        field->setToolTip(tr("Default: %1").arg(value.toVariant().toString()));
        m_paramsForm->addRow(key + u':', field);
    }
}

bool TrainDialog::setParameter(const QString& key, const QVariant& value)
{
    QWidget* field = m_paramsBox->findChild<QWidget*>(fieldName(key));
    if (auto* spin = qobject_cast<QSpinBox*>(field))
        spin->setValue(value.toInt());
    else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(field))
        dspin->setValue(value.toDouble());
    else if (auto* box = qobject_cast<QCheckBox*>(field))
        box->setChecked(value.toBool());
    else if (auto* edit = qobject_cast<QLineEdit*>(field))
        edit->setText(value.toString());
    else
        return false;
    return true;
}

QJsonObject TrainDialog::parameters() const
{
    QJsonObject params;
    for (auto it = m_defaults.begin(); it != m_defaults.end(); ++it) {
        QWidget* field = m_paramsBox->findChild<QWidget*>(fieldName(it.key()));
        if (auto* spin = qobject_cast<QSpinBox*>(field))
            params.insert(it.key(), spin->value());
        else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(field))
            params.insert(it.key(), dspin->value());
        else if (auto* box = qobject_cast<QCheckBox*>(field))
            params.insert(it.key(), box->isChecked());
        else if (auto* edit = qobject_cast<QLineEdit*>(field))
            params.insert(it.key(), edit->text());
    }
    return params;
}

bool TrainDialog::startTraining()
{
    if (m_running)
        return false;
    if (m_store->isTraining()) {
        m_status->setText(tr("Another model is being trained; wait for it to finish."));
        return false;
    }
    m_progress->setValue(0);
    m_status->setText(tr("Training %1…").arg(algorithm()));
    setRunning(true);
    if (!m_store->startTraining(algorithm(), parameters(), m_name->text())) {
        if (m_running) { // no trainingFailed said why
            setRunning(false);
            m_status->setText(tr("Could not start training: no workspace is loaded."));
        }
        return false;
    }
    return true;
}

void TrainDialog::setRunning(bool running)
{
    m_running = running;
    if (running)
        m_progress->show(); // hidden until the first run; afterwards it shows how the last one ended
    m_algorithm->setEnabled(!running);
    m_paramsBox->setEnabled(!running);
    m_name->setEnabled(!running);
    m_trainButton->setEnabled(!running);
    m_buttons->button(QDialogButtonBox::Cancel)->setText(running ? tr("Cancel") : tr("Close"));
}

void TrainDialog::reject()
{
    if (m_running) {
        m_status->setText(tr("Canceling…"));
        m_store->cancelTraining(); // trainingCanceled (or Finished, if it won the race) follows
        return;
    }
    QDialog::reject();
}

} // namespace recwb::ui
