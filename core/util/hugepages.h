#pragma once

#include <cstddef>
#include <vector>

namespace recwb {

// Arrays from this size up are worth transparent huge pages.
inline constexpr size_t kHugePageMinBytes = size_t { 16 } << 20;

// Asks the kernel to back [p, p + bytes) with transparent huge pages (Linux madvise
// MADV_HUGEPAGE over the whole 2 MiB pages inside the range; a no-op elsewhere, below
// kHugePageMinBytes, or when the kernel says no). Call it before the memory is first
// touched: a large array filled once (a workspace's interactions, their transpose) then
// faults in 2 MiB at a time instead of 4 KiB, and scattered reads of it miss the TLB less.
// On this VM's kernel (THP "madvise" mode) that took the 100M-interaction reopen's
// "reading interactions" phase from 21.5 s to 15-17 s (docs/SCALE.md).
void adviseHugePages(void* p, size_t bytes);

// Starts this program again, once, with glibc's malloc asked to back its own heaps with
// transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1, glibc 2.35 and later: the
// tunable is read only when a process starts, so there is no call that turns it on later).
// A workspace's catalog is millions of small strings; on a VM where every 4 KiB page fault
// is expensive, the catalog reader spent 43 % of its time growing the heap and faulting it
// in (docs/SCALE.md). Call it first thing in main(), before any thread starts: it returns
// (and the program goes on as it is) when the tunable is already set, when
// RECWB_HEAP_HUGEPAGES=0, when the kernel's THP mode is "never", when this is not a glibc
// Linux build, or when the exec fails. argv must end with a null pointer, as main's does.
void restartWithHugePageHeap(char** argv);

// v.resize(n), with a large new buffer advised for huge pages before anything touches it
// (with a RawVector, nothing does until the caller writes the entries).
template <typename T, typename A>
void resizeLarge(std::vector<T, A>& v, size_t n)
{
    if (n > v.capacity() && n * sizeof(T) >= kHugePageMinBytes) {
        std::vector<T, A> fresh;
        fresh.reserve(n);
        adviseHugePages(fresh.data(), n * sizeof(T));
        fresh.assign(v.begin(), v.end());
        v.swap(fresh);
    }
    v.resize(n);
}

} // namespace recwb
