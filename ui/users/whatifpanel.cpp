#include "users/whatifpanel.h"

#include "cf/recommender.h"
#include "coldstart/coldstart.h"
#include "common/backgroundtask.h"
#include "common/ceilingconfirm.h"
#include "common/modelstore.h"
#include "data/dataset.h"
#include "data/syntheticuser.h"
#include "data/workspace.h"
#include "pipeline/rerankservice.h"
#include "rerank/llmtypes.h"
#include "rerank/store.h"
#include "util/error.h"
#include "util/taskpool.h"

#include <QComboBox>
#include <QCompleter>
#include <QCoreApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPointer>
#include <QPushButton>
#include <QSplitter>
#include <QStringListModel>
#include <QTableWidget>
#include <QThreadPool>
#include <QTimer>
#include <QVBoxLayout>
#include <algorithm>

namespace recwb::ui {

namespace {

    constexpr int kItemRole = Qt::UserRole;
    constexpr int kAddedRole = Qt::UserRole + 1;

    QString muted(const QString& text)
    {
        return u"<span style='color:#6b7280'>" + text.toHtmlEscaped() + u"</span>";
    }

    QString red(const QString& text)
    {
        return u"<span style='color:#b91c1c'>" + text.toHtmlEscaped() + u"</span>";
    }

    struct CandidateLists {
        std::vector<int32_t> real;
        std::vector<int32_t> edited;
    };

    std::vector<int32_t> candidatesFor(const cf::Recommender& model, const coldstart::ColdStartRecommender* blend,
        const cf::History& history, const QJsonObject& profile, const std::vector<int32_t>& stated, bool cold, int n)
    {
        std::vector<int32_t> out;
        if (cold && blend) {
            coldstart::ColdUser cu;
            cu.history = history;
            cu.profile = profile;
            cu.statedCategories = stated;
            for (const coldstart::ColdCandidate& c : blend->recommend(cu, n))
                out.push_back(c.item);
        } else {
            for (const cf::ScoredItem& s : cf::recommend(model, history, n))
                out.push_back(s.item);
        }
        return out;
    }

    // The change of an item against the stored list: "new", "▲3", "▼2" or "".
    void setChange(QTableWidgetItem* cell, const pipeline::ListDiff& diff, int32_t item)
    {
        for (const auto& e : diff.entering)
            if (e.item == item) {
                cell->setText(QObject::tr("new"));
                cell->setBackground(QColor(0xdc, 0xfc, 0xe7));
                cell->setForeground(QColor(0x16, 0x65, 0x34));
                cell->setToolTip(QObject::tr("Not in the stored history's list"));
                return;
            }
        for (const auto& m : diff.moved)
            if (m.item == item) {
                const bool up = m.delta() > 0;
                cell->setText((up ? u"▲" : u"▼") + QString::number(std::abs(m.delta())));
                cell->setForeground(up ? QColor(0x16, 0x65, 0x34) : QColor(0xb9, 0x1c, 0x1c));
                cell->setToolTip(QObject::tr("Rank %1 with the stored history").arg(m.from));
                return;
            }
        cell->setText(QStringLiteral("="));
        cell->setForeground(QColor(0x6b, 0x72, 0x80));
        cell->setToolTip(QObject::tr("Same rank as with the stored history"));
    }

    QTableWidget* makeTable(QWidget* parent, const QStringList& headers, const QString& name)
    {
        auto* t = new QTableWidget(0, static_cast<int>(headers.size()), parent);
        t->setObjectName(name);
        t->setHorizontalHeaderLabels(headers);
        t->verticalHeader()->hide();
        t->setEditTriggers(QAbstractItemView::NoEditTriggers);
        t->setSelectionBehavior(QAbstractItemView::SelectRows);
        t->setAlternatingRowColors(true);
        t->horizontalHeader()->setStretchLastSection(true);
        t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 6);
        return t;
    }

} // namespace

