// Containers for fixed-size entries addressed by 32-bit ids:
//  - ChunkedPool<T>: entries live in chunks of about 2 MB (bigmem.h) that
//    never move, so growth never copies the table (and never doubles peak
//    memory), and freed ids are reused first.
//  - FixedPool<T>: a bounded number of entries in one reservation.
//  - HashIndex: open addressing with linear probing and backward-shift
//    deletion (no tombstones), slots of (id, hash) so that probing compares
//    hashes before touching an entry.
// Both are owned and touched by the capture thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <new>
#include <random>
#include <type_traits>
#include <vector>

#include "bigmem.h"

namespace prtt {

constexpr uint32_t log2_floor(size_t v) { return v <= 1 ? 0 : 1 + log2_floor(v / 2); }

template <typename T>
class ChunkedPool {
 public:
  // About 2 MB a chunk (a power of two of entries): one transparent huge
  // page each (bigmem.h).
  static constexpr uint32_t kShift = sizeof(T) >= 2048 ? 10 : 21 - log2_floor(sizeof(T));
  static constexpr uint32_t kChunk = 1u << kShift;

  static constexpr uint32_t kNone = 0xffffffffu;

  ChunkedPool() = default;
  ChunkedPool(const ChunkedPool&) = delete;
  ChunkedPool& operator=(const ChunkedPool&) = delete;
  ~ChunkedPool() {
    for (T* c : chunks_) big_free(c, kChunk * sizeof(T));
  }

  // A free id (freed ones first), or kNone when memory for a new chunk
  // cannot be had.
  uint32_t alloc() {
    if (!free_.empty()) {
      uint32_t id = free_.back();
      free_.pop_back();
      return id;
    }
    if (next_ == chunks_.size() * kChunk) {
      void* mem = big_alloc(kChunk * sizeof(T));
      if (mem == nullptr) return kNone;
      if ((chunks_.size() + 1) * kChunk * sizeof(T) >= kHugeFrom)
        big_hugepages(mem, kChunk * sizeof(T));
      // Entries are trivially copyable plain data, zero-filled by the mapping.
      chunks_.push_back(static_cast<T*>(mem));
      free_.reserve(chunks_.size() * kChunk);
    }
    return next_++;
  }
  void free(uint32_t id) { free_.push_back(id); }
  T& operator[](uint32_t id) { return chunks_[id >> kShift][id & (kChunk - 1)]; }
  const T& operator[](uint32_t id) const { return chunks_[id >> kShift][id & (kChunk - 1)]; }
  // Ids ever handed out are [0, high_water()); freed ones are among them.
  uint32_t high_water() const { return next_; }
  // Memory the entries may occupy: committed as first touched, so at most
  // this much.
  size_t bytes() const { return static_cast<size_t>(next_) * sizeof(T); }

 private:
  static_assert(std::is_trivially_copyable<T>::value, "pool entries are plain data");
  std::vector<T*> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_ = 0;
};

// A fixed number of entries in one reservation of address space
// (bigmem.h), committed as first touched: entry i is at base + i, one
// multiply from its id. For tables whose size has a hard bound (the flow
// table evicts before it inserts past max_flows).
template <typename T>
class FixedPool {
 public:
  explicit FixedPool(uint32_t capacity) : capacity_(capacity) {
    const size_t bytes = static_cast<size_t>(capacity) * sizeof(T);
    base_ = static_cast<T*>(big_alloc(bytes));
    if (base_ == nullptr && capacity > 0) throw std::bad_alloc();
    if (bytes >= kHugeFrom) big_hugepages(base_, bytes);
  }
  FixedPool(const FixedPool&) = delete;
  FixedPool& operator=(const FixedPool&) = delete;
  ~FixedPool() { big_free(base_, static_cast<size_t>(capacity_) * sizeof(T)); }

  // A free id (freed ones first), or kNone when all capacity ids are live.
  static constexpr uint32_t kNone = 0xffffffffu;
  uint32_t alloc() {
    if (!free_.empty()) {
      uint32_t id = free_.back();
      free_.pop_back();
      return id;
    }
    if (next_ == capacity_) return kNone;
    // Free-list capacity grows ahead of the ids handed out, so free()
    // never allocates on the per-packet path.
    if (free_.capacity() < static_cast<size_t>(next_) + 1)
      free_.reserve(std::min<size_t>(capacity_, (static_cast<size_t>(next_) + 1) * 2));
    return next_++;
  }
  void free(uint32_t id) { free_.push_back(id); }
  T& operator[](uint32_t id) { return base_[id]; }
  const T& operator[](uint32_t id) const { return base_[id]; }
  uint32_t high_water() const { return next_; }
  // Memory the entries handed out may occupy.
  size_t bytes() const { return static_cast<size_t>(next_) * sizeof(T); }

