// Provider adapters without a network: request shapes, envelope parsing and usage
// normalisation with the numbers of LLM_APIS.md, schema conversions, retry rules, redaction.
#include "rerank/llm/providers.h"
#include "rerank/llm/redact.h"
#include "rerank/llm/retrypolicy.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QtTest>

using namespace recwb::rerank;

namespace {

QJsonObject answerSchema()
{
    // LLM_APIS.md section 0, written loosely (no additionalProperties, one optional field).
    return QJsonDocument::fromJson(R"({"type":"object","required":["recommendations"],
        "$schema":"https://json-schema.org/draft/2020-12/schema",
        "properties":{"recommendations":{"type":"array","items":{"type":"object",
          "required":["item_id","rank","score"],
          "properties":{"item_id":{"type":"string"},"rank":{"type":"integer","minimum":1},
                        "score":{"type":"number"},"explanation":{"type":"string","maxLength":200}}}}}})")
        .object();
}

EndpointProfile profile(ProviderKind kind)
{
    EndpointProfile p;
    p.name = QStringLiteral("test");
    p.kind = kind;
    p.model = kind == ProviderKind::Gemini ? QStringLiteral("gemini-2.5-flash") : QStringLiteral("some-model");
    p.baseUrl = kind == ProviderKind::OpenAiChat ? QStringLiteral("https://api.example.com/v1/") : QStringLiteral("https://api.example.com");
    p.maxOutputTokens = 1000;
    p.temperature = 0.2;
    return p;
}

ChatRequest request()
{
    ChatRequest r;
    r.messages = { ChatMessage { QStringLiteral("system"), QStringLiteral("You rerank."), true },
        ChatMessage { QStringLiteral("user"), QStringLiteral("Candidates:\n- id \"a1\": One\n- id \"b2\": Two"), false } };
    r.jsonSchema = answerSchema();
    return r;
}

QByteArray header(const HttpRequestSpec& spec, const QByteArray& name)
{
    for (const auto& [n, v] : spec.headers)
        if (n.compare(name, Qt::CaseInsensitive) == 0)
            return v;
    return {};
}

bool containsKeyAnywhere(const QJsonValue& v, const QString& key)
{
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        if (o.contains(key))
            return true;
        for (const QJsonValue& c : o)
            if (containsKeyAnywhere(c, key))
                return true;
    } else if (v.isArray()) {
        for (const QJsonValue& c : v.toArray())
            if (containsKeyAnywhere(c, key))
                return true;
    }
    return false;
}

