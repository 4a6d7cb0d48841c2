#include "cf/kernels.h"
#include "cf/models.h"
#include "testutil.h"
#include "util/random.h"

#include <Eigen/Dense>
#include <set>

using namespace recwb;
using namespace recwb::cf;

namespace {

// A random binary users x items matrix with two taste clusters: users in the first
// half prefer the first half of the items.
Csr clustered(int users, int items, int perUser, uint64_t seed)
{
    Rng rng(seed);
    CsrBuilder b(users, items, true);
    for (int u = 0; u < users; ++u) {
        std::set<int32_t> row;
        const bool a = u < users / 2;
        while (static_cast<int>(row.size()) < perUser) {
            const bool own = rng.uniform() < 0.85;
            const int half = items / 2;
            const int base = (a == own) ? 0 : half;
            row.insert(static_cast<int32_t>(base + static_cast<int>(rng.below(static_cast<uint64_t>(half)))));
        }
        for (const int32_t i : row)
            b.add(u, i, 1.0f, 0);
    }
    return b.finish();
}

Eigen::MatrixXd dense(const Csr& m)
{
    Eigen::MatrixXd d = Eigen::MatrixXd::Zero(m.numRows, m.numCols);
    for (int32_t r = 0; r < m.numRows; ++r)
        for (const int32_t c : m.row(r))
            d(r, c) = 1.0;
    return d;
}

std::vector<float> scoresOf(const Recommender& m, const History& h)
{
    std::vector<float> s(static_cast<size_t>(m.numItems()));
    m.score(h, s);
    return s;
}

} // namespace

class TestCf : public QObject {
    Q_OBJECT

private slots:
    void topNBreaksTiesByIndexAndExcludes()
    {
        const std::vector<float> s { 1.0f, 3.0f, 3.0f, 2.0f, 3.0f, std::nanf("") };
        const std::vector<int32_t> exclude { 2 };
        const auto top = topN(s, 3, exclude);
        QCOMPARE(top.size(), size_t { 3 });
        QCOMPARE(top[0].item, 1);
        QCOMPARE(top[1].item, 4);
        QCOMPARE(top[2].item, 3);
        QCOMPARE(topN(s, 10, exclude).size(), size_t { 5 }); // fewer items than n
        QVERIFY(topN(s, 0).empty());
    }

    void easeMatchesDenseReference_data()
    {
        QTest::addColumn<int>("users");
        QTest::addColumn<int>("items");
        QTest::addRow("more users than items (direct)") << 80 << 30;
        QTest::addRow("fewer users than items (Woodbury)") << 25 << 60;
    }
    void easeMatchesDenseReference()
    {
        QFETCH(int, users);
        QFETCH(int, items);
        const Csr x = clustered(users, items, 8, 7);
        const double lambda = 5.0;
        Ease ease(QJsonObject { { QStringLiteral("lambda"), lambda } });
        ease.fit(x);
        QCOMPARE(ease.usedWoodbury(), users < items);
        // Reference: B = I - P diag(1/diag(P)), P = (X^T X + lambda I)^-1, in double.
        const Eigen::MatrixXd xd = dense(x);
        Eigen::MatrixXd g = xd.transpose() * xd;
        g.diagonal().array() += lambda;
        const Eigen::MatrixXd p = g.inverse();
        Eigen::MatrixXd ref = -p * p.diagonal().cwiseInverse().asDiagonal();
        ref.diagonal().setZero();
        const double err = (ease.weights().cast<double>() - ref).cwiseAbs().maxCoeff();
        QVERIFY2(err < 1e-4, qPrintable(QStringLiteral("max |B - ref| = %1").arg(err)));
    }

