// recwb-cli experiment end to end on ML-100K (strat75) against the local test LLM server:
// the three-arm experiment and its stored rows, the CF arm against `recwb-cli eval`, a
// failing assertion, no held-out item reaching the reranker, kill and resume, and a cost
// cap refused before any call.
#include "testllmserver.h"
#include "testutil.h"

#include "cf/recommender.h"
#include "data/import/importers.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "eval/split.h"
#include "pipeline/experiment.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <cmath>
#include <csignal>
#include <memory>
#include <unistd.h>

using namespace recwb;

class TestCliExperiment : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    test::TestLlmServer m_server;
    std::shared_ptr<const Dataset> m_ds;

    using Run = test::CliRun;
    static Run cli(const QStringList& args) { return test::runCliAsync(args, QStringLiteral("sk-fake-experiment-7")); }

    QString writeSpec(const QString& name, const QByteArray& json)
    {
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(json) < 0)
            return {};
        return path;
    }

    Run runExperiment(const QString& file, const QStringList& extra = {})
    {
        return cli(QStringList { QStringLiteral("experiment"), QStringLiteral("run"), file, QStringLiteral("-w"), m_ws }
            + extra);
    }

    static qint64 storedRows(const QString& ws, qint64 id)
    {
        const auto w = Workspace::open(ws);
        sql::Statement st(w->db(), "SELECT COUNT(*) FROM experiment_rows WHERE experiment_id = ?");
        st.bind(1, static_cast<int64_t>(id));
        return st.step() ? st.int64(0) : -1;
    }

    static QSet<QString> storedUsers(const QString& ws, qint64 id, const QString& arm)
    {
        const auto w = Workspace::open(ws);
        sql::Statement st(w->db(), "SELECT user_id FROM experiment_rows WHERE experiment_id = ? AND arm = ?");
        st.bind(1, static_cast<int64_t>(id)).bind(2, arm);
        QSet<QString> out;
        while (st.step())
            out.insert(st.text(0));
        return out;
    }

    // The user part of a recorded chat request.
    static QString userText(const test::RecordedRequest& r)
    {
        QString text;
        for (const QJsonValue& m : r.json().value(QStringLiteral("messages")).toArray())
            if (m.toObject().value(QStringLiteral("role")).toString() == u"user")
                text += m.toObject().value(QStringLiteral("content")).toString();
        return text;
    }

    static QString promptUser(const QString& text)
    {
        static const QRegularExpression re(QStringLiteral("^User (\\S+) \\("), QRegularExpression::MultilineOption);
        return re.match(text).captured(1);
    }

