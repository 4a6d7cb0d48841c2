// The QA review queue core (issue #11): the store round trip and its upserts, verdicts that
// survive a SIGKILL right after the call returned, progress, Cohen's kappa against a hand
// computation, the summary's dimensions and moved buckets, hostile text in the CSV and JSON
// exports, and QueueBuilder end to end on ML-100K (simulated cold@1) and on a generated
// workspace (real cold users), with bad specs and cancel storing nothing.
#include "testutil.h"

#include "data/import/importers.h"
#include "data/workspace.h"
#include "eval/split.h"
#include "pipeline/rerankservice.h"
#include "review/review.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <random>
#include <set>
#include <sqlite3.h>

using namespace recwb;
using namespace recwb::review;

namespace {

// Every cell of the first row of `sql`, run on the workspace file through a connection of
// its own (what is on disk, not what a connection of the workspace caches).
QStringList firstRow(const QString& path, const QString& sql)
{
    QStringList out;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.toUtf8().constData(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql.toUtf8().constData(), -1, &st, nullptr) == SQLITE_OK
            && sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); ++c) {
                const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
                out << (text ? QString::fromUtf8(text) : QString());
            }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

qint64 countRows(const QString& path, const QString& sql)
{
    return firstRow(path, sql).value(0, QStringLiteral("-1")).toLongLong();
}

struct ItemSpec {
    QString id;
    QString title;
    int rank;
    int cfRank;
    QString source; // "" : not among the candidates
};

// A queued user with a reranked list of `items` and the candidates they came from.
QueueUser makeUser(int position, const QString& id, int known, const std::vector<ItemSpec>& items,
    const QString& endpoint = QStringLiteral("offline"), const QString& prompt = QStringLiteral("listwise@1"))
{
    QueueUser u;
    u.position = position;
    u.userId = id;
    u.known = known;
    for (int i = 0; i < known; ++i)
        u.knownItems << QStringLiteral("k%1_%2").arg(id).arg(i);
    u.truth = { QStringLiteral("t1"), QStringLiteral("t2") };
    u.profile
        = QJsonObject { { QStringLiteral("age"), 31 }, { QStringLiteral("occupation"), QStringLiteral("writer") } };
    u.statedCategories = { QStringLiteral("Drama") };
    QJsonArray list;
    for (const ItemSpec& it : items) {
        if (!it.source.isEmpty())
            u.candidates.push_back({ it.id, it.title, 1.0 / (it.cfRank + 1), it.source });
        list.append(QJsonObject { { QStringLiteral("item_id"), it.id }, { QStringLiteral("title"), it.title },
            { QStringLiteral("rank"), it.rank }, { QStringLiteral("cf_rank"), it.cfRank },
            { QStringLiteral("explanation"), QStringLiteral("because %1").arg(it.title) },
            { QStringLiteral("claims"), QJsonArray { QStringLiteral("claim of %1").arg(it.id) } } });
    }
    u.outcome = QJsonObject { { QStringLiteral("user"), id }, { QStringLiteral("answered_by"), endpoint },
        { QStringLiteral("model"), QStringLiteral("m-1") }, { QStringLiteral("template"), prompt },
        { QStringLiteral("items"), list } };
    return u;
}

VerdictRow vrow(const QString& user, const QString& item, const QString& reviewer, Verdict v)
{
    VerdictRow r;
    r.queueId = 1;
    r.userId = user;
    r.itemId = item;
    r.reviewer = reviewer;
    r.verdict = v;
    r.updated = QDateTime::fromSecsSinceEpoch(1700000000, Qt::UTC);
    return r;
}

QueueSpec simpleSpec(const QString& name)
{
    QueueSpec s;
    s.name = name;
    s.source = QStringLiteral("cold@2");
    s.sample = 5;
    s.seed = 7;
    s.k = 3;
    return s;
}

constexpr Verdict kCycle[] = { Verdict::Good, Verdict::Bad, Verdict::Unsure };

