#pragma once

#include "rerank/llmtypes.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <optional>

namespace recwb {
class Workspace;
}

// Every read and write of the rerank tables (schema v3) goes through here: prompt
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
// "name" (newest version) or "name@version". Throws Error when absent or malformed.
TemplateVersion getTemplate(const Workspace& ws, const QString& ref);
std::optional<TemplateVersion> findTemplate(const Workspace& ws, const QString& ref);
// Stores text as the next version of name (1 for a new name). parentVersion is the version
// it was edited from (must exist); when omitted, the newest existing version, if any.
TemplateVersion addTemplateVersion(Workspace& ws, const QString& name, const QString& text, const QString& note = {},
    std::optional<int> parentVersion = std::nullopt);
// Inserts each shipped default (resources/prompts) as version 1 when no template of that
// name exists yet. Returns how many were added.
int seedDefaultTemplates(Workspace& ws);

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
// The entry when present and not expired at `now` (seconds); counts a hit on it.
std::optional<CacheEntry> cacheGet(Workspace& ws, const QString& key, qint64 now);
void cachePut(Workspace& ws, const QString& key, const QString& endpoint, const QString& model,
    const QJsonObject& response, qint64 now, qint64 ttlSeconds);
int cachePurgeExpired(Workspace& ws, qint64 now); // returns how many went
int cacheClear(Workspace& ws);
qint64 cacheSize(const Workspace& ws);

} // namespace recwb::rerank::store
