#include "pipeline/batchsummary.h"
#include "pipeline/routing.h"
#include "rerank/positionbias.h"

#include <QtTest>

#include <cmath>

using namespace recwb;

// Routing confidence, the probe's statistics and the batch percentiles on hand-computed cases.
class TestRouting : public QObject {
    Q_OBJECT

    static std::vector<cf::ScoredItem> scores(std::initializer_list<float> s)
    {
        std::vector<cf::ScoredItem> out;
        int32_t i = 0;
        for (float v : s)
            out.push_back({ i++, v });
        return out;
    }

private slots:
    void confidenceHandComputed()
    {
        // Scores 3, 2, 1, 0 with k = 1: sd = sqrt(1.25); the top item beats the cut (2) by 1.
        const double expected = 1.0 / (1.0 + std::exp(-1.0 / std::sqrt(1.25)));
        QVERIFY(qAbs(pipeline::cfConfidence(scores({ 3, 2, 1, 0 }), 1) - expected) < 1e-12);
        // k = 2: mean of sigmoid(2/sd) and sigmoid(1/sd) against the cut at 1.
        const double sd = std::sqrt(1.25);
        const double k2 = (1 / (1 + std::exp(-2 / sd)) + 1 / (1 + std::exp(-1 / sd))) / 2;
        QVERIFY(qAbs(pipeline::cfConfidence(scores({ 3, 2, 1, 0 }), 2) - k2) < 1e-12);
    }

    void confidenceEdgesAndInvariance()
    {
        QCOMPARE(pipeline::cfConfidence(scores({ 1, 1, 1, 1 }), 2), 0.0); // flat: cannot tell
        QCOMPARE(pipeline::cfConfidence(scores({ 3, 2 }), 2), 0.0); // nothing left out
        QCOMPARE(pipeline::cfConfidence(scores({ 3, NAN, 1 }), 1), 0.0);
        QCOMPARE(pipeline::cfConfidence({}, 10), 0.0);
        // Ties at the cut: a coin flip for the tied item.
        QVERIFY(qAbs(pipeline::cfConfidence(scores({ 2, 1, 1, 0 }), 2) - (0.5 + 1 / (1 + std::exp(-1 / std::sqrt(0.5)))) / 2) < 1e-12);
        // Any positive affine rescaling gives the same confidence.
        const auto a = scores({ 9, 7, 6.5f, 3, 2, 1, 0.5f, 0 });
        std::vector<cf::ScoredItem> b = a;
        for (auto& s : b)
            s.score = s.score * 40 - 7;
        QVERIFY(qAbs(pipeline::cfConfidence(a, 3) - pipeline::cfConfidence(b, 3)) < 1e-6);
        // A head far above the rest is near 1; evenly spaced scores (50, k 10) are about 0.59.
        std::vector<cf::ScoredItem> even;
        for (int i = 0; i < 50; ++i)
            even.push_back({ i, static_cast<float>(50 - i) });
        const double c = pipeline::cfConfidence(even, 10);
        QVERIFY2(c > 0.58 && c < 0.60, qPrintable(QString::number(c)));
        std::vector<cf::ScoredItem> head = even;
        for (int i = 0; i < 10; ++i)
            head[static_cast<size_t>(i)].score += 1000;
        QVERIFY(pipeline::cfConfidence(head, 10) > 0.8);
    }

    void routeDecisions()
    {
        pipeline::RoutingPolicy p;
        QCOMPARE(pipeline::route(p, QStringLiteral("u"), false, 0.99).reason, QStringLiteral("all"));
        p.everyone = false;
        p.highValueUsers = { QStringLiteral("vip") };
        QCOMPARE(pipeline::route(p, QStringLiteral("u"), true, 0.99).reason, QStringLiteral("cold"));
        QCOMPARE(pipeline::route(p, QStringLiteral("vip"), false, 0.99).reason, QStringLiteral("high_value"));
        QCOMPARE(pipeline::route(p, QStringLiteral("u"), false, 0.59).reason, QStringLiteral("low_confidence"));
        const auto keep = pipeline::route(p, QStringLiteral("u"), false, 0.6);
        QVERIFY(!keep.llm);
        QCOMPARE(keep.reason, QStringLiteral("confident"));
        p.cold = false;
        QCOMPARE(pipeline::route(p, QStringLiteral("u"), true, 0.9).llm, false);
    }

