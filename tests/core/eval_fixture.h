#pragma once

// Hand-built datasets for the evaluation tests (tst_splits, tst_metrics, tst_evaluator).

#include "data/csr.h"
#include "data/dataset.h"

#include <QStringList>
#include <algorithm>
#include <tuple>
#include <vector>

namespace recwb::test {

struct Interaction {
    int32_t user;
    int32_t item;
    int64_t ts;
    float value = 1;
};

// users get the given external ids; items are "i0", "i1", ... with the given categories.
inline Dataset makeDataset(const QStringList& userIds, int32_t numItems, std::vector<Interaction> list,
    const std::vector<std::vector<int32_t>>& itemCategories = {}, int numCategories = 0)
{
    Dataset ds;
    for (const QString& id : userIds)
        ds.users.push_back(User { 0, id, {}, {} });
    for (int32_t i = 0; i < numItems; ++i) {
        Item it;
        it.externalId = QStringLiteral("i%1").arg(i);
        it.title = it.externalId;
        if (static_cast<size_t>(i) < itemCategories.size())
            it.categories = itemCategories[static_cast<size_t>(i)];
        ds.items.push_back(std::move(it));
    }
    for (int c = 0; c < numCategories; ++c)
        ds.categories << QStringLiteral("c%1").arg(c);
    std::sort(list.begin(), list.end(),
        [](const Interaction& a, const Interaction& b) { return std::tie(a.user, a.item) < std::tie(b.user, b.item); });
    CsrBuilder b(static_cast<int32_t>(userIds.size()), numItems, true, static_cast<int64_t>(list.size()));
    for (const auto& x : list)
        b.add(x.user, x.item, x.value, x.ts);
    ds.userItems = b.finish();
    ds.itemUsers = ds.userItems.transposed();
    ds.rebuildIndexes();
    return ds;
}

// n users "0".."n-1" and a pseudo-random history each (deterministic, no std random).
inline Dataset makeRandomDataset(int32_t numUsers, int32_t numItems, uint64_t seed = 7)
{
    QStringList ids;
    std::vector<Interaction> list;
    uint64_t s = seed;
    const auto next = [&s] {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<uint32_t>(s >> 33);
    };
    std::vector<std::vector<int32_t>> cats(static_cast<size_t>(numItems));
    for (int32_t i = 0; i < numItems; ++i) {
        cats[static_cast<size_t>(i)].push_back(static_cast<int32_t>(next() % 5));
        if (next() % 3 == 0)
            cats[static_cast<size_t>(i)].push_back(5 + static_cast<int32_t>(next() % 3));
    }
    for (int32_t u = 0; u < numUsers; ++u) {
        ids << QString::number(u);
        const int32_t n = static_cast<int32_t>(next() % 40); // 0..39 interactions, some users cold
        std::vector<char> taken(static_cast<size_t>(numItems), 0);
        for (int32_t k = 0; k < n; ++k) {
            // skewed popularity: low indices more likely
            const int32_t item = static_cast<int32_t>((next() % static_cast<uint32_t>(numItems)) * (next() % 100) / 100);
            if (taken[static_cast<size_t>(item)])
                continue;
            taken[static_cast<size_t>(item)] = 1;
            list.push_back({ u, item, static_cast<int64_t>(next() % 1000), 1.0f + static_cast<float>(next() % 5) });
        }
    }
    return makeDataset(ids, numItems, std::move(list), cats, 8);
}

} // namespace recwb::test
