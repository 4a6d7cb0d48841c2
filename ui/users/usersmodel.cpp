#include "users/usersmodel.h"

#include "common/modelutil.h"
#include "common/offthread.h"

#include <QColor>

namespace recwb::ui {

UsersModel::~UsersModel() = default;

std::shared_ptr<const UsersModel::Texts> UsersModel::textsOf(const Dataset& dataset)
{
    Texts t;
    const auto& users = dataset.users;
    t.profiles.reserve(users.size());
    t.search.reserve(users.size());
    for (const User& user : users) {
        t.profiles.push_back(attributesSummary(user.attributes));
        t.search.push_back(QString(user.externalId + u'\n' + t.profiles.back()).toCaseFolded());
    }
    t.numericIds = allNumeric(users, [](const User& user) { return user.externalId; });
    return shareReleasedOffGuiThread(std::move(t)); // a million texts take a while to free
}

void UsersModel::setDataset(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Texts> texts)
{
    if (dataset && (!texts || texts->search.size() != dataset->users.size()))
        texts = textsOf(*dataset);
    beginResetModel();
    m_dataset = std::move(dataset);
    m_texts = texts ? std::move(texts) : std::make_shared<Texts>();
    endResetModel();
}

void UsersModel::setColdThreshold(int threshold)
{
    if (threshold == m_coldThreshold)
        return;
    beginResetModel();
    m_coldThreshold = threshold;
    endResetModel();
}

QStringView UsersModel::searchText(int row) const
{
    return m_texts->search[static_cast<size_t>(row)];
}

std::shared_ptr<const std::vector<QString>> UsersModel::sharedSearchTexts() const
{
    return { m_texts, &m_texts->search }; // shares ownership of the texts
}

int UsersModel::rows() const
{
    return m_dataset ? m_dataset->numUsers() : 0;
}

QString UsersModel::headerText(int column) const
{
    switch (static_cast<Column>(column)) {
    case Id:
        return tr("ID");
    case Interactions:
        return tr("Interactions");
    case Status:
        return tr("Status");
    case Profile:
        return tr("Profile");
    case NumColumns:
        break;
    }
    return {};
}

QString UsersModel::headerToolTip(int column) const
{
    if (column == Status)
        return tr("Cold-start users have fewer than %1 interactions").arg(m_coldThreshold);
    return {};
}

QVariant UsersModel::sortKey(const Dataset& dataset, const Texts& texts, int coldThreshold, int row, int column)
{
    const auto r = static_cast<size_t>(row);
    switch (static_cast<Column>(column)) {
    case Id:
        return idSortKey(dataset.users[r].externalId, texts.numericIds);
    case Interactions:
        return dataset.interactionCount(row);
    case Status:
        return dataset.isCold(row, coldThreshold) ? 0 : 1;
    case Profile:
    case NumColumns:
        break;
    }
    return texts.profiles[r];
}

std::function<QVariant(int)> UsersModel::sortKeyReader(int column) const
{
    if (!m_dataset || column < 0 || column >= NumColumns)
        return {};
    return [dataset = m_dataset, texts = m_texts, threshold = m_coldThreshold, column](
               int row) { return sortKey(*dataset, *texts, threshold, row, column); };
}

QVariant UsersModel::cell(int row, int column, int role) const
{
    const auto r = static_cast<size_t>(row);
    const User& user = m_dataset->users[r];
    switch (role) {
    case Qt::DisplayRole:
        switch (static_cast<Column>(column)) {
        case Id:
            return user.externalId;
        case Interactions:
            return m_dataset->interactionCount(row);
        case Status:
            if (user.isSynthetic())
                return isCold(row) ? tr("cold · synthetic") : tr("warm · synthetic");
            return isCold(row) ? tr("cold") : tr("warm");
        case Profile:
            return m_texts->profiles[r];
        case NumColumns:
            break;
        }
        break;
    case SortRole:
        return sortKey(*m_dataset, *m_texts, m_coldThreshold, row, column);
    case Qt::ToolTipRole:
        if (column == Profile)
            return attributesSummary(user.attributes, QStringLiteral("\n"));
        if (user.isSynthetic() && (column == Id || column == Status))
            return tr("Synthetic user saved from a what-if of %1: left out of every evaluation").arg(user.syntheticOf);
        if (column == Status && isCold(row))
            return tr("Cold-start user: fewer than %1 interactions").arg(m_coldThreshold);
        break;
    case Qt::ForegroundRole:
        if (column == Id && user.isSynthetic())
            return QColor(0x5b, 0x21, 0xb6);
        break;
    case Qt::FontRole:
        if (column == Id)
            return monospaceFont();
        break;
    case ColdRole:
        return isCold(row);
    case SourceRowRole:
        return row;
    default:
        break;
    }
    return {};
}

} // namespace recwb::ui
