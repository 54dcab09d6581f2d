// The engine: everything that happens to one captured packet, in plain C++
// (no libpcap, no N-API): decode, orient by local address, flow table, RTT
// sampler, host-pair aggregates, and the report clock in packet time. Built
// by the capture thread and used by it only; results leave through the
// EngineSink it is given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "decode.h"
#include "flow_table.h"
#include "pairs.h"
#include "sample.h"
#include "sampler.h"

namespace prtt {

struct EngineOptions {
  std::vector<Addr> local;
  int64_t idle_ttl_ns = 300LL * 1000000000;
  int64_t exp_ttl_ns = 60LL * 1000000000;
  int64_t report_interval_ns = 30LL * 1000000000;
  bool soften = true;
  uint32_t max_flows = 1000000;
  bool samples = false;
  size_t segment_memory = 64u << 20;
};

class EngineSink {
 public:
  virtual ~EngineSink() = default;
  virtual void on_report(Report&& report) = 0;
  virtual void on_samples(std::vector<Sample>&& samples) = 0;
};

class Engine {
 public:
  Engine(const EngineOptions& options, EngineSink* sink);

  // One captured packet: ts in nanoseconds since the epoch.
  void packet(int linktype, int64_t ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen);
  // The wall clock moved on with no packet (live capture on an idle link).
  void tick(int64_t now);
  // Delivers pending samples and a last report covering what was not yet
  // reported (end of file, stop).
  void finish();

  const Counters& counters();
  int64_t last_time() const { return now_; }
  size_t memory_bytes() const;

 private:
  bool is_local(const Addr& a) const {
    for (const Addr& l : local_)
      if (l == a) return true;
    return false;
  }
  void advance(int64_t now);
  void expire(int64_t now);
  void remove_flow(uint32_t id);
  void emit_report(int64_t ts);
  void flush_samples();

  EngineOptions opt_;
  EngineSink* sink_;
  std::vector<Addr> local_;
  Counters c_;
  SlabPool<Segment> segments_;
  FlowTable flows_;
  PairTable pairs_;
  Sampler sampler_;
  std::vector<Sample> samples_;
  int64_t now_ = 0;
  int64_t next_report_ = 0;  // 0 until the first packet
  int64_t last_flush_ = 0;
  int64_t next_expiry_ = 0;
  bool started_ = false;
};

// Offline detection of the local address: the one address outside the
// excluded set that takes part in every TCP flow of the file.
class LocalDetector {
 public:
  void packet(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen);
  // The detected address, or false with a reason for the user.
  bool result(const std::vector<Addr>& exclude, Addr* out, std::string* why) const;

 private:
  bool any_ = false;
  std::vector<Addr> candidates_;
  uint64_t tcp_ = 0;
};

}  // namespace prtt