private slots:
    void initTestCase()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_ws = m_dir.filePath(QStringLiteral("ml100k.recwb"));
        {
            auto ws = Workspace::open(m_ws, Workspace::Mode::CreateOrOpen);
            importMovieLens100k(*ws, test::sharedData(QStringLiteral("ml-100k")));
            m_ds = std::make_shared<const Dataset>(ws->load());
        }
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("test"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), m_server.openAiBaseUrl(), QStringLiteral("--model"),
            QStringLiteral("gpt-test"), QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY"),
            QStringLiteral("--timeout-ms"), QStringLiteral("5000"), QStringLiteral("--max-retries"),
            QStringLiteral("0"), QStringLiteral("--price-input"), QStringLiteral("0.4"),
            QStringLiteral("--price-cached"), QStringLiteral("0.1"), QStringLiteral("--price-output"),
            QStringLiteral("1.6") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
    }

    // EASE, EASE + offline, EASE + the test server on a sample of strat75: exit 0, every
    // row stored, the LLM arm answered by the server for every user, and nothing held out
    // reaches the reranker: the prompt's history is the user's TRAIN history (no held-out
    // title, the train count as "interactions") and its candidates are EASE-on-train's top 50
    // over the catalog minus the train items, so a held-out item appears only where CF put it.
    void threeArmsAndNoLeak()
    {
        const QString file = writeSpec(QStringLiteral("three.json"),
            R"({"name": "three arms", "split": "strat75", "seed": 42, "cohort": {"sample": 24, "of": "all"},
                "k": [10], "arms": {"A": "cf=ease", "B": "cf=ease,rerank=offline", "C": "cf=ease,rerank=test"},
                "assert": ["fallback_share(C) <= 0.02", "llm_share(C) >= 1"]})");
        m_server.resetCounters();
        m_server.setRecordAll(true);
        const Run r = runExperiment(file, { QStringLiteral("--json") });
        m_server.setRecordAll(false);
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out));
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        const qint64 id = o.value(QStringLiteral("id")).toInteger();
        QVERIFY(id > 0);
        QCOMPARE(o.value(QStringLiteral("users")).toInt(), 24);
        QCOMPARE(storedRows(m_ws, id), 3 * 24);
        const QJsonObject arms = o.value(QStringLiteral("arms")).toObject();
        QCOMPARE(arms.keys(), (QStringList { QStringLiteral("A"), QStringLiteral("B"), QStringLiteral("C") }));
        for (const QString& a : arms.keys()) {
            const QJsonObject f = arms.value(a).toObject();
            QCOMPARE(f.value(QStringLiteral("users")).toInt(), 24);
            for (const char* key : { "ndcg@10", "hr@10", "recall@10", "mrr@10", "cost_usd", "fallback_share" })
                QVERIFY2(f.contains(QLatin1StringView(key)), key);
        }
        QCOMPARE(arms.value(QStringLiteral("C")).toObject().value(QStringLiteral("llm_share")).toDouble(), 1.0);
        QVERIFY2(arms.value(QStringLiteral("C")).toObject().value(QStringLiteral("cost_usd")).toDouble() > 0,
            qPrintable(compactOf(arms.value(QStringLiteral("C")).toObject())));
        QCOMPARE(arms.value(QStringLiteral("A")).toObject().value(QStringLiteral("cost_usd")).toDouble(), 0.0);
        // B and C against A, per metric
        QCOMPARE(o.value(QStringLiteral("comparisons")).toArray().size(), 2 * 4);
        for (const QJsonValue& a : o.value(QStringLiteral("assertions")).toArray())
            QVERIFY2(a.toObject().value(QStringLiteral("passed")).toBool(), qPrintable(compactOf(a.toObject())));
        QCOMPARE(m_server.requestCount(), 24);

        // The leak check, on every request body the server received.
        const eval::Split split = eval::makeSplit(*m_ds, QStringLiteral("strat75"), 42);
        auto ease = cf::makeRecommender(QStringLiteral("ease"));
        ease->fit(split.train);
        QCOMPARE(m_server.requests().size(), 24);
        QSet<QString> seen;
        int heldOutAsCandidate = 0;
        for (const test::RecordedRequest& req : m_server.requests()) {
            const QString text = userText(req);
            const QString userId = promptUser(text);
            const int32_t u = m_ds->userIndex(userId);
            QVERIFY2(u >= 0, qPrintable(text.left(200)));
            seen.insert(userId);
            const auto& test = split.test[static_cast<size_t>(u)];
            QVERIFY(!test.empty());
            QVERIFY2(text.contains(QStringLiteral("%1 interactions)").arg(split.train.rowLength(u))),
                "the prompt's interaction count is not the train count");
            const auto h0 = text.indexOf(QStringLiteral("Recent history"));
            const auto c0 = text.indexOf(QStringLiteral("Candidates ("));
            QVERIFY(h0 > 0 && c0 > h0);
            const QString history = text.mid(h0, c0 - h0);
            QSet<QString> trainTitles;
            for (const int32_t item : cf::History::ofUser(split.train, u).items)
                trainTitles.insert(m_ds->items[static_cast<size_t>(item)].title);
            for (const int32_t item : test) {
                const QString title = m_ds->items[static_cast<size_t>(item)].title;
                if (!trainTitles.contains(title)) // ML-100K repeats a few titles
                    QVERIFY2(!history.contains(QStringLiteral("- %1 [").arg(title)),
                        qPrintable(
                            QStringLiteral("user %1: held-out '%2' in the prompt's history").arg(userId, title)));
            }
            QStringList expected;
            for (const cf::ScoredItem& s : cf::recommend(*ease, cf::History::ofUser(split.train, u), 50))
                expected << m_ds->items[static_cast<size_t>(s.item)].externalId;
            const QStringList got = test::TestLlmServer::extractCandidateIds(text.mid(c0));
            QCOMPARE(got, expected);
            for (const int32_t item : test)
                heldOutAsCandidate += got.contains(m_ds->items[static_cast<size_t>(item)].externalId) ? 1 : 0;
        }
        QCOMPARE(seen.size(), 24);
        QVERIFY(heldOutAsCandidate > 0); // the check above could fail: held-out items are ranked candidates

        // show reopens it from storage with the same figures
        const Run show = cli({ QStringLiteral("experiment"), QStringLiteral("show"), QString::number(id),
            QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        QVERIFY2(show.code == 0, qPrintable(show.err));
        const QJsonObject shown = QJsonDocument::fromJson(show.out.toUtf8()).object();
        for (const QString& a : arms.keys())
            QCOMPARE(
                shown.value(QStringLiteral("arms")).toObject().value(a).toObject().value(QStringLiteral("ndcg@10")),
                arms.value(a).toObject().value(QStringLiteral("ndcg@10")));
        QCOMPARE(m_server.requestCount(), 24);
    }

    // The CF arm on all 943 users equals `recwb-cli eval` EASE on the same split.
    void cfArmEqualsEval()
    {
        const QString file = writeSpec(QStringLiteral("ease.json"),
            R"({"name": "ease only", "split": "strat75", "seed": 42, "cohort": "all", "k": [10, 20],
                "arms": {"EASE": "cf=ease"}})");
        const Run r = runExperiment(file, { QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject arm = QJsonDocument::fromJson(r.out.toUtf8())
                                    .object()
                                    .value(QStringLiteral("arms"))
                                    .toObject()
                                    .value(QStringLiteral("EASE"))
                                    .toObject();
        const Run e = cli({ QStringLiteral("eval"), QStringLiteral("-w"), m_ws, QStringLiteral("--split"),
            QStringLiteral("strat75"), QStringLiteral("--seed"), QStringLiteral("42"), QStringLiteral("--models"),
            QStringLiteral("ease"), QStringLiteral("--k"), QStringLiteral("10,20"), QStringLiteral("--json") });
        QVERIFY2(e.code == 0, qPrintable(e.err));
        const QJsonObject ev = QJsonDocument::fromJson(e.out.split(u'\n').first().toUtf8()).object();
        QCOMPARE(arm.value(QStringLiteral("users")).toInt(), ev.value(QStringLiteral("users_evaluated")).toInt());
        for (const char* key : { "ndcg@10", "hr@10", "recall@10", "mrr@10", "ndcg@20", "coverage@10", "novelty@10" }) {
            const double a = arm.value(QLatin1StringView(key)).toDouble();
            const double b = ev.value(QLatin1StringView(key)).toDouble();
            QVERIFY2(std::abs(a - b) < 5e-5,
                qPrintable(QStringLiteral("%1: %2 vs eval %3").arg(QLatin1StringView(key)).arg(a).arg(b)));
        }
        QVERIFY(arm.value(QStringLiteral("ndcg@10")).toDouble() > 0.3);
    }

    void failingAssertionExitsOne()
    {
        const QString file = writeSpec(QStringLiteral("gate.json"),
            R"({"name": "gate", "cohort": {"sample": 20}, "arms": {"A": "cf=ease", "B": "cf=pop"},
                "assert": ["hr@10(B) >= 0", "ndcg@10(B) >= ndcg@10(A) ", "ci_low(ndcg@10, B - A) > 0"]})");
        const Run r = runExperiment(file);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(QStringLiteral("assertion failed: ndcg@10(B) >= ndcg@10(A)")), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("assertion failed: ci_low(ndcg@10, B - A) > 0")), qPrintable(r.err));
        QVERIFY2(!r.err.contains(QStringLiteral("assertion failed: hr@10(B) >= 0")), qPrintable(r.err));
    }

    // --report and report --out write through the core renderers (pipeline/experimentreport.h):
    // the long CSV with text fields defused (an arm named like a formula gets a ' in front),
    // the JSON with every per-user row and the bootstrap intervals.
    void reportsGoThroughTheRenderer()
    {
        const QString file = writeSpec(QStringLiteral("formula.json"),
            R"({"name": "formula arm", "cohort": {"sample": 12}, "arms": {"=A1": "cf=ease", "B": "cf=pop"}})");
        const QString csvPath = m_dir.filePath(QStringLiteral("formula.csv"));
        const Run r = runExperiment(file, { QStringLiteral("--json"), QStringLiteral("--report"), csvPath });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out));
        const qint64 id = QJsonDocument::fromJson(r.out.toUtf8()).object().value(QStringLiteral("id")).toInteger();
        QVERIFY(id > 0);
        QFile csv(csvPath);
        QVERIFY(csv.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(csv.readAll()).split(QStringLiteral("\r\n"), Qt::SkipEmptyParts);
        QCOMPARE(lines.value(0), QStringLiteral("experiment,arm,cohort,metric,value,users"));
        QVERIFY2(lines.value(1).startsWith(QStringLiteral("%1,\"'=A1\",").arg(id)), qPrintable(lines.value(1)));
        for (const QString& line : lines)
            QVERIFY2(!line.contains(QStringLiteral(",\"=")) && !line.contains(QStringLiteral(",=")), qPrintable(line));

        const QString jsonPath = m_dir.filePath(QStringLiteral("formula.json.out.json"));
        const Run rep = cli({ QStringLiteral("experiment"), QStringLiteral("report"), QString::number(id),
            QStringLiteral("-w"), m_ws, QStringLiteral("--out"), jsonPath });
        QVERIFY2(rep.code == 0, qPrintable(rep.err + rep.out));
        QFile json(jsonPath);
        QVERIFY(json.open(QIODevice::ReadOnly));
        const QJsonObject o = QJsonDocument::fromJson(json.readAll()).object();
        QCOMPARE(o.value(QStringLiteral("rows")).toArray().size(), 2 * 12);
        QVERIFY(!o.value(QStringLiteral("intervals")).toArray().isEmpty());
    }

    void badFileIsUsageError_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("message");
        QTest::addRow("bad assertion") << QByteArray(
            R"({"name": "x", "arms": {"A": "cf=ease"}, "assert": ["ndcg@10(A) >> 1"]})")
                                       << QStringLiteral("assertion 'ndcg@10(A) >> 1'");
        QTest::addRow("unknown arm in assertion")
            << QByteArray(R"({"name": "x", "arms": {"A": "cf=ease"}, "assert": ["ndcg@10(Z) > 1"]})")
            << QStringLiteral("no arm 'Z'");
        QTest::addRow("bad arm") << QByteArray(R"({"name": "x", "arms": {"A": "cf=ease,rernk=x"}})")
                                 << QStringLiteral("unknown key 'rernk'");
        QTest::addRow("bad json") << QByteArray("{\"name\": \"x\",\n \"arms\": }")
                                  << QStringLiteral(":2: not valid JSON");
    }
    void badFileIsUsageError()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, message);
        const QString file = writeSpec(QStringLiteral("bad.json"), json);
        m_server.resetCounters();
        const Run r = runExperiment(file);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("bad.json")), qPrintable(r.err));
        QCOMPARE(m_server.requestCount(), 0);
    }

    // A cap below the projection is refused before any call; nothing is stored.
    void tooSmallCapIsRefusedBeforeAnyCall()
    {
        const QString file = writeSpec(QStringLiteral("cap.json"),
            R"({"name": "capped", "cohort": {"sample": 30}, "max_cost": 0.0001,
                "arms": {"A": "cf=ease", "C": "cf=ease,rerank=test"}})");
        m_server.resetCounters();
        int before = 0;
        {
            const auto ws = Workspace::open(m_ws);
            before = static_cast<int>(pipeline::experimentstore::list(*ws).size());
        }
        const Run r = runExperiment(file);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(QStringLiteral("refused before any call")), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("over the cap")), qPrintable(r.err));
        QCOMPARE(m_server.requestCount(), 0);
        // --max-cost overrides the file's cap the same way
        const Run r2 = runExperiment(file, { QStringLiteral("--max-cost"), QStringLiteral("0.00001") });
        QCOMPARE(r2.code, 2);
        QCOMPARE(m_server.requestCount(), 0);
        const auto ws = Workspace::open(m_ws);
        QCOMPARE(static_cast<int>(pipeline::experimentstore::list(*ws).size()), before);
    }

    // SIGKILL half way, then the same command again: the stored users are not sent again.
    void killedRunResumes()
    {
        const QString file = writeSpec(QStringLiteral("resume.json"),
            R"({"name": "resume", "cohort": {"sample": 48}, "chunk": 4, "arms": {"C": "cf=ease,rerank=test"}})");
        m_server.resetCounters();
        m_server.setFault(QStringLiteral("delay:150"));
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("sk-fake-experiment-7"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(RECWB_CLI_PATH),
            { QStringLiteral("experiment"), QStringLiteral("run"), file, QStringLiteral("-w"), m_ws });
        QVERIFY(p.waitForStarted());
        qint64 id = 0;
        qint64 rows = 0;
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 60000 && p.state() == QProcess::Running) {
            QTest::qWait(20);
            const auto ws = Workspace::open(m_ws);
            for (const auto& i : pipeline::experimentstore::list(*ws))
                if (i.name == u"resume") {
                    id = i.id;
                    rows = i.rows;
                }
            if (rows >= 12)
                break;
        }
        QVERIFY2(p.state() == QProcess::Running,
            qPrintable(QStringLiteral("the run ended before it could be killed (%1 rows, exit %2): %3")
                           .arg(rows)
                           .arg(p.exitCode())
                           .arg(QString::fromUtf8(p.readAllStandardError()))));
        ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
        QVERIFY(p.waitForFinished());
        m_server.clearFault();
        QTest::qWait(200); // answers to the killed process's calls drain
        const QSet<QString> done = storedUsers(m_ws, id, QStringLiteral("C"));
        QVERIFY2(done.size() >= 12 && done.size() < 48, qPrintable(QString::number(done.size())));
        {
            const auto ws = Workspace::open(m_ws);
            QCOMPARE(pipeline::experimentstore::loadRows(*ws, id, nullptr, false).status, QStringLiteral("running"));
        }

        m_server.resetCounters();
        m_server.setRecordAll(true);
        const Run r = runExperiment(file, { QStringLiteral("--json") });
        m_server.setRecordAll(false);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("resuming")), qPrintable(r.err));
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o.value(QStringLiteral("id")).toInteger(), id);
        QCOMPARE(o.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(o.value(QStringLiteral("resumed_rows")).toInt(), done.size());
        QCOMPARE(storedRows(m_ws, id), 48);
        // no finished user was sent again (a user answered but not stored may come from the cache)
        QVERIFY(m_server.requestCount() <= 48 - done.size());
        for (const test::RecordedRequest& req : m_server.requests())
            QVERIFY2(!done.contains(promptUser(userText(req))), "a stored user was reranked again");
        QCOMPARE(o.value(QStringLiteral("arms"))
                     .toObject()
                     .value(QStringLiteral("C"))
                     .toObject()
                     .value(QStringLiteral("users"))
                     .toInt(),
            48);
    }

    // Issue 13: four `experiment run --shard I/4` processes at once, then `experiment merge`:
    // one experiment whose figures, paired comparisons and assertions equal the unsharded
    // run's (latency aside: timings).
    void shardsMergeIntoTheUnshardedExperiment()
    {
        const QString file = writeSpec(QStringLiteral("shards.json"),
            R"json({"name": "shards", "split": "strat75", "seed": 42, "cohort": {"sample": 60, "of": "all"}, "k": [10, 20],
                "arms": {"A": "cf=ease", "B": "cf=ease,rerank=offline", "P": "cf=pop"},
                "assert": ["ndcg@10(A) > 0", "ndcg@10(P) >= ndcg@10(A)", "ci_low(ndcg@10, B - A) > -1"]})json");
        const Run whole = runExperiment(file, { QStringLiteral("--json"), QStringLiteral("--new") });
        QCOMPARE(whole.code, 1); // popularity does not beat EASE: the merge must say so too
        QVERIFY2(whole.err.contains(QStringLiteral("assertion failed: ndcg@10(P) >= ndcg@10(A)")), qPrintable(whole.err));
        const qint64 wholeId = QJsonDocument::fromJson(whole.out.toUtf8()).object().value(QStringLiteral("id")).toInteger();
        QVERIFY(wholeId > 0);

        std::vector<std::unique_ptr<QProcess>> procs;
        for (int i = 0; i < 4; ++i) {
            procs.push_back(std::make_unique<QProcess>());
            procs.back()->start(QStringLiteral(RECWB_CLI_PATH),
                { QStringLiteral("experiment"), QStringLiteral("run"), file, QStringLiteral("-w"), m_ws,
                    QStringLiteral("--json"), QStringLiteral("--new"), QStringLiteral("--shard"), QStringLiteral("%1/4").arg(i) });
        }
        QStringList ids;
        QSet<QString> seen;
        for (auto& p : procs) {
            QVERIFY(p->waitForFinished(300000));
            QVERIFY2(p->exitCode() <= 1, p->readAllStandardError().constData()); // 1: an assertion on the shard
            const QJsonObject o = QJsonDocument::fromJson(p->readAllStandardOutput()).object();
            ids.append(QString::number(o.value(QStringLiteral("id")).toInteger()));
            QCOMPARE(o.value(QStringLiteral("spec")).toObject().value(QStringLiteral("shard")).toString(),
                QStringLiteral("%1/4").arg(&p - procs.data()));
            const auto w = Workspace::open(m_ws);
            for (const QString& u : pipeline::experimentstore::loadRows(*w, ids.back().toLongLong(), nullptr, false).users) {
                QVERIFY2(!seen.contains(u), qPrintable(u)); // in one shard only
                seen.insert(u);
            }
        }
        QCOMPARE(seen.size(), 60);

        const Run merged = cli(QStringList { QStringLiteral("experiment"), QStringLiteral("merge"), QStringLiteral("-w"),
                                   m_ws, QStringLiteral("--json") }
            + ids);
        QCOMPARE(merged.code, 1); // the same failing assertion
        QVERIFY2(merged.err.contains(QStringLiteral("assertion failed: ndcg@10(P) >= ndcg@10(A)")), qPrintable(merged.err));
        const qint64 mergedId = QJsonDocument::fromJson(merged.out.toUtf8()).object().value(QStringLiteral("id")).toInteger();
        const auto show = [this](qint64 id) {
            const Run r = cli({ QStringLiteral("experiment"), QStringLiteral("show"), QString::number(id),
                QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
            return QJsonDocument::fromJson(r.out.toUtf8()).object();
        };
        const QJsonObject a = show(mergedId);
        const QJsonObject b = show(wholeId);
        QCOMPARE(a.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(a.value(QStringLiteral("users")), b.value(QStringLiteral("users")));
        QCOMPARE(a.value(QStringLiteral("spec")), b.value(QStringLiteral("spec"))); // no shard left in it
        QCOMPARE(withoutLatency(a.value(QStringLiteral("arms"))), withoutLatency(b.value(QStringLiteral("arms"))));
        QCOMPARE(a.value(QStringLiteral("comparisons")), b.value(QStringLiteral("comparisons")));
        QCOMPARE(withoutLatency(a.value(QStringLiteral("assertions"))), withoutLatency(b.value(QStringLiteral("assertions"))));
        QVERIFY(a.value(QStringLiteral("arms")).toObject().value(QStringLiteral("A")).toObject().value(QStringLiteral("ndcg@10")).toDouble() > 0);

        // The same shards, each writing a file of its own against a read-only copy of the
        // workspace (as root: run as nobody, whom the permissions bind); merged from the files.
        const std::optional<QStringList> unprivileged = test::unprivilegedPrefix();
        if (!unprivileged)
            QSKIP("running as root without setpriv: permissions cannot be taken away");
        const QStringList prefix = *unprivileged;
        QTemporaryDir roDir(QDir::tempPath() + QStringLiteral("/recwb-ro-XXXXXX"));
        QTemporaryDir outDir(QDir::tempPath() + QStringLiteral("/recwb-shards-XXXXXX"));
        QVERIFY(roDir.isValid() && outDir.isValid());
        QVERIFY(!QFileInfo::exists(m_ws + QStringLiteral("-wal"))); // every connection closed: the file is whole
        const QString ro = roDir.filePath(QStringLiteral("ro.recwb"));
        QVERIFY(QFile::copy(m_ws, ro));
        const QString roSpec = outDir.filePath(QStringLiteral("shards.json")); // nobody cannot read m_dir
        QVERIFY(QFile::copy(file, roSpec));
        const auto all = QFileDevice::ReadOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup | QFileDevice::ExeGroup
            | QFileDevice::ReadOther | QFileDevice::ExeOther;
        QFile::setPermissions(roSpec, QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
        QFile::setPermissions(ro, QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
        QFile::setPermissions(roDir.path(), all);
        QFile::setPermissions(outDir.path(), all | QFileDevice::WriteOwner | QFileDevice::WriteGroup | QFileDevice::WriteOther);
        const QByteArray before = test::workspaceFileBytes(ro);
        const QDateTime mtime = QFileInfo(ro).lastModified();
        QStringList files;
        std::vector<std::unique_ptr<QProcess>> outProcs;
        for (int i = 0; i < 4; ++i) {
            files.append(outDir.filePath(QStringLiteral("exp-%1.recwb").arg(i)));
            outProcs.push_back(std::make_unique<QProcess>());
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("HOME"), outDir.path());
            outProcs.back()->setProcessEnvironment(env);
            const QStringList args = prefix
                + QStringList { QStringLiteral(RECWB_CLI_PATH), QStringLiteral("experiment"), QStringLiteral("run"), roSpec,
                      QStringLiteral("-w"), ro, QStringLiteral("--json"), QStringLiteral("--shard"),
                      QStringLiteral("%1/4").arg(i), QStringLiteral("--out"), files.back() };
            outProcs.back()->start(args.first(), args.mid(1));
        }
        for (auto& p : outProcs) {
            QVERIFY(p->waitForFinished(300000));
            const QByteArray err = p->readAllStandardError();
            QVERIFY2(p->exitCode() <= 1, err.constData()); // 1: an assertion on the shard
            QVERIFY2(QJsonDocument::fromJson(p->readAllStandardOutput()).object().value(QStringLiteral("id")).toInteger() > 0,
                err.constData());
        }
        QCOMPARE(test::workspaceFileBytes(ro), before);
        QCOMPARE(QFileInfo(ro).lastModified(), mtime);
        const Run again = cli({ QStringLiteral("experiment"), QStringLiteral("run"), roSpec, QStringLiteral("-w"), ro,
            QStringLiteral("--shard"), QStringLiteral("0/4"), QStringLiteral("--out"), files[0] });
        QVERIFY2(again.code != 0 && again.err.contains(QStringLiteral("holds the finished shard 0/4")), qPrintable(again.err));
        const Run fromFiles = cli(QStringList { QStringLiteral("experiment"), QStringLiteral("merge"),
                                      QStringLiteral("-w"), m_ws, QStringLiteral("--json") }
            + files);
        QCOMPARE(fromFiles.code, 1); // the same failing assertion
        const QJsonObject c = show(QJsonDocument::fromJson(fromFiles.out.toUtf8()).object().value(QStringLiteral("id")).toInteger());
        QCOMPARE(c.value(QStringLiteral("users")), b.value(QStringLiteral("users")));
        QCOMPARE(c.value(QStringLiteral("spec")), b.value(QStringLiteral("spec")));
        QCOMPARE(withoutLatency(c.value(QStringLiteral("arms"))), withoutLatency(b.value(QStringLiteral("arms"))));
        QCOMPARE(c.value(QStringLiteral("comparisons")), b.value(QStringLiteral("comparisons")));
        QCOMPARE(withoutLatency(c.value(QStringLiteral("assertions"))), withoutLatency(b.value(QStringLiteral("assertions"))));
        QFile::setPermissions(roDir.path(), all | QFileDevice::WriteOwner);

        // Named refusals: a missing shard, a duplicate, an experiment that is not a shard.
        const auto merge = [this](const QStringList& parts) {
            return cli(QStringList { QStringLiteral("experiment"), QStringLiteral("merge"), QStringLiteral("-w"), m_ws } + parts);
        };
        const Run missing = merge(ids.mid(0, 3));
        QVERIFY2(missing.code != 0 && missing.err.contains(QStringLiteral("missing shard 3/4")), qPrintable(missing.err));
        const Run twice = merge(ids + QStringList { ids.first() });
        QVERIFY2(twice.code != 0 && twice.err.contains(QStringLiteral("shard 0/4 given twice")), qPrintable(twice.err));
        const Run notShard = merge(ids.mid(1) + QStringList { QString::number(wholeId) });
        QVERIFY2(notShard.code != 0 && notShard.err.contains(QStringLiteral("is not a shard")), qPrintable(notShard.err));
    }

private:
    // The value with every "latency_ms" and "latency_p95_ms" key removed (timings differ run to run).
    static QJsonValue withoutLatency(const QJsonValue& v)
    {
        if (v.isObject()) {
            QJsonObject o;
            const QJsonObject in = v.toObject();
            for (auto it = in.begin(); it != in.end(); ++it)
                if (!it.key().startsWith(QStringLiteral("latency")))
                    o.insert(it.key(), withoutLatency(it.value()));
            return o;
        }
        if (v.isArray()) {
            QJsonArray a;
            for (const QJsonValue& e : v.toArray())
                a.append(withoutLatency(e));
            return a;
        }
        return v;
    }

    static QString compactOf(const QJsonObject& o)
    {
        return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
    }
};

QTEST_MAIN(TestCliExperiment)
#include "tst_cli_experiment.moc"
