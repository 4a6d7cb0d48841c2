#pragma once

#include "data/csr.h"
#include "data/dataset.h"

#include <span>
#include <vector>

namespace recwb::coldstart {

// TF-IDF item vectors over title words, description words, categories and tags
// (categories and tags are whole terms, weighted up: they are curated). Rows are L2
// normalised, so a dot product is a cosine. Built once per dataset; read-only after.
class ContentIndex {
public:
    void build(const Dataset& ds);
    // Cosine between the (summed, normalised) profile of `items` and every item.
    void similarity(std::span<const int32_t> items, std::span<float> out) const;
    // The terms two items share, strongest first (for explanations).
    QStringList sharedTerms(int32_t a, int32_t b, int max = 3) const;
    int32_t numTerms() const { return static_cast<int32_t>(m_terms.size()); }
    const Csr& vectors() const { return m_itemTerms; }

private:
    QStringList m_terms;
    Csr m_itemTerms; // items x terms, tf-idf, L2-normalised rows
    Csr m_termItems; // the transpose, for scoring by posting lists
};

// Splits text into lower-case word tokens (letters and digits, length >= 2, minus a
// small English stop list).
QStringList tokenize(const QString& text);

} // namespace recwb::coldstart
