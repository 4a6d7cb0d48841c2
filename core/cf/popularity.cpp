#include "cf/models.h"
#include "cf/params.h"
#include "cf/serialize.h"

namespace recwb::cf {

Popularity::Popularity(const QJsonObject& params)
{
    ParamReader(QStringLiteral("pop"), params).finish();
}

void Popularity::fit(const Csr& userItems, const TaskControl& control)
{
    m_numItems = userItems.numCols;
    m_counts.assign(static_cast<size_t>(m_numItems), 0.0f);
    for (const int32_t i : userItems.indices)
        m_counts[static_cast<size_t>(i)] += 1.0f;
    control.progress(1.0, QStringLiteral("Counted"));
}

void Popularity::score(const History&, std::span<float> out) const
{
    std::copy(m_counts.begin(), m_counts.end(), out.begin());
}

QByteArray Popularity::save() const
{
    QByteArray buf;
    QDataStream s(&buf, QIODevice::WriteOnly);
    io::writeHeader(s, "pop", 1);
    io::writeVector(s, m_counts);
    return buf;
}

void Popularity::restore(const QByteArray& payload)
{
    QDataStream s(payload);
    io::readHeader(s, "pop", 1);
    io::readVector(s, m_counts);
    m_numItems = static_cast<int32_t>(m_counts.size());
}

} // namespace recwb::cf
