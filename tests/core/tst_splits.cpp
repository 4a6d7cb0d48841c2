#include "eval/split.h"
#include "eval_fixture.h"
#include "testutil.h"
#include "util/error.h"

using namespace recwb;
using namespace recwb::eval;
using recwb::test::makeDataset;
using recwb::test::makeRandomDataset;

namespace {

using Items = std::vector<int32_t>;

Items trainRow(const Split& s, int32_t u)
{
    const auto r = s.train.row(u);
    return { r.begin(), r.end() };
}

// train + test of every user is exactly the user's interactions, values and timestamps kept.
void checkPartition(const Dataset& ds, const Split& s)
{
    QCOMPARE(s.train.numRows, ds.numUsers());
    QCOMPARE(s.train.numCols, ds.numItems());
    QCOMPARE(s.test.size(), static_cast<size_t>(ds.numUsers()));
    QCOMPARE(s.train.nnz() + s.testInteractions(), ds.numInteractions());
    Items evaluated;
    for (int32_t u = 0; u < ds.numUsers(); ++u) {
        const auto& test = s.test[static_cast<size_t>(u)];
        QVERIFY(std::is_sorted(test.begin(), test.end()));
        if (!test.empty())
            evaluated.push_back(u);
        Items all = trainRow(s, u);
        all.insert(all.end(), test.begin(), test.end());
        std::sort(all.begin(), all.end());
        const auto orig = ds.userItems.row(u);
        QVERIFY(std::equal(all.begin(), all.end(), orig.begin(), orig.end()));
        const auto tr = s.train.row(u);
        for (size_t k = 0; k < tr.size(); ++k) {
            const auto pos = std::find(orig.begin(), orig.end(), tr[k]) - orig.begin();
            QCOMPARE(s.train.rowValues(u)[k], ds.userItems.rowValues(u)[pos]);
            QCOMPARE(s.train.rowTimestamps(u)[k], ds.userItems.rowTimestamps(u)[pos]);
        }
    }
    QCOMPARE(s.evaluatedUsers, evaluated);
}

} // namespace

class TestSplits : public QObject {
    Q_OBJECT

private slots:
    void fnv1aKnownVectors()
    {
        // Published FNV-1a 32-bit test vectors (Landon Curt Noll's FNV page).
        QCOMPARE(fnv1a32(QByteArrayView("")), 0x811c9dc5u);
        QCOMPARE(fnv1a32(QByteArrayView("a")), 0xe40c292cu);
        QCOMPARE(fnv1a32(QByteArrayView("foobar")), 0xbf9cf968u);
    }

    void coldFifthMembership()
    {
        // Whole numbers: id mod 5 == 0, any length, leading zeros allowed.
        QVERIFY(isColdFifthUser(QStringLiteral("0")));
        QVERIFY(isColdFifthUser(QStringLiteral("5")));
        QVERIFY(isColdFifthUser(QStringLiteral("10")));
        QVERIFY(isColdFifthUser(QStringLiteral("0015")));
        QVERIFY(isColdFifthUser(QStringLiteral("123456789012345678901234567890"))); // beyond 64 bits
        QVERIFY(!isColdFifthUser(QStringLiteral("7")));
        QVERIFY(!isColdFifthUser(QStringLiteral("12")));
        QVERIFY(!isColdFifthUser(QStringLiteral("123456789012345678901234567891")));
        // Anything else: FNV-1a 32 of the UTF-8 bytes mod 5.
        QVERIFY(isColdFifthUser(QStringLiteral("a"))); // 0xe40c292c = 3826002220, % 5 == 0
        QVERIFY(isColdFifthUser(QStringLiteral("u1"))); // 0x0442a7f3 = 71477235, % 5 == 0
        QVERIFY(!isColdFifthUser(QStringLiteral("u2"))); // 0x0542a986 = 88254854, % 5 == 4
        QVERIFY(!isColdFifthUser(QStringLiteral("alice"))); // 0x872213e7, % 5 == 4
        QVERIFY(!isColdFifthUser(QStringLiteral("-5"))); // a sign: not a whole number, hashed
        QCOMPARE(isColdFifthUser(QStringLiteral("-5")), fnv1a32(QByteArrayView("-5")) % 5u == 0);
        // Non-ASCII ids hash their UTF-8 bytes.
        const QString accented = QStringLiteral(u"jos\u00e9");
        QCOMPARE(isColdFifthUser(accented), fnv1a32(accented.toUtf8()) % 5u == 0);
    }

    void parseNames()
    {
        QCOMPARE(SplitSpec::parse(QStringLiteral("loo")).kind, SplitKind::LeaveOneOut);
        QCOMPARE(SplitSpec::parse(QStringLiteral("RATIO")).kind, SplitKind::Ratio);
        QCOMPARE(SplitSpec::parse(QStringLiteral("strat75")).kind, SplitKind::Strat75);
        const auto c = SplitSpec::parse(QStringLiteral("cold@3"));
        QCOMPARE(c.kind, SplitKind::ColdN);
        QCOMPARE(c.coldN, 3);
        QCOMPARE(c.name(), QStringLiteral("cold@3"));
        QCOMPARE(SplitSpec::parse(QStringLiteral("cold@0")).coldN, 0);
        for (const char* bad : { "", "loo2", "cold@", "cold@-1", "cold@x", "random" })
            QVERIFY_THROWS_EXCEPTION(Error, SplitSpec::parse(QString::fromLatin1(bad)));
    }

