// The flow table: a HashIndex over a FixedPool of fixed-size Flow entries,
// bounded by max_flows, with two recency lists (open flows, and flows that
// saw FIN/RST), each kept sorted by last_seen. A packet moves its flow to the
// tail of its list at once (O(1): the engine's clock only moves forward), so
// the head of each list is exactly its least recently seen flow: eviction
// and idle/closed expiry in packet time cost O(1) whatever the traffic.
// Owned and touched by the capture thread only.
#pragma once

#include <cstdint>

#include "flow.h"
#include "pool.h"

namespace prtt {

class FlowTable {
 public:
  // seed: of the key hash; 0 picks a random one.
  explicit FlowTable(uint32_t max_flows, uint64_t seed = 0);

  // The flow with this key, or kNil.
  uint32_t find(uint32_t hash, const FlowKey& key) const {
    uint32_t id = index_.find(hash, [&](uint32_t i) { return flows_[i].key == key; });
    return id == HashIndex::kNotFound ? kNil : id;
  }
  // Cache hints for a lookup to come (see Engine's batch): the index slot,
  // then the entry the slot most likely names.
  void prefetch_slot(uint32_t hash) const { index_.prefetch(hash); }
  // Returns that entry's id, or kNil: the first entry of the hash's probe
  // run with this hash, a likely match but unconfirmed (another key may
  // share the hash).
  uint32_t prefetch_entry(uint32_t hash) const {
    uint32_t id = index_.peek(hash);
    if (id == HashIndex::kNotFound) return kNil;
    const char* p = reinterpret_cast<const char*>(&flows_[id]);
    __builtin_prefetch(p);
    __builtin_prefetch(p + 64);
    return id;
  }
  // Flows removed so far. While it stays the same, an id the index named
  // stays a live flow with the key it had: a flow whose key matches it is
  // the one find() would return, without probing again (Engine's batch).
  uint32_t removals() const { return removals_; }
  // Cache hint: the recency-list neighbours a touch of f will write.
  void prefetch_links(const Flow& f) const {
    if (f.prev != kNil) __builtin_prefetch(reinterpret_cast<const char*>(&flows_[f.prev]) + 64);
    if (f.next != kNil) __builtin_prefetch(reinterpret_cast<const char*>(&flows_[f.next]) + 64);
  }
  // Inserts a new zeroed flow (the key set) at the tail of the open list.
  // When the table is full the caller must evict first (full()). kNil when
  // the system has no memory for it.
  uint32_t insert(uint32_t hash, const FlowKey& key, int64_t now);
  void remove(uint32_t id);
  bool full() const { return index_.size() >= max_flows_; }

  // Records a packet on the flow at time now, which is never earlier than
  // any time given before (the engine's monotonic clock).
  void touch(uint32_t id, int64_t now) {
    Flow& f = flows_[id];
    f.last_seen = now;
    List& l = list_of(f);
    if (l.tail == id) return;
    // Unlink (f is not the tail, so it has a next), then append at the tail.
    Flow& n = flows_[f.next];
    n.prev = f.prev;
    if (f.prev != kNil)
      flows_[f.prev].next = f.next;
    else
      l.head = f.next;
    flows_[l.tail].next = id;
    f.prev = l.tail;
    f.next = kNil;
    l.tail = id;
  }
  // Moves the flow between the open and closed lists.
  void mark_closed(uint32_t id, bool closed);

  // The least recently seen flow of the open or closed list if its last
  // packet is older than the cutoff, or kNil.
  uint32_t expired(bool closed_list, int64_t cutoff) const {
    uint32_t h = (closed_list ? closed_ : open_).head;
    return h != kNil && flows_[h].last_seen < cutoff ? h : kNil;
  }
  // The least recently seen flow of both lists, or kNil.
  uint32_t oldest() const;

  // Calls fn(Flow&) for every flow (both lists).
  template <typename Fn>
  void for_each(Fn fn) {
    for (const List* l : {&open_, &closed_})
      for (uint32_t id = l->head; id != kNil; id = flows_[id].next) fn(flows_[id]);
  }

  Flow& operator[](uint32_t id) { return flows_[id]; }
  const Flow& operator[](uint32_t id) const { return flows_[id]; }
  uint32_t size() const { return index_.size(); }
  size_t bytes() const { return flows_.bytes() + index_.bytes(); }

  // The key's hash under this table's random seed.
  uint32_t key_hash(const FlowKey& k) const {
    uint64_t h = hash_fold(seed_, k.local.hi());
    h = hash_fold(h, k.local.lo());
    h = hash_fold(h, k.remote.hi());
    h = hash_fold(h, k.remote.lo());
    h = hash_fold(h, static_cast<uint64_t>(k.lport) << 16 | k.rport);
    return hash_finish(h);
  }

 private:
  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };
  List& list_of(const Flow& f) { return (f.state & kClosed) ? closed_ : open_; }
  void unlink(uint32_t id);
  // Inserts by last_seen, searching from the tail: a flow seen now lands at
  // the tail at once.
  void append(uint32_t id);

  uint64_t seed_;
  FixedPool<Flow> flows_;
  HashIndex index_;
  uint32_t max_flows_;
  uint32_t removals_ = 0;
  List open_;
  List closed_;
};

}  // namespace prtt
