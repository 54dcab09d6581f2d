// The flow table: a HashIndex over a ChunkedPool of fixed-size Flow entries,
// bounded by max_flows, with two recency lists (open flows, and flows that
// saw FIN/RST) that give least-recently-seen eviction and idle/closed expiry
// in packet time. Each list is sorted by list_time, the time a flow was last
// placed in it; moving a flow to the tail is lazy (at most once per second
// of packet time per flow) to keep the per-packet cost to the flow's own
// cache lines. Expiry and eviction re-place a head whose last_seen moved on
// before trusting it, so both stay exact. Owned and touched by the capture thread only.
#pragma once

#include <cstdint>

#include "flow.h"
#include "pool.h"

namespace prtt {

class FlowTable {
 public:
  explicit FlowTable(uint32_t max_flows);

  // The flow with this key, or kNil.
  uint32_t find(uint32_t hash, const Addr& local, const Addr& remote, uint16_t lport,
                uint16_t rport) const;
  // Inserts a new zeroed flow (the key set). When the table is full the
  // caller must evict first (full()).
  uint32_t insert(uint32_t hash, const Addr& local, const Addr& remote, uint16_t lport,
                  uint16_t rport, int64_t now);
  void remove(uint32_t id);
  bool full() const { return index_.size() >= max_flows_; }

  // Records a packet on the flow at packet time now.
  void touch(uint32_t id, int64_t now) {
    Flow& f = flows_[id];
    f.last_seen = now;
    if (now - f.list_time >= kRelink) relink(id, now);
  }
  // Moves the flow between the open and closed lists.
  void mark_closed(uint32_t id, bool closed);

  // Oldest flow of the open or closed list whose last packet is older than
  // the cutoff, or kNil.
  uint32_t expired(bool closed_list, int64_t cutoff);
  // The least recently seen flow of both lists, or kNil.
  uint32_t oldest();

  Flow& operator[](uint32_t id) { return flows_[id]; }
  uint32_t size() const { return index_.size(); }
  size_t bytes() const { return flows_.bytes() + index_.bytes(); }

  static uint32_t key_hash(const Addr& local, const Addr& remote, uint16_t lport, uint16_t rport) {
    return mix_hash(local.lo() ^ (static_cast<uint64_t>(lport) << 48) ^ remote.hi(),
                    remote.lo() ^ (static_cast<uint64_t>(rport) << 32) ^ local.hi());
  }

 private:
  static constexpr int64_t kRelink = 1000000000;  // 1 s

  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };
  List& list_of(const Flow& f) { return (f.state & kClosed) ? closed_ : open_; }
  void unlink(uint32_t id);
  void append(uint32_t id);
  void relink(uint32_t id, int64_t now);
  // The head of the list after refreshing heads that were seen recently.
  uint32_t settled_head(List& l);

  ChunkedPool<Flow> flows_;
  HashIndex index_;
  uint32_t max_flows_;
  List open_;
  List closed_;
};

}  // namespace prtt
