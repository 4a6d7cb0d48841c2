#include "rerank/prices.h"

#include "util/error.h"

#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QUrl>

#include <algorithm>

static void initPriceResources()
{
    Q_INIT_RESOURCE(prompts);
}

namespace recwb::rerank {

namespace {

std::optional<double> priceField(const QJsonObject& o, const QString& key, const QString& where)
{
    const QJsonValue v = o.value(key);
    if (v.isUndefined() || v.isNull())
        return std::nullopt;
    if (!v.isDouble() || v.toDouble() < 0)
        throw Error(QStringLiteral("%1: \"%2\" must be a number >= 0 or null").arg(where, key));
    return v.toDouble();
}

bool isLoopback(const QString& baseUrl)
{
    const QString host = QUrl(baseUrl).host();
    if (host.compare(QStringLiteral("localhost"), Qt::CaseInsensitive) == 0)
        return true;
    const QHostAddress a(host);
    return !a.isNull() && a.isLoopback();
}

bool anyPrice(const Prices& p)
{
    return p.input || p.cachedInput || p.cacheWrite || p.output;
}

// "line L, column C" of a byte offset into UTF-8 text (1-based).
QString lineColumn(const QByteArray& text, qsizetype offset)
{
    offset = std::clamp<qsizetype>(offset, 0, text.size());
    const QByteArray before = text.left(offset);
    const qsizetype line = before.count('\n') + 1;
    const qsizetype column = QString::fromUtf8(before.mid(before.lastIndexOf('\n') + 1)).size() + 1;
    return QStringLiteral("line %1, column %2").arg(line).arg(column);
}

} // namespace

PriceTable PriceTable::builtin()
{
    static const PriceTable table = [] {
        initPriceResources();
        QFile f(QStringLiteral(":/recwb/prices.json"));
        if (!f.open(QIODevice::ReadOnly))
            throw Error(QStringLiteral(":/recwb/prices.json: the shipped price table is missing"));
        PriceTable t = fromJson(f.readAll(), f.fileName());
        for (PriceRow& r : t.m_rows)
            r.source = kShippedPriceSource;
        return t;
    }();
    return table;
}

PriceOverrideLocation priceOverrideLocation()
{
    const QString env = qEnvironmentVariable("RECWB_PRICES");
    if (!env.isEmpty())
        return { QFileInfo(env).absoluteFilePath(), true };
    const QString config = QStandardPaths::writableLocation(QStandardPaths::GenericConfigLocation);
    return { config.isEmpty() ? QString() : config + QStringLiteral("/recwb/prices.json"), false };
}

PriceTable PriceTable::loadWithOverride()
{
    const PriceOverrideLocation where = priceOverrideLocation();
    if (where.fromEnvironment && !QFileInfo::exists(where.path))
        throw Error(QStringLiteral("%1: no such price file (named by RECWB_PRICES)").arg(where.path));
    return load(where.path);
}

PriceTable PriceTable::load(const QString& userFile)
{
    PriceTable t = builtin();
    if (userFile.isEmpty() || !QFileInfo::exists(userFile))
        return t;
    QFile f(userFile);
    if (!f.open(QIODevice::ReadOnly))
        throw Error(QStringLiteral("%1: cannot read: %2").arg(userFile, f.errorString()));
    t.overrideWith(fromJson(f.readAll(), userFile));
    return t;
}

PriceTable PriceTable::fromJson(const QByteArray& json, const QString& source)
{
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError)
        throw Error(QStringLiteral("%1: not JSON at %2 (offset %3): %4")
                .arg(source, lineColumn(json, err.offset))
                .arg(err.offset)
                .arg(err.errorString()));
    const QJsonValue rows = doc.object().value(QStringLiteral("rows"));
    if (!rows.isArray())
        throw Error(QStringLiteral("%1: expected an object with a \"rows\" array").arg(source));
    PriceTable t;
    int n = 0;
    for (const QJsonValue& v : rows.toArray()) {
        ++n;
        const QString where = QStringLiteral("%1: row %2").arg(source).arg(n);
        if (!v.isObject())
            throw Error(where + QStringLiteral(": not an object"));
        const QJsonObject o = v.toObject();
        PriceRow r;
        r.provider = o.value(QStringLiteral("provider")).toString().toLower();
        r.model = o.value(QStringLiteral("model")).toString();
        if (r.provider.isEmpty())
            throw Error(where + QStringLiteral(": \"provider\" is required"));
        r.prices.input = priceField(o, QStringLiteral("input"), where);
        r.prices.cachedInput = priceField(o, QStringLiteral("cached_input"), where);
        r.prices.cacheWrite = priceField(o, QStringLiteral("cache_write"), where);
        r.prices.output = priceField(o, QStringLiteral("output"), where);
        r.prices.asOf = o.value(QStringLiteral("as_of")).toString();
        r.note = o.value(QStringLiteral("note")).toString();
        r.source = source;
        t.m_rows.append(r);
    }
    return t;
}

