#include "coldstart/coldstart.h"

#include "cf/params.h"

#include <QSet>
#include <algorithm>

namespace recwb::coldstart {

QString sourceName(Source s)
{
    switch (s) {
    case Source::Cf:
        return QStringLiteral("cf");
    case Source::Content:
        return QStringLiteral("content");
    case Source::Profile:
        return QStringLiteral("profile");
    case Source::Category:
        return QStringLiteral("category");
    case Source::Popularity:
        return QStringLiteral("popularity");
    }
    return {};
}

QJsonObject ColdStartConfig::toJson() const
{
    return { { QStringLiteral("threshold"), threshold }, { QStringLiteral("cf"), cfWeight },
        { QStringLiteral("content"), contentWeight }, { QStringLiteral("profile"), profileWeight },
        { QStringLiteral("category"), categoryWeight }, { QStringLiteral("popularity"), popularityWeight },
        { QStringLiteral("profile_attributes"), profileAttributes.join(u',') },
        { QStringLiteral("cf_model"), cfModel } };
}

ColdStartConfig ColdStartConfig::fromJson(const QJsonObject& o)
{
    ColdStartConfig c;
    cf::ParamReader p(QStringLiteral("coldstart"), o);
    c.threshold = p.integer(QStringLiteral("threshold"), c.threshold);
    c.cfWeight = p.number(QStringLiteral("cf"), c.cfWeight);
    c.contentWeight = p.number(QStringLiteral("content"), c.contentWeight);
    c.profileWeight = p.number(QStringLiteral("profile"), c.profileWeight);
    c.categoryWeight = p.number(QStringLiteral("category"), c.categoryWeight);
    c.popularityWeight = p.number(QStringLiteral("popularity"), c.popularityWeight);
    c.cfModel = p.text(QStringLiteral("cf_model"), c.cfModel);
    const QString attrs = p.text(QStringLiteral("profile_attributes"), {});
    if (!attrs.isEmpty())
        c.profileAttributes = attrs.split(u',', Qt::SkipEmptyParts);
    p.finish();
    return c;
}

ColdStartRecommender::ColdStartRecommender(ColdStartConfig config)
    : m_config(std::move(config))
{
}

QString ColdStartRecommender::segmentValue(const QString& attribute, const QJsonValue& value)
{
    if (attribute == u"age") {
        const int age = value.isDouble() ? value.toInt() : value.toString().toInt();
        if (age <= 0)
            return {};
        // The MovieLens 1M bands.
        static constexpr int bands[] = { 18, 25, 35, 45, 50, 56 };
        int lo = 0;
        for (const int b : bands) {
            if (age < b)
                return QStringLiteral("%1-%2").arg(lo).arg(b - 1);
            lo = b;
        }
        return QStringLiteral("56+");
    }
    if (value.isDouble())
        return QString::number(value.toDouble());
    return value.toString().trimmed().toLower();
}

void ColdStartRecommender::fit(const Dataset& ds, const Csr& train, std::shared_ptr<const cf::Recommender> cf,
    const TaskControl& control)
{
    m_cf = std::move(cf);
    m_numItems = ds.numItems();
    control.progress(0.0, QStringLiteral("Content index"));
    m_content.build(ds);
    control.throwIfCanceled();
    m_popularity.assign(static_cast<size_t>(m_numItems), 0.0f);
    for (const int32_t i : train.indices)
        m_popularity[static_cast<size_t>(i)] += 1.0f;

    // Which attributes segment users: those asked for, or every attribute with a small
    // number of distinct values (age is banded first).
    m_attributes = m_config.profileAttributes;
    if (m_attributes.isEmpty()) {
        QHash<QString, QSet<QString>> values;
        for (const User& u : ds.users)
            for (auto it = u.attributes.begin(); it != u.attributes.end(); ++it)
                values[it.key()].insert(segmentValue(it.key(), it.value()));
        for (auto it = values.cbegin(); it != values.cend(); ++it)
            if (it.value().size() >= 2 && it.value().size() <= 64)
                m_attributes << it.key();
        m_attributes.sort();
    }
    m_segments.clear();
    for (int32_t u = 0; u < ds.numUsers() && u < train.numRows; ++u) {
        const User& user = ds.users[static_cast<size_t>(u)];
        for (const QString& a : m_attributes) {
            const QString v = segmentValue(a, user.attributes.value(a));
            if (v.isEmpty())
                continue;
            Segment& s = m_segments[a + u'=' + v];
            if (s.share.empty())
                s.share.assign(static_cast<size_t>(m_numItems), 0.0f);
            ++s.users;
            for (const int32_t i : train.row(u))
                s.share[static_cast<size_t>(i)] += 1.0f;
        }
    }
    for (auto& s : m_segments)
        for (float& x : s.share)
            x /= static_cast<float>(std::max(1, s.users));
    m_categoryItems.assign(static_cast<size_t>(ds.categories.size()), {});
    for (int32_t i = 0; i < m_numItems; ++i)
        for (const int32_t c : ds.items[static_cast<size_t>(i)].categories)
            m_categoryItems[static_cast<size_t>(c)].push_back(i);
    control.progress(1.0, QStringLiteral("Cold-start ready"));
}

ColdUser ColdStartRecommender::userFromDataset(const Dataset& ds, const Csr& train, int32_t user) const
{
    ColdUser cu;
    cu.history = cf::History::ofUser(train, user);
    cu.profile = ds.users[static_cast<size_t>(user)].attributes;
    return cu;
}

namespace {

// Scales to [0, 1] by the maximum; returns false when there is nothing positive.
bool normalise(std::vector<float>& v)
{
    const float mx = v.empty() ? 0.0f : *std::max_element(v.begin(), v.end());
    if (!(mx > 0))
        return false;
    const float inv = 1.0f / mx;
    for (float& x : v)
        x = std::max(0.0f, x * inv);
    return true;
}

} // namespace

std::vector<ColdCandidate> ColdStartRecommender::recommend(const ColdUser& user, int n) const
{
    const auto items = static_cast<size_t>(m_numItems);
    std::array<std::vector<float>, kSourceCount> parts;
    std::array<double, kSourceCount> weights {};
    const bool hasHistory = !user.history.items.empty();

    if (hasHistory && m_cf && m_config.cfWeight > 0) {
        auto& v = parts[static_cast<size_t>(Source::Cf)];
        v.resize(items);
        m_cf->score(user.history, v);
        if (normalise(v))
            weights[static_cast<size_t>(Source::Cf)] = m_config.cfWeight;
    }
    if (hasHistory && m_config.contentWeight > 0) {
        auto& v = parts[static_cast<size_t>(Source::Content)];
        v.resize(items);
        m_content.similarity(user.history.items, v);
        if (normalise(v))
            weights[static_cast<size_t>(Source::Content)] = m_config.contentWeight;
    }
    if (m_config.profileWeight > 0) {
        auto& v = parts[static_cast<size_t>(Source::Profile)];
        v.assign(items, 0.0f);
        int used = 0;
        for (const QString& a : m_attributes) {
            const QString value = segmentValue(a, user.profile.value(a));
            const auto it = m_segments.constFind(a + u'=' + value);
            if (value.isEmpty() || it == m_segments.cend() || it->users < 5)
                continue;
            for (size_t i = 0; i < items; ++i)
                v[i] += it->share[i];
            ++used;
        }
        if (used > 0 && normalise(v))
            weights[static_cast<size_t>(Source::Profile)] = m_config.profileWeight;
    }
    if (!user.statedCategories.empty() && m_config.categoryWeight > 0) {
        auto& v = parts[static_cast<size_t>(Source::Category)];
        v.assign(items, 0.0f);
        for (const int32_t c : user.statedCategories)
            if (c >= 0 && static_cast<size_t>(c) < m_categoryItems.size())
                for (const int32_t i : m_categoryItems[static_cast<size_t>(c)])
                    v[static_cast<size_t>(i)] = m_popularity[static_cast<size_t>(i)] + 1.0f;
        if (normalise(v))
            weights[static_cast<size_t>(Source::Category)] = m_config.categoryWeight;
    }
    {
        auto& v = parts[static_cast<size_t>(Source::Popularity)];
        v = m_popularity;
        // Popularity always answers, so it is the fallback even with weight 0.
        const bool any = std::any_of(weights.begin(), weights.end(), [](double w) { return w > 0; });
        if (normalise(v))
            weights[static_cast<size_t>(Source::Popularity)] = any ? m_config.popularityWeight : 1.0;
    }

    std::vector<float> total(items, 0.0f);
    for (int s = 0; s < kSourceCount; ++s)
        if (weights[static_cast<size_t>(s)] > 0)
            for (size_t i = 0; i < items; ++i)
                total[i] += static_cast<float>(weights[static_cast<size_t>(s)]) * parts[static_cast<size_t>(s)][i];
    std::vector<int32_t> exclude(user.history.items.begin(), user.history.items.end());
    std::sort(exclude.begin(), exclude.end());
    const auto top = cf::topN(total, n, exclude);
    std::vector<ColdCandidate> out;
    out.reserve(top.size());
    for (const auto& t : top) {
        ColdCandidate c;
        c.item = t.item;
        c.score = t.score;
        float best = -1;
        for (int s = 0; s < kSourceCount; ++s) {
            const float share = weights[static_cast<size_t>(s)] > 0
                ? static_cast<float>(weights[static_cast<size_t>(s)]) * parts[static_cast<size_t>(s)][static_cast<size_t>(t.item)]
                : 0.0f;
            c.parts[static_cast<size_t>(s)] = share;
            if (share > best) {
                best = share;
                c.source = static_cast<Source>(s);
            }
        }
        out.push_back(c);
    }
    return out;
}

} // namespace recwb::coldstart
