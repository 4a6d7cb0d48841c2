#include "testutil.h"

#include "data/sqlite.h"
#include "rerank/store.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QDir>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <algorithm>
#include <memory>
#include <thread>
#include <unistd.h>
#ifdef Q_OS_LINUX
#include <sched.h>
#endif

// recwb-cli rerank / endpoints / prompts end to end on a small generated workspace,
// without any LLM server (tst_llm_pipeline covers the HTTP path).
class TestCliRerank : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    QString m_user;

    struct Run {
        int code = -1;
        QString out;
        QString err;
    };
    static Run cli(const QStringList& args)
    {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("sk-fake-DO-NOT-STORE-4242"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(RECWB_CLI_PATH), args);
        if (!p.waitForFinished(300000))
            return {};
        return { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
    }
    static QJsonObject jsonOf(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }
    static QString compactJson(const QJsonValue& v)
    {
        return QString::fromUtf8(QJsonDocument(QJsonArray { v }).toJson(QJsonDocument::Compact));
    }

    // An OpenAI-kind endpoint on port 1, where nothing listens: every call fails at connect.
    Run addEndpointListeningNowhere(const QString& name, const QStringList& extra = {})
    {
        return cli(QStringList { QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
                       QStringLiteral("--name"), name, QStringLiteral("--kind"), QStringLiteral("openai"),
                       QStringLiteral("--base-url"), QStringLiteral("http://127.0.0.1:1/v1"), QStringLiteral("--model"),
                       QStringLiteral("m"), QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY"),
                       QStringLiteral("--timeout-ms"), QStringLiteral("5000") }
            + extra);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_ws = m_dir.filePath(QStringLiteral("small.recwb"));
        const Run g = cli({ QStringLiteral("generate"), QStringLiteral("--out"), m_ws, QStringLiteral("--users"),
            QStringLiteral("200"), QStringLiteral("--items"), QStringLiteral("300"), QStringLiteral("--interactions"),
            QStringLiteral("6000") });
        QVERIFY2(g.code == 0, qPrintable(g.err));
        // A warm user: the one with the most candidates' worth of history.
        const Run c = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            QStringLiteral("u1"), QStringLiteral("--n"), QStringLiteral("5"), QStringLiteral("--json") });
        QVERIFY2(c.code == 0, qPrintable(c.err));
        QVERIFY2(!jsonOf(c).value(QStringLiteral("cold")).toBool(), "u1 should be warm");
        m_user = QStringLiteral("u1");
    }

    void offlineRerankOfWarmUser()
    {
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("--workspace"), m_ws, QStringLiteral("--user"), m_user,
            QStringLiteral("--prompt"), QStringLiteral("listwise"), QStringLiteral("--endpoint"), QStringLiteral("offline"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QCOMPARE(o.value(QStringLiteral("user")).toString(), m_user);
        QCOMPARE(o.value(QStringLiteral("fallback")).toBool(true), false);
        QCOMPARE(o.value(QStringLiteral("cache_hit")).toBool(true), false);
        QCOMPARE(o.value(QStringLiteral("template")).toString(), QStringLiteral("listwise@1"));
        QCOMPARE(o.value(QStringLiteral("candidates")).toInt(), 50);
        const QJsonArray items = o.value(QStringLiteral("items")).toArray();
        QCOMPARE(items.size(), 10);
        QSet<QString> ids;
        for (int i = 0; i < items.size(); ++i) {
            const QJsonObject it = items[i].toObject();
            QCOMPARE(it.value(QStringLiteral("rank")).toInt(), i + 1);
            QVERIFY(!it.value(QStringLiteral("explanation")).toString().trimmed().isEmpty());
            QVERIFY(!it.value(QStringLiteral("title")).toString().isEmpty());
            QVERIFY(it.value(QStringLiteral("cf_rank")).toInt() >= 1);
            ids.insert(it.value(QStringLiteral("item_id")).toString());
        }
        QCOMPARE(ids.size(), 10);
        QCOMPARE(o.value(QStringLiteral("cost")).toDouble(-1), 0.0);
        const QJsonObject stages = o.value(QStringLiteral("stage_ms")).toObject();
        for (const char* s : { "candidates", "enrichment", "render", "llm", "parse" })
            QVERIFY2(stages.value(QString::fromLatin1(s)).isDouble(), s);

        // The text form: a table and the summary line.
        const Run t = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), m_user,
            QStringLiteral("--k"), QStringLiteral("5") });
        QVERIFY2(t.code == 0, qPrintable(t.err));
        QVERIFY(t.out.contains(QStringLiteral("fallback: no")));
        QCOMPARE(t.out.split(u'\n', Qt::SkipEmptyParts).size(), 1 + 5 + 1);
    }

    // Issue 13 (part): four --shard I/4 processes at once partition the selected users
    // exactly, and each user's list equals the unsharded run's.
    void shardsPartitionTheSelection()
    {
        const QStringList common { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--cohort"),
            QStringLiteral("all"), QStringLiteral("--limit"), QStringLiteral("60"), QStringLiteral("--endpoint"),
            QStringLiteral("offline"), QStringLiteral("--json") };
        const auto listsOf = [](const QJsonObject& o) {
            QHash<QString, QStringList> lists;
            for (const QJsonValue& v : o.value(QStringLiteral("users")).toArray()) {
                QStringList ids;
                for (const QJsonValue& it : v.toObject().value(QStringLiteral("items")).toArray())
                    ids.append(it.toObject().value(QStringLiteral("item_id")).toString());
                lists.insert(v.toObject().value(QStringLiteral("user")).toString(), ids);
            }
            return lists;
        };
        const Run whole = cli(common);
        QVERIFY2(whole.code == 0, qPrintable(whole.err));
        const QHash<QString, QStringList> expected = listsOf(jsonOf(whole));
        QCOMPARE(expected.size(), 60);

        std::vector<std::unique_ptr<QProcess>> procs;
        for (int i = 0; i < 4; ++i) {
            auto p = std::make_unique<QProcess>();
            p->start(QStringLiteral(RECWB_CLI_PATH), common + QStringList { QStringLiteral("--shard"),
                QStringLiteral("%1/4").arg(i) });
            procs.push_back(std::move(p));
        }
        QHash<QString, QStringList> merged;
        std::vector<QJsonObject> shardJson;
        for (auto& p : procs) {
            QVERIFY(p->waitForFinished(300000));
            QVERIFY2(p->exitCode() == 0, p->readAllStandardError().constData());
            const QJsonObject partRun = QJsonDocument::fromJson(p->readAllStandardOutput()).object();
            const QHash<QString, QStringList> part = listsOf(partRun);
            shardJson.push_back(partRun);
            QVERIFY(!part.isEmpty());
            // The run records which shard it is.
            const Run shown = cli({ QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("-w"), m_ws,
                QString::number(partRun.value(QStringLiteral("run_id")).toInt()), QStringLiteral("--json") });
            QVERIFY2(shown.code == 0, qPrintable(shown.err));
            QCOMPARE(jsonOf(shown).value(QStringLiteral("params")).toObject().value(QStringLiteral("shard")).toString(),
                QStringLiteral("%1/4").arg(&p - procs.data()));
            for (auto it = part.cbegin(); it != part.cend(); ++it) {
                QVERIFY2(!merged.contains(it.key()), qPrintable(it.key())); // in one shard only
                merged.insert(it.key(), it.value());
            }
        }
        QCOMPARE(merged, expected);

        // runs merge folds the four shard runs into one run equal to the unsharded one.
        QStringList shardRuns;
        for (const QJsonObject& o : shardJson)
            shardRuns.append(QString::number(o.value(QStringLiteral("run_id")).toInt()));
        const auto merge = [this](const QStringList& runs) {
            return cli(QStringList { QStringLiteral("runs"), QStringLiteral("merge"), QStringLiteral("-w"), m_ws } + runs);
        };
        const Run m = merge(shardRuns);
        QVERIFY2(m.code == 0, qPrintable(m.err));
        const QString mergedId = m.out.section(QStringLiteral("into run "), 1).trimmed();
        const auto show = [this](const QString& id) {
            return jsonOf(cli({ QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("-w"), m_ws, id,
                QStringLiteral("--json") }));
        };
        const QJsonObject mergedRun = show(mergedId);
        const QJsonObject wholeRun = show(QString::number(jsonOf(whole).value(QStringLiteral("run_id")).toInt()));
        QCOMPARE(mergedRun.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        QCOMPARE(mergedRun.value(QStringLiteral("users")).toArray().size(), 60);
        for (int i = 0; i < 60; ++i) {
            const QJsonObject a = mergedRun.value(QStringLiteral("users")).toArray()[i].toObject();
            const QJsonObject b = wholeRun.value(QStringLiteral("users")).toArray()[i].toObject();
            QCOMPARE(a.value(QStringLiteral("user")), b.value(QStringLiteral("user")));
            QCOMPARE(a.value(QStringLiteral("items")), b.value(QStringLiteral("items")));
        }
        for (const char* key : { "users", "cold_users", "fallbacks", "cost_usd", "answered_by" }) {
            const QString k = QString::fromLatin1(key);
            QVERIFY2(mergedRun.value(QStringLiteral("summary")).toObject().value(k)
                    == wholeRun.value(QStringLiteral("summary")).toObject().value(k),
                key);
        }

        // A missing shard, a duplicate, a shard made with other parameters: named errors.
        const Run missing = merge(shardRuns.mid(0, 3));
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains(QStringLiteral("missing shard")), qPrintable(missing.err));
        const Run twice = merge(shardRuns + QStringList { shardRuns.first() });
        QCOMPARE(twice.code, 1);
        QVERIFY2(twice.err.contains(QStringLiteral("given twice")), qPrintable(twice.err));
        const Run other = cli(common + QStringList { QStringLiteral("--shard"), QStringLiteral("0/4"),
            QStringLiteral("--k"), QStringLiteral("5") });
        QVERIFY2(other.code == 0, qPrintable(other.err));
        const Run mixed = merge(shardRuns.mid(1)
            + QStringList { QString::number(jsonOf(other).value(QStringLiteral("run_id")).toInt()) });
        QCOMPARE(mixed.code, 1);
        QVERIFY2(mixed.err.contains(QStringLiteral("other parameters")), qPrintable(mixed.err));

        const Run bad = cli(common + QStringList { QStringLiteral("--shard"), QStringLiteral("4/4") });
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains(QStringLiteral("--shard '4/4'")), qPrintable(bad.err));
    }

    // Issue 13: four --shard I/4 --out FILE processes at once against a workspace without
    // write permission (file and folder; as root, the shards run as nobody through setpriv),
    // each writing a file of its own; runs merge folds the files into one run equal to the
    // unsharded run, summary included. The workspace's bytes and mtime do not change.
    void shardFilesAgainstReadOnlyWorkspace()
    {
        const std::optional<QStringList> unprivileged = recwb::test::unprivilegedPrefix();
        if (!unprivileged)
            QSKIP("running as root without setpriv: permissions cannot be taken away");
        const QStringList prefix = *unprivileged;
        QTemporaryDir roDir(QDir::tempPath() + QStringLiteral("/recwb-ro-XXXXXX"));
        QTemporaryDir outDir(QDir::tempPath() + QStringLiteral("/recwb-shards-XXXXXX"));
        QVERIFY(roDir.isValid() && outDir.isValid());
        const QString ro = roDir.filePath(QStringLiteral("ws.recwb"));
        const Run g = cli({ QStringLiteral("generate"), QStringLiteral("--out"), ro, QStringLiteral("--users"),
            QStringLiteral("200"), QStringLiteral("--items"), QStringLiteral("300"), QStringLiteral("--interactions"),
            QStringLiteral("6000") });
        QVERIFY2(g.code == 0, qPrintable(g.err));
        QVERIFY(!QFileInfo::exists(ro + QStringLiteral("-wal")));
        // The reference: the same data, writable, one unsharded run (which also seeds the
        // templates there; the read-only copy never had them written).
        const QString ref = m_dir.filePath(QStringLiteral("shard-ref.recwb"));
        QVERIFY(QFile::copy(ro, ref));
        QFile::setPermissions(ref, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        const QStringList selection { QStringLiteral("--cohort"), QStringLiteral("all"), QStringLiteral("--limit"),
            QStringLiteral("60"), QStringLiteral("--endpoint"), QStringLiteral("offline"), QStringLiteral("--json") };
        const Run whole = cli(QStringList { QStringLiteral("rerank"), QStringLiteral("-w"), ref } + selection);
        QVERIFY2(whole.code == 0, qPrintable(whole.err));

        const auto all = QFileDevice::ReadOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup | QFileDevice::ExeGroup
            | QFileDevice::ReadOther | QFileDevice::ExeOther;
        QFile::setPermissions(ro, QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
        QFile::setPermissions(roDir.path(), all);
        QFile::setPermissions(outDir.path(), all | QFileDevice::WriteOwner | QFileDevice::WriteGroup | QFileDevice::WriteOther);
        const QByteArray before = recwb::test::workspaceFileBytes(ro);
        const QDateTime mtime = QFileInfo(ro).lastModified();
        const auto shardArgs = [&](int i, const QString& file) {
            return QStringList { QStringLiteral(RECWB_CLI_PATH), QStringLiteral("rerank"), QStringLiteral("-w"), ro }
            + selection
            + QStringList { QStringLiteral("--shard"), QStringLiteral("%1/4").arg(i), QStringLiteral("--out"), file };
        };
        const auto startShard = [&](QProcess& p, const QStringList& args) {
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("HOME"), outDir.path()); // nobody cannot read root's home
            p.setProcessEnvironment(env);
            const QStringList full = prefix + args;
            p.start(full.first(), full.mid(1));
        };
        QStringList files;
        std::vector<std::unique_ptr<QProcess>> procs;
        for (int i = 0; i < 4; ++i) {
            files.append(outDir.filePath(QStringLiteral("shard-%1.recwb").arg(i)));
            procs.push_back(std::make_unique<QProcess>());
            startShard(*procs.back(), shardArgs(i, files.back()));
        }
        int shardUsers = 0;
        for (auto& p : procs) {
            QVERIFY(p->waitForFinished(300000));
            QVERIFY2(p->exitCode() == 0, p->readAllStandardError().constData());
            const QJsonObject o = QJsonDocument::fromJson(p->readAllStandardOutput()).object();
            QCOMPARE(o.value(QStringLiteral("out")).toString(), files[&p - procs.data()]);
            shardUsers += o.value(QStringLiteral("users")).toArray().size();
        }
        QCOMPARE(shardUsers, 60);
        // Nothing was written to the workspace (as root, the bytes and mtime prove it).
        QCOMPARE(recwb::test::workspaceFileBytes(ro), before);
        QCOMPARE(QFileInfo(ro).lastModified(), mtime);
        QVERIFY(!QFileInfo::exists(ro + QStringLiteral("-wal")));

        // A finished shard's file, another shard's file, the workspace itself: refused.
        const auto runShard = [&](const QStringList& args) {
            QProcess p;
            startShard(p, args);
            p.waitForFinished(300000);
            return Run { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
                QString::fromUtf8(p.readAllStandardError()) };
        };
        const Run again = runShard(shardArgs(0, files[0]));
        QCOMPARE(again.code, 1);
        QVERIFY2(again.err.contains(QStringLiteral("holds the finished shard 0/4")), qPrintable(again.err));
        const Run otherShard = runShard(shardArgs(1, files[0]));
        QCOMPARE(otherShard.code, 1);
        QVERIFY2(otherShard.err.contains(QStringLiteral("holds shard 0/4, not 1/4")), qPrintable(otherShard.err));
        const Run itself = cli(QStringList { QStringLiteral("rerank"), QStringLiteral("-w"), ref } + selection
            + QStringList { QStringLiteral("--shard"), QStringLiteral("0/4"), QStringLiteral("--out"), ref });
        QVERIFY(itself.code != 0);
        QVERIFY2(itself.err.contains(QStringLiteral("is the workspace itself")), qPrintable(itself.err));
        const Run noShard = cli(QStringList { QStringLiteral("rerank"), QStringLiteral("-w"), ref } + selection
            + QStringList { QStringLiteral("--out"), outDir.filePath(QStringLiteral("x.recwb")) });
        QVERIFY(noShard.code != 0);
        QVERIFY2(noShard.err.contains(QStringLiteral("give --shard I/N")), qPrintable(noShard.err));

        // An interrupted shard (its run canceled, some results missing) resumes with the
        // same command: only its missing users are reranked.
        const QString cut = outDir.filePath(QStringLiteral("shard-2-cut.recwb"));
        QVERIFY(QFile::copy(files[2], cut));
        QFile::setPermissions(cut, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup
                | QFileDevice::WriteGroup | QFileDevice::ReadOther | QFileDevice::WriteOther);
        int cutUsers = 0;
        {
            const auto w = recwb::Workspace::open(cut);
            const auto runs = recwb::rerank::store::listRuns(*w);
            QCOMPARE(runs.size(), 1);
            cutUsers = runs.front().params.value(QStringLiteral("user_ids")).toArray().size();
            recwb::rerank::store::setRunStatus(*w, runs.front().id, QStringLiteral("canceled"));
            recwb::sql::exec(w->db(), "DELETE FROM rerank_results WHERE user_id IN "
                                      "(SELECT user_id FROM rerank_results ORDER BY user_id LIMIT 5)");
            QCOMPARE(recwb::rerank::store::runResults(*w, runs.front().id).size(), cutUsers - 5);
        }
        const Run resumed = runShard(shardArgs(2, cut));
        QVERIFY2(resumed.code == 0, qPrintable(resumed.err));
        QVERIFY2(resumed.err.contains(QStringLiteral("resuming shard 2/4 (%1 of %2 users stored)").arg(cutUsers - 5).arg(cutUsers)),
            qPrintable(resumed.err));
        QCOMPARE(jsonOf(resumed).value(QStringLiteral("users")).toArray().size(), 5);
        QCOMPARE(recwb::test::workspaceFileBytes(ro), before);

        // The merge: the files (one of them the resumed copy) into the reference workspace.
        const auto merge = [&](const QStringList& parts) {
            return cli(QStringList { QStringLiteral("runs"), QStringLiteral("merge"), QStringLiteral("-w"), ref } + parts);
        };
        const Run m = merge({ files[0], files[1], cut, files[3] });
        QVERIFY2(m.code == 0, qPrintable(m.err));
        const QString mergedId = m.out.section(QStringLiteral("into run "), 1).trimmed();
        const auto show = [&](const QString& id) {
            return jsonOf(cli({ QStringLiteral("runs"), QStringLiteral("show"), QStringLiteral("-w"), ref, id,
                QStringLiteral("--json") }));
        };
        const QJsonObject mergedRun = show(mergedId);
        const QJsonObject wholeRun = show(QString::number(jsonOf(whole).value(QStringLiteral("run_id")).toInt()));
        QCOMPARE(mergedRun.value(QStringLiteral("status")).toString(), QStringLiteral("finished"));
        const QJsonArray mergedUsers = mergedRun.value(QStringLiteral("users")).toArray();
        const QJsonArray wholeUsers = wholeRun.value(QStringLiteral("users")).toArray();
        QCOMPARE(mergedUsers.size(), 60);
        QCOMPARE(wholeUsers.size(), 60);
        for (int i = 0; i < 60; ++i) {
            const QJsonObject a = mergedUsers[i].toObject();
            const QJsonObject b = wholeUsers[i].toObject();
            QCOMPARE(a.value(QStringLiteral("user")), b.value(QStringLiteral("user")));
            QCOMPARE(a.value(QStringLiteral("items")), b.value(QStringLiteral("items")));
            QCOMPARE(a.value(QStringLiteral("defects")), b.value(QStringLiteral("defects")));
        }
        // The summary: every deterministic field equal to the unsharded run's.
        const QJsonObject ms = mergedRun.value(QStringLiteral("summary")).toObject();
        const QJsonObject ws = wholeRun.value(QStringLiteral("summary")).toObject();
        for (const char* key : { "users", "cold_users", "routing", "answered_by", "escalations", "fallbacks",
                 "fallback_reasons", "defects", "tokens", "calls", "cost_usd", "unpriced_calls", "prompt_cache",
                 "response_cache", "baseline", "canceled", "jobs" }) {
            const QString k = QString::fromLatin1(key);
            QVERIFY2(ms.contains(k), key);
            QVERIFY2(ms.value(k) == ws.value(k),
                qPrintable(k + u' ' + compactJson(ms.value(k)) + QStringLiteral(" vs ") + compactJson(ws.value(k))));
        }
        const QJsonArray mt = ms.value(QStringLiteral("tiers")).toArray();
        const QJsonArray wt = ws.value(QStringLiteral("tiers")).toArray();
        QCOMPARE(mt.size(), wt.size());
        for (int i = 0; i < mt.size(); ++i) {
            QJsonObject a = mt[i].toObject();
            QJsonObject b = wt[i].toObject();
            a.remove(QStringLiteral("call_ms")); // timings
            b.remove(QStringLiteral("call_ms"));
            QCOMPARE(a, b);
        }
        // Latency per stage: percentiles over all 60 users' stage times (not shard averages).
        const QJsonObject latency = ms.value(QStringLiteral("latency_ms")).toObject();
        for (const char* stage : { "candidates", "enrichment", "render", "llm", "parse", "total" }) {
            std::vector<double> v;
            for (const QJsonValue& u : mergedUsers)
                v.push_back(u.toObject().value(QStringLiteral("stage_ms")).toObject().value(QLatin1String(stage)).toDouble());
            std::sort(v.begin(), v.end());
            const auto q = [&v](double level) {
                const double pos = level * static_cast<double>(v.size() - 1);
                const auto lo = static_cast<size_t>(pos);
                const size_t hi = std::min(lo + 1, v.size() - 1);
                return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
            };
            const QJsonObject s = latency.value(QLatin1String(stage)).toObject();
            QCOMPARE(s.value(QStringLiteral("count")).toInt(), 60);
            QCOMPARE(s.value(QStringLiteral("p50")).toDouble(), q(0.50));
            QCOMPARE(s.value(QStringLiteral("p95")).toDouble(), q(0.95));
            QCOMPARE(s.value(QStringLiteral("p99")).toDouble(), q(0.99));
            QCOMPARE(wholeRun.value(QStringLiteral("summary")).toObject().value(QStringLiteral("latency_ms")).toObject()
                         .value(QLatin1String(stage)).toObject().value(QStringLiteral("count")).toInt(),
                60);
        }

        // Files and runs are checked as before: a missing shard, a duplicate, another workspace.
        const Run missing = merge(files.mid(0, 3));
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains(QStringLiteral("missing shard 3/4")), qPrintable(missing.err));
        const Run twice = merge({ files[0], files[1], files[2], cut, files[3] });
        QCOMPARE(twice.code, 1);
        QVERIFY2(twice.err.contains(QStringLiteral("shard 2/4 given twice")), qPrintable(twice.err));
        const QString other = m_dir.filePath(QStringLiteral("shard-other.recwb")); // other users, same items
        const Run og = cli({ QStringLiteral("generate"), QStringLiteral("--out"), other, QStringLiteral("--users"),
            QStringLiteral("201"), QStringLiteral("--items"), QStringLiteral("300"), QStringLiteral("--interactions"),
            QStringLiteral("6000") });
        QVERIFY2(og.code == 0, qPrintable(og.err));
        const Run otherData = cli({ QStringLiteral("runs"), QStringLiteral("merge"), QStringLiteral("-w"), other, files[0],
            files[1], files[2], files[3] });
        QCOMPARE(otherData.code, 1);
        QVERIFY2(otherData.err.contains(QStringLiteral("made on other data")), qPrintable(otherData.err));

        QFile::setPermissions(roDir.path(), all | QFileDevice::WriteOwner);
        QFile::setPermissions(ro, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    }

    void endpointsRoundTripWithoutKey()
    {
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("remote"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), QStringLiteral("https://api.example.com/v1"), QStringLiteral("--model"),
            QStringLiteral("gpt-x"), QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY"),
            QStringLiteral("--timeout-ms"), QStringLiteral("1234"), QStringLiteral("--max-concurrent"), QStringLiteral("2"),
            QStringLiteral("--temperature"), QStringLiteral("0.3"), QStringLiteral("--max-output-tokens"),
            QStringLiteral("900"), QStringLiteral("--price-input"), QStringLiteral("0.4"), QStringLiteral("--price-cached"),
            QStringLiteral("0.1"), QStringLiteral("--price-output"), QStringLiteral("1.6") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
        const Run list = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--json") });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        QVERIFY(!list.out.contains(QStringLiteral("sk-fake-DO-NOT-STORE-4242")));
        QJsonObject remote;
        for (const auto& v : QJsonDocument::fromJson(list.out.toUtf8()).array())
            if (v.toObject().value(QStringLiteral("name")).toString() == u"remote")
                remote = v.toObject();
        QCOMPARE(remote.value(QStringLiteral("kind")).toString(), QStringLiteral("openai"));
        QCOMPARE(remote.value(QStringLiteral("model")).toString(), QStringLiteral("gpt-x"));
        QCOMPARE(remote.value(QStringLiteral("key_env")).toString(), QStringLiteral("RECWB_TEST_FAKE_KEY"));
        QCOMPARE(remote.value(QStringLiteral("timeout_ms")).toInt(), 1234);
        QCOMPARE(remote.value(QStringLiteral("max_concurrent")).toInt(), 2);
        QCOMPARE(remote.value(QStringLiteral("max_output_tokens")).toInt(), 900);
        QCOMPARE(remote.value(QStringLiteral("temperature")).toDouble(), 0.3);
        QCOMPARE(remote.value(QStringLiteral("prices")).toObject().value(QStringLiteral("output")).toDouble(), 1.6);

        QFile f(m_ws);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        QVERIFY(bytes.contains("RECWB_TEST_FAKE_KEY"));
        QVERIFY(!bytes.contains("sk-fake-DO-NOT-STORE-4242"));

        const Run rm = cli({ QStringLiteral("endpoints"), QStringLiteral("remove"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("remote") });
        QVERIFY2(rm.code == 0, qPrintable(rm.err));
        const Run after = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--json") });
        QVERIFY(!after.out.contains(QStringLiteral("\"remote\"")));
        QVERIFY(after.out.contains(QStringLiteral("\"offline\"")));
        const Run again = cli({ QStringLiteral("endpoints"), QStringLiteral("remove"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("remote") });
        QCOMPARE(again.code, 1);
    }

    // --structured-output and --max-retries are stored, listed (JSON and text) and checked.
    void endpointsStructuredOutputAndRetries()
    {
        auto add = [&](const QString& name, const QString& kind, const QStringList& extra) {
            QStringList args { QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
                QStringLiteral("--name"), name, QStringLiteral("--kind"), kind, QStringLiteral("--base-url"),
                QStringLiteral("http://127.0.0.1:11434/v1"), QStringLiteral("--model"), QStringLiteral("llama3.1:8b") };
            return cli(args + extra);
        };
        const Run text = add(QStringLiteral("so-text"), QStringLiteral("openai"),
            { QStringLiteral("--structured-output"), QStringLiteral("text"), QStringLiteral("--max-retries"), QStringLiteral("0") });
        QVERIFY2(text.code == 0, qPrintable(text.err));
        const Run object = add(QStringLiteral("so-object"), QStringLiteral("ollama"),
            { QStringLiteral("--structured-output"), QStringLiteral("json_object"), QStringLiteral("--max-retries"),
                QStringLiteral("5") });
        QVERIFY2(object.code == 0, qPrintable(object.err));
        const Run plain = add(QStringLiteral("so-default"), QStringLiteral("openai"), {});
        QVERIFY2(plain.code == 0, qPrintable(plain.err));

        const Run list = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--json") });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        QHash<QString, QJsonObject> byName;
        for (const auto& v : QJsonDocument::fromJson(list.out.toUtf8()).array())
            byName.insert(v.toObject().value(QStringLiteral("name")).toString(), v.toObject());
        QCOMPARE(byName.value(QStringLiteral("so-text")).value(QStringLiteral("structured_output")).toString(), QStringLiteral("text"));
        QCOMPARE(byName.value(QStringLiteral("so-text")).value(QStringLiteral("max_retries")).toInt(-1), 0);
        QCOMPARE(byName.value(QStringLiteral("so-object")).value(QStringLiteral("structured_output")).toString(),
            QStringLiteral("json_object"));
        QCOMPARE(byName.value(QStringLiteral("so-object")).value(QStringLiteral("max_retries")).toInt(), 5);
        QCOMPARE(byName.value(QStringLiteral("so-default")).value(QStringLiteral("structured_output")).toString(),
            QStringLiteral("json_schema"));
        QCOMPARE(byName.value(QStringLiteral("so-default")).value(QStringLiteral("max_retries")).toInt(), 2);

        const Run table = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws });
        QVERIFY2(table.code == 0, qPrintable(table.err));
        QString textLine;
        for (const QString& line : table.out.split(u'\n'))
            if (line.contains(QStringLiteral("so-text")))
                textLine = line;
        QVERIFY2(textLine.contains(QStringLiteral("output text")) && textLine.contains(QStringLiteral("retries 0")),
            qPrintable(table.out));

        // Refused: an unknown mode, a mode for a provider with its own mechanism, negative retries.
        const Run bad = add(QStringLiteral("so-bad"), QStringLiteral("openai"), { QStringLiteral("--structured-output"), QStringLiteral("yaml") });
        QVERIFY(bad.code != 0);
        QVERIFY2(bad.err.contains(QStringLiteral("json_schema, json_object or text")), qPrintable(bad.err));
        const Run anthropic = add(QStringLiteral("so-bad"), QStringLiteral("anthropic"),
            { QStringLiteral("--structured-output"), QStringLiteral("json_object"), QStringLiteral("--key-env"),
                QStringLiteral("RECWB_TEST_FAKE_KEY") });
        QVERIFY(anthropic.code != 0);
        QVERIFY2(anthropic.err.contains(QStringLiteral("openai and ollama")), qPrintable(anthropic.err));
        const Run negative = add(QStringLiteral("so-bad"), QStringLiteral("openai"), { QStringLiteral("--max-retries"), QStringLiteral("-1") });
        QVERIFY(negative.code != 0);
        const Run after = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        QVERIFY(!after.out.contains(QStringLiteral("\"so-bad\"")));

        for (const char* name : { "so-text", "so-object", "so-default" }) {
            const Run rm = cli({ QStringLiteral("endpoints"), QStringLiteral("remove"), QStringLiteral("-w"), m_ws,
                QStringLiteral("--name"), QString::fromLatin1(name) });
            QVERIFY2(rm.code == 0, qPrintable(rm.err));
        }
    }

    void deadEndpointFallsBackToCfOrder()
    {
        const Run add = addEndpointListeningNowhere(QStringLiteral("dead"));
        QVERIFY2(add.code == 0, qPrintable(add.err));
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), m_user,
            QStringLiteral("--endpoint"), QStringLiteral("dead"), QStringLiteral("--json") });
        QCOMPARE(r.code, 0);
        const QJsonObject o = jsonOf(r);
        QVERIFY(o.value(QStringLiteral("fallback")).toBool());
        const QString reason = o.value(QStringLiteral("fallback_reason")).toString();
        QVERIFY2(reason.contains(QStringLiteral("request")) && reason.contains(QStringLiteral("dead")), qPrintable(reason));
        QVERIFY(!reason.contains(QStringLiteral("sk-fake")));
        const QJsonArray items = o.value(QStringLiteral("items")).toArray();
        QCOMPARE(items.size(), 10);
        for (int i = 0; i < items.size(); ++i)
            QCOMPARE(items[i].toObject().value(QStringLiteral("cf_rank")).toInt(), i + 1);
    }

    // A cohort against an endpoint that stays down: the run pauses at the open breaker, probes
    // once (--breaker-probes 1, after the 30 s cooldown), gives up, and says so on stderr with
    // the number of users that kept the CF order; the rest of the run is not lost.
    void cohortGivesUpAtTheBreakerAndSaysSo()
    {
        const Run add = addEndpointListeningNowhere(QStringLiteral("down"), { QStringLiteral("--max-concurrent"), QStringLiteral("2") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--cohort"),
            QStringLiteral("warm"), QStringLiteral("--limit"), QStringLiteral("16"), QStringLiteral("--endpoint"),
            QStringLiteral("down"), QStringLiteral("--breaker-probes"), QStringLiteral("1"), QStringLiteral("--yes"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("paused: endpoint 'down': circuit breaker open")), qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        const QJsonObject wait = o.value(QStringLiteral("summary")).toObject().value(QStringLiteral("breaker_wait")).toObject();
        QVERIFY(wait.value(QStringLiteral("gave_up")).toBool());
        QVERIFY(wait.value(QStringLiteral("waited_ms")).toDouble() >= 25000);
        int open = 0;
        const QJsonArray users = o.value(QStringLiteral("users")).toArray();
        QCOMPARE(users.size(), 16);
        for (const QJsonValue& u : users)
            open += u.toObject().value(QStringLiteral("fallback_reason")).toString().contains(QStringLiteral("circuit_open"));
        QVERIFY2(open > 0, "some users should have met the open breaker after the run gave up");
        const QString line = QStringLiteral("circuit breaker: gave up waiting once 1 probe had failed in a row");
        QVERIFY2(r.err.contains(line), qPrintable(r.err));
        QVERIFY2(r.err.contains(QStringLiteral("; %1 %2 the CF order (fallback reason circuit_open)")
                                    .arg(open)
                                    .arg(open == 1 ? QStringLiteral("user kept") : QStringLiteral("users kept"))),
            qPrintable(r.err));
    }

    // Issue 12 item 4: out-of-range values are refused before any work, with exit code 2
    // and a message naming the option; nothing is stored.
    void outOfRangeValuesExit2_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        const QString cohort = QStringLiteral("--cohort");
        const QString all = QStringLiteral("all");
        QTest::addRow("limit 0") << QStringList { cohort, all, QStringLiteral("--limit"), QStringLiteral("0") }
                                 << QStringLiteral("--limit");
        QTest::addRow("limit -5") << QStringList { cohort, all, QStringLiteral("--limit"), QStringLiteral("-5") }
                                  << QStringLiteral("--limit");
        QTest::addRow("k 0") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("-k"),
            QStringLiteral("0") } << QStringLiteral("--k");
        QTest::addRow("k huge") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("-k"),
            QStringLiteral("100000") } << QStringLiteral("--k");
        QTest::addRow("candidates 0") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"),
            QStringLiteral("--candidates"), QStringLiteral("0") } << QStringLiteral("--candidates");
        QTest::addRow("candidates -1") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"),
            QStringLiteral("--candidates"), QStringLiteral("-1") } << QStringLiteral("--candidates");
        QTest::addRow("concurrency 0") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"),
            QStringLiteral("--concurrency"), QStringLiteral("0") } << QStringLiteral("--concurrency");
        QTest::addRow("probe 100000") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"),
            QStringLiteral("--probe"), QStringLiteral("100000") } << QStringLiteral("--probe");
        QTest::addRow("probe 1") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--probe"),
            QStringLiteral("1") } << QStringLiteral("--probe");
        QTest::addRow("k not a number") << QStringList { QStringLiteral("--user"), QStringLiteral("u1"),
            QStringLiteral("-k"), QStringLiteral("ten") } << QStringLiteral("--k");
        QTest::addRow("empty user") << QStringList { QStringLiteral("--user"), QString() } << QStringLiteral("--user");
        QTest::addRow("no users") << QStringList {} << QStringLiteral("--cohort");
    }
    void outOfRangeValuesExit2()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run before = cli({ QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--json") });
        const Run r = cli(QStringList { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--endpoint"),
                              QStringLiteral("offline") }
            + args);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
        QVERIFY(r.out.isEmpty());
        const Run after = cli({ QStringLiteral("runs"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--json") });
        QCOMPARE(after.out, before.out);
    }

    // Issue 12 item 4: a run projected past the confirmation ceiling (calls or cost) needs
    // --yes; nothing is sent or stored without it. The endpoint listens nowhere, so a call
    // that were made would only fall back.
    void ceilingNeedsYes()
    {
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("pricey"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), QStringLiteral("http://127.0.0.1:1/v1"), QStringLiteral("--model"),
            QStringLiteral("m"), QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY"),
            QStringLiteral("--max-retries"), QStringLiteral("0"), QStringLiteral("--price-input"), QStringLiteral("1000"),
            QStringLiteral("--price-output"), QStringLiteral("1000") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
        const QStringList base { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--endpoint"),
            QStringLiteral("pricey"), QStringLiteral("--no-store"), QStringLiteral("--summary-only") };
        // Cost: one call's worst case at $1000 per million tokens is above the $5 default.
        const Run costly = cli(base + QStringList { QStringLiteral("--user"), m_user });
        QCOMPARE(costly.code, 2);
        QVERIFY2(costly.err.contains(QStringLiteral("--yes")) && costly.err.contains(QStringLiteral("ceiling $5.00")),
            qPrintable(costly.err));
        // A spending cap under the ceiling bounds the projection: allowed.
        const Run capped = cli(base + QStringList { QStringLiteral("--user"), m_user, QStringLiteral("--max-cost"),
                                          QStringLiteral("1") });
        QVERIFY2(capped.code == 0, qPrintable(capped.err));
        // Calls: 40 users over a ceiling of 30 calls, from the option and from the environment.
        const QStringList cohort { QStringLiteral("--cohort"), QStringLiteral("all"), QStringLiteral("--limit"),
            QStringLiteral("40"), QStringLiteral("--max-cost"), QStringLiteral("0") };
        const Run many = cli(base + cohort + QStringList { QStringLiteral("--ceiling-calls"), QStringLiteral("30") });
        QCOMPARE(many.code, 2);
        QVERIFY2(many.err.contains(QStringLiteral("up to 40 calls (ceiling 30)")), qPrintable(many.err));
        qputenv("RECWB_CEILING_CALLS", "30");
        const Run viaEnv = cli(base + cohort);
        qunsetenv("RECWB_CEILING_CALLS");
        QCOMPARE(viaEnv.code, 2);
        QVERIFY2(viaEnv.err.contains(QStringLiteral("ceiling 30")), qPrintable(viaEnv.err));
        const Run yes = cli(base + cohort + QStringList { QStringLiteral("--ceiling-calls"), QStringLiteral("30"),
                                                QStringLiteral("--yes") });
        QVERIFY2(yes.code == 0, qPrintable(yes.err));
        QVERIFY2(yes.out.contains(QStringLiteral("Users: 40")), qPrintable(yes.out));
        // The offline reranker makes no calls: no ceiling applies.
        const Run offline = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--endpoint"),
            QStringLiteral("offline"), QStringLiteral("--no-store"), QStringLiteral("--summary-only"),
            QStringLiteral("--cohort"), QStringLiteral("all"), QStringLiteral("--ceiling-calls"), QStringLiteral("0") });
        QVERIFY2(offline.code == 0, qPrintable(offline.err));
    }

    // Issue 12 item 8: endpoints add does not overwrite an existing profile.
    // Issue 10: a rerank runs as a batch job (SCHED_BATCH on Linux) from its first thread on,
    // so every thread it starts (network, Qt's HTTP thread, the stage worker) has the policy;
    // RECWB_SCHED=other keeps the normal one. Seen from /proc while the call hangs on a server
    // that accepts and never answers.
    void rerankRunsAsBatchJob_data()
    {
        QTest::addColumn<QString>("sched");
        QTest::addColumn<int>("policy");
        QTest::addRow("default: batch") << QString() << 3; // SCHED_BATCH
        QTest::addRow("RECWB_SCHED=other") << QStringLiteral("other") << 0; // SCHED_OTHER
    }
    void rerankRunsAsBatchJob()
    {
#ifndef Q_OS_LINUX
        QSKIP("scheduling policies are Linux's");
#else
        QFETCH(QString, sched);
        QFETCH(int, policy);
        bool allowed = false; // a sandbox may forbid it: then there is nothing to see
        std::thread([&] {
            sched_param param {};
            allowed = sched_setscheduler(0, SCHED_BATCH, &param) == 0;
        }).join();
        if (!allowed)
            QSKIP("this machine refuses SCHED_BATCH (sched_setscheduler)");
        QTcpServer silent; // accepts, never answers
        QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
        const QString name = QStringLiteral("silent%1").arg(policy);
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), name, QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), QStringLiteral("http://127.0.0.1:%1/v1").arg(silent.serverPort()),
            QStringLiteral("--model"), QStringLiteral("m"), QStringLiteral("--key-env"),
            QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("--timeout-ms"), QStringLiteral("60000") });
        QVERIFY2(add.code == 0, qPrintable(add.err));

        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("sk-fake-DO-NOT-STORE-4242"));
        if (sched.isEmpty())
            env.remove(QStringLiteral("RECWB_SCHED"));
        else
            env.insert(QStringLiteral("RECWB_SCHED"), sched);
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(RECWB_CLI_PATH),
            { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--cohort"), QStringLiteral("warm"),
                QStringLiteral("--limit"), QStringLiteral("3"), QStringLiteral("--endpoint"), name,
                QStringLiteral("--no-store"), QStringLiteral("--yes"), QStringLiteral("--json") });
        QVERIFY(p.waitForStarted());
        QList<QTcpSocket*> held; // keep the connections open: the calls stay in flight
        QObject::connect(&silent, &QTcpServer::newConnection, &silent, [&] {
            while (QTcpSocket* c = silent.nextPendingConnection())
                held << c;
        });
        QTRY_VERIFY_WITH_TIMEOUT(!held.isEmpty(), recwb::test::scaledTimeout(60000));
        QTest::qWait(200); // the request thread and the worker are up

        const QDir tasks(QStringLiteral("/proc/%1/task").arg(p.processId()));
        const QStringList tids = tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        QVERIFY(tids.size() >= 3); // main, Qt's HTTP thread, the stage worker at least
        for (const QString& tid : tids) {
            QFile stat(tasks.filePath(tid + QStringLiteral("/stat")));
            QVERIFY(stat.open(QIODevice::ReadOnly));
            const QByteArray line = stat.readAll();
            // Fields after the command name in parentheses; the policy is field 41 of stat(5).
            const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
            QVERIFY(fields.size() > 38);
            QCOMPARE(fields[38].toInt(), policy);
        }
        p.kill();
        p.waitForFinished();
