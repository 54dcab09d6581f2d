// bench/gen: a deterministic TCP capture generator for the passive-rtt
// benchmark. Writes a classic pcap file (Ethernet, microsecond timestamps,
// headers only: caplen covers Ethernet+IP+TCP, len the whole segment) of one
// local host talking to many remote hosts, and a ground-truth file listing
// every RTT sample the engine must produce and every ACK on which it must
// produce none.
//
// How the traffic is made: N flow slots are kept open at once. Each flow is a
// small TCP simulation: a handshake, then exchanges separated by think time
// (the local host as client uploading a request and reading a response, as a
// server answering a request, or only downloading a burst the remote pushes),
// then a FIN exchange, after which a new flow takes the slot. Each exchange is
// simulated as its own event loop (sender window, receiver delayed ACKs every
// second segment with a 40 ms timer, immediate ACKs on out-of-order arrival
// and on filling a hole, RFC 5681 §4.2; fast retransmit on the third
// duplicate ACK and RTO otherwise, RFC 5681 §3.2 / RFC 6298 §5; TCP
// timestamps with TS.Recent updated only by segments at or left of
// Last.ACK.sent, RFC 7323 §4.3). The packets of all flows are merged by
// capture time through a heap.
//
// Ground truth: as each packet is written, a per-flow observer applies the
// sampling rules of the README ("How RTT is measured": newest outgoing
// segment whose end <= the ACK, Karn's rule with the timestamp exception and
// its two relatives, the timestamp-echo rule) to the traffic exactly as the
// capture shows it, with the generator's knowledge of what it retransmitted.
// The RTT values therefore come from the timestamps the generator wrote.
//
// Build: make -C bench. Usage: bench/gen --help.

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------- options

struct Options {
  uint64_t packets = 1000000;
  uint32_t flows = 10000;
  uint64_t seed = 1;
  std::string local4 = "198.18.0.1";  // RFC 2544 benchmarking range
  std::string local6 = "2001:2::1";   // RFC 5180 benchmarking range
  uint32_t hosts = 1000;
  double v6 = 0.2;             // share of flows over IPv6
  double ts = 0.7;             // share of flows with TCP timestamps (RFC 7323)
  double rtt_min = 0.2;        // ms, base RTT of a remote host: log-uniform
  double rtt_max = 150.0;      // ms
  double delack = 0.8;         // share of receivers that delay ACKs
  double loss = 0.003;         // per local data segment: lost once, retransmitted
  double reorder = 0.003;      // per data segment: arrives after its successor
  double syn_retx = 0.005;     // share of connections whose SYN or SYN/ACK is retransmitted
  double down = 0.15;          // share of flows where the local host only downloads
  double server = 0.3;         // share of the others where the local host accepts
  double churn = 0.25;         // about this share of flows close (and are replaced) during the file
  double rate = 200000;        // aggregate packets per second of capture time (target)
  int64_t start = 1700000000;  // unix seconds of the first packet
  std::string out = "out.pcap";
  std::string truth = "out.truth";
};

void usage() {
  std::fprintf(
      stderr,
      "usage: gen [options]\n"
      "  --packets N      packets to write (default 1000000)\n"
      "  --flows N        flows open at once, 1..4000000 (default 10000)\n"
      "  --seed N         random seed (default 1)\n"
      "  --local4 A       local IPv4 address (default 198.18.0.1)\n"
      "  --local6 A       local IPv6 address (default 2001:2::1)\n"
      "  --hosts N        remote hosts (default 1000, at most 130000)\n"
      "  --v6 F           share of flows over IPv6 (default 0.2)\n"
      "  --ts F           share of flows with TCP timestamps (default 0.7)\n"
      "  --rtt MIN:MAX    base RTT range in ms, log-uniform per host (default 0.2:150)\n"
      "  --delack F       share of receivers delaying ACKs (default 0.8)\n"
      "  --loss F         per local data segment loss probability (default 0.003)\n"
      "  --reorder F      per data segment reordering probability (default 0.003)\n"
      "  --syn-retx F     share of handshakes with a retransmitted SYN or SYN/ACK (default 0.005)\n"
      "  --down F         share of download-only flows (default 0.15)\n"
      "  --server F       share of other flows the local host accepts (default 0.3)\n"
      "  --churn F        about this share of flows close during the file (default 0.25)\n"
      "  --rate PPS       target packets per second of capture time (default 200000)\n"
      "  --start SEC      unix time of the first packet (default 1700000000)\n"
      "  -o FILE          pcap output (default out.pcap)\n"
      "  -t FILE          ground-truth output (default out.truth)\n");
}

bool parse_args(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "gen: %s needs a value\n", a.c_str());
      return false;
    }
    const char* v = argv[++i];
    if (a == "--packets")
      o->packets = std::strtoull(v, nullptr, 10);
    else if (a == "--flows")
      o->flows = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    else if (a == "--seed")
      o->seed = std::strtoull(v, nullptr, 10);
    else if (a == "--local4")
      o->local4 = v;
    else if (a == "--local6")
      o->local6 = v;
    else if (a == "--hosts")
      o->hosts = static_cast<uint32_t>(std::strtoul(v, nullptr, 10));
    else if (a == "--v6")
      o->v6 = std::atof(v);
    else if (a == "--ts")
      o->ts = std::atof(v);
    else if (a == "--rtt") {
      if (std::sscanf(v, "%lf:%lf", &o->rtt_min, &o->rtt_max) != 2) {
        std::fprintf(stderr, "gen: --rtt expects MIN:MAX in ms\n");
        return false;
      }
    } else if (a == "--delack")
      o->delack = std::atof(v);
    else if (a == "--loss")
      o->loss = std::atof(v);
    else if (a == "--reorder")
      o->reorder = std::atof(v);
    else if (a == "--syn-retx")
      o->syn_retx = std::atof(v);
    else if (a == "--down")
      o->down = std::atof(v);
    else if (a == "--server")
      o->server = std::atof(v);
    else if (a == "--churn")
      o->churn = std::atof(v);
    else if (a == "--rate")
      o->rate = std::atof(v);
    else if (a == "--start")
      o->start = std::strtoll(v, nullptr, 10);
    else if (a == "-o")
      o->out = v;
    else if (a == "-t")
      o->truth = v;
    else {
      std::fprintf(stderr, "gen: unknown option %s\n", a.c_str());
      usage();
      return false;
    }
  }
  if (o->flows < 1 || o->flows > 4000000 || o->hosts < 1 || o->hosts > 130000 || o->rtt_min <= 0 ||
      o->rtt_max < o->rtt_min || o->rate <= 0 || o->packets < 1) {
    std::fprintf(stderr, "gen: option out of range\n");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- random

// SplitMix64: tiny state, good enough statistics, and one per flow makes a
// flow's traffic independent of how flows interleave.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uni() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((next() >> 32) * n >> 32); }
  int64_t range(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(uni() * static_cast<double>(hi - lo + 1));
  }
  bool chance(double p) { return uni() < p; }
  double loguni(double lo, double hi) { return lo * std::exp(uni() * std::log(hi / lo)); }
};

