#include "rerank/prompt.h"

#include "rerank/templaterender.h"
#include "util/error.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QTimeZone>
#include <algorithm>
#include <deque>
#include <kainjow/mustache.hpp>
#include <map>
#include <memory>

// Resources of a static library must be registered by hand, outside any namespace.
static void initRerankResources()
{
    Q_INIT_RESOURCE(prompts);
}

namespace recwb::rerank {

namespace mustache = kainjow::mustache;

namespace {

QString isoDate(qint64 ts)
{
    if (ts <= 0)
        return {};
    // The civil date of a day count (H. Hinnant's days_from_civil inverse): no QDateTime per
    // history line. Years past 9999 go the long way, as QDate writes them.
    const qint64 z = ts / 86400 + 719468;
    const qint64 era = z / 146097;
    const qint64 doe = z - era * 146097;
    const qint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const qint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const qint64 mp = (5 * doy + 2) / 153;
    const qint64 d = doy - (153 * mp + 2) / 5 + 1;
    const qint64 m = mp < 10 ? mp + 3 : mp - 9;
    const qint64 y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    if (y > 9999)
        return QDateTime::fromSecsSinceEpoch(ts, QTimeZone::utc()).date().toString(Qt::ISODate);
    char16_t out[10];
    auto put = [&out](int at, qint64 v, int digits) {
        for (int i = digits - 1; i >= 0; --i, v /= 10)
            out[at + i] = static_cast<char16_t>(u'0' + v % 10);
    };
    put(0, y, 4);
    out[4] = u'-';
    put(5, m, 2);
    out[7] = u'-';
    put(8, d, 2);
    return QString(reinterpret_cast<const QChar*>(out), 10);
}

QString jsonScalarText(const QJsonValue& v)
{
    switch (v.type()) {
    case QJsonValue::String:
        return v.toString();
    case QJsonValue::Double: {
        const double d = v.toDouble();
        if (std::abs(d) < 1e15 && d == static_cast<double>(static_cast<qint64>(d)))
            return QString::number(static_cast<qint64>(d));
        return QString::number(d, 'g', 12);
    }
    case QJsonValue::Bool:
        return v.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Array:
    case QJsonValue::Object:
        return QString::fromUtf8(v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)
                                             : QJsonDocument(v.toObject()).toJson(QJsonDocument::Compact));
    default:
        return {};
    }
}

QString valueText(float v)
{
    return QString::number(static_cast<double>(v), 'g', 6);
}

// Catalog text as prompt data: control characters (ANSI/OSC escapes, NUL, ...) and line
// breaks become spaces, so a value can neither forge prompt lines nor carry escapes.
// A lone surrogate (a value cut or decoded badly) becomes U+FFFD, so the prompt is valid UTF-16
// and encodes to UTF-8 the same way everywhere.
QString promptText(const QString& text)
{
    QString s = text;
    const qsizetype n = s.size();
    for (qsizetype i = 0; i < n; ++i) {
        QChar& c = s[i];
        if (c.isSurrogate()) {
            if (c.isHighSurrogate() && i + 1 < n && s.at(i + 1).isLowSurrogate())
                ++i;
            else
                c = QChar::ReplacementCharacter;
        } else if (c.category() == QChar::Other_Control || c == QChar::LineSeparator
            || c == QChar::ParagraphSeparator) {
            c = u' ';
        }
    }
    return s.simplified();
}

// An id inside the template's quotes ("{{external_id}}"): escaped as in a JSON string, so
// the model copies it into its JSON answer and the answer decodes to the id itself.
QString promptId(const QString& id)
{
    QString out;
    out.reserve(id.size());
    const qsizetype n = id.size();
    for (qsizetype i = 0; i < n; ++i) {
        QChar c = id[i];
        if (c.isSurrogate() && !(c.isHighSurrogate() && i + 1 < n && id[i + 1].isLowSurrogate())
            && !(c.isLowSurrogate() && i > 0 && id[i - 1].isHighSurrogate()))
            c = QChar::ReplacementCharacter; // lone
        if (c == u'"' || c == u'\\')
            out += u'\\';
        if (c.category() == QChar::Other_Control)
            out += QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QChar(u'0'));
        else
            out += c;
    }
    return out;
}

// Collapses whitespace (newlines in a description must not start new prompt lines) and
// cuts to `max` characters at a word boundary when one is near, with an ellipsis.
QString cutText(const QString& text, int max)
{
    QString s = promptText(text);
    if (max <= 0 || s.size() <= max)
        return s;
    int cut = max;
    const int space = s.lastIndexOf(u' ', max);
    if (space > max - 20 && space > 0)
        cut = space;
    QString out = s.left(cut);
    if (!out.isEmpty() && out.back().isHighSurrogate())
        out.chop(1); // never half a character
    while (!out.isEmpty() && (out.back().isSpace() || out.back().isPunct()))
        out.chop(1);
    return out + QChar(0x2026);
}

QString categoriesText(const Dataset& ds, const Item& it)
{
    return promptText(ds.categoryNames(it, QStringLiteral(", ")));
}

std::vector<PromptVariables::ProfileEntry> profileList(const QJsonObject& profile)
{
    std::vector<PromptVariables::ProfileEntry> out;
    QStringList keys = profile.keys();
    std::sort(keys.begin(), keys.end());
    for (const QString& k : keys) {
        const QString v = cutText(jsonScalarText(profile.value(k)), 200);
        if (v.isEmpty())
            continue;
        out.push_back({ promptText(k), v });
    }
    return out;
}

