#include "rerank/offline.h"
#include "testutil.h"

using namespace recwb;
using namespace recwb::rerank;

namespace {

// Appends an item whose external id is its 1-based position.
void addItem(Dataset& ds, const QString& title, std::vector<int32_t> cats, const QString& desc)
{
    Item it;
    it.externalId = QString::number(ds.items.size() + 1);
    it.title = title;
    it.categories = std::move(cats);
    it.description = desc;
    ds.items.push_back(it);
}

// 0-2 history: two Action thrillers and a Drama. Candidates 3..12: CF order puts six
// near-identical "Heist" Action titles first, then Comedy, Drama, Sci-Fi items.
Dataset makeDataset()
{
    Dataset ds;
    ds.categories = QStringList { QStringLiteral("Action"), QStringLiteral("Thriller"), QStringLiteral("Drama"),
        QStringLiteral("Comedy"), QStringLiteral("Sci-Fi") };
    auto add = [&](const QString& title, std::vector<int32_t> cats, const QString& desc) {
        addItem(ds, title, std::move(cats), desc);
    };
    add(QStringLiteral("Heat"), { 0, 1 }, QStringLiteral("crew robbery detective los angeles"));
    add(QStringLiteral("Ronin"), { 0, 1 }, QStringLiteral("mercenaries briefcase car chase paris"));
    add(QStringLiteral("Amelie"), { 2 }, QStringLiteral("whimsical waitress paris"));
    for (int i = 0; i < 6; ++i)
        add(QStringLiteral("Heist Crew %1").arg(i + 1), { 0, 1 }, QStringLiteral("crew robbery chase heist"));
    add(QStringLiteral("Laugh Lines"), { 3 }, QStringLiteral("family comedy holiday"));
    add(QStringLiteral("Quiet Hours"), { 2 }, QStringLiteral("paris waitress letters"));
    add(QStringLiteral("Star Drift"), { 4 }, QStringLiteral("space station crew"));
    CsrBuilder b(1, static_cast<int32_t>(ds.items.size()), true);
    b.add(0, 0, 5, 10);
    b.add(0, 1, 5, 20);
    b.add(0, 2, 4, 30);
    ds.userItems = b.finish();
    ds.itemUsers = ds.userItems.transposed();
    User u;
    u.externalId = QStringLiteral("u");
    ds.users.push_back(u);
    ds.rebuildIndexes();
    return ds;
}

std::vector<Candidate> makeCandidates(const Dataset& ds)
{
    std::vector<cf::ScoredItem> scored;
    for (int i = 3; i < ds.numItems(); ++i)
        scored.push_back({ i, 1.0f - 0.05f * static_cast<float>(i - 3) });
    return candidatesFrom(ds, scored);
}

std::vector<int32_t> itemsOf(const RerankResult& r)
{
    std::vector<int32_t> out;
    for (const RankedItem& it : r.items)
        out.push_back(it.item);
    return out;
}

} // namespace