void PriceTable::overrideWith(const PriceTable& other)
{
    for (const PriceRow& r : other.m_rows) {
        auto it = std::find_if(m_rows.begin(), m_rows.end(),
            [&](const PriceRow& x) { return x.provider == r.provider && x.model == r.model; });
        if (it != m_rows.end())
            *it = r;
        else
            m_rows.append(r);
    }
}

std::optional<PriceRow> PriceTable::lookup(const QString& provider, const QString& model) const
{
    const QString p = provider.toLower();
    QString m = model;
    if (m.startsWith(u"models/"))
        m = m.mid(7);
    const PriceRow* best = nullptr;
    for (const PriceRow& r : m_rows) {
        if (r.provider != p)
            continue;
        if (r.model.compare(m, Qt::CaseInsensitive) == 0)
            return r;
        if (m.startsWith(r.model, Qt::CaseInsensitive) && (!best || r.model.size() > best->model.size()))
            best = &r;
    }
    return best ? std::optional<PriceRow>(*best) : std::nullopt;
}

QString priceProvider(const EndpointProfile& e)
{
    switch (e.kind) {
    case ProviderKind::Anthropic:
        return QStringLiteral("anthropic");
    case ProviderKind::Gemini:
        return QStringLiteral("gemini");
    case ProviderKind::OllamaNative:
    case ProviderKind::Offline:
        return QStringLiteral("local");
    case ProviderKind::OpenAiChat:
        break;
    }
    if (isLoopback(e.baseUrl))
        return QStringLiteral("local");
    const QString host = QUrl(e.baseUrl).host().toLower();
    for (const char16_t* known : { u"groq", u"together", u"fireworks", u"openrouter" })
        if (host.contains(QString::fromUtf16(known)))
            return QString::fromUtf16(known);
    return QStringLiteral("openai");
}

std::optional<Prices> PriceTable::pricesFor(const EndpointProfile& endpoint) const
{
    return choose(endpoint).prices;
}

PriceChoice PriceTable::choose(const EndpointProfile& endpoint) const
{
    PriceChoice c;
    c.provider = priceProvider(endpoint);
    if (anyPrice(endpoint.prices)) {
        c.prices = endpoint.prices;
        c.source = QStringLiteral("endpoint");
        c.model = endpoint.model;
        return c;
    }
    if (const auto row = lookup(c.provider, endpoint.model)) {
        c.prices = row->prices;
        c.source = row->source;
        c.model = row->model;
        c.note = row->note;
    }
    return c;
}

Usage& operator+=(Usage& a, const Usage& b)
{
    a.inputTokens += b.inputTokens;
    a.cachedInputTokens += b.cachedInputTokens;
    a.cacheWriteTokens += b.cacheWriteTokens;
    a.outputTokens += b.outputTokens;
    a.reasoningTokens += b.reasoningTokens;
    return a;
}

void CostTotals::add(const Usage& u, const std::optional<double>& cost)
{
    usage += u;
    ++calls;
    if (cost)
        knownUsd += *cost;
    else
        ++unpricedCalls;
}

} // namespace recwb::rerank
