#pragma once

#include "rerank/prompt.h"

#include <QString>
#include <memory>
#include <vector>

// The rerank pipeline's renderer: one template part compiled once, then rendered straight
// from PromptVariables for every user, without building kainjow's data tree (a map of
// std::string per candidate) and without the QString/std::string round trips around it.
// Its output is kainjow::mustache's with identity escaping, byte for byte: the same
// tokenizer (text, the newlines "\r\n" "\n" "\r", tags), the same lookups through the
// context stack (dotted names, "."), the same truthiness (false, empty lists and empty
// strings are falsy, as prompt.cpp hands them to kainjow) and the same line rule (a line that held a rendered
// section tag and is left with only spaces and tabs is dropped with its newline).
// Set-delimiter tags, partials and anything that does not parse are not compiled: the
// caller renders those with kainjow (and reports its errors). Internal to core/rerank.
namespace recwb::rerank::detail {

class DirectPart {
public:
    struct Node;
    // nullptr when the part needs kainjow (see above).
    static std::unique_ptr<DirectPart> compile(const QString& text);
    ~DirectPart();
    // The part rendered, before prompt.cpp's tidy(). Thread-safe (const, no caches).
    QString render(const PromptVariables& v) const;

private:
    std::vector<Node> m_nodes;
    qsizetype m_textChars = 0; // for the reserve
};

// The length of s in UTF-8 bytes, as QString::toUtf8() would write it (a lone surrogate
// becomes U+FFFD, three bytes).
qsizetype utf8Length(QStringView s);

} // namespace recwb::rerank::detail