WhatIfPanel::WhatIfPanel(ModelStore* store, QWidget* parent)
    : QWidget(parent)
    , m_store(store)
    , m_threshold(kDefaultColdThreshold)
    , m_debounce(new QTimer(this))
    , m_banner(new QLabel(this))
    , m_reset(new QPushButton(tr("Reset"), this))
    , m_history(new QListWidget(this))
    , m_add(new QLineEdit(this))
    , m_completer(new QCompleter(this))
    , m_catalogModel(new QStringListModel(this))
    , m_profile(new QTableWidget(0, 2, this))
    , m_categories(new QListWidget(this))
    , m_status(new QLabel(this))
    , m_diff(new QLabel(this))
    , m_candidatesTable(makeTable(this, { tr("Rank"), tr("Change"), tr("Item") }, QStringLiteral("whatIfCandidates")))
    , m_rerankTable(
          makeTable(this, { tr("Rank"), tr("Change"), tr("Item"), tr("Explanation") }, QStringLiteral("whatIfRerank")))
    , m_endpoint(new QComboBox(this))
    , m_llm(new QPushButton(tr("Rerank with LLM"), this))
    , m_saveId(new QLineEdit(this))
    , m_save(new QPushButton(tr("Save as synthetic user"), this))
{
    m_debounce->setSingleShot(true);
    m_debounce->setInterval(kDebounceMs);
    connect(m_debounce, &QTimer::timeout, this, &WhatIfPanel::recompute);

    m_banner->setObjectName(QStringLiteral("whatIfBanner"));
    m_banner->setTextFormat(Qt::RichText);
    m_banner->setText(u"<b>" + tr("What-if: nothing is stored.").toHtmlEscaped() + u"</b> "
        + tr("Untick history items, add items, edit the profile: the lists on the right follow, against the stored "
             "history's lists. Only “Save as synthetic user” writes, and then a new user.")
              .toHtmlEscaped());
    m_banner->setWordWrap(true);
    m_banner->setStyleSheet(
        QStringLiteral("QLabel { background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; border-radius: 4px; "
                       "padding: 4px 8px; }"));
    m_reset->setObjectName(QStringLiteral("whatIfReset"));
    m_reset->setToolTip(tr("Back to the stored history, profile and no stated categories"));
    m_saveId->setObjectName(QStringLiteral("whatIfSaveId"));
    m_saveId->setToolTip(tr("The new user's id (must not exist yet)"));
    m_saveId->setMinimumWidth(m_saveId->fontMetrics().horizontalAdvance(QStringLiteral("M")) * 12);
    m_save->setObjectName(QStringLiteral("whatIfSave"));
    m_save->setToolTip(tr("Write this history and profile as a NEW user, marked synthetic (from the source user). "
                          "The source user is not changed; synthetic users are left out of every evaluation."));

    m_history->setObjectName(QStringLiteral("whatIfHistory"));
    m_history->setToolTip(tr("Untick an item to leave it out of the what-if history"));
    m_add->setObjectName(QStringLiteral("whatIfAddItem"));
    m_add->setPlaceholderText(tr("Add item… (title or id)"));
    m_add->setClearButtonEnabled(true);
    m_completer->setModel(m_catalogModel);
    m_completer->setCaseSensitivity(Qt::CaseInsensitive);
    m_completer->setFilterMode(Qt::MatchContains);
    m_completer->setMaxVisibleItems(12);
    m_add->setCompleter(m_completer);
    m_add->setEnabled(false);

    m_profile->setObjectName(QStringLiteral("whatIfProfile"));
    m_profile->setHorizontalHeaderLabels({ tr("Profile field"), tr("Value") });
    m_profile->verticalHeader()->hide();
    m_profile->horizontalHeader()->setStretchLastSection(true);
    m_profile->verticalHeader()->setDefaultSectionSize(m_profile->fontMetrics().height() + 6);
    m_profile->setToolTip(tr("Edit a value (empty = leave the field out). The profile feeds the cold-start blend and "
                             "the prompt."));
    m_categories->setObjectName(QStringLiteral("whatIfCategories"));
    m_categories->setFlow(QListView::LeftToRight);
    m_categories->setWrapping(true);
    m_categories->setResizeMode(QListView::Adjust);
    m_categories->setSelectionMode(QAbstractItemView::NoSelection);
    m_categories->setToolTip(tr("Stated categories: the category source of the cold-start blend (used when the "
                                "what-if history is shorter than the cold threshold)"));

    m_status->setObjectName(QStringLiteral("whatIfStatus"));
    m_status->setTextFormat(Qt::RichText);
    m_status->setWordWrap(true);
    m_diff->setObjectName(QStringLiteral("whatIfDiff"));
    m_diff->setTextFormat(Qt::RichText);
    m_diff->setWordWrap(true);
    m_diff->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_diff->setStyleSheet(QStringLiteral("QLabel { background: palette(base); border: 1px solid palette(mid); "
                                         "border-radius: 4px; padding: 4px 8px; }"));
    m_endpoint->setObjectName(QStringLiteral("whatIfEndpoint"));
    m_endpoint->setToolTip(tr("The LLM endpoint for “Rerank with LLM” (the offline reranker runs on every edit)"));
    m_endpoint->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_llm->setObjectName(QStringLiteral("whatIfLlm"));
    m_llm->setToolTip(tr("Rerank the stored and the edited history with the chosen LLM endpoint: two real calls"));
    m_llm->setEnabled(false);
    m_candidatesTable->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_candidatesTable->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_rerankTable->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_rerankTable->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_rerankTable->setColumnWidth(2, 260);

    // left: the editor
    auto* editor = new QWidget(this);
    auto* left = new QVBoxLayout(editor);
    left->setContentsMargins(0, 0, 0, 0);
    left->addWidget(new QLabel(tr("<b>History</b> (newest first; untick to leave out)"), editor));
    left->addWidget(m_history, 3);
    left->addWidget(m_add);
    left->addWidget(new QLabel(tr("<b>Profile</b>"), editor));
    left->addWidget(m_profile, 1);
    left->addWidget(new QLabel(tr("<b>Stated categories</b> (cold-start blend)"), editor));
    left->addWidget(m_categories, 1);

    // right: the lists and the diff
    auto* results = new QWidget(this);
    auto* right = new QVBoxLayout(results);
    right->setContentsMargins(0, 0, 0, 0);
    right->addWidget(m_status);
    right->addWidget(m_diff);
    auto* rerankBar = new QHBoxLayout;
    rerankBar->addWidget(new QLabel(tr("<b>Rerank</b> top %1 (offline, on every edit)").arg(kTopK), results), 1);
    rerankBar->addWidget(m_endpoint);
    rerankBar->addWidget(m_llm);
    right->addLayout(rerankBar);
    auto* lists = new QSplitter(Qt::Vertical, results);
    lists->setObjectName(QStringLiteral("whatIfListsSplitter"));
    lists->addWidget(m_rerankTable);
    auto* candidatesBox = new QWidget(lists);
    auto* candidatesLayout = new QVBoxLayout(candidatesBox);
    candidatesLayout->setContentsMargins(0, 0, 0, 0);
    candidatesLayout->addWidget(new QLabel(tr("<b>Candidates</b> top %1").arg(kCandidates), candidatesBox));
    candidatesLayout->addWidget(m_candidatesTable, 1);
    lists->addWidget(candidatesBox);
    lists->setChildrenCollapsible(false);
    right->addWidget(lists, 1);

    auto* split = new QSplitter(Qt::Horizontal, this);
    split->setObjectName(QStringLiteral("whatIfSplitter"));
    split->addWidget(editor);
    split->addWidget(results);
    split->setChildrenCollapsible(false);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);

    auto* top = new QHBoxLayout;
    top->addWidget(m_banner, 1);
    top->addWidget(m_reset, 0, Qt::AlignTop);
    top->addSpacing(12);
    top->addWidget(new QLabel(tr("New id:"), this), 0, Qt::AlignVCenter);
    top->addWidget(m_saveId, 0, Qt::AlignVCenter);
    top->addWidget(m_save, 0, Qt::AlignVCenter);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(top);
    layout->addWidget(split, 1);

    connect(m_reset, &QPushButton::clicked, this, &WhatIfPanel::reset);
    connect(m_save, &QPushButton::clicked, this, [this] { save(); });
    connect(m_history, &QListWidget::itemChanged, this, &WhatIfPanel::edited);
    connect(m_categories, &QListWidget::itemChanged, this, &WhatIfPanel::edited);
    connect(m_profile, &QTableWidget::itemChanged, this, &WhatIfPanel::edited);
    auto addFromText = [this](const QString& text) {
        if (!m_dataset)
            return;
        const QString key = text.trimmed();
        int32_t item = m_dataset->itemIndex(key);
        if (item < 0 && key.endsWith(u')')) {
            // a picked "Title (id)": the id is inside the last parentheses
            const auto open = key.lastIndexOf(u'(');
            if (open >= 0)
                item = m_dataset->itemIndex(key.mid(open + 1, key.size() - open - 2));
        }
        if (item < 0) {
            setStatus(red(tr("No catalog item '%1'.").arg(key)));
            return;
        }
        if (addItem(item))
            QTimer::singleShot(0, m_add, &QLineEdit::clear); // after the completer wrote its text
        else
            setStatus(red(tr("%1 is already in the history.").arg(itemLabel(item))));
    };
    connect(m_completer, qOverload<const QString&>(&QCompleter::activated), this, addFromText);
    connect(m_add, &QLineEdit::textEdited, this, [this](const QString& text) {
        if (m_labels)
            searchLabels(text);
    });
    connect(m_add, &QLineEdit::returnPressed, this, [this, addFromText] {
        if (!m_completer->popup()->isVisible())
            addFromText(m_add->text());
    });
    connect(m_llm, &QPushButton::clicked, this, [this] {
        const QString name = m_endpoint->currentData().toString();
        if (!m_endpoints || name.isEmpty() || !m_dataset || m_user < 0)
            return;
        for (const rerank::EndpointProfile& e : *m_endpoints)
            if (e.name == name
                && !confirmCeiling(this, projectCalls(e, nullptr, 2, kCandidates),
                    tr("What-if rerank of user %1 with %2 (%3)")
                        .arg(m_dataset->users[static_cast<size_t>(m_user)].externalId, e.name, e.model)))
                return;
        submitRerank(m_job, name);
    });
    connect(m_store->rerankService(), &pipeline::RerankService::jobFinished, this,
        [this](quint64 job, const pipeline::RerankReply& reply) { onReply(job, reply); });
    connect(m_store, &ModelStore::modelReady, this, [this](const QString& key) {
        if (m_waitingForModel && key == m_cfKey)
            recompute();
    });
    connect(m_store, &ModelStore::modelFailed, this, [this](const QString& key, const QString& message) {
        if (!m_waitingForModel || key != m_cfKey)
            return;
        m_waitingForModel = false;
        setStatus(red(tr("Could not load the CF model: %1").arg(message)));
        emit failed(message);
    });
    setUser(-1);
}

