#include "pipeline/costprojection.h"
#include "rerank/prices.h"
#include "testutil.h"
#include "util/error.h"

#include <QJsonArray>

using namespace recwb;
using namespace recwb::pipeline;

namespace {

rerank::Prices shippedPrices(const QString& model)
{
    const auto r = rerank::PriceTable::builtin().lookup(QStringLiteral("openai"), model);
    if (!r)
        qFatal("no price row for %s", qPrintable(model));
    return r->prices;
}

const ProjectionRow& rowFor(const CostProjection& p, Scenario s, qint64 users)
{
    for (const ProjectionRow& r : p.rows)
        if (r.scenario == s && r.usersPerDay == users)
            return r;
    qFatal("no row %s at %lld", qPrintable(scenarioKey(s)), static_cast<long long>(users));
}

bool near(double a, double b)
{
    return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b));
}

} // namespace

class TestCostProjection : public QObject {
    Q_OBJECT

private slots:
    // The cost table worked by hand from LLM_APIS.md section 10 (the shared docs carry no
    // ready-made table at scale, so this is the reference): gpt-4.1-mini at 0.40 input,
    // 0.10 cached input, 1.60 output per 1M tokens; a measured hybrid call of 2,000 input
    // tokens (1,000 of them read from the prompt cache) and 300 output tokens:
    //   per call  = (1,000 x 0.40 + 1,000 x 0.10 + 300 x 1.60) / 1e6 = $0.00098
    //   hybrid for everyone, 1M users/day = $980/day, $29,400/month (30 d)
    //   selective routing (27.8 % routed, docs/RERANK.md's measured share) = $272.44/day
    //   CF only = $0 at every scale
    //   LLM-only with 200 candidates instead of 50: 2,000 + 150 x 80 = 14,000 input
    //   tokens (still 1,000 cached): (13,000 x 0.40 + 1,000 x 0.10 + 300 x 1.60) / 1e6
    //   = $0.00578 per call, $57.80/day at 10K users, $1,734/month
    void designTable()
    {
        ProjectionInput in;
        in.hybrid = { 2000, 1000, 300 };
        in.llmOnly = in.hybrid.withCandidates(50, 200);
        in.prices = shippedPrices(QStringLiteral("gpt-4.1-mini"));
        in.assumptions.routingShare = 0.278;
        const CostProjection p = projectCostAtScale(in);
        QCOMPARE(p.rows.size(), kProjectionScales.size() * 4);

        const ProjectionRow& all = rowFor(p, Scenario::HybridEveryone, 1'000'000);
        QVERIFY(near(*all.usdPerCall, 0.00098));
        QVERIFY(near(*all.usdPerDay, 980.0));
        QVERIFY(near(*all.usdPerMonth, 29'400.0));
        QVERIFY(near(all.callsPerDay, 1e6));
        QVERIFY(near(all.inputTokensPerDay, 2e9));
        QVERIFY(near(all.outputTokensPerDay, 3e8));
        QVERIFY(near(*rowFor(p, Scenario::HybridSelective, 1'000'000).usdPerDay, 272.44));
        for (const qint64 users : kProjectionScales) {
            const ProjectionRow& cf = rowFor(p, Scenario::CfOnly, users);
            QCOMPARE(*cf.usdPerDay, 0.0);
            QCOMPARE(cf.callsPerDay, 0.0);
            // Linear in users: every scale is the 1M row scaled.
            QVERIFY(
                near(*rowFor(p, Scenario::HybridEveryone, users).usdPerDay, 980.0 * static_cast<double>(users) / 1e6));
        }
        const ProjectionRow& llm = rowFor(p, Scenario::LlmOnly, 10'000);
        QCOMPARE(in.llmOnly->input, 14'000.0);
        QVERIFY(near(*llm.usdPerCall, 0.00578));
        QVERIFY(near(*llm.usdPerDay, 57.80));
        QVERIFY(near(*llm.usdPerMonth, 1734.0));
        QVERIFY(near(*rowFor(p, Scenario::HybridEveryone, 10'000'000).usdPerMonth, 294'000.0));
    }

    // The same hybrid call with a 20 % response cache hit rate and the 50 % batch price:
    // 800,000 calls of $0.00049 = $392/day, $11,760/month at 1M users/day.
    void cacheAndBatch()
    {
        ProjectionInput in;
        in.hybrid = { 2000, 1000, 300 };
        in.prices = shippedPrices(QStringLiteral("gpt-4.1-mini"));
        in.assumptions.cacheHitRate = 0.2;
        in.assumptions.batchDiscount = 0.5;
        const CostProjection p = projectCostAtScale(in);
        QCOMPARE(p.rows.size(), kProjectionScales.size() * 3); // no LLM-only tokens: no LLM-only rows
        const ProjectionRow& all = rowFor(p, Scenario::HybridEveryone, 1'000'000);
        QVERIFY(near(all.callsPerDay, 800'000));
        QVERIFY(near(*all.usdPerCall, 0.00049));
        QVERIFY(near(*all.usdPerDay, 392.0));
        QVERIFY(near(*all.usdPerMonth, 11'760.0));
    }

    // Prompt caching as an assumption replaces the measured share: 80 % of 2,000 input
    // tokens at 0.10, 20 % at 0.40, 300 output at 1.60 = (160 + 160 + 480) / 1e6.
    void promptCachingAssumption()
    {
        ProjectionAssumptions a;
        a.promptCachingShare = 0.8;
        const auto usd = costPerCall({ 2000, 0, 300 }, shippedPrices(QStringLiteral("gpt-4.1-mini")), a);
        QVERIFY(near(*usd, 0.0008));
        // A model without a cached-input price bills the cached share at the input price.
        rerank::Prices noCache { 1.0, std::nullopt, std::nullopt, 2.0, {} };
        QVERIFY(near(*costPerCall({ 1000, 500, 100 }, noCache, {}), (1000 * 1.0 + 100 * 2.0) / 1e6));
    }

    void unknownAndLocalPrices()
    {
        ProjectionInput in;
        in.hybrid = { 1000, 0, 100 };
        in.prices = {}; // unknown
        CostProjection p = projectCostAtScale(in);
        QVERIFY(!rowFor(p, Scenario::HybridEveryone, 1000).usdPerDay);
        QCOMPARE(*rowFor(p, Scenario::CfOnly, 1000).usdPerDay, 0.0); // CF costs no tokens
        QVERIFY(near(rowFor(p, Scenario::HybridEveryone, 1000).inputTokensPerDay, 1e6)); // tokens still projected
        in.prices = { 0.0, std::nullopt, std::nullopt, 0.0, {} }; // local server
        p = projectCostAtScale(in);
        QCOMPARE(*rowFor(p, Scenario::HybridEveryone, 1000).usdPerMonth, 0.0);
        const QJsonObject j = p.toJson();
        QCOMPARE(j[u"rows"].toArray().size(), kProjectionScales.size() * 3);
        QCOMPARE(j[u"rows"].toArray()[1].toObject()[u"scenario"].toString(), QStringLiteral("hybrid_selective"));
        QCOMPARE(j[u"assumptions"].toObject()[u"days_per_month"].toInt(), 30);
    }

    void fromTotals()
    {
        rerank::Usage u;
        u.inputTokens = 30'000;
        u.cachedInputTokens = 12'000;
        u.outputTokens = 4'500;
        const TokensPerCall t = TokensPerCall::fromTotals(u, 15);
        QCOMPARE(t.input, 2000.0);
        QCOMPARE(t.cachedInput, 800.0);
        QCOMPARE(t.output, 300.0);
        QCOMPARE(TokensPerCall::fromTotals(u, 0).input, 0.0);
        const TokensPerCall fewer = TokensPerCall { 5000, 4000, 300 }.withCandidates(50, 20);
        QCOMPARE(fewer.input, 5000.0 - 30 * 80);
        QCOMPARE(fewer.cachedInput, 2600.0); // never more than the input
        QCOMPARE(fewer.output, 300.0);
        QCOMPARE((TokensPerCall { 1000, 0, 300 }).withCandidates(50, 10).input, 0.0); // clamped at 0
    }

    // Cascade of gpt-4.1-nano then gpt-4.1, 2,000 in / 300 out, no caching:
    //   c1 = (2,000 x 0.10 + 300 x 0.40) / 1e6 = $0.00032, c2 = (2,000 x 2 + 300 x 8) / 1e6 = $0.0064
    //   10 % escalated: 0.00032 + 0.1 x 0.0064 = $0.00096 per user
    void cascade()
    {
        const TokensPerCall t { 2000, 0, 300 };
        const double c1 = *costPerCall(t, shippedPrices(QStringLiteral("gpt-4.1-nano")), {});
        const double c2 = *costPerCall(t, shippedPrices(QStringLiteral("gpt-4.1")), {});
        QVERIFY(near(c1, 0.00032));
        QVERIFY(near(c2, 0.0064));
        const std::array costs { c1, c2 };
        const std::array rates { 0.1 };
        QVERIFY(near(cascadeAverageCost(costs, rates), 0.00096));
        // Three tiers: 1 + 0.5 x 2 + 0.5 x 0.25 x 4 = 2.5
        const std::array c3 { 1.0, 2.0, 4.0 };
        const std::array p3 { 0.5, 0.25 };
        QCOMPARE(cascadeAverageCost(c3, p3), 2.5);
        const std::array one { 3.0 };
        QCOMPARE(cascadeAverageCost(one, std::span<const double>()), 3.0);
    }

    void badInput_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("message");
        QTest::addRow("cache hit rate > 1") << 0 << QStringLiteral("cache hit rate = 1.5 is outside [0, 1]");
        QTest::addRow("negative batch discount") << 1 << QStringLiteral("batch discount = -0.1 is outside [0, 1]");
        QTest::addRow("routing share") << 2 << QStringLiteral("routing share = 2 is outside [0, 1]");
        QTest::addRow("zero users") << 3 << QStringLiteral("0 users a day is not a positive number");
        QTest::addRow("cascade sizes") << 4 << QStringLiteral("2 tiers need 1 escalation rates, got 2");
        QTest::addRow("escalation rate") << 5 << QStringLiteral("escalation rate = 1.2 is outside [0, 1]");
        QTest::addRow("no tiers") << 6 << QStringLiteral("cascade cost: no tiers");
    }
    void badInput()
    {
        QFETCH(int, which);
        QFETCH(QString, message);
        ProjectionInput in;
        in.hybrid = { 1000, 0, 100 };
        const std::array two { 1.0, 2.0 };
        try {
            switch (which) {
            case 0:
                in.assumptions.cacheHitRate = 1.5;
                break;
            case 1:
                in.assumptions.batchDiscount = -0.1;
                break;
            case 2:
                in.assumptions.routingShare = 2;
                break;
            case 3:
                in.usersPerDay = { 1000, 0 };
                break;
            case 4: {
                const std::array rates { 0.1, 0.2 };
                cascadeAverageCost(two, rates);
                break;
            }
            case 5: {
                const std::array rates { 1.2 };
                cascadeAverageCost(two, rates);
                break;
            }
            case 6:
                cascadeAverageCost({}, {});
                break;
            }
            projectCostAtScale(in);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(message), qPrintable(e.message()));
        }
    }
};

QTEST_GUILESS_MAIN(TestCostProjection)
#include "tst_costprojection.moc"
