#include "cf/models.h"
#include "cf/params.h"
#include "cf/serialize.h"
#include "util/random.h"

#include <cmath>

namespace recwb::cf {

Bpr::Bpr(const QJsonObject& params)
{
    ParamReader p(QStringLiteral("bpr"), params);
    m_factors = std::max(1, p.integer(QStringLiteral("factors"), m_factors));
    m_lr = static_cast<float>(p.number(QStringLiteral("lr"), m_lr));
    m_reg = static_cast<float>(p.number(QStringLiteral("reg"), m_reg));
    m_epochs = std::max(1, p.integer(QStringLiteral("epochs"), m_epochs));
    m_foldInEpochs = std::max(1, p.integer(QStringLiteral("fold_in_epochs"), m_foldInEpochs));
    m_seed = static_cast<quint64>(p.number(QStringLiteral("seed"), static_cast<double>(m_seed)));
    m_annParam = p.text(QStringLiteral("ann"), m_annParam);
    p.finish();
    m_ann.setPolicy(AnnPolicy::fromParam(QStringLiteral("bpr"), m_annParam));
}

QJsonObject Bpr::params() const
{
    QJsonObject o { { QStringLiteral("factors"), m_factors }, { QStringLiteral("lr"), m_lr },
        { QStringLiteral("reg"), m_reg }, { QStringLiteral("epochs"), m_epochs },
        { QStringLiteral("fold_in_epochs"), m_foldInEpochs }, { QStringLiteral("seed"), static_cast<double>(m_seed) } };
    if (m_annParam != u"auto") // retrieval, not the model: absent by default so older params compare equal
        o.insert(QStringLiteral("ann"), m_annParam);
    return o;
}

namespace {

inline float sigmoid(float x)
{
    return 1.0f / (1.0f + std::exp(-x));
}

// Draws an item the row does not contain (rejection sampling; rows are sorted).
inline int32_t sampleNegative(Rng& rng, std::span<const int32_t> row, int32_t numItems)
{
    for (int attempt = 0; attempt < 64; ++attempt) {
        const auto j = static_cast<int32_t>(rng.below(static_cast<uint64_t>(numItems)));
        if (!std::binary_search(row.begin(), row.end(), j))
            return j;
    }
    return -1;
}

} // namespace

void Bpr::fit(const Csr& userItems, const TaskControl& control)
{
    m_ann.reset();
    m_numItems = userItems.numCols;
    m_itemHalf = {};
    Rng rng(m_seed);
    m_user.resize(userItems.numRows, m_factors);
    m_item.resize(userItems.numCols, m_factors);
    m_bias = Eigen::VectorXf::Zero(userItems.numCols);
    const float init = 0.1f / std::sqrt(static_cast<float>(m_factors));
    for (Eigen::Index i = 0; i < m_user.size(); ++i)
        m_user.data()[i] = static_cast<float>(rng.normal()) * init;
    for (Eigen::Index i = 0; i < m_item.size(); ++i)
        m_item.data()[i] = static_cast<float>(rng.normal()) * init;
    const int64_t nnz = userItems.nnz();
    if (nnz == 0)
        return;
    // Sample a positive interaction uniformly, so every (user, item) pair counts alike.
    std::vector<int32_t> rowOf(static_cast<size_t>(nnz));
    for (int32_t u = 0; u < userItems.numRows; ++u)
        for (int64_t k = userItems.offsets[u]; k < userItems.offsets[u + 1]; ++k)
            rowOf[static_cast<size_t>(k)] = u;
    Eigen::RowVectorXf wu(m_factors);
    for (int epoch = 0; epoch < m_epochs; ++epoch) {
        for (int64_t s = 0; s < nnz; ++s) {
            const auto k = static_cast<int64_t>(rng.below(static_cast<uint64_t>(nnz)));
            const int32_t u = rowOf[static_cast<size_t>(k)];
            const int32_t i = userItems.indices[static_cast<size_t>(k)];
            const int32_t j = sampleNegative(rng, userItems.row(u), m_numItems);
            if (j < 0)
                continue;
            auto pu = m_user.row(u);
            auto qi = m_item.row(i);
            auto qj = m_item.row(j);
            const float x = pu.dot(qi - qj) + m_bias(i) - m_bias(j);
            const float g = 1.0f - sigmoid(x); // d ln sigma(x) / dx
            wu = pu;
            pu += m_lr * (g * (qi - qj) - m_reg * pu);
            qi += m_lr * (g * wu - m_reg * qi);
            qj += m_lr * (-g * wu - m_reg * qj);
            m_bias(i) += m_lr * (g - m_reg * m_bias(i));
            m_bias(j) += m_lr * (-g - m_reg * m_bias(j));
        }
        control.throwIfCanceled();
        control.progress(static_cast<double>(epoch + 1) / m_epochs, QStringLiteral("BPR epoch %1").arg(epoch + 1));
    }
    m_itemHalf = HalfFactors(m_item);
}

Eigen::VectorXf Bpr::foldIn(const History& history) const
{
    // SGD on the user vector alone, item factors fixed; seeded by the history so the
    // same history always gives the same vector.
    Eigen::VectorXf pu = Eigen::VectorXf::Zero(m_factors);
    if (history.items.empty())
        return pu;
    uint64_t seed = m_seed;
    for (const int32_t i : history.items)
        seed = seed * 1099511628211ULL + static_cast<uint64_t>(i);
    Rng rng(seed);
    const auto n = static_cast<int64_t>(history.items.size());
    for (int epoch = 0; epoch < m_foldInEpochs; ++epoch)
        for (int64_t s = 0; s < std::max<int64_t>(n, 32); ++s) {
            const int32_t i = history.items[static_cast<size_t>(rng.below(static_cast<uint64_t>(n)))];
            const int32_t j = sampleNegative(rng, history.items, m_numItems);
            if (j < 0)
                continue;
            const Eigen::VectorXf d = (m_item.row(i) - m_item.row(j)).transpose();
            const float g = 1.0f - sigmoid(pu.dot(d) + m_bias(i) - m_bias(j));
            pu += m_lr * (g * d - m_reg * pu);
        }
    return pu;
}

Eigen::VectorXf Bpr::userVector(const History& history) const
{
    return (history.trainedUser >= 0 && history.trainedUser < m_user.rows())
        ? Eigen::VectorXf(m_user.row(history.trainedUser).transpose())
        : foldIn(history);
}

void Bpr::score(const History& history, std::span<float> out) const
{
    scoreFactors(m_item, userVector(history).data(), out.data());
    for (size_t i = 0; i < out.size(); ++i)
        out[i] += m_bias(static_cast<Eigen::Index>(i));
}

std::vector<ScoredItem> Bpr::recommendTop(const History& history, int n) const
{
    const std::span<const float> bias(m_bias.data(), static_cast<size_t>(m_bias.size()));
    const Eigen::VectorXf x = userVector(history);
    if (const auto index = m_ann.index(m_item, bias))
        return index->search(m_item, bias, x.data(), n, history.items);
    return topNFactors(m_item, m_itemHalf, x.data(), n, history.items, bias);
}

QByteArray Bpr::save() const
{
    QByteArray buf;
    QDataStream s(&buf, QIODevice::WriteOnly);
    io::writeHeader(s, "bpr", 1);
    s << m_factors << m_lr << m_reg << m_epochs << m_foldInEpochs << m_seed;
    io::writeMatrix(s, m_user);
    io::writeMatrix(s, m_item);
    io::writeMatrix(s, m_bias);
    return buf;
}

void Bpr::restore(const QByteArray& payload)
{
    m_ann.reset();
    QDataStream s(payload);
    io::readHeader(s, "bpr", 1);
    s >> m_factors >> m_lr >> m_reg >> m_epochs >> m_foldInEpochs >> m_seed;
    io::readMatrix(s, m_user);
    io::readMatrix(s, m_item);
    io::readMatrix(s, m_bias);
    m_numItems = static_cast<int32_t>(m_item.rows());
    m_itemHalf = HalfFactors(m_item);
}

} // namespace recwb::cf
