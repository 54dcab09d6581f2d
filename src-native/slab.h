// Block pool in four size classes (4, 16, 64, 256 elements of T), used for
// per-flow outstanding-segment rings and per-host-pair sample stores. Each
// class has one region of address space as large as the whole cap
// (bigmem.h: reserved, committed as first touched, huge pages where the
// kernel gives them), so a block's address is one multiply from its id,
// blocks are recycled through free lists and the per-packet path never
// calls malloc. Total memory is capped; when the cap is reached, alloc()
// fails and the caller skips work rather than grow. Owned and touched by the
// capture thread only.
#pragma once

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
    for (int c = 0; c < kClasses; ++c) big_free(classes_[c].base, region_bytes());
  }

  // Returns a block id of class c, or kNone when the memory cap is reached.
  uint32_t alloc(int c) {
    Class& k = classes_[c];
    if (!k.free.empty()) {
      uint32_t id = k.free.back();
      k.free.pop_back();
      return id;
    }
    const size_t block = block_bytes(c);
    if (bytes_ + block > max_bytes_) return kNone;
    if (k.base == nullptr) {
      k.base = static_cast<T*>(big_alloc(region_bytes()));
      if (k.base == nullptr) return kNone;
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

  void free(int c, uint32_t id) { classes_[c].free.push_back(id); }

  T* block(int c, uint32_t id) {
    return classes_[c].base + static_cast<size_t>(id) * class_size(c);
  }

  // Memory handed out as blocks (committed at most this much).
  size_t bytes() const { return bytes_; }

 private:
  static constexpr size_t block_bytes(int c) { return class_size(c) * sizeof(T); }
  size_t region_bytes() const { return max_bytes_ + block_bytes(kClasses - 1); }

  struct Class {
    T* base = nullptr;
    bool huge = false;  // huge pages asked for (once the class is large)
    std::vector<uint32_t> free;
    uint32_t next = 0;
  };
  Class classes_[kClasses];
  size_t max_bytes_;
  size_t bytes_ = 0;
};

}  // namespace prtt