ItemPromptTexts::Texts itemTexts(const Dataset& ds, const Item& it, int titleChars, int descriptionChars)
{
    return { promptId(it.externalId), cutText(it.title, titleChars), categoriesText(ds, it),
        cutText(it.tags.mid(0, 8).join(QStringLiteral(", ")), descriptionChars), cutText(it.description, descriptionChars),
        it.year > 0 ? QString::number(it.year) : QString() };
}

PromptVariables enrichImpl(const Dataset& ds, const QString& userId, const QJsonObject& profile,
    std::vector<HistoryEntry> history, std::span<const Candidate> candidates, const EnrichOptions& o)
{
    const ItemPromptTexts* cache = o.itemTexts && o.itemTexts->serves(ds, o) ? o.itemTexts : nullptr;
    std::optional<ItemPromptTexts::Texts> made;
    auto textsOf = [&](int32_t item) -> const ItemPromptTexts::Texts& {
        if (cache)
            return cache->of(item);
        made = itemTexts(ds, ds.items[static_cast<size_t>(item)], o.titleChars, o.descriptionChars);
        return *made;
    };
    PromptVariables v;
    v.userId = promptText(userId);
    v.profile = profileList(profile);
    v.interactions = static_cast<int>(history.size());
    v.cold = v.interactions < o.coldThreshold;

    // Category shares over the whole history: each item counts once per category.
    std::vector<int> catCount(static_cast<size_t>(ds.categories.size()), 0);
    std::map<int32_t, int> otherCount; // indices outside the category list (never in a loaded dataset)
    int catTotal = 0;
    for (const HistoryEntry& h : history) {
        if (h.item < 0 || h.item >= ds.numItems())
            continue;
        for (const int32_t c : ds.items[static_cast<size_t>(h.item)].categories) {
            if (c >= 0 && c < static_cast<int32_t>(catCount.size()))
                ++catCount[static_cast<size_t>(c)];
            else
                ++otherCount[c];
            ++catTotal;
        }
    }
    std::vector<std::pair<int, QString>> cats;
    for (size_t c = 0; c < catCount.size(); ++c)
        if (catCount[c] > 0)
            cats.emplace_back(catCount[c], ds.categories.at(static_cast<qsizetype>(c)));
    for (const auto& [c, n] : otherCount)
        cats.emplace_back(n, ds.categories.value(c));
    std::sort(cats.begin(), cats.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    for (size_t i = 0; i < cats.size() && static_cast<int>(i) < o.topCategories; ++i)
        v.categoryPreferences.push_back({ promptText(cats[i].second),
            static_cast<int>(std::lround(100.0 * cats[i].first / std::max(1, catTotal))) });

    // The most recent first; ties by item index for a stable order.
    std::stable_sort(history.begin(), history.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
        return a.timestamp != b.timestamp ? a.timestamp > b.timestamp : a.item < b.item;
    });
    for (const HistoryEntry& h : history) {
        if (static_cast<int>(v.history.size()) >= o.historyLength)
            break;
        if (h.item < 0 || h.item >= ds.numItems())
            continue;
        const ItemPromptTexts::Texts& t = textsOf(h.item);
        v.history.push_back({ t.externalId, t.title, t.categories, valueText(h.value), isoDate(h.timestamp) });
    }

    v.candidates.reserve(candidates.size());
    for (const Candidate& c : candidates) {
        if (c.item < 0 || c.item >= ds.numItems())
            throw Error(QStringLiteral("prompt: candidate item index %1 is outside the catalog").arg(c.item));
        const Item& it = ds.items[static_cast<size_t>(c.item)];
        const ItemPromptTexts::Texts& t = textsOf(c.item);
        v.candidates.push_back({ c.externalId.isEmpty() || c.externalId == it.externalId ? t.externalId
                                                                                        : promptId(c.externalId),
            t.title, t.categories, t.tags, t.description, t.year, QString::number(c.cfScore, 'f', 4), c.cfRank });
    }
    v.k = std::min<int>(o.k, static_cast<int>(candidates.size()));
    return v;
}

// The documented variables with one sample element per list: the names a template may use.
const QJsonObject& variableSkeleton()
{
    static const QJsonObject skeleton = [] {
        Dataset ds;
        ds.categories << QStringLiteral("c");
        Item it;
        it.externalId = QStringLiteral("1");
        it.categories = { 0 };
        ds.items.push_back(it);
        ds.rebuildIndexes();
        PromptUser u;
        u.profile.insert(QStringLiteral("k"), QStringLiteral("v"));
        u.history.push_back({ 0, 1, 1 });
        const Candidate c { 0, QStringLiteral("1"), 0, 1 };
        return enrichImpl(ds, u.id, u.profile, u.history, std::span(&c, 1), EnrichOptions {}).toJson();
    }();
    return skeleton;
}

// ---- mustache glue -------------------------------------------------------------------

