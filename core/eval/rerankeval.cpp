#include "eval/rerankeval.h"

#include "eval/usersplit.h"
#include "util/error.h"

#include <QElapsedTimer>
#include <algorithm>

namespace recwb::eval {

RerankArms::RerankArms(const QString& modelName, const QJsonObject& params, const Split& split, const Dataset& ds,
    RerankEvalOptions options, const TaskControl& control)
    : m_split(split)
    , m_ds(ds)
    , m_options(std::move(options))
{
    // A bad setting is refused before fitting.
    m_offline = rerank::offlineOptionsFromJson(m_options.offline, rerank::offlineDefaults(false));
    m_offlineCold = rerank::offlineOptionsFromJson(m_options.offlineCold, rerank::offlineDefaults(true));
    QElapsedTimer timer;
    timer.start();
    m_model = cf::makeRecommender(modelName, params);
    if (!m_model)
        throw Error(QStringLiteral("model '%1' is not available").arg(modelName));
    m_model->fit(split.train, control);
    // The blend as the pipeline builds it (PipelineContext::coldStart): default config,
    // the same CF model, but counting popularity and segments on the train part.
    bool anyCold = m_options.source == pipeline::CandidateSource::ColdStart;
    if (m_options.source == pipeline::CandidateSource::Auto)
        for (const int32_t u : split.evaluatedUsers)
            anyCold = anyCold || coldSource(u);
    if (anyCold) {
        coldstart::ColdStartConfig cfg;
        cfg.threshold = m_options.coldThreshold;
        m_cold = std::make_unique<coldstart::ColdStartRecommender>(cfg);
        m_cold->fit(ds, split.train, m_model, control);
    }
    m_content.build(ds);
    m_train = datasetWithInteractions(ds, split.train);
    m_fitSeconds = static_cast<double>(timer.nsecsElapsed()) / 1e9;
}

RerankArms::~RerankArms() = default;

bool RerankArms::coldSource(int32_t user) const
{
    switch (m_options.source) {
    case pipeline::CandidateSource::Cf:
        return false;
    case pipeline::CandidateSource::ColdStart:
        return true;
    case pipeline::CandidateSource::Auto:
        break;
    }
    return m_split.train.rowLength(user) < m_options.coldThreshold;
}

int32_t RerankArms::coldSourceUsers() const
{
    return static_cast<int32_t>(std::count_if(
        m_split.evaluatedUsers.begin(), m_split.evaluatedUsers.end(), [this](int32_t u) { return coldSource(u); }));
}

std::vector<rerank::Candidate> RerankArms::candidates(int32_t user, const cf::History& train, int n) const
{
    const int count = std::max(m_options.candidates, n);
    std::vector<cf::ScoredItem> scored;
    if (coldSource(user)) {
        coldstart::ColdUser cu = m_cold->userFromDataset(m_ds, m_split.train, user);
        for (const auto& c : m_cold->recommend(cu, count))
            scored.push_back({ c.item, c.score });
    } else {
        scored = cf::recommend(*m_model, train, count);
    }
    return rerank::candidatesFrom(m_ds, scored);
}

Ranker RerankArms::sourceRanker() const
{
    return [this](int32_t user, const cf::History& train, int n) {
        std::vector<int32_t> out;
        for (const rerank::Candidate& c : candidates(user, train, n))
            out.push_back(c.item);
        return out;
    };
}

Ranker RerankArms::offlineRanker() const
{
    return [this](int32_t user, const cf::History& train, int n) {
        const std::vector<rerank::Candidate> cands = candidates(user, train, n);
        // The train row with its timestamps: the reranker's profile is the most recent of it.
        std::vector<rerank::HistoryEntry> history;
        const auto items = m_split.train.row(user);
        const auto values = m_split.train.rowValues(user);
        const bool hasTs = !m_split.train.timestamps.empty();
        for (size_t i = 0; i < items.size(); ++i)
            history.push_back({ items[i], values[i], hasTs ? m_split.train.rowTimestamps(user)[i] : 0 });
        const bool cold = coldSource(user);
        if (m_options.observe)
            m_options.observe(user, cold, history, cands);
        rerank::OfflineOptions o = cold ? m_offlineCold : m_offline;
        o.k = n;
        const rerank::RerankResult r = rerank::OfflineReranker(*m_train, m_content).rerank(history, cands, o);
        std::vector<int32_t> out;
        for (const rerank::RankedItem& it : r.items)
            out.push_back(it.item);
        return out;
    };
}

std::vector<CohortComparison> compareByCohort(
    const EvalResult& a, const EvalResult& b, Metric metric, int k, int threads)
{
    if (a.users != b.users)
        throw Error(QStringLiteral("compare: %1 and %2 were not evaluated on the same users").arg(a.model, b.model));
    const QString metricText = QStringLiteral("%1@%2").arg(metricName(metric)).arg(k);
    const auto& va = a.perUser(metric, k);
    const auto& vb = b.perUser(metric, k);
    std::vector<CohortComparison> out;
    out.push_back({ QStringLiteral("all"),
        comparePaired(va, vb, a.model, b.model, metricText, kBootstrapResamples, kBootstrapSeed, 0.95, threads) });
    for (const Cohort& c : a.cohorts) {
        if (c.name != u"cold" && c.name != u"warm")
            continue;
        std::vector<double> ca;
        std::vector<double> cb;
        for (size_t i = 0; i < a.users.size(); ++i)
            if (c.contains(a.trainCounts[i])) {
                ca.push_back(va[i]);
                cb.push_back(vb[i]);
            }
        if (ca.empty())
            continue;
        out.push_back({ c.name,
            comparePaired(ca, cb, a.model, b.model, metricText, kBootstrapResamples, kBootstrapSeed, 0.95, threads) });
    }
    return out;
}

} // namespace recwb::eval
