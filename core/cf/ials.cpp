#include "cf/kernels.h"
#include "cf/models.h"
#include "cf/params.h"
#include "cf/serialize.h"
#include "util/hugepages.h"
#include "util/parallel.h"
#include "util/random.h"

#include <QJsonDocument>

#include <Eigen/Cholesky>
#include <Eigen/Dense>

#include <algorithm>
#include <iterator>
#include <memory>
#include <new>

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
    p.text(QStringLiteral("imported_from"), {}); // an imported snapshot's params, refitted here: not imported
    m_annParam = p.text(QStringLiteral("ann"), m_annParam);
    p.finish();
    m_ann.setPolicy(AnnPolicy::fromParam(QStringLiteral("ials"), m_annParam));
}

QJsonObject Ials::params() const
{
    QJsonObject o { { QStringLiteral("factors"), m_factors }, { QStringLiteral("reg"), m_reg },
        { QStringLiteral("alpha"), m_alpha }, { QStringLiteral("iterations"), m_iterations },
        { QStringLiteral("cg_steps"), m_cgSteps }, { QStringLiteral("use_values"), m_useValues },
        { QStringLiteral("seed"), static_cast<double>(m_seed) } };
    if (!m_importedFrom.isEmpty())
        o.insert(QStringLiteral("imported_from"), m_importedFrom);
    if (m_annParam != u"auto") // retrieval, not the model: absent by default so older params compare equal
        o.insert(QStringLiteral("ann"), m_annParam);
    return o;
}

void Ials::setImported(RowMatrixF user, RowMatrixF item, const QJsonObject& provenance)
{
    m_ann.reset();
    m_user = std::move(user);
    m_item = std::move(item);
    m_factors = static_cast<int>(m_item.cols());
    m_numItems = static_cast<int32_t>(m_item.rows());
    m_importedFrom = provenance;
    m_itemHalf = HalfFactors(m_item);
    findItemsWithoutFactors();
}

void Ials::findItemsWithoutFactors()
{
    m_withoutFactors.clear();
    if (m_importedFrom.isEmpty())
        return;
    for (Eigen::Index i = 0; i < m_item.rows(); ++i)
        if ((m_item.row(i).array() == 0.0f).all())
            m_withoutFactors.push_back(static_cast<int32_t>(i));
}

namespace {

// Row ranges of about equal work (interactions, plus f for a row's own f x f products), many
// per thread: the long rows of popular items then never leave one thread working alone.
std::vector<int64_t> workChunks(const Csr& rows, int f, int64_t parts)
{
    const int64_t target = std::max<int64_t>(1, (rows.nnz() + int64_t { rows.numRows } * f) / parts);
    std::vector<int64_t> bounds { 0 };
    int64_t work = 0;
    for (int32_t r = 0; r < rows.numRows; ++r) {
        work += rows.rowLength(r) + f;
        if (work >= target) {
            bounds.push_back(r + 1);
            work = 0;
        }
    }
    if (bounds.back() != rows.numRows)
        bounds.push_back(rows.numRows);
    return bounds;
}

// Y^T Y of the rows kept as halves, from blocks converted back to f32, two halves of the
// rows in parallel.
RowMatrixF halfGram(const uint16_t* half, int64_t rows, int f)
{
    std::vector<Eigen::MatrixXf> parts(2, Eigen::MatrixXf::Zero(f, f));
    parallelFor(
        2,
        [&](int64_t pb, int64_t pe) {
            for (int64_t part = pb; part < pe; ++part) {
                RowMatrixF block(std::min<int64_t>(rows, 4096), f);
                for (int64_t b = rows * part / 2; b < rows * (part + 1) / 2; b += block.rows()) {
                    const int64_t len = std::min<int64_t>(block.rows(), rows * (part + 1) / 2 - b);
                    kernels::fromHalf(half + b * f, block.data(), len * f);
                    parts[static_cast<size_t>(part)].selfadjointView<Eigen::Lower>().rankUpdate(
                        block.topRows(len).transpose());
                }
            }
        },
        2, 1);
    Eigen::MatrixXf sum = parts[0] + parts[1];
    return sum.selfadjointView<Eigen::Lower>();
}

// One CG least-squares pass over the rows of `x` with the other side fixed at `y`. Where the
// AVX2 kernel runs, the fixed side is first rounded to half precision: half the bytes to
// gather, so the 35 MB of user factors of a 20M matrix fit the L3 cache as 17.7 MB. The Gram
// matrix is built from the same halves, so each row solves one consistent least-squares
// problem against the rounded side (2^-11 relative per entry).
void cgPass(RowMatrixF& x, const RowMatrixF& y, const Csr& rows, float reg, int cgSteps, float alpha, bool useValues,
    const TaskControl& control)
{
    const int f = static_cast<int>(y.cols());
    // Cache-line aligned: a row of 64 halves is then exactly two lines, the two the kernel
    // prefetches. From malloc's 16-byte alignment every row straddled three, the third read
    // on demand (at 1M x 1M x 100M the gathers are most of an iteration).
    std::unique_ptr<uint16_t[], void (*)(uint16_t*)> halfBuffer(nullptr, [](uint16_t* p) {
        ::operator delete[](p, std::align_val_t { 128 });
    });
    const uint16_t* half = nullptr;
    RowMatrixF yty;
    if (kernels::halfAvailable() && (f == 32 || f == 64 || f == 128)) {
        const auto count = static_cast<size_t>(y.size());
        halfBuffer.reset(static_cast<uint16_t*>(::operator new[](count * sizeof(uint16_t), std::align_val_t { 128 })));
        adviseHugePages(halfBuffer.get(), count * sizeof(uint16_t));
        kernels::toHalf(y.data(), halfBuffer.get(), y.size());
        half = halfBuffer.get();
        yty = halfGram(half, y.rows(), f);
    } else {
        yty = y.transpose() * y;
    }
    yty.diagonal().array() += reg;
    const auto bounds = workChunks(rows, f, int64_t { 32 } * defaultThreads());
    parallelForDynamic(static_cast<int64_t>(bounds.size()) - 1, 1, [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce && !control.canceled(); ++c) {
            const int64_t begin = bounds[static_cast<size_t>(c)];
            const int64_t end = bounds[static_cast<size_t>(c) + 1];
            if (!kernels::cgSolveRowsAvx512(yty.data(), y.data(), half, f, rows.offsets.data(),
                    rows.indices.data(), rows.values.data(), alpha, useValues, x.data(), begin, end, cgSteps)
                && !kernels::cgSolveRowsAvx2(yty.data(), y.data(), half, f, rows.offsets.data(),
                    rows.indices.data(), rows.values.data(), alpha, useValues, x.data(), begin, end, cgSteps))
                kernels::cgSolveRows(yty.data(), y.data(), f, rows.offsets.data(), rows.indices.data(),
                    rows.values.data(), alpha, useValues, x.data(), begin, end, cgSteps);
        }
    });
}

} // namespace