// A kainjow list filled by moving the elements in: its push_back() and its list constructor
// copy deeply, and a growing list copies every element again (its move is not noexcept).
// list_value() is const only in its signature: the vector is the data's own, not const.
template <typename Range, typename Convert> mustache::data mustacheList(const Range& elements, Convert&& convert)
{
    mustache::data d(mustache::data::type::list);
    auto& list = const_cast<mustache::basic_list<std::string>&>(d.list_value());
    list.reserve(static_cast<size_t>(elements.size()));
    for (const auto& e : elements)
        list.push_back(convert(e));
    return d;
}

// Children are moved into place (kainjow's set() copies deeply).
mustache::data toMustache(const QJsonValue& v)
{
    switch (v.type()) {
    case QJsonValue::Object: {
        mustache::data d(mustache::data::type::object);
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            d[it.key().toStdString()] = toMustache(it.value());
        return d;
    }
    case QJsonValue::Array:
        return mustacheList(v.toArray(), [](const QJsonValue& e) { return toMustache(e); });
    case QJsonValue::Bool:
        return mustache::data(v.toBool());
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        return mustache::data(false);
    case QJsonValue::String: // an empty value is false in a section ({{#year}} ({{year}}){{/year}})
        return v.toString().isEmpty() ? mustache::data(false) : mustache::data(v.toString().toStdString());
    default:
        return mustache::data(jsonScalarText(v).toStdString());
    }
}

// toMustache(variables.toJson()) without the JSON: the same tree (numbers as their decimal
// text, as jsonScalarText() writes integers).
mustache::data toMustache(const PromptVariables& v)
{
    using mustache::data;
    auto text = [](const QString& s) { return s.isEmpty() ? data(false) : data(s.toStdString()); };
    auto number = [](int n) { return data(std::to_string(n)); };
    auto list = [](const auto& elements, auto&& convert) { return mustacheList(elements, convert); };
    data user(data::type::object);
    user["id"] = text(v.userId);
    user["profile"] = list(v.profile, [&](const PromptVariables::ProfileEntry& e) {
        data o(data::type::object);
        o["key"] = text(e.key);
        o["value"] = text(e.value);
        return o;
    });
    user["interactions"] = number(v.interactions);
    user["cold"] = data(v.cold);
    user["status"] = data(v.cold ? "cold" : "warm");
    user["has_profile"] = data(!v.profile.empty());

    data d(data::type::object);
    d["user"] = std::move(user);
    d["history"] = list(v.history, [&](const PromptVariables::HistoryItem& h) {
        data o(data::type::object);
        o["external_id"] = text(h.externalId);
        o["title"] = text(h.title);
        o["categories"] = text(h.categories);
        o["value"] = text(h.value);
        o["time"] = text(h.time);
        return o;
    });
    d["category_preferences"] = list(v.categoryPreferences, [&](const PromptVariables::Category& c) {
        data o(data::type::object);
        o["name"] = text(c.name);
        o["share_percent"] = number(c.sharePercent);
        return o;
    });
    d["has_history"] = data(!v.history.empty());
    d["has_category_preferences"] = data(!v.categoryPreferences.empty());
    d["candidates"] = list(v.candidates, [&](const PromptVariables::CandidateItem& c) {
        data o(data::type::object);
        o["external_id"] = text(c.externalId);
        o["title"] = text(c.title);
        o["categories"] = text(c.categories);
        o["tags"] = text(c.tags);
        o["description"] = text(c.description);
        o["year"] = text(c.year);
        o["cf_score"] = text(c.cfScore);
        o["cf_rank"] = number(c.cfRank);
        return o;
    });
    d["k"] = number(v.k);
    d["candidate_count"] = number(static_cast<int>(v.candidates.size()));
    static const std::string schema = answerSchemaText().toStdString();
    d["schema"] = data(schema);
    return d;
}

struct Part {
    QString text;
    int firstLine = 1; // line of the template where this part starts
};

struct Split {
    std::optional<Part> preface;
    std::optional<Part> system;
    std::optional<Part> user;
};

[[noreturn]] void templateError(const PromptTemplate& t, int line, int column, const QString& what)
{
    throw TemplateError(t.ref(), line, column, what);
}

// Lines holding only {{! system }} or {{! user }} start the parts; no marker: all user.
Split splitTemplate(const PromptTemplate& t)
{
    static const QRegularExpression marker(QStringLiteral(R"(^\s*\{\{!\s*(system|user)\s*\}\}\s*$)"),
        QRegularExpression::CaseInsensitiveOption);
    Split s;
    const QStringList lines = t.text.split(u'\n');
    std::optional<Part>* current = &s.preface;
    for (int i = 0; i < lines.size(); ++i) {
        const auto m = marker.match(lines[i]);
        if (m.hasMatch()) {
            const bool system = m.captured(1).compare(QStringLiteral("system"), Qt::CaseInsensitive) == 0;
            auto& target = system ? s.system : s.user;
            if (target)
                templateError(t, i + 1, 1, QStringLiteral("a second {{! %1 }} marker").arg(m.captured(1).toLower()));
            if (system && s.user)
                templateError(t, i + 1, 1, QStringLiteral("the {{! system }} part must come before {{! user }}"));
            target = Part { {}, i + 2 };
            current = &target;
            continue;
        }
        if (!*current)
            *current = Part { {}, i + 1 };
        (*current)->text += lines[i] + u'\n';
    }
    if (!s.system && !s.user) {
        s.user = s.preface.value_or(Part {});
        s.preface.reset();
    }
    return s;
}

struct Position {
    int line = 1;
    int column = 1; // in characters (UTF-16 code units, as the editor counts)
};

