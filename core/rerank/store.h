#pragma once

#include "rerank/llmtypes.h"

#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QPair>
#include <QString>
#include <QStringList>
#include <optional>

namespace recwb {
class Workspace;
}

// Every read and write of the rerank tables (schema v3, labels and drafts v4) goes through here: prompt
// templates with all their versions, endpoint profiles, the LLM response cache.
// Same thread contract as Workspace: call from the thread that opened it. Writes run in
// their own transaction unless the caller has one open.
namespace recwb::rerank::store {

struct TemplateVersion {
    qint64 id = 0;
    QString name;
    int version = 0;
    std::optional<int> parentVersion; // the version it was edited from; none for a first version
    QString text;
    QString note;
    qint64 createdAt = 0; // seconds since the epoch, UTC
    QString ref() const { return name + u'@' + QString::number(version); }
};

// The newest version of every template, by name.
QList<TemplateVersion> listTemplates(const Workspace& ws);
// Every version of one template, oldest first.
QList<TemplateVersion> templateVersions(const Workspace& ws, const QString& name);
// "name" (newest version), "name@version" or "name@label" (a label is any name after @
// that is not a number). getTemplate throws Error naming the ref when absent or malformed
// (an unknown label lists the labels the template has); findTemplate returns nullopt
// when absent and throws only when malformed.
TemplateVersion getTemplate(const Workspace& ws, const QString& ref);
std::optional<TemplateVersion> findTemplate(const Workspace& ws, const QString& ref);
// Stores text as the next version of name (1 for a new name). parentVersion is the version
// it was edited from (must exist); when omitted, the newest existing version, if any.
TemplateVersion addTemplateVersion(Workspace& ws, const QString& name, const QString& text, const QString& note = {},
    std::optional<int> parentVersion = std::nullopt);
// Inserts each shipped default (resources/prompts) as version 1 when no template of that
// name exists yet. Returns how many were added.
int seedDefaultTemplates(Workspace& ws);

// ---- labels (schema v4): a label (production, staging, any name that is not a number)
// points at one version of a template; setting it again moves it ----
// Throws Error unless label is non-empty, not a number, without @ or whitespace.
void checkLabelName(const QString& label);
// Throws Error when the version does not exist or the label is malformed.
void setLabel(Workspace& ws, const QString& name, const QString& label, int version);
bool removeLabel(Workspace& ws, const QString& name, const QString& label); // false when absent
std::optional<int> labelVersion(const Workspace& ws, const QString& name, const QString& label);
// version -> its labels, sorted; versions without a label are absent.
QMap<int, QStringList> labelsFor(const Workspace& ws, const QString& name);

// ---- drafts (schema v4): the editor's autosave, one per template name (a name that has no
// version yet too). Saving a version does not remove the draft; the editor discards it. ----
struct Draft {
    QString name;
    std::optional<int> baseVersion; // the version being edited; none for a new template
    QString text;
    qint64 updatedAt = 0; // seconds since the epoch, UTC
};
void saveDraft(Workspace& ws, const Draft& draft); // replaces; updatedAt 0 = now
std::optional<Draft> loadDraft(const Workspace& ws, const QString& name);
bool discardDraft(Workspace& ws, const QString& name);
QList<Draft> listDrafts(const Workspace& ws); // by name

QList<EndpointProfile> listEndpoints(const Workspace& ws); // by name
std::optional<EndpointProfile> findEndpoint(const Workspace& ws, const QString& name);
EndpointProfile getEndpoint(const Workspace& ws, const QString& name); // throws Error when absent
void upsertEndpoint(Workspace& ws, const EndpointProfile& profile); // stores profile.toJson(): never a key
bool removeEndpoint(Workspace& ws, const QString& name);
QString defaultEndpoint(const Workspace& ws); // "offline" on a new workspace
void setDefaultEndpoint(Workspace& ws, const QString& name); // throws Error when no such endpoint

struct CacheEntry {
    QString key;
    QString endpoint;
    QString model;
    qint64 createdAt = 0;
    qint64 expiresAt = 0;
    QJsonObject response;
    qint64 hits = 0; // hits before this lookup
};
// The entry when present and not expired at `now` (seconds); counts a hit on it unless
// countHit is false or the workspace is read-only.
std::optional<CacheEntry> cacheGet(Workspace& ws, const QString& key, qint64 now, bool countHit = true);
void cachePut(Workspace& ws, const QString& key, const QString& endpoint, const QString& model,
    const QJsonObject& response, qint64 now, qint64 ttlSeconds);
int cachePurgeExpired(Workspace& ws, qint64 now); // returns how many went
int cacheClear(Workspace& ws);
qint64 cacheSize(const Workspace& ws);
// Copies the entries of `from` not expired at `now` into `to` (a shard file's answers into
// the workspace its runs are merged into); an entry already in `to` stays unless the copy
// expires later. Returns how many were written.
int cacheCopy(const Workspace& from, Workspace& to, qint64 now);

// ---- rerank runs (a batch, a probe or a single rerank) and their per-user results ----
struct RunInfo {
    qint64 id = 0;
    qint64 createdAt = 0;
    QString promptName;
    std::optional<int> promptVersion;
    QString endpoint; // the first endpoint (a cascade lists all in params)
    QJsonObject params; // options, routing, cascade, CF model, ...
    QJsonObject summary; // filled when the run ends
    int results = 0; // stored per-user results
};
qint64 createRun(Workspace& ws, const RunInfo& run); // returns the new id; createdAt 0 = now
void putRunResult(Workspace& ws, qint64 runId, qint64 userDbId, const QJsonObject& result); // replaces
void setRunSummary(Workspace& ws, qint64 runId, const QJsonObject& summary);
QList<RunInfo> listRuns(const Workspace& ws); // newest first, without results
std::optional<RunInfo> findRun(const Workspace& ws, qint64 runId);
// (user's external id, result) in user order (the workspace's user ids).
QList<QPair<QString, QJsonObject>> runResults(const Workspace& ws, qint64 runId);
bool removeRun(Workspace& ws, qint64 runId); // its results go with it
// A run's status lives in params.status (no schema change): "running" from createRun until
// the batch ends "finished", "canceled" or "failed". runStatus() says "interrupted" for a
// "running" run whose process (params.pid on params.host) is gone (killed), and "finished"
// for a run stored before statuses existed that has a summary.
QString runStatus(const RunInfo& run);
void setRunStatus(Workspace& ws, qint64 runId, const QString& status);
// Sets one scalar key of a run's params (a string, number or bool).
void setRunParam(Workspace& ws, qint64 runId, const QString& key, const QJsonValue& value);
// What the stored results of a run hold: users, cold-start users, fallbacks, answered_by,
// tokens, cost (null when a result had none). The summary of a run that did not finish.
QJsonObject summarizeStoredResults(const QList<QPair<QString, QJsonObject>>& results);

// ---- users marked high-value (routing) ----
QStringList highValueUsers(const Workspace& ws); // external ids, sorted
// Marks (or unmarks) users by external id; throws Error naming the first unknown id
// before changing anything. Returns how many changed.
int setHighValue(Workspace& ws, const QStringList& externalIds, bool highValue);

} // namespace recwb::rerank::store
