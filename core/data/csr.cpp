#include "data/csr.h"

#include "util/error.h"
#include "util/hugepages.h"
#include "util/parallel.h"

#include <algorithm>

namespace recwb {

bool Csr::contains(int32_t r, int32_t c) const
{
    const auto cols = row(r);
    return std::binary_search(cols.begin(), cols.end(), c);
}

size_t Csr::memoryBytes() const
{
    return offsets.capacity() * sizeof(int64_t) + indices.capacity() * sizeof(int32_t)
        + values.capacity() * sizeof(float) + timestamps.memoryBytes();
}

void TimeColumn::push_back(int64_t t)
{
    if (!m_wide.empty()) {
        m_wide.push_back(t);
        return;
    }
    if (m_narrow.empty())
        m_base = t;
    if (fits(m_base, t)) {
        m_narrow.push_back(static_cast<int32_t>(t - m_base));
        return;
    }
    // Widen: every entry so far, then this one, as 64-bit values.
    m_wide.reserve(std::max(m_narrow.capacity(), m_narrow.size() + 1));
    for (const int32_t d : m_narrow)
        m_wide.push_back(m_base + d);
    m_wide.push_back(t);
    RawVector<int32_t>().swap(m_narrow);
}

void TimeColumn::reserve(size_t n)
{
    if (m_wide.empty())
        m_narrow.reserve(n);
    else
        m_wide.reserve(n);
}

void TimeColumn::shrink_to_fit()
{
    m_narrow.shrink_to_fit();
    m_wide.shrink_to_fit();
}

void TimeColumn::clear()
{
    RawVector<int32_t>().swap(m_narrow);
    RawVector<int64_t>().swap(m_wide);
    m_base = 0;
}

void TimeColumn::resizeNarrow(int64_t base, size_t n)
{
    clear();
    m_base = base;
    resizeLarge(m_narrow, n);
}

void TimeColumn::resizeWide(size_t n)
{
    clear();
    resizeLarge(m_wide, n);
}

void TimeColumn::resizeLike(const TimeColumn& other, size_t n)
{
    if (other.isNarrow())
        resizeNarrow(other.m_base, n);
    else
        resizeWide(n);
}

Csr Csr::transposed(bool keepTimestamps) const
{
    Csr t;
    t.numRows = numCols;
    t.numCols = numRows;
    t.offsets.assign(static_cast<size_t>(numCols) + 1, 0);
    for (const int32_t c : indices)
        ++t.offsets[static_cast<size_t>(c) + 1];
    for (int32_t c = 0; c < numCols; ++c)
        t.offsets[c + 1] += t.offsets[c];
    resizeLarge(t.indices, indices.size());
    resizeLarge(t.values, values.size());
    const bool ts = keepTimestamps && !timestamps.empty();
    if (ts)
        t.timestamps.resizeLike(timestamps, timestamps.size());
    // The scatter is the cost (a random write per entry). From a million entries it runs
    // on every core, each thread owning a range of columns with an equal share of the
    // entries; every thread reads all rows but writes only its own columns, so the result
    // is the same as one thread's.
    const int64_t n = nnz();
    const int parts = n >= 1'000'000 ? std::max(1, defaultThreads()) : 1;
    std::vector<int32_t> firstCol(static_cast<size_t>(parts) + 1, numCols);
    firstCol[0] = 0;
    for (int p = 1; p < parts; ++p) {
        const int64_t share = n * p / parts;
        firstCol[static_cast<size_t>(p)] = static_cast<int32_t>(
            std::upper_bound(t.offsets.begin(), t.offsets.end() - 1, share) - t.offsets.begin() - 1);
        firstCol[static_cast<size_t>(p)] = std::max(firstCol[static_cast<size_t>(p)], firstCol[static_cast<size_t>(p) - 1]);
    }
    parallelFor(
        parts,
        [&](int64_t pBegin, int64_t pEnd) {
            for (int64_t p = pBegin; p < pEnd; ++p) {
                const int32_t lo = firstCol[static_cast<size_t>(p)];
                const int32_t hi = firstCol[static_cast<size_t>(p) + 1];
                if (lo >= hi)
                    continue;
                std::vector<int64_t> cursor(t.offsets.begin() + lo, t.offsets.begin() + hi);
                // Rows are visited in ascending order, so each transposed row comes out sorted.
                for (int32_t r = 0; r < numRows; ++r) {
                    for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
                        const int32_t c = indices[k];
                        if (c < lo || c >= hi)
                            continue;
                        const int64_t dst = cursor[static_cast<size_t>(c - lo)]++;
                        t.indices[dst] = r;
                        t.values[dst] = values[k];
                        if (ts)
                            t.timestamps.copyEntry(static_cast<size_t>(dst), timestamps, static_cast<size_t>(k));
                    }
                }
            }
        },
        parts, 1);
    return t;
}

CsrBuilder::CsrBuilder(int32_t numRows, int32_t numCols, bool withTimestamps, int64_t reserve)
    : m_withTimestamps(withTimestamps)
{
    m_csr.numRows = numRows;
    m_csr.numCols = numCols;
    m_csr.offsets.assign(static_cast<size_t>(numRows) + 1, 0);
    if (reserve > 0) {
        m_csr.indices.reserve(static_cast<size_t>(reserve));
        m_csr.values.reserve(static_cast<size_t>(reserve));
        if (withTimestamps)
            m_csr.timestamps.reserve(static_cast<size_t>(reserve));
    }
}

void CsrBuilder::add(int32_t row, int32_t col, float value, int64_t timestamp)
{
    if (row < m_currentRow || row >= m_csr.numRows || col < 0 || col >= m_csr.numCols)
        throw Error(QStringLiteral("CsrBuilder: entry (%1, %2) out of order or out of range").arg(row).arg(col));
    while (m_currentRow < row) {
        m_csr.offsets[static_cast<size_t>(m_currentRow) + 1] = static_cast<int64_t>(m_csr.indices.size());
        ++m_currentRow;
    }
    m_csr.indices.push_back(col);
    m_csr.values.push_back(value);
    if (m_withTimestamps)
        m_csr.timestamps.push_back(timestamp);
}

Csr CsrBuilder::finish()
{
    while (m_currentRow < m_csr.numRows) {
        m_csr.offsets[static_cast<size_t>(m_currentRow) + 1] = static_cast<int64_t>(m_csr.indices.size());
        ++m_currentRow;
    }
    m_csr.indices.shrink_to_fit();
    m_csr.values.shrink_to_fit();
    m_csr.timestamps.shrink_to_fit();
    return std::move(m_csr);
}

} // namespace recwb