 private:
  static_assert(std::is_trivially_copyable<T>::value, "pool entries are plain data");
  T* base_ = nullptr;
  uint32_t capacity_;
  std::vector<uint32_t> free_;
  uint32_t next_ = 0;
};

class HashIndex {
 public:
  static constexpr uint32_t kNotFound = 0xffffffffu;

  // expected_entries sizes nothing up front: the index starts small and
  // doubles whenever it would be more than half full, so a lookup stays a
  // short probe whatever the count. It is a hint for how large it may grow.
  explicit HashIndex(uint32_t expected_entries) {
    (void)expected_entries;
    if (!resize(1024)) throw std::bad_alloc();
  }
  HashIndex(const HashIndex&) = delete;
  HashIndex& operator=(const HashIndex&) = delete;
  ~HashIndex() { big_free(slots_, cap_ * sizeof(Slot)); }

  // eq(id) tells whether entry id holds the key being looked up.
  template <typename Eq>
  uint32_t find(uint32_t hash, Eq eq) const {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == 0) return kNotFound;
      if (s.hash == hash && eq(s.id - 1)) return s.id - 1;
    }
  }

  // Cache hint: the slot where a lookup of this hash starts.
  void prefetch(uint32_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  // The first entry of the hash's probe run with this hash (a likely match,
  // unconfirmed), or kNotFound. Reads slots only, never an entry.
  uint32_t peek(uint32_t hash) const {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == 0) return kNotFound;
      if (s.hash == hash) return s.id - 1;
    }
  }

  // False only when the index is full and the memory to grow it cannot be
  // had: the caller then does without the entry.
  bool insert(uint32_t hash, uint32_t id) {
    if ((static_cast<size_t>(count_) + 1) * 2 > cap_ && !resize(cap_ * 2) &&
        static_cast<size_t>(count_) + 1 >= cap_)
      return false;
    place(hash, id);
    ++count_;
    return true;
  }

  void erase(uint32_t hash, uint32_t id) {
    uint32_t i = hash & mask_;
    while (slots_[i].id != id + 1) {
      if (slots_[i].id == 0) return;
      i = (i + 1) & mask_;
    }
    // Backward-shift deletion: move later members of the probe run into the
    // hole whenever their home slot does not lie cyclically in (hole, j].
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask_; slots_[j].id != 0; j = (j + 1) & mask_) {
      uint32_t home = slots_[j].hash & mask_;
      bool stays = (hole <= j) ? (hole < home && home <= j) : (hole < home || home <= j);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --count_;
  }

  uint32_t size() const { return count_; }
  size_t bytes() const { return cap_ * sizeof(Slot); }

 private:
  struct Slot {
    uint32_t id = 0;  // entry id + 1; 0 marks an empty slot
    uint32_t hash = 0;
  };

  void place(uint32_t hash, uint32_t id) {
    uint32_t i = hash & mask_;
    while (slots_[i].id != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{id + 1, hash};
  }

  // Never throws (it runs on the per-packet path): false when the memory
  // cannot be had, the old table kept.
  bool resize(size_t cap) {
    Slot* fresh = static_cast<Slot*>(big_alloc(cap * sizeof(Slot)));  // zero-filled: all empty
    if (fresh == nullptr) return false;
    if (cap * sizeof(Slot) >= kHugeFrom / 2) big_hugepages(fresh, cap * sizeof(Slot));
    Slot* old = slots_;
    size_t old_cap = cap_;
    slots_ = fresh;
    cap_ = cap;
    mask_ = static_cast<uint32_t>(cap - 1);
    for (size_t i = 0; i < old_cap; ++i)
      if (old[i].id != 0) place(old[i].hash, old[i].id - 1);
    big_free(old, old_cap * sizeof(Slot));
    return true;
  }

  Slot* slots_ = nullptr;
  size_t cap_ = 0;
  uint32_t mask_ = 0;
  uint32_t count_ = 0;
};

// Keyed hashing of the indexes' fixed-size keys. Every 64-bit word of a key
// is folded in with a multiply by the golden-ratio constant (Fibonacci
// hashing) and a shift that brings high bits down, then the MurmurHash3 /
// SplitMix64 finaliser spreads the state over all 32 result bits. The seed
// is random per table (random_seed()): a sender who does not know it cannot
// aim many keys at one probe run (hash flooding). Plain functions, any
// thread.
inline uint64_t hash_fold(uint64_t h, uint64_t w) {
  h ^= w;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 32);
}
inline uint32_t hash_finish(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}
// 64 random bits from the system (getrandom(2) behind std::random_device).
inline uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace prtt
