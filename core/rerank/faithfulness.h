#pragma once

#include "rerank/answer.h"

#include <QHash>
#include <QList>
#include <QSet>
#include <QString>
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace recwb {
class Dataset;
}

// Does an explanation tell the truth about the user and the item? (docs/FAITHFULNESS.md)
// Each finding is a Defect of kind "unsupported_claim" whose detail names the item, quotes
// the phrase and says why it is not supported.
namespace recwb::rerank {

inline const QString kUnsupportedClaim = QStringLiteral("unsupported_claim");

// What an explanation may rely on: the user's history (as the reranker saw it), the
// categories the user stated, and the candidate set.
struct ClaimContext {
    std::span<const int32_t> history; // item indices
    std::span<const int32_t> statedCategories; // indices into Dataset::categories
    std::span<const Candidate> candidates;
};

struct Claim {
    enum class Kind {
        TitleNotInHistory, // "because you watched X": X is a candidate, not in the history
        TitleOutsideCandidates, // X is a catalog item neither in the history nor a candidate
        UnknownTitle, // a quoted title that no catalog item has
        Category, // a category neither the item, the history nor the stated ones have
        Year, // a year that is neither the item's nor that of a history item it cites
        UnknownId, // "item 123": not a candidate and not in the history
    };
    Kind kind = Kind::UnknownTitle;
    QString phrase; // quoted from the explanation
    QString reason;
};

// Built once per dataset (titles, categories and ids indexed), then const and safe to use
// from several threads at once.
class FaithfulnessChecker {
public:
    explicit FaithfulnessChecker(const Dataset& ds);

    // The unsupported claims of one explanation of `item` (an index into the dataset).
    QList<Claim> check(const QString& explanation, int32_t item, const ClaimContext& context) const;
    // Appends an "unsupported_claim" defect per claim of every picked item of `result`
    // (filled items carry no explanation of the model's); returns how many were added.
    int annotate(RerankResult& result, const ClaimContext& context) const;

    static QString kindName(Claim::Kind kind);

private:
    // What check() looks up in the context, indexed once per context (annotate() checks
    // every picked item of a user against the same one).
    // Sorted, for binary search: built per user (a few hundred entries), where hash sets
    // cost an allocation per node.
    template <typename T> struct SortedSet {
        std::vector<T> values;
        void seal()
        {
            std::sort(values.begin(), values.end());
            values.erase(std::unique(values.begin(), values.end()), values.end());
        }
        bool contains(const T& x) const { return std::binary_search(values.begin(), values.end(), x); }
    };
    struct Indexed {
        SortedSet<int32_t> history;
        SortedSet<int32_t> candidates;
        SortedSet<QString> candidateIds;
        SortedSet<int32_t> categories; // of the history items and the stated ones
        SortedSet<int> historyYears;
    };
    Indexed index(const ClaimContext& context) const;
    qsizetype citedTitleEnd(const QString& text, qsizetype end, const std::vector<int32_t>& items) const;
    QList<Claim> check(const QString& explanation, int32_t item, const Indexed& context) const;

    const Dataset& m_ds;
    // normalised title variant (words joined by one space) -> items with that variant
    QHash<QString, std::vector<int32_t>> m_titles;
    int m_maxTitleWords = 0;
    // one-word titles that are common words ("Big", "Up"): only quoted or after a history cue
    QHash<QString, std::vector<int32_t>> m_wordTitles;
    // every leading run of >= 2 words of a variant: a quoted partial title
    QSet<QString> m_titlePrefixes;
    // hashes of every leading run of words of a multi-word variant that a longer variant
    // continues: the title scan stops extending a match when its words are not one (a
    // colliding hash only costs one more lookup)
    QSet<size_t> m_extendable;
    // normalised category name (and aliases) -> category index
    QHash<QString, int32_t> m_categories;
    int m_maxCategoryWords = 0;
    // the first word of every category alias: most words of an explanation start none
    QSet<QString> m_categoryFirstWords;
};

// The words of `text`, lower-cased, split at anything that is not a letter or a digit,
// with apostrophes dropped inside words ("Schindler's" -> "schindlers").
QStringList normalisedWords(const QString& text);

} // namespace recwb::rerank
