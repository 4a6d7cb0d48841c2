#include "pipeline/ceiling.h"

#include "rerank/prices.h"
#include "util/error.h"

#include <QtGlobal>
#include <cmath>

namespace recwb::pipeline {

namespace {

    std::optional<double> environmentNumber(const char* name)
    {
        if (!qEnvironmentVariableIsSet(name))
            return std::nullopt;
        const QString text = qEnvironmentVariable(name);
        bool ok = false;
        const double v = text.trimmed().toDouble(&ok);
        if (!ok || !std::isfinite(v) || v < 0)
            throw Error(QStringLiteral("%1='%2': expected a number >= 0").arg(QLatin1StringView(name), text));
        return v;
    }

} // namespace

RunCeiling RunCeiling::fromEnvironment()
{
    RunCeiling c;
    if (const auto calls = environmentNumber("RECWB_CEILING_CALLS"))
        c.calls = static_cast<qint64>(*calls);
    if (const auto usd = environmentNumber("RECWB_CEILING_USD"))
        c.usd = *usd;
    return c;
}

QString RunProjection::exceeds(const RunCeiling& ceiling) const
{
    QStringList over;
    if (calls > ceiling.calls)
        over.append(QStringLiteral("up to %1 calls (ceiling %2)").arg(calls).arg(ceiling.calls));
    if (usd && *usd > ceiling.usd)
        over.append(QStringLiteral("up to $%1 (ceiling $%2)").arg(*usd, 0, 'f', 2).arg(ceiling.usd, 0, 'f', 2));
    return over.join(QStringLiteral(" and "));
}

RunProjection projectRun(const QList<rerank::EndpointProfile>& tiers, const rerank::PriceTable& prices, qint64 jobs,
    int candidates, std::optional<double> maxCostUsd)
{
    RunProjection p;
    double usd = 0;
    bool known = true;
    const double inputTokens = static_cast<double>(RunProjection::kInputTokensPerCandidate) * candidates
        + RunProjection::kInputTokensOverhead;
    for (const auto& tier : tiers) {
        if (tier.kind == rerank::ProviderKind::Offline)
            continue;
        p.calls += jobs;
        const auto price = prices.pricesFor(tier);
        if (!price || !price->input || !price->output) {
            known = false;
            continue;
        }
        usd += static_cast<double>(jobs) * (inputTokens * *price->input + tier.maxOutputTokens * *price->output) / 1e6;
    }
    if (known)
        p.usd = usd;
    if (maxCostUsd)
        p.usd = p.usd ? std::min(*p.usd, *maxCostUsd) : *maxCostUsd;
    return p;
}

} // namespace recwb::pipeline
