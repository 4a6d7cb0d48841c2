#include "htmlutil.h"

#include <QApplication>
#include <QFontDatabase>
#include <QPalette>

namespace recwb::ui {

QString htmlHeader()
{
    const QString muted = QApplication::palette().color(QPalette::Disabled, QPalette::Text).name();
    const QString mono = QFontDatabase::systemFont(QFontDatabase::FixedFont).family();
    return QStringLiteral("<style>h2 { margin-bottom: 2px; } h4 { margin: 10px 0 2px 0; } "
                          ".muted { color: %1; } .mono { font-family: '%2'; }</style>")
        .arg(muted, mono);
}

QString placeholderHtml(const QString& text)
{
    return htmlHeader() + u"<p class='muted' align='center'><br><br>" + text.toHtmlEscaped() + u"</p>";
}

QString htmlField(const QString& label, const QString& value)
{
    if (value.trimmed().isEmpty())
        return {};
    return u"<h4>" + label.toHtmlEscaped() + u"</h4><p>" + value.toHtmlEscaped() + u"</p>";
}

} // namespace recwb::ui
