#include "common/htmlutil.h"

#include <QApplication>
#include <QFontDatabase>
#include <QPalette>

namespace recwb::ui {

QString htmlHeader()
{
    // Between text and background: quieter than the text, still readable (the disabled
    // text colour is too faint for facts people read).
    const QPalette palette = QApplication::palette();
    const QColor text = palette.color(QPalette::Text);
    const QColor base = palette.color(QPalette::Base);
    const QString muted = QColor::fromRgbF(0.6f * text.redF() + 0.4f * base.redF(),
        0.6f * text.greenF() + 0.4f * base.greenF(), 0.6f * text.blueF() + 0.4f * base.blueF())
                              .name();
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