uint64_t mix(uint64_t a, uint64_t b) {
  Rng r{a * 0x9e3779b97f4a7c15ull ^ b};
  r.next();
  return r.next();
}

// Serial-number arithmetic (RFC 1982), as TCP sequence numbers and
// timestamps need.
inline bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
inline bool seq_ge(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) >= 0; }

// ---------------------------------------------------------------- packets

enum : uint8_t { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10 };

// One packet of a flow as the capture will show it. t: microseconds since
// the start of the file.
struct Pkt {
  int64_t t;
  uint32_t seq, ack, tsval, tsecr;
  uint16_t len;  // payload bytes
  uint8_t flags;
  uint8_t out;  // 1: local -> remote
};

// One end of a connection (RFC 9293 §3.3.1 names, RFC 7323 §4.3 TS.Recent).
struct End {
  uint32_t nxt = 0;            // SND.NXT
  uint32_t rcv = 0;            // RCV.NXT
  uint32_t ts_recent = 0;      // TS.Recent
  uint32_t last_ack_sent = 0;  // Last.ACK.sent
  uint32_t ts_base = 0;        // TSval = ts_base + ms since file start
  uint32_t tsval(int64_t t) const { return ts_base + static_cast<uint32_t>(t / 1000); }
};

// ---------------------------------------------------------------- observer

// The capture-side view of one flow that decides, packet by packet, which
// RTT samples the rules give (README "How RTT is measured"; the preamble's
// rules 1-5). Segment flags:
enum : uint8_t { kSegSyn = 1, kSegRetx = 2, kSegTs = 4 };

struct OSeg {
  int64_t t;
  uint32_t start, end, tsval;
  uint8_t flags;
};

struct Obs {
  std::vector<OSeg> segs;  // outstanding local segments, oldest first
  uint32_t head = 0;       // segs[head..] are outstanding
  uint32_t snd_una = 0, snd_max = 0, rcv_max = 0, isn_l = 0, isn_r = 0;
  uint32_t rx_start = 0, rx_end = 0, rx_tsval = 0;
  int64_t rx_t = 0;
  uint32_t tsp = 0, last_tsval = 0;
  int64_t tsp_t = 0;
  uint32_t dupacks = 0;
  bool snd_init = false, rcv_init = false, isn_l_known = false, isn_r_known = false;
  bool rx_valid = false, rx_ts = false, pend = false, conf = false, has_last = false;

  size_t outstanding() const { return segs.size() - head; }
  void clear_segs() {
    std::vector<OSeg>().swap(segs);
    head = 0;
  }
};

enum class Verdict { kNone, kSample, kAmbiguous };
enum Kind { kData = 0, kHandshake = 1, kTs = 2 };
const char* const kKindName[] = {"data", "handshake", "ts"};

struct Outcome {
  Verdict v = Verdict::kNone;
  int kind = kData;
  int64_t rtt = 0;
  const char* reason = nullptr;
  bool disambiguated = false;  // a retransmitted segment timed through TSecr
};

void observe_out(Obs& o, const Pkt& p, bool ts, Outcome* res) {
  (void)res;
  const bool syn = p.flags & kSyn, fin = p.flags & kFin;
  if (p.flags & kRst) {
    o.clear_segs();
    o.pend = false;
    return;
  }
  if (syn && (!o.isn_l_known || o.isn_l != p.seq)) {
    o.clear_segs();
    o.isn_l = p.seq;
    o.isn_l_known = true;
    o.snd_una = o.snd_max = p.seq;
    o.dupacks = 0;
    o.rx_valid = false;
    o.snd_init = true;
  }
  if (!o.snd_init) {
    o.snd_una = o.snd_max = p.seq;
    o.snd_init = true;
  }
  const uint32_t len = p.len + (syn ? 1 : 0) + (fin ? 1 : 0);
  if (len > 0) {
    const uint32_t end = p.seq + len;
    if (seq_ge(p.seq, o.snd_max)) {
      o.segs.push_back({p.t, p.seq, end, p.tsval,
                        static_cast<uint8_t>((syn ? kSegSyn : 0) | (ts ? kSegTs : 0))});
      o.snd_max = end;
    } else {
      // Sent before: Karn's rule (RFC 6298 §3) applies to what it overlaps.
      for (size_t i = o.head; i < o.segs.size(); ++i)
        if (seq_lt(o.segs[i].start, end) && seq_gt(o.segs[i].end, p.seq))
          o.segs[i].flags |= kSegRetx;
      o.rx_start = p.seq;
      o.rx_end = end;
      o.rx_t = p.t;
      o.rx_tsval = p.tsval;
      o.rx_valid = true;
      o.rx_ts = ts;
      if (seq_gt(end, o.snd_max)) {
        o.segs.push_back(
            {p.t, o.snd_max, end, p.tsval,
             static_cast<uint8_t>(kSegRetx | (syn ? kSegSyn : 0) | (ts ? kSegTs : 0))});
        o.snd_max = end;
      }
    }
    o.pend = false;  // local data cancels a timestamp-echo sample
  }
  // Rule 5: a pure ACK with a TSval not seen before, nothing of ours
  // outstanding, starts a timestamp-echo sample; it counts only if the
  // remote was sending (data beyond this ACK already seen, or older echoes
  // carrying new data arriving later).
  if ((p.flags & kAck) && !syn && !fin && p.len == 0 && ts && o.rcv_init && !o.pend &&
      o.snd_una == o.snd_max && (!o.has_last || p.tsval != o.last_tsval)) {
    o.pend = true;
    o.tsp = p.tsval;
    o.tsp_t = p.t;
    o.conf = seq_gt(o.rcv_max, p.ack);
  }
  if (ts) {
    o.last_tsval = p.tsval;
    o.has_last = true;
  }
}