WhatIfPanel::~WhatIfPanel()
{
    if (m_realJob)
        m_store->rerankService()->cancel(m_realJob);
    if (m_editJob)
        m_store->rerankService()->cancel(m_editJob);
    delete m_endpoints;
}

void WhatIfPanel::setWorkspace(const QString& path, std::shared_ptr<const Dataset> dataset)
{
    m_path = path;
    m_dataset = std::move(dataset);
    m_user = -1;
    rebuildCatalog();
    readEndpoints();
    setUser(-1);
}

void WhatIfPanel::setColdThreshold(int threshold)
{
    m_threshold = threshold;
    if (m_user >= 0)
        edited();
}

void WhatIfPanel::setCfModelKey(const QString& key)
{
    if (key == m_cfKey)
        return;
    m_cfKey = key;
    if (m_user >= 0)
        edited();
}

void WhatIfPanel::setUser(int user)
{
    m_user = m_dataset && user >= 0 && user < m_dataset->numUsers() ? user : -1;
    reset();
}

void WhatIfPanel::reset()
{
    m_added.clear();
    rebuildEditor();
    if (m_user >= 0 && m_dataset)
        m_saveId->setText(nextSyntheticId(*m_dataset, m_dataset->users[static_cast<size_t>(m_user)].externalId));
    else
        m_saveId->clear();
    m_save->setEnabled(m_user >= 0 && !m_saving);
    m_reset->setEnabled(m_user >= 0);
    m_llm->setEnabled(m_user >= 0 && !m_endpoint->currentData().toString().isEmpty());
    if (m_user >= 0)
        recompute();
    else {
        ++m_job;
        m_candidatesTable->setRowCount(0);
        m_rerankTable->setRowCount(0);
        m_diff->clear();
        setStatus(muted(tr("Select a user to edit their history.")));
    }
}

