#include "eval/evaluator.h"

#include "eval/coldstartranker.h"
#include "util/error.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

namespace recwb::eval {
namespace {

constexpr int32_t kChunk = 64; // users per work unit

// Ranks one user into `out` (item indices, best first, at most n), on worker `worker`.
using RankFn = std::function<void(int worker, int32_t user, const cf::History& train, int n,
    std::vector<int32_t>& out)>;

std::vector<int> normalizedKs(std::vector<int> ks)
{
    if (ks.empty())
        throw Error(QStringLiteral("evaluation needs at least one K"));
    for (const int k : ks)
        if (k <= 0)
            throw Error(QStringLiteral("K must be > 0 (got %1)").arg(k));
    std::sort(ks.begin(), ks.end());
    ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
    return ks;
}

void checkShapes(const Split& split, const Dataset& ds)
{
    if (split.train.numRows != ds.numUsers() || split.train.numCols != ds.numItems()
        || split.test.size() != static_cast<size_t>(ds.numUsers()))
        throw Error(QStringLiteral("split '%1' (%2 x %3) does not belong to this dataset (%4 users, %5 items)")
                        .arg(split.name)
                        .arg(split.train.numRows)
                        .arg(split.train.numCols)
                        .arg(ds.numUsers())
                        .arg(ds.numItems()));
}

std::vector<Cohort> makeCohorts()
{
    std::vector<Cohort> c;
    c.push_back({ QStringLiteral("cold"), 0, kDefaultColdThreshold - 1, 0, {} });
    c.push_back({ QStringLiteral("warm"), kDefaultColdThreshold, -1, 0, {} });
    for (size_t b = 0; b < kCohortBucketStarts.size(); ++b) {
        const int32_t lo = kCohortBucketStarts[b];
        const int32_t hi = b + 1 < kCohortBucketStarts.size() ? kCohortBucketStarts[b + 1] - 1 : -1;
        const QString name = hi < 0 ? QStringLiteral("train %1+").arg(lo)
            : hi == lo              ? QStringLiteral("train %1").arg(lo)
                                    : QStringLiteral("train %1-%2").arg(lo).arg(hi);
        c.push_back({ name, lo, hi, 0, {} });
    }
    return c;
}

EvalResult run(const RankFn& rank, int workersWanted, const Split& split, const Dataset& ds, std::vector<int> ksIn,
    const TaskControl& control)
{
    QElapsedTimer timer;
    timer.start();
    checkShapes(split, ds);
    EvalResult r;
    r.splitName = split.name;
    r.seed = split.seed;
    r.ks = normalizedKs(std::move(ksIn));
    r.catalogSize = ds.numItems();
    for (const int32_t u : split.evaluatedUsers)
        if (!split.test[static_cast<size_t>(u)].empty())
            r.users.push_back(u);
    std::sort(r.users.begin(), r.users.end());
    r.users.erase(std::unique(r.users.begin(), r.users.end()), r.users.end());
    r.usersEvaluated = static_cast<int32_t>(r.users.size());
    r.trainCounts.reserve(r.users.size());
    for (const int32_t u : r.users)
        r.trainCounts.push_back(split.train.rowLength(u));

    const size_t nk = r.ks.size();
    const int maxK = r.ks.back();
    r.atK.resize(nk);
    for (size_t j = 0; j < nk; ++j) {
        r.atK[j].k = r.ks[j];
        for (auto& v : r.atK[j].perUser)
            v.assign(r.users.size(), 0.0);
    }
    const Popularity pop = Popularity::ofTrain(split.train);

    const int32_t numUsers = r.usersEvaluated;
    const int32_t numChunks = (numUsers + kChunk - 1) / kChunk;
    const int workers = std::clamp(workersWanted, 1, std::max(1, numChunks));
    std::vector<std::vector<CoverageCounter>> coverage(
        static_cast<size_t>(workers), std::vector<CoverageCounter>(nk, CoverageCounter(ds.numItems())));
    std::atomic<int32_t> nextChunk { 0 };
    std::atomic<int32_t> usersDone { 0 };
    std::atomic<bool> stop { false };
    std::exception_ptr failure;
    std::mutex failureMutex;

    const auto work = [&](int w) {
        std::vector<int32_t> ranked;
        std::vector<int32_t> clean;
        std::vector<char> listed(static_cast<size_t>(ds.numItems()), 0);
        try {
            for (;;) {
                if (stop.load(std::memory_order_relaxed))
                    return;
                if (w == 0) { // only the calling thread talks to the TaskControl
                    if (control.canceled()) {
                        stop = true;
                        return;
                    }
                    control.progress(static_cast<double>(usersDone.load()) / std::max(1, numUsers),
                        QStringLiteral("evaluating %1 of %2 users").arg(usersDone.load()).arg(numUsers));
                }
                const int32_t chunk = nextChunk.fetch_add(1);
                if (chunk >= numChunks)
                    return;
                const int32_t begin = chunk * kChunk;
                const int32_t end = std::min(numUsers, begin + kChunk);
                for (int32_t idx = begin; idx < end; ++idx) {
                    const int32_t u = r.users[static_cast<size_t>(idx)];
                    const cf::History history = cf::History::ofUser(split.train, u);
                    ranked.clear();
                    rank(w, u, history, maxK, ranked);
                    // The contract's candidate set: catalog items not in train, each once.
                    clean.clear();
                    for (const int32_t item : ranked) {
                        if (static_cast<int>(clean.size()) >= maxK)
                            break;
                        if (item < 0 || item >= ds.numItems() || listed[static_cast<size_t>(item)]
                            || std::binary_search(history.items.begin(), history.items.end(), item))
                            continue;
                        listed[static_cast<size_t>(item)] = 1;
                        clean.push_back(item);
                    }
                    for (const int32_t item : clean)
                        listed[static_cast<size_t>(item)] = 0;
                    const auto& test = split.test[static_cast<size_t>(u)];
                    for (size_t j = 0; j < nk; ++j) {
                        const int k = r.ks[j];
                        auto& m = r.atK[j].perUser;
                        const size_t i = static_cast<size_t>(idx);
                        const Accuracy a = accuracyAtK(clean, test, k);
                        m[static_cast<size_t>(Metric::HR)][i] = a.hr;
                        m[static_cast<size_t>(Metric::Recall)][i] = a.recall;
                        m[static_cast<size_t>(Metric::NDCG)][i] = a.ndcg;
                        m[static_cast<size_t>(Metric::MRR)][i] = a.mrr;
                        m[static_cast<size_t>(Metric::ILD)][i] = ildAtK(clean, k, ds.items);
                        m[static_cast<size_t>(Metric::Novelty)][i] = noveltyAtK(clean, k, pop);
                        coverage[static_cast<size_t>(w)][j].add(clean, k);
                    }
                }
                usersDone.fetch_add(end - begin);
            }
        } catch (...) {
            const std::lock_guard lock(failureMutex);
            if (!failure)
                failure = std::current_exception();
            stop = true;
        }
    };

    std::vector<std::thread> pool;
    pool.reserve(static_cast<size_t>(workers - 1));
    for (int w = 1; w < workers; ++w)
        pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool)
        t.join();
    if (failure)
        std::rethrow_exception(failure);
    if (stop || nextChunk.load() < numChunks)
        throw Canceled();
    control.progress(1.0, QStringLiteral("evaluated %1 users").arg(numUsers));

