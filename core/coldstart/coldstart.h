#pragma once

#include "cf/recommender.h"
#include "coldstart/content.h"
#include "data/dataset.h"
#include "util/task.h"

#include <QJsonObject>
#include <QStringList>
#include <array>
#include <memory>

namespace recwb::coldstart {

// Where a cold-start candidate came from.
enum class Source { Cf, Content, Profile, Category, Popularity };
inline constexpr int kSourceCount = 5;
QString sourceName(Source s);

// The blend: every source's scores are scaled to [0, 1] over the catalog (divided by
// their maximum), multiplied by its weight and summed. A source that has nothing to say
// for a user (no history, no profile, no stated categories) is left out of the blend.
struct ColdStartConfig {
    int threshold = kDefaultColdThreshold; // users with fewer interactions are cold
    // Defaults from `recwb-cli tune --model coldstart` on MovieLens 100K cold@0/1/3
    // (docs/QUALITY.md): with a handful of items, who the user is and what is popular
    // carry more than what CF can read from the items.
    double cfWeight = 0.1; // a CF model scoring the few items the user has
    double contentWeight = 0.2; // TF-IDF similarity to the items the user has
    double profileWeight = 1.0; // popularity among users who share profile attributes
    double categoryWeight = 1.0; // popularity inside the stated categories
    double popularityWeight = 0.25; // global popularity, the last fallback
    QString cfModel = QStringLiteral("ease"); // the CF model the caller fits for the cf source
    QStringList profileAttributes; // empty: every attribute with 2..64 distinct values, "age" banded
    QJsonObject toJson() const;
    static ColdStartConfig fromJson(const QJsonObject& o); // throws Error on unknown keys
};

struct ColdCandidate {
    int32_t item = -1;
    float score = 0;
    Source source = Source::Popularity; // the source with the largest weighted share
    std::array<float, kSourceCount> parts {}; // weighted share of each source
};

// What we know about a cold user: a few items, profile attributes, stated categories.
struct ColdUser {
    cf::History history;
    QJsonObject profile;
    std::vector<int32_t> statedCategories; // indices into Dataset::categories
};

// Fitted on a training matrix and the catalog; read-only and thread-safe afterwards.
class ColdStartRecommender {
public:
    explicit ColdStartRecommender(ColdStartConfig config = {});
    // `cf` may be null (then the CF source is off). The dataset provides items, users'
    // profiles and categories; `train` the interactions to count popularity from.
    void fit(const Dataset& ds, const Csr& train, std::shared_ptr<const cf::Recommender> cf,
        const TaskControl& control = {});
    std::vector<ColdCandidate> recommend(const ColdUser& user, int n) const;
    ColdUser userFromDataset(const Dataset& ds, const Csr& train, int32_t user) const;
    const ColdStartConfig& config() const { return m_config; }
    const ContentIndex& content() const { return m_content; }
    // The segment key of an attribute value ("age" -> an age band).
    static QString segmentValue(const QString& attribute, const QJsonValue& value);

private:
    struct Segment {
        std::vector<float> share; // per item: users in the segment with it / users in the segment
        int32_t users = 0;
    };
    ColdStartConfig m_config;
    std::shared_ptr<const cf::Recommender> m_cf;
    ContentIndex m_content;
    std::vector<float> m_popularity; // users per item in train
    QStringList m_attributes;
    QHash<QString, Segment> m_segments; // "attribute=value" -> popularity inside it
    std::vector<std::vector<int32_t>> m_categoryItems;
    int32_t m_numItems = 0;
};

} // namespace recwb::coldstart
