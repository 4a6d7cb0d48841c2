#include "rerank/faithfulness.h"

#include "data/dataset.h"

#include <QRegularExpression>
#include <algorithm>
#include <optional>

namespace recwb::rerank {

namespace {

    struct Word {
        QString norm;
        qsizetype begin = 0; // in the original text
        qsizetype end = 0;
        bool capitalised = false; // begins with an upper-case letter
        bool digit = false; // begins with a digit
        bool sentenceStart = false; // first word of the text or after . ! ? ; :
        bool quoted = false; // right after an opening quote
    };

    bool isQuote(QChar c)
    {
        return c == u'"' || c == QChar(0x201C) || c == QChar(0x201D) || c == QChar(0x201E) || c == QChar(0x00AB)
            || c == QChar(0x00BB);
    }

    bool isApostrophe(QChar c) { return c == u'\'' || c == QChar(0x2019); }

    std::vector<Word> tokenize(const QString& text)
    {
        std::vector<Word> words;
        bool sentenceStart = true;
        bool quoteOpen = false;
        qsizetype i = 0;
        const qsizetype n = text.size();
        while (i < n) {
            const QChar c = text.at(i);
            if (!c.isLetterOrNumber()) {
                if (c == u'.' || c == u'!' || c == u'?' || c == u';' || c == u':')
                    sentenceStart = true;
                quoteOpen = isQuote(c) ? true : (c.isSpace() ? quoteOpen : false);
                ++i;
                continue;
            }
            Word w;
            w.begin = i;
            w.capitalised = c.isUpper();
            w.digit = c.isDigit();
            w.sentenceStart = sentenceStart;
            w.quoted = quoteOpen;
            while (i < n) {
                const QChar d = text.at(i);
                if (d.isLetterOrNumber())
                    w.norm += d.toLower();
                else if (!(isApostrophe(d) && i + 1 < n && text.at(i + 1).isLetter() && !w.norm.isEmpty()))
                    break;
                ++i;
            }
            w.end = i;
            words.push_back(std::move(w));
            sentenceStart = false;
            quoteOpen = false;
        }
        return words;
    }

    QString joinWords(const std::vector<Word>& words, size_t from, size_t count)
    {
        QString s;
        for (size_t i = from; i < from + count; ++i) {
            if (i > from)
                s += u' ';
            s += words[i].norm;
        }
        return s;
    }

    QString joinNorm(const QStringList& words) { return words.join(u' '); }

    // Words too common to be taken for a one-word title ("Big", "Heat" and "Speed" are
    // films, and words of every second sentence).
    const QSet<QString>& commonWords()
    {
        static const QSet<QString> words = [] {
            QSet<QString> s;
            for (const char* w : { "a", "an", "the", "and", "or", "but", "if", "of", "in", "on", "at", "to", "for", "by",
                     "with", "from", "as", "is", "it", "its", "this", "that", "these", "those", "you", "your", "yours",
                     "we", "our", "they", "their", "he", "she", "his", "her", "i", "me", "my", "be", "been", "being",
                     "are", "was", "were", "do", "does", "did", "have", "has", "had", "not", "no", "yes", "so", "too",
                     "very", "more", "most", "much", "many", "also", "just", "like", "likes", "liked", "love", "loved",
                     "because", "since", "while", "when", "where", "who", "what", "which", "why", "how", "all", "any",
                     "some", "one", "two", "three", "first", "last", "new", "old", "big", "good", "great", "best",
                     "top", "fan", "fans", "film", "films", "movie", "movies", "story", "stories", "classic",
                     "popular", "similar", "users", "user", "taste", "watched", "watch", "enjoyed", "enjoy", "pick",
                     "picks", "rank", "score", "up", "fly", "go", "out", "there", "here", "now",
                     "then", "than", "again", "still", "both", "each", "other", "another", "same", "such", "only",
                     "well", "better", "fun", "funny", "dark", "light", "strong", "action", "drama", "comedy" })
                s.insert(QString::fromLatin1(w));
            return s;
        }();
        return words;
    }

