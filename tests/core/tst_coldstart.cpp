#include "cf/models.h"
#include "coldstart/coldstart.h"
#include "testutil.h"

using namespace recwb;
using namespace recwb::coldstart;

namespace {

// 40 users: even users are "F" and watch items 0-9, odd users are "M" and watch 10-19.
// Item 20 is the most popular overall (everyone watched it). Items 0-9 are "Drama",
// 10-19 "Action", 20-24 "Comedy". Items 21-24 are unseen.
Dataset makeDataset()
{
    Dataset ds;
    ds.categories = QStringList { QStringLiteral("Drama"), QStringLiteral("Action"), QStringLiteral("Comedy") };
    for (int i = 0; i < 25; ++i) {
        Item it;
        it.externalId = QString::number(i);
        it.title = i < 10 ? QStringLiteral("Quiet Tears %1").arg(i) : i < 20 ? QStringLiteral("Loud Explosions %1").arg(i)
                                                                             : QStringLiteral("Silly Laughs %1").arg(i);
        it.categories = { i < 10 ? 0 : i < 20 ? 1 : 2 };
        ds.items.push_back(it);
    }
    CsrBuilder b(40, 25, true);
    for (int u = 0; u < 40; ++u) {
        User user;
        user.externalId = QStringLiteral("u%1").arg(u);
        user.attributes.insert(QStringLiteral("gender"), u % 2 == 0 ? QStringLiteral("F") : QStringLiteral("M"));
        user.attributes.insert(QStringLiteral("age"), 20 + u);
        ds.users.push_back(user);
        const int base = u % 2 == 0 ? 0 : 10;
        for (int k = 0; k < 4; ++k)
            b.add(u, base + (u + k) % 10, 1.0f, k);
        b.add(u, 20, 1.0f, 9);
    }
    ds.userItems = b.finish();
    ds.itemUsers = ds.userItems.transposed();
    ds.rebuildIndexes();
    return ds;
}

} // namespace

class TestColdStart : public QObject {
    Q_OBJECT

private slots:
    void ageBands_data()
    {
        QTest::addColumn<int>("age");
        QTest::addColumn<QString>("band");
        QTest::addRow("child") << 7 << QStringLiteral("0-17");
        QTest::addRow("18") << 18 << QStringLiteral("18-24");
        QTest::addRow("34") << 34 << QStringLiteral("25-34");
        QTest::addRow("old") << 70 << QStringLiteral("56+");
        QTest::addRow("unknown") << 0 << QString();
    }
    void ageBands()
    {
        QFETCH(int, age);
        QFETCH(QString, band);
        QCOMPARE(ColdStartRecommender::segmentValue(QStringLiteral("age"), age), band);
    }

    void profileSegmentsDriveAnEmptyHistory()
    {
        const Dataset ds = makeDataset();
        ColdStartConfig cfg;
        cfg.profileAttributes = QStringList { QStringLiteral("gender") };
        ColdStartRecommender cs(cfg);
        cs.fit(ds, ds.userItems, nullptr);
        ColdUser f;
        f.profile.insert(QStringLiteral("gender"), QStringLiteral("F"));
        const auto top = cs.recommend(f, 11);
        QCOMPARE(top.size(), size_t { 11 });
        // Item 20 (everyone) first, then only Drama items, all from the profile source.
        QCOMPARE(top[0].item, 20);
        for (size_t k = 1; k < top.size(); ++k) {
            QVERIFY2(top[k].item < 10, qPrintable(QStringLiteral("rank %1 is item %2").arg(k + 1).arg(top[k].item)));
            QCOMPARE(top[k].source, Source::Profile);
        }
        ColdUser m;
        m.profile.insert(QStringLiteral("gender"), QStringLiteral("M"));
        const auto topM = cs.recommend(m, 3);
        QVERIFY(topM[1].item >= 10 && topM[1].item < 20);
    }

    void nothingKnownFallsBackToPopularity()
    {
        const Dataset ds = makeDataset();
        ColdStartRecommender cs;
        cs.fit(ds, ds.userItems, nullptr);
        const auto top = cs.recommend(ColdUser {}, 5);
        QCOMPARE(top[0].item, 20);
        for (const auto& c : top)
            QCOMPARE(c.source, Source::Popularity);
    }

    void statedCategoriesAndHistory()
    {
        const Dataset ds = makeDataset();
        ColdStartConfig cfg;
        cfg.popularityWeight = 0.1;
        auto knn = std::make_shared<cf::ItemKnn>();
        knn->fit(ds.userItems);
        ColdStartRecommender cs(cfg);
        cs.fit(ds, ds.userItems, knn);
        ColdUser u;
        u.statedCategories = { 2 }; // Comedy: items 20-24
        const auto top = cs.recommend(u, 5);
        for (const auto& c : top)
            QVERIFY2(c.item >= 20, qPrintable(QString::number(c.item)));
        QCOMPARE(top[1].source, Source::Category);

        // One Action item in the history: CF and content point to Action, the item itself
        // is excluded.
        const std::vector<int32_t> items { 12 };
        const std::vector<float> values { 1.0f };
        ColdUser h;
        h.history = cf::History::adHoc(items, values);
        const auto recs = cs.recommend(h, 6);
        int action = 0;
        for (const auto& c : recs) {
            QVERIFY(c.item != 12);
            action += (c.item >= 10 && c.item < 20) ? 1 : 0;
            QVERIFY(c.source == Source::Cf || c.source == Source::Content || c.source == Source::Popularity);
        }
        QVERIFY2(action >= 4, qPrintable(QStringLiteral("%1 action items").arg(action)));
    }

    void contentSimilarityUsesText()
    {
        const Dataset ds = makeDataset();
        ContentIndex idx;
        idx.build(ds);
        std::vector<float> s(25);
        const std::vector<int32_t> seed { 3 };
        idx.similarity(seed, s);
        QVERIFY(s[4] > s[14]); // "Quiet Tears", Drama: closer than an Action title
        QVERIFY(s[3] > 0.99f); // itself
        QVERIFY(idx.sharedTerms(3, 4).contains(QStringLiteral("quiet")));
    }

    void configRoundTripAndTypos()
    {
        ColdStartConfig c;
        c.profileWeight = 2.5;
        const auto back = ColdStartConfig::fromJson(c.toJson());
        QCOMPARE(back.profileWeight, 2.5);
        QVERIFY_THROWS_EXCEPTION(Error, ColdStartConfig::fromJson(QJsonObject { { QStringLiteral("profil"), 1 } }));
    }
};

QTEST_GUILESS_MAIN(TestColdStart)
#include "tst_coldstart.moc"
