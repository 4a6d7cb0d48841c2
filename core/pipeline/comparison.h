#pragma once

#include "eval/metrics.h"
#include "pipeline/armspec.h"
#include "pipeline/rerankpipeline.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>
#include <vector>

namespace recwb {
class Dataset;
}
namespace recwb::eval {
struct UserSplit;
}

// The side-by-side comparison of one user's lists (docs/COMPARE.md): value types, the
// measures between columns and the exports. No I/O here: callers write the text.
namespace recwb::pipeline {

struct CompareRow {
    int32_t item = -1; // dataset index; -1 when the item is not in the dataset
    QString itemId;
    QString title;
    int rank = 0; // 1-based in this column
    int cfRank = 0; // 1-based in the CF candidates; 0 unknown
    bool filled = false; // taken from the CF order, not picked by the reranker
    bool heldOut = false; // a test item of the split
    QString explanation;
    QStringList claims; // unsupported claims of the explanation (rerank/faithfulness.h)
    // Places moved up against the CF order (positive = up); 0 when the CF rank is unknown.
    int move() const { return cfRank > 0 ? cfRank - rank : 0; }
};

// One column.
struct ArmResult {
    QString title;
    QString spec; // the canonical arm spec, or "run:ID" for a stored run
    int k = 10;
    QString error; // the column could not produce a list (bad configuration); rows empty
    bool canceled = false;
    std::vector<CompareRow> rows; // rank order
    QList<rerank::Defect> defects;
    bool fallback = false; // the reranker failed: rows are the CF order
    QString fallbackReason;
    std::optional<eval::Accuracy> metrics; // with a split
    StageMs stageMs;
    rerank::Usage usage;
    std::optional<double> cost;
    bool cacheHit = false;
    QString answeredBy;
    QString templateRef; // NAME@VERSION of the prompt; empty when the arm does not rerank
    QString note; // e.g. "ease trained on the loo train part", "snapshot 3"

    bool hasList() const { return !rows.empty(); }
    std::vector<int32_t> items() const; // dataset indices in rank order (unknown ids skipped)
    // From a RerankOutcome::toJson() object (a live outcome or a stored run's result):
    // rows cut at k, held-out marks and metrics from the split when given.
    static ArmResult fromOutcomeJson(
        const QJsonObject& outcome, const Dataset& ds, int k, const eval::UserSplit* split = nullptr);
    QJsonObject toJson() const;
};

// Measures between two columns, on their first min(k_a, k_b) items for overlap@K and on
// the whole lists for tau and RBO.
struct ArmPair {
    int a = 0;
    int b = 0;
    int k = 0;
    double overlap = 0; // overlap@k
    int shared = 0; // items in both lists
    std::optional<double> kendallTau; // nullopt with < 2 shared items
    double rbo = 0; // RBO_ext, p = eval::kRboP
    QJsonObject toJson() const;
};

// One row of the aligned view: an item and where it sits in each column.
struct AlignedRow {
    QString itemId;
    QString title;
    bool heldOut = false;
    std::vector<int> rowInArm; // per arm: index into ArmResult::rows, -1 when absent
};

struct Comparison {
    QString userId;
    QString split; // empty: no split
    std::optional<quint64> seed; // the seed given, for a split that uses one (strat75)
    QStringList heldOutIds; // the user's test items (external ids)
    QStringList heldOutTitles;
    std::vector<ArmResult> arms;
    std::vector<ArmPair> pairs; // computePairs(): every pair a < b of arms with a list

    void computePairs();
    // Every item of any column, ordered by its best rank (then by the first column that
    // lists it), then the held-out items no column lists. The same item is one row across
    // all columns.
    std::vector<AlignedRow> alignedRows() const;
    // {"user", "split", "seed", "held_out": [ids], "arms": [ArmResult::toJson()],
    //  "pairs": [ArmPair::toJson()]}
    QJsonObject toJson() const;
    // One row per arm x rank: arm, label, spec, rank, item_id, title, cf_rank, move,
    // held_out, filled, explanation (RFC 4180 quoting).
    QString toCsv() const;
    // A self-contained page (inline CSS, no external assets): the aligned rows with the
    // explanations side by side, held-out items marked, the per-column figures and the
    // measures between columns.
    QString toHtml() const;
};

} // namespace recwb::pipeline
