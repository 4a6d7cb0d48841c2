// The side-by-side comparison's core: arm specs, measures between lists, per-user split
// truth and the comparison's exports.
#include "eval_fixture.h"

#include "cf/recommender.h"
#include "eval/evaluator.h"
#include "eval/listcompare.h"
#include "eval/usersplit.h"
#include "pipeline/armspec.h"
#include "pipeline/comparison.h"
#include "util/error.h"

#include <QJsonArray>
#include <QtTest>
#include <cmath>

using namespace recwb;
using namespace recwb::pipeline;

namespace {

using List = std::vector<int32_t>;

QJsonObject outcomeJson(const QStringList& ids, const std::vector<int>& cfRanks, const QString& fallbackReason = {})
{
    QJsonArray items;
    for (qsizetype i = 0; i < ids.size(); ++i)
        items.append(QJsonObject { { QStringLiteral("item_id"), ids[i] }, { QStringLiteral("rank"), i + 1 },
            { QStringLiteral("cf_rank"), cfRanks[static_cast<size_t>(i)] },
            { QStringLiteral("explanation"), QStringLiteral("because, \"quoted\" %1").arg(ids[i]) },
            { QStringLiteral("filled"), false } });
    return { { QStringLiteral("items"), items }, { QStringLiteral("fallback"), !fallbackReason.isEmpty() },
        { QStringLiteral("fallback_reason"), fallbackReason },
        { QStringLiteral("tokens"),
            QJsonObject { { QStringLiteral("input"), 120 }, { QStringLiteral("output"), 40 } } },
        { QStringLiteral("cost"), 0.001 }, { QStringLiteral("cache_hit"), false },
        { QStringLiteral("stage_ms"),
            QJsonObject { { QStringLiteral("candidates"), 2.0 }, { QStringLiteral("llm"), 5.0 } } } };
}

} // namespace

class TestCompare : public QObject {
    Q_OBJECT

private slots:
    void armSpecParses_data()
    {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("cf");
        QTest::addColumn<QString>("rerank");
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("candidates");
        QTest::addColumn<QString>("label");
        QTest::addColumn<QString>("canonical");
        QTest::addRow("cf only") << "cf=ease"
                                 << "ease"
                                 << "none"
                                 << "" << 10 << 50 << ""
                                 << "cf=ease";
        QTest::addRow("offline") << "cf=ease,rerank=offline"
                                 << "ease"
                                 << "offline"
                                 << "" << 10 << 50 << ""
                                 << "cf=ease,rerank=offline";
        QTest::addRow("endpoint, label, k") << "cf=ials,rerank=local,prompt=listwise@production,k=10"
                                            << "ials"
                                            << "local"
                                            << "listwise@production" << 10 << 50 << ""
                                            << "cf=ials,rerank=local,prompt=listwise@production";
        QTest::addRow("any order, spaces") << " k=5 , label=My column, cf=pop "
                                           << "pop"
                                           << "none"
                                           << "" << 5 << 50 << "My column"
                                           << "cf=pop,k=5,label=My column";
        QTest::addRow("candidates") << "cf=coldstart,rerank=offline,candidates=30,k=20"
                                    << "coldstart"
                                    << "offline"
                                    << "" << 20 << 30 << ""
                                    << "cf=coldstart,rerank=offline,k=20,candidates=30";
        QTest::addRow("stored run") << "cf=run:12,k=5"
                                    << "run:12"
                                    << "none"
                                    << "" << 5 << 50 << ""
                                    << "cf=run:12,k=5";
        QTest::addRow("k above default candidates") << "cf=3,k=80"
                                                    << "3"
                                                    << "none"
                                                    << "" << 80 << 80 << ""
                                                    << "cf=3,k=80";
    }
    void armSpecParses()
    {
        QFETCH(QString, spec);
        const ArmSpec a = ArmSpec::parse(spec);
        QTEST(a.cf, "cf");
        QTEST(a.rerank, "rerank");
        QTEST(a.prompt, "prompt");
        QTEST(a.k, "k");
        QTEST(a.candidates, "candidates");
        QTEST(a.label, "label");
        QTEST(a.toString(), "canonical");
        QCOMPARE(ArmSpec::parse(a.toString()), a);
        QCOMPARE(a.storedRun().has_value(), a.cf.startsWith(QStringLiteral("run:")));
    }

