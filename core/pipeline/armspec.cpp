#include "pipeline/armspec.h"

#include "util/error.h"

#include <QSet>
#include <QStringList>

namespace recwb::pipeline {
namespace {

    constexpr int kMaxK = 200;
    constexpr int kMaxCandidates = 1000;

    int positiveInt(const QString& spec, const QString& key, const QString& value, int max)
    {
        bool ok = false;
        const int n = value.toInt(&ok);
        if (!ok || n < 1 || n > max)
            throw Error(
                QStringLiteral("arm '%1': %2=%3 must be a whole number from 1 to %4").arg(spec, key, value).arg(max));
        return n;
    }

} // namespace

ArmSpec ArmSpec::parse(const QString& text)
{
    const QString spec = text.trimmed();
    if (spec.isEmpty())
        throw Error(QStringLiteral("empty arm spec: expected e.g. cf=ease,rerank=offline"));
    ArmSpec arm;
    QSet<QString> seen;
    bool candidatesGiven = false;
    for (const QString& rawPair : spec.split(u',')) {
        const QString pair = rawPair.trimmed();
        const auto eq = pair.indexOf(u'=');
        if (eq <= 0)
            throw Error(
                QStringLiteral("arm '%1': '%2' is not key=value (keys: cf, rerank, prompt, k, candidates, label)")
                    .arg(spec, pair));
        const QString key = pair.left(eq).trimmed().toLower();
        const QString value = pair.mid(eq + 1).trimmed();
        if (value.isEmpty())
            throw Error(QStringLiteral("arm '%1': %2= has no value").arg(spec, key));
        if (value.contains(u'='))
            throw Error(QStringLiteral("arm '%1': the value of %2 contains '='").arg(spec, key));
        if (seen.contains(key))
            throw Error(QStringLiteral("arm '%1': %2 is given twice").arg(spec, key));
        seen.insert(key);
        if (key == u"cf")
            arm.cf = value;
        else if (key == u"rerank")
            arm.rerank = value;
        else if (key == u"prompt")
            arm.prompt = value;
        else if (key == u"k")
            arm.k = positiveInt(spec, key, value, kMaxK);
        else if (key == u"candidates") {
            arm.candidates = positiveInt(spec, key, value, kMaxCandidates);
            candidatesGiven = true;
        } else if (key == u"label")
            arm.label = value;
        else
            throw Error(QStringLiteral("arm '%1': unknown key '%2' (keys: cf, rerank, prompt, k, candidates, label)")
                            .arg(spec, key));
    }
    if (arm.cf.isEmpty())
        throw Error(QStringLiteral("arm '%1': cf= is required (a CF model or snapshot, coldstart or pop)").arg(spec));
    if (arm.cf.startsWith(QStringLiteral("run:"))) {
        if (!arm.storedRun())
            throw Error(
                QStringLiteral("arm '%1': cf=%2 must be run:ID with the id of a stored rerank run").arg(spec, arm.cf));
        if (arm.reranks() || !arm.prompt.isEmpty())
            throw Error(QStringLiteral("arm '%1': cf=%2 opens a stored run; rerank= and prompt= do not apply")
                            .arg(spec, arm.cf));
    }
    if (arm.prompt.startsWith(u'@') || arm.prompt.endsWith(u'@'))
        throw Error(
            QStringLiteral("arm '%1': prompt=%2 must be NAME, NAME@VERSION or NAME@LABEL").arg(spec, arm.prompt));
    if (!arm.prompt.isEmpty() && !arm.reranks())
        throw Error(QStringLiteral("arm '%1': prompt= needs a reranker (rerank=offline or an endpoint)").arg(spec));
    if (candidatesGiven && arm.candidates < arm.k)
        throw Error(
            QStringLiteral("arm '%1': candidates=%2 is fewer than k=%3").arg(spec).arg(arm.candidates).arg(arm.k));
    arm.candidates = std::max(arm.candidates, arm.k);
    return arm;
}

QString ArmSpec::toString() const
{
    const ArmSpec defaults;
    QStringList parts { QStringLiteral("cf=") + cf };
    if (rerank != defaults.rerank)
        parts << QStringLiteral("rerank=") + rerank;
    if (!prompt.isEmpty())
        parts << QStringLiteral("prompt=") + prompt;
    if (k != defaults.k)
        parts << QStringLiteral("k=") + QString::number(k);
    if (candidates != std::max(defaults.candidates, k))
        parts << QStringLiteral("candidates=") + QString::number(candidates);
    if (!label.isEmpty())
        parts << QStringLiteral("label=") + label;
    return parts.join(u',');
}

std::optional<qint64> ArmSpec::storedRun() const
{
    if (!cf.startsWith(QStringLiteral("run:")))
        return std::nullopt;
    bool ok = false;
    const qint64 id = cf.mid(4).toLongLong(&ok);
    return ok && id > 0 ? std::optional<qint64>(id) : std::nullopt;
}

QString ArmSpec::title() const
{
    return label.isEmpty() ? toString() : label;
}

} // namespace recwb::pipeline