    void kendallTauHandComputed()
    {
        const std::vector<int> a { 1, 2, 3, 4 };
        QCOMPARE(rerank::kendallTauB(a, a), 1.0);
        QCOMPARE(rerank::kendallTauB(a, std::vector<int> { 4, 3, 2, 1 }), -1.0);
        // One swapped pair of 6: (5 - 1) / 6.
        QVERIFY(qAbs(rerank::kendallTauB(a, std::vector<int> { 2, 1, 3, 4 }) - 4.0 / 6.0) < 1e-12);
        // With ties (tau-b): a = 1,2,3,3 vs b = 1,2,3,4: C = 5, D = 0, ties only in a: 1.
        QVERIFY(qAbs(rerank::kendallTauB(std::vector<int> { 1, 2, 3, 3 }, a) - 5.0 / std::sqrt(5.0 * 6.0)) < 1e-12);
        QCOMPARE(rerank::kendallTauB(std::vector<int> { 1, 1, 1 }, std::vector<int> { 1, 2, 3 }), 0.0);
    }

    void probeStatsAndBorda()
    {
        // 4 candidates, k = 2. Run 1 picks c0 then c1; run 2 picks c1 then c0; run 3 is a fallback.
        rerank::ProbeRun r1 { { 1, 2, 0, 0 }, { 1, 2, 3, 4 }, true };
        rerank::ProbeRun r2 { { 2, 1, 0, 0 }, { 4, 1, 2, 3 }, true };
        rerank::ProbeRun r3 { { 0, 0, 0, 0 }, { 1, 2, 3, 4 }, false };
        const std::vector<rerank::ProbeRun> runs { r1, r2, r3 };
        const rerank::ProbeStats s = rerank::probeStats(runs, 2);
        QCOMPARE(s.runs, 2);
        QCOMPARE(s.unusableRuns, 1);
        // Ranks 1,2,3,3 vs 2,1,3,3: pairs (0,1) discordant, 4 concordant, (2,3) tied in both.
        QVERIFY(qAbs(s.meanKendallTau - 3.0 / 5.0) < 1e-12);
        QCOMPARE(s.meanTopKOverlap, 1.0);
        // Borda: c0 = 2 + 1, c1 = 1 + 2: tied at 3, CF order breaks the tie.
        QCOMPARE(s.borda.size(), size_t(2));
        QCOMPARE(s.borda[0].candidate, 0);
        QCOMPARE(s.borda[0].points, 3.0);
        QCOMPARE(s.borda[1].candidate, 1);
        // Picks were shown at 1, 2 (run 1) and 4, 1 (run 2): first third of 4 = position 1 and 2.
        QCOMPARE(s.firstThirdShare, 0.75);
        QCOMPARE(s.meanShownPositionOfPicks, 2.0);
        QCOMPARE(s.expectedShownPosition, 2.5);
    }

    void percentilesLinear()
    {
        const auto p = pipeline::percentiles({ 4, 1, 3, 2, 5 });
        QCOMPARE(p.count, 5);
        QCOMPARE(p.p50, 3.0);
        QVERIFY(qAbs(p.p95 - 4.8) < 1e-12); // 0.95 * 4 = 3.8 -> 4 + 0.8
        QVERIFY(qAbs(p.p99 - 4.96) < 1e-12);
        QCOMPARE(p.mean, 3.0);
        QCOMPARE(p.max, 5.0);
        QCOMPARE(pipeline::percentiles({}).count, 0);
    }
};

QTEST_GUILESS_MAIN(TestRouting)
#include "tst_routing.moc"
