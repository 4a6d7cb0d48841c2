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

} // namespace recwb
