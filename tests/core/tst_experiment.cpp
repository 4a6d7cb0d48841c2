// Experiments in the library: the file and assertion parsers (bad input rows), the figures
// and assertions over rows, and a run through the RerankService on a generated workspace
// whose CF arm equals the evaluator per user, stored and reopened without recomputing.
#include "testutil.h"

#include "data/workspace.h"
#include "eval/evaluator.h"
#include "pipeline/experiment.h"
#include "pipeline/rerankservice.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <cmath>

using namespace recwb;
using namespace recwb::pipeline;

class TestExperiment : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    static UserRow row(const QString& arm, const QString& user, double ndcg, bool cold = false, double cost = 0)
    {
        UserRow r;
        r.arm = arm;
        r.userId = user;
        r.cold = cold;
        r.items = { QStringLiteral("i1"), QStringLiteral("i2") };
        std::array<double, eval::kMetricCount> m {};
        m[static_cast<size_t>(eval::Metric::NDCG)] = ndcg;
        m[static_cast<size_t>(eval::Metric::HR)] = ndcg > 0 ? 1 : 0;
        r.metrics = { m };
        r.cost = cost;
        r.llmCalled = cost > 0;
        return r;
    }

private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void specParses()
    {
        const QByteArray json = R"J({"name": "gate", "split": "cold@3", "seed": 7,
            "cohort": {"sample": 50, "of": "warm"}, "k": [20, 10, 20],
            "arms": {"Zeta": "cf=ease", "Alpha": "cf=ease,rerank=offline,repeats=3", "Mid": "cf=pop,rerank=offline,k=5,routing=cold"},
            "max_cost": 0.5, "assert": ["ndcg@10(Alpha) >= ndcg@10(Zeta)", "ci_low(ndcg@10, Alpha - Zeta) > -0.01"]})J";
        const ExperimentSpec s = ExperimentSpec::fromJson(json, QStringLiteral("gate.json"));
    QCOMPARE(s.name, QStringLiteral("gate"));
    QCOMPARE(s.split, QStringLiteral("cold@3"));
    QCOMPARE(s.seed, quint64(7));
    QCOMPARE(s.ks, (std::vector<int> { 10, 20 }));
    QCOMPARE(s.cohort.kind, CohortSpec::Kind::Sample);
    QCOMPARE(s.cohort.of, CohortSpec::Kind::Warm);
    QCOMPARE(s.cohort.sample, 50);
    // arms in file order, not sorted
    QCOMPARE(s.arms.size(), size_t(3));
    QCOMPARE(s.arms[0].name, QStringLiteral("Zeta"));
    QCOMPARE(s.arms[1].name, QStringLiteral("Alpha"));
    QCOMPARE(s.arms[0].spec.k, 20); // no k=: the largest K
    QCOMPARE(s.arms[1].repeats, 3);
    QCOMPARE(s.arms[2].spec.k, 5);
    QCOMPARE(s.arms[2].routing, QStringLiteral("cold"));
    QVERIFY(!s.arms[2].routingPolicy().everyone);
    QVERIFY(s.arms[2].routingPolicy().cold);
    QVERIFY(!s.arms[2].routingPolicy().lowConfidence);
    QCOMPARE(*s.maxCostUsd, 0.5);
    // round trip through the stored form
    const ExperimentSpec back = ExperimentSpec::fromJson(QJsonDocument(s.toJson()).toJson(), QStringLiteral("stored"));
    QCOMPARE(back.toJson(), s.toJson());
    QCOMPARE(back.arms[1].name, QStringLiteral("Alpha"));
    QCOMPARE(back.arms[2].spec.k, 5);
    QCOMPARE(back.arms[0].spec.k, 20);
}

    void badSpec_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("message");
    QTest::addRow("not json") << QByteArray("{\"name\": \"x\",\n\n \"arms\": [}")
                              << QStringLiteral("f.json:3: not valid JSON");
    QTest::addRow("no name") << QByteArray(R"J({"arms": {"A": "cf=ease"}})J")
                             << QStringLiteral("f.json: name is required");
    QTest::addRow("no arms") << QByteArray(R"J({"name": "x"})J") << QStringLiteral("f.json: arms is required");
    QTest::addRow("unknown key") << QByteArray(R"J({"name": "x", "arms": {"A": "cf=ease"}, "kk": 1})J")
                                 << QStringLiteral("unknown key 'kk'");
    QTest::addRow("bad split") << QByteArray(R"J({"name": "x", "split": "half", "arms": {"A": "cf=ease"}})J")
                               << QStringLiteral("f.json: split:");
    QTest::addRow("bad cohort") << QByteArray(R"J({"name": "x", "cohort": "young", "arms": {"A": "cf=ease"}})J")
                                << QStringLiteral("f.json: cohort: 'young' is not a cohort");
    QTest::addRow("bad sample") << QByteArray(R"J({"name": "x", "cohort": {"sample": 0}, "arms": {"A": "cf=ease"}})J")
                                << QStringLiteral("cohort: sample must be a whole number");
    QTest::addRow("bad k") << QByteArray(R"J({"name": "x", "k": [10, 0], "arms": {"A": "cf=ease"}})J")
                           << QStringLiteral("f.json: k must be a whole number from 1 to 200");
    QTest::addRow("negative cap") << QByteArray(R"J({"name": "x", "max_cost": -1, "arms": {"A": "cf=ease"}})J")
                                  << QStringLiteral("max_cost must be an amount");
    QTest::addRow("arm not a string") << QByteArray(R"J({"name": "x", "arms": {"A": 3}})J")
                                      << QStringLiteral("arm 'A' must be an arm spec string");
    QTest::addRow("bad arm key") << QByteArray(R"J({"name": "x", "arms": {"A": "cf=ease,rernk=x"}})J")
                                 << QStringLiteral("arm 'A': arm 'cf=ease,rernk=x': unknown key 'rernk'");
    QTest::addRow("bad repeats") << QByteArray(R"J({"name": "x", "arms": {"A": "cf=ease,repeats=0"}})J")
                                 << QStringLiteral("repeats=0 must be a whole number from 1 to 20");
    QTest::addRow("routing without reranker") << QByteArray(R"J({"name": "x", "arms": {"A": "cf=ease,routing=cold"}})J")
                                              << QStringLiteral("routing= needs a reranker");
    QTest::addRow("stored run arm") << QByteArray(R"J({"name": "x", "arms": {"A": "cf=run:3"}})J")
                                    << QStringLiteral("cannot be an experiment arm");
    QTest::addRow("arm name with space") << QByteArray(R"J({"name": "x", "arms": {"my arm": "cf=ease"}})J")
                                         << QStringLiteral("'my arm' is not an arm name");
    QTest::addRow("assertion bad op") << QByteArray(
        R"J({"name": "x", "arms": {"A": "cf=ease"}, "assert": ["ndcg@10(A) => 1"]})J")
                                      << QStringLiteral("f.json: assert: assertion 'ndcg@10(A) => 1'");
    QTest::addRow("assertion K not run") << QByteArray(
        R"J({"name": "x", "arms": {"A": "cf=ease"}, "assert": ["ndcg@20(A) > 0"]})J")
                                         << QStringLiteral("K = 20 is not in the file's");
}
void badSpec()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, message);
    try {
        ExperimentSpec::fromJson(json, QStringLiteral("f.json"));
        QFAIL("no error");
    } catch (const Error& e) {
        QVERIFY2(e.message().contains(message), qPrintable(e.message()));
    }
}