    void leaveOneOut()
    {
        // u0: latest by time is item 1 (ts 30).
        // u1: items 0 and 3 tie at ts 5: the larger item index (3) is the later one.
        // u2: one interaction: not evaluated, stays in train.
        // u3: no interactions.
        const Dataset ds = makeDataset({ QStringLiteral("u0"), QStringLiteral("u1"), QStringLiteral("u2"),
                                           QStringLiteral("u3") },
            5,
            { { 0, 0, 10, 4 }, { 0, 1, 30, 5 }, { 0, 2, 20, 3 }, { 1, 0, 5 }, { 1, 3, 5 }, { 1, 4, 1 },
                { 2, 4, 100 } });
        const Split s = splitLeaveOneOut(ds);
        checkPartition(ds, s);
        QCOMPARE(s.name, QStringLiteral("loo"));
        QCOMPARE(s.seed, quint64(0));
        QCOMPARE(s.test[0], Items { 1 });
        QCOMPARE(s.test[1], Items { 3 });
        QVERIFY(s.test[2].empty());
        QVERIFY(s.test[3].empty());
        QCOMPARE(s.evaluatedUsers, (Items { 0, 1 }));
        QCOMPARE(trainRow(s, 0), (Items { 0, 2 }));
        QCOMPARE(trainRow(s, 1), (Items { 0, 4 }));
        QCOMPARE(trainRow(s, 2), Items { 4 });
    }

    void ratioFloorAndAtLeastOne()
    {
        std::vector<recwb::test::Interaction> list;
        // u0: 12 interactions at ts = 100 - item: the latest are the lowest items. floor(12/5) = 2.
        for (int i = 0; i < 12; ++i)
            list.push_back({ 0, i, 100 - i });
        // u1: 4 interactions: floor(4/5) = 0 -> at least 1; item 7 is the latest.
        for (const int i : { 2, 5, 7, 9 })
            list.push_back({ 1, i, i == 7 ? 50 : 10 });
        // u2: 10 interactions all at the same time: floor(10/5) = 2, the two largest indices.
        for (int i = 0; i < 10; ++i)
            list.push_back({ 2, i, 7 });
        // u3: 2 interactions: at least 1. u4: 1 interaction: not evaluated.
        list.push_back({ 3, 0, 1 });
        list.push_back({ 3, 1, 2 });
        list.push_back({ 4, 3, 1 });
        // u5: 9 interactions: floor(9/5) = 1.
        for (int i = 0; i < 9; ++i)
            list.push_back({ 5, i, i });
        const Dataset ds = makeDataset(
            { QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("c"), QStringLiteral("d"), QStringLiteral("e"),
                QStringLiteral("f") },
            12, list);
        const Split s = splitRatio(ds);
        checkPartition(ds, s);
        QCOMPARE(s.test[0], (Items { 0, 1 }));
        QCOMPARE(s.test[1], Items { 7 });
        QCOMPARE(s.test[2], (Items { 8, 9 }));
        QCOMPARE(s.test[3], Items { 1 });
        QVERIFY(s.test[4].empty());
        QCOMPARE(s.test[5], Items { 8 });
        QCOMPARE(s.evaluatedUsers, (Items { 0, 1, 2, 3, 5 }));
    }

    void strat75CountsAndDeterminism()
    {
        const Dataset ds = makeRandomDataset(300, 120);
        const Split a = splitStrat75(ds, 42);
        const Split b = splitStrat75(ds, 42);
        const Split c = splitStrat75(ds, 43);
        checkPartition(ds, a);
        checkPartition(ds, c);
        QCOMPARE(a.seed, quint64(42));
        QCOMPARE(a.name, QStringLiteral("strat75"));
        int differ = 0;
        for (int32_t u = 0; u < ds.numUsers(); ++u) {
            const int n = ds.interactionCount(u);
            const size_t expected = n >= 2 ? static_cast<size_t>(std::max(1, n / 4)) : 0;
            QCOMPARE(a.test[static_cast<size_t>(u)].size(), expected);
            QCOMPARE(a.test[static_cast<size_t>(u)], b.test[static_cast<size_t>(u)]);
            differ += a.test[static_cast<size_t>(u)] != c.test[static_cast<size_t>(u)] ? 1 : 0;
        }
        QCOMPARE(a.train.indices, b.train.indices);
        QVERIFY2(differ > ds.numUsers() / 2, qPrintable(QString::number(differ)));
    }

