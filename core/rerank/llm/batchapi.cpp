#include "rerank/llm/batchapi.h"

#include "data/sqlite.h"
#include "data/workspace.h"
#include "rerank/llm/providers.h"
#include "rerank/llm/redact.h"
#include "util/error.h"

#include <QDateTime>
#include <QHttpMultiPart>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrl>

namespace recwb::rerank {

namespace {

    QByteArray compactJson(const QJsonObject& o)
    {
        return QJsonDocument(o).toJson(QJsonDocument::Compact);
    }

    QJsonObject parseObject(const QString& text)
    {
        return QJsonDocument::fromJson(text.toUtf8()).object();
    }

    qint64 nowSeconds()
    {
        return QDateTime::currentSecsSinceEpoch();
    }

    QString joinUrl(const QString& base, const QString& path)
    {
        QString b = base;
        while (b.endsWith(u'/'))
            b.chop(1);
        return b + path;
    }

    // Where a provider's batch resources live: OpenAI {base} (ends in /v1), Anthropic
    // {origin}/v1, Gemini {origin}/v1beta (from providerUrl, so a base with or without the
    // version suffix works).
    QString apiRoot(const EndpointProfile& profile)
    {
        const QString live = providerUrl(profile).toString();
        switch (profile.kind) {
        case ProviderKind::Anthropic:
            return live.left(live.lastIndexOf(QStringLiteral("/messages")));
        case ProviderKind::Gemini:
            return live.left(live.lastIndexOf(QStringLiteral("/models/")));
        default:
            return joinUrl(profile.baseUrl, QString());
        }
    }

    // A Gemini state (BATCH_STATE_SUCCEEDED, or JOB_STATE_SUCCEEDED as some docs spell it) as
    // the OpenAI word for it; other states unchanged.
    QString plainState(const QString& state)
    {
        for (const QString& prefix : { QStringLiteral("BATCH_STATE_"), QStringLiteral("JOB_STATE_") })
            if (state.startsWith(prefix)) {
                const QString s = state.mid(prefix.size()).toLower();
                return s == u"succeeded" ? QStringLiteral("completed") : s;
            }
        return state;
    }

    // The failure of one line: its HTTP status (0 when none) and the provider's message.
    BatchLineResult failedLine(CallStatus status, int httpStatus, const QString& message, const QString& defect)
    {
        BatchLineResult r;
        r.response.status = status;
        r.response.httpStatus = httpStatus;
        r.response.errorMessage = redact(message); // a provider may echo credentials
        r.response.attempts = 1;
        r.defect = defect;
        return r;
    }

    BatchLineResult succeededLine(ProviderKind kind, const QJsonObject& body, const QString& requestId)
    {
        BatchLineResult r;
        r.response = parseProviderResponse(kind, compactJson(body));
        r.response.httpStatus = 200;
        r.response.requestId = requestId;
        r.response.attempts = 1;
        return r;
    }

} // namespace

bool supportsBatchApi(ProviderKind kind)
{
    return kind == ProviderKind::OpenAiChat || kind == ProviderKind::Anthropic || kind == ProviderKind::Gemini;
}

bool BatchJobInfo::ended() const
{
    static const QStringList terminal { QStringLiteral("completed"), QStringLiteral("failed"),
        QStringLiteral("expired"), QStringLiteral("cancelled"), QStringLiteral("ended"), QStringLiteral("empty"),
        QStringLiteral("collected") };
    return terminal.contains(plainState(state));
}

QString BatchJobInfo::missingLineDefect() const
{
    const QString s = plainState(state);
    if (s == u"expired")
        return QStringLiteral("batch_expired");
    if (s == u"cancelled")
        return QStringLiteral("batch_canceled");
    if (s == u"failed")
        return QStringLiteral("batch_failed");
    return QStringLiteral("batch_missing_line");
}

// ---- store ----

namespace batchstore {