QString WhatIfPanel::itemLabel(int32_t item) const
{
    const Item& it = m_dataset->items[static_cast<size_t>(item)];
    return it.title.isEmpty() ? it.externalId : it.title;
}

void WhatIfPanel::rebuildEditor()
{
    const QSignalBlocker a(m_history), b(m_profile), c(m_categories);
    m_history->clear();
    m_profile->setRowCount(0);
    m_categories->clear();
    if (!m_dataset || m_user < 0)
        return;
    for (auto it = m_added.rbegin(); it != m_added.rend(); ++it)
        m_history->addItem(addedRow(*it));
    const auto items = m_dataset->userItems.row(m_user);
    const auto times = m_dataset->userItems.rowTimestamps(m_user);
    std::vector<size_t> order(items.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    if (!times.empty())
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return times[x] > times[y]; });
    for (const size_t i : order) {
        auto* row = new QListWidgetItem(itemLabel(items[i]), m_history);
        row->setData(kItemRole, items[i]);
        row->setData(kAddedRole, false);
        row->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled | Qt::ItemIsSelectable);
        row->setCheckState(Qt::Checked);
        row->setToolTip(
            tr("%1 (id %2)").arg(itemLabel(items[i]), m_dataset->items[static_cast<size_t>(items[i])].externalId));
    }
    const QJsonObject& profile = m_dataset->users[static_cast<size_t>(m_user)].attributes;
    for (auto it = profile.begin(); it != profile.end(); ++it) {
        const int row = m_profile->rowCount();
        m_profile->insertRow(row);
        auto* key = new QTableWidgetItem(it.key());
        key->setFlags(Qt::ItemIsEnabled);
        m_profile->setItem(row, 0, key);
        const QJsonValue v = it.value();
        auto* value = new QTableWidgetItem(v.isString() ? v.toString()
                : v.isDouble()
                ? QString::number(v.toDouble())
                : QString::fromUtf8(QJsonDocument(QJsonArray { v }).toJson(QJsonDocument::Compact)).mid(1).chopped(1));
        value->setData(Qt::UserRole, v.isDouble());
        m_profile->setItem(row, 1, value);
    }
    for (const QString& name : m_dataset->categories) {
        auto* item = new QListWidgetItem(name, m_categories);
        item->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled);
        item->setCheckState(Qt::Unchecked);
    }
}

