#include "pipeline/shard.h"
#include "data/dataset.h"
#include "util/error.h"

#include <QStringList>

namespace recwb::pipeline {

Shard parseShard(const QString& text)
{
    const QStringList parts = text.trimmed().split(u'/');
    bool okIndex = false;
    bool okCount = false;
    Shard s;
    if (parts.size() == 2) {
        s.index = parts[0].toInt(&okIndex);
        s.count = parts[1].toInt(&okCount);
    }
    if (!okIndex || !okCount || s.count < 1 || s.index < 0 || s.index >= s.count)
        throw Error(QStringLiteral("--shard '%1': expected I/N with 0 <= I < N, e.g. 0/4").arg(text));
    return s;
}

int shardOf(const QString& externalId, int count)
{
    uint64_t h = 14695981039346656037ULL;
    for (const char c : externalId.toUtf8()) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return static_cast<int>(h % static_cast<uint64_t>(count));
}

std::vector<int32_t> usersOfShard(const std::vector<int32_t>& users, const Dataset& ds, const Shard& shard)
{
    std::vector<int32_t> out;
    for (const int32_t u : users) {
        if (shardOf(ds.users[static_cast<size_t>(u)].externalId, shard.count) == shard.index)
            out.push_back(u);
    }
    return out;
}

} // namespace recwb::pipeline
