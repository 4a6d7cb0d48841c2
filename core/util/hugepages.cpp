#include "util/hugepages.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace recwb {

void adviseHugePages(void* p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (!p || bytes < kHugePageMinBytes)
        return;
    constexpr uintptr_t kHuge = uintptr_t { 2 } << 20;
    const auto begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
    const auto end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
    if (end > begin)
        madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE); // advice: a refusal changes nothing
#else
    (void)p;
    (void)bytes;
#endif
}

void restartWithHugePageHeap(char** argv)
{
#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    constexpr const char* kMarker = "RECWB_HEAP_HUGEPAGES";
    if (!argv || !argv[0] || std::getenv(kMarker)) // set: restarted already, or asked not to
        return;
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (tunables && std::strstr(tunables, "glibc.malloc.hugetlb"))
        return; // whoever started us chose
    std::string mode;
    std::getline(std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled"), mode);
    if (mode.empty() || mode.find("[never]") != std::string::npos)
        return;
    const std::string before = tunables ? std::string(tunables) : std::string();
    const std::string value = before.empty() ? std::string("glibc.malloc.hugetlb=1") : before + ":glibc.malloc.hugetlb=1";
    // The marker first, so that a restart can never loop. Children (the CLI started by the
    // GUI, a test's server) inherit it and do not restart in their turn; they inherit the
    // tunables too, though glibc 2.36 cuts the variable at its first ':' as it parses it.
    if (setenv(kMarker, "1", 1) != 0 || setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    // Still here: the exec failed; go on without, the environment as it was.
    if (tunables)
        setenv("GLIBC_TUNABLES", before.c_str(), 1);
    else
        unsetenv("GLIBC_TUNABLES");
    unsetenv(kMarker);
#else
    (void)argv;
#endif
}

} // namespace recwb
