#include "testllmserver.h"

#include <QHostAddress>
#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>
#include <QRegularExpression>
#include <QSet>
#include <QTcpServer>
#include <QTcpSocket>
#include <memory>
#include <utility>
#include <QTimer>
#include <QUrl>

namespace recwb::test {

namespace {

QByteArray compact(const QJsonObject& o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QByteArray jsonString(const QString& s)
{
    QByteArray a = QJsonDocument(QJsonArray { s }).toJson(QJsonDocument::Compact);
    return a.mid(1, a.size() - 2); // strip [ ]
}

QString textOf(const QJsonValue& content)
{
    if (content.isString())
        return content.toString();
    QStringList parts;
    for (const QJsonValue& block : content.toArray())
        parts << block.toObject().value(QStringLiteral("text")).toString();
    return parts.join(u'\n');
}

QByteArray methodName(QHttpServerRequest::Method m)
{
    switch (m) {
    case QHttpServerRequest::Method::Get:
        return "GET";
    case QHttpServerRequest::Method::Post:
        return "POST";
    case QHttpServerRequest::Method::Put:
        return "PUT";
    case QHttpServerRequest::Method::Delete:
        return "DELETE";
    default:
        return "OTHER";
    }
}

QString faultBase(const QString& fault)
{
    return fault.section(u':', 0, 0);
}

} // namespace

QJsonObject RecordedRequest::json() const
{
    return QJsonDocument::fromJson(body).object();
}

TestLlmServer::TestLlmServer(QObject* parent)
    : QAbstractHttpServer(parent)
{
}

TestLlmServer::~TestLlmServer() = default;

quint16 TestLlmServer::start(quint16 port)
{
    m_port = listen(QHostAddress::LocalHost, port);
    return m_port;
}

QString TestLlmServer::baseUrl() const
{
    return QStringLiteral("http://127.0.0.1:%1").arg(m_port);
}

QString TestLlmServer::openAiBaseUrl() const
{
    return baseUrl() + QStringLiteral("/v1");
}

void TestLlmServer::setFault(const QString& fault, int count)
{
    m_fault = fault.trimmed();
    m_faultRemaining = count > 0 ? count : -1;
}

int TestLlmServer::requestCount(const QString& path) const
{
    return path.isEmpty() ? m_total : m_pathCounts.value(path);
}

int TestLlmServer::faultCount(const QString& fault) const
{
    return m_faultCounts.value(fault);
}

void TestLlmServer::resetCounters()
{
    m_pathCounts.clear();
    m_faultCounts.clear();
    m_last.clear();
    m_all.clear();
    m_total = 0;
    m_outageClock.invalidate();
    m_maxInFlight = m_inFlight; // answers still pending from earlier requests stay counted
    m_pathMaxInFlight = m_pathInFlight;
}

QStringList TestLlmServer::faultNames()
{
    return { QStringLiteral("good"), QStringLiteral("fences"), QStringLiteral("numeric_ids"), QStringLiteral("invented_ids"),
        QStringLiteral("repeated_ids"), QStringLiteral("truncated"), QStringLiteral("delay"), QStringLiteral("http429"),
        QStringLiteral("quota429"), QStringLiteral("http500"), QStringLiteral("http503"), QStringLiteral("http529"),
        QStringLiteral("close"), QStringLiteral("huge"), QStringLiteral("echo_key"), QStringLiteral("prose"),
        QStringLiteral("cite"), QStringLiteral("mix") };
}

QStringList TestLlmServer::extractCandidateIds(const QString& userText)
{
    static const QRegularExpression re(QStringLiteral(
        R"re("(?:item_|external_)?id"\s*:\s*(?:"([^"\\]+)"|(-?\d+)))re" // JSON
        R"re(|\bid\s+"([^"\\]+)")re" // id "X"
        R"re(|(?:^|\n)[ \t]*(?:[-*][ \t]*)?(?:item_|external_)?id:[ \t]*([^\s,;|"]+))re" // id: X
        R"re(|(?:^|\n)[ \t]*([^\s|:]+)[ \t]*\|)re"), // X | title
        QRegularExpression::CaseInsensitiveOption);
    QStringList ids;
    QSet<QString> seen;
    auto it = re.globalMatch(userText);
    while (it.hasNext()) {
        const QRegularExpressionMatch m = it.next();
        QString id;
        for (int g = 1; g <= 5 && id.isEmpty(); ++g)
            id = m.captured(g);
        if (!id.isEmpty() && !seen.contains(id)) {
            seen.insert(id);
            ids << id;
        }
    }
    return ids;
}

QString TestLlmServer::pickFault(const RecordedRequest& request, const QString& prompt, const QString& model)
{
    const QByteArray header = request.header("x-test-fault").trimmed();
    if (!header.isEmpty())
        return QString::fromUtf8(header);
    static const QRegularExpression marker(QStringLiteral(R"(\[\[fault:([A-Za-z0-9_:]+)\]\])"));
    const QRegularExpressionMatch m = marker.match(prompt);
    if (m.hasMatch())
        return m.captured(1);
    // A marker in the model name: one endpoint profile misbehaves, another does not.
    const QRegularExpressionMatch mm = marker.match(model);
    if (mm.hasMatch())
        return mm.captured(1);
    // The same in the URL path, decoded: Gemini sends the model there (/v1beta/models/MODEL:generateContent,
    // the model percent-encoded), not in the body.
    const QRegularExpressionMatch pm = marker.match(QUrl::fromPercentEncoding(request.path.toUtf8()));
    if (pm.hasMatch())
        return pm.captured(1);
    if (!m_fault.isEmpty() && m_faultRemaining != 0) {
        if (m_faultRemaining > 0)
            --m_faultRemaining;
        return m_fault;
    }
    return QStringLiteral("good");
}

