#include "rerank/offline.h"

#include "cf/params.h"

#include <QElapsedTimer>
#include <QSet>
#include <algorithm>
#include <cmath>

namespace recwb::rerank {

namespace {

double cosine(const Csr& v, int32_t a, int32_t b)
{
    const auto ta = v.row(a);
    const auto wa = v.rowValues(a);
    const auto tb = v.row(b);
    const auto wb = v.rowValues(b);
    double dot = 0;
    size_t i = 0;
    size_t j = 0;
    while (i < ta.size() && j < tb.size()) {
        if (ta[i] < tb[j])
            ++i;
        else if (tb[j] < ta[i])
            ++j;
        else
            dot += static_cast<double>(wa[i++]) * wb[j++];
    }
    return dot;
}

QStringList sharedCategories(const Dataset& ds, int32_t a, int32_t b)
{
    QStringList out;
    for (const int32_t c : ds.items[static_cast<size_t>(a)].categories) {
        const auto& cb = ds.items[static_cast<size_t>(b)].categories;
        if (std::find(cb.begin(), cb.end(), c) != cb.end())
            out << ds.categories.value(c);
    }
    return out;
}

double msSince(const QElapsedTimer& t)
{
    return static_cast<double>(t.nsecsElapsed()) / 1e6;
}

} // namespace

OfflineOptions offlineDefaults(bool coldStartCandidates)
{
    OfflineOptions o;
    if (coldStartCandidates) {
        o.cfWeight = 1.0;
        o.lambda = 0.9;
    }
    return o;
}

OfflineOptions offlineOptionsFromJson(const QJsonObject& o, OfflineOptions base)
{
    cf::ParamReader p(QStringLiteral("offline"), o);
    base.lambda = p.number(QStringLiteral("lambda"), base.lambda);
    base.cfWeight = p.number(QStringLiteral("cf_weight"), base.cfWeight);
    base.historyLength = p.integer(QStringLiteral("history"), base.historyLength);
    p.finish();
    if (!(base.lambda >= 0 && base.lambda <= 1))
        throw Error(QStringLiteral("offline: lambda must be between 0 and 1 (got %1)").arg(base.lambda));
    if (!(base.cfWeight >= 0 && base.cfWeight <= 1))
        throw Error(QStringLiteral("offline: cf_weight must be between 0 and 1 (got %1)").arg(base.cfWeight));
    if (base.historyLength < 1)
        throw Error(QStringLiteral("offline: history must be at least 1 (got %1)").arg(base.historyLength));
    return base;
}

QJsonObject offlineOptionsToJson(const OfflineOptions& o)
{
    return { { QStringLiteral("lambda"), o.lambda }, { QStringLiteral("cf_weight"), o.cfWeight },
        { QStringLiteral("history"), o.historyLength } };
}

double itemSimilarity(const Dataset& ds, const coldstart::ContentIndex& content, int32_t a, int32_t b)
{
    const auto& ca = ds.items[static_cast<size_t>(a)].categories;
    const auto& cb = ds.items[static_cast<size_t>(b)].categories;
    double jaccard = 0;
    if (!ca.empty() || !cb.empty()) {
        int inter = 0;
        for (const int32_t c : ca)
            inter += std::find(cb.begin(), cb.end(), c) != cb.end() ? 1 : 0;
        jaccard = static_cast<double>(inter) / static_cast<double>(ca.size() + cb.size() - static_cast<size_t>(inter));
    }
    const double cos = content.vectors().numRows > std::max(a, b) ? cosine(content.vectors(), a, b) : 0.0;
    return 0.5 * cos + 0.5 * jaccard;
}

double intraListDiversity(const Dataset& ds, const coldstart::ContentIndex& content, std::span<const int32_t> items)
{
    if (items.size() < 2)
        return 0;
    double sum = 0;
    int pairs = 0;
    for (size_t i = 0; i < items.size(); ++i)
        for (size_t j = i + 1; j < items.size(); ++j) {
            sum += 1.0 - itemSimilarity(ds, content, items[i], items[j]);
            ++pairs;
        }
    return sum / pairs;
}

OfflineReranker::OfflineReranker(const Dataset& ds, const coldstart::ContentIndex& content)
    : m_ds(ds)
    , m_content(content)
{
}

RerankResult OfflineReranker::rerank(int32_t user, std::span<const Candidate> candidates, const OfflineOptions& options) const
{
    std::vector<HistoryEntry> history;
    const auto items = m_ds.userItems.row(user);
    const auto values = m_ds.userItems.rowValues(user);
    const bool hasTs = !m_ds.userItems.timestamps.empty();
    for (size_t k = 0; k < items.size(); ++k)
        history.push_back({ items[k], values[k], hasTs ? m_ds.userItems.rowTimestamps(user)[k] : 0 });
    return rerank(history, candidates, options);
}

RerankResult OfflineReranker::rerank(std::span<const HistoryEntry> historyIn, std::span<const Candidate> candidates,
    const OfflineOptions& o) const
{
    RerankResult result;
    QElapsedTimer timer;
    timer.start();

    // The profile: the most recent interactions (ties by item index).
    std::vector<HistoryEntry> history(historyIn.begin(), historyIn.end());
    std::erase_if(history, [&](const HistoryEntry& h) { return h.item < 0 || h.item >= m_ds.numItems(); });
    std::stable_sort(history.begin(), history.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
        return a.timestamp != b.timestamp ? a.timestamp > b.timestamp : a.item < b.item;
    });
    if (static_cast<int>(history.size()) > o.historyLength)
        history.resize(static_cast<size_t>(std::max(0, o.historyLength)));
    std::vector<int32_t> profile;
    for (const HistoryEntry& h : history)
        profile.push_back(h.item);
    std::sort(profile.begin(), profile.end());
    profile.erase(std::unique(profile.begin(), profile.end()), profile.end());

