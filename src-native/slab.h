// Block pool in four size classes (4, 16, 64, 256 elements of T), used for
// per-flow outstanding-segment rings and per-host-pair sample stores. Blocks
// come from chunks allocated ~256 kB at a time and are recycled through free
// lists, so the per-packet path never calls malloc. Total memory is capped;
// when the cap is reached, alloc() fails and the caller skips work rather
// than grow. Owned and touched by the capture thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace prtt {

template <typename T>
class SlabPool {
 public:
  static constexpr int kClasses = 4;
  static constexpr uint32_t kNone = 0xffffffffu;

  static constexpr uint32_t class_size(int c) { return 4u << (2 * c); }

  explicit SlabPool(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Returns a block id of class c, or kNone when the memory cap is reached.
  uint32_t alloc(int c) {
    Class& k = classes_[c];
    if (!k.free.empty()) {
      uint32_t id = k.free.back();
      k.free.pop_back();
      return id;
    }
    if (k.next == k.chunks.size() * k.per_chunk()) {
      size_t bytes = static_cast<size_t>(k.per_chunk()) * class_size(c) * sizeof(T);
      if (bytes_ + bytes > max_bytes_) return kNone;
      k.chunks.emplace_back(new T[static_cast<size_t>(k.per_chunk()) * class_size(c)]);
      bytes_ += bytes;
      // Free-list capacity grows with the chunks, so free() never allocates.
      k.free.reserve(k.chunks.size() * k.per_chunk());
    }
    return k.next++;
  }

  void free(int c, uint32_t id) { classes_[c].free.push_back(id); }

  T* block(int c, uint32_t id) {
    Class& k = classes_[c];
    uint32_t per = per_chunk_of(c);
    return k.chunks[id / per].get() + static_cast<size_t>(id % per) * class_size(c);
  }

  size_t bytes() const { return bytes_; }

 private:
  static constexpr uint32_t per_chunk_of(int c) {
    uint32_t n = static_cast<uint32_t>((256 * 1024) / (class_size(c) * sizeof(T)));
    return n == 0 ? 1 : n;
  }
  struct Class {
    explicit Class(int cls) : c(cls) {}
    int c;
    std::vector<std::unique_ptr<T[]>> chunks;
    std::vector<uint32_t> free;
    uint32_t next = 0;
    uint32_t per_chunk() const { return per_chunk_of(c); }
  };
  Class classes_[kClasses] = {Class(0), Class(1), Class(2), Class(3)};
  size_t max_bytes_;
  size_t bytes_ = 0;
};

}  // namespace prtt
