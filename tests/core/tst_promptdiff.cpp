#include "rerank/promptdiff.h"
#include "testutil.h"

#include <QJsonArray>

using namespace recwb::rerank;

// The line and word diff of two template texts (libdtl): hunks with the right line
// numbers, removed/added lines paired and their changed words marked, in text, HTML, JSON.
class TestPromptDiff : public QObject {
    Q_OBJECT

    static QString lines(int from, int to, const QString& prefix = QStringLiteral("line"))
    {
        QString s;
        for (int i = from; i <= to; ++i)
            s += QStringLiteral("%1 %2\n").arg(prefix).arg(i);
        return s;
    }

private slots:
    void identicalTextsHaveNoHunks()
    {
        const PromptDiff d = diffTemplates(lines(1, 5), lines(1, 5), QStringLiteral("a@1"), QStringLiteral("a@2"));
        QVERIFY(d.identical());
        QCOMPARE(d.added, 0);
        QCOMPARE(d.removed, 0);
        QVERIFY(diffText(d).isEmpty());
        QVERIFY(diffHtml(d).contains(QStringLiteral("identical")));
    }

    void changedWordIsMarked()
    {
        const QString a = QStringLiteral("{{! user }}\nPick the best {{k}} items.\nAnswer in JSON.\n");
        const QString b = QStringLiteral("{{! user }}\nPick the top {{k}} items.\nAnswer in JSON.\n");
        const PromptDiff d = diffTemplates(a, b, QStringLiteral("listwise@1"), QStringLiteral("listwise@2"));
        QCOMPARE(d.removed, 1);
        QCOMPARE(d.added, 1);
        QCOMPARE(d.hunks.size(), 1);
        const DiffHunk& h = d.hunks[0];
        QCOMPARE(h.oldStart, 1);
        QCOMPARE(h.oldCount, 3);
        QCOMPARE(h.newStart, 1);
        QCOMPARE(h.newCount, 3);
        QCOMPARE(h.lines.size(), 4);
        QCOMPARE(h.lines[1].kind, DiffLine::Kind::Removed);
        QCOMPARE(h.lines[1].oldLine, 2);
        QCOMPARE(h.lines[2].kind, DiffLine::Kind::Added);
        QCOMPARE(h.lines[2].newLine, 2);
        // Only "best" -> "top" changed; the rest of the line is equal.
        QStringList removedWords;
        for (const DiffSpan& s : h.lines[1].words)
            if (s.kind == DiffSpan::Kind::Removed)
                removedWords << s.text;
        QCOMPARE(removedWords, QStringList { QStringLiteral("best") });
        const QString text = diffText(d);
        QVERIFY2(
            text.startsWith(QStringLiteral("--- listwise@1\n+++ listwise@2\n@@ -1,3 +1,3 @@\n")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("-Pick the [-best-] {{k}} items.\n")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("+Pick the {+top+} {{k}} items.\n")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral(" Answer in JSON.\n")), qPrintable(text));
        const QString html = diffHtml(d);
        QVERIFY2(html.contains(QStringLiteral(">best</del>")) && html.contains(QStringLiteral(">top</ins>")),
            qPrintable(html));
        const QJsonObject json = diffJson(d);
        QCOMPARE(json.value(QStringLiteral("added")).toInt(), 1);
        const QJsonArray jl
            = json.value(QStringLiteral("hunks")).toArray()[0].toObject().value(QStringLiteral("lines")).toArray();
        QCOMPARE(jl[1].toObject().value(QStringLiteral("kind")).toString(), QStringLiteral("removed"));
        QVERIFY(jl[1].toObject().contains(QStringLiteral("words")));
    }

    // Changes far apart give two hunks with three lines of context each and the numbers
    // of `diff -U3`; an inserted block has no word marks (nothing to pair with).
    void hunksAndContext()
    {
        const QString a = lines(1, 20);
        QString b = a;
        b.replace(QStringLiteral("line 2\n"), QStringLiteral("line two\n"));
        b.replace(QStringLiteral("line 15\n"), QStringLiteral("line 15\nnew a\nnew b\n"));
        const PromptDiff d = diffTemplates(a, b);
        QCOMPARE(d.hunks.size(), 2);
        QCOMPARE(d.hunks[0].oldStart, 1);
        QCOMPARE(d.hunks[0].oldCount, 5); // lines 1-5
        QCOMPARE(d.hunks[0].newCount, 5);
        QCOMPARE(d.hunks[1].oldStart, 13);
        QCOMPARE(d.hunks[1].oldCount, 6); // 13-18
        QCOMPARE(d.hunks[1].newStart, 13);
        QCOMPARE(d.hunks[1].newCount, 8);
        QCOMPARE(d.added, 3);
        QCOMPARE(d.removed, 1);
        for (const DiffLine& l : d.hunks[1].lines)
            if (l.kind == DiffLine::Kind::Added)
                QVERIFY(l.words.isEmpty());
        QVERIFY(diffText(d).contains(QStringLiteral("@@ -13,6 +13,8 @@\n")));
        // Close changes merge into one hunk.
        QString c = a;
        c.replace(QStringLiteral("line 5\n"), QStringLiteral("line five\n"));
        c.replace(QStringLiteral("line 10\n"), QStringLiteral("line ten\n"));
        QCOMPARE(diffTemplates(a, c).hunks.size(), 1);
    }

    void fromAndToEmpty_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<QString>("header");
        QTest::addRow("new text") << QString() << lines(1, 2) << QStringLiteral("@@ -0,0 +1,2 @@");
        QTest::addRow("all removed") << lines(1, 2) << QString() << QStringLiteral("@@ -1,2 +0,0 @@");
    }
    void fromAndToEmpty()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(QString, header);
        const QString text = diffText(diffTemplates(a, b));
        QVERIFY2(text.contains(header), qPrintable(text));
    }

    void htmlIsEscaped()
    {
        const PromptDiff d = diffTemplates(QStringLiteral("a <b> & c\n"), QStringLiteral("a <i> & c\n"));
        const QString html = diffHtml(d);
        QVERIFY2(html.contains(QStringLiteral("&lt;")) && !html.contains(QStringLiteral("<b>")), qPrintable(html));
        QVERIFY2(
            html.contains(QStringLiteral(">b</del>")) && html.contains(QStringLiteral(">i</ins>")), qPrintable(html));
    }
};

QTEST_APPLESS_MAIN(TestPromptDiff)
#include "tst_promptdiff.moc"
