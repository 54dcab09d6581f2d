#include "flow_table.h"

#include <cstring>

namespace prtt {

FlowTable::FlowTable(uint32_t max_flows) : index_(max_flows), max_flows_(max_flows) {}

uint32_t FlowTable::find(uint32_t hash, const Addr& local, const Addr& remote, uint16_t lport,
                         uint16_t rport) const {
  uint32_t id = index_.find(hash, [&](uint32_t i) {
    const Flow& f = flows_[i];
    return f.lport == lport && f.rport == rport && f.remote == remote && f.local == local;
  });
  return id == HashIndex::kNotFound ? kNil : id;
}

uint32_t FlowTable::insert(uint32_t hash, const Addr& local, const Addr& remote, uint16_t lport,
                           uint16_t rport, int64_t now) {
  uint32_t id = flows_.alloc();
  Flow& f = flows_[id];
  std::memset(&f, 0, sizeof f);
  f.local = local;
  f.remote = remote;
  f.lport = lport;
  f.rport = rport;
  f.hash = hash;
  f.last_seen = now;
  f.list_time = now;
  f.ring_block = kNil;
  index_.insert(hash, id);
  append(id);
  return id;
}

void FlowTable::remove(uint32_t id) {
  Flow& f = flows_[id];
  unlink(id);
  index_.erase(f.hash, id);
  flows_.free(id);
}

void FlowTable::unlink(uint32_t id) {
  Flow& f = flows_[id];
  List& l = list_of(f);
  if (f.prev != kNil) flows_[f.prev].next = f.next; else l.head = f.next;
  if (f.next != kNil) flows_[f.next].prev = f.prev; else l.tail = f.prev;
  f.prev = f.next = kNil;
}

void FlowTable::append(uint32_t id) {
  // Sorted insertion by list_time, searching from the tail: a flow moved
  // with the current packet's time lands at the tail at once; a stale head
  // re-inserted with its true last_seen walks back past the flows moved
  // after that time. The list thus stays sorted, which keeps eviction exact.
  Flow& f = flows_[id];
  List& l = list_of(f);
  uint32_t after = l.tail;
  while (after != kNil && flows_[after].list_time > f.list_time) after = flows_[after].prev;
  f.prev = after;
  if (after == kNil) {
    f.next = l.head;
    l.head = id;
  } else {
    f.next = flows_[after].next;
    flows_[after].next = id;
  }
  if (f.next != kNil) flows_[f.next].prev = id; else l.tail = id;
}

void FlowTable::relink(uint32_t id, int64_t now) {
  unlink(id);
  flows_[id].list_time = now;
  append(id);
}

void FlowTable::mark_closed(uint32_t id, bool closed) {
  Flow& f = flows_[id];
  if (((f.state & kClosed) != 0) == closed) return;
  unlink(id);
  if (closed) f.state |= kClosed; else f.state &= ~kClosed;
  f.list_time = f.last_seen;
  append(id);
}

uint32_t FlowTable::settled_head(List& l) {
  // A head moved lazily may have seen packets since: re-insert it at its
  // true time until the head's list_time is its last_seen. The list is
  // sorted by list_time and list_time <= last_seen for every flow, so that
  // head has the smallest last_seen of all.
  for (;;) {
    uint32_t h = l.head;
    if (h == kNil) return kNil;
    Flow& f = flows_[h];
    if (f.last_seen == f.list_time) return h;
    relink(h, f.last_seen);
  }
}

uint32_t FlowTable::expired(bool closed_list, int64_t cutoff) {
  List& l = closed_list ? closed_ : open_;
  uint32_t h = l.head;
  if (h == kNil || flows_[h].list_time >= cutoff) return kNil;
  h = settled_head(l);
  if (h == kNil || flows_[h].last_seen >= cutoff) return kNil;
  return h;
}

uint32_t FlowTable::oldest() {
  uint32_t a = settled_head(open_);
  uint32_t b = settled_head(closed_);
  if (a == kNil) return b;
  if (b == kNil) return a;
  return flows_[a].last_seen <= flows_[b].last_seen ? a : b;
}

}  // namespace prtt
