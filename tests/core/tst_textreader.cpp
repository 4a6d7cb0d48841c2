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

QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& bytes)
{
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        qFatal("cannot write %s", qPrintable(path));
    return path;
}

} // namespace

class TstTextReader : public QObject {
    Q_OBJECT
private slots:
    void memoryMatchesFile_data();
    void memoryMatchesFile();
    void emptyMemoryIsRefused();
    void blankIsRefused_data();
    void blankIsRefused();
    void blankPrefixLongerThanAChunk();
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
    const QString path = writeFile(dir, QStringLiteral("data.txt"), bytes);
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

// Nothing but a BOM and whitespace is an empty file, whether it fits in the first read or not
// (a blank file under 1 MiB used to pass as a file with no records).
void TstTextReader::blankIsRefused_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addRow("spaces and newlines") << QByteArray(" \n\t\r\n  \n");
    QTest::addRow("one newline") << QByteArray("\n");
    QTest::addRow("BOM and CRLF") << QByteArray("\xEF\xBB\xBF\r\n\r\n");
    QTest::addRow("1.5 MiB of newlines") << QByteArray(3 << 19, '\n');
}

void TstTextReader::blankIsRefused()
{
    QFETCH(QByteArray, bytes);
    QTemporaryDir dir;
    const QString path = writeFile(dir, QStringLiteral("blank.csv"), bytes);
    const auto refusal = [](const auto& open) {
        try {
            open();
        } catch (const recwb::Error& e) {
            return e.message();
        }
        return QStringLiteral("(accepted)");
    };
    QCOMPARE(refusal([&] { RecordReader r(path, {}); }), path + QStringLiteral(": file is empty"));
    for (const size_t chunk : { size_t(4), size_t(64), size_t(1) << 20 })
        QCOMPARE(refusal([&] { RecordReader r(bytes, QStringLiteral("blank.csv"), {}, chunk); }),
            QStringLiteral("blank.csv: file is empty"));
}

// A blank first chunk followed by a record is not empty, and the look ahead past the first
// chunk does not lose the reader's place.
void TstTextReader::blankPrefixLongerThanAChunk()
{
    const QByteArray bytes = QByteArray(3 << 19, '\n') + QByteArray("a,b\n");
    QTemporaryDir dir;
    const QString path = writeFile(dir, QStringLiteral("late.csv"), bytes);
    const QStringList expected { QStringLiteral("%1: a|b").arg((3 << 19) + 1) };
    RecordReader fileReader(path, {});
    const Outcome fromFile = readAll(fileReader);
    QCOMPARE(fromFile.error, QString());
    QCOMPARE(fromFile.records, expected);
    RecordReader memory(bytes, QStringLiteral("late.csv"), {}, 64);
    QCOMPARE(readAll(memory).records, expected);
}

QTEST_GUILESS_MAIN(TstTextReader)
#include "tst_textreader.moc"
