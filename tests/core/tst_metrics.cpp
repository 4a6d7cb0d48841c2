#include "eval/evaluator.h"
#include "eval/metrics.h"
#include "eval_fixture.h"
#include "testutil.h"
#include "util/error.h"

#include <cmath>

using namespace recwb;
using namespace recwb::eval;
using recwb::test::makeDataset;

namespace {

using Items = std::vector<int32_t>;

// A model whose scores are given per item; the history is ignored.
class FixedScores : public cf::Recommender {
public:
    explicit FixedScores(std::vector<float> scores)
        : m_scores(std::move(scores))
    {
        m_numItems = static_cast<int32_t>(m_scores.size());
    }
    QString algorithm() const override { return QStringLiteral("fixed"); }
    QJsonObject params() const override { return {}; }
    void fit(const Csr&, const TaskControl&) override { }
    void score(const cf::History&, std::span<float> out) const override
    {
        std::copy(m_scores.begin(), m_scores.end(), out.begin());
    }
    QByteArray save() const override { return {}; }
    void restore(const QByteArray&) override { }

private:
    std::vector<float> m_scores;
};

// 1 / log2(i + 1) for rank i.
double disc(int rank)
{
    return 1.0 / std::log2(rank + 1.0);
}

} // namespace

class TestMetrics : public QObject {
    Q_OBJECT

private slots:
    void accuracyHandComputed()
    {
        // ranked 3, 1, 4, 0, 2; test {1, 2}: hits at ranks 2 and 5.
        const Items ranked { 3, 1, 4, 0, 2 };
        const Items test { 1, 2 };
        // K = 3: one hit at rank 2.
        //   HR = 1, Recall = 1 / min(3, 2) = 0.5, MRR = 1/2
        //   DCG = 1/log2(3) = 0.6309297536, IDCG = 1 + 1/log2(3) = 1.6309297536
        //   NDCG = 0.6309297536 / 1.6309297536 = 0.3868528072
        auto a = accuracyAtK(ranked, test, 3);
        QCOMPARE(a.hr, 1.0);
        QCOMPARE(a.recall, 0.5);
        QCOMPARE(a.mrr, 0.5);
        QVERIFY(std::fabs(a.ndcg - 0.3868528072) < 1e-9);
        // K = 5: both hits. Recall = 2/2 = 1, MRR still 1/2.
        //   DCG = 1/log2(3) + 1/log2(6) = 0.6309297536 + 0.3868528072 = 1.0177825608
        //   NDCG = 1.0177825608 / 1.6309297536 = 0.6240505200
        a = accuracyAtK(ranked, test, 5);
        QCOMPARE(a.hr, 1.0);
        QCOMPARE(a.recall, 1.0);
        QCOMPARE(a.mrr, 0.5);
        QVERIFY(std::fabs(a.ndcg - 0.6240505200) < 1e-9);
        // K = 1: a miss everywhere.
        a = accuracyAtK(ranked, test, 1);
        QCOMPARE(a.hr, 0.0);
        QCOMPARE(a.recall, 0.0);
        QCOMPARE(a.ndcg, 0.0);
        QCOMPARE(a.mrr, 0.0);
    }

    void fewerTestItemsThanK()
    {
        // test {4} at rank 3, K = 10: Recall = 1 / min(10, 1) = 1; IDCG = 1 (one hit first),
        // DCG = 1/log2(4) = 0.5 -> NDCG 0.5; MRR = 1/3.
        const auto a = accuracyAtK(Items { 3, 1, 4 }, Items { 4 }, 10);
        QCOMPARE(a.hr, 1.0);
        QCOMPARE(a.recall, 1.0);
        QCOMPARE(a.ndcg, 0.5);
        QCOMPARE(a.mrr, 1.0 / 3.0);
        // More test items than K: recall divides by K. test {0,1,2,3}, K = 2, ranked 0, 9:
        // recall = 1/2, IDCG = 1 + 1/log2(3), NDCG = 1 / 1.6309297536 = 0.6131471928
        const auto b = accuracyAtK(Items { 0, 9 }, Items { 0, 1, 2, 3 }, 2);
        QCOMPARE(b.recall, 0.5);
        QVERIFY(std::fabs(b.ndcg - 0.6131471928) < 1e-9);
        QCOMPARE(b.mrr, 1.0);
    }

