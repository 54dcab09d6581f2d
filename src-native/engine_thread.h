// The engine on a thread of its own. The capture thread reads each packet
// from libpcap, decodes it (decode_packet) and orients it (LocalSet); an
// SpscRing carries the oriented headers, in capture order, to the engine thread, which does the
// rest (flow table, sampler, host pairs, reports). The two halves cost
// about the same per packet, so on a machine with two cores to spare the
// pipeline takes packets about 1.7 times as fast as one thread doing both
// (10k flows), for about the same CPU time in all. Results are the same as
// with Engine alone: one consumer, in order.
//
// Threads: the methods below belong to the capture thread (the producer),
// except as noted; the Engine and everything it calls (its EngineSink, the
// Mailbox's publish) run on the engine thread from start() until finish()
// returns.
#pragma once

#include <cstdint>
#include <mutex>
#include <thread>

#include "decode.h"
#include "engine.h"
#include "mailbox.h"
#include "spsc_ring.h"

namespace prtt {

// pcap_stats(3PCAP) as the capture thread read them, for a publication.
struct PcapCounts {
  bool valid = false;
  uint64_t received = 0;
  uint64_t dropped = 0;
  uint64_t if_dropped = 0;
  // Into the counters of a publication, when read.
  void apply(Counters* c) const {
    if (!valid) return;
    c->pcap_received = received;
    c->pcap_dropped = dropped;
    c->pcap_if_dropped = if_dropped;
  }
};

class EngineThread {
 public:
  // engine: used on the engine thread only once started. mailbox: where
  // counters are published (may be null: none are).
  EngineThread(Engine* engine, Mailbox* mailbox)
      : engine_(engine), mailbox_(mailbox), locals_(engine->locals()) {}
  ~EngineThread() { finish(PcapCounts{}); }
  EngineThread(const EngineThread&) = delete;
  EngineThread& operator=(const EngineThread&) = delete;

  void start();

  void packet(int linktype, int64_t ts, const uint8_t* data, uint32_t caplen, uint32_t wirelen) {
    put_staged();
    Endpoints ends;
    const Decoded kind = decode_packet(linktype, data, caplen, wirelen, &staged_.o.tcp, &ends);
    locals_.orient(kind, ends, &staged_.o);
    staged_.ts = ts;
    staged_.what = Entry::kPacket;
    has_staged_ = true;
  }
  // The end of a pcap_dispatch batch: what is queued goes to the engine now
  // (a live capture must not hold packets back for the next batch).
  void flush() {
    put_staged();
    ring_.publish();
  }
  // Engine::tick on the engine thread.
  void tick(int64_t now);
  // Publishes the engine's counters, with these pcap counts, to the mailbox.
  void publish(const PcapCounts& pcap);
  // Engine::finish, a last publication, and the end of the engine thread;
  // returns once it has ended. Idempotent.
  void finish(const PcapCounts& pcap);

 private:
  // One cache line: the reader writes each line once, whole, the engine
  // thread reads it once.
  struct alignas(64) Entry {
    enum What : uint8_t { kPacket, kTick, kPublish, kFinish };
    int64_t ts;  // the packet's, or the tick's
    Oriented o;
    What what;
  };
  static_assert(sizeof(Entry) == 64, "an entry must fill one cache line");
  // 16384 entries of 64 bytes (1 MB): about a millisecond of packets at
  // full speed, enough to ride out the engine's occasional slower packet (a
  // report, an expiry sweep) without stalling the reader. The reader writes
  // its lines without reading them first (SpscRing::put), so where they
  // were last cached does not matter; 4096 and 65536 entries ran as fast.
  using Ring = SpscRing<Entry, 16384>;

  void control(Entry::What what, int64_t ts, const PcapCounts& pcap);
  // The staged packet into the ring (SpscRing::put), if there is one.
  void put_staged() {
    if (has_staged_) ring_.put(staged_);
    has_staged_ = false;
  }
  PcapCounts take_pcap();
  void run();
  void publish_counters(const PcapCounts& pcap);

  Engine* engine_;
  Mailbox* mailbox_;
  // The capture thread's own copy of the engine's local addresses: the
  // engine's sits beside counters the engine thread writes on every packet,
  // and reading it from here would take that cache line back each time.
  const LocalSet locals_;
  Ring ring_;
  // The latest packet, decoded and oriented, which goes into the ring when
  // the next one comes (or at flush() or a control entry). put() reads it in
  // 16-byte blocks, and right after the decoder's narrower stores such a
  // load would wait for them to drain (a store cannot forward to a load
  // wider than itself); one packet later they have. Capture thread only.
  Entry staged_;
  bool has_staged_ = false;
  std::thread thread_;
  // The pcap counts of the latest kPublish or kFinish (a publication only
  // ever needs the newest).
  std::mutex pcap_mu_;
  PcapCounts pcap_;
};

}  // namespace prtt
