// Experiment reports from a hand-built result (rows only; figures and comparisons by the
// engine's summarize()): the HTML page is self-contained and escapes every user and
// catalog text, the CSV has one row per arm x cohort x figure, the JSON carries the arm
// intervals and the cost projection, and the per-arm intervals are the bootstrap of the
// per-user values.
#include "eval/stats.h"
#include "pipeline/experimentreport.h"
#include "testutil.h"
#include "util/error.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

using namespace recwb;
using namespace recwb::pipeline;

namespace {

// Two arms on six users at K = 10; arm B's NDCG is A's plus a per-user step, and one user
// id carries markup that must never reach the page unescaped.
ExperimentResult makeResult()
{
    ExperimentResult r;
    r.id = 7;
    r.status = QStringLiteral("finished");
    r.spec.name = QStringLiteral("prompt <b>v2</b> & \"friends\"");
    r.spec.ks = { 10 };
    r.spec.arms.push_back(
        ExperimentArm::parse(QStringLiteral("A"), QStringLiteral("cf=ease"), 1, r.spec.ks, QStringLiteral("test")));
    r.spec.arms.push_back(ExperimentArm::parse(
        QStringLiteral("B"), QStringLiteral("cf=ease,rerank=offline"), 1, r.spec.ks, QStringLiteral("test")));
    r.created = QDateTime::fromSecsSinceEpoch(1700000000, Qt::UTC);
    const std::array<double, 6> a { 0.1, 0.3, 0.0, 0.5, 0.2, 0.4 };
    const std::array<double, 6> step { 0.05, -0.1, 0.02, 0.03, 0.0, 0.04 };
    for (size_t u = 0; u < a.size(); ++u) {
        const QString id = u == 1 ? QStringLiteral("<script>alert(1)</script>") : QStringLiteral("u%1").arg(u);
        r.users << id;
        for (const QString& arm : { QStringLiteral("A"), QStringLiteral("B") }) {
            UserRow row;
            row.arm = arm;
            row.userId = id;
            row.user = static_cast<int32_t>(u);
            row.cold = u < 2;
            row.trainCount = u < 2 ? 2 : 20;
            row.items = { QStringLiteral("i1"), QStringLiteral("i2") };
            std::array<double, eval::kMetricCount> m {};
            const double ndcg = arm == u"A" ? a[u] : a[u] + step[u];
            m[static_cast<size_t>(eval::Metric::NDCG)] = ndcg;
            m[static_cast<size_t>(eval::Metric::HR)] = ndcg > 0 ? 1 : 0;
            row.metrics = { m };
            row.answeredBy = arm == u"A" ? QStringLiteral("cf") : QStringLiteral("offline");
            row.cost = 0.0;
            row.stageMs.candidates = 1.0 + static_cast<double>(u);
            r.rows.push_back(row);
        }
    }
    summarize(r);
    return r;
}

} // namespace

class TestExperimentReport : public QObject {
    Q_OBJECT

private slots:
    void intervals()
    {
        const ExperimentResult r = makeResult();
        const std::vector<ArmInterval> iv = armIntervals(r, QStringLiteral("ndcg@10"));
        QCOMPARE(iv.size(), size_t(2));
        QCOMPARE(iv[0].arm, QStringLiteral("A"));
        QCOMPARE(iv[0].users, 6);
        QVERIFY(std::abs(iv[0].mean - 1.5 / 6) < 1e-12);
        QVERIFY(std::abs(iv[1].mean - (1.5 + 0.04) / 6) < 1e-12);
        // The interval is the bootstrap of A's per-user values (in user-id order).
        std::vector<double> values { 0.1, 0.3, 0.0, 0.5, 0.2, 0.4 };
        std::vector<std::pair<QString, double>> byId;
        for (size_t u = 0; u < values.size(); ++u)
            byId.emplace_back(r.users[static_cast<qsizetype>(u)], values[u]);
        std::sort(byId.begin(), byId.end());
        std::vector<double> ordered;
        for (const auto& p : byId)
            ordered.push_back(p.second);
        const eval::Interval ci = eval::bootstrapMeanCi(ordered);
        QCOMPARE(iv[0].ci.low, ci.low);
        QCOMPARE(iv[0].ci.high, ci.high);
        QVERIFY(iv[0].ci.low <= iv[0].mean && iv[0].mean <= iv[0].ci.high);
        QVERIFY_THROWS_EXCEPTION(Error, armIntervals(r, QStringLiteral("ndcg@20")));
    }