void observe_ack(Obs& o, const Pkt& p, bool ts, Outcome* res) {
  const uint32_t a = p.ack;
  if (!o.snd_init) {
    o.snd_una = o.snd_max = a;
    o.snd_init = true;
    return;
  }
  if (seq_gt(a, o.snd_max)) {
    o.clear_segs();
    o.snd_una = o.snd_max = a;
    o.dupacks = 0;
    return;
  }
  if (seq_le(a, o.snd_una)) {
    // Duplicate ACK (RFC 5681 §2).
    if (a == o.snd_una && p.len == 0 && !(p.flags & (kSyn | kFin)) && o.snd_una != o.snd_max)
      o.dupacks++;
    return;
  }
  const bool after_dup = o.dupacks > 0;
  o.dupacks = 0;
  size_t i = o.head;
  uint32_t retx = 0;
  while (i < o.segs.size() && seq_le(o.segs[i].end, a)) {
    if (o.segs[i].flags & kSegRetx) retx++;
    i++;
  }
  if (i < o.segs.size() && seq_gt(a, o.segs[i].start)) {
    // A partial ACK: the generator never cuts segments, so this is a bug.
    std::fprintf(stderr, "gen: internal error: partial ACK\n");
    std::abort();
  }
  if (i > o.head) {
    const OSeg& s = o.segs[i - 1];
    int64_t sent = s.t;
    const uint32_t other = retx - ((s.flags & kSegRetx) ? 1 : 0);
    if (after_dup) {
      res->v = Verdict::kAmbiguous;
      res->reason = "after-dupack";
    } else if (other > 0) {
      res->v = Verdict::kAmbiguous;
      res->reason = "covers-retransmission";
    } else if (s.flags & kSegRetx) {
      // RFC 7323 §4.3 / Appendix G: the echo tells which transmission
      // arrived, except for SYNs.
      bool ok = false;
      if (s.flags & kSegSyn) {
        res->reason = "syn-retransmitted";
      } else if ((s.flags & kSegTs) && ts && o.rx_valid && o.rx_ts && o.rx_tsval != s.tsval &&
                 seq_le(o.rx_start, s.start) && seq_ge(o.rx_end, s.end)) {
        if (p.tsecr == o.rx_tsval) {
          sent = o.rx_t;
          ok = true;
        } else if (p.tsecr == s.tsval) {
          ok = true;
        } else {
          res->reason = "karn";
        }
      } else {
        res->reason = "karn";
      }
      if (ok) {
        res->v = Verdict::kSample;
        res->kind = kData;
        res->rtt = p.t - sent;
        res->disambiguated = true;
      } else {
        res->v = Verdict::kAmbiguous;
      }
    } else if (o.rx_valid && o.rx_t > sent && seq_lt(o.rx_start, a) &&
               seq_gt(o.rx_end, o.snd_una)) {
      res->v = Verdict::kAmbiguous;
      res->reason = "later-retransmission";
    } else {
      res->v = Verdict::kSample;
      res->kind = (s.flags & kSegSyn) ? kHandshake : kData;
      res->rtt = p.t - sent;
    }
  }
  o.head = static_cast<uint32_t>(i);
  if (o.head == o.segs.size()) {
    o.segs.clear();
    o.head = 0;
  } else if (o.head >= 32) {
    o.segs.erase(o.segs.begin(), o.segs.begin() + o.head);
    o.head = 0;
  }
  o.snd_una = a;
}

void observe_in(Obs& o, const Pkt& p, bool ts, Outcome* res) {
  const bool syn = p.flags & kSyn, fin = p.flags & kFin;
  if (syn && (!o.isn_r_known || o.isn_r != p.seq)) {
    o.isn_r = p.seq;
    o.isn_r_known = true;
    o.rcv_max = p.seq;
    o.rcv_init = true;
  }
  if (p.flags & kAck) observe_ack(o, p, ts, res);
  if (!o.rcv_init) {
    o.rcv_max = p.seq;
    o.rcv_init = true;
  }
  bool new_data = false;
  const uint32_t len = p.len + (syn ? 1 : 0) + (fin ? 1 : 0);
  if (len > 0 && seq_gt(p.seq + len, o.rcv_max)) {
    new_data = true;
    o.rcv_max = p.seq + len;
  }
  if (o.pend && ts && !syn) {
    if (p.tsecr == o.tsp) {
      if (new_data) {
        if (o.conf && res->v == Verdict::kNone) {
          res->v = Verdict::kSample;
          res->kind = kTs;
          res->rtt = p.t - o.tsp_t;
        }
        o.pend = false;
      }
    } else if (seq_lt(p.tsecr, o.tsp)) {
      if (new_data) o.conf = true;
    } else {
      o.pend = false;
    }
  }
}

// ---------------------------------------------------------------- flows

enum Role : uint8_t { kUp, kServer, kDown };
enum Phase : uint8_t { kNew, kOpen, kClosing };

struct Flow {
  Rng rng;
  End L, R;  // local and remote end
  Obs obs;
  std::vector<Pkt> q;  // packets of the current batch, in capture order
  uint32_t qi = 0;
  int64_t next_action = 0;
  int64_t close_at = 0;
  int64_t owd_out = 0, owd_in = 0;  // one-way delays, us
  int64_t gap_l = 12, gap_r = 12;   // sender spacing, us
  uint32_t host = 0;
  uint16_t lport = 0, rport = 0;
  uint8_t role = kUp;
  uint8_t phase = kNew;
  uint8_t W = 10;
  bool v6 = false, ts = false, delack_l = true, delack_r = true;
  uint16_t mss() const { return ts ? 1448 : 1460; }
};

// One-direction transfer of n segments: an event loop of its own.
struct Xfer {
  static constexpr int kMax = 256;
  enum Type : uint8_t { kSend, kArr, kAckArr, kDelack, kRto };
  struct Ev {
    int64_t t;
    uint32_t ord;
    uint8_t type;
    int32_t a;
    uint32_t b;  // TSval carried
  };
  std::vector<Ev> h;
  uint32_t ord = 0;
  void push(int64_t t, uint8_t type, int32_t a, uint32_t b = 0) {
    h.push_back({t, ord++, type, a, b});
    std::push_heap(h.begin(), h.end(),
                   [](const Ev& x, const Ev& y) { return x.t != y.t ? x.t > y.t : x.ord > y.ord; });
  }
  Ev pop() {
    std::pop_heap(h.begin(), h.end(),
                  [](const Ev& x, const Ev& y) { return x.t != y.t ? x.t > y.t : x.ord > y.ord; });
    Ev e = h.back();
    h.pop_back();
    return e;
  }
};

struct XferResult {
  int64_t t_done;  // when the receiver held everything
  int64_t t_last;  // last capture time of the transfer
};

constexpr int64_t kDelackUs = 40000;  // Linux' minimum delayed-ACK timeout

