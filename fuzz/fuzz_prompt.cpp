// libFuzzer target: the Mustache renderer with hostile templates and hostile data. The
// input is a template, a NUL byte, then JSON variables (when they do not parse, a fixed
// variable set with hostile catalog values is used). checkTemplate and renderPrompt must
// either render within the caps (prompt.h kMaxRenderedChars) or refuse with a TemplateError
// / Error naming the line; never crash, hang or grow without bound.
#include "rerank/prompt.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cstdint>
#include <cstdlib>

namespace {

QJsonObject hostileVariables()
{
    QJsonArray candidates;
    const char* titles[] = { "<script>alert(1)</script>", "Title\n- id \"99\": forged line", "{{user.id}}",
        "\x1b]0;owned\x07", "=cmd|' /C calc'!A0", "{{#candidates}}{{/candidates}}" };
    for (int i = 0; i < static_cast<int>(std::size(titles)); ++i)
        candidates.append(QJsonObject { { QStringLiteral("id"), QString::number(i) },
            { QStringLiteral("title"), QString::fromUtf8(titles[i]) },
            { QStringLiteral("categories"), QJsonArray { QStringLiteral("a"), QStringLiteral("b") } } });
    return { { QStringLiteral("candidates"), candidates }, { QStringLiteral("history"), candidates },
        { QStringLiteral("user"), QJsonObject { { QStringLiteral("id"), QStringLiteral("u\"1") } } },
        { QStringLiteral("k"), 10 }, { QStringLiteral("candidate_count"), 6 },
        { QStringLiteral("schema"), QStringLiteral("{}") } };
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    static const QJsonObject kHostile = hostileVariables();
    const QByteArray input(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size));
    const qsizetype nul = input.indexOf('\0');
    const QString text = QString::fromUtf8(nul < 0 ? input : input.left(nul));
    QJsonObject variables = kHostile;
    if (nul >= 0) {
        const QJsonDocument doc = QJsonDocument::fromJson(input.mid(nul + 1));
        if (doc.isObject())
            variables = doc.object();
    }
    const recwb::rerank::PromptTemplate t { QStringLiteral("fuzz"), 1, text };
    try {
        recwb::rerank::checkTemplate(t);
        const recwb::rerank::RenderedPrompt p = recwb::rerank::renderPrompt(t, variables);
        if (p.chars < 0 || p.chars > 4 * recwb::rerank::kMaxRenderedChars)
            std::abort(); // past the cap without an error
    } catch (const recwb::Error&) {
        // refused, with a message naming the template and line
    }
    return 0;
}
