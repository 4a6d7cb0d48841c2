#include "users/userstab.h"

#include "common/modelstore.h"
#include "common/modelutil.h"
#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "data/dataset.h"
#include "users/candidatespanel.h"
#include "users/coldbadgedelegate.h"
#include "users/historymodel.h"
#include "users/rerankpanel.h"
#include "users/usersmodel.h"
#include "users/whatifpanel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSplitter>
#include <QStackedWidget>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace recwb::ui {

UsersTab::UsersTab(ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_model(new UsersModel(this))
    , m_history(new HistoryModel(this))
    , m_status(new QComboBox(this))
    , m_filter(new QLineEdit(this))
    , m_count(new QLabel(this))
    , m_view(new QTableView(this))
    , m_userHeader(new QLabel(this))
    , m_historyView(new QTableView(this))
    , m_splitter(new QSplitter(Qt::Horizontal, this))
    , m_detailSplitter(new QSplitter(Qt::Vertical, this))
    , m_candidates(new CandidatesPanel(store, this))
    , m_rerank(new RerankPanel(store, this))
    , m_stages(new QTabWidget(this))
    , m_whatIfToggle(new QPushButton(tr("What-if"), this))
    , m_whatIf(new WhatIfPanel(store, this))
    , m_detailStack(new QStackedWidget(this))
{
    m_status->setObjectName(QStringLiteral("usersStatus"));
    m_status->addItem(tr("All users"), AllUsers);
    m_status->addItem(tr("Cold-start"), ColdUsers);
    m_status->addItem(tr("Warm"), WarmUsers);
    m_status->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_filter->setObjectName(QStringLiteral("usersFilter"));
    m_filter->setPlaceholderText(tr("Filter by id or profile…"));

    m_view->setObjectName(QStringLiteral("usersView"));
    m_proxy = setupSnapshotTable(m_view, m_model, m_filter,
        { { UsersModel::Id, 10 }, { UsersModel::Interactions, 12 }, { UsersModel::Status, 8 } }, UsersModel::Profile,
        UsersModel::Interactions, Qt::DescendingOrder);
    m_view->setItemDelegateForColumn(UsersModel::Status, new ColdBadgeDelegate(m_view));

    m_historyView->setObjectName(QStringLiteral("historyView"));
    m_historyProxy = setupTable(m_historyView, m_history, nullptr,
        { { HistoryModel::Categories, 24 }, { HistoryModel::Value, 7 }, { HistoryModel::Time, 12 } },
        HistoryModel::Title, HistoryModel::Time, Qt::DescendingOrder);

    auto* left = new QWidget(this);
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    auto* bar = new QHBoxLayout;
    bar->addWidget(m_status);
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_count);
    leftLayout->addLayout(bar);
    leftLayout->addWidget(m_view, 1);

    auto* right = new QWidget(this);
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    m_userHeader->setObjectName(QStringLiteral("userHeader"));
    m_userHeader->setWordWrap(true);
    m_userHeader->setTextFormat(Qt::RichText);
    m_userHeader->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_userHeader->setMinimumHeight(m_filter->sizeHint().height());
    auto* compare = new QPushButton(tr("Compare…"), right);
    compare->setObjectName(QStringLiteral("compareUserButton"));
    compare->setToolTip(tr("Open the Compare tab on this user: lists and explanations side by side"));
    connect(compare, &QPushButton::clicked, this, [this] {
        const int user = currentUser();
        if (m_dataset && user >= 0)
            emit compareRequested(m_dataset->users[static_cast<size_t>(user)].externalId);
    });
    m_whatIfToggle->setObjectName(QStringLiteral("whatIfToggle"));
    m_whatIfToggle->setCheckable(true);
    m_whatIfToggle->setEnabled(false);
    m_whatIfToggle->setToolTip(tr("Edit this user's history, profile and stated categories and see the candidates, "
                                  "the rerank and the explanations change. Nothing is stored unless you save the edit "
                                  "as a new synthetic user."));
    connect(m_whatIfToggle, &QPushButton::toggled, this, &UsersTab::setWhatIfMode);
    connect(m_whatIf, &WhatIfPanel::syntheticUserSaved, this, [this](const QString& id) {
        m_selectAfterLoad = id;
        emit syntheticUserSaved(id);
    });
    auto* header = new QHBoxLayout;
    header->addWidget(m_userHeader, 1);
    header->addWidget(m_whatIfToggle, 0, Qt::AlignTop);
    header->addWidget(compare, 0, Qt::AlignTop);
    rightLayout->addLayout(header);
    m_detailSplitter->setObjectName(QStringLiteral("usersDetailSplitter"));
    m_detailSplitter->addWidget(m_historyView);
    m_stages->setObjectName(QStringLiteral("userStages"));
    m_stages->setDocumentMode(true);
    m_stages->addTab(m_candidates, tr("Candidates"));
    m_stages->addTab(m_rerank, tr("Rerank"));
    m_stages->setTabToolTip(0, tr("Stage 1: the CF model's (or the cold-start blend's) candidates"));
    m_stages->setTabToolTip(
        1, tr("Stages 2-3: the candidates reranked by a prompt and an endpoint, with explanations"));
    m_detailSplitter->addWidget(m_stages);
    m_detailSplitter->setChildrenCollapsible(false);
    m_detailSplitter->setStretchFactor(0, 2);
    m_detailSplitter->setStretchFactor(1, 3);
    m_detailSplitter->setSizes({ 220, 460 });
    m_detailStack->setObjectName(QStringLiteral("usersDetailStack"));
    m_detailStack->addWidget(m_detailSplitter);
    m_detailStack->addWidget(m_whatIf);
    rightLayout->addWidget(m_detailStack, 1);

    m_splitter->addWidget(left);
    m_splitter->addWidget(right);
    m_splitter->setChildrenCollapsible(false);
    m_splitter->setStretchFactor(0, 1);
    m_splitter->setStretchFactor(1, 1);
    m_splitter->setSizes({ 480, 780 });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addWidget(m_splitter, 1);

    connect(m_status, &QComboBox::currentIndexChanged, this, &UsersTab::applyStatusFilter);
    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, &UsersTab::updateCount);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &UsersTab::updateCount);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &UsersTab::updateCount);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, &UsersTab::updateCount);
    connect(m_proxy, &SnapshotTableProxy::busyChanged, this, &UsersTab::updateCount);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        [this] { showUser(currentSourceRow(m_view)); });

    connect(m_candidates->modelCombo(), &QComboBox::currentIndexChanged, this, [this] {
        m_rerank->setCfModelKey(m_candidates->currentModelKey());
        m_whatIf->setCfModelKey(m_candidates->currentModelKey());
    });
    // The candidates panel rebuilds its combo on this signal first (connected earlier).
    connect(store, &ModelStore::snapshotsChanged, this, [this] {
        m_rerank->setCfModelKey(m_candidates->currentModelKey());
        m_whatIf->setCfModelKey(m_candidates->currentModelKey());
    });

    showUser(-1);
    updateCount();
}

