#include "data/generator.h"
#include "data/sqlite.h"
#include "data/workspace.h"
#include "testutil.h"

#include <QFile>
#include <algorithm>
#include <cmath>
#include <tuple>

using namespace recwb;

namespace {

using Triple = std::tuple<QString, QString, float, qint64>;

std::vector<Triple> firstInteractions(const Dataset& ds, size_t count)
{
    std::vector<Triple> out;
    for (int32_t u = 0; u < ds.numUsers() && out.size() < count; ++u) {
        const auto items = ds.userItems.row(u);
        for (size_t k = 0; k < items.size() && out.size() < count; ++k)
            out.emplace_back(ds.users[u].externalId, ds.items[items[k]].externalId, ds.userItems.rowValues(u)[k],
                ds.userItems.rowTimestamps(u)[k]);
    }
    return out;
}

// Top-n item indices by score, skipping items the user has.
std::vector<int32_t> topN(const std::vector<double>& score, const std::vector<uint8_t>& exclude, int n)
{
    std::vector<int32_t> idx;
    for (int32_t i = 0; i < static_cast<int32_t>(score.size()); ++i)
        if (!exclude[i])
            idx.push_back(i);
    const auto mid = idx.begin() + std::min<ptrdiff_t>(n, static_cast<ptrdiff_t>(idx.size()));
    std::partial_sort(idx.begin(), mid, idx.end(), [&](int32_t a, int32_t b) { return score[a] > score[b] || (score[a] == score[b] && a < b); });
    idx.erase(mid, idx.end());
    return idx;
}

} // namespace

class TestGenerator : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString path(const QString& name) const { return m_dir.filePath(name); }

    std::unique_ptr<Workspace> generated(const QString& name, const GeneratorConfig& config)
    {
        auto ws = Workspace::open(path(name), Workspace::Mode::CreateOrOpen);
        const ImportReport report = generateIntoWorkspace(*ws, config);
        if (report.format != u"demo-generator")
            qFatal("unexpected report format");
        return ws;
    }

