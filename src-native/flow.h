// Per-flow state. A flow is one TCP connection (5-tuple) oriented local ->
// remote. Entries have a fixed size; the variable part (outstanding
// segments) lives in a SlabPool block the flow points to. Owned and touched
// by the capture thread only.
#pragma once

#include <cstdint>

#include "addr.h"

namespace prtt {

// One outstanding outgoing segment: sequence space [start, end), sent at
// ring_base + t_off nanoseconds, with the TSval it carried.
struct Segment {
  uint32_t start;
  uint32_t end;
  uint32_t t_off;
  uint32_t tsval;
  uint8_t flags;
};

enum SegmentFlags : uint8_t {
  kSegSyn = 1,      // a SYN or SYN/ACK: a handshake sample, never disambiguated
  kSegRetx = 2,     // sent more than once (Karn)
  kSegPartial = 4,  // a partial ACK already timed it
  kSegTs = 8,       // carried a TSval
};

enum FlowState : uint16_t {
  kSndInit = 1 << 0,      // snd_una / snd_max are known
  kRcvInit = 1 << 1,      // rcv_max is known
  kIsnLocal = 1 << 2,
  kIsnRemote = 1 << 3,
  kClosed = 1 << 4,       // FIN or RST seen: expires exp_ttl after its last packet
  kRxValid = 1 << 5,      // rx_* describe the latest retransmission
  kRxTs = 1 << 6,         // ... and it carried a TSval
  kTsPending = 1 << 7,    // a timestamp-echo sample is open
  kTsConfirmed = 1 << 8,  // ... and the remote was sending when it opened
  kLastTsval = 1 << 9,    // last_tsval is valid
};

constexpr uint32_t kNil = 0xffffffffu;

// Field order is access order: the first cache line holds the key and the
// sequence state every packet reads; the second the times and links.
struct Flow {
  Addr local;
  Addr remote;
  uint16_t lport;
  uint16_t rport;
  uint32_t hash;
  uint16_t state;
  uint8_t dupacks;
  uint8_t ring_class;
  uint16_t ring_head;
  uint16_t ring_count;
  // Local -> remote sequence space (RFC 9293 §3.3.1 names).
  uint32_t snd_una;
  uint32_t snd_max;
  // Highest end of the remote's sequence space seen.
  uint32_t rcv_max;
  // Outstanding-segment ring: a SlabPool block, times relative to ring_base.
  uint32_t ring_block;
  // --- second cache line
  int64_t last_seen;
  // Recency list links (FlowTable); list_time is when the flow was last
  // moved to the tail, last_seen when it last saw a packet.
  int64_t list_time;
  int64_t ring_base;
  uint32_t prev;
  uint32_t next;
  uint32_t pair;  // host-pair aggregate id
  uint32_t isn_local;
  uint32_t isn_remote;
  // Timestamp-echo sampler.
  uint32_t last_tsval;
  uint32_t tsp_val;
  // The latest local retransmission: range, TSval, time.
  uint32_t rx_start;
  uint32_t rx_end;
  uint32_t rx_tsval;
  int64_t rx_t;
  int64_t tsp_t;
};

}  // namespace prtt
