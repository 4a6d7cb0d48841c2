#pragma once

#include "data/csr.h"

#include <QHash>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <vector>

namespace recwb {

// Users with fewer interactions than this are cold-start users (configurable where used).
inline constexpr int kDefaultColdThreshold = 5;

struct Item {
    qint64 dbId = 0; // row id in the workspace
    QString externalId;
    QString title;
    QString description;
    std::vector<int32_t> categories; // indices into Dataset::categories
    QStringList tags; // distinct, most used first
    int year = 0; // 0 = unknown
    QJsonObject attributes;
};

struct User {
    qint64 dbId = 0;
    QString externalId;
    QJsonObject attributes; // profile: age, gender, occupation, ...
    // Not a real user: saved from a what-if history (schema v6 users.synthetic_of); the
    // external id of the user it was edited from, or "-" when it was built from nothing.
    QString syntheticOf;
    bool isSynthetic() const { return !syntheticOf.isEmpty(); }
};

// The in-memory view of a workspace: built once per load, then read-only and
// safe to share between threads.
class Dataset {
public:
    std::vector<Item> items;
    std::vector<User> users;
    QStringList categories;
    Csr userItems; // users x items, with timestamps
    Csr itemUsers; // items x users, without timestamps

    int32_t numUsers() const { return static_cast<int32_t>(users.size()); }
    int32_t numItems() const { return static_cast<int32_t>(items.size()); }
    int64_t numInteractions() const { return userItems.nnz(); }
    int32_t interactionCount(int32_t user) const { return userItems.rowLength(user); }
    bool isCold(int32_t user, int threshold = kDefaultColdThreshold) const
    {
        return interactionCount(user) < threshold;
    }
    int32_t coldUserCount(int threshold = kDefaultColdThreshold) const;

    int32_t userIndex(const QString& externalId) const { return m_userIndex.value(externalId, -1); }
    int32_t itemIndex(const QString& externalId) const { return m_itemIndex.value(externalId, -1); }
    QString categoryNames(const Item& item, const QString& separator = QStringLiteral(", ")) const;

    void rebuildIndexes();
    size_t interactionMemoryBytes() const { return userItems.memoryBytes() + itemUsers.memoryBytes(); }

private:
    QHash<QString, int32_t> m_userIndex;
    QHash<QString, int32_t> m_itemIndex;
};

} // namespace recwb
