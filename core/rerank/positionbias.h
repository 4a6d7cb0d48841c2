#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>
#include <span>
#include <vector>

// The position-bias probe's statistics (docs/RERANK.md "Position-bias probe"): the same
// candidates are reranked in several shuffled orders; a reranker without position bias
// picks and ranks the same items whatever order it was shown. Pure functions.
namespace recwb::rerank {

// Kendall's tau-b between two rankings of the same n items (rank values, lower = better;
// equal values are ties). 1 = same order, -1 = reversed; 0 when either ranking is all ties.
double kendallTauB(std::span<const int> ranksA, std::span<const int> ranksB);

// One shuffled run: for each candidate (indexed as in the CF order), the rank the reranker
// gave it (1..k) or 0 when not picked by it; and the position (1..n) at which the
// candidate was shown in the prompt.
struct ProbeRun {
    std::vector<int> rankOf; // per candidate; 0 = not picked
    std::vector<int> shownAt; // per candidate, 1-based
    bool usable = true; // a fallback run is reported but left out of the statistics
};

struct BordaEntry {
    int candidate = -1; // index in the CF order
    double points = 0; // sum over runs of (k - rank + 1) for a pick
    int picks = 0; // in how many runs it was picked
};

struct ProbeStats {
    int runs = 0; // usable runs
    int unusableRuns = 0;
    double meanKendallTau = 0; // over all pairs of usable runs; unpicked candidates tie last
    double minKendallTau = 0;
    double meanTopKOverlap = 0; // |picks A ∩ picks B| / k over all pairs
    // Share of all picks that were shown in the first third of the prompt's list (1/3 with
    // no position bias) and the mean shown position of picks vs (n + 1) / 2.
    double firstThirdShare = 0;
    double meanShownPositionOfPicks = 0;
    double expectedShownPosition = 0;
    std::vector<BordaEntry> borda; // the aggregated ranking, best first (ties: CF order)
    QJsonObject toJson(std::span<const QString> candidateIds) const;
};

// k: how many each run picks. Runs must all have the same candidate count.
ProbeStats probeStats(std::span<const ProbeRun> runs, int k);

} // namespace recwb::rerank
