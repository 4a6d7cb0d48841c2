#include "cf/kernels.h"
#include "cf/models.h"
#include "cf/params.h"
#include "cf/serialize.h"
#include "util/parallel.h"
#include "util/random.h"

#include <Eigen/Cholesky>
#include <Eigen/Dense>

namespace recwb::cf {

Ials::Ials(const QJsonObject& params)
{
    ParamReader p(QStringLiteral("ials"), params);
    m_factors = std::max(1, p.integer(QStringLiteral("factors"), m_factors));
    m_reg = static_cast<float>(p.number(QStringLiteral("reg"), m_reg));
    m_alpha = static_cast<float>(p.number(QStringLiteral("alpha"), m_alpha));
    m_iterations = std::max(1, p.integer(QStringLiteral("iterations"), m_iterations));
    m_cgSteps = std::max(1, p.integer(QStringLiteral("cg_steps"), m_cgSteps));
    m_useValues = p.flag(QStringLiteral("use_values"), m_useValues);
    m_trackLoss = p.flag(QStringLiteral("track_loss"), m_trackLoss);
    m_seed = static_cast<quint64>(p.number(QStringLiteral("seed"), static_cast<double>(m_seed)));
    p.finish();
}

QJsonObject Ials::params() const
{
    return { { QStringLiteral("factors"), m_factors }, { QStringLiteral("reg"), m_reg },
        { QStringLiteral("alpha"), m_alpha }, { QStringLiteral("iterations"), m_iterations },
        { QStringLiteral("cg_steps"), m_cgSteps }, { QStringLiteral("use_values"), m_useValues },
        { QStringLiteral("seed"), static_cast<double>(m_seed) } };
}

namespace {


// One CG least-squares pass over the rows of `x` with the other side fixed at `y`
// (kernels::cgSolveRows does the per-row work).
void cgPass(RowMatrixF& x, const RowMatrixF& y, const Csr& rows, float reg, int cgSteps, float alpha, bool useValues,
    const TaskControl& control)
{
    RowMatrixF yty = y.transpose() * y;
    yty.diagonal().array() += reg;
    const int f = static_cast<int>(y.cols());
    parallelForDynamic(rows.numRows, 512, [&](int64_t begin, int64_t end) {
        if (control.canceled())
            return;
        kernels::cgSolveRows(yty.data(), y.data(), f, rows.offsets.data(), rows.indices.data(), rows.values.data(),
            alpha, useValues, x.data(), begin, end, cgSteps);
    });
}

} // namespace

void scoreFactors(const RowMatrixF& factors, const float* x, float* out, int threads)
{
    const auto rows = factors.rows();
    const int f = static_cast<int>(factors.cols());
    if (threads <= 0)
        threads = rows * f >= 2'000'000 ? defaultThreads() : 1;
    parallelFor(
        rows, [&](int64_t begin, int64_t end) { kernels::gemv(factors.data() + begin * f, end - begin, f, x, out + begin); },
        threads, 4096);
}

std::vector<ScoredItem> topNFactors(const RowMatrixF& factors, const float* x, int n, std::span<const int32_t> exclude,
    std::span<float> scratch, int threads)
{
    const auto rows = factors.rows();
    const int f = static_cast<int>(factors.cols());
    if (threads <= 0)
        threads = rows * f >= 2'000'000 ? defaultThreads() : 1;
    threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, rows / 4096)));
    std::vector<std::vector<ScoredItem>> parts(static_cast<size_t>(threads));
    parallelFor(
        threads,
        [&](int64_t tb, int64_t te) {
            for (int64_t t = tb; t < te; ++t) {
                const int64_t begin = rows * t / threads;
                const int64_t end = rows * (t + 1) / threads;
                kernels::gemv(factors.data() + begin * f, end - begin, f, x, scratch.data() + begin);
                // Select inside this block; indices are shifted back to the whole catalog.
                const auto exBegin = std::lower_bound(exclude.begin(), exclude.end(), static_cast<int32_t>(begin));
                const auto exEnd = std::lower_bound(exBegin, exclude.end(), static_cast<int32_t>(end));
                std::vector<int32_t> local;
                for (auto it = exBegin; it != exEnd; ++it)
                    local.push_back(static_cast<int32_t>(*it - begin));
                auto top = topN(scratch.subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin)), n, local);
                for (auto& s : top)
                    s.item += static_cast<int32_t>(begin);
                parts[static_cast<size_t>(t)] = std::move(top);
            }
        },
        threads, 1);
    std::vector<ScoredItem> all;
    for (auto& p : parts)
        all.insert(all.end(), p.begin(), p.end());
    std::sort(all.begin(), all.end(), [](const ScoredItem& a, const ScoredItem& b) {
        return a.score > b.score || (a.score == b.score && a.item < b.item);
    });
    if (static_cast<int>(all.size()) > n)
        all.resize(static_cast<size_t>(n));
    return all;
}

