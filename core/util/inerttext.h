#pragma once

#include <QString>
#include <algorithm>

namespace recwb {

// Catalog values and LLM text are hostile data wherever they are shown or written: a
// control character (an ANSI/OSC escape in a title) becomes \uXXXX, visible and inert.
// Newlines and tabs stay. Inside JSON text \uXXXX is the same value. Used by recwb-cli's
// terminal output and the comparison's CSV and HTML exports.
inline QString inertControls(const QString& text)
{
    const auto unsafe = [](QChar c) { return c.category() == QChar::Other_Control && c != u'\n' && c != u'\t'; };
    if (std::none_of(text.begin(), text.end(), unsafe))
        return text;
    QString s;
    s.reserve(text.size() + 16);
    for (const QChar c : text)
        s += unsafe(c) ? QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QChar(u'0')) : QString(c);
    return s;
}

// A text field of a CSV export (never a number): inert, and a leading = + - @ tab or CR,
// which a spreadsheet would run as a formula, gets a ' in front (OWASP "CSV Injection");
// quoted when it holds a comma, quote or line break (RFC 4180), or always when asked.
inline QString csvTextField(const QString& text, bool alwaysQuote = false)
{
    QString s = inertControls(text);
    if (!s.isEmpty()
        && (s.front() == u'=' || s.front() == u'+' || s.front() == u'-' || s.front() == u'@' || s.front() == u'\t'
            || s.front() == u'\r'))
        s.prepend(u'\'');
    if (!alwaysQuote && !s.contains(u',') && !s.contains(u'"') && !s.contains(u'\n') && !s.contains(u'\r'))
        return s;
    s.replace(QStringLiteral("\""), QStringLiteral("\"\""));
    return u'"' + s + u'"';
}

} // namespace recwb