    void strat75Pinned()
    {
        // The seed is part of the result: these draws must never change (same on every
        // compiler and standard library, since only SplitMix64 and our Fisher-Yates are used).
        std::vector<recwb::test::Interaction> list;
        for (int i = 0; i < 8; ++i)
            list.push_back({ 0, i, i });
        for (int i = 0; i < 3; ++i)
            list.push_back({ 1, i, i });
        const Dataset ds = makeDataset({ QStringLiteral("x"), QStringLiteral("y") }, 8, list);
        const Split s = splitStrat75(ds, 42);
        QCOMPARE(s.test[0].size(), size_t(2));
        QCOMPARE(s.test[1].size(), size_t(1));
        // Cross-checked with an independent Python transcription of SplitMix64::stream,
        // below() and the partial Fisher-Yates: user 0 -> positions {4, 7}, user 1 -> {1}.
        QCOMPARE(s.test[0], (Items { 4, 7 }));
        QCOMPARE(s.test[1], Items { 1 });
    }

    void coldN_data()
    {
        QTest::addColumn<int>("n");
        QTest::addRow("cold@0") << 0;
        QTest::addRow("cold@1") << 1;
        QTest::addRow("cold@3") << 3;
        QTest::addRow("cold@5") << 5;
    }
    void coldN()
    {
        QFETCH(int, n);
        // Chosen: "5", "10", "a" (FNV-1a % 5 == 0). Not chosen: "7", "u2".
        const QStringList ids { QStringLiteral("5"), QStringLiteral("7"), QStringLiteral("10"), QStringLiteral("a"),
            QStringLiteral("u2") };
        std::vector<recwb::test::Interaction> list;
        // "5": 6 interactions, item i at time 60 - 10 i (item 5 first, item 0 last).
        for (int i = 0; i < 6; ++i)
            list.push_back({ 0, i, 60 - 10 * i });
        // "7": 6 interactions: never evaluated.
        for (int i = 0; i < 6; ++i)
            list.push_back({ 1, i, i });
        // "10": 1 interaction.
        list.push_back({ 2, 3, 1 });
        // "a": 4 interactions all at ts 0: time ties ordered by item index.
        for (int i = 0; i < 4; ++i)
            list.push_back({ 3, i + 2, 0 });
        // "u2": 3 interactions.
        for (int i = 0; i < 3; ++i)
            list.push_back({ 4, i, i });
        const Dataset ds = makeDataset(ids, 6, list);
        const Split s = splitColdN(ds, n);
        checkPartition(ds, s);
        QCOMPARE(s.name, QStringLiteral("cold@%1").arg(n));
        // "5": train = its first n by time = items 5, 4, ... ; test = the rest.
        Items train5, test5;
        for (int i = 5; i >= 0; --i)
            (5 - i < n ? train5 : test5).push_back(i);
        std::sort(train5.begin(), train5.end());
        std::sort(test5.begin(), test5.end());
        QCOMPARE(trainRow(s, 0), train5);
        QCOMPARE(s.test[0], test5);
        // "7" and "u2" are whole in train.
        QVERIFY(s.test[1].empty());
        QCOMPARE(s.train.rowLength(1), 6);
        QVERIFY(s.test[4].empty());
        QCOMPARE(s.train.rowLength(4), 3);
        // "10": evaluated only when it has > n interactions, i.e. for n = 0.
        QCOMPARE(s.test[2].empty(), n >= 1);
        QCOMPARE(s.train.rowLength(2), n >= 1 ? 1 : 0);
        // "a": first n by (ts, item index) are the lowest indices 2, 3, ...
        Items trainA, testA;
        for (int i = 0; i < 4; ++i)
            (i < n ? trainA : testA).push_back(i + 2);
        QCOMPARE(trainRow(s, 3), trainA);
        QCOMPARE(s.test[3], testA);
        Items evaluated { 0 };
        if (n == 0)
            evaluated.push_back(2);
        if (n < 4)
            evaluated.push_back(3);
        QCOMPARE(s.evaluatedUsers, evaluated);
    }

    void makeSplitDispatch()
    {
        const Dataset ds = makeRandomDataset(50, 30);
        QCOMPARE(makeSplit(ds, QStringLiteral("loo")).test, splitLeaveOneOut(ds).test);
        QCOMPARE(makeSplit(ds, QStringLiteral("ratio")).test, splitRatio(ds).test);
        QCOMPARE(makeSplit(ds, QStringLiteral("strat75"), 9).test, splitStrat75(ds, 9).test);
        QCOMPARE(makeSplit(ds, QStringLiteral("cold@3")).test, splitColdN(ds, 3).test);
        QVERIFY_THROWS_EXCEPTION(Error, makeSplit(ds, QStringLiteral("bogus")));
    }

    void emptyDataset()
    {
        const Dataset ds = makeDataset({}, 0, {});
        for (const char* name : { "loo", "ratio", "strat75", "cold@1" }) {
            const Split s = makeSplit(ds, QString::fromLatin1(name));
            QCOMPARE(s.train.nnz(), 0);
            QVERIFY(s.evaluatedUsers.empty());
        }
    }
};

QTEST_GUILESS_MAIN(TestSplits)
#include "tst_splits.moc"
