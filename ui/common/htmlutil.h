#pragma once

#include <QString>

namespace recwb::ui {

// Small building blocks for the rich-text detail panels (QTextBrowser's HTML subset).
QString htmlHeader();
QString placeholderHtml(const QString& text);
// "<h4>label</h4><p>value</p>", or nothing when value is empty.
QString htmlField(const QString& label, const QString& value);

} // namespace recwb::ui
