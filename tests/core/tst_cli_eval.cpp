#include "testutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

// recwb-cli eval end to end on a small generated workspace.
class TestCliEval : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_ws;

    struct Run {
        int code = -1;
        QString out;
        QString err;
    };
    static Run cli(const QStringList& args)
    {
        QProcess p;
        p.start(QStringLiteral(RECWB_CLI_PATH), args);
        if (!p.waitForFinished(300000))
            return {};
        return { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_ws = m_dir.filePath(QStringLiteral("small.recwb"));
        const Run g = cli({ QStringLiteral("generate"), QStringLiteral("-o"), m_ws, QStringLiteral("--users"),
            QStringLiteral("200"), QStringLiteral("--items"), QStringLiteral("300"), QStringLiteral("--interactions"),
            QStringLiteral("6000") });
        QVERIFY2(g.code == 0, qPrintable(g.err));
    }

    void jsonLinesAndComparison()
    {
        const Run r = cli({ QStringLiteral("eval"), QStringLiteral("-w"), m_ws, QStringLiteral("--split"),
            QStringLiteral("strat75"), QStringLiteral("--seed"), QStringLiteral("7"), QStringLiteral("--models"),
            QStringLiteral("pop,itemknn"), QStringLiteral("--k"), QStringLiteral("10,5"), QStringLiteral("--json"),
            QStringLiteral("--compare"), QStringLiteral("pop,itemknn"), QStringLiteral("--metric"),
            QStringLiteral("recall@5") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QStringList lines = r.out.split(u'\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 3);
        for (int i = 0; i < 2; ++i) {
            const QJsonObject o = QJsonDocument::fromJson(lines[i].toUtf8()).object();
            QCOMPARE(o.value(QStringLiteral("model")).toString(), i == 0 ? QStringLiteral("pop") : QStringLiteral("itemknn"));
            QCOMPARE(o.value(QStringLiteral("split")).toString(), QStringLiteral("strat75"));
            QCOMPARE(o.value(QStringLiteral("seed")).toInteger(), 7);
            QCOMPARE(o.value(QStringLiteral("k")).toArray(), (QJsonArray { 5, 10 }));
            QVERIFY(o.value(QStringLiteral("users_evaluated")).toInt() > 100);
            for (const char* key : { "hr@5", "recall@10", "ndcg@10", "mrr@5", "coverage@10", "ild@5", "novelty@10",
                     "fit_seconds", "eval_seconds" })
                QVERIFY2(o.value(QString::fromLatin1(key)).isDouble(), key);
            QVERIFY(o.value(QStringLiteral("cohorts")).isArray());
            QCOMPARE(o.value(QStringLiteral("workspace")).toString(), m_ws);
        }
        const QJsonObject c = QJsonDocument::fromJson(lines[2].toUtf8()).object().value(QStringLiteral("comparison")).toObject();
        QCOMPARE(c.value(QStringLiteral("metric")).toString(), QStringLiteral("recall@5"));
        QCOMPARE(c.value(QStringLiteral("a")).toString(), QStringLiteral("pop"));
        QCOMPARE(c.value(QStringLiteral("b")).toString(), QStringLiteral("itemknn"));
        QVERIFY(c.value(QStringLiteral("ci_low")).toDouble() <= c.value(QStringLiteral("ci_high")).toDouble());
        QVERIFY(c.contains(QStringLiteral("verdict")));

        // Same command, same figures (fixed seeds everywhere).
        const Run again = cli({ QStringLiteral("eval"), QStringLiteral("-w"), m_ws, QStringLiteral("--split"),
            QStringLiteral("strat75"), QStringLiteral("--seed"), QStringLiteral("7"), QStringLiteral("--models"),
            QStringLiteral("pop"), QStringLiteral("--k"), QStringLiteral("10,5"), QStringLiteral("--json"),
            QStringLiteral("--threads"), QStringLiteral("1") });
        QJsonObject first = QJsonDocument::fromJson(lines[0].toUtf8()).object();
        QJsonObject second = QJsonDocument::fromJson(again.out.toUtf8()).object();
        for (auto* o : { &first, &second }) {
            o->remove(QStringLiteral("fit_seconds"));
            o->remove(QStringLiteral("eval_seconds"));
        }
        QCOMPARE(first, second);
    }

    void table()
    {
        const Run r = cli({ QStringLiteral("eval"), QStringLiteral("-w"), m_ws, QStringLiteral("--models"),
            QStringLiteral("pop"), QStringLiteral("--split"), QStringLiteral("cold@1") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(QStringLiteral("Protocol  cold@1")));
        QVERIFY(r.out.contains(m_ws));
        QVERIFY(r.out.contains(QStringLiteral("NDCG@10")));
        QVERIFY(r.out.contains(QStringLiteral(" evaluated")));
    }

    void errors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addRow("model") << QStringList { QStringLiteral("--models"), QStringLiteral("nope") }
                               << QStringLiteral("unknown model 'nope'");
        QTest::addRow("split") << QStringList { QStringLiteral("--models"), QStringLiteral("pop"), QStringLiteral("--split"),
            QStringLiteral("half") } << QStringLiteral("unknown split 'half'");
        QTest::addRow("param") << QStringList { QStringLiteral("--models"), QStringLiteral("pop"), QStringLiteral("--param"),
            QStringLiteral("ease.lambda=3") } << QStringLiteral("not in --models");
        QTest::addRow("k") << QStringList { QStringLiteral("--models"), QStringLiteral("pop"), QStringLiteral("--k"),
            QStringLiteral("0") } << QStringLiteral("--k");
        QTest::addRow("compare") << QStringList { QStringLiteral("--models"), QStringLiteral("pop"),
            QStringLiteral("--compare"), QStringLiteral("pop,ease") } << QStringLiteral("not in --models");
        QTest::addRow("metric") << QStringList { QStringLiteral("--models"), QStringLiteral("pop,ease"),
            QStringLiteral("--compare"), QStringLiteral("pop,ease"), QStringLiteral("--metric"), QStringLiteral("ndcg@20") }
                                << QStringLiteral("K = 20 is not in --k");
    }
    void errors()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const Run r = cli(QStringList { QStringLiteral("eval"), QStringLiteral("-w"), m_ws } + args);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestCliEval)
#include "tst_cli_eval.moc"
