#include "eval/stats.h"

#include "eval/random.h"
#include "util/error.h"

#include <QJsonArray>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <thread>

namespace recwb::eval {
namespace {

// numpy's default quantile: h = (N - 1) q, interpolate between floor(h) and floor(h) + 1.
double quantileSorted(const std::vector<double>& sorted, double q)
{
    if (sorted.empty())
        return 0;
    const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
    const auto lo = static_cast<size_t>(std::floor(h));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

} // namespace

Interval bootstrapMeanCi(std::span<const double> diffs, int resamples, quint64 seed, double level, int threads)
{
    if (diffs.empty() || resamples <= 0)
        return {};
    if (!(level > 0 && level < 1))
        throw Error(QStringLiteral("confidence level must be in (0, 1) (got %1)").arg(level));
    const auto n = static_cast<uint64_t>(diffs.size());
    std::vector<double> means(static_cast<size_t>(resamples));
    std::atomic<int> next { 0 };
    const auto work = [&] {
        for (;;) {
            const int r = next.fetch_add(1);
            if (r >= resamples)
                return;
            auto rng = SplitMix64::stream(seed, static_cast<uint64_t>(r));
            double sum = 0;
            for (uint64_t i = 0; i < n; ++i)
                sum += diffs[static_cast<size_t>(rng.below(n))];
            means[static_cast<size_t>(r)] = sum / static_cast<double>(n);
        }
    };
    // Threads only pay off for large inputs; the result is the same either way.
    const int workers = n * static_cast<uint64_t>(resamples) < 2'000'000 ? 1 : std::clamp(threads, 1, 64);
    std::vector<std::thread> pool;
    for (int w = 1; w < workers; ++w)
        pool.emplace_back(work);
    work();
    for (auto& t : pool)
        t.join();
    std::sort(means.begin(), means.end());
    return { quantileSorted(means, (1.0 - level) / 2.0), quantileSorted(means, (1.0 + level) / 2.0) };
}

WilcoxonResult wilcoxonSignedRank(std::span<const double> diffs)
{
    WilcoxonResult res;
    std::vector<double> d;
    d.reserve(diffs.size());
    for (const double x : diffs)
        if (x != 0.0 && !std::isnan(x))
            d.push_back(x);
    const int n = static_cast<int>(d.size());
    res.n = n;
    if (n == 0)
        return res; // p = 1: no evidence either way

    // Average ranks of |d|.
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return std::fabs(d[static_cast<size_t>(a)]) < std::fabs(d[static_cast<size_t>(b)]); });
    std::vector<double> rank(static_cast<size_t>(n));
    double tieTerm = 0; // sum of t^3 - t
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && std::fabs(d[static_cast<size_t>(order[static_cast<size_t>(j + 1)])]) == std::fabs(d[static_cast<size_t>(order[static_cast<size_t>(i)])]))
            ++j;
        const double avg = (i + 1 + j + 1) / 2.0;
        for (int k = i; k <= j; ++k)
            rank[static_cast<size_t>(order[static_cast<size_t>(k)])] = avg;
        const double t = j - i + 1;
        tieTerm += t * t * t - t; // 0 for a group of one
        i = j + 1;
    }
    for (int i = 0; i < n; ++i)
        (d[static_cast<size_t>(i)] > 0 ? res.wPlus : res.wMinus) += rank[static_cast<size_t>(i)];
    res.statistic = std::min(res.wPlus, res.wMinus);

    if (n <= kWilcoxonExactMaxN) {
        // Doubled ranks are whole numbers even when averaged; count the sign assignments
        // reaching each doubled sum (2^25 fits a double exactly).
        const int total = n * (n + 1); // doubled sum of all ranks
        std::vector<double> count(static_cast<size_t>(total) + 1, 0.0);
        count[0] = 1;
        int reach = 0;
        for (int i = 0; i < n; ++i) {
            const int r2 = static_cast<int>(std::lround(2 * rank[static_cast<size_t>(i)]));
            for (int s = reach; s >= 0; --s)
                if (count[static_cast<size_t>(s)] != 0)
                    count[static_cast<size_t>(s + r2)] += count[static_cast<size_t>(s)];
            reach += r2;
        }
        const int w2 = static_cast<int>(std::lround(2 * res.wPlus));
        double below = 0; // P(W+ <= w) * 2^n
        double above = 0; // P(W+ >= w) * 2^n
        for (int s = 0; s <= total; ++s) {
            if (s <= w2)
                below += count[static_cast<size_t>(s)];
            if (s >= w2)
                above += count[static_cast<size_t>(s)];
        }
        const double all = std::ldexp(1.0, n);
        res.exact = true;
        res.pValue = std::min(1.0, 2.0 * std::min(below, above) / all);
        return res;
    }

    const double nn = n;
    const double mean = nn * (nn + 1) / 4.0;
    const double var = nn * (nn + 1) * (2 * nn + 1) / 24.0 - tieTerm / 48.0;
    if (var <= 0) {
        res.pValue = 1;
        return res;
    }
    const double dev = std::max(0.0, std::fabs(res.wPlus - mean) - 0.5);
    res.z = (res.wPlus >= mean ? 1.0 : -1.0) * dev / std::sqrt(var);
    res.pValue = std::min(1.0, std::erfc(dev / std::sqrt(var) / std::sqrt(2.0)));
    return res;
}

