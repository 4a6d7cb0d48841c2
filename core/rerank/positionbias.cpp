#include "rerank/positionbias.h"

#include <QJsonArray>

#include <algorithm>
#include <cmath>

namespace recwb::rerank {

double kendallTauB(std::span<const int> a, std::span<const int> b)
{
    const size_t n = std::min(a.size(), b.size());
    // O(n^2) over pairs: n is a candidate list (tens to a few hundred).
    double concordant = 0, discordant = 0, tiesA = 0, tiesB = 0;
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = i + 1; j < n; ++j) {
            const int da = (a[i] > a[j]) - (a[i] < a[j]);
            const int db = (b[i] > b[j]) - (b[i] < b[j]);
            if (da == 0 && db == 0)
                continue; // tied in both: counts in neither denominator
            if (da == 0)
                tiesA += 1;
            else if (db == 0)
                tiesB += 1;
            else if (da == db)
                concordant += 1;
            else
                discordant += 1;
        }
    }
    const double denom = std::sqrt((concordant + discordant + tiesA) * (concordant + discordant + tiesB));
    return denom > 0 ? (concordant - discordant) / denom : 0.0;
}

ProbeStats probeStats(std::span<const ProbeRun> runs, int k)
{
    ProbeStats s;
    std::vector<const ProbeRun*> usable;
    for (const ProbeRun& r : runs)
        (r.usable ? usable.push_back(&r) : void(++s.unusableRuns));
    s.runs = static_cast<int>(usable.size());
    if (usable.empty() || k <= 0)
        return s;
    const size_t n = usable.front()->rankOf.size();
    s.expectedShownPosition = (static_cast<double>(n) + 1) / 2;

    // Unpicked candidates tie after the last rank.
    std::vector<std::vector<int>> ranks;
    for (const ProbeRun* r : usable) {
        std::vector<int> v(n);
        for (size_t c = 0; c < n; ++c)
            v[c] = r->rankOf[c] > 0 ? r->rankOf[c] : k + 1;
        ranks.push_back(std::move(v));
    }
    double tauSum = 0, overlapSum = 0;
    int pairs = 0;
    s.minKendallTau = 1;
    for (size_t i = 0; i < ranks.size(); ++i) {
        for (size_t j = i + 1; j < ranks.size(); ++j) {
            const double tau = kendallTauB(ranks[i], ranks[j]);
            tauSum += tau;
            s.minKendallTau = std::min(s.minKendallTau, tau);
            int common = 0;
            for (size_t c = 0; c < n; ++c)
                common += usable[i]->rankOf[c] > 0 && usable[j]->rankOf[c] > 0;
            overlapSum += static_cast<double>(common) / k;
            ++pairs;
        }
    }
    if (pairs > 0) {
        s.meanKendallTau = tauSum / pairs;
        s.meanTopKOverlap = overlapSum / pairs;
    } else {
        s.meanKendallTau = s.minKendallTau = s.meanTopKOverlap = 1; // one run agrees with itself
    }

    std::vector<BordaEntry> borda(n);
    double picks = 0, firstThird = 0, shownSum = 0;
    for (size_t c = 0; c < n; ++c)
        borda[c].candidate = static_cast<int>(c);
    for (const ProbeRun* r : usable) {
        for (size_t c = 0; c < n; ++c) {
            const int rank = r->rankOf[c];
            if (rank <= 0)
                continue;
            borda[c].points += std::max(0, k - rank + 1);
            borda[c].picks += 1;
            const int shown = c < r->shownAt.size() ? r->shownAt[c] : 0;
            picks += 1;
            shownSum += shown;
            firstThird += shown > 0 && 3 * (shown - 1) < static_cast<int>(n);
        }
    }
    if (picks > 0) {
        s.firstThirdShare = firstThird / picks;
        s.meanShownPositionOfPicks = shownSum / picks;
    }
    std::stable_sort(borda.begin(), borda.end(),
        [](const BordaEntry& a, const BordaEntry& b) { return a.points > b.points; });
    while (!borda.empty() && borda.back().picks == 0)
        borda.pop_back();
    s.borda = std::move(borda);
    return s;
}

QJsonObject ProbeStats::toJson(std::span<const QString> candidateIds) const
{
    QJsonArray aggregated;
    for (size_t i = 0; i < borda.size(); ++i) {
        const BordaEntry& e = borda[i];
        aggregated.append(QJsonObject {
            { QStringLiteral("rank"), static_cast<int>(i) + 1 },
            { QStringLiteral("item_id"),
                e.candidate >= 0 && static_cast<size_t>(e.candidate) < candidateIds.size()
                    ? candidateIds[static_cast<size_t>(e.candidate)]
                    : QString() },
            { QStringLiteral("cf_rank"), e.candidate + 1 },
            { QStringLiteral("borda_points"), e.points },
            { QStringLiteral("picked_in_runs"), e.picks },
        });
    }
    return {
        { QStringLiteral("runs"), runs },
        { QStringLiteral("unusable_runs"), unusableRuns },
        { QStringLiteral("mean_kendall_tau"), meanKendallTau },
        { QStringLiteral("min_kendall_tau"), minKendallTau },
        { QStringLiteral("mean_top_k_overlap"), meanTopKOverlap },
        { QStringLiteral("first_third_share"), firstThirdShare },
        { QStringLiteral("mean_shown_position_of_picks"), meanShownPositionOfPicks },
        { QStringLiteral("expected_shown_position"), expectedShownPosition },
        { QStringLiteral("borda"), aggregated },
    };
}

} // namespace recwb::rerank