// The item picker's list, built off the GUI thread (a large catalog has many titles).
void WhatIfPanel::rebuildCatalog()
{
    const quint64 job = ++m_catalogJob;
    ++*m_search;
    m_labels.reset();
    m_catalogModel->setStringList({});
    m_add->setEnabled(false);
    if (!m_dataset)
        return;
    auto future = runTask([dataset = m_dataset](const TaskControl&) {
        QStringList labels;
        labels.reserve(static_cast<qsizetype>(dataset->items.size()));
        for (const Item& item : dataset->items)
            labels << QStringLiteral("%1 (%2)").arg(
                item.title.isEmpty() ? item.externalId : item.title, item.externalId);
        return labels;
    });
    continueOn(
        future, this,
        [this, job](const TaskResult<QStringList>& result) {
            if (job != m_catalogJob || !result.value)
                return;
            if (result.value->size() >= kSearchOffThreadItems) {
                m_labels = std::make_shared<const QStringList>(std::move(*result.value));
                m_catalogModel->setStringList({});
                m_completer->setCompletionMode(QCompleter::UnfilteredPopupCompletion);
            } else {
                m_labels.reset();
                m_catalogModel->setStringList(*result.value);
                m_completer->setCompletionMode(QCompleter::PopupCompletion);
            }
            m_add->setEnabled(true);
        },
        [] {});
}

void WhatIfPanel::searchLabels(const QString& text)
{
    const quint64 job = ++*m_search;
    const QString needle = text.trimmed();
    if (!m_labels || needle.size() < 2) {
        m_catalogModel->setStringList({});
        return;
    }
    QPointer<WhatIfPanel> self(this);
    taskPool()->start([labels = m_labels, needle, job, current = m_search, self] {
        QStringList matches;
        for (qsizetype i = 0; i < labels->size() && matches.size() < kMaxMatches; ++i) {
            if ((i & 4095) == 0 && current->load() != job)
                return; // a newer keystroke
            if ((*labels)[i].contains(needle, Qt::CaseInsensitive))
                matches << (*labels)[i];
        }
        QCoreApplication* app = QCoreApplication::instance();
        if (current->load() != job || !app)
            return;
        QMetaObject::invokeMethod(
            app,
            [self, job, matches = std::move(matches)] {
                if (!self || self->m_search->load() != job)
                    return;
                self->m_catalogModel->setStringList(matches);
                if (!matches.isEmpty() && self->m_add->hasFocus())
                    self->m_completer->complete();
            },
            Qt::QueuedConnection);
    });
}

void WhatIfPanel::readEndpoints()
{
    const quint64 job = ++m_endpointJob;
    m_endpoint->clear();
    m_llm->setEnabled(false);
    if (m_path.isEmpty())
        return;
    auto future = runTask([path = m_path](const TaskControl&) {
        const auto ws = Workspace::open(path);
        return rerank::store::listEndpoints(*ws);
    });
    continueOn(
        future, this,
        [this, job](const TaskResult<QList<rerank::EndpointProfile>>& result) {
            if (job != m_endpointJob || !result.value)
                return;
            delete m_endpoints;
            m_endpoints = new QList<rerank::EndpointProfile>(*result.value);
            for (const rerank::EndpointProfile& e : *m_endpoints) {
                if (e.kind == rerank::ProviderKind::Offline)
                    m_offlineEndpoint = e.name;
                else
                    m_endpoint->addItem(tr("%1 (%2)").arg(e.name, e.model), e.name);
            }
            if (m_endpoint->count() == 0)
                m_endpoint->addItem(tr("no LLM endpoint"));
            m_endpoint->setEnabled(!m_endpoint->currentData().toString().isEmpty());
            m_llm->setEnabled(m_user >= 0 && m_endpoint->isEnabled());
        },
        [] {});
}