    const size_t n = candidates.size();
    std::vector<double> contentSim(n, 0.0);
    if (!profile.empty() && m_content.vectors().numRows == m_ds.numItems()) {
        std::vector<float> all(static_cast<size_t>(m_ds.numItems()));
        m_content.similarity(profile, all);
        for (size_t i = 0; i < n; ++i)
            contentSim[i] = candidates[i].item >= 0 ? all[static_cast<size_t>(candidates[i].item)] : 0.0;
    }
    double cfMin = 0;
    double cfMax = 0;
    double simMax = 0;
    for (size_t i = 0; i < n; ++i) {
        cfMin = i == 0 ? candidates[i].cfScore : std::min(cfMin, candidates[i].cfScore);
        cfMax = i == 0 ? candidates[i].cfScore : std::max(cfMax, candidates[i].cfScore);
        simMax = std::max(simMax, contentSim[i]);
    }
    const double cfWeight = profile.empty() ? 1.0 : std::clamp(o.cfWeight, 0.0, 1.0);
    std::vector<double> relevance(n);
    for (size_t i = 0; i < n; ++i) {
        const double cf = cfMax > cfMin ? (candidates[i].cfScore - cfMin) / (cfMax - cfMin) : 1.0;
        const double sim = simMax > 0 ? contentSim[i] / simMax : 0.0;
        relevance[i] = cfWeight * cf + (1.0 - cfWeight) * sim;
    }
    result.timings.append({ QStringLiteral("score"), msSince(timer) });
    timer.restart();

    // MMR: pick argmax lambda * rel - (1 - lambda) * max sim to the picks; ties by CF rank.
    const int want = std::min<int>(o.k, static_cast<int>(n));
    std::vector<bool> taken(n, false);
    std::vector<double> maxSim(n, 0.0);
    std::vector<size_t> picks;
    for (int r = 0; r < want; ++r) {
        size_t best = n;
        double bestValue = 0;
        for (size_t i = 0; i < n; ++i) {
            if (taken[i] || candidates[i].item < 0)
                continue;
            const double v = o.lambda * relevance[i] - (1.0 - o.lambda) * maxSim[i];
            if (best == n || v > bestValue + 1e-12
                || (std::abs(v - bestValue) <= 1e-12 && candidates[i].cfRank < candidates[best].cfRank)) {
                best = i;
                bestValue = v;
            }
        }
        if (best == n)
            break;
        taken[best] = true;
        picks.push_back(best);
        for (size_t i = 0; i < n; ++i)
            if (!taken[i] && candidates[i].item >= 0)
                maxSim[i] = std::max(maxSim[i], itemSimilarity(m_ds, m_content, candidates[i].item, candidates[best].item));
    }
    result.timings.append({ QStringLiteral("mmr"), msSince(timer) });
    timer.restart();

    for (const size_t p : picks) {
        const Candidate& c = candidates[p];
        RankedItem it;
        it.item = c.item;
        it.externalId = c.externalId.isEmpty() ? m_ds.items[static_cast<size_t>(c.item)].externalId : c.externalId;
        it.rank = static_cast<int>(result.items.size()) + 1;
        it.score = relevance[p];
        it.cfRank = c.cfRank;
        // The history items closest to this pick, by the same similarity as diversity.
        std::vector<std::pair<double, int32_t>> near;
        for (const int32_t h : profile) {
            const double s = itemSimilarity(m_ds, m_content, c.item, h);
            if (s > 0.05)
                near.emplace_back(s, h);
        }
        std::sort(near.begin(), near.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        // Two history items may share a title (a remake, a re-release, a catalog
        // duplicate): name each title once, keeping the most similar one of each.
        {
            QSet<QString> seenTitles;
            std::vector<std::pair<double, int32_t>> distinct;
            for (const auto& e : near) {
                if (distinct.size() == 2)
                    break;
                const QString& title = m_ds.items[static_cast<size_t>(e.second)].title;
                if (!seenTitles.contains(title)) {
                    seenTitles.insert(title);
                    distinct.push_back(e);
                }
            }
            near = std::move(distinct);
        }
        QString text;
        if (!near.empty()) {
            QStringList titles;
            QStringList shared;
            for (const auto& [s, h] : near) {
                titles << m_ds.items[static_cast<size_t>(h)].title;
                for (const QString& cat : sharedCategories(m_ds, c.item, h))
                    if (!shared.contains(cat))
                        shared << cat;
            }
            if (shared.isEmpty())
                for (const auto& [s, h] : near)
                    for (const QString& term : m_content.sharedTerms(c.item, h, 3))
                        if (!shared.contains(term, Qt::CaseInsensitive) && shared.size() < 3)
                            shared << term;
            text = QStringLiteral("Because you %1 %2").arg(o.historyVerb, titles.join(QStringLiteral(" and ")));
            if (!shared.isEmpty())
                text += QStringLiteral(": also ") + shared.join(QStringLiteral(", "));
            text += QStringLiteral("; CF rank %1").arg(c.cfRank);
        } else {
            text = profile.empty() ? QStringLiteral("Popular with similar users; CF rank %1").arg(c.cfRank)
                                   : QStringLiteral("Liked by users with similar taste; CF rank %1").arg(c.cfRank);
        }
        it.explanation = text;
        result.items.append(it);
    }
    result.usable = !result.items.isEmpty();
    if (!result.usable)
        result.fallbackReason = QStringLiteral("no candidates");
    result.timings.append({ QStringLiteral("explain"), msSince(timer) });
    return result;
}

} // namespace recwb::rerank
