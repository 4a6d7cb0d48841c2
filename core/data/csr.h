#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
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

class TimeColumn;

// Walks timestamps of a TimeColumn by index (reads give int64_t values, not references).
class TimeIterator {
public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = int64_t;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = int64_t;
    TimeIterator() = default;
    TimeIterator(const TimeColumn* column, size_t k)
        : m_column(column)
        , m_k(k)
    {
    }
    int64_t operator*() const;
    TimeIterator& operator++()
    {
        ++m_k;
        return *this;
    }
    TimeIterator operator++(int)
    {
        TimeIterator before = *this;
        ++m_k;
        return before;
    }
    bool operator==(const TimeIterator& o) const { return m_k == o.m_k; }
    difference_type operator-(const TimeIterator& o) const
    {
        return static_cast<difference_type>(m_k) - static_cast<difference_type>(o.m_k);
    }

private:
    const TimeColumn* m_column = nullptr;
    size_t m_k = 0;
};

// One row's timestamps (a view into a TimeColumn): indexable and iterable like a span.
class TimeRow {
public:
    TimeRow() = default;
    TimeRow(const TimeColumn* column, size_t begin, size_t size)
        : m_column(column)
        , m_begin(begin)
        , m_size(size)
    {
    }
    int64_t operator[](size_t k) const;
    size_t size() const { return m_size; }
    bool empty() const { return m_size == 0; }

    TimeIterator begin() const { return { m_column, m_begin }; }
    TimeIterator end() const { return { m_column, m_begin + m_size }; }

private:
    const TimeColumn* m_column = nullptr;
    size_t m_begin = 0;
    size_t m_size = 0;
};

// The entries' timestamps. Stored as 32-bit offsets from a base while every timestamp lies
// within 2^31 of it (68 years of seconds either way: half the memory of 64 bits, 400 MB less
// to fault in and fill at 100M interactions), and as 64-bit values otherwise (milliseconds
// over more than 24 days, say). Reads give the int64_t timestamp either way.
class TimeColumn {
public:
    bool empty() const { return size() == 0; }
    size_t size() const { return m_wide.empty() ? m_narrow.size() : m_wide.size(); }
    int64_t operator[](size_t k) const { return m_wide.empty() ? m_base + m_narrow[k] : m_wide[k]; }
    TimeRow slice(size_t begin, size_t size) const { return { this, begin, size }; }
    TimeIterator begin() const { return { this, 0 }; }
    TimeIterator end() const { return { this, size() }; }
    bool isNarrow() const { return m_wide.empty(); }
    int64_t base() const { return m_base; }
    size_t memoryBytes() const { return m_narrow.capacity() * sizeof(int32_t) + m_wide.capacity() * sizeof(int64_t); }

    // Whether t fits the 32-bit form around `base`.
    static bool fits(int64_t base, int64_t t)
    {
        const int64_t d = t - base;
        return d >= std::numeric_limits<int32_t>::min() && d <= std::numeric_limits<int32_t>::max();
    }

    // Appends t (CsrBuilder): the first value sets the base; one that does not fit widens the column.
    void push_back(int64_t t);
    void reserve(size_t n);
    void shrink_to_fit();
    void clear();

    // n narrow entries around `base`, left unset (written through narrowData()), or n wide
    // entries (wideData()); large buffers advised for huge pages.
    void resizeNarrow(int64_t base, size_t n);
    void resizeWide(size_t n);
    int32_t* narrowData() { return m_narrow.data(); }
    int64_t* wideData() { return m_wide.data(); }
    // The same form and base as `other`, n entries left unset; then copyEntry() fills them.
    void resizeLike(const TimeColumn& other, size_t n);
    void copyEntry(size_t dst, const TimeColumn& src, size_t k)
    {
        if (m_wide.empty())
            m_narrow[dst] = src.m_narrow[k];
        else
            m_wide[dst] = src.m_wide[k];
    }

private:
    int64_t m_base = 0;
    RawVector<int32_t> m_narrow;
    RawVector<int64_t> m_wide; // non-empty: the 64-bit form is in use
};

inline int64_t TimeRow::operator[](size_t k) const
{
    return (*m_column)[m_begin + k];
}

inline int64_t TimeIterator::operator*() const
{
    return (*m_column)[m_k];
}

// Compressed sparse rows. Row r holds columns indices[offsets[r] .. offsets[r+1]),
// sorted ascending, with a value each and (optionally) a timestamp each.
struct Csr {
    int32_t numRows = 0;
    int32_t numCols = 0;
    // resize() leaves new entries unset (RawVector): whoever grows them writes every entry.
    RawVector<int64_t> offsets { 0 };
    RawVector<int32_t> indices;
    RawVector<float> values;
    TimeColumn timestamps; // empty when the orientation does not keep them

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
    // Empty when the matrix keeps no timestamps.
    TimeRow rowTimestamps(int32_t r) const
    {
        if (timestamps.empty())
            return {};
        return timestamps.slice(static_cast<size_t>(offsets[r]), static_cast<size_t>(offsets[r + 1] - offsets[r]));
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
