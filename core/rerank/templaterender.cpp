#include "rerank/templaterender.h"

#include <array>
#include <atomic>
#include <cstdint>

namespace recwb::rerank::detail {

namespace {

// Every name the variables define (docs/PROMPTS.md); anything else is Unknown and never found.
enum class Key : uint8_t {
    Unknown,
    User,
    Id,
    Profile,
    KeyName,
    Value,
    Interactions,
    Cold,
    Status,
    HasProfile,
    History,
    ExternalId,
    Title,
    Categories,
    Time,
    CategoryPreferences,
    Name,
    SharePercent,
    HasHistory,
    HasCategoryPreferences,
    Candidates,
    Tags,
    Description,
    Year,
    CfScore,
    CfRank,
    K,
    CandidateCount,
    Schema,
};

Key keyOf(QStringView name)
{
    struct Entry {
        QStringView name;
        Key key;
    };
    static constexpr std::array<Entry, 28> kKeys { {
        { u"user", Key::User },
        { u"id", Key::Id },
        { u"profile", Key::Profile },
        { u"key", Key::KeyName },
        { u"value", Key::Value },
        { u"interactions", Key::Interactions },
        { u"cold", Key::Cold },
        { u"status", Key::Status },
        { u"has_profile", Key::HasProfile },
        { u"history", Key::History },
        { u"external_id", Key::ExternalId },
        { u"title", Key::Title },
        { u"categories", Key::Categories },
        { u"time", Key::Time },
        { u"category_preferences", Key::CategoryPreferences },
        { u"name", Key::Name },
        { u"share_percent", Key::SharePercent },
        { u"has_history", Key::HasHistory },
        { u"has_category_preferences", Key::HasCategoryPreferences },
        { u"candidates", Key::Candidates },
        { u"tags", Key::Tags },
        { u"description", Key::Description },
        { u"year", Key::Year },
        { u"cf_score", Key::CfScore },
        { u"cf_rank", Key::CfRank },
        { u"k", Key::K },
        { u"candidate_count", Key::CandidateCount },
        { u"schema", Key::Schema },
    } };
    for (const Entry& e : kKeys)
        if (e.name == name)
            return e.key;
    return Key::Unknown;
}

// A value as kainjow's data tree would hold it: strings (numbers are their decimal text),
// booleans, objects and lists.
enum class Kind : uint8_t {
    None, // not found
    False,
    True,
    Text,
    Int,
    Root,
    User,
    Profile,
    History,
    Category,
    Candidate,
    ProfileList,
    HistoryList,
    CategoryList,
    CandidateList,
};

struct Val {
    Kind kind = Kind::None;
    int number = 0;
    const void* p = nullptr; // the QString, the element or the vector