// Simulates one transfer on flow f and appends its packets to f.q.
// respond >= 0: the receiver answers with data `respond` us after it holds
// everything, and that answer carries the ACK if it leaves before the
// delayed-ACK timer (RFC 9293 §3.8.6.3).
XferResult transfer(Flow& f, bool local_sends, int64_t t0, int n, uint32_t bytes, int lost,
                    int reorder, int64_t respond) {
  static Xfer x;
  static uint32_t seqs[Xfer::kMax + 1];
  static uint8_t got[Xfer::kMax];
  x.h.clear();
  x.ord = 0;
  End& S = local_sends ? f.L : f.R;
  End& V = local_sends ? f.R : f.L;
  const int64_t owd_f = local_sends ? f.owd_out : f.owd_in;
  const int64_t owd_b = local_sends ? f.owd_in : f.owd_out;
  const int64_t gap = local_sends ? f.gap_l : f.gap_r;
  const int64_t hd = local_sends ? f.rng.range(20, 120) : f.rng.range(10, 60);  // receiver stack
  const bool delack = local_sends ? f.delack_r : f.delack_l;
  const uint32_t mss = f.mss();
  if (n > Xfer::kMax) n = Xfer::kMax;
  seqs[0] = S.nxt;
  for (int i = 0; i < n; ++i) {
    uint32_t sz = i + 1 < n ? mss : bytes - mss * static_cast<uint32_t>(n - 1);
    seqs[i + 1] = seqs[i] + sz;
    got[i] = 0;
  }
  const int64_t rto = std::max<int64_t>(200000, 2 * (f.owd_in + f.owd_out)) + 10000;

  int next = 0, una = 0, dup = 0, rcv_idx = 0, unacked = 0, max_got = -1;
  bool retx_done = false, done = false, armed = false;
  uint32_t gen = 0;
  int64_t last_send = -1, t_done = t0, t_last = t0, fire_at = 0;

  auto emit = [&](const Pkt& p) {
    f.q.push_back(p);
    if (p.t > t_last) t_last = p.t;
  };
  auto send_seg = [&](int i, int64_t t, bool retx) {
    Pkt p;
    p.t = local_sends ? t : t + owd_f;
    p.seq = seqs[i];
    p.ack = S.rcv;
    p.tsval = f.ts ? S.tsval(t) : 0;
    p.tsecr = f.ts ? S.ts_recent : 0;
    p.len = static_cast<uint16_t>(seqs[i + 1] - seqs[i]);
    p.flags = static_cast<uint8_t>(kAck | (i == n - 1 ? kPsh : 0));
    p.out = local_sends;
    S.last_ack_sent = S.rcv;
    // Only local segments are ever lost (after the capture saw them):
    // a remote segment lost before the capture would never be seen.
    if (i == lost && !retx) {
      emit(p);
      return;
    }
    emit(p);
    int64_t arr = t + owd_f;
    if (i == reorder && !retx) arr += 2 * gap + f.rng.range(1, 100);
    x.push(arr, Xfer::kArr, i, p.tsval);
  };
  // Segments leave at the sender's pace; each is built when it leaves, so
  // it carries the TS.Recent of that moment.
  auto try_send = [&](int64_t t) {
    while (next < n && next < una + f.W) {
      int64_t ts = std::max(t, last_send + gap);
      last_send = ts;
      x.push(ts, Xfer::kSend, next);
      next++;
    }
  };
  auto send_ack = [&](int64_t t) {
    Pkt p;
    p.t = local_sends ? t + owd_b : t;
    p.seq = V.nxt;
    p.ack = seqs[rcv_idx];
    p.tsval = f.ts ? V.tsval(t) : 0;
    p.tsecr = f.ts ? V.ts_recent : 0;
    p.len = 0;
    p.flags = kAck;
    p.out = !local_sends;
    V.last_ack_sent = p.ack;
    V.rcv = p.ack;
    unacked = 0;
    armed = false;
    gen++;
    emit(p);
    x.push(t + owd_b, Xfer::kAckArr, rcv_idx, p.tsval);
  };
  auto retransmit = [&](int64_t t) {
    retx_done = true;
    last_send = std::max(last_send, t);
    send_seg(lost, t, true);
  };

  try_send(t0);
  while (!x.h.empty()) {
    Xfer::Ev e = x.pop();
    const int64_t t = e.t;
    switch (e.type) {
      case Xfer::kSend:
        send_seg(e.a, t, false);
        if (e.a == lost) x.push(t + rto, Xfer::kRto, e.a);
        break;
      case Xfer::kArr: {
        const int i = e.a;
        // RFC 7323 §4.3: TS.Recent <- SEG.TSval if SEG.SEQ <= Last.ACK.sent.
        if (f.ts && seq_le(seqs[i], V.last_ack_sent) && seq_ge(e.b, V.ts_recent)) V.ts_recent = e.b;
        if (got[i]) {
          send_ack(t + hd);  // a duplicate: ACK at once
          break;
        }
        got[i] = 1;
        if (i > max_got) max_got = i;
        if (i == rcv_idx) {
          const bool hole = max_got > rcv_idx;
          while (rcv_idx < n && got[rcv_idx]) rcv_idx++;
          if (hole) {
            send_ack(t + hd);  // filling a hole: ACK at once (RFC 5681 §4.2)
          } else {
            unacked++;
            if (!delack || unacked >= 2) {
              send_ack(t + hd);
            } else if (!armed) {
              armed = true;
              fire_at = t + kDelackUs;
              x.push(fire_at, Xfer::kDelack, 0, gen);
            }
          }
        } else {
          send_ack(t + hd);  // out of order: duplicate ACK at once
        }
        if (rcv_idx == n && !done) {
          done = true;
          t_done = t;
          if (armed && respond >= 0 && t + respond < fire_at) {
            armed = false;  // the answer carries the ACK
            gen++;
          }
        }
        break;
      }
      case Xfer::kDelack:
        if (armed && e.b == gen && unacked > 0) send_ack(t);
        break;
      case Xfer::kAckArr: {
        const int k = e.a;
        if (f.ts) S.ts_recent = e.b;  // an ACK's SEQ is always <= Last.ACK.sent here
        if (k > una) {
          una = k;
          dup = 0;
          try_send(t);
        } else if (k == una && una < next) {
          if (++dup == 3 && lost == una && !retx_done) retransmit(t + 5);
        }
        break;
      }
      case Xfer::kRto:
        if (!retx_done && una <= e.a) retransmit(t);
        break;
    }
  }
  S.nxt = seqs[n];
  V.rcv = seqs[n];
  return {t_done, t_last};
}