void TestLlmServer::promptTexts(Provider provider, const QJsonObject& body, QStringList& all, QStringList& user)
{
    switch (provider) {
    case Provider::OpenAi:
    case Provider::Ollama:
    case Provider::Anthropic:
        for (const QJsonValue& v : body.value(QStringLiteral("messages")).toArray()) {
            const QJsonObject m = v.toObject();
            const QString text = textOf(m.value(QStringLiteral("content")));
            all << text;
            if (m.value(QStringLiteral("role")).toString() == u"user")
                user << text;
        }
        all << textOf(body.value(QStringLiteral("system")));
        break;
    case Provider::Gemini:
        for (const QJsonValue& v : body.value(QStringLiteral("contents")).toArray()) {
            const QJsonObject c = v.toObject();
            const QString text = textOf(c.value(QStringLiteral("parts")));
            all << text;
            if (c.value(QStringLiteral("role")).toString() != u"model")
                user << text;
        }
        all << textOf(body.value(QStringLiteral("systemInstruction")).toObject().value(QStringLiteral("parts")));
        break;
    }
}

bool TestLlmServer::handleRequest(const QHttpServerRequest& request, QTcpSocket* socket)
{
    RecordedRequest rec;
    rec.path = request.url().path();
    rec.method = methodName(request.method());
    for (const auto& [name, value] : request.headers())
        rec.headers.insert(name.toLower(), value);
    rec.body = request.body();

    const bool batch = rec.path.startsWith(QStringLiteral("/v1/files")) || rec.path.startsWith(QStringLiteral("/v1/batches"))
        || rec.path.startsWith(QStringLiteral("/v1/messages/batches")) || rec.path.startsWith(QStringLiteral("/v1beta/batches/"))
        || rec.path.endsWith(QStringLiteral(":batchGenerateContent"));
    Provider provider = Provider::OpenAi;
    if (batch) {
        // answered by batchRequest() below
    } else if (rec.path == u"/v1/chat/completions")
        provider = Provider::OpenAi;
    else if (rec.path == u"/v1/messages")
        provider = Provider::Anthropic;
    else if (rec.path.startsWith(QStringLiteral("/v1beta/models/")) && rec.path.endsWith(QStringLiteral(":generateContent")))
        provider = Provider::Gemini;
    else if (rec.path == u"/api/chat")
        provider = Provider::Ollama;
    else
        return false; // -> missingHandler (404)

    ++m_total;
    ++m_pathCounts[rec.path];
    m_last.insert(rec.path, rec);
    if (m_recordAll)
        m_all.append(rec);
    m_maxInFlight = std::max(m_maxInFlight, ++m_inFlight);
    m_pathMaxInFlight[rec.path] = std::max(m_pathMaxInFlight.value(rec.path), ++m_pathInFlight[rec.path]);
    if (batch) {
        respond(socket, batchRequest(rec), rec.path);
        return true;
    }

    // Prompt text: all of it for fault markers, user turns for candidate ids.
    QStringList all;
    QStringList user;
    // The body is parsed once: QJsonDocument::fromJson is most of this server's time per request.
    const QJsonObject body = rec.json();
    const QString model = body.value(QStringLiteral("model")).toString();
    promptTexts(provider, body, all, user);
    QString fault = pickFault(rec, all.join(u'\n'), model);
    if (faultBase(fault) == u"mix") {
        // One seeded draw per request: the load test's fault mix (see the header).
        const auto seed = static_cast<quint32>(fault.section(u':', 1, 1).toUInt());
        if (seed != m_mixSeed || m_total == 1) {
            m_mixSeed = seed;
            m_mixRng.seed(seed);
        }
        const int draw = static_cast<int>(std::uniform_int_distribution<int>(0, 99)(m_mixRng));
        if (m_outageMs > 0 && m_total >= m_outageFirst && !m_outageClock.isValid())
            m_outageClock.start();
        if (m_outageMs > 0 ? m_outageClock.isValid() && m_outageClock.elapsed() < m_outageMs
                           : m_total >= m_outageFirst && m_total < m_outageFirst + m_outageCount)
            fault = QStringLiteral("http503");
        else if (draw < 10)
            fault = QStringLiteral("http429:1");
        else if (draw < 15)
            fault = draw % 2 ? QStringLiteral("http500") : QStringLiteral("http503");
        else if (draw < 17)
            fault = QStringLiteral("delay:60000");
        else if (draw < 18)
            fault = QStringLiteral("close");
        else
            fault = QStringLiteral("good");
    }
    ++m_faultCounts[faultBase(fault)];
    RecordedRequest withPrompt = rec;
    withPrompt.body = user.join(u'\n').toUtf8(); // answerFor reads the user text from here

    if (fault == u"close") {
        QPointer<QTcpSocket> s(socket);
        QTimer::singleShot(0, this, [this, s, path = rec.path] {
            requestDone(path);
            if (s)
                s->abort();
        });
        return true;
    }
    if (faultBase(fault) == u"delay") {
        const int ms = fault.section(u':', 1, 1).toInt();
        const Answer answer = answerFor(provider, QStringLiteral("good"), withPrompt, model);
        QPointer<QTcpSocket> s(socket);
        // A client that gives up (aborts, times out) is seen at once, not when the delay ends.
        auto settled = std::make_shared<bool>(false);
        connect(socket, &QTcpSocket::disconnected, this, [this, settled, path = rec.path] {
            if (!std::exchange(*settled, true))
                requestDone(path);
        });
        QTimer::singleShot(std::max(0, ms), Qt::PreciseTimer, this, [this, s, answer, settled, path = rec.path] {
            if (std::exchange(*settled, true))
                return;
            if (s && s->state() == QAbstractSocket::ConnectedState)
                respond(s, answer, path);
            else
                requestDone(path); // the client gave up
        });
        return true;
    }
    respond(socket, answerFor(provider, fault, withPrompt, model), rec.path);
    return true;
}

