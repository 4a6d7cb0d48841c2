#include "rerank/answer.h"

#include <QElapsedTimer>
#include <QHash>
#include <QJsonArray>
#include <algorithm>
#include <array>
#include <cstring>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

namespace recwb::rerank {

namespace {

using json = nlohmann::json;

QString fromStd(const std::string& s)
{
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

// Strips one enclosing ``` fence (with an optional language tag) and trims to the
// outermost {...} or [...]. Nothing more aggressive (LLM_APIS.md F3).
QString extractJson(const QString& text, QList<Defect>& defects)
{
    QString s = text.trimmed();
    const qsizetype open = s.indexOf(QStringLiteral("```"));
    if (open >= 0) {
        const qsizetype lineEnd = s.indexOf(u'\n', open);
        const qsizetype close = lineEnd < 0 ? -1 : s.indexOf(QStringLiteral("```"), lineEnd);
        if (lineEnd >= 0) {
            defects.append({ QStringLiteral("code_fence"), QStringLiteral("the answer was wrapped in a code fence") });
            if (open > 0 || (close >= 0 && !s.mid(close + 3).trimmed().isEmpty()))
                defects.append({ QStringLiteral("prose"), QStringLiteral("text around the code fence") });
            s = close >= 0 ? s.mid(lineEnd + 1, close - lineEnd - 1) : s.mid(lineEnd + 1);
            s = s.trimmed();
        }
    }
    const qsizetype brace = s.indexOf(u'{');
    const qsizetype bracket = s.indexOf(u'[');
    qsizetype start = brace;
    QChar closer = u'}';
    if (bracket >= 0 && (brace < 0 || bracket < brace)) {
        start = bracket;
        closer = u']';
    }
    if (start < 0)
        return s;
    const qsizetype end = s.lastIndexOf(closer);
    const QString inner = end > start ? s.mid(start, end - start + 1) : s.mid(start);
    if (inner.size() != s.size() && !defects.isEmpty() && defects.back().kind == u"prose")
        return inner;
    if (inner.size() != s.size())
        defects.append({ QStringLiteral("prose"), QStringLiteral("text before or after the JSON") });
    return inner;
}

constexpr std::array<std::string_view, 6> kNonFiniteWords { "-Infinity", "Infinity", "NaN", "-inf", "inf", "nan" };

// The bare word of kNonFiniteWords at `i` outside of a string literal, if any.
std::string_view nonFiniteWordAt(std::string_view in, size_t i)
{
    const char c = in[i];
    if (c != '-' && c != 'I' && c != 'N' && c != 'i' && c != 'n')
        return {};
    if (i > 0 && std::isalnum(static_cast<unsigned char>(in[i - 1])))
        return {};
    for (const std::string_view word : kNonFiniteWords) {
        const size_t n = word.size();
        if (in.compare(i, n, word) == 0 && (i + n >= in.size() || !std::isalnum(static_cast<unsigned char>(in[i + n]))))
            return word;
    }
    return {};
}

// Whether `in` has a bare non-finite word outside of its string literals. String
// literals are skipped a quote at a time (memchr), so an answer of long explanations
// costs a few comparisons per string instead of one per byte.
bool hasBareNonFinite(std::string_view in)
{
    size_t i = 0;
    while (i < in.size()) {
        if (in[i] == '"') {
            // the closing quote: the next one preceded by an even number of backslashes
            size_t from = i + 1;
            for (;;) {
                const void* q = std::memchr(in.data() + from, '"', in.size() - from);
                if (!q)
                    return false; // an unterminated string: nothing after it is outside one
                const size_t at = static_cast<size_t>(static_cast<const char*>(q) - in.data());
                size_t backslashes = 0;
                while (at - backslashes > i + 1 && in[at - backslashes - 1] == '\\')
                    ++backslashes;
                from = at + 1;
                if (backslashes % 2 == 0)
                    break;
            }
            i = from;
            continue;
        }
        if (!nonFiniteWordAt(in, i).empty())
            return true;
        ++i;
    }
    return false;
}

// Bare NaN / Infinity (not JSON, but models write them) become strings outside of
// string literals, so the entry is kept and its score reported as not finite. Most
// answers have none and are returned as they are.
std::string quoteNonFinite(std::string in)
{
    if (!hasBareNonFinite(in))
        return in;
    std::string out;
    out.reserve(in.size());
    bool inString = false;
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (inString) {
            out += c;
            if (c == '\\' && i + 1 < in.size())
                out += in[++i];
            else if (c == '"')
                inString = false;
            continue;
        }
        if (c == '"') {
            inString = true;
            out += c;
            continue;
        }
        const std::string_view word = nonFiniteWordAt(in, i);
        if (word.empty()) {
            out += c;
            continue;
        }
        out += '"';
        out += word;
        out += '"';
        i += word.size() - 1;
    }
    return out;
}

std::optional<QString> idOf(const json& v)
{
    if (v.is_string()) {
        const QString s = fromStd(v.get<std::string>()).trimmed();
        return s.isEmpty() ? std::nullopt : std::optional<QString>(s);
    }
    if (v.is_number_unsigned())
        return QString::number(v.get<quint64>());
    if (v.is_number_integer())
        return QString::number(v.get<qint64>());
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.0e15)
            return QString::number(static_cast<qint64>(d));
        return QString::number(d, 'g', 17);
    }
    return std::nullopt;
}

} // namespace

