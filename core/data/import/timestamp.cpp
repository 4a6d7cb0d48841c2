#include "data/import/importers.h"
#include "data/import/textreader.h"

#include <cmath>

namespace recwb {
namespace textio {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
qint64 daysFromCivil(qint64 y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const qint64 era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<qint64>(doe) - 719468;
}

bool isLeap(qint64 y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(qint64 y, unsigned m)
{
    static constexpr unsigned kDays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at s[pos].
bool digits(std::string_view s, size_t& pos, size_t n, int& out)
{
    if (pos + n > s.size())
        return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        const char c = s[pos + i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    pos += n;
    out = v;
    return true;
}

std::optional<qint64> parseIso(std::string_view s)
{
    size_t p = 0;
    int year = 0, month = 0, day = 0;
    if (!digits(s, p, 4, year) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, month) || p >= s.size()
        || s[p++] != '-' || !digits(s, p, 2, day))
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > daysInMonth(year, static_cast<unsigned>(month)))
        return std::nullopt;
    qint64 secs = daysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400;
    if (p == s.size())
        return secs;
    if (s[p] != 'T' && s[p] != 't' && s[p] != ' ')
        return std::nullopt;
    ++p;
    int hh = 0, mm = 0, ss = 0;
    if (!digits(s, p, 2, hh) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mm))
        return std::nullopt;
    if (p < s.size() && s[p] == ':') {
        ++p;
        if (!digits(s, p, 2, ss))
            return std::nullopt;
        if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
            ++p;
            const size_t start = p;
            while (p < s.size() && s[p] >= '0' && s[p] <= '9')
                ++p;
            if (p == start)
                return std::nullopt;
        }
    }
    if (hh > 23 || mm > 59 || ss > 60)
        return std::nullopt;
    secs += hh * 3600 + mm * 60 + ss;
    if (p == s.size())
        return secs; // no offset: UTC
    if (s[p] == 'Z' || s[p] == 'z')
        return p + 1 == s.size() ? std::optional<qint64>(secs) : std::nullopt;
    if (s[p] != '+' && s[p] != '-')
        return std::nullopt;
    const int sign = s[p++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!digits(s, p, 2, oh))
        return std::nullopt;
    if (p < s.size() && s[p] == ':')
        ++p;
    if (p < s.size() && !digits(s, p, 2, om))
        return std::nullopt;
    if (p != s.size() || oh > 23 || om > 59)
        return std::nullopt;
    return secs - sign * (oh * 3600 + om * 60);
}

} // namespace

std::optional<qint64> parseTimestampBytes(std::string_view s)
{
    s = trim(s);
    if (s.empty())
        return std::nullopt;
    if (const auto i = parseInt(s))
        return (*i > 100'000'000'000LL || *i < -100'000'000'000LL) ? *i / 1000 : *i;
    if (s.size() < 10 || s[4] != '-') { // not a date: fractional seconds?
        if (const auto d = parseDouble(s)) {
            const double v = std::fabs(*d) > 1e11 ? *d / 1000.0 : *d;
            if (std::fabs(v) > 1e15)
                return std::nullopt;
            return static_cast<qint64>(std::floor(v));
        }
        return std::nullopt;
    }
    return parseIso(s);
}

} // namespace textio

std::optional<qint64> parseTimestamp(QStringView text)
{
    const QByteArray utf8 = text.toUtf8();
    return textio::parseTimestampBytes(std::string_view(utf8.constData(), static_cast<size_t>(utf8.size())));
}

} // namespace recwb
