#include "review/reviewmodels.h"

#include <QBrush>
#include <QColor>
#include <QJsonArray>

namespace recwb::ui {

namespace {

    QColor verdictColor(review::Verdict v)
    {
        switch (v) {
        case review::Verdict::Good:
            return QColor(0xd8, 0xf0, 0xd8);
        case review::Verdict::Bad:
            return QColor(0xf6, 0xd5, 0xd5);
        case review::Verdict::Unsure:
            return QColor(0xf6, 0xec, 0xc8);
        case review::Verdict::None:
            break;
        }
        return {};
    }

    QString verdictText(review::Verdict v)
    {
        switch (v) {
        case review::Verdict::Good:
            return QObject::tr("good");
        case review::Verdict::Bad:
            return QObject::tr("bad");
        case review::Verdict::Unsure:
            return QObject::tr("unsure");
        case review::Verdict::None:
            break;
        }
        return {};
    }

} // namespace

// ---------------------------------------------------------------- items

void ReviewItemsModel::setUser(
    const review::QueueUser* user, QHash<QString, std::pair<review::Verdict, QString>> verdicts)
{
    beginResetModel();
    m_items.clear();
    m_verdicts = std::move(verdicts);
    if (user) {
        const QSet<QString> truth(user->truth.begin(), user->truth.end());
        for (const QJsonValue& v : user->items()) {
            const QJsonObject o = v.toObject();
            Row r;
            r.itemId = o.value(QStringLiteral("item_id")).toString();
            r.title = o.value(QStringLiteral("title")).toString();
            r.rank = o.value(QStringLiteral("rank")).toInt();
            r.cfRank = o.value(QStringLiteral("cf_rank")).toInt();
            r.source = user->sourceOf(r.itemId);
            r.usedLater = truth.contains(r.itemId);
            r.explanation = o.value(QStringLiteral("explanation")).toString();
            if (o.value(QStringLiteral("filled")).toBool() && r.explanation.isEmpty())
                r.explanation = tr("(filled from the CF order)");
            for (const QJsonValue& c : o.value(QStringLiteral("claims")).toArray())
                r.claims << c.toString();
            m_items.push_back(std::move(r));
        }
    }
    endResetModel();
}

void ReviewItemsModel::emitRowChanged(const QString& itemId)
{
    for (size_t i = 0; i < m_items.size(); ++i)
        if (m_items[i].itemId == itemId)
            emit dataChanged(index(static_cast<int>(i), 0), index(static_cast<int>(i), NumColumns - 1));
}

void ReviewItemsModel::setVerdict(const QString& itemId, review::Verdict verdict)
{
    m_verdicts[itemId].first = verdict;
    emitRowChanged(itemId);
}

void ReviewItemsModel::setNote(const QString& itemId, const QString& note)
{
    m_verdicts[itemId].second = note;
    emitRowChanged(itemId);
}

QString ReviewItemsModel::itemId(int row) const
{
    return row >= 0 && row < rows() ? m_items[static_cast<size_t>(row)].itemId : QString();
}

QString ReviewItemsModel::explanation(int row) const
{
    return row >= 0 && row < rows() ? m_items[static_cast<size_t>(row)].explanation : QString();
}

QStringList ReviewItemsModel::claims(int row) const
{
    return row >= 0 && row < rows() ? m_items[static_cast<size_t>(row)].claims : QStringList();
}

QString ReviewItemsModel::title(int row) const
{
    return row >= 0 && row < rows() ? m_items[static_cast<size_t>(row)].title : QString();
}

review::Verdict ReviewItemsModel::verdict(int row) const
{
    return m_verdicts.value(itemId(row)).first;
}

QString ReviewItemsModel::note(int row) const
{
    return m_verdicts.value(itemId(row)).second;
}

QString ReviewItemsModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Rank:
        return tr("Rank");
    case Title:
        return tr("Item");
    case CfRank:
        return tr("CF rank");
    case Move:
        return tr("Move");
    case Source:
        return tr("Source");
    case UsedLater:
        return tr("Used later");
    case Explanation:
        return tr("Explanation");
    case Claims:
        return tr("Checks");
    case Verdict:
        return tr("Verdict");
    case Note:
        return tr("Note");
    case NumColumns:
        break;
    }
    return {};
}

QString ReviewItemsModel::headerToolTip(int column) const
{
    switch (static_cast<Column>(column)) {
    case CfRank:
        return tr("Where the candidate source ranked this item before the rerank");
    case Move:
        return tr("Places gained (▲) or lost (▼) against the candidate order");
    case Source:
        return tr("Where the candidate came from: the CF model, or for cold users the cold-start source "
                  "(content, profile, category, popularity)");
    case UsedLater:
        return tr("Simulated cold users: ✓ when the user really went on to use this item (ground truth)");
    case Claims:
        return tr("The automatic faithfulness check: ⚠ unsupported claims of the explanation "
                  "(titles not in the history, categories or years the item does not have)");
    case Verdict:
        return tr("Your verdict: 1 good, 2 bad, 3 unsure");
    default:
        return {};
    }
}