    void createBatchJob(Workspace& ws, const BatchJobInfo& job, const QList<BatchRequestLine>& requests)
    {
        Transaction tx(ws);
        const qint64 now = nowSeconds();
        sql::Statement st(ws.db(),
            "INSERT INTO batch_jobs(run_id, provider, endpoint, batch_id, state, info, created_at, updated_at, polls) "
            "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)");
        QJsonObject info = job.info;
        info.insert(QStringLiteral("model"), job.model);
        st.bind(1, static_cast<int64_t>(job.runId))
            .bind(2, providerKindName(job.provider))
            .bind(3, job.endpoint)
            .bind(4, job.batchId.isNull() ? QStringLiteral("") : job.batchId)
            .bind(5, job.state)
            .bind(6, compactJson(info))
            .bind(7, static_cast<int64_t>(now))
            .bind(8, static_cast<int64_t>(now))
            .bind(9, job.polls)
            .exec();
        sql::Statement line(
            ws.db(), "INSERT INTO batch_requests(run_id, custom_id, user_id, cache_key, body) VALUES(?, ?, ?, ?, ?)");
        for (const BatchRequestLine& r : requests) {
            line.reset();
            line.bind(1, static_cast<int64_t>(job.runId))
                .bind(2, r.customId)
                .bind(3, r.userId)
                .bind(4, r.cacheKey)
                .bind(5, compactJson(r.body))
                .exec();
        }
        tx.commit();
    }

    void updateBatchJob(Workspace& ws, const BatchJobInfo& job)
    {
        Transaction tx(ws);
        QJsonObject info = job.info;
        info.insert(QStringLiteral("model"), job.model);
        sql::Statement st(ws.db(),
            "UPDATE batch_jobs SET batch_id = ?, state = ?, info = ?, updated_at = ?, polls = ? WHERE run_id = ?");
        st.bind(1, job.batchId.isNull() ? QStringLiteral("") : job.batchId)
            .bind(2, job.state)
            .bind(3, compactJson(info))
            .bind(4, static_cast<int64_t>(nowSeconds()))
            .bind(5, job.polls)
            .bind(6, static_cast<int64_t>(job.runId))
            .exec();
        tx.commit();
    }

    std::optional<BatchJobInfo> findBatchJob(const Workspace& ws, qint64 runId)
    {
        sql::Statement st(ws.db(),
            "SELECT provider, endpoint, batch_id, state, info, created_at, updated_at, polls FROM batch_jobs WHERE "
            "run_id = ?");
        st.bind(1, static_cast<int64_t>(runId));
        if (!st.step())
            return std::nullopt;
        BatchJobInfo job;
        job.runId = runId;
        job.provider = providerKindFromName(st.text(0)).value_or(ProviderKind::OpenAiChat);
        job.endpoint = st.text(1);
        job.batchId = st.text(2);
        job.state = st.text(3);
        job.info = parseObject(st.text(4));
        job.model = job.info.value(QStringLiteral("model")).toString();
        job.createdAt = st.int64(5);
        job.updatedAt = st.int64(6);
        job.polls = static_cast<int>(st.int64(7));
        return job;
    }

