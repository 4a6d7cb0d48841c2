#pragma once

#include "pipeline/armspec.h"

#include <QString>
#include <memory>
#include <vector>

namespace recwb {
class Dataset;
class Workspace;
namespace cf {
    class Recommender;
}
} // namespace recwb

namespace recwb::pipeline {

// What an arm scores with: its CF model (for cf=coldstart, the blend's CF model, ease)
// and whether its candidates come from the cold-start blend.
struct ArmModel {
    std::shared_ptr<const cf::Recommender> cf;
    bool coldStart = false;
    QString note; // how the model was obtained, for the column ("snapshot 3", "trained on the loo train part")
};

// Resolves the cf= of every arm, training or loading each distinct one once. cf= is, in
// this order: "coldstart"; a snapshot id (digits); a snapshot name (cf::findSnapshot);
// a CF algorithm (cf::recommenderNames(), "pop" included). With trainPart (a split is
// chosen) nothing trained on the whole data may be used: a snapshot's algorithm and
// parameters are fitted again on `data`, which is then the split's training part.
// Slow (training): call it on a worker thread with a Workspace connection of that thread.
// Throws Error naming the arm and its cf= when nothing matches.
std::vector<ArmModel> resolveArmModels(
    const Workspace& ws, const Dataset& data, const std::vector<ArmSpec>& arms, bool trainPart);

} // namespace recwb::pipeline
