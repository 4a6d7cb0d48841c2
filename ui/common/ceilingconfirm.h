#pragma once

#include "pipeline/ceiling.h"

#include <QString>

class QWidget;

namespace recwb::rerank {
struct EndpointProfile;
class PriceTable;
} // namespace recwb::rerank

namespace recwb::ui {

// The worst case of sending `jobs` users with `candidates` candidates each to one endpoint
// (pipeline::projectRun); an offline endpoint makes no calls. prices: the table read with the
// view's lists; nullptr = the shipped table.
pipeline::RunProjection projectCalls(
    const rerank::EndpointProfile& endpoint, const rerank::PriceTable* prices, qint64 jobs, int candidates);
// Adds more to total (an unknown cost makes the total unknown).
void addProjection(pipeline::RunProjection& total, const pipeline::RunProjection& more);

// The GUI side of the confirmation ceiling (docs/RERANK.md): when the projection exceeds
// pipeline::RunCeiling::fromEnvironment(), a modal question (objectName "ceilingConfirm")
// shows the projected calls and cost and what they exceed; true only when the user presses
// Send. True at once within the ceiling. A malformed RECWB_CEILING_* refuses, saying why.
// action: what would be sent, e.g. "Rerank user 42 with gpt-4.1".
bool confirmCeiling(QWidget* parent, const pipeline::RunProjection& projection, const QString& action);

} // namespace recwb::ui
