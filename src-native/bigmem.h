// Memory for the engine's large, long-lived arrays (flow entries, the flow
// and host-pair hash indexes, segment slabs): anonymous mappings aligned to
// 2 MB that the kernel may back with transparent huge pages once they are
// large (madvise(2) MADV_HUGEPAGE). With a million flows every packet lands on a
// random entry; with 4 kB pages that is a TLB miss and a page walk on nearly
// every packet, which costs more than the cache miss itself. Pages come
// zero-filled and are committed as they are first touched. Plain functions,
// callable from any thread; the engine calls them on the capture thread.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

namespace prtt {
constexpr size_t kHugePage = 2u << 20;

// Zero-filled memory of at least `bytes`, or nullptr when the system has
// none. Blocks of 2 MB and more are 2 MB aligned. Address space only: pages
// are committed as they are first touched (MAP_NORESERVE).
inline void* big_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  if (bytes < kHugePage) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  // Over-map by one huge page, then trim both ends to a 2 MB boundary.
  size_t len = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  void* raw = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (base + kHugePage - 1) & ~(kHugePage - 1);
  if (aligned > base) munmap(raw, aligned - base);
  uintptr_t end = base + len + kHugePage;
  if (end > aligned + len) munmap(reinterpret_cast<void*>(aligned + len), end - (aligned + len));
  return reinterpret_cast<void*>(aligned);
}

// Asks for huge pages on [p, p + bytes) of a big_alloc block (advice only:
// where transparent huge pages are off, 4 kB pages serve). Containers ask
// once they are large: each first touch then zero-fills 2 MB, which a small
// table, or an engine made and dropped many times, should not pay.
inline void big_hugepages(void* p, size_t bytes) {
  if (p == nullptr || bytes < kHugePage) return;
  madvise(p, (bytes + kHugePage - 1) & ~(kHugePage - 1), MADV_HUGEPAGE);
}

// From this size on, a table is large enough for huge pages to pay.
constexpr size_t kHugeFrom = 8u << 20;

inline void big_free(void* p, size_t bytes) {
  if (p == nullptr || bytes == 0) return;
  if (bytes >= kHugePage) bytes = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  munmap(p, bytes);
}

}  // namespace prtt