int RerankResult::pickedCount() const
{
    return static_cast<int>(std::count_if(items.begin(), items.end(), [](const RankedItem& r) { return !r.filled; }));
}

bool RerankResult::hasDefect(const QString& kind) const
{
    return std::any_of(defects.begin(), defects.end(), [&](const Defect& d) { return d.kind == kind; });
}

QJsonObject RerankResult::toJson() const
{
    QJsonArray list;
    for (const RankedItem& r : items) {
        QJsonObject o {
            { QStringLiteral("item_id"), r.externalId },
            { QStringLiteral("rank"), r.rank },
            { QStringLiteral("score"), r.score ? QJsonValue(*r.score) : QJsonValue(QJsonValue::Null) },
            { QStringLiteral("explanation"), r.explanation },
            { QStringLiteral("cf_rank"), r.cfRank },
            { QStringLiteral("filled"), r.filled },
        };
        if (!r.claims.isEmpty())
            o.insert(QStringLiteral("claims"), QJsonArray::fromStringList(r.claims));
        list.append(o);
    }
    QJsonArray defs;
    for (const Defect& d : defects)
        defs.append(QJsonObject { { QStringLiteral("kind"), d.kind }, { QStringLiteral("detail"), d.detail } });
    QJsonObject times;
    for (const StageTiming& t : timings)
        times.insert(t.stage, t.ms);
    return QJsonObject {
        { QStringLiteral("items"), list },
        { QStringLiteral("defects"), defs },
        { QStringLiteral("usable"), usable },
        { QStringLiteral("fallback_reason"), fallbackReason },
        { QStringLiteral("timings_ms"), times },
    };
}

RerankResult cfFallback(std::span<const Candidate> candidates, int k, const QString& reason)
{
    std::vector<const Candidate*> order;
    for (const Candidate& c : candidates)
        order.push_back(&c);
    std::stable_sort(order.begin(), order.end(), [](const Candidate* a, const Candidate* b) { return a->cfRank < b->cfRank; });
    RerankResult r;
    r.usable = false;
    r.fallbackReason = reason;
    for (size_t i = 0; i < order.size() && static_cast<int>(i) < k; ++i)
        r.items.append(RankedItem { order[i]->item, order[i]->externalId, static_cast<int>(i) + 1, order[i]->cfScore,
            QString(), order[i]->cfRank, true, {} });
    return r;
}

