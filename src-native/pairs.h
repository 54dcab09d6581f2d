// Host-pair aggregates: per (local address, remote address), the samples of
// the current report interval (count, last, min, max, percentiles through a
// sample store) and the smoothed figures kept for the pair's lifetime.
// Owned and touched by the capture thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "addr.h"
#include "pool.h"
#include "sample.h"
#include "slab.h"

namespace prtt {

class PairTable {
 public:
  // soften: RFC 6298 SRTT/RTTVAR (true) or running means (false).
  // sample_memory: the cap on raw sample stores (slab.h).
  PairTable(bool soften, uint32_t max_pairs, size_t sample_memory = 64u << 20);

  static constexpr uint32_t kNoPair = 0xffffffffu;

  // Finds or creates the pair and counts one more live flow on it; kNoPair
  // when the system has no memory for a new one.
  uint32_t acquire(const Addr& local, const Addr& remote);
  // One flow of the pair ended. The pair is freed once it has neither live
  // flows nor unreported samples.
  void release(uint32_t id);
  void add(uint32_t id, int64_t rtt_ns, Kind kind);
  // Appends a row for every pair with samples in the interval or live flows,
  // then starts a new interval.
  void report(std::vector<PairRow>* rows);

  uint32_t size() const { return index_.size(); }
  // Cache hint: the pair's entry, before add().
  void prefetch(uint32_t id) const {
    if (id < pairs_.high_water()) __builtin_prefetch(&pairs_[id]);
  }
  size_t bytes() const;

 private:
  struct Pair {
    Addr local;
    Addr remote;
    uint32_t hash;
    uint32_t flows;
    bool in_use;
    bool has_avg;
    bool dense;
    bool lost;  // a sample of this interval found no memory: no percentiles from the store
    uint8_t store_class;
    uint32_t store;  // block id in raw_ (or dense_ index), SlabPool::kNone if none
    uint32_t n;      // samples this interval
    uint32_t kinds[kKinds];
    uint64_t total;  // samples in the pair's life
    double last, min, max;
    double avg, var;  // SRTT/RTTVAR, or mean / mean |difference|
    double prev;
  };

  void record(Pair& p, double rtt_ns);
  void clear_store(Pair& p);
  // p50, p95 and p99 of the interval, from the sorted raw values or the
  // histogram.
  void percentiles(const Pair& p, const std::vector<float>& sorted, double out[3]) const;
  void free_pair(uint32_t id);

  uint32_t pair_hash(const Addr& l, const Addr& r) const;

  bool soften_;
  uint64_t seed_;  // of the pair hash (random_seed())
  ChunkedPool<Pair> pairs_;
  HashIndex index_;
  SlabPool<float> raw_;                             // raw samples, nanoseconds
  std::vector<std::unique_ptr<uint32_t[]>> dense_;  // log histograms
  std::vector<uint32_t> dense_free_;
  std::vector<float> scratch_;
};

// Log-linear histogram of nanosecond values (the HdrHistogram layout): each
// power of two from 2^10 ns (~1 µs) to 2^36 ns (~69 s) is cut into 64 equal
// buckets (below 1 µs: 16 ns steps), so a bucket's middle is within 1/128 (0.8 %) of every value in
// it. Integer arithmetic only: no log() per sample.
constexpr int kHistSub = 64;
constexpr int kHistMinExp = 10;
constexpr int kHistMaxExp = 36;
constexpr int kHistBuckets = (kHistMaxExp - kHistMinExp + 1) * kHistSub;
int hist_bucket(uint64_t ns);
double hist_value(int bucket);  // nanoseconds

}  // namespace prtt
