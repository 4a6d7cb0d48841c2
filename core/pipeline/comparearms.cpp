#include "pipeline/comparearms.h"

#include "cf/recommender.h"
#include "cf/snapshots.h"
#include "data/dataset.h"
#include "data/workspace.h"
#include "util/error.h"

#include <QHash>
#include <QRegularExpression>

namespace recwb::pipeline {
namespace {

    const QString kColdStartCf = QStringLiteral("ease");

    std::optional<cf::SnapshotInfo> snapshotById(const Workspace& ws, qint64 id)
    {
        for (const cf::SnapshotInfo& s : cf::listSnapshots(ws))
            if (s.id == id)
                return s;
        return std::nullopt;
    }

    ArmModel resolveOne(const Workspace& ws, const Dataset& data, const QString& name, bool trainPart)
    {
        ArmModel m;
        const QString part = trainPart ? QStringLiteral("the split's train part") : QStringLiteral("all interactions");
        std::optional<cf::SnapshotInfo> snap;
        static const QRegularExpression digits(QStringLiteral("^[0-9]+$"));
        if (digits.match(name).hasMatch()) {
            snap = snapshotById(ws, name.toLongLong());
            if (!snap)
                throw Error(QStringLiteral("cf=%1: no model snapshot with id %1 (see 'recwb-cli models')").arg(name));
        } else {
            snap = cf::findSnapshot(ws, name);
        }
        if (snap && !trainPart) {
            m.cf = cf::loadSnapshot(ws, snap->id, data.numItems());
            m.note = QStringLiteral("snapshot %1 '%2' (%3)").arg(snap->id).arg(snap->name, snap->algorithm);
            if (snap->dataFingerprint != cf::dataFingerprint(data.userItems))
                m.note += QStringLiteral(", trained on other data");
            return m;
        }
        const QString algorithm = snap ? snap->algorithm : name;
        if (!cf::recommenderNames().contains(algorithm) && algorithm != u"popularity")
            throw Error(QStringLiteral("cf=%1: not a snapshot, a CF algorithm (%2), coldstart or pop")
                            .arg(name, cf::recommenderNames().join(QStringLiteral(", "))));
        auto model = cf::makeRecommender(algorithm, snap ? snap->params : QJsonObject {});
        model->fit(data.userItems);
        m.cf = std::move(model);
        m.note = snap ? QStringLiteral("%1 with the parameters of snapshot %2, fitted on %3")
                            .arg(algorithm)
                            .arg(snap->id)
                            .arg(part)
                      : QStringLiteral("%1 fitted on %2").arg(algorithm, part);
        return m;
    }

} // namespace

std::vector<ArmModel> resolveArmModels(
    const Workspace& ws, const Dataset& data, const std::vector<ArmSpec>& arms, bool trainPart)
{
    QHash<QString, ArmModel> done;
    std::vector<ArmModel> out;
    out.reserve(arms.size());
    for (const ArmSpec& arm : arms) {
        const QString name = arm.isColdStart() ? kColdStartCf : arm.cf;
        auto it = done.find(name);
        if (it == done.end()) {
            try {
                it = done.insert(name, resolveOne(ws, data, name, trainPart));
            } catch (const Canceled&) {
                throw;
            } catch (const Error& e) {
                throw Error(QStringLiteral("arm '%1': %2").arg(arm.title(), e.message()));
            }
        }
        ArmModel m = *it;
        m.coldStart = arm.isColdStart();
        if (m.coldStart)
            m.note = QStringLiteral("cold-start blend over ") + m.note;
        out.push_back(std::move(m));
    }
    return out;
}

} // namespace recwb::pipeline
