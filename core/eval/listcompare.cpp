#include "eval/listcompare.h"

#include <QHash>
#include <QSet>
#include <algorithm>
#include <cmath>
#include <vector>

namespace recwb::eval {

double overlapAtK(std::span<const int32_t> a, std::span<const int32_t> b, int k)
{
    if (k <= 0)
        return 0;
    const auto n = static_cast<size_t>(k);
    const auto aTop = a.first(std::min(n, a.size()));
    const auto bTop = b.first(std::min(n, b.size()));
    const QSet<int32_t> inA(aTop.begin(), aTop.end());
    int shared = 0;
    for (const int32_t item : bTop)
        shared += inA.contains(item) ? 1 : 0;
    return static_cast<double>(shared) / k;
}

std::optional<double> kendallTauShared(std::span<const int32_t> a, std::span<const int32_t> b)
{
    QHash<int32_t, int> posB;
    for (size_t i = 0; i < b.size(); ++i)
        posB.insert(b[i], static_cast<int>(i));
    std::vector<int> order; // B positions of the shared items, in A's order
    for (const int32_t item : a)
        if (const auto it = posB.constFind(item); it != posB.constEnd())
            order.push_back(*it);
    const auto n = static_cast<int64_t>(order.size());
    if (n < 2)
        return std::nullopt;
    int64_t concordant = 0;
    int64_t discordant = 0;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = i + 1; j < n; ++j)
            (order[static_cast<size_t>(i)] < order[static_cast<size_t>(j)] ? concordant : discordant) += 1;
    return static_cast<double>(concordant - discordant) / (static_cast<double>(n * (n - 1)) / 2.0);
}

double rankBiasedOverlap(std::span<const int32_t> a, std::span<const int32_t> b, double p)
{
    const auto shortList = a.size() <= b.size() ? a : b;
    const auto longList = a.size() <= b.size() ? b : a;
    const auto s = static_cast<int>(shortList.size());
    const auto l = static_cast<int>(longList.size());
    if (s == 0)
        return 0;
    QSet<int32_t> seenShort;
    QSet<int32_t> seenLong;
    int overlap = 0; // X_d
    int overlapAtS = 0; // X_s
    double sum = 0;
    double pd = 1;
    for (int d = 1; d <= l; ++d) {
        pd *= p;
        const int32_t y = longList[static_cast<size_t>(d - 1)];
        if (d <= s) {
            const int32_t x = shortList[static_cast<size_t>(d - 1)];
            if (x == y) {
                ++overlap;
            } else {
                overlap += seenLong.contains(x) ? 1 : 0;
                overlap += seenShort.contains(y) ? 1 : 0;
            }
            seenShort.insert(x);
            seenLong.insert(y);
            if (d == s)
                overlapAtS = overlap;
        } else {
            overlap += seenShort.contains(y) ? 1 : 0; // the short list is complete from here
            sum += static_cast<double>(overlapAtS) * (d - s) / (static_cast<double>(s) * d) * pd;
        }
        sum += static_cast<double>(overlap) / d * pd;
    }
    const double tail
        = (static_cast<double>(overlap - overlapAtS) / l + static_cast<double>(overlapAtS) / s) * std::pow(p, l);
    return (1 - p) / p * sum + tail;
}

} // namespace recwb::eval
