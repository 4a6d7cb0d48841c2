// What-if histories in core (docs/WHATIF.md): the edited user, the diff of two ranked
// lists, saving an edit as a synthetic user (one transaction, the source untouched), and
// synthetic users left out of every evaluation split.
#include "storedinteractions.h"
#include "testutil.h"

#include "data/sqlite.h"
#include "data/syntheticuser.h"
#include "data/workspace.h"
#include "eval/evaluator.h"
#include "eval/split.h"
#include "eval/usersplit.h"
#include "pipeline/whatif.h"

#include <QJsonObject>
#include <algorithm>

using namespace recwb;

class TestWhatIf : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    int m_copies = 0;

    // A fresh copy of the small generated workspace (each test writes its own).
    QString freshWorkspace()
    {
        const QString path = m_dir.filePath(QStringLiteral("w%1.recwb").arg(++m_copies));
        test::generateSmallWorkspace(path);
        return path;
    }

    static int32_t warmUser(const Dataset& ds)
    {
        for (int32_t u = 0; u < ds.numUsers(); ++u)
            if (ds.interactionCount(u) >= 10)
                return u;
        return -1;
    }

    static SyntheticUser copyOf(const Dataset& ds, int32_t u, const QString& id)
    {
        SyntheticUser su;
        su.externalId = id;
        su.syntheticOf = ds.users[static_cast<size_t>(u)].externalId;
        su.attributes = ds.users[static_cast<size_t>(u)].attributes;
        const auto items = ds.userItems.row(u);
        for (size_t i = 0; i < items.size(); ++i)
            su.history.push_back({ ds.items[static_cast<size_t>(items[i])].externalId,
                static_cast<double>(ds.userItems.rowValues(u)[i]), ds.userItems.rowTimestamps(u)[i] });
        return su;
    }