QListWidgetItem* WhatIfPanel::addedRow(int32_t item) const
{
    auto* row = new QListWidgetItem(u"+ " + itemLabel(item) + u"  " + tr("(added)"));
    row->setData(kItemRole, item);
    row->setData(kAddedRole, true);
    row->setFlags(Qt::ItemIsUserCheckable | Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    row->setCheckState(Qt::Checked);
    row->setForeground(QColor(0x16, 0x65, 0x34));
    row->setToolTip(tr("Added in this what-if (id %1)").arg(m_dataset->items[static_cast<size_t>(item)].externalId));
    return row;
}

bool WhatIfPanel::addItem(int32_t item)
{
    if (!m_dataset || m_user < 0 || item < 0 || item >= m_dataset->numItems())
        return false;
    for (int i = 0; i < m_history->count(); ++i) {
        QListWidgetItem* row = m_history->item(i);
        if (row->data(kItemRole).toInt() == item) {
            if (row->checkState() == Qt::Checked)
                return false;
            row->setCheckState(Qt::Checked); // a stored item ticked back in
            return true;
        }
    }
    m_added.push_back(item);
    {
        const QSignalBlocker blocker(m_history);
        m_history->insertItem(0, addedRow(item));
    }
    edited();
    return true;
}

QJsonObject WhatIfPanel::editedProfile() const
{
    QJsonObject profile;
    for (int r = 0; r < m_profile->rowCount(); ++r) {
        const QString key = m_profile->item(r, 0)->text();
        const QTableWidgetItem* cell = m_profile->item(r, 1);
        const QString text = cell ? cell->text().trimmed() : QString();
        if (text.isEmpty())
            continue;
        bool ok = false;
        const double number = text.toDouble(&ok);
        if (cell->data(Qt::UserRole).toBool() && ok)
            profile.insert(key, number);
        else
            profile.insert(key, text);
    }
    return profile;
}

std::vector<int32_t> WhatIfPanel::statedCategories() const
{
    std::vector<int32_t> stated;
    for (int i = 0; i < m_categories->count(); ++i)
        if (m_categories->item(i)->checkState() == Qt::Checked)
            stated.push_back(i);
    return stated;
}

rerank::PromptUser WhatIfPanel::editedUser() const
{
    pipeline::WhatIfEdit edit;
    for (int i = 0; i < m_history->count(); ++i) {
        const QListWidgetItem* row = m_history->item(i);
        const auto item = static_cast<int32_t>(row->data(kItemRole).toInt());
        const bool added = row->data(kAddedRole).toBool();
        if (!added && row->checkState() != Qt::Checked)
            edit.drop.insert(item);
    }
    for (const int32_t item : m_added) // oldest first
        for (int i = 0; i < m_history->count(); ++i)
            if (m_history->item(i)->data(kAddedRole).toBool() && m_history->item(i)->data(kItemRole).toInt() == item
                && m_history->item(i)->checkState() == Qt::Checked)
                edit.add.push_back(item);
    edit.profile = editedProfile();
    return pipeline::whatIfUser(*m_dataset, m_user, edit);
}

std::optional<rerank::PromptUser> WhatIfPanel::tryEditedUser()
{
    try {
        return editedUser();
    } catch (const Error& e) {
        setStatus(red(e.message()));
        return std::nullopt;
    }
}

void WhatIfPanel::edited()
{
    if (m_user < 0)
        return;
    ++m_job; // what is shown no longer applies
    setStatus(muted(tr("Updating…")));
    m_debounce->start();
}

void WhatIfPanel::setStatus(const QString& html)
{
    m_status->setText(html);
}

void WhatIfPanel::recompute()
{
    m_debounce->stop();
    const quint64 job = ++m_job;
    m_waitingForModel = false;
    if (!m_dataset || m_user < 0)
        return;
    if (m_cfKey.isEmpty()) {
        setStatus(muted(tr("No model to score with.")));
        return;
    }
    if (!m_store->request(m_cfKey, true)) {
        m_waitingForModel = true;
        setStatus(muted(tr("Loading the CF model…")));
        return;
    }
    setStatus(muted(tr("Computing candidates and the offline rerank…")));
    computeCandidates(job);
    submitRerank(job, m_offlineEndpoint);
}

void WhatIfPanel::computeCandidates(quint64 job)
{
    const std::optional<rerank::PromptUser> edit = tryEditedUser();
    if (!edit)
        return;
    auto future = runTask([dataset = m_dataset, model = m_store->model(m_cfKey), blend = m_store->coldStart(m_cfKey),
                              user = m_user, edit = *edit, stated = statedCategories(),
                              threshold = m_threshold](const TaskControl&) {
        CandidateLists lists;
        lists.real = candidatesFor(*model, blend.get(), cf::History::ofUser(dataset->userItems, user),
            dataset->users[static_cast<size_t>(user)].attributes, {}, dataset->isCold(user, threshold), kCandidates);
        std::vector<std::pair<int32_t, float>> rows; // sorted by item, as the models expect
        for (const rerank::HistoryEntry& h : edit.history)
            rows.emplace_back(h.item, h.value);
        std::sort(rows.begin(), rows.end());
        std::vector<int32_t> items;
        std::vector<float> values;
        for (const auto& [item, value] : rows) {
            items.push_back(item);
            values.push_back(value);
        }
        lists.edited = candidatesFor(*model, blend.get(), cf::History::adHoc(items, values), edit.profile, stated,
            static_cast<int>(items.size()) < threshold, kCandidates);
        return lists;
    });
    continueOn(
        future, this,
        [this, job](const TaskResult<CandidateLists>& result) {
            if (job != m_job)
                return;
            if (!result.value) {
                setStatus(red(tr("Could not compute candidates: %1").arg(result.error)));
                emit failed(result.error);
                return;
            }
            m_realCandidates = result.value->real;
            m_candidates = result.value->edited;
            m_candidateDiff = pipeline::diffLists(m_realCandidates, m_candidates);
            showCandidates();
        },
        [] {});
}

void WhatIfPanel::submitRerank(quint64 job, const QString& endpoint)
{
    Q_UNUSED(job)
    auto* service = m_store->rerankService();
    if (m_realJob)
        service->cancel(m_realJob);
    if (m_editJob)
        service->cancel(m_editJob);
    m_realJob = m_editJob = 0;
    m_realRerank.reset();
    m_editRerank.reset();
    const std::optional<rerank::PromptUser> edit = tryEditedUser();
    if (!edit)
        return;
    pipeline::BatchOptions options;
    options.prompt = QStringLiteral("listwise");
    options.coldPrompt = QStringLiteral("coldstart");
    options.cascade = { endpoint };
    options.candidates = kCandidates;
    options.k = kTopK;
    options.concurrency = 1;
    options.storeRun = false; // a what-if is never stored
    pipeline::RerankRequest request;
    request.dataset = m_dataset;
    request.cfModel = m_store->model(m_cfKey);
    request.coldStart = m_store->coldStart(m_cfKey);
    request.coldThreshold = m_threshold;
    request.options = options;
    pipeline::RerankRequest real = request;
    real.users = { m_user };
    request.whatIf = edit;
    m_rerankBy = endpoint;
    if (endpoint != m_offlineEndpoint)
        setStatus(muted(tr("Waiting for %1 (two calls: the stored and the edited history)…").arg(endpoint)));
    m_realJob = service->submit(std::move(real));
    m_editJob = service->submit(std::move(request));
}

void WhatIfPanel::onReply(quint64 job, const pipeline::RerankReply& reply)
{
    if (job != m_realJob && job != m_editJob)
        return;
    const bool real = job == m_realJob;
    (real ? m_realJob : m_editJob) = 0;
    const pipeline::BatchReport& report = reply.report;
    if (!report.error.isEmpty() || report.canceled || report.outcomes.empty()) {
        if (!report.error.isEmpty()) {
            setStatus(red(tr("Could not rerank: %1").arg(report.error)));
            emit failed(report.error);
        }
        return;
    }
    auto items = std::make_unique<QList<rerank::RankedItem>>(report.outcomes.front().result.items);
    (real ? m_realRerank : m_editRerank) = std::move(items);
    if (m_realRerank && m_editRerank)
        showRerank();
}

void WhatIfPanel::setRankAndChange(QTableWidget* table, int row, int rank, const pipeline::ListDiff& diff, int32_t item)
{
    auto* rankCell = new QTableWidgetItem(QString::number(rank));
    rankCell->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    table->setItem(row, 0, rankCell);
    auto* change = new QTableWidgetItem;
    change->setTextAlignment(Qt::AlignCenter);
    setChange(change, diff, item);
    table->setItem(row, 1, change);
}

QSet<int32_t> WhatIfPanel::tickedOut() const
{
    QSet<int32_t> out;
    for (int i = 0; i < m_history->count(); ++i)
        if (!m_history->item(i)->data(kAddedRole).toBool() && m_history->item(i)->checkState() != Qt::Checked)
            out.insert(static_cast<int32_t>(m_history->item(i)->data(kItemRole).toInt()));
    return out;
}

// An item's title; an item ticked out of the history says so (it is a candidate again
// because the edited history no longer has it).
QTableWidgetItem* WhatIfPanel::titleCell(int32_t item, const QSet<int32_t>& tickedOut) const
{
    const QString id = m_dataset->items[static_cast<size_t>(item)].externalId;
    if (!tickedOut.contains(item)) {
        auto* cell = new QTableWidgetItem(itemLabel(item));
        cell->setToolTip(tr("%1 (id %2)").arg(itemLabel(item), id));
        return cell;
    }
    auto* cell = new QTableWidgetItem(itemLabel(item) + u"  " + tr("(ticked out)"));
    cell->setToolTip(
        tr("%1 (id %2) is in the stored history; ticked out here, so it may be recommended").arg(itemLabel(item), id));
    return cell;
}

void WhatIfPanel::showCandidates()
{
    const QSet<int32_t> tickedOut = this->tickedOut();
    m_candidatesTable->setRowCount(static_cast<int>(m_candidates.size()));
    for (size_t i = 0; i < m_candidates.size(); ++i) {
        const int row = static_cast<int>(i);
        setRankAndChange(m_candidatesTable, row, row + 1, m_candidateDiff, m_candidates[i]);
        m_candidatesTable->setItem(row, 2, titleCell(m_candidates[i], tickedOut));
    }
    updateDiffText();
    emit candidatesUpdated();
}

void WhatIfPanel::showRerank()
{
    std::vector<int32_t> real, edit;
    for (const rerank::RankedItem& r : *m_realRerank)
        real.push_back(r.item);
    for (const rerank::RankedItem& r : *m_editRerank)
        edit.push_back(r.item);
    m_rerankDiff = pipeline::diffLists(real, edit);
    const QSet<int32_t> tickedOut = this->tickedOut();
    m_rerankTable->setRowCount(static_cast<int>(edit.size()));
    for (qsizetype i = 0; i < m_editRerank->size(); ++i) {
        const rerank::RankedItem& r = m_editRerank->at(i);
        const int row = static_cast<int>(i);
        setRankAndChange(m_rerankTable, row, r.rank, m_rerankDiff, r.item);
        m_rerankTable->setItem(row, 2, titleCell(r.item, tickedOut));
        auto* why = new QTableWidgetItem(r.filled ? tr("(filled from the CF order)") : r.explanation);
        why->setToolTip(r.explanation);
        m_rerankTable->setItem(row, 3, why);
    }
    updateDiffText();
    emit rerankUpdated();
}

void WhatIfPanel::updateDiffText()
{
    if (!m_dataset || m_user < 0)
        return;
    auto summary = [](const pipeline::ListDiff& d) {
        return tr("%1 entering · %2 leaving · %3 moved")
            .arg(d.entering.size())
            .arg(d.leaving.size())
            .arg(d.moved.size());
    };
    auto leavingText = [this](const pipeline::ListDiff& d, size_t max) {
        QStringList parts;
        for (size_t i = 0; i < std::min(max, d.leaving.size()); ++i)
            parts << tr("%1 (was #%2)").arg(itemLabel(d.leaving[i].item)).arg(d.leaving[i].rank);
        if (d.leaving.size() > max)
            parts << tr("%1 more").arg(d.leaving.size() - max);
        return parts.join(QStringLiteral(", "));
    };
    const rerank::PromptUser edit = [this] {
        try {
            return editedUser();
        } catch (const Error&) {
            return rerank::PromptUser {};
        }
    }();
    const int stored = m_dataset->interactionCount(m_user);
    const bool cold = static_cast<int>(edit.history.size()) < m_threshold;
    QString html = u"<b>" + tr("Against the stored history").toHtmlEscaped() + u"</b> "
        + muted(tr("(%1 → %2 interactions%3)")
                    .arg(stored)
                    .arg(edit.history.size())
                    .arg(cold ? tr(", cold-start blend") : QString()));
    const bool rerankShown = m_realRerank && m_editRerank;
    if (rerankShown) {
        html += u"<br><b>" + tr("Rerank top %1:").arg(kTopK).toHtmlEscaped() + u"</b> "
            + summary(m_rerankDiff).toHtmlEscaped();
        if (!m_rerankDiff.leaving.empty())
            html += u"<br>&nbsp;&nbsp;" + red(tr("leaving: %1").arg(leavingText(m_rerankDiff, 5)));
    }
    html += u"<br><b>" + tr("Candidates top %1:").arg(kCandidates).toHtmlEscaped() + u"</b> "
        + summary(m_candidateDiff).toHtmlEscaped();
    if (!m_candidateDiff.leaving.empty())
        html += u"<br>&nbsp;&nbsp;" + red(tr("leaving: %1").arg(leavingText(m_candidateDiff, 5)));
    m_diff->setText(html);
    setStatus(muted(
        rerankShown ? tr("Reranked by %1; nothing stored.").arg(m_rerankBy) : tr("Candidates updated; reranking…")));
}

bool WhatIfPanel::save()
{
    if (!m_dataset || m_user < 0 || m_path.isEmpty() || m_saving)
        return false;
    SyntheticUser su;
    su.externalId = m_saveId->text().trimmed();
    su.syntheticOf = m_dataset->users[static_cast<size_t>(m_user)].externalId;
    try {
        const rerank::PromptUser edit = editedUser();
        su.attributes = edit.profile;
        for (const rerank::HistoryEntry& h : edit.history)
            su.history.push_back({ m_dataset->items[static_cast<size_t>(h.item)].externalId, h.value, h.timestamp });
    } catch (const Error& e) {
        emit saveFailed(e.message());
        return false;
    }
    QStringList stated;
    for (const int32_t c : statedCategories())
        stated << m_dataset->categories.at(c);
    if (!stated.isEmpty())
        su.attributes.insert(QStringLiteral("stated_categories"), stated.join(QStringLiteral(", ")));
    m_saving = true;
    m_save->setEnabled(false);
    setStatus(muted(tr("Saving %1…").arg(su.externalId)));
    auto future = runTask([path = m_path, su](const TaskControl&) {
        const auto ws = Workspace::open(path);
        saveSyntheticUser(*ws, su);
        return su.externalId;
    });
    continueOn(
        future, this,
        [this](const TaskResult<QString>& result) {
            m_saving = false;
            m_save->setEnabled(m_user >= 0);
            if (!result.value) {
                setStatus(red(tr("Not saved: %1").arg(result.error)));
                emit saveFailed(result.error);
                return;
            }
            setStatus(muted(tr("Saved as synthetic user %1.").arg(*result.value)));
            emit syntheticUserSaved(*result.value);
        },
        [this] {
            m_saving = false;
            m_save->setEnabled(m_user >= 0);
        });
    return true;
}

} // namespace recwb::ui
