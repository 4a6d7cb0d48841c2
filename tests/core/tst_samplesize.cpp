#include "eval/samplesize.h"
#include "testutil.h"
#include "util/error.h"

#include <cmath>

using namespace recwb;
using namespace recwb::eval;

class TestSampleSize : public QObject {
    Q_OBJECT

private slots:
    void quantile_data()
    {
        QTest::addColumn<double>("p");
        QTest::addColumn<double>("z");
        // scipy.stats.norm.ppf values.
        QTest::addRow("0.975") << 0.975 << 1.959963984540054;
        QTest::addRow("0.8") << 0.8 << 0.8416212335729143;
        QTest::addRow("0.9") << 0.9 << 1.2815515655446004;
        QTest::addRow("0.5") << 0.5 << 0.0;
        QTest::addRow("0.01 (lower tail)") << 0.01 << -2.3263478740408408;
        QTest::addRow("1e-10 (far tail)") << 1e-10 << -6.361340902404056;
    }
    void quantile()
    {
        QFETCH(double, p);
        QFETCH(double, z);
        QVERIFY2(std::abs(normalQuantile(p) - z) < 1e-12, qPrintable(QString::number(normalQuantile(p), 'g', 17)));
    }

    void published_data()
    {
        QTest::addColumn<double>("baseline");
        QTest::addColumn<double>("effect");
        QTest::addColumn<bool>("relative");
        QTest::addColumn<double>("power");
        QTest::addColumn<bool>("pooled");
        QTest::addColumn<double>("exact");
        QTest::addColumn<qint64>("perArm");
        // R documentation of stats::power.prop.test (the pooled two-proportion formula):
        //   power.prop.test(p1 = .50, p2 = .75, power = .90)  # =>  n = 76.7
        QTest::addRow("R power.prop.test example") << 0.5 << 0.25 << false << 0.9 << true << 76.7 << qint64(77);
        // Evan Miller's sample size calculator (evanmiller.org/ab-testing/sample-size.html),
        // its default: baseline 20 %, minimum detectable effect 5 % absolute, alpha 0.05,
        // power 80 % -> "1,030 per variation" (it uses the baseline's variance under the null and
        // rounds; we round up: 1030.2 -> 1031).
        QTest::addRow("Evan Miller default") << 0.2 << 0.05 << false << 0.8 << false << 1030.2 << qint64(1031);
        // The same with the pooled variance, by hand: p̄ = 0.225,
        //   (1.959964 sqrt(0.34875) + 0.841621 sqrt(0.3475))^2 / 0.05^2 = 1093.7
        QTest::addRow("pooled 0.20 -> 0.25") << 0.2 << 0.05 << false << 0.8 << true << 1093.7 << qint64(1094);
        // A relative lift: 10 % -> 11 % (+10 %), pooled: 14,750.8 by the same formula.
        QTest::addRow("relative lift 0.10") << 0.1 << 0.1 << true << 0.8 << true << 14750.8 << qint64(14751);
    }
    void published()
    {
        QFETCH(double, baseline);
        QFETCH(double, effect);
        QFETCH(bool, relative);
        QFETCH(double, power);
        QFETCH(bool, pooled);
        QFETCH(double, exact);
        QFETCH(qint64, perArm);
        SampleSizeInput in;
        in.baseline = baseline;
        in.effect = effect;
        in.kind = relative ? SampleSizeInput::Effect::Relative : SampleSizeInput::Effect::Absolute;
        in.power = power;
        in.variance = pooled ? SampleSizeInput::NullVariance::Pooled : SampleSizeInput::NullVariance::Baseline;
        const SampleSize s = sampleSizeTwoProportions(in);
        QVERIFY2(std::abs(s.exact - exact) < 0.05, qPrintable(QString::number(s.exact, 'f', 3)));
        QCOMPARE(s.perArm, perArm);
        QCOMPARE(s.total(), 2 * perArm);
    }

    // The sign of the effect does not matter for a two-sided test, only its size: 20 % -> 25 %
    // needs about what 25 % -> 20 % needs (the pooled formula is symmetric in p1, p2).
    void symmetricAndMonotone()
    {
        SampleSizeInput up { 0.2, 0.05 };
        SampleSizeInput down { 0.25, -0.05 };
        QCOMPARE(sampleSizeTwoProportions(up).perArm, sampleSizeTwoProportions(down).perArm);
        SampleSizeInput smaller { 0.2, 0.025 };
        QVERIFY(sampleSizeTwoProportions(smaller).perArm > 3 * sampleSizeTwoProportions(up).perArm);
        SampleSizeInput morePower = up;
        morePower.power = 0.9;
        QVERIFY(sampleSizeTwoProportions(morePower).perArm > sampleSizeTwoProportions(up).perArm);
        SampleSizeInput strict = up;
        strict.alpha = 0.01;
        QVERIFY(sampleSizeTwoProportions(strict).perArm > sampleSizeTwoProportions(up).perArm);
    }

    void badInput_data()
    {
        QTest::addColumn<double>("baseline");
        QTest::addColumn<double>("effect");
        QTest::addColumn<double>("alpha");
        QTest::addColumn<double>("power");
        QTest::addColumn<QString>("message");
        QTest::addRow("zero effect") << 0.2 << 0.0 << 0.05 << 0.8 << QStringLiteral("the effect is 0");
        QTest::addRow("baseline 0") << 0.0 << 0.05 << 0.05 << 0.8 << QStringLiteral("baseline rate 0 is outside");
        QTest::addRow("baseline 1") << 1.0 << -0.05 << 0.05 << 0.8 << QStringLiteral("baseline rate 1 is outside");
        QTest::addRow("p2 above 1") << 0.98 << 0.05 << 0.05 << 0.8 << QStringLiteral("gives the rate 1.03");
        QTest::addRow("alpha 0") << 0.2 << 0.05 << 0.0 << 0.8 << QStringLiteral("alpha 0 is outside");
        QTest::addRow("power 1") << 0.2 << 0.05 << 0.05 << 1.0 << QStringLiteral("power 1 is outside");
        QTest::addRow("NaN effect") << 0.2 << std::nan("") << 0.05 << 0.8 << QStringLiteral("the effect is 0");
    }
    void badInput()
    {
        QFETCH(double, baseline);
        QFETCH(double, effect);
        QFETCH(double, alpha);
        QFETCH(double, power);
        QFETCH(QString, message);
        SampleSizeInput in { baseline, effect };
        in.alpha = alpha;
        in.power = power;
        try {
            sampleSizeTwoProportions(in);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(message), qPrintable(e.message()));
        }
        QVERIFY_THROWS_EXCEPTION(Error, normalQuantile(0));
    }
};

QTEST_GUILESS_MAIN(TestSampleSize)
#include "tst_samplesize.moc"
