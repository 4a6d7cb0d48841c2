#include "data/dataset.h"

namespace recwb {

int32_t Dataset::coldUserCount(int threshold) const
{
    int32_t n = 0;
    for (int32_t u = 0; u < numUsers(); ++u)
        n += isCold(u, threshold) ? 1 : 0;
    return n;
}

QString Dataset::categoryNames(const Item& item, const QString& separator) const
{
    QStringList names;
    names.reserve(static_cast<qsizetype>(item.categories.size()));
    for (const int32_t c : item.categories)
        names << categories.value(c);
    return names.join(separator);
}

void Dataset::rebuildIndexes()
{
    m_userIndex.clear();
    m_itemIndex.clear();
    m_userIndex.reserve(static_cast<qsizetype>(users.size()));
    m_itemIndex.reserve(static_cast<qsizetype>(items.size()));
    for (size_t i = 0; i < users.size(); ++i)
        m_userIndex.insert(users[i].externalId, static_cast<int32_t>(i));
    for (size_t i = 0; i < items.size(); ++i)
        m_itemIndex.insert(items[i].externalId, static_cast<int32_t>(i));
}

} // namespace recwb
