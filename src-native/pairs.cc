#include "pairs.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace prtt {
namespace {

constexpr int kRawClasses = SlabPool<float>::kClasses;
constexpr uint32_t kRawMax = SlabPool<float>::class_size(kRawClasses - 1);

}  // namespace

uint32_t PairTable::pair_hash(const Addr& l, const Addr& r) const {
  uint64_t h = hash_fold(seed_, l.hi());
  h = hash_fold(h, l.lo());
  h = hash_fold(h, r.hi());
  h = hash_fold(h, r.lo());
  return hash_finish(h);
}

int hist_bucket(uint64_t ns) {
  // Bucket row 0 holds [0, 1024) ns in 16 ns steps; row k >= 1 holds the
  // octave [2^(9+k), 2^(10+k)) in 64 steps.
  if (ns < (1ull << kHistMinExp)) return static_cast<int>(ns >> (kHistMinExp - 6));
  int e = 63 - __builtin_clzll(ns);
  if (e >= kHistMaxExp) return kHistBuckets - 1;
  int sub = static_cast<int>((ns >> (e - 6)) & (kHistSub - 1));
  return (e - kHistMinExp + 1) * kHistSub + sub;
}

double hist_value(int bucket) {
  int row = bucket / kHistSub;
  int sub = bucket % kHistSub;
  if (row == 0) return (sub + 0.5) * 16.0;
  int e = row - 1 + kHistMinExp;
  return std::ldexp(1.0, e) + (sub + 0.5) * std::ldexp(1.0, e - 6);
}

// Sample stores: up to 256 raw values (float nanoseconds: 24 significant
// bits) per interval in slab blocks (64 MB at most), then a dense histogram. Raw values keep
// percentiles exact for the common case of few samples per pair and interval.
PairTable::PairTable(bool soften, uint32_t max_pairs, size_t sample_memory)
    : soften_(soften), seed_(random_seed()), index_(max_pairs), raw_(sample_memory) {}

size_t PairTable::bytes() const {
  return pairs_.bytes() + index_.bytes() + raw_.bytes() + dense_.size() * kHistBuckets * 4;
}

uint32_t PairTable::acquire(const Addr& local, const Addr& remote) {
  uint32_t h = pair_hash(local, remote);
  uint32_t id = index_.find(h, [&](uint32_t i) {
    const Pair& p = pairs_[i];
    return p.local == local && p.remote == remote;
  });
  if (id == HashIndex::kNotFound) {
    id = pairs_.alloc();
    if (id == ChunkedPool<Pair>::kNone) return kNoPair;
    Pair& p = pairs_[id];
    std::memset(&p, 0, sizeof p);
    p.local = local;
    p.remote = remote;
    p.hash = h;
    p.in_use = true;
    p.store = SlabPool<float>::kNone;
    if (!index_.insert(h, id)) {
      p.in_use = false;
      pairs_.free(id);
      return kNoPair;
    }
  }
  pairs_[id].flows++;
  return id;
}

void PairTable::free_pair(uint32_t id) {
  Pair& p = pairs_[id];
  clear_store(p);
  index_.erase(p.hash, id);
  p.in_use = false;
  pairs_.free(id);
}

void PairTable::release(uint32_t id) {
  Pair& p = pairs_[id];
  if (p.flows > 0) p.flows--;
  if (p.flows == 0 && p.n == 0) free_pair(id);
}

void PairTable::clear_store(Pair& p) {
  if (p.store == SlabPool<float>::kNone) return;
  if (p.dense) {
    dense_free_.push_back(p.store);
  } else {
    raw_.free(p.store_class, p.store);
  }
  p.store = SlabPool<float>::kNone;
  p.dense = false;
  p.store_class = 0;
}

void PairTable::record(Pair& p, double rtt_ns) {
  uint32_t i = p.n - 1;  // index of this sample in the interval
  if (p.dense) {
    dense_[p.store][hist_bucket(static_cast<uint64_t>(rtt_ns))]++;
    return;
  }
  // At the memory cap a sample cannot be stored; the store then no longer
  // holds the interval's first n samples, so it is given up for the rest of
  // the interval and the percentiles come from min and max.
  if (p.lost) return;
  if (p.store == SlabPool<float>::kNone) {
    p.store = raw_.alloc(0);
    p.store_class = 0;
    if (p.store == SlabPool<float>::kNone) {
      p.lost = true;
      return;
    }
  } else if (i >= SlabPool<float>::class_size(p.store_class)) {
    if (i < kRawMax) {
      int c = p.store_class + 1;
      uint32_t nb = raw_.alloc(c);
      if (nb != SlabPool<float>::kNone) {
        std::memcpy(raw_.block(c, nb), raw_.block(p.store_class, p.store), i * sizeof(float));
        raw_.free(p.store_class, p.store);
        p.store = nb;
        p.store_class = static_cast<uint8_t>(c);
      } else {
        clear_store(p);
        p.lost = true;
        return;
      }
    } else {
      // Past the largest raw block: fold the raw values into a histogram.
      uint32_t d;
      if (!dense_free_.empty()) {
        d = dense_free_.back();
        dense_free_.pop_back();
      } else {
        d = static_cast<uint32_t>(dense_.size());
        dense_.emplace_back(new uint32_t[kHistBuckets]);
      }
      uint32_t* h = dense_[d].get();
      std::memset(h, 0, kHistBuckets * sizeof(uint32_t));
      const float* raw = raw_.block(p.store_class, p.store);
      for (uint32_t k = 0; k < i; ++k) h[hist_bucket(static_cast<uint64_t>(raw[k]))]++;
      raw_.free(p.store_class, p.store);
      p.store = d;
      p.dense = true;
      h[hist_bucket(static_cast<uint64_t>(rtt_ns))]++;
      return;
    }
  }
  raw_.block(p.store_class, p.store)[i] = static_cast<float>(rtt_ns);
}

