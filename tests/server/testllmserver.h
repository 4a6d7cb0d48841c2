#pragma once

#include <QAbstractHttpServer>
#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>
#include <random>

class QTcpSocket;

namespace recwb::test {

// One request as the server saw it.
struct RecordedRequest {
    QString path; // e.g. /v1/chat/completions
    QByteArray method;
    QHash<QByteArray, QByteArray> headers; // names lower-cased
    QByteArray body;
    QByteArray header(const QByteArray& name) const { return headers.value(name.toLower()); }
    QJsonObject json() const;
};

// A local LLM server for tests and manual runs, speaking four wire formats at their paths
// (LLM_APIS.md sections 1-4):
//   POST /v1/chat/completions                      OpenAI Chat Completions
//   POST /v1/messages                              Anthropic Messages
//   POST /v1beta/models/{model}:generateContent    Gemini
//   POST /api/chat                                 Ollama native
// It answers a rerank with {"recommendations":[{"item_id","rank","score","explanation"}]}
// built from the candidate ids it finds in the user messages (extractCandidateIds), in the
// order found, with each provider's usage fields (the example numbers of LLM_APIS.md).
//
// Faults (see faultNames()) are chosen per request, first match wins:
//   1. the header  X-Test-Fault: NAME
//   2. a marker    [[fault:NAME]] anywhere in the prompt (system or user text), so an
//      unchanged client can trigger it
//   3. the same marker in the request's "model", or in the URL path (URL-decoded; Gemini
//      sends the model there), so one endpoint profile can misbehave
//   4. the server-wide fault from setFault(), optionally for the next N requests only.
// NAME is one of: good, fences, numeric_ids, invented_ids, repeated_ids, truncated,
// delay:MS, http429[:SECONDS], quota429, http500, http503, http529, close, huge,
// echo_key (a 401 whose message echoes the request's credentials, for redaction tests),
// prose (a 200 whose answer is prose without any JSON),
// mix[:SEED] (per request, drawn by a generator seeded with SEED: 10 % http429:1, 5 % http500
// or http503, 2 % delay:60000 (a timeout for any client), 1 % close, else good; requests
// inside the outage window of setMixOutage() get http503, so a breaker opens).
// Delayed answers use a QTimer, so other requests are served meanwhile.
//
// Batch APIs (LLM_APIS.md section 8), answered line by line like the live calls above:
//   POST /v1/files (multipart, purpose=batch)   GET /v1/files/{id}/content
//   POST /v1/batches   GET /v1/batches/{id}     OpenAI Batch (validating -> in_progress -> completed)
//   POST /v1/messages/batches   GET /v1/messages/batches/{id}[/results]   Anthropic Message Batches
//   POST /v1beta/models/{model}:batchGenerateContent   GET /v1beta/batches/{id}   Gemini (inline)
// A batch ends after setBatchCompletion()'s polls and milliseconds; setBatchExpire() makes
// the next batches end expired (every line unanswered); setBatchLineFault() gives one
// custom_id a fault (http500: a failed line; any answer fault: that answer).
//
// Thread contract: a QObject of the thread that created it; that thread must run an event
// loop. All members are called from that thread.
class TestLlmServer final : public QAbstractHttpServer {
    Q_OBJECT

public:
    explicit TestLlmServer(QObject* parent = nullptr);
    ~TestLlmServer() override;

    // Listens on 127.0.0.1 (port 0 picks a free port). Returns the port, 0 on failure.
    quint16 start(quint16 port = 0);
    quint16 port() const { return m_port; }
    QString baseUrl() const; // http://127.0.0.1:PORT (Anthropic, Gemini, Ollama base)
    QString openAiBaseUrl() const; // http://127.0.0.1:PORT/v1

    // Server-wide fault; count > 0 applies it to the next count requests only.
    void setFault(const QString& fault, int count = -1);
    void clearFault() { setFault(QString()); }
    void setHugeBytes(qint64 bytes) { m_hugeBytes = bytes; }
    // mix: the requests numbered [first, first + count) (1-based, counted since the last
    // resetCounters) all fail with 503. With ms > 0 the outage is a time instead: from
    // request number first on, every request in the next ms milliseconds fails with 503.
    void setMixOutage(int first, int count, qint64 ms = 0)
    {
        m_outageFirst = first;
        m_outageCount = count;
        m_outageMs = ms;
        m_outageClock.invalidate();
    }