void TestLlmServer::missingHandler(const QHttpServerRequest& request, QTcpSocket* socket)
{
    Answer a;
    a.status = 404;
    a.reason = "Not Found";
    a.body = compact(QJsonObject { { QStringLiteral("error"), QStringLiteral("no route for %1").arg(request.url().path()) } });
    respond(socket, a, QString());
}

void TestLlmServer::requestDone(const QString& path)
{
    --m_inFlight;
    --m_pathInFlight[path];
}

void TestLlmServer::respond(QTcpSocket* socket, const Answer& a, const QString& path)
{
    if (!path.isEmpty())
        requestDone(path);
    QByteArray out = "HTTP/1.1 " + QByteArray::number(a.status) + ' ' + a.reason + "\r\n";
    out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + QByteArray::number(a.body.size()) + "\r\n";
    for (const auto& [name, value] : a.headers)
        out += name + ": " + value + "\r\n";
    out += "\r\n";
    socket->write(out);
    socket->write(a.body);
}

TestLlmServer::Answer TestLlmServer::error(Provider provider, int status, const QByteArray& reason, const QString& type,
    const QString& message, const QJsonObject& extra) const
{
    Answer a;
    a.status = status;
    a.reason = reason;
    QJsonObject e;
    switch (provider) {
    case Provider::OpenAi: // §1 {"error":{"message","type","param","code"}}
        e = QJsonObject { { QStringLiteral("message"), message }, { QStringLiteral("type"), type },
            { QStringLiteral("param"), QJsonValue::Null }, { QStringLiteral("code"), type } };
        for (auto it = extra.begin(); it != extra.end(); ++it)
            e.insert(it.key(), it.value());
        a.body = compact(QJsonObject { { QStringLiteral("error"), e } });
        break;
    case Provider::Anthropic: // §2 {"type":"error","error":{"type","message"},"request_id"}
        e = QJsonObject { { QStringLiteral("type"), type }, { QStringLiteral("message"), message } };
        for (auto it = extra.begin(); it != extra.end(); ++it)
            e.insert(it.key(), it.value());
        a.body = compact(QJsonObject { { QStringLiteral("type"), QStringLiteral("error") }, { QStringLiteral("error"), e },
            { QStringLiteral("request_id"), QStringLiteral("req_test") } });
        break;
    case Provider::Gemini: // §3 {"error":{"code","message","status","details"}}
        e = QJsonObject { { QStringLiteral("code"), status }, { QStringLiteral("message"), message },
            { QStringLiteral("status"), type } };
        for (auto it = extra.begin(); it != extra.end(); ++it)
            e.insert(it.key(), it.value());
        a.body = compact(QJsonObject { { QStringLiteral("error"), e } });
        break;
    case Provider::Ollama: // §4 {"error":"..."}
        a.body = compact(QJsonObject { { QStringLiteral("error"), message } });
        break;
    }
    return a;
}

