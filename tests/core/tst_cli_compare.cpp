// recwb-cli compare end to end: the real CLI on a generated workspace (and on ML-100K when
// present), against the local test LLM server. Every figure the CLI prints is checked
// against lists, held-out items and metrics computed here independently.
#include "testllmserver.h"
#include "testutil.h"

#include "cf/recommender.h"
#include "data/import/importers.h"
#include "data/workspace.h"
#include "eval/listcompare.h"
#include "eval/metrics.h"
#include "eval/split.h"
#include "pipeline/armspec.h"

#include <QEventLoop>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTcpServer>
#include <QSet>
#include <QTimer>
#include <algorithm>
#include <cmath>

using namespace recwb;

class TestCliCompare : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;
    test::TestLlmServer m_server;

    using Run = test::CliRun;
    static Run cli(const QStringList& args) { return test::runCliAsync(args, QStringLiteral("sk-fake-compare-99")); }
    static QJsonObject jsonOf(const Run& r) { return QJsonDocument::fromJson(r.out.toUtf8()).object(); }

    static void addEndpoint(const QString& ws, const QString& name, const QString& baseUrl)
    {
        const Run add = cli({ QStringLiteral("endpoints"), QStringLiteral("add"), QStringLiteral("-w"), ws,
            QStringLiteral("--name"), name, QStringLiteral("--kind"), QStringLiteral("openai"),
            QStringLiteral("--base-url"), baseUrl, QStringLiteral("--model"), QStringLiteral("gpt-test"),
            QStringLiteral("--key-env"), QStringLiteral("RECWB_TEST_FAKE_KEY"), QStringLiteral("--timeout-ms"),
            QStringLiteral("3000"), QStringLiteral("--max-retries"), QStringLiteral("0"),
            QStringLiteral("--price-input"), QStringLiteral("0.4"), QStringLiteral("--price-cached"),
            QStringLiteral("0.1"), QStringLiteral("--price-output"), QStringLiteral("1.6") });
        QVERIFY2(add.code == 0, qPrintable(add.err));
    }

    // The item ids of an arm's list, as dataset indices.
    static std::vector<int32_t> listOf(const QJsonObject& arm, const Dataset& ds)
    {
        std::vector<int32_t> out;
        for (const QJsonValue& v : arm.value(QStringLiteral("list")).toArray())
            out.push_back(ds.itemIndex(v.toObject().value(QStringLiteral("item_id")).toString()));
        return out;
    }

    // Checks everything the comparison says against the dataset and the split computed here.
    static void checkComparison(
        const QJsonObject& c, const Dataset& ds, const QString& userId, const QString& splitName)
    {
        const int32_t user = ds.userIndex(userId);
        QVERIFY(user >= 0);
        const eval::Split split = eval::makeSplit(ds, splitName);
        const std::vector<int32_t>& test = split.test[static_cast<size_t>(user)];
        QVERIFY(!test.empty());
        QStringList heldOut;
        for (const int32_t item : test)
            heldOut << ds.items[static_cast<size_t>(item)].externalId;
        QStringList got;
        for (const QJsonValue& v : c.value(QStringLiteral("held_out")).toArray())
            got << v.toString();
        QCOMPARE(got, heldOut);
        QCOMPARE(c.value(QStringLiteral("split")).toString(), splitName);

        const QJsonArray arms = c.value(QStringLiteral("arms")).toArray();
        std::vector<std::vector<int32_t>> lists;
        for (const QJsonValue& v : arms) {
            const QJsonObject arm = v.toObject();
            const int k = arm.value(QStringLiteral("k")).toInt();
            const auto list = listOf(arm, ds);
            QCOMPARE(static_cast<int>(list.size()), k);
            const QJsonArray rows = arm.value(QStringLiteral("list")).toArray();
            // cf_rank: the item's place in this arm's own CF candidates (EASE etc. fitted on
            // the train part), null when it is not among them
            const pipeline::ArmSpec spec = pipeline::ArmSpec::parse(arm.value(QStringLiteral("spec")).toString());
            const std::vector<int32_t> candidates
                = cfTopK(spec.cf, ds, userId, splitName, spec.reranks() ? spec.candidates : spec.k);
            for (qsizetype i = 0; i < rows.size(); ++i) {
                const QJsonObject r = rows[i].toObject();
                const int32_t item = list[static_cast<size_t>(i)];
                QVERIFY(item >= 0);
                QCOMPARE(r.value(QStringLiteral("rank")).toInt(), i + 1);
                const auto at = std::find(candidates.begin(), candidates.end(), item);
                if (at == candidates.end())
                    QVERIFY2(r.value(QStringLiteral("cf_rank")).isNull(), qPrintable(spec.toString()));
                else
                    QCOMPARE(r.value(QStringLiteral("cf_rank")).toInt(), static_cast<int>(at - candidates.begin()) + 1);
                if (!spec.reranks())
                    QCOMPARE(r.value(QStringLiteral("cf_rank")).toInt(), i + 1);
                else // every row of a reranked column has its explanation
                    QVERIFY2(!r.value(QStringLiteral("explanation")).toString().trimmed().isEmpty(),
                        qPrintable(QStringLiteral("%1 rank %2").arg(spec.toString()).arg(i + 1)));
                QCOMPARE(r.value(QStringLiteral("title")).toString(), ds.items[static_cast<size_t>(item)].title);
                const bool isTest = std::binary_search(test.begin(), test.end(), item);
                QCOMPARE(r.value(QStringLiteral("held_out")).toBool(), isTest);
                QVERIFY2(!split.train.contains(user, item), "a listed item is in the user's train part");
            }
            const eval::Accuracy acc = eval::accuracyAtK(list, test, k);
            const QJsonObject m = arm.value(QStringLiteral("metrics")).toObject();
            QCOMPARE(m.value(QStringLiteral("hr")).toDouble(), acc.hr);
            QCOMPARE(m.value(QStringLiteral("ndcg")).toDouble(), acc.ndcg);
            QCOMPARE(m.value(QStringLiteral("recall")).toDouble(), acc.recall);
            lists.push_back(list);
        }
        const QJsonArray pairs = c.value(QStringLiteral("pairs")).toArray();
        QCOMPARE(pairs.size(), arms.size() * (arms.size() - 1) / 2);
        for (const QJsonValue& v : pairs) {
            const QJsonObject p = v.toObject();
            const auto& a = lists[static_cast<size_t>(p.value(QStringLiteral("a")).toInt())];
            const auto& b = lists[static_cast<size_t>(p.value(QStringLiteral("b")).toInt())];
            // overlap@K and tau counted naively here
            const int k = p.value(QStringLiteral("k")).toInt();
            int shared = 0;
            for (int i = 0; i < k; ++i)
                shared += std::find(b.begin(), b.begin() + k, a[static_cast<size_t>(i)]) != b.begin() + k ? 1 : 0;
            QCOMPARE(p.value(QStringLiteral("overlap")).toDouble(), static_cast<double>(shared) / k);
            std::vector<std::pair<long, long>> pos;
            for (size_t i = 0; i < a.size(); ++i)
                if (const auto it = std::find(b.begin(), b.end(), a[i]); it != b.end())
                    pos.emplace_back(static_cast<long>(i), it - b.begin());
            if (pos.size() < 2) {
                QVERIFY(p.value(QStringLiteral("kendall_tau")).isNull());
            } else {
                double s = 0;
                for (size_t i = 0; i < pos.size(); ++i)
                    for (size_t j = i + 1; j < pos.size(); ++j)
                        s += (pos[i].second < pos[j].second) ? 1 : -1;
                const double tau = s / (static_cast<double>(pos.size() * (pos.size() - 1)) / 2);
                QVERIFY(std::abs(p.value(QStringLiteral("kendall_tau")).toDouble() - tau) < 1e-12);
            }
            QVERIFY(std::abs(p.value(QStringLiteral("rbo")).toDouble() - eval::rankBiasedOverlap(a, b)) < 1e-12);
        }
    }

    // The plain CF list a model fitted only on the split's train part gives.
    static std::vector<int32_t> cfTopK(
        const QString& algorithm, const Dataset& ds, const QString& userId, const QString& splitName, int k)
    {
        const eval::Split split = eval::makeSplit(ds, splitName);
        auto model = cf::makeRecommender(algorithm);
        model->fit(split.train);
        std::vector<int32_t> out;
        for (const cf::ScoredItem& s : cf::recommend(*model, cf::History::ofUser(split.train, ds.userIndex(userId)), k))
            out.push_back(s.item);
        return out;
    }

    // RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
    static QList<QStringList> parseCsv(const QString& text)
    {
        QList<QStringList> records;
        QStringList record;
        QString field;
        bool quoted = false;
        for (qsizetype i = 0; i < text.size(); ++i) {
            const QChar c = text[i];
            if (quoted) {
                if (c == u'"' && i + 1 < text.size() && text[i + 1] == u'"') {
                    field += c;
                    ++i;
                } else if (c == u'"') {
                    quoted = false;
                } else {
                    field += c;
                }
            } else if (c == u'"') {
                quoted = true;
            } else if (c == u',') {
                record << std::exchange(field, QString());
            } else if (c == u'\r' && i + 1 < text.size() && text[i + 1] == u'\n') {
                record << std::exchange(field, QString());
                records << std::exchange(record, QStringList());
                ++i;
            } else {
                field += c;
            }
        }
        return records;
    }

    static bool hasControl(const QString& text)
    {
        return std::any_of(text.begin(), text.end(),
            [](QChar c) { return c.category() == QChar::Other_Control && c != u'\n' && c != u'\r'; });
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY(m_server.start() != 0);
        m_ws = m_dir.filePath(QStringLiteral("small.recwb"));
        test::generateSmallWorkspace(m_ws);
        addEndpoint(m_ws, QStringLiteral("test"), m_server.openAiBaseUrl());
        // A port nobody listens on: connection refused.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost));
        const quint16 deadPort = probe.serverPort();
        probe.close();
        addEndpoint(m_ws, QStringLiteral("dead"), QStringLiteral("http://127.0.0.1:%1/v1").arg(deadPort));
    }

    // Plain CF, the offline reranker and an LLM endpoint with loo: lists, held-out marks,
    // metrics and the measures between columns agree with what is computed here.
    void threeArmsWithSplit()
    {
        m_server.resetCounters();
        const Run r = cli({ QStringLiteral("compare"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            QStringLiteral("u1"), QStringLiteral("--arm"), QStringLiteral("cf=ease,label=CF"), QStringLiteral("--arm"),
            QStringLiteral("cf=ease,rerank=offline"), QStringLiteral("--arm"),
            QStringLiteral("cf=ease,rerank=test,prompt=listwise"), QStringLiteral("--split"), QStringLiteral("loo"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject c = jsonOf(r);
        auto ws = Workspace::open(m_ws);
        const Dataset ds = ws->load();
        checkComparison(c, ds, QStringLiteral("u1"), QStringLiteral("loo"));
        const QJsonArray arms = c.value(QStringLiteral("arms")).toArray();
        QCOMPARE(arms.size(), 3);
        QCOMPARE(arms[0].toObject().value(QStringLiteral("label")).toString(), QStringLiteral("CF"));
        // the CF column is EASE fitted on the train part only
        QCOMPARE(listOf(arms[0].toObject(), ds),
            cfTopK(QStringLiteral("ease"), ds, QStringLiteral("u1"), QStringLiteral("loo"), 10));
        for (const QJsonValue& v : arms) {
            QCOMPARE(v.toObject().value(QStringLiteral("fallback")).toBool(), false);
            QVERIFY(v.toObject().value(QStringLiteral("error")).isUndefined());
        }
        // the LLM column was really asked, and paid for
        QCOMPARE(m_server.requestCount(QStringLiteral("/v1/chat/completions")), 1);
        const QJsonObject llm = arms[2].toObject();
        QCOMPARE(llm.value(QStringLiteral("answered_by")).toString(), QStringLiteral("test"));
        QVERIFY(llm.value(QStringLiteral("tokens")).toObject().value(QStringLiteral("input")).toInt() > 0);
        QVERIFY(llm.value(QStringLiteral("cost")).toDouble() > 0);
        QVERIFY(llm.value(QStringLiteral("stage_ms")).toObject().value(QStringLiteral("llm")).toDouble() > 0);
        QVERIFY(!llm.value(QStringLiteral("list"))
                     .toArray()[0]
                     .toObject()
                     .value(QStringLiteral("explanation"))
                     .toString()
                     .isEmpty());
        // the offline column picks among the CF candidates; its explanations are its own
        const QJsonObject offline = arms[1].toObject();
        QVERIFY(!offline.value(QStringLiteral("list"))
                     .toArray()[0]
                     .toObject()
                     .value(QStringLiteral("explanation"))
                     .toString()
                     .isEmpty());
    }

    // A dead endpoint: that column shows the CF order with the reason; the others finish.
    void deadEndpointColumnFallsBack()
    {
        const Run r = cli({ QStringLiteral("compare"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            QStringLiteral("u1"), QStringLiteral("--arm"), QStringLiteral("cf=ease"), QStringLiteral("--arm"),
            QStringLiteral("cf=ease,rerank=dead"), QStringLiteral("--arm"), QStringLiteral("cf=ease,rerank=nosuch"),
            QStringLiteral("--arm"), QStringLiteral("cf=pop,rerank=offline,k=5"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonArray arms = jsonOf(r).value(QStringLiteral("arms")).toArray();
        QCOMPARE(arms.size(), 4);
        auto ws = Workspace::open(m_ws);
        const Dataset ds = ws->load();
        const auto cf = listOf(arms[0].toObject(), ds);
        for (int i : { 1, 2 }) {
            const QJsonObject a = arms[i].toObject();
            QCOMPARE(a.value(QStringLiteral("fallback")).toBool(), true);
            QVERIFY2(!a.value(QStringLiteral("fallback_reason")).toString().isEmpty(), qPrintable(compactOf(a)));
            QCOMPARE(listOf(a, ds), cf); // the CF order
            QVERIFY(a.value(QStringLiteral("metrics")).isNull()); // no split
        }
        QVERIFY(arms[2].toObject().value(QStringLiteral("error")).toString().contains(QStringLiteral("nosuch")));
        QCOMPARE(arms[3].toObject().value(QStringLiteral("list")).toArray().size(), 5);
        QCOMPARE(arms[3].toObject().value(QStringLiteral("fallback")).toBool(), false);
        // CF vs its own fallback copy: identical lists
        const QJsonObject p01 = jsonOf(r).value(QStringLiteral("pairs")).toArray()[0].toObject();
        QCOMPARE(p01.value(QStringLiteral("overlap")).toDouble(), 1.0);
        QCOMPARE(p01.value(QStringLiteral("kendall_tau")).toDouble(), 1.0);
        QVERIFY(std::abs(p01.value(QStringLiteral("rbo")).toDouble() - 1.0) < 1e-12);
    }

    // "seed" is the seed given when the split uses one (strat75), else null; an arm without
    // a reranker has no template.
    void seedAndTemplate_data()
    {
        QTest::addColumn<QStringList>("splitArgs");
        QTest::addColumn<QJsonValue>("seed");
        QTest::addRow("no split") << QStringList { QStringLiteral("--seed"), QStringLiteral("7") }
                                  << QJsonValue(QJsonValue::Null);
        QTest::addRow("loo ignores the seed") << QStringList { QStringLiteral("--split"), QStringLiteral("loo"),
            QStringLiteral("--seed"), QStringLiteral("7") } << QJsonValue(QJsonValue::Null);
        QTest::addRow("strat75 seed 7") << QStringList { QStringLiteral("--split"), QStringLiteral("strat75"),
            QStringLiteral("--seed"), QStringLiteral("7") } << QJsonValue(7);
    }
    void seedAndTemplate()
    {
        QFETCH(QStringList, splitArgs);
        QFETCH(QJsonValue, seed);
        const Run r = cli(QStringList { QStringLiteral("compare"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
                              QStringLiteral("u1"), QStringLiteral("--arm"), QStringLiteral("cf=ease"),
                              QStringLiteral("--arm"), QStringLiteral("cf=ease,rerank=offline"), QStringLiteral("--json") }
            + splitArgs);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject c = jsonOf(r);
        QCOMPARE(c.value(QStringLiteral("seed")), seed);
        const QJsonArray arms = c.value(QStringLiteral("arms")).toArray();
        QVERIFY2(arms[0].toObject().value(QStringLiteral("template")).isNull(),
            qPrintable(arms[0].toObject().value(QStringLiteral("template")).toString()));
        QVERIFY2(arms[1].toObject().value(QStringLiteral("template")).toString().startsWith(QStringLiteral("listwise@")),
            qPrintable(arms[1].toObject().value(QStringLiteral("template")).toString()));
        QCOMPARE(arms[0].toObject().value(QStringLiteral("answered_by")).toString(), QStringLiteral("none"));
        QCOMPARE(arms[1].toObject().value(QStringLiteral("answered_by")).toString(), QStringLiteral("offline"));
    }

    void exportsAndText()
    {
        const QString html = m_dir.filePath(QStringLiteral("c.html"));
        const QString csv = m_dir.filePath(QStringLiteral("c.csv"));
        const Run r = cli({ QStringLiteral("compare"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            QStringLiteral("u1"), QStringLiteral("--arm"), QStringLiteral("cf=ease"), QStringLiteral("--arm"),
            QStringLiteral("cf=ials,rerank=offline,k=5"), QStringLiteral("--split"), QStringLiteral("strat75"),
            QStringLiteral("--seed"), QStringLiteral("3"), QStringLiteral("--html"), html, QStringLiteral("--csv"),
            csv });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QFile h(html);
        QVERIFY(h.open(QIODevice::ReadOnly));
        const QString page = QString::fromUtf8(h.readAll());
        QVERIFY(page.startsWith(QStringLiteral("<!DOCTYPE html>")));
        QVERIFY(page.contains(QStringLiteral("<style>")) && !page.contains(QStringLiteral("<link")));
        QVERIFY(page.contains(QStringLiteral("strat75")) && page.contains(QStringLiteral("seed 3")));
        QFile c(csv);
        QVERIFY(c.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(c.readAll()).split(QStringLiteral("\r\n"), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 1 + 10 + 5);
        QVERIFY(lines[0].startsWith(QStringLiteral("arm,label,spec,rank,item_id")));

        const Run t = cli({ QStringLiteral("compare"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
            QStringLiteral("u1"), QStringLiteral("--arm"), QStringLiteral("cf=ease"), QStringLiteral("--arm"),
            QStringLiteral("cf=pop") });
        QVERIFY2(t.code == 0, qPrintable(t.err));
        QVERIFY(t.out.contains(QStringLiteral("[1] cf=ease")) && t.out.contains(QStringLiteral("Kendall tau")));
    }

    void badInput_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addRow("one arm") << QStringList { QStringLiteral("--arm"), QStringLiteral("cf=ease") }
                                 << "2 to 4 --arm";
        QTest::addRow("bad key") << QStringList { QStringLiteral("--arm"), QStringLiteral("cf=ease"),
            QStringLiteral("--arm"), QStringLiteral("cf=ease,rernk=offline") }
                                 << "unknown key 'rernk'";
        QTest::addRow("unknown model") << QStringList { QStringLiteral("--arm"), QStringLiteral("cf=ease"),
            QStringLiteral("--arm"), QStringLiteral("cf=nomodel") }
                                       << "cf=nomodel";
        QTest::addRow("bad split") << QStringList { QStringLiteral("--arm"), QStringLiteral("cf=ease"),
            QStringLiteral("--arm"), QStringLiteral("cf=pop"), QStringLiteral("--split"), QStringLiteral("half") }
                                   << "half";
    }
    // A hostile catalog (markup, quotes, commas, line breaks, spreadsheet formulas, ANSI/OSC
    // escapes in titles and an id) imported for real, then exported as CSV and HTML: the
    // CSV parses back to its columns with every formula neutralised by a leading ', the HTML
    // shows the markup as text, and neither file holds a control character.
    void hostileCatalogExports()
    {
        const QStringList hostile { QStringLiteral("<script>alert(1)</script>"),
            QStringLiteral("=HYPERLINK(\"http://evil.invalid\",\"click\")"), QStringLiteral("+1+cmd|' /C calc'!A0"),
            QStringLiteral("-2+3"), QStringLiteral("@SUM(A1:A9)"), QStringLiteral("Line one\nLine two, \"quoted\""),
            QStringLiteral("\x1b[31mred\x1b[0m \x1b]0;owned\x07 title"), QStringLiteral("\tTabbed") };
        const QString formulaId = QStringLiteral("=1+2");
        QFile items(m_dir.filePath(QStringLiteral("hostile-items.jsonl")));
        QFile events(m_dir.filePath(QStringLiteral("hostile-events.jsonl")));
        QVERIFY(items.open(QIODevice::WriteOnly) && events.open(QIODevice::WriteOnly));
        QStringList ids;
        for (qsizetype i = 0; i < hostile.size(); ++i) {
            ids << (i == 0 ? formulaId : QStringLiteral("h%1").arg(i));
            items.write(QJsonDocument(QJsonObject { { QStringLiteral("item_id"), ids.last() },
                                          { QStringLiteral("title"), hostile[i] } })
                            .toJson(QJsonDocument::Compact)
                + '\n');
        }
        for (int i = 1; i <= 10; ++i)
            items.write(QStringLiteral("{\"item_id\":\"p%1\",\"title\":\"Plain %1\"}\n").arg(i).toUtf8());
        // Everyone but u1 has every hostile item and p1-p5: for u1 they are the most popular.
        for (int u = 2; u <= 21; ++u)
            for (const QString& item : ids + QStringList { QStringLiteral("p1"), QStringLiteral("p2"),
                     QStringLiteral("p3"), QStringLiteral("p4"), QStringLiteral("p5") })
                events.write(QJsonDocument(QJsonObject { { QStringLiteral("user_id"), QStringLiteral("u%1").arg(u) },
                                               { QStringLiteral("item_id"), item } })
                                 .toJson(QJsonDocument::Compact)
                    + '\n');
        for (int i = 6; i <= 10; ++i)
            events.write(QStringLiteral("{\"user_id\":\"u1\",\"item_id\":\"p%1\"}\n").arg(i).toUtf8());
        items.close();
        events.close();
        const QString ws = m_dir.filePath(QStringLiteral("hostile.recwb"));
        const Run imported = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("--format"),
            QStringLiteral("csv"), QStringLiteral("--kind"), QStringLiteral("jsonl"), QStringLiteral("--items"),
            items.fileName(), QStringLiteral("--title-col"), QStringLiteral("title"), events.fileName() });
        QVERIFY2(imported.code == 0, qPrintable(imported.err));
        {
            const Dataset ds = Workspace::open(ws)->load();
            QCOMPARE(ds.items[static_cast<size_t>(ds.itemIndex(QStringLiteral("h6")))].title, hostile[6]); // stored as is
        }
        const QString csvPath = m_dir.filePath(QStringLiteral("hostile.csv"));
        const QString htmlPath = m_dir.filePath(QStringLiteral("hostile.html"));
        const Run r = cli({ QStringLiteral("compare"), QStringLiteral("-w"), ws, QStringLiteral("--user"),
            QStringLiteral("u1"), QStringLiteral("--arm"), QStringLiteral("cf=pop"), QStringLiteral("--arm"),
            QStringLiteral("cf=pop,rerank=offline"), QStringLiteral("--csv"), csvPath, QStringLiteral("--html"),
            htmlPath });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(!hasControl(r.out), "a control character reached the terminal");

        QFile csvFile(csvPath);
        QVERIFY(csvFile.open(QIODevice::ReadOnly));
        const QString csv = QString::fromUtf8(csvFile.readAll());
        QVERIFY2(!hasControl(csv), "a control character in the CSV");
        const QList<QStringList> records = parseCsv(csv);
        QCOMPARE(records.size(), 1 + 2 * 10);
        QSet<QString> titles;
        QSet<QString> itemIds;
        for (const QStringList& rec : records) {
            QCOMPARE(rec.size(), 12);
            for (const int column : { 1, 2, 4, 5, 10, 11 }) { // label, spec, item_id, title, explanation, claims
                const QString& f = rec[column];
                QVERIFY2(f.isEmpty() || !QStringLiteral("=+-@\t\r").contains(f.front()), qPrintable(f));
            }
            titles << rec[5];
            itemIds << rec[4];
        }
        QVERIFY(titles.contains(hostile[0])); // markup is plain text in CSV
        QVERIFY(titles.contains(u'\'' + hostile[1]));
        QVERIFY(titles.contains(u'\'' + hostile[2]));
        QVERIFY(titles.contains(u'\'' + hostile[3]));
        QVERIFY(titles.contains(u'\'' + hostile[4]));
        QVERIFY(titles.contains(hostile[5])); // the line break and quotes survive inside the field
        QVERIFY(titles.contains(QStringLiteral("\\u001b[31mred\\u001b[0m \\u001b]0;owned\\u0007 title")));
        // a leading tab is a formula prefix too (unless the importer trimmed it)
        QVERIFY(titles.contains(u'\'' + hostile[7]) || titles.contains(hostile[7].trimmed()));
        QVERIFY(itemIds.contains(u'\'' + formulaId));

        QFile htmlFile(htmlPath);
        QVERIFY(htmlFile.open(QIODevice::ReadOnly));
        const QString html = QString::fromUtf8(htmlFile.readAll());
        QVERIFY2(!hasControl(QString(html).remove(u'\t')), "a control character in the HTML");
        QVERIFY(!html.contains(QStringLiteral("<script"), Qt::CaseInsensitive));
        QVERIFY(html.contains(QStringLiteral("&lt;script&gt;alert(1)&lt;/script&gt;")));
        QVERIFY(html.contains(QStringLiteral("=HYPERLINK(&quot;http://evil.invalid&quot;,&quot;click&quot;)")));
        QVERIFY(html.contains(QStringLiteral("\\u001b[31mred")));
        QVERIFY(!html.contains(QStringLiteral("\"click\"")));
    }

    void badInput()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = cli(QStringList { QStringLiteral("compare"), QStringLiteral("-w"), m_ws, QStringLiteral("--user"),
                              QStringLiteral("u1") }
            + args);
        QVERIFY(r.code != 0);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }

    // ML-100K: iALS + offline vs EASE vs popularity for user 1 with loo.
    void movieLens100k()
    {
        RECWB_REQUIRE_SHARED("ml-100k");
        const QString path = m_dir.filePath(QStringLiteral("ml100k.recwb"));
        {
            auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
            importMovieLens100k(*ws, test::sharedData(QStringLiteral("ml-100k")));
        }
        const Run r = cli({ QStringLiteral("compare"), QStringLiteral("-w"), path, QStringLiteral("--user"),
            QStringLiteral("1"), QStringLiteral("--arm"), QStringLiteral("cf=ease"), QStringLiteral("--arm"),
            QStringLiteral("cf=ials,rerank=offline"), QStringLiteral("--arm"), QStringLiteral("cf=pop,k=20"),
            QStringLiteral("--split"), QStringLiteral("ratio"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        auto ws = Workspace::open(path);
        const Dataset ds = ws->load();
        const QJsonObject c = jsonOf(r);
        checkComparison(c, ds, QStringLiteral("1"), QStringLiteral("ratio"));
        const QJsonArray arms = c.value(QStringLiteral("arms")).toArray();
        QCOMPARE(listOf(arms[0].toObject(), ds),
            cfTopK(QStringLiteral("ease"), ds, QStringLiteral("1"), QStringLiteral("ratio"), 10));
        QCOMPARE(listOf(arms[2].toObject(), ds),
            cfTopK(QStringLiteral("pop"), ds, QStringLiteral("1"), QStringLiteral("ratio"), 20));
    }

private:
    static QString compactOf(const QJsonObject& o)
    {
        return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
    }
};

QTEST_MAIN(TestCliCompare)
#include "tst_cli_compare.moc"
