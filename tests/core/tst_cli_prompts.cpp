#include "data/workspace.h"
#include "rerank/prices.h"
#include "rerank/prompt.h"
#include "testutil.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>

using namespace recwb;

// recwb-cli prompts render / add-version --parent and recwb-cli prices, end to end on a
// small generated workspace. Nothing may be sent: the "priced" endpoint points at a local
// listener that must never see a connection.
class TestCliPrompts : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    QString m_config; // XDG_CONFIG_HOME of every child, so a real ~/.config/recwb/prices.json cannot interfere
    QString m_coldUser;
    QTcpServer m_listener;
    int m_connections = 0;

    struct Run {
        int code = -1;
        QString out;
        QString err;
    };
    Run cli(const QStringList& args, const QHash<QString, QString>& env = {}) const
    {
        QProcess p;
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        e.remove(QStringLiteral("RECWB_PRICES"));
        e.insert(QStringLiteral("XDG_CONFIG_HOME"), m_config);
        for (auto it = env.cbegin(); it != env.cend(); ++it)
            e.insert(it.key(), it.value());
        p.setProcessEnvironment(e);
        p.start(QStringLiteral(RECWB_CLI_PATH), args);
        if (!p.waitForFinished(300000))
            return {};
        return { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
    }
    static QJsonObject jsonOf(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }
    Run render(const QStringList& extra, const QHash<QString, QString>& env = {}) const
    {
        return cli(QStringList { QStringLiteral("prompts"), QStringLiteral("render"), QStringLiteral("-w"), m_ws } + extra,
            env);
    }
    void addEndpoint(const QStringList& args)
    {
        const Run r = cli(QStringList { QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), m_ws,
                              QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_NO_SUCH_KEY") }
            + args);
        QVERIFY2(r.code == 0, qPrintable(r.err));
    }
    QString writeFile(const QString& name, const QByteArray& bytes) const
    {
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            qFatal("cannot write %s", qPrintable(path));
        f.write(bytes);
        return path;
    }
    // Sum over the messages, the way RenderedPrompt counts.
    static void messageTotals(const QJsonObject& o, qint64* chars, qint64* tokens)
    {
        *chars = 0;
        *tokens = 0;
        for (const QJsonValue& m : o.value(QStringLiteral("messages")).toArray()) {
            const QString content = m.toObject().value(QStringLiteral("content")).toString();
            *chars += content.size();
            *tokens += rerank::estimateTokens(content) + 4; // + the per-message envelope (PROMPTS.md)
        }
    }
    static double perMillion(qint64 tokens, double usd) { return static_cast<double>(tokens) * usd / 1e6; }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_config = m_dir.filePath(QStringLiteral("config"));
        QVERIFY(QDir().mkpath(m_config));
        m_ws = m_dir.filePath(QStringLiteral("small.recwb"));
        const Run g = cli({ QStringLiteral("generate"), QStringLiteral("--out"), m_ws, QStringLiteral("--users"),
            QStringLiteral("200"), QStringLiteral("--items"), QStringLiteral("300"), QStringLiteral("--interactions"),
            QStringLiteral("6000") });
        QVERIFY2(g.code == 0, qPrintable(g.err));
        {
            const auto ws = Workspace::open(m_ws);
            const Dataset ds = ws->load();
            QVERIFY(!ds.isCold(ds.userIndex(QStringLiteral("u1"))));
            for (int32_t u = 0; u < ds.numUsers() && m_coldUser.isEmpty(); ++u)
                if (ds.isCold(u))
                    m_coldUser = ds.users[static_cast<size_t>(u)].externalId;
        }
        QVERIFY2(!m_coldUser.isEmpty(), "the generated workspace has no cold user");

        QVERIFY(m_listener.listen(QHostAddress::LocalHost));
        connect(&m_listener, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* s = m_listener.nextPendingConnection()) {
                ++m_connections;
                s->deleteLater();
            }
        });
        addEndpoint({ QStringLiteral("--name"), QStringLiteral("priced"), QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), QStringLiteral("http://127.0.0.1:%1/v1").arg(m_listener.serverPort()),
            QStringLiteral("--model"), QStringLiteral("m"), QStringLiteral("--price-input"), QStringLiteral("0.4"),
            QStringLiteral("--price-cached"), QStringLiteral("0.1"), QStringLiteral("--price-output"),
            QStringLiteral("1.6") });
        addEndpoint({ QStringLiteral("--name"), QStringLiteral("shipped"), QStringLiteral("--kind"),
            QStringLiteral("openai"), QStringLiteral("--base-url"), QStringLiteral("https://api.openai.com/v1"),
            QStringLiteral("--model"), QStringLiteral("gpt-4.1-mini-2025-04-14") });
        addEndpoint({ QStringLiteral("--name"), QStringLiteral("unpriced"), QStringLiteral("--kind"),
            QStringLiteral("openai"), QStringLiteral("--base-url"), QStringLiteral("https://llm.example.invalid/v1"),
            QStringLiteral("--model"), QStringLiteral("no-such-model") });
    }

    // chars and tokens are those of the messages printed; the cost is the hand computation
    // from the endpoint's own prices; the listener the endpoint points at sees nothing.
    void renderJsonMatchesEstimatesAndSendsNothing()
    {
        const Run r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("priced"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QCOMPARE(o.value(QStringLiteral("user")).toString(), QStringLiteral("u1"));
        QCOMPARE(o.value(QStringLiteral("cold_start")).toBool(true), false);
        QCOMPARE(o.value(QStringLiteral("template")).toString(), QStringLiteral("listwise@1"));
        QCOMPARE(o.value(QStringLiteral("candidates")).toInt(), 50);
        QCOMPARE(o.value(QStringLiteral("sent")).toBool(true), false);
        const QJsonArray messages = o.value(QStringLiteral("messages")).toArray();
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages[0].toObject().value(QStringLiteral("role")).toString(), QStringLiteral("system"));
        QCOMPARE(messages[1].toObject().value(QStringLiteral("role")).toString(), QStringLiteral("user"));
        QVERIFY(messages[1].toObject().value(QStringLiteral("content")).toString().contains(u'"'));
        qint64 chars = 0, tokens = 0;
        messageTotals(o, &chars, &tokens);
        QCOMPARE(o.value(QStringLiteral("chars")).toInteger(), chars);
        QCOMPARE(o.value(QStringLiteral("estimated_input_tokens")).toInteger(), tokens);
        const qint64 outTokens = 10 * rerank::kDefaultTokensPerItem + 16;
        QCOMPARE(o.value(QStringLiteral("estimated_output_tokens")).toInteger(), outTokens);
        const double expected = perMillion(tokens, 0.4) + perMillion(outTokens, 1.6);
        QVERIFY(qFuzzyCompare(o.value(QStringLiteral("estimated_cost_usd")).toDouble(), expected));
        const QJsonObject prices = o.value(QStringLiteral("prices")).toObject();
        QCOMPARE(prices.value(QStringLiteral("source")).toString(), QStringLiteral("endpoint"));
        QCOMPARE(prices.value(QStringLiteral("input")).toDouble(), 0.4);
        QCOMPARE(prices.value(QStringLiteral("cached_input")).toDouble(), 0.1);
        QCOMPARE(prices.value(QStringLiteral("output")).toDouble(), 1.6);
        QVERIFY(!prices.value(QStringLiteral("as_of")).toString().isEmpty()); // set by endpoints add

        const Run t = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("priced") });
        QVERIFY2(t.code == 0, qPrintable(t.err));
        QVERIFY(t.out.contains(messages[1].toObject().value(QStringLiteral("content")).toString().trimmed()));
        QVERIFY(t.out.contains(QStringLiteral("nothing was sent")));
        QVERIFY(t.out.contains(QStringLiteral("size: %1 characters, ~%2 input tokens").arg(chars).arg(tokens)));
        QVERIFY(t.out.contains(QStringLiteral("estimated cost: $%1").arg(expected, 0, 'f', 6)));
        QVERIFY(t.out.contains(QStringLiteral("the endpoint's own prices")));

        m_listener.waitForNewConnection(200);
        QCoreApplication::processEvents();
        QCOMPARE(m_connections, 0);
    }

    void shippedRowWithItsDate()
    {
        const Run r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("shipped"), QStringLiteral("--k"), QStringLiteral("5"), QStringLiteral("--candidates"),
            QStringLiteral("20"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QCOMPARE(o.value(QStringLiteral("candidates")).toInt(), 20);
        const auto row = rerank::PriceTable::builtin().lookup(QStringLiteral("openai"), QStringLiteral("gpt-4.1-mini"));
        QVERIFY(row);
        const QJsonObject prices = o.value(QStringLiteral("prices")).toObject();
        QCOMPARE(prices.value(QStringLiteral("source")).toString(), QStringLiteral("shipped"));
        QCOMPARE(prices.value(QStringLiteral("model")).toString(), QStringLiteral("gpt-4.1-mini"));
        QCOMPARE(prices.value(QStringLiteral("as_of")).toString(), row->prices.asOf);
        qint64 chars = 0, tokens = 0;
        messageTotals(o, &chars, &tokens);
        const qint64 outTokens = 5 * rerank::kDefaultTokensPerItem + 16;
        QCOMPARE(o.value(QStringLiteral("estimated_output_tokens")).toInteger(), outTokens);
        QVERIFY(qFuzzyCompare(o.value(QStringLiteral("estimated_cost_usd")).toDouble(),
            perMillion(tokens, *row->prices.input) + perMillion(outTokens, *row->prices.output)));
        const Run t = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("shipped") });
        QVERIFY(t.out.contains(QStringLiteral("as of %1").arg(row->prices.asOf)));
        QVERIFY(t.out.contains(QStringLiteral("from shipped")));
    }

    void unknownPriceIsNullNeverZero()
    {
        const Run r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("unpriced"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QVERIFY(o.value(QStringLiteral("estimated_cost_usd")).isNull());
        QCOMPARE(o.value(QStringLiteral("prices")).toObject().value(QStringLiteral("known")).toBool(true), false);
        QVERIFY(o.value(QStringLiteral("prices")).toObject().value(QStringLiteral("input")).isNull());
        QVERIFY(o.value(QStringLiteral("estimated_input_tokens")).toInteger() > 0); // the size is still known
        const Run t = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("unpriced") });
        QVERIFY(t.out.contains(QStringLiteral("estimated cost: unknown")));
        QVERIFY(!t.out.contains(QStringLiteral("$0")));
        // --model changes the row looked up: a known model of the same endpoint is priced.
        const Run m = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("unpriced"), QStringLiteral("--model"), QStringLiteral("gpt-4o"), QStringLiteral("--json") });
        QCOMPARE(jsonOf(m).value(QStringLiteral("model")).toString(), QStringLiteral("gpt-4o"));
        QVERIFY(jsonOf(m).value(QStringLiteral("estimated_cost_usd")).toDouble() > 0);
    }

    void offlineEndpointMakesNoCall()
    {
        const Run r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        QCOMPARE(o.value(QStringLiteral("endpoint")).toString(), QStringLiteral("offline"));
        QCOMPARE(o.value(QStringLiteral("call")).toBool(true), false);
        QCOMPARE(o.value(QStringLiteral("estimated_cost_usd")).toDouble(-1), 0.0);
        const Run t = render({ QStringLiteral("--user"), QStringLiteral("u1") });
        QVERIFY(t.out.contains(QStringLiteral("no call")));
    }

    void coldUserGetsColdstart()
    {
        const Run r = render({ QStringLiteral("--user"), m_coldUser, QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(jsonOf(r).value(QStringLiteral("cold_start")).toBool(), true);
        QCOMPARE(jsonOf(r).value(QStringLiteral("template")).toString(), QStringLiteral("coldstart@1"));
        // An explicit --prompt wins, as in rerank.
        const Run e = render({ QStringLiteral("--user"), m_coldUser, QStringLiteral("--prompt"), QStringLiteral("compact"),
            QStringLiteral("--json") });
        QCOMPARE(jsonOf(e).value(QStringLiteral("template")).toString(), QStringLiteral("compact@1"));
        const Run rr = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), m_coldUser,
            QStringLiteral("--no-store"), QStringLiteral("--json") });
        QCOMPARE(jsonOf(rr).value(QStringLiteral("template")).toString(), QStringLiteral("coldstart@1"));
        const Run bad = render({ QStringLiteral("--user"), QStringLiteral("nobody") });
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains(QStringLiteral("nobody")), qPrintable(bad.err));
    }

    void addVersionRecordsParent()
    {
        const QString file = writeFile(QStringLiteral("mine.mustache"), "{{! user }}\nPick {{k}} of {{candidate_count}}.\n");
        auto add = [&](const QStringList& extra) {
            return cli(QStringList { QStringLiteral("prompts"), QStringLiteral("add-version"), QStringLiteral("mine"),
                           QStringLiteral("--file"), file, QStringLiteral("-w"), m_ws, QStringLiteral("--json") }
                + extra);
        };
        QVERIFY(!jsonOf(add({})).contains(QStringLiteral("parent_version"))); // mine@1: no parent
        QCOMPARE(jsonOf(add({})).value(QStringLiteral("parent_version")).toInt(), 1); // default: the newest
        const Run two = add({ QStringLiteral("--parent"), QStringLiteral("1") }); // mine@3 edited from 1, not 2
        QVERIFY2(two.code == 0, qPrintable(two.err));
        QCOMPARE(jsonOf(two).value(QStringLiteral("ref")).toString(), QStringLiteral("mine@3"));
        QCOMPARE(jsonOf(two).value(QStringLiteral("parent_version")).toInt(), 1);
        const Run shown = cli({ QStringLiteral("prompts"), QStringLiteral("show"), QStringLiteral("mine@3"),
            QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        QCOMPARE(jsonOf(shown).value(QStringLiteral("parent_version")).toInt(), 1);
        const Run missing = add({ QStringLiteral("--parent"), QStringLiteral("9") });
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains(QStringLiteral("no version 9")), qPrintable(missing.err));
        const Run notNumber = add({ QStringLiteral("--parent"), QStringLiteral("x") });
        QCOMPARE(notNumber.code, 2); // a usage error
    }

    void overrideFileChangesTheEstimate()
    {
        const Run path = cli({ QStringLiteral("prices"), QStringLiteral("path") });
        QCOMPARE(path.out.trimmed(), m_config + QStringLiteral("/recwb/prices.json"));
        const QString file = writeFile(QStringLiteral("my-prices.json"),
            R"({"rows":[{"provider":"openai","model":"gpt-4.1-mini","input":1,"cached_input":null,"output":2,"as_of":"2027-01-01"}]})");
        const QHash<QString, QString> env { { QStringLiteral("RECWB_PRICES"), file } };
        QCOMPARE(cli({ QStringLiteral("prices"), QStringLiteral("path") }, env).out.trimmed(), file);

        const Run r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
                                 QStringLiteral("shipped"), QStringLiteral("--json") },
            env);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = jsonOf(r);
        const QJsonObject prices = o.value(QStringLiteral("prices")).toObject();
        QCOMPARE(prices.value(QStringLiteral("source")).toString(), file);
        QCOMPARE(prices.value(QStringLiteral("as_of")).toString(), QStringLiteral("2027-01-01"));
        QVERIFY(prices.value(QStringLiteral("cached_input")).isNull());
        const qint64 in = o.value(QStringLiteral("estimated_input_tokens")).toInteger();
        const qint64 out = o.value(QStringLiteral("estimated_output_tokens")).toInteger();
        QVERIFY(qFuzzyCompare(o.value(QStringLiteral("estimated_cost_usd")).toDouble(), perMillion(in, 1) + perMillion(out, 2)));

        const Run list = cli({ QStringLiteral("prices"), QStringLiteral("list"), QStringLiteral("--json") }, env);
        QVERIFY2(list.code == 0, qPrintable(list.err));
        const QJsonArray rows = jsonOf(list).value(QStringLiteral("rows")).toArray();
        QCOMPARE(rows.size(), rerank::PriceTable::builtin().rows().size());
        int fromFile = 0;
        for (const QJsonValue& v : rows) {
            const QJsonObject row = v.toObject();
            const bool mini = row.value(QStringLiteral("provider")).toString() == u"openai"
                && row.value(QStringLiteral("model")).toString() == u"gpt-4.1-mini";
            QCOMPARE(row.value(QStringLiteral("source")).toString(), mini ? file : QStringLiteral("shipped"));
            fromFile += mini;
            QVERIFY(row.contains(QStringLiteral("cache_write")) && row.contains(QStringLiteral("as_of")));
        }
        QCOMPARE(fromFile, 1);
        const Run text = cli({ QStringLiteral("prices"), QStringLiteral("list") }, env);
        QVERIFY(text.out.contains(QStringLiteral("2027-01-01  ") + file));
        QVERIFY(text.out.contains(QStringLiteral("unknown"))); // null prices print as unknown, never 0

        // The per-user file is used when RECWB_PRICES is not set.
        QVERIFY(QDir(m_config).mkpath(QStringLiteral("recwb")));
        QVERIFY(QFile::copy(file, m_config + QStringLiteral("/recwb/prices.json")));
        const Run user = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--endpoint"),
            QStringLiteral("shipped"), QStringLiteral("--json") });
        QCOMPARE(jsonOf(user).value(QStringLiteral("prices")).toObject().value(QStringLiteral("source")).toString(),
            m_config + QStringLiteral("/recwb/prices.json"));
        QVERIFY(QFile::remove(m_config + QStringLiteral("/recwb/prices.json")));
    }

    // versions / label / diff / NAME@LABEL in show, render and rerank, on a template of its
    // own (other tests use listwise@1).
    void versionsLabelsDiffAndLabelRefs()
    {
        const QString v1Text
            = QStringLiteral("{{! system }}\nYou rank films.\n{{! user }}\nPick the best {{k}} of:\n"
                             "{{#candidates}}\n{{external_id}} {{title}}\n{{/candidates}}\n{{{schema}}}\n");
        QString v2Text = v1Text;
        v2Text.replace(QStringLiteral("Pick the best"), QStringLiteral("Pick the top"));
        writeFile(QStringLiteral("tuned1.txt"), v1Text.toUtf8());
        writeFile(QStringLiteral("tuned2.txt"), v2Text.toUtf8());
        auto prompts = [this](const QStringList& args) {
            return cli(QStringList { QStringLiteral("prompts") } + args + QStringList { QStringLiteral("-w"), m_ws });
        };
        Run r = prompts({ QStringLiteral("add-version"), QStringLiteral("tuned"), QStringLiteral("--file"),
            m_dir.filePath(QStringLiteral("tuned1.txt")), QStringLiteral("--note"), QStringLiteral("first") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        r = prompts({ QStringLiteral("add-version"), QStringLiteral("tuned"), QStringLiteral("--file"),
            m_dir.filePath(QStringLiteral("tuned2.txt")), QStringLiteral("--note"), QStringLiteral("top, not best") });
        QVERIFY2(r.code == 0, qPrintable(r.err));

        r = prompts({ QStringLiteral("label"), QStringLiteral("tuned@1"), QStringLiteral("production") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        r = prompts({ QStringLiteral("label"), QStringLiteral("tuned@2"), QStringLiteral("staging") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        // A number is not a label; a version that does not exist is refused.
        QCOMPARE(prompts({ QStringLiteral("label"), QStringLiteral("tuned@1"), QStringLiteral("7") }).code, 1);
        r = prompts({ QStringLiteral("label"), QStringLiteral("tuned@9"), QStringLiteral("x") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(QStringLiteral("tuned@9")), qPrintable(r.err));

        r = prompts({ QStringLiteral("versions"), QStringLiteral("tuned"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonArray versions = QJsonDocument::fromJson(r.out.toUtf8()).array();
        QCOMPARE(versions.size(), 2);
        const QJsonObject v1 = versions[0].toObject();
        const QJsonObject v2 = versions[1].toObject();
        QCOMPARE(v1.value(QStringLiteral("version")).toInt(), 1);
        QCOMPARE(v1.value(QStringLiteral("note")).toString(), QStringLiteral("first"));
        QVERIFY(!v1.contains(QStringLiteral("parent_version")));
        QCOMPARE(v1.value(QStringLiteral("labels")).toArray(), QJsonArray { QStringLiteral("production") });
        QCOMPARE(v2.value(QStringLiteral("parent_version")).toInt(), 1);
        QCOMPARE(v2.value(QStringLiteral("labels")).toArray(), QJsonArray { QStringLiteral("staging") });
        QVERIFY(v2.value(QStringLiteral("created_at")).toInteger() > 0);
        r = prompts({ QStringLiteral("versions"), QStringLiteral("tuned") });
        QVERIFY2(r.code == 0 && r.out.contains(QStringLiteral("production"))
                && r.out.contains(QStringLiteral("top, not best")),
            qPrintable(r.out + r.err));

        // Labels resolve in show, and diff takes labels and versions alike.
        r = prompts({ QStringLiteral("show"), QStringLiteral("tuned@production") });
        QCOMPARE(r.out.trimmed(), v1Text.trimmed());
        r = prompts({ QStringLiteral("diff"), QStringLiteral("tuned@production"), QStringLiteral("tuned@2") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains(QStringLiteral("--- tuned@1\n+++ tuned@2\n")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QStringLiteral("-Pick the [-best-] {{k}} of:")), qPrintable(r.out));
        QVERIFY2(r.out.contains(QStringLiteral("+Pick the {+top+} {{k}} of:")), qPrintable(r.out));
        r = prompts({ QStringLiteral("diff"), QStringLiteral("tuned@1"), QStringLiteral("tuned@staging"),
            QStringLiteral("--json") });
        const QJsonObject d = jsonOf(r);
        QCOMPARE(d.value(QStringLiteral("added")).toInt(), 1);
        QCOMPARE(d.value(QStringLiteral("removed")).toInt(), 1);
        QCOMPARE(d.value(QStringLiteral("new")).toString(), QStringLiteral("tuned@2"));

        // render and rerank resolve the label through the pipeline.
        r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--prompt"),
            QStringLiteral("tuned@production"), QStringLiteral("--endpoint"), QStringLiteral("offline"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(jsonOf(r).value(QStringLiteral("template")).toString(), QStringLiteral("tuned@1"));
        r = cli({ QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"), QStringLiteral("u1"),
            QStringLiteral("--prompt"), QStringLiteral("tuned@staging"), QStringLiteral("--endpoint"),
            QStringLiteral("offline"), QStringLiteral("--no-store"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(jsonOf(r).value(QStringLiteral("template")).toString(), QStringLiteral("tuned@2"));

        // Moving a label, then removing it; an unknown label names what exists.
        r = prompts({ QStringLiteral("label"), QStringLiteral("tuned@2"), QStringLiteral("production") });
        QVERIFY2(r.out.contains(QStringLiteral("from version 1 to 2")), qPrintable(r.out));
        QCOMPARE(
            prompts({ QStringLiteral("show"), QStringLiteral("tuned@production") }).out.trimmed(), v2Text.trimmed());
        r = prompts({ QStringLiteral("label"), QStringLiteral("tuned"), QStringLiteral("staging"),
            QStringLiteral("--remove") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        r = render({ QStringLiteral("--user"), QStringLiteral("u1"), QStringLiteral("--prompt"),
            QStringLiteral("tuned@staging") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(QStringLiteral("no label \"staging\"")) && r.err.contains(QStringLiteral("production")),
            qPrintable(r.err));
        QCOMPARE(m_connections, 0);
    }

    void malformedOverrideIsAnError()
    {
        const QString file
            = writeFile(QStringLiteral("bad-prices.json"), "{\"rows\":[\n {\"provider\":\"openai\" \"model\":\"x\"}\n]}");
        const QHash<QString, QString> env { { QStringLiteral("RECWB_PRICES"), file } };
        for (const QStringList& args : { QStringList { QStringLiteral("prices"), QStringLiteral("list") },
                 QStringList { QStringLiteral("prompts"), QStringLiteral("render"), QStringLiteral("-w"), m_ws,
                     QStringLiteral("--user"), QStringLiteral("u1") },
                 QStringList { QStringLiteral("rerank"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
                     QStringLiteral("u1"), QStringLiteral("--no-store") } }) {
            const Run r = cli(args, env);
            QCOMPARE(r.code, 1);
            QVERIFY2(r.err.contains(file) && r.err.contains(QStringLiteral("line 2")), qPrintable(r.err));
        }
        const Run missing = cli({ QStringLiteral("prices"), QStringLiteral("list") },
            { { QStringLiteral("RECWB_PRICES"), m_dir.filePath(QStringLiteral("absent.json")) } });
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains(QStringLiteral("absent.json")), qPrintable(missing.err));
    }
};

QTEST_GUILESS_MAIN(TestCliPrompts)
#include "tst_cli_prompts.moc"