TestLlmServer::Answer TestLlmServer::success(Provider provider, const QString& text, bool truncated, const QString& model) const
{
    Answer a;
    const int half = static_cast<int>(text.size() / 2);
    const QString first = text.left(half);
    const QString second = text.mid(half);
    QJsonObject root;
    switch (provider) {
    case Provider::OpenAi: // §1 response; usage numbers from the §1 example
        a.headers.append({ "x-request-id", "req-openai-" + QByteArray::number(m_total) });
        root = QJsonObject {
            { QStringLiteral("id"), QStringLiteral("chatcmpl-test") },
            { QStringLiteral("object"), QStringLiteral("chat.completion") },
            { QStringLiteral("model"), model },
            { QStringLiteral("choices"),
                QJsonArray { QJsonObject {
                    { QStringLiteral("index"), 0 },
                    { QStringLiteral("message"),
                        QJsonObject { { QStringLiteral("role"), QStringLiteral("assistant") }, { QStringLiteral("content"), text },
                            { QStringLiteral("refusal"), QJsonValue::Null } } },
                    { QStringLiteral("finish_reason"), truncated ? QStringLiteral("length") : QStringLiteral("stop") } } } },
            { QStringLiteral("usage"),
                QJsonObject { { QStringLiteral("prompt_tokens"), 1234 }, { QStringLiteral("completion_tokens"), 210 },
                    { QStringLiteral("total_tokens"), 1444 },
                    { QStringLiteral("prompt_tokens_details"), QJsonObject { { QStringLiteral("cached_tokens"), 1024 } } },
                    { QStringLiteral("completion_tokens_details"), QJsonObject { { QStringLiteral("reasoning_tokens"), 0 } } } } },
        };
        break;
    case Provider::Anthropic: // §2 response, with a thinking block to skip and the text in two blocks
        a.headers.append({ "request-id", "req_anthropic_" + QByteArray::number(m_total) });
        root = QJsonObject {
            { QStringLiteral("id"), QStringLiteral("msg_test") },
            { QStringLiteral("type"), QStringLiteral("message") },
            { QStringLiteral("role"), QStringLiteral("assistant") },
            { QStringLiteral("model"), model },
            { QStringLiteral("content"),
                QJsonArray {
                    QJsonObject { { QStringLiteral("type"), QStringLiteral("thinking") },
                        { QStringLiteral("thinking"), QStringLiteral("Let me think about this user.") },
                        { QStringLiteral("signature"), QStringLiteral("sig") } },
                    QJsonObject { { QStringLiteral("type"), QStringLiteral("text") }, { QStringLiteral("text"), first } },
                    QJsonObject { { QStringLiteral("type"), QStringLiteral("text") }, { QStringLiteral("text"), second } } } },
            { QStringLiteral("stop_reason"), truncated ? QStringLiteral("max_tokens") : QStringLiteral("end_turn") },
            { QStringLiteral("stop_sequence"), QJsonValue::Null },
            { QStringLiteral("usage"),
                QJsonObject { { QStringLiteral("input_tokens"), 312 }, { QStringLiteral("output_tokens"), 180 },
                    { QStringLiteral("cache_creation_input_tokens"), 0 }, { QStringLiteral("cache_read_input_tokens"), 2048 } } },
        };
        break;
    case Provider::Gemini: // §3 response, with a thought part to skip
        root = QJsonObject {
            { QStringLiteral("candidates"),
                QJsonArray { QJsonObject {
                    { QStringLiteral("content"),
                        QJsonObject { { QStringLiteral("role"), QStringLiteral("model") },
                            { QStringLiteral("parts"),
                                QJsonArray { QJsonObject { { QStringLiteral("text"), QStringLiteral("thinking...") },
                                                 { QStringLiteral("thought"), true } },
                                    QJsonObject { { QStringLiteral("text"), first } }, QJsonObject { { QStringLiteral("text"), second } } } } } },
                    { QStringLiteral("finishReason"), truncated ? QStringLiteral("MAX_TOKENS") : QStringLiteral("STOP") } } } },
            { QStringLiteral("usageMetadata"),
                QJsonObject { { QStringLiteral("promptTokenCount"), 1500 }, { QStringLiteral("cachedContentTokenCount"), 1024 },
                    { QStringLiteral("candidatesTokenCount"), 200 }, { QStringLiteral("thoughtsTokenCount"), 350 },
                    { QStringLiteral("totalTokenCount"), 2050 } } },
            { QStringLiteral("modelVersion"), model },
        };
        break;
    case Provider::Ollama: // §4 response
        root = QJsonObject {
            { QStringLiteral("model"), model },
            { QStringLiteral("created_at"), QStringLiteral("2026-01-01T00:00:00Z") },
            { QStringLiteral("message"), QJsonObject { { QStringLiteral("role"), QStringLiteral("assistant") }, { QStringLiteral("content"), text } } },
            { QStringLiteral("done"), true },
            { QStringLiteral("done_reason"), truncated ? QStringLiteral("length") : QStringLiteral("stop") },
            { QStringLiteral("total_duration"), 4648158584LL },
            { QStringLiteral("prompt_eval_count"), 36 },
            { QStringLiteral("eval_count"), 180 },
        };
        break;
    }
    a.body = compact(root);
    return a;
}