    bool isObject() const { return kind >= Kind::Root && kind <= Kind::Candidate; }
    bool isList() const { return kind >= Kind::ProfileList; }
    size_t listSize() const
    {
        switch (kind) {
        case Kind::ProfileList:
            return static_cast<const std::vector<PromptVariables::ProfileEntry>*>(p)->size();
        case Kind::HistoryList:
            return static_cast<const std::vector<PromptVariables::HistoryItem>*>(p)->size();
        case Kind::CategoryList:
            return static_cast<const std::vector<PromptVariables::Category>*>(p)->size();
        case Kind::CandidateList:
            return static_cast<const std::vector<PromptVariables::CandidateItem>*>(p)->size();
        default:
            return 0;
        }
    }
    Val element(size_t i) const
    {
        switch (kind) {
        case Kind::ProfileList:
            return { Kind::Profile, 0, &(*static_cast<const std::vector<PromptVariables::ProfileEntry>*>(p))[i] };
        case Kind::HistoryList:
            return { Kind::History, 0, &(*static_cast<const std::vector<PromptVariables::HistoryItem>*>(p))[i] };
        case Kind::CategoryList:
            return { Kind::Category, 0, &(*static_cast<const std::vector<PromptVariables::Category>*>(p))[i] };
        case Kind::CandidateList:
            return { Kind::Candidate, 0, &(*static_cast<const std::vector<PromptVariables::CandidateItem>*>(p))[i] };
        default:
            return {};
        }
    }
    // A section is skipped for false, an empty list and an empty string (prompt.cpp's
    // toMustache() hands kainjow an empty string as false).
    bool falsy() const
    {
        return kind == Kind::False || (isList() && listSize() == 0)
            || (kind == Kind::Text && static_cast<const QString*>(p)->isEmpty());
    }
};

Val text(const QString& s)
{
    return { Kind::Text, 0, &s };
}
Val boolean(bool b)
{
    return { b ? Kind::True : Kind::False, 0, nullptr };
}
Val integer(int n)
{
    return { Kind::Int, n, nullptr };
}

const QString& statusText(bool cold)
{
    static const QString coldText = QStringLiteral("cold");
    static const QString warmText = QStringLiteral("warm");
    return cold ? coldText : warmText;
}

const QString& schemaText()
{
    static const QString schema = answerSchemaText();
    return schema;
}

// The member `key` of an object (prompt.cpp toMustache(PromptVariables) builds the same tree).
Val get(const Val& o, Key key)
{
    switch (o.kind) {
    case Kind::Root: {
        const auto& v = *static_cast<const PromptVariables*>(o.p);
        switch (key) {
        case Key::User:
            return { Kind::User, 0, &v };
        case Key::History:
            return { Kind::HistoryList, 0, &v.history };
        case Key::CategoryPreferences:
            return { Kind::CategoryList, 0, &v.categoryPreferences };
        case Key::HasHistory:
            return boolean(!v.history.empty());
        case Key::HasCategoryPreferences:
            return boolean(!v.categoryPreferences.empty());
        case Key::Candidates:
            return { Kind::CandidateList, 0, &v.candidates };
        case Key::K:
            return integer(v.k);
        case Key::CandidateCount:
            return integer(static_cast<int>(v.candidates.size()));
        case Key::Schema:
            return text(schemaText());
        default:
            return {};
        }
    }
    case Kind::User: {
        const auto& v = *static_cast<const PromptVariables*>(o.p);
        switch (key) {
        case Key::Id:
            return text(v.userId);
        case Key::Profile:
            return { Kind::ProfileList, 0, &v.profile };
        case Key::Interactions:
            return integer(v.interactions);
        case Key::Cold:
            return boolean(v.cold);
        case Key::Status:
            return text(statusText(v.cold));
        case Key::HasProfile:
            return boolean(!v.profile.empty());
        default:
            return {};
        }
    }
    case Kind::Profile: {
        const auto& e = *static_cast<const PromptVariables::ProfileEntry*>(o.p);
        switch (key) {
        case Key::KeyName:
            return text(e.key);
        case Key::Value:
            return text(e.value);
        default:
            return {};
        }
    }
    case Kind::History: {
        const auto& h = *static_cast<const PromptVariables::HistoryItem*>(o.p);
        switch (key) {
        case Key::ExternalId:
            return text(h.externalId);
        case Key::Title:
            return text(h.title);
        case Key::Categories:
            return text(h.categories);
        case Key::Value:
            return text(h.value);
        case Key::Time:
            return text(h.time);
        default:
            return {};
        }
    }
    case Kind::Category: {
        const auto& c = *static_cast<const PromptVariables::Category*>(o.p);
        switch (key) {
        case Key::Name:
            return text(c.name);
        case Key::SharePercent:
            return integer(c.sharePercent);
        default:
            return {};
        }
    }
    case Kind::Candidate: {
        const auto& c = *static_cast<const PromptVariables::CandidateItem*>(o.p);
        switch (key) {
        case Key::ExternalId:
            return text(c.externalId);
        case Key::Title:
            return text(c.title);
        case Key::Categories:
            return text(c.categories);
        case Key::Tags:
            return text(c.tags);
        case Key::Description:
            return text(c.description);
        case Key::Year:
            return text(c.year);
        case Key::CfScore:
            return text(c.cfScore);
        case Key::CfRank:
            return integer(c.cfRank);
        default:
            return {};
        }
    }
    default:
        return {}; // kainjow's get() on anything but an object
    }
}

// std::isspace in the C locale, which kainjow's trim() uses on the tag contents.
bool isTrimSpace(QChar c)
{
    return c == u' ' || c == u'\t' || c == u'\n' || c == u'\v' || c == u'\f' || c == u'\r';
}

QStringView trimmed(QStringView s)
{
    while (!s.isEmpty() && isTrimSpace(s.front()))
        s = s.mid(1);
    while (!s.isEmpty() && isTrimSpace(s.back()))
        s.chop(1);
    return s;
}

} // namespace

struct DirectPart::Node {
    enum class Type : uint8_t { Text, Newline, Variable, Section, Inverted };
    Type type = Type::Text;
    bool dot = false; // the name "."
    QString text; // Text and Newline
    QString name; // sections, to match the end tag
    std::vector<Key> path; // the name split at '.'
    std::vector<Node> children;
};

namespace {

using Node = DirectPart::Node;

// A name as kainjow looks it up: "." is the innermost value, "a.b" walks from the first
// context item that has the whole path. Names with an empty segment ("a..b", ".a") are
// split by kainjow in a way not worth copying: those templates stay with kainjow.
bool setName(Node& n, QStringView name)
{
    n.name = name.toString();
    if (name == u".") {
        n.dot = true;
        return true;
    }
    if (!name.contains(u'.')) {
        n.path.push_back(keyOf(name));
        return true;
    }
    for (const QStringView part : name.split(u'.')) {
        if (part.isEmpty())
            return false;
        n.path.push_back(keyOf(part));
    }
    return true;
}

// kainjow's tokenizer with the default delimiters. false: kainjow has to render it.
bool parse(QStringView in, std::vector<Node>& root)
{
    std::vector<std::vector<Node>*> open { &root };
    std::vector<const Node*> sections;
    QString pending;
    auto flush = [&] {
        if (pending.isEmpty())
            return;
        Node n;
        n.text = pending;
        open.back()->push_back(std::move(n));
        pending.clear();
    };
    const qsizetype size = in.size();
    qsizetype pos = 0;
    while (pos < size) {
        if (in.mid(pos).startsWith(u"{{")) {
            flush();
            const bool triple = pos != size - 2 && in[pos + 2] == u'{';
            const qsizetype contentsAt = pos + (triple ? 3 : 2);
            const QStringView close = triple ? QStringView(u"}}}") : QStringView(u"}}");
            const qsizetype end = in.indexOf(close, contentsAt);
            if (end < 0)
                return false; // unclosed tag
            const QStringView contents = trimmed(in.mid(contentsAt, end - contentsAt));
            pos = end + close.size();
            Node n;
            n.type = Node::Type::Variable;
            if (triple) {
                if (!contents.isEmpty() && contents.front() == u'=')
                    return false; // kainjow reads "{{{=" as a delimiter change too
                if (!setName(n, contents))
                    return false;
                open.back()->push_back(std::move(n));
                continue;
            }
            if (contents.isEmpty()) {
                n.path.push_back(Key::Unknown); // {{}}: kainjow looks up "" and finds nothing
                open.back()->push_back(std::move(n));
                continue;
            }
            const QChar sigil = contents.front();
            const QStringView rest = trimmed(contents.mid(1));
            switch (sigil.unicode()) {
            case u'=': // set delimiters
            case u'>': // partials
                return false;
            case u'!':
                continue; // a comment renders nothing and is no section tag
            case u'/': {
                if (sections.empty() || sections.back()->name != rest)
                    return false; // unopened or mismatched: kainjow reports it
                sections.pop_back();
                open.pop_back();
                continue;
            }
            case u'#':
            case u'^': {
                n.type = sigil == u'#' ? Node::Type::Section : Node::Type::Inverted;
                if (!setName(n, rest))
                    return false;
                open.back()->push_back(std::move(n));
                Node& s = open.back()->back();
                sections.push_back(&s);
                open.push_back(&s.children);
                continue;
            }
            case u'&':
                if (!setName(n, rest))
                    return false;
                open.back()->push_back(std::move(n));
                continue;
            default:
                if (!setName(n, contents))
                    return false;
                open.back()->push_back(std::move(n));
                continue;
            }
        }
        const QChar c = in[pos];
        if (c == u'\n' || c == u'\r') {
            flush();
            Node n;
            n.type = Node::Type::Newline;
            const qsizetype len = c == u'\r' && pos + 1 < size && in[pos + 1] == u'\n' ? 2 : 1;
            n.text = in.mid(pos, len).toString();
            open.back()->push_back(std::move(n));
            pos += len;
            continue;
        }
        pending += c;
        ++pos;
    }
    flush();
    return sections.empty(); // an unclosed section: kainjow reports it
}

void appendNumber(QString& out, int n)
{
    char16_t buf[16];
    int i = 16;
    unsigned u = n < 0 ? 0u - static_cast<unsigned>(n) : static_cast<unsigned>(n);
    do {
        buf[--i] = static_cast<char16_t>(u'0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (n < 0)
        buf[--i] = u'-';
    out.append(QStringView(buf + i, 16 - i));
}

// kainjow's render_component / render_section, writing into one string: its line buffer is
// the tail of `out` from lineStart.
class Renderer {
public:
    Renderer(const PromptVariables& v, QString& out)
        : m_out(out)
    {
        m_stack.reserve(8);
        m_stack.push_back({ Kind::Root, 0, &v });
    }

    void nodes(const std::vector<Node>& ns)
    {
        for (const Node& n : ns) {
            switch (n.type) {
            case Node::Type::Text:
                m_out += n.text;
                break;
            case Node::Type::Newline:
                endLine(&n.text);
                break;
            case Node::Type::Variable: {
                const Val v = lookup(n);
                if (v.kind == Kind::Text)
                    m_out += *static_cast<const QString*>(v.p);
                else if (v.kind == Kind::Int)
                    appendNumber(m_out, v.number);
                break; // booleans, objects and lists render nothing
            }
            case Node::Type::Section: {
                const Val v = lookup(n);
                if (v.kind != Kind::None && !v.falsy())
                    section(n, v);
                break;
            }
            case Node::Type::Inverted: {
                const Val v = lookup(n);
                if (v.kind == Kind::None || v.falsy())
                    section(n, v);
                break;
            }
            }
        }
    }

    void endLine(const QString* newline)
    {
        bool blank = true;
        for (qsizetype i = m_lineStart; i < m_out.size() && blank; ++i)
            blank = m_out[i] == u' ' || m_out[i] == u'\t';
        if (m_sectionTag && blank)
            m_out.truncate(m_lineStart);
        else if (newline)
            m_out += *newline;
        m_lineStart = m_out.size();
        m_sectionTag = false;
    }

private:
    Val lookup(const Node& n) const
    {
        if (n.dot)
            return m_stack.back();
        for (auto it = m_stack.rbegin(); it != m_stack.rend(); ++it) {
            Val v = *it;
            for (const Key k : n.path) {
                v = get(v, k);
                if (v.kind == Kind::None)
                    break;
            }
            if (v.kind != Kind::None)
                return v;
        }
        return {};
    }

    void section(const Node& n, const Val& v)
    {
        if (v.isList() && v.listSize() > 0) {
            const size_t count = v.listSize();
            for (size_t i = 0; i < count; ++i) {
                m_sectionTag = true; // the begin tag
                m_stack.push_back(v.element(i));
                nodes(n.children);
                m_stack.pop_back();
                m_sectionTag = true; // the end tag
            }
            return;
        }
        m_sectionTag = true;
        const bool push = v.kind != Kind::None;
        if (push)
            m_stack.push_back(v);
        nodes(n.children);
        if (push)
            m_stack.pop_back();
        m_sectionTag = true;
    }

    QString& m_out;
    std::vector<Val> m_stack; // innermost last
    qsizetype m_lineStart = 0;
    bool m_sectionTag = false;
};

qsizetype textChars(const std::vector<Node>& ns)
{
    qsizetype n = 0;
    for (const Node& node : ns)
        n += node.text.size() + textChars(node.children);
    return n;
}

} // namespace

DirectPart::~DirectPart() = default;

std::unique_ptr<DirectPart> DirectPart::compile(const QString& text)
{
    // kainjow renders the part's UTF-8: a lone surrogate in the template comes out as the
    // encoder writes it. Render the same text.
    const QString utf8Text = QString::fromUtf8(text.toUtf8());
    auto part = std::unique_ptr<DirectPart>(new DirectPart);
    if (!parse(utf8Text, part->m_nodes))
        return nullptr;
    part->m_textChars = textChars(part->m_nodes);
    return part;
}

QString DirectPart::render(const PromptVariables& v) const
{
    // Most prompts of a batch have about the same size: start where the last one ended.
    static std::atomic<qsizetype> lastSize { 0 };
    QString out;
    out.reserve(std::max(lastSize.load(std::memory_order_relaxed) + 256, m_textChars + 1024));
    Renderer r(v, out);
    r.nodes(m_nodes);
    r.endLine(nullptr); // the last line
    lastSize.store(out.size(), std::memory_order_relaxed);
    return out;
}

qsizetype utf8Length(QStringView s)
{
    qsizetype n = 0;
    const qsizetype size = s.size();
    for (qsizetype i = 0; i < size; ++i) {
        const char16_t c = s[i].unicode();
        if (c < 0x80) {
            n += 1;
        } else if (c < 0x800) {
            n += 2;
        } else if (QChar::isHighSurrogate(c) && i + 1 < size && QChar::isLowSurrogate(s[i + 1].unicode())) {
            n += 4;
            ++i;
        } else if (QChar::isSurrogate(c)) {
            n += 1; // QString::toUtf8() writes '?' for a lone surrogate
        } else {
            n += 3;
        }
    }
    return n;
}

} // namespace recwb::rerank::detail