void PairTable::add(uint32_t id, int64_t rtt_ns, Kind kind) {
  Pair& p = pairs_[id];
  double r = static_cast<double>(rtt_ns);
  p.n++;
  p.total++;
  p.kinds[static_cast<int>(kind)]++;
  if (p.n == 1) {
    p.min = p.max = r;
  } else {
    p.min = std::min(p.min, r);
    p.max = std::max(p.max, r);
  }
  p.last = r;
  if (soften_) {
    // RFC 6298 §2.2 and §2.3: RTTVAR is updated with the old SRTT first.
    if (!p.has_avg) {
      p.avg = r;
      p.var = r / 2;
    } else {
      p.var = 0.75 * p.var + 0.25 * std::fabs(p.avg - r);
      p.avg = 0.875 * p.avg + 0.125 * r;
    }
  } else {
    // go-metro with soften off: the running mean of the samples, and the
    // running mean of the absolute difference between consecutive samples.
    if (!p.has_avg) {
      p.avg = r;
      p.var = 0;
    } else {
      p.avg += (r - p.avg) / static_cast<double>(p.total);
      double d = std::fabs(r - p.prev);
      p.var += (d - p.var) / static_cast<double>(p.total - 1);
    }
    p.prev = r;
  }
  p.has_avg = true;
  record(p, r);
}

// Nearest-rank percentiles p50, p95 and p99 (the values at ranks
// ceil(q·n)), exact over raw values, within 1 % over a histogram, always
// inside [min, max]. A histogram is walked once for the three ranks (they
// ascend), from the lowest bucket a sample of the interval can be in: that
// of the minimum, or of the minimum as a float if lower (the raw values
// folded into a histogram were floats; hist_bucket() and float rounding are
// both monotonic). Three scans of every bucket from the first took about
// 2 of the 5-6 ms the engine spent on a report of 2000 pairs.
void PairTable::percentiles(const Pair& p, const std::vector<float>& sorted, double out[3]) const {
  static constexpr double kQ[3] = {0.50, 0.95, 0.99};
  uint32_t rank[3];
  for (int k = 0; k < 3; ++k) {
    uint32_t r = static_cast<uint32_t>(std::ceil(kQ[k] * p.n));
    rank[k] = std::min(std::max(r, 1u), p.n);
  }
  double v[3];
  if (p.dense) {
    const uint32_t* h = dense_[p.store].get();
    int b = std::min(hist_bucket(static_cast<uint64_t>(p.min)),
                     hist_bucket(static_cast<uint64_t>(static_cast<float>(p.min))));
    uint64_t cum = 0;
    for (int k = 0; k < 3; ++k) {
      // The counts add up to n, so each rank is reached by the last bucket.
      while (b < kHistBuckets && cum + h[b] < rank[k]) cum += h[b++];
      v[k] = hist_value(b);
    }
  } else {
    for (int k = 0; k < 3; ++k) {
      if (!sorted.empty()) {
        v[k] = static_cast<double>(sorted[std::min<size_t>(rank[k], sorted.size()) - 1]);
      } else {
        v[k] = kQ[k] >= 0.5 ? p.max : p.min;
      }
    }
  }
  for (int k = 0; k < 3; ++k) out[k] = std::min(p.max, std::max(p.min, v[k]));
}

void PairTable::report(std::vector<PairRow>* rows) {
  uint32_t hw = pairs_.high_water();
  for (uint32_t id = 0; id < hw; ++id) {
    Pair& p = pairs_[id];
    if (!p.in_use) continue;
    if (p.n == 0 && p.flows == 0) continue;
    PairRow row;
    std::memset(&row, 0, sizeof row);
    row.local = p.local;
    row.remote = p.remote;
    row.samples = p.n;
    std::memcpy(row.kinds, p.kinds, sizeof row.kinds);
    row.flows = p.flows;
    row.total = p.total;
    row.has_avg = p.has_avg;
    row.avg = p.avg;
    row.jitter = p.var;
    if (p.n > 0) {
      row.has_interval = true;
      row.last = p.last;
      row.min = p.min;
      row.max = p.max;
      scratch_.clear();
      if (!p.dense && p.store != SlabPool<float>::kNone) {
        const float* raw = raw_.block(p.store_class, p.store);
        uint32_t kept = std::min<uint32_t>(p.n, SlabPool<float>::class_size(p.store_class));
        scratch_.assign(raw, raw + kept);
        std::sort(scratch_.begin(), scratch_.end());
      }
      double q[3];
      percentiles(p, scratch_, q);
      row.p50 = q[0];
      row.p95 = q[1];
      row.p99 = q[2];
    }
    rows->push_back(row);
    p.n = 0;
    std::memset(p.kinds, 0, sizeof p.kinds);
    clear_store(p);
    p.lost = false;
    if (p.flows == 0) free_pair(id);
  }
  // Every interval's stores were just freed: the next interval starts from
  // an empty sample memory, whatever sizes the last one needed.
  raw_.trim();
}

}  // namespace prtt