// Kept outside the test class: moc mis-tokenises raw strings with \" inside class bodies.
void addEnvelopeRows()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("finish");
    QTest::addColumn<qint64>("input");
    QTest::addColumn<qint64>("cached");
    QTest::addColumn<qint64>("cacheWrite");
    QTest::addColumn<qint64>("output");
    QTest::addColumn<qint64>("reasoning");

    // LLM_APIS.md section 1 example.
    QTest::addRow("openai") << int(ProviderKind::OpenAiChat)
                            << QByteArray(R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4.1-mini-2025-04-14",
        "choices":[{"index":0,"message":{"role":"assistant","content":"{\"a\":1}","refusal":null},"finish_reason":"stop"}],
        "usage":{"prompt_tokens":1234,"completion_tokens":210,"total_tokens":1444,
          "prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},
          "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})")
                            << QStringLiteral("{\"a\":1}") << int(FinishReason::Ok) << 1234LL << 1024LL << 0LL << 210LL << 0LL;
    QTest::addRow("openai-length") << int(ProviderKind::OpenAiChat)
                                   << QByteArray(R"({"choices":[{"message":{"content":"{\"a\":"},"finish_reason":"length"}],
        "usage":{"prompt_tokens":10,"completion_tokens":5,"completion_tokens_details":{"reasoning_tokens":3}}})")
                                   << QStringLiteral("{\"a\":") << int(FinishReason::Truncated) << 10LL << 0LL << 0LL << 5LL << 3LL;
    QTest::addRow("openai-refusal") << int(ProviderKind::OpenAiChat)
                                    << QByteArray(R"({"choices":[{"message":{"content":null,"refusal":"I cannot help"},"finish_reason":"stop"}]})")
                                    << QString() << int(FinishReason::Filtered) << 0LL << 0LL << 0LL << 0LL << 0LL;
    // Section 2 example: total input = 312 + 0 + 2048; a thinking block is skipped.
    QTest::addRow("anthropic") << int(ProviderKind::Anthropic)
                               << QByteArray(R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
        "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"{\"a\""},{"type":"text","text":":1}"}],
        "stop_reason":"end_turn","stop_sequence":null,
        "usage":{"input_tokens":312,"output_tokens":180,"cache_creation_input_tokens":0,"cache_read_input_tokens":2048,
          "cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}}})")
                               << QStringLiteral("{\"a\":1}") << int(FinishReason::Ok) << 2360LL << 2048LL << 0LL << 180LL << 0LL;
    QTest::addRow("anthropic-write-max_tokens") << int(ProviderKind::Anthropic)
                                                << QByteArray(R"({"type":"message","content":[{"type":"text","text":"{"}],"stop_reason":"max_tokens",
        "usage":{"input_tokens":100,"output_tokens":50,"cache_creation_input_tokens":1500,"cache_read_input_tokens":0}})")
                                                << QStringLiteral("{") << int(FinishReason::Truncated) << 1600LL << 0LL << 1500LL << 50LL << 0LL;
    // Section 3 example: output = candidates + thoughts; thought parts skipped.
    QTest::addRow("gemini") << int(ProviderKind::Gemini)
                            << QByteArray(R"({"candidates":[{"content":{"role":"model","parts":[{"text":"plan","thought":true},{"text":"{\"a\":1}"}]},
        "finishReason":"STOP","safetyRatings":[]}],
        "usageMetadata":{"promptTokenCount":1500,"cachedContentTokenCount":1024,"candidatesTokenCount":200,"thoughtsTokenCount":350,
          "toolUsePromptTokenCount":0,"totalTokenCount":2050},"modelVersion":"gemini-2.5-flash"})")
                            << QStringLiteral("{\"a\":1}") << int(FinishReason::Ok) << 1500LL << 1024LL << 0LL << 550LL << 350LL;
    QTest::addRow("gemini-blocked") << int(ProviderKind::Gemini)
                                    << QByteArray(R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":7}})")
                                    << QString() << int(FinishReason::Filtered) << 7LL << 0LL << 0LL << 0LL << 0LL;
    QTest::addRow("gemini-max-tokens-empty") << int(ProviderKind::Gemini)
                                             << QByteArray(R"({"candidates":[{"content":{"parts":[]},"finishReason":"MAX_TOKENS"}],
        "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":0,"thoughtsTokenCount":2048}})")
                                             << QString() << int(FinishReason::Truncated) << 10LL << 0LL << 0LL << 2048LL << 2048LL;
    // fuzz_providers: a count of 5.3e35 (cast to qint64: undefined behaviour) is clamped to 1e15.
    QTest::addRow("gemini-count-out-of-range") << int(ProviderKind::Gemini)
                                               << QByteArray(R"({"candidates":[{"content":{"parts":[{"text":"[]"}]},"finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":1200,"candidatesTokenCount":300,"thoughtsTokenCount":533333333333333333333333333333333333330}})")
                                               << QStringLiteral("[]") << int(FinishReason::Ok) << 1200LL << 0LL << 0LL
                                               << 1000000000000300LL << 1000000000000000LL;
    // fuzz_providers (CI, 1 Dec): a negative count made a negative token total, so a broken or
    // hostile server could lower the run's cost; counts are clamped at 0.
    QTest::addRow("ollama-negative-count") << int(ProviderKind::OllamaNative)
                                           << QByteArray(R"({"model":"llama3","message":{"role":"assistant","content":"[]"},
        "done":true,"done_reason":"stop","prompt_eval_count":-220,"eval_count":300})")
                                           << QStringLiteral("[]") << int(FinishReason::Ok) << 0LL << 0LL << 0LL << 300LL
                                           << 0LL;
    QTest::addRow("openai-negative-count") << int(ProviderKind::OpenAiChat)
                                           << QByteArray(R"({"choices":[{"message":{"role":"assistant","content":"[]"},
        "finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":-7,
        "prompt_tokens_details":{"cached_tokens":-40}}})")
                                           << QStringLiteral("[]") << int(FinishReason::Ok) << 50LL << 0LL << 0LL << 0LL << 0LL;
    // Section 4 example.
    QTest::addRow("ollama") << int(ProviderKind::OllamaNative)
                            << QByteArray(R"({"model":"llama3.1:8b","created_at":"x","message":{"role":"assistant","content":"{\"a\":1}"},
        "done":true,"done_reason":"stop","total_duration":4648158584,"load_duration":4071084,
        "prompt_eval_count":36,"prompt_eval_duration":439038000,"eval_count":180,"eval_duration":4196918000})")
                            << QStringLiteral("{\"a\":1}") << int(FinishReason::Ok) << 36LL << 0LL << 0LL << 180LL << 0LL;
}

} // namespace

