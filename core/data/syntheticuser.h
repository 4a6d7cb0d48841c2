#pragma once

#include <QJsonObject>
#include <QString>
#include <QtGlobal>
#include <vector>

namespace recwb {

class Dataset;
class Workspace;

// A what-if history saved as a new user (docs/WHATIF.md). The source user's rows are never
// touched; the new user is marked with users.synthetic_of = the source's external id and
// is left out of every evaluation split (eval/split.h).
struct SyntheticUser {
    struct Interaction {
        QString itemId; // external id of a catalog item
        double value = 1;
        qint64 timestamp = 0;
    };
    QString externalId;
    QString syntheticOf; // the source user's external id
    QJsonObject attributes;
    std::vector<Interaction> history;
};

// Writes the user and their interactions in one transaction and returns the new row id.
// Throws Error (nothing written) for an empty or taken id, an unknown source user, an
// unknown item or a repeated one, or an empty history.
qint64 saveSyntheticUser(Workspace& ws, const SyntheticUser& user);

// "<source>-whatif-<n>" with the smallest n >= 1 that no user of `ds` has.
QString nextSyntheticId(const Dataset& ds, const QString& sourceId);

} // namespace recwb
