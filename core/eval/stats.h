#pragma once

#include <QJsonObject>
#include <QString>
#include <QThread>
#include <QtGlobal>
#include <span>
#include <vector>

namespace recwb::eval {

inline constexpr int kBootstrapResamples = 10000;
inline constexpr quint64 kBootstrapSeed = 20240601;

// Percentile interval of the mean from a paired bootstrap over per-user differences:
// `resamples` resamples of n users drawn with replacement, resample r from its own
// stream SplitMix64::stream(seed, r) (so the result is the same for any thread count),
// then the (1 - level)/2 and (1 + level)/2 quantiles of the resampled means with linear
// interpolation between order statistics (numpy's default "linear" quantile).
// An empty input gives [0, 0].
struct Interval {
    double low = 0;
    double high = 0;
};
Interval bootstrapMeanCi(std::span<const double> diffs, int resamples = kBootstrapResamples,
    quint64 seed = kBootstrapSeed, double level = 0.95, int threads = QThread::idealThreadCount());

// Wilcoxon signed-rank test, two-sided, on paired differences.
// - Zeros are dropped before ranking (Wilcoxon's original method, scipy's default
//   zero_method="wilcox"); n is the number of non-zero differences.
// - |d| are ranked with average ranks for ties.
// - n <= 25: the exact distribution of W+ under the null (every sign equally likely,
//   given the ranks), by counting sign assignments with the actual (possibly averaged)
//   ranks, p = min(1, 2 * min(P(W+ <= w), P(W+ >= w))). Without ties this is the classic
//   exact table (scipy's method="exact").
// - n > 25: normal approximation, mean n(n+1)/4, variance n(n+1)(2n+1)/24 minus
//   sum(t^3 - t)/48 over tie groups, continuity correction 0.5 towards the mean.
// - n == 0 (all differences zero): p = 1.
struct WilcoxonResult {
    int n = 0; // non-zero differences
    double wPlus = 0; // rank sum of the positive differences
    double wMinus = 0; // rank sum of the negative differences
    double statistic = 0; // min(wPlus, wMinus), scipy's two-sided statistic
    double z = 0; // the normal approximation's z (0 when exact)
    bool exact = false;
    double pValue = 1;
};
WilcoxonResult wilcoxonSignedRank(std::span<const double> diffs);
inline constexpr int kWilcoxonExactMaxN = 25;

// B against A on the same users (a[i] and b[i] belong to the same user).
struct PairedComparison {
    enum class Verdict { NoDifference, BBeatsA, ABeatsB };
    QString metric; // e.g. "ndcg@10"
    QString nameA;
    QString nameB;
    int users = 0;
    double meanA = 0;
    double meanB = 0;
    double meanDiff = 0; // mean of b - a
    Interval ci; // of the mean difference
    double level = 0.95;
    int resamples = kBootstrapResamples;
    quint64 seed = kBootstrapSeed;
    WilcoxonResult wilcoxon;
    // "B beats A" only when the interval lies above 0, "A beats B" when below.
    Verdict verdict = Verdict::NoDifference;

    QString verdictText() const; // "ease beats pop", "no significant difference", ...
    QJsonObject toJson() const;
};

// Throws Error when the two vectors differ in length.
PairedComparison comparePaired(std::span<const double> a, std::span<const double> b, const QString& nameA = QStringLiteral("A"),
    const QString& nameB = QStringLiteral("B"), const QString& metric = {}, int resamples = kBootstrapResamples,
    quint64 seed = kBootstrapSeed, double level = 0.95, int threads = QThread::idealThreadCount());

} // namespace recwb::eval
