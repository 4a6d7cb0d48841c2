#include "prompts/mustachehighlighter.h"

#include "rerank/prompt.h"

#include <QJsonArray>
#include <QRegularExpression>
#include <QSet>

namespace recwb::ui {

namespace {

    void collectKeys(const QJsonValue& v, QSet<QString>& out)
    {
        if (v.isObject()) {
            const QJsonObject o = v.toObject();
            for (auto it = o.begin(); it != o.end(); ++it) {
                out.insert(it.key());
                collectKeys(it.value(), out);
            }
        } else if (v.isArray()) {
            for (const QJsonValue& e : v.toArray())
                collectKeys(e, out);
        }
    }

} // namespace

MustacheHighlighter::MustacheHighlighter(QTextDocument* document)
    : QSyntaxHighlighter(document)
{
    m_variable.setForeground(QColor(0x0a, 0x55, 0xa8));
    m_variable.setFontWeight(QFont::DemiBold);
    m_section.setForeground(QColor(0x86, 0x3d, 0xb8));
    m_section.setFontWeight(QFont::Bold);
    m_comment.setForeground(QColor(0x6e, 0x77, 0x81));
    m_comment.setFontItalic(true);
    m_marker.setForeground(QColor(0xff, 0xff, 0xff));
    m_marker.setBackground(QColor(0x57, 0x60, 0x6a));
    m_marker.setFontWeight(QFont::Bold);
    m_unknown.setForeground(QColor(0xcf, 0x22, 0x2e));
    m_unknown.setUnderlineStyle(QTextCharFormat::WaveUnderline);
    m_unknown.setUnderlineColor(QColor(0xcf, 0x22, 0x2e));
}

void MustacheHighlighter::setVariables(const QJsonObject& variables)
{
    QSet<QString> known;
    collectKeys(variables, known);
    if (known == m_known)
        return;
    m_known = std::move(known);
    rehighlight();
}

MustacheHighlighter::Kind MustacheHighlighter::classify(const QString& rawTag, const QSet<QString>& known)
{
    const QString tag = rawTag.trimmed();
    if (tag.isEmpty())
        return Kind::Unknown;
    const QChar sigil = tag.front();
    if (sigil == u'!') {
        static const QRegularExpression marker(
            QStringLiteral(R"(^!\s*(system|user)\s*$)"), QRegularExpression::CaseInsensitiveOption);
        return marker.match(tag).hasMatch() ? Kind::Marker : Kind::Comment;
    }
    if (sigil == u'=')
        return Kind::Comment;
    if (sigil == u'>')
        return Kind::Unknown; // partials are not supported
    QString name = tag;
    Kind kind = Kind::Variable;
    if (sigil == u'#' || sigil == u'^' || sigil == u'/') {
        name = tag.mid(1).trimmed();
        kind = Kind::Section;
    } else if (sigil == u'&' || sigil == u'{') {
        name = tag.mid(1).trimmed();
        if (name.endsWith(u'}'))
            name.chop(1);
    }
    if (name == u".")
        return kind;
    if (known.isEmpty())
        return kind; // nothing to check against yet
    for (const QString& part : name.split(u'.'))
        if (!known.contains(part))
            return Kind::Unknown;
    return kind;
}

void MustacheHighlighter::highlightBlock(const QString& text)
{
    qsizetype pos = 0;
    while ((pos = text.indexOf(QStringLiteral("{{"), pos)) >= 0) {
        const bool triple = text.mid(pos, 3) == u"{{{";
        const QString close = triple ? QStringLiteral("}}}") : QStringLiteral("}}");
        const qsizetype end = text.indexOf(close, pos + 2);
        if (end < 0) {
            setFormat(static_cast<int>(pos), static_cast<int>(text.size() - pos), m_unknown); // unclosed tag
            return;
        }
        const qsizetype length = end + close.size() - pos;
        const QString tag = text.mid(pos + 2, end - pos - 2);
        const QTextCharFormat* format = nullptr;
        switch (classify(triple ? tag.mid(1) : tag, m_known)) {
        case Kind::Variable:
            format = &m_variable;
            break;
        case Kind::Section:
            format = &m_section;
            break;
        case Kind::Comment:
            format = &m_comment;
            break;
        case Kind::Marker:
            format = &m_marker;
            break;
        case Kind::Unknown:
        case Kind::Text:
            format = &m_unknown;
            break;
        }
        setFormat(static_cast<int>(pos), static_cast<int>(length), *format);
        pos += length;
    }
}

} // namespace recwb::ui