UsersTab::~UsersTab() = default;

void UsersTab::setWorkspace(
    const QString& path, std::shared_ptr<const Dataset> dataset, std::shared_ptr<const UsersModel::Texts> texts)
{
    setWhatIfMode(false);
    setDataset(dataset, std::move(texts));
    m_whatIf->setWorkspace(path, dataset);
    m_whatIf->setCfModelKey(m_candidates->currentModelKey());
    m_rerank->setWorkspace(path, std::move(dataset));
    m_rerank->setCfModelKey(m_candidates->currentModelKey());
    if (!m_selectAfterLoad.isEmpty()) {
        selectUser(m_selectAfterLoad);
        m_selectAfterLoad.clear();
    }
}

void UsersTab::setWhatIfMode(bool on)
{
    on = on && m_dataset && currentUser() >= 0;
    if (m_whatIfToggle->isChecked() != on) {
        const QSignalBlocker blocker(m_whatIfToggle);
        m_whatIfToggle->setChecked(on);
    }
    m_whatIf->setCfModelKey(m_candidates->currentModelKey());
    m_whatIf->setUser(on ? currentUser() : -1);
    m_detailStack->setCurrentWidget(on ? static_cast<QWidget*>(m_whatIf) : m_detailSplitter);
}

bool UsersTab::selectUser(const QString& externalId)
{
    const int user = m_dataset ? m_dataset->userIndex(externalId) : -1;
    if (user < 0)
        return false;
    for (int pass = 0; pass < 2; ++pass) {
        // The model's row is the user's index: map it, no scan (a million users, issue 13).
        const QModelIndex shown = m_proxy->mapFromSourceRevealing(m_model->index(user, 0));
        if (shown.isValid()) {
            m_view->selectRow(shown.row());
            m_view->scrollTo(shown);
            return true;
        }
        m_filter->clear(); // hidden by a filter: show everyone and look again
        setStatusFilter(AllUsers);
    }
    return false;
}