    void emptyListAndEmptyTest()
    {
        const auto a = accuracyAtK(Items {}, Items { 1, 2 }, 10);
        QCOMPARE(a.hr, 0.0);
        QCOMPARE(a.recall, 0.0);
        QCOMPARE(a.ndcg, 0.0);
        QCOMPARE(a.mrr, 0.0);
        const auto b = accuracyAtK(Items { 1 }, Items {}, 10);
        QCOMPARE(b.hr, 0.0);
        QCOMPARE(b.ndcg, 0.0);
        QCOMPARE(ildAtK(Items {}, 10, {}), 0.0);
        QCOMPARE(noveltyAtK(Items {}, 10, Popularity {}), 0.0);
    }

    void mrrFirstHitOnly()
    {
        // hits at ranks 4 and 2: MRR is 1/2 (the first hit), not the sum.
        QCOMPARE(accuracyAtK(Items { 5, 6, 7, 8 }, Items { 6, 8 }, 4).mrr, 0.5);
        // first hit beyond K: 0
        QCOMPARE(accuracyAtK(Items { 5, 6, 7, 8 }, Items { 8 }, 3).mrr, 0.0);
        QCOMPARE(accuracyAtK(Items { 5, 6, 7, 8 }, Items { 8 }, 4).mrr, 0.25);
    }

    void intraListDiversity()
    {
        std::vector<Item> items(5);
        items[0].categories = { 0 };
        items[1].categories = { 0, 1 };
        items[2].categories = { 2 };
        // items 3 and 4 have no category
        // [0, 1, 2]: pairs (0,1) J = 1/2 -> 0.5; (0,2) J = 0 -> 1; (1,2) J = 0 -> 1; mean 2.5/3.
        QVERIFY(std::fabs(ildAtK(Items { 0, 1, 2 }, 3, items) - 2.5 / 3.0) < 1e-12);
        // K = 2 cuts to (0,1): 0.5
        QCOMPARE(ildAtK(Items { 0, 1, 2 }, 2, items), 0.5);
        // Two items without categories: identical (distance 0); with one side empty: 1.
        QCOMPARE(ildAtK(Items { 3, 4 }, 5, items), 0.0);
        QCOMPARE(ildAtK(Items { 0, 3 }, 5, items), 1.0);
        // One item: no pairs.
        QCOMPARE(ildAtK(Items { 1 }, 5, items), 0.0);
    }

    void noveltyFromTrain()
    {
        // 4 users; item 0 in 2 rows, item 1 in 4, item 2 in none, item 3 in 1.
        CsrBuilder b(4, 4, true);
        b.add(0, 0, 1);
        b.add(0, 1, 1);
        b.add(1, 0, 1);
        b.add(1, 1, 1);
        b.add(2, 1, 1);
        b.add(3, 1, 1);
        b.add(3, 3, 1);
        const Popularity pop = Popularity::ofTrain(b.finish());
        QCOMPARE(pop.numUsers, 4);
        QCOMPARE(pop.selfInformation(0), 1.0); // -log2(2/4)
        QCOMPARE(pop.selfInformation(1), 0.0); // -log2(4/4)
        QCOMPARE(pop.selfInformation(2), 2.0); // nobody: counted as 1 user, -log2(1/4)
        QCOMPARE(pop.selfInformation(3), 2.0); // -log2(1/4)
        QCOMPARE(noveltyAtK(Items { 0, 1, 2 }, 3, pop), 1.0); // (1 + 0 + 2) / 3
        QCOMPARE(noveltyAtK(Items { 0, 1, 2 }, 2, pop), 0.5); // (1 + 0) / 2
    }

    void coverageCounter()
    {
        CoverageCounter c(5);
        c.add(Items { 0, 1, 4 }, 2);
        c.add(Items { 1, 2 }, 2);
        QCOMPARE(c.distinct(), 3); // {0, 1, 2}
        QCOMPARE(c.coverage(), 0.6);
        CoverageCounter d(5);
        d.add(Items { 4 }, 10);
        c.merge(d);
        QCOMPARE(c.coverage(), 0.8);
    }

    void parseMetricNames()
    {
        QCOMPARE(parseMetricAtK(QStringLiteral("ndcg@10")), std::make_pair(Metric::NDCG, 10));
        QCOMPARE(parseMetricAtK(QStringLiteral("HR@5")), std::make_pair(Metric::HR, 5));
        QCOMPARE(parseMetricAtK(QStringLiteral("novelty@20")), std::make_pair(Metric::Novelty, 20));
        for (const char* bad : { "ndcg", "ndcg@0", "ndcg@x", "foo@10", "coverage@10", "@10" })
            QVERIFY_THROWS_EXCEPTION(Error, parseMetricAtK(QString::fromLatin1(bad)));
    }

