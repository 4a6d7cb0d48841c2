#pragma once

#include "data/dataset.h"
#include "eval/metrics.h"
#include "eval/split.h"

#include <QString>
#include <memory>
#include <span>
#include <vector>

namespace recwb::eval {

// The ground truth of one user under a split, for the side-by-side comparison. The
// training part is the split's whole train matrix exactly as evaluate() builds it (every
// user's held-out items removed, not only this user's), so a model fitted on it and the
// per-user figures below equal the evaluator's per-user values for this user.
struct UserSplit {
    QString splitName; // "loo", "ratio", "strat75", "cold@3"
    quint64 seed = 0; // strat75 only; 0 otherwise
    int32_t user = -1;
    // The dataset with `train` as its interactions (items, users and categories shared by
    // value); what the models and the prompt's history see.
    std::shared_ptr<const Dataset> train;
    std::vector<int32_t> heldOut; // the user's test items (item indices, ascending)

    bool isHeldOut(int32_t item) const;
    // HR, recall, NDCG (and MRR) at k of `ranked` against heldOut (metrics.h).
    Accuracy accuracy(std::span<const int32_t> ranked, int k) const;
};

// Throws Error when the user is not evaluated by that split (too few interactions, or
// not in the cold@n fifth), naming the user and the split's rule.
UserSplit makeUserSplit(const Dataset& ds, int32_t user, const SplitSpec& spec, quint64 seed = kDefaultSeed);

// A copy of ds whose interactions are `userItems` (same users and items).
std::shared_ptr<Dataset> datasetWithInteractions(const Dataset& ds, Csr userItems);

} // namespace recwb::eval
