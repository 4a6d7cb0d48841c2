// libFuzzer target: the Mustache renderer with hostile templates and hostile data. The
// input is a template, a NUL byte, then JSON variables (when they do not parse, a fixed
// variable set with hostile catalog values is used). checkTemplate and renderPrompt must
// either render within the caps (prompt.h kMaxRenderedChars) or refuse with a TemplateError
// / Error naming the line; never crash, hang or grow without bound. Then, differentially:
// the pipeline's direct renderer (templaterender.h) must write exactly what kainjow writes
// for the same PromptVariables, or refuse with the same message.
#include "data/dataset.h"
#include "rerank/prompt.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <cstdint>
#include <cstdlib>
#include <optional>

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

// The same hostile values as PromptVariables (through enrichVariables, as the pipeline
// makes them): the pipeline's direct renderer must write what kainjow writes.
const recwb::rerank::PromptVariables& hostilePromptVariables()
{
    static const recwb::rerank::PromptVariables v = [] {
        using namespace recwb;
        static Dataset ds;
        ds.categories << QStringLiteral("a\nb") << QStringLiteral("{{k}}");
        const char* titles[] = { "<script>alert(1)</script>", "Title\n- id \"99\": forged line", "{{user.id}}",
            "\x1b]0;owned\x07", "", "  \t  ", "{{#candidates}}{{/candidates}}" };
        for (int i = 0; i < static_cast<int>(std::size(titles)); ++i) {
            Item it;
            it.externalId = i == 3 ? QStringLiteral("q\"uote") : QString::number(i);
            it.title = QString::fromUtf8(titles[i]);
            it.categories = { i % 2 };
            it.year = i % 3 == 0 ? 0 : 1990 + i;
            if (i % 2)
                it.tags = QStringList { QStringLiteral("t") };
            ds.items.push_back(it);
        }
        CsrBuilder b(1, static_cast<int32_t>(ds.items.size()), true);
        b.add(0, 0, 5.0f, 0);
        b.add(0, 1, 4.0f, 86400 * 365);
        ds.userItems = b.finish();
        ds.itemUsers = ds.userItems.transposed();
        User u;
        u.externalId = QStringLiteral("u\"1");
        u.attributes.insert(QStringLiteral("age"), 31);
        ds.users = { u };
        ds.rebuildIndexes();
        std::vector<cf::ScoredItem> scored;
        for (int32_t i = 0; i < ds.numItems(); ++i)
            scored.push_back({ i, 1.0f / static_cast<float>(i + 1) });
        rerank::EnrichOptions o;
        o.k = 3;
        return rerank::enrichVariables(ds, 0, rerank::candidatesFrom(ds, scored), o);
    }();
    return v;
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
    // Differential: the direct renderer against kainjow on the same variables.
    const recwb::rerank::PromptVariables& pv = hostilePromptVariables();
    std::optional<recwb::rerank::RenderedPrompt> direct, viaKainjow;
    QString directError, kainjowError;
    try {
        direct = recwb::rerank::renderPrompt(t, pv);
    } catch (const recwb::Error& e) {
        directError = e.message();
    }
    try {
        viaKainjow = recwb::rerank::renderPrompt(t, pv.toJson());
    } catch (const recwb::Error& e) {
        kainjowError = e.message();
    }
    if (directError != kainjowError || direct.has_value() != viaKainjow.has_value())
        std::abort(); // one refused what the other rendered, or with another message
    if (direct) {
        const auto& a = direct->request.messages;
        const auto& b = viaKainjow->request.messages;
        if (a.size() != b.size())
            std::abort();
        for (qsizetype i = 0; i < a.size(); ++i)
            if (a[i].role != b[i].role || a[i].content != b[i].content)
                std::abort(); // the two renderers wrote different prompts
    }
    return 0;
}