// Child mode (--write-verdicts WORKSPACE QUEUE REVIEWER): writes verdicts, printing each
// index after its call returned, until killed.
int writeVerdicts(const QString& path, qint64 queueId, const QString& reviewer)
{
    const auto ws = Workspace::open(path);
    for (int i = 0; i < 100000; ++i) {
        store::setVerdict(*ws, queueId, QStringLiteral("u%1").arg(i / 10), QStringLiteral("i%1").arg(i % 10), reviewer,
            kCycle[i % 3]);
        std::printf("%d\n", i);
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

class TestReview : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ml; // ML-100K imported once, "" when absent
    std::shared_ptr<const Dataset> m_mlData;

    QString newWorkspace(const QString& name)
    {
        const QString path = m_dir.filePath(name);
        Workspace::open(path, Workspace::Mode::CreateOrOpen);
        return path;
    }

    // ML-100K in a workspace of its own, imported once for the builder tests.
    bool ensureMovieLens()
    {
        if (!m_ml.isEmpty())
            return true;
        if (!QFileInfo::exists(test::sharedData(QStringLiteral("ml-100k"))))
            return false;
        const QString path = m_dir.filePath(QStringLiteral("ml100k.recwb"));
        const auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
        importMovieLens100k(*ws, test::sharedData(QStringLiteral("ml-100k")));
        m_mlData = std::make_shared<const Dataset>(ws->load());
        m_ml = path;
        return true;
    }

    // The small generated workspace (a tenth of its users cold), created when absent, loaded.
    static std::shared_ptr<const Dataset> generated(const QString& path)
    {
        if (!QFileInfo::exists(path))
            test::generateSmallWorkspace(path);
        const auto ws = Workspace::open(path);
        return std::make_shared<const Dataset>(ws->load());
    }

    static QStringList userIds(const std::vector<QueueUser>& users)
    {
        QStringList out;
        for (const QueueUser& u : users)
            out << u.userId;
        return out;
    }

    // The stored candidates are the ones the reranker saw: as many, and each reranked
    // item's cf_rank is its place in the stored (CF-ordered) list.
    static void sameCandidatesAsReranker(const QueueUser& u)
    {
        QCOMPARE(u.outcome.value(QStringLiteral("candidates")).toInt(), static_cast<int>(u.candidates.size()));
        for (const QJsonValue& v : u.items()) {
            const QJsonObject o = v.toObject();
            const QString id = o.value(QStringLiteral("item_id")).toString();
            const int cfRank = o.value(QStringLiteral("cf_rank")).toInt();
            QVERIFY2(cfRank >= 1 && cfRank <= static_cast<int>(u.candidates.size()),
                qPrintable(QStringLiteral("user %1 item %2 cf_rank %3").arg(u.userId, id).arg(cfRank)));
            QCOMPARE(u.candidates[static_cast<size_t>(cfRank - 1)].itemId, id);
        }
    }

    struct BuildResult {
        qint64 queueId = 0;
        QString error;
    };

    static BuildResult build(const QString& path, std::shared_ptr<const Dataset> ds, const QueueSpec& spec,
        bool cancelWhenStoring = false, bool cancelAtOnce = false)
    {
        pipeline::RerankService service;
        service.open(path);
        QueueBuilder builder(service, path, std::move(ds));
        QSignalSpy finished(&builder, &QueueBuilder::finished);
        QSignalSpy failed(&builder, &QueueBuilder::failed);
        if (cancelWhenStoring)
            QObject::connect(&builder, &QueueBuilder::progress, &builder, [&builder](int, int, const QString& stage) {
                if (stage == u"Storing the queue")
                    builder.cancel();
            });
        builder.start(spec);
        if (cancelAtOnce)
            builder.cancel();
        QElapsedTimer clock;
        clock.start();
        while (finished.isEmpty() && failed.isEmpty() && clock.elapsed() < 600000)
            QTest::qWait(50);
        BuildResult r;
        if (!finished.isEmpty())
            r.queueId = finished.first().first().toLongLong();
        if (!failed.isEmpty())
            r.error = failed.first().first().toString();
        if (finished.isEmpty() && failed.isEmpty())
            r.error = QStringLiteral("timeout");
        // No second signal after the first.
        QTest::qWait(200);
        if (finished.size() + failed.size() != 1)
            r.error = QStringLiteral("%1 finished and %2 failed signals").arg(finished.size()).arg(failed.size());
        return r;
    }

private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    // The spec as stored: round trip, the describe() text, refused values.
    void specJson()
    {
        QueueSpec s;
        s.name = QStringLiteral("q");
        s.sample = 200;
        QCOMPARE(s.describe(), QStringLiteral("simulated cold@1, sample 200 (seed 42), cf=ease,rerank=offline, K 10"));
        s.seed = 18446744073709551557ULL; // beyond a double's integers: stored as text
        s.source = QStringLiteral("cold@3");
        s.k = 7;
        s.arm = QStringLiteral("cf=pop,rerank=offline,candidates=30");
        const QueueSpec back = QueueSpec::fromJson(s.toJson());
        QCOMPARE(back.toJson(), s.toJson());
        QCOMPARE(back.seed, s.seed);
        QCOMPARE(back.coldN(), 3);
        QVERIFY(back.simulated());
        QueueSpec real;
        real.source = QStringLiteral("cold");
        QVERIFY(!real.simulated());
        QCOMPARE(real.coldN(), -1);
        QCOMPARE(real.describe(), QStringLiteral("real cold users, cf=ease,rerank=offline, K 10"));
        QJsonObject bad = s.toJson();
        bad.insert(QStringLiteral("source"), QStringLiteral("loo"));
        QVERIFY_THROWS_EXCEPTION(Error, QueueSpec::fromJson(bad));
        bad = s.toJson();
        bad.insert(QStringLiteral("sample"), -1);
        QVERIFY_THROWS_EXCEPTION(Error, QueueSpec::fromJson(bad));
    }

    // createQueue/addUsers/finishQueue/listQueues/findQueue/queueUsers: everything survives.
    void storeRoundTrip()
    {
        const QString path = newWorkspace(QStringLiteral("store.recwb"));
        const auto ws = Workspace::open(path);
        const QueueSpec spec = simpleSpec(QStringLiteral("first"));
        const qint64 a = store::createQueue(*ws, spec);
        const qint64 b = store::createQueue(*ws, simpleSpec(QStringLiteral("second")));
        QVERIFY(a > 0 && b > a);
        QCOMPARE(store::findQueue(*ws, a)->status, QStringLiteral("building"));

        std::vector<QueueUser> users {
            makeUser(0, QStringLiteral("u7"), 2,
                { { QStringLiteral("m1"), QStringLiteral("Heat"), 1, 3, QStringLiteral("content") },
                    { QStringLiteral("m2"), QStringLiteral("Alien"), 2, 1, QStringLiteral("popularity") } }),
            makeUser(1, QStringLiteral("u3"), 1, { { QStringLiteral("m3"), QStringLiteral("Ran"), 1, 0, QString() } })
        };
        store::addUsers(*ws, a, users);
        store::finishQueue(*ws, a, QStringLiteral("ready"));
        store::finishQueue(*ws, b, QStringLiteral("failed"), QStringLiteral("the endpoint refused"));

        const auto list = store::listQueues(*ws);
        QCOMPARE(list.size(), size_t(2));
        QCOMPARE(list[0].id, b); // newest first
        QCOMPARE(list[0].status, QStringLiteral("failed"));
        QCOMPARE(list[0].error, QStringLiteral("the endpoint refused"));
        QCOMPARE(list[0].users, 0);
        const auto q = store::findQueue(*ws, a);
        QVERIFY(q);
        QCOMPARE(q->status, QStringLiteral("ready"));
        QCOMPARE(q->users, 2);
        QCOMPARE(q->experimentId, qint64(0));
        QCOMPARE(q->spec.toJson(), spec.toJson());
        QCOMPARE(q->spec.coldN(), 2);
        QVERIFY(std::abs(q->created.secsTo(QDateTime::currentDateTimeUtc())) < 60);
        QVERIFY(!store::findQueue(*ws, b + 100));

        const auto back = store::queueUsers(*ws, a);
        QCOMPARE(back.size(), users.size());
        for (size_t i = 0; i < back.size(); ++i) {
            QCOMPARE(back[i].toJson(), users[i].toJson());
            QCOMPARE(back[i].position, static_cast<int>(i));
        }
        QCOMPARE(back[0].userId, QStringLiteral("u7"));
        QCOMPARE(back[0].knownItems.size(), 2);
        QCOMPARE(back[0].truth, (QStringList { QStringLiteral("t1"), QStringLiteral("t2") }));
        QCOMPARE(back[0].profile.value(QStringLiteral("occupation")).toString(), QStringLiteral("writer"));
        QCOMPARE(back[0].candidates.size(), size_t(2));
        QCOMPARE(back[0].candidates[1].source, QStringLiteral("popularity"));
        QCOMPARE(back[0].candidates[1].title, QStringLiteral("Alien"));
        QCOMPARE(back[0].sourceOf(QStringLiteral("m1")), QStringLiteral("content"));
        QCOMPARE(back[0].itemIds(), (QStringList { QStringLiteral("m1"), QStringLiteral("m2") }));
        QCOMPARE(back[0].items().at(0).toObject().value(QStringLiteral("explanation")).toString(),
            QStringLiteral("because Heat"));
        QCOMPARE(back[1].sourceOf(QStringLiteral("m3")), QString());
        // The spec the queue was stored with, reopened from another connection.
        QCOMPARE(
            QJsonDocument::fromJson(
                firstRow(path, QStringLiteral("SELECT spec FROM review_queues WHERE id = %1").arg(a)).value(0).toUtf8())
                .object()
                .value(QStringLiteral("source"))
                .toString(),
            QStringLiteral("cold@2"));
    }

    // setVerdict keeps the note, setNote keeps the verdict, None is NULL, two reviewers are
    // two rows, an empty reviewer is refused; removeQueue takes its users and verdicts.
    void verdictUpsertsAndRemove()
    {
        const QString path = newWorkspace(QStringLiteral("verdicts.recwb"));
        const auto ws = Workspace::open(path);
        const qint64 q = store::createQueue(*ws, simpleSpec(QStringLiteral("v")));
        const qint64 other = store::createQueue(*ws, simpleSpec(QStringLiteral("other")));
        store::addUsers(*ws, q,
            { makeUser(0, QStringLiteral("u1"), 1,
                { { QStringLiteral("m1"), QStringLiteral("A"), 1, 1, QStringLiteral("cf") } }) });
        store::addUsers(*ws, other,
            { makeUser(0, QStringLiteral("u1"), 1,
                { { QStringLiteral("m1"), QStringLiteral("A"), 1, 1, QStringLiteral("cf") } }) });
        const QString u1 = QStringLiteral("u1"), m1 = QStringLiteral("m1"), ann = QStringLiteral("ann"),
                      bob = QStringLiteral("bob");

        store::setNote(*ws, q, u1, m1, ann, QStringLiteral("a sequel, seen it"));
        auto rows = store::verdicts(*ws, q);
        QCOMPARE(rows.size(), size_t(1));
        QCOMPARE(rows[0].verdict, Verdict::None);
        store::setVerdict(*ws, q, u1, m1, ann, Verdict::Bad);
        rows = store::verdicts(*ws, q);
        QCOMPARE(rows.size(), size_t(1));
        QCOMPARE(rows[0].verdict, Verdict::Bad);
        QCOMPARE(rows[0].note, QStringLiteral("a sequel, seen it")); // setVerdict kept the note
        store::setNote(*ws, q, u1, m1, ann, QStringLiteral("changed my mind"));
        rows = store::verdicts(*ws, q);
        QCOMPARE(rows[0].verdict, Verdict::Bad); // setNote kept the verdict
        QCOMPARE(rows[0].note, QStringLiteral("changed my mind"));
        QCOMPARE(firstRow(path, QStringLiteral("SELECT verdict, note FROM review_verdicts")),
            (QStringList { QStringLiteral("bad"), QStringLiteral("changed my mind") }));

        store::setVerdict(*ws, q, u1, m1, ann, Verdict::None); // cleared: NULL, note stays
        QCOMPARE(
            countRows(path, QStringLiteral("SELECT count(*) FROM review_verdicts WHERE verdict IS NULL")), qint64(1));
        QCOMPARE(store::verdicts(*ws, q)[0].note, QStringLiteral("changed my mind"));

        // The same item by a second reviewer and the user note (item "") are rows of their own.
        store::setVerdict(*ws, q, u1, m1, bob, Verdict::Good);
        store::setNote(*ws, q, u1, QString(), bob, QStringLiteral("likes old films"));
        store::setVerdict(*ws, other, u1, m1, ann, Verdict::Good);
        QCOMPARE(store::verdicts(*ws, q).size(), size_t(3));
        QCOMPARE(store::verdicts(*ws, q, bob).size(), size_t(2));
        QCOMPARE(store::verdicts(*ws, q, ann).size(), size_t(1));
        QCOMPARE(store::reviewers(*ws, q), (QStringList { ann, bob }));
        QCOMPARE(
            countRows(path,
                QStringLiteral("SELECT count(*) FROM review_verdicts WHERE queue_id = %1 AND item_id = 'm1'").arg(q)),
            qint64(2));

        for (const QString& bad : { QString(), QStringLiteral("  ") }) {
            QVERIFY_THROWS_EXCEPTION(Error, store::setVerdict(*ws, q, u1, m1, bad, Verdict::Good));
            QVERIFY_THROWS_EXCEPTION(Error, store::setNote(*ws, q, u1, m1, bad, QStringLiteral("x")));
        }
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_verdicts")), qint64(4));

        QVERIFY(store::removeQueue(*ws, q));
        QVERIFY(!store::removeQueue(*ws, q));
        // A verdict on a queue that is gone is refused (foreign key), not stored as an orphan.
        QVERIFY_THROWS_EXCEPTION(Error, store::setVerdict(*ws, q, u1, m1, ann, Verdict::Good));
        QVERIFY(!store::findQueue(*ws, q));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_queues WHERE id = %1").arg(q)), qint64(0));
        QCOMPARE(
            countRows(path, QStringLiteral("SELECT count(*) FROM review_users WHERE queue_id = %1").arg(q)), qint64(0));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_verdicts WHERE queue_id = %1").arg(q)),
            qint64(0));
        // The other queue is untouched.
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_users WHERE queue_id = %1").arg(other)),
            qint64(1));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_verdicts WHERE queue_id = %1").arg(other)),
            qint64(1));
    }

    // A child writing verdicts is SIGKILLed right after a call returned (seeded points);
    // every verdict whose call returned is in the reopened workspace, which is intact.
    void verdictsSurviveKill()
    {
        const QString path = newWorkspace(QStringLiteral("kill.recwb"));
        qint64 q = 0;
        {
            const auto ws = Workspace::open(path);
            q = store::createQueue(*ws, simpleSpec(QStringLiteral("kill")));
        }
        std::mt19937 rng(12);
        for (int round = 0; round < 3; ++round) {
            const QString reviewer = QStringLiteral("child%1").arg(round);
            const int killAt = std::uniform_int_distribution<int>(20, 400)(rng);
            QProcess p;
            p.start(QCoreApplication::applicationFilePath(),
                { QStringLiteral("--write-verdicts"), path, QString::number(q), reviewer });
            QVERIFY(p.waitForStarted());
            QByteArray out;
            int returned = -1;
            while (returned < killAt && p.state() == QProcess::Running) {
                p.waitForReadyRead(10000);
                out += p.readAllStandardOutput();
                const QList<QByteArray> lines = out.split('\n');
                if (lines.size() >= 2)
                    returned = lines[lines.size() - 2].toInt();
            }
            QCOMPARE(p.state(), QProcess::Running); // still writing when killed
            ::kill(static_cast<pid_t>(p.processId()), SIGKILL);
            QVERIFY(p.waitForFinished(10000));
            QCOMPARE(p.exitStatus(), QProcess::CrashExit);
            out += p.readAllStandardOutput(); // printed before the kill: returned too
            const QList<QByteArray> lines = out.split('\n');
            int last = -1;
            for (const QByteArray& l : lines)
                if (!l.isEmpty())
                    last = l.toInt();
            QVERIFY(last >= killAt);

            QCOMPARE(firstRow(path, QStringLiteral("PRAGMA integrity_check")).value(0), QStringLiteral("ok"));
            const auto ws = Workspace::open(path);
            const auto rows = store::verdicts(*ws, q, reviewer);
            QVERIFY2(rows.size() >= static_cast<size_t>(last + 1),
                qPrintable(QStringLiteral("%1 verdicts returned, %2 stored").arg(last + 1).arg(rows.size())));
            QHash<QString, Verdict> stored;
            for (const VerdictRow& r : rows)
                stored.insert(r.userId + u'/' + r.itemId, r.verdict);
            for (int i = 0; i <= last; ++i) {
                const QString key = QStringLiteral("u%1/i%2").arg(i / 10).arg(i % 10);
                QVERIFY2(stored.contains(key), qPrintable(key));
                QCOMPARE(stored.value(key), kCycle[i % 3]);
            }
        }
    }

    // Only the given reviewer counts; resumeAt is the first user with an open item.
    void progressByReviewer()
    {
        const std::vector<QueueUser> users {
            makeUser(0, QStringLiteral("a"), 1,
                { { QStringLiteral("x"), QStringLiteral("X"), 1, 1, QStringLiteral("cf") },
                    { QStringLiteral("y"), QStringLiteral("Y"), 2, 2, QStringLiteral("cf") } }),
            makeUser(1, QStringLiteral("b"), 1,
                { { QStringLiteral("x"), QStringLiteral("X"), 1, 1, QStringLiteral("cf") },
                    { QStringLiteral("z"), QStringLiteral("Z"), 2, 2, QStringLiteral("cf") } }),
            makeUser(2, QStringLiteral("c"), 1,
                { { QStringLiteral("y"), QStringLiteral("Y"), 1, 1, QStringLiteral("cf") } }),
        };
        const QString ann = QStringLiteral("ann"), bob = QStringLiteral("bob");
        std::vector<VerdictRow> rows {
            vrow(QStringLiteral("a"), QStringLiteral("x"), ann, Verdict::Good),
            vrow(QStringLiteral("a"), QStringLiteral("y"), ann, Verdict::Unsure),
            vrow(QStringLiteral("b"), QStringLiteral("x"), ann, Verdict::Bad),
            vrow(QStringLiteral("b"), QStringLiteral("z"), ann, Verdict::None), // a note only: not judged
            vrow(QStringLiteral("b"), QString(), ann, Verdict::Good), // the user note does not count
            vrow(QStringLiteral("c"), QStringLiteral("y"), bob, Verdict::Good),
            vrow(QStringLiteral("c"), QStringLiteral("q"), ann, Verdict::Good), // not in the list
        };
        Progress p = progress(users, rows, ann);
        QCOMPARE(p.items, 5);
        QCOMPARE(p.judged, 3);
        QCOMPARE(p.usersDone, 1);
        QCOMPARE(p.resumeAt, 1);
        QCOMPARE(progress(users, rows, QStringLiteral(" ann ")).judged, 3); // trimmed, as the store writes it
        p = progress(users, rows, bob);
        QCOMPARE(p.judged, 1);
        QCOMPARE(p.usersDone, 1);
        QCOMPARE(p.resumeAt, 0);
        rows.push_back(
            vrow(QStringLiteral("b"), QStringLiteral("z"), ann, Verdict::Good)); // b: the note turns a verdict
        rows.erase(rows.begin() + 3);
        rows.push_back(vrow(QStringLiteral("c"), QStringLiteral("y"), ann, Verdict::Bad));
        p = progress(users, rows, ann);
        QCOMPARE(p.judged, 5);
        QCOMPARE(p.usersDone, 3);
        QCOMPARE(p.resumeAt, -1);
        QCOMPARE(progress(users, rows, QStringLiteral("nobody")).resumeAt, 0);
    }

    // Two raters over 10 items, rows = ann, columns = bob:
    //              good bad unsure | ann
    //     good       4    1    0   |  5
    //     bad        1    2    1   |  4
    //     unsure     0    0    1   |  1
    //     bob        5    3    2   | 10
    // po = (4 + 2 + 1) / 10 = 0.7
    // pe = (5/10)(5/10) + (4/10)(3/10) + (1/10)(2/10) = 0.25 + 0.12 + 0.02 = 0.39
    // kappa = (0.7 - 0.39) / (1 - 0.39) = 0.31 / 0.61 = 31/61 = 0.5081967213...
    // (sklearn is not installed here; cohen_kappa_score on the same labels gives 31/61.)
    void kappaTextbook()
    {
        const Verdict G = Verdict::Good, B = Verdict::Bad, U = Verdict::Unsure;
        const std::vector<std::pair<Verdict, Verdict>> pairs { { G, G }, { G, G }, { G, G }, { G, G }, { G, B },
            { B, G }, { B, B }, { B, B }, { B, U }, { U, U } };
        std::vector<VerdictRow> rows;
        for (size_t i = 0; i < pairs.size(); ++i) {
            // 10 items over 4 users
            const QString user = QStringLiteral("u%1").arg(i % 4), item = QStringLiteral("m%1").arg(i);
            rows.push_back(vrow(user, item, QStringLiteral("ann"), pairs[i].first));
            rows.push_back(vrow(user, item, QStringLiteral("bob"), pairs[i].second));
        }
        // Not shared: an item only carl judged, a cleared verdict, a note on the user.
        rows.push_back(vrow(QStringLiteral("u0"), QStringLiteral("m0"), QStringLiteral("carl"), G));
        rows.push_back(vrow(QStringLiteral("u9"), QStringLiteral("m9"), QStringLiteral("ann"), B));
        rows.push_back(vrow(QStringLiteral("u9"), QStringLiteral("m9"), QStringLiteral("bob"), Verdict::None));
        rows.push_back(vrow(QStringLiteral("u1"), QString(), QStringLiteral("ann"), G));
        rows.push_back(vrow(QStringLiteral("u1"), QString(), QStringLiteral("bob"), B));
        const auto all = agreement(rows);
        QCOMPARE(all.size(), size_t(3)); // ann-bob, ann-carl, bob-carl
        const Agreement& ab = all[0];
        QCOMPARE(ab.a, QStringLiteral("ann"));
        QCOMPARE(ab.b, QStringLiteral("bob"));
        QCOMPARE(ab.items, 10);
        QCOMPARE(ab.users, 4);
        QVERIFY(std::abs(ab.observed - 0.7) < 1e-12);
        QVERIFY(ab.kappa);
        QVERIFY2(std::abs(*ab.kappa - 31.0 / 61.0) < 1e-12, qPrintable(QString::number(*ab.kappa, 'g', 17)));
        QCOMPARE(ab.toJson().value(QStringLiteral("kappa")).toDouble(), *ab.kappa);
        // ann and carl share u0/m0, both good: pe == 1, no kappa (and JSON null).
        const Agreement& ac = all[1];
        QCOMPARE(ac.b, QStringLiteral("carl"));
        QCOMPARE(ac.items, 1);
        QCOMPARE(ac.users, 1);
        QCOMPARE(ac.observed, 1.0);
        QVERIFY(!ac.kappa);
        QVERIFY(ac.toJson().value(QStringLiteral("kappa")).isNull());
        // No common item at all.
        const auto none = agreement({ vrow(QStringLiteral("u1"), QStringLiteral("m1"), QStringLiteral("ann"), G),
            vrow(QStringLiteral("u1"), QStringLiteral("m2"), QStringLiteral("bob"), G) });
        QCOMPARE(none.size(), size_t(1));
        QCOMPARE(none[0].items, 0);
        QCOMPARE(none[0].users, 0);
        QVERIFY(!none[0].kappa);
        // Perfect agreement over two categories: kappa 1; complete disagreement: negative.
        const auto perfect = agreement({ vrow(QStringLiteral("u"), QStringLiteral("1"), QStringLiteral("a"), G),
            vrow(QStringLiteral("u"), QStringLiteral("1"), QStringLiteral("b"), G),
            vrow(QStringLiteral("u"), QStringLiteral("2"), QStringLiteral("a"), B),
            vrow(QStringLiteral("u"), QStringLiteral("2"), QStringLiteral("b"), B) });
        QCOMPARE(*perfect[0].kappa, 1.0);
        // a: G B, b: B G -> po 0, pe = .5*.5 + .5*.5 = .5, kappa = -1
        const auto opposite = agreement({ vrow(QStringLiteral("u"), QStringLiteral("1"), QStringLiteral("a"), G),
            vrow(QStringLiteral("u"), QStringLiteral("1"), QStringLiteral("b"), B),
            vrow(QStringLiteral("u"), QStringLiteral("2"), QStringLiteral("a"), B),
            vrow(QStringLiteral("u"), QStringLiteral("2"), QStringLiteral("b"), G) });
        QCOMPARE(*opposite[0].kappa, -1.0);
    }

    void movedBuckets_data()
    {
        QTest::addColumn<int>("cfRank");
        QTest::addColumn<int>("rank");
        QTest::addColumn<QString>("bucket");
        QTest::addRow("up 5 (cf 6 -> 1)") << 6 << 1 << QStringLiteral("up 5+");
        QTest::addRow("up 9") << 10 << 1 << QStringLiteral("up 5+");
        QTest::addRow("up 4 (cf 5 -> 1)") << 5 << 1 << QStringLiteral("up 1-4");
        QTest::addRow("up 1") << 3 << 2 << QStringLiteral("up 1-4");
        QTest::addRow("kept") << 4 << 4 << QStringLiteral("kept");
        QTest::addRow("down 1") << 2 << 3 << QStringLiteral("down 1-4");
        QTest::addRow("down 4") << 1 << 5 << QStringLiteral("down 1-4");
        QTest::addRow("down 5") << 1 << 6 << QStringLiteral("down 5+");
        QTest::addRow("cf rank 0") << 0 << 1 << QStringLiteral("not a candidate");
        QTest::addRow("cf rank -1") << -1 << 3 << QStringLiteral("not a candidate");
    }
    void movedBuckets()
    {
        QFETCH(int, cfRank);
        QFETCH(int, rank);
        QFETCH(QString, bucket);
        QCOMPARE(movedBucket(cfRank, rank), bucket);
    }

    // Good share by source, cold@n, endpoint, prompt and move, over every reviewer.
    void summaryDimensions()
    {
        const std::vector<QueueUser> users {
            makeUser(0, QStringLiteral("a"), 1,
                { { QStringLiteral("x"), QStringLiteral("X"), 1, 7, QStringLiteral("content") },
                    { QStringLiteral("y"), QStringLiteral("Y"), 2, 2, QStringLiteral("popularity") },
                    { QStringLiteral("w"), QStringLiteral("W"), 3, 0, QString() } },
                QStringLiteral("offline"), QStringLiteral("listwise@1")),
            makeUser(1, QStringLiteral("b"), 3,
                { { QStringLiteral("x"), QStringLiteral("X"), 1, 3, QStringLiteral("cf") },
                    { QStringLiteral("z"), QStringLiteral("Z"), 2, 9, QStringLiteral("content") } },
                QStringLiteral("gpt"), QStringLiteral("listwise@2")),
        };
        const QString ann = QStringLiteral("ann"), bob = QStringLiteral("bob");
        const std::vector<VerdictRow> rows {
            vrow(QStringLiteral("a"), QStringLiteral("x"), ann, Verdict::Good), // content, 1, offline, up 5+
            vrow(QStringLiteral("a"), QStringLiteral("x"), bob, Verdict::Bad), // the same, by bob
            vrow(QStringLiteral("a"), QStringLiteral("y"), ann, Verdict::Good), // popularity, kept
            vrow(QStringLiteral("a"), QStringLiteral("w"), ann, Verdict::Unsure), // unknown, not a candidate
            vrow(QStringLiteral("b"), QStringLiteral("x"), ann, Verdict::Good), // cf, 3, gpt, up 1-4
            vrow(QStringLiteral("b"), QStringLiteral("z"), ann, Verdict::Bad), // content, up 5+
            vrow(QStringLiteral("b"), QStringLiteral("z"), bob, Verdict::None), // no verdict: skipped
            vrow(QStringLiteral("b"), QString(), bob, Verdict::Good), // user note: skipped
            vrow(QStringLiteral("ghost"), QStringLiteral("x"), bob, Verdict::Good), // not queued: skipped
        };
        QMap<QString, std::array<int, 3>> got;
        for (const SummaryRow& s : summarize(users, rows))
            got.insert(s.dimension + u':' + s.value, { s.good, s.bad, s.unsure });
        const QMap<QString, std::array<int, 3>> want {
            { QStringLiteral("source:content"), { 1, 2, 0 } },
            { QStringLiteral("source:popularity"), { 1, 0, 0 } },
            { QStringLiteral("source:cf"), { 1, 0, 0 } },
            { QStringLiteral("source:unknown"), { 0, 0, 1 } },
            { QStringLiteral("cold@n:1"), { 2, 1, 1 } },
            { QStringLiteral("cold@n:3"), { 1, 1, 0 } },
            { QStringLiteral("endpoint:offline"), { 2, 1, 1 } },
            { QStringLiteral("endpoint:gpt"), { 1, 1, 0 } },
            { QStringLiteral("prompt:listwise@1"), { 2, 1, 1 } },
            { QStringLiteral("prompt:listwise@2"), { 1, 1, 0 } },
            { QStringLiteral("moved:up 5+"), { 1, 2, 0 } },
            { QStringLiteral("moved:kept"), { 1, 0, 0 } },
            { QStringLiteral("moved:up 1-4"), { 1, 0, 0 } },
            { QStringLiteral("moved:not a candidate"), { 0, 0, 1 } },
        };
        QCOMPARE(got, want);
        for (const SummaryRow& s : summarize(users, rows))
            if (s.dimension == u"source" && s.value == u"content") {
                QCOMPARE(s.total(), 3);
                QVERIFY(std::abs(s.goodShare() - 1.0 / 3) < 1e-12);
                QCOMPARE(s.toJson().value(QStringLiteral("good_share")).toDouble(), s.goodShare());
            }
    }

    // Hostile text is inert in the CSV and reads back into the same shape; the JSON holds
    // verdicts, agreement and summary; an unwritable path throws and leaves nothing.
    void exports()
    {
        const QString hostile = QStringLiteral("=HYPERLINK(\"http://evil\",\"x\"), part 2\nline two \x1b[31mred");
        std::vector<QueueUser> users { makeUser(0, QStringLiteral("u1"), 1,
            { { QStringLiteral("m1"), hostile, 1, 2, QStringLiteral("content") },
                { QStringLiteral("m2"), QStringLiteral("Plain"), 2, 1, QStringLiteral("cf") } }) };
        const QString ann = QStringLiteral("ann"), bob = QStringLiteral("bob");
        std::vector<VerdictRow> rows { vrow(QStringLiteral("u1"), QStringLiteral("m1"), ann, Verdict::Good),
            vrow(QStringLiteral("u1"), QStringLiteral("m1"), bob, Verdict::Bad),
            vrow(QStringLiteral("u1"), QStringLiteral("m2"), ann, Verdict::Good),
            vrow(QStringLiteral("u1"), QStringLiteral("m2"), bob, Verdict::Good),
            vrow(QStringLiteral("u1"), QString(), ann, Verdict::None) };
        rows[1].note = QStringLiteral("-2+3, \"quoted\"");
        rows[4].note = QStringLiteral("@SUM(A1)");
        Queue q;
        q.id = 4;
        q.spec = simpleSpec(QStringLiteral("exp"));
        q.status = QStringLiteral("ready");
        q.experimentId = 12;
        q.created = QDateTime::fromSecsSinceEpoch(1700000000, Qt::UTC);

        const QString csv = m_dir.filePath(QStringLiteral("out.csv"));
        exportCsv(csv, q, users, rows);
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray raw = f.readAll();
        QVERIFY(!raw.contains('\x1b'));
        QVERIFY(raw.contains("\\u001b[31m"));
        const auto table = readCsv(csv);
        QCOMPARE(table.size(), rows.size() + 1);
        const QStringList header = table[0];
        for (const QStringList& r : table)
            QCOMPARE(r.size(), header.size());
        const int title = static_cast<int>(header.indexOf(QStringLiteral("title")));
        const int note = static_cast<int>(header.indexOf(QStringLiteral("note")));
        const int item = static_cast<int>(header.indexOf(QStringLiteral("item")));
        const int verdict = static_cast<int>(header.indexOf(QStringLiteral("verdict")));
        const int run = static_cast<int>(header.indexOf(QStringLiteral("run")));
        const int source = static_cast<int>(header.indexOf(QStringLiteral("source")));
        QVERIFY(title >= 0 && note >= 0 && item >= 0 && verdict >= 0 && run >= 0 && source >= 0);
        // The user note first (rank 0), then by rank.
        QCOMPARE(table[1][item], QString());
        QCOMPARE(table[1][note], QStringLiteral("'@SUM(A1)"));
        int hostileRows = 0;
        for (size_t i = 1; i < table.size(); ++i) {
            const QStringList& r = table[i];
            for (const QString& cell : r)
                QVERIFY2(cell.isEmpty() || !QStringLiteral("=+-@").contains(cell.front()), qPrintable(cell));
            if (r[item] == u"m1") {
                ++hostileRows;
                QCOMPARE(
                    r[title], QStringLiteral("'=HYPERLINK(\"http://evil\",\"x\"), part 2\nline two \\u001b[31mred"));
                QCOMPARE(r[source], QStringLiteral("content"));
                QCOMPARE(r[run], QStringLiteral("experiment 12"));
            }
        }
        QCOMPARE(hostileRows, 2);
        bool bobBad = false;
        for (const QStringList& r : table)
            if (r[note] == u"'-2+3, \"quoted\"" && r[verdict] == u"bad")
                bobBad = true;
        QVERIFY(bobBad);

        const QString json = m_dir.filePath(QStringLiteral("out.json"));
        exportJson(json, q, users, rows);
        QFile j(json);
        QVERIFY(j.open(QIODevice::ReadOnly));
        QJsonParseError err;
        const QJsonObject doc = QJsonDocument::fromJson(j.readAll(), &err).object();
        QCOMPARE(err.error, QJsonParseError::NoError);
        QCOMPARE(doc.value(QStringLiteral("queue")).toObject().value(QStringLiteral("id")).toInt(), 4);
        QCOMPARE(doc.value(QStringLiteral("queue")).toObject().value(QStringLiteral("run")).toString(),
            QStringLiteral("experiment 12"));
        const QJsonArray vs = doc.value(QStringLiteral("verdicts")).toArray();
        QCOMPARE(vs.size(), static_cast<qsizetype>(rows.size()));
        int good = 0;
        for (const QJsonValue& v : vs) {
            const QJsonObject o = v.toObject();
            good += o.value(QStringLiteral("verdict")).toString() == u"good" ? 1 : 0;
            if (o.value(QStringLiteral("item")).toString() == u"m1")
                QCOMPARE(o.value(QStringLiteral("title")).toString(), hostile); // JSON escapes it itself
            if (o.value(QStringLiteral("item")).toString().isEmpty())
                QVERIFY(o.value(QStringLiteral("verdict")).isNull());
        }
        QCOMPARE(good, 3);
        const QJsonArray ag = doc.value(QStringLiteral("agreement")).toArray();
        QCOMPARE(ag.size(), 1);
        QCOMPARE(ag[0].toObject().value(QStringLiteral("items")).toInt(), 2);
        QCOMPARE(ag[0].toObject().value(QStringLiteral("observed")).toDouble(), 0.5);
        QVERIFY(!doc.value(QStringLiteral("summary")).toArray().isEmpty());
        bool contentRow = false;
        for (const QJsonValue& v : doc.value(QStringLiteral("summary")).toArray()) {
            const QJsonObject o = v.toObject();
            if (o.value(QStringLiteral("dimension")).toString() == u"source"
                && o.value(QStringLiteral("value")).toString() == u"content") {
                contentRow = true;
                QCOMPARE(o.value(QStringLiteral("good")).toInt(), 1);
                QCOMPARE(o.value(QStringLiteral("bad")).toInt(), 1);
            }
        }
        QVERIFY(contentRow);

        // Unwritable, even as root: a folder that does not exist, a path under a file, a
        // path that is a folder. Each throws naming the path and leaves no file behind.
        const QString folder = m_dir.filePath(QStringLiteral("exports"));
        QVERIFY(QDir().mkpath(folder + QStringLiteral("/taken.json")));
        QFile plain(folder + QStringLiteral("/plain.csv"));
        QVERIFY(plain.open(QIODevice::WriteOnly));
        plain.close();
        const QStringList before = QDir(folder).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
        const QStringList bad { folder + QStringLiteral("/no/such/dir/out.csv"),
            folder + QStringLiteral("/plain.csv/out.json"), folder + QStringLiteral("/taken.json") };
        for (const QString& target : bad)
            for (const bool asJson : { false, true }) {
                try {
                    if (asJson)
                        exportJson(target, q, users, rows);
                    else
                        exportCsv(target, q, users, rows);
                    QFAIL(qPrintable(QStringLiteral("no error for %1").arg(target)));
                } catch (const Error& e) {
                    QVERIFY2(e.message().contains(target), qPrintable(e.message()));
                }
            }
        QCOMPARE(QDir(folder).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot), before);
        QVERIFY(QFileInfo(folder + QStringLiteral("/taken.json")).isDir());
        QCOMPARE(QFileInfo(folder + QStringLiteral("/plain.csv")).size(), qint64(0));
        QVERIFY(QDir(folder + QStringLiteral("/taken.json")).isEmpty());
    }

    // Simulated cold@1 on ML-100K: 30 users cut to their first interaction, the rest as truth.
    void buildSimulatedOnMovieLens()
    {
        if (!ensureMovieLens())
            QSKIP("../shared/data/ml-100k is absent: skipping the real-data test");
        QueueSpec spec;
        spec.name = QStringLiteral("ml cold@1");
        spec.source = QStringLiteral("cold@1");
        spec.sample = 30;
        spec.seed = 42;
        spec.arm = QStringLiteral("cf=ease,rerank=offline");
        spec.k = 10;
        const BuildResult r = build(m_ml, m_mlData, spec);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(r.queueId > 0);

        const auto ws = Workspace::open(m_ml);
        const auto q = store::findQueue(*ws, r.queueId);
        QVERIFY(q);
        QCOMPARE(q->status, QStringLiteral("ready"));
        QCOMPARE(q->users, 30);
        QVERIFY(q->experimentId > 0);
        QCOMPARE(q->spec.toJson(), spec.toJson());
        const auto users = store::queueUsers(*ws, r.queueId);
        QCOMPARE(users.size(), size_t(30));

        const Dataset& ds = *m_mlData;
        const eval::Split split = eval::splitColdN(ds, 1);
        const std::set<int32_t> evaluated(split.evaluatedUsers.begin(), split.evaluatedUsers.end());
        const QStringList coldSources { QStringLiteral("content"), QStringLiteral("profile"),
            QStringLiteral("category"), QStringLiteral("popularity"), QStringLiteral("cf") };
        QSet<QString> ids;
        QSet<QString> sourcesSeen;
        for (size_t i = 0; i < users.size(); ++i) {
            const QueueUser& u = users[i];
            QCOMPARE(u.position, static_cast<int>(i));
            ids.insert(u.userId);
            const int32_t x = ds.userIndex(u.userId);
            QVERIFY2(x >= 0 && evaluated.count(x), qPrintable(u.userId));
            // Known: the user's first interaction by time.
            QCOMPARE(u.known, 1);
            QCOMPARE(u.knownItems.size(), 1);
            const auto row = ds.userItems.row(x);
            const auto ts = ds.userItems.rowTimestamps(x);
            QVERIFY(!ts.empty());
            const int64_t first = *std::min_element(ts.begin(), ts.end());
            const auto trainRow = split.train.row(x);
            QCOMPARE(trainRow.size(), size_t(1));
            QCOMPARE(u.knownItems[0], ds.items[static_cast<size_t>(trainRow[0])].externalId);
            const auto at = std::lower_bound(row.begin(), row.end(), trainRow[0]);
            QCOMPARE(ts[static_cast<size_t>(at - row.begin())], first);
            // Truth: every later interaction, as the split holds out.
            QSet<QString> want;
            for (const int32_t item : split.test[static_cast<size_t>(x)])
                want.insert(ds.items[static_cast<size_t>(item)].externalId);
            QCOMPARE(u.truth.size(), row.size() - 1);
            QCOMPARE(QSet<QString>(u.truth.begin(), u.truth.end()), want);
            QVERIFY(!want.contains(u.knownItems[0]));
            // Candidates from the cold-start blend, each with its source.
            QVERIFY(!u.candidates.empty());
            for (const Candidate& c : u.candidates) {
                QVERIFY2(coldSources.contains(c.source), qPrintable(c.source));
                sourcesSeen.insert(c.source);
                QVERIFY(!u.knownItems.contains(c.itemId));
            }
            // The reranked list: 10 items with explanations, drawn from the candidates shown.
            const QStringList list = u.itemIds();
            QCOMPARE(list.size(), 10);
            for (const QJsonValue& v : u.items()) {
                const QJsonObject o = v.toObject();
                QVERIFY(!o.value(QStringLiteral("explanation")).toString().isEmpty());
                QVERIFY(!o.value(QStringLiteral("title")).toString().isEmpty());
            }
            for (const QString& id : list) {
                QVERIFY2(!u.sourceOf(id).isEmpty(),
                    qPrintable(QStringLiteral("user %1: item %2 not among the stored candidates").arg(u.userId, id)));
                QVERIFY(!u.knownItems.contains(id));
            }
            QCOMPARE(u.outcome.value(QStringLiteral("answered_by")).toString(), QStringLiteral("offline"));
            QVERIFY(u.outcome.value(QStringLiteral("cold_start")).toBool());
            sameCandidatesAsReranker(u);
            if (QTest::currentTestFailed())
                return;
            if (i > 0) // the cohort's order: ascending user index
                QVERIFY(ds.userIndex(users[i - 1].userId) < x);
        }
        QCOMPARE(ids.size(), 30);

        // Seeded: the same spec samples the same users; another seed other users.
        const BuildResult again = build(m_ml, m_mlData, spec);
        QVERIFY2(again.error.isEmpty(), qPrintable(again.error));
        QVERIFY(again.queueId != r.queueId);
        QCOMPARE(userIds(store::queueUsers(*ws, again.queueId)), userIds(users));
        spec.seed = 43;
        const BuildResult other = build(m_ml, m_mlData, spec);
        QVERIFY2(other.error.isEmpty(), qPrintable(other.error));
        QVERIFY(userIds(store::queueUsers(*ws, other.queueId)) != userIds(users));
        // The cold-start blend, not plain CF (its tuned weights favour "profile" on ML-100K).
        QVERIFY2(!(sourcesSeen.size() == 1 && sourcesSeen.contains(QStringLiteral("cf"))),
            qPrintable(QStringList(sourcesSeen.values()).join(u',')));
    }

    // ML-100K has no real cold user: a clear message, nothing stored.
    void realColdOnMovieLensFails()
    {
        if (!ensureMovieLens())
            QSKIP("../shared/data/ml-100k is absent: skipping the real-data test");
        size_t before = 0;
        {
            const auto ws = Workspace::open(m_ml);
            before = store::listQueues(*ws).size();
        }
        QueueSpec spec;
        spec.name = QStringLiteral("real");
        spec.source = QStringLiteral("cold");
        const BuildResult r = build(m_ml, m_mlData, spec);
        QCOMPARE(r.queueId, qint64(0));
        QVERIFY2(r.error.contains(QStringLiteral("no cold users")) && r.error.contains(QStringLiteral("cold@N")),
            qPrintable(r.error));
        const auto ws = Workspace::open(m_ml);
        QCOMPARE(store::listQueues(*ws).size(), before);
    }

    // A generated workspace with cold users (a tenth): the queue holds exactly those.
    void buildRealColdOnGenerated()
    {
        const QString path = m_dir.filePath(QStringLiteral("gen.recwb"));
        const auto ds = generated(path);
        QSet<QString> cold;
        for (int32_t u = 0; u < ds->numUsers(); ++u)
            if (ds->isCold(u))
                cold.insert(ds->users[static_cast<size_t>(u)].externalId);
        QVERIFY(cold.size() >= 5);
        QueueSpec spec;
        spec.name = QStringLiteral("real cold");
        spec.source = QStringLiteral("cold");
        spec.sample = 0;
        spec.k = 5;
        const BuildResult r = build(path, ds, spec);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        const auto ws = Workspace::open(path);
        const auto q = store::findQueue(*ws, r.queueId);
        QVERIFY(q);
        QCOMPARE(q->status, QStringLiteral("ready"));
        QCOMPARE(q->experimentId, qint64(0));
        const auto users = store::queueUsers(*ws, r.queueId);
        QSet<QString> got;
        for (const QueueUser& u : users) {
            got.insert(u.userId);
            const int32_t x = ds->userIndex(u.userId);
            QCOMPARE(u.known, static_cast<int>(ds->userItems.row(x).size()));
            QCOMPARE(u.knownItems.size(), u.known);
            QVERIFY(u.truth.isEmpty()); // real cold users have no ground truth
            sameCandidatesAsReranker(u);
            if (QTest::currentTestFailed())
                return;
            QCOMPARE(u.itemIds().size(), 5);
            for (const QString& id : u.itemIds()) {
                QVERIFY(!u.sourceOf(id).isEmpty());
                QVERIFY(!u.knownItems.contains(id));
            }
        }
        QCOMPARE(got, cold);
    }

    void badSpecStoresNothing_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<int>("k");
        QTest::addColumn<QString>("arm");
        QTest::addColumn<QString>("message");
        QTest::addColumn<bool>("validates"); // spec.validate() passes; the build finds it
        QTest::addRow("source warm") << QStringLiteral("warm") << 10 << QStringLiteral("cf=ease,rerank=offline")
                                     << QStringLiteral("'warm' is neither") << false;
        QTest::addRow("k 0") << QStringLiteral("cold@1") << 0 << QStringLiteral("cf=ease,rerank=offline")
                             << QStringLiteral("K must be 1..100, not 0") << false;
        QTest::addRow("cold@-1") << QStringLiteral("cold@-1") << 10 << QStringLiteral("cf=ease,rerank=offline")
                                 << QStringLiteral("'cold@-1'") << false;
        QTest::addRow("bad arm") << QStringLiteral("cold@1") << 10 << QStringLiteral("cf=nosuchmodel")
                                 << QStringLiteral("nosuchmodel") << true;
        QTest::addRow("k in arm") << QStringLiteral("cold@1") << 10 << QStringLiteral("cf=ease,rerank=offline,k=5")
                                  << QStringLiteral("queue's K") << false;
        QTest::addRow("K in arm, even equal")
            << QStringLiteral("cold@1") << 10 << QStringLiteral("cf=ease,rerank=offline, K = 10")
            << QStringLiteral("queue's K") << false;
    }
    void badSpecStoresNothing()
    {
        QFETCH(QString, source);
        QFETCH(int, k);
        QFETCH(QString, arm);
        QFETCH(QString, message);
        QFETCH(bool, validates);
        const QString path = m_dir.filePath(QStringLiteral("bad.recwb"));
        const auto ds = generated(path);
        QueueSpec spec;
        spec.name = QStringLiteral("bad");
        spec.source = source;
        spec.k = k;
        spec.arm = arm;
        if (!validates)
            QVERIFY_THROWS_EXCEPTION(Error, spec.validate());
        const BuildResult r = build(path, ds, spec);
        QCOMPARE(r.queueId, qint64(0));
        QVERIFY2(r.error.contains(message), qPrintable(r.error));
        if (!validates)
            QVERIFY(r.error.startsWith(QStringLiteral("review queue:")));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_queues")), qint64(0));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_users")), qint64(0));
    }

    void cancelStoresNothing_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<bool>("atOnce");
        QTest::addRow("simulated, at once") << QStringLiteral("cold@1") << true;
        QTest::addRow("simulated, while storing") << QStringLiteral("cold@1") << false;
        QTest::addRow("real cold, at once") << QStringLiteral("cold") << true;
        QTest::addRow("real cold, while storing") << QStringLiteral("cold") << false;
    }
    void cancelStoresNothing()
    {
        QFETCH(QString, source);
        QFETCH(bool, atOnce);
        const QString path = m_dir.filePath(QStringLiteral("cancel-%1.recwb")
                                                .arg(QString::fromLatin1(QTest::currentDataTag()))
                                                .replace(u' ', u'_')
                                                .replace(u',', u'_'));
        const auto ds = generated(path);
        QueueSpec spec;
        spec.name = QStringLiteral("cancel");
        spec.source = source;
        spec.k = 5;
        const BuildResult r = build(path, ds, spec, !atOnce, atOnce);
        QCOMPARE(r.queueId, qint64(0));
        QVERIFY2(r.error.startsWith(QStringLiteral("canceled")), qPrintable(r.error));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_queues")), qint64(0));
        QCOMPARE(countRows(path, QStringLiteral("SELECT count(*) FROM review_users")), qint64(0));
    }
};

int main(int argc, char** argv)
{
    if (argc == 5 && qstrcmp(argv[1], "--write-verdicts") == 0)
        return writeVerdicts(
            QString::fromLocal8Bit(argv[2]), QByteArray(argv[3]).toLongLong(), QString::fromLocal8Bit(argv[4]));
    QCoreApplication app(argc, argv);
    TestReview tc;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&tc, argc, argv);
}

#include "tst_review.moc"
