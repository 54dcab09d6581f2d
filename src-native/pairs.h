// Host-pair aggregates: per (local address, remote address), the samples of
// the current report interval (count, last, min, max, percentiles through a
// sample store) and the smoothed figures kept for the pair's lifetime.
// Owned and touched by the capture thread only.
#pragma once

#include <cstdint>
#include <vector>

#include "addr.h"
#include "pool.h"
#include "sample.h"
#include "slab.h"

namespace prtt {

class PairTable {
 public:
  // soften: RFC 6298 SRTT/RTTVAR (true) or running means (false).
  PairTable(bool soften, uint32_t max_pairs);

  // Finds or creates the pair and counts one more live flow on it.
  uint32_t acquire(const Addr& local, const Addr& remote);
  // One flow of the pair ended. The pair is freed once it has neither live
  // flows nor unreported samples.
  void release(uint32_t id);
  void add(uint32_t id, int64_t rtt_ns, Kind kind);
  // Appends a row for every pair with samples in the interval or live flows,
  // then starts a new interval.
  void report(std::vector<PairRow>* rows);

  uint32_t size() const { return index_.size(); }
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
    uint8_t store_class;
    uint32_t store;        // block id in raw_ (or dense_ index), SlabPool::kNone if none
    uint32_t n;            // samples this interval
    uint32_t kinds[kKinds];
    uint64_t total;        // samples in the pair's life
    double last, min, max;
    double avg, var;       // SRTT/RTTVAR, or mean / mean |difference|
    double prev;
  };

  void record(Pair& p, double rtt_ns);
  void clear_store(Pair& p);
  double percentile(Pair& p, double q, std::vector<float>& scratch);
  void free_pair(uint32_t id);

  bool soften_;
  ChunkedPool<Pair> pairs_;
  HashIndex index_;
  SlabPool<float> raw_;                       // raw samples, microseconds
  std::vector<std::unique_ptr<uint32_t[]>> dense_;  // log histograms
  std::vector<uint32_t> dense_free_;
  std::vector<float> scratch_;
};

// Log-bucket histogram geometry: bucket i holds [1.02^i, 1.02^(i+1)) µs; its
// geometric middle is within 1 % of every value in it. 906 buckets span
// 1 µs to 60 s.
constexpr int kHistBuckets = 906;
int hist_bucket(double us);
double hist_value(int bucket);

}  // namespace prtt
