#include "cf/models.h"
#include "cf/params.h"
#include "cf/serialize.h"
#include "util/parallel.h"

#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <unistd.h>

namespace recwb::cf {

Ease::Ease(const QJsonObject& params)
{
    ParamReader p(QStringLiteral("ease"), params);
    m_lambda = p.number(QStringLiteral("lambda"), m_lambda);
    p.finish();
    if (m_lambda <= 0)
        throw Error(QStringLiteral("ease: lambda must be positive"));
}

QJsonObject Ease::params() const
{
    return { { QStringLiteral("lambda"), m_lambda } };
}

namespace {

// Gram matrix of the rows of a binary CSR: G(a, b) = |row a & row b| over the columns,
// computed from the transposed orientation (for each column, all pairs of its rows).
Eigen::MatrixXd gram(const Csr& byCol, int32_t dim)
{
    Eigen::MatrixXd g = Eigen::MatrixXd::Zero(dim, dim);
    for (int32_t c = 0; c < byCol.numRows; ++c) {
        const auto rows = byCol.row(c);
        for (size_t x = 0; x < rows.size(); ++x) {
            double* col = g.col(rows[x]).data();
            for (size_t y = 0; y < rows.size(); ++y)
                col[rows[y]] += 1.0;
        }
    }
    return g;
}

// Physical memory of this machine in bytes (0 when unknown).
double physicalMemoryBytes()
{
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? static_cast<double>(pages) * static_cast<double>(size) : 0.0;
}

// About the most memory Ease::fit holds at once, in bytes.
double peakBytes(int64_t users, int64_t items)
{
    const double n = static_cast<double>(items), u = static_cast<double>(users);
    // B (float, n x n) and, directly, G, its inverse and the identity (double, n x n); through
    // Woodbury (fewer users than items) K, its inverse and the identity (double, u x u) and
    // Y = K^-1 X (float, u x n).
    return 4 * n * n + (users < items ? 24 * u * u + 4 * u * n : 24 * n * n);
}

} // namespace

void Ease::fit(const Csr& userItems, const TaskControl& control)
{
    const int32_t nItems = userItems.numCols;
    const int32_t nUsers = userItems.numRows;
    // A dense items x items model: refuse, with the figures, what cannot fit in memory (a
    // million items would need 4 TB for B alone) instead of failing on std::bad_alloc.
    const double need = peakBytes(nUsers, nItems);
    const double have = physicalMemoryBytes();
    if (have > 0 && need > have)
        throw Error(QStringLiteral("ease: %1 items x %2 users need about %3 GB of memory (a dense items x items "
                                   "matrix); this machine has %4 GB. Use ials, bpr or itemknn for a catalog this large.")
                        .arg(nItems)
                        .arg(nUsers)
                        .arg(need / 1e9, 0, 'f', 1)
                        .arg(have / 1e9, 0, 'f', 1));
    m_numItems = userItems.numCols;
    const Csr itemUsers = userItems.transposed();
    m_b.resize(nItems, nItems);
    m_woodbury = nUsers < nItems;
    if (!m_woodbury) {
        control.progress(0.1, QStringLiteral("Gram matrix"));
        Eigen::MatrixXd g = gram(userItems, nItems);
        g.diagonal().array() += m_lambda;
        control.throwIfCanceled();
        control.progress(0.3, QStringLiteral("Inverting"));
        const Eigen::MatrixXd p = g.llt().solve(Eigen::MatrixXd::Identity(nItems, nItems));
        control.throwIfCanceled();
        const Eigen::VectorXd d = p.diagonal();
        parallelFor(nItems, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i)
                for (int32_t j = 0; j < nItems; ++j)
                    m_b(i, j) = (i == j) ? 0.0f : static_cast<float>(-p(i, j) / d(j));
        });
    } else {
        // P = (I - X^T K^-1 X) / lambda with K = X X^T + lambda I (users x users).
        // B(i, j) = -P(i, j) / P(j, j) = M(i, j) / (1 - M(j, j)) for i != j, M = X^T K^-1 X.
        control.progress(0.05, QStringLiteral("User Gram matrix"));
        Eigen::MatrixXd k = gram(itemUsers, nUsers);
        k.diagonal().array() += m_lambda;
        control.throwIfCanceled();
        control.progress(0.15, QStringLiteral("Inverting users x users"));
        const Eigen::MatrixXd kinv = k.llt().solve(Eigen::MatrixXd::Identity(nUsers, nUsers));
        control.throwIfCanceled();
        // Y = K^-1 X (users x items), dense, float: column j = sum over users v of item j of K^-1(:, v).
        Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor> y(nUsers, nItems);
        parallelFor(nItems, [&](int64_t begin, int64_t end) {
            for (int64_t j = begin; j < end; ++j) {
                Eigen::VectorXd acc = Eigen::VectorXd::Zero(nUsers);
                for (const int32_t v : itemUsers.row(static_cast<int32_t>(j)))
                    acc += kinv.col(v);
                y.col(j) = acc.cast<float>();
            }
        });
        control.throwIfCanceled();
        control.progress(0.35, QStringLiteral("Item weights"));
        // diag(M)(j) = sum over users u of item j of Y(u, j).
        Eigen::VectorXf mdiag(nItems);
        for (int32_t j = 0; j < nItems; ++j) {
            float s = 0;
            for (const int32_t u : itemUsers.row(j))
                s += y(u, j);
            mdiag(j) = s;
        }
        const Eigen::VectorXf scale = (1.0f - mdiag.array()).inverse().matrix();
        // Row i of M = sum over users u of item i of Y(u, :) — a sum of rows of Y. Y is
        // column-major, so take its transpose once for contiguous rows.
        const RowMatrixF yt = y; // row-major copy: row u contiguous
        std::atomic<int64_t> done { 0 };
        parallelForDynamic(nItems, 32, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                auto row = m_b.row(i);
                row.setZero();
                for (const int32_t u : itemUsers.row(static_cast<int32_t>(i)))
                    row += yt.row(u);
                row.array() *= scale.transpose().array();
                row(i) = 0.0f;
                if ((++done & 1023) == 0) {
                    control.progress(0.35 + 0.65 * static_cast<double>(done) / nItems, QStringLiteral("Item weights"));
                    if (control.canceled())
                        return;
                }
            }
        });
        control.throwIfCanceled();
    }
    control.progress(1.0, QStringLiteral("EASE ready"));
}

void Ease::score(const History& history, std::span<float> out) const
{
    Eigen::Map<Eigen::RowVectorXf> s(out.data(), static_cast<Eigen::Index>(out.size()));
    s.setZero();
    for (const int32_t i : history.items)
        s += m_b.row(i);
}

QByteArray Ease::save() const
{
    QByteArray buf;
    QDataStream s(&buf, QIODevice::WriteOnly);
    io::writeHeader(s, "ease", 1);
    s << m_lambda << m_woodbury;
    io::writeMatrix(s, m_b);
    return buf;
}

void Ease::restore(const QByteArray& payload)
{
    QDataStream s(payload);
    io::readHeader(s, "ease", 1);
    s >> m_lambda >> m_woodbury;
    io::readMatrix(s, m_b);
    m_numItems = static_cast<int32_t>(m_b.rows());
}

} // namespace recwb::cf