class TestLlmProviders : public QObject {
    Q_OBJECT

private slots:
    void openAiRequest()
    {
        const HttpRequestSpec spec = buildProviderRequest(profile(ProviderKind::OpenAiChat), request(), { "sk-secret" });
        QCOMPARE(spec.url.toString(), QStringLiteral("https://api.example.com/v1/chat/completions"));
        QCOMPARE(header(spec, "Authorization"), QByteArray("Bearer sk-secret"));
        QCOMPARE(header(spec, "Content-Type"), QByteArray("application/json"));
        const QJsonObject body = QJsonDocument::fromJson(spec.body).object();
        QCOMPARE(body.value(QStringLiteral("model")).toString(), QStringLiteral("some-model"));
        QCOMPARE(body.value(QStringLiteral("max_completion_tokens")).toInt(), 1000);
        QVERIFY(!body.contains(QStringLiteral("max_tokens")));
        QCOMPARE(body.value(QStringLiteral("messages")).toArray().size(), 2);
        const QJsonObject rf = body.value(QStringLiteral("response_format")).toObject();
        QCOMPARE(rf.value(QStringLiteral("type")).toString(), QStringLiteral("json_schema"));
        const QJsonObject js = rf.value(QStringLiteral("json_schema")).toObject();
        QCOMPARE(js.value(QStringLiteral("name")).toString(), QStringLiteral("rerank"));
        QCOMPARE(js.value(QStringLiteral("strict")).toBool(), true);
        const QJsonObject schema = js.value(QStringLiteral("schema")).toObject();
        QCOMPARE(schema.value(QStringLiteral("additionalProperties")).toBool(true), false);

        QVERIFY(!body.contains(QStringLiteral("prompt_cache_key"))); // not api.openai.com
    }

    // The structured-output mode on the wire: OpenAI response_format and Ollama format per
    // mode; Anthropic and Gemini keep their own schema mechanism whatever the mode.
    void structuredOutputModes()
    {
        const ChatRequest r = request();
        auto withMode = [](ProviderKind kind, OutputMode mode) {
            EndpointProfile p = profile(kind);
            p.structuredOutput = mode;
            return p;
        };
        // OpenAI-compatible.
        const QJsonObject schemaBody = buildProviderBody(withMode(ProviderKind::OpenAiChat, OutputMode::JsonSchema), r);
        QCOMPARE(schemaBody.value(QStringLiteral("response_format")).toObject().value(QStringLiteral("type")).toString(),
            QStringLiteral("json_schema"));
        const QJsonObject objectBody = buildProviderBody(withMode(ProviderKind::OpenAiChat, OutputMode::JsonObject), r);
        QCOMPARE(objectBody.value(QStringLiteral("response_format")).toObject(),
            (QJsonObject { { QStringLiteral("type"), QStringLiteral("json_object") } }));
        const QJsonObject textBody = buildProviderBody(withMode(ProviderKind::OpenAiChat, OutputMode::Text), r);
        QVERIFY(!textBody.contains(QStringLiteral("response_format")));
        QVERIFY(!containsKeyAnywhere(textBody, QStringLiteral("json_schema")));
        QCOMPARE(textBody.value(QStringLiteral("messages")), schemaBody.value(QStringLiteral("messages"))); // same prompt
        QCOMPARE(textBody.value(QStringLiteral("max_completion_tokens")).toInt(), 1000);
        // Ollama native: format = schema, "json", or absent.
        const QJsonObject ollamaSchema = buildProviderBody(withMode(ProviderKind::OllamaNative, OutputMode::JsonSchema), r);
        QVERIFY(ollamaSchema.value(QStringLiteral("format")).isObject());
        QCOMPARE(ollamaSchema.value(QStringLiteral("format")).toObject().value(QStringLiteral("additionalProperties")).toBool(true),
            false);
        const QJsonObject ollamaJson = buildProviderBody(withMode(ProviderKind::OllamaNative, OutputMode::JsonObject), r);
        QCOMPARE(ollamaJson.value(QStringLiteral("format")), QJsonValue(QStringLiteral("json")));
        const QJsonObject ollamaText = buildProviderBody(withMode(ProviderKind::OllamaNative, OutputMode::Text), r);
        QVERIFY(!ollamaText.contains(QStringLiteral("format")));
        QCOMPARE(ollamaText.value(QStringLiteral("stream")).toBool(true), false);
        // Anthropic and Gemini: the mode does not apply.
        for (const OutputMode mode : { OutputMode::JsonObject, OutputMode::Text }) {
            QCOMPARE(buildProviderBody(withMode(ProviderKind::Anthropic, mode), r),
                buildProviderBody(withMode(ProviderKind::Anthropic, OutputMode::JsonSchema), r));
            QCOMPARE(buildProviderBody(withMode(ProviderKind::Gemini, mode), r),
                buildProviderBody(withMode(ProviderKind::Gemini, OutputMode::JsonSchema), r));
            QCOMPARE(effectiveOutputMode(withMode(ProviderKind::Gemini, mode), r), OutputMode::JsonSchema);
            QCOMPARE(effectiveOutputMode(withMode(ProviderKind::OpenAiChat, mode), r), mode);
        }
        // A request without a schema is plain text in every mode.
        ChatRequest plain = r;
        plain.jsonSchema = {};
        QVERIFY(!buildProviderBody(withMode(ProviderKind::OpenAiChat, OutputMode::JsonSchema), plain)
                     .contains(QStringLiteral("response_format")));
        QVERIFY(!buildProviderBody(withMode(ProviderKind::OllamaNative, OutputMode::JsonSchema), plain)
                     .contains(QStringLiteral("format")));
        QCOMPARE(effectiveOutputMode(withMode(ProviderKind::OpenAiChat, OutputMode::JsonSchema), plain), OutputMode::Text);
    }

