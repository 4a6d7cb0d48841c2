#include "cf/factorimport.h"
#include "cf/snapshots.h"
#include "testutil.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <Eigen/Dense>

using namespace recwb;

namespace {

// Debian's python3 (python3-numpy), not whatever python3 comes first on PATH.
QString pythonPath()
{
    return QFileInfo::exists(QStringLiteral("/usr/bin/python3")) ? QStringLiteral("/usr/bin/python3")
                                                                 : QStringLiteral("python3");
}

// What every fixture script starts with: the workspace's ids (ws_users.txt, ws_items.txt),
// the ids the "trainer" knew (all but the last 5 users and 7 items, rows shuffled so a row is
// not its workspace index), random factors, and a plain-text copy of all of it for the hand
// scoring (fu.txt, fi.txt, U.txt, I.txt).
const char* kPrelude = R"(
import numpy as np, json, os, sys
d = sys.argv[1]
F = 8
users = open(os.path.join(d, 'ws_users.txt')).read().split()
items = open(os.path.join(d, 'ws_items.txt')).read().split()
rng = np.random.default_rng(7)
fu = list(users[:-5]); fi = list(items[:-7])
rng.shuffle(fu); rng.shuffle(fi)
U = rng.normal(size=(len(fu), F)).astype('<f4')
I = rng.normal(size=(len(fi), F)).astype('<f4')
open(os.path.join(d, 'fu.txt'), 'w').write('\n'.join(fu) + '\n')
open(os.path.join(d, 'fi.txt'), 'w').write('\n'.join(fi) + '\n')
np.savetxt(os.path.join(d, 'U.txt'), U, fmt='%.9g')
np.savetxt(os.path.join(d, 'I.txt'), I, fmt='%.9g')
def sparkid(x):
    return int(x) if x.isdigit() else x
def spark(folder, ids, M, parts):
    os.makedirs(folder, exist_ok=True)
    for p in range(parts):
        with open(os.path.join(folder, 'part-%05d-x.json' % p), 'w') as f:
            for r in range(p, len(ids), parts):
                f.write(json.dumps({'id': sparkid(ids[r]), 'features': [float(v) for v in M[r]]}) + '\n')
        open(os.path.join(folder, '.part-%05d-x.json.crc' % p), 'w').write('crc')
    open(os.path.join(folder, '_SUCCESS'), 'w').close()
)";

struct Run {
    int code = -1;
    QString out, err;
};

Run cli(const QStringList& args)
{
    QProcess p;
    p.start(QStringLiteral(RECWB_CLI_PATH), args);
    if (!p.waitForFinished(120000))
        return {};
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

QStringList readLines(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.readAll()).split(u'\n', Qt::SkipEmptyParts);
}

// The fixture's factors by external id, read from the plain-text copies (not the npz).
struct Hand {
    QHash<QString, Eigen::VectorXd> user, item;
    static Hand read(const QString& dir)
    {
        Hand h;
        auto load = [&](const QString& idsFile, const QString& valuesFile, QHash<QString, Eigen::VectorXd>& into) {
            const QStringList ids = readLines(QDir(dir).filePath(idsFile));
            const QStringList rows = readLines(QDir(dir).filePath(valuesFile));
            QCOMPARE(ids.size(), rows.size());
            for (qsizetype r = 0; r < ids.size(); ++r) {
                const QStringList v = rows[r].split(u' ', Qt::SkipEmptyParts);
                Eigen::VectorXd x(v.size());
                for (qsizetype k = 0; k < v.size(); ++k)
                    x[k] = v[k].toDouble();
                into.insert(ids[r], x);
            }
        };
        load(QStringLiteral("fu.txt"), QStringLiteral("U.txt"), h.user);
        load(QStringLiteral("fi.txt"), QStringLiteral("I.txt"), h.item);
        return h;
    }
};

