#include "pipeline/whatif.h"

#include "data/dataset.h"
#include "util/error.h"

#include <QHash>
#include <algorithm>

namespace recwb::pipeline {

rerank::PromptUser whatIfUser(const Dataset& ds, int32_t user, const WhatIfEdit& edit)
{
    if (user < 0 || user >= ds.numUsers())
        throw Error(QStringLiteral("what-if: no user index %1").arg(user));
    const User& u = ds.users[static_cast<size_t>(user)];
    const auto items = ds.userItems.row(user);
    const auto values = ds.userItems.rowValues(user);
    const auto times = ds.userItems.rowTimestamps(user);
    auto itemId = [&](int32_t item) {
        return item >= 0 && item < ds.numItems() ? ds.items[static_cast<size_t>(item)].externalId
                                                 : QString::number(item);
    };
    for (const int32_t item : edit.drop)
        if (std::find(items.begin(), items.end(), item) == items.end())
            throw Error(QStringLiteral("item '%1' is not in the history of user '%2'").arg(itemId(item), u.externalId));
    rerank::PromptUser pu;
    pu.id = u.externalId;
    pu.profile = edit.profile ? *edit.profile : u.attributes;
    qint64 latest = 0;
    double sum = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const qint64 t = i < times.size() ? times[i] : 0;
        const float value = i < values.size() ? values[i] : 1.0f;
        latest = std::max(latest, t);
        sum += value;
        if (!edit.drop.contains(items[i]))
            pu.history.push_back({ items[i], value, t });
    }
    // an added item weighs what the user's items weigh on average, and comes last in time
    const float value = items.empty() ? 1.0f : static_cast<float>(sum / static_cast<double>(items.size()));
    for (const int32_t item : edit.add) {
        if (item < 0 || item >= ds.numItems())
            throw Error(QStringLiteral("no item index %1 in the catalog").arg(item));
        if (std::any_of(
                pu.history.begin(), pu.history.end(), [&](const rerank::HistoryEntry& h) { return h.item == item; }))
            throw Error(QStringLiteral("item '%1' is already in the history").arg(itemId(item)));
        pu.history.push_back({ item, value, latest > 0 ? ++latest : 0 });
    }
    return pu;
}

ListDiff diffLists(std::span<const int32_t> reference, std::span<const int32_t> changed)
{
    QHash<int32_t, int> before;
    for (size_t i = 0; i < reference.size(); ++i)
        before.insert(reference[i], static_cast<int>(i) + 1);
    QHash<int32_t, int> after;
    ListDiff d;
    for (size_t i = 0; i < changed.size(); ++i) {
        const int32_t item = changed[i];
        const int rank = static_cast<int>(i) + 1;
        after.insert(item, rank);
        const auto it = before.constFind(item);
        if (it == before.constEnd())
            d.entering.push_back({ item, rank });
        else if (*it != rank)
            d.moved.push_back({ item, *it, rank });
    }
    for (size_t i = 0; i < reference.size(); ++i)
        if (!after.contains(reference[i]))
            d.leaving.push_back({ reference[i], static_cast<int>(i) + 1 });
    return d;
}

} // namespace recwb::pipeline
