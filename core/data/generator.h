#pragma once

#include "data/importwriter.h"
#include "data/workspace.h"
#include "util/task.h"

#include <QString>

namespace recwb {

// A seeded, deterministic synthetic catalog whose structure collaborative filtering can
// learn: items belong to categories and latent "themes", users have latent tastes over
// those themes plus profile attributes (age, gender, occupation) that shift them, and
// interactions follow taste x popularity. About coldFraction of users get fewer than
// 5 interactions. Memory stays bounded: users are generated and written in blocks.
struct GeneratorConfig {
    int users = 1000;
    int items = 2000;
    qint64 interactions = 60000;
    int categories = 15;
    double coldFraction = 0.1;
    quint64 seed = 42;
};

// Writes into the workspace in one transaction (rolled back on cancel or error).
ImportReport generateIntoWorkspace(Workspace& ws, const GeneratorConfig& config, const TaskControl& control = {});
// Writes interactions.csv, items.csv, users.csv into a folder, for import benchmarks.
void generateCsvFiles(const QString& folder, const GeneratorConfig& config, const TaskControl& control = {});

} // namespace recwb
