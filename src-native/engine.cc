#include "engine.h"

#include <algorithm>
#include <cstring>

namespace prtt {

Engine::Engine(const EngineOptions& options, EngineSink* sink)
    : opt_(options),
      sink_(sink),
      locals_(options.local),
      segments_(options.segment_memory),
      flows_(options.max_flows),
      pairs_(options.soften, options.max_flows),
      sampler_(&segments_, &c_) {
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
  Pending& q = batch_[(batch_head_ + batch_count_) & (kBatch - 1)];
  if (!admit(ts, q)) return;
  Endpoints ends;
  locals_.orient(decode_packet(linktype, data, caplen, wirelen, &q.o.tcp, &ends), ends, &q.o);
  stage(q, q.o);
}

void Engine::oriented(int64_t ts, const Oriented& o) {
  Pending& q = batch_[(batch_head_ + batch_count_) & (kBatch - 1)];
  if (!admit(ts, q)) return;
  q.o = o;
  stage(q, o);
}

inline bool Engine::admit(int64_t ts, Pending& q) {
  q.new_window = false;
  if (opt_.sample_window_ns > 0 && !in_window(ts, q)) {
    // Outside a sampling window: as if not captured (the report and expiry
    // clock moves on with the next packet that is).
    c_.packets++;
    c_.outside_window++;
    return false;
  }
  q.ts = ts;
  return true;
}

inline void Engine::stage(Pending& q, const Oriented& from) {
  // Stage 1: the flow key and its hash; ask for the index slot.
  q.hint = kNil;
  if (from.ours()) {
    q.key.local = locals_.at(from.local);
    // In two halves, as orient() stored them: one load over two stores
    // (or over the copy into q.o, which the compiler splits where it
    // likes) cannot take its data from the store buffer and waits for
    // both to reach the cache.
    const uint64_t hi = from.remote.hi(), lo = from.remote.lo();
    std::memcpy(q.key.remote.b, &hi, 8);
    std::memcpy(q.key.remote.b + 8, &lo, 8);
    q.key.lport = from.lport;
    q.key.rport = from.rport;
    q.hash = flows_.key_hash(q.key);
    flows_.prefetch_slot(q.hash);
  }
  ++batch_count_;
  // Stage 2, half a batch later: the slot has arrived; ask for the entry.
  constexpr uint32_t kHalf = kBatch / 2;
  if (batch_count_ > kHalf) {
    Pending& r = batch_[(batch_head_ + batch_count_ - 1 - kHalf) & (kBatch - 1)];
    if (r.o.ours()) {
      r.hint = flows_.prefetch_entry(r.hash);
      r.hint_removals = flows_.removals();
    }
  }
  // Stage 3, a quarter batch before the work: the entry has arrived; ask
  // for what the work will touch through it (the segment ring, the host
  // pair, the recency-list neighbours it will be unlinked from).
  constexpr uint32_t kQuarter = kBatch / 4;
  if (batch_count_ > kQuarter) {
    const Pending& r = batch_[(batch_head_ + batch_count_ - 1 - kQuarter) & (kBatch - 1)];
    if (r.o.ours() && r.hint != kNil) {
      // Possibly a flow removed since stage 2: a cache hint, nothing more.
      const Flow& f = flows_[r.hint];
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
  if (!q.o.ours()) {
    switch (q.o.kind) {
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
  const TcpFields& p = q.o.tcp;
  const int64_t t = q.ts;
  const bool from_local = q.o.from_local();
  const FlowKey& key = q.key;

  uint32_t id = q.hint != kNil && q.hint_removals == flows_.removals() && flows_[q.hint].key == key
                    ? q.hint
                    : flows_.find(q.hash, key);
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
