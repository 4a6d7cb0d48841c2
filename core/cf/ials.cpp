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

using VecF = Eigen::Matrix<float, Eigen::Dynamic, 1>;

// One CG least-squares pass over the rows of `x` with the other side fixed at `y`
// (Takacs, Pilaszy, Tikk 2011; the same update as the implicit library's CG solver).
// For row u: (Y^T Y + reg I + Y^T (C_u - I) Y) x_u = Y^T C_u p_u, warm-started at x_u.
template <typename Conf>
void cgPass(RowMatrixF& x, const RowMatrixF& y, const Csr& rows, float reg, int cgSteps, Conf&& conf,
    const TaskControl& control)
{
    const Eigen::Index f = y.cols();
    Eigen::MatrixXf yty = y.transpose() * y;
    yty.diagonal().array() += reg;
    parallelForDynamic(rows.numRows, 256, [&](int64_t begin, int64_t end) {
        VecF r(f), p(f), ap(f);
        for (int64_t u = begin; u < end; ++u) {
            if (((u - begin) & 1023) == 0 && control.canceled())
                return;
            auto xu = x.row(u).transpose();
            const auto cols = rows.row(static_cast<int32_t>(u));
            const auto vals = rows.rowValues(static_cast<int32_t>(u));
            r.noalias() = -yty * xu;
            for (size_t k = 0; k < cols.size(); ++k) {
                const float c = conf(vals[k]);
                const auto yi = y.row(cols[k]).transpose();
                r += (c - (c - 1.0f) * yi.dot(xu)) * yi;
            }
            p = r;
            float rsold = r.squaredNorm();
            if (rsold < 1e-20f)
                continue;
            for (int it = 0; it < cgSteps; ++it) {
                ap.noalias() = yty * p;
                for (size_t k = 0; k < cols.size(); ++k) {
                    const float c = conf(vals[k]);
                    const auto yi = y.row(cols[k]).transpose();
                    ap += ((c - 1.0f) * yi.dot(p)) * yi;
                }
                const float alpha = rsold / p.dot(ap);
                xu += alpha * p;
                r -= alpha * ap;
                const float rsnew = r.squaredNorm();
                if (rsnew < 1e-20f)
                    break;
                p = r + (rsnew / rsold) * p;
                rsold = rsnew;
            }
        }
    });
}

} // namespace

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
    const auto conf = [this](float v) { return confidence(v); };
    for (int it = 0; it < m_iterations; ++it) {
        cgPass(m_user, m_item, userItems, m_reg, m_cgSteps, conf, control);
        control.throwIfCanceled();
        cgPass(m_item, m_user, itemUsers, m_reg, m_cgSteps, conf, control);
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
    if (history.trainedUser >= 0 && history.trainedUser < m_user.rows())
        s.noalias() = m_item * m_user.row(history.trainedUser).transpose();
    else
        s.noalias() = m_item * foldIn(history);
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
