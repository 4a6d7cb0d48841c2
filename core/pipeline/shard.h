#pragma once

#include <QJsonObject>
#include <QString>
#include <cstdint>
#include <vector>

namespace recwb {
class Dataset;
}

// Shards of a batch (docs/SCALE.md): shard I of N takes the users whose stable hash of the
// external id is I mod N, so every machine agrees on the split whatever the row order of
// its workspace copy.
namespace recwb::pipeline {

struct Shard {
    int index = 0;
    int count = 1;
};

// "I/N" with 0 <= I < N; throws recwb::Error naming the text otherwise.
Shard parseShard(const QString& text);

// FNV-1a 64 over the UTF-8 bytes of the id, modulo count.
int shardOf(const QString& externalId, int count);

// The users of `users` (in their order) that belong to `shard`.
std::vector<int32_t> usersOfShard(const std::vector<int32_t>& users, const Dataset& ds, const Shard& shard);

// What a shard that writes a file of its own records of the workspace it read (users,
// items, interactions, FNV-1a 64 of the user and item ids in order, in hex), so a merge
// refuses a shard made on other data. Two copies of one workspace give the same object.
QJsonObject sourceFingerprint(const Dataset& ds);

} // namespace recwb::pipeline