// The top n by hand: every catalog item with factors and not in the history, scored x . y
// in double precision, best first.
std::vector<std::pair<double, QString>> handTop(
    const Hand& hand, const Dataset& ds, int32_t user, const Eigen::VectorXd& x, int n)
{
    const auto history = ds.userItems.row(user);
    std::vector<std::pair<double, QString>> all;
    for (int32_t i = 0; i < ds.numItems(); ++i) {
        const QString& id = ds.items[static_cast<size_t>(i)].externalId;
        if (!hand.item.contains(id) || std::binary_search(history.begin(), history.end(), i))
            continue;
        all.emplace_back(x.dot(hand.item.value(id)), id);
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    all.resize(std::min(all.size(), static_cast<size_t>(n)));
    return all;
}

bool close(double a, double b)
{
    return std::abs(a - b) <= 1e-4 * (1 + std::abs(b));
}

// The candidates equal the hand top n within float rounding: the same score at every rank,
// and every candidate's own hand score is its score (near-ties may swap places, no more).
void compareWithHand(const std::vector<cf::ScoredItem>& got, const std::vector<std::pair<double, QString>>& want,
    const Hand& hand, const Dataset& ds, const Eigen::VectorXd& x)
{
    QCOMPARE(got.size(), want.size());
    for (size_t r = 0; r < got.size(); ++r) {
        const QString& id = ds.items[static_cast<size_t>(got[r].item)].externalId;
        QVERIFY2(hand.item.contains(id), qPrintable(QStringLiteral("item %1 has no factors in the file").arg(id)));
        const double own = x.dot(hand.item.value(id));
        QVERIFY2(close(got[r].score, own),
            qPrintable(QStringLiteral("rank %1: %2 scored %3, by hand %4").arg(r).arg(id).arg(got[r].score).arg(own)));
        QVERIFY2(close(got[r].score, want[r].first),
            qPrintable(QStringLiteral("rank %1: %2 scored %3, the hand rank %1 is %4 with %5")
                           .arg(r)
                           .arg(id)
                           .arg(got[r].score)
                           .arg(want[r].second)
                           .arg(want[r].first)));
    }
}

// The iALS fold-in by hand: (Y^T Y + reg I + sum (c - 1) y y^T) x = sum c y over the history,
// with the rows of the file only (the others are zero).
Eigen::VectorXd handFoldIn(const Hand& hand, const Dataset& ds, int32_t user, double reg, double c)
{
    const int f = static_cast<int>(hand.item.begin()->size());
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(f, f);
    for (const auto& y : hand.item)
        a += y * y.transpose();
    a.diagonal().array() += reg;
    Eigen::VectorXd b = Eigen::VectorXd::Zero(f);
    for (const int32_t i : ds.userItems.row(user)) {
        const QString& id = ds.items[static_cast<size_t>(i)].externalId;
        if (!hand.item.contains(id))
            continue;
        const Eigen::VectorXd y = hand.item.value(id);
        a += (c - 1) * y * y.transpose();
        b += c * y;
    }
    return a.ldlt().solve(b);
}

int snapshotCount(const QString& ws)
{
    return static_cast<int>(cf::listSnapshots(*Workspace::open(ws)).size());
}

} // namespace

