// The experiment file: spec, cohort, arm and assertion parsing (docs/EXPERIMENTS.md).
#include "pipeline/experiment.h"

#include "pipeline/shard.h"
#include "util/error.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSet>
#include <cmath>

namespace recwb::pipeline {
namespace {

    const QStringList kSpecKeys { QStringLiteral("name"), QStringLiteral("split"), QStringLiteral("seed"),
        QStringLiteral("cohort"), QStringLiteral("k"), QStringLiteral("arms"), QStringLiteral("max_cost"),
        QStringLiteral("assert"), QStringLiteral("repeats"), QStringLiteral("cold_threshold"), QStringLiteral("chunk"),
        QStringLiteral("arm_order"), QStringLiteral("shard") };

    // The keys of the top-level "arms" object in the order the text gives them (QJsonObject
    // sorts its keys). The text is valid JSON (already parsed).
    class ArmOrderScanner {
    public:
        explicit ArmOrderScanner(const QByteArray& json)
            : m_s(json)
        {
        }
        QStringList scan()
        {
            ws();
            if (peek() != '{')
                return {};
            ++m_i;
            while (m_i < m_s.size()) {
                ws();
                if (peek() == '}')
                    break;
                const QString key = string();
                ws();
                ++m_i; // ':'
                ws();
                if (key == u"arms" && peek() == '{')
                    return keysOfObject();
                skipValue();
                ws();
                if (peek() == ',')
                    ++m_i;
            }
            return {};
        }

    private:
        char peek() const { return m_i < m_s.size() ? m_s[m_i] : '\0'; }
        void ws()
        {
            while (m_i < m_s.size() && (m_s[m_i] == ' ' || m_s[m_i] == '\n' || m_s[m_i] == '\r' || m_s[m_i] == '\t'))
                ++m_i;
        }
        QString string()
        {
            const qsizetype begin = m_i;
            ++m_i;
            while (m_i < m_s.size() && m_s[m_i] != '"')
                m_i += m_s[m_i] == '\\' ? 2 : 1;
            ++m_i;
            const QByteArray quoted = '[' + m_s.mid(begin, m_i - begin) + ']';
            return QJsonDocument::fromJson(quoted).array().at(0).toString();
        }
        void skipValue()
        {
            if (peek() == '"') {
                string();
                return;
            }
            int depth = 0;
            while (m_i < m_s.size()) {
                const char c = m_s[m_i];
                if (c == '"') {
                    string();
                    continue;
                }
                if (c == '{' || c == '[')
                    ++depth;
                else if (c == '}' || c == ']') {
                    if (depth == 0)
                        return;
                    if (--depth == 0) {
                        ++m_i;
                        return;
                    }
                } else if (c == ',' && depth == 0)
                    return;
                ++m_i;
            }
        }
        QStringList keysOfObject()
        {
            QStringList keys;
            ++m_i; // '{'
            while (m_i < m_s.size()) {
                ws();
                if (peek() != '"')
                    break;
                keys << string();
                ws();
                ++m_i; // ':'
                ws();
                skipValue();
                ws();
                if (peek() == ',')
                    ++m_i;
            }
            return keys;
        }

        const QByteArray& m_s;
        qsizetype m_i = 0;
    };

    QStringList armKeysInOrder(const QByteArray& json)
    {
        return ArmOrderScanner(json).scan();
    }

    constexpr int kMaxRepeats = 20;

    std::optional<CohortSpec::Kind> simpleCohort(const QString& s)
    {
        if (s == u"all")
            return CohortSpec::Kind::All;
        if (s == u"cold")
            return CohortSpec::Kind::Cold;
        if (s == u"warm")
            return CohortSpec::Kind::Warm;
        if (s == u"longtail")
            return CohortSpec::Kind::LongTail;
        return std::nullopt;
    }

    QString simpleCohortName(CohortSpec::Kind k)
    {
        switch (k) {
        case CohortSpec::Kind::Cold:
            return QStringLiteral("cold");
        case CohortSpec::Kind::Warm:
            return QStringLiteral("warm");
        case CohortSpec::Kind::LongTail:
            return QStringLiteral("longtail");
        default:
            return QStringLiteral("all");
        }
    }

    int wholeNumber(const QJsonValue& v, const QString& where, int min, int max)
    {
        const double d = v.toDouble(std::nan(""));
        if (!v.isDouble() || !std::isfinite(d) || d != std::floor(d) || d < min || d > max)
            throw Error(QStringLiteral("%1 must be a whole number from %2 to %3").arg(where).arg(min).arg(max));
        return static_cast<int>(d);
    }

