#include "eval/metrics.h"

#include "util/error.h"

#include <algorithm>
#include <cmath>

namespace recwb::eval {

QString metricName(Metric m)
{
    switch (m) {
    case Metric::HR:
        return QStringLiteral("hr");
    case Metric::Recall:
        return QStringLiteral("recall");
    case Metric::NDCG:
        return QStringLiteral("ndcg");
    case Metric::MRR:
        return QStringLiteral("mrr");
    case Metric::ILD:
        return QStringLiteral("ild");
    case Metric::Novelty:
        return QStringLiteral("novelty");
    }
    return {};
}

std::pair<Metric, int> parseMetricAtK(const QString& text)
{
    const QString t = text.trimmed().toLower();
    const auto at = t.indexOf(u'@');
    bool ok = false;
    const int k = at > 0 ? t.mid(at + 1).toInt(&ok) : 0;
    if (ok && k > 0) {
        const QString name = t.left(at);
        for (const Metric m : kAllMetrics)
            if (metricName(m) == name)
                return { m, k };
    }
    throw Error(QStringLiteral("unknown metric '%1' (accepted: hr@K, recall@K, ndcg@K, mrr@K, ild@K, novelty@K with "
                               "K > 0, e.g. ndcg@10)")
                    .arg(text));
}

Accuracy accuracyAtK(std::span<const int32_t> ranked, std::span<const int32_t> test, int k)
{
    Accuracy a;
    if (test.empty() || k <= 0)
        return a;
    const size_t cut = std::min(ranked.size(), static_cast<size_t>(k));
    int hits = 0;
    double dcg = 0;
    for (size_t i = 0; i < cut; ++i) {
        if (!std::binary_search(test.begin(), test.end(), ranked[i]))
            continue;
        ++hits;
        dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0); // rank i + 1
        if (hits == 1)
            a.mrr = 1.0 / static_cast<double>(i + 1);
    }
    const int ideal = std::min(k, static_cast<int>(test.size()));
    double idcg = 0;
    for (int i = 0; i < ideal; ++i)
        idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
    a.hr = hits > 0 ? 1.0 : 0.0;
    a.recall = static_cast<double>(hits) / static_cast<double>(ideal);
    a.ndcg = dcg / idcg;
    return a;
}

double ildAtK(std::span<const int32_t> ranked, int k, const std::vector<Item>& items)
{
    const size_t cut = std::min(ranked.size(), static_cast<size_t>(std::max(k, 0)));
    if (cut < 2)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < cut; ++i) {
        const auto& a = items[static_cast<size_t>(ranked[i])].categories;
        for (size_t j = i + 1; j < cut; ++j) {
            const auto& b = items[static_cast<size_t>(ranked[j])].categories;
            // Category lists are short and small: count the intersection directly
            // (they need not be sorted; duplicates are not expected).
            size_t common = 0;
            for (const int32_t c : a)
                common += std::find(b.begin(), b.end(), c) != b.end() ? 1 : 0;
            const size_t unionSize = a.size() + b.size() - common;
            const double jaccard = unionSize == 0 ? 1.0 : static_cast<double>(common) / static_cast<double>(unionSize);
            sum += 1.0 - jaccard;
        }
    }
    const double pairs = static_cast<double>(cut) * static_cast<double>(cut - 1) / 2.0;
    return sum / pairs;
}

Popularity Popularity::ofTrain(const Csr& train)
{
    Popularity p;
    p.numUsers = train.numRows;
    p.usersPerItem.assign(static_cast<size_t>(train.numCols), 0);
    for (const int32_t i : train.indices) // a CSR row holds an item at most once
        ++p.usersPerItem[static_cast<size_t>(i)];
    return p;
}

double Popularity::selfInformation(int32_t item) const
{
    const int32_t count = std::max(1, usersPerItem[static_cast<size_t>(item)]);
    return -std::log2(static_cast<double>(count) / static_cast<double>(std::max(1, numUsers)));
}

double noveltyAtK(std::span<const int32_t> ranked, int k, const Popularity& pop)
{
    const size_t cut = std::min(ranked.size(), static_cast<size_t>(std::max(k, 0)));
    if (cut == 0)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < cut; ++i)
        sum += pop.selfInformation(ranked[i]);
    return sum / static_cast<double>(cut);
}

CoverageCounter::CoverageCounter(int32_t numItems)
    : m_seen(static_cast<size_t>(std::max(numItems, 0)), 0)
{
}

void CoverageCounter::add(std::span<const int32_t> ranked, int k)
{
    const size_t cut = std::min(ranked.size(), static_cast<size_t>(std::max(k, 0)));
    for (size_t i = 0; i < cut; ++i) {
        if (ranked[i] < 0 || static_cast<size_t>(ranked[i]) >= m_seen.size())
            throw Error(QStringLiteral("CoverageCounter::add: item %1 outside a catalog of %2 items")
                            .arg(ranked[i])
                            .arg(m_seen.size()));
        char& seen = m_seen[static_cast<size_t>(ranked[i])];
        if (!seen) {
            seen = 1;
            ++m_distinct;
        }
    }
}

void CoverageCounter::merge(const CoverageCounter& other)
{
    if (other.m_seen.size() != m_seen.size())
        throw Error(QStringLiteral("CoverageCounter::merge: catalog sizes differ"));
    for (size_t i = 0; i < m_seen.size(); ++i) {
        if (other.m_seen[i] && !m_seen[i]) {
            m_seen[i] = 1;
            ++m_distinct;
        }
    }
}

double CoverageCounter::coverage() const
{
    return m_seen.empty() ? 0.0 : static_cast<double>(m_distinct) / static_cast<double>(m_seen.size());
}

} // namespace recwb::eval
