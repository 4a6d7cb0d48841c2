#include "cf/models.h"
#include "cf/params.h"
#include "cf/serialize.h"
#include "util/parallel.h"

#include <algorithm>
#include <cmath>

namespace recwb::cf {

ItemKnn::ItemKnn(const QJsonObject& params)
{
    ParamReader p(QStringLiteral("itemknn"), params);
    m_k = std::max(1, p.integer(QStringLiteral("k"), m_k));
    m_shrink = std::max(0.0, p.number(QStringLiteral("shrink"), m_shrink));
    p.finish();
}

QJsonObject ItemKnn::params() const
{
    return { { QStringLiteral("k"), m_k }, { QStringLiteral("shrink"), m_shrink } };
}

void ItemKnn::fit(const Csr& userItems, const TaskControl& control)
{
    m_numItems = userItems.numCols;
    const Csr itemUsers = userItems.transposed();
    const int32_t n = m_numItems;
    std::vector<std::vector<std::pair<int32_t, float>>> rows(static_cast<size_t>(n));
    std::atomic<int64_t> done { 0 };
    parallelForDynamic(n, 64, [&](int64_t begin, int64_t end) {
        std::vector<float> co(static_cast<size_t>(n), 0.0f);
        std::vector<int32_t> touched;
        for (int64_t i = begin; i < end; ++i) {
            if (control.canceled())
                return;
            touched.clear();
            for (const int32_t u : itemUsers.row(static_cast<int32_t>(i)))
                for (const int32_t j : userItems.row(u)) {
                    if (co[static_cast<size_t>(j)] == 0.0f)
                        touched.push_back(j);
                    co[static_cast<size_t>(j)] += 1.0f;
                }
            const double ni = itemUsers.rowLength(static_cast<int32_t>(i));
            auto& row = rows[static_cast<size_t>(i)];
            row.reserve(touched.size());
            for (const int32_t j : touched) {
                if (j != i) {
                    const double nj = itemUsers.rowLength(j);
                    row.emplace_back(j, static_cast<float>(co[static_cast<size_t>(j)] / (std::sqrt(ni * nj) + m_shrink)));
                }
                co[static_cast<size_t>(j)] = 0.0f;
            }
            const auto byScore = [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); };
            if (static_cast<int>(row.size()) > m_k) {
                std::nth_element(row.begin(), row.begin() + m_k, row.end(), byScore);
                row.resize(static_cast<size_t>(m_k));
            }
            std::sort(row.begin(), row.end());
            const int64_t d = ++done;
            if ((d & 255) == 0)
                control.progress(static_cast<double>(d) / n, QStringLiteral("Item similarities"));
        }
    });
    control.throwIfCanceled();
    CsrBuilder b(n, n, false);
    for (int32_t i = 0; i < n; ++i)
        for (const auto& [j, s] : rows[static_cast<size_t>(i)])
            b.add(i, j, s);
    m_sim = b.finish();
    control.progress(1.0, QStringLiteral("Item-kNN ready"));
}

void ItemKnn::score(const History& history, std::span<float> out) const
{
    std::fill(out.begin(), out.end(), 0.0f);
    for (const int32_t i : history.items) {
        const auto cols = m_sim.row(i);
        const auto sims = m_sim.rowValues(i);
        for (size_t k = 0; k < cols.size(); ++k)
            out[static_cast<size_t>(cols[k])] += sims[k];
    }
}

QByteArray ItemKnn::save() const
{
    QByteArray buf;
    QDataStream s(&buf, QIODevice::WriteOnly);
    io::writeHeader(s, "itemknn", 1);
    s << m_k << m_shrink;
    io::writeCsr(s, m_sim);
    return buf;
}

void ItemKnn::restore(const QByteArray& payload)
{
    QDataStream s(payload);
    io::readHeader(s, "itemknn", 1);
    s >> m_k >> m_shrink;
    io::readCsr(s, m_sim);
    m_numItems = m_sim.numRows;
}

} // namespace recwb::cf
