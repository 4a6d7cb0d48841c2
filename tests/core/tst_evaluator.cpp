#include "eval/evaluator.h"
#include "eval/stats.h"
#include "eval_fixture.h"
#include "testutil.h"
#include "util/error.h"

#include <QJsonArray>
#include <atomic>

using namespace recwb;
using namespace recwb::eval;
using recwb::test::makeDataset;
using recwb::test::makeRandomDataset;

namespace {

// Scores depend on the history (co-occurrence-ish hash), with many exact ties.
class HashModel : public cf::Recommender {
public:
    explicit HashModel(int32_t numItems) { m_numItems = numItems; }
    QString algorithm() const override { return QStringLiteral("hash"); }
    QJsonObject params() const override { return { { QStringLiteral("p"), 1 } }; }
    void fit(const Csr&, const TaskControl&) override { }
    void score(const cf::History& h, std::span<float> out) const override
    {
        for (int32_t i = 0; i < m_numItems; ++i) {
            uint32_t x = static_cast<uint32_t>(i) * 2654435761u;
            for (const int32_t j : h.items)
                x ^= static_cast<uint32_t>(j + i) * 40503u;
            out[static_cast<size_t>(i)] = static_cast<float>(x % 13) - 0.01f * static_cast<float>(i % 3);
        }
    }
    QByteArray save() const override { return {}; }
    void restore(const QByteArray&) override { }
};

} // namespace

class TestEvaluator : public QObject {
    Q_OBJECT

private slots:
    void deterministicAcrossThreadCounts()
    {
        const Dataset ds = makeRandomDataset(700, 150);
        const Split split = splitRatio(ds);
        const HashModel model(ds.numItems());
        const EvalResult one = evaluate(model, split, ds, { 20, 5, 10, 10 }, {}, 1);
        QCOMPARE(one.ks, (std::vector<int> { 5, 10, 20 }));
        QCOMPARE(one.users, split.evaluatedUsers);
        QVERIFY(one.usersEvaluated > 500);
        for (const int threads : { 2, 3, 8 }) {
            const EvalResult r = evaluate(model, split, ds, { 5, 10, 20 }, {}, threads);
            QCOMPARE(r.users, one.users);
            for (size_t j = 0; j < r.atK.size(); ++j) {
                QCOMPARE(r.atK[j].coverage, one.atK[j].coverage);
                for (const Metric m : kAllMetrics) {
                    QCOMPARE(r.atK[j].values(m), one.atK[j].values(m));
                    QCOMPARE(r.atK[j].value(m), one.atK[j].value(m)); // exact, not fuzzy
                }
            }
        }
        // HR and the hit count can only grow with K (Recall itself need not: its
        // denominator min(K, |test|) grows too).
        for (size_t i = 0; i < one.users.size(); ++i) {
            QVERIFY(one.perUser(Metric::HR, 5)[i] <= one.perUser(Metric::HR, 20)[i]);
            const double test = static_cast<double>(split.test[static_cast<size_t>(one.users[i])].size());
            const double hits5 = one.perUser(Metric::Recall, 5)[i] * std::min(5.0, test);
            const double hits20 = one.perUser(Metric::Recall, 20)[i] * std::min(20.0, test);
            QVERIFY(hits5 <= hits20 + 1e-9);
        }
    }

