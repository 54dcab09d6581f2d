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
  Flow& f = flows_[id];
  List& l = list_of(f);
  f.prev = l.tail;
  f.next = kNil;
  if (l.tail != kNil) flows_[l.tail].next = id; else l.head = id;
  l.tail = id;
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
  // A head moved lazily may have seen packets since: move it to the tail
  // with its true time until the head is the truly oldest one. Each flow is
  // moved at most once here per packet it saw, so this is amortised O(1).
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
