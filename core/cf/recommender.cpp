#include "cf/recommender.h"

#include "cf/models.h"
#include "util/error.h"

#include <algorithm>
#include <cmath>

namespace recwb::cf {

void Recommender::scoreSubset(const History& history, std::span<const int32_t> candidates, std::span<float> out) const
{
    std::vector<float> all(static_cast<size_t>(m_numItems));
    score(history, all);
    for (size_t k = 0; k < candidates.size(); ++k)
        out[k] = all[static_cast<size_t>(candidates[k])];
}

namespace {

// "a ranks before b": higher score, then lower index.
inline bool better(const ScoredItem& a, const ScoredItem& b)
{
    return a.score > b.score || (a.score == b.score && a.item < b.item);
}

} // namespace

std::vector<ScoredItem> topN(std::span<const float> scores, int n, std::span<const int32_t> exclude)
{
    std::vector<ScoredItem> heap;
    if (n <= 0)
        return heap;
    heap.reserve(static_cast<size_t>(n) + 1);
    size_t ex = 0;
    const auto count = static_cast<int32_t>(scores.size());
    // A min-heap by `better`: the front is the worst of the kept items.
    for (int32_t i = 0; i < count; ++i) {
        while (ex < exclude.size() && exclude[ex] < i)
            ++ex;
        if (ex < exclude.size() && exclude[ex] == i)
            continue;
        float s = scores[static_cast<size_t>(i)];
        if (std::isnan(s))
            s = -std::numeric_limits<float>::infinity();
        const ScoredItem cand { i, s };
        if (static_cast<int>(heap.size()) < n) {
            heap.push_back(cand);
            std::push_heap(heap.begin(), heap.end(), better);
        } else if (better(cand, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), better);
            heap.back() = cand;
            std::push_heap(heap.begin(), heap.end(), better);
        }
    }
    std::sort_heap(heap.begin(), heap.end(), better);
    return heap;
}

std::vector<ScoredItem> Recommender::recommendTop(const History& history, int n) const
{
    std::vector<float> scores(static_cast<size_t>(m_numItems));
    score(history, scores);
    return topN(scores, n, history.items);
}

std::vector<ScoredItem> recommend(const Recommender& model, const History& history, int n)
{
    return model.recommendTop(history, n);
}

QStringList recommenderNames()
{
    return { QStringLiteral("pop"), QStringLiteral("itemknn"), QStringLiteral("ease"), QStringLiteral("ials"),
        QStringLiteral("bpr") };
}

std::unique_ptr<Recommender> makeRecommender(const QString& name, const QJsonObject& params)
{
    const QString n = name.toLower();
    if (n == u"pop" || n == u"popularity")
        return std::make_unique<Popularity>(params);
    if (n == u"itemknn" || n == u"knn")
        return std::make_unique<ItemKnn>(params);
    if (n == u"ease")
        return std::make_unique<Ease>(params);
    if (n == u"ials" || n == u"als")
        return std::make_unique<Ials>(params);
    if (n == u"bpr")
        return std::make_unique<Bpr>(params);
    throw Error(QStringLiteral("unknown model '%1' (available: %2)").arg(name, recommenderNames().join(QStringLiteral(", "))));
}

} // namespace recwb::cf
