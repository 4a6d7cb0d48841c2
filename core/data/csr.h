#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace recwb {

// std::allocator, except that resize() leaves new elements of trivial types as they are
// instead of zeroing them. Large arrays that are about to be written in full (a hundred
// million interactions read from SQLite, their transpose) are then first touched by the
// threads that fill them, not by a single-threaded zero fill first.
template <typename T>
struct UninitAllocator : std::allocator<T> {
    using std::allocator<T>::allocator;
    UninitAllocator() = default;
    template <typename U>
    UninitAllocator(const UninitAllocator<U>&) noexcept
    {
    }
    template <typename U>
    struct rebind {
        using other = UninitAllocator<U>;
    };
    template <typename U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>)
    {
        ::new (static_cast<void*>(p)) U; // default-, not value-initialised
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args)
    {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
template <typename T, typename U>
bool operator==(const UninitAllocator<T>&, const UninitAllocator<U>&)
{
    return true;
}

// A vector whose resize() does not initialise trivial elements: write them all before reading.
template <typename T>
using RawVector = std::vector<T, UninitAllocator<T>>;

// Compressed sparse rows. Row r holds columns indices[offsets[r] .. offsets[r+1]),
// sorted ascending, with a value each and (optionally) a timestamp each.
struct Csr {
    int32_t numRows = 0;
    int32_t numCols = 0;
    // resize() leaves new entries unset (RawVector): whoever grows them writes every entry.
    RawVector<int64_t> offsets { 0 };
    RawVector<int32_t> indices;
    RawVector<float> values;
    RawVector<int64_t> timestamps; // empty when the orientation does not keep them

    int64_t nnz() const { return static_cast<int64_t>(indices.size()); }
    int32_t rowLength(int32_t r) const { return static_cast<int32_t>(offsets[r + 1] - offsets[r]); }
    std::span<const int32_t> row(int32_t r) const
    {
        return { indices.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r]) };
    }
    std::span<const float> rowValues(int32_t r) const
    {
        return { values.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r]) };
    }
    std::span<const int64_t> rowTimestamps(int32_t r) const
    {
        return { timestamps.data() + offsets[r], static_cast<size_t>(offsets[r + 1] - offsets[r]) };
    }
    bool contains(int32_t r, int32_t c) const;
    size_t memoryBytes() const;

    // The transpose, without timestamps unless asked (keeps the item->users side small).
    Csr transposed(bool keepTimestamps = false) const;
};

// Builds a Csr from triplets that arrive grouped by row in ascending row order
// (as an ordered SQLite scan yields them). Columns inside a row must ascend too.
class CsrBuilder {
public:
    CsrBuilder(int32_t numRows, int32_t numCols, bool withTimestamps, int64_t reserve = 0);
    void add(int32_t row, int32_t col, float value, int64_t timestamp = 0);
    Csr finish();

private:
    Csr m_csr;
    bool m_withTimestamps;
    int32_t m_currentRow = 0;
};

} // namespace recwb
