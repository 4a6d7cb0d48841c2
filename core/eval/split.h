#pragma once

#include "data/csr.h"
#include "data/dataset.h"

#include <QByteArrayView>
#include <QString>
#include <QtGlobal>
#include <cstdint>
#include <vector>

namespace recwb::eval {

// The seed used when none is given (printed with every strat75 figure).
inline constexpr quint64 kDefaultSeed = 42;

// One train/test split of a Dataset, following docs/EVALUATION.md.
//
// Common rules of every split:
// - The Dataset already collapsed duplicate (user, item) pairs; every interaction is one
//   implicit positive, its value stays in train for models that weight it.
// - "By time" means ordered by (timestamp, item index): ties in time are broken by the
//   internal item index, the larger index counting as the later interaction. The
//   contract's "ties: larger item id" is read as the internal item index (the index the
//   workspace gave the item, in import order), the same id the ranking breaks ties by.
//   A dataset without timestamps is treated as all-equal timestamps.
// - train has the dataset's dimensions (users x items) and keeps values and timestamps.
// - Synthetic users (User::isSynthetic, saved from a what-if history) have empty rows in
//   both train and test: never trained on, never evaluated.
struct Split {
    QString name; // "loo", "ratio", "strat75", "cold@3"
    quint64 seed = 0; // the seed of strat75; 0 for the splits that use no randomness
    Csr train;
    // Per user: the held-out item indices, ascending. Empty = the user is not evaluated.
    std::vector<std::vector<int32_t>> test;
    // Users with a non-empty test set, ascending.
    std::vector<int32_t> evaluatedUsers;

    int64_t testInteractions() const;
};

enum class SplitKind { LeaveOneOut, Ratio, Strat75, ColdN };

struct SplitSpec {
    SplitKind kind = SplitKind::LeaveOneOut;
    int coldN = 0; // only for ColdN

    // "loo", "ratio", "strat75", "cold@N" (N >= 0). Throws Error naming the accepted names.
    static SplitSpec parse(const QString& name);
    QString name() const;
    // One line for reports: what is held out and who is evaluated.
    QString description() const;
    bool usesSeed() const { return kind == SplitKind::Strat75; }
};

// loo: each user's latest interaction is test; users with >= 2 interactions.
Split splitLeaveOneOut(const Dataset& ds);
// ratio: each user's latest floor(n/5) interactions (at least 1); users with >= 2.
Split splitRatio(const Dataset& ds);
// strat75: a seeded random floor(n/4) (at least 1) of each user's interactions; users
// with >= 2. User u's draw uses its own stream SplitMix64::stream(seed, u) and a partial
// Fisher-Yates shuffle of the row positions, so the result depends only on the seed and
// the dataset, never on the standard library.
Split splitStrat75(const Dataset& ds, quint64 seed = kDefaultSeed);
// cold@n: the fixed fifth of users (isColdFifthUser) keep their first n interactions by
// time in train, the rest is test; they are evaluated when they have > n interactions.
// Every other user stays whole in train. n must be >= 0.
Split splitColdN(const Dataset& ds, int n);
// Dispatches on the spec; the seed only matters to strat75.
Split makeSplit(const Dataset& ds, const SplitSpec& spec, quint64 seed = kDefaultSeed);
Split makeSplit(const Dataset& ds, const QString& name, quint64 seed = kDefaultSeed);

// FNV-1a, 32 bit (offset basis 0x811c9dc5, prime 0x01000193).
quint32 fnv1a32(QByteArrayView bytes);
// The cold@n fifth: an external id made only of ASCII digits (a whole number, any length,
// leading zeros allowed; no sign, no spaces) is chosen when its value mod 5 == 0; any
// other id when FNV-1a 32 of its UTF-8 bytes mod 5 == 0.
bool isColdFifthUser(const QString& externalId);

} // namespace recwb::eval