    void armSpecErrors_data()
    {
        QTest::addColumn<QString>("spec");
        QTest::addColumn<QString>("message");
        QTest::addRow("empty") << ""
                               << "empty arm spec";
        QTest::addRow("no cf") << "rerank=offline"
                               << "cf= is required";
        QTest::addRow("unknown key") << "cf=ease,rernk=offline"
                                     << "unknown key 'rernk'";
        QTest::addRow("not key=value") << "cf=ease,offline"
                                       << "'offline' is not key=value";
        QTest::addRow("empty value") << "cf=ease,k="
                                     << "k= has no value";
        QTest::addRow("bad k") << "cf=ease,k=ten"
                               << "k=ten must be a whole number from 1 to 200";
        QTest::addRow("zero k") << "cf=ease,k=0"
                                << "k=0 must be";
        QTest::addRow("twice") << "cf=ease,cf=ials"
                               << "cf is given twice";
        QTest::addRow("candidates < k") << "cf=ease,k=20,candidates=10"
                                        << "candidates=10 is fewer than k=20";
        QTest::addRow("prompt without reranker") << "cf=ease,prompt=listwise"
                                                 << "prompt= needs a reranker";
        QTest::addRow("bad run id") << "cf=run:x"
                                    << "cf=run:x must be run:ID";
        QTest::addRow("run with reranker") << "cf=run:3,rerank=offline"
                                           << "rerank= and prompt= do not apply";
        QTest::addRow("bad prompt") << "cf=ease,rerank=offline,prompt=@3"
                                    << "prompt=@3 must be NAME";
    }
    void armSpecErrors()
    {
        QFETCH(QString, spec);
        QFETCH(QString, message);
        try {
            ArmSpec::parse(spec);
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(message), qPrintable(e.message()));
        }
    }

    void overlap_data()
    {
        QTest::addColumn<List>("a");
        QTest::addColumn<List>("b");
        QTest::addColumn<int>("k");
        QTest::addColumn<double>("expected");
        QTest::addRow("same") << List { 1, 2, 3 } << List { 3, 2, 1 } << 3 << 1.0;
        QTest::addRow("disjoint") << List { 1, 2 } << List { 3, 4 } << 2 << 0.0;
        QTest::addRow("half at 4") << List { 1, 2, 3, 4, 5 } << List { 4, 9, 1, 8, 2 } << 4 << 0.5;
        QTest::addRow("short list counts what it has") << List { 1, 2 } << List { 2, 7, 1 } << 4 << 0.5;
    }
    void overlap()
    {
        QFETCH(List, a);
        QFETCH(List, b);
        QFETCH(int, k);
        QTEST(eval::overlapAtK(a, b, k), "expected");
    }

    void kendallTau_data()
    {
        QTest::addColumn<List>("a");
        QTest::addColumn<List>("b");
        QTest::addColumn<double>("expected"); // NaN = undefined
        QTest::addRow("same order") << List { 1, 2, 3 } << List { 1, 2, 3 } << 1.0;
        QTest::addRow("reversed") << List { 1, 2, 3, 4 } << List { 4, 3, 2, 1 } << -1.0;
        // shared 1,2,3,5; B's order of them 2,1,3,5: 5 concordant, 1 discordant of 6 pairs
        QTest::addRow("one swap of four shared") << List { 1, 2, 3, 4, 5 } << List { 2, 1, 3, 9, 5 } << 4.0 / 6.0;
        QTest::addRow("one shared") << List { 1, 2 } << List { 2, 3 } << std::nan("");
        QTest::addRow("none shared") << List { 1, 2 } << List { 3, 4 } << std::nan("");
    }
    void kendallTau()
    {
        QFETCH(List, a);
        QFETCH(List, b);
        QFETCH(double, expected);
        const auto tau = eval::kendallTauShared(a, b);
        if (std::isnan(expected)) {
            QVERIFY(!tau);
        } else {
            QVERIFY(tau);
            QVERIFY2(std::abs(*tau - expected) < 1e-12, qPrintable(QString::number(*tau)));
            QCOMPARE(*eval::kendallTauShared(b, a), *tau); // symmetric
        }
    }

    void rbo_data()
    {
        QTest::addColumn<List>("a");
        QTest::addColumn<List>("b");
        QTest::addColumn<double>("expected");
        const double p = 0.9;
        QTest::addRow("identical") << List { 5, 6, 7, 8 } << List { 5, 6, 7, 8 } << 1.0;
        QTest::addRow("disjoint") << List { 1, 2, 3 } << List { 4, 5, 6 } << 0.0;
        // X = 1, 1, 3: (1-p)/p (1 p + 1/2 p^2 + 1 p^3) + 3/3 p^3
        QTest::addRow("last two swapped")
            << List { 1, 2, 3 } << List { 1, 3, 2 } << (1 - p) / p * (p + 0.5 * p * p + p * p * p) + p * p * p;
        // X = 0, 0, 2, 4: (1-p)/p (2/3 p^3 + p^4) + p^4
        QTest::addRow("reversed") << List { 1, 2, 3, 4 } << List { 4, 3, 2, 1 }
                                  << (1 - p) / p * (2.0 / 3.0 * std::pow(p, 3) + std::pow(p, 4)) + std::pow(p, 4);
        // a prefix of the other list: the extrapolation agrees all the way
        QTest::addRow("prefix, uneven lengths") << List { 1, 2, 3 } << List { 1, 2 } << 1.0;
        // s = 1, l = 2, X1 = 0, X2 = 1 (short list whole vs first 2), X_s = 0:
        // (1-p)/p (0 + 1/2 p^2 + 0) + (1/2 + 0) p^2
        QTest::addRow("uneven, late match") << List { 9, 1 } << List { 1 } << (1 - p) / p * 0.5 * p * p + 0.5 * p * p;
        QTest::addRow("empty") << List {} << List { 1 } << 0.0;
    }
    void rbo()
    {
        QFETCH(List, a);
        QFETCH(List, b);
        QFETCH(double, expected);
        const double v = eval::rankBiasedOverlap(a, b);
        QVERIFY2(std::abs(v - expected) < 1e-12, qPrintable(QStringLiteral("%1 vs %2").arg(v).arg(expected)));
        QVERIFY(std::abs(eval::rankBiasedOverlap(b, a) - v) < 1e-12);
    }

    // The per-user truth equals what the evaluator uses for that user: the same held-out
    // items, a train part without them, and the same HR/NDCG/recall for the same ranking.
    void userSplitMatchesEvaluator_data()
    {
        QTest::addColumn<QString>("split");
        QTest::addRow("loo") << "loo";
        QTest::addRow("ratio") << "ratio";
        QTest::addRow("strat75") << "strat75";
        QTest::addRow("cold@1") << "cold@1";
    }
    void userSplitMatchesEvaluator()
    {
        QFETCH(QString, split);
        const Dataset ds = test::makeRandomDataset(60, 80);
        const auto spec = eval::SplitSpec::parse(split);
        const eval::Split whole = eval::makeSplit(ds, spec, 7);
        QVERIFY(!whole.evaluatedUsers.empty());
        auto model = cf::makeRecommender(QStringLiteral("pop"));
        model->fit(whole.train);
        const eval::EvalResult result = eval::evaluate(*model, whole, ds, { 5 }, {}, 1);
        for (size_t n = 0; n < std::min<size_t>(whole.evaluatedUsers.size(), 5); ++n) {
            const int32_t u = whole.evaluatedUsers[n];
            const eval::UserSplit us = eval::makeUserSplit(ds, u, spec, 7);
            QCOMPARE(us.heldOut, whole.test[static_cast<size_t>(u)]);
            for (int32_t item : us.heldOut) {
                QVERIFY(us.isHeldOut(item));
                QVERIFY(!us.train->userItems.contains(u, item));
                QVERIFY(ds.userItems.contains(u, item));
            }
            QCOMPARE(us.train->userItems.nnz(), whole.train.nnz());
            QCOMPARE(us.train->numItems(), ds.numItems());
            auto own = cf::makeRecommender(QStringLiteral("pop"));
            own->fit(us.train->userItems);
            std::vector<int32_t> ranked;
            for (const cf::ScoredItem& s : cf::recommend(*own, cf::History::ofUser(us.train->userItems, u), 5))
                ranked.push_back(s.item);
            const eval::Accuracy acc = us.accuracy(ranked, 5);
            const auto at = static_cast<size_t>(
                std::lower_bound(result.users.begin(), result.users.end(), u) - result.users.begin());
            QCOMPARE(acc.hr, result.perUser(eval::Metric::HR, 5)[at]);
            QCOMPARE(acc.ndcg, result.perUser(eval::Metric::NDCG, 5)[at]);
            QCOMPARE(acc.recall, result.perUser(eval::Metric::Recall, 5)[at]);
        }
    }

    void userSplitRefusesUnevaluatedUser()
    {
        // user "a" has one interaction: loo evaluates users with >= 2
        const Dataset ds = test::makeDataset(
            { QStringLiteral("a"), QStringLiteral("b") }, 3, { { 0, 0, 1 }, { 1, 0, 1 }, { 1, 1, 2 } });
        try {
            eval::makeUserSplit(ds, 0, eval::SplitSpec::parse(QStringLiteral("loo")));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("user 'a'")) && e.message().contains(QStringLiteral("loo")),
                qPrintable(e.message()));
        }
        const auto us = eval::makeUserSplit(ds, 1, eval::SplitSpec::parse(QStringLiteral("loo")));
        QCOMPARE(us.heldOut, std::vector<int32_t> { 1 });
        QCOMPARE(us.train->interactionCount(1), 1);
    }

    void comparisonMeasuresAndExports()
    {
        const Dataset ds = test::makeDataset({ QStringLiteral("u") }, 8, { { 0, 0, 1 }, { 0, 7, 2 } });
        eval::UserSplit split;
        split.splitName = QStringLiteral("loo");
        split.heldOut = { 2, 7 };
        Comparison c;
        c.userId = QStringLiteral("u");
        c.split = QStringLiteral("loo");
        c.heldOutIds = { QStringLiteral("i2"), QStringLiteral("i7") };
        c.heldOutTitles = c.heldOutIds;
        ArmResult cf = ArmResult::fromOutcomeJson(
            outcomeJson({ QStringLiteral("i1"), QStringLiteral("i2"), QStringLiteral("i3"), QStringLiteral("i4") },
                { 1, 2, 3, 4 }),
            ds, 3, &split); // cut at k = 3
        cf.title = QStringLiteral("CF");
        ArmResult llm = ArmResult::fromOutcomeJson(
            outcomeJson({ QStringLiteral("i3"), QStringLiteral("i1"), QStringLiteral("i5") }, { 3, 1, 5 }, QString()),
            ds, 3, &split);
        llm.title = QStringLiteral("LLM, \"v2\"");
        c.arms = { cf, llm };
        QCOMPARE(cf.rows.size(), size_t(3));
        QVERIFY(cf.rows[1].heldOut && !cf.rows[0].heldOut);
        QCOMPARE(llm.rows[0].move(), 2); // CF rank 3 -> 1
        QCOMPARE(llm.rows[1].move(), -1);
        // metrics: i2 held out at rank 2 of CF: HR 1, recall 1/min(3,2), NDCG (1/log2 3) / (1 + 1/log2 3)
        QCOMPARE(cf.metrics->hr, 1.0);
        QCOMPARE(cf.metrics->recall, 0.5);
        QVERIFY(std::abs(cf.metrics->ndcg - (1 / std::log2(3.0)) / (1 + 1 / std::log2(3.0))) < 1e-12);
        QCOMPARE(llm.metrics->hr, 0.0);

        c.computePairs();
        QCOMPARE(c.pairs.size(), size_t(1));
        const ArmPair& p = c.pairs[0];
        QCOMPARE(p.overlap, 2.0 / 3.0); // i1, i3
        QCOMPARE(p.shared, 2);
        QCOMPARE(*p.kendallTau, -1.0); // i1 before i3 in CF, after in LLM
        QVERIFY(std::abs(p.rbo - eval::rankBiasedOverlap(cf.items(), llm.items())) < 1e-15);

        // aligned: i1, i3 best rank 1; then i2 (2); i5 (3); then held-out i7 nobody lists
        const auto rows = c.alignedRows();
        QStringList order;
        for (const AlignedRow& r : rows)
            order << r.itemId;
        QCOMPARE(order,
            (QStringList { QStringLiteral("i1"), QStringLiteral("i3"), QStringLiteral("i2"), QStringLiteral("i5"),
                QStringLiteral("i7") }));
        QCOMPARE(rows[1].rowInArm, (std::vector<int> { 2, 0 }));
        QCOMPARE(rows[2].rowInArm, (std::vector<int> { 1, -1 }));
        QVERIFY(rows[2].heldOut && rows[4].heldOut && !rows[0].heldOut);

        const QJsonObject json = c.toJson();
        const QJsonObject arm0 = json[QStringLiteral("arms")].toArray()[0].toObject();
        QCOMPARE(arm0[QStringLiteral("list")].toArray().size(), 3);
        QCOMPARE(arm0[QStringLiteral("list")].toArray()[1].toObject()[QStringLiteral("held_out")].toBool(), true);
        QCOMPARE(arm0[QStringLiteral("metrics")].toObject()[QStringLiteral("recall")].toDouble(), 0.5);
        QCOMPARE(json[QStringLiteral("pairs")].toArray()[0].toObject()[QStringLiteral("kendall_tau")].toDouble(), -1.0);

        const QString csv = c.toCsv();
        QCOMPARE(csv.count(QStringLiteral("\r\n")), 1 + 3 + 3);
        QVERIFY(csv.contains(QStringLiteral("\"LLM, \"\"v2\"\"\"")));
        QVERIFY(csv.contains(QStringLiteral("\"because, \"\"quoted\"\" i3\"")));

        const QString html = c.toHtml();
        QVERIFY(!html.contains(QStringLiteral("<link")) && !html.contains(QStringLiteral("src=")));
        QVERIFY(!html.contains(QStringLiteral("http")));
        QVERIFY(html.contains(QStringLiteral("LLM, &quot;v2&quot;")));
        QCOMPARE(html.count(QStringLiteral("<tr class=\"held\">")), 2);
        QCOMPARE(html.count(QStringLiteral("not listed")), 1 + 1 + 2); // i2 in LLM; i5 in CF; i7 in both
    }
};

QTEST_APPLESS_MAIN(TestCompare)
#include "tst_compare.moc"
