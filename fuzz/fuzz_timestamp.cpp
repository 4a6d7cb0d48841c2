// libFuzzer target: the timestamp parser (integer seconds, milliseconds, fractional seconds,
// ISO-8601 dates and date-times with offsets), on bytes and on text; both must agree.
#include "data/import/importers.h"
#include "data/import/textreader.h"

#include <QString>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const std::optional<qint64> fromBytes = recwb::textio::parseTimestampBytes(bytes);
    const QString text = QString::fromLatin1(bytes.data(), static_cast<qsizetype>(bytes.size()));
    const std::optional<qint64> fromText = recwb::parseTimestamp(text);
    // Pure ASCII input reads the same as bytes and as text.
    const bool ascii
        = std::all_of(bytes.begin(), bytes.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii && fromBytes != fromText)
        std::abort();
    return 0;
}
