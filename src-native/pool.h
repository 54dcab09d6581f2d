// Two containers for fixed-size entries addressed by 32-bit ids:
//  - ChunkedPool<T>: entries live in 4096-entry chunks that never move, so
//    growth never copies the table (and never doubles peak memory), and
//    freed ids are reused first.
//  - HashIndex: open addressing with linear probing and backward-shift
//    deletion (no tombstones), slots of (id, hash) so that probing compares
//    hashes before touching an entry.
// Both are owned and touched by the capture thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace prtt {

template <typename T>
class ChunkedPool {
 public:
  static constexpr uint32_t kShift = 12;
  static constexpr uint32_t kChunk = 1u << kShift;

  uint32_t alloc() {
    if (!free_.empty()) {
      uint32_t id = free_.back();
      free_.pop_back();
      return id;
    }
    if (next_ == chunks_.size() * kChunk) {
      chunks_.emplace_back(new T[kChunk]());
      free_.reserve(chunks_.size() * kChunk);
    }
    return next_++;
  }
  void free(uint32_t id) { free_.push_back(id); }
  T& operator[](uint32_t id) { return chunks_[id >> kShift][id & (kChunk - 1)]; }
  const T& operator[](uint32_t id) const { return chunks_[id >> kShift][id & (kChunk - 1)]; }
  // Ids ever handed out are [0, high_water()); freed ones are among them.
  uint32_t high_water() const { return next_; }
  size_t bytes() const { return chunks_.size() * kChunk * sizeof(T); }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t next_ = 0;
};

class HashIndex {
 public:
  static constexpr uint32_t kNotFound = 0xffffffffu;

  explicit HashIndex(uint32_t max_entries) {
    // Load factor at most 1/2 at max_entries.
    max_cap_ = 16;
    while (max_cap_ < static_cast<uint64_t>(max_entries) * 2) max_cap_ <<= 1;
    resize(max_cap_ < 1024 ? max_cap_ : 1024);
  }

  // eq(id) tells whether entry id holds the key being looked up.
  template <typename Eq>
  uint32_t find(uint32_t hash, Eq eq) const {
    for (uint32_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id == 0) return kNotFound;
      if (s.hash == hash && eq(s.id - 1)) return s.id - 1;
    }
  }

  void insert(uint32_t hash, uint32_t id) {
    if ((count_ + 1) * 2 > slots_.size() && slots_.size() < max_cap_) resize(slots_.size() * 2);
    place(hash, id);
    ++count_;
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
  size_t bytes() const { return slots_.size() * sizeof(Slot); }

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

  void resize(size_t cap) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(cap, Slot{});
    mask_ = static_cast<uint32_t>(cap - 1);
    for (const Slot& s : old)
      if (s.id != 0) place(s.hash, s.id - 1);
  }

  std::vector<Slot> slots_;
  uint32_t mask_ = 0;
  uint32_t count_ = 0;
  uint64_t max_cap_;
};

// 64-bit mix (the finaliser of MurmurHash3 / SplitMix64), folded to 32 bits.
inline uint32_t mix_hash(uint64_t a, uint64_t b) {
  uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

}  // namespace prtt