void Ials::fit(const Csr& userItems, const TaskControl& control)
{
    m_numItems = userItems.numCols;
    const Csr itemUsers = userItems.transposed();
    Rng rng(m_seed);
    const float scale = 0.01f;
    m_user.resize(userItems.numRows, m_factors);
    m_item.resize(userItems.numCols, m_factors);
    for (Eigen::Index i = 0; i < m_user.size(); ++i)
        m_user.data()[i] = static_cast<float>(rng.normal()) * scale;
    for (Eigen::Index i = 0; i < m_item.size(); ++i)
        m_item.data()[i] = static_cast<float>(rng.normal()) * scale;
    lossHistory.clear();
    for (int it = 0; it < m_iterations; ++it) {
        cgPass(m_user, m_item, userItems, m_reg, m_cgSteps, m_alpha, m_useValues, control);
        control.throwIfCanceled();
        cgPass(m_item, m_user, itemUsers, m_reg, m_cgSteps, m_alpha, m_useValues, control);
        control.throwIfCanceled();
        if (m_trackLoss)
            lossHistory.push_back(loss(userItems));
        control.progress(static_cast<double>(it + 1) / m_iterations, QStringLiteral("iALS iteration %1").arg(it + 1));
    }
}

double Ials::loss(const Csr& userItems) const
{
    // sum over all (u, i) of c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2), computed as the
    // dense all-zero part plus corrections on the observed entries.
    const Eigen::MatrixXd xtx = (m_user.transpose() * m_user).cast<double>();
    const Eigen::MatrixXd yty = (m_item.transpose() * m_item).cast<double>();
    double total = (xtx.array() * yty.array()).sum(); // sum over all pairs of (x.y)^2
    for (int32_t u = 0; u < userItems.numRows; ++u) {
        const auto cols = userItems.row(u);
        const auto vals = userItems.rowValues(u);
        for (size_t k = 0; k < cols.size(); ++k) {
            const double pred = m_user.row(u).dot(m_item.row(cols[k]));
            const double c = confidence(vals[k]);
            total += c * (1 - pred) * (1 - pred) - pred * pred;
        }
    }
    return total + m_reg * (static_cast<double>(m_user.squaredNorm()) + static_cast<double>(m_item.squaredNorm()));
}

Eigen::VectorXf Ials::foldIn(const History& history) const
{
    const Eigen::Index f = m_item.cols();
    Eigen::MatrixXf a = m_item.transpose() * m_item;
    a.diagonal().array() += m_reg;
    Eigen::VectorXf b = Eigen::VectorXf::Zero(f);
    for (size_t k = 0; k < history.items.size(); ++k) {
        const float c = confidence(history.values.empty() ? 1.0f : history.values[k]);
        const auto yi = m_item.row(history.items[k]).transpose();
        a.noalias() += (c - 1.0f) * yi * yi.transpose();
        b += c * yi;
    }
    return a.ldlt().solve(b);
}

void Ials::score(const History& history, std::span<float> out) const
{
    Eigen::Map<Eigen::VectorXf> s(out.data(), static_cast<Eigen::Index>(out.size()));
    const Eigen::VectorXf xu = (history.trainedUser >= 0 && history.trainedUser < m_user.rows())
        ? Eigen::VectorXf(m_user.row(history.trainedUser).transpose())
        : foldIn(history);
    scoreFactors(m_item, xu.data(), s.data());
}

QByteArray Ials::save() const
{
    QByteArray buf;
    QDataStream s(&buf, QIODevice::WriteOnly);
    io::writeHeader(s, "ials", 1);
    s << m_factors << m_reg << m_alpha << m_iterations << m_cgSteps << m_useValues << m_seed;
    io::writeMatrix(s, m_user);
    io::writeMatrix(s, m_item);
    return buf;
}

void Ials::restore(const QByteArray& payload)
{
    QDataStream s(payload);
    io::readHeader(s, "ials", 1);
    s >> m_factors >> m_reg >> m_alpha >> m_iterations >> m_cgSteps >> m_useValues >> m_seed;
    io::readMatrix(s, m_user);
    io::readMatrix(s, m_item);
    m_numItems = static_cast<int32_t>(m_item.rows());
}

} // namespace recwb::cf
