// Transparent huge pages for a large heap buffer about to be filled.
//
// A fresh buffer of tens of megabytes (a request body, an encoded result)
// is new memory whose 4 KB pages each fault in on first write; with the
// kernel's THP mode "madvise", asking for huge pages makes that 512 times
// fewer faults. Only the whole 2 MB pages inside [p, p + bytes) are advised;
// smaller buffers are left alone. A hint: failure changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace zepto {

inline void advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (bytes < 8 * kHuge) return;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace zepto