    // Batches end (completed / ended) at the first status poll that is at least the polls-th
    // and comes at least ms after the batch was created.
    void setBatchCompletion(int polls, qint64 ms = 0)
    {
        m_batchPolls = polls;
        m_batchMs = ms;
    }
    void setBatchExpire(bool expire) { m_batchExpire = expire; }
    void setBatchLineFault(const QString& customId, const QString& fault) { m_batchLineFaults.insert(customId, fault); }
    int batchCount() const { return static_cast<int>(m_batches.size()); }

    int requestCount(const QString& path = QString()) const; // all paths when empty
    int faultCount(const QString& fault) const; // by fault name without arguments ("delay", "http429")
    // Requests received and not yet answered (or closed), overall or for one path.
    int inFlight(const QString& path = QString()) const { return path.isEmpty() ? m_inFlight : m_pathInFlight.value(path); }
    int maxInFlight(const QString& path = QString()) const { return path.isEmpty() ? m_maxInFlight : m_pathMaxInFlight.value(path); }
    void resetCounters();
    RecordedRequest lastRequest(const QString& path) const { return m_last.value(path); }
    bool hasRequest(const QString& path) const { return m_last.contains(path); }
    // Every request since the last resetCounters(), in arrival order, while recording is on
    // (off by default: a long run would keep every body).
    void setRecordAll(bool on) { m_recordAll = on; }
    const QList<RecordedRequest>& requests() const { return m_all; }

    static QStringList faultNames();
    // The convention: in order of appearance, without duplicates, the values of
    //   "id": "X" / "item_id": "X" / "external_id": "X" (also unquoted numbers),
    //   id "X"              (a candidate line like: - id "42": Title ...)
    //   id: X / item_id: X  (at the start of a line, optionally after - or *)
    //   X | title | ...     (the first column of a pipe-separated line)
    static QStringList extractCandidateIds(const QString& userText);

protected:
    bool handleRequest(const QHttpServerRequest& request, QTcpSocket* socket) override;
    void missingHandler(const QHttpServerRequest& request, QTcpSocket* socket) override;

private:
    enum class Provider { OpenAi, Anthropic, Gemini, Ollama };
    struct Answer {
        int status = 200;
        QByteArray reason = "OK";
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray body;
    };
    struct Batch {
        Provider provider = Provider::OpenAi;
        QString id;
        QString inputFileId;
        QList<QPair<QString, QJsonObject>> lines; // custom_id, request body
        int polls = 0;
        QElapsedTimer age;
        bool ended = false;
        bool expired = false;
        int succeeded = 0;
        int failed = 0;
        QString outputFileId; // OpenAI
        QString errorFileId; // OpenAI
        QByteArray results; // Anthropic JSONL
        QJsonArray inlined; // Gemini inline responses
    };
    static void promptTexts(Provider provider, const QJsonObject& body, QStringList& all, QStringList& user);
    Answer batchRequest(const RecordedRequest& request);
    void endBatch(Batch& batch);
    QJsonObject batchJson(const Batch& batch) const;
    // request.body holds the user turns; model is the request's "model" (parsed once by the caller).
    Answer answerFor(Provider provider, const QString& fault, const RecordedRequest& request, const QString& model) const;
    Answer success(Provider provider, const QString& text, bool truncated, const QString& model) const;
    Answer error(Provider provider, int status, const QByteArray& reason, const QString& type, const QString& message,
        const QJsonObject& extra = {}) const;
    void respond(QTcpSocket* socket, const Answer& answer, const QString& path);
    void requestDone(const QString& path);
    QString pickFault(const RecordedRequest& request, const QString& prompt, const QString& model);

    quint16 m_port = 0;
    QString m_fault;
    int m_faultRemaining = -1;
    qint64 m_hugeBytes = 9 * 1024 * 1024;
    std::mt19937 m_mixRng;
    quint32 m_mixSeed = 0;
    int m_outageFirst = 0;
    int m_outageCount = 0;
    qint64 m_outageMs = 0;
    QElapsedTimer m_outageClock; // started by request number m_outageFirst (a timed outage)
    QHash<QString, int> m_pathCounts;
    QHash<QString, int> m_faultCounts;
    QHash<QString, RecordedRequest> m_last;
    QList<RecordedRequest> m_all;
    bool m_recordAll = false;
    int m_total = 0;
    int m_inFlight = 0;
    int m_maxInFlight = 0;
    QHash<QString, int> m_pathInFlight;
    QHash<QString, int> m_pathMaxInFlight;
    QHash<QString, QByteArray> m_files; // batch input and output files by id
    QHash<QString, Batch> m_batches;
    QHash<QString, QString> m_batchLineFaults;
    int m_batchPolls = 2;
    qint64 m_batchMs = 0;
    bool m_batchExpire = false;
    int m_batchSerial = 0;
};

} // namespace recwb::test