    QList<BatchRequestLine> batchRequests(const Workspace& ws, qint64 runId)
    {
        sql::Statement st(
            ws.db(), "SELECT custom_id, user_id, cache_key, body FROM batch_requests WHERE run_id = ? ORDER BY rowid");
        st.bind(1, static_cast<int64_t>(runId));
        QList<BatchRequestLine> out;
        while (st.step())
            out.append({ st.text(0), st.text(1), st.text(2), parseObject(st.text(3)) });
        return out;
    }

} // namespace batchstore

// ---- results ----

QHash<QString, BatchLineResult> parseGeminiBatch(const QJsonObject& operation, const QStringList& order)
{
    QHash<QString, BatchLineResult> out;
    const QJsonArray lines = operation.value(QStringLiteral("response"))
                                 .toObject()
                                 .value(QStringLiteral("inlinedResponses"))
                                 .toObject()
                                 .value(QStringLiteral("inlinedResponses"))
                                 .toArray();
    for (qsizetype i = 0; i < lines.size(); ++i) {
        const QJsonObject line = lines.at(i).toObject();
        // Responses come in request order; the key is used when the service echoes it.
        const QString key = line.value(QStringLiteral("metadata")).toObject().value(QStringLiteral("key")).toString();
        const QString customId = key.isEmpty() ? order.value(i) : key;
        if (customId.isEmpty())
            throw Error(
                QStringLiteral("batch results: response %1 has no key and no request at its position").arg(i + 1));
        if (line.contains(QStringLiteral("response"))) {
            out.insert(
                customId, succeededLine(ProviderKind::Gemini, line.value(QStringLiteral("response")).toObject(), {}));
        } else {
            const QJsonObject error = line.value(QStringLiteral("error")).toObject();
            out.insert(customId,
                failedLine(CallStatus::HttpError, 0,
                    QStringLiteral("batch line failed: %1").arg(error.value(QStringLiteral("message")).toString()),
                    QStringLiteral("batch_failed_line")));
        }
    }
    return out;
}

QHash<QString, BatchLineResult> parseBatchResults(ProviderKind kind, const QByteArray& jsonl)
{
    QHash<QString, BatchLineResult> out;
    int lineNo = 0;
    for (const QByteArray& raw : jsonl.split('\n')) {
        ++lineNo;
        if (raw.trimmed().isEmpty())
            continue;
        QJsonParseError pe {};
        const QJsonDocument doc = QJsonDocument::fromJson(raw, &pe);
        const QJsonObject o = doc.object();
        const QString customId = o.value(QStringLiteral("custom_id")).toString();
        if (pe.error != QJsonParseError::NoError || !doc.isObject() || customId.isEmpty())
            throw Error(
                QStringLiteral("batch results line %1: %2")
                    .arg(lineNo)
                    .arg(pe.error != QJsonParseError::NoError ? pe.errorString() : QStringLiteral("no custom_id")));
        if (kind == ProviderKind::Anthropic) {
            const QJsonObject result = o.value(QStringLiteral("result")).toObject();
            const QString type = result.value(QStringLiteral("type")).toString();
            if (type == u"succeeded") {
                out.insert(customId, succeededLine(kind, result.value(QStringLiteral("message")).toObject(), {}));
            } else if (type == u"expired") {
                out.insert(customId,
                    failedLine(CallStatus::Timeout, 0, QStringLiteral("the batch expired before this request ran"),
                        QStringLiteral("batch_expired")));
            } else if (type == u"canceled") {
                out.insert(customId,
                    failedLine(CallStatus::Canceled, 0, QStringLiteral("the batch was canceled"),
                        QStringLiteral("batch_canceled")));
            } else {
                const QByteArray error = compactJson(result.value(QStringLiteral("error")).toObject());
                out.insert(customId,
                    failedLine(CallStatus::HttpError, 0,
                        QStringLiteral("batch line errored: %1").arg(providerErrorMessage(error)),
                        QStringLiteral("batch_failed_line")));
            }
            continue;
        }
        const QJsonObject response = o.value(QStringLiteral("response")).toObject();
        const int status = response.value(QStringLiteral("status_code")).toInt();
        const QJsonObject error = o.value(QStringLiteral("error")).toObject();
        if (status == 200 && error.isEmpty()) {
            out.insert(customId,
                succeededLine(kind, response.value(QStringLiteral("body")).toObject(),
                    response.value(QStringLiteral("request_id")).toString()));
        } else if (error.value(QStringLiteral("code")).toString() == u"batch_expired") {
            out.insert(customId,
                failedLine(CallStatus::Timeout, 0, error.value(QStringLiteral("message")).toString(),
                    QStringLiteral("batch_expired")));
        } else {
            const QString message = !error.isEmpty()
                ? error.value(QStringLiteral("message")).toString()
                : providerErrorMessage(compactJson(response.value(QStringLiteral("body")).toObject()));
            out.insert(customId,
                failedLine(CallStatus::HttpError, status, QStringLiteral("batch line failed: %1").arg(message),
                    QStringLiteral("batch_failed_line")));
        }
    }
    return out;
}

// ---- HTTP ----

BatchApiClient::BatchApiClient(QObject* parent)
    : QObject(parent)
    , m_nam(new QNetworkAccessManager(this))
{
}

BatchApiClient::~BatchApiClient() = default;

QString BatchApiClient::prepare(
    const EndpointProfile& profile, const QUrl& url, QNetworkRequest& request, bool json, QByteArray& key) const
{
    if (!url.isValid() || (url.scheme() != u"https" && url.scheme() != u"http"))
        return QStringLiteral("endpoint \"%1\": \"%2\" is not an http(s) URL").arg(profile.name, url.toString());
    if (url.scheme() == u"http" && !isLoopbackHost(url.host()) && !profile.allowInsecureHttp)
        return QStringLiteral("endpoint \"%1\": plain http to %2 is refused (allow it with --allow-insecure-http)")
            .arg(profile.name, url.host());
    if (!profile.keyEnv.isEmpty())
        key = qgetenv(profile.keyEnv.toLocal8Bit().constData()).trimmed();
    if (key.isEmpty() && providerRequiresKey(profile))
        return QStringLiteral("endpoint \"%1\": batch APIs read the API key from the environment variable named by "
                              "--key-env, which is not set or empty")
            .arg(profile.name);
    request.setUrl(url);
    request.setTransferTimeout(profile.timeoutMs);
    if (json)
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    if (profile.kind == ProviderKind::Gemini) {
        if (!key.isEmpty())
            request.setRawHeader(QByteArrayLiteral("x-goog-api-key"), key);
    } else if (profile.kind == ProviderKind::Anthropic) {
        if (!key.isEmpty())
            request.setRawHeader(QByteArrayLiteral("x-api-key"), key);
        request.setRawHeader(QByteArrayLiteral("anthropic-version"), QByteArrayLiteral("2023-06-01"));
    } else if (!key.isEmpty()) {
        request.setRawHeader(QByteArrayLiteral("Authorization"), QByteArrayLiteral("Bearer ") + key);
    }
    return {};
}

void BatchApiClient::send(const EndpointProfile& profile, const QUrl& url, const QByteArray& verb,
    const QByteArray& body, QHttpMultiPart* multipart, Reply done)
{
    QNetworkRequest request;
    QByteArray key;
    if (const QString refused = prepare(profile, url, request, multipart == nullptr && verb == "POST", key);
        !refused.isEmpty()) {
        delete multipart;
        QMetaObject::invokeMethod(
            this, [done, refused] { done(0, {}, refused); }, Qt::QueuedConnection);
        return;
    }
    QNetworkReply* reply = multipart ? m_nam->post(request, multipart)
        : verb == "GET"              ? m_nam->get(request)
                                     : m_nam->post(request, body);
    if (multipart)
        multipart->setParent(reply);
    connect(reply, &QNetworkReply::finished, this, [reply, done, key, what = verb + ' ' + url.path().toUtf8()] {
        reply->deleteLater();
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray data = reply->readAll();
        if (status >= 200 && status < 300) {
            done(status, data, {});
            return;
        }
        const QString message = redact(providerErrorMessage(data), { key }); // never a key in a stored error
        done(status, data,
            QStringLiteral("%1 failed: %2")
                .arg(QString::fromUtf8(what),
                    status > 0
                        ? QStringLiteral("HTTP %1%2").arg(status).arg(message.isEmpty() ? QString() : u": " + message)
                        : reply->errorString()));
    });
}

void BatchApiClient::updateFrom(BatchJobInfo* job, const QJsonObject& batch) const
{
    if (job->provider == ProviderKind::Gemini) { // a long-running operation
        job->batchId = batch.value(QStringLiteral("name")).toString(job->batchId);
        const QJsonObject meta = batch.value(QStringLiteral("metadata")).toObject();
        job->state = meta.value(QStringLiteral("state")).toString(job->state);
        if (meta.contains(QStringLiteral("batchStats")))
            job->info.insert(QStringLiteral("request_counts"), meta.value(QStringLiteral("batchStats")));
        job->info.remove(QStringLiteral("error"));
        return;
    }
    job->batchId = batch.value(QStringLiteral("id")).toString(job->batchId);
    const QString key
        = job->provider == ProviderKind::Anthropic ? QStringLiteral("processing_status") : QStringLiteral("status");
    job->state = batch.value(key).toString(job->state);
    for (const char* field :
        { "input_file_id", "output_file_id", "error_file_id", "results_url", "request_counts", "errors" }) {
        const QString name = QString::fromLatin1(field);
        const QJsonValue v = batch.value(name);
        if (!v.isUndefined() && !v.isNull())
            job->info.insert(name, v);
    }
    job->info.remove(QStringLiteral("error"));
}

void BatchApiClient::submit(
    const EndpointProfile& profile, const QList<BatchRequestLine>& requests, BatchJobInfo* job, Done done)
{
    job->provider = profile.kind;
    if (!supportsBatchApi(profile.kind)) {
        QMetaObject::invokeMethod(
            this,
            [done, kind = providerKindName(profile.kind)] {
                done(QStringLiteral("no batch API for %1 endpoints").arg(kind));
            },
            Qt::QueuedConnection);
        return;
    }
    auto created = [this, job, done](int, const QByteArray& body, const QString& error) {
        if (error.isEmpty())
            updateFrom(job, QJsonDocument::fromJson(body).object());
        done(error);
    };
    if (profile.kind == ProviderKind::Anthropic) {
        QJsonArray list;
        for (const BatchRequestLine& r : requests)
            list.append(
                QJsonObject { { QStringLiteral("custom_id"), r.customId }, { QStringLiteral("params"), r.body } });
        send(profile, QUrl(apiRoot(profile) + QStringLiteral("/messages/batches")), "POST",
            compactJson(QJsonObject { { QStringLiteral("requests"), list } }), nullptr, created);
        return;
    }
    if (profile.kind == ProviderKind::Gemini) { // inline requests (under 20 MB), keyed by custom_id
        QJsonArray list;
        for (const BatchRequestLine& r : requests)
            list.append(QJsonObject { { QStringLiteral("request"), r.body },
                { QStringLiteral("metadata"), QJsonObject { { QStringLiteral("key"), r.customId } } } });
        const QJsonObject batch { { QStringLiteral("display_name"), QStringLiteral("recwb-run-%1").arg(job->runId) },
            { QStringLiteral("input_config"),
                QJsonObject {
                    { QStringLiteral("requests"), QJsonObject { { QStringLiteral("requests"), list } } } } } };
        QString url = providerUrl(profile).toString();
        url.replace(QStringLiteral(":generateContent"), QStringLiteral(":batchGenerateContent"));
        send(profile, QUrl(url), "POST", compactJson(QJsonObject { { QStringLiteral("batch"), batch } }), nullptr,
            created);
        return;
    }
    // OpenAI: the JSONL file first (multipart, purpose=batch), then the batch on it.
    QByteArray jsonl;
    for (const BatchRequestLine& r : requests)
        jsonl += compactJson(QJsonObject { { QStringLiteral("custom_id"), r.customId },
                     { QStringLiteral("method"), QStringLiteral("POST") },
                     { QStringLiteral("url"), QStringLiteral("/v1/chat/completions") },
                     { QStringLiteral("body"), r.body } })
            + '\n';
    auto* multipart = new QHttpMultiPart(QHttpMultiPart::FormDataType);
    QHttpPart purpose;
    purpose.setHeader(QNetworkRequest::ContentDispositionHeader, QByteArrayLiteral("form-data; name=\"purpose\""));
    purpose.setBody("batch");
    QHttpPart file;
    file.setHeader(QNetworkRequest::ContentDispositionHeader,
        QByteArrayLiteral("form-data; name=\"file\"; filename=\"batch.jsonl\""));
    file.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/jsonl"));
    file.setBody(jsonl);
    multipart->append(purpose);
    multipart->append(file);
    send(profile, QUrl(joinUrl(profile.baseUrl, QStringLiteral("/files"))), "POST", {}, multipart,
        [this, profile, job, done, created](int, const QByteArray& body, const QString& error) {
            if (!error.isEmpty()) {
                done(error);
                return;
            }
            const QString fileId = QJsonDocument::fromJson(body).object().value(QStringLiteral("id")).toString();
            if (fileId.isEmpty()) {
                done(QStringLiteral("POST /files: the answer has no file id"));
                return;
            }
            job->info.insert(QStringLiteral("input_file_id"), fileId);
            send(profile, QUrl(joinUrl(profile.baseUrl, QStringLiteral("/batches"))), "POST",
                compactJson(QJsonObject { { QStringLiteral("input_file_id"), fileId },
                    { QStringLiteral("endpoint"), QStringLiteral("/v1/chat/completions") },
                    { QStringLiteral("completion_window"), QStringLiteral("24h") } }),
                nullptr, created);
        });
}

void BatchApiClient::poll(const EndpointProfile& profile, BatchJobInfo* job, Done done)
{
    const QString path = job->provider == ProviderKind::Anthropic ? QStringLiteral("/messages/batches/")
        : job->provider == ProviderKind::Gemini                   ? QStringLiteral("/") // the name is batches/ID
                                                                  : QStringLiteral("/batches/");
    send(profile, QUrl(apiRoot(profile) + path + job->batchId), "GET", {}, nullptr,
        [this, job, done](int, const QByteArray& body, const QString& error) {
            ++job->polls;
            if (error.isEmpty())
                updateFrom(job, QJsonDocument::fromJson(body).object());
            else
                job->info.insert(QStringLiteral("error"), error);
            done(error);
        });
}

void BatchApiClient::fetchResults(const EndpointProfile& profile, const BatchJobInfo& job,
    const QList<BatchRequestLine>& requests,
    std::function<void(const QHash<QString, BatchLineResult>&, const QString&)> done)
{
    if (job.provider == ProviderKind::Gemini) { // the inline responses come with the finished operation
        QStringList order;
        for (const BatchRequestLine& r : requests)
            order << r.customId;
        send(profile, QUrl(apiRoot(profile) + u'/' + job.batchId), "GET", {}, nullptr,
            [done, order](int, const QByteArray& body, const QString& error) {
                if (!error.isEmpty()) {
                    done({}, error);
                    return;
                }
                try {
                    done(parseGeminiBatch(QJsonDocument::fromJson(body).object(), order), {});
                } catch (const Error& e) {
                    done({}, e.message());
                }
            });
        return;
    }
    QList<QUrl> urls;
    if (job.provider == ProviderKind::Anthropic) {
        if (const QString url = job.info.value(QStringLiteral("results_url")).toString(); !url.isEmpty())
            urls.append(QUrl(url));
    } else {
        for (const QString& field : { QStringLiteral("output_file_id"), QStringLiteral("error_file_id") })
            if (const QString id = job.info.value(field).toString(); !id.isEmpty())
                urls.append(QUrl(joinUrl(profile.baseUrl, QStringLiteral("/files/%1/content").arg(id))));
    }
    // The files one after the other; their lines merged (a custom_id is in one of them).
    auto results = std::make_shared<QHash<QString, BatchLineResult>>();
    auto next = std::make_shared<std::function<void(qsizetype)>>();
    *next = [this, profile, kind = job.provider, urls, results, next, done](qsizetype i) {
        if (i >= urls.size()) {
            done(*results, {});
            // Breaks the cycle once this call has returned.
            QMetaObject::invokeMethod(
                this, [next] { *next = nullptr; }, Qt::QueuedConnection);
            return;
        }
        send(profile, urls.at(i), "GET", {}, nullptr,
            [kind, results, next, done, i](int, const QByteArray& body, const QString& error) {
                if (!error.isEmpty()) {
                    done({}, error);
                    *next = nullptr;
                    return;
                }
                try {
                    results->insert(parseBatchResults(kind, body));
                } catch (const Error& e) {
                    done({}, e.message());
                    *next = nullptr;
                    return;
                }
                (*next)(i + 1);
            });
    };
    (*next)(0);
}

} // namespace recwb::rerank
