#include "rerank/llm/blocking.h"

#include "rerank/llm/llmclient.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QThread>

namespace recwb::rerank {

ChatResponse sendBlocking(LlmClient& client, const EndpointProfile& profile, const ChatRequest& request)
{
    const QCoreApplication* app = QCoreApplication::instance();
    ChatResponse refused;
    refused.status = CallStatus::Refused;
    if (!app) {
        refused.errorMessage = QStringLiteral("sendBlocking(): no QCoreApplication");
        return refused;
    }
    if (QThread::currentThread() == app->thread() && app->inherits("QGuiApplication")) {
        refused.errorMessage = QStringLiteral("sendBlocking() is for the CLI only and must not run on the GUI thread");
        qWarning("%s", qPrintable(refused.errorMessage));
        return refused;
    }
    if (client.thread() != QThread::currentThread()) {
        refused.errorMessage = QStringLiteral("sendBlocking(): the client lives in another thread");
        return refused;
    }
    ChatResponse result;
    QEventLoop loop;
    LlmCall* call = client.send(profile, request);
    QObject::connect(call, &LlmCall::finished, &loop, [&result, &loop](const ChatResponse& r) {
        result = r;
        loop.quit();
    });
    loop.exec(); // finished() is always emitted from the event loop, never inside send()
    return result;
}

} // namespace recwb::rerank