QVariant ReviewItemsModel::cell(int row, int column, int role) const
{
    if (role == SourceRowRole)
        return row;
    const Row& r = m_items[static_cast<size_t>(row)];
    const auto v = m_verdicts.value(r.itemId);
    if (role == Qt::BackgroundRole && v.first != review::Verdict::None)
        return QBrush(verdictColor(v.first));
    if (role == Qt::ForegroundRole && column == Claims && !r.claims.isEmpty())
        return QBrush(QColor(0xb0, 0x20, 0x20));
    if (role == Qt::ToolTipRole) {
        if (column == Claims && !r.claims.isEmpty())
            return r.claims.join(u'\n');
        if (column == Move && r.cfRank > 0)
            return tr("CF rank %1, now %2").arg(r.cfRank).arg(r.rank);
        if (column == Explanation || column == Title)
            return r.explanation;
        return {};
    }
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const bool sort = role == SortRole;
    switch (static_cast<Column>(column)) {
    case Rank:
        return r.rank;
    case Title:
        return r.title.isEmpty() ? r.itemId : r.title;
    case CfRank:
        return r.cfRank > 0 ? QVariant(r.cfRank) : QVariant();
    case Move: {
        if (r.cfRank <= 0)
            return {};
        const int m = r.cfRank - r.rank;
        if (sort)
            return m;
        return m > 0 ? QStringLiteral("▲%1").arg(m) : m < 0 ? QStringLiteral("▼%1").arg(-m) : QStringLiteral("=");
    }
    case Source:
        return r.source;
    case UsedLater:
        return r.usedLater ? QStringLiteral("✓") : QString();
    case Explanation:
        return r.explanation;
    case Claims:
        return r.claims.isEmpty() ? QString() : QStringLiteral("⚠ %1").arg(r.claims.size());
    case Verdict:
        return verdictText(v.first);
    case Note:
        return v.second;
    case NumColumns:
        break;
    }
    return {};
}

// ---------------------------------------------------------------- summary

void ReviewSummaryModel::setRows(std::vector<review::SummaryRow> rows)
{
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

QString ReviewSummaryModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Dimension:
        return tr("By");
    case Value:
        return tr("Value");
    case Good:
        return tr("Good");
    case Bad:
        return tr("Bad");
    case Unsure:
        return tr("Unsure");
    case GoodShare:
        return tr("Good share");
    case NumColumns:
        break;
    }
    return {};
}

QVariant ReviewSummaryModel::cell(int row, int column, int role) const
{
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const review::SummaryRow& r = m_rows[static_cast<size_t>(row)];
    switch (static_cast<Column>(column)) {
    case Dimension:
        return r.dimension;
    case Value:
        return r.value;
    case Good:
        return r.good;
    case Bad:
        return r.bad;
    case Unsure:
        return r.unsure;
    case GoodShare:
        return role == SortRole ? QVariant(r.goodShare()) : QVariant(QString::number(r.goodShare() * 100, 'f', 1) + u'%');
    case NumColumns:
        break;
    }
    return {};
}

// ---------------------------------------------------------------- agreement

void ReviewAgreementModel::setRows(std::vector<review::Agreement> rows)
{
    beginResetModel();
    m_rows = std::move(rows);
    endResetModel();
}

QString ReviewAgreementModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case A:
        return tr("Reviewer A");
    case B:
        return tr("Reviewer B");
    case Users:
        return tr("Users");
    case Items:
        return tr("Items");
    case Observed:
        return tr("Agree");
    case Kappa:
        return tr("Cohen's κ");
    case NumColumns:
        break;
    }
    return {};
}

QString ReviewAgreementModel::headerToolTip(int column) const
{
    if (column == Kappa)
        return tr("Agreement beyond chance over the items both judged (good / bad / unsure): 1 perfect, 0 chance; "
                  "n/a when both gave one and the same verdict throughout");
    if (column == Observed)
        return tr("Share of the common items with the same verdict");
    return {};
}

QVariant ReviewAgreementModel::cell(int row, int column, int role) const
{
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const review::Agreement& r = m_rows[static_cast<size_t>(row)];
    switch (static_cast<Column>(column)) {
    case A:
        return r.a;
    case B:
        return r.b;
    case Users:
        return r.users;
    case Items:
        return r.items;
    case Observed:
        return role == SortRole ? QVariant(r.observed) : QVariant(QString::number(r.observed * 100, 'f', 1) + u'%');
    case Kappa:
        if (!r.kappa)
            return role == SortRole ? QVariant(-2.0) : QVariant(tr("n/a"));
        return role == SortRole ? QVariant(*r.kappa) : QVariant(QString::number(*r.kappa, 'f', 3));
    case NumColumns:
        break;
    }
    return {};
}

} // namespace recwb::ui
