#pragma once

#include <QJsonObject>
#include <QSet>
#include <QSyntaxHighlighter>
#include <QTextCharFormat>

namespace recwb::ui {

// Mustache in a prompt template: variable tags, section open/close/inverted tags,
// comments, the {{! system }} / {{! user }} part markers, and names that are not
// documented variables (the template check's rule, applied per tag without the section
// scope: a name is known when its first part is a top-level variable or a field of a
// list or object anywhere in the variables). Tags spanning lines are not coloured.
class MustacheHighlighter final : public QSyntaxHighlighter {
    Q_OBJECT

public:
    explicit MustacheHighlighter(QTextDocument* document);
    // The names a template may use, from the documented variable set (enrich()'s output).
    void setVariables(const QJsonObject& variables);

    // Formats, exposed for tests: what a tag at a position of the document is shown as.
    enum class Kind { Text, Variable, Section, Comment, Marker, Unknown };
    static Kind classify(const QString& tag, const QSet<QString>& known);

protected:
    void highlightBlock(const QString& text) override;

private:
    QSet<QString> m_known; // every key at any depth
    QTextCharFormat m_variable;
    QTextCharFormat m_section;
    QTextCharFormat m_comment;
    QTextCharFormat m_marker;
    QTextCharFormat m_unknown;
};

} // namespace recwb::ui
