#include "engine.h"

#include <algorithm>

namespace prtt {

Engine::Engine(const EngineOptions& options, EngineSink* sink)
    : opt_(options),
      sink_(sink),
      local_(options.local),
      segments_(options.segment_memory),
      flows_(options.max_flows),
      pairs_(options.soften, options.max_flows),
      sampler_(&segments_, &c_) {
  for (const Addr& a : local_) {
    if (!a.is_v4()) continue;
    uint32_t v;
    std::memcpy(&v, a.b + 12, 4);
    local4_.push_back(v);
  }
  if (!local4_.empty()) local4_first_ = local4_[0];
  if (opt_.samples) samples_.reserve(4096);
}

const Counters& Engine::counters() {
  flush();
  c_.flows_active = flows_.size();
  c_.host_pairs = pairs_.size();
  return c_;
}

size_t Engine::memory_bytes() const { return flows_.bytes() + pairs_.bytes() + segments_.bytes(); }

void Engine::remove_flow(uint32_t id) {
  Flow& f = flows_[id];
  sampler_.release(f);
  pairs_.release(f.pair);
  flows_.remove(id);
}

void Engine::expire(int64_t now) {
  // Idle flows after idle_ttl, flows that saw FIN/RST after exp_ttl, both
  // measured from their last packet in packet time.
  for (uint32_t id; (id = flows_.expired(true, now - opt_.exp_ttl_ns)) != kNil;) {
    remove_flow(id);
    c_.flows_expired++;
  }
  for (uint32_t id; (id = flows_.expired(false, now - opt_.idle_ttl_ns)) != kNil;) {
    remove_flow(id);
    c_.flows_expired++;
  }
}

void Engine::flush_samples() {
  if (samples_.empty()) return;
  std::vector<Sample> out;
  out.reserve(4096);
  out.swap(samples_);
  sink_->on_samples(std::move(out));
}

void Engine::emit_report(int64_t ts) {
  flush_samples();
  Report r;
  r.ts_ns = ts;
  pairs_.report(&r.rows);
  if (r.rows.empty()) return;
  c_.reports++;
  sink_->on_report(std::move(r));
}

namespace {
constexpr int64_t kExpiryStep = 100000000;    // expiry runs every 100 ms of packet time
constexpr int64_t kSampleFlush = 1000000000;  // samples reach the sink at least once a second
}  // namespace

void Engine::advance(int64_t now) {
  // Samples use the packet's own timestamp; this clock (now_) only moves
  // forward, also by tick() on an idle live link, so a packet stamped
  // before the last tick still times correctly.
  now_ = std::max(now_, now);
  if (now_ < next_event_) return;
  if (!started_) {
    started_ = true;
    next_report_ = now_ + opt_.report_interval_ns;
    last_flush_ = now_;
  }
  if (now_ >= next_report_) {
    // The interval ended: expire what had expired by its end, then report
    // it. Boundaries stay on the grid first packet + k * interval.
    expire(next_report_);
    emit_report(next_report_);
    // What expired flows held goes back to the shared segment memory.
    segments_.trim();
    int64_t k = (now_ - next_report_) / opt_.report_interval_ns + 1;
    next_report_ += k * opt_.report_interval_ns;
  }
  if (now_ >= next_expiry_) {
    expire(now_);
    next_expiry_ = now_ + kExpiryStep;
  }
  if (opt_.samples && now_ - last_flush_ >= kSampleFlush) {
    flush_samples();
    last_flush_ = now_;
  }
  next_event_ = std::min(next_report_, next_expiry_);
  if (opt_.samples) next_event_ = std::min(next_event_, last_flush_ + kSampleFlush);
}

void Engine::tick(int64_t now) {
  flush();
  if (!started_) return;
  if (now <= now_) return;
  advance(now);
  expire(now);
}

void Engine::finish() {
  flush();
  if (!started_) {
    flush_samples();
    return;
  }
  expire(now_);
  emit_report(now_);
  flush_samples();
}

void Engine::packet(int linktype, int64_t ts, const uint8_t* data, uint32_t caplen,
                    uint32_t wirelen) {
  // Stage 1: decode, orient, hash, and ask for the index slot.
  Pending& q = batch_[(batch_head_ + batch_count_) & (kBatch - 1)];
  q.new_window = false;
  if (opt_.sample_window_ns > 0 && !in_window(ts, q)) {
    // Outside a sampling window: as if not captured (the report and expiry
    // clock moves on with the next packet that is).
    c_.packets++;
    c_.outside_window++;
    return;
  }
  q.ts = ts;
  q.kind = decode_packet(linktype, data, caplen, wirelen, &q.p);
  q.ours = false;
  if (q.kind == Decoded::kTcp) {
    const TcpPacket& p = q.p;
    const unsigned where = locality(p);
    bool from_local = (where & 1) != 0;
    if (where == 3) {
      // Both ends ours: orient by the lower endpoint so that both
      // directions land on one flow.
      from_local = p.src < p.dst || (p.src == p.dst && p.sport < p.dport);
    }
    q.ours = where != 0;
    q.from_local = from_local;
    // Selects, not branches: the direction of consecutive packets is
    // anybody's guess.
    const Addr* ends[2] = {&p.dst, &p.src};
    const uint16_t ports[2] = {p.dport, p.sport};
    q.key.local = *ends[from_local];
    q.key.remote = *ends[!from_local];
    q.key.lport = ports[from_local];
    q.key.rport = ports[!from_local];
    q.hash = flows_.key_hash(q.key);
    if (q.ours) flows_.prefetch_slot(q.hash);
  }
  ++batch_count_;
  // Stage 2, half a batch later: the slot has arrived; ask for the entry.
  constexpr uint32_t kHalf = kBatch / 2;
  if (batch_count_ > kHalf) {
    const Pending& r = batch_[(batch_head_ + batch_count_ - 1 - kHalf) & (kBatch - 1)];
    if (r.kind == Decoded::kTcp && r.ours) flows_.prefetch_entry(r.hash);
  }
  // Stage 3, a quarter batch before the work: the entry has arrived; ask
  // for what the work will touch through it (the segment ring, the host
  // pair, the recency-list neighbours it will be unlinked from).
  constexpr uint32_t kQuarter = kBatch / 4;
  if (batch_count_ > kQuarter) {
    const Pending& r = batch_[(batch_head_ + batch_count_ - 1 - kQuarter) & (kBatch - 1)];
    if (r.kind == Decoded::kTcp && r.ours) {
      const uint32_t id = flows_.peek(r.hash);
      if (id != kNil) {
        const Flow& f = flows_[id];
        if (f.ring_block != kNil) {
          const char* b = reinterpret_cast<const char*>(
              segments_.block(f.ring_class, f.ring_block) +
              (f.ring_head & (SlabPool<Segment>::class_size(f.ring_class) - 1)));
          __builtin_prefetch(b);
        }
        pairs_.prefetch(f.pair);
        flows_.prefetch_links(f);
      }
    }
  }
  // Stage 4: the oldest packet's flow state is in cache.
  if (batch_count_ == kBatch) {
    Pending& o = batch_[batch_head_];
    batch_head_ = (batch_head_ + 1) & (kBatch - 1);
    --batch_count_;
    process(o);
  }
}

bool Engine::in_window(int64_t ts, Pending& q) {
  if (!window_started_) {
    window_started_ = true;
    window_origin_ = ts;
  }
  const int64_t cycle = opt_.sample_window_ns + opt_.sample_gap_ns;
  const int64_t since = ts - window_origin_;
  if (since < 0) return true;  // stamped before the first packet: its window
  const int64_t k = since / cycle;
  if (since - k * cycle >= opt_.sample_window_ns) return false;
  if (k > window_index_) {
    if (window_index_ >= 0) q.new_window = true;
    window_index_ = k;
  }
  return true;
}

void Engine::flush() {
  while (batch_count_ > 0) {
    Pending& o = batch_[batch_head_];
    batch_head_ = (batch_head_ + 1) & (kBatch - 1);
    --batch_count_;
    process(o);
  }
}

void Engine::process(Pending& q) {
  c_.packets++;
  advance(q.ts);
  if (q.new_window) {
    // A new sampling window: what flows were doing before the gap was not
    // seen to its end (segments acknowledged, echoes answered in the gap), so
    // no sample may span it. Host pairs keep their smoothed figures.
    flows_.for_each([this](Flow& f) { sampler_.reset(f); });
  }
  if (q.kind != Decoded::kTcp || !q.ours) {
    switch (q.kind) {
      case Decoded::kTcp:
        c_.tcp++;
        c_.not_local++;
        break;
      case Decoded::kNotIp:
      case Decoded::kNotTcp:
        c_.not_tcp++;
        break;
      case Decoded::kFragment:
        c_.fragments++;
        break;
      case Decoded::kMalformed:
        c_.malformed++;
        break;
    }
    return;
  }
  c_.tcp++;
  const TcpPacket& p = q.p;
  const int64_t t = q.ts;
  const bool from_local = q.from_local;
  const FlowKey& key = q.key;

  uint32_t id = flows_.find(q.hash, key);
  if (id == kNil) {
    if (flows_.full()) {
      uint32_t victim = flows_.oldest();
      if (victim != kNil) {
        remove_flow(victim);
        c_.flows_evicted++;
      }
    }
    id = flows_.insert(q.hash, key, now_);
    const uint32_t pair = id == kNil ? PairTable::kNoPair : pairs_.acquire(key.local, key.remote);
    if (pair == PairTable::kNoPair) {
      // No memory for the flow or its host pair (mmap(2) refused): the
      // packet is dropped for lack of room, as an evicted flow would be.
      if (id != kNil) flows_.remove(id);
      c_.flows_evicted++;
      return;
    }
    flows_[id].pair = pair;
    c_.flows_created++;
  } else if ((p.flags & kSyn) && Sampler::new_connection(flows_[id], p, from_local)) {
    // Port reuse: a new connection on a known 5-tuple.
    sampler_.reset(flows_[id]);
    flows_.mark_closed(id, false);
  }
  flows_.touch(id, now_);
  Flow& f = flows_[id];

  Taken taken;
  if (from_local) {
    sampler_.outgoing(f, p, t, &taken);
  } else {
    sampler_.incoming(f, p, t, &taken);
  }
  for (int i = 0; i < taken.n; ++i) {
    pairs_.add(f.pair, taken.rtt[i], taken.kind[i]);
    c_.samples[static_cast<int>(taken.kind[i])]++;
    if (opt_.samples) {
      Sample s;
      s.ts_ns = t;
      s.rtt_ns = taken.rtt[i];
      s.local = f.key.local;
      s.remote = f.key.remote;
      s.lport = f.key.lport;
      s.rport = f.key.rport;
      s.kind = taken.kind[i];
      samples_.push_back(s);
      if (samples_.size() >= 4096) {
        flush_samples();
        last_flush_ = now_;
        next_event_ = std::min(next_event_, last_flush_ + kSampleFlush);
      }
    }
  }
  if (p.flags & (kFin | kRst)) flows_.mark_closed(id, true);
}

void LocalDetector::packet(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen) {
  TcpPacket p;
  if (decode_packet(linktype, data, caplen, wirelen, &p) != Decoded::kTcp) return;
  tcp_++;
  if (!any_) {
    any_ = true;
    candidates_ = {p.src, p.dst};
    return;
  }
  candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                   [&](const Addr& a) { return a != p.src && a != p.dst; }),
                    candidates_.end());
}

bool LocalDetector::result(const std::vector<Addr>& exclude, Addr* out, std::string* why) const {
  if (tcp_ == 0) {
    *why = "the capture holds no TCP packet";
    return false;
  }
  std::vector<Addr> left;
  for (const Addr& a : candidates_)
    if (std::find(exclude.begin(), exclude.end(), a) == exclude.end() &&
        std::find(left.begin(), left.end(), a) == left.end())
      left.push_back(a);
  if (left.size() == 1) {
    *out = left[0];
    return true;
  }
  if (left.empty()) {
    *why = "no single address takes part in every TCP flow of the capture";
  } else {
    *why = "both " + addr_to_string(left[0]) + " and " + addr_to_string(left[1]) +
           " take part in every TCP flow of the capture";
  }
  return false;
}

}  // namespace prtt
