#include "rerank/llm/endpointtest.h"

#include "rerank/llm/llmclient.h"
#include "rerank/llm/providers.h"
#include "rerank/llm/redact.h"

#include <QJsonDocument>

namespace recwb::rerank {

QString EndpointTestResult::summary() const
{
    if (offline)
        return QStringLiteral("offline reranker: no network needed");
    if (!ok()) {
        // The client's messages start with "endpoint 'NAME': "; the caller names the endpoint once.
        QString why = error;
        if (const QString prefix = QStringLiteral("endpoint '%1': ").arg(endpoint); why.startsWith(prefix))
            why = why.mid(prefix.size());
        return QStringLiteral("POST %1 failed (%2%3): %4")
            .arg(url.isEmpty() ? QStringLiteral("(no URL)") : url, callStatusName(status),
                httpStatus > 0 ? QStringLiteral(", HTTP %1").arg(httpStatus) : QString(), why);
    }
    QString text = QStringLiteral("ok: HTTP %1 in %2 ms, model %3, %4 in / %5 out tokens")
                       .arg(httpStatus)
                       .arg(latencyMs, 0, 'f', 0)
                       .arg(model.isEmpty() ? QStringLiteral("(not named)") : model)
                       .arg(usage.inputTokens)
                       .arg(usage.outputTokens);
    if (finish == FinishReason::Truncated)
        text += QStringLiteral(" (answer cut at the token limit)");
    return text;
}

QJsonObject EndpointTestResult::toJson() const
{
    return QJsonObject {
        { QStringLiteral("endpoint"), endpoint },
        { QStringLiteral("kind"), providerKindName(kind) },
        { QStringLiteral("url"), url },
        { QStringLiteral("ok"), ok() },
        { QStringLiteral("offline"), offline },
        { QStringLiteral("status"), callStatusName(status) },
        { QStringLiteral("http_status"), httpStatus },
        { QStringLiteral("latency_ms"), latencyMs },
        { QStringLiteral("model"), model },
        { QStringLiteral("answer"), answer },
        { QStringLiteral("finish"), finishReasonName(finish) },
        { QStringLiteral("input_tokens"), usage.inputTokens },
        { QStringLiteral("output_tokens"), usage.outputTokens },
        { QStringLiteral("request_id"), requestId },
        { QStringLiteral("error"), error },
        { QStringLiteral("summary"), summary() },
    };
}

ChatRequest endpointTestRequest()
{
    ChatRequest r;
    r.messages = {
        { QStringLiteral("system"), QStringLiteral("You are a connectivity check. Answer with JSON only."), false },
        { QStringLiteral("user"), QStringLiteral("Reply with exactly {\"answer\":\"ok\"} and nothing else."), false },
    };
    r.maxOutputTokens = 16;
    return r;
}

QString answeringModel(ProviderKind kind, const QByteArray& body)
{
    const QJsonObject o = QJsonDocument::fromJson(body).object();
    return o.value(kind == ProviderKind::Gemini ? QStringLiteral("modelVersion") : QStringLiteral("model")).toString();
}

EndpointTest::EndpointTest(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<EndpointTestResult>();
}

EndpointTest* EndpointTest::start(LlmClient& client, const EndpointProfile& profile, QObject* parent)
{
    auto* test = new EndpointTest(parent);
    EndpointTestResult& r = test->m_result;
    r.endpoint = profile.name;
    r.kind = profile.kind;
    if (profile.kind == ProviderKind::Offline) {
        r.offline = true;
        test->done(r);
        return test;
    }
    r.url = redact(providerUrl(profile).toString());
    EndpointProfile once = profile;
    once.maxRetries = 0;
    test->m_call = client.send(once, endpointTestRequest());
    connect(test->m_call, &LlmCall::finished, test, [test](const ChatResponse& response) {
        EndpointTestResult res = test->m_result;
        res.status = response.status;
        res.httpStatus = response.httpStatus;
        res.latencyMs = response.latencyMs;
        res.model = answeringModel(res.kind, response.rawBody);
        res.answer = response.text.left(200);
        res.finish = response.finish;
        res.usage = response.usage;
        res.requestId = response.requestId;
        if (!response.ok())
            res.error = response.errorMessage.isEmpty() ? callStatusName(response.status) : response.errorMessage;
        test->done(res);
    });
    return test;
}

void EndpointTest::cancel()
{
    if (m_finished)
        return;
    if (m_call) {
        m_call->cancel(); // its finished() reports Canceled through the connection above
        return;
    }
}

void EndpointTest::done(EndpointTestResult result)
{
    if (m_finished)
        return;
    m_finished = true;
    QMetaObject::invokeMethod(
        this,
        [this, result] {
            emit finished(result);
            deleteLater();
        },
        Qt::QueuedConnection);
}

} // namespace recwb::rerank