void Ials::fit(const Csr& userItems, const TaskControl& control)
{
    m_ann.reset();
    m_numItems = userItems.numCols;
    m_importedFrom = {};
    m_withoutFactors.clear();
    m_itemHalf = {};
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
    m_itemHalf = HalfFactors(m_item);
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

Eigen::VectorXf Ials::userVector(const History& history) const
{
    return (history.trainedUser >= 0 && history.trainedUser < m_user.rows())
        ? Eigen::VectorXf(m_user.row(history.trainedUser).transpose())
        : foldIn(history);
}

void Ials::score(const History& history, std::span<float> out) const
{
    scoreFactors(m_item, userVector(history).data(), out.data());
}

std::vector<ScoredItem> Ials::recommendTop(const History& history, int n) const
{
    const Eigen::VectorXf x = userVector(history);
    const auto index = m_ann.index(m_item, {});
    if (m_withoutFactors.empty())
        return index ? index->search(m_item, {}, x.data(), n, history.items)
                     : topNFactors(m_item, m_itemHalf, x.data(), n, history.items);
    std::vector<int32_t> exclude;
    exclude.reserve(history.items.size() + m_withoutFactors.size());
    std::set_union(history.items.begin(), history.items.end(), m_withoutFactors.begin(), m_withoutFactors.end(),
        std::back_inserter(exclude));
    return index ? index->search(m_item, {}, x.data(), n, exclude) : topNFactors(m_item, m_itemHalf, x.data(), n, exclude);
}

QByteArray Ials::save() const
{
    QByteArray buf;
    QDataStream s(&buf, QIODevice::WriteOnly);
    // Version 2 only adds the provenance of imported factors; fitted models stay version 1.
    io::writeHeader(s, "ials", m_importedFrom.isEmpty() ? 1 : 2);
    s << m_factors << m_reg << m_alpha << m_iterations << m_cgSteps << m_useValues << m_seed;
    if (!m_importedFrom.isEmpty())
        s << QJsonDocument(m_importedFrom).toJson(QJsonDocument::Compact);
    io::writeMatrix(s, m_user);
    io::writeMatrix(s, m_item);
    return buf;
}

void Ials::restore(const QByteArray& payload)
{
    m_ann.reset();
    QDataStream s(payload);
    s.setByteOrder(QDataStream::LittleEndian);
    QByteArray tag;
    qint32 version = 0;
    s >> tag >> version;
    if (tag != "ials" || (version != 1 && version != 2))
        throw Error(QStringLiteral("model snapshot is not an ials v1 or v2 payload"));
    s >> m_factors >> m_reg >> m_alpha >> m_iterations >> m_cgSteps >> m_useValues >> m_seed;
    m_importedFrom = {};
    if (version == 2) {
        QByteArray provenance;
        s >> provenance;
        m_importedFrom = QJsonDocument::fromJson(provenance).object();
    }
    io::readMatrix(s, m_user);
    io::readMatrix(s, m_item);
    m_numItems = static_cast<int32_t>(m_item.rows());
    m_itemHalf = HalfFactors(m_item);
    findItemsWithoutFactors();
}

} // namespace recwb::cf
