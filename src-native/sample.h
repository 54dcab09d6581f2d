// What the engine produces: RTT samples and per-host-pair report rows, and
// its counters. Plain values, copied from the capture thread to the JS
// thread through the mailbox.
#pragma once

#include <cstdint>
#include <vector>

#include "addr.h"

namespace prtt {

enum class Kind : uint8_t { kData = 0, kHandshake = 1, kTs = 2 };
constexpr int kKinds = 3;

struct Sample {
  int64_t ts_ns;  // capture time of the packet that closed the sample
  int64_t rtt_ns;
  Addr local;
  Addr remote;
  uint16_t lport;
  uint16_t rport;
  Kind kind;
};

// One host pair in one report. Times in nanoseconds; has_* false means the
// figure does not exist (no sample in the interval, or never).
struct PairRow {
  Addr local;
  Addr remote;
  uint32_t samples;
  uint32_t kinds[kKinds];
  uint32_t flows;
  uint64_t total;
  bool has_interval;
  bool has_avg;
  double last, avg, jitter, min, max, p50, p95, p99;
};

struct Report {
  int64_t ts_ns;  // end of the interval in packet time
  std::vector<PairRow> rows;
};

struct Counters {
  uint64_t packets = 0;
  uint64_t tcp = 0;
  uint64_t not_tcp = 0;
  uint64_t malformed = 0;
  uint64_t fragments = 0;
  uint64_t not_local = 0;
  uint64_t flows_active = 0;
  uint64_t flows_created = 0;
  uint64_t flows_evicted = 0;
  uint64_t flows_expired = 0;
  uint64_t host_pairs = 0;
  uint64_t samples[kKinds] = {0, 0, 0};
  uint64_t karn_refused = 0;
  uint64_t segments_skipped = 0;
  uint64_t retransmissions = 0;
  uint64_t pcap_received = 0;
  uint64_t pcap_dropped = 0;
  uint64_t pcap_if_dropped = 0;
  uint64_t batches_folded = 0;
  uint64_t samples_dropped = 0;
  uint64_t reports_dropped = 0;  // live reports dropped: JavaScript blocked that long
  uint64_t outside_window = 0;   // packets outside the sampling windows
  uint64_t reports = 0;
};

}  // namespace prtt
