// recwb-cli review on the small generated workspace (it has real cold users): a queue of
// real cold users and one of simulated cold@1 users built from the command line, listed and
// shown with each reviewer's progress, agreement and summary; the export written as CSV and
// JSON; bad sources and a missing queue refused with the right exit codes.
#include "testutil.h"

#include "data/workspace.h"
#include "review/review.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

using namespace recwb;

class TestCliReview : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ws;
    Dataset m_ds;

    static test::CliRun cli(const QStringList& args) { return test::runCliAsync(args, QStringLiteral("sk-fake-review-1")); }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_ws = m_dir.filePath(QStringLiteral("review.recwb"));
        test::generateSmallWorkspace(m_ws);
        m_ds = Workspace::open(m_ws)->load();
    }

    // Real cold users: exactly the workspace's users with fewer than 5 interactions (a
    // sample of 0 = every one), each with the items they have as the known items.
    void buildRealCold()
    {
        int cold = 0;
        for (int32_t u = 0; u < m_ds.numUsers(); ++u)
            cold += m_ds.isCold(u) ? 1 : 0;
        QVERIFY(cold > 0);
        const auto r = cli({ QStringLiteral("review"), QStringLiteral("build"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--source"), QStringLiteral("cold"), QStringLiteral("--sample"), QStringLiteral("0"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o.value(QStringLiteral("users")).toInt(), cold);
        const auto ws = Workspace::open(m_ws);
        const auto users = review::store::queueUsers(*ws, o.value(QStringLiteral("id")).toInteger());
        QCOMPARE(static_cast<int>(users.size()), cold);
        for (const review::QueueUser& u : users) {
            const int32_t i = m_ds.userIndex(u.userId);
            QVERIFY(m_ds.isCold(i));
            QCOMPARE(u.known, m_ds.interactionCount(i));
            QVERIFY(u.truth.isEmpty());
            QCOMPARE(u.items().size(), 10);
        }
    }

    // Simulated cold@1, 30 users: show reports two reviewers' progress and their kappa; the
    // export holds every verdict; a bad source exits 2, a missing queue 1.
    void buildShowExport()
    {
        const auto r = cli({ QStringLiteral("review"), QStringLiteral("build"), QStringLiteral("-w"), m_ws,
            QStringLiteral("--sample"), QStringLiteral("30"), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const qint64 id = QJsonDocument::fromJson(r.out.toUtf8()).object().value(QStringLiteral("id")).toInteger();
        QVERIFY(id > 0);
        {
            auto ws = Workspace::open(m_ws);
            const auto users = review::store::queueUsers(*ws, id);
            QCOMPARE(users.size(), size_t(30));
            const QStringList items = users[0].itemIds();
            // ann: good good bad; ben: good bad bad -> po 2/3, pe = (2/3)(1/3) + (1/3)(2/3) = 4/9, kappa 0.4
            const review::Verdict ann[] = { review::Verdict::Good, review::Verdict::Good, review::Verdict::Bad };
            const review::Verdict ben[] = { review::Verdict::Good, review::Verdict::Bad, review::Verdict::Bad };
            for (int i = 0; i < 3; ++i) {
                review::store::setVerdict(*ws, id, users[0].userId, items[i], QStringLiteral("ann"), ann[i]);
                review::store::setVerdict(*ws, id, users[0].userId, items[i], QStringLiteral("ben"), ben[i]);
            }
            review::store::setNote(*ws, id, users[0].userId, QString(), QStringLiteral("ann"), QStringLiteral("=1+1"));
        }
        const auto show = cli({ QStringLiteral("review"), QStringLiteral("show"), QString::number(id),
            QStringLiteral("-w"), m_ws, QStringLiteral("--json") });
        QVERIFY2(show.code == 0, qPrintable(show.err));
        const QJsonObject o = QJsonDocument::fromJson(show.out.toUtf8()).object();
        QCOMPARE(o.value(QStringLiteral("users")).toInt(), 30);
        const QJsonObject annProgress = o.value(QStringLiteral("reviewers")).toObject().value(QStringLiteral("ann")).toObject();
        QCOMPARE(annProgress.value(QStringLiteral("judged")).toInt(), 3);
        QCOMPARE(annProgress.value(QStringLiteral("items")).toInt(), 300);
        QCOMPARE(annProgress.value(QStringLiteral("resume_at")).toInt(), 0);
        const QJsonArray agreement = o.value(QStringLiteral("agreement")).toArray();
        QCOMPARE(agreement.size(), 1);
        QCOMPARE(agreement[0].toObject().value(QStringLiteral("items")).toInt(), 3);
        QVERIFY(std::abs(agreement[0].toObject().value(QStringLiteral("kappa")).toDouble() - 0.4) < 1e-9);

        const QString csv = m_dir.filePath(QStringLiteral("v.csv"));
        const auto exp = cli({ QStringLiteral("review"), QStringLiteral("export"), QString::number(id),
            QStringLiteral("-w"), m_ws, QStringLiteral("--out"), csv });
        QVERIFY2(exp.code == 0, qPrintable(exp.err));
        const auto rows = review::readCsv(csv);
        QCOMPARE(rows.size(), size_t(1 + 6 + 1)); // header, 6 verdicts, ann's note on the user
        const int note = static_cast<int>(rows[0].indexOf(QStringLiteral("note")));
        bool neutralised = false;
        for (const QStringList& row : rows)
            neutralised = neutralised || row.value(note) == u"'=1+1";
        QVERIFY(neutralised); // a formula in a note does not run in a spreadsheet

        QCOMPARE(cli({ QStringLiteral("review"), QStringLiteral("build"), QStringLiteral("-w"), m_ws,
                     QStringLiteral("--source"), QStringLiteral("warm") })
                     .code,
            2);
        QCOMPARE(cli({ QStringLiteral("review"), QStringLiteral("show"), QStringLiteral("999"), QStringLiteral("-w"),
                     m_ws })
                     .code,
            1);
    }
};

QTEST_MAIN(TestCliReview)
#include "tst_cli_review.moc"
