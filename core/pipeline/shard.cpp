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

namespace {
    constexpr uint64_t kFnvOffset = 14695981039346656037ULL;

    uint64_t fnv1a(uint64_t h, const QByteArray& bytes)
    {
        for (const char c : bytes) {
            h ^= static_cast<unsigned char>(c);
            h *= 1099511628211ULL;
        }
        return h;
    }
} // namespace

int shardOf(const QString& externalId, int count)
{
    return static_cast<int>(fnv1a(kFnvOffset, externalId.toUtf8()) % static_cast<uint64_t>(count));
}

QJsonObject sourceFingerprint(const Dataset& ds)
{
    uint64_t users = kFnvOffset;
    for (const User& u : ds.users)
        users = fnv1a(users, u.externalId.toUtf8() + '\n');
    uint64_t items = kFnvOffset;
    for (const Item& i : ds.items)
        items = fnv1a(items, i.externalId.toUtf8() + '\n');
    return QJsonObject { { QStringLiteral("users"), ds.numUsers() }, { QStringLiteral("items"), ds.numItems() },
        { QStringLiteral("interactions"), static_cast<qint64>(ds.numInteractions()) },
        { QStringLiteral("user_ids_fnv"), QString::number(users, 16) },
        { QStringLiteral("item_ids_fnv"), QString::number(items, 16) } };
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
