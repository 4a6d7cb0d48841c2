#include "cli.h"
#include "data/dataset.h"
#include "rerank/prompt.h"

#include <QSet>
#include <algorithm>

namespace recwb::cli {

namespace {

    QStringList idsOf(const QCommandLineParser& p, const QString& option)
    {
        QStringList ids;
        for (const QString& value : p.values(option))
            for (const QString& id : value.split(u',', Qt::SkipEmptyParts))
                if (!id.trimmed().isEmpty())
                    ids << id.trimmed();
        return ids;
    }

} // namespace

void addWhatIfOptions(QCommandLineParser& p)
{
    p.addOption({ QStringLiteral("without"),
        QStringLiteral("What-if: drop these item ids from the user's history (comma-separated; nothing is stored)."),
        QStringLiteral("ids") });
    p.addOption({ QStringLiteral("with"),
        QStringLiteral("What-if: add these item ids as the user's latest interactions (comma-separated; nothing is "
                       "stored)."),
        QStringLiteral("ids") });
}

bool hasWhatIf(const QCommandLineParser& p)
{
    return p.isSet(QStringLiteral("without")) || p.isSet(QStringLiteral("with"));
}

rerank::PromptUser whatIfUser(const QCommandLineParser& p, const Dataset& ds, int32_t user)
{
    const auto items = ds.userItems.row(user);
    const auto values = ds.userItems.rowValues(user);
    const auto times = ds.userItems.rowTimestamps(user);
    auto itemOf = [&](const QString& id, const QString& option) {
        const int32_t item = ds.itemIndex(id);
        if (item < 0)
            throw UsageError(QStringLiteral("--%1: no item '%2' in the catalog").arg(option, id));
        return item;
    };
    QSet<int32_t> drop;
    for (const QString& id : idsOf(p, QStringLiteral("without"))) {
        const int32_t item = itemOf(id, QStringLiteral("without"));
        if (std::find(items.begin(), items.end(), item) == items.end())
            throw UsageError(QStringLiteral("--without: item '%1' is not in the history of user '%2'")
                                 .arg(id, ds.users[static_cast<size_t>(user)].externalId));
        drop.insert(item);
    }
    rerank::PromptUser pu;
    pu.id = ds.users[static_cast<size_t>(user)].externalId;
    pu.profile = ds.users[static_cast<size_t>(user)].attributes;
    qint64 latest = 0;
    double sum = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const qint64 t = i < times.size() ? times[i] : 0;
        latest = std::max(latest, t);
        sum += i < values.size() ? values[i] : 1.0f;
        if (!drop.contains(items[i]))
            pu.history.push_back({ items[i], i < values.size() ? values[i] : 1.0f, t });
    }
    // an added item weighs what the user's items weigh on average, and comes last in time
    const float value = items.empty() ? 1.0f : static_cast<float>(sum / static_cast<double>(items.size()));
    for (const QString& id : idsOf(p, QStringLiteral("with"))) {
        const int32_t item = itemOf(id, QStringLiteral("with"));
        if (std::any_of(pu.history.begin(), pu.history.end(), [&](const rerank::HistoryEntry& h) { return h.item == item; }))
            throw UsageError(QStringLiteral("--with: item '%1' is already in the history").arg(id));
        pu.history.push_back({ item, value, latest > 0 ? ++latest : 0 });
    }
    return pu;
}

} // namespace recwb::cli
