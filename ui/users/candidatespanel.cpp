#include "users/candidatespanel.h"

#include "common/backgroundtask.h"
#include "users/candidatesmodel.h"
#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "data/dataset.h"
#include "common/modelstore.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"

#include <QComboBox>
#include <QElapsedTimer>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QPushButton>
#include <QStyle>
#include <QTableView>
#include <QVBoxLayout>

namespace recwb::ui {

namespace {

    struct CandidateAnswer {
        std::vector<CandidateRow> rows;
        double milliseconds = 0;
        QStringList leftOut; // cold-start sources with nothing to say for this user
    };

    QString muted(const QString& text)
    {
        return u"<span style='color:#6b7280'>" + text.toHtmlEscaped() + u"</span>";
    }

    QString weight(double w)
    {
        return QString::number(w, 'g', 3);
    }

} // namespace

CandidatesPanel::CandidatesPanel(ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_store(store)
    , m_threshold(kDefaultColdThreshold)
    , m_model(new CandidatesModel(this))
    , m_modelCombo(new QComboBox(this))
    , m_badge(new QLabel(this))
    , m_train(new QPushButton(tr("Train Model…"), this))
    , m_caption(new QLabel(this))
    , m_categoriesLabel(new QLabel(tr("Stated categories:"), this))
    , m_categories(new QListWidget(this))
    , m_view(new QTableView(this))
{
    m_modelCombo->setObjectName(QStringLiteral("candidatesModel"));
    m_modelCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_modelCombo->setMinimumContentsLength(24);
    m_modelCombo->setToolTip(tr("The CF model behind the candidates (and the cf source of the cold-start blend)"));
    m_badge->setObjectName(QStringLiteral("candidatesOtherData"));
    m_badge->setText(u"&nbsp;⚠ " + tr("trained on other data").toHtmlEscaped() + u"&nbsp;");
    m_badge->setTextFormat(Qt::RichText);
    m_badge->setStyleSheet(QStringLiteral("QLabel { background: #fef3c7; color: #92400e; border-radius: 3px; }"));
    m_badge->setToolTip(tr("This snapshot was trained on other interactions than the loaded ones (the workspace "
                           "changed since). Train the model again to score with the current data."));
    m_badge->hide();
    m_train->setObjectName(QStringLiteral("candidatesTrain"));
    m_caption->setObjectName(QStringLiteral("candidatesCaption"));
    m_caption->setWordWrap(true);
    m_caption->setTextFormat(Qt::RichText);
    m_caption->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_categories->setObjectName(QStringLiteral("statedCategories"));
    m_categories->setFlow(QListView::LeftToRight);
    m_categories->setWrapping(true);
    m_categories->setResizeMode(QListView::Adjust);
    m_categories->setSpacing(1);
    m_categories->setSelectionMode(QAbstractItemView::NoSelection);
    m_categories->setFixedHeight(m_categories->fontMetrics().height() * 3 + 16);
    m_categories->setToolTip(tr("Categories a cold user said they like: the category source of the blend"));
    m_categoriesLabel->setBuddy(m_categories);

    m_view->setObjectName(QStringLiteral("candidatesView"));
    m_proxy = setupTable(m_view, m_model, nullptr,
        { { CandidatesModel::Rank, 5 }, { CandidatesModel::Score, 8 }, { CandidatesModel::Categories, 22 },
            { CandidatesModel::Source, 10 } },
        CandidatesModel::Title, CandidatesModel::Rank, Qt::AscendingOrder);

    auto* title = new QLabel(tr("<b>Candidates</b>"), this);
    auto* modelLabel = new QLabel(tr("&Model:"), this);
    modelLabel->setBuddy(m_modelCombo);
    auto* bar = new QHBoxLayout;
    bar->addWidget(title);
    bar->addSpacing(8);
    bar->addWidget(modelLabel);
    bar->addWidget(m_modelCombo, 1);
    bar->addWidget(m_badge);
    bar->addWidget(m_train);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(m_caption);
    layout->addWidget(m_categoriesLabel);
    layout->addWidget(m_categories);
    layout->addWidget(m_view, 1);
    m_categoriesLabel->hide();
    m_categories->hide();

    connect(m_train, &QPushButton::clicked, this, &CandidatesPanel::trainRequested);
    connect(m_modelCombo, &QComboBox::currentIndexChanged, this, [this] {
        m_modelChosen = true; // by the user or a caller: rebuilds below are signal-blocked
        updateBadge();
        refresh();
    });
    connect(m_categories, &QListWidget::itemChanged, this, [this] {
        if (m_dataset && m_user >= 0 && m_dataset->isCold(m_user, m_threshold))
            refresh();
    });
    connect(m_store, &ModelStore::snapshotsChanged, this, &CandidatesPanel::rebuildModelCombo);
    connect(m_store, &ModelStore::modelReady, this, [this](const QString& key) {
        if (m_waitingForModel && key == currentModelKey())
            refresh();
    });
    connect(m_store, &ModelStore::modelFailed, this, [this](const QString& key, const QString& message) {
        if (!m_waitingForModel || key != currentModelKey())
            return;
        m_waitingForModel = false;
        setCaption(u"<span style='color:#b91c1c'>" + tr("Could not load the model: %1").arg(message).toHtmlEscaped()
            + u"</span>");
        emit candidatesFailed(m_user, message);
    });

    rebuildModelCombo();
    refresh();
}

CandidatesPanel::~CandidatesPanel() = default;

void CandidatesPanel::setDataset(std::shared_ptr<const Dataset> dataset)
{
    m_dataset = dataset;
    m_model->setDataset(std::move(dataset));
    m_user = -1;
    rebuildCategories();
    refresh();
}

void CandidatesPanel::setColdThreshold(int threshold)
{
    m_threshold = threshold;
    refresh();
}

void CandidatesPanel::setUser(int user)
{
    if (user == m_user)
        return; // e.g. the users table re-sorted: the selection is the same user
    m_user = user;
    // Stated categories saved with a user (a synthetic user saved from a what-if) start
    // ticked; anyone else starts with none.
    {
        const QSignalBlocker blocker(m_categories);
        QStringList stated;
        if (m_dataset && user >= 0)
            stated = m_dataset->users[static_cast<size_t>(user)]
                         .attributes.value(QStringLiteral("stated_categories"))
                         .toString()
                         .split(QStringLiteral(", "), Qt::SkipEmptyParts);
        for (int i = 0; i < m_categories->count(); ++i)
            m_categories->item(i)->setCheckState(
                stated.contains(m_categories->item(i)->text()) ? Qt::Checked : Qt::Unchecked);
    }
    refresh();
}

QString CandidatesPanel::currentModelKey() const
{
    return m_modelCombo->currentData().toString();
}

bool CandidatesPanel::setCurrentModelKey(const QString& key)
{
    const int index = m_modelCombo->findData(key);
    if (index < 0)
        return false;
    m_modelCombo->setCurrentIndex(index);
    return true;
}

void CandidatesPanel::rebuildModelCombo()
{
    const QString previous = currentModelKey();
    const QString previousAlgorithm = m_store->choice(previous) ? m_store->choice(previous)->algorithm : QString();
    {
        const QSignalBlocker blocker(m_modelCombo);
        m_modelCombo->clear();
        const QIcon warning = style()->standardIcon(QStyle::SP_MessageBoxWarning);
        for (const ModelChoice& c : m_store->choices()) {
            if (c.otherData)
                m_modelCombo->addItem(warning, c.label, c.key);
            else
                m_modelCombo->addItem(c.label, c.key);
            const int row = m_modelCombo->count() - 1;
            if (c.otherData)
                m_modelCombo->setItemData(row, m_badge->toolTip(), Qt::ToolTipRole);
            else if (!c.snapshot)
                m_modelCombo->setItemData(row,
                    tr("No snapshot yet: fitted in memory with the default parameters when chosen, not kept"),
                    Qt::ToolTipRole);
        }
        // Until a model is chosen, the store's default wins: the first list has no snapshots
        // yet (they are read after the workspace), and keeping its in-memory default would
        // fit that instead of the trained snapshot that arrives a moment later.
        int index = m_modelChosen ? m_modelCombo->findData(previous) : -1;
        if (index < 0 && m_modelChosen && !previousAlgorithm.isEmpty()) {
            // The chosen entry went away (e.g. "ease (not trained)" after training EASE):
            // stay with the same algorithm.
            for (int i = 0; i < m_modelCombo->count() && index < 0; ++i)
                if (m_store->choice(m_modelCombo->itemData(i).toString())->algorithm == previousAlgorithm)
                    index = i;
        }
        if (index < 0)
            index = m_modelCombo->findData(m_store->defaultKey());
        m_modelCombo->setCurrentIndex(std::max(index, 0));
    }
    updateBadge();
    if (currentModelKey() != previous)
        refresh();
}

void CandidatesPanel::updateBadge()
{
    const ModelChoice* c = m_store->choice(currentModelKey());
    m_badge->setVisible(c && c->otherData);
}

void CandidatesPanel::rebuildCategories()
{
    const QSignalBlocker blocker(m_categories);
    m_categories->clear();
    if (!m_dataset)
        return;
    for (const QString& name : m_dataset->categories) {
        auto* item = new QListWidgetItem(name, m_categories);
        item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled);
        item->setCheckState(Qt::Unchecked);
    }
}

void CandidatesPanel::setCaption(const QString& html)
{
    m_caption->setText(html);
}

void CandidatesPanel::refresh()
{
    const quint64 job = ++m_job;
    m_waitingForModel = false;
    m_shownUser = -1;
    m_model->clear();
    const bool cold = m_dataset && m_user >= 0 && m_dataset->isCold(m_user, m_threshold);
    m_categoriesLabel->setVisible(cold);
    m_categories->setVisible(cold);
    if (!m_dataset || m_user < 0) {
        setCaption(muted(tr("Select a user to see their candidates.")));
        return;
    }
    const QString key = currentModelKey();
    const ModelChoice* choice = m_store->choice(key);
    if (!choice) {
        setCaption(muted(tr("No model to score with.")));
        return;
    }
    if (!m_store->request(key, cold)) {
        m_waitingForModel = true;
        const QString error = m_store->lastError(key);
        if (!error.isEmpty() && !m_store->isLoading(key))
            setCaption(muted(tr("Could not load the model: %1").arg(error)));
        else if (choice->snapshot)
            setCaption(muted(tr("Loading %1…").arg(choice->label)));
        else
            setCaption(muted(tr("Fitting %1 in memory with its default parameters (not kept)…").arg(choice->algorithm)));
        return;
    }
    setCaption(muted(tr("Computing candidates…")));

    std::vector<int32_t> stated;
    if (cold)
        for (int i = 0; i < m_categories->count(); ++i)
            if (m_categories->item(i)->checkState() == Qt::Checked)
                stated.push_back(i);

    const int user = m_user;
    auto future = runTask([dataset = m_dataset, model = m_store->model(key),
                              coldStart = cold ? m_store->coldStart(key) : nullptr, user,
                              stated](const TaskControl&) {
        QElapsedTimer timer;
        timer.start();
        CandidateAnswer answer;
        if (coldStart) {
            coldstart::ColdUser cu = coldStart->userFromDataset(*dataset, dataset->userItems, user);
            cu.statedCategories = stated;
            if (cu.history.items.empty())
                answer.leftOut << QStringLiteral("cf") << QStringLiteral("content");
            if (cu.profile.isEmpty())
                answer.leftOut << QStringLiteral("profile");
            if (cu.statedCategories.empty())
                answer.leftOut << QStringLiteral("category");
            for (const coldstart::ColdCandidate& c : coldStart->recommend(cu, kCandidates)) {
                CandidateRow row { c.item, c.score, coldstart::sourceName(c.source), {} };
                for (int s = 0; s < coldstart::kSourceCount; ++s)
                    row.parts.emplace_back(coldstart::sourceName(static_cast<coldstart::Source>(s)),
                        c.parts[static_cast<size_t>(s)]);
                answer.rows.push_back(std::move(row));
            }
        } else {
            for (const cf::ScoredItem& s :
                cf::recommend(*model, cf::History::ofUser(dataset->userItems, user), kCandidates))
                answer.rows.push_back({ s.item, s.score, model->algorithm(), {} });
        }
        answer.milliseconds = static_cast<double>(timer.nsecsElapsed()) / 1e6;
        return answer;
    });

    const QString label = choice->label;
    continueOn(
        future, this,
        [this, job, user, cold, label](const TaskResult<CandidateAnswer>& result) {
            if (job != m_job)
                return; // another user, model or category was chosen meanwhile
            if (!result.value) {
                setCaption(u"<span style='color:#b91c1c'>"
                    + tr("Could not compute candidates: %1").arg(result.error).toHtmlEscaped() + u"</span>");
                emit candidatesFailed(user, result.error);
                return;
            }
            const CandidateAnswer& answer = *result.value;
            const QLocale locale;
            const int history = m_dataset->interactionCount(user);
            const QString timing = tr("%1 ms").arg(locale.toString(answer.milliseconds, 'f', 1));
            if (cold) {
                const coldstart::ColdStartConfig config = m_store->coldStart(currentModelKey())
                    ? m_store->coldStart(currentModelKey())->config()
                    : coldstart::ColdStartConfig();
                QString text = u"<b>" + tr("Cold-start blend").toHtmlEscaped() + u"</b> "
                    + tr("(%1 interactions, cold below %2): each source's scores are scaled to [0, 1], weighted "
                         "cf %3 · content %4 · profile %5 · category %6 · popularity %7 and summed.")
                          .arg(history)
                          .arg(m_threshold)
                          .arg(weight(config.cfWeight), weight(config.contentWeight), weight(config.profileWeight),
                              weight(config.categoryWeight), weight(config.popularityWeight))
                          .toHtmlEscaped();
                if (!answer.leftOut.isEmpty())
                    text += u' '
                        + tr("Left out for this user (nothing to go on): %1.")
                              .arg(answer.leftOut.join(QStringLiteral(", ")))
                              .toHtmlEscaped();
                text += u"<br>"
                    + muted(tr("Source = the largest weighted share (hover it for all shares); cf source: %1; %2.")
                                .arg(label, timing));
                setCaption(text);
            } else {
                const ModelChoice* c = m_store->choice(currentModelKey());
                const QString inMemory = c && !c->snapshot
                    ? tr(" · fitted in memory with its defaults, not kept (Train Model… keeps a snapshot)")
                    : QString();
                setCaption(u"<b>" + label.toHtmlEscaped() + u"</b> "
                    + muted(tr("· top %1 of %2 items, the user's %3 history items excluded · %4")
                                .arg(answer.rows.size())
                                .arg(locale.toString(m_dataset->numItems()))
                                .arg(locale.toString(history))
                                .arg(timing)
                        + inMemory));
            }
            m_model->setRows(answer.rows);
            m_shownUser = user;
            emit candidatesShown(user);
        },
        [] {});
}

} // namespace recwb::ui