class TestOffline : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        m_ds = makeDataset();
        m_content.build(m_ds);
    }

    void explanationsNameHistoryItems()
    {
        const OfflineReranker rr(m_ds, m_content);
        const auto cands = makeCandidates(m_ds);
        OfflineOptions o;
        o.k = 5;
        o.historyVerb = QStringLiteral("watched");
        const RerankResult r = rr.rerank(0, cands, o);
        QVERIFY(r.usable);
        QCOMPARE(r.items.size(), 5);
        const RankedItem& top = r.items[0];
        QCOMPARE(top.rank, 1);
        QVERIFY2(top.explanation.startsWith(u"Because you watched"), qPrintable(top.explanation));
        QVERIFY2(top.explanation.contains(u"Heat") || top.explanation.contains(u"Ronin"), qPrintable(top.explanation));
        QVERIFY2(top.explanation.contains(u"Action"), qPrintable(top.explanation));
        QVERIFY2(top.explanation.contains(QStringLiteral("CF rank %1").arg(top.cfRank)), qPrintable(top.explanation));
        for (const RankedItem& it : r.items) {
            QVERIFY(!it.filled);
            QVERIFY(it.score.has_value());
            QVERIFY(!it.explanation.isEmpty());
        }
        QStringList stages;
        for (const StageTiming& t : r.timings)
            stages << t.stage;
        QCOMPARE(stages, (QStringList { QStringLiteral("score"), QStringLiteral("mmr"), QStringLiteral("explain") }));
    }

    void mmrIncreasesDiversity()
    {
        const OfflineReranker rr(m_ds, m_content);
        const auto cands = makeCandidates(m_ds);
        OfflineOptions plain;
        plain.k = 5;
        plain.lambda = 1.0;
        OfflineOptions mmr = plain;
        mmr.lambda = 0.7;
        const auto a = itemsOf(rr.rerank(0, cands, plain));
        const auto b = itemsOf(rr.rerank(0, cands, mmr));
        const double ildPlain = intraListDiversity(m_ds, m_content, a);
        const double ildMmr = intraListDiversity(m_ds, m_content, b);
        QVERIFY2(ildMmr > ildPlain + 0.1, qPrintable(QStringLiteral("ILD %1 (MMR) vs %2").arg(ildMmr).arg(ildPlain)));
        // Without MMR the five near-identical heists fill the list.
        for (const int32_t i : a)
            QVERIFY(i >= 3 && i <= 8);
    }

    void deterministic()
    {
        const OfflineReranker rr(m_ds, m_content);
        const auto cands = makeCandidates(m_ds);
        const RerankResult x = rr.rerank(0, cands);
        for (int run = 0; run < 3; ++run) {
            const RerankResult y = rr.rerank(0, cands);
            QCOMPARE(itemsOf(y), itemsOf(x));
            for (qsizetype i = 0; i < x.items.size(); ++i)
                QCOMPARE(y.items[i].explanation, x.items[i].explanation);
        }
    }

    void emptyHistoryFollowsCf()
    {
        const OfflineReranker rr(m_ds, m_content);
        const auto cands = makeCandidates(m_ds);
        OfflineOptions o;
        o.k = 3;
        o.lambda = 1.0;
        const RerankResult r = rr.rerank(std::span<const HistoryEntry> {}, cands, o);
        QCOMPARE(itemsOf(r), (std::vector<int32_t> { 3, 4, 5 }));
        QVERIFY(r.items[0].explanation.contains(u"CF rank 1"));
        const RerankResult none = rr.rerank(0, std::span<const Candidate> {}, o);
        QVERIFY(!none.usable);
        QVERIFY(none.items.isEmpty());
    }

    // Two history items with the same title (a re-release): the explanation names the
    // title once and uses the second slot for the next distinct title.
    void explanationsNameEachTitleOnce()
    {
        Dataset ds;
        ds.categories = QStringList { QStringLiteral("Jazz"), QStringLiteral("Rock") };
        auto add = [&](const QString& title, std::vector<int32_t> cats, const QString& desc) {
            addItem(ds, title, std::move(cats), desc);
        };
        add(QStringLiteral("Blue Trumpet"), { 0 }, QStringLiteral("trumpet jazz club night"));
        add(QStringLiteral("Blue Trumpet"), { 0 }, QStringLiteral("trumpet jazz club night remastered"));
        add(QStringLiteral("Night Train"), { 0 }, QStringLiteral("train jazz night saxophone"));
        add(QStringLiteral("Blue Note Nights"), { 0 }, QStringLiteral("trumpet jazz club"));
        add(QStringLiteral("Loud Guitars"), { 1 }, QStringLiteral("guitar rock stadium"));
        CsrBuilder b(1, static_cast<int32_t>(ds.items.size()), true);
        ds.userItems = b.finish();
        ds.itemUsers = ds.userItems.transposed();
        ds.rebuildIndexes();
        coldstart::ContentIndex content;
        content.build(ds);

        const std::vector<HistoryEntry> history { { 0, 5, 30 }, { 1, 5, 20 }, { 2, 4, 10 } };
        const auto cands = candidatesFrom(ds, std::vector<cf::ScoredItem> { { 3, 1.0f }, { 4, 0.5f } });
        OfflineOptions o;
        o.k = 1;
        const RerankResult r = OfflineReranker(ds, content).rerank(history, cands, o);
        QCOMPARE(r.items.size(), 1);
        const QString why = r.items[0].explanation;
        QCOMPARE(r.items[0].item, 3);
        QVERIFY2(why.startsWith(u"Because you liked Blue Trumpet and Night Train"), qPrintable(why));
        QCOMPARE(why.count(QStringLiteral("Blue Trumpet")), 1);
    }

private:
    Dataset m_ds;
    coldstart::ContentIndex m_content;
};

QTEST_APPLESS_MAIN(TestOffline)
#include "tst_offline.moc"