TestLlmServer::Answer TestLlmServer::answerFor(
    Provider provider, const QString& fault, const RecordedRequest& request, const QString& requestModel) const
{
    const QString userText = QString::fromUtf8(request.body); // the user turns (see handleRequest)
    QString model = requestModel;
    if (provider == Provider::Gemini)
        model = request.path.section(u'/', 3).section(u':', 0, 0);

    QStringList ids = extractCandidateIds(userText);
    static const QRegularExpression topK(QStringLiteral(R"(\btop (\d+)\b)"), QRegularExpression::CaseInsensitiveOption);
    if (const QRegularExpressionMatch m = topK.match(userText); m.hasMatch() && m.captured(1).toInt() > 0)
        ids = ids.mid(0, m.captured(1).toInt());
    if (fault == u"invented_ids") {
        ids.insert(std::min<qsizetype>(1, ids.size()), QStringLiteral("invented-1"));
        ids.append(QStringLiteral("invented-2"));
    } else if (fault == u"repeated_ids" && !ids.isEmpty()) {
        ids.append(ids.first());
        if (ids.size() > 2)
            ids.append(ids.at(1));
    }

    // "cite": explanations that cite the user's history as a model would; every fourth one
    // says the user watched another candidate instead (a false claim to be caught).
    QStringList historyTitles;
    QHash<QString, QString> candidateTitles;
    if (fault == u"cite") {
        static const QRegularExpression historyLine(QStringLiteral(R"(^- (.+?) \[[^\]]*\] value )"),
            QRegularExpression::MultilineOption);
        for (auto m = historyLine.globalMatch(userText); m.hasNext();)
            historyTitles << m.next().captured(1);
        static const QRegularExpression candidateLine(QStringLiteral(R"re(^- id "([^"]+)": (.+?)(?: \(\d{4}\))* \[)re"),
            QRegularExpression::MultilineOption);
        for (auto m = candidateLine.globalMatch(userText); m.hasNext();) {
            const QRegularExpressionMatch c = m.next();
            candidateTitles.insert(c.captured(1), c.captured(2));
        }
    }
    auto explanation = [&](int i) {
        if (fault != u"cite" || historyTitles.isEmpty())
            return QStringLiteral("Test server pick %1 for this user.").arg(i + 1);
        const QString other = candidateTitles.value(ids.value(i + 1));
        if (i % 4 == 3 && !other.isEmpty())
            return QStringLiteral("Because you watched %1, a close match.").arg(other);
        return QStringLiteral("Because you watched %1, a close match.").arg(historyTitles.at(i % historyTitles.size()));
    };
    QByteArray json = "{\"recommendations\":[";
    for (int i = 0; i < ids.size(); ++i) {
        bool numeric = false;
        const qlonglong n = ids.at(i).toLongLong(&numeric);
        const QByteArray idJson = (fault == u"numeric_ids" && numeric) ? QByteArray::number(n) : jsonString(ids.at(i));
        if (i > 0)
            json += ',';
        json += "{\"item_id\":" + idJson + ",\"rank\":" + QByteArray::number(i + 1) + ",\"score\":"
            + QByteArray::number(std::max(0.05, 0.95 - 0.05 * i), 'f', 2) + ",\"explanation\":"
            + jsonString(explanation(i)) + '}';
    }
    json += "]}";
    QString text = QString::fromUtf8(json);

    if (fault == u"good" || fault == u"numeric_ids" || fault == u"invented_ids" || fault == u"repeated_ids"
        || fault == u"cite")
        return success(provider, text, false, model);
    if (fault == u"prose") // a small model that talks instead of answering in JSON
        return success(provider,
            QStringLiteral("This user seems to enjoy dramas; I would suggest a few of the candidates above."), false,
            model);
    if (fault == u"fences")
        return success(provider,
            QStringLiteral("Here are my picks:\n```json\n") + text + QStringLiteral("\n```\nLet me know if you need more."),
            false, model);
    if (fault == u"truncated")
        return success(provider, text.left(std::max<qsizetype>(1, text.size() * 3 / 5)), true, model);
    if (faultBase(fault) == u"http429") {
        const QString seconds = fault.section(u':', 1, 1).isEmpty() ? QStringLiteral("1") : fault.section(u':', 1, 1);
        Answer a = error(provider, 429, "Too Many Requests",
            provider == Provider::Anthropic ? QStringLiteral("rate_limit_error")
                : provider == Provider::Gemini ? QStringLiteral("RESOURCE_EXHAUSTED")
                                               : QStringLiteral("rate_limit_exceeded"),
            QStringLiteral("Rate limit reached, retry after %1 s").arg(seconds));
        a.headers.append({ "retry-after", seconds.toUtf8() });
        return a;
    }
    if (fault == u"quota429") {
        switch (provider) {
        case Provider::Anthropic:
            return error(provider, 429, "Too Many Requests", QStringLiteral("rate_limit_error"),
                QStringLiteral("Your organization has reached its monthly spend limit."),
                QJsonObject { { QStringLiteral("details"),
                    QJsonObject { { QStringLiteral("error_code"), QStringLiteral("enforced_spend_limit_reached") } } } });
        case Provider::Gemini:
            return error(provider, 429, "Too Many Requests", QStringLiteral("RESOURCE_EXHAUSTED"),
                QStringLiteral("You exceeded your current quota."),
                QJsonObject { { QStringLiteral("details"),
                    QJsonArray { QJsonObject {
                        { QStringLiteral("@type"), QStringLiteral("type.googleapis.com/google.rpc.QuotaFailure") },
                        { QStringLiteral("violations"),
                            QJsonArray { QJsonObject {
                                { QStringLiteral("quotaMetric"),
                                    QStringLiteral("generativelanguage.googleapis.com/generate_content_free_tier_requests") },
                                { QStringLiteral("quotaId"), QStringLiteral("GenerateRequestsPerDayPerProjectPerModel-FreeTier") } } } } } } } });
        case Provider::OpenAi:
        case Provider::Ollama: // Ollama has no quotas: this is an OpenAI-style gateway in front of it
            return error(Provider::OpenAi, 429, "Too Many Requests", QStringLiteral("insufficient_quota"),
                QStringLiteral("You exceeded your current quota, please check your plan and billing details."));
        }
    }
    if (fault == u"http500")
        return error(provider, 500, "Internal Server Error",
            provider == Provider::Anthropic ? QStringLiteral("api_error")
                : provider == Provider::Gemini ? QStringLiteral("INTERNAL")
                                               : QStringLiteral("server_error"),
            QStringLiteral("The server had an error while processing your request."));
    if (fault == u"http503")
        return error(provider, 503, "Service Unavailable",
            provider == Provider::Gemini ? QStringLiteral("UNAVAILABLE") : QStringLiteral("service_unavailable"),
            QStringLiteral("The model is overloaded. Please try again later."));
    if (fault == u"http529")
        return error(provider, 529, "Overloaded", QStringLiteral("overloaded_error"), QStringLiteral("Overloaded"));
    if (fault == u"huge") {
        Answer a;
        a.body = "{\"padding\":\"" + QByteArray(m_hugeBytes, 'x') + "\"}";
        return a;
    }
    if (fault == u"echo_key") {
        const RecordedRequest& full = m_last.value(request.path);
        const QString credentials = QString::fromUtf8(full.header("authorization") + ' ' + full.header("x-api-key") + ' '
            + full.header("x-goog-api-key"));
        return error(provider, 401, "Unauthorized",
            provider == Provider::Anthropic ? QStringLiteral("authentication_error") : QStringLiteral("invalid_api_key"),
            QStringLiteral("Incorrect API key provided: %1").arg(credentials.trimmed()));
    }
    return error(provider, 400, "Bad Request", QStringLiteral("invalid_request_error"),
        QStringLiteral("unknown test fault '%1'").arg(fault));
}

} // namespace recwb::test

// ---- batch APIs ----

namespace recwb::test {

namespace {

// The content of the part named `name` of a multipart/form-data body, or null when absent.
QByteArray multipartField(const QByteArray& contentType, const QByteArray& body, const QByteArray& name)
{
    const qsizetype b = contentType.indexOf("boundary=");
    if (b < 0)
        return {};
    QByteArray boundary = contentType.mid(b + 9).trimmed();
    if (boundary.startsWith('"'))
        boundary = boundary.mid(1, boundary.size() - 2);
    const QByteArray delimiter = "--" + boundary;
    for (qsizetype at = body.indexOf(delimiter); at >= 0;) {
        const qsizetype next = body.indexOf(delimiter, at + delimiter.size());
        if (next < 0)
            break;
        const QByteArray part = body.mid(at + delimiter.size(), next - at - delimiter.size());
        const qsizetype headEnd = part.indexOf("\r\n\r\n");
        if (headEnd >= 0 && part.left(headEnd).contains(QByteArray("name=\"" + name + '"'))) {
            QByteArray content = part.mid(headEnd + 4);
            if (content.endsWith("\r\n"))
                content.chop(2);
            return content.isNull() ? QByteArray("") : content;
        }
        at = next;
    }
    return {};
}

} // namespace

QJsonObject TestLlmServer::batchJson(const Batch& b) const
{
    const int total = static_cast<int>(b.lines.size());
    if (b.provider == Provider::Anthropic) {
        const int processing = b.ended ? 0 : total;
        return QJsonObject {
            { QStringLiteral("id"), b.id },
            { QStringLiteral("type"), QStringLiteral("message_batch") },
            { QStringLiteral("processing_status"), b.ended ? QStringLiteral("ended") : QStringLiteral("in_progress") },
            { QStringLiteral("request_counts"),
                QJsonObject { { QStringLiteral("processing"), processing },
                    { QStringLiteral("succeeded"), b.ended ? b.succeeded : 0 },
                    { QStringLiteral("errored"), b.ended ? b.failed : 0 }, { QStringLiteral("canceled"), 0 },
                    { QStringLiteral("expired"), b.ended && b.expired ? total : 0 } } },
            { QStringLiteral("expires_at"), QStringLiteral("2026-01-02T00:00:00Z") },
            { QStringLiteral("results_url"),
                b.ended ? QJsonValue(baseUrl() + QStringLiteral("/v1/messages/batches/%1/results").arg(b.id))
                        : QJsonValue(QJsonValue::Null) },
        };
    }
    if (b.provider == Provider::Gemini) { // a long-running operation
        const int total = static_cast<int>(b.lines.size());
        QJsonObject op {
            { QStringLiteral("name"), b.id },
            { QStringLiteral("metadata"),
                QJsonObject { { QStringLiteral("@type"),
                                  QStringLiteral("type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch") },
                    { QStringLiteral("state"),
                        !b.ended        ? (b.polls == 0 ? QStringLiteral("BATCH_STATE_PENDING") : QStringLiteral("BATCH_STATE_RUNNING"))
                            : b.expired ? QStringLiteral("BATCH_STATE_EXPIRED")
                                        : QStringLiteral("BATCH_STATE_SUCCEEDED") },
                    { QStringLiteral("batchStats"),
                        QJsonObject { { QStringLiteral("requestCount"), QString::number(total) },
                            { QStringLiteral("successfulRequestCount"), QString::number(b.ended ? b.succeeded : 0) },
                            { QStringLiteral("failedRequestCount"), QString::number(b.ended ? b.failed : 0) },
                            { QStringLiteral("pendingRequestCount"), QString::number(b.ended ? 0 : total) } } } } },
            { QStringLiteral("done"), b.ended },
        };
        if (b.ended && !b.expired)
            op.insert(QStringLiteral("response"),
                QJsonObject { { QStringLiteral("@type"),
                                  QStringLiteral("type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatchOutput") },
                    { QStringLiteral("inlinedResponses"), QJsonObject { { QStringLiteral("inlinedResponses"), b.inlined } } } });
        return op;
    }
    const QString status = b.ended ? (b.expired ? QStringLiteral("expired") : QStringLiteral("completed"))
        : b.polls == 0                ? QStringLiteral("validating")
                                      : QStringLiteral("in_progress");
    auto idOrNull = [](const QString& id) { return id.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(id); };
    return QJsonObject {
        { QStringLiteral("id"), b.id },
        { QStringLiteral("object"), QStringLiteral("batch") },
        { QStringLiteral("endpoint"), QStringLiteral("/v1/chat/completions") },
        { QStringLiteral("input_file_id"), b.inputFileId },
        { QStringLiteral("completion_window"), QStringLiteral("24h") },
        { QStringLiteral("status"), status },
        { QStringLiteral("output_file_id"), idOrNull(b.outputFileId) },
        { QStringLiteral("error_file_id"), idOrNull(b.errorFileId) },
        { QStringLiteral("request_counts"),
            QJsonObject { { QStringLiteral("total"), total }, { QStringLiteral("completed"), b.ended ? b.succeeded : 0 },
                { QStringLiteral("failed"), b.ended ? b.failed : 0 } } },
    };
}

// Answers every line as the live endpoint would (answerFor), once, when the batch ends.
void TestLlmServer::endBatch(Batch& b)
{
    b.ended = true;
    b.expired = m_batchExpire;
    QByteArray output;
    QByteArray errors;
    int n = 0;
    for (const auto& [customId, body] : b.lines) {
        ++n;
        const QJsonValue cid(customId);
        if (b.expired) {
            ++b.failed;
            if (b.provider == Provider::Gemini)
                continue; // an expired operation has no responses
            if (b.provider == Provider::Anthropic)
                b.results += compact(QJsonObject { { QStringLiteral("custom_id"), cid },
                                 { QStringLiteral("result"), QJsonObject { { QStringLiteral("type"), QStringLiteral("expired") } } } })
                    + '\n';
            else
                errors += compact(QJsonObject { { QStringLiteral("id"), QStringLiteral("batch_req_%1").arg(n) },
                              { QStringLiteral("custom_id"), cid }, { QStringLiteral("response"), QJsonValue::Null },
                              { QStringLiteral("error"),
                                  QJsonObject { { QStringLiteral("code"), QStringLiteral("batch_expired") },
                                      { QStringLiteral("message"),
                                          QStringLiteral("This request could not be executed before the completion window "
                                                         "expired.") } } } })
                    + '\n';
            continue;
        }
        QString fault = m_batchLineFaults.value(customId, QStringLiteral("good"));
        if (fault == u"close" || faultBase(fault) == u"delay" || faultBase(fault) == u"mix")
            fault = QStringLiteral("good"); // no connection of its own to misbehave on
        QStringList all;
        QStringList user;
        promptTexts(b.provider, body, all, user);
        RecordedRequest line;
        line.path = QStringLiteral("batch-line");
        line.method = "POST";
        line.body = QJsonDocument(body).toJson(QJsonDocument::Compact);
        m_last.insert(line.path, line);
        RecordedRequest withPrompt = line;
        withPrompt.body = user.join(u'\n').toUtf8();
        const Answer a = answerFor(b.provider, fault, withPrompt, body.value(QStringLiteral("model")).toString());
        const QJsonObject answer = QJsonDocument::fromJson(a.body).object();
        const bool ok = a.status == 200;
        ok ? ++b.succeeded : ++b.failed;
        if (b.provider == Provider::Gemini) {
            const QJsonObject key { { QStringLiteral("key"), cid } };
            b.inlined.append(ok ? QJsonObject { { QStringLiteral("response"), answer }, { QStringLiteral("metadata"), key } }
                                : QJsonObject { { QStringLiteral("error"), answer.value(QStringLiteral("error")) },
                                      { QStringLiteral("metadata"), key } });
        } else if (b.provider == Provider::Anthropic) {
            const QJsonObject result = ok
                ? QJsonObject { { QStringLiteral("type"), QStringLiteral("succeeded") }, { QStringLiteral("message"), answer } }
                : QJsonObject { { QStringLiteral("type"), QStringLiteral("errored") }, { QStringLiteral("error"), answer } };
            b.results += compact(QJsonObject { { QStringLiteral("custom_id"), cid }, { QStringLiteral("result"), result } }) + '\n';
        } else {
            (ok ? output : errors) += compact(QJsonObject {
                                          { QStringLiteral("id"), QStringLiteral("batch_req_%1").arg(n) },
                                          { QStringLiteral("custom_id"), cid },
                                          { QStringLiteral("response"),
                                              QJsonObject { { QStringLiteral("status_code"), a.status },
                                                  { QStringLiteral("request_id"), QStringLiteral("req_batch_%1").arg(n) },
                                                  { QStringLiteral("body"), answer } } },
                                          { QStringLiteral("error"), QJsonValue::Null } })
                + '\n';
        }
    }
    m_last.remove(QStringLiteral("batch-line"));
    if (!output.isEmpty()) {
        b.outputFileId = QStringLiteral("file-out-%1").arg(++m_batchSerial);
        m_files.insert(b.outputFileId, output);
    }
    if (!errors.isEmpty()) {
        b.errorFileId = QStringLiteral("file-err-%1").arg(++m_batchSerial);
        m_files.insert(b.errorFileId, errors);
    }
}

TestLlmServer::Answer TestLlmServer::batchRequest(const RecordedRequest& rec)
{
    const bool anthropic = rec.path.startsWith(QStringLiteral("/v1/messages/batches"));
    const bool gemini = rec.path.startsWith(QStringLiteral("/v1beta/"));
    const Provider provider = anthropic ? Provider::Anthropic : gemini ? Provider::Gemini : Provider::OpenAi;
    auto bad = [&](int status, const QByteArray& reason, const QString& message) {
        return error(provider, status, reason,
            status == 404 ? QStringLiteral("not_found_error") : QStringLiteral("invalid_request_error"), message);
    };
    auto ok = [](const QJsonObject& o) {
        Answer a;
        a.body = compact(o);
        return a;
    };
    const QStringList parts = rec.path.split(u'/', Qt::SkipEmptyParts); // v1 files|batches|messages ...
    if (rec.method == "POST" && rec.path == u"/v1/files") {
        const QByteArray purpose = multipartField(rec.header("content-type"), rec.body, "purpose");
        const QByteArray file = multipartField(rec.header("content-type"), rec.body, "file");
        if (purpose != "batch" || file.isNull())
            return bad(400, "Bad Request", QStringLiteral("a multipart upload with purpose=batch and a file is required"));
        const QString id = QStringLiteral("file-in-%1").arg(++m_batchSerial);
        m_files.insert(id, file);
        return ok({ { QStringLiteral("id"), id }, { QStringLiteral("object"), QStringLiteral("file") },
            { QStringLiteral("bytes"), file.size() }, { QStringLiteral("purpose"), QStringLiteral("batch") } });
    }
    if (rec.method == "GET" && parts.size() == 4 && parts.at(1) == u"files" && parts.at(3) == u"content") {
        if (!m_files.contains(parts.at(2)))
            return bad(404, "Not Found", QStringLiteral("no file %1").arg(parts.at(2)));
        Answer a;
        a.body = m_files.value(parts.at(2));
        return a;
    }
    if (rec.method == "POST" && (rec.path == u"/v1/batches" || rec.path == u"/v1/messages/batches" || gemini)) {
        Batch b;
        b.provider = provider;
        b.age.start();
        const QJsonObject body = rec.json();
        if (gemini) {
            const QJsonArray requests = body.value(QStringLiteral("batch"))
                                            .toObject()
                                            .value(QStringLiteral("input_config"))
                                            .toObject()
                                            .value(QStringLiteral("requests"))
                                            .toObject()
                                            .value(QStringLiteral("requests"))
                                            .toArray();
            for (const QJsonValue& v : requests)
                b.lines.append({ v.toObject().value(QStringLiteral("metadata")).toObject().value(QStringLiteral("key")).toString(),
                    v.toObject().value(QStringLiteral("request")).toObject() });
        } else if (anthropic) {
            for (const QJsonValue& v : body.value(QStringLiteral("requests")).toArray())
                b.lines.append({ v.toObject().value(QStringLiteral("custom_id")).toString(),
                    v.toObject().value(QStringLiteral("params")).toObject() });
        } else {
            b.inputFileId = body.value(QStringLiteral("input_file_id")).toString();
            if (!m_files.contains(b.inputFileId))
                return bad(400, "Bad Request", QStringLiteral("no input file %1").arg(b.inputFileId));
            if (body.value(QStringLiteral("endpoint")).toString() != u"/v1/chat/completions"
                || body.value(QStringLiteral("completion_window")).toString() != u"24h")
                return bad(400, "Bad Request", QStringLiteral("endpoint /v1/chat/completions and completion_window 24h required"));
            int lineNo = 0;
            for (const QByteArray& line : m_files.value(b.inputFileId).split('\n')) {
                ++lineNo;
                if (line.trimmed().isEmpty())
                    continue;
                const QJsonObject o = QJsonDocument::fromJson(line).object();
                if (o.value(QStringLiteral("custom_id")).toString().isEmpty()
                    || o.value(QStringLiteral("url")).toString() != u"/v1/chat/completions")
                    return bad(400, "Bad Request", QStringLiteral("input file line %1: custom_id and url required").arg(lineNo));
                b.lines.append({ o.value(QStringLiteral("custom_id")).toString(), o.value(QStringLiteral("body")).toObject() });
            }
        }
        if (b.lines.isEmpty())
            return bad(400, "Bad Request", QStringLiteral("a batch needs at least one request"));
        b.id = (anthropic ? QStringLiteral("msgbatch_%1") : gemini ? QStringLiteral("batches/%1") : QStringLiteral("batch_%1"))
                   .arg(++m_batchSerial);
        m_batches.insert(b.id, b);
        return ok(batchJson(b));
    }
    // GET /v1/batches/{id}, /v1/messages/batches/{id}[/results]
    const qsizetype idAt = anthropic ? 3 : 2;
    const QString id = gemini ? QStringLiteral("batches/") + parts.value(idAt) : parts.value(idAt);
    if (rec.method == "GET" && parts.size() > idAt && m_batches.contains(id)) {
        Batch& b = m_batches[id];
        if (parts.size() == idAt + 2 && parts.at(idAt + 1) == u"results" && anthropic) {
            if (!b.ended)
                return bad(400, "Bad Request", QStringLiteral("batch %1 has not ended").arg(b.id));
            Answer a;
            a.body = b.results;
            return a;
        }
        if (parts.size() != idAt + 1)
            return bad(404, "Not Found", QStringLiteral("no route for %1").arg(rec.path));
        ++b.polls;
        if (!b.ended && b.polls >= m_batchPolls && b.age.elapsed() >= m_batchMs)
            endBatch(b);
        return ok(batchJson(b));
    }
    return bad(404, "Not Found", QStringLiteral("no batch route for %1 %2").arg(QString::fromLatin1(rec.method), rec.path));
}

} // namespace recwb::test
