#include "catalog/catalogtab.h"

#include "catalog/catalogmodel.h"
#include "common/htmlutil.h"
#include "common/modelutil.h"
#include "common/snapshotproxy.h"
#include "common/tablefilterproxy.h"
#include "common/tableutil.h"
#include "data/dataset.h"

#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QSplitter>
#include <QTableView>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace recwb::ui {

CatalogTab::CatalogTab(QWidget* parent)
    : QWidget(parent)
    , m_model(new CatalogModel(this))
    , m_filter(new QLineEdit(this))
    , m_count(new QLabel(this))
    , m_view(new QTableView(this))
    , m_splitter(new QSplitter(Qt::Horizontal, this))
    , m_detail(new QTextBrowser(this))
{
    m_filter->setObjectName(QStringLiteral("catalogFilter"));
    m_filter->setPlaceholderText(tr("Filter by title, category or tag…"));
    m_count->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* bar = new QHBoxLayout;
    bar->addWidget(m_filter, 1);
    bar->addWidget(m_count);

    m_view->setObjectName(QStringLiteral("catalogView"));
    m_proxy = setupSnapshotTable(m_view, m_model, m_filter,
        { { CatalogModel::Id, 8 }, { CatalogModel::Categories, 26 }, { CatalogModel::Tags, 20 },
            { CatalogModel::Year, 6 }, { CatalogModel::Interactions, 7 } },
        CatalogModel::Title, CatalogModel::Interactions, Qt::DescendingOrder);

    m_detail->setObjectName(QStringLiteral("itemDetail"));
    m_detail->setOpenLinks(false);
    m_detail->setMinimumWidth(260);

    m_splitter->addWidget(m_view);
    m_splitter->addWidget(m_detail);
    m_splitter->setStretchFactor(0, 3);
    m_splitter->setStretchFactor(1, 1);
    m_splitter->setChildrenCollapsible(false);
    m_splitter->setSizes({ 900, 340 });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(bar);
    layout->addWidget(m_splitter, 1);

    connect(m_proxy, &QAbstractItemModel::rowsInserted, this, &CatalogTab::updateCount);
    connect(m_proxy, &QAbstractItemModel::rowsRemoved, this, &CatalogTab::updateCount);
    connect(m_proxy, &QAbstractItemModel::modelReset, this, &CatalogTab::updateCount);
    connect(m_proxy, &QAbstractItemModel::layoutChanged, this, &CatalogTab::updateCount);
    connect(m_proxy, &SnapshotTableProxy::busyChanged, this, &CatalogTab::updateCount);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        [this] { showItem(currentSourceRow(m_view)); });

    showItem(-1);
    updateCount();
}

CatalogTab::~CatalogTab() = default;

void CatalogTab::setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const CatalogModel::Texts> texts)
{
    m_dataset = dataset;
    m_model->setDataset(std::move(dataset), std::move(texts));
    showItem(-1);
    updateCount();
}

void CatalogTab::updateCount()
{
    const QLocale locale;
    const int total = m_model->rowCount();
    const int shown = m_proxy->allRowCount();
    m_count->setText(shown == total ? tr("%1 items").arg(locale.toString(total))
                                    : tr("%1 of %2 items").arg(locale.toString(shown), locale.toString(total)));
    if (m_proxy->filtering())
        m_count->setText(tr("Filtering %1 items…").arg(locale.toString(total)));
    else if (m_proxy->sorting())
        m_count->setText(tr("Sorting %1 items…").arg(locale.toString(total)));
}

void CatalogTab::showItem(int row)
{
    if (!m_dataset || row < 0 || row >= m_dataset->numItems()) {
        m_detail->setHtml(placeholderHtml(tr("Select an item to see its details.")));
        return;
    }
    const Item& item = m_dataset->items[static_cast<size_t>(row)];
    const QLocale locale;
    QString html = htmlHeader();
    html += u"<h2>" + item.title.toHtmlEscaped() + u"</h2>";
    QStringList facts;
    facts << u"<span class='mono'>" + item.externalId.toHtmlEscaped() + u"</span>";
    if (item.year > 0)
        facts << QString::number(item.year);
    facts << tr("%1 users").arg(locale.toString(m_dataset->itemUsers.rowLength(row)));
    html += u"<p class='muted'>" + facts.join(QStringLiteral(" · ")) + u"</p>";
    html += htmlField(tr("Categories"), m_model->categoriesText(row));
    html += htmlField(tr("Tags"), m_model->tagsText(row));
    html += htmlField(tr("Description"), item.description);
    if (!item.attributes.isEmpty()) {
        html += u"<h4>" + tr("Attributes").toHtmlEscaped() + u"</h4><table cellspacing='0' cellpadding='2'>";
        for (auto it = item.attributes.begin(); it != item.attributes.end(); ++it)
            html += u"<tr><td class='muted'>" + it.key().toHtmlEscaped() + u"&nbsp;&nbsp;</td><td>"
                + attributeText(it.value()).toHtmlEscaped() + u"</td></tr>";
        html += u"</table>";
    }
    m_detail->setHtml(html);
}

} // namespace recwb::ui
