// libFuzzer target: the streaming record reader with the options of every importer (ml-100k
// u.data / u.item, ml-latest CSV, RecBole atomic files, generic CSV / TSV / JSON Lines), and
// the field parsers the importers apply to each field (integers, numbers, timestamps, years,
// lists, typed attribute values). The first byte picks the importer and the read size; the
// rest is the file, read from memory.
#include "data/import/importcommon.h"
#include "data/import/textreader.h"
#include "util/error.h"

#include <QJsonDocument>
#include <QString>
#include <cstdint>
#include <cstdlib>

namespace {

struct Profile {
    const char* name;
    recwb::textio::RecordReader::Options options;
};

const Profile kProfiles[] = {
    { "ml-100k u.data", { '\t', false, recwb::textio::Encoding::Latin1 } },
    { "ml-100k u.item/u.user", { '|', false, recwb::textio::Encoding::Latin1 } },
    { "ml-latest csv", { ',', true, recwb::textio::Encoding::Utf8 } },
    { "recbole atomic", { '\t', false, recwb::textio::Encoding::Utf8 } },
    { "generic tsv", { '\t', false, recwb::textio::Encoding::Utf8 } },
    { "generic jsonl", { '\n', false, recwb::textio::Encoding::Utf8 } },
    { "generic csv latin-1, ';'", { ';', true, recwb::textio::Encoding::Latin1 } },
};

// Read sizes: records across chunk boundaries (the refill and the buffer growth), and one
// read larger than any input (-max_len=16384), like the file reader's 1 MiB.
const size_t kChunks[] = { 4, 7, 64, 4096, 65536 };

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 1)
        return 0;
    const Profile& profile = kProfiles[data[0] % std::size(kProfiles)];
    const size_t chunk = kChunks[(data[0] / std::size(kProfiles)) % std::size(kChunks)];
    try {
        recwb::textio::RecordReader r(QByteArray(reinterpret_cast<const char*>(data + 1), static_cast<qsizetype>(size - 1)),
                                      QString::fromLatin1(profile.name), profile.options, chunk);
        bool first = true;
        while (r.next()) {
            if (r.line() < 1 || r.raw().size() > size)
                std::abort(); // a record is never longer than the file
            if (first) {
                (void)recwb::importdetail::headerNames(r);
                first = false;
            }
            for (int i = 0; i < r.fieldCount(); ++i) {
                const std::string_view field = r.field(i);
                (void)recwb::textio::parseInt(field);
                (void)recwb::textio::parseDouble(field);
                (void)recwb::textio::parseTimestampBytes(field);
                (void)recwb::importdetail::parseYear(field);
                (void)recwb::importdetail::describeValue(field);
                const QString text = r.fieldString(i);
                (void)recwb::importdetail::yearFromTitle(text);
                (void)recwb::importdetail::splitList(text, QStringLiteral("|"));
                (void)recwb::importdetail::typedValue(text);
            }
            if (profile.options.separator == '\n' && r.fieldCount() == 1)
                (void)QJsonDocument::fromJson(QByteArray(r.field(0).data(), static_cast<qsizetype>(r.field(0).size())));
        }
    } catch (const recwb::Error&) {
        // a malformed file is refused with a message: what the importers report
    }
    return 0;
}