#endif
    }

    void endpointsAddRefusesExistingName()
    {
        const QStringList args { QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--name"), QStringLiteral("once"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), QStringLiteral("http://127.0.0.1:1/v1"), QStringLiteral("--key-env"),
            QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("--model") };
        QVERIFY(cli(args + QStringList { QStringLiteral("first") }).code == 0);
        const Run again = cli(args + QStringList { QStringLiteral("second") });
        QCOMPARE(again.code, 1);
        QVERIFY2(again.err.contains(QStringLiteral("exists already")) && again.err.contains(QStringLiteral("endpoints edit")),
            qPrintable(again.err));
        const Run list = cli({ QStringLiteral("endpoints"), QStringLiteral("list"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--json") });
        QVERIFY(list.out.contains(QStringLiteral("\"first\"")));
        QVERIFY(!list.out.contains(QStringLiteral("\"second\"")));
    }

    void promptsListShowAddVersion()
    {
        const Run list = cli({ QStringLiteral("prompts"), QStringLiteral("list"), QStringLiteral("-w"), m_ws });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        QVERIFY(list.out.contains(QStringLiteral("listwise@1")));
        const Run show = cli({ QStringLiteral("prompts"), QStringLiteral("show"), QStringLiteral("listwise@1"),
            QStringLiteral("-w"), m_ws });
        QVERIFY2(show.code == 0, qPrintable(show.err));
        const QString file = m_dir.filePath(QStringLiteral("mine.mustache"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(show.out.toUtf8());
        f.close();
        const Run add = cli({ QStringLiteral("prompts"), QStringLiteral("add-version"), QStringLiteral("listwise"),
            QStringLiteral("--file"), file, QStringLiteral("--note"), QStringLiteral("copy"), QStringLiteral("-w"), m_ws });
        QVERIFY2(add.code == 0, qPrintable(add.err));
        QVERIFY(add.out.contains(QStringLiteral("listwise@2")));
        const Run r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), m_user,
            QStringLiteral("--json") });
        QCOMPARE(jsonOf(r).value(QStringLiteral("template")).toString(), QStringLiteral("listwise@2"));
    }
};

QTEST_GUILESS_MAIN(TestCliRerank)
#include "tst_cli_rerank.moc"
