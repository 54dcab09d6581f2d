// Per-flow state. A flow is one TCP connection (5-tuple) oriented local ->
// remote. Entries have a fixed size; the variable part (outstanding
// segments) lives in a SlabPool block the flow points to. Owned and touched
// by the capture thread only.
#pragma once

#include <cstdint>
#include <cstring>

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
  kSndInit = 1 << 0,  // snd_una / snd_max are known
  kRcvInit = 1 << 1,  // rcv_max is known
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

// A flow's key: local and remote address and port. 36 bytes without
// padding, so equality is one memcmp the compiler expands inline.
struct FlowKey {
  Addr local;
  Addr remote;
  uint16_t lport;
  uint16_t rport;
  bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
};
static_assert(sizeof(FlowKey) == 36, "FlowKey must have no padding");

// Two cache lines, aligned: the first holds the key and the sequence state
// every packet reads, the second the times, links and the rarer state.
struct alignas(64) Flow {
  FlowKey key;
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
  uint32_t pair;  // host-pair aggregate id
  // --- second cache line
  // Packet time of the flow's last packet (FlowTable's recency order).
  int64_t last_seen;
  // ring_base while segments are outstanding; tsp_t (the pending
  // timestamp-echo sample's start) while one is pending. Never both: a
  // timestamp sample starts only with nothing outstanding, and new local
  // data cancels it (Sampler).
  union {
    int64_t ring_base;
    int64_t tsp_t;
  };
  int64_t rx_t;
  // Recency list links (FlowTable).
  uint32_t prev;
  uint32_t next;
  uint32_t isn_local;
  uint32_t isn_remote;
  // Timestamp-echo sampler.
  uint32_t last_tsval;
  uint32_t tsp_val;
  // The latest local retransmission: range, TSval, time (rx_t).
  uint32_t rx_start;
  uint32_t rx_end;
  uint32_t rx_tsval;
};
static_assert(sizeof(Flow) == 128, "Flow must fill exactly two cache lines");

}  // namespace prtt
