#pragma once

#include "rerank/llmtypes.h"

#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QString>

namespace recwb::rerank {

class LlmCall;
class LlmClient;

// What "Test" on an endpoint found out.
struct EndpointTestResult {
    QString endpoint;
    ProviderKind kind = ProviderKind::OpenAiChat;
    QString url; // the request's URL (never carries a key); empty for the offline endpoint
    bool offline = false; // the offline reranker: nothing was sent
    CallStatus status = CallStatus::Ok;
    int httpStatus = 0;
    double latencyMs = 0;
    QString model; // the model that answered, from the response envelope (may differ from the profile's)
    QString answer; // the answer text, at most 200 characters
    FinishReason finish = FinishReason::Unknown;
    Usage usage;
    QString requestId;
    QString error; // redacted; empty when ok
    bool ok() const { return status == CallStatus::Ok; }
    // One line for people: "ok: HTTP 200 in 35 ms, model gpt-x, 12 in / 3 out tokens" or
    // "POST URL failed: <error>".
    QString summary() const;
    QJsonObject toJson() const;
};

// The minimal request a test sends: a one-word JSON answer, at most 16 output tokens.
ChatRequest endpointTestRequest();
// The "model" (OpenAI, Anthropic, Ollama) or "modelVersion" (Gemini) of a response body.
QString answeringModel(ProviderKind kind, const QByteArray& body);

// Sends endpointTestRequest() through an LlmClient for one profile, with no retries (a test
// shows the first answer, not the third), and reports once. The offline endpoint answers
// "offline reranker: no network needed" without any request. Shaped like LlmCall:
// finished() comes exactly once from the event loop, never from inside start(), and the
// object deleteLater()s itself after it. No nested event loop.
// Thread contract: lives in the client's thread.
class EndpointTest final : public QObject {
    Q_OBJECT

public:
    static EndpointTest* start(LlmClient& client, const EndpointProfile& profile, QObject* parent = nullptr);
    void cancel(); // finishes with status Canceled
    const QString& endpointName() const { return m_result.endpoint; }

signals:
    void finished(const recwb::rerank::EndpointTestResult& result);

private:
    explicit EndpointTest(QObject* parent);
    void done(EndpointTestResult result);

    EndpointTestResult m_result;
    QPointer<LlmCall> m_call;
    bool m_finished = false;
};

} // namespace recwb::rerank

Q_DECLARE_METATYPE(recwb::rerank::EndpointTestResult)
