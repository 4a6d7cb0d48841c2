#include "data/csr.h"

#include "util/error.h"

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
        + values.capacity() * sizeof(float) + timestamps.capacity() * sizeof(int64_t);
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
    t.indices.resize(indices.size());
    t.values.resize(values.size());
    const bool ts = keepTimestamps && !timestamps.empty();
    if (ts)
        t.timestamps.resize(timestamps.size());
    std::vector<int64_t> cursor(t.offsets.begin(), t.offsets.end() - 1);
    // Rows are visited in ascending order, so each transposed row comes out sorted.
    for (int32_t r = 0; r < numRows; ++r) {
        for (int64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
            const int64_t dst = cursor[indices[k]]++;
            t.indices[dst] = r;
            t.values[dst] = values[k];
            if (ts)
                t.timestamps[dst] = timestamps[k];
        }
    }
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
