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
#include "orient.h"
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
  // The same for a packet decoded and oriented elsewhere (on the capture
  // thread when the engine has a thread of its own: EngineThread), with
  // this engine's locals().
  void oriented(int64_t ts, const Oriented& o);
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
  // The local addresses, as oriented packets name them.
  const LocalSet& locals() const { return locals_; }

  // Packets between the decode of a packet and the work on its flow: long
  // enough for a prefetch from memory to land (a flow table of a million
  // flows is far larger than any cache), short enough to stay in L1.
  static constexpr uint32_t kBatch = 8;

 private:
  // A decoded packet waiting in the batch.
  struct Pending {
    Oriented o;
    FlowKey key;  // when o.ours
    int64_t ts;
    uint32_t hash;  // of the key, when o.ours
    // The flow the index most likely holds for the key (stage 2), and the
    // flow table's removal count then: if no flow was removed since and
    // the entry holds the key, the lookup needs no second probe.
    uint32_t hint;
    uint32_t hint_removals;
    bool new_window;  // the first packet of a sampling window after a gap
  };

  // Whether a packet stamped ts is taken (sampling windows), q readied.
  bool admit(int64_t ts, Pending& q);
  // Stages 1 to 4 of an oriented packet (q.ts and q.o set); the key is
  // read from `from`: q.o itself, or the entry q.o was copied from.
  void stage(Pending& q, const Oriented& from);
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
  LocalSet locals_;
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