    // The per-arm figures an assertion may name (besides metric@K).
    const QStringList kArmFigures { QStringLiteral("cost_usd"), QStringLiteral("cost_per_1k_users"),
        QStringLiteral("fallback_share"), QStringLiteral("llm_share"), QStringLiteral("routed_cf_share"),
        QStringLiteral("tokens_in"), QStringLiteral("tokens_out"), QStringLiteral("cache_hits"),
        QStringLiteral("calls"), QStringLiteral("kendall_tau"), QStringLiteral("latency_p50_ms"),
        QStringLiteral("latency_p95_ms"), QStringLiteral("latency_p99_ms"), QStringLiteral("users") };

    // Throws naming the assertion when `metric` is not a per-arm figure (with its K in the spec).
    void checkArmMetric(const QString& text, const QString& metric, const ExperimentSpec* spec)
    {
        if (kArmFigures.contains(metric))
            return;
        const auto at = metric.indexOf(u'@');
        const QString base = metric.left(at);
        if (at > 0 && base == u"coverage") {
            bool ok = false;
            const int k = metric.mid(at + 1).toInt(&ok);
            if (ok && (!spec || std::find(spec->ks.begin(), spec->ks.end(), k) != spec->ks.end()))
                return;
        }
        try {
            const auto [m, k] = eval::parseMetricAtK(metric);
            if (spec && std::find(spec->ks.begin(), spec->ks.end(), k) == spec->ks.end())
                throw Error(QStringLiteral("K = %1 is not in the file's \"k\"").arg(k));
        } catch (const Error& e) {
            throw Error(QStringLiteral("assertion '%1': '%2' is not a figure (metric@K such as ndcg@10, or %3): %4")
                            .arg(text, metric, kArmFigures.join(QStringLiteral(", ")), e.message()));
        }
    }

