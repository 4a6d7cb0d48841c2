#include "cli.h"
#include "data/dataset.h"
#include "pipeline/whatif.h"
#include "rerank/prompt.h"

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
    auto itemOf = [&](const QString& id, const QString& option) {
        const int32_t item = ds.itemIndex(id);
        if (item < 0)
            throw UsageError(QStringLiteral("--%1: no item '%2' in the catalog").arg(option, id));
        return item;
    };
    pipeline::WhatIfEdit edit;
    for (const QString& id : idsOf(p, QStringLiteral("without"))) {
        const int32_t item = itemOf(id, QStringLiteral("without"));
        if (std::find(items.begin(), items.end(), item) == items.end())
            throw UsageError(QStringLiteral("--without: item '%1' is not in the history of user '%2'")
                                 .arg(id, ds.users[static_cast<size_t>(user)].externalId));
        edit.drop.insert(item);
    }
    for (const QString& id : idsOf(p, QStringLiteral("with"))) {
        const int32_t item = itemOf(id, QStringLiteral("with"));
        const bool kept = std::find(items.begin(), items.end(), item) != items.end() && !edit.drop.contains(item);
        if (kept || std::find(edit.add.begin(), edit.add.end(), item) != edit.add.end())
            throw UsageError(QStringLiteral("--with: item '%1' is already in the history").arg(id));
        edit.add.push_back(item);
    }
    return pipeline::whatIfUser(ds, user, edit);
}

} // namespace recwb::cli