void UsersTab::setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const UsersModel::Texts> texts)
{
    m_dataset = dataset;
    m_history->setDataset(dataset);
    m_candidates->setDataset(dataset);
    m_model->setDataset(std::move(dataset), std::move(texts));
    showUser(-1);
    updateCount();
}

void UsersTab::setColdThreshold(int threshold)
{
    m_model->setColdThreshold(threshold);
    m_whatIf->setColdThreshold(threshold);
    m_candidates->setColdThreshold(threshold);
    m_rerank->setColdThreshold(threshold);
    applyStatusFilter();
}

void UsersTab::setStatusFilter(StatusFilter filter)
{
    m_status->setCurrentIndex(m_status->findData(filter));
}

bool UsersTab::selectFirstRow()
{
    if (m_proxy->rowCount() == 0)
        return false;
    m_view->selectRow(0);
    m_view->scrollToTop();
    return true;
}

void UsersTab::applyStatusFilter()
{
    const auto filter = static_cast<StatusFilter>(m_status->currentData().toInt());
    if (filter == AllUsers) {
        m_proxy->setRowPredicate({});
        return;
    }
    const bool wantCold = filter == ColdUsers;
    m_proxy->setRowPredicate([this, wantCold](int row) { return m_model->isCold(row) == wantCold; });
}

void UsersTab::updateCount()
{
    const QLocale locale;
    const int total = m_model->rowCount();
    const int shown = m_proxy->allRowCount();
    m_count->setText(shown == total ? tr("%1 users").arg(locale.toString(total))
                                    : tr("%1 of %2 users").arg(locale.toString(shown), locale.toString(total)));
    if (m_proxy->filtering())
        m_count->setText(tr("Filtering %1 users…").arg(locale.toString(total)));
    else if (m_proxy->sorting())
        m_count->setText(tr("Sorting %1 users…").arg(locale.toString(total)));
}

int UsersTab::currentUser() const
{
    return m_history->user();
}

void UsersTab::showUser(int user)
{
    m_history->setUser(user);
    m_candidates->setUser(m_dataset ? user : -1);
    m_rerank->setUser(m_dataset ? user : -1);
    m_whatIfToggle->setEnabled(m_dataset && user >= 0);
    if (m_whatIfToggle->isChecked())
        setWhatIfMode(m_dataset && user >= 0); // the editor follows the selection; an edit is discarded
    if (!m_dataset || user < 0) {
        m_userHeader->setText(
            u"<span style='color:gray'>" + tr("Select a user to see their history.").toHtmlEscaped() + u"</span>");
        return;
    }
    const User& u = m_dataset->users[static_cast<size_t>(user)];
    const int count = m_dataset->interactionCount(user);
    QString text = u"<b style='font-family:monospace'>" + u.externalId.toHtmlEscaped() + u"</b>&nbsp;&nbsp;";
    if (m_model->isCold(user))
        text += u"<span style='background:#dbeafe; color:#1e40af'>&nbsp;" + tr("cold").toHtmlEscaped()
            + u"&nbsp;</span>&nbsp;&nbsp;";
    if (u.isSynthetic())
        text += u"<span style='background:#ede9fe; color:#5b21b6'>&nbsp;"
            + tr("synthetic (from %1)").arg(u.syntheticOf).toHtmlEscaped() + u"&nbsp;</span>&nbsp;&nbsp;";
    text += (count == 1 ? tr("1 interaction") : tr("%1 interactions").arg(QLocale().toString(count))).toHtmlEscaped();
    const QString profile = attributesSummary(u.attributes);
    if (!profile.isEmpty())
        text += u"<br><span style='color:gray'>" + profile.toHtmlEscaped() + u"</span>";
    m_userHeader->setText(text);
}

} // namespace recwb::ui