void assertionParses()
{
    const Assertion a = Assertion::parse(QStringLiteral("ndcg@10(B)>=ndcg@10(A)"));
    QCOMPARE(a.kind, Assertion::Kind::CompareArms);
    QCOMPARE(a.metric, QStringLiteral("ndcg@10"));
    QCOMPARE(a.arm, QStringLiteral("B"));
    QCOMPARE(a.op, QStringLiteral(">="));
    QCOMPARE(a.rightArm, QStringLiteral("A"));
    const Assertion c = Assertion::parse(QStringLiteral("ci_low(ndcg@10, B - A) > 0"));
    QCOMPARE(c.kind, Assertion::Kind::Paired);
    QCOMPARE(c.pairedFn, QStringLiteral("ci_low"));
    QCOMPARE(c.arm, QStringLiteral("B"));
    QCOMPARE(c.rightArm, QStringLiteral("A"));
    const Assertion f = Assertion::parse(QStringLiteral("cost_per_1k_users(B) <= 0.50"));
    QCOMPARE(f.kind, Assertion::Kind::Compare);
    QCOMPARE(f.number, 0.5);
}

void badAssertion_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("message");
    QTest::addRow("empty") << QString() << QStringLiteral("empty");
    QTest::addRow("no arm") << QStringLiteral("ndcg@10 >= 0.3") << QStringLiteral("expected METRIC(ARM)");
    QTest::addRow("not a number") << QStringLiteral("ndcg@10(A) >= high") << QStringLiteral("'high' is not a number");
    QTest::addRow("unknown figure") << QStringLiteral("speed(A) > 1") << QStringLiteral("'speed' is not a figure");
    QTest::addRow("same arm twice") << QStringLiteral("ci_low(ndcg@10, A - A) > 0") << QStringLiteral("with itself");
    QTest::addRow("paired not per user") << QStringLiteral("ci_low(cost_usd, B - A) > 0")
                                         << QStringLiteral("not a per-user metric@K");
    QTest::addRow("unknown arm") << QStringLiteral("hr@10(C) > 0") << QStringLiteral("no arm 'C'");
}
void badAssertion()
{
    QFETCH(QString, text);
    QFETCH(QString, message);
    const ExperimentSpec spec = ExperimentSpec::fromJson(
        R"J({"name": "x", "arms": {"A": "cf=ease", "B": "cf=pop"}})J", QStringLiteral("f.json"));
    try {
        Assertion::parse(text, &spec);
        QFAIL("no error");
    } catch (const Error& e) {
        QVERIFY2(e.message().contains(message), qPrintable(e.message()));
        QVERIFY2(e.message().contains(QStringLiteral("assertion '%1'").arg(text.trimmed())), qPrintable(e.message()));
    }
}

