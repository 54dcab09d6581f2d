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
  if (opt_.samples) samples_.reserve(4096);
}

const Counters& Engine::counters() {
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

void Engine::advance(int64_t now) {
  if (!started_) {
    started_ = true;
    now_ = now;
    next_report_ = now + opt_.report_interval_ns;
    last_flush_ = now;
    return;
  }
  if (now < now_) return;  // time stepping back: keep the clock monotonic
  now_ = now;
  if (now >= next_report_) {
    // The interval ended: expire what had expired by its end, then report
    // it. Boundaries stay on the grid first packet + k * interval.
    expire(next_report_);
    emit_report(next_report_);
    int64_t k = (now - next_report_) / opt_.report_interval_ns + 1;
    next_report_ += k * opt_.report_interval_ns;
  }
  if (opt_.samples && (now - last_flush_ >= 1000000000LL || samples_.size() >= 4096)) {
    flush_samples();
    last_flush_ = now;
  }
}

void Engine::tick(int64_t now) {
  if (!started_) return;
  if (now <= now_) return;
  advance(now);
  expire(now);
}

void Engine::finish() {
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
  c_.packets++;
  // Samples use the packet's own timestamp; the report and expiry clock
  // (now_) only moves forward, also by tick() on an idle live link, so a
  // packet stamped before the last tick still times correctly.
  advance(ts);
  const int64_t t = ts;
  if (now_ >= next_expiry_) {
    // Expiry runs every 100 ms of packet time, not per packet.
    expire(now_);
    next_expiry_ = now_ + 100000000;
  }

  TcpPacket p;
  switch (decode_packet(linktype, data, caplen, wirelen, &p)) {
    case Decoded::kTcp:
      break;
    case Decoded::kNotIp:
    case Decoded::kNotTcp:
      c_.not_tcp++;
      return;
    case Decoded::kFragment:
      c_.fragments++;
      return;
    case Decoded::kMalformed:
      c_.malformed++;
      return;
  }
  c_.tcp++;

  bool from_local = is_local(p.src);
  const bool to_local = is_local(p.dst);
  if (from_local && to_local) {
    // Both ends are ours: orient by the lower endpoint so that both
    // directions land on one flow.
    from_local = p.src < p.dst || (p.src == p.dst && p.sport < p.dport);
  } else if (!from_local && !to_local) {
    c_.not_local++;
    return;
  }
  const Addr& local = from_local ? p.src : p.dst;
  const Addr& remote = from_local ? p.dst : p.src;
  const uint16_t lport = from_local ? p.sport : p.dport;
  const uint16_t rport = from_local ? p.dport : p.sport;

  const uint32_t h = FlowTable::key_hash(local, remote, lport, rport);
  uint32_t id = flows_.find(h, local, remote, lport, rport);
  if (id == kNil) {
    if (flows_.full()) {
      uint32_t victim = flows_.oldest();
      if (victim != kNil) {
        remove_flow(victim);
        c_.flows_evicted++;
      }
    }
    id = flows_.insert(h, local, remote, lport, rport, t);
    flows_[id].pair = pairs_.acquire(local, remote);
    c_.flows_created++;
  } else if (Sampler::new_connection(flows_[id], p, from_local)) {
    // Port reuse: a new connection on a known 5-tuple.
    sampler_.reset(flows_[id]);
    flows_.mark_closed(id, false);
  }
  flows_.touch(id, t);
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
      s.local = f.local;
      s.remote = f.remote;
      s.lport = f.lport;
      s.rport = f.rport;
      s.kind = taken.kind[i];
      samples_.push_back(s);
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
