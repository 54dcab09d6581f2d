// The engine: everything that happens to one captured packet, in plain C++
// (no libpcap, no N-API): decode, orient by local address, flow table, RTT
// sampler, host-pair aggregates, and the report clock in packet time. Built
// by the capture thread and used by it only; results leave through the
// EngineSink it is given.
#pragma once

#include <cstdint>
#include <cstring>
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
  // go-metro's sampling, in packet time: capture for sample_window_ns, then
  // skip sample_gap_ns, from the first packet on. 0: every packet.
  int64_t sample_window_ns = 0;
  int64_t sample_gap_ns = 0;
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

  // One captured packet: ts in nanoseconds since the epoch. The packet is
  // decoded at once (data need not outlive the call) and its flow state is
  // worked on kBatch - 1 packets later, when the cache lines it needs have
  // arrived; flush() works off the batch. Reports and samples therefore
  // reach the sink in packet order, up to kBatch - 1 packets late.
  void packet(int linktype, int64_t ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen);
  // Works off every packet still in the batch (the end of a pcap_dispatch
  // call).
  void flush();
  // The wall clock moved on with no packet (live capture on an idle link).
  void tick(int64_t now);
  // Delivers pending samples and a last report covering what was not yet
  // reported (end of file, stop).
  void finish();

  // Counters as of every packet given so far (flushes the batch).
  const Counters& counters();
  int64_t last_time() const { return now_; }
  size_t memory_bytes() const;

  // Packets between the decode of a packet and the work on its flow: long
  // enough for a prefetch from memory to land (a flow table of a million
  // flows is far larger than any cache), short enough to stay in L1.
  static constexpr uint32_t kBatch = 8;

 private:
  // A decoded packet waiting in the batch.
  struct Pending {
    TcpPacket p;
    FlowKey key;  // oriented local -> remote, when ours
    int64_t ts;
    uint32_t hash;  // of the key, when ours
    Decoded kind;
    bool ours;  // kTcp with a local address at one end
    bool from_local;
    bool new_window;  // the first packet of a sampling window after a gap
  };

  // Whether the packet's source and destination are local addresses, as
  // two bits (1: source, 2: destination). No early exit: which end is local
  // changes from packet to packet, so branches would mispredict.
  unsigned locality(const TcpPacket& p) const {
    unsigned bits = 0;
    if (!p.v6) {
      uint32_t s, d;
      std::memcpy(&s, p.src.b + 12, 4);
      std::memcpy(&d, p.dst.b + 12, 4);
      // Most hosts have one IPv4 address: test it without a loop.
      bits = (local4_first_ == s ? 1u : 0u) | (local4_first_ == d ? 2u : 0u);
      for (size_t i = 1; i < local4_.size(); ++i) {
        bits |= (local4_[i] == s ? 1u : 0u) | (local4_[i] == d ? 2u : 0u);
      }
      return local4_.empty() ? 0 : bits;
    }
    for (const Addr& l : local_) bits |= (l == p.src ? 1u : 0u) | (l == p.dst ? 2u : 0u);
    return bits;
  }
  void process(Pending& q);
  // Whether a packet stamped ts falls in a sampling window; notes a new
  // window in q.
  bool in_window(int64_t ts, Pending& q);
  void advance(int64_t now);
  void expire(int64_t now);
  void remove_flow(uint32_t id);
  void emit_report(int64_t ts);
  void flush_samples();

  EngineOptions opt_;
  EngineSink* sink_;
  std::vector<Addr> local_;
  std::vector<uint32_t> local4_;  // the IPv4 ones, as stored in Addr bytes 12..15
  uint32_t local4_first_ = 0;     // local4_[0], or 0
  Counters c_;
  SlabPool<Segment> segments_;
  FlowTable flows_;
  PairTable pairs_;
  Sampler sampler_;
  std::vector<Sample> samples_;
  Pending batch_[kBatch];
  uint32_t batch_head_ = 0;  // oldest pending packet
  uint32_t batch_count_ = 0;
  int64_t now_ = 0;
  // The next time at which advance() has work: a report, expiry, a samples
  // flush. One comparison per packet on the common path.
  int64_t next_event_ = 0;
  int64_t next_report_ = 0;
  int64_t last_flush_ = 0;
  int64_t next_expiry_ = 0;
  bool started_ = false;
  bool window_started_ = false;
  int64_t window_origin_ = 0;  // first packet's time (sampling)
  int64_t window_index_ = -1;  // the latest window a packet fell in
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
