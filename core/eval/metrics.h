#pragma once

#include "data/csr.h"
#include "data/dataset.h"

#include <QString>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace recwb::eval {

// The per-user metrics of docs/EVALUATION.md, in a fixed order. ILD and novelty are
// per list (one list = one user), so they are kept per user as well and can be compared
// with paired statistics like the accuracy metrics.
enum class Metric { HR, Recall, NDCG, MRR, ILD, Novelty };
inline constexpr int kMetricCount = 6;
inline constexpr std::array<Metric, kMetricCount> kAllMetrics { Metric::HR, Metric::Recall, Metric::NDCG,
    Metric::MRR, Metric::ILD, Metric::Novelty };

// "hr", "recall", "ndcg", "mrr", "ild", "novelty": the JSON key is name + "@" + K.
QString metricName(Metric m);
// Parses "ndcg@10" into the metric and K; throws Error naming the accepted names.
// "coverage@K" is not a per-user metric and is refused here.
std::pair<Metric, int> parseMetricAtK(const QString& text);

// Accuracy of one ranked list against the user's test items, cut at K.
// `ranked` is best first (it may be shorter than K, or empty: then only what is there
// counts and a missing place is a miss); `test` is sorted ascending and has no
// duplicates. With an empty test set every value is 0 (such users are not evaluated).
// - HR@K: 1 if any of the first K is a test item.
// - Recall@K: hits / min(K, |test|).
// - NDCG@K: DCG / IDCG, DCG = sum_{i=1..K} rel_i / log2(i + 1), IDCG = the DCG of
//   min(K, |test|) hits in the first places (binary relevance).
// - MRR@K: 1 / rank of the first hit within K, else 0.
struct Accuracy {
    double hr = 0;
    double recall = 0;
    double ndcg = 0;
    double mrr = 0;
};
Accuracy accuracyAtK(std::span<const int32_t> ranked, std::span<const int32_t> test, int k);

// Intra-list diversity of the first K items: the mean over the unordered pairs of
// 1 - Jaccard(categories of a, categories of b). Conventions: two items that both have
// no category count as identical (Jaccard 1, distance 0); a list with fewer than two
// items has no pairs and its ILD is 0.
double ildAtK(std::span<const int32_t> ranked, int k, const std::vector<Item>& items);

// Popularity in TRAIN as novelty needs it: per item the number of distinct users with the
// item in train, and the number of users (rows of train, every user of the dataset).
struct Popularity {
    std::vector<int32_t> usersPerItem;
    int32_t numUsers = 0;
    static Popularity ofTrain(const Csr& train);
    // -log2(users with the item / users). An item nobody has in train counts as if one
    // user had it (the largest novelty a seen item can have, log2(users)), so the value
    // stays finite.
    double selfInformation(int32_t item) const;
};

// Novelty of the first K items: the mean self-information over the listed items; 0 for
// an empty list.
double noveltyAtK(std::span<const int32_t> ranked, int k, const Popularity& pop);

// Coverage@K: distinct items in all top-K lists / catalog size. Fed list by list.
class CoverageCounter {
public:
    explicit CoverageCounter(int32_t numItems = 0);
    void add(std::span<const int32_t> ranked, int k);
    void merge(const CoverageCounter& other);
    int32_t distinct() const { return m_distinct; }
    double coverage() const;

private:
    std::vector<char> m_seen;
    int32_t m_distinct = 0;
};

} // namespace recwb::eval