uint32_t pick_segments(Rng& r, double p1, double p2, int lo2, int hi2, int lo3, int hi3) {
  double u = r.uni();
  if (u < p1) return 1;
  if (u < p2) return static_cast<uint32_t>(r.range(lo2, hi2));
  return static_cast<uint32_t>(r.range(lo3, hi3));
}

uint32_t bytes_for(Flow& f, uint32_t n, uint32_t min_last) {
  uint32_t mss = f.mss();
  return mss * (n - 1) + static_cast<uint32_t>(f.rng.range(min_last, mss));
}

// ---------------------------------------------------------------- output

class Writer {
 public:
  bool open(const char* path) {
    f_ = std::fopen(path, "wb");
    if (!f_) return false;
    buf_.resize(1 << 22);
    return true;
  }
  char* reserve(size_t n) {
    if (len_ + n > buf_.size()) flush();
    return &buf_[len_];
  }
  void commit(size_t n) { len_ += n; }
  void put(const void* p, size_t n) {
    std::memcpy(reserve(n), p, n);
    commit(n);
  }
  void flush() {
    if (len_ && std::fwrite(buf_.data(), 1, len_, f_) != len_) {
      std::perror("gen: write");
      std::exit(1);
    }
    len_ = 0;
  }
  bool close() {
    flush();
    return std::fclose(f_) == 0;
  }
  uint64_t written = 0;

 private:
  FILE* f_ = nullptr;
  std::vector<char> buf_;
  size_t len_ = 0;
};

inline void be16(uint8_t* p, uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}
inline void be32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

struct Ctx {
  Options o;
  uint8_t local4[4], local6[16];
  std::string local4s, local6s;
  std::vector<std::string> host4s, host6s;
  std::vector<double> host_rtt;  // us
  Writer pcap, truth;
  uint64_t written = 0, serial = 0;
  uint64_t open = 0, max_open = 0, flows_started = 0, flows_closed = 0;
  uint64_t samples[3] = {0, 0, 0}, ambiguous = 0, ambiguous_by[6] = {0}, disambiguated = 0;
  uint64_t data_packets = 0, retransmissions = 0;
  int64_t last_t = 0;
  uint16_t ip_id = 1;
  int64_t G = 0;     // mean think time between exchanges, us
  int64_t ramp = 0;  // the first flows open during [0, ramp)
  int64_t dur = 0;   // estimated capture duration, us
};

const char* const kAmbReasons[] = {"after-dupack", "covers-retransmission", "syn-retransmitted",
                                   "karn",         "later-retransmission",  "other"};

void host_addr4(uint32_t h, uint8_t out[4]) {
  // 198.18.1.0 onwards: the first /24 of 198.18.0.0/15 holds the local host.
  uint32_t a = (198u << 24 | 18u << 16) + 256 + h;
  be32(out, a);
}
void host_addr6(uint32_t h, uint8_t out[16]) {
  // 2001:2:0:1::/64 (RFC 5180 benchmarking range), the local host in 2001:2::/64.
  static const uint8_t prefix[8] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01};
  std::memcpy(out, prefix, 8);
  std::memset(out + 8, 0, 4);
  be32(out + 12, h + 1);
}