    void checkArm(const QString& text, const QString& arm, const ExperimentSpec* spec)
    {
        if (spec && !spec->arm(arm)) {
            QStringList names;
            for (const ExperimentArm& a : spec->arms)
                names << a.name;
            throw Error(QStringLiteral("assertion '%1': no arm '%2' (arms: %3)").arg(text, arm, names.join(u',')));
        }
    }

} // namespace

// ---------------------------------------------------------------- cohort

CohortSpec CohortSpec::fromJson(const QJsonValue& v, const QString& where)
{
    const QString accepted = QStringLiteral(
        "\"all\", \"cold\", \"warm\", \"longtail\", {\"users\": [ids]} or {\"sample\": N, \"of\": COHORT}");
    CohortSpec c;
    if (v.isUndefined() || v.isNull())
        return c;
    if (v.isString()) {
        const auto k = simpleCohort(v.toString());
        if (!k)
            throw Error(QStringLiteral("%1: '%2' is not a cohort (expected %3)").arg(where, v.toString(), accepted));
        c.kind = *k;
        return c;
    }
    if (!v.isObject())
        throw Error(QStringLiteral("%1: expected %2").arg(where, accepted));
    const QJsonObject o = v.toObject();
    if (o.contains(u"users")) {
        if (o.size() != 1)
            throw Error(QStringLiteral("%1: {\"users\": [...]} takes no other key").arg(where));
        const QJsonValue list = o.value(u"users");
        if (!list.isArray() || list.toArray().isEmpty())
            throw Error(QStringLiteral("%1: users must be a non-empty array of user ids").arg(where));
        c.kind = Kind::Users;
        QSet<QString> seen;
        for (const QJsonValue& u : list.toArray()) {
            const QString id = u.isString() ? u.toString() : u.isDouble() ? QString::number(u.toInteger()) : QString();
            if (id.isEmpty())
                throw Error(QStringLiteral("%1: users: every id must be a string or a whole number").arg(where));
            if (!seen.contains(id))
                c.users << id;
            seen.insert(id);
        }
        return c;
    }
    if (o.contains(u"sample")) {
        for (auto it = o.begin(); it != o.end(); ++it)
            if (it.key() != u"sample" && it.key() != u"of")
                throw Error(QStringLiteral("%1: unknown key '%2' (sample, of)").arg(where, it.key()));
        c.kind = Kind::Sample;
        c.sample = wholeNumber(o.value(u"sample"), where + QStringLiteral(": sample"), 1, 10'000'000);
        const QJsonValue of = o.value(u"of");
        if (!of.isUndefined()) {
            const auto k = of.isString() ? simpleCohort(of.toString()) : std::nullopt;
            if (!k)
                throw Error(QStringLiteral("%1: of must be \"all\", \"cold\", \"warm\" or \"longtail\"").arg(where));
            c.of = *k;
        }
        return c;
    }
    throw Error(QStringLiteral("%1: expected %2").arg(where, accepted));
}

QJsonValue CohortSpec::toJson() const
{
    switch (kind) {
    case Kind::Users:
        return QJsonObject { { QStringLiteral("users"), QJsonArray::fromStringList(users) } };
    case Kind::Sample:
        return QJsonObject { { QStringLiteral("sample"), sample }, { QStringLiteral("of"), simpleCohortName(of) } };
    default:
        return simpleCohortName(kind);
    }
}

QString CohortSpec::name() const
{
    switch (kind) {
    case Kind::Users:
        return QStringLiteral("users (%1)").arg(users.size());
    case Kind::Sample:
        return QStringLiteral("sample %1 of %2").arg(sample).arg(simpleCohortName(of));
    default:
        return simpleCohortName(kind);
    }
}

// ---------------------------------------------------------------- arm

ExperimentArm ExperimentArm::parse(
    const QString& name, const QString& text, int defaultRepeats, const std::vector<int>& ks, const QString& where)
{
    ExperimentArm a;
    a.name = name;
    a.repeats = defaultRepeats;
    const QString prefix = QStringLiteral("%1: arm '%2'").arg(where, name);
    QStringList kept;
    for (const QString& raw : text.split(u',')) {
        const QString pair = raw.trimmed();
        const auto eq = pair.indexOf(u'=');
        const QString key = eq > 0 ? pair.left(eq).trimmed().toLower() : QString();
        const QString value = eq > 0 ? pair.mid(eq + 1).trimmed() : QString();
        if (key == u"repeats") {
            bool ok = false;
            a.repeats = value.toInt(&ok);
            if (!ok || a.repeats < 1 || a.repeats > kMaxRepeats)
                throw Error(QStringLiteral("%1: repeats=%2 must be a whole number from 1 to %3")
                                .arg(prefix, value)
                                .arg(kMaxRepeats));
        } else if (key == u"routing") {
            static const QRegularExpression lowconf(QStringLiteral("^lowconf(:(0(\\.\\d+)?|1(\\.0*)?))?$"));
            if (value != u"all" && value != u"selective" && value != u"cold" && !lowconf.match(value).hasMatch())
                throw Error(QStringLiteral("%1: routing=%2: expected all, selective, cold or lowconf[:THRESHOLD]")
                                .arg(prefix, value));
            a.routing = value;
        } else if (key == u"source") {
            if (value == u"cf")
                a.source = CandidateSource::Cf;
            else if (value == u"auto")
                a.source = CandidateSource::Auto;
            else
                throw Error(QStringLiteral("%1: source=%2: expected cf or auto").arg(prefix, value));
        } else {
            if (key == u"k")
                a.explicitK = true;
            if (key == u"candidates")
                a.explicitCandidates = true;
            kept << pair;
        }
    }
    try {
        a.spec = ArmSpec::parse(kept.join(u','));
    } catch (const Error& e) {
        throw Error(QStringLiteral("%1: %2").arg(prefix, e.message()));
    }
    if (a.spec.storedRun())
        throw Error(QStringLiteral("%1: cf=run:ID opens one stored run and cannot be an experiment arm").arg(prefix));
    if (!a.explicitK && !ks.empty()) {
        a.spec.k = ks.back();
        if (!a.explicitCandidates)
            a.spec.candidates = std::max(ArmSpec {}.candidates, a.spec.k);
        else if (a.spec.candidates < a.spec.k)
            throw Error(QStringLiteral("%1: candidates=%2 is fewer than the largest K %3")
                            .arg(prefix)
                            .arg(a.spec.candidates)
                            .arg(a.spec.k));
    }
    if (a.routing != u"all" && !a.spec.reranks())
        throw Error(QStringLiteral("%1: routing= needs a reranker (rerank=offline or an endpoint)").arg(prefix));
    if (a.spec.isColdStart() && a.source == CandidateSource::Auto)
        a.source = CandidateSource::Cf; // the blend for everyone either way
    return a;
}

QString ExperimentArm::toString() const
{
    ArmSpec s = spec;
    if (!explicitK) { // k follows the file's "k"
        s.k = ArmSpec {}.k;
        if (!explicitCandidates)
            s.candidates = ArmSpec {}.candidates;
    }
    QString text = s.toString();
    if (explicitK && !text.contains(QStringLiteral(",k=")))
        text += QStringLiteral(",k=%1").arg(spec.k);
    if (repeats != 1)
        text += QStringLiteral(",repeats=%1").arg(repeats);
    if (routing != u"all")
        text += QStringLiteral(",routing=") + routing;
    if (source == CandidateSource::Auto)
        text += QStringLiteral(",source=auto");
    return text;
}

RoutingPolicy ExperimentArm::routingPolicy() const
{
    RoutingPolicy p;
    if (routing == u"all")
        return p;
    p.everyone = false;
    p.highValue = false;
    if (routing == u"selective") {
        p.highValue = true;
        return p;
    }
    p.cold = routing == u"cold";
    p.lowConfidence = routing.startsWith(u"lowconf");
    if (routing.startsWith(u"lowconf:"))
        p.confidenceThreshold = routing.mid(8).toDouble();
    return p;
}

// ---------------------------------------------------------------- spec

const ExperimentArm* ExperimentSpec::arm(const QString& name) const
{
    for (const ExperimentArm& a : arms)
        if (a.name == name)
            return &a;
    return nullptr;
}

ExperimentSpec ExperimentSpec::fromFile(const QString& fileName)
{
    QFile f(fileName);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: %2").arg(fileName, f.errorString()));
    return fromJson(f.readAll(), fileName);
}

ExperimentSpec ExperimentSpec::fromJson(const QByteArray& json, const QString& fileName)
{
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError) {
        const int line = static_cast<int>(json.left(pe.offset).count('\n')) + 1;
        throw Error(QStringLiteral("%1:%2: not valid JSON: %3").arg(fileName).arg(line).arg(pe.errorString()));
    }
    if (!doc.isObject())
        throw Error(QStringLiteral("%1: an experiment file is one JSON object").arg(fileName));
    const QJsonObject o = doc.object();
    const auto where = [&](const QString& key) { return QStringLiteral("%1: %2").arg(fileName, key); };
    for (auto it = o.begin(); it != o.end(); ++it)
        if (!kSpecKeys.contains(it.key()))
            throw Error(QStringLiteral("%1: unknown key '%2' (keys: %3)")
                            .arg(fileName, it.key(), kSpecKeys.join(QStringLiteral(", "))));
    ExperimentSpec s;
    if (!o.value(u"name").isString() || o.value(u"name").toString().trimmed().isEmpty())
        throw Error(QStringLiteral("%1 is required: a non-empty string").arg(where(QStringLiteral("name"))));
    s.name = o.value(u"name").toString().trimmed();
    if (o.contains(u"split")) {
        if (!o.value(u"split").isString())
            throw Error(QStringLiteral("%1 must be a string (loo, ratio, strat75, cold@N)")
                            .arg(where(QStringLiteral("split"))));
        try {
            s.split = eval::SplitSpec::parse(o.value(u"split").toString()).name();
        } catch (const Error& e) {
            throw Error(QStringLiteral("%1: %2").arg(where(QStringLiteral("split")), e.message()));
        }
    }
    if (o.contains(u"seed"))
        s.seed = static_cast<quint64>(wholeNumber(o.value(u"seed"), where(QStringLiteral("seed")), 0, 2'000'000'000));
    s.cohort = CohortSpec::fromJson(o.value(u"cohort"), where(QStringLiteral("cohort")));
    if (o.contains(u"k")) {
        const QJsonValue kv = o.value(u"k");
        s.ks.clear();
        if (kv.isArray()) {
            for (const QJsonValue& v : kv.toArray())
                s.ks.push_back(wholeNumber(v, where(QStringLiteral("k")), 1, 200));
        } else
            s.ks.push_back(wholeNumber(kv, where(QStringLiteral("k")), 1, 200));
        if (s.ks.empty())
            throw Error(QStringLiteral("%1 needs at least one K").arg(where(QStringLiteral("k"))));
        std::sort(s.ks.begin(), s.ks.end());
        s.ks.erase(std::unique(s.ks.begin(), s.ks.end()), s.ks.end());
    }
    if (o.contains(u"repeats"))
        s.repeats = wholeNumber(o.value(u"repeats"), where(QStringLiteral("repeats")), 1, kMaxRepeats);
    if (o.contains(u"cold_threshold"))
        s.coldThreshold = wholeNumber(o.value(u"cold_threshold"), where(QStringLiteral("cold_threshold")), 1, 1000);
    if (o.contains(u"chunk"))
        s.chunkSize = wholeNumber(o.value(u"chunk"), where(QStringLiteral("chunk")), 1, 1000);
    if (o.contains(u"shard")) {
        try {
            const Shard shard = parseShard(o.value(u"shard").toString());
            s.shard = QStringLiteral("%1/%2").arg(shard.index).arg(shard.count);
        } catch (const Error& e) {
            throw Error(QStringLiteral("%1: %2").arg(where(QStringLiteral("shard")), e.message()));
        }
    }
    if (o.contains(u"max_cost") && !o.value(u"max_cost").isNull()) {
        const double c = o.value(u"max_cost").toDouble(-1);
        if (!o.value(u"max_cost").isDouble() || !std::isfinite(c) || c < 0)
            throw Error(QStringLiteral("%1 must be an amount in USD >= 0").arg(where(QStringLiteral("max_cost"))));
        s.maxCostUsd = c;
    }
    // Arms, in file order (QJsonObject sorts its keys, so the order is read from the text).
    const QJsonValue armsValue = o.value(u"arms");
    if (!armsValue.isObject() || armsValue.toObject().isEmpty())
        throw Error(QStringLiteral("%1 is required: an object of NAME: \"arm spec\" (e.g. {\"A\": \"cf=ease\"})")
                        .arg(where(QStringLiteral("arms"))));
    const QJsonObject arms = armsValue.toObject();
    QStringList order;
    if (o.value(u"arm_order").isArray()) { // a stored spec (toJson)
        for (const QJsonValue& v : o.value(u"arm_order").toArray())
            order << v.toString();
    } else
        order = armKeysInOrder(json);
    if (order.size() != arms.size()
        || !std::all_of(order.begin(), order.end(), [&](const QString& k) { return arms.contains(k); }))
        order = arms.keys();
    for (const QString& name : order) {
        const QJsonValue v = arms.value(name);
        if (name.trimmed().isEmpty() || name.contains(u'(') || name.contains(u')') || name.contains(u',')
            || name.contains(u' '))
            throw Error(QStringLiteral("%1: '%2' is not an arm name (no spaces, commas or brackets)")
                            .arg(where(QStringLiteral("arms")), name));
        if (!v.isString())
            throw Error(QStringLiteral("%1: arm '%2' must be an arm spec string (e.g. \"cf=ease,rerank=offline\")")
                            .arg(where(QStringLiteral("arms")), name));
        s.arms.push_back(ExperimentArm::parse(name, v.toString(), s.repeats, s.ks, where(QStringLiteral("arms"))));
    }
    const QJsonValue as = o.value(u"assert");
    if (!as.isUndefined() && !as.isNull()) {
        const QJsonArray list = as.isString() ? QJsonArray { as } : as.toArray();
        if (!as.isString() && !as.isArray())
            throw Error(QStringLiteral("%1 must be an array of strings").arg(where(QStringLiteral("assert"))));
        for (const QJsonValue& v : list) {
            if (!v.isString())
                throw Error(QStringLiteral("%1 must be an array of strings").arg(where(QStringLiteral("assert"))));
            s.asserts << v.toString().trimmed();
        }
    }
    for (const QString& a : s.asserts) {
        try {
            Assertion::parse(a, &s);
        } catch (const Error& e) {
            throw Error(QStringLiteral("%1: %2").arg(where(QStringLiteral("assert")), e.message()));
        }
    }
    return s;
}

QJsonObject ExperimentSpec::toJson() const
{
    QJsonObject armsObject;
    // QJsonObject keeps keys sorted; the order is kept in "arm_order" so a stored spec
    // reopens with the arms in file order.
    QJsonArray order;
    for (const ExperimentArm& a : this->arms) {
        armsObject.insert(a.name, a.toString());
        order.append(a.name);
    }
    QJsonArray k;
    for (const int v : ks)
        k.append(v);
    QJsonObject o { { QStringLiteral("name"), name }, { QStringLiteral("split"), split },
        { QStringLiteral("seed"), static_cast<qint64>(seed) }, { QStringLiteral("cohort"), cohort.toJson() },
        { QStringLiteral("k"), k }, { QStringLiteral("arms"), armsObject },
        { QStringLiteral("assert"), QJsonArray::fromStringList(asserts) } };
    if (maxCostUsd)
        o.insert(QStringLiteral("max_cost"), *maxCostUsd);
    if (repeats != 1)
        o.insert(QStringLiteral("repeats"), repeats);
    if (coldThreshold != kDefaultColdThreshold)
        o.insert(QStringLiteral("cold_threshold"), coldThreshold);
    if (chunkSize != ExperimentSpec {}.chunkSize)
        o.insert(QStringLiteral("chunk"), chunkSize);
    if (!shard.isEmpty())
        o.insert(QStringLiteral("shard"), shard);
    o.insert(QStringLiteral("arm_order"), order);
    return o;
}

// ---------------------------------------------------------------- assertions

Assertion Assertion::parse(const QString& textIn, const ExperimentSpec* spec)
{
    const QString text = textIn.trimmed();
    static const QRegularExpression paired(QStringLiteral(
        R"(^(ci_low|ci_high|mean_diff|p_value)\s*\(\s*([A-Za-z0-9_@.]+)\s*,\s*([^\s(),]+)\s*-\s*([^\s(),]+)\s*\)\s*(>=|<=|==|!=|>|<)\s*(\S+)$)"));
    static const QRegularExpression armFigure(
        QStringLiteral(R"(^([A-Za-z0-9_@.]+)\s*\(\s*([^\s(),]+)\s*\)\s*(>=|<=|==|!=|>|<)\s*(.+)$)"));
    static const QRegularExpression rightFigure(QStringLiteral(R"(^([A-Za-z0-9_@.]+)\s*\(\s*([^\s(),]+)\s*\)$)"));
    const QString grammar = QStringLiteral(
        "expected METRIC(ARM) OP NUMBER, METRIC(ARM) OP METRIC(ARM) or ci_low(METRIC, B - A) OP NUMBER "
        "(also ci_high, mean_diff, p_value; OP one of >=, <=, >, <, ==, !=)");
    const auto number = [&](const QString& s) {
        bool ok = false;
        const double d = s.trimmed().toDouble(&ok);
        if (!ok || !std::isfinite(d))
            throw Error(QStringLiteral("assertion '%1': '%2' is not a number; %3").arg(text, s.trimmed(), grammar));
        return d;
    };
    Assertion a;
    a.text = text;
    if (text.isEmpty())
        throw Error(QStringLiteral("assertion '': empty; %1").arg(grammar));
    if (const auto m = paired.match(text); m.hasMatch()) {
        a.kind = Kind::Paired;
        a.pairedFn = m.captured(1);
        a.metric = m.captured(2);
        a.arm = m.captured(3);
        a.rightArm = m.captured(4);
        a.op = m.captured(5);
        a.number = number(m.captured(6));
        try {
            const auto [metric, k] = eval::parseMetricAtK(a.metric);
            if (spec && std::find(spec->ks.begin(), spec->ks.end(), k) == spec->ks.end())
                throw Error(QStringLiteral("K = %1 is not in the file's \"k\"").arg(k));
        } catch (const Error& e) {
            throw Error(
                QStringLiteral("assertion '%1': '%2' is not a per-user metric@K: %3").arg(text, a.metric, e.message()));
        }
        if (a.arm == a.rightArm)
            throw Error(QStringLiteral("assertion '%1': compares arm '%2' with itself").arg(text, a.arm));
        checkArm(text, a.arm, spec);
        checkArm(text, a.rightArm, spec);
        return a;
    }
    const auto m = armFigure.match(text);
    if (!m.hasMatch())
        throw Error(QStringLiteral("assertion '%1': %2").arg(text, grammar));
    a.metric = m.captured(1);
    a.arm = m.captured(2);
    a.op = m.captured(3);
    const QString right = m.captured(4).trimmed();
    checkArmMetric(text, a.metric, spec);
    checkArm(text, a.arm, spec);
    if (const auto r = rightFigure.match(right); r.hasMatch()) {
        a.kind = Kind::CompareArms;
        a.rightMetric = r.captured(1);
        a.rightArm = r.captured(2);
        checkArmMetric(text, a.rightMetric, spec);
        checkArm(text, a.rightArm, spec);
    } else {
        a.kind = Kind::Compare;
        a.number = number(right);
    }
    return a;
}

QJsonObject AssertionResult::toJson() const
{
    return { { QStringLiteral("text"), text }, { QStringLiteral("passed"), passed },
        { QStringLiteral("value"), std::isfinite(value) ? QJsonValue(value) : QJsonValue() },
        { QStringLiteral("detail"), detail } };
}

} // namespace recwb::pipeline