Position positionAt(const std::string& utf8, size_t bytePos, int firstLine)
{
    bytePos = std::min(bytePos, utf8.size());
    const auto end = utf8.begin() + static_cast<std::ptrdiff_t>(bytePos);
    Position p;
    p.line = firstLine + static_cast<int>(std::count(utf8.begin(), end, '\n'));
    const size_t lineEnd = bytePos == 0 ? std::string::npos : utf8.rfind('\n', bytePos - 1);
    const size_t from = lineEnd == std::string::npos ? 0 : lineEnd + 1;
    p.column
        = 1 + static_cast<int>(QString::fromUtf8(utf8.data() + from, static_cast<qsizetype>(bytePos - from)).size());
    return p;
}

// Keys visible in a value pushed by a section: an object's keys, the union of a list's
// element keys; nothing for booleans and strings.
QJsonObject scopeOf(const QJsonValue& v)
{
    if (v.isObject())
        return v.toObject();
    if (v.isArray()) {
        QJsonObject merged;
        for (const QJsonValue& e : v.toArray())
            if (e.isObject()) {
                const QJsonObject o = e.toObject();
                for (auto it = o.begin(); it != o.end(); ++it)
                    if (!merged.contains(it.key()))
                        merged.insert(it.key(), it.value());
            }
        return merged;
    }
    return {};
}

std::optional<QJsonValue> resolve(const std::vector<QJsonObject>& scopes, const QString& name)
{
    if (name == u".")
        return QJsonValue(QString());
    const QStringList parts = name.split(u'.');
    for (auto s = scopes.rbegin(); s != scopes.rend(); ++s) {
        if (!s->contains(parts.front()))
            continue;
        QJsonValue v = s->value(parts.front());
        for (qsizetype i = 1; i < parts.size(); ++i) {
            const QJsonObject o = scopeOf(v);
            if (!o.contains(parts[i]))
                return std::nullopt;
            v = o.value(parts[i]);
        }
        return v;
    }
    return std::nullopt;
}

// Walks the tags of one part (default delimiters) and reports the first name that the
// variables do not define, with its line.
void checkNames(const PromptTemplate& t, const Part& part, const QJsonObject& shape)
{
    const std::string s = part.text.toStdString();
    std::vector<QJsonObject> scopes { shape };
    std::vector<bool> listSections; // per open section: does it iterate a list?
    size_t pos = 0;
    while ((pos = s.find("{{", pos)) != std::string::npos) {
        const bool triple = s.compare(pos, 3, "{{{") == 0;
        const size_t start = pos + (triple ? 3 : 2);
        const size_t end = s.find(triple ? "}}}" : "}}", start);
        const Position at = positionAt(s, pos, part.firstLine);
        if (end == std::string::npos)
            templateError(t, at.line, at.column, QStringLiteral("unclosed tag"));
        QString tag = QString::fromStdString(s.substr(start, end - start)).trimmed();
        pos = end + (triple ? 3 : 2);
        if (tag.isEmpty())
            templateError(t, at.line, at.column, QStringLiteral("empty tag"));
        const QChar sigil = tag.front();
        if (sigil == u'!')
            continue;
        if (sigil == u'=')
            return; // custom delimiters: the syntax check still runs, names are not checked
        if (sigil == u'>')
            templateError(t, at.line, at.column,
                QStringLiteral("partials ({{> %1}}) are not supported").arg(tag.mid(1).trimmed()));
        if (sigil == u'/') {
            if (scopes.size() > 1)
                scopes.pop_back();
            if (!listSections.empty())
                listSections.pop_back();
            continue;
        }
        const bool section = sigil == u'#' || sigil == u'^';
        if (section || sigil == u'&')
            tag = tag.mid(1).trimmed();
        const auto v = resolve(scopes, tag);
        if (!v)
            templateError(
                t, at.line, at.column, QStringLiteral("unknown variable \"%1\" (see docs/PROMPTS.md)").arg(tag));
        if (section) {
            scopes.push_back(sigil == u'#' ? scopeOf(*v) : QJsonObject {});
            listSections.push_back(sigil == u'#' && v->isArray());
            if (static_cast<int>(listSections.size()) > kMaxSectionDepth)
                templateError(t, at.line, at.column,
                    QStringLiteral("sections nested more than %1 deep").arg(kMaxSectionDepth));
            if (std::count(listSections.begin(), listSections.end(), true) > kMaxListNesting)
                templateError(t, at.line, at.column,
                    QStringLiteral("list section \"%1\" nested inside %2 other list sections (at most %2: each level "
                                   "repeats everything inside it once per element)")
                        .arg(tag)
                        .arg(kMaxListNesting));
        }
    }
}

QJsonObject shapeFor(const QJsonObject& variables)
{
    QJsonObject shape = variableSkeleton();
    for (auto it = variables.begin(); it != variables.end(); ++it)
        if (!shape.contains(it.key()))
            shape.insert(it.key(), it.value());
    return shape;
}

