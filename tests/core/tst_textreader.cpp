// The record reader's in-memory source (what fuzz_records feeds) against the file reader:
// the same records, lines and errors whatever the read size.
#include "data/import/textreader.h"
#include "util/error.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace recwb::textio;

namespace {

struct Outcome {
    QStringList records; // "line: field|field|..."
    QString error; // the message with the path cut off
};

Outcome readAll(RecordReader& r)
{
    Outcome o;
    try {
        while (r.next()) {
            QStringList fields;
            for (int i = 0; i < r.fieldCount(); ++i)
                fields << r.fieldString(i);
            o.records << QStringLiteral("%1: %2").arg(r.line()).arg(fields.join(u'|'));
        }
    } catch (const recwb::Error& e) {
        o.error = e.message().mid(e.message().indexOf(u':'));
    }
    return o;
}

} // namespace

class TstTextReader : public QObject {
    Q_OBJECT
private slots:
    void memoryMatchesFile_data();
    void memoryMatchesFile();
    void emptyMemoryIsRefused();
};

void TstTextReader::memoryMatchesFile_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<char>("separator");
    QTest::addColumn<QStringList>("expected");
    QTest::addColumn<QString>("error");
    QTest::addRow("quoted newlines and doubled quotes")
        << QByteArray("\xEF\xBB\xBFid,title\r\n1,\"a, \"\"b\"\"\nc\"\r\n\n2,plain\n") << ','
        << QStringList { QStringLiteral("1: id|title"), QStringLiteral("2: 1|a, \"b\"\nc"),
               QStringLiteral("5: 2|plain") }
        << QString();
    QTest::addRow("unterminated quote") << QByteArray("x,y\n1,\"open\n2,3\n") << ','
                                        << QStringList { QStringLiteral("1: x|y") }
                                        << QStringLiteral(
                                               ":2: unterminated quoted field (the quote opens on this line)");
    QTest::addRow("NUL byte") << QByteArray("a\tb\nc\td\0e\n", 11) << '\t' << QStringList { QStringLiteral("1: a|b") }
                              << QStringLiteral(":2: contains a NUL byte: this is not a text file");
    QTest::addRow("invalid UTF-8") << QByteArray("ok\n\xC3\x28\n") << '\n'
                                   << QStringList { QStringLiteral("1: ok") }
                                   << QString(); // the message is checked against the file reader's below
}

void TstTextReader::memoryMatchesFile()
{
    QFETCH(QByteArray, bytes);
    QFETCH(char, separator);
    QFETCH(QStringList, expected);
    QFETCH(QString, error);
    const RecordReader::Options options { separator, true, Encoding::Utf8 };
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("data.txt"));
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
    f.close();
    RecordReader fileReader(path, options);
    const Outcome fromFile = readAll(fileReader);
    QCOMPARE(fromFile.records, expected);
    if (!error.isEmpty())
        QCOMPARE(fromFile.error, error);
    else if (QTest::currentDataTag() == QByteArray("invalid UTF-8"))
        QVERIFY2(fromFile.error.startsWith(u":2: "), qPrintable(fromFile.error));
    for (const size_t chunk : { size_t(4), size_t(5), size_t(7), size_t(64), size_t(1) << 20 }) {
        RecordReader memory(bytes, QStringLiteral("data.txt"), options, chunk);
        const Outcome fromMemory = readAll(memory);
        QCOMPARE(fromMemory.records, fromFile.records);
        QCOMPARE(fromMemory.error, fromFile.error);
        QCOMPARE(memory.fileName(), QStringLiteral("data.txt"));
    }
}

void TstTextReader::emptyMemoryIsRefused()
{
    QVERIFY_THROWS_EXCEPTION(recwb::Error, RecordReader(QByteArray(), QStringLiteral("x.csv"), {}, 64));
}

QTEST_GUILESS_MAIN(TstTextReader)
#include "tst_textreader.moc"