    // Words that put a title in the user's history: "because you watched X".
    const QSet<QString>& historyCues()
    {
        static const QSet<QString> words = [] {
            QSet<QString> s;
            for (const char* w : { "watched", "liked", "loved", "enjoyed", "rated", "saw", "seen", "viewed", "bought",
                     "purchased", "read", "played", "favorite", "favorites", "favourite", "favourites", "history",
                     "rewatched", "listened" })
                s.insert(QString::fromLatin1(w));
            return s;
        }();
        return words;
    }

    const QStringList kTrailingArticles { QStringLiteral("the"), QStringLiteral("a"), QStringLiteral("an"),
        QStringLiteral("les"), QStringLiteral("la"), QStringLiteral("le"), QStringLiteral("il"), QStringLiteral("el"),
        QStringLiteral("das"), QStringLiteral("der"), QStringLiteral("die"), QStringLiteral("l") };

    // "Usual Suspects, The (1995)" -> "usual suspects", "the usual suspects"; "Star Wars:
    // Episode IV" also "star wars".
    QStringList titleVariants(const QString& title)
    {
        static const QRegularExpression parens(QStringLiteral(R"(\([^()]*\))"));
        QString base = title;
        base.replace(parens, QStringLiteral(" "));
        base = base.trimmed();
        QStringList out;
        auto add = [&](const QStringList& words) {
            if (words.isEmpty())
                return;
            const QString v = joinNorm(words);
            if (!out.contains(v))
                out << v;
        };
        auto withArticles = [&](const QString& text) {
            QStringList words = normalisedWords(text);
            const qsizetype comma = text.lastIndexOf(u',');
            if (comma > 0) {
                const QStringList tail = normalisedWords(text.mid(comma + 1));
                if (tail.size() == 1 && kTrailingArticles.contains(tail.front())) {
                    QStringList head = normalisedWords(text.left(comma));
                    add(head);
                    add(QStringList { tail.front() } + head);
                    return;
                }
            }
            add(words);
            if (words.size() > 1 && kTrailingArticles.contains(words.front()))
                add(words.mid(1));
        };
        withArticles(base);
        // "Star Wars: Episode IV" -> "Star Wars"; "Dr. Strangelove or: How I Learned..." -> "Dr. Strangelove"
        const qsizetype colon = base.indexOf(u':');
        if (colon > 0) {
            QString head = base.left(colon).trimmed();
            if (head.endsWith(QStringLiteral(" or"), Qt::CaseInsensitive))
                head.chop(3);
            if (normalisedWords(head).size() >= 2)
                withArticles(head);
        }
        return out;
    }

    QStringList categoryAliases(const QString& name)
    {
        const QStringList words = normalisedWords(name);
        QStringList out;
        if (words.isEmpty())
            return out;
        const QString base = joinNorm(words);
        if (base == u"unknown" || base == u"no genres listed" || base == u"other")
            return out;
        out << base;
        if (words.size() == 1) {
            const QString& w = words.front();
            if (w.endsWith(u'y') && w.size() > 3)
                out << w.left(w.size() - 1) + QStringLiteral("ies");
            else if (!w.endsWith(u's'))
                out << w + u's';
            if (w.endsWith(QStringLiteral("childrens")))
                out << QStringLiteral("children") << QStringLiteral("kids");
        }
        if (base == u"sci fi")
            out << QStringLiteral("science fiction") << QStringLiteral("scifi");
        else if (base == u"film noir")
            out << QStringLiteral("noir");
        else if (base == u"animation")
            out << QStringLiteral("animated");
        else if (base == u"romance")
            out << QStringLiteral("romantic");
        else if (base == u"comedy")
            out << QStringLiteral("comedic");
        return out;
    }

