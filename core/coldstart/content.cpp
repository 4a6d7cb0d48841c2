#include "coldstart/content.h"

#include <QHash>
#include <QSet>
#include <cmath>
#include <map>

namespace recwb::coldstart {

namespace {

const QSet<QString>& stopWords()
{
    static const QSet<QString> words = [] {
        QSet<QString> s;
        for (const char* w : { "the", "and", "of", "a", "an", "in", "on", "to", "for", "with", "is", "it", "its",
                 "at", "by", "from", "as", "or", "be", "this", "that", "are", "was", "his", "her", "their", "who",
                 "into", "about", "after", "all", "but", "not", "one", "two", "when", "where", "les", "la", "le",
                 "de", "el" })
            s.insert(QString::fromLatin1(w));
        return s;
    }();
    return words;
}

} // namespace

QStringList tokenize(const QString& text)
{
    QStringList out;
    QString cur;
    auto flush = [&] {
        if (cur.size() >= 2 && !stopWords().contains(cur))
            out << cur;
        cur.clear();
    };
    for (const QChar c : text) {
        if (c.isLetterOrNumber())
            cur += c.toLower();
        else
            flush();
    }
    flush();
    return out;
}

void ContentIndex::build(const Dataset& ds)
{
    QHash<QString, int32_t> termIndex;
    std::vector<std::map<int32_t, float>> tf(ds.items.size());
    auto add = [&](size_t item, const QString& term, float weight) {
        auto it = termIndex.constFind(term);
        int32_t t;
        if (it == termIndex.cend()) {
            t = static_cast<int32_t>(m_terms.size());
            termIndex.insert(term, t);
            m_terms << term;
        } else {
            t = *it;
        }
        tf[item][t] += weight;
    };
    for (size_t i = 0; i < ds.items.size(); ++i) {
        const Item& it = ds.items[i];
        QString title = it.title;
        for (const QString& w : tokenize(title))
            if (!(w.size() == 4 && w.toInt() == it.year))
                add(i, w, 1.0f);
        for (const QString& w : tokenize(it.description))
            add(i, w, 0.5f);
        for (const int32_t c : it.categories)
            add(i, QStringLiteral("category:") + ds.categories.value(c).toLower(), 2.0f);
        for (const QString& tag : it.tags)
            add(i, QStringLiteral("tag:") + tag.toLower(), 1.5f);
    }
    std::vector<int32_t> df(static_cast<size_t>(m_terms.size()), 0);
    for (const auto& row : tf)
        for (const auto& [t, w] : row)
            ++df[static_cast<size_t>(t)];
    const double n = std::max<double>(1.0, static_cast<double>(ds.items.size()));
    CsrBuilder b(static_cast<int32_t>(ds.items.size()), static_cast<int32_t>(m_terms.size()), false);
    for (size_t i = 0; i < tf.size(); ++i) {
        double norm = 0;
        std::vector<std::pair<int32_t, float>> row;
        for (const auto& [t, w] : tf[i]) {
            // Sub-linear tf, smoothed idf; a term every item has carries no weight.
            const double v = (1.0 + std::log(w)) * std::log((n + 1.0) / (df[static_cast<size_t>(t)] + 1.0));
            if (v > 0) {
                row.emplace_back(t, static_cast<float>(v));
                norm += v * v;
            }
        }
        const auto inv = static_cast<float>(norm > 0 ? 1.0 / std::sqrt(norm) : 0.0);
        for (const auto& [t, v] : row)
            b.add(static_cast<int32_t>(i), t, v * inv);
    }
    m_itemTerms = b.finish();
    m_termItems = m_itemTerms.transposed();
}

void ContentIndex::similarity(std::span<const int32_t> items, std::span<float> out) const
{
    std::fill(out.begin(), out.end(), 0.0f);
    if (items.empty() || m_itemTerms.numRows == 0)
        return;
    std::map<int32_t, float> profile;
    for (const int32_t i : items) {
        const auto terms = m_itemTerms.row(i);
        const auto w = m_itemTerms.rowValues(i);
        for (size_t k = 0; k < terms.size(); ++k)
            profile[terms[k]] += w[k];
    }
    double norm = 0;
    for (const auto& [t, w] : profile)
        norm += static_cast<double>(w) * w;
    if (norm <= 0)
        return;
    const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (const auto& [t, w] : profile) {
        const auto docs = m_termItems.row(t);
        const auto vals = m_termItems.rowValues(t);
        for (size_t k = 0; k < docs.size(); ++k)
            out[static_cast<size_t>(docs[k])] += w * inv * vals[k];
    }
}

QStringList ContentIndex::sharedTerms(int32_t a, int32_t b, int max) const
{
    std::vector<std::pair<float, int32_t>> shared;
    const auto ta = m_itemTerms.row(a);
    const auto wa = m_itemTerms.rowValues(a);
    for (size_t k = 0; k < ta.size(); ++k) {
        const auto tb = m_itemTerms.row(b);
        const auto it = std::lower_bound(tb.begin(), tb.end(), ta[k]);
        if (it != tb.end() && *it == ta[k])
            shared.emplace_back(wa[k] * m_itemTerms.rowValues(b)[static_cast<size_t>(it - tb.begin())], ta[k]);
    }
    std::sort(shared.begin(), shared.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    QStringList out;
    for (size_t k = 0; k < shared.size() && static_cast<int>(k) < max; ++k) {
        QString term = m_terms.value(shared[k].second);
        if (term.startsWith(u"category:"))
            term = term.mid(9);
        else if (term.startsWith(u"tag:"))
            term = term.mid(4);
        out << term;
    }
    return out;
}

} // namespace recwb::coldstart
