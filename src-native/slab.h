// Block pool in four size classes (4, 16, 64, 256 elements of T), used for
// per-flow outstanding-segment rings and per-host-pair sample stores. Each
// class has one region of address space as large as the whole cap
// (bigmem.h: reserved, committed as first touched, huge pages where the
// kernel gives them), so a block's address is one multiply from its id,
// blocks are recycled through free lists and the per-packet path never
// calls malloc. Total memory is capped; when the cap is reached, alloc()
// fails and the caller skips work rather than grow. The cap counts blocks
// carved from the regions, so a class keeps what it carved until trim()
// hands the free top of each class back (see there). Owned and touched by
// the capture thread only.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bigmem.h"

namespace prtt {

template <typename T>
class SlabPool {
 public:
  static constexpr int kClasses = 4;
  static constexpr uint32_t kNone = 0xffffffffu;

  static constexpr uint32_t class_size(int c) { return 4u << (2 * c); }

  explicit SlabPool(size_t max_bytes) : max_bytes_(max_bytes) {}
  SlabPool(const SlabPool&) = delete;
  SlabPool& operator=(const SlabPool&) = delete;
  ~SlabPool() {
    for (int c = 0; c < kClasses; ++c) {
      big_free(classes_[c].base, region_bytes());
      big_free(classes_[c].freed, bitmap_bytes(c));
    }
  }

  // Returns a block id of class c, or kNone when the memory cap is reached.
  uint32_t alloc(int c) {
    Class& k = classes_[c];
    if (!k.free.empty()) {
      uint32_t id = k.free.back();
      k.free.pop_back();
      k.freed[id >> 6] &= ~(uint64_t{1} << (id & 63));
      return id;
    }
    const size_t block = block_bytes(c);
    if (bytes_ + block > max_bytes_) return kNone;
    if (k.base == nullptr) {
      k.base = static_cast<T*>(big_alloc(region_bytes()));
      if (k.base == nullptr) return kNone;
      k.freed = static_cast<uint64_t*>(big_alloc(bitmap_bytes(c)));
      if (k.freed == nullptr) {
        big_free(k.base, region_bytes());
        k.base = nullptr;
        return kNone;
      }
    }
    bytes_ += block;
    uint32_t id = k.next++;
    if (!k.huge && static_cast<size_t>(k.next) * block >= kHugeFrom) {
      big_hugepages(k.base, region_bytes());
      k.huge = true;
    }
    // Free-list capacity grows ahead of the blocks, so free() never
    // allocates on the per-packet path.
    if (k.free.capacity() < k.next) k.free.reserve(k.next * 2);
    return id;
  }

  void free(int c, uint32_t id) {
    Class& k = classes_[c];
    k.free.push_back(id);
    k.freed[id >> 6] |= uint64_t{1} << (id & 63);
  }

  // Hands back the free top of every class: free blocks at the end of a
  // class's carved range are uncarved, their whole pages returned to the
  // system (madvise(2) MADV_DONTNEED) and their bytes to the shared cap.
  // Without it, a flood of short flows that carved the whole cap in small
  // blocks would leave no room, once it expired, for any flow to grow a
  // larger block. Blocks in use are not moved: one held at the top keeps the
  // range below it carved. The free lists are rebuilt lowest id first, so
  // blocks in use gather at the bottom of each class and later trims reach
  // further.
  // O(carved blocks / 64 + free blocks); the engine calls it once per
  // report interval, not per packet.
  void trim() {
    for (int c = 0; c < kClasses; ++c) {
      Class& k = classes_[c];
      if (k.free.empty()) continue;
      const uint32_t old_next = k.next;
      while (k.next > 0) {
        const uint32_t top = k.next - 1;
        const uint64_t word = k.freed[top >> 6];
        const uint64_t below = (top & 63) == 63 ? ~uint64_t{0} : (uint64_t{2} << (top & 63)) - 1;
        if ((word & below) == below) {  // the whole word up to top is free
          k.freed[top >> 6] &= ~below;
          k.next -= (top & 63) + 1;
          continue;
        }
        // Free blocks from top down to the highest block in use.
        const uint64_t used = ~word & below;
        const uint32_t highest_used = (top & ~63u) + (63 - __builtin_clzll(used));
        k.freed[top >> 6] &= (uint64_t{2} << (highest_used & 63)) - 1;
        k.next = highest_used + 1;
        break;
      }
      k.free.clear();
      for (uint32_t w = (k.next + 63) / 64; w-- > 0;) {
        for (uint64_t m = k.freed[w]; m != 0;) {
          const int bit = 63 - __builtin_clzll(m);
          k.free.push_back(w * 64 + bit);
          m &= ~(uint64_t{1} << bit);
        }
      }
      if (k.next == old_next) continue;
      bytes_ -= static_cast<size_t>(old_next - k.next) * block_bytes(c);
      const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
      const uintptr_t base = reinterpret_cast<uintptr_t>(k.base);
      const uintptr_t from = (base + k.next * block_bytes(c) + page - 1) & ~(page - 1);
      const uintptr_t to = (base + old_next * block_bytes(c) + page - 1) & ~(page - 1);
      if (to > from) madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
    }
  }

  T* block(int c, uint32_t id) {
    return classes_[c].base + static_cast<size_t>(id) * class_size(c);
  }

  // Memory handed out as blocks (committed at most this much).
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t block_bytes(int c) { return class_size(c) * sizeof(T); }
  size_t region_bytes() const { return max_bytes_ + block_bytes(kClasses - 1); }
  // One bit per block a class's region can hold: set while the block is free.
  size_t bitmap_bytes(int c) const { return (region_bytes() / block_bytes(c) / 64 + 1) * 8; }

  struct Class {
    T* base = nullptr;
    bool huge = false;  // huge pages asked for (once the class is large)
    std::vector<uint32_t> free;
    uint64_t* freed = nullptr;  // bitmap of the blocks in `free`
    uint32_t next = 0;          // blocks carved: ids below next
  };
  Class classes_[kClasses];
  size_t max_bytes_;
  size_t bytes_ = 0;
};

}  // namespace prtt
