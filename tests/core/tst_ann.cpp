// Approximate top-n retrieval (core/cf/ann.h, issue 13): recall against the exact scan,
// scores equal to the exact ones, exclusions, biases, the retrieval policy and the models'
// use of it.
#include "cf/ann.h"
#include "cf/models.h"
#include "testutil.h"
#include "util/random.h"

#include <QtTest>

#include <set>

using namespace recwb;
using namespace recwb::cf;

namespace {

// Factors shaped like a trained model's: items in taste clusters, their norms spread over
// two orders of magnitude (popular items have long vectors), queries near the clusters.
RowMatrixF clusteredFactors(int64_t rows, int f, int clusters, uint64_t seed)
{
    Rng rng(seed);
    RowMatrixF centres(clusters, f);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = static_cast<float>(rng.normal());
    RowMatrixF m(rows, f);
    for (int64_t r = 0; r < rows; ++r) {
        const auto c = static_cast<Eigen::Index>(rng.below(static_cast<uint64_t>(clusters)));
        for (int k = 0; k < f; ++k)
            m(r, k) = centres(c, k) + 0.5f * static_cast<float>(rng.normal());
        m.row(r) *= static_cast<float>(std::exp(rng.normal())) / m.row(r).norm();
    }
    return m;
}

std::vector<float> queryNear(const RowMatrixF& m, Rng& rng)
{
    const auto r = static_cast<Eigen::Index>(rng.below(static_cast<uint64_t>(m.rows())));
    std::vector<float> x(static_cast<size_t>(m.cols()));
    for (Eigen::Index k = 0; k < m.cols(); ++k)
        x[static_cast<size_t>(k)] = m(r, k) + 0.3f * static_cast<float>(rng.normal());
    return x;
}

double recall(const std::vector<ScoredItem>& got, const std::vector<ScoredItem>& exact)
{
    return recallOf(got, exact);
}

} // namespace

