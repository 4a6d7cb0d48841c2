#include "eval/random.h"
#include "eval/stats.h"
#include "testutil.h"
#include "util/error.h"

#include <cmath>

using namespace recwb;
using namespace recwb::eval;

class TestStats : public QObject {
    Q_OBJECT

private slots:
    void wilcoxonScipyExample()
    {
        // scipy.stats.wilcoxon documentation example (differences in height of cross- and
        // self-fertilized corn plants, Fisher's "Design of Experiments"):
        //   d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
        //   wilcoxon(d) -> statistic=24.0, pvalue=0.041259765625 (exact distribution, n = 15)
        const std::vector<double> d { 6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75 };
        const auto w = wilcoxonSignedRank(d);
        QCOMPARE(w.n, 15);
        QVERIFY(w.exact);
        QCOMPARE(w.statistic, 24.0);
        QCOMPARE(w.wMinus, 24.0); // ranks 10 (-48) + 14 (-67)
        QCOMPARE(w.wPlus, 96.0); // 120 - 24
        QCOMPARE(w.pValue, 0.041259765625);
        // The sign flip is the mirror image.
        std::vector<double> neg;
        for (const double x : d)
            neg.push_back(-x);
        QCOMPARE(wilcoxonSignedRank(neg).pValue, 0.041259765625);
    }

    void wilcoxonExactWithTiesAndZeros()
    {
        // d = [1, 1, -1, 2, 0, 0]: the zeros are dropped (Wilcoxon's method), n = 4.
        // |d| ranks: the three 1s share rank 2, the 2 has rank 4. W+ = 2 + 2 + 4 = 8, W- = 2.
        // Under the null the 16 sign patterns of ranks {2, 2, 2, 4} give W+ >= 8 for
        // {2,2,4} (3 ways) and {2,2,2,4} (1 way): P(W+ >= 8) = 4/16, P(W+ <= 8) = 15/16,
        // so p = 2 * 4/16 = 0.5.
        const auto w = wilcoxonSignedRank(std::vector<double> { 1, 1, -1, 2, 0, 0 });
        QCOMPARE(w.n, 4);
        QCOMPARE(w.wPlus, 8.0);
        QCOMPARE(w.wMinus, 2.0);
        QVERIFY(w.exact);
        QCOMPARE(w.pValue, 0.5);
        // All zeros: nothing to test, p = 1.
        const auto z = wilcoxonSignedRank(std::vector<double>(10, 0.0));
        QCOMPARE(z.n, 0);
        QCOMPARE(z.pValue, 1.0);
        // Smallest case: one positive difference, p = 2 * 1/2 = 1.
        QCOMPARE(wilcoxonSignedRank(std::vector<double> { 3 }).pValue, 1.0);
        // Five positives: P(W+ >= 15) = 1/32, p = 1/16.
        QCOMPARE(wilcoxonSignedRank(std::vector<double> { 1, 2, 3, 4, 5 }).pValue, 0.0625);
    }

    void wilcoxonNormalApproximation()
    {
        // n = 30 distinct |d| = 1..30, the five smallest negative:
        //   W- = 1+2+3+4+5 = 15, W+ = 465 - 15 = 450, mean = 30*31/4 = 232.5,
        //   var = 30*31*61/24 = 2363.75, z = (450 - 232.5 - 0.5)/sqrt(2363.75) = 4.463329640
        //   p = erfc(z/sqrt(2)) = 8.06957614e-06 (computed with Python's math.erfc)
        std::vector<double> d;
        for (int i = 1; i <= 30; ++i)
            d.push_back(i <= 5 ? -i : i);
        const auto w = wilcoxonSignedRank(d);
        QVERIFY(!w.exact);
        QCOMPARE(w.wPlus, 450.0);
        QVERIFY(std::fabs(w.z - 4.463329640) < 1e-8);
        QVERIFY(std::fabs(w.pValue - 8.06957614199733e-06) < 1e-14);

        // Tie correction: 20 of +1 and 10 of -1, all tied at rank 15.5.
        //   W+ = 310, var = 2363.75 - (30^3 - 30)/48 = 1801.875,
        //   z = (310 - 232.5 - 0.5)/sqrt(1801.875) = 1.813962879, p = 0.06968344101
        std::vector<double> t(20, 1.0);
        t.insert(t.end(), 10, -1.0);
        const auto wt = wilcoxonSignedRank(t);
        QCOMPARE(wt.wPlus, 310.0);
        QVERIFY(std::fabs(wt.z - 1.813962879) < 1e-8);
        QVERIFY(std::fabs(wt.pValue - 0.06968344101180467) < 1e-12);
    }

