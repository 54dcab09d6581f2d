#include "flow_table.h"

#include <cstring>

namespace prtt {

FlowTable::FlowTable(uint32_t max_flows, uint64_t seed)
    : seed_(seed != 0 ? seed : random_seed()),
      flows_(max_flows),
      index_(max_flows),
      max_flows_(max_flows) {}

uint32_t FlowTable::insert(uint32_t hash, const FlowKey& key, int64_t now) {
  uint32_t id = flows_.alloc();
  if (id == FixedPool<Flow>::kNone) return kNil;
  if (!index_.insert(hash, id)) {
    flows_.free(id);
    return kNil;
  }
  Flow& f = flows_[id];
  std::memset(&f, 0, sizeof f);
  f.key = key;
  f.last_seen = now;
  f.ring_block = kNil;
  f.prev = f.next = kNil;
  append(id);
  return id;
}

void FlowTable::remove(uint32_t id) {
  Flow& f = flows_[id];
  unlink(id);
  index_.erase(key_hash(f.key), id);
  flows_.free(id);
  removals_++;
}

void FlowTable::unlink(uint32_t id) {
  Flow& f = flows_[id];
  List& l = list_of(f);
  if (f.prev != kNil)
    flows_[f.prev].next = f.next;
  else
    l.head = f.next;
  if (f.next != kNil)
    flows_[f.next].prev = f.prev;
  else
    l.tail = f.prev;
  f.prev = f.next = kNil;
}

void FlowTable::append(uint32_t id) {
  Flow& f = flows_[id];
  List& l = list_of(f);
  uint32_t after = l.tail;
  while (after != kNil && flows_[after].last_seen > f.last_seen) after = flows_[after].prev;
  f.prev = after;
  if (after == kNil) {
    f.next = l.head;
    l.head = id;
  } else {
    f.next = flows_[after].next;
    flows_[after].next = id;
  }
  if (f.next != kNil)
    flows_[f.next].prev = id;
  else
    l.tail = id;
}

void FlowTable::mark_closed(uint32_t id, bool closed) {
  Flow& f = flows_[id];
  if (((f.state & kClosed) != 0) == closed) return;
  unlink(id);
  if (closed)
    f.state |= kClosed;
  else
    f.state &= ~kClosed;
  append(id);
}

uint32_t FlowTable::oldest() const {
  uint32_t a = open_.head;
  uint32_t b = closed_.head;
  if (a == kNil) return b;
  if (b == kNil) return a;
  return flows_[a].last_seen <= flows_[b].last_seen ? a : b;
}

}  // namespace prtt
