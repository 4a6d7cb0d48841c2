#include "eval/usersplit.h"

#include "util/error.h"

#include <algorithm>

namespace recwb::eval {

bool UserSplit::isHeldOut(int32_t item) const
{
    return std::binary_search(heldOut.begin(), heldOut.end(), item);
}

Accuracy UserSplit::accuracy(std::span<const int32_t> ranked, int k) const
{
    return accuracyAtK(ranked, heldOut, k);
}

std::shared_ptr<Dataset> datasetWithInteractions(const Dataset& ds, Csr userItems)
{
    auto out = std::make_shared<Dataset>();
    out->items = ds.items;
    out->users = ds.users;
    out->categories = ds.categories;
    out->userItems = std::move(userItems);
    out->itemUsers = out->userItems.transposed(false);
    out->rebuildIndexes();
    return out;
}

UserSplit makeUserSplit(const Dataset& ds, int32_t user, const SplitSpec& spec, quint64 seed)
{
    if (user < 0 || user >= ds.numUsers())
        throw Error(QStringLiteral("split %1: no user index %2").arg(spec.name()).arg(user));
    if (ds.users[static_cast<size_t>(user)].isSynthetic())
        throw Error(QStringLiteral("user '%1' is synthetic (a what-if of '%2'): not evaluated by any split")
                        .arg(ds.users[static_cast<size_t>(user)].externalId, ds.users[static_cast<size_t>(user)].syntheticOf));
    Split split = makeSplit(ds, spec, seed);
    UserSplit out;
    out.splitName = split.name;
    out.seed = split.seed;
    out.user = user;
    out.heldOut = split.test[static_cast<size_t>(user)];
    if (out.heldOut.empty())
        throw Error(QStringLiteral("user '%1' (%2 interactions) is not evaluated by split %3: %4")
                        .arg(ds.users[static_cast<size_t>(user)].externalId)
                        .arg(ds.interactionCount(user))
                        .arg(split.name, spec.description()));
    out.train = datasetWithInteractions(ds, std::move(split.train));
    return out;
}

} // namespace recwb::eval