// Figures per arm and cohort, the paired comparison and the assertions, from rows.
void figuresAndAssertionsFromRows()
{
    ExperimentResult r;
        r.spec = ExperimentSpec::fromJson(R"J({"name": "x", "arms": {"A": "cf=ease", "B": "cf=ease,rerank=offline"},
            "assert": ["ndcg@10(B) > ndcg@10(A)", "ci_low(ndcg@10, B - A) > 0", "cost_per_1k_users(B) <= 0.5",
                       "fallback_share(B) <= 0"]
})J",
            QStringLiteral("f.json"));
r.catalogSize = 10;
for (int u = 0; u < 30; ++u) {
    const QString id = QStringLiteral("u%1").arg(u);
    r.users << id;
    const bool cold = u < 10;
    r.rows.push_back(row(QStringLiteral("A"), id, 0.2, cold));
    // B better on every warm user, worse on cold ones; costs 0.0004 per user
    r.rows.push_back(row(QStringLiteral("B"), id, cold ? 0.1 : 0.5, cold, 0.0004));
}
summarize(r);
const ArmFigures* a = r.figuresFor(QStringLiteral("A"));
const ArmFigures* b = r.figuresFor(QStringLiteral("B"));
QVERIFY(a&& b);
QCOMPARE(a->users, 30);
QVERIFY(std::abs(*b->value(QStringLiteral("ndcg@10")) - (10 * 0.1 + 20 * 0.5) / 30) < 1e-12);
QVERIFY(std::abs(*r.figuresFor(QStringLiteral("B"), QStringLiteral("cold"))->value(QStringLiteral("ndcg@10")) - 0.1)
    < 1e-12);