class TestFactorImport : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    QString m_ws; // the generated workspace (200 users, 300 items)
    bool m_numpy = false;
    int m_case = 0;

    // A fresh folder holding the workspace's id lists, with the prelude and `script` run in it.
    QString fixture(const QString& ws, const QString& script)
    {
        const QString dir = m_tmp.filePath(QStringLiteral("case%1").arg(++m_case));
        QDir().mkpath(dir);
        const Dataset ds = Workspace::open(ws)->load();
        QStringList users, items;
        for (const User& u : ds.users)
            users << u.externalId;
        for (const Item& i : ds.items)
            items << i.externalId;
        QFile fu(QDir(dir).filePath(QStringLiteral("ws_users.txt")));
        QFile fi(QDir(dir).filePath(QStringLiteral("ws_items.txt")));
        if (!fu.open(QIODevice::WriteOnly) || !fi.open(QIODevice::WriteOnly))
            return {};
        fu.write(users.join(u'\n').toUtf8());
        fi.write(items.join(u'\n').toUtf8());
        fu.close();
        fi.close();
        QProcess py;
        py.start(pythonPath(), { QStringLiteral("-c"), QString::fromLatin1(kPrelude) + script, dir });
        if (!py.waitForFinished(60000) || py.exitCode() != 0) {
            qWarning().noquote() << "fixture script failed:" << py.readAllStandardError();
            return {};
        }
        return dir;
    }

    QString mlWorkspace()
    {
        const QString ws = m_tmp.filePath(QStringLiteral("ml100k.recwb"));
        if (!QFileInfo::exists(ws)) {
            const Run r = cli({ QStringLiteral("import"), QStringLiteral("-w"), ws, QStringLiteral("--format"),
                QStringLiteral("ml-100k"), test::sharedData(QStringLiteral("ml-100k")) });
            if (r.code != 0)
                qWarning().noquote() << r.err;
        }
        return ws;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        QProcess py;
        py.start(pythonPath(), { QStringLiteral("-c"), QStringLiteral("import numpy") });
        m_numpy = py.waitForFinished(30000) && py.exitStatus() == QProcess::NormalExit && py.exitCode() == 0;
        m_ws = m_tmp.filePath(QStringLiteral("small.recwb"));
        test::generateSmallWorkspace(m_ws);
    }

    void init()
    {
        if (!m_numpy)
            QSKIP("python3 -c 'import numpy' fails: install python3-numpy (scripts/install-deps.sh) to build the "
                  "factor fixtures");
    }

    // implicit's npz with id arrays: warm users score with the file's own vectors, users
    // missing from the file fold in by the iALS solve, items missing are never recommended.
    void implicitCandidatesEqualHandScores()
    {
        const QString dir = fixture(m_ws,
            QStringLiteral("np.savez(os.path.join(d, 'model.npz'), user_factors=U, item_factors=I, factors=F, "
                           "regularization=0.05, alpha=8.0, iterations=15, dtype='float32', "
                           "user_ids=np.array(fu), item_ids=np.array(fi))\n"));
        QVERIFY(!dir.isEmpty());
        const auto ws = Workspace::open(m_ws);
        const Dataset ds = ws->load();
        cf::FactorImportReport report;
        const auto built = cf::buildImportedModel(
            cf::readImplicitNpz(QDir(dir).filePath(QStringLiteral("model.npz"))), ds, {}, &report);
        QCOMPARE(report.usersMatched, ds.numUsers() - 5);
        QCOMPARE(report.usersFoldedIn, 5);
        QCOMPARE(report.itemsMatched, ds.numItems() - 7);
        QCOMPARE(report.itemsWithoutFactors, 7);
        QCOMPARE(report.firstItemsWithoutFactors.size(), 7);
        QCOMPARE(report.firstItemsWithoutFactors.first(), ds.items[static_cast<size_t>(ds.numItems() - 7)].externalId);
        QCOMPARE(report.reg, 0.05);
        QCOMPARE(report.alpha, 7.0); // implicit's confidence alpha x 1 is our 1 + 7
        // Through the workspace and back, as every reader of the snapshot gets it.
        const qint64 id
            = cf::saveSnapshot(*ws, QStringLiteral("implicit-8"), *built, cf::dataFingerprint(ds.userItems));
        const auto model = cf::loadSnapshot(*ws, id, ds.numItems());
        QCOMPARE(model->algorithm(), QStringLiteral("ials"));
        QCOMPARE(model->params().value(QStringLiteral("imported_from")).toObject().value(QStringLiteral("format")),
            QJsonValue(QStringLiteral("implicit")));
        QCOMPARE(
            cf::findSnapshot(*ws, QStringLiteral("implicit-8"))->params.value(QStringLiteral("factors")).toInt(), 8);

        // Refitting with the snapshot's params (compare --train-part does) trains an iALS
        // here: accepted, and no longer claimed as imported.
        const auto refit
            = cf::makeRecommender(QStringLiteral("ials"), cf::findSnapshot(*ws, QStringLiteral("implicit-8"))->params);
        QVERIFY(!refit->params().contains(QStringLiteral("imported_from")));
        QCOMPARE(static_cast<float>(refit->params().value(QStringLiteral("reg")).toDouble()), 0.05f);

        const Hand hand = Hand::read(dir);
        int warm = 0, folded = 0;
        for (int32_t u = 0; u < ds.numUsers() - 5; u += 7) {
            const QString& uid = ds.users[static_cast<size_t>(u)].externalId;
            QVERIFY(hand.user.contains(uid));
            const Eigen::VectorXd x = hand.user.value(uid);
            compareWithHand(cf::recommend(*model, cf::History::ofUser(ds.userItems, u), 20),
                handTop(hand, ds, u, x, 20), hand, ds, x);
            ++warm;
        }
        for (int32_t u = ds.numUsers() - 5; u < ds.numUsers(); ++u) {
            QVERIFY(!hand.user.contains(ds.users[static_cast<size_t>(u)].externalId));
            const Eigen::VectorXd x = handFoldIn(hand, ds, u, 0.05, 8.0);
            compareWithHand(cf::recommend(*model, cf::History::ofUser(ds.userItems, u), 20),
                handTop(hand, ds, u, x, 20), hand, ds, x);
            ++folded;
        }
        QVERIFY(warm > 20 && folded == 5);
        // Asked for the whole catalog, a user gets every item with factors and none without.
        const auto all = cf::recommend(*model, cf::History::ofUser(ds.userItems, 0), ds.numItems());
        QCOMPARE(static_cast<int>(all.size()),
            ds.numItems() - 7 - ds.interactionCount(0)
                + static_cast<int>(std::count_if(ds.userItems.row(0).begin(), ds.userItems.row(0).end(),
                    [&](int32_t i) { return i >= ds.numItems() - 7; })));
        for (const auto& s : all)
            QVERIFY(s.item < ds.numItems() - 7);
    }

    // Ids from files, float64 factors in a compressed npz (savez_compressed): the same scores.
    void implicitLayouts_data()
    {
        QTest::addColumn<QString>("script"); // writes model.npz
        QTest::addColumn<bool>("idFiles"); // pass fu.txt / fi.txt as --user-ids / --item-ids
        QTest::addColumn<bool>("movieLens"); // the ML-100K workspace (integer ids) instead of the generated one
        QTest::addRow("id files, float64, compressed") << QStringLiteral(
            "np.savez_compressed(os.path.join(d, 'model.npz'), user_factors=U.astype('<f8'), "
            "item_factors=I.astype('<f8'))\n") << true << false;
        // np.savez writes format 1.0; 2.0 and 3.0 (4-byte header length, UTF-8 header) by hand.
        QTest::addRow("npy versions 2 and 3")
            << QStringLiteral("import io, zipfile\n"
                              "def npy(a, v):\n"
                              "    b = io.BytesIO(); np.lib.format.write_array(b, a, version=v); return b.getvalue()\n"
                              "with zipfile.ZipFile(os.path.join(d, 'model.npz'), 'w') as z:\n"
                              "    z.writestr('user_factors.npy', npy(U, (2, 0)))\n"
                              "    z.writestr('item_factors.npy', npy(I, (3, 0)))\n"
                              "    z.writestr('user_ids.npy', npy(np.array(fu), (3, 0)))\n"
                              "    z.writestr('item_ids.npy', npy(np.array(fi), (2, 0)))\n")
            << false << false;
        QTest::addRow("ml-100k, int64 and int32 id arrays")
            << QStringLiteral("np.savez(os.path.join(d, 'model.npz'), user_factors=U, item_factors=I, "
                              "user_ids=np.array([int(x) for x in fu], dtype='<i8'), "
                              "item_ids=np.array([int(x) for x in fi], dtype='<i4'))\n")
            << false << true;
    }

    void implicitLayouts()
    {
        QFETCH(QString, script);
        QFETCH(bool, idFiles);
        QFETCH(bool, movieLens);
        if (movieLens)
            RECWB_REQUIRE_SHARED("ml-100k");
        const QString ws = movieLens ? mlWorkspace() : m_ws;
        const QString dir = fixture(ws, script);
        QVERIFY(!dir.isEmpty());
        const Dataset ds = Workspace::open(ws)->load();
        const auto model
            = cf::buildImportedModel(cf::readImplicitNpz(QDir(dir).filePath(QStringLiteral("model.npz")),
                                         idFiles ? QDir(dir).filePath(QStringLiteral("fu.txt")) : QString(),
                                         idFiles ? QDir(dir).filePath(QStringLiteral("fi.txt")) : QString()),
                ds, {});
        const Hand hand = Hand::read(dir);
        for (const int32_t u : { 3, 77, 150 }) {
            const Eigen::VectorXd x = hand.user.value(ds.users[static_cast<size_t>(u)].externalId);
            QCOMPARE(x.size(), 8);
            compareWithHand(cf::recommend(*model, cf::History::ofUser(ds.userItems, u), 30),
                handTop(hand, ds, u, x, 30), hand, ds, x);
        }
    }

    void sparkFolderEqualsHandScores_data()
    {
        QTest::addColumn<bool>("movieLens");
        QTest::addRow("generated, string ids") << false;
        QTest::addRow("ml-100k, integer ids") << true;
    }

    // Spark's userFactors / itemFactors folders (several part files, _SUCCESS, .crc), through
    // the CLI, then `recwb-cli candidates` on the snapshot by name.
    void sparkFolderEqualsHandScores()
    {
        QFETCH(bool, movieLens);
        if (movieLens)
            RECWB_REQUIRE_SHARED("ml-100k");
        const QString ws = movieLens ? mlWorkspace() : m_ws;
        const QString dir = fixture(ws,
            QStringLiteral("spark(os.path.join(d, 'userFactors'), fu, U, 3)\n"
                           "spark(os.path.join(d, 'itemFactors'), fi, I, 2)\n"));
        QVERIFY(!dir.isEmpty());
        const Run r = cli({ QStringLiteral("import-factors"), QStringLiteral("-w"), ws, QStringLiteral("--format"),
            QStringLiteral("spark"), QStringLiteral("--name"), QStringLiteral("spark-als"), QStringLiteral("--users"),
            QDir(dir).filePath(QStringLiteral("userFactors")), QStringLiteral("--items"),
            QDir(dir).filePath(QStringLiteral("itemFactors")), QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject rep = QJsonDocument::fromJson(r.out.toUtf8()).object();
        const Dataset ds = Workspace::open(ws)->load();
        QCOMPARE(rep.value(QStringLiteral("users_matched")).toInt(), ds.numUsers() - 5);
        QCOMPARE(rep.value(QStringLiteral("items_without_factors")).toInt(), 7);
        QCOMPARE(rep.value(QStringLiteral("reg")).toDouble(), 0.1);

        const Hand hand = Hand::read(dir);
        // A warm user (the cold-start path starts below 5 interactions).
        int32_t u = 0;
        while (ds.interactionCount(u) < 10 || !hand.user.contains(ds.users[static_cast<size_t>(u)].externalId))
            ++u;
        const QString uid = ds.users[static_cast<size_t>(u)].externalId;
        const Run c = cli({ QStringLiteral("candidates"), QStringLiteral("-w"), ws, QStringLiteral("--model"),
            QStringLiteral("spark-als"), QStringLiteral("--user"), uid, QStringLiteral("--n"), QStringLiteral("15"),
            QStringLiteral("--json") });
        QVERIFY2(c.code == 0, qPrintable(c.err));
        const QJsonObject o = QJsonDocument::fromJson(c.out.toUtf8()).object();
        QVERIFY2(o.value(QStringLiteral("model_source")).toString().startsWith(QStringLiteral("snapshot")),
            qPrintable(c.out));
        std::vector<cf::ScoredItem> got;
        for (const QJsonValue v : o.value(QStringLiteral("candidates")).toArray())
            got.push_back({ ds.itemIndex(v.toObject().value(QStringLiteral("item_id")).toString()),
                static_cast<float>(v.toObject().value(QStringLiteral("score")).toDouble()) });
        const Eigen::VectorXd x = hand.user.value(uid);
        compareWithHand(got, handTop(hand, ds, u, x, 15), hand, ds, x);
    }

    void badInput_data()
    {
        QTest::addColumn<QString>("script"); // writes bad.npz
        QTest::addColumn<QStringList>("extra"); // more command-line arguments
        QTest::addColumn<QStringList>("expected"); // substrings of the one error line
        const QStringList none;
        QTest::addRow("missing array") << QStringLiteral("np.savez(os.path.join(d, 'bad.npz'), user_factors=U, "
                                                         "user_ids=np.array(fu), item_ids=np.array(fi))\n")
                                       << none
                                       << QStringList { QStringLiteral("bad.npz: no array item_factors"),
                                              QStringLiteral("user_factors") };
        QTest::addRow("wrong dtype") << QStringLiteral("np.savez(os.path.join(d, 'bad.npz'), user_factors=U, "
                                                       "item_factors=I.astype('<f2'), user_ids=np.array(fu), "
                                                       "item_ids=np.array(fi))\n")
                                     << none << QStringList { QStringLiteral("bad.npz: array item_factors is '<f2'") };
        QTest::addRow("big-endian") << QStringLiteral(
            "np.savez(os.path.join(d, 'bad.npz'), user_factors=U.astype('>f4'), "
            "item_factors=I, user_ids=np.array(fu), item_ids=np.array(fi))\n")
                                    << none << QStringList { QStringLiteral("array user_factors is '>f4'") };
        QTest::addRow("fortran order") << QStringLiteral("np.savez(os.path.join(d, 'bad.npz'), user_factors=U, "
                                                         "item_factors=np.asfortranarray(I), user_ids=np.array(fu), "
                                                         "item_ids=np.array(fi))\n")
                                       << none
                                       << QStringList { QStringLiteral(
                                              "array item_factors is '<f4' in Fortran order") };
        QTest::addRow("factor dims") << QStringLiteral("np.savez(os.path.join(d, 'bad.npz'), user_factors=U, "
                                                       "item_factors=np.ascontiguousarray(I[:, :7]), "
                                                       "user_ids=np.array(fu), item_ids=np.array(fi))\n")
                                     << none
                                     << QStringList { QStringLiteral(
                                            "bad.npz: user_factors has 8 factors per row but item_factors has 7") };
        QTest::addRow("unknown ids") << QStringLiteral(
            "fu2 = ['nobody%d' % k for k in range(12)] + fu[12:]\n"
            "np.savez(os.path.join(d, 'bad.npz'), user_factors=U, "
            "item_factors=I, user_ids=np.array(fu2), item_ids=np.array(fi))\n")
                                     << none
                                     << QStringList { QStringLiteral("bad.npz: array user_ids: 12 user ids are not in "
                                                                     "the workspace (first: nobody0, nobody1"),
                                            QStringLiteral("nobody9)"), QStringLiteral("never guessed") };
        QTest::addRow("no ids") << QStringLiteral(
            "np.savez(os.path.join(d, 'bad.npz'), user_factors=U, item_factors=I)\n")
                                << none
                                << QStringList { QStringLiteral("bad.npz carries no user_ids"),
                                       QStringLiteral("--user-ids FILE") };
        QTest::addRow("id count") << QStringLiteral(
            "np.savez(os.path.join(d, 'bad.npz'), user_factors=U, item_factors=I, "
            "user_ids=np.array(fu), item_ids=np.array(fi[:-1]))\n")
                                  << none
                                  << QStringList { QStringLiteral("bad.npz: array item_ids has 292 ids but "),
                                         QStringLiteral("bad.npz: array item_factors has 293 rows") };
        QTest::addRow("duplicate id") << QStringLiteral("np.savez(os.path.join(d, 'bad.npz'), user_factors=U, "
                                                        "item_factors=I, user_ids=np.array(fu[:-1] + [fu[0]]), "
                                                        "item_ids=np.array(fi))\n")
                                      << none
                                      << QStringList { QStringLiteral("array user_ids: id '"),
                                             QStringLiteral("is given twice (rows 0 and 194)") };
        QTest::addRow("truncated zip") << QStringLiteral(
            "np.savez(os.path.join(d, 'full.npz'), user_factors=U, "
            "item_factors=I, user_ids=np.array(fu), item_ids=np.array(fi))\n"
            "b = open(os.path.join(d, 'full.npz'), 'rb').read()\n"
            "open(os.path.join(d, 'bad.npz'), 'wb').write(b[:len(b) // 2])\n")
                                       << none
                                       << QStringList { QStringLiteral("bad.npz: not a readable .npz (zip) archive") };
        QTest::addRow("damaged entry") << QStringLiteral(
            "np.savez(os.path.join(d, 'full.npz'), user_factors=U, "
            "item_factors=I, user_ids=np.array(fu), item_ids=np.array(fi))\n"
            "b = bytearray(open(os.path.join(d, 'full.npz'), 'rb').read())\n"
            "b[400] ^= 0xff\n"
            "open(os.path.join(d, 'bad.npz'), 'wb').write(bytes(b))\n")
                                       << none
                                       << QStringList { QStringLiteral("bad.npz: array user_factors is damaged") };
        QTest::addRow("not a zip") << QStringLiteral(
            "open(os.path.join(d, 'bad.npz'), 'w').write('user,item\\n1,2\\n')\n")
                                   << none
                                   << QStringList { QStringLiteral("bad.npz: not a readable .npz (zip) archive") };
    }

    // Each bad file: exit code 1, one error line naming the file and the array, and the
    // workspace keeps exactly the snapshots it had.
    void badInput()
    {
        QFETCH(QString, script);
        QFETCH(QStringList, extra);
        QFETCH(QStringList, expected);
        const QString dir = fixture(m_ws, script);
        QVERIFY(!dir.isEmpty());
        const int before = snapshotCount(m_ws);
        const Run r
            = cli(QStringList { QStringLiteral("import-factors"), QStringLiteral("-w"), m_ws,
                      QStringLiteral("--format"), QStringLiteral("implicit"), QStringLiteral("--name"),
                      QStringLiteral("bad"), QStringLiteral("--npz"), QDir(dir).filePath(QStringLiteral("bad.npz")) }
                + extra);
        QCOMPARE(r.code, 1);
        QVERIFY(r.out.isEmpty());
        for (const QString& e : expected)
            QVERIFY2(r.err.contains(e), qPrintable(QStringLiteral("expected '%1' in: %2").arg(e, r.err)));
        QCOMPARE(snapshotCount(m_ws), before);
    }

    // --skip-unknown-ids drops the rows it cannot place, reports them, and keeps the rest.
    void skipUnknownIds()
    {
        const QString dir = fixture(m_ws,
            QStringLiteral("fu2 = ['nobody%d' % k for k in range(12)] + fu[12:]\n"
                           "np.savez(os.path.join(d, 'model.npz'), user_factors=U, item_factors=I, "
                           "user_ids=np.array(fu2), item_ids=np.array(fi))\n"));
        QVERIFY(!dir.isEmpty());
        const Run r = cli({ QStringLiteral("import-factors"), QStringLiteral("-w"), m_ws, QStringLiteral("--format"),
            QStringLiteral("implicit"), QStringLiteral("--name"), QStringLiteral("skipped"), QStringLiteral("--npz"),
            QDir(dir).filePath(QStringLiteral("model.npz")), QStringLiteral("--skip-unknown-ids"),
            QStringLiteral("--json") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject rep = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(rep.value(QStringLiteral("unknown_users")).toInt(), 12);
        QCOMPARE(rep.value(QStringLiteral("first_unknown_users")).toArray().size(), 10);
        QCOMPARE(
            rep.value(QStringLiteral("first_unknown_users")).toArray().first().toString(), QStringLiteral("nobody0"));
        // The 12 real users whose rows were replaced are not in the file any more: folded in.
        QCOMPARE(rep.value(QStringLiteral("users_folded_in")).toInt(), 5 + 12);
        QVERIFY(cf::findSnapshot(*Workspace::open(m_ws), QStringLiteral("skipped")).has_value());
    }

    void commandLine_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("expected");
        QTest::addRow("no name") << QStringList { QStringLiteral("--format"), QStringLiteral("implicit"),
            QStringLiteral("--npz"), QStringLiteral("x.npz") }
                                 << 2 << QStringLiteral("missing required option --name");
        QTest::addRow("bad format") << QStringList { QStringLiteral("--format"), QStringLiteral("lightfm"),
            QStringLiteral("--name"), QStringLiteral("n") }
                                    << 2 << QStringLiteral("--format must be implicit or spark");
        QTest::addRow("mixed options") << QStringList { QStringLiteral("--format"), QStringLiteral("spark"),
            QStringLiteral("--name"), QStringLiteral("n"), QStringLiteral("--npz"), QStringLiteral("x.npz") }
                                       << 2 << QStringLiteral("--format spark reads --users and --items");
        QTest::addRow("bad reg") << QStringList { QStringLiteral("--format"), QStringLiteral("implicit"),
            QStringLiteral("--name"), QStringLiteral("n"), QStringLiteral("--npz"), QStringLiteral("x.npz"),
            QStringLiteral("--reg"), QStringLiteral("lots") }
                                 << 2 << QStringLiteral("--reg 'lots' is not a number");
        QTest::addRow("no such file") << QStringList { QStringLiteral("--format"), QStringLiteral("implicit"),
            QStringLiteral("--name"), QStringLiteral("n"), QStringLiteral("--npz"),
            QStringLiteral("/nonexistent/x.npz") }
                                      << 1 << QStringLiteral("/nonexistent/x.npz: no such file");
        QTest::addRow("spark line") << QStringList { QStringLiteral("--format"), QStringLiteral("spark"),
            QStringLiteral("--name"), QStringLiteral("n"), QStringLiteral("--users"), QStringLiteral("@BADLINE@"),
            QStringLiteral("--items"), QStringLiteral("@BADLINE@") }
                                    << 1 << QStringLiteral("bad.json:2: \"features\" must be an array of numbers");
    }

    void commandLine()
    {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, expected);
        const QString bad = m_tmp.filePath(QStringLiteral("bad.json"));
        QFile f(bad);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"id\": \"u1\", \"features\": [0.5, 1.0]}\n{\"id\": \"u2\", \"features\": \"0.5\"}\n");
        f.close();
        args.replaceInStrings(QStringLiteral("@BADLINE@"), bad);
        const int before = snapshotCount(m_ws);
        const Run r = cli(QStringList { QStringLiteral("import-factors"), QStringLiteral("-w"), m_ws } + args);
        QCOMPARE(r.code, code);
        QVERIFY2(r.err.contains(expected), qPrintable(r.err));
        QCOMPARE(snapshotCount(m_ws), before);
    }
};

QTEST_GUILESS_MAIN(TestFactorImport)
#include "tst_factorimport.moc"