    QString quote(const QString& text, const std::vector<Word>& words, size_t from, size_t count)
    {
        return text.mid(words[from].begin, words[from + count - 1].end - words[from].begin);
    }

} // namespace

QStringList normalisedWords(const QString& text)
{
    QStringList out;
    for (Word& w : tokenize(text))
        out << std::move(w.norm);
    return out;
}

FaithfulnessChecker::FaithfulnessChecker(const Dataset& ds)
    : m_ds(ds)
{
    for (int32_t c = 0; c < static_cast<int32_t>(ds.categories.size()); ++c)
        for (const QString& alias : categoryAliases(ds.categories.at(c))) {
            m_categories.insert(alias, c);
            m_categoryFirstWords.insert(alias.section(u' ', 0, 0));
            m_maxCategoryWords = std::max<int>(m_maxCategoryWords, static_cast<int>(alias.count(u' ')) + 1);
        }
    for (int32_t i = 0; i < ds.numItems(); ++i)
        for (const QString& v : titleVariants(ds.items[static_cast<size_t>(i)].title)) {
            const int words = static_cast<int>(v.count(u' ')) + 1;
            if (words == 1 && (commonWords().contains(v) || v.size() < 4 || m_categories.contains(v))) {
                auto& list = m_wordTitles[v];
                if (list.size() < 64)
                    list.push_back(i);
                continue;
            }
            for (qsizetype sp = v.indexOf(u' '); sp > 0; sp = v.indexOf(u' ', sp + 1)) {
                if (sp != v.indexOf(u' '))
                    m_titlePrefixes.insert(v.left(sp));
                m_extendable.insert(qHash(QStringView(v).left(sp)));
            }
            auto& list = m_titles[v];
            if (list.size() < 64)
                list.push_back(i);
            m_maxTitleWords = std::max(m_maxTitleWords, std::min(words, 16));
        }
}

// Where a title cited up to `end` ends in the text: the matched words, and the
// parenthesised parts that follow when one of the items' titles has them ("Independence
// Day (ID4) (1996)").
qsizetype FaithfulnessChecker::citedTitleEnd(
    const QString& text, qsizetype end, const std::vector<int32_t>& items) const
{
    for (;;) {
        qsizetype open = end;
        while (open < text.size() && text.at(open).isSpace())
            ++open;
        if (open >= text.size() || text.at(open) != u'(')
            return end;
        const qsizetype close = text.indexOf(u')', open);
        if (close < 0)
            return end;
        const QStringView part = QStringView(text).mid(open, close + 1 - open);
        const bool inTitle = std::any_of(items.begin(), items.end(), [&](int32_t t) {
            return m_ds.items[static_cast<size_t>(t)].title.contains(part, Qt::CaseInsensitive);
        });
        if (!inTitle)
            return end;
        end = close + 1;
    }
}

QString FaithfulnessChecker::kindName(Claim::Kind kind)
{
    switch (kind) {
    case Claim::Kind::TitleNotInHistory:
        return QStringLiteral("title_not_in_history");
    case Claim::Kind::TitleOutsideCandidates:
        return QStringLiteral("title_outside_candidates");
    case Claim::Kind::UnknownTitle:
        return QStringLiteral("unknown_title");
    case Claim::Kind::Category:
        return QStringLiteral("category");
    case Claim::Kind::Year:
        return QStringLiteral("year");
    case Claim::Kind::UnknownId:
        return QStringLiteral("unknown_id");
    }
    return {};
}

FaithfulnessChecker::Indexed FaithfulnessChecker::index(const ClaimContext& context) const
{
    Indexed x;
    x.history.values.assign(context.history.begin(), context.history.end());
    x.candidates.values.reserve(context.candidates.size());
    x.candidateIds.values.reserve(context.candidates.size());
    for (const Candidate& c : context.candidates) {
        x.candidates.values.push_back(c.item);
        x.candidateIds.values.push_back(c.externalId);
    }
    x.categories.values.assign(context.statedCategories.begin(), context.statedCategories.end());
    for (const int32_t h : context.history)
        if (h >= 0 && h < m_ds.numItems()) {
            const Item& it = m_ds.items[static_cast<size_t>(h)];
            x.categories.values.insert(x.categories.values.end(), it.categories.begin(), it.categories.end());
            if (it.year > 0)
                x.historyYears.values.push_back(it.year);
        }
    x.history.seal();
    x.candidates.seal();
    x.candidateIds.seal();
    x.categories.seal();
    x.historyYears.seal();
    return x;
}

QList<Claim> FaithfulnessChecker::check(const QString& explanation, int32_t item, const ClaimContext& context) const
{
    if (explanation.trimmed().isEmpty() || item < 0 || item >= m_ds.numItems())
        return {};
    return check(explanation, item, index(context));
}

QList<Claim> FaithfulnessChecker::check(const QString& explanation, int32_t item, const Indexed& context) const
{
    QList<Claim> claims;
    if (explanation.trimmed().isEmpty() || item < 0 || item >= m_ds.numItems())
        return claims;
    const std::vector<Word> words = tokenize(explanation);
    const auto& history = context.history;
    const auto& candidates = context.candidates;
    const auto& candidateIds = context.candidateIds;
    std::vector<bool> covered(words.size(), false);
    std::vector<std::pair<qsizetype, qsizetype>> titleSpans; // [begin, end) of each cited title in the text
    QHash<size_t, QSet<int>> yearsAfterTitle; // word index right after a cited title -> its items' years

    // 1. Titles: the longest catalog title starting at each word.
    for (size_t i = 0; i < words.size();) {
        size_t matched = 0;
        const std::vector<int32_t>* items = nullptr;
        const size_t longest = std::min(words.size() - i, static_cast<size_t>(m_maxTitleWords));
        const Word& first = words[i];
        QString key;
        for (size_t len = 1; len <= longest; ++len) { // the longest match wins
            if (len > 1) {
                if (!m_extendable.contains(qHash(key)))
                    break; // no title goes on from these words
                key += u' ';
            }
            key += words[i + len - 1].norm;
            auto it = m_titles.constFind(key);
            if (it == m_titles.cend() && len == 1) {
                // "Big", "Up": a common word counts as a title only quoted or right after
                // a history cue ("because you watched Big")
                it = m_wordTitles.constFind(key);
                const bool afterCue = i > 0 && historyCues().contains(words[i - 1].norm) && first.capitalised;
                if (it != m_wordTitles.cend() && !first.quoted && !afterCue)
                    it = m_wordTitles.cend();
                if (it == m_wordTitles.cend())
                    continue;
            } else if (it == m_titles.cend()) {
                continue;
            }
            // One-word titles only when capitalised mid-sentence or quoted; longer ones
            // when their first word is capitalised or quoted.
            const bool titleLike
                = first.quoted || ((first.capitalised || first.digit) && (len > 1 || !first.sentenceStart));
            if (!titleLike)
                continue;
            matched = len;
            items = &*it;
        }
        if (matched == 0) {
            ++i;
            continue;
        }
        for (size_t j = i; j < i + matched; ++j)
            covered[j] = true;
        titleSpans.emplace_back(words[i].begin, citedTitleEnd(explanation, words[i + matched - 1].end, *items));
        // A remake or a re-release shares the title: the most favourable reading counts.
        bool self = false, inHistory = false, isCandidate = false;
        for (const int32_t t : *items) {
            self = self || t == item;
            inHistory = inHistory || history.contains(t);
            isCandidate = isCandidate || candidates.contains(t);
            yearsAfterTitle[i + matched].insert(m_ds.items[static_cast<size_t>(t)].year);
        }
        const QString phrase = quote(explanation, words, i, matched);
        if (!self && !inHistory) {
            if (!isCandidate) {
                claims.append({ Claim::Kind::TitleOutsideCandidates, phrase,
                    QStringLiteral("cites a title that is neither in the user's history nor among the candidates") });
            } else {
                // a cue within six words before or after, in the same sentence
                bool cue = false;
                for (size_t b = i; b-- > (i >= 6 ? i - 6 : 0) && !cue;) {
                    cue = historyCues().contains(words[b].norm);
                    if (words[b].sentenceStart)
                        break;
                }
                for (size_t a = i + matched; a < std::min(words.size(), i + matched + 6) && !cue; ++a) {
                    if (words[a].sentenceStart)
                        break;
                    cue = historyCues().contains(words[a].norm);
                }
                if (cue)
                    claims.append({ Claim::Kind::TitleNotInHistory, phrase,
                        QStringLiteral("says the user watched a title that is not in their history") });
            }
        }
        i += matched;
    }

    // 2. Quoted phrases that look like titles but name no catalog item (an invented film).
    static const QRegularExpression quoted(QStringLiteral("[\"\u201C\u201E\u00AB]([^\"\u201C\u201D\u201E\u00AB\u00BB]{2,120})[\"\u201D\u00BB]"));
    const bool hasQuote = std::any_of(explanation.begin(), explanation.end(), isQuote);
    for (auto m = hasQuote ? quoted.globalMatch(explanation) : QRegularExpressionMatchIterator(); m.hasNext();) {
        const QRegularExpressionMatch q = m.next();
        const QString inner = q.captured(1).trimmed();
        if (inner.isEmpty() || !inner.at(0).isUpper())
            continue;
        const QStringList inWords = normalisedWords(inner);
        if (inWords.isEmpty() || inWords.size() > 12)
            continue;
        bool known = false;
        for (size_t w = 0; w < words.size() && !known; ++w)
            known = covered[w] && words[w].begin >= q.capturedStart(1) && words[w].end <= q.capturedEnd(1);
        const QString joined = joinNorm(inWords);
        known = known || m_titles.contains(joined) || m_categories.contains(joined);
        known = known || (inWords.size() >= 2 && m_titlePrefixes.contains(joined)); // a partial title
        if (!known)
            claims.append({ Claim::Kind::UnknownTitle, inner, QStringLiteral("quotes a title no catalog item has") });
    }

    // 2b. "because you watched Titanic": a capitalised name right after a history cue
    // that is no catalog title (nor a category).
    static const QSet<QString> connectors { QStringLiteral("of"), QStringLiteral("the"), QStringLiteral("and"),
        QStringLiteral("a"), QStringLiteral("in"), QStringLiteral("on"), QStringLiteral("to") };
    for (size_t i = 0; i + 1 < words.size(); ++i) {
        if (!historyCues().contains(words[i].norm))
            continue;
        size_t b = i + 1;
        if (b < words.size() && words[b].norm == u"the" && !words[b].capitalised)
            ++b;
        if (b >= words.size() || covered[b] || !words[b].capitalised || words[b].norm == u"i"
            || words[b].sentenceStart)
            continue;
        size_t e = b;
        while (e < words.size() && !covered[e] && !(e > b && words[e].sentenceStart)
            && (words[e].capitalised || (words[e].digit && e > b) || (connectors.contains(words[e].norm) && e > b)))
            ++e;
        while (e > b && !words[e - 1].capitalised && !words[e - 1].digit)
            --e;
        const QString name = joinWords(words, b, e - b);
        if (e > b && !m_categories.contains(name) && !m_titlePrefixes.contains(name))
            claims.append({ Claim::Kind::UnknownTitle, quote(explanation, words, b, e - b),
                QStringLiteral("says the user watched a title no catalog item has") });
    }

    // 3. Categories the item, the history and the stated ones all lack.
    const std::vector<int32_t>& itemCategories = m_ds.items[static_cast<size_t>(item)].categories;
    auto supported = [&](int32_t c) {
        return context.categories.contains(c)
            || std::find(itemCategories.begin(), itemCategories.end(), c) != itemCategories.end();
    };
    QSet<int32_t> reported;
    for (size_t i = 0; i < words.size();) {
        size_t matched = 0;
        int32_t category = -1;
        const size_t longest = std::min(words.size() - i, static_cast<size_t>(m_maxCategoryWords));
        if (!m_categoryFirstWords.contains(words[i].norm)) {
            ++i;
            continue;
        }
        for (size_t len = longest; len >= 1 && !covered[i]; --len) {
            bool free = true;
            for (size_t j = i; j < i + len; ++j)
                free = free && !covered[j];
            if (!free)
                continue;
            const auto it = m_categories.constFind(joinWords(words, i, len));
            if (it != m_categories.cend()) {
                matched = len;
                category = *it;
                break;
            }
        }
        if (matched == 0) {
            ++i;
            continue;
        }
        if (!supported(category) && !reported.contains(category)) {
            reported.insert(category);
            claims.append({ Claim::Kind::Category, quote(explanation, words, i, matched),
                QStringLiteral("claims the category %1, which neither the item, the user's history nor their stated "
                               "categories have")
                    .arg(m_ds.categories.at(category)) });
        }
        i += matched;
    }

    // 4. Years: the item's, or that of a history title it cites.
    const int itemYear = m_ds.items[static_cast<size_t>(item)].year;
    if (itemYear > 0) {
        const auto& historyYears = context.historyYears;
        for (size_t i = 0; i < words.size(); ++i) {
            if (covered[i] || words[i].norm.size() != 4)
                continue;
            bool ok = false;
            const int y = words[i].norm.toInt(&ok);
            if (!ok || y < 1880 || y > 2039)
                continue;
            // "Toy Story (1995)": the year of the title it follows was judged with the title
            const bool titlesYear = yearsAfterTitle.value(i).contains(y);
            if (y != itemYear && !titlesYear && !historyYears.contains(y))
                claims.append({ Claim::Kind::Year, quote(explanation, words, i, 1),
                    QStringLiteral("gives the year %1; the item is from %2").arg(y).arg(itemYear) });
        }
    }

    // 5. Ids: "item 123", "id: x9", "#123" that are neither candidates nor history items.
    static const QRegularExpression idRef(
        QStringLiteral(R"((?:\b(?:item|id|movie|film)\s*(?:id)?\s*[:#]?\s*["']?|#)([A-Za-z0-9][A-Za-z0-9_.:-]*))"),
        QRegularExpression::CaseInsensitiveOption);
    // every id counted below has a digit: an explanation without one names no id
    const bool hasDigit = std::any_of(explanation.begin(), explanation.end(), [](QChar c) { return c.isDigit(); });
    for (auto m = hasDigit ? idRef.globalMatch(explanation) : QRegularExpressionMatchIterator(); m.hasNext();) {
        const QRegularExpressionMatch r = m.next();
        QString id = r.captured(1);
        while (id.endsWith(u'.') || id.endsWith(u':'))
            id.chop(1);
        if (!std::any_of(id.begin(), id.end(), [](QChar c) { return c.isDigit(); }))
            continue;
        // "Independence Day (ID4)": part of a cited title, not an id
        const qsizetype at = r.capturedStart(0);
        if (std::any_of(titleSpans.begin(), titleSpans.end(),
                [at](const std::pair<qsizetype, qsizetype>& t) { return at >= t.first && at < t.second; }))
            continue;
        if (candidateIds.contains(id))
            continue;
        const int32_t idx = m_ds.itemIndex(id);
        if (idx >= 0 && (history.contains(idx) || idx == item))
            continue;
        // "item 3" may be a position; only ids the candidate set could have had count.
        if (idx < 0 && id.size() <= 2)
            continue;
        claims.append({ Claim::Kind::UnknownId, r.captured(0).trimmed(),
            idx >= 0 ? QStringLiteral("names an item that is not among the candidates")
                     : QStringLiteral("names an id no catalog item has") });
    }
    return claims;
}

int FaithfulnessChecker::annotate(RerankResult& result, const ClaimContext& context) const
{
    int added = 0;
    std::optional<Indexed> indexed; // built for the first explanation that needs it
    for (RankedItem& it : result.items) {
        if (it.filled)
            continue;
        it.claims.clear();
        if (it.explanation.trimmed().isEmpty() || it.item < 0 || it.item >= m_ds.numItems())
            continue;
        if (!indexed)
            indexed = index(context);
        for (const Claim& c : check(it.explanation, it.item, *indexed)) {
            const QString line = QStringLiteral("\"%1\" (%2): %3").arg(c.phrase, kindName(c.kind), c.reason);
            it.claims << line;
            result.defects.append({ kUnsupportedClaim, it.externalId + QStringLiteral(": ") + line });
            ++added;
        }
    }
    return added;
}

} // namespace recwb::rerank