    // Profile JSON: structured_output round-trips; the legacy json_object_fallback still loads.
    void structuredOutputProfileJson()
    {
        for (const OutputMode mode : { OutputMode::JsonSchema, OutputMode::JsonObject, OutputMode::Text }) {
            EndpointProfile p = profile(ProviderKind::OpenAiChat);
            p.structuredOutput = mode;
            const QJsonObject o = p.toJson();
            QCOMPARE(o.value(QStringLiteral("structured_output")).toString(), outputModeName(mode));
            QVERIFY(!o.contains(QStringLiteral("json_object_fallback")));
            QCOMPARE(EndpointProfile::fromJson(o).structuredOutput, mode);
            QCOMPARE(outputModeFromName(outputModeName(mode)), std::optional<OutputMode>(mode));
        }
        QJsonObject legacy = profile(ProviderKind::OpenAiChat).toJson();
        legacy.remove(QStringLiteral("structured_output"));
        QCOMPARE(EndpointProfile::fromJson(legacy).structuredOutput, OutputMode::JsonSchema); // key absent
        legacy.insert(QStringLiteral("json_object_fallback"), true);
        QCOMPARE(EndpointProfile::fromJson(legacy).structuredOutput, OutputMode::JsonObject);
        legacy.insert(QStringLiteral("json_object_fallback"), false);
        QCOMPARE(EndpointProfile::fromJson(legacy).structuredOutput, OutputMode::JsonSchema);
        QJsonObject bad = profile(ProviderKind::OpenAiChat).toJson();
        bad.insert(QStringLiteral("structured_output"), QStringLiteral("yaml"));
        QVERIFY_THROWS_EXCEPTION(recwb::Error, EndpointProfile::fromJson(bad));
        QVERIFY(!outputModeFromName(QStringLiteral("json")));
    }

    // LLM_APIS.md section 7: a stable prompt_cache_key per system prefix, for OpenAI only.
    void openAiPromptCacheKey()
    {
        EndpointProfile openai = profile(ProviderKind::OpenAiChat);
        openai.baseUrl = QStringLiteral("https://api.openai.com/v1");
        ChatRequest a = request();
        ChatRequest b = request();
        b.messages.last().content = QStringLiteral("another user, other candidates");
        const QString keyA = buildProviderBody(openai, a).value(QStringLiteral("prompt_cache_key")).toString();
        const QString keyB = buildProviderBody(openai, b).value(QStringLiteral("prompt_cache_key")).toString();
        QVERIFY(keyA.startsWith(QStringLiteral("recwb-")));
        QCOMPARE(keyA, keyB); // same static prefix, same key
        ChatRequest c = request();
        c.messages.first().content += QStringLiteral(" (edited)");
        QVERIFY(buildProviderBody(openai, c).value(QStringLiteral("prompt_cache_key")).toString() != keyA);
    }