class TestAnn : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        if (!AnnIndex::available())
            QSKIP("built without hnswlib (libhnswlib-dev): retrieval is exact only");
        qunsetenv("RECWB_ANN");
        qunsetenv("RECWB_ANN_MIN_ITEMS");
    }

    void recallAndExactScoresAgainstTheScan_data()
    {
        QTest::addColumn<bool>("withBias");
        QTest::newRow("inner product") << false;
        QTest::newRow("with item bias") << true;
    }
    void recallAndExactScoresAgainstTheScan()
    {
        QFETCH(bool, withBias);
        const RowMatrixF m = clusteredFactors(40'000, 32, 40, 7);
        std::vector<float> bias;
        if (withBias) {
            Rng rng(3);
            for (int64_t i = 0; i < m.rows(); ++i)
                bias.push_back(0.5f * static_cast<float>(rng.normal()));
        }
        AnnIndex index;
        index.build(m, bias);
        QVERIFY(index.built());
        QCOMPARE(index.rows(), m.rows());
        QVERIFY(index.memoryBytes() > static_cast<size_t>(m.size()) * sizeof(float));

        Rng rng(11);
        double sum = 0;
        const int queries = 200, n = 100;
        for (int q = 0; q < queries; ++q) {
            const std::vector<float> x = queryNear(m, rng);
            // A history of 30 items to skip, some of them surely among the best.
            std::vector<int32_t> exclude;
            const auto exact0 = topNFactors(m, HalfFactors(), x.data(), 15, {}, bias);
            for (const ScoredItem& s : exact0)
                exclude.push_back(s.item);
            for (int i = 0; i < 15; ++i)
                exclude.push_back(static_cast<int32_t>(rng.below(static_cast<uint64_t>(m.rows()))));
            std::sort(exclude.begin(), exclude.end());
            exclude.erase(std::unique(exclude.begin(), exclude.end()), exclude.end());

            const auto exact = topNFactors(m, HalfFactors(), x.data(), n, exclude, bias);
            const auto got = index.search(m, bias, x.data(), n, exclude);
            QCOMPARE(static_cast<int>(got.size()), n);
            std::vector<float> all(static_cast<size_t>(m.rows()));
            scoreFactors(m, x.data(), all.data(), 1);
            for (size_t i = 0; i < got.size(); ++i) {
                const ScoredItem& s = got[i];
                QVERIFY2(!std::binary_search(exclude.begin(), exclude.end(), s.item), "an excluded item came back");
                // Exactly rescored: the score the scan gives the same item.
                const float want = all[static_cast<size_t>(s.item)] + (withBias ? bias[static_cast<size_t>(s.item)] : 0.0f);
                QCOMPARE(s.score, want);
                if (i > 0)
                    QVERIFY(got[i - 1].score > s.score || (got[i - 1].score == s.score && got[i - 1].item < s.item));
            }
            sum += recall(got, exact);
        }
        const double mean = sum / queries;
        qInfo("recall@%d over %d queries: %.4f", n, queries, mean);
        QVERIFY2(mean >= 0.95, qPrintable(QStringLiteral("recall@100 %1 < 0.95").arg(mean)));
    }

    void excludingMostOfTheCatalogStillFillsTheList()
    {
        const RowMatrixF m = clusteredFactors(5'000, 16, 10, 5);
        AnnIndex index;
        index.build(m, {});
        std::vector<int32_t> exclude;
        for (int32_t i = 0; i < m.rows(); i += 2)
            exclude.push_back(i); // every other item
        Rng rng(2);
        const std::vector<float> x = queryNear(m, rng);
        const auto got = index.search(m, {}, x.data(), 50, exclude);
        QCOMPARE(got.size(), size_t { 50 });
        for (const ScoredItem& s : got)
            QVERIFY(s.item % 2 == 1);
        QVERIFY(recall(got, topNFactors(m, HalfFactors(), x.data(), 50, exclude)) >= 0.9);
        // Asking for more than there is returns what there is.
        QCOMPARE(index.search(m, {}, x.data(), 10'000, exclude).size(), size_t { 2'500 });
    }

    void policyParamAndEnvironment()
    {
        QVERIFY_THROWS_EXCEPTION(Error, AnnPolicy::fromParam(QStringLiteral("ials"), QStringLiteral("fast")));
        QVERIFY_THROWS_EXCEPTION(Error, Ials(QJsonObject { { QStringLiteral("ann"), QStringLiteral("fast") } }));
        const AnnPolicy def = AnnPolicy::fromParam(QStringLiteral("ials"), QStringLiteral("auto"));
        QVERIFY(!def.wantsIndex(def.minItems - 1));
        QVERIFY(def.wantsIndex(def.minItems));
        QVERIFY(AnnPolicy::fromParam(QStringLiteral("bpr"), QStringLiteral("ann")).wantsIndex(10));
        QVERIFY(!AnnPolicy::fromParam(QStringLiteral("bpr"), QStringLiteral("exact")).wantsIndex(100'000'000));
        qputenv("RECWB_ANN", "exact");
        QVERIFY(!AnnPolicy::fromParam(QStringLiteral("bpr"), QStringLiteral("ann")).wantsIndex(10));
        qputenv("RECWB_ANN", "auto");
        qputenv("RECWB_ANN_MIN_ITEMS", "1000");
        const AnnPolicy env = AnnPolicy::fromParam(QStringLiteral("ials"), QStringLiteral("exact"));
        QVERIFY(env.wantsIndex(1000));
        QVERIFY(!env.wantsIndex(999));
        qunsetenv("RECWB_ANN");
        qunsetenv("RECWB_ANN_MIN_ITEMS");
        // The setting travels with the model's params only when it is not the default.
        QVERIFY(!Ials().params().contains(QStringLiteral("ann")));
        QCOMPARE(Bpr(QJsonObject { { QStringLiteral("ann"), QStringLiteral("exact") } })
                     .params()
                     .value(QStringLiteral("ann"))
                     .toString(),
            QStringLiteral("exact"));
    }

    void modelsRetrieveThroughTheIndex_data()
    {
        QTest::addColumn<QString>("algorithm");
        QTest::newRow("ials") << QStringLiteral("ials");
        QTest::newRow("bpr") << QStringLiteral("bpr");
    }
    void modelsRetrieveThroughTheIndex()
    {
        QFETCH(QString, algorithm);
        // 600 users x 3000 items; both models fitted the same way, one retrieving exactly.
        Rng rng(9);
        CsrBuilder b(600, 3000, true);
        for (int u = 0; u < 600; ++u) {
            std::set<int32_t> row;
            const int base = (u % 6) * 500;
            while (row.size() < 40)
                row.insert(static_cast<int32_t>(rng.uniform() < 0.8 ? base + static_cast<int>(rng.below(500))
                                                                     : static_cast<int>(rng.below(3000))));
            for (const int32_t i : row)
                b.add(u, i, 1.0f, 0);
        }
        const Csr data = b.finish();
        const QJsonObject common = algorithm == u"ials"
            ? QJsonObject { { QStringLiteral("factors"), 16 }, { QStringLiteral("iterations"), 5 } }
            : QJsonObject { { QStringLiteral("factors"), 16 }, { QStringLiteral("epochs"), 10 } };
        QJsonObject withAnn = common, exact = common;
        withAnn.insert(QStringLiteral("ann"), QStringLiteral("ann"));
        exact.insert(QStringLiteral("ann"), QStringLiteral("exact"));
        auto approx = makeRecommender(algorithm, withAnn);
        auto scan = makeRecommender(algorithm, exact);
        approx->fit(data);
        scan->restore(approx->save()); // the same factors
        double sum = 0;
        for (int u = 0; u < 600; u += 6) {
            const History h = History::ofUser(data, u);
            const auto a = approx->recommendTop(h, 50);
            const auto e = scan->recommendTop(h, 50);
            QCOMPARE(a.size(), e.size());
            std::set<int32_t> seen(h.items.begin(), h.items.end());
            for (const ScoredItem& s : a)
                QVERIFY2(!seen.count(s.item), "a history item was recommended");
            sum += recall(a, e);
        }
        QVERIFY2(sum / 100 >= 0.95, qPrintable(QStringLiteral("%1 recall@50 %2").arg(algorithm).arg(sum / 100)));
        if (const auto* ials = dynamic_cast<const Ials*>(approx.get()))
            QVERIFY2(ials->ann().index(ials->itemFactors(), {}), "ann=ann built no index");
    }

    void autoBuildsInTheBackgroundAndResetStopsIt()
    {
        // The factors before the retriever: it must go first (its destructor stops the build
        // that reads them), as in the models (ASan saw the build read freed factors).
        const RowMatrixF m = clusteredFactors(20'000, 16, 20, 1);
        qputenv("RECWB_ANN_MIN_ITEMS", "1000");
        AnnRetriever r;
        r.setPolicy(AnnPolicy::fromParam(QStringLiteral("ials"), QStringLiteral("auto")));
        qunsetenv("RECWB_ANN_MIN_ITEMS");
        QVERIFY(!r.index(RowMatrixF(10, 16), {})); // below the threshold: exact, nothing started
        QVERIFY(!r.index(m, {})); // the first query starts the build and scans exactly
        r.waitForBuild();
        const auto built = r.index(m, {});
        QVERIFY(built);
        QCOMPARE(built->rows(), m.rows());
        r.reset();
        QVERIFY(!r.index(m, {})); // a new build, stopped by the destructor right away
    }
};

QTEST_GUILESS_MAIN(TestAnn)
#include "tst_ann.moc"
