// The RTT sampler: per-flow TCP sequence tracking that pairs outgoing
// segments with the returning ACKs (kinds data and handshake) and local pure
// ACKs with the remote's timestamp echoes (kind ts). The rules are those of
// the README's "How RTT is measured"; each is cited where it is applied.
// Owned and touched by the capture thread only.
#pragma once

#include <cstdint>

#include "decode.h"
#include "flow.h"
#include "sample.h"
#include "slab.h"

namespace prtt {

struct Taken {
  int n = 0;
  int64_t rtt[2];
  Kind kind[2];
};

class Sampler {
 public:
  Sampler(SlabPool<Segment>* segments, Counters* counters) : segs_(segments), c_(counters) {}

  // A packet from the local host. Returns true when it opens a new
  // connection on the flow (a SYN with a new ISN): the caller has reset it.
  void outgoing(Flow& f, const TcpFields& p, int64_t t, Taken* out);
  // A packet from the remote host.
  void incoming(Flow& f, const TcpFields& p, int64_t t, Taken* out);
  // Whether a SYN on this flow starts a new connection (port reuse).
  static bool new_connection(const Flow& f, const TcpFields& p, bool from_local);
  // Clears the TCP state (and frees the ring), keeping key, links and pair.
  void reset(Flow& f);
  // Frees the flow's segment memory.
  void release(Flow& f);

 private:
  Segment* at(Flow& f, uint32_t i) {
    uint32_t cap = SlabPool<Segment>::class_size(f.ring_class);
    return segs_->block(f.ring_class, f.ring_block) + ((f.ring_head + i) & (cap - 1));
  }
  void push(Flow& f, uint32_t start, uint32_t end, int64_t t, const TcpFields& p, uint8_t flags);
  void pop(Flow& f);
  void mark_retransmission(Flow& f, uint32_t start, uint32_t end, int64_t t, const TcpFields& p);
  void on_ack(Flow& f, const TcpFields& p, int64_t t, Taken* out);

  SlabPool<Segment>* segs_;
  Counters* c_;
};

}  // namespace prtt
