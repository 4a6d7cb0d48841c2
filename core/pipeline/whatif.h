#pragma once

#include "rerank/prompt.h"

#include <QJsonObject>
#include <QSet>
#include <QString>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace recwb {
class Dataset;
}

// What-if histories (docs/WHATIF.md): a user's stored history with items dropped and
// added, reranked as if it were theirs; nothing is written. The CLI (--without/--with)
// and the Users view share these.
namespace recwb::pipeline {

struct WhatIfEdit {
    QSet<int32_t> drop; // item indices taken out of the stored history
    std::vector<int32_t> add; // item indices added as the latest interactions, in order
    std::optional<QJsonObject> profile; // replaces the stored attributes when set
};

// The edited user: the stored history minus `drop`, then `add` with the user's mean value
// and timestamps after their latest. Throws Error naming the item and the user when a
// dropped item is not in the history or an added one already is (or is no catalog item).
rerank::PromptUser whatIfUser(const Dataset& ds, int32_t user, const WhatIfEdit& edit);

// How a ranked list (item indices, best first) changed against a reference list.
struct ListDiff {
    struct Entry {
        int32_t item = -1;
        int rank = 0; // 1-based: in the new list (entering) or the reference (leaving)
    };
    struct Move {
        int32_t item = -1;
        int from = 0; // 1-based rank in the reference
        int to = 0; // 1-based rank in the new list
        int delta() const { return from - to; } // > 0: moved up
    };
    std::vector<Entry> entering; // in the new list only, by new rank
    std::vector<Entry> leaving; // in the reference only, by old rank
    std::vector<Move> moved; // in both at another rank, by new rank
    bool empty() const { return entering.empty() && leaving.empty() && moved.empty(); }
};

ListDiff diffLists(std::span<const int32_t> reference, std::span<const int32_t> changed);

} // namespace recwb::pipeline