    void cohortsAndJson()
    {
        const Dataset ds = makeRandomDataset(400, 100);
        const Split split = splitLeaveOneOut(ds);
        const HashModel model(ds.numItems());
        const EvalResult r = evaluate(model, split, ds, { 10 }, {}, 2);
        QCOMPARE(r.cohorts.size(), size_t(2 + kCohortBucketStarts.size()));
        QCOMPARE(r.cohorts[0].name, QStringLiteral("cold"));
        QCOMPARE(r.cohorts[1].name, QStringLiteral("warm"));
        QCOMPARE(r.cohorts[2].name, QStringLiteral("train 0"));
        QCOMPARE(r.cohorts[3].name, QStringLiteral("train 1-4"));
        QCOMPARE(r.cohorts.back().name, QStringLiteral("train 200+"));
        QCOMPARE(r.cohorts[0].users + r.cohorts[1].users, r.usersEvaluated);
        int bucketUsers = 0;
        double weighted = 0;
        for (size_t c = 2; c < r.cohorts.size(); ++c) {
            bucketUsers += r.cohorts[c].users;
            weighted += r.cohorts[c].users * r.cohorts[c].mean[0][static_cast<size_t>(Metric::NDCG)];
        }
        QCOMPARE(bucketUsers, r.usersEvaluated);
        QVERIFY(std::fabs(weighted / r.usersEvaluated - r.value(QStringLiteral("ndcg@10"))) < 1e-12);
        // Cold users by train history: loo leaves users with 2..5 interactions cold.
        int cold = 0;
        for (const int32_t u : r.users)
            cold += split.train.rowLength(u) < kDefaultColdThreshold ? 1 : 0;
        QCOMPARE(r.cohorts[0].users, cold);

        const QJsonObject o = r.toJson();
        QCOMPARE(o.value(QStringLiteral("split")).toString(), QStringLiteral("loo"));
        QVERIFY(o.value(QStringLiteral("seed")).isNull()); // loo uses no randomness
        QCOMPARE(o.value(QStringLiteral("users_evaluated")).toInt(), r.usersEvaluated);
        QCOMPARE(o.value(QStringLiteral("k")).toArray(), QJsonArray { 10 });
        QCOMPARE(o.value(QStringLiteral("model")).toString(), QStringLiteral("hash"));
        for (const char* key : { "hr@10", "recall@10", "ndcg@10", "mrr@10", "coverage@10", "ild@10", "novelty@10",
                 "fit_seconds", "eval_seconds", "catalog_size" })
            QVERIFY2(o.value(QString::fromLatin1(key)).isDouble(), key);
        QCOMPARE(o.value(QStringLiteral("ndcg@10")).toDouble(), r.value(QStringLiteral("ndcg@10")));
        const QJsonArray cohorts = o.value(QStringLiteral("cohorts")).toArray();
        QCOMPARE(cohorts.size(), qsizetype(r.cohorts.size()));
        QVERIFY(cohorts.last().toObject().value(QStringLiteral("max_train")).isNull());
        for (const auto& c : cohorts) {
            const auto o2 = c.toObject();
            QCOMPARE(o2.value(QStringLiteral("ndcg@10")).isDouble(), o2.value(QStringLiteral("users")).toInt() > 0);
        }

        const EvalResult s = evaluate(model, splitStrat75(ds, 77), ds, { 10 }, {}, 2);
        QCOMPARE(s.toJson().value(QStringLiteral("seed")).toInteger(), 77);
    }

    void rankerIsSanitised()
    {
        // u0: train {0, 1}, test {3}. The ranker answers train items, repeats and garbage:
        // only 3 and 2 (in that order) remain.
        const Dataset ds = makeDataset({ QStringLiteral("u0") }, 4, { { 0, 0, 1 }, { 0, 1, 2 }, { 0, 3, 3 } });
        const Split split = splitLeaveOneOut(ds);
        std::atomic<int> calls { 0 };
        int seenUser = -1, seenN = -1;
        size_t seenTrain = 0;
        const Ranker ranker = [&](int32_t user, const cf::History& train, int n) {
            ++calls;
            seenUser = user;
            seenN = n;
            seenTrain = train.items.size();
            return std::vector<int32_t> { 0, -1, 3, 3, 17, 1, 2 };
        };
        const EvalResult r = evaluate(ranker, split, ds, { 5, 1 }, {}, 4);
        QCOMPARE(calls.load(), 1);
        QCOMPARE(seenUser, 0);
        QCOMPARE(seenN, 5); // asked for max(K)
        QCOMPARE(seenTrain, size_t(2));
        QCOMPARE(r.value(QStringLiteral("mrr@5")), 1.0);
        QCOMPARE(r.value(QStringLiteral("hr@1")), 1.0);
        QCOMPARE(r.value(QStringLiteral("coverage@5")), 0.5); // {3, 2}
        QVERIFY(r.model.isEmpty());
    }