// Mustache leaves the lines of section tags behind: drop trailing spaces, squeeze runs of
// blank lines to one, trim the ends.
// One pass into one buffer (no string per line: this runs for every prompt of a batch).
QString tidy(const QString& text)
{
    QString out;
    out.reserve(text.size());
    bool lastBlank = true;
    bool any = false;
    const qsizetype n = text.size();
    for (qsizetype start = 0; start <= n;) {
        qsizetype end = text.indexOf(u'\n', start);
        if (end < 0)
            end = n;
        qsizetype e = end;
        while (e > start && text.at(e - 1).isSpace())
            --e;
        const bool blank = e == start;
        if (!(blank && lastBlank)) {
            if (any)
                out += u'\n';
            out += QStringView(text).mid(start, e - start);
            any = true;
            lastBlank = blank;
        }
        start = end + 1;
    }
    if (any && lastBlank)
        out.chop(1); // the one blank line left at the end
    return out;
}

// The cap applies to the rendered part's UTF-8 size.
void checkRenderedSize(const PromptTemplate& t, const Part& part, qsizetype utf8Bytes)
{
    if (utf8Bytes > kMaxRenderedChars)
        templateError(t, part.firstLine, 1,
            QStringLiteral("this part renders to %1 MB, more than the %2 MB a prompt may have")
                .arg(static_cast<double>(utf8Bytes) / 1e6, 0, 'f', 1)
                .arg(static_cast<double>(kMaxRenderedChars) / 1e6, 0, 'f', 1));
}

QString renderParsed(const PromptTemplate& t, const Part& part, mustache::mustache& m, const mustache::data& data)
{
    m.set_custom_escape([](const std::string& s) { return s; }); // prompts are text, not HTML
    const std::string out = m.render(data);
    if (!m.is_valid())
        templateError(t, part.firstLine, 1, QString::fromStdString(m.error_message()));
    checkRenderedSize(t, part, static_cast<qsizetype>(out.size()));
    return tidy(QString::fromStdString(out));
}

QString renderDirect(const PromptTemplate& t, const Part& part, const detail::DirectPart& d, const PromptVariables& v)
{
    const QString out = d.render(v);
    // UTF-8 takes at most 3 bytes per UTF-16 unit: count exactly only near the cap.
    if (out.size() * 3 > kMaxRenderedChars)
        checkRenderedSize(t, part, detail::utf8Length(out));
    return tidy(out);
}

QString renderPart(const PromptTemplate& t, const Part& part, const mustache::data& data)
{
    const std::string text = part.text.toStdString();
    mustache::mustache m(text);
    if (!m.is_valid()) {
        QString msg = QString::fromStdString(m.error_message());
        static const QRegularExpression atPos(QStringLiteral(R"( at (\d+)$)"));
        const auto match = atPos.match(msg);
        Position at { part.firstLine, 1 };
        if (match.hasMatch()) {
            at = positionAt(text, match.captured(1).toULongLong(), part.firstLine);
            msg.truncate(match.capturedStart());
        }
        templateError(t, at.line, at.column, msg.left(1).toLower() + msg.mid(1));
    }
    return renderParsed(t, part, m, data);
}

void checkParts(const PromptTemplate& t, const Split& split, const QJsonObject& shape)
{
    for (const auto* p : { &split.preface, &split.system, &split.user }) {
        if (!*p)
            continue;
        // Syntax first (kainjow), then names.
        mustache::mustache m((*p)->text.toStdString());
        if (!m.is_valid())
            renderPart(t, **p, mustache::data());
        checkNames(t, **p, shape);
    }
}

// A template split and parsed once, then rendered for every user. Kept per thread (kainjow's
// render() is not const), for the last few templates, keyed by ref and text. It holds
// nothing a check could reject: checkParts() still runs for the first render of an entry
// (and for every render whose variables add names beyond the documented ones), so errors
// come out as before, in the same order.
struct CompiledTemplate {
    QString ref;
    QString text;
    Split split;
    std::unique_ptr<mustache::mustache> preface; // null: no such part or it does not parse
    std::unique_ptr<mustache::mustache> system;
    std::unique_ptr<mustache::mustache> user;
    // The same parts for PromptVariables without kainjow's data tree; null when a part
    // needs kainjow (templaterender.h), and then the whole template renders through it.
    std::unique_ptr<detail::DirectPart> directPreface;
    std::unique_ptr<detail::DirectPart> directSystem;
    std::unique_ptr<detail::DirectPart> directUser;
    bool direct = false; // every part there is has its direct form
    bool checked = false; // checkParts() passed against the documented variables
};

std::unique_ptr<mustache::mustache> parsed(const std::optional<Part>& part)
{
    if (!part)
        return nullptr;
    auto m = std::make_unique<mustache::mustache>(part->text.toStdString());
    return m->is_valid() ? std::move(m) : nullptr;
}

std::deque<CompiledTemplate>& compiledTemplates()
{
    thread_local std::deque<CompiledTemplate> kept; // most recently compiled first
    return kept;
}

CompiledTemplate& compiledTemplate(const PromptTemplate& t)
{
    constexpr size_t kKept = 8;
    std::deque<CompiledTemplate>& kept = compiledTemplates();
    const QString ref = t.ref();
    for (CompiledTemplate& c : kept)
        if (c.ref == ref && c.text == t.text)
            return c;
    CompiledTemplate c;
    c.ref = ref;
    c.text = t.text;
    c.split = splitTemplate(t); // throws before anything is kept
    c.preface = parsed(c.split.preface);
    c.system = parsed(c.split.system);
    c.user = parsed(c.split.user);
    auto direct = [](const std::optional<Part>& part) {
        return part ? detail::DirectPart::compile(part->text) : nullptr;
    };
    c.directPreface = direct(c.split.preface);
    c.directSystem = direct(c.split.system);
    c.directUser = direct(c.split.user);
    c.direct = (!c.split.preface || c.directPreface) && (!c.split.system || c.directSystem)
        && (!c.split.user || c.directUser);
    kept.push_front(std::move(c));
    if (kept.size() > kKept)
        kept.pop_back();
    return kept.front();
}

