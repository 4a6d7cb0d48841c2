// recwb-llm-testserver: the test LLM server as a program, to point the workbench at.
#include "testllmserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QTextStream>

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("recwb-llm-testserver"));
    QCoreApplication::setApplicationVersion(QStringLiteral(RECWB_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "A local LLM server speaking the OpenAI, Anthropic, Gemini and Ollama wire formats, with fault injection "
        "(header X-Test-Fault, or [[fault:NAME]] in the prompt, the model name or the URL path)."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption portOption(QStringList { QStringLiteral("p"), QStringLiteral("port") },
        QStringLiteral("Port on 127.0.0.1 (0 = any free port)."), QStringLiteral("port"), QStringLiteral("0"));
    const QCommandLineOption faultOption(QStringList { QStringLiteral("f"), QStringLiteral("fault") },
        QStringLiteral("Server-wide fault: %1.").arg(recwb::test::TestLlmServer::faultNames().join(QStringLiteral(", "))),
        QStringLiteral("name"));
    const QCommandLineOption batchPollsOption(QStringLiteral("batch-polls"),
        QStringLiteral("Batch APIs: a batch ends at this status poll (default 2)."), QStringLiteral("n"), QStringLiteral("2"));
    const QCommandLineOption batchMsOption(QStringLiteral("batch-ms"),
        QStringLiteral("Batch APIs: and no sooner than this many ms after it was created (default 0)."), QStringLiteral("ms"),
        QStringLiteral("0"));
    const QCommandLineOption batchExpireOption(QStringLiteral("batch-expire"),
        QStringLiteral("Batch APIs: every batch ends expired (no request answered)."));
    parser.addOption(portOption);
    parser.addOption(faultOption);
    parser.addOption(batchPollsOption);
    parser.addOption(batchMsOption);
    parser.addOption(batchExpireOption);
    parser.process(app);

    bool ok = false;
    const uint port = parser.value(portOption).toUInt(&ok);
    QTextStream err(stderr);
    if (!ok || port > 65535) {
        err << "invalid --port " << parser.value(portOption) << '\n';
        return 2;
    }
    recwb::test::TestLlmServer server;
    if (parser.isSet(faultOption))
        server.setFault(parser.value(faultOption));
    server.setBatchCompletion(parser.value(batchPollsOption).toInt(), parser.value(batchMsOption).toLongLong());
    server.setBatchExpire(parser.isSet(batchExpireOption));
    if (server.start(static_cast<quint16>(port)) == 0) {
        err << "cannot listen on 127.0.0.1:" << port << '\n';
        return 1;
    }
    QTextStream out(stdout);
    out << "listening on " << server.baseUrl() << '\n'
        << "  OpenAI base URL:    " << server.openAiBaseUrl() << '\n'
        << "  Anthropic, Gemini, Ollama base URL: " << server.baseUrl() << '\n';
    out.flush();
    return QCoreApplication::exec();
}