    void cancelAndErrors()
    {
        const Dataset ds = makeRandomDataset(300, 50);
        const Split split = splitLeaveOneOut(ds);
        const HashModel model(ds.numItems());
        CancelFlag flag;
        flag.cancel();
        QVERIFY_THROWS_EXCEPTION(Canceled, evaluate(model, split, ds, { 10 }, flag.control(), 2));
        // Progress is reported and ends at 1.
        double last = -1;
        const TaskControl progress { [&](double f, const QString&) { last = f; }, {} };
        evaluate(model, split, ds, { 10 }, progress, 2);
        QCOMPARE(last, 1.0);
        // A model fitted on another catalog, bad K, a split of another dataset.
        QVERIFY_THROWS_EXCEPTION(Error, evaluate(HashModel(ds.numItems() + 1), split, ds, { 10 }));
        QVERIFY_THROWS_EXCEPTION(Error, evaluate(model, split, ds, {}));
        QVERIFY_THROWS_EXCEPTION(Error, evaluate(model, split, ds, { 0 }));
        const Dataset other = makeRandomDataset(20, 50);
        QVERIFY_THROWS_EXCEPTION(Error, evaluate(model, splitLeaveOneOut(other), ds, { 10 }));
        // A failing ranker: the error reaches the caller.
        const Ranker failing = [](int32_t, const cf::History&, int) -> std::vector<int32_t> {
            throw Error(QStringLiteral("boom"));
        };
        QVERIFY_THROWS_EXCEPTION(Error, evaluate(failing, split, ds, { 10 }, {}, 3));
    }

    void runEvaluationFitsAndTimes()
    {
        const Dataset ds = makeRandomDataset(300, 80);
        const Split split = splitLeaveOneOut(ds);
        const EvalResult pop = runEvaluation(QStringLiteral("pop"), {}, split, ds, { 10 });
        QCOMPARE(pop.model, QStringLiteral("pop"));
        QVERIFY(pop.fitSeconds >= 0);
        QVERIFY(pop.evalSeconds > 0);
        QCOMPARE(pop.usersEvaluated, static_cast<int32_t>(split.evaluatedUsers.size()));
        // Popularity gives (nearly) everybody the same list: low coverage, and the data's
        // skew towards low item indices makes it beat chance.
        QVERIFY(pop.value(QStringLiteral("coverage@10")) < 0.5);
        QVERIFY(pop.value(QStringLiteral("hr@10")) > 10.0 / 80);
        QVERIFY_THROWS_EXCEPTION(Error, runEvaluation(QStringLiteral("nope"), {}, split, ds, { 10 }));
        // Paired comparison on the same users works on the per-user vectors.
        const EvalResult knn = runEvaluation(QStringLiteral("itemknn"), {}, split, ds, { 10 });
        const auto c = comparePaired(pop.perUser(Metric::NDCG, 10), knn.perUser(Metric::NDCG, 10));
        QCOMPARE(c.users, pop.usersEvaluated);
    }

    void coldStartPathThroughRanker()
    {
        const Dataset ds = makeRandomDataset(300, 80);
        const Split split = splitColdN(ds, 1);
        const QJsonObject params { { QStringLiteral("cf_model"), QStringLiteral("pop") } };
        const EvalResult a = runEvaluation(QStringLiteral("coldstart"), params, split, ds, { 10 }, {}, 1);
        const EvalResult b = runEvaluation(QStringLiteral("coldstart"), params, split, ds, { 10 }, {}, 3);
        QCOMPARE(a.model, QStringLiteral("coldstart"));
        QCOMPARE(a.params.value(QStringLiteral("cf_model")).toString(), QStringLiteral("pop"));
        QCOMPARE(a.usersEvaluated, static_cast<int32_t>(split.evaluatedUsers.size()));
        QVERIFY(a.usersEvaluated > 0);
        QCOMPARE(a.perUser(Metric::NDCG, 10), b.perUser(Metric::NDCG, 10));
        // Every evaluated user of cold@1 has one train interaction: all in the cold cohort.
        QCOMPARE(a.cohorts[0].users, a.usersEvaluated);
        QVERIFY_THROWS_EXCEPTION(Error,
            runEvaluation(QStringLiteral("coldstart"), QJsonObject { { QStringLiteral("nope"), 1 } }, split, ds, { 10 }));
    }
};

QTEST_GUILESS_MAIN(TestEvaluator)
#include "tst_evaluator.moc"
