#pragma once

#include <QDir>
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

} // namespace recwb::test

// Skips the current test with a message when a shared data folder is missing.
#define RECWB_REQUIRE_SHARED(relative)                                                                            \
    do {                                                                                                          \
        if (!QFileInfo::exists(recwb::test::sharedData(QStringLiteral(relative))))                                \
            QSKIP(qPrintable(QStringLiteral("../shared/data/%1 is absent: skipping the real-data test")           \
                                 .arg(QStringLiteral(relative))));                                                \
    } while (0)