    void bootstrapContainsTrueMean()
    {
        // 400 differences uniform in [-0.5, 0.7): true mean 0.1, sd ~0.35, so the 95 %
        // interval is about 0.1 +- 0.034.
        SplitMix64 rng(1234);
        std::vector<double> a, b;
        for (int i = 0; i < 400; ++i) {
            const double base = rng.uniform01();
            a.push_back(base);
            b.push_back(base + (-0.5 + 1.2 * rng.uniform01()));
        }
        const auto c = comparePaired(a, b, QStringLiteral("pop"), QStringLiteral("ease"), QStringLiteral("ndcg@10"));
        QCOMPARE(c.users, 400);
        QCOMPARE(c.resamples, 10000);
        QVERIFY2(c.ci.low < 0.1 && 0.1 < c.ci.high, qPrintable(QStringLiteral("[%1, %2]").arg(c.ci.low).arg(c.ci.high)));
        QVERIFY(c.ci.low < c.meanDiff && c.meanDiff < c.ci.high);
        QVERIFY(c.ci.high - c.ci.low < 0.1);
        // Clearly better: the interval excludes 0.
        QVERIFY(c.ci.low > 0);
        QCOMPARE(c.verdict, PairedComparison::Verdict::BBeatsA);
        QCOMPARE(c.verdictText(), QStringLiteral("ease beats pop"));
        QVERIFY(c.wilcoxon.pValue < 1e-6);
        QCOMPARE(c.toJson().value(QStringLiteral("verdict")).toString(), QStringLiteral("b_beats_a"));
        // The other way round.
        const auto r = comparePaired(b, a);
        QCOMPARE(r.verdict, PairedComparison::Verdict::ABeatsB);
        QVERIFY(r.ci.high < 0);
    }

    void noDifference()
    {
        // Symmetric differences around 0: the interval contains 0, no verdict.
        std::vector<double> a, b;
        for (int i = 0; i < 200; ++i) {
            a.push_back(0.5);
            b.push_back(0.5 + (i % 2 ? 0.1 : -0.1) * (1 + i % 7));
        }
        const auto c = comparePaired(a, b);
        QVERIFY(c.ci.low < 0 && c.ci.high > 0);
        QCOMPARE(c.verdict, PairedComparison::Verdict::NoDifference);
        QCOMPARE(c.verdictText(), QStringLiteral("no significant difference"));
        // Identical systems: a zero-width interval at 0, p = 1, no verdict.
        const auto same = comparePaired(a, a);
        QCOMPARE(same.ci.low, 0.0);
        QCOMPARE(same.ci.high, 0.0);
        QCOMPARE(same.wilcoxon.pValue, 1.0);
        QCOMPARE(same.verdict, PairedComparison::Verdict::NoDifference);
        // Constant differences: the interval is that constant.
        const auto ci = bootstrapMeanCi(std::vector<double>(50, 0.3));
        QVERIFY(std::fabs(ci.low - 0.3) < 1e-12 && std::fabs(ci.high - 0.3) < 1e-12);
    }

    void determinism()
    {
        SplitMix64 rng(99);
        std::vector<double> d;
        for (int i = 0; i < 300; ++i)
            d.push_back(rng.uniform01() - 0.45);
        // Same seed: the same interval, whatever the thread count (300 x 10000 draws is
        // above the threading threshold).
        const auto one = bootstrapMeanCi(d, 10000, 7, 0.95, 1);
        const auto four = bootstrapMeanCi(d, 10000, 7, 0.95, 4);
        const auto again = bootstrapMeanCi(d, 10000, 7, 0.95, 2);
        QCOMPARE(one.low, four.low);
        QCOMPARE(one.high, four.high);
        QCOMPARE(one.low, again.low);
        QCOMPARE(one.high, again.high);
        // Another seed: (slightly) different.
        const auto other = bootstrapMeanCi(d, 10000, 8, 0.95, 1);
        QVERIFY(other.low != one.low || other.high != one.high);
        // The default seed is fixed: comparePaired twice gives identical figures.
        std::vector<double> zero(d.size(), 0.0);
        const auto c1 = comparePaired(zero, d);
        const auto c2 = comparePaired(zero, d);
        QCOMPARE(c1.ci.low, c2.ci.low);
        QCOMPARE(c1.ci.high, c2.ci.high);
        QCOMPARE(c1.seed, kBootstrapSeed);
    }

    void prngIsPinned()
    {
        // SplitMix64 reference output for seed 1234567 (the published test vector of the
        // reference C implementation): the same stream on every platform.
        SplitMix64 r(1234567);
        QCOMPARE(r.next(), 6457827717110365317ULL);
        QCOMPARE(r.next(), 3203168211198807973ULL);
        QCOMPARE(r.next(), 9817491932198370423ULL);
        SplitMix64 b(5);
        for (int i = 0; i < 1000; ++i)
            QVERIFY(b.below(7) < 7);
    }

    void mismatchedLengths()
    {
        QVERIFY_THROWS_EXCEPTION(Error, comparePaired(std::vector<double> { 1, 2 }, std::vector<double> { 1 }));
    }
};

QTEST_GUILESS_MAIN(TestStats)
#include "tst_stats.moc"
