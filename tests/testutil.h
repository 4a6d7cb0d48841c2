#pragma once

#include "util/stallprobe.h"

#include <unistd.h>
#include <optional>

#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QProcess>
#include <QTimer>
#include <QFileInfo>
#include <QString>
#include <QTemporaryDir>
#include <QtTest>

namespace recwb::test {

// ../shared/data: real MovieLens sets, present in CI, absent on a user's fresh clone.
inline QString sharedData(const QString& relative)
{
    return QDir(QStringLiteral(RECWB_SHARED_DATA_DIR)).filePath(relative);
}
inline QString testData(const QString& relative)
{
    return QDir(QStringLiteral(RECWB_TEST_DATA_DIR)).filePath(relative);
}

// A test's safety-net wait in ms (a wait that ends as soon as its work is done), times
// RECWB_TEST_TIME_SCALE when set: the sanitizer run (scripts/test.sh) sets 5, since
// everything there runs several times slower.
inline int scaledTimeout(int ms)
{
    const int scale = qEnvironmentVariableIntValue("RECWB_TEST_TIME_SCALE");
    return scale > 1 ? ms * scale : ms;
}

// A bound on the worst GUI event-loop stall a test tolerates, in ms, times
// RECWB_TEST_TIME_SCALE when set. The bound is a sanity check that work stays off the GUI
// thread; under ASan + UBSan every GUI-thread step runs several times slower, and the suite
// shares two cores with a parallel test (a 529 ms gap was seen there once on a 500 ms bound
// where the normal build shows 15-25 ms).
inline double stallBoundMs(double ms)
{
    const int scale = qEnvironmentVariableIntValue("RECWB_TEST_TIME_SCALE");
    return scale > 1 ? ms * scale : ms;
}

// A workspace file's bytes on disk with its write-ahead log: where a leaked secret would be.
inline QByteArray workspaceFileBytes(const QString& path)
{
    QByteArray bytes;
    for (const QString& p : QStringList { path, path + QStringLiteral("-wal") }) {
        QFile f(p);
        if (f.open(QIODevice::ReadOnly))
            bytes += f.readAll();
    }
    return bytes;
}

} // namespace recwb::test

// Skips the current test with a message when a shared data folder is missing.
#define RECWB_REQUIRE_SHARED(relative)                                                                                 \
    do {                                                                                                               \
        if (!QFileInfo::exists(recwb::test::sharedData(QStringLiteral(relative))))                                     \
            QSKIP(qPrintable(QStringLiteral("../shared/data/%1 is absent: skipping the real-data test")                \
                                 .arg(QStringLiteral(relative))));                                                     \
    } while (0)

#include "data/generator.h"
#include "data/workspace.h"

namespace recwb::test {

// The small generated workspace the GUI tests open: 200 users, 300 items, 6,000
// interactions, seed 42 (the generator's default), a tenth of the users cold.
inline void generateSmallWorkspace(const QString& path)
{
    GeneratorConfig config;
    config.users = 200;
    config.items = 300;
    config.interactions = 6000;
    const auto ws = Workspace::open(path, Workspace::Mode::CreateOrOpen);
    generateIntoWorkspace(*ws, config);
}

} // namespace recwb::test

namespace recwb::test {

// What a recwb-cli run left: exit code (-1 when it did not finish), stdout, stderr.
struct CliRun {
    int code = -1;
    QString out;
    QString err;
};

// Runs recwb-cli without blocking this thread's event loop, so a test LLM server living
// in the test process can answer it. `fakeKey` goes into $RECWB_TEST_FAKE_KEY.
inline CliRun runCliAsync(const QStringList& args, const QString& fakeKey, int timeoutMs = 300000)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("RECWB_TEST_FAKE_KEY"), fakeKey);
    p.setProcessEnvironment(env);
    QEventLoop loop;
    QObject::connect(&p, &QProcess::finished, &loop, &QEventLoop::quit);
    QObject::connect(&p, &QProcess::errorOccurred, &loop, &QEventLoop::quit);
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    p.start(QStringLiteral(RECWB_CLI_PATH), args);
    loop.exec();
    if (p.state() != QProcess::NotRunning) {
        p.kill();
        p.waitForFinished();
        return {};
    }
    return { p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError()) };
}

// The command prefix that runs a child process without root's power over file permissions:
// empty when not root, setpriv to nobody (65534) as root, null as root without setpriv (the
// caller skips: permissions cannot be taken away).
inline std::optional<QStringList> unprivilegedPrefix()
{
    if (::geteuid() != 0)
        return QStringList {};
    if (!QFileInfo::exists(QStringLiteral("/usr/bin/setpriv")))
        return std::nullopt;
    return QStringList { QStringLiteral("/usr/bin/setpriv"), QStringLiteral("--reuid=65534"),
        QStringLiteral("--regid=65534"), QStringLiteral("--clear-groups") };
}

// Measures how long this thread's event loop went without running a 5 ms timer: the worst
// gap between two ticks (5 ms when nothing stalls), from construction on.
using recwb::EventLoopStallProbe; // core/util/stallprobe.h

} // namespace recwb::test

// Skips a keychain test that found no keychain, or fails it when RECWB_REQUIRE_KEYCHAIN=1
// (set by scripts/with-keyring.sh, which started a throwaway Secret Service for the run).
#define RECWB_KEYCHAIN_MISSING(message)                                                                                \
    do {                                                                                                               \
        if (qEnvironmentVariableIntValue("RECWB_REQUIRE_KEYCHAIN") == 1)                                               \
            QFAIL(qPrintable(QStringLiteral("RECWB_REQUIRE_KEYCHAIN=1 but: %1").arg(message)));                        \
        QSKIP(qPrintable(message));                                                                                    \
    } while (0)
