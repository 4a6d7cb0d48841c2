#pragma once

#include "eval/stats.h"
#include "pipeline/costprojection.h"
#include "pipeline/experiment.h"

#include <QByteArray>
#include <QHash>
#include <QString>
#include <optional>
#include <vector>

// Reports of a finished (or stored) experiment: a self-contained HTML page (tables and
// inline SVG charts, no external resource, every catalog and user text escaped), a CSV
// with one row per arm x cohort x figure, and JSON. Pure renderers plus one writer.
namespace recwb::pipeline {

// One arm's mean of a per-user metric on the experiment's cohort with the 95 % bootstrap
// interval of that mean (eval::bootstrapMeanCi over users; repeats averaged per user).
struct ArmInterval {
    QString arm;
    int users = 0;
    double mean = 0;
    eval::Interval ci;
};
// metric: "ndcg@10" etc. (a K of the spec). Throws Error for an unknown metric or K.
std::vector<ArmInterval> armIntervals(const ExperimentResult& result, const QString& metric);

// The projection's input from the experiment's measurements: the hybrid arm is the first
// arm that made LLM calls with a CF source, the LLM-only arm the first that made calls
// with cf=pop; tokens per call from their totals, the routing share = 1 - routed-CF share
// of the hybrid arm. nullopt when no arm made an LLM call or its prices are not in
// `armPrices` (arm name -> the prices of its endpoint).
std::optional<ProjectionInput> projectionInputFor(
    const ExperimentResult& result, const QHash<QString, rerank::Prices>& armPrices);

QString experimentReportHtml(const ExperimentResult& result, const std::optional<CostProjection>& projection = {});
// experiment,arm,cohort,metric,value,users (RFC 4180, CRLF); text fields always quoted,
// control characters inert and a leading = + - @ defused (util/inerttext.h csvTextField).
QByteArray experimentReportCsv(const ExperimentResult& result);
// ExperimentResult::toJson (with the per-user rows when withRows) plus "intervals" and
// "projection".
QByteArray experimentReportJson(
    const ExperimentResult& result, const std::optional<CostProjection>& projection = {}, bool withRows = false);

// Writes the report in the format of the file's suffix (.html/.htm, .csv, .json)
// atomically. Throws Error naming the file for an unknown suffix or a failed write.
// withRows: the JSON holds every per-user row (recwb-cli's --report).
void writeExperimentReport(const ExperimentResult& result, const QString& fileName,
    const std::optional<CostProjection>& projection = {}, bool withRows = false);

} // namespace recwb::pipeline
