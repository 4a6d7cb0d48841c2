// What-if histories from the CLI: `candidates` and `rerank` with --without/--with edit one
// user's history in memory; the lists change as the edited history says, the diff against
// the stored history is reported, and the workspace file stays byte for byte the same.
#include "testutil.h"

#include "cf/recommender.h"
#include "data/syntheticuser.h"
#include "data/workspace.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

using namespace recwb;

class TestCliWhatIf : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ws;
    Dataset m_ds;

    using Run = test::CliRun;
    static Run cli(const QStringList& args) { return test::runCliAsync(args, QStringLiteral("sk-fake-whatif-1")); }
    static QJsonObject jsonOf(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }

    static QStringList idsOf(const QJsonArray& rows)
    {
        QStringList ids;
        for (const QJsonValue& v : rows)
            ids << v.toObject().value(QStringLiteral("item_id")).toString();
        return ids;
    }

    // A warm user with at least 8 interactions.
    int32_t warmUser() const
    {
        for (int32_t u = 0; u < m_ds.numUsers(); ++u)
            if (m_ds.interactionCount(u) >= 8)
                return u;
        return -1;
    }

    QStringList historyIds(int32_t u) const
    {
        QStringList ids;
        for (const int32_t item : m_ds.userItems.row(u))
            ids << m_ds.items[static_cast<size_t>(item)].externalId;
        return ids;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_ws = m_dir.filePath(QStringLiteral("whatif.recwb"));
        test::generateSmallWorkspace(m_ws);
        m_ds = Workspace::open(m_ws)->load();
    }

    // --with adds an item: it leaves the candidates (it is history now), the list is what
    // the model scores for the edited history, and the diff names what entered and left.
    void candidatesWithAndWithout()
    {
        const int32_t u = warmUser();
        QVERIFY(u >= 0);
        const QString user = m_ds.users[static_cast<size_t>(u)].externalId;
        const QByteArray before = test::workspaceFileBytes(m_ws);
        const Run real = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), user,
            QStringLiteral("--model"), QStringLiteral("itemknn"), QStringLiteral("-n"), QStringLiteral("20"),
            QStringLiteral("--json") });
        QVERIFY2(real.code == 0, qPrintable(real.err));
        const QStringList realIds = idsOf(jsonOf(real).value(QStringLiteral("candidates")).toArray());
        QCOMPARE(realIds.size(), 20);

        const QString added = realIds.first(); // the top candidate, now watched
        const QString dropped = historyIds(u).first();
        const Run edited = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), user,
            QStringLiteral("--model"), QStringLiteral("itemknn"), QStringLiteral("-n"), QStringLiteral("20"),
            QStringLiteral("--with"), added, QStringLiteral("--without"), dropped, QStringLiteral("--json") });
        QVERIFY2(edited.code == 0, qPrintable(edited.err));
        const QJsonObject o = jsonOf(edited);
        QVERIFY(o.value(QStringLiteral("what_if")).toBool());
        QCOMPARE(o.value(QStringLiteral("interactions")).toInt(), m_ds.interactionCount(u)); // one out, one in
        const QStringList editedIds = idsOf(o.value(QStringLiteral("candidates")).toArray());
        QVERIFY(!editedIds.contains(added));
        QVERIFY(editedIds != realIds);

        // the model's own scores for the edited history, computed here
        auto model = cf::makeRecommender(QStringLiteral("itemknn"));
        model->fit(m_ds.userItems);
        std::vector<std::pair<int32_t, float>> rows;
        const auto items = m_ds.userItems.row(u);
        const auto values = m_ds.userItems.rowValues(u);
        double sum = 0;
        for (size_t i = 0; i < items.size(); ++i) {
            sum += values[i];
            if (m_ds.items[static_cast<size_t>(items[i])].externalId != dropped)
                rows.emplace_back(items[i], values[i]);
        }
        rows.emplace_back(m_ds.itemIndex(added), static_cast<float>(sum / static_cast<double>(items.size())));
        std::sort(rows.begin(), rows.end());
        std::vector<int32_t> hi;
        std::vector<float> hv;
        for (const auto& [i, v] : rows) {
            hi.push_back(i);
            hv.push_back(v);
        }
        QStringList expected;
        for (const auto& s : cf::recommend(*model, cf::History::adHoc(hi, hv), 20))
            expected << m_ds.items[static_cast<size_t>(s.item)].externalId;
        QCOMPARE(editedIds, expected);

        // the diff against the stored history's list
        const QJsonObject diff = o.value(QStringLiteral("diff")).toObject();
        QStringList entering = idsOf(diff.value(QStringLiteral("entering")).toArray());
        QStringList leaving = idsOf(diff.value(QStringLiteral("leaving")).toArray());
        QVERIFY(leaving.contains(added));
        for (const QString& id : entering)
            QVERIFY(!realIds.contains(id) && editedIds.contains(id));
        for (const QString& id : leaving)
            QVERIFY(realIds.contains(id) && !editedIds.contains(id));
        QCOMPARE(entering.size(), leaving.size()); // both lists have 20

        QCOMPARE(test::workspaceFileBytes(m_ws), before); // nothing written
    }

    // Cut a warm user down to a cold history: the cold-start path serves them.
    void candidatesTurnCold()
    {
        const int32_t u = warmUser();
        const QStringList history = historyIds(u);
        const Run r = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            m_ds.users[static_cast<size_t>(u)].externalId, QStringLiteral("--without"),
            history.mid(2).join(u','), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QCOMPARE(o.value(QStringLiteral("interactions")).toInt(), 2);
        QVERIFY(o.value(QStringLiteral("cold")).toBool());
    }

    void badIdsAreUsageErrors_data()
    {
        QTest::addColumn<QString>("option");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("message");
        QTest::addRow("unknown item") << QStringLiteral("--with") << QStringLiteral("no-such-item")
                                      << QStringLiteral("no item 'no-such-item'");
        QTest::addRow("without an item not in the history")
            << QStringLiteral("--without") << QStringLiteral("NOT_IN_HISTORY") << QStringLiteral("not in the history");
        QTest::addRow("with an item already in the history")
            << QStringLiteral("--with") << QStringLiteral("IN_HISTORY") << QStringLiteral("already in the history");
    }

    void badIdsAreUsageErrors()
    {
        QFETCH(QString, option);
        QFETCH(QString, value);
        QFETCH(QString, message);
        const int32_t u = warmUser();
        const QStringList history = historyIds(u);
        if (value == u"IN_HISTORY")
            value = history.first();
        if (value == u"NOT_IN_HISTORY")
            for (const Item& it : m_ds.items)
                if (!history.contains(it.externalId)) {
                    value = it.externalId;
                    break;
                }
        for (const QString& command : { QStringLiteral("candidates"), QStringLiteral("rerank") }) {
            const Run r = cli({ command, QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
                m_ds.users[static_cast<size_t>(u)].externalId, option, value });
            QCOMPARE(r.code, 2);
            QVERIFY2(r.err.contains(message), qPrintable(r.err));
        }
    }

    // rerank --with: the offline reranker on the edited history; no run is stored.
    void rerankWhatIfIsNotStored()
    {
        const int32_t u = warmUser();
        const QString user = m_ds.users[static_cast<size_t>(u)].externalId;
        const Run cands = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), user,
            QStringLiteral("-n"), QStringLiteral("1"), QStringLiteral("--json") });
        const QString added = idsOf(jsonOf(cands).value(QStringLiteral("candidates")).toArray()).first();
        // the first rerank of a workspace seeds the shipped templates: done before the snapshot
        const Run seed = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), user,
            QStringLiteral("--endpoint"), QStringLiteral("offline"), QStringLiteral("--no-store") });
        QVERIFY2(seed.code == 0, qPrintable(seed.err));
        const QByteArray before = test::workspaceFileBytes(m_ws);
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), user,
            QStringLiteral("--endpoint"), QStringLiteral("offline"), QStringLiteral("--with"), added,
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QCOMPARE(o.value(QStringLiteral("run_id")).toInteger(), 0);
        QCOMPARE(o.value(QStringLiteral("what_if_interactions")).toInt(), m_ds.interactionCount(u) + 1);
        QCOMPARE(o.value(QStringLiteral("user")).toString(), user);
        const QStringList picked = idsOf(o.value(QStringLiteral("items")).toArray());
        QCOMPARE(picked.size(), 10);
        QVERIFY(!picked.contains(added)); // it is history now
        QCOMPARE(test::workspaceFileBytes(m_ws), before);
        const Run two = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--cohort"),
            QStringLiteral("warm"), QStringLiteral("--limit"), QStringLiteral("2"), QStringLiteral("--endpoint"),
            QStringLiteral("offline"), QStringLiteral("--with"), added });
        QCOMPARE(two.code, 2);
        QVERIFY(two.err.contains(QStringLiteral("one --user")));
    }

    // A what-if saved as a synthetic user: `info` counts it, `candidates` and `rerank` say
    // so, and `eval` leaves it out (same users and figures as before it was saved).
    void syntheticUserMarkedAndNotEvaluated()
    {
        const QString path = m_dir.filePath(QStringLiteral("synthetic.recwb"));
        test::generateSmallWorkspace(path);
        const QStringList evalArgs { QStringLiteral("eval"), QStringLiteral("-w"), path, QStringLiteral("--split"),
            QStringLiteral("loo"), QStringLiteral("--models"), QStringLiteral("itemknn"), QStringLiteral("--k"),
            QStringLiteral("10"), QStringLiteral("--json") };
        const Run base = cli(evalArgs);
        QVERIFY2(base.code == 0, qPrintable(base.err));
        const int32_t u = warmUser();
        const QString source = m_ds.users[static_cast<size_t>(u)].externalId;
        {
            const auto ws = Workspace::open(path);
            SyntheticUser su;
            su.externalId = QStringLiteral("syn-1");
            su.syntheticOf = source;
            for (const QString& id : historyIds(u))
                su.history.push_back({ id, 1.0, 0 });
            saveSyntheticUser(*ws, su);
        }
        const Run info = cli({ QStringLiteral("info"), QStringLiteral("-w"), path });
        QVERIFY2(info.code == 0, qPrintable(info.err));
        QVERIFY2(info.out.contains(QStringLiteral("Synthetic    1 ")), qPrintable(info.out));
        const Run infoJson = cli({ QStringLiteral("info"), QStringLiteral("-w"), path, QStringLiteral("--json") });
        QCOMPARE(jsonOf(infoJson).value(QStringLiteral("synthetic_users")).toInt(), 1);

        const Run cands = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), path, QStringLiteral("--user"),
            QStringLiteral("syn-1"), QStringLiteral("-n"), QStringLiteral("5") });
        QVERIFY2(cands.code == 0, qPrintable(cands.err));
        QVERIFY(cands.out.contains(QStringLiteral("Synthetic user (saved from a what-if of %1").arg(source)));
        const Run candsJson = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), path, QStringLiteral("--user"),
            QStringLiteral("syn-1"), QStringLiteral("-n"), QStringLiteral("5"), QStringLiteral("--json") });
        QCOMPARE(jsonOf(candsJson).value(QStringLiteral("synthetic_of")).toString(), source);
        const Run real = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), path, QStringLiteral("--user"), source,
            QStringLiteral("-n"), QStringLiteral("5"), QStringLiteral("--json") });
        QVERIFY(jsonOf(real).value(QStringLiteral("synthetic_of")).isNull());
        const Run rr = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), path, QStringLiteral("--user"),
            QStringLiteral("syn-1"), QStringLiteral("--endpoint"), QStringLiteral("offline"), QStringLiteral("--no-store") });
        QVERIFY2(rr.code == 0, qPrintable(rr.err));
        QVERIFY(rr.out.contains(QStringLiteral("Synthetic user syn-1 (saved from a what-if of %1").arg(source)));

        const Run after = cli(evalArgs);
        QVERIFY2(after.code == 0, qPrintable(after.err));
        const QJsonObject b = QJsonDocument::fromJson(base.out.split(u'\n').first().toUtf8()).object();
        const QJsonObject a = QJsonDocument::fromJson(after.out.split(u'\n').first().toUtf8()).object();
        QVERIFY(b.value(QStringLiteral("users_evaluated")).toInt() > 100);
        QCOMPARE(a.value(QStringLiteral("users_evaluated")).toInt(), b.value(QStringLiteral("users_evaluated")).toInt());
        QCOMPARE(a.value(QStringLiteral("ndcg@10")).toDouble(), b.value(QStringLiteral("ndcg@10")).toDouble());
    }
};

QTEST_GUILESS_MAIN(TestCliWhatIf)
#include "tst_cli_whatif.moc"