QCOMPARE(r.figuresFor(QStringLiteral("B"), QStringLiteral("warm"))->users, 20);
QVERIFY(std::abs(b->costUsd - 30 * 0.0004) < 1e-12);
QVERIFY(std::abs(b->costPer1kUsers() - 0.4) < 1e-9);
QCOMPARE(b->llmShare, 1.0);
QCOMPARE(*b->value(QStringLiteral("coverage@10")), 0.2);
const ArmComparison* c = r.comparison(QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("ndcg@10"));
QVERIFY(c);
QCOMPARE(c->stats.users, 30);
QVERIFY(c->stats.ci.low > 0);
QCOMPARE(c->stats.verdict, eval::PairedComparison::Verdict::BBeatsA);
QCOMPARE(c->worstUsers.size(), size_t(10)); // the cold users, where B hurts
QCOMPARE(c->worstUsers.front().second, 0.1 - 0.2);
QCOMPARE(r.assertions.size(), size_t(4));
for (const AssertionResult& x : r.assertions)
    QVERIFY2(x.passed, qPrintable(x.text + u' ' + x.detail));
// the same comparison restricted by hand: B loses on cold users
const ArmComparison any = compareArms(r, QStringLiteral("B"), QStringLiteral("A"), QStringLiteral("hr@10"));
QCOMPARE(any.stats.meanDiff, 0.0);
QVERIFY_THROWS_EXCEPTION(Error, compareArms(r, QStringLiteral("A"), QStringLiteral("Z"), QStringLiteral("ndcg@10")));
const QJsonObject json = r.toJson();
QCOMPARE(json.value(QStringLiteral("arms"))
             .toObject()
             .value(QStringLiteral("B"))
             .toObject()
             .value(QStringLiteral("cost_usd"))
             .toDouble(),
    b->costUsd);
QCOMPARE(json.value(QStringLiteral("passed")).toBool(), true);
}

