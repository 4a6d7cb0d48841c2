#pragma once

#include "data/csr.h"
#include "util/task.h"

#include <QByteArray>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <memory>
#include <span>
#include <vector>

namespace recwb::cf {

struct ScoredItem {
    int32_t item = -1;
    float score = 0;
};

// A user's history as the models see it: item indices (ascending) with their values.
// When trainedUser >= 0 the history is exactly that user's row of the training matrix,
// so factor models may use the learned user factors instead of folding the history in.
struct History {
    std::span<const int32_t> items;
    std::span<const float> values;
    int32_t trainedUser = -1;
    static History ofUser(const Csr& userItems, int32_t user)
    {
        return { userItems.row(user), userItems.rowValues(user), user };
    }
    // The same items, without claiming to be a training row (forces fold-in).
    static History adHoc(std::span<const int32_t> items, std::span<const float> values) { return { items, values, -1 }; }
};

// One collaborative-filtering model. fit() learns from a users x items matrix; after
// that the model is read-only and score() may run from many threads at once.
// score() takes a history vector, not a user index, so a user unseen at training time
// or a what-if history edited in the GUI is scored without retraining.
class Recommender {
public:
    virtual ~Recommender() = default;
    virtual QString algorithm() const = 0;
    virtual QJsonObject params() const = 0;
    virtual void fit(const Csr& userItems, const TaskControl& control = {}) = 0;
    // Writes one score per catalog item into out (size numItems()). Higher is better.
    virtual void score(const History& history, std::span<float> out) const = 0;
    // Scores only the given candidates; the default scores all and picks.
    virtual void scoreSubset(const History& history, std::span<const int32_t> candidates, std::span<float> out) const;
    // The top n for a history with its own items excluded: exactly topN(score(history), n,
    // history.items). The default does just that; factor models select without a full f32 pass.
    virtual std::vector<ScoredItem> recommendTop(const History& history, int n) const;
    int32_t numItems() const { return m_numItems; }

    // Snapshot payload (binary, versioned by the implementation) and its inverse.
    virtual QByteArray save() const = 0;
    virtual void restore(const QByteArray& payload) = 0;

protected:
    int32_t m_numItems = 0;
};

// The top n of scores, skipping `exclude` (sorted ascending, e.g. the user's own history).
// Ties are broken by item index ascending, so the result is deterministic.
std::vector<ScoredItem> topN(std::span<const float> scores, int n, std::span<const int32_t> exclude = {});

// Top-n recommendations for a history with its own items excluded.
std::vector<ScoredItem> recommend(const Recommender& model, const History& history, int n);

// Names: "pop", "itemknn", "ease", "ials", "bpr". Params are model specific (documented
// on each class); unknown keys throw Error naming the key and the accepted ones.
std::unique_ptr<Recommender> makeRecommender(const QString& name, const QJsonObject& params = {});
QStringList recommenderNames();

} // namespace recwb::cf
