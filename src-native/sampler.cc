#include "sampler.h"

#include <cstring>

#include "seq.h"

namespace prtt {
namespace {
constexpr int kTopClass = SlabPool<Segment>::kClasses - 1;
}

void Sampler::release(Flow& f) {
  if (f.ring_block != kNil) segs_->free(f.ring_class, f.ring_block);
  f.ring_block = kNil;
  f.ring_class = 0;
  f.ring_head = 0;
  f.ring_count = 0;
}

void Sampler::reset(Flow& f) {
  release(f);
  f.snd_una = f.snd_max = f.rcv_max = 0;
  f.isn_local = f.isn_remote = 0;
  f.rx_start = f.rx_end = f.rx_tsval = 0;
  f.rx_t = 0;
  f.last_tsval = f.tsp_val = 0;
  f.tsp_t = 0;
  f.dupacks = 0;
  f.state &= kClosed;  // the flow table owns this bit
}

bool Sampler::new_connection(const Flow& f, const TcpFields& p, bool from_local) {
  // Only a SYN without ACK opens a connection (RFC 9293 §3.5). The same ISN
  // again on an open flow is a retransmitted SYN, not a new connection.
  if ((p.flags & (kSyn | kAck)) != kSyn) return false;
  if ((f.state & (kIsnLocal | kIsnRemote | kSndInit | kRcvInit)) == 0) return false;
  uint16_t known = from_local ? kIsnLocal : kIsnRemote;
  uint32_t isn = from_local ? f.isn_local : f.isn_remote;
  return !((f.state & known) && p.seq == isn && !(f.state & kClosed));
}

void Sampler::push(Flow& f, uint32_t start, uint32_t end, int64_t t, const TcpFields& p,
                   uint8_t flags) {
  uint32_t cap = f.ring_block == kNil ? 0 : SlabPool<Segment>::class_size(f.ring_class);
  if (f.ring_count == 0) f.ring_base = t;
  if (f.ring_count == cap) {
    // Grow into the next size class, or skip this segment: an ACK that
    // reaches into skipped sequence space is then refused (gap check in
    // on_ack), never attributed to another segment.
    int c = cap == 0 ? 0 : f.ring_class + 1;
    if (c > kTopClass) {
      c_->segments_skipped++;
      return;
    }
    uint32_t nb = segs_->alloc(c);
    if (nb == SlabPool<Segment>::kNone) {
      c_->segments_skipped++;
      return;
    }
    Segment* dst = segs_->block(c, nb);
    for (uint32_t i = 0; i < f.ring_count; ++i) dst[i] = *at(f, i);
    if (f.ring_block != kNil) segs_->free(f.ring_class, f.ring_block);
    f.ring_block = nb;
    f.ring_class = static_cast<uint8_t>(c);
    f.ring_head = 0;
  }
  int64_t off = t - f.ring_base;
  if (off < 0) off = 0;  // capture timestamps that step back
  if (off > 0xffffffffLL) {
    // Offsets are 32-bit nanoseconds (4.29 s): rebase on the oldest
    // outstanding segment, or skip if that one is older still.
    int64_t shift = at(f, 0)->t_off;
    for (uint32_t i = 0; i < f.ring_count; ++i) at(f, i)->t_off -= static_cast<uint32_t>(shift);
    f.ring_base += shift;
    off -= shift;
    if (off > 0xffffffffLL) {
      c_->segments_skipped++;
      return;
    }
  }
  Segment* s = at(f, f.ring_count);
  s->start = start;
  s->end = end;
  s->t_off = static_cast<uint32_t>(off);
  s->tsval = p.tsval;
  s->flags = static_cast<uint8_t>(flags | (p.has_ts ? kSegTs : 0));
  f.ring_count++;
}

void Sampler::pop(Flow& f) {
  uint32_t cap = SlabPool<Segment>::class_size(f.ring_class);
  f.ring_head = static_cast<uint16_t>((f.ring_head + 1) & (cap - 1));
  if (--f.ring_count == 0) release(f);
}

void Sampler::mark_retransmission(Flow& f, uint32_t start, uint32_t end, int64_t t,
                                  const TcpFields& p) {
  for (uint32_t i = 0; i < f.ring_count; ++i) {
    Segment* s = at(f, i);
    if (seq_lt(s->start, end) && seq_gt(s->end, start)) s->flags |= kSegRetx;
  }
  f.rx_start = start;
  f.rx_end = end;
  f.rx_t = t;
  f.rx_tsval = p.tsval;
  f.state |= kRxValid;
  if (p.has_ts)
    f.state |= kRxTs;
  else
    f.state &= ~kRxTs;
}

void Sampler::outgoing(Flow& f, const TcpFields& p, int64_t t, Taken* out) {
  (void)out;
  const bool syn = p.flags & kSyn;
  const bool fin = p.flags & kFin;
  if (p.flags & kRst) {
    // An aborted connection acknowledges nothing more.
    release(f);
    f.state &= ~(kTsPending | kTsConfirmed);
    return;
  }
  if (syn && (!(f.state & kIsnLocal) || f.isn_local != p.seq)) {
    // The local side's initial sequence number (SYN, or SYN/ACK when the
    // local host accepts): its sequence space starts here.
    release(f);
    f.isn_local = p.seq;
    f.snd_una = f.snd_max = p.seq;
    f.dupacks = 0;
    f.state = static_cast<uint16_t>((f.state & ~(kRxValid | kRxTs)) | kIsnLocal | kSndInit);
  }
  if (!(f.state & kSndInit)) {
    f.snd_una = f.snd_max = p.seq;
    f.state |= kSndInit;
  }

  const uint32_t len = p.length_known ? p.payload + (syn ? 1 : 0) + (fin ? 1 : 0) : 0;
  if (len > 0) {
    const uint32_t end = p.seq + len;
    if (!syn && !fin && len <= 1 && p.seq == f.snd_una - 1 && f.snd_una == f.snd_max) {
      // Keep-alive (RFC 9293 §3.8.4): SEG.SEQ = SND.NXT - 1, at most one
      // byte of garbage. Not data, not a retransmission.
    } else if (seq_ge(p.seq, f.snd_max)) {
      // New sequence space. A jump past snd_max means the capture missed
      // segments; the ring records the hole (start != previous end).
      push(f, p.seq, end, t, p, syn ? kSegSyn : 0);
      f.snd_max = end;
      f.state &= ~(kTsPending | kTsConfirmed);
    } else {
      // Sent before, in whole or part (Karn's rule applies to it).
      c_->retransmissions++;
      mark_retransmission(f, p.seq, end, t, p);
      if (seq_gt(end, f.snd_max)) {
        push(f, f.snd_max, end, t, p, static_cast<uint8_t>(kSegRetx | (syn ? kSegSyn : 0)));
        f.snd_max = end;
      }
      f.state &= ~(kTsPending | kTsConfirmed);
    }
  }

  // Timestamp-echo sampler (RFC 7323 §4.3: the remote echoes the TSval of
  // the latest in-order segment it received). Only a pure ACK, only the
  // first packet with its TSval, only while nothing of ours is outstanding.
  if ((p.flags & kAck) && !syn && !fin && p.payload == 0 && p.has_ts && (f.state & kRcvInit) &&
      !(f.state & kTsPending) && f.snd_una == f.snd_max && f.ring_count == 0 &&
      (!(f.state & kLastTsval) || p.tsval != f.last_tsval)) {
    f.tsp_val = p.tsval;
    f.tsp_t = t;
    f.state |= kTsPending;
    // Data from the remote beyond this ACK was already seen: the remote is
    // sending. Otherwise an older echo arriving later confirms it.
    if (seq_gt(f.rcv_max, p.ack))
      f.state |= kTsConfirmed;
    else
      f.state &= ~kTsConfirmed;
  }
  if (p.has_ts) {
    f.last_tsval = p.tsval;
    f.state |= kLastTsval;
  }
}

void Sampler::on_ack(Flow& f, const TcpFields& p, int64_t t, Taken* out) {
  const uint32_t a = p.ack;
  if (!(f.state & kSndInit)) {
    f.snd_una = f.snd_max = a;
    f.state |= kSndInit;
    return;
  }
  if (seq_gt(a, f.snd_max)) {
    // Acknowledges sequence space the capture never saw sent: nothing of
    // ours can be timed by it.
    release(f);
    f.snd_una = f.snd_max = a;
    f.dupacks = 0;
    return;
  }
  if (seq_le(a, f.snd_una)) {
    // Duplicate ACK (RFC 5681 §2): same ACK, no data, no SYN/FIN, while
    // data is outstanding.
    if (a == f.snd_una && p.payload == 0 && !(p.flags & (kSyn | kFin)) && f.snd_una != f.snd_max &&
        f.dupacks < 255)
      f.dupacks++;
    return;
  }

  // The ACK advances snd_una. Covered entries are a prefix of the ring.
  const bool after_dupacks = f.dupacks > 0;
  f.dupacks = 0;
  uint32_t covered = 0;
  uint32_t retx_covered = 0;
  while (covered < f.ring_count && seq_le(at(f, covered)->end, a)) {
    if (at(f, covered)->flags & kSegRetx) retx_covered++;
    covered++;
  }
  Segment* inside = nullptr;  // the segment the ACK ends inside of, if any
  if (covered < f.ring_count && seq_gt(a, at(f, covered)->start)) inside = at(f, covered);

  // Which segment this ACK times: one acknowledged only in part for the
  // first time (a segmentation-offload super-segment: the ACK was sent on
  // arrival of its first bytes), else the newest one it fully covers.
  Segment* timed = nullptr;
  bool gap = false;
  if (inside && !(inside->flags & kSegPartial)) {
    timed = inside;
  } else if (covered > 0) {
    Segment* last = at(f, covered - 1);
    // Bytes beyond the newest covered segment that no recorded segment
    // holds were sent by a segment that was not recorded (memory bound or
    // capture loss): the ACK may answer that one.
    gap = seq_gt(a, last->end) && !(inside && inside->start == last->end);
    if (!gap && !(last->flags & kSegPartial)) timed = last;
  }

  if (timed) {
    int64_t sent = f.ring_base + timed->t_off;
    bool ok = true;
    bool disambiguated = false;
    uint32_t other_retx = retx_covered - ((timed->flags & kSegRetx) && timed != inside ? 1 : 0);
    if (after_dupacks || other_retx > 0) {
      // tcptrace's relatives of Karn's rule: an ACK after duplicate ACKs was
      // held back by a hole; one covering another retransmitted segment may
      // answer that retransmission.
      ok = false;
    } else if (timed->flags & kSegRetx) {
      // Karn's rule (RFC 6298 §3), unless the echoed timestamp tells which
      // transmission arrived (RFC 7323 §4.3, Appendix G). Never for SYNs.
      ok = false;
      if (!(timed->flags & kSegSyn) && (timed->flags & kSegTs) && p.has_ts &&
          (f.state & kRxValid) && (f.state & kRxTs) && f.rx_tsval != timed->tsval &&
          seq_le(f.rx_start, timed->start) && seq_ge(f.rx_end, timed->end)) {
        if (p.tsecr == f.rx_tsval) {
          sent = f.rx_t;
          ok = disambiguated = true;
        } else if (p.tsecr == timed->tsval) {
          ok = disambiguated = true;
        }
      }
    }
    if (ok && !disambiguated && (f.state & kRxValid) && f.rx_t > sent && seq_lt(f.rx_start, a) &&
        seq_gt(f.rx_end, f.snd_una)) {
      // A retransmission sent after the timed segment, of bytes this ACK
      // covers (one that the ring does not hold).
      ok = false;
    }
    if (!ok) {
      c_->karn_refused++;
    } else if (t > sent && out->n < 2) {
      out->rtt[out->n] = t - sent;
      out->kind[out->n] = (timed->flags & kSegSyn) ? Kind::kHandshake : Kind::kData;
      out->n++;
    }
  }
  (void)gap;

  for (uint32_t i = 0; i < covered; ++i) pop(f);
  if (f.ring_count > 0 && seq_gt(a, at(f, 0)->start)) {
    Segment* s = at(f, 0);
    s->start = a;
    s->flags |= kSegPartial;
  }
  f.snd_una = a;
}

void Sampler::incoming(Flow& f, const TcpFields& p, int64_t t, Taken* out) {
  const bool syn = p.flags & kSyn;
  const bool fin = p.flags & kFin;
  if (syn && (!(f.state & kIsnRemote) || f.isn_remote != p.seq)) {
    f.isn_remote = p.seq;
    f.rcv_max = p.seq;
    f.state |= kIsnRemote | kRcvInit;
  }
  if (p.flags & kAck) on_ack(f, p, t, out);
  if (p.flags & kRst) {
    release(f);
    f.state &= ~(kTsPending | kTsConfirmed);
    return;
  }
  if (!(f.state & kRcvInit)) {
    f.rcv_max = p.seq;
    f.state |= kRcvInit;
  }
  bool new_data = false;
  const uint32_t len = p.length_known ? p.payload + (syn ? 1 : 0) + (fin ? 1 : 0) : 0;
  if (len > 0) {
    uint32_t end = p.seq + len;
    if (seq_gt(end, f.rcv_max)) {
      new_data = true;
      f.rcv_max = end;
    }
  }
  if ((f.state & kTsPending) && p.has_ts && !syn) {
    if (p.tsecr == f.tsp_val) {
      if (new_data) {
        // The remote's first new data sent after it saw our TSval. Timed
        // only if the remote was already sending when we sent it; an idle
        // remote would echo it whenever it next had something to say.
        if ((f.state & kTsConfirmed) && t > f.tsp_t && out->n < 2) {
          out->rtt[out->n] = t - f.tsp_t;
          out->kind[out->n] = Kind::kTs;
          out->n++;
        }
        f.state &= ~(kTsPending | kTsConfirmed);
      }
    } else if (seq_lt(p.tsecr, f.tsp_val)) {
      // Sent before the remote saw our TSval: it was sending meanwhile.
      if (new_data) f.state |= kTsConfirmed;
    } else {
      // A newer TSval was echoed: ours was superseded.
      f.state &= ~(kTsPending | kTsConfirmed);
    }
  }
}

}  // namespace prtt