    // Through the evaluator: whole-catalog ranking, train items excluded, ties by index.
    void tiesBrokenByItemIndex()
    {
        // 2 users, 5 items. u0: train {0} after loo (item 3 is latest, held out).
        // u1: train {1} (item 2 held out).
        const Dataset ds = makeDataset({ QStringLiteral("u0"), QStringLiteral("u1") }, 5,
            { { 0, 0, 1 }, { 0, 3, 2 }, { 1, 1, 1 }, { 1, 2, 2 } });
        const Split split = splitLeaveOneOut(ds);
        // Every score equal: the ranking is by item index ascending, minus the train item.
        // u0 ranks 1, 2, 3, 4: test {3} at rank 3 -> MRR 1/3, NDCG@3 = 1/log2(4) = 0.5, HR@2 = 0.
        // u1 ranks 0, 2, 3, 4: test {2} at rank 2 -> MRR 1/2, NDCG@3 = 1/log2(3).
        const FixedScores model(std::vector<float>(5, 1.0f));
        const EvalResult r = evaluate(model, split, ds, { 3, 2 }, {}, 1);
        QCOMPARE(r.ks, (std::vector<int> { 2, 3 }));
        QCOMPARE(r.usersEvaluated, 2);
        QCOMPARE(r.perUser(Metric::MRR, 3), (std::vector<double> { 1.0 / 3.0, 0.5 }));
        QCOMPARE(r.perUser(Metric::NDCG, 3), (std::vector<double> { 0.5, disc(2) }));
        QCOMPARE(r.perUser(Metric::HR, 2), (std::vector<double> { 0.0, 1.0 }));
        QCOMPARE(r.value(QStringLiteral("hr@3")), 1.0);
        QCOMPARE(r.value(QStringLiteral("mrr@3")), (1.0 / 3.0 + 0.5) / 2);
        // Coverage@2: lists {1, 2} and {0, 2} -> {0, 1, 2} of 5 items.
        QCOMPARE(r.value(QStringLiteral("coverage@2")), 0.6);
        // A partial tie: item 4 scores highest, the others tie: 4 first, then by index.
        const FixedScores model2({ 1, 1, 1, 1, 2 });
        const EvalResult r2 = evaluate(model2, split, ds, { 2 }, {}, 1);
        // u0 ranks 4, 1 (test 3 missed); u1 ranks 4, 0 (test 2 missed).
        QCOMPARE(r2.value(QStringLiteral("hr@2")), 0.0);
        QCOMPARE(r2.value(QStringLiteral("coverage@2")), 0.6); // {4, 1, 0}
    }

    void kLargerThanCatalog()
    {
        // 4 items; u0 train {0, 1}, test {3}; K = 10 lists only the 2 remaining items.
        const Dataset ds = makeDataset({ QStringLiteral("u0") }, 4, { { 0, 0, 1 }, { 0, 1, 2 }, { 0, 3, 3 } });
        const Split split = splitLeaveOneOut(ds);
        QCOMPARE(split.test[0], Items { 3 });
        const FixedScores model({ 9, 9, 1, 0.5f }); // train items score highest but are excluded
        const EvalResult r = evaluate(model, split, ds, { 10 }, {}, 1);
        // ranking 2, 3: the hit at rank 2. Recall = 1/min(10, 1) = 1, NDCG = 1/log2(3), MRR = 1/2.
        QCOMPARE(r.value(QStringLiteral("recall@10")), 1.0);
        QCOMPARE(r.value(QStringLiteral("hr@10")), 1.0);
        QCOMPARE(r.value(QStringLiteral("ndcg@10")), disc(2));
        QCOMPARE(r.value(QStringLiteral("mrr@10")), 0.5);
        QCOMPARE(r.value(QStringLiteral("coverage@10")), 0.5); // items 2 and 3 of 4
        QVERIFY_THROWS_EXCEPTION(Error, r.value(QStringLiteral("ndcg@20")));
    }

    void emptyRecommendationList()
    {
        const Dataset ds = makeDataset({ QStringLiteral("u0") }, 4, { { 0, 0, 1 }, { 0, 3, 3 } });
        const Split split = splitLeaveOneOut(ds);
        const Ranker nothing = [](int32_t, const cf::History&, int) { return std::vector<int32_t> {}; };
        const EvalResult r = evaluate(nothing, split, ds, { 5 }, {}, 1);
        QCOMPARE(r.usersEvaluated, 1);
        for (const Metric m : kAllMetrics)
            QCOMPARE(r.at(5).value(m), 0.0);
        QCOMPARE(r.at(5).coverage, 0.0);
    }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "tst_metrics.moc"