    void html()
    {
        const ExperimentResult r = makeResult();
        ProjectionInput in;
        in.hybrid = { 2000, 0, 300 };
        in.prices = { 0.4, 0.1, std::nullopt, 1.6, {} };
        const QString page = experimentReportHtml(r, projectCostAtScale(in));
        QVERIFY(page.startsWith(QStringLiteral("<!DOCTYPE html>")));
        // Escaped: the experiment name and the user id with markup.
        QVERIFY(page.contains(QStringLiteral("prompt &lt;b&gt;v2&lt;/b&gt; &amp; &quot;friends&quot;")));
        QVERIFY(!page.contains(QStringLiteral("<b>v2</b>")));
        QVERIFY(!page.contains(QStringLiteral("<script")));
        QVERIFY(page.contains(QStringLiteral("&lt;script&gt;alert(1)&lt;/script&gt;"))); // where B hurts most
        // Self-contained: no external resource of any kind.
        static const QRegularExpression external(
            QStringLiteral(R"((src|href)\s*=|url\(|@import|<link|<script)"), QRegularExpression::CaseInsensitiveOption);
        QVERIFY2(!page.contains(external), qPrintable(external.match(page).captured(0)));
        // Two inline charts, the tables, the projection.
        QCOMPARE(page.count(QStringLiteral("<svg ")), 2);
        QVERIFY(page.contains(QStringLiteral("ndcg@10 by arm")));
        QVERIFY(page.contains(QStringLiteral("B vs A")));
        QVERIFY(page.contains(QStringLiteral("Hybrid for everyone")));
        QVERIFY(page.contains(QStringLiteral("$1,280.00"))); // 1M users: (2000 x 0.4 + 300 x 1.6) / 1e6 x 1e6
        // Without a projection the page says so.
        QVERIFY(experimentReportHtml(r).contains(QStringLiteral("nothing measured to project")));
    }

    void csv()
    {
        const ExperimentResult r = makeResult();
        const QStringList lines
            = QString::fromUtf8(experimentReportCsv(r)).split(QStringLiteral("\r\n"), Qt::SkipEmptyParts);
        QCOMPARE(lines.first(), QStringLiteral("experiment,arm,cohort,metric,value,users"));
        const pipeline::ArmFigures* a = r.figuresFor(QStringLiteral("A"));
        const QString want = QStringLiteral("7,\"A\",\"cohort\",\"ndcg@10\",%1,6")
                                 .arg(QString::number(a->mean[0][static_cast<size_t>(eval::Metric::NDCG)], 'g', 10));
        QVERIFY2(lines.contains(want), qPrintable(want));
        // One row per arm x cohort x figure: every figure row has the six fields.
        QSet<QString> cohorts;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            QVERIFY2(lines[i].count(u',') == 5, qPrintable(lines[i]));
            cohorts.insert(lines[i].section(u',', 2, 2));
        }
        QVERIFY(cohorts.contains(QStringLiteral("\"cold\"")));
        QVERIFY(lines.size() > 2 * 20);
    }

    void json()
    {
        const ExperimentResult r = makeResult();
        ProjectionInput in;
        in.hybrid = { 1000, 0, 100 };
        in.prices = { 1.0, std::nullopt, std::nullopt, 2.0, {} };
        const QJsonObject o = QJsonDocument::fromJson(experimentReportJson(r, projectCostAtScale(in))).object();
        QCOMPARE(o[u"id"].toInteger(), 7);
        QVERIFY(o[u"arms"].toObject().contains(QStringLiteral("B")));
        QVERIFY(!o.contains(QStringLiteral("rows")));
        const QJsonArray intervals = o[u"intervals"].toArray();
        QCOMPARE(intervals.size(), 2 * 4); // arms x (hr, recall, ndcg, mrr) at K = 10
        QCOMPARE(o[u"projection"].toObject()[u"rows"].toArray().size(), 5 * 3);
    }

    void write()
    {
        const ExperimentResult r = makeResult();
        QTemporaryDir dir;
        for (const char* name : { "r.html", "r.CSV", "r.json" }) {
            const QString path = dir.filePath(QLatin1String(name));
            writeExperimentReport(r, path);
            QVERIFY(QFileInfo(path).size() > 100);
        }
        try {
            writeExperimentReport(r, dir.filePath(QStringLiteral("r.pdf")));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("r.pdf: unknown report format")), qPrintable(e.message()));
        }
        try {
            writeExperimentReport(r, dir.filePath(QStringLiteral("missing/r.html")));
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(e.message().contains(QStringLiteral("missing/r.html: cannot write")), qPrintable(e.message()));
        }
    }
};

QTEST_GUILESS_MAIN(TestExperimentReport)
#include "tst_experimentreport.moc"