// Writes one packet to the pcap file and its verdict to the truth file.
void write_packet(Ctx& c, Flow& f, const Pkt& p) {
  Outcome res;
  if (p.out)
    observe_out(f.obs, p, f.ts, &res);
  else
    observe_in(f.obs, p, f.ts, &res);

  const int64_t abs_us = c.o.start * 1000000 + p.t;
  const bool syn = p.flags & kSyn;
  const int optlen = syn ? (f.ts ? 20 : 12) : (f.ts ? 12 : 0);
  const int iplen = f.v6 ? 40 : 20;
  const int caplen = 14 + iplen + 20 + optlen;
  uint8_t* b = reinterpret_cast<uint8_t*>(c.pcap.reserve(16 + caplen));
  uint32_t rec[4] = {static_cast<uint32_t>(abs_us / 1000000),
                     static_cast<uint32_t>(abs_us % 1000000), static_cast<uint32_t>(caplen),
                     static_cast<uint32_t>(caplen + p.len)};
  std::memcpy(b, rec, 16);
  uint8_t* e = b + 16;
  static const uint8_t mac_l[6] = {0x02, 0, 0, 0, 0, 0x01}, mac_r[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(e, p.out ? mac_r : mac_l, 6);
  std::memcpy(e + 6, p.out ? mac_l : mac_r, 6);
  be16(e + 12, f.v6 ? 0x86dd : 0x0800);
  uint8_t* ip = e + 14;
  const uint16_t tcplen = static_cast<uint16_t>(20 + optlen + p.len);
  if (f.v6) {
    be32(ip, 0x60000000);
    be16(ip + 4, tcplen);
    ip[6] = 6;
    ip[7] = p.out ? 64 : 52;
    uint8_t h[16];
    host_addr6(f.host, h);
    std::memcpy(ip + 8, p.out ? c.local6 : h, 16);
    std::memcpy(ip + 24, p.out ? h : c.local6, 16);
  } else {
    ip[0] = 0x45;
    ip[1] = 0;
    be16(ip + 2, static_cast<uint16_t>(20 + tcplen));
    be16(ip + 4, c.ip_id++);
    be16(ip + 6, 0x4000);  // DF
    ip[8] = p.out ? 64 : 52;
    ip[9] = 6;
    ip[10] = ip[11] = 0;
    uint8_t h[4];
    host_addr4(f.host, h);
    std::memcpy(ip + 12, p.out ? c.local4 : h, 4);
    std::memcpy(ip + 16, p.out ? h : c.local4, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    be16(ip + 10, static_cast<uint16_t>(~sum));
  }
  uint8_t* tcp = ip + iplen;
  be16(tcp, p.out ? f.lport : f.rport);
  be16(tcp + 2, p.out ? f.rport : f.lport);
  be32(tcp + 4, p.seq);
  be32(tcp + 8, p.ack);
  tcp[12] = static_cast<uint8_t>(((20 + optlen) / 4) << 4);
  tcp[13] = p.flags;
  be16(tcp + 14, syn ? 64240 : 502);
  be16(tcp + 16, 0);  // checksum: the payload is not in the file anyway
  be16(tcp + 18, 0);
  uint8_t* opt = tcp + 20;
  if (syn) {
    opt[0] = 2;
    opt[1] = 4;
    be16(opt + 2, f.mss() + (f.ts ? 12 : 0));
    if (f.ts) {
      opt[4] = 4;
      opt[5] = 2;  // SACK permitted
      opt[6] = 8;
      opt[7] = 10;
      be32(opt + 8, p.tsval);
      be32(opt + 12, p.tsecr);
      opt[16] = 1;  // NOP
      opt[17] = 3;
      opt[18] = 3;
      opt[19] = 7;  // window scale 7
    } else {
      opt[4] = 1;
      opt[5] = 1;
      opt[6] = 4;
      opt[7] = 2;
      opt[8] = 1;
      opt[9] = 3;
      opt[10] = 3;
      opt[11] = 7;
    }
  } else if (f.ts) {
    opt[0] = 1;
    opt[1] = 1;
    opt[2] = 8;
    opt[3] = 10;
    be32(opt + 4, p.tsval);
    be32(opt + 8, p.tsecr);
  }
  c.pcap.commit(16 + caplen);
  c.written++;
  c.last_t = p.t;
  if (p.out && p.len > 0) c.data_packets++;

  if (res.v != Verdict::kNone) {
    char* l = c.truth.reserve(256);
    const std::string& ls = f.v6 ? c.local6s : c.local4s;
    const std::string& rs = f.v6 ? c.host6s[f.host] : c.host4s[f.host];
    int n;
    if (res.v == Verdict::kSample) {
      c.samples[res.kind]++;
      if (res.disambiguated) c.disambiguated++;
      n = std::snprintf(l, 256, "S %" PRId64 " %s %u %s %u %" PRId64 " %s\n", abs_us, ls.c_str(),
                        f.lport, rs.c_str(), f.rport, res.rtt, kKindName[res.kind]);
    } else {
      c.ambiguous++;
      int k = 5;
      for (int i = 0; i < 5; ++i)
        if (std::strcmp(res.reason, kAmbReasons[i]) == 0) k = i;
      c.ambiguous_by[k]++;
      n = std::snprintf(l, 256, "A %" PRId64 " %s %u %s %u %s\n", abs_us, ls.c_str(), f.lport,
                        rs.c_str(), f.rport, res.reason);
    }
    c.truth.commit(static_cast<size_t>(n));
  }
}

// ---------------------------------------------------------------- flow life

void sort_batch(Flow& f) {
  std::stable_sort(f.q.begin(), f.q.end(), [](const Pkt& a, const Pkt& b) { return a.t < b.t; });
  f.qi = 0;
}

int64_t think(Ctx& c, Flow& f) {
  return std::max<int64_t>(1000, static_cast<int64_t>(c.G * (0.5 + f.rng.uni())));
}

void new_flow(Ctx& c, Flow& f, int64_t t) {
  const uint64_t s = c.serial++;
  f.rng = Rng{mix(c.o.seed, s)};
  f.obs = Obs();
  f.q.clear();
  f.qi = 0;
  const uint32_t H = c.o.hosts;
  f.host = static_cast<uint32_t>(s % H);
  const uint32_t eph = 1024 + static_cast<uint32_t>((s / H) % 64000);
  const uint32_t cycle = static_cast<uint32_t>((s / H / 64000) % 4);
  f.v6 = f.rng.chance(c.o.v6);
  f.ts = f.rng.chance(c.o.ts);
  f.delack_l = f.rng.chance(c.o.delack);
  f.delack_r = f.rng.chance(c.o.delack);
  if (f.rng.chance(c.o.down))
    f.role = kDown;
  else
    f.role = f.rng.chance(c.o.server) ? kServer : kUp;
  static const uint16_t client_rports[4] = {443, 80, 993, 25};
  static const uint16_t server_lports[4] = {443, 22, 5432, 6379};
  if (f.role == kServer) {
    f.lport = server_lports[cycle];
    f.rport = static_cast<uint16_t>(eph);
  } else {
    f.lport = static_cast<uint16_t>(eph);
    f.rport = client_rports[cycle];
  }
  const double rtt = c.host_rtt[f.host];
  const double share = 0.4 + 0.2 * f.rng.uni();
  f.owd_out = std::max<int64_t>(10, static_cast<int64_t>(rtt * share));
  f.owd_in = std::max<int64_t>(10, static_cast<int64_t>(rtt) - f.owd_out);
  f.gap_l = 12;
  static const int64_t gaps[3] = {12, 30, 120};  // 1 Gb/s, 400 Mb/s, 100 Mb/s bottleneck
  f.gap_r = gaps[f.rng.below(3)];
  f.W = static_cast<uint8_t>(f.rng.range(10, 32));
  f.L = End();
  f.R = End();
  f.L.ts_base = static_cast<uint32_t>(f.rng.next());
  f.R.ts_base = static_cast<uint32_t>(f.rng.next());
  const double life =
      c.o.churn > 0 ? -std::log(1.0 - f.rng.uni()) * static_cast<double>(c.dur) / c.o.churn : 1e18;
  // No flow closes before every slot has opened its first flow, so that N
  // flows are open at once at the end of the ramp.
  f.close_at = std::max(t + static_cast<int64_t>(std::min(life, 1e17)), c.ramp + c.G);
  f.phase = kNew;
  f.next_action = t;
  c.flows_started++;
}

void handshake(Ctx& c, Flow& f, int64_t t) {
  const bool retx = f.rng.chance(c.o.syn_retx);
  const uint32_t isn_l = static_cast<uint32_t>(f.rng.next()),
                 isn_r = static_cast<uint32_t>(f.rng.next());
  const int64_t proc = f.rng.range(20, 80), hd = f.rng.range(10, 60);
  auto pkt = [&](int64_t tt, bool out, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t tsval,
                 uint32_t tsecr) {
    Pkt p{tt, seq, ack, f.ts ? tsval : 0, f.ts ? tsecr : 0, 0, flags, static_cast<uint8_t>(out)};
    f.q.push_back(p);
  };
  int64_t end;
  if (f.role != kServer) {
    // The local host connects: SYN -> SYN/ACK times the SYN (client role).
    int64_t ts = t;
    pkt(ts, true, isn_l, 0, kSyn, f.L.tsval(ts), 0);
    if (retx) {
      ts += 1000000;  // RFC 6298 §2.1: initial RTO of 1 s
      pkt(ts, true, isn_l, 0, kSyn, f.L.tsval(ts), 0);
    }
    const uint32_t syn_tsval = f.L.tsval(ts);
    const int64_t rs = ts + f.owd_out + proc;
    const uint32_t sa_tsval = f.R.tsval(rs);
    const int64_t ca = rs + f.owd_in;
    pkt(ca, false, isn_r, isn_l + 1, kSyn | kAck, sa_tsval, syn_tsval);
    const int64_t la = ca + hd;
    pkt(la, true, isn_l + 1, isn_r + 1, kAck, f.L.tsval(la), sa_tsval);
    f.R.ts_recent = f.L.tsval(la);
    f.L.ts_recent = sa_tsval;
    end = la + f.owd_out;
  } else {
    // The remote connects: SYN/ACK -> ACK times the SYN/ACK (server role).
    const int64_t rs = t;
    const uint32_t syn_tsval = f.R.tsval(rs);
    const int64_t cs = rs + f.owd_in;
    pkt(cs, false, isn_r, 0, kSyn, syn_tsval, 0);
    int64_t la = cs + hd;
    pkt(la, true, isn_l, isn_r + 1, kSyn | kAck, f.L.tsval(la), syn_tsval);
    if (retx) {
      la += 1000000;
      pkt(la, true, isn_l, isn_r + 1, kSyn | kAck, f.L.tsval(la), syn_tsval);
    }
    const uint32_t sa_tsval = f.L.tsval(la);
    const int64_t ra = la + f.owd_out + proc;
    const uint32_t ack_tsval = f.R.tsval(ra);
    pkt(ra + f.owd_in, false, isn_r + 1, isn_l + 1, kAck, ack_tsval, sa_tsval);
    f.R.ts_recent = sa_tsval;
    f.L.ts_recent = ack_tsval;
    end = ra + f.owd_in;
  }
  f.L.nxt = isn_l + 1;
  f.L.rcv = f.L.last_ack_sent = isn_r + 1;
  f.R.nxt = isn_r + 1;
  f.R.rcv = f.R.last_ack_sent = isn_l + 1;
  f.next_action = end + static_cast<int64_t>(static_cast<double>(c.G) * f.rng.uni()) + 1000;
}

void close_flow(Ctx& c, Flow& f, int64_t t) {
  (void)c;
  const int64_t hd = f.rng.range(10, 60), proc = f.rng.range(20, 200);
  auto pkt = [&](int64_t tt, bool out, uint8_t flags) {
    End& s = out ? f.L : f.R;
    End& v = out ? f.R : f.L;
    int64_t sent = out ? tt : tt - f.owd_in;
    Pkt p{tt,
          s.nxt,
          s.rcv,
          f.ts ? s.tsval(sent) : 0,
          f.ts ? s.ts_recent : 0,
          0,
          flags,
          static_cast<uint8_t>(out)};
    f.q.push_back(p);
    if (flags & kFin) s.nxt++;
    s.last_ack_sent = s.rcv;
    if (f.ts) v.ts_recent = p.tsval;  // in order: SEQ <= Last.ACK.sent
    if (flags & kFin) v.rcv = s.nxt;
  };
  int64_t end;
  if (f.role != kServer) {
    // The local host closes (RFC 9293 §3.6): FIN -> FIN/ACK (or ACK, FIN) -> ACK.
    pkt(t, true, kFin | kAck);
    const int64_t ra = t + f.owd_out;
    if (f.rng.chance(0.7)) {
      pkt(ra + proc + f.owd_in, false, kFin | kAck);
      end = ra + proc + f.owd_in + hd;
      pkt(end, true, kAck);
    } else {
      pkt(ra + hd + f.owd_in, false, kAck);
      const int64_t fin = ra + f.rng.range(200, 5000) + f.owd_in;
      pkt(fin, false, kFin | kAck);
      end = fin + hd;
      pkt(end, true, kAck);
    }
  } else {
    // The remote client closes; the local FIN is timed by its ACK.
    const int64_t cf = t + f.owd_in;
    pkt(cf, false, kFin | kAck);
    const int64_t lf = cf + hd;
    pkt(lf, true, kFin | kAck);
    end = lf + f.owd_out + proc + f.owd_in;
    pkt(end, false, kAck);
  }
  f.next_action = end + 1000;
}

int lost_index(Ctx& c, Flow& f, int n) {
  for (int i = 0; i < n; ++i)
    if (f.rng.chance(c.o.loss)) return i;
  return -1;
}
int reorder_index(Ctx& c, Flow& f, int n) {
  for (int i = 0; i + 1 < n; ++i)
    if (f.rng.chance(c.o.reorder)) return i;
  return -1;
}

void exchange(Ctx& c, Flow& f, int64_t t) {
  // Per-exchange path jitter: a few percent on the return path.
  const int64_t base_in = f.owd_in;
  f.owd_in = base_in + static_cast<int64_t>(static_cast<double>(base_in) * 0.05 * f.rng.uni());
  XferResult r1, r2;
  int64_t last;
  switch (f.role) {
    case kUp: {
      const int n = static_cast<int>(pick_segments(f.rng, 0.6, 0.9, 2, 6, 8, 48));
      const int m = static_cast<int>(pick_segments(f.rng, 0.5, 0.85, 2, 8, 9, 40));
      const int64_t proc = static_cast<int64_t>(f.rng.loguni(50, 20000));
      r1 = transfer(f, true, t, n, bytes_for(f, n, 64), lost_index(c, f, n), reorder_index(c, f, n),
                    proc);
      r2 = transfer(f, false, r1.t_done + proc, m, bytes_for(f, m, 100), -1, reorder_index(c, f, m),
                    -1);
      last = std::max(r1.t_last, r2.t_last);
      break;
    }
    case kServer: {
      const int n = f.rng.chance(0.9) ? 1 : static_cast<int>(f.rng.range(2, 3));
      const int m = static_cast<int>(pick_segments(f.rng, 0.4, 0.8, 2, 10, 11, 48));
      const int64_t proc = static_cast<int64_t>(f.rng.loguni(20, 5000));
      r1 = transfer(f, false, t, n, bytes_for(f, n, 60), -1, reorder_index(c, f, n), proc);
      r2 = transfer(f, true, r1.t_done + proc, m, bytes_for(f, m, 100), lost_index(c, f, m),
                    reorder_index(c, f, m), -1);
      last = std::max(r1.t_last, r2.t_last);
      break;
    }
    default: {
      const int n = static_cast<int>(f.rng.range(8, 120));
      r1 = transfer(f, false, t, n, bytes_for(f, n, 100), -1, reorder_index(c, f, n), -1);
      last = r1.t_last;
      break;
    }
  }
  f.owd_in = base_in;
  f.next_action = last + think(c, f);
}

// Runs the flow's next step at time t: fills f.q with a batch, or (between
// flows) only moves next_action.
void act(Ctx& c, Flow& f, int64_t t) {
  f.q.clear();
  f.qi = 0;
  switch (f.phase) {
    case kNew:
      handshake(c, f, t);
      f.phase = kOpen;
      if (++c.open > c.max_open) c.max_open = c.open;
      break;
    case kOpen:
      if (t >= f.close_at) {
        close_flow(c, f, t);
        f.phase = kClosing;
      } else {
        exchange(c, f, t);
      }
      break;
    case kClosing:
      c.open--;
      c.flows_closed++;
      new_flow(c, f, t + static_cast<int64_t>(static_cast<double>(c.G) * 0.25 * f.rng.uni()));
      return;
  }
  sort_batch(f);
  if (!f.q.empty() && f.q.front().t < t) {
    std::fprintf(stderr, "gen: internal error: a batch starts before its action\n");
    std::abort();
  }
}

struct HeapItem {
  int64_t t;
  uint64_t ord;
  uint32_t slot;
};
struct HeapCmp {
  bool operator()(const HeapItem& a, const HeapItem& b) const {
    return a.t != b.t ? a.t > b.t : a.ord > b.ord;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Ctx c;
  if (!parse_args(argc, argv, &c.o)) return 2;
  const Options& o = c.o;
  if (inet_pton(AF_INET, o.local4.c_str(), c.local4) != 1 ||
      inet_pton(AF_INET6, o.local6.c_str(), c.local6) != 1) {
    std::fprintf(stderr, "gen: bad local address\n");
    return 2;
  }
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET, c.local4, buf, sizeof buf);
  c.local4s = buf;
  inet_ntop(AF_INET6, c.local6, buf, sizeof buf);
  c.local6s = buf;
  c.host4s.resize(o.hosts);
  c.host6s.resize(o.hosts);
  c.host_rtt.resize(o.hosts);
  for (uint32_t h = 0; h < o.hosts; ++h) {
    uint8_t a4[4], a6[16];
    host_addr4(h, a4);
    host_addr6(h, a6);
    inet_ntop(AF_INET, a4, buf, sizeof buf);
    c.host4s[h] = buf;
    inet_ntop(AF_INET6, a6, buf, sizeof buf);
    c.host6s[h] = buf;
    Rng r{mix(o.seed ^ 0x5eed, h)};
    c.host_rtt[h] = r.loguni(o.rtt_min, o.rtt_max) * 1000.0;
  }
  // Think time so that N flows together make about `rate` packets per
  // second (an exchange is some 20 packets on average with the defaults).
  c.dur = static_cast<int64_t>(static_cast<double>(o.packets) / o.rate * 1e6);
  c.G = std::max<int64_t>(2000,
                          static_cast<int64_t>(static_cast<double>(o.flows) * 20.0 / o.rate * 1e6));
  const int64_t ramp = std::max<int64_t>(1000, std::min<int64_t>(c.G, c.dur / 4));
  c.ramp = ramp;

  if (!c.pcap.open(o.out.c_str()) || !c.truth.open(o.truth.c_str())) {
    std::fprintf(stderr, "gen: cannot write %s or %s: %s\n", o.out.c_str(), o.truth.c_str(),
                 std::strerror(errno));
    return 1;
  }
  // Classic pcap header (pcap-savefile(5)): microsecond timestamps, Ethernet.
  struct {
    uint32_t magic;
    uint16_t major, minor;
    int32_t thiszone;
    uint32_t sigfigs, snaplen, linktype;
  } hdr = {0xa1b2c3d4, 2, 4, 0, 0, 65535, 1};
  c.pcap.put(&hdr, sizeof hdr);
  {
    char* l = c.truth.reserve(1024);
    int n =
        std::snprintf(l, 1024,
                      "# passive-rtt bench ground truth v1\n"
                      "# packets=%" PRIu64 " flows=%u seed=%" PRIu64
                      " local4=%s local6=%s hosts=%u\n"
                      "# S <ack_us> <local> <lport> <remote> <rport> <rtt_us> <kind>\n"
                      "# A <ack_us> <local> <lport> <remote> <rport> <reason>\n",
                      o.packets, o.flows, o.seed, c.local4s.c_str(), c.local6s.c_str(), o.hosts);
    c.truth.commit(static_cast<size_t>(n));
  }

  std::vector<Flow> flows(o.flows);
  std::vector<HeapItem> heap;
  heap.reserve(o.flows);
  uint64_t ord = 0;
  Rng g{mix(o.seed, 0xfeedull)};
  for (uint32_t i = 0; i < o.flows; ++i) {
    new_flow(c, flows[i], static_cast<int64_t>(g.uni() * static_cast<double>(ramp)));
    heap.push_back({flows[i].next_action, ord++, i});
  }
  std::make_heap(heap.begin(), heap.end(), HeapCmp());

  while (c.written < o.packets) {
    std::pop_heap(heap.begin(), heap.end(), HeapCmp());
    HeapItem it = heap.back();
    heap.pop_back();
    Flow& f = flows[it.slot];
    if (f.qi < f.q.size()) {
      write_packet(c, f, f.q[f.qi++]);
    } else {
      act(c, f, it.t);
    }
    int64_t next;
    if (f.qi < f.q.size()) {
      next = f.q[f.qi].t;
    } else {
      if (!f.q.empty()) std::vector<Pkt>().swap(f.q);
      f.qi = 0;
      next = f.next_action;
    }
    heap.push_back({next, ord++, it.slot});
    std::push_heap(heap.begin(), heap.end(), HeapCmp());
  }
  if (!c.pcap.close() || !c.truth.close()) {
    std::perror("gen: close");
    return 1;
  }
  std::printf(
      "{\"packets\":%" PRIu64 ",\"flows\":%u,\"flowsStarted\":%" PRIu64 ",\"flowsClosed\":%" PRIu64
      ",\"maxOpen\":%" PRIu64 ",\"durationS\":%.3f,\"thinkS\":%.3f,\"samples\":{\"data\":%" PRIu64
      ",\"handshake\":%" PRIu64 ",\"ts\":%" PRIu64 "},\"retransmissionsTimedByTsecr\":%" PRIu64
      ",\"ambiguous\":%" PRIu64 ",\"ambiguousBy\":{\"after-dupack\":%" PRIu64
      ",\"covers-retransmission\":%" PRIu64 ",\"syn-retransmitted\":%" PRIu64 ",\"karn\":%" PRIu64
      ",\"later-retransmission\":%" PRIu64 "},\"local\":[\"%s\",\"%s\"]}\n",
      c.written, o.flows, c.flows_started, c.flows_closed, c.max_open,
      static_cast<double>(c.last_t) / 1e6, static_cast<double>(c.G) / 1e6, c.samples[0],
      c.samples[1], c.samples[2], c.disambiguated, c.ambiguous, c.ambiguous_by[0],
      c.ambiguous_by[1], c.ambiguous_by[2], c.ambiguous_by[3], c.ambiguous_by[4], c.local4s.c_str(),
      c.local6s.c_str());
  return 0;
}