// Whether the check's shape for these variables is the skeleton itself (shapeFor adds
// only names the skeleton lacks): true for everything enrich() builds.
bool onlyDocumentedNames(const QJsonObject& variables)
{
    const QJsonObject& skeleton = variableSkeleton();
    for (auto it = variables.begin(); it != variables.end(); ++it)
        if (!skeleton.contains(it.key()))
            return false;
    return true;
}

} // namespace

TemplateError::TemplateError(const QString& ref, int line, int column, const QString& what)
    : Error(QStringLiteral("prompt template %1 line %2, column %3: %4").arg(ref).arg(line).arg(column).arg(what))
    , m_line(line)
    , m_column(column)
    , m_what(what)
{
}

ItemPromptTexts::ItemPromptTexts(const Dataset& ds, int titleChars, int descriptionChars)
    : m_ds(ds)
    , m_titleChars(titleChars)
    , m_descriptionChars(descriptionChars)
    , m_slots(std::make_unique<std::atomic<Texts*>[]>(static_cast<size_t>(ds.numItems())))
{
}

ItemPromptTexts::~ItemPromptTexts()
{
    for (int32_t i = 0; i < m_ds.numItems(); ++i)
        delete m_slots[static_cast<size_t>(i)].load(std::memory_order_relaxed);
}

const ItemPromptTexts::Texts& ItemPromptTexts::of(int32_t item) const
{
    std::atomic<Texts*>& slot = m_slots[static_cast<size_t>(item)];
    Texts* t = slot.load(std::memory_order_acquire);
    if (t)
        return *t;
    auto made = std::make_unique<Texts>(
        itemTexts(m_ds, m_ds.items[static_cast<size_t>(item)], m_titleChars, m_descriptionChars));
    // Two threads may make the same item at once: the first kept wins, the other is dropped.
    if (slot.compare_exchange_strong(t, made.get(), std::memory_order_acq_rel, std::memory_order_acquire))
        return *made.release();
    return *t;
}

std::vector<Candidate> candidatesFrom(const Dataset& ds, std::span<const cf::ScoredItem> scored)
{
    std::vector<Candidate> out;
    out.reserve(scored.size());
    int rank = 0;
    for (const cf::ScoredItem& s : scored) {
        const QString ext = s.item >= 0 && s.item < ds.numItems() ? ds.items[static_cast<size_t>(s.item)].externalId
                                                                    : QString();
        out.push_back(Candidate { s.item, ext, static_cast<double>(s.score), ++rank });
    }
    return out;
}

PromptVariables enrichVariables(const Dataset& ds, int32_t user, std::span<const Candidate> candidates,
    const EnrichOptions& options)
{
    if (user < 0 || user >= ds.numUsers())
        throw Error(QStringLiteral("prompt: user index %1 is outside the dataset").arg(user));
    const auto items = ds.userItems.row(user);
    const auto values = ds.userItems.rowValues(user);
    const bool hasTs = !ds.userItems.timestamps.empty();
    std::vector<HistoryEntry> history;
    history.reserve(items.size());
    for (size_t k = 0; k < items.size(); ++k)
        history.push_back({ items[k], values[k], hasTs ? ds.userItems.rowTimestamps(user)[k] : 0 });
    const User& u = ds.users[static_cast<size_t>(user)];
    return enrichImpl(ds, u.externalId, u.attributes, std::move(history), candidates, options);
}

PromptVariables enrichVariables(const Dataset& ds, const PromptUser& user, std::span<const Candidate> candidates,
    const EnrichOptions& options)
{
    return enrichImpl(ds, user.id, user.profile, user.history, candidates, options);
}

QJsonObject enrich(const Dataset& ds, int32_t user, std::span<const Candidate> candidates, const EnrichOptions& options)
{
    return enrichVariables(ds, user, candidates, options).toJson();
}

QJsonObject enrich(const Dataset& ds, const PromptUser& user, std::span<const Candidate> candidates,
    const EnrichOptions& options)
{
    return enrichVariables(ds, user, candidates, options).toJson();
}