// Through the service on a generated workspace: the CF arm equals the evaluator per user;
// the offline arm with repeats is stable (tau 1); the stored experiment reopens with the
// same figures; a second run of the same spec is a new experiment.
void runOnGeneratedWorkspace()
{
    const QString path = m_dir.filePath(QStringLiteral("gen.recwb"));
    test::generateSmallWorkspace(path);
    std::shared_ptr<const Dataset> ds;
    {
        const auto ws = Workspace::open(path);
        ds = std::make_shared<const Dataset>(ws->load());
    }
    const ExperimentSpec spec = ExperimentSpec::fromJson(
        R"J({"name": "gen", "split": "loo", "k": [5, 10], "chunk": 16,
                "arms": {"CF": "cf=ease", "OFF": "cf=ease,rerank=offline,repeats=2"}})J",
        QStringLiteral("gen.json"));
    RerankService service;
    service.open(path);
    ExperimentRun run(service, path, ds);
    QSignalSpy finished(&run, &ExperimentRun::finished);
    QSignalSpy failed(&run, &ExperimentRun::failed);
    QSignalSpy progress(&run, &ExperimentRun::progress);
    run.start(spec);
    QVERIFY(run.isRunning());
    QVERIFY2(finished.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().first().toString()));
    const auto result = finished.first().first().value<ExperimentResult>();
    QCOMPARE(result.status, QStringLiteral("finished"));
    QVERIFY(progress.size() >= 2);
    QCOMPARE(progress.last().at(0).toInt(), progress.last().at(1).toInt());

    const eval::Split split = eval::makeSplit(*ds, QStringLiteral("loo"));
    const eval::EvalResult ev = eval::runEvaluation(QStringLiteral("ease"), {}, split, *ds, { 5, 10 });
    QCOMPARE(result.users.size(), static_cast<qsizetype>(ev.users.size()));
    QCOMPARE(result.rows.size(), ev.users.size() * 3);
    QHash<QString, const UserRow*> cf;
    for (const UserRow& r : result.rows)
        if (r.arm == u"CF")
            cf.insert(r.userId, &r);
    for (size_t i = 0; i < ev.users.size(); ++i) {
        const UserRow* r = cf.value(ds->users[static_cast<size_t>(ev.users[i])].externalId);
        QVERIFY(r);
        for (size_t j = 0; j < 2; ++j)
            for (const eval::Metric m : eval::kAllMetrics)
                QCOMPARE(r->metric(m, j), ev.atK[j].perUser[static_cast<size_t>(m)][i]);
    }
    const ArmFigures* f = result.figuresFor(QStringLiteral("CF"));
    QCOMPARE(*f->value(QStringLiteral("coverage@10")), ev.at(10).coverage);
    const ArmFigures* off = result.figuresFor(QStringLiteral("OFF"));
    QCOMPARE(off->repeats, 2);
    QVERIFY(off->kendallTau);
    QCOMPARE(*off->kendallTau, 1.0); // the offline reranker is deterministic
    QVERIFY(!f->kendallTau);

    // reopened from storage: the same figures, no model, no call
    const auto ws = Workspace::open(path);
    const ExperimentResult stored = experimentstore::load(*ws, result.id);
    QCOMPARE(stored.status, QStringLiteral("finished"));
    QCOMPARE(stored.toJson(false).value(QStringLiteral("arms")), result.toJson(false).value(QStringLiteral("arms")));
    QCOMPARE(stored.rows.size(), result.rows.size());
    const auto list = experimentstore::list(*ws);
    QCOMPARE(list.back().id, result.id);
    QCOMPARE(list.back().rows, static_cast<int>(result.rows.size()));
    QVERIFY(!experimentstore::findUnfinished(*ws, spec));
}
// cancel() stores what is done as "canceled"; the same spec started again resumes it.
void cancelThenResume()
{
    const QString path = m_dir.filePath(QStringLiteral("cancel.recwb"));
    test::generateSmallWorkspace(path);
    std::shared_ptr<const Dataset> ds;
    {
        const auto ws = Workspace::open(path);
        ds = std::make_shared<const Dataset>(ws->load());
    }
    const ExperimentSpec spec = ExperimentSpec::fromJson(
        R"J({"name": "cancel", "split": "loo", "chunk": 8, "arms": {"OFF": "cf=ease,rerank=offline"}})J",
        QStringLiteral("cancel.json"));
    RerankService service;
    service.open(path);
    ExperimentRun run(service, path, ds);
    QSignalSpy finished(&run, &ExperimentRun::finished);
    int total = 0;
    const auto connection = connect(&run, &ExperimentRun::progress, &run, [&](int done, int all) {
        total = all;
        if (done > 0 && done < all)
            run.cancel();
    });
    run.start(spec);
    QVERIFY(finished.wait(60000));
    const auto canceled = finished.first().first().value<ExperimentResult>();
    QCOMPARE(canceled.status, QStringLiteral("canceled"));
    const auto kept = static_cast<int>(canceled.rows.size());
    QVERIFY2(kept > 0 && kept < total, qPrintable(QStringLiteral("%1 of %2").arg(kept).arg(total)));
    {
        const auto ws = Workspace::open(path);
        QCOMPARE(experimentstore::findUnfinished(*ws, spec).value_or(0), canceled.id);
    }
    disconnect(connection);
    finished.clear();
    run.start(spec);
    QVERIFY(finished.wait(60000));
    const auto resumed = finished.first().first().value<ExperimentResult>();
    QCOMPARE(resumed.id, canceled.id);
    QCOMPARE(resumed.status, QStringLiteral("finished"));
    QCOMPARE(resumed.resumedUsers, kept);
    QCOMPARE(static_cast<int>(resumed.rows.size()), total);
}
}
;

QTEST_MAIN(TestExperiment)
#include "tst_experiment.moc"
