#pragma once

#include "rerank/llmtypes.h"

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

class QNetworkAccessManager;
class QNetworkReply;
class QNetworkRequest;
class QHttpMultiPart;
class QUrl;

namespace recwb {
class Workspace;
}

// Provider batch APIs (LLM_APIS.md section 8; docs/RERANK.md "Provider batch APIs"): a run's
// requests sent as one OpenAI Batch (JSONL file + /v1/batches), Anthropic Message Batch or
// Gemini batch (inline requests to models/{model}:batchGenerateContent),
// polled and collected later, possibly by another process. The batch and its requests live
// in the workspace (tables batch_jobs and batch_requests, schema v7).
namespace recwb::rerank {

// Whether the endpoint's provider has a batch API this client speaks.
bool supportsBatchApi(ProviderKind kind); // OpenAiChat, Anthropic, Gemini

// A batch as last seen. state is the provider's status (OpenAI: validating, in_progress,
// finalizing, completed, failed, expired, cancelling, cancelled; Anthropic: in_progress,
// canceling, ended) or ours: "uploading" (stored, not yet accepted), "submit_failed",
// "empty" (nothing needed a call), "collected" (results stored in the run).
struct BatchJobInfo {
    qint64 runId = 0;
    ProviderKind provider = ProviderKind::OpenAiChat;
    QString endpoint; // the endpoint profile's name
    QString model;
    QString batchId;
    QString state;
    // input_file_id, output_file_id, error_file_id (OpenAI), results_url (Anthropic),
    // request_counts, error (the last submit or poll error)
    QJsonObject info;
    qint64 createdAt = 0;
    qint64 updatedAt = 0;
    int polls = 0;
    // The provider will not change it any more: results (if any) can be fetched.
    bool ended() const;
    // The defect kind of a request that has no result line once the batch ended.
    QString missingLineDefect() const;
};

// One request of a batch: custom_id (the user's external id), the response-cache key of its
// prompt (a collect checks it against the prompt it renders) and the provider request body.
struct BatchRequestLine {
    QString customId;
    QString userId;
    QString cacheKey;
    QJsonObject body;
};

namespace batchstore {
    // The batch of a run and its requests, in one transaction.
    void createBatchJob(Workspace& ws, const BatchJobInfo& job, const QList<BatchRequestLine>& requests);
    void updateBatchJob(Workspace& ws, const BatchJobInfo& job); // state, batch id, info, polls
    std::optional<BatchJobInfo> findBatchJob(const Workspace& ws, qint64 runId);
    QList<BatchRequestLine> batchRequests(const Workspace& ws, qint64 runId);
} // namespace batchstore

// One result line, parsed: the response of a succeeded line (Ok, or BadEnvelope) or a failure
// with its defect kind (batch_failed_line, batch_expired, batch_canceled).
struct BatchLineResult {
    ChatResponse response;
    QString defect;
};
// Parses an OpenAI output or error file, or an Anthropic results stream. Throws Error naming
// the line when one is not JSON or has no custom_id.
QHash<QString, BatchLineResult> parseBatchResults(ProviderKind kind, const QByteArray& jsonl);
// A finished Gemini batch operation's inline responses; order: the custom_ids in request order.
QHash<QString, BatchLineResult> parseGeminiBatch(const QJsonObject& operation, const QStringList& order);

// The HTTP of batches, through its own QNetworkAccessManager. Asynchronous: every callback
// comes from the event loop. The API key comes from the profile's environment variable
// (keychain entries are not read here). Thread contract: a QObject of its thread, which
// must run an event loop.
class BatchApiClient final : public QObject {
    Q_OBJECT

public:
    using Done = std::function<void(const QString& error)>; // empty error: success
    explicit BatchApiClient(QObject* parent = nullptr);
    ~BatchApiClient() override;

    // Uploads and creates the batch; fills job->batchId, state and info. job must outlive the call.
    void submit(const EndpointProfile& profile, const QList<BatchRequestLine>& requests, BatchJobInfo* job, Done done);
    // One status poll; updates job->state, info, polls.
    void poll(const EndpointProfile& profile, BatchJobInfo* job, Done done);
    // The result lines of an ended batch (output and error files, or the results stream).
    // requests: the batch's, in order (Gemini answers by position when it does not echo the key).
    void fetchResults(const EndpointProfile& profile, const BatchJobInfo& job, const QList<BatchRequestLine>& requests,
        std::function<void(const QHash<QString, BatchLineResult>& results, const QString& error)> done);

private:
    using Reply = std::function<void(int httpStatus, const QByteArray& body, const QString& error)>;
    // Checks the URL (no plain http to a non-loopback host unless allowed) and the key.
    QString prepare(
        const EndpointProfile& profile, const QUrl& url, QNetworkRequest& request, bool json, QByteArray& key) const;
    void send(const EndpointProfile& profile, const QUrl& url, const QByteArray& verb, const QByteArray& body,
        QHttpMultiPart* multipart, Reply done);
    void updateFrom(BatchJobInfo* job, const QJsonObject& batch) const;

    QNetworkAccessManager* m_nam;
};

} // namespace recwb::rerank