    // Means, in user order (independent of the thread count).
    for (size_t j = 0; j < nk; ++j) {
        auto& a = r.atK[j];
        for (size_t m = 0; m < static_cast<size_t>(kMetricCount); ++m) {
            double sum = 0;
            for (const double v : a.perUser[m])
                sum += v;
            a.mean[m] = numUsers > 0 ? sum / numUsers : 0.0;
        }
        CoverageCounter all(ds.numItems());
        for (const auto& perWorker : coverage)
            all.merge(perWorker[j]);
        a.coverage = all.coverage();
    }

    r.cohorts = makeCohorts();
    for (auto& c : r.cohorts) {
        c.mean.assign(nk, {});
        for (size_t i = 0; i < r.users.size(); ++i) {
            if (!c.contains(r.trainCounts[i]))
                continue;
            ++c.users;
            for (size_t j = 0; j < nk; ++j)
                for (size_t m = 0; m < static_cast<size_t>(kMetricCount); ++m)
                    c.mean[j][m] += r.atK[j].perUser[m][i];
        }
        if (c.users > 0)
            for (auto& perK : c.mean)
                for (double& v : perK)
                    v /= c.users;
    }
    r.evalSeconds = static_cast<double>(timer.nsecsElapsed()) / 1e9;
    return r;
}

} // namespace

const MetricsAtK& EvalResult::at(int k) const
{
    for (const auto& a : atK)
        if (a.k == k)
            return a;
    QStringList evaluated;
    for (const int x : ks)
        evaluated << QString::number(x);
    throw Error(QStringLiteral("K = %1 was not evaluated (evaluated: %2)").arg(k).arg(evaluated.join(u',')));
}

double EvalResult::value(const QString& metricAtK) const
{
    const QString t = metricAtK.trimmed().toLower();
    if (t.startsWith(u"coverage@")) {
        bool ok = false;
        const int k = t.mid(9).toInt(&ok);
        if (ok)
            return at(k).coverage;
    }
    const auto [metric, k] = parseMetricAtK(t);
    return at(k).value(metric);
}

