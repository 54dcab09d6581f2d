// A bounded queue of fixed-size entries from exactly one producer thread to
// exactly one consumer thread (the capture thread and the engine thread).
// Entries are written and read in place. Each side publishes its index in
// batches (every kPublishEvery entries, or on demand), so that the two
// threads do not pass cache lines back and forth on every entry. A side
// with nothing to do spins for a short while (the other side is usually
// microseconds away), then sleeps on a futex(2) word; the other side wakes
// it only when it sleeps, so a busy pipeline makes no system calls.
// The producer's methods belong to the producer thread, the consumer's to
// the consumer thread; nothing else is safe to call concurrently.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "clock.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace prtt {

namespace spsc_detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins for up to ns nanoseconds until ready() holds; whether it did.
template <typename Ready>
bool spin(int64_t ns, Ready ready) {
  const int64_t until = mono_ns() + ns;
  for (uint32_t i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if ((i & 63) == 63 && mono_ns() > until) return false;
  }
}

// futex(2): sleep while *word == expected (checked atomically by the
// kernel, so a change made just before the call is never missed).
inline void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
inline void futex_wake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace spsc_detail

template <typename T, uint32_t N>
class SpscRing {
  static_assert((N & (N - 1)) == 0 && N >= 64, "N: a power of two, at least 64");

 public:
  static constexpr uint32_t kPublishEvery = 256;
  static constexpr uint32_t kReadAhead = 16;
  // How long a side with nothing to do spins before it sleeps.
  static constexpr int64_t kSpinNs = 50000;

  SpscRing() : slots_(new T[N]) {}  // aligned as T asks (C++17 aligned new)
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // --- producer thread
  // The next slot to write; waits while the ring is full.
  T& slot() {
    if (tail_local_ - head_seen_ == N) wait_room();
    return slots_[tail_local_ & (N - 1)];
  }
  // The slot from slot() is written: it becomes visible with the next
  // publication.
  void commit() {
    ++tail_local_;
    if (tail_local_ - tail_published_ >= kPublishEvery) publish();
  }
  // slot(), a copy of v, commit(). On x86 the copy is made with
  // non-temporal stores (MOVNTDQ, SSE2): the slot's line was last read by
  // the consumer's core, and an ordinary store would first fetch it back
  // (a read for ownership) and wait on that; these write it whole without
  // reading it. They are weakly ordered, so publish() fences them (SFENCE)
  // before the consumer is shown the new tail. Where T has a line to itself
  // (alignas(64), a multiple of 64 bytes) each put fills whole lines.
  void put(const T& v) {
    T& d = slot();
#if defined(__SSE2__)
    static_assert(sizeof(T) % 16 == 0 && alignof(T) >= 16, "put() stores 16-byte blocks");
    const __m128i* from = reinterpret_cast<const __m128i*>(&v);
    __m128i* to = reinterpret_cast<__m128i*>(&d);
    for (size_t i = 0; i < sizeof(T) / 16; ++i) _mm_stream_si128(to + i, _mm_load_si128(from + i));
#else
    d = v;
#endif
    commit();
  }
  // Makes every committed entry visible to the consumer now.
  void publish() {
    if (tail_local_ == tail_published_) return;
#if defined(__SSE2__)
    _mm_sfence();  // put()'s stores are weakly ordered (Intel SDM vol. 2, MOVNTDQ)
#endif
    tail_published_ = tail_local_;
    tail_.store(tail_local_, std::memory_order_seq_cst);
    // Pairs with the consumer's store to consumer_asleep_ then load of
    // tail_ (both seq_cst): either it sees the new tail, or we see it
    // asleep.
    if (consumer_asleep_.load(std::memory_order_seq_cst)) spsc_detail::futex_wake(&tail_);
  }

  // --- consumer thread
  // The oldest published entry, or nullptr when there is none.
  T* front() {
    if (head_local_ == tail_seen_) {
      tail_seen_ = tail_.load(std::memory_order_acquire);
      if (head_local_ == tail_seen_) return nullptr;
    }
    // The entries were written on another core: ask for one a few ahead
    // (published ones only, so as not to take a line the producer is
    // still writing).
    if (tail_seen_ - head_local_ > kReadAhead)
      __builtin_prefetch(&slots_[(head_local_ + kReadAhead) & (N - 1)]);
    return &slots_[head_local_ & (N - 1)];
  }
  // Done with the entry front() returned.
  void pop() {
    ++head_local_;
    if (head_local_ - head_published_ >= kPublishEvery) publish_head();
  }
  // Waits until front() has an entry. before_sleep() runs once if the wait
  // is going to sleep (the consumer finishes work it was holding back).
  template <typename Fn>
  void wait(Fn before_sleep) {
    publish_head();
    if (spsc_detail::spin(kSpinNs, [this] { return front() != nullptr; })) return;
    before_sleep();
    publish_head();
    for (;;) {
      consumer_asleep_.store(1, std::memory_order_seq_cst);
      const uint32_t t = tail_.load(std::memory_order_seq_cst);
      if (t != head_local_) break;
      spsc_detail::futex_wait(&tail_, t);
    }
    consumer_asleep_.store(0, std::memory_order_relaxed);
  }

 private:
  void publish_head() {
    if (head_local_ != head_published_) {
      head_published_ = head_local_;
      head_.store(head_local_, std::memory_order_seq_cst);
    }
    // Wake a producer waiting for room only once half the ring is free, so
    // that it wakes once per N/2 entries, not once per publication.
    if (producer_asleep_.load(std::memory_order_seq_cst) && tail_seen_ - head_local_ <= N / 2)
      spsc_detail::futex_wake(&head_);
  }

  void wait_room() {
    publish();
    if (spsc_detail::spin(kSpinNs, [this] {
          head_seen_ = head_.load(std::memory_order_acquire);
          return tail_local_ - head_seen_ < N;
        }))
      return;
    for (;;) {
      producer_asleep_.store(1, std::memory_order_seq_cst);
      const uint32_t h = head_.load(std::memory_order_seq_cst);
      head_seen_ = h;
      if (tail_local_ - h < N) break;
      spsc_detail::futex_wait(&head_, h);
    }
    producer_asleep_.store(0, std::memory_order_relaxed);
  }

  // Indices run freely (mod 2^32, a multiple of N). Each side's own
  // counters sit on a cache line of their own, the shared words on others.
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<uint32_t> tail_{0};  // published by the producer
  std::atomic<uint32_t> producer_asleep_{0};
  alignas(64) std::atomic<uint32_t> head_{0};  // published by the consumer
  std::atomic<uint32_t> consumer_asleep_{0};
  alignas(64) uint32_t tail_local_ = 0;  // producer's own
  uint32_t tail_published_ = 0;
  uint32_t head_seen_ = 0;
  alignas(64) uint32_t head_local_ = 0;  // consumer's own
  uint32_t head_published_ = 0;
  uint32_t tail_seen_ = 0;
};

}  // namespace prtt
