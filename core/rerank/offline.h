#pragma once

#include "coldstart/content.h"
#include "data/dataset.h"
#include "rerank/answer.h"
#include "rerank/prompt.h"

#include <QJsonObject>
#include <span>

// The embedded reranker: no key, no network. Relevance blends the normalised CF score
// with content similarity to the user's history; maximal marginal relevance (MMR) then
// trades relevance for diversity; each pick gets a template explanation naming the
// history items and shared categories or terms behind it.
namespace recwb::rerank {

// The defaults are those for CF candidates; offlineDefaults(true) gives the ones for
// candidates from the cold-start blend. Chosen on MovieLens 100K strat75 seed 7 and
// ml-latest-small cold@1/cold@3 so that the reranked list is not worse than its source
// (docs/QUALITY.md, "Rerank: offline vs its CF source"; docs/RERANK.md).
struct OfflineOptions {
    int k = 10;
    double lambda = 0.95; // MMR: 1 = relevance only, 0 = diversity only
    double cfWeight = 0.85; // relevance = cfWeight * cf + (1 - cfWeight) * content
    int historyLength = 200; // the most recent interactions used as the content profile
    QString historyVerb = QStringLiteral("liked"); // "Because you liked ..."
};

// The settings by where the candidates came from. The cold-start blend already scores
// content similarity to the user's few items (ColdStartConfig::contentWeight), so its
// candidates get no content share on top (cfWeight 1: the blend's order is the relevance)
// and a little more diversity (lambda 0.9); CF candidates get a content share of 0.15.
OfflineOptions offlineDefaults(bool coldStartCandidates);

// `base` with the settings named in `o` replaced: lambda, cf_weight, history. Throws Error
// naming an unknown key or a value out of range (lambda and cf_weight 0..1, history >= 1).
OfflineOptions offlineOptionsFromJson(const QJsonObject& o, OfflineOptions base = {});
// {"lambda", "cf_weight", "history"}: the settings offlineOptionsFromJson reads.
QJsonObject offlineOptionsToJson(const OfflineOptions& o);

// Similarity of two items for diversity: the mean of their content cosine (TF-IDF,
// categories and tags included) and the Jaccard overlap of their categories.
double itemSimilarity(const Dataset& ds, const coldstart::ContentIndex& content, int32_t a, int32_t b);
// Intra-list diversity: mean pairwise (1 - itemSimilarity) over the list.
double intraListDiversity(const Dataset& ds, const coldstart::ContentIndex& content, std::span<const int32_t> items);

// Holds references: the dataset and the content index must outlive it. Read-only and
// thread-safe after construction.
class OfflineReranker {
public:
    OfflineReranker(const Dataset& ds, const coldstart::ContentIndex& content);
    RerankResult rerank(std::span<const HistoryEntry> history, std::span<const Candidate> candidates,
        const OfflineOptions& options = {}) const;
    RerankResult rerank(int32_t user, std::span<const Candidate> candidates, const OfflineOptions& options = {}) const;

private:
    const Dataset& m_ds;
    const coldstart::ContentIndex& m_content;
};

} // namespace recwb::rerank
