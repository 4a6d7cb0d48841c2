#pragma once

#include "rerank/llmtypes.h"
#include "rerank/prompt.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>
#include <optional>
#include <span>

// The rerank result shared by the LLM path (parseAnswer) and the offline reranker, so
// the pipeline, the GUI and the stored runs treat both alike.
namespace recwb::rerank {

struct RankedItem {
    int32_t item = -1;
    QString externalId;
    int rank = 0; // 1..n in the final order
    std::optional<double> score; // the model's (or offline) score; none when missing or not finite
    QString explanation;
    int cfRank = 0;
    bool filled = false; // not picked by the reranker: taken from the CF order
    // Unsupported claims of the explanation (faithfulness.h), one line each:
    // "\"phrase\" (kind): reason". Also on the result as "unsupported_claim" defects.
    QStringList claims;
};

// Defect kinds: "empty", "invalid_json", "truncated", "refused", "call_failed", "bad_shape",
// "bad_entry", "unknown_id", "duplicate_id", "missing_score", "bad_score",
// "missing_explanation", "rank_renumbered", "extra", "filled", "code_fence", "prose".
struct Defect {
    QString kind;
    QString detail;
};

struct StageTiming {
    QString stage;
    double ms = 0;
};

struct RerankResult {
    QList<RankedItem> items;
    QList<Defect> defects;
    bool usable = false; // false: items are the CF order (fallback)
    QString fallbackReason; // when unusable: "empty answer", "invalid JSON", "no valid ids", "truncated", ...
    QList<StageTiming> timings;
    int pickedCount() const; // items not filled
    bool hasDefect(const QString& kind) const;
    QJsonObject toJson() const;
};

// The first k candidates in CF order, marked filled, as an unusable result with its reason.
RerankResult cfFallback(std::span<const Candidate> candidates, int k, const QString& reason);

// Validates a model's answer text against the candidate set (docs/PROMPTS.md "Answers").
RerankResult parseAnswer(const QString& text, FinishReason finish, std::span<const Candidate> candidates, int k);
// The same from a client response: a failed call or a refusal falls back to CF order.
RerankResult parseAnswer(const ChatResponse& response, std::span<const Candidate> candidates, int k);

} // namespace recwb::rerank