private slots:
    void deterministic()
    {
        GeneratorConfig c;
        c.users = 300;
        c.items = 500;
        c.interactions = 12000;
        auto a = generated(QStringLiteral("a.recwb"), c);
        auto b = generated(QStringLiteral("b.recwb"), c);
        c.seed = 7;
        auto other = generated(QStringLiteral("other.recwb"), c);

        QCOMPARE(a->summary().toJson(), b->summary().toJson());
        const Dataset da = a->load(), db = b->load(), dother = other->load();
        const auto fa = firstInteractions(da, 100);
        QCOMPARE(fa.size(), size_t { 100 });
        QVERIFY(fa == firstInteractions(db, 100));
        QVERIFY(fa != firstInteractions(dother, 100));
        QCOMPARE(da.items[0].title, db.items[0].title);
        bool titlesDiffer = false;
        for (int i = 0; i < 20; ++i)
            titlesDiffer |= da.items[i].title != dother.items[i].title;
        QVERIFY(titlesDiffer);
    }

    void shapeOfTheDefaultDemo()
    {
        const GeneratorConfig c;
        auto ws = generated(QStringLiteral("demo.recwb"), c);
        const auto s = ws->summary();
        QCOMPARE(s.users, c.users);
        QCOMPARE(s.items, c.items);
        QVERIFY2(std::abs(static_cast<double>(s.interactions) - static_cast<double>(c.interactions)) < 0.05 * static_cast<double>(c.interactions),
            qPrintable(QString::number(s.interactions)));
        QCOMPARE(s.categories, c.categories);
        QVERIFY(s.firstTimestamp >= 1704067200); // 2024-01-01
        QVERIFY(s.lastTimestamp < 1704067200 + 2 * 366 * 86400);

        const Dataset ds = ws->load();
        const int cold = ds.coldUserCount();
        QVERIFY2(cold >= 0.08 * c.users && cold <= 0.12 * c.users, qPrintable(QString::number(cold)));
        for (const Item& it : ds.items) {
            QVERIFY(!it.title.isEmpty());
            QVERIFY(!it.description.isEmpty());
            QVERIFY2(it.categories.size() >= 1 && it.categories.size() <= 3, qPrintable(it.externalId));
            QVERIFY2(it.tags.size() >= 2 && it.tags.size() <= 5, qPrintable(it.externalId));
            QVERIFY(it.year >= 1950 && it.year <= 2025);
        }
        for (const User& u : ds.users) {
            for (const char* key : { "age", "age_band", "gender", "occupation" })
                QVERIFY2(u.attributes.contains(QString::fromLatin1(key)), qPrintable(u.externalId));
        }
        // Heavy-tailed activity: the busiest user has many times the median.
        std::vector<int> counts;
        for (int32_t u = 0; u < ds.numUsers(); ++u)
            if (!ds.isCold(u))
                counts.push_back(ds.interactionCount(u));
        std::sort(counts.begin(), counts.end());
        QVERIFY(counts.back() > 4 * counts[counts.size() / 2]);
        // Ratings span the scale.
        const auto [lo, hi] = std::minmax_element(ds.userItems.values.begin(), ds.userItems.values.end());
        QVERIFY(*lo <= 2 && *hi == 5);
    }

    // Hold out each warm user's last interaction: an item co-occurrence scorer must find it
    // in the top 20 clearly more often than global popularity does.
    void learnable()
    {
        const GeneratorConfig c;
        auto ws = generated(QStringLiteral("learn.recwb"), c);
        const Dataset ds = ws->load();
        const int32_t nItems = ds.numItems();
        std::vector<int32_t> heldOut(ds.numUsers(), -1);
        for (int32_t u = 0; u < ds.numUsers(); ++u) {
            if (ds.isCold(u))
                continue;
            const auto ts = ds.userItems.rowTimestamps(u);
            heldOut[u] = ds.userItems.row(u)[std::max_element(ts.begin(), ts.end()) - ts.begin()];
        }
        std::vector<float> cooc(static_cast<size_t>(nItems) * nItems, 0.f);
        std::vector<double> count(nItems, 0);
        for (int32_t u = 0; u < ds.numUsers(); ++u) {
            std::vector<int32_t> train;
            for (int32_t i : ds.userItems.row(u))
                if (i != heldOut[u])
                    train.push_back(i);
            for (int32_t i : train) {
                count[i] += 1;
                for (int32_t j : train)
                    if (i != j)
                        cooc[static_cast<size_t>(i) * nItems + j] += 1;
            }
        }
        int warm = 0, hitsCooc = 0, hitsPop = 0;
        std::vector<uint8_t> exclude(nItems);
        std::vector<double> score(nItems);
        for (int32_t u = 0; u < ds.numUsers(); ++u) {
            if (heldOut[u] < 0)
                continue;
            ++warm;
            std::fill(exclude.begin(), exclude.end(), 0);
            std::fill(score.begin(), score.end(), 0.0);
            for (int32_t j : ds.userItems.row(u)) {
                if (j == heldOut[u])
                    continue;
                exclude[j] = 1;
                for (int32_t i = 0; i < nItems; ++i)
                    score[i] += cooc[static_cast<size_t>(j) * nItems + i] / std::sqrt((count[i] + 1) * (count[j] + 1));
            }
            const auto byCooc = topN(score, exclude, 20);
            const auto byPop = topN(count, exclude, 20);
            hitsCooc += std::find(byCooc.begin(), byCooc.end(), heldOut[u]) != byCooc.end();
            hitsPop += std::find(byPop.begin(), byPop.end(), heldOut[u]) != byPop.end();
        }
        const double hrCooc = double(hitsCooc) / warm, hrPop = double(hitsPop) / warm;
        qInfo("HR@20 over %d warm users: co-occurrence %.3f, popularity %.3f", warm, hrCooc, hrPop);
        QVERIFY2(hrCooc > 1.3 * hrPop && hrCooc - hrPop > 0.05,
            qPrintable(QStringLiteral("co-occurrence %1 vs popularity %2").arg(hrCooc).arg(hrPop)));
    }

    void csvFilesMatchTheWorkspace()
    {
        GeneratorConfig c;
        c.users = 200;
        c.items = 300;
        c.interactions = 5000;
        auto ws = generated(QStringLiteral("csv.recwb"), c);
        const auto s = ws->summary();
        const QString dir = path(QStringLiteral("csv"));
        generateCsvFiles(dir, c);

        QFile inter(dir + QStringLiteral("/interactions.csv"));
        QVERIFY(inter.open(QIODevice::ReadOnly));
        QCOMPARE(inter.readLine().trimmed(), QByteArray("user_id,item_id,rating,timestamp"));
        qint64 rows = 0, lastTs = 0;
        QByteArray lastUser;
        while (!inter.atEnd()) {
            const QList<QByteArray> f = inter.readLine().trimmed().split(',');
            QCOMPARE(f.size(), 4);
            const qint64 ts = f[3].toLongLong();
            if (f[0] == lastUser)
                QVERIFY(ts > lastTs); // increasing per user
            lastUser = f[0];
            lastTs = ts;
            const int rating = f[2].toInt();
            QVERIFY(rating >= 1 && rating <= 5);
            ++rows;
        }
        QCOMPARE(rows, s.interactions);

        QFile items(dir + QStringLiteral("/items.csv"));
        QVERIFY(items.open(QIODevice::ReadOnly));
        QCOMPARE(items.readLine().trimmed(), QByteArray("item_id,title,description,categories,tags,year"));
        const Dataset ds = ws->load();
        const QByteArray first = items.readLine();
        QVERIFY(first.startsWith(QByteArray(QByteArray("i1,") + ds.items[0].title.toUtf8() + QByteArray(","))));
        QVERIFY(first.contains(ds.categoryNames(ds.items[0], QStringLiteral("|")).toUtf8()));
        int itemRows = 1;
        while (!items.atEnd())
            itemRows += items.readLine().size() > 0;
        QCOMPARE(itemRows, c.items);

        QFile users(dir + QStringLiteral("/users.csv"));
        QVERIFY(users.open(QIODevice::ReadOnly));
        QCOMPARE(users.readLine().trimmed(), QByteArray("user_id,age,gender,occupation"));
        const QList<QByteArray> u1 = users.readLine().trimmed().split(',');
        QCOMPARE(u1.value(0), QByteArray("u1"));
        QCOMPARE(u1.value(1).toInt(), ds.users[0].attributes.value(QStringLiteral("age")).toInt());
        QCOMPARE(QString::fromUtf8(u1.value(3)), ds.users[0].attributes.value(QStringLiteral("occupation")).toString());
    }

    void cancelLeavesWorkspaceEmpty()
    {
        auto ws = Workspace::open(path(QStringLiteral("cancel.recwb")), Workspace::Mode::CreateOrOpen);
        int calls = 0;
        TaskControl control { {}, [&] { return ++calls > 3; } };
        QVERIFY_THROWS_EXCEPTION(Canceled, generateIntoWorkspace(*ws, GeneratorConfig {}, control));
        const auto s = ws->summary();
        QCOMPARE(s.users, 0);
        QCOMPARE(s.interactions, 0);
    }

    // Above 200,000 interactions the load reads two halves of the users on two connections,
    // one forwards from the front of the arrays and one backwards from the back, and
    // transposes on every core. Every row must equal a plain SQL scan, with ids dense (the
    // lookup is skipped) and with holes in them (the lookup is used).
    void largeLoadEqualsAPlainScan_data()
    {
        QTest::addColumn<bool>("holes");
        QTest::newRow("dense ids") << false;
        QTest::newRow("ids with holes") << true;
    }
    void largeLoadEqualsAPlainScan()
    {
        QFETCH(bool, holes);
        GeneratorConfig c;
        c.users = 3000;
        c.items = 2000;
        c.interactions = 300000;
        auto ws = generated(holes ? QStringLiteral("holes.recwb") : QStringLiteral("dense.recwb"), c);
        if (holes) { // the first and every seventh user and item go, with their interactions
            sql::exec(ws->db(), "PRAGMA foreign_keys = ON");
            sql::exec(ws->db(), "DELETE FROM users WHERE id % 7 = 0 OR id = (SELECT min(id) FROM users)");
            sql::exec(ws->db(), "DELETE FROM items WHERE id % 7 = 0 OR id = (SELECT min(id) FROM items)");
        }
        const int64_t total = sql::queryInt(ws->db(), "SELECT count(*) FROM interactions");
        QVERIFY2(total > 200000, qPrintable(QString::number(total))); // two interaction readers
        QVERIFY(sql::queryInt(ws->db(), "PRAGMA page_count") * sql::queryInt(ws->db(), "PRAGMA page_size")
            >= 4 << 20); // the catalog read on a third connection
        const Dataset ds = ws->load();
        QCOMPARE(ds.numInteractions(), total);

        // The same rows, read in one ordered scan.
        std::vector<std::tuple<qint64, qint64, float, qint64>> scan;
        sql::Statement st(ws->db(), "SELECT user_id, item_id, value, ts FROM interactions ORDER BY user_id, item_id");
        while (st.step())
            scan.emplace_back(st.int64(0), st.int64(1), static_cast<float>(st.real(2)), st.int64(3));
        size_t k = 0;
        for (int32_t u = 0; u < ds.numUsers(); ++u) {
            const auto items = ds.userItems.row(u);
            for (size_t j = 0; j < items.size(); ++j, ++k) {
                QVERIFY(k < scan.size());
                const auto& [user, item, value, ts] = scan[k];
                if (ds.users[static_cast<size_t>(u)].dbId != user || ds.items[static_cast<size_t>(items[j])].dbId != item
                    || ds.userItems.rowValues(u)[j] != value || ds.userItems.rowTimestamps(u)[j] != ts)
                    QFAIL(qPrintable(QStringLiteral("row %1 differs: user %2 item %3").arg(k).arg(user).arg(item)));
            }
        }
        QCOMPARE(k, scan.size());

        // The transpose holds the same pairs, each item's users ascending.
        QCOMPARE(ds.itemUsers.nnz(), total);
        std::vector<std::vector<std::pair<int32_t, float>>> byItem(static_cast<size_t>(ds.numItems()));
        for (int32_t u = 0; u < ds.numUsers(); ++u)
            for (size_t j = 0; j < ds.userItems.row(u).size(); ++j)
                byItem[static_cast<size_t>(ds.userItems.row(u)[j])].emplace_back(u, ds.userItems.rowValues(u)[j]);
        for (int32_t i = 0; i < ds.numItems(); ++i) {
            const auto users = ds.itemUsers.row(i);
            const auto values = ds.itemUsers.rowValues(i);
            QCOMPARE(users.size(), byItem[static_cast<size_t>(i)].size());
            for (size_t j = 0; j < users.size(); ++j)
                if (users[j] != byItem[static_cast<size_t>(i)][j].first || values[j] != byItem[static_cast<size_t>(i)][j].second)
                    QFAIL(qPrintable(QStringLiteral("item %1, entry %2 differs").arg(i).arg(j)));
        }
    }

    void rejectsBadConfig()
    {
        auto ws = Workspace::open(path(QStringLiteral("bad.recwb")), Workspace::Mode::CreateOrOpen);
        GeneratorConfig c;
        c.coldFraction = 1.5;
        QVERIFY_THROWS_EXCEPTION(Error, generateIntoWorkspace(*ws, c));
    }
};

QTEST_GUILESS_MAIN(TestGenerator)
#include "tst_generator.moc"