QJsonObject EvalResult::toJson() const
{
    QJsonObject o;
    o.insert(QStringLiteral("model"), model);
    o.insert(QStringLiteral("params"), params);
    o.insert(QStringLiteral("split"), splitName);
    bool seeded = false;
    try {
        seeded = SplitSpec::parse(splitName).usesSeed();
    } catch (const Error&) {
        seeded = true; // a split we do not know: keep its seed
    }
    // A JSON number is a double: seeds above 2^53 are written as a decimal string.
    if (!seeded)
        o.insert(QStringLiteral("seed"), QJsonValue::Null);
    else if (seed <= (quint64(1) << 53))
        o.insert(QStringLiteral("seed"), static_cast<qint64>(seed));
    else
        o.insert(QStringLiteral("seed"), QString::number(seed));
    QJsonArray kArray;
    for (const int k : ks)
        kArray.append(k);
    o.insert(QStringLiteral("k"), kArray);
    o.insert(QStringLiteral("users_evaluated"), usersEvaluated);
    o.insert(QStringLiteral("catalog_size"), catalogSize);
    for (const auto& a : atK) {
        for (const Metric m : kAllMetrics)
            o.insert(QStringLiteral("%1@%2").arg(metricName(m)).arg(a.k), a.value(m));
        o.insert(QStringLiteral("coverage@%1").arg(a.k), a.coverage);
    }
    o.insert(QStringLiteral("fit_seconds"), fitSeconds);
    o.insert(QStringLiteral("eval_seconds"), evalSeconds);
    QJsonArray cohortArray;
    for (const auto& c : cohorts) {
        QJsonObject co;
        co.insert(QStringLiteral("name"), c.name);
        co.insert(QStringLiteral("min_train"), c.minTrain);
        co.insert(QStringLiteral("max_train"), c.maxTrain < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(c.maxTrain));
        co.insert(QStringLiteral("users"), c.users);
        // An empty cohort has no mean: null rather than a made-up 0.
        for (size_t j = 0; j < c.mean.size() && j < ks.size(); ++j)
            for (const Metric m : kAllMetrics)
                co.insert(QStringLiteral("%1@%2").arg(metricName(m)).arg(ks[j]),
                    c.users > 0 ? QJsonValue(c.mean[j][static_cast<size_t>(m)]) : QJsonValue(QJsonValue::Null));
        cohortArray.append(co);
    }
    o.insert(QStringLiteral("cohorts"), cohortArray);
    return o;
}

EvalResult evaluate(const cf::Recommender& fittedModel, const Split& split, const Dataset& ds, std::vector<int> ks,
    const TaskControl& control, int threads)
{
    if (fittedModel.numItems() != ds.numItems())
        throw Error(QStringLiteral("model '%1' scores %2 items but the dataset has %3 (not fitted on this split?)")
                        .arg(fittedModel.algorithm())
                        .arg(fittedModel.numItems())
                        .arg(ds.numItems()));
    const int workers = std::max(1, threads);
    std::vector<std::vector<float>> scores(static_cast<size_t>(workers));
    const RankFn rank = [&](int w, int32_t, const cf::History& history, int n, std::vector<int32_t>& out) {
        auto& buf = scores[static_cast<size_t>(w)];
        buf.assign(static_cast<size_t>(ds.numItems()), 0.0f);
        fittedModel.score(history, buf);
        for (const auto& s : cf::topN(buf, n, history.items))
            out.push_back(s.item);
    };
    EvalResult r = run(rank, workers, split, ds, std::move(ks), control);
    r.model = fittedModel.algorithm();
    r.params = fittedModel.params();
    return r;
}

EvalResult evaluate(const Ranker& ranker, const Split& split, const Dataset& ds, std::vector<int> ks,
    const TaskControl& control, int threads)
{
    if (!ranker)
        throw Error(QStringLiteral("evaluate: no ranker given"));
    const RankFn rank = [&](int, int32_t user, const cf::History& history, int n, std::vector<int32_t>& out) {
        out = ranker(user, history, n);
    };
    return run(rank, std::max(1, threads), split, ds, std::move(ks), control);
}

EvalResult runEvaluation(const QString& modelName, const QJsonObject& params, const Split& split,
    const Dataset& ds, std::vector<int> ks, const TaskControl& control, int threads)
{
    if (modelName.compare(kColdStartModel, Qt::CaseInsensitive) == 0)
        return runColdStartEvaluation(params, split, ds, std::move(ks), control, threads);
    auto model = cf::makeRecommender(modelName, params);
    if (!model)
        throw Error(QStringLiteral("model '%1' is not available").arg(modelName));
    QElapsedTimer timer;
    timer.start();
    model->fit(split.train, control);
    const double fitSeconds = static_cast<double>(timer.nsecsElapsed()) / 1e9;
    EvalResult r = evaluate(*model, split, ds, std::move(ks), control, threads);
    r.model = modelName;
    r.fitSeconds = fitSeconds;
    return r;
}

} // namespace recwb::eval
