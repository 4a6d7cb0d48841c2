#include "common/userchoicemodel.h"

#include "data/dataset.h"

#include <QCoreApplication>

namespace recwb::ui {

void UserChoiceModel::setDataset(std::shared_ptr<const Dataset> dataset, int coldThreshold)
{
    beginResetModel();
    m_dataset = std::move(dataset);
    m_threshold = coldThreshold;
    endResetModel();
}

int UserChoiceModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() || !m_dataset ? 0 : m_dataset->numUsers();
}

QVariant UserChoiceModel::data(const QModelIndex& index, int role) const
{
    if (!m_dataset || !index.isValid() || index.row() >= m_dataset->numUsers())
        return {};
    const int u = index.row();
    switch (role) {
    case Qt::DisplayRole:
    case Qt::EditRole: {
        const bool cold = m_dataset->isCold(u, m_threshold);
        const auto n = static_cast<int>(m_dataset->userItems.row(u).size());
        return QCoreApplication::translate("recwb::ui::PromptsTab", "%1 (%2, %n interactions)", nullptr, n)
            .arg(m_dataset->users[static_cast<size_t>(u)].externalId,
                cold ? QCoreApplication::translate("recwb::ui::PromptsTab", "cold")
                     : QCoreApplication::translate("recwb::ui::PromptsTab", "warm"));
    }
    case Qt::UserRole:
        return u;
    default:
        return {};
    }
}

int UserChoiceModel::firstWarmRow() const
{
    if (!m_dataset || m_dataset->numUsers() == 0)
        return -1;
    for (int u = 0; u < m_dataset->numUsers(); ++u)
        if (!m_dataset->isCold(u, m_threshold))
            return u;
    return 0;
}

} // namespace recwb::ui