QJsonObject PromptVariables::toJson() const
{
    QJsonArray profileJson;
    for (const ProfileEntry& e : profile)
        profileJson.append(QJsonObject { { QStringLiteral("key"), e.key }, { QStringLiteral("value"), e.value } });
    const QJsonObject user {
        { QStringLiteral("id"), userId },
        { QStringLiteral("profile"), profileJson },
        { QStringLiteral("interactions"), interactions },
        { QStringLiteral("cold"), cold },
        { QStringLiteral("status"), cold ? QStringLiteral("cold") : QStringLiteral("warm") },
        { QStringLiteral("has_profile"), !profileJson.isEmpty() },
    };
    QJsonArray prefs;
    for (const Category& c : categoryPreferences)
        prefs.append(QJsonObject { { QStringLiteral("name"), c.name }, { QStringLiteral("share_percent"), c.sharePercent } });
    QJsonArray hist;
    for (const HistoryItem& h : history)
        hist.append(QJsonObject {
            { QStringLiteral("external_id"), h.externalId },
            { QStringLiteral("title"), h.title },
            { QStringLiteral("categories"), h.categories },
            { QStringLiteral("value"), h.value },
            { QStringLiteral("time"), h.time },
        });
    QJsonArray cands;
    for (const CandidateItem& c : candidates)
        cands.append(QJsonObject {
            { QStringLiteral("external_id"), c.externalId },
            { QStringLiteral("title"), c.title },
            { QStringLiteral("categories"), c.categories },
            { QStringLiteral("tags"), c.tags },
            { QStringLiteral("description"), c.description },
            { QStringLiteral("year"), c.year },
            { QStringLiteral("cf_score"), c.cfScore },
            { QStringLiteral("cf_rank"), c.cfRank },
        });
    return QJsonObject {
        { QStringLiteral("user"), user },
        { QStringLiteral("history"), hist },
        { QStringLiteral("category_preferences"), prefs },
        { QStringLiteral("has_history"), !hist.isEmpty() },
        { QStringLiteral("has_category_preferences"), !prefs.isEmpty() },
        { QStringLiteral("candidates"), cands },
        { QStringLiteral("k"), k },
        { QStringLiteral("candidate_count"), static_cast<int>(candidates.size()) },
        { QStringLiteral("schema"), answerSchemaText() },
    };
}

QJsonObject answerSchema()
{
    auto str = [] { return QJsonObject { { QStringLiteral("type"), QStringLiteral("string") } }; };
    const QJsonObject item {
        { QStringLiteral("type"), QStringLiteral("object") },
        { QStringLiteral("additionalProperties"), false },
        { QStringLiteral("required"),
            QJsonArray { QStringLiteral("item_id"), QStringLiteral("rank"), QStringLiteral("score"),
                QStringLiteral("explanation") } },
        { QStringLiteral("properties"),
            QJsonObject {
                { QStringLiteral("item_id"), str() },
                { QStringLiteral("rank"), QJsonObject { { QStringLiteral("type"), QStringLiteral("integer") } } },
                { QStringLiteral("score"), QJsonObject { { QStringLiteral("type"), QStringLiteral("number") } } },
                { QStringLiteral("explanation"), str() },
            } },
    };
    return QJsonObject {
        { QStringLiteral("type"), QStringLiteral("object") },
        { QStringLiteral("additionalProperties"), false },
        { QStringLiteral("required"), QJsonArray { QStringLiteral("recommendations") } },
        { QStringLiteral("properties"),
            QJsonObject { { QStringLiteral("recommendations"),
                QJsonObject { { QStringLiteral("type"), QStringLiteral("array") }, { QStringLiteral("items"), item } } } } },
    };
}

QString answerSchemaText()
{
    static const QString text = QString::fromUtf8(QJsonDocument(answerSchema()).toJson(QJsonDocument::Compact));
    return text;
}

QString RenderedPrompt::systemText() const
{
    for (const ChatMessage& m : request.messages)
        if (m.role == u"system")
            return m.content;
    return {};
}

QString RenderedPrompt::userText() const
{
    for (const ChatMessage& m : request.messages)
        if (m.role == u"user")
            return m.content;
    return {};
}

void checkTemplate(const PromptTemplate& t)
{
    checkParts(t, splitTemplate(t), variableSkeleton());
}

namespace {

// renderPrompt() once the template passed its check for these variables. render(part, which)
// renders one part (0 preface, 1 system, 2 user) to its tidy text.
template <typename RenderPart>
RenderedPrompt renderChecked(const PromptTemplate& t, CompiledTemplate& c, RenderPart&& render)
{
    const Split& split = c.split;
    // A render that fails leaves kainjow's object in its error state: forget the entry.
    struct Forget {
        const CompiledTemplate* entry;
        ~Forget()
        {
            if (!entry)
                return;
            auto& kept = compiledTemplates();
            kept.erase(std::remove_if(kept.begin(), kept.end(), [this](const CompiledTemplate& k) { return &k == entry; }),
                kept.end());
        }
    } forget { &c };
    if (split.preface && !render(*split.preface, 0).trimmed().isEmpty())
        templateError(t, split.preface->firstLine, 1,
            QStringLiteral("text before the first {{! system }} or {{! user }} marker"));
    RenderedPrompt r;
    r.templateRef = t.ref();
    if (split.system) {
        const QString text = render(*split.system, 1);
        if (!text.isEmpty())
            r.request.messages.append(ChatMessage { QStringLiteral("system"), text, true });
    }
    if (split.user)
        r.request.messages.append(ChatMessage { QStringLiteral("user"), render(*split.user, 2), false });
    forget.entry = nullptr; // rendered: keep it
    if (r.request.messages.isEmpty() || r.request.messages.back().role != u"user" || r.userText().isEmpty())
        templateError(t, split.user ? split.user->firstLine : 1, 1, QStringLiteral("the user part renders empty"));
    static const QJsonObject schema = answerSchema();
    r.request.jsonSchema = schema;
    for (const ChatMessage& m : r.request.messages) {
        r.chars += m.content.size();
        r.estimatedTokens += estimateTokens(m.content) + 4; // + the per-message envelope
    }
    return r;
}

RenderedPrompt renderWithKainjow(const PromptTemplate& t, CompiledTemplate& c, const mustache::data& data)
{
    return renderChecked(t, c, [&](const Part& part, int which) {
        mustache::mustache* m = which == 0 ? c.preface.get() : which == 1 ? c.system.get() : c.user.get();
        return renderParsed(t, part, *m, data);
    });
}

} // namespace