    void anthropicRequest()
    {
        const HttpRequestSpec spec = buildProviderRequest(profile(ProviderKind::Anthropic), request(), { "ak-secret" });
        QCOMPARE(spec.url.toString(), QStringLiteral("https://api.example.com/v1/messages"));
        QCOMPARE(header(spec, "x-api-key"), QByteArray("ak-secret"));
        QCOMPARE(header(spec, "anthropic-version"), QByteArray("2023-06-01"));
        QVERIFY(header(spec, "Authorization").isEmpty());
        const QJsonObject body = QJsonDocument::fromJson(spec.body).object();
        QCOMPARE(body.value(QStringLiteral("max_tokens")).toInt(), 1000);
        const QJsonArray system = body.value(QStringLiteral("system")).toArray();
        QCOMPARE(system.size(), 1);
        QCOMPARE(system.at(0).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("You rerank."));
        QCOMPARE(system.at(0).toObject().value(QStringLiteral("cache_control")).toObject().value(QStringLiteral("type")).toString(),
            QStringLiteral("ephemeral"));
        const QJsonArray messages = body.value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 1); // the system message is not a turn
        QCOMPARE(messages.at(0).toObject().value(QStringLiteral("role")).toString(), QStringLiteral("user"));
        const QJsonObject format = body.value(QStringLiteral("output_config")).toObject().value(QStringLiteral("format")).toObject();
        QCOMPARE(format.value(QStringLiteral("type")).toString(), QStringLiteral("json_schema"));
        QCOMPARE(format.value(QStringLiteral("schema")).toObject().value(QStringLiteral("additionalProperties")).toBool(true), false);
    }

    void geminiRequest()
    {
        const HttpRequestSpec spec = buildProviderRequest(profile(ProviderKind::Gemini), request(), { "AIzaSecret" });
        QCOMPARE(spec.url.toString(), QStringLiteral("https://api.example.com/v1beta/models/gemini-2.5-flash:generateContent"));
        QCOMPARE(header(spec, "x-goog-api-key"), QByteArray("AIzaSecret"));
        QVERIFY(!spec.url.hasQuery()); // never ?key=
        const QJsonObject body = QJsonDocument::fromJson(spec.body).object();
        QCOMPARE(body.value(QStringLiteral("systemInstruction")).toObject().value(QStringLiteral("parts")).toArray().at(0).toObject()
                     .value(QStringLiteral("text")).toString(),
            QStringLiteral("You rerank."));
        const QJsonArray contents = body.value(QStringLiteral("contents")).toArray();
        QCOMPARE(contents.size(), 1);
        QCOMPARE(contents.at(0).toObject().value(QStringLiteral("role")).toString(), QStringLiteral("user"));
        const QJsonObject gen = body.value(QStringLiteral("generationConfig")).toObject();
        QCOMPARE(gen.value(QStringLiteral("responseMimeType")).toString(), QStringLiteral("application/json"));
        QCOMPARE(gen.value(QStringLiteral("maxOutputTokens")).toInt(), 1000);
        QCOMPARE(gen.value(QStringLiteral("thinkingConfig")).toObject().value(QStringLiteral("thinkingBudget")).toInt(-1), 0);
        const QJsonObject schema = gen.value(QStringLiteral("responseSchema")).toObject();
        QVERIFY(!schema.isEmpty());
        QVERIFY(!containsKeyAnywhere(schema, QStringLiteral("additionalProperties")));
        QVERIFY(!containsKeyAnywhere(schema, QStringLiteral("$schema")));
        QVERIFY(!containsKeyAnywhere(schema, QStringLiteral("minimum")));
        QVERIFY(!containsKeyAnywhere(schema, QStringLiteral("maxLength")));
    }

    void ollamaRequest()
    {
        EndpointProfile p = profile(ProviderKind::OllamaNative);
        p.baseUrl = QStringLiteral("http://127.0.0.1:11434");
        ChatRequest r = request();
        r.messages[1].content += QString(40000, u'x'); // about 10k tokens
        const HttpRequestSpec spec = buildProviderRequest(p, r);
        QCOMPARE(spec.url.toString(), QStringLiteral("http://127.0.0.1:11434/api/chat"));
        QVERIFY(header(spec, "Authorization").isEmpty());
        const QJsonObject body = QJsonDocument::fromJson(spec.body).object();
        QCOMPARE(body.value(QStringLiteral("stream")).toBool(true), false);
        QVERIFY(body.value(QStringLiteral("format")).isObject());
        const QJsonObject options = body.value(QStringLiteral("options")).toObject();
        QCOMPARE(options.value(QStringLiteral("num_predict")).toInt(), 1000);
        const int numCtx = options.value(QStringLiteral("num_ctx")).toInt();
        QVERIFY2(numCtx >= estimatePromptTokens(r) + 1000, qPrintable(QString::number(numCtx)));
        QCOMPARE(numCtx % 1024, 0);
        QCOMPARE(ollamaContextSize(ChatRequest {}, 100), 2048); // never below 2048
    }

    void strictSchema()
    {
        const QJsonObject s = strictJsonSchema(answerSchema());
        QCOMPARE(s.value(QStringLiteral("additionalProperties")).toBool(true), false);
        const QJsonObject item = s.value(QStringLiteral("properties")).toObject().value(QStringLiteral("recommendations")).toObject()
                                     .value(QStringLiteral("items")).toObject();
        QCOMPARE(item.value(QStringLiteral("additionalProperties")).toBool(true), false);
        const QJsonArray required = item.value(QStringLiteral("required")).toArray();
        QCOMPARE(required.size(), 4);
        QCOMPARE(required.at(0).toString(), QStringLiteral("item_id")); // given order kept, missing keys appended
        QVERIFY(required.contains(QStringLiteral("explanation")));
        // The formerly optional field became nullable; required ones keep their type.
        const QJsonObject props = item.value(QStringLiteral("properties")).toObject();
        QCOMPARE(props.value(QStringLiteral("explanation")).toObject().value(QStringLiteral("type")).toArray(),
            (QJsonArray { QStringLiteral("string"), QStringLiteral("null") }));
        QCOMPARE(props.value(QStringLiteral("item_id")).toObject().value(QStringLiteral("type")).toString(), QStringLiteral("string"));
        // Idempotent.
        QCOMPARE(strictJsonSchema(s), s);
    }

    void geminiSchemaSubset()
    {
        const QJsonObject g = geminiResponseSchema(strictJsonSchema(answerSchema()));
        QVERIFY(!containsKeyAnywhere(g, QStringLiteral("additionalProperties")));
        const QJsonObject props = g.value(QStringLiteral("properties")).toObject().value(QStringLiteral("recommendations")).toObject()
                                      .value(QStringLiteral("items")).toObject().value(QStringLiteral("properties")).toObject();
        const QJsonObject explanation = props.value(QStringLiteral("explanation")).toObject();
        QCOMPARE(explanation.value(QStringLiteral("type")).toString(), QStringLiteral("string"));
        QCOMPARE(explanation.value(QStringLiteral("nullable")).toBool(), true);
        QCOMPARE(g.value(QStringLiteral("propertyOrdering")).toArray(), (QJsonArray { QStringLiteral("recommendations") }));
    }

    void parseEnvelope_data() { addEnvelopeRows(); }

    void parseEnvelope()
    {
        QFETCH(int, kind);
        QFETCH(QByteArray, body);
        const ChatResponse r = parseProviderResponse(static_cast<ProviderKind>(kind), body);
        QCOMPARE(r.status, CallStatus::Ok);
        QTEST(r.text, "text");
        QTEST(static_cast<int>(r.finish), "finish");
        QTEST(r.usage.inputTokens, "input");
        QTEST(r.usage.cachedInputTokens, "cached");
        QTEST(r.usage.cacheWriteTokens, "cacheWrite");
        QTEST(r.usage.outputTokens, "output");
        QTEST(r.usage.reasoningTokens, "reasoning");
    }

    void badEnvelope()
    {
        QCOMPARE(parseProviderResponse(ProviderKind::OpenAiChat, "not json").status, CallStatus::BadEnvelope);
        QCOMPARE(parseProviderResponse(ProviderKind::OpenAiChat, R"({"object":"list"})").status, CallStatus::BadEnvelope);
        QCOMPARE(parseProviderResponse(ProviderKind::Anthropic, R"({"type":"message"})").status, CallStatus::BadEnvelope);
        QCOMPARE(parseProviderResponse(ProviderKind::Gemini, R"({})").status, CallStatus::BadEnvelope);
        const ChatResponse o = parseProviderResponse(ProviderKind::OllamaNative, "{\"error\":\"model x not found\"}");
        QCOMPARE(o.status, CallStatus::BadEnvelope);
        QVERIFY(o.errorMessage.contains(QStringLiteral("not found")));
    }

    void finishReasons_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("raw");
        QTest::addColumn<int>("expected");
        const auto row = [](ProviderKind k, const char* raw, FinishReason f) {
            QTest::addRow("%s-%s", qPrintable(QString::number(int(k))), raw) << int(k) << QString::fromLatin1(raw) << int(f);
        };
        row(ProviderKind::OpenAiChat, "stop", FinishReason::Ok);
        row(ProviderKind::OpenAiChat, "length", FinishReason::Truncated);
        row(ProviderKind::OpenAiChat, "content_filter", FinishReason::Filtered);
        row(ProviderKind::OpenAiChat, "tool_calls", FinishReason::ToolCall);
        row(ProviderKind::Anthropic, "end_turn", FinishReason::Ok);
        row(ProviderKind::Anthropic, "stop_sequence", FinishReason::Ok);
        row(ProviderKind::Anthropic, "max_tokens", FinishReason::Truncated);
        row(ProviderKind::Anthropic, "model_context_window_exceeded", FinishReason::Truncated);
        row(ProviderKind::Anthropic, "refusal", FinishReason::Filtered);
        row(ProviderKind::Anthropic, "pause_turn", FinishReason::Other);
        row(ProviderKind::Gemini, "STOP", FinishReason::Ok);
        row(ProviderKind::Gemini, "MAX_TOKENS", FinishReason::Truncated);
        row(ProviderKind::Gemini, "SAFETY", FinishReason::Filtered);
        row(ProviderKind::Gemini, "RECITATION", FinishReason::Filtered);
        row(ProviderKind::Gemini, "FINISH_REASON_UNSPECIFIED", FinishReason::Other);
        row(ProviderKind::OllamaNative, "stop", FinishReason::Ok);
        row(ProviderKind::OllamaNative, "length", FinishReason::Truncated);
        row(ProviderKind::OllamaNative, "load", FinishReason::Other);
        row(ProviderKind::OllamaNative, "", FinishReason::Unknown);
    }

    void finishReasons()
    {
        QFETCH(int, kind);
        QFETCH(QString, raw);
        QFETCH(int, expected);
        QCOMPARE(static_cast<int>(normaliseFinishReason(static_cast<ProviderKind>(kind), raw)), expected);
    }

    void quotaDetection_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<bool>("quota");
        QTest::addRow("openai-quota") << 429 << QByteArray(R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}})") << true;
        QTest::addRow("openai-rate") << 429 << QByteArray(R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})") << false;
        QTest::addRow("anthropic-spend") << 429 << QByteArray(R"({"type":"error","error":{"type":"rate_limit_error","message":"x","details":{"error_code":"enforced_spend_limit_reached"}}})") << true;
        QTest::addRow("anthropic-rate") << 429 << QByteArray(R"({"type":"error","error":{"type":"rate_limit_error","message":"x"}})") << false;
        QTest::addRow("gemini-day") << 429 << QByteArray(R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"m","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}]}})") << true;
        QTest::addRow("gemini-minute") << 429 << QByteArray(R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel"}]}]}})") << false;
        QTest::addRow("500-not-quota") << 500 << QByteArray(R"({"error":{"code":"insufficient_quota"}})") << false;
    }

    void quotaDetection()
    {
        QFETCH(int, status);
        QFETCH(QByteArray, body);
        QTEST(isQuotaExhausted(status, body), "quota");
    }

    void retryVerdicts_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("shouldRetry");
        QTest::addColumn<bool>("quota");
        QTest::addColumn<bool>("retry");
        for (int s : { 400, 401, 403, 404, 413, 422 }) {
            QTest::addRow("%d", s) << s << QByteArray() << false << false;
            QTest::addRow("%d-should-retry", s) << s << QByteArray("true") << false << false;
        }
        for (int s : { 408, 409, 429, 500, 502, 503, 504, 529 })
            QTest::addRow("%d", s) << s << QByteArray() << false << true;
        QTest::addRow("503-should-not") << 503 << QByteArray("false") << false << false;
        QTest::addRow("418-should") << 418 << QByteArray("true") << false << true;
        QTest::addRow("429-quota") << 429 << QByteArray() << true << false;
        QTest::addRow("429-quota-should") << 429 << QByteArray("true") << true << false;
    }

    void retryVerdicts()
    {
        QFETCH(int, status);
        QFETCH(QByteArray, shouldRetry);
        QFETCH(bool, quota);
        QFETCH(bool, retry);
        QCOMPARE(retryVerdictForHttp(status, shouldRetry, quota) == RetryVerdict::Retry, retry);
    }

    void retryAfter()
    {
        const QDateTime now = QDateTime(QDate(2015, 10, 21), QTime(7, 27, 0), QTimeZone::utc());
        QCOMPARE(parseRetryAfterMs("1500", "9", now), std::optional<qint64>(1500)); // retry-after-ms first
        QCOMPARE(parseRetryAfterMs({}, "2", now), std::optional<qint64>(2000));
        QCOMPARE(parseRetryAfterMs({}, "0.5", now), std::optional<qint64>(500));
        QCOMPARE(parseRetryAfterMs({}, "Wed, 21 Oct 2015 07:28:00 GMT", now), std::optional<qint64>(60000));
        QCOMPARE(parseRetryAfterMs({}, "Wed, 21 Oct 2015 07:00:00 GMT", now), std::optional<qint64>(0)); // past: now
        QVERIFY(!parseRetryAfterMs({}, {}, now));
        QVERIFY(!parseRetryAfterMs("soon", "later", now));
        QCOMPARE(bodyRetryDelayMs(R"({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}})"),
            std::optional<qint64>(37000));
        // a delay past the 64-bit range in milliseconds is clamped, never negative
        QCOMPARE(bodyRetryDelayMs(R"({"error":{"details":[{"retryDelay":"99999999999999999999999999s"}]}})"),
            std::optional<qint64>(1000000000000000LL));
    }

    void backoff()
    {
        QCOMPARE(backoffMs(0, 500, 8000, 0.0), 500);
        QCOMPARE(backoffMs(1, 500, 8000, 0.0), 1000);
        QCOMPARE(backoffMs(4, 500, 8000, 0.0), 8000);
        QCOMPARE(backoffMs(10, 500, 8000, 0.0), 8000); // capped
        QCOMPARE(backoffMs(0, 500, 8000, 1.0), 375); // jitter takes off at most a quarter
        for (int i = 0; i < 100; ++i) {
            const qint64 v = backoffMs(2, 500, 8000, QRandomGenerator::global()->generateDouble());
            QVERIFY(v >= 1500 && v <= 2000);
        }
    }

    void redaction()
    {
        const QByteArray key = "sk-proj-ABCDEFGH12345678";
        const QString line = QStringLiteral("POST with Authorization: Bearer %1 failed; key=%1").arg(QString::fromLatin1(key));
        const QString out = redact(line, { key });
        QVERIFY(!out.contains(QString::fromLatin1(key)));
        QVERIFY(out.contains(QStringLiteral("[REDACTED]")));
        // Patterns catch credentials even when the exact key is unknown.
        QVERIFY(!redact(QStringLiteral("Authorization: Bearer abc.def-ghi")).contains(QStringLiteral("abc.def-ghi")));
        QVERIFY(!redact(QStringLiteral("x-api-key: sk-ant-api03-zzzzzzzzzz")).contains(QStringLiteral("zzzzzzzzzz")));
        QVERIFY(!redact(QStringLiteral("https://h/v1beta/models/m:generateContent?key=AIzaSyA-secret")).contains(QStringLiteral("secret")));
        QVERIFY(!redact(QStringLiteral("AIzaSyA1234567890123456789012345")).contains(QStringLiteral("1234567890")));
        QVERIFY(!redact(QByteArray("{\"message\":\"Incorrect API key provided: sk-proj-ABCDEFGH12345678\"}"), { key }).contains(key));
        QCOMPARE(redact(QStringLiteral("nothing secret here")), QStringLiteral("nothing secret here"));
    }

    void keyRequirements()
    {
        EndpointProfile p = profile(ProviderKind::OpenAiChat);
        QVERIFY(providerRequiresKey(p));
        p.baseUrl = QStringLiteral("http://127.0.0.1:8080/v1");
        QVERIFY(!providerRequiresKey(p));
        p.baseUrl = QStringLiteral("http://localhost:1234/v1");
        QVERIFY(!providerRequiresKey(p));
        QVERIFY(providerRequiresKey(profile(ProviderKind::Anthropic)));
        QVERIFY(providerRequiresKey(profile(ProviderKind::Gemini)));
        QVERIFY(!providerRequiresKey(profile(ProviderKind::OllamaNative)));
        QVERIFY(isLoopbackHost(QStringLiteral("::1")));
        QVERIFY(isLoopbackHost(QStringLiteral("127.0.0.2")));
        QVERIFY(!isLoopbackHost(QStringLiteral("10.0.0.1")));
        QVERIFY(!isLoopbackHost(QStringLiteral("example.com")));
    }
};

QTEST_GUILESS_MAIN(TestLlmProviders)
#include "tst_llmproviders.moc"