private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void whatIfUserDropsAndAdds()
    {
        const QString path = freshWorkspace();
        const Dataset ds = Workspace::open(path)->load();
        const int32_t u = warmUser(ds);
        QVERIFY(u >= 0);
        const auto items = ds.userItems.row(u);
        int32_t outside = -1;
        for (int32_t i = 0; i < ds.numItems() && outside < 0; ++i)
            if (std::find(items.begin(), items.end(), i) == items.end())
                outside = i;
        pipeline::WhatIfEdit edit;
        edit.drop.insert(items[0]);
        edit.add.push_back(outside);
        edit.profile = QJsonObject { { QStringLiteral("age"), 77 } };
        const rerank::PromptUser pu = pipeline::whatIfUser(ds, u, edit);
        QCOMPARE(pu.id, ds.users[static_cast<size_t>(u)].externalId);
        QCOMPARE(pu.history.size(), items.size()); // one out, one in
        QVERIFY(std::none_of(pu.history.begin(), pu.history.end(), [&](const auto& h) { return h.item == items[0]; }));
        QCOMPARE(pu.history.back().item, outside);
        const auto times = ds.userItems.rowTimestamps(u);
        QVERIFY(pu.history.back().timestamp > *std::max_element(times.begin(), times.end())); // the latest
        QCOMPARE(pu.profile.value(QStringLiteral("age")).toInt(), 77);

        pipeline::WhatIfEdit bad;
        bad.drop.insert(outside);
        QVERIFY_THROWS_EXCEPTION(Error, pipeline::whatIfUser(ds, u, bad));
        pipeline::WhatIfEdit twice;
        twice.add.push_back(items[1]);
        QVERIFY_THROWS_EXCEPTION(Error, pipeline::whatIfUser(ds, u, twice));
    }

    void diffLists_data()
    {
        QTest::addColumn<std::vector<int32_t>>("reference");
        QTest::addColumn<std::vector<int32_t>>("changed");
        QTest::addColumn<QString>("entering");
        QTest::addColumn<QString>("leaving");
        QTest::addColumn<QString>("moved");
        QTest::addRow("same") << std::vector<int32_t> { 1, 2, 3 } << std::vector<int32_t> { 1, 2, 3 } << QString()
                              << QString() << QString();
        QTest::addRow("one in, one out") << std::vector<int32_t> { 1, 2, 3 } << std::vector<int32_t> { 9, 1, 2 }
                                         << QStringLiteral("9@1") << QStringLiteral("3@3")
                                         << QStringLiteral("1:1>2 2:2>3");
        QTest::addRow("swap") << std::vector<int32_t> { 1, 2 } << std::vector<int32_t> { 2, 1 } << QString()
                              << QString() << QStringLiteral("2:2>1 1:1>2");
        QTest::addRow("empty reference") << std::vector<int32_t> {} << std::vector<int32_t> { 4, 5 }
                                         << QStringLiteral("4@1 5@2") << QString() << QString();
    }

    void diffLists()
    {
        QFETCH(std::vector<int32_t>, reference);
        QFETCH(std::vector<int32_t>, changed);
        const pipeline::ListDiff d = pipeline::diffLists(reference, changed);
        QStringList entering, leaving, moved;
        for (const auto& e : d.entering)
            entering << QStringLiteral("%1@%2").arg(e.item).arg(e.rank);
        for (const auto& e : d.leaving)
            leaving << QStringLiteral("%1@%2").arg(e.item).arg(e.rank);
        for (const auto& m : d.moved)
            moved << QStringLiteral("%1:%2>%3").arg(m.item).arg(m.from).arg(m.to);
        QTEST(entering.join(u' '), "entering");
        QTEST(leaving.join(u' '), "leaving");
        QTEST(moved.join(u' '), "moved");
        // the moved delta: positive when the item went up
        for (const auto& m : d.moved)
            QCOMPARE(m.delta(), m.from - m.to);
    }

    void saveSyntheticUser()
    {
        const QString path = freshWorkspace();
        const Dataset ds = Workspace::open(path)->load();
        const int32_t u = warmUser(ds);
        const QString source = ds.users[static_cast<size_t>(u)].externalId;
        const QStringList before = test::storedInteractions(path, source);
        const QString id = nextSyntheticId(ds, source);
        QCOMPARE(id, source + QStringLiteral("-whatif-1"));

        SyntheticUser su = copyOf(ds, u, id);
        su.history.erase(su.history.begin()); // one ticked out
        su.attributes.insert(QStringLiteral("age"), 99);
        {
            const auto ws = Workspace::open(path);
            QVERIFY(recwb::saveSyntheticUser(*ws, su) > 0);
        }
        QCOMPARE(test::storedInteractions(path, source), before); // the source user is untouched
        QCOMPARE(test::storedInteractions(path, id).size(), before.size() - 1);
        const Dataset after = Workspace::open(path)->load();
        QCOMPARE(after.numUsers(), ds.numUsers() + 1);
        const int32_t saved = after.userIndex(id);
        QVERIFY(saved >= 0);
        QVERIFY(after.users[static_cast<size_t>(saved)].isSynthetic());
        QCOMPARE(after.users[static_cast<size_t>(saved)].syntheticOf, source);
        QCOMPARE(after.users[static_cast<size_t>(saved)].attributes.value(QStringLiteral("age")).toInt(), 99);
        QVERIFY(!after.users[static_cast<size_t>(after.userIndex(source))].isSynthetic());
        QCOMPARE(nextSyntheticId(after, source), source + QStringLiteral("-whatif-2"));

        // A taken id, an unknown item, a repeated item, an unknown source: nothing written.
        const auto ws = Workspace::open(path);
        QVERIFY_THROWS_EXCEPTION(Error, recwb::saveSyntheticUser(*ws, su));
        SyntheticUser unknownItem = copyOf(ds, u, QStringLiteral("x1"));
        unknownItem.history.push_back({ QStringLiteral("no-such-item"), 1, 0 });
        QVERIFY_THROWS_EXCEPTION(Error, recwb::saveSyntheticUser(*ws, unknownItem));
        SyntheticUser repeated = copyOf(ds, u, QStringLiteral("x2"));
        repeated.history.push_back(repeated.history.front());
        QVERIFY_THROWS_EXCEPTION(Error, recwb::saveSyntheticUser(*ws, repeated));
        SyntheticUser orphan = copyOf(ds, u, QStringLiteral("x3"));
        orphan.syntheticOf = QStringLiteral("nobody");
        QVERIFY_THROWS_EXCEPTION(Error, recwb::saveSyntheticUser(*ws, orphan));
        QCOMPARE(Workspace::open(path)->load().numUsers(), after.numUsers());
        QCOMPARE(sql::queryInt(ws->db(), "SELECT count(*) FROM users WHERE external_id LIKE 'x%'"), 0);
    }

    // A synthetic copy of real users must not move any metric: the splits leave it out of
    // train and test, so the evaluation equals the one without it.
    void evaluationSkipsSyntheticUsers_data()
    {
        QTest::addColumn<QString>("split");
        QTest::addRow("loo") << QStringLiteral("loo");
        QTest::addRow("ratio") << QStringLiteral("ratio");
        QTest::addRow("strat75") << QStringLiteral("strat75");
        QTest::addRow("cold@1") << QStringLiteral("cold@1");
    }

    void evaluationSkipsSyntheticUsers()
    {
        QFETCH(QString, split);
        const QString path = freshWorkspace();
        const Dataset ds = Workspace::open(path)->load();
        const eval::EvalResult base
            = eval::runEvaluation(QStringLiteral("itemknn"), {}, eval::makeSplit(ds, split), ds, { 10 });
        {
            const auto ws = Workspace::open(path);
            for (int32_t u = 0; u < 40; ++u)
                if (ds.interactionCount(u) >= 2)
                    recwb::saveSyntheticUser(*ws, copyOf(ds, u, QStringLiteral("syn-%1").arg(u)));
        }
        const Dataset with = Workspace::open(path)->load();
        QVERIFY(with.numUsers() > ds.numUsers());
        const eval::Split s = eval::makeSplit(with, split);
        for (const int32_t u : s.evaluatedUsers)
            QVERIFY2(!with.users[static_cast<size_t>(u)].isSynthetic(),
                qPrintable(with.users[static_cast<size_t>(u)].externalId));
        for (int32_t u = 0; u < with.numUsers(); ++u)
            if (with.users[static_cast<size_t>(u)].isSynthetic())
                QCOMPARE(s.train.rowLength(u), 0);
        const eval::EvalResult r = eval::runEvaluation(QStringLiteral("itemknn"), {}, s, with, { 10 });
        QCOMPARE(r.usersEvaluated, base.usersEvaluated);
        QCOMPARE(r.value(QStringLiteral("ndcg@10")), base.value(QStringLiteral("ndcg@10")));
        QCOMPARE(r.value(QStringLiteral("recall@10")), base.value(QStringLiteral("recall@10")));
        const int32_t synthetic = with.userIndex(QStringLiteral("syn-5"));
        QVERIFY(synthetic >= 0);
        QVERIFY_THROWS_EXCEPTION(Error, eval::makeUserSplit(with, synthetic, eval::SplitSpec::parse(split)));
    }
};

QTEST_GUILESS_MAIN(TestWhatIf)
#include "tst_whatif_core.moc"