RenderedPrompt renderPrompt(const PromptTemplate& t, const QJsonObject& variables)
{
    CompiledTemplate& c = compiledTemplate(t);
    const bool documented = onlyDocumentedNames(variables);
    if (!c.checked || !documented) {
        checkParts(t, c.split, shapeFor(variables)); // throws for a part that does not parse, too
        c.checked = documented;
    }
    return renderWithKainjow(t, c, toMustache(variables));
}

RenderedPrompt renderPrompt(const PromptTemplate& t, const PromptVariables& variables)
{
    CompiledTemplate& c = compiledTemplate(t);
    if (!c.checked) { // shapeFor(variables.toJson()) is the skeleton itself
        checkParts(t, c.split, variableSkeleton());
        c.checked = true;
    }
    if (!c.direct)
        return renderWithKainjow(t, c, toMustache(variables));
    return renderChecked(t, c, [&](const Part& part, int which) {
        const detail::DirectPart* d
            = which == 0 ? c.directPreface.get() : which == 1 ? c.directSystem.get() : c.directUser.get();
        return renderDirect(t, part, *d, variables);
    });
}

qint64 estimateTokens(const QString& text)
{
    // Word-piece heuristic for BPE vocabularies (cl100k/o200k-like): a Latin word of up
    // to 8 letters is one token, each further 8 letters one more; non-ASCII letters in a
    // word add one per two; digits go in groups of three; punctuation runs cost one per
    // two characters; CJK and other scripts without spaces one per character; spaces
    // ride on the next word; a run of line breaks is one token.
    qint64 tokens = 0;
    const qsizetype n = text.size();
    qsizetype i = 0;
    auto isCjk = [](char32_t c) {
        return (c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xAC00 && c <= 0xD7AF)
            || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x2FFFF);
    };
    while (i < n) {
        const QChar c = text[i];
        char32_t cp = c.unicode();
        qsizetype width = 1;
        if (c.isHighSurrogate() && i + 1 < n && text[i + 1].isLowSurrogate()) {
            cp = QChar::surrogateToUcs4(c, text[i + 1]);
            width = 2;
        }
        if (c == u'\n' || c == u'\r') {
            while (i < n && (text[i] == u'\n' || text[i] == u'\r'))
                ++i;
            ++tokens;
        } else if (c.isSpace()) {
            ++i;
        } else if (isCjk(cp)) {
            ++tokens;
            i += width;
        } else if (c.isDigit()) {
            qsizetype len = 0;
            while (i < n && text[i].isDigit()) {
                ++i;
                ++len;
            }
            tokens += (len + 2) / 3;
        } else if (c.isLetter() || c.isMark()) {
            qsizetype len = 0;
            qsizetype nonAscii = 0;
            while (i < n && (text[i].isLetter() || text[i].isMark()) && !isCjk(text[i].unicode())) {
                if (text[i].unicode() > 0x7F)
                    ++nonAscii;
                ++i;
                ++len;
            }
            tokens += 1 + (len - 1) / 8 + (nonAscii + 1) / 2;
        } else {
            // Punctuation and symbols, and numbers that are not decimal digits (Roman
            // numerals, fractions: letter-or-number but neither letter nor digit). At least
            // one character is taken: a '½' used to stop the loop from ever advancing.
            qsizetype len = 0;
            do {
                ++i;
                ++len;
            } while (i < n && !text[i].isLetterOrNumber() && !text[i].isSpace());
            tokens += (len + 1) / 2;
        }
    }
    return tokens;
}

PromptEstimate estimateCost(const RenderedPrompt& prompt, const Prices& prices, int k, int tokensPerItem,
    int maxOutputTokens)
{
    PromptEstimate e;
    e.inputTokens = prompt.estimatedTokens;
    e.outputTokens = static_cast<qint64>(std::max(0, k)) * std::max(0, tokensPerItem) + 16;
    if (maxOutputTokens > 0 && e.outputTokens > maxOutputTokens) {
        e.outputTokens = maxOutputTokens;
        e.outputCapped = true;
    }
    Usage u;
    u.inputTokens = e.inputTokens;
    u.outputTokens = e.outputTokens;
    e.usd = costOf(u, prices);
    return e;
}

QList<PromptTemplate> shippedTemplates()
{
    static const QList<PromptTemplate> templates = [] {
        initRerankResources();
        QList<PromptTemplate> out;
        const QDir dir(QStringLiteral(":/recwb/prompts"));
        for (const QString& file : dir.entryList({ QStringLiteral("*.mustache") }, QDir::Files, QDir::Name)) {
            QFile f(dir.filePath(file));
            if (!f.open(QIODevice::ReadOnly))
                throw Error(QStringLiteral("%1: cannot read the shipped prompt").arg(f.fileName()));
            out.append(PromptTemplate { file.chopped(9), 1, QString::fromUtf8(f.readAll()) });
        }
        return out;
    }();
    return templates;
}

} // namespace recwb::rerank
