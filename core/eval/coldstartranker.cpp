#include "eval/coldstartranker.h"

#include <QElapsedTimer>

namespace recwb::eval {

EvalResult runColdStartEvaluation(const QJsonObject& params, const Split& split, const Dataset& ds,
    std::vector<int> ks, const TaskControl& control, int threads)
{
    QJsonObject own;
    QJsonObject cfParams;
    for (auto it = params.begin(); it != params.end(); ++it) {
        if (it.key().startsWith(u"cf."))
            cfParams.insert(it.key().mid(3), it.value());
        else
            own.insert(it.key(), it.value());
    }
    const auto config = coldstart::ColdStartConfig::fromJson(own);
    QElapsedTimer timer;
    timer.start();
    std::shared_ptr<cf::Recommender> cfModel;
    if (config.cfModel != u"none" && config.cfWeight > 0) {
        cfModel = cf::makeRecommender(config.cfModel, cfParams);
        cfModel->fit(split.train, control);
    }
    coldstart::ColdStartRecommender cs(config);
    cs.fit(ds, split.train, cfModel, control);
    const double fitSeconds = timer.nsecsElapsed() / 1e9;
    const Ranker ranker = [&](int32_t user, const cf::History& train, int n) {
        coldstart::ColdUser cu;
        cu.history = train;
        cu.profile = ds.users[static_cast<size_t>(user)].attributes;
        std::vector<int32_t> out;
        for (const auto& c : cs.recommend(cu, n))
            out.push_back(c.item);
        return out;
    };
    EvalResult r = evaluate(ranker, split, ds, std::move(ks), control, threads);
    r.model = QStringLiteral("coldstart");
    QJsonObject p = config.toJson();
    if (!cfParams.isEmpty())
        p.insert(QStringLiteral("cf_params"), cfParams);
    r.params = p;
    r.fitSeconds = fitSeconds;
    return r;
}

} // namespace recwb::eval