QString PairedComparison::verdictText() const
{
    switch (verdict) {
    case Verdict::BBeatsA:
        return QStringLiteral("%1 beats %2").arg(nameB, nameA);
    case Verdict::ABeatsB:
        return QStringLiteral("%1 beats %2").arg(nameA, nameB);
    case Verdict::NoDifference:
        break;
    }
    return QStringLiteral("no significant difference");
}

QJsonObject PairedComparison::toJson() const
{
    QJsonObject w;
    w.insert(QStringLiteral("n_nonzero"), wilcoxon.n);
    w.insert(QStringLiteral("w_plus"), wilcoxon.wPlus);
    w.insert(QStringLiteral("w_minus"), wilcoxon.wMinus);
    w.insert(QStringLiteral("statistic"), wilcoxon.statistic);
    w.insert(QStringLiteral("exact"), wilcoxon.exact);
    if (!wilcoxon.exact)
        w.insert(QStringLiteral("z"), wilcoxon.z);
    w.insert(QStringLiteral("p_value"), wilcoxon.pValue);
    w.insert(QStringLiteral("zero_method"), QStringLiteral("wilcox"));

    QJsonObject o;
    o.insert(QStringLiteral("metric"), metric);
    o.insert(QStringLiteral("a"), nameA);
    o.insert(QStringLiteral("b"), nameB);
    o.insert(QStringLiteral("users"), users);
    o.insert(QStringLiteral("mean_a"), meanA);
    o.insert(QStringLiteral("mean_b"), meanB);
    o.insert(QStringLiteral("mean_diff"), meanDiff);
    o.insert(QStringLiteral("ci_level"), level);
    o.insert(QStringLiteral("ci_low"), ci.low);
    o.insert(QStringLiteral("ci_high"), ci.high);
    o.insert(QStringLiteral("bootstrap_resamples"), resamples);
    o.insert(QStringLiteral("bootstrap_seed"), static_cast<qint64>(seed));
    o.insert(QStringLiteral("wilcoxon"), w);
    o.insert(QStringLiteral("verdict"), verdict == Verdict::BBeatsA ? QStringLiteral("b_beats_a")
            : verdict == Verdict::ABeatsB                         ? QStringLiteral("a_beats_b")
                                                                  : QStringLiteral("no_difference"));
    o.insert(QStringLiteral("verdict_text"), verdictText());
    return o;
}

PairedComparison comparePaired(std::span<const double> a, std::span<const double> b, const QString& nameA,
    const QString& nameB, const QString& metric, int resamples, quint64 seed, double level, int threads)
{
    if (a.size() != b.size())
        throw Error(QStringLiteral("paired comparison needs the same users on both sides (%1 vs %2 values)")
                        .arg(a.size())
                        .arg(b.size()));
    PairedComparison c;
    c.metric = metric;
    c.nameA = nameA;
    c.nameB = nameB;
    c.users = static_cast<int>(a.size());
    c.resamples = resamples;
    c.seed = seed;
    c.level = level;
    std::vector<double> diffs(a.size());
    double sumA = 0;
    double sumB = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        diffs[i] = b[i] - a[i];
        sumA += a[i];
        sumB += b[i];
    }
    if (!a.empty()) {
        c.meanA = sumA / static_cast<double>(a.size());
        c.meanB = sumB / static_cast<double>(a.size());
        c.meanDiff = std::accumulate(diffs.begin(), diffs.end(), 0.0) / static_cast<double>(diffs.size());
    }
    c.ci = bootstrapMeanCi(diffs, resamples, seed, level, threads);
    c.wilcoxon = wilcoxonSignedRank(diffs);
    if (!a.empty() && c.ci.low > 0)
        c.verdict = PairedComparison::Verdict::BBeatsA;
    else if (!a.empty() && c.ci.high < 0)
        c.verdict = PairedComparison::Verdict::ABeatsB;
    return c;
}

} // namespace recwb::eval
