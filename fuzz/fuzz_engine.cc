// libFuzzer target: arbitrary sequences of TCP/IP packets through the Engine
// (decode, flow table, sampler, host-pair aggregates, report clock), with a
// tiny flow table so that eviction and expiry run all the time.
//
// Raw fuzz bytes rarely make a TCP segment whose numbers relate to earlier
// ones, so the input is read as a small program instead: a 4-byte header
// (engine options) and then 8-byte records, each of which synthesises one
// packet between a few fixed addresses. Sequence and acknowledgment numbers
// are chosen relative to what the harness already sent on that connection
// (new data, retransmission, gap, partial/duplicate/full ACK, ACK of unseen
// data, new ISN), so the sampler's paths are reached in a few records. A
// record can also carry raw bytes as a packet, advance the wall clock
// (tick), or step time back. finish() runs at the end.
//
// The sink checks what the engine promises: report rows are consistent
// (min <= percentiles <= max, figures present exactly when samples are),
// samples are positive, and the flow and packet counters add up after every
// packet. The header's options include sampling windows.
#include <sanitizer/asan_interface.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "../src-native/engine.h"

namespace {

// The engine allocates its tables in large chunks (hundreds of kB) on first
// use. Fresh mmap-backed blocks on every input would spend the run in page
// faults (~1500 exec/s), so blocks of 64 kB and more are recycled here by
// size: while cached they are poisoned (a use after free still reports),
// and each carries a poisoned tail so a read past its end still reports.
namespace bigcache {
constexpr size_t kBig = 64 << 10;
constexpr size_t kTail = 4096;
struct Entry {
  size_t size;
  void* p;
};
Entry cache[64];
int n = 0;

void* take(size_t size) {
  for (int i = 0; i < n; ++i) {
    if (cache[i].size == size) {
      void* p = cache[i].p;
      cache[i] = cache[--n];
      ASAN_UNPOISON_MEMORY_REGION(p, size);
      return p;
    }
  }
  char* p = static_cast<char*>(std::malloc(sizeof(size_t) * 2 + size + kTail));
  if (p == nullptr) throw std::bad_alloc();
  reinterpret_cast<size_t*>(p)[0] = size;
  p += sizeof(size_t) * 2;
  ASAN_POISON_MEMORY_REGION(p + size, kTail);
  return p;
}

void give(void* p) {
  size_t size = reinterpret_cast<size_t*>(static_cast<char*>(p) - sizeof(size_t) * 2)[0];
  if (n < 64) {
    ASAN_POISON_MEMORY_REGION(p, size);
    cache[n++] = Entry{size, p};
    return;
  }
  ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(p) + size, kTail);
  std::free(static_cast<char*>(p) - sizeof(size_t) * 2);
}
}  // namespace bigcache

using prtt::Addr;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

class CheckingSink : public prtt::EngineSink {
 public:
  void on_report(prtt::Report&& r) override {
    check(!r.rows.empty());
    check(r.ts_ns >= last_report_);  // reports never go back in time
    last_report_ = r.ts_ns;
    for (const prtt::PairRow& row : r.rows) {
      uint32_t k = row.kinds[0] + row.kinds[1] + row.kinds[2];
      check(k == row.samples);
      check(row.total >= row.samples);
      check(row.has_interval == (row.samples > 0));
      check(row.samples > 0 || row.flows > 0);
      if (row.has_interval) {
        check(row.has_avg);
        check(row.min > 0 && row.min <= row.max);
        check(row.min <= row.last && row.last <= row.max);
        check(row.min <= row.p50 && row.p50 <= row.p95 && row.p95 <= row.p99 && row.p99 <= row.max);
      }
      if (row.has_avg) check(row.avg > 0 && row.jitter >= 0);
    }
  }
  void on_samples(std::vector<prtt::Sample>&& s) override {
    for (const prtt::Sample& x : s) check(x.rtt_ns > 0);
  }

 private:
  int64_t last_report_ = 0;
};

Addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  const uint8_t raw[4] = {a, b, c, d};
  return Addr::v4(raw);
}
Addr v6(uint8_t last) {
  uint8_t raw[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  return Addr::v6(raw);
}

// Per connection and direction: the next sequence number, the last segment
// length, the highest ACK sent, the latest TSval.
struct Side {
  uint32_t nxt;
  uint32_t last_len;
  uint32_t acked;
  uint32_t tsval;
};
struct Conn {
  bool init;
  Side side[2];  // 0: local -> remote, 1: remote -> local
};

constexpr int64_t kStart = 1700000000LL * 1000000000;  // any epoch time
const int64_t kDelta[16] = {0,          1000,       10000,       100000,      500000,    1000000,
                            5000000,    20000000,   50000000,    100000000,   300000000, 1000000000,
                            2000000000, 5000000000, 31000000000, 400000000000};
const uint32_t kLen[16] = {0,    0,    0,    1,    10,    100,   536,   1000,
                           1448, 1448, 2896, 8688, 20000, 65000, 65495, 0};

struct Builder {
  uint8_t buf[128];
  uint32_t caplen;
  uint32_t wirelen;
};

// One synthesised TCP segment: IPv4 or IPv6, optional Ethernet with a VLAN
// tag, options (timestamps, SACK), payload stated in the IP header only.
void build(Builder* b, bool ether, bool vlan, bool ipv6, const Addr& src, const Addr& dst,
           uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
           uint32_t payload, bool ts, uint32_t tsval, uint32_t tsecr, bool sack, uint8_t frag,
           uint8_t cut) {
  uint8_t* p = b->buf;
  uint32_t off = 0;
  if (ether) {
    std::memset(p, 0x02, 12);
    off = 12;
    if (vlan) {
      p[off] = 0x81;
      p[off + 1] = 0x00;
      p[off + 2] = 0;
      p[off + 3] = 7;
      off += 4;
    }
    p[off] = ipv6 ? 0x86 : 0x08;
    p[off + 1] = ipv6 ? 0xdd : 0x00;
    off += 2;
  }
  uint32_t ip = off;
  uint32_t iphl = ipv6 ? 40 : 20;
  uint32_t opt = (ts ? 12 : 0) + (sack ? 20 : 0);
  uint32_t thl = 20 + opt;
  uint32_t iplen = iphl + thl + payload;
  if (iplen > 65535) iplen = 65535;
  std::memset(p + ip, 0, iphl);
  if (ipv6) {
    p[ip] = 0x60;
    uint32_t pl = iplen - 40;
    p[ip + 4] = pl >> 8;
    p[ip + 5] = pl & 0xff;
    p[ip + 6] = 6;
    p[ip + 7] = 64;
    std::memcpy(p + ip + 8, src.b, 16);
    std::memcpy(p + ip + 24, dst.b, 16);
  } else {
    p[ip] = 0x45;
    p[ip + 2] = iplen >> 8;
    p[ip + 3] = iplen & 0xff;
    // frag: 1 = more fragments (first fragment), 2 = a later fragment.
    uint16_t fo = frag == 1 ? 0x2000 : frag == 2 ? 0x0010 : 0x4000;
    p[ip + 6] = fo >> 8;
    p[ip + 7] = fo & 0xff;
    p[ip + 8] = 64;
    p[ip + 9] = 6;
    std::memcpy(p + ip + 12, src.b + 12, 4);
    std::memcpy(p + ip + 16, dst.b + 12, 4);
  }
  uint8_t* t = p + ip + iphl;
  std::memset(t, 0, thl);
  t[0] = sport >> 8;
  t[1] = sport & 0xff;
  t[2] = dport >> 8;
  t[3] = dport & 0xff;
  t[4] = seq >> 24;
  t[5] = seq >> 16;
  t[6] = seq >> 8;
  t[7] = seq;
  t[8] = ack >> 24;
  t[9] = ack >> 16;
  t[10] = ack >> 8;
  t[11] = ack;
  t[12] = static_cast<uint8_t>((thl / 4) << 4);
  t[13] = flags;
  t[14] = 0xff;
  t[15] = 0xff;
  uint32_t o = 20;
  if (ts) {  // NOP NOP TS (RFC 7323 Appendix A layout)
    t[o] = 1;
    t[o + 1] = 1;
    t[o + 2] = 8;
    t[o + 3] = 10;
    t[o + 4] = tsval >> 24;
    t[o + 5] = tsval >> 16;
    t[o + 6] = tsval >> 8;
    t[o + 7] = tsval;
    t[o + 8] = tsecr >> 24;
    t[o + 9] = tsecr >> 16;
    t[o + 10] = tsecr >> 8;
    t[o + 11] = tsecr;
    o += 12;
  }
  if (sack) {  // NOP NOP SACK with two blocks
    t[o] = 1;
    t[o + 1] = 1;
    t[o + 2] = 5;
    t[o + 3] = 18;
    for (int i = 4; i < 20; ++i) t[o + i] = static_cast<uint8_t>(ack >> ((i & 3) * 8));
    o += 20;
  }
  uint32_t headers = ip + iphl + thl;
  b->wirelen = ip + iplen;
  // cut: the snaplen ends inside the headers now and then.
  b->caplen = cut == 0 ? headers : headers > cut ? headers - cut : 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t h0 = data[0], h1 = data[1], h2 = data[2], h3 = data[3];
  prtt::EngineOptions o;
  o.max_flows = 1 + (h0 & 15);
  o.soften = h0 & 16;
  o.samples = h0 & 32;
  const bool ether = h0 & 64;
  const size_t seg_mem[4] = {256u << 10, 512u << 10, 1u << 20, 64u << 20};
  o.segment_memory = seg_mem[h1 & 3];
  o.idle_ttl_ns = (1 + ((h1 >> 2) & 7)) * 1000000000LL;
  o.exp_ttl_ns = (h2 & 7) * 1000000000LL;
  const int64_t intervals[4] = {100000000LL, 1000000000LL, 5000000000LL, 30000000000LL};
  o.report_interval_ns = intervals[(h2 >> 3) & 3];
  const Addr locals[3] = {v4(10, 0, 0, 1), v4(10, 0, 0, 2), v6(1)};
  o.local = {locals[0], locals[2]};
  if (h3 & 1) o.local.push_back(locals[1]);
  // go-metro's sampling windows (capture, then skip) now and then, so that
  // packets fall outside them and flows are reset at each new window.
  const int64_t windows[4][2] = {{0, 0},
                                 {1000000000LL, 2000000000LL},
                                 {100000000LL, 1000000000LL},
                                 {5000000000LL, 30000000000LL}};
  o.sample_window_ns = windows[(h3 >> 1) & 3][0];
  o.sample_gap_ns = windows[(h3 >> 1) & 3][1];
  const Addr remotes[6] = {
      v4(192, 0, 2, 1), v4(192, 0, 2, 2), v4(10, 0, 0, 2), v4(198, 51, 100, 7), v6(2), v6(3)};

  CheckingSink sink;
  prtt::Engine engine(o, &sink);
  static Conn conns[2 * 2 * 4 * 8];
  std::memset(conns, 0, sizeof conns);

  int64_t now = kStart;
  size_t i = 4;
  while (i + 8 <= size) {
    const uint8_t* r = data + i;
    i += 8;
    const uint8_t op = r[0] >> 6;
    now += kDelta[r[0] & 15];
    if (op == 3 && (r[0] & 0x30) == 0x30) {
      // Raw bytes as a packet: r[1] of the following bytes, under a link
      // type chosen by r[2].
      size_t n = r[1];
      if (n > size - i) n = size - i;
      uint8_t* raw = static_cast<uint8_t*>(std::malloc(n ? n : 1));
      std::memcpy(raw, data + i, n);
      const int lt[4] = {prtt::kLinkEthernet, prtt::kLinkRaw, prtt::kLinkSll, prtt::kLinkNull};
      engine.packet(lt[r[2] & 3], now, raw, static_cast<uint32_t>(n),
                    static_cast<uint32_t>(n) + r[3]);
      std::free(raw);
      i += n;
      continue;
    }
    if (op == 3 && (r[0] & 0x30) == 0x20) {
      // The wall clock moves on with no packet (an idle live link).
      engine.tick(now + static_cast<int64_t>(r[1]) * 10000000);
      continue;
    }
    if (op == 3 && (r[0] & 0x30) == 0x10) {
      // A capture timestamp that steps back (NTP step, reordered rings).
      now -= static_cast<int64_t>(r[1]) * 1000000;
    }

    const uint8_t f = r[1];
    const bool from_local = f & 0x20;
    const bool ipv6 = f & 0x80;
    uint8_t flags = f & 0x1f;                                                // FIN SYN RST PSH ACK
    if (flags & 0x08) flags = static_cast<uint8_t>((flags & ~0x08) | 0x10);  // mostly ACK
    const int li = ipv6 ? 2 : (r[2] & 1);
    const int ri = ipv6 ? 4 + ((r[2] >> 1) & 1) : ((r[2] >> 1) & 3);
    const int pi = (r[2] >> 3) & 7;
    Conn& c = conns[(((ipv6 ? 2 : li) * 4 + ((r[2] >> 1) & 3)) * 8 + pi) % (2 * 2 * 4 * 8)];
    if (!c.init) {
      c.init = true;
      c.side[0].nxt = 0x10000000u * (pi + 1) + r[3];
      c.side[1].nxt = 0xf0000000u - 0x01000000u * pi;
      c.side[0].acked = c.side[1].nxt;
      c.side[1].acked = c.side[0].nxt;
    }
    Side& me = c.side[from_local ? 0 : 1];
    Side& peer = c.side[from_local ? 1 : 0];

    uint32_t seq = me.nxt;
    switch (r[3] & 7) {
      case 1:
        seq = me.nxt - me.last_len;
        break;  // retransmit last
      case 2:
        seq = me.nxt - (r[3] >> 3) * 100u;
        break;  // older bytes
      case 3:
        seq = me.nxt + (r[3] >> 3) * 1000u;
        break;  // a gap
      case 4:
        seq = me.nxt = 0x9e3779b9u * (r[3] | 1);
        break;  // new ISN
      default:
        break;
    }
    uint32_t ack = peer.nxt;
    switch (r[4] & 7) {
      case 3:
        ack = peer.nxt - (r[4] >> 3) * 8u;
        break;  // partial
      case 4:
        ack = me.acked;
        break;  // duplicate
      case 5:
        ack = peer.nxt + 1000u + r[4];
        break;  // unseen data
      case 6:
        ack = peer.nxt - peer.last_len / 2;
        break;  // inside a segment
      case 7:
        ack = 0x01010101u * r[4];
        break;  // anything
      default:
        break;
    }
    uint32_t len = kLen[r[5] & 15];
    uint8_t cut = 0;
    switch (r[5] >> 4) {
      case 13:
        cut = 4;
        break;  // inside the options
      case 14:
        cut = 30;
        break;  // inside the TCP header
      case 15:
        cut = 50;
        break;  // inside the IP header
      default:
        break;
    }
    const bool ts = r[6] & 1;
    if ((r[6] >> 1) & 7) me.tsval += (r[6] >> 1) & 7;
    uint32_t tsecr;
    switch ((r[6] >> 4) & 3) {
      case 0:
        tsecr = peer.tsval;
        break;
      case 1:
        tsecr = peer.tsval - 1 - r[7];
        break;
      case 2:
        tsecr = 0;
        break;
      default:
        tsecr = 0x00010001u * r[7];
        break;
    }
    const bool sack = r[6] & 0x40;
    const uint8_t frag = (r[6] & 0x80) ? 1 + (r[7] & 1) : 0;
    const bool vlan = r[7] & 0x80;

    const Addr& la = locals[li];
    const Addr& ra = remotes[ri];
    const uint16_t lport = static_cast<uint16_t>(40000 + pi);
    const uint16_t rport = (r[7] & 0x40) ? 443 : 80;
    Builder b;
    if (from_local) {
      build(&b, ether, vlan, ipv6, la, ra, lport, rport, seq, ack, flags, len, ts, me.tsval, tsecr,
            sack, frag, cut);
    } else {
      build(&b, ether, vlan, ipv6, ra, la, rport, lport, seq, ack, flags, len, ts, me.tsval, tsecr,
            sack, frag, cut);
    }
    uint32_t used = len + ((flags & 0x02) ? 1 : 0) + ((flags & 0x01) ? 1 : 0);
    if (used > 0 && static_cast<int32_t>(seq + used - me.nxt) > 0) me.nxt = seq + used;
    me.last_len = used;
    if (flags & 0x10) me.acked = ack;

    // Exactly caplen bytes on the heap: reads past them are ASan reports.
    uint8_t* pkt = static_cast<uint8_t*>(std::malloc(b.caplen ? b.caplen : 1));
    std::memcpy(pkt, b.buf, b.caplen);
    engine.packet(ether ? prtt::kLinkEthernet : prtt::kLinkRaw, now, pkt, b.caplen, b.wirelen);
    std::free(pkt);

    const prtt::Counters& k = engine.counters();
    check(k.flows_active <= o.max_flows);
    check(k.flows_created == k.flows_active + k.flows_evicted + k.flows_expired);
    check(k.tcp + k.not_tcp + k.malformed + k.fragments + k.outside_window == k.packets);
    check(k.host_pairs <=
          k.flows_active + 64);  // pairs with samples outlive flows until the report
  }
  engine.finish();
  const prtt::Counters& k = engine.counters();
  check(k.flows_created == k.flows_active + k.flows_evicted + k.flows_expired);
  (void)engine.memory_bytes();
  return 0;
}

// Replacement allocation functions (C++17 [new.delete]): big blocks through
// the cache, a small header tells them apart on delete.
namespace {
constexpr size_t kHdr = sizeof(size_t) * 2;
constexpr size_t kSmallTag = ~size_t{0};
}  // namespace

void* operator new(size_t size) {
  if (size >= bigcache::kBig) return bigcache::take(size);
  char* p = static_cast<char*>(std::malloc(kHdr + (size ? size : 1)));
  if (p == nullptr) throw std::bad_alloc();
  reinterpret_cast<size_t*>(p)[0] = kSmallTag;
  return p + kHdr;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - kHdr;
  if (reinterpret_cast<size_t*>(base)[0] == kSmallTag) {
    std::free(base);
  } else {
    bigcache::give(p);
  }
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try {
    return operator new(size);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return operator new(size, std::nothrow);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { operator delete(p); }
