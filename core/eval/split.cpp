#include "eval/split.h"

#include "eval/random.h"
#include "util/error.h"

#include <QRegularExpression>
#include <algorithm>
#include <numeric>

namespace recwb::eval {
namespace {

// The positions (inside the user's CSR row) ordered by time: (timestamp, item index).
std::vector<int32_t> positionsByTime(const Csr& m, int32_t user)
{
    const auto items = m.row(user);
    const int32_t n = static_cast<int32_t>(items.size());
    std::vector<int32_t> pos(static_cast<size_t>(n));
    std::iota(pos.begin(), pos.end(), 0);
    if (m.timestamps.empty())
        return pos; // no time: item index order
    const auto ts = m.rowTimestamps(user);
    std::sort(pos.begin(), pos.end(), [&](int32_t a, int32_t b) {
        if (ts[a] != ts[b])
            return ts[a] < ts[b];
        return items[a] < items[b];
    });
    return pos;
}

// Builds a split from a per-user decision: `holdOut(user, n, testMask)` marks the row
// positions that go to test (testMask has the row's length, all false on entry).
template <typename F>
Split build(const Dataset& ds, const QString& name, quint64 seed, F&& holdOut)
{
    const Csr& m = ds.userItems;
    Split s;
    s.name = name;
    s.seed = seed;
    s.test.resize(static_cast<size_t>(m.numRows));
    const bool withTs = !m.timestamps.empty();
    CsrBuilder train(m.numRows, m.numCols, true, m.nnz());
    std::vector<char> mask;
    for (int32_t u = 0; u < m.numRows; ++u) {
        // A synthetic user (saved from a what-if) is neither trained on nor evaluated: an
        // invented history must not move any metric.
        if (static_cast<size_t>(u) < ds.users.size() && ds.users[static_cast<size_t>(u)].isSynthetic())
            continue;
        const auto items = m.row(u);
        const auto values = m.rowValues(u);
        mask.assign(items.size(), 0);
        holdOut(u, static_cast<int32_t>(items.size()), mask);
        auto& test = s.test[static_cast<size_t>(u)];
        for (size_t k = 0; k < items.size(); ++k) {
            if (mask[k])
                test.push_back(items[k]); // rows ascend, so test ascends
            else
                train.add(u, items[k], values[k], withTs ? m.rowTimestamps(u)[k] : 0);
        }
        if (!test.empty())
            s.evaluatedUsers.push_back(u);
    }
    s.train = train.finish();
    return s;
}

// Holds out the latest `count` interactions by time.
void holdOutLatest(const Csr& m, int32_t user, int32_t count, std::vector<char>& mask)
{
    const auto order = positionsByTime(m, user);
    for (size_t i = order.size() - static_cast<size_t>(count); i < order.size(); ++i)
        mask[static_cast<size_t>(order[i])] = 1;
}

} // namespace

int64_t Split::testInteractions() const
{
    int64_t n = 0;
    for (const auto& t : test)
        n += static_cast<int64_t>(t.size());
    return n;
}

SplitSpec SplitSpec::parse(const QString& name)
{
    const QString n = name.trimmed().toLower();
    if (n == u"loo")
        return { SplitKind::LeaveOneOut, 0 };
    if (n == u"ratio")
        return { SplitKind::Ratio, 0 };
    if (n == u"strat75")
        return { SplitKind::Strat75, 0 };
    static const QRegularExpression cold(QStringLiteral("^cold@(\\d{1,6})$"));
    const auto match = cold.match(n);
    if (match.hasMatch())
        return { SplitKind::ColdN, match.captured(1).toInt() };
    throw Error(QStringLiteral("unknown split '%1' (accepted: loo, ratio, strat75, cold@N with N >= 0, e.g. cold@0, "
                               "cold@1, cold@3, cold@5)")
                    .arg(name));
}

QString SplitSpec::name() const
{
    switch (kind) {
    case SplitKind::LeaveOneOut:
        return QStringLiteral("loo");
    case SplitKind::Ratio:
        return QStringLiteral("ratio");
    case SplitKind::Strat75:
        return QStringLiteral("strat75");
    case SplitKind::ColdN:
        return QStringLiteral("cold@%1").arg(coldN);
    }
    return {};
}

QString SplitSpec::description() const
{
    switch (kind) {
    case SplitKind::LeaveOneOut:
        return QStringLiteral("each user's latest interaction held out; users with >= 2 interactions");
    case SplitKind::Ratio:
        return QStringLiteral("each user's latest floor(n/5) interactions (at least 1) held out; users with >= 2 "
                              "interactions");
    case SplitKind::Strat75:
        return QStringLiteral("a seeded random floor(n/4) of each user's interactions (at least 1) held out; users "
                              "with >= 2 interactions");
    case SplitKind::ColdN:
        return QStringLiteral("a fixed fifth of the users keep only their first %1 interactions in train, the rest "
                              "held out; those with > %1 interactions")
            .arg(coldN);
    }
    return {};
}

Split splitLeaveOneOut(const Dataset& ds)
{
    return build(ds, QStringLiteral("loo"), 0, [&](int32_t u, int32_t n, std::vector<char>& mask) {
        if (n >= 2)
            holdOutLatest(ds.userItems, u, 1, mask);
    });
}

Split splitRatio(const Dataset& ds)
{
    return build(ds, QStringLiteral("ratio"), 0, [&](int32_t u, int32_t n, std::vector<char>& mask) {
        if (n >= 2)
            holdOutLatest(ds.userItems, u, std::max(1, n / 5), mask);
    });
}

Split splitStrat75(const Dataset& ds, quint64 seed)
{
    std::vector<int32_t> pos;
    return build(ds, QStringLiteral("strat75"), seed, [&](int32_t u, int32_t n, std::vector<char>& mask) {
        if (n < 2)
            return;
        const int32_t k = std::max(1, n / 4);
        pos.resize(static_cast<size_t>(n));
        std::iota(pos.begin(), pos.end(), 0);
        // Partial Fisher-Yates: position i takes a uniform pick of the positions i..n-1.
        auto rng = SplitMix64::stream(seed, static_cast<uint64_t>(u));
        for (int32_t i = 0; i < k; ++i) {
            const auto j = i + static_cast<int32_t>(rng.below(static_cast<uint64_t>(n - i)));
            std::swap(pos[static_cast<size_t>(i)], pos[static_cast<size_t>(j)]);
            mask[static_cast<size_t>(pos[static_cast<size_t>(i)])] = 1;
        }
    });
}

Split splitColdN(const Dataset& ds, int n)
{
    if (n < 0)
        throw Error(QStringLiteral("cold@n needs n >= 0 (got %1)").arg(n));
    return build(ds, QStringLiteral("cold@%1").arg(n), 0, [&](int32_t u, int32_t count, std::vector<char>& mask) {
        if (count <= n || !isColdFifthUser(ds.users[static_cast<size_t>(u)].externalId))
            return;
        holdOutLatest(ds.userItems, u, count - n, mask);
    });
}

Split makeSplit(const Dataset& ds, const SplitSpec& spec, quint64 seed)
{
    if (ds.userItems.numRows != ds.numUsers() || ds.userItems.numCols != ds.numItems())
        throw Error(QStringLiteral("dataset interaction matrix (%1 x %2) does not match its %3 users and %4 items")
                        .arg(ds.userItems.numRows)
                        .arg(ds.userItems.numCols)
                        .arg(ds.numUsers())
                        .arg(ds.numItems()));
    switch (spec.kind) {
    case SplitKind::LeaveOneOut:
        return splitLeaveOneOut(ds);
    case SplitKind::Ratio:
        return splitRatio(ds);
    case SplitKind::Strat75:
        return splitStrat75(ds, seed);
    case SplitKind::ColdN:
        return splitColdN(ds, spec.coldN);
    }
    return {};
}

Split makeSplit(const Dataset& ds, const QString& name, quint64 seed)
{
    return makeSplit(ds, SplitSpec::parse(name), seed);
}

quint32 fnv1a32(QByteArrayView bytes)
{
    quint32 h = 0x811c9dc5u;
    for (const char c : bytes) {
        h ^= static_cast<quint8>(c);
        h *= 0x01000193u;
    }
    return h;
}

bool isColdFifthUser(const QString& externalId)
{
    const bool whole = !externalId.isEmpty()
        && std::all_of(externalId.begin(), externalId.end(), [](QChar c) { return c >= u'0' && c <= u'9'; });
    if (whole) {
        // A whole number is divisible by 5 exactly when its last decimal digit is 0 or 5,
        // which also holds for ids longer than any integer type.
        const QChar last = externalId.back();
        return last == u'0' || last == u'5';
    }
    return fnv1a32(externalId.toUtf8()) % 5u == 0;
}

} // namespace recwb::eval