    // A million items would need terabytes for EASE's dense matrix: the fit refuses with the
    // figures and names the models that scale, instead of dying on std::bad_alloc (the GUI
    // fitted EASE in memory on a 1M-item workspace and showed "std::bad_alloc").
    void easeRefusesWhatCannotFit()
    {
        CsrBuilder b(3, 1'000'000, false);
        b.add(0, 0, 1);
        b.add(1, 999'999, 1);
        const Csr x = b.finish();
        Ease ease;
        try {
            ease.fit(x);
            QFAIL("EASE fitted a million items");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("1000000 items")), qPrintable(e.message()));
            QVERIFY2(e.message().contains(QStringLiteral("ials")), qPrintable(e.message()));
        }
    }

    // Timestamps stay 32-bit while they lie within 2^31 of the first one and widen to 64 bits
    // (every earlier one kept) at the first that does not; a transpose keeps either form.
    void timestampsWidenWhenNeeded()
    {
        CsrBuilder narrow(2, 3, true);
        narrow.add(0, 0, 1, 1'600'000'000);
        narrow.add(0, 2, 1, int64_t { 1'600'000'000 } - 2'000'000'000); // 1969: still within 2^31 s
        narrow.add(1, 1, 1, int64_t { 1'600'000'000 } + 2'000'000'000);
        const Csr n = narrow.finish();
        QVERIFY(n.timestamps.isNarrow());
        QCOMPARE(n.rowTimestamps(0)[1], int64_t { -400'000'000 });
        QCOMPARE(n.rowTimestamps(1)[0], int64_t { 3'600'000'000 });

        const std::vector<int64_t> times { 1'600'000'000, 1'600'000'001, 1'600'000'000'123, -5, 7 };
        CsrBuilder wide(3, 4, true);
        wide.add(0, 1, 1, times[0]);
        wide.add(0, 3, 1, times[1]);
        wide.add(1, 0, 1, times[2]); // milliseconds: too far from the first
        wide.add(2, 2, 1, times[3]);
        wide.add(2, 3, 1, times[4]);
        const Csr w = wide.finish();
        QVERIFY(!w.timestamps.isNarrow());
        QCOMPARE(w.timestamps.size(), times.size());
        QCOMPARE(std::vector<int64_t>(w.timestamps.begin(), w.timestamps.end()), times);
        const Csr t = w.transposed(true);
        QVERIFY(!t.timestamps.isNarrow());
        QCOMPARE(t.rowTimestamps(0)[0], times[2]); // item 0: user 1
        QCOMPARE(t.rowTimestamps(3)[0], times[1]); // item 3: users 0, 2
        QCOMPARE(t.rowTimestamps(3)[1], times[4]);
        const Csr tn = n.transposed(true);
        QVERIFY(tn.timestamps.isNarrow());
        QCOMPARE(tn.rowTimestamps(2)[0], int64_t { -400'000'000 });
        QVERIFY(n.transposed(false).timestamps.empty());
    }

    void itemKnnHandComputed()
    {
        // Users: u0 {0,1}, u1 {0,1,2}, u2 {2}. |U0|=2, |U1|=2, |U2|=2, co(0,1)=2, co(1,2)=1.
        CsrBuilder b(3, 3, false);
        b.add(0, 0, 1);
        b.add(0, 1, 1);
        b.add(1, 0, 1);
        b.add(1, 1, 1);
        b.add(1, 2, 1);
        b.add(2, 2, 1);
        const Csr x = b.finish();
        ItemKnn knn(QJsonObject { { QStringLiteral("k"), 5 }, { QStringLiteral("shrink"), 1 } });
        knn.fit(x);
        const std::vector<int32_t> hist { 1 };
        const std::vector<float> vals { 1 };
        const auto s = scoresOf(knn, History::adHoc(hist, vals));
        QCOMPARE(s[0], 2.0f / (2.0f + 1.0f));
        QCOMPARE(s[2], 1.0f / (2.0f + 1.0f));
        QCOMPARE(s[1], 0.0f); // an item is not its own neighbour
        ItemKnn k1(QJsonObject { { QStringLiteral("k"), 1 }, { QStringLiteral("shrink"), 1 } });
        k1.fit(x);
        QCOMPARE(k1.neighbours().rowLength(1), 1);
    }

    void ialsLossDecreasesAndFoldInMatchesTraining()
    {
        const Csr x = clustered(60, 40, 8, 11);
        Ials als(QJsonObject { { QStringLiteral("factors"), 8 }, { QStringLiteral("iterations"), 12 },
            { QStringLiteral("reg"), 0.1 }, { QStringLiteral("alpha"), 4 }, { QStringLiteral("cg_steps"), 8 },
            { QStringLiteral("track_loss"), true } });
        als.fit(x);
        QCOMPARE(als.lossHistory.size(), size_t { 12 });
        for (size_t i = 1; i < als.lossHistory.size(); ++i)
            QVERIFY2(als.lossHistory[i] <= als.lossHistory[i - 1] * (1 + 1e-6),
                qPrintable(QStringLiteral("loss rose at iteration %1: %2 -> %3")
                               .arg(i)
                               .arg(als.lossHistory[i - 1])
                               .arg(als.lossHistory[i])));
        QVERIFY(als.lossHistory.back() < als.lossHistory.front());
        // The last pass solved items; one more exact user solve is what fold-in does, and the
        // CG user factors from the last iteration must be close to it.
        for (int u : { 0, 17, 42 }) {
            const Eigen::VectorXf folded = als.foldIn(History::adHoc(x.row(u), x.rowValues(u)));
            const Eigen::VectorXf trained = als.userFactors().row(u).transpose();
            const float rel = (folded - trained).norm() / trained.norm();
            QVERIFY2(rel < 0.05f, qPrintable(QStringLiteral("user %1: relative difference %2").arg(u).arg(rel)));
        }
    }

    void factorModelsLearnClusters_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QJsonObject>("params");
        // Regularisation sized for a 100 x 60 matrix (the defaults are tuned for MovieLens).
        QTest::addRow("ials") << QStringLiteral("ials")
                              << QJsonObject { { QStringLiteral("factors"), 8 }, { QStringLiteral("reg"), 0.1 } };
        QTest::addRow("bpr") << QStringLiteral("bpr")
                             << QJsonObject { { QStringLiteral("factors"), 8 }, { QStringLiteral("epochs"), 30 },
                                    { QStringLiteral("lr"), 0.05 }, { QStringLiteral("reg"), 0.0025 } };
        QTest::addRow("ease") << QStringLiteral("ease") << QJsonObject { { QStringLiteral("lambda"), 10 } };
        QTest::addRow("itemknn") << QStringLiteral("itemknn") << QJsonObject {};
    }
    void factorModelsLearnClusters()
    {
        QFETCH(QString, model);
        QFETCH(QJsonObject, params);
        const Csr x = clustered(100, 60, 10, 3);
        auto m = makeRecommender(model, params);
        m->fit(x);
        // Trained users and a fresh (folded-in) history of cluster A items both get mostly
        // cluster A items in their top 10.
        int own = 0;
        for (int u = 0; u < 50; ++u)
            for (const auto& s : recommend(*m, History::ofUser(x, u), 10))
                own += s.item < 30 ? 1 : 0;
        QVERIFY2(own > 0.75 * 500, qPrintable(QStringLiteral("%1 of 500 in the user's cluster").arg(own)));
        const std::vector<int32_t> fresh { 1, 4, 9, 15 };
        const std::vector<float> ones(fresh.size(), 1.0f);
        int freshOwn = 0;
        for (const auto& s : recommend(*m, History::adHoc(fresh, ones), 10))
            freshOwn += s.item < 30 ? 1 : 0;
        QVERIFY2(freshOwn >= 8, qPrintable(QStringLiteral("fold-in: %1 of 10 in cluster").arg(freshOwn)));
    }

    void snapshotsRestoreIdenticalScores()
    {
        const Csr x = clustered(40, 30, 6, 5);
        for (const QString& name : recommenderNames()) {
            auto m = makeRecommender(name);
            m->fit(x);
            const QByteArray payload = m->save();
            auto r = makeRecommender(name);
            r->restore(payload);
            QCOMPARE(r->numItems(), m->numItems());
            for (int u : { 0, 21 }) {
                const auto h = History::ofUser(x, u);
                QCOMPARE(scoresOf(*r, h), scoresOf(*m, h));
            }
            auto wrong = makeRecommender(name == u"pop" ? QStringLiteral("ease") : QStringLiteral("pop"));
            QVERIFY_THROWS_EXCEPTION(Error, wrong->restore(payload));
        }
    }

    void factorTopNEqualsPlainScoringAndSelection_data()
    {
        QTest::addColumn<int>("factors");
        QTest::addColumn<bool>("withBias");
        QTest::addRow("16 factors") << 16 << false;
        QTest::addRow("64 factors, item bias") << 64 << true;
        QTest::addRow("13 factors (padded half rows)") << 13 << false;
    }

    // The half-precision first pass must not change a single item, score or tie order.
    void factorTopNEqualsPlainScoringAndSelection()
    {
        QFETCH(int, factors);
        QFETCH(bool, withBias);
        const int rows = 30'000;
        Rng rng(9);
        RowMatrixF y(rows, factors);
        for (Eigen::Index i = 0; i < y.size(); ++i)
            y.data()[i] = static_cast<float>(rng.normal());
        // A hundred exact ties at the top for the first query (the cut falls inside them),
        // and near ties that round to the same halves.
        for (int r = 1000; r < 1100; ++r)
            y.row(r) = y.row(124);
        y.row(123) = y.row(124);
        y.row(2000) = y.row(124);
        y(2000, 0) *= 1.0f + 1e-6f;
        y.row(2001) = y.row(124) * (1.0f - 1e-7f);
        std::vector<float> bias;
        if (withBias)
            for (int r = 0; r < rows; ++r)
                bias.push_back(r >= 1000 && r < 1100 ? 0.5f : static_cast<float>(rng.normal() * 0.1));
        const HalfFactors half(y);
        QCOMPARE(half.usable(), kernels::halfAvailable());
        const HalfFactors none;
        const std::vector<int32_t> exclude { 0, 0, 1000, 1050, 14'999, 15'000, 29'999 };
        std::vector<float> x(static_cast<size_t>(factors)), plain(rows);
        for (int query = 0; query < 8; ++query) {
            for (int k = 0; k < factors; ++k)
                x[static_cast<size_t>(k)] = query == 0 ? y(124, k) : static_cast<float>(rng.normal());
            scoreFactors(y, x.data(), plain.data(), 1);
            for (size_t r = 0; r < bias.size(); ++r)
                plain[r] += bias[r];
            for (int n : { 1, 50, 100, rows }) {
                const auto expected = topN(plain, n, exclude);
                for (int threads : { 1, 2, 3 })
                    for (const HalfFactors* h : { &half, &none }) {
                        const auto got = topNFactors(y, *h, x.data(), n, exclude, bias, threads);
                        QCOMPARE(got.size(), expected.size());
                        for (size_t k = 0; k < got.size(); ++k) {
                            QCOMPARE(got[k].item, expected[k].item);
                            QVERIFY(got[k].score == expected[k].score);
                        }
                    }
            }
        }
    }

    void factorModelsRecommendAsTheyScore()
    {
        const Csr x = clustered(60, 40, 6, 11);
        for (const char* name : { "ials", "bpr" }) {
            auto m = makeRecommender(QString::fromLatin1(name));
            m->fit(x);
            const std::vector<int32_t> whatIf { 1, 2, 30 };
            for (const History& h :
                { History::ofUser(x, 0), History::ofUser(x, 45), History::adHoc(whatIf, {}) }) {
                const auto expected = topN(scoresOf(*m, h), 10, h.items);
                const auto got = recommend(*m, h, 10);
                QCOMPARE(got.size(), expected.size());
                for (size_t k = 0; k < got.size(); ++k) {
                    QCOMPARE(got[k].item, expected[k].item);
                    QVERIFY(got[k].score == expected[k].score);
                }
            }
        }
    }

    // The AVX2 and AVX-512 conjugate-gradient kernels solve what the portable one solves, with
    // the fixed side in f32 and in half precision (then against the rounded side), with and
    // without values. (The AVX-512 one only where the CPU has it; iALS then trains with it.)
    void cgKernelsAgree()
    {
        if (!kernels::halfAvailable())
            QSKIP("the CPU lacks AVX2/FMA/F16C");
        Rng rng(5);
        CsrBuilder b(120, 300, false);
        for (int u = 0; u < 120; ++u) {
            std::set<int32_t> row;
            while (static_cast<int>(row.size()) < 1 + u % 40)
                row.insert(static_cast<int32_t>(rng.below(300)));
            for (const int32_t i : row)
                b.add(u, i, static_cast<float>(1 + rng.below(5)));
        }
        const Csr m = b.finish();
        for (const int f : { 32, 64, 128 })
            for (const bool useValues : { false, true }) {
                RowMatrixF y(300, f), start(120, f);
                for (Eigen::Index i = 0; i < y.size(); ++i)
                    y.data()[i] = static_cast<float>(rng.normal() * 0.3);
                for (Eigen::Index i = 0; i < start.size(); ++i)
                    start.data()[i] = static_cast<float>(rng.normal() * 0.3);
                std::vector<uint16_t> half(static_cast<size_t>(y.size()));
                kernels::toHalf(y.data(), half.data(), y.size());
                RowMatrixF rounded(300, f);
                kernels::fromHalf(half.data(), rounded.data(), rounded.size());
                for (const bool useHalf : { false, true }) {
                    const RowMatrixF& side = useHalf ? rounded : y;
                    RowMatrixF yty = side.transpose() * side;
                    yty.diagonal().array() += 5.0f;
                    RowMatrixF portable = start, fast = start;
                    kernels::cgSolveRows(yty.data(), side.data(), f, m.offsets.data(), m.indices.data(),
                        m.values.data(), 2.0f, useValues, portable.data(), 0, m.numRows, 3);
                    QVERIFY(kernels::cgSolveRowsAvx2(yty.data(), y.data(), useHalf ? half.data() : nullptr, f,
                        m.offsets.data(), m.indices.data(), m.values.data(), 2.0f, useValues, fast.data(), 0,
                        m.numRows, 3));
                    QVERIFY2((portable - fast).norm() <= 1e-4f * portable.norm(),
                        qPrintable(QStringLiteral("f %1 values %2 half %3: relative difference %4")
                                       .arg(f)
                                       .arg(useValues)
                                       .arg(useHalf)
                                       .arg((portable - fast).norm() / portable.norm())));
                    QVERIFY((portable - start).norm() > 1e-2f * start.norm()); // the solve did move
                    if (kernels::avx512Available()) {
                        RowMatrixF wide = start;
                        QVERIFY(kernels::cgSolveRowsAvx512(yty.data(), y.data(), useHalf ? half.data() : nullptr,
                            f, m.offsets.data(), m.indices.data(), m.values.data(), 2.0f, useValues, wide.data(), 0,
                            m.numRows, 3));
                        QVERIFY2((portable - wide).norm() <= 1e-4f * portable.norm(),
                            qPrintable(QStringLiteral("AVX-512, f %1 values %2 half %3: relative difference %4")
                                           .arg(f)
                                           .arg(useValues)
                                           .arg(useHalf)
                                           .arg((portable - wide).norm() / portable.norm())));
                    }
                }
            }
    }

    void unknownParametersAreRefused()
    {
        try {
            makeRecommender(QStringLiteral("ease"), QJsonObject { { QStringLiteral("lamda"), 10 } });
            QFAIL("a typo must be refused");
        } catch (const Error& e) {
            QVERIFY(e.message().contains(QStringLiteral("lamda")));
            QVERIFY(e.message().contains(QStringLiteral("lambda")));
        }
        QVERIFY_THROWS_EXCEPTION(Error, makeRecommender(QStringLiteral("nope")));
    }
};

QTEST_GUILESS_MAIN(TestCf)
#include "tst_cf.moc"