RerankResult parseAnswer(const QString& text, FinishReason finish, std::span<const Candidate> candidates, int k)
{
    QElapsedTimer timer;
    timer.start();
    QList<Defect> defects;
    const bool truncated = finish == FinishReason::Truncated;
    auto fallback = [&](const QString& reason) {
        RerankResult r = cfFallback(candidates, k, reason);
        r.defects = defects;
        r.timings.append({ QStringLiteral("parse"), static_cast<double>(timer.nsecsElapsed()) / 1e6 });
        return r;
    };
    if (truncated)
        defects.append({ QStringLiteral("truncated"), QStringLiteral("the model hit its output limit") });
    if (finish == FinishReason::Filtered) {
        defects.append({ QStringLiteral("refused"), QStringLiteral("the provider filtered or the model refused") });
        return fallback(QStringLiteral("refused"));
    }
    if (text.trimmed().isEmpty()) {
        if (truncated)
            return fallback(QStringLiteral("truncated"));
        defects.append({ QStringLiteral("empty"), QStringLiteral("the answer has no text") });
        return fallback(QStringLiteral("empty answer"));
    }

    const std::string body = quoteNonFinite(extractJson(text, defects).toStdString());
    json doc;
    try {
        doc = json::parse(body);
    } catch (const json::exception& e) {
        if (truncated)
            return fallback(QStringLiteral("truncated")); // never reported as a parse error (F1)
        defects.append({ QStringLiteral("invalid_json"), fromStd(e.what()) });
        return fallback(QStringLiteral("invalid JSON"));
    }
    const json* list = nullptr;
    if (doc.is_array())
        list = &doc;
    else if (doc.is_object() && doc.contains("recommendations") && doc["recommendations"].is_array())
        list = &doc["recommendations"];
    if (!list) {
        defects.append({ QStringLiteral("bad_shape"), QStringLiteral("no \"recommendations\" array") });
        return fallback(QStringLiteral("no valid ids"));
    }

    QHash<QString, const Candidate*> byId;
    byId.reserve(static_cast<qsizetype>(candidates.size()));
    for (const Candidate& c : candidates)
        byId.insert(c.externalId, &c);
    const int want = std::min<int>(k, static_cast<int>(candidates.size()));
    RerankResult r;
    r.items.reserve(want);
    std::vector<const Candidate*> seen; // the candidates ranked so far (a few dozen at most)
    seen.reserve(static_cast<size_t>(want));
    int position = 0;
    int extra = 0;
    bool renumbered = false;
    for (const json& e : *list) {
        ++position;
        if (!e.is_object()) {
            defects.append({ QStringLiteral("bad_entry"), QStringLiteral("entry %1 is not an object").arg(position) });
            continue;
        }
        const json* idv = e.contains("item_id") ? &e["item_id"] : e.contains("id") ? &e["id"] : nullptr;
        const auto id = idv ? idOf(*idv) : std::nullopt;
        if (!id) {
            defects.append({ QStringLiteral("bad_entry"), QStringLiteral("entry %1 has no item_id").arg(position) });
            continue;
        }
        const Candidate* c = byId.value(*id, nullptr);
        if (!c) {
            defects.append({ QStringLiteral("unknown_id"),
                QStringLiteral("entry %1: \"%2\" is not a candidate").arg(position).arg(*id) });
            continue;
        }
        if (std::find(seen.begin(), seen.end(), c) != seen.end()) {
            defects.append({ QStringLiteral("duplicate_id"),
                QStringLiteral("entry %1: \"%2\" was already ranked").arg(position).arg(*id) });
            continue;
        }
        seen.push_back(c);
        if (r.items.size() >= want) {
            ++extra;
            continue;
        }
        RankedItem it;
        it.item = c->item;
        it.externalId = c->externalId;
        it.rank = static_cast<int>(r.items.size()) + 1;
        it.cfRank = c->cfRank;
        if (!e.contains("score") || e["score"].is_null()) {
            defects.append({ QStringLiteral("missing_score"), QStringLiteral("\"%1\" has no score").arg(*id) });
        } else {
            const json& s = e["score"];
            std::optional<double> v;
            if (s.is_number())
                v = s.get<double>();
            else if (s.is_string()) {
                bool ok = false;
                const double d = fromStd(s.get<std::string>()).trimmed().toDouble(&ok);
                if (ok)
                    v = d;
                else if (fromStd(s.get<std::string>()).contains(QStringLiteral("inf"), Qt::CaseInsensitive)
                    || fromStd(s.get<std::string>()).contains(QStringLiteral("nan"), Qt::CaseInsensitive))
                    v = std::numeric_limits<double>::quiet_NaN();
            }
            if (v && std::isfinite(*v))
                it.score = *v;
            else
                defects.append({ QStringLiteral("bad_score"),
                    QStringLiteral("\"%1\": score %2 is not a finite number").arg(*id, fromStd(s.dump())) });
        }
        if (e.contains("explanation") && e["explanation"].is_string())
            it.explanation = fromStd(e["explanation"].get<std::string>()).trimmed();
        if (it.explanation.isEmpty())
            defects.append({ QStringLiteral("missing_explanation"), QStringLiteral("\"%1\" has no explanation").arg(*id) });
        if (e.contains("rank")) {
            const auto given = idOf(e["rank"]);
            if (!given || *given != QString::number(it.rank))
                renumbered = true;
        }
        r.items.append(it);
    }
    if (renumbered)
        defects.append({ QStringLiteral("rank_renumbered"), QStringLiteral("ranks renumbered 1..n in the answer's order") });
    if (extra > 0)
        defects.append({ QStringLiteral("extra"), QStringLiteral("%1 more than the %2 asked for, dropped").arg(extra).arg(want) });
    if (r.items.isEmpty())
        return fallback(truncated ? QStringLiteral("truncated") : QStringLiteral("no valid ids"));

    // Fill to k from the CF order (only when the answer has fewer).
    int filled = 0;
    if (r.items.size() < want) {
        const RerankResult cf = cfFallback(candidates, static_cast<int>(candidates.size()), {});
        for (const RankedItem& c : cf.items) {
            if (r.items.size() >= want)
                break;
            if (std::any_of(seen.begin(), seen.end(), [&c](const Candidate* s) { return s->externalId == c.externalId; }))
                continue;
            RankedItem f = c;
            f.rank = static_cast<int>(r.items.size()) + 1;
            r.items.append(f);
            ++filled;
        }
    }
    if (filled > 0)
        defects.append({ QStringLiteral("filled"),
            QStringLiteral("%1 of %2 filled from the CF order").arg(filled).arg(want) });
    r.defects = defects;
    r.usable = true;
    r.timings.append({ QStringLiteral("parse"), static_cast<double>(timer.nsecsElapsed()) / 1e6 });
    return r;
}

RerankResult parseAnswer(const ChatResponse& response, std::span<const Candidate> candidates, int k)
{
    if (!response.ok()) {
        RerankResult r = cfFallback(candidates, k, QStringLiteral("call failed: %1").arg(callStatusName(response.status)));
        r.defects.append({ QStringLiteral("call_failed"),
            response.errorMessage.isEmpty() ? callStatusName(response.status) : response.errorMessage });
        return r;
    }
    return parseAnswer(response.text, response.finish, candidates, k);
}

} // namespace recwb::rerank
