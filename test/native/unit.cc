// Unit tests of the plain C++ core (no libpcap, no N-API): the decoder,
// HashIndex and ChunkedPool, the flow table's recency lists, SlabPool, the
// host-pair aggregates (percentiles, RFC 6298 smoothing), the engine's
// sampling and report clock, and the mailbox's counting. Expected values
// come from how each input was built, never from the code under test.
//
// Built by test/native/Makefile (also under ASan/UBSan by
// scripts/sanitize.sh); closes with "N passed, N failed".
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "../../src-native/decode.h"
#include "../../src-native/engine.h"
#include "../../src-native/engine_thread.h"
#include "../../src-native/flow_table.h"
#include "../../src-native/mailbox.h"
#include "../../src-native/pairs.h"
#include "../../src-native/pool.h"
#include "../../src-native/slab.h"
#include "../../src-native/spsc_ring.h"
#include "check.h"
#include "packets.h"

using namespace prtt;
using pk::Bytes;

namespace {

// Decodes from a heap block of exactly caplen bytes, so that under ASan a
// read past the captured bytes is reported.
Decoded decode(int linktype, const Bytes& frame, TcpPacket* out, uint32_t wirelen = 0,
               size_t caplen = static_cast<size_t>(-1)) {
  size_t n = std::min(caplen, frame.size());
  std::unique_ptr<uint8_t[]> buf(new uint8_t[n ? n : 1]);
  if (n) std::memcpy(buf.get(), frame.data(), n);
  return decode_packet(linktype, n ? buf.get() : buf.get() + 1, static_cast<uint32_t>(n),
                       wirelen ? wirelen : static_cast<uint32_t>(frame.size()), out);
}

Addr addr(const char* s) {
  Addr a;
  addr_parse(s, &a);
  return a;
}

pk::Seg seg_ts() {
  pk::Seg s;
  s.seq = 1000;
  s.ack = 2000;
  s.flags = kPsh | kAck;
  s.payload = 100;
  s.ts = true;
  s.tsval = 111;
  s.tsecr = 222;
  return s;
}

constexpr int64_t kMs = 1000000;
constexpr int64_t kSec = 1000000000;
constexpr int64_t kT0 = 1700000000LL * kSec;

}  // namespace

// ---------------------------------------------------------------- decode

TEST(decode_ethernet_ipv4_fields) {
  pk::Seg s = seg_ts();
  Bytes f = pk::ethernet(pk::ipv4(s));
  TcpPacket p;
  CHECK_EQ(decode(kLinkEthernet, f, &p, static_cast<uint32_t>(f.size() + 100)), Decoded::kTcp);
  CHECK(p.src == addr("10.0.0.1"));
  CHECK(p.dst == addr("192.0.2.1"));
  CHECK_EQ(p.sport, 40000);
  CHECK_EQ(p.dport, 80);
  CHECK_EQ(p.seq, 1000u);
  CHECK_EQ(p.ack, 2000u);
  CHECK_EQ(p.flags, kPsh | kAck);
  CHECK_EQ(p.payload, 100u);  // from the IP total length, not the capture
  CHECK_EQ(p.window, 65535);
  CHECK(p.length_known);
  CHECK(p.has_ts);
  CHECK_EQ(p.tsval, 111u);
  CHECK_EQ(p.tsecr, 222u);
  CHECK_EQ(p.sack_blocks, 0);
}

TEST(decode_every_link_type_same_segment) {
  pk::Seg s = seg_ts();
  Bytes v4 = pk::ipv4(s);
  pk::Seg s6 = s;
  s6.src = "fd00::1";
  s6.dst = "2001:db8::2";
  Bytes v6 = pk::ipv6(s6);
  struct Case {
    int lt;
    Bytes frame;
    bool six;
  };
  std::vector<Case> cases = {
      {kLinkEthernet, pk::ethernet(v4), false},
      {kLinkEthernet, pk::ethernet(v6), true},
      {kLinkSll, pk::sll(v4), false},
      {kLinkSll, pk::sll(v6), true},
      {kLinkSll2, pk::sll2(v4), false},
      {kLinkSll2, pk::sll2(v6), true},
      {kLinkRaw, v4, false},
      {kLinkRaw, v6, true},
      {kLinkRawBsd, v4, false},
      {kLinkRawFile, v6, true},
      {kLinkIpv4, v4, false},
      {kLinkIpv6, v6, true},
      {kLinkNull, pk::null_le(v4, 2), false},
      {kLinkNull, pk::null_be(v4, 2), false},
      {kLinkNull, pk::null_le(v6, 10), true},
      {kLinkNull, pk::null_le(v6, 24), true},
      {kLinkNull, pk::null_le(v6, 28), true},
      {kLinkNull, pk::null_be(v6, 30), true},
      {kLinkLoop, pk::null_be(v4, 2), false},
      {kLinkLoop, pk::null_be(v6, 30), true},
  };
  for (const Case& c : cases) {
    TcpPacket p;
    CHECK(linktype_supported(c.lt));
    CHECK_EQ(decode(c.lt, c.frame, &p, static_cast<uint32_t>(c.frame.size() + 100)), Decoded::kTcp);
    CHECK(p.src == addr(c.six ? "fd00::1" : "10.0.0.1"));
    CHECK(p.dst == addr(c.six ? "2001:db8::2" : "192.0.2.1"));
    CHECK_EQ(p.seq, 1000u);
    CHECK_EQ(p.payload, 100u);
    CHECK(p.has_ts && p.tsval == 111 && p.tsecr == 222);
  }
  TcpPacket p;
  CHECK(!linktype_supported(105));  // 802.11
  CHECK_EQ(decode(105, pk::ethernet(v4), &p), Decoded::kNotIp);
  CHECK_EQ(decode(kLinkNull, pk::null_le(v4, 7), &p), Decoded::kNotIp);  // unknown family
}

TEST(decode_vlan_tags) {
  Bytes ip = pk::ipv4(seg_ts());
  TcpPacket p;
  CHECK_EQ(decode(kLinkEthernet, pk::ethernet(ip, {0x8100}), &p), Decoded::kTcp);
  CHECK_EQ(decode(kLinkEthernet, pk::ethernet(ip, {0x88a8, 0x8100}), &p), Decoded::kTcp);
  CHECK_EQ(decode(kLinkEthernet, pk::ethernet(ip, {0x9100, 0x8100, 0x8100, 0x8100}), &p),
           Decoded::kTcp);
  CHECK_EQ(p.seq, 1000u);
  // A fifth tag is past the limit: its TPID is taken as the EtherType.
  CHECK_EQ(decode(kLinkEthernet, pk::ethernet(ip, {0x8100, 0x8100, 0x8100, 0x8100, 0x8100}), &p),
           Decoded::kNotIp);
  // Tags cut by the capture.
  Bytes f = pk::ethernet(ip, {0x8100, 0x8100});
  for (size_t n = 0; n < 22; ++n) CHECK(decode(kLinkEthernet, f, &p, 0, n) == Decoded::kMalformed);
}

TEST(decode_every_truncation) {
  // Each link type, each caplen shorter than the frame: never a read past
  // caplen (ASan), never kTcp before link + IP + 20 bytes of TCP, and the
  // timestamp option only once it was captured whole.
  pk::Seg s = seg_ts();
  pk::Seg s6 = s;
  s6.src = "fd00::1";
  s6.dst = "fd00::2";
  struct Case {
    int lt;
    Bytes frame;
    size_t link;
    size_t ip;
  };
  std::vector<Case> cases = {{kLinkEthernet, pk::ethernet(pk::ipv4(s)), 14, 20},
                             {kLinkEthernet, pk::ethernet(pk::ipv6(s6)), 14, 40},
                             {kLinkSll, pk::sll(pk::ipv4(s)), 16, 20},
                             {kLinkSll2, pk::sll2(pk::ipv6(s6)), 20, 40},
                             {kLinkRaw, pk::ipv4(s), 0, 20},
                             {kLinkNull, pk::null_le(pk::ipv6(s6), 10), 4, 40},
                             {kLinkLoop, pk::null_be(pk::ipv4(s), 2), 4, 20}};
  for (const Case& c : cases) {
    for (size_t n = 0; n <= c.frame.size(); ++n) {
      TcpPacket p;
      Decoded d = decode(c.lt, c.frame, &p, static_cast<uint32_t>(c.frame.size() + 100), n);
      if (n < c.link + c.ip + 20) {
        CHECK(d != Decoded::kTcp);
      } else {
        CHECK_EQ(d, Decoded::kTcp);
        CHECK_EQ(p.payload, 100u);  // the snaplen cuts the capture, not the segment
        CHECK_EQ(p.has_ts, n >= c.link + c.ip + 20 + 12);
      }
    }
  }
}

TEST(decode_ipv4_header_checks) {
  pk::Seg s = seg_ts();
  TcpPacket p;
  Bytes ip = pk::ipv4(s);
  Bytes bad = ip;
  bad[0] = 0x44;  // IHL 16 bytes
  CHECK_EQ(decode(kLinkIpv4, bad, &p), Decoded::kMalformed);
  bad = ip;
  bad[0] = 0x4f;  // IHL 60 bytes: more than was captured here
  CHECK_EQ(decode(kLinkIpv4, bad, &p, 0, 40), Decoded::kMalformed);
  bad = ip;
  bad[0] = 0x65;  // EtherType says IPv4, version says 6
  Bytes eth = pk::ethernet(ip);
  eth[14] = 0x65;
  CHECK_EQ(decode(kLinkEthernet, eth, &p), Decoded::kMalformed);
  CHECK_EQ(decode(kLinkIpv4, bad, &p), Decoded::kMalformed);
  bad = ip;
  pk::put16(bad, 2, 19);  // total length shorter than the header
  CHECK_EQ(decode(kLinkIpv4, bad, &p), Decoded::kMalformed);
  bad = ip;
  bad[20 + 12] = 0x40;  // TCP data offset 16 bytes
  CHECK_EQ(decode(kLinkIpv4, bad, &p), Decoded::kMalformed);
  bad = ip;
  pk::put16(bad, 2, 20 + 24);  // TCP header (32 bytes) longer than the IP payload
  CHECK_EQ(decode(kLinkIpv4, bad, &p), Decoded::kMalformed);
  bad = ip;
  bad[9] = 17;  // UDP
  CHECK_EQ(decode(kLinkIpv4, bad, &p), Decoded::kNotTcp);
  bad = ip;
  bad[0] = 0x55;  // raw link, version 5
  CHECK_EQ(decode(kLinkRaw, bad, &p), Decoded::kNotIp);
  Bytes arp = pk::ethernet(ip);
  pk::put16(arp, 12, 0x0806);
  CHECK_EQ(decode(kLinkEthernet, arp, &p), Decoded::kNotIp);
  // Total length 0 (a segmentation-offload super-packet): the wire length counts.
  bad = ip;
  pk::put16(bad, 2, 0);
  CHECK_EQ(decode(kLinkEthernet, pk::ethernet(bad), &p, 14 + 20 + 32 + 70000), Decoded::kTcp);
  CHECK_EQ(p.payload, 70000u);
}

TEST(decode_fragments) {
  pk::Seg s = seg_ts();
  TcpPacket p;
  // RFC 791: a non-first fragment carries no TCP header.
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(s, 0x0001), &p), Decoded::kFragment);
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(s, 0x2010), &p), Decoded::kFragment);
  // The first fragment (MF, offset 0): a TCP header of unknown length.
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(s, 0x2000), &p), Decoded::kTcp);
  CHECK(!p.length_known);
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(s, 0x0000), &p), Decoded::kTcp);
  CHECK(p.length_known);
  // IPv6 fragment header (RFC 8200 §4.5): offset in the upper 13 bits, M in bit 0.
  pk::Seg s6 = s;
  s6.src = "fd00::1";
  s6.dst = "fd00::2";
  Bytes first = {6, 0, 0x00, 0x01, 0, 0, 0, 9};
  Bytes later = {6, 0, 0x00, 0x08, 0, 0, 0, 9};
  Bytes only = {6, 0, 0x00, 0x00, 0, 0, 0, 9};
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s6, 44, first), &p), Decoded::kTcp);
  CHECK(!p.length_known);
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s6, 44, later), &p), Decoded::kFragment);
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s6, 44, only), &p), Decoded::kTcp);
  CHECK(p.length_known);
  CHECK_EQ(p.payload, 100u);
}

TEST(decode_ipv6_extension_chain) {
  pk::Seg s = seg_ts();
  s.src = "fd00::1";
  s.dst = "fd00::2";
  TcpPacket p;
  // hop-by-hop (8 bytes) -> destination options (16 bytes) -> routing (8) -> TCP
  Bytes ext = {60, 0, 1, 4, 0, 0, 0, 0, 43, 1, 1, 12, 0, 0, 0, 0,
               0,  0, 0, 0, 0, 0, 0, 0, 6,  0, 0, 0,  0, 0, 0, 0};
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s, 0, ext), &p), Decoded::kTcp);
  CHECK_EQ(p.payload, 100u);
  CHECK_EQ(p.seq, 1000u);
  // AH (RFC 4302 §2.2): payload length 1 -> (1 + 2) * 4 = 12 bytes.
  Bytes ah = {6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2};
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s, 51, ah), &p), Decoded::kTcp);
  CHECK_EQ(p.payload, 100u);
  // ESP and "no next header": not TCP.
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s, 50, {}), &p), Decoded::kNotTcp);
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s, 59, {}), &p), Decoded::kNotTcp);
  // An extension header that claims more bytes than were captured.
  Bytes longer = {6, 200, 0, 0, 0, 0, 0, 0};
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s, 0, longer), &p), Decoded::kMalformed);
  // 17 chained hop-by-hop headers: past the decoder's chain limit.
  Bytes chain;
  for (int i = 0; i < 17; ++i) chain = pk::cat(chain, Bytes{0, 0, 0, 0, 0, 0, 0, 0});
  chain[16 * 8] = 6;
  CHECK_EQ(decode(kLinkIpv6, pk::ipv6(s, 0, chain), &p), Decoded::kMalformed);
  // Payload length smaller than the extension headers.
  Bytes f = pk::ipv6(s, 0, Bytes{6, 0, 0, 0, 0, 0, 0, 0});
  pk::put16(f, 4, 4);
  CHECK_EQ(decode(kLinkIpv6, f, &p), Decoded::kMalformed);
  // Version mismatch.
  f = pk::ipv6(s);
  f[0] = 0x40;
  CHECK_EQ(decode(kLinkIpv6, f, &p), Decoded::kMalformed);
}

TEST(decode_tcp_options) {
  pk::Seg s;
  s.ts = true;
  s.tsval = 7;
  s.tsecr = 8;
  // SACK with three blocks (RFC 2018 §3): kind 5, length 2 + 3 * 8.
  Bytes sack = {1, 1, 5, 26};
  for (int i = 0; i < 24; ++i) sack.push_back(static_cast<uint8_t>(i));
  s.extra_options = sack;
  TcpPacket p;
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(s), &p), Decoded::kTcp);
  CHECK(p.has_ts && p.tsval == 7 && p.tsecr == 8);
  CHECK_EQ(p.sack_blocks, 3);

  // End of option list before the timestamps: none parsed.
  pk::Seg e;
  e.extra_options = {0, 0, 0, 0, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(e), &p), Decoded::kTcp);
  CHECK(!p.has_ts);
  // An option length below 2 stops parsing (it would loop forever).
  e.extra_options = {30, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(e), &p), Decoded::kTcp);
  CHECK(!p.has_ts);
  // A timestamp option of the wrong length is ignored.
  e.extra_options = {8, 8, 0, 0, 0, 1, 0, 0};
  CHECK_EQ(decode(kLinkIpv4, pk::ipv4(e), &p), Decoded::kTcp);
  CHECK(!p.has_ts);
  // An option running past the header is not parsed.
  e.extra_options = {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2};
  Bytes f = pk::ipv4(e);
  f[20 + 12] = 0x70;  // data offset 28 bytes: the timestamp option is cut at 8
  CHECK_EQ(decode(kLinkIpv4, f, &p), Decoded::kTcp);
  CHECK(!p.has_ts);
}

namespace {
bool same_packet(const TcpPacket& a, const TcpPacket& b) {
  return a.src == b.src && a.dst == b.dst && a.sport == b.sport && a.dport == b.dport &&
         a.seq == b.seq && a.ack == b.ack && a.payload == b.payload && a.window == b.window &&
         a.flags == b.flags && a.length_known == b.length_known && a.v6 == b.v6 &&
         a.has_ts == b.has_ts && a.sack_blocks == b.sack_blocks && a.tsval == b.tsval &&
         a.tsecr == b.tsecr;
}
}  // namespace

TEST(decode_fast_path_equals_general) {
  // decode_packet's fast path (Ethernet, IPv4 without options or IPv6
  // without extension headers, whole TCP header) must give exactly what the
  // general decoder gives, on well-formed frames of every shape it takes and
  // on frames cut and corrupted at random.
  std::mt19937 rng(11);
  const std::vector<Bytes> option_sets = {{},
                                          {1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2},
                                          {2, 4, 5, 180, 4, 2, 1, 3, 3, 7},
                                          {0, 0, 0, 0},
                                          {1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 8}};
  int fast_shapes = 0;
  for (int i = 0; i < 200000; ++i) {
    pk::Seg s;
    s.seq = static_cast<uint32_t>(rng());
    s.ack = static_cast<uint32_t>(rng());
    s.flags = static_cast<uint8_t>(rng());
    s.payload = rng() % 3 == 0 ? 0 : rng() % 1500;
    s.ts = rng() % 2;
    s.tsval = static_cast<uint32_t>(rng());
    s.tsecr = static_cast<uint32_t>(rng());
    s.extra_options = option_sets[rng() % option_sets.size()];
    const bool v6 = rng() % 4 == 0;
    if (v6) {
      s.src = "2001:db8::1";
      s.dst = "2001:db8::2";
    }
    const uint16_t frags[] = {0x4000, 0x0000, 0x2000, 0x0010, 0x4001};
    Bytes f = pk::ethernet(v6 ? pk::ipv6(s) : pk::ipv4(s, frags[rng() % 5]));
    if (rng() % 3 == 0) {
      // Corrupt a few header bytes: lengths, version, offsets, protocol.
      for (int k = rng() % 4; k >= 0; --k)
        f[rng() % std::min<size_t>(f.size(), 90)] = static_cast<uint8_t>(rng());
    }
    size_t caplen = rng() % 4 == 0 ? rng() % (f.size() + 1) : f.size();
    uint32_t wire = static_cast<uint32_t>(f.size() + (rng() % 2 ? s.payload : 0));
    std::unique_ptr<uint8_t[]> buf(new uint8_t[caplen ? caplen : 1]);
    if (caplen) std::memcpy(buf.get(), f.data(), caplen);
    const uint8_t* d = caplen ? buf.get() : buf.get() + 1;
    TcpPacket a, b;
    std::memset(&a, 0xa5, sizeof a);
    std::memset(&b, 0x5a, sizeof b);
    Decoded da = decode_packet(kLinkEthernet, d, static_cast<uint32_t>(caplen), wire, &a);
    Decoded db = decode_packet_general(kLinkEthernet, d, static_cast<uint32_t>(caplen), wire, &b);
    CHECK(da == db);
    if (da == Decoded::kTcp) {
      CHECK(same_packet(a, b));
      fast_shapes++;
    }
  }
  CHECK(fast_shapes > 50000);  // the comparison covered many decoded packets
}

// ---------------------------------------------------------------- pools

TEST(hash_index_model) {
  // Random inserts and erases against a std::map, with hashes from a small
  // set (long probe runs, collisions) and homes near the end of the table
  // (runs that wrap around): every present id is found after every
  // operation, every erased one is not, through growth from 1024 to 4096
  // slots.
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    std::mt19937 rng(seed);
    HashIndex index(2000);
    std::map<uint32_t, uint32_t> model;  // id -> hash
    std::vector<uint32_t> hashes;
    for (int i = 0; i < 40; ++i) hashes.push_back(static_cast<uint32_t>(rng()));
    for (uint32_t i = 0; i < 8; ++i) hashes.push_back(0xfffffff8u + i);  // home at the table's end
    uint32_t next_id = 0;
    std::vector<uint32_t> free_ids;
    for (int op = 0; op < 6000; ++op) {
      bool ins = model.size() < 1900 && (model.empty() || rng() % 100 < (op < 3000 ? 65 : 40));
      if (ins) {
        uint32_t id;
        if (!free_ids.empty() && rng() % 2) {
          id = free_ids.back();
          free_ids.pop_back();
        } else {
          id = next_id++;
        }
        uint32_t h = hashes[rng() % hashes.size()];
        index.insert(h, id);
        model[id] = h;
      } else {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        index.erase(it->second, it->first);
        free_ids.push_back(it->first);
        model.erase(it);
      }
      CHECK_EQ(index.size(), static_cast<uint32_t>(model.size()));
      if (op % 50 == 0 || op > 5900) {
        for (const auto& kv : model) {
          uint32_t want = kv.first;
          CHECK_EQ(index.find(kv.second, [&](uint32_t i) { return i == want; }), want);
        }
        for (uint32_t id : free_ids) {
          if (model.count(id)) continue;
          for (uint32_t h : hashes)
            CHECK_EQ(index.find(h, [&](uint32_t i) { return i == id; }), HashIndex::kNotFound);
        }
      }
    }
    // Erasing an id that is not there changes nothing.
    uint32_t before = index.size();
    index.erase(hashes[0], 999999);
    CHECK_EQ(index.size(), before);
  }
}

TEST(chunked_pool_ids_and_reuse) {
  using Pool = ChunkedPool<uint64_t>;
  CHECK_EQ(Pool::kChunk * sizeof(uint64_t),
           static_cast<size_t>(2u << 20));  // one huge page a chunk
  Pool pool;
  const uint32_t n = Pool::kChunk + 1000;  // into the second chunk
  for (uint32_t i = 0; i < n; ++i) {
    CHECK_EQ(pool.alloc(), i);
    pool[i] = i * 3;
  }
  uint64_t* first = &pool[0];
  CHECK_EQ(pool.high_water(), n);
  CHECK_EQ(pool.bytes(), static_cast<size_t>(n) * sizeof(uint64_t));
  pool.free(17);
  pool.free(Pool::kChunk + 1);
  CHECK_EQ(pool.alloc(), Pool::kChunk + 1);  // freed ids first, last freed first
  CHECK_EQ(pool.alloc(), 17u);
  CHECK_EQ(pool.alloc(), n);
  for (uint32_t i = n + 1; i < n + Pool::kChunk; ++i) pool.alloc();
  CHECK(first == &pool[0]);  // chunks never move
  for (uint32_t i = 0; i < n; ++i) CHECK_EQ(pool[i], static_cast<uint64_t>(i) * 3);
  // Entries of a new chunk start zeroed.
  CHECK_EQ(pool[n + Pool::kChunk - 1], 0u);
}

TEST(slab_pool_classes_and_cap) {
  CHECK_EQ(SlabPool<float>::class_size(0), 4u);
  CHECK_EQ(SlabPool<float>::class_size(1), 16u);
  CHECK_EQ(SlabPool<float>::class_size(2), 64u);
  CHECK_EQ(SlabPool<float>::class_size(3), 256u);
  // One 256 kB chunk allowed: 16384 blocks of 4 floats, then nothing.
  SlabPool<float> pool(256 * 1024);
  std::vector<uint32_t> ids;
  for (;;) {
    uint32_t id = pool.alloc(0);
    if (id == SlabPool<float>::kNone) break;
    ids.push_back(id);
    CHECK(ids.size() <= 16384);
  }
  CHECK_EQ(ids.size(), static_cast<size_t>(16384));
  CHECK_EQ(pool.bytes(), static_cast<size_t>(256 * 1024));
  CHECK_EQ(pool.alloc(3), SlabPool<float>::kNone);  // the cap is shared by the classes
  // Blocks do not overlap.
  for (uint32_t id : ids)
    for (int k = 0; k < 4; ++k) pool.block(0, id)[k] = static_cast<float>(id * 4 + k);
  for (uint32_t id : ids)
    for (int k = 0; k < 4; ++k) CHECK_EQ(pool.block(0, id)[k], static_cast<float>(id * 4 + k));
  // Freed blocks are reused without growing.
  pool.free(0, ids[100]);
  pool.free(0, ids[7]);
  CHECK_EQ(pool.alloc(0), ids[7]);
  CHECK_EQ(pool.alloc(0), ids[100]);
  CHECK_EQ(pool.alloc(0), SlabPool<float>::kNone);
  CHECK_EQ(pool.bytes(), static_cast<size_t>(256 * 1024));

  SlabPool<Segment> none(0);
  CHECK_EQ(none.alloc(0), SlabPool<Segment>::kNone);
  SlabPool<Segment> segs(8u << 20);
  for (int c = 0; c < 4; ++c) {
    uint32_t a = segs.alloc(c), b = segs.alloc(c);
    CHECK(a != b);
    Segment* pa = segs.block(c, a);
    Segment* pb = segs.block(c, b);
    uint32_t n = SlabPool<Segment>::class_size(c);
    CHECK(pa + n <= pb || pb + n <= pa);
  }
}

TEST(slab_pool_trim_gives_back_the_free_top) {
  // 256 kB: 16384 blocks of 4 floats fill the cap.
  SlabPool<float> pool(256 * 1024);
  std::vector<uint32_t> ids;
  for (uint32_t id; (id = pool.alloc(0)) != SlabPool<float>::kNone;) ids.push_back(id);
  CHECK_EQ(ids.size(), static_cast<size_t>(16384));
  CHECK_EQ(pool.alloc(3), SlabPool<float>::kNone);
  // All but blocks 10 and 130 freed (in no particular order): trim() keeps
  // the carved range up to 130 and hands the rest back to the cap.
  for (uint32_t id : ids)
    if (id != 10 && id != 130) pool.free(0, id);
  pool.block(0, 10)[3] = 1.5f;
  pool.block(0, 130)[0] = 2.5f;
  pool.trim();
  CHECK_EQ(pool.bytes(), static_cast<size_t>(131 * 16));
  CHECK_EQ(pool.block(0, 10)[3], 1.5f);  // blocks in use keep their contents
  CHECK_EQ(pool.block(0, 130)[0], 2.5f);
  // Larger classes can have the memory now: 253 blocks of 256 floats fit
  // beside the 131 small ones, the 254th does not.
  std::vector<uint32_t> big;
  for (uint32_t id; (id = pool.alloc(3)) != SlabPool<float>::kNone;) big.push_back(id);
  CHECK_EQ(big.size(), static_cast<size_t>((256 * 1024 - 131 * 16) / 1024));
  for (uint32_t id : big) pool.free(3, id);
  pool.trim();
  CHECK_EQ(pool.bytes(), static_cast<size_t>(131 * 16));
  // The small class hands out its lowest free blocks first, then carves.
  for (uint32_t want = 0; want < 130; ++want) {
    if (want == 10) continue;
    CHECK_EQ(pool.alloc(0), want);
  }
  CHECK_EQ(pool.alloc(0), 131u);
  // Everything free: nothing stays carved; a word-aligned top (64 blocks) too.
  for (uint32_t id = 0; id < 132; ++id) pool.free(0, id);
  pool.trim();
  CHECK_EQ(pool.bytes(), static_cast<size_t>(0));
  for (uint32_t i = 0; i < 64; ++i) CHECK_EQ(pool.alloc(0), i);
  pool.block(0, 0)[3] = 7.0f;
  for (uint32_t i = 0; i < 64; ++i) pool.free(0, i);
  pool.trim();
  CHECK_EQ(pool.bytes(), static_cast<size_t>(0));
  CHECK_EQ(pool.alloc(0), 0u);  // pages given back come back zero-filled
  CHECK_EQ(pool.block(0, 0)[3], 0.0f);
}

// ---------------------------------------------------------------- flow table

namespace {
Addr remote_n(uint32_t i) {
  uint8_t raw[4] = {198, 51, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
  return Addr::v4(raw);
}
FlowKey key_n(uint32_t i) {
  FlowKey k;
  k.local = addr("10.0.0.1");
  k.remote = remote_n(i);
  k.lport = static_cast<uint16_t>(1000 + i);
  k.rport = 80;
  return k;
}
uint32_t insert_flow(FlowTable& t, uint32_t i, int64_t now) {
  FlowKey k = key_n(i);
  return t.insert(t.key_hash(k), k, now);
}
uint32_t find_flow(FlowTable& t, uint32_t i) {
  FlowKey k = key_n(i);
  return t.find(t.key_hash(k), k);
}
}  // namespace

TEST(flow_table_lru_exact) {
  FlowTable t(8);
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < 8; ++i) ids.push_back(insert_flow(t, i, kT0 + i * 100 * kMs));
  CHECK(t.full());
  CHECK_EQ(t.size(), 8u);
  for (uint32_t i = 0; i < 8; ++i) CHECK_EQ(find_flow(t, i), ids[i]);
  CHECK_EQ(find_flow(t, 99), kNil);
  CHECK_EQ(t.oldest(), ids[0]);
  // A touch makes a flow the most recently seen at once.
  t.touch(ids[0], kT0 + 900 * kMs);
  CHECK_EQ(t.oldest(), ids[1]);
  t.touch(ids[1], kT0 + 950 * kMs);
  t.touch(ids[2], kT0 + 3 * kSec);
  CHECK_EQ(t.oldest(), ids[3]);
  t.remove(ids[3]);
  CHECK_EQ(find_flow(t, 3), kNil);
  CHECK(!t.full());
  CHECK_EQ(t.oldest(), ids[4]);
  // The freed entry is reused.
  uint32_t again = insert_flow(t, 50, kT0 + 4 * kSec);
  CHECK_EQ(again, ids[3]);
  CHECK_EQ(find_flow(t, 50), again);
}

TEST(flow_table_expiry_lists) {
  FlowTable t(16);
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < 6; ++i) ids.push_back(insert_flow(t, i, kT0 + i * kSec));
  t[ids[1]].last_seen = kT0 + kSec;
  t.mark_closed(ids[1], true);  // FIN seen at 1 s
  t.mark_closed(ids[4], true);  // at 4 s
  // Open list cut at 3.5 s: flows 0, 2, 3 in that order, never a closed one.
  std::vector<uint32_t> got;
  for (uint32_t id; (id = t.expired(false, kT0 + 3500 * kMs)) != kNil;) {
    got.push_back(id);
    t.remove(id);
  }
  CHECK_EQ(got.size(), static_cast<size_t>(3));
  CHECK_EQ(got[0], ids[0]);
  CHECK_EQ(got[1], ids[2]);
  CHECK_EQ(got[2], ids[3]);
  // Closed list cut at 2 s: flow 1 only.
  CHECK_EQ(t.expired(true, kT0 + 2 * kSec), ids[1]);
  t.remove(ids[1]);
  CHECK_EQ(t.expired(true, kT0 + 2 * kSec), kNil);
  // A flow touched after the cut is not expired.
  t.touch(ids[5], kT0 + 5500 * kMs);
  CHECK_EQ(t.expired(false, kT0 + 5200 * kMs), kNil);
  CHECK_EQ(t.expired(false, kT0 + 6 * kSec), ids[5]);
  // Reopening (port reuse) moves a flow back to the open list.
  t.mark_closed(ids[4], false);
  CHECK_EQ(t.expired(true, kT0 + 100 * kSec), kNil);
  CHECK_EQ(t.size(), 2u);
}

TEST(flow_table_oldest_model) {
  // Random touches, closes and removals against brute force: oldest() is
  // always the live flow with the smallest last_seen.
  std::mt19937 rng(7);
  const uint32_t n = 300;
  FlowTable t(n);
  std::map<uint32_t, int64_t> seen;  // id -> last_seen
  int64_t now = kT0;
  uint32_t next = 0;
  for (int op = 0; op < 20000; ++op) {
    now += 1 + rng() % (200 * kMs);
    uint32_t r = rng() % 100;
    if (seen.size() < n && (r < 20 || seen.empty())) {
      uint32_t id = insert_flow(t, next++, now);
      seen[id] = now;
    } else if (r < 90) {
      auto it = seen.begin();
      std::advance(it, rng() % seen.size());
      t.touch(it->first, now);
      it->second = now;
      if (rng() % 10 == 0) t.mark_closed(it->first, rng() % 2);
    } else {
      auto it = seen.begin();
      std::advance(it, rng() % seen.size());
      t.remove(it->first);
      seen.erase(it);
    }
    if (seen.empty()) continue;
    uint32_t want = std::min_element(seen.begin(), seen.end(), [](const auto& a, const auto& b) {
                      return a.second < b.second;
                    })->first;
    CHECK_EQ(t.oldest(), want);
  }
}

// ---------------------------------------------------------------- host pairs

namespace {
std::vector<PairRow> report(PairTable& t) {
  std::vector<PairRow> rows;
  t.report(&rows);
  return rows;
}
}  // namespace

TEST(pairs_percentiles_exact_nearest_rank) {
  PairTable t(true, 16);
  uint32_t id = t.acquire(addr("10.0.0.1"), addr("192.0.2.1"));
  std::vector<int> ms;
  for (int i = 1; i <= 100; ++i) ms.push_back(i);
  std::shuffle(ms.begin(), ms.end(), std::mt19937(3));
  for (int v : ms) t.add(id, v * kMs, Kind::kData);
  auto rows = report(t);
  CHECK_EQ(rows.size(), static_cast<size_t>(1));
  const PairRow& r = rows[0];
  CHECK_EQ(r.samples, 100u);
  CHECK(r.has_interval);
  CHECK_EQ(r.min, 1.0 * kMs);
  CHECK_EQ(r.max, 100.0 * kMs);
  CHECK_EQ(r.last, ms.back() * 1.0 * kMs);
  // Nearest rank: the value at rank ceil(q * n).
  CHECK_EQ(r.p50, 50.0 * kMs);
  CHECK_EQ(r.p95, 95.0 * kMs);
  CHECK_EQ(r.p99, 99.0 * kMs);
  CHECK_EQ(r.kinds[0], 100u);
  CHECK_EQ(r.flows, 1u);

  // One sample: every percentile is that sample.
  t.add(id, 42 * kMs, Kind::kHandshake);
  rows = report(t);
  CHECK_EQ(rows[0].samples, 1u);
  CHECK_EQ(rows[0].kinds[1], 1u);
  CHECK_EQ(rows[0].p50, 42.0 * kMs);
  CHECK_EQ(rows[0].p99, 42.0 * kMs);
  CHECK_EQ(rows[0].total, 101u);
}

TEST(pairs_sample_memory_cap) {
  // 80 bytes of sample memory: five blocks of 4 floats, or one of 16 and one
  // of 4. A pair whose store cannot grow gives it up for the interval and
  // reports percentiles from min and max; the others stay exact.
  PairTable t(true, 16, 80);
  auto pair = [&](int k) {
    return t.acquire(addr("10.0.0.1"),
                     Addr::v4(std::array<uint8_t, 4>{192, 0, 2, static_cast<uint8_t>(k)}.data()));
  };
  std::vector<uint32_t> ids;
  for (int k = 1; k <= 6; ++k) ids.push_back(pair(k));
  for (int k = 0; k < 5; ++k)
    for (int v = 1; v <= 4; ++v) t.add(ids[k], (10 * (k + 1) + v) * kMs, Kind::kData);
  // Pair 1's fifth sample needs a 16-float block: no room.
  t.add(ids[0], 15 * kMs, Kind::kData);
  t.add(ids[0], 16 * kMs, Kind::kData);
  // Pair 6 gets the 4-float block pair 1 gave up, then runs out too.
  for (int v = 1; v <= 6; ++v) t.add(ids[5], (60 + v) * kMs, Kind::kData);
  auto rows = report(t);
  CHECK_EQ(rows.size(), static_cast<size_t>(6));
  for (const PairRow& r : rows) {
    const int k = r.remote.b[15];
    CHECK(r.has_interval);
    CHECK(r.min <= r.p50 && r.p50 <= r.p95 && r.p95 <= r.p99 && r.p99 <= r.max);
    if (k == 1 || k == 6) {
      CHECK_EQ(r.samples, 6u);
      CHECK_EQ(r.p50, r.max);  // no store: min/max only
    } else {
      CHECK_EQ(r.samples, 4u);  // untouched by the others: exact nearest rank
      CHECK_EQ(r.p50, (10.0 * k + 2) * kMs);
      CHECK_EQ(r.p95, (10.0 * k + 4) * kMs);
      CHECK_EQ(r.min, (10.0 * k + 1) * kMs);
    }
  }
  // The next interval starts from empty memory: six samples fit now.
  for (int v = 1; v <= 6; ++v) t.add(ids[0], v * kMs, Kind::kData);
  rows = report(t);
  for (const PairRow& r : rows) {
    if (r.remote.b[15] != 1) continue;
    CHECK_EQ(r.samples, 6u);
    CHECK_EQ(r.p50, 3.0 * kMs);
    CHECK_EQ(r.p95, 6.0 * kMs);
  }
}

TEST(pairs_percentiles_histogram_within_1_percent) {
  // 1000 samples of 1..1000 ms: past the raw store (256), a histogram.
  PairTable t(true, 16);
  uint32_t id = t.acquire(addr("10.0.0.1"), addr("192.0.2.1"));
  for (int i = 1000; i >= 1; --i) t.add(id, i * kMs, Kind::kData);
  auto rows = report(t);
  CHECK_EQ(rows[0].samples, 1000u);
  CHECK_NEAR(rows[0].p50 / (500.0 * kMs), 1.0, 0.01);
  CHECK_NEAR(rows[0].p95 / (950.0 * kMs), 1.0, 0.01);
  CHECK_NEAR(rows[0].p99 / (990.0 * kMs), 1.0, 0.01);
  CHECK_EQ(rows[0].min, 1.0 * kMs);
  CHECK_EQ(rows[0].max, 1000.0 * kMs);
  // The next interval starts over with a raw store.
  for (int i = 1; i <= 3; ++i) t.add(id, i * 10 * kMs, Kind::kData);
  rows = report(t);
  CHECK_EQ(rows[0].samples, 3u);
  CHECK_EQ(rows[0].p50, 20.0 * kMs);
  CHECK_EQ(rows[0].p99, 30.0 * kMs);
}

TEST(pairs_percentiles_histogram_from_the_minimum) {
  // 300 samples (a histogram): 200 at 1 ms, 100 at 100 ms. The walk for the
  // three ranks starts at the minimum's bucket, which holds p50.
  PairTable t(true, 16);
  uint32_t id = t.acquire(addr("10.0.0.1"), addr("192.0.2.1"));
  for (int i = 0; i < 300; ++i) t.add(id, (i % 3 == 2 ? 100 : 1) * kMs, Kind::kData);
  auto rows = report(t);
  CHECK_EQ(rows[0].samples, 300u);
  CHECK_NEAR(rows[0].p50 / (1.0 * kMs), 1.0, 0.01);
  CHECK_NEAR(rows[0].p95 / (100.0 * kMs), 1.0, 0.01);
  CHECK_NEAR(rows[0].p99 / (100.0 * kMs), 1.0, 0.01);
  // 67 % at the minimum: p50 there, p95 not.
  for (int i = 0; i < 300; ++i) t.add(id, (i % 3 == 2 ? 7 : 3) * kMs, Kind::kData);
  rows = report(t);
  CHECK_NEAR(rows[0].p50 / (3.0 * kMs), 1.0, 0.01);
  CHECK_NEAR(rows[0].p95 / (7.0 * kMs), 1.0, 0.01);
}

TEST(pairs_histogram_bucket_error) {
  // Every value from 1 µs to 60 s lands in a bucket whose middle is within
  // 1/128 of it; below 1 µs, within 8 ns.
  for (double v = 1000; v < 60e9; v *= 1.0137) {
    double m = hist_value(hist_bucket(static_cast<uint64_t>(v)));
    CHECK(std::fabs(m - v) / v <= 1.0 / 128 + 1e-9);
  }
  for (uint64_t v = 0; v < 1024; v += 3) CHECK(std::fabs(hist_value(hist_bucket(v)) - v) <= 8);
  CHECK_EQ(hist_bucket(1ull << 40), kHistBuckets - 1);  // clamped, never out of range
  CHECK(hist_bucket(~0ull) < kHistBuckets);
}

TEST(pairs_rfc6298_and_running_mean) {
  PairTable soft(true, 4);
  uint32_t a = soft.acquire(addr("10.0.0.1"), addr("192.0.2.1"));
  soft.add(a, 100 * kMs, Kind::kData);
  auto rows = report(soft);
  CHECK_EQ(rows[0].avg, 100.0 * kMs);    // SRTT = R
  CHECK_EQ(rows[0].jitter, 50.0 * kMs);  // RTTVAR = R/2
  soft.add(a, 200 * kMs, Kind::kData);
  rows = report(soft);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
  CHECK_NEAR(rows[0].jitter, 62.5 * kMs, 1e-3);
  CHECK_NEAR(rows[0].avg, 112.5 * kMs, 1e-3);
  // An interval without samples keeps the smoothed figures, has no interval figures.
  rows = report(soft);
  CHECK_EQ(rows[0].samples, 0u);
  CHECK(!rows[0].has_interval);
  CHECK(rows[0].has_avg);
  CHECK_NEAR(rows[0].avg, 112.5 * kMs, 1e-3);

  PairTable mean(false, 4);
  uint32_t b = mean.acquire(addr("10.0.0.1"), addr("192.0.2.1"));
  for (int v : {100, 200, 400}) mean.add(b, v * kMs, Kind::kData);
  rows = report(mean);
  CHECK_NEAR(rows[0].avg, (700.0 / 3) * kMs, 1e-3);
  CHECK_NEAR(rows[0].jitter, 150.0 * kMs, 1e-3);  // mean of 100 and 200
}

TEST(pairs_lifetime) {
  PairTable t(true, 8);
  Addr l = addr("10.0.0.1"), r1 = addr("192.0.2.1"), r2 = addr("192.0.2.2");
  uint32_t a = t.acquire(l, r1);
  CHECK_EQ(t.acquire(l, r1), a);  // second flow of the same pair
  uint32_t b = t.acquire(l, r2);
  CHECK(a != b);
  CHECK_EQ(t.size(), 2u);
  // A pair with live flows and no samples is reported with samples 0.
  auto rows = report(t);
  CHECK_EQ(rows.size(), static_cast<size_t>(2));
  for (const PairRow& row : rows) {
    CHECK_EQ(row.samples, 0u);
    CHECK(!row.has_interval && !row.has_avg);
  }
  // b's only flow ends with no samples: freed at once.
  t.release(b);
  CHECK_EQ(t.size(), 1u);
  // a's flows end after a sample: reported once more, then freed.
  t.add(a, 5 * kMs, Kind::kData);
  t.release(a);
  t.release(a);
  CHECK_EQ(t.size(), 1u);
  rows = report(t);
  CHECK_EQ(rows.size(), static_cast<size_t>(1));
  CHECK_EQ(rows[0].samples, 1u);
  CHECK_EQ(rows[0].flows, 0u);
  CHECK_EQ(t.size(), 0u);
  CHECK(report(t).empty());
  // The freed entry is reusable.
  uint32_t c = t.acquire(l, r2);
  CHECK_EQ(t.size(), 1u);
  t.release(c);
  CHECK_EQ(t.size(), 0u);
}

// ---------------------------------------------------------------- engine

namespace {

struct Sink : EngineSink {
  std::vector<Report> reports;
  std::vector<Sample> samples;
  void on_report(Report&& r) override { reports.push_back(std::move(r)); }
  void on_samples(std::vector<Sample>&& s) override {
    samples.insert(samples.end(), s.begin(), s.end());
  }
};

struct Pkt {
  int64_t t;
  bool out;  // from the local host
  uint32_t seq, ack;
  uint8_t flags;
  uint32_t payload;
};

void feed(Engine& e, const std::vector<Pkt>& pkts, uint16_t lport = 40000,
          const char* remote = "192.0.2.1") {
  for (const Pkt& x : pkts) {
    pk::Seg s;
    s.src = x.out ? "10.0.0.1" : remote;
    s.dst = x.out ? remote : "10.0.0.1";
    s.sport = x.out ? lport : 80;
    s.dport = x.out ? 80 : lport;
    s.seq = x.seq;
    s.ack = x.ack;
    s.flags = x.flags;
    s.payload = x.payload;
    Bytes f = pk::ethernet(pk::ipv4(s));
    e.packet(kLinkEthernet, x.t, f.data(), static_cast<uint32_t>(f.size()),
             static_cast<uint32_t>(f.size() + x.payload));
  }
}

EngineOptions options() {
  EngineOptions o;
  o.local = {addr("10.0.0.1")};
  o.samples = true;
  return o;
}

}  // namespace

TEST(engine_conversation_samples) {
  Sink sink;
  Engine e(options(), &sink);
  const uint32_t c = 5000, s = 90000;  // ISNs
  feed(e, {{kT0, true, c, 0, kSyn, 0},
           {kT0 + 10 * kMs, false, s, c + 1, kSyn | kAck, 0},  // handshake 10 ms
           {kT0 + 10 * kMs + 500000, true, c + 1, s + 1, kAck, 0},
           {kT0 + 11 * kMs, true, c + 1, s + 1, kPsh | kAck, 100},
           {kT0 + 31 * kMs, false, s + 1, c + 101, kAck, 0},  // data 20 ms
           {kT0 + 32 * kMs, false, s + 1, c + 101, kPsh | kAck, 500},
           {kT0 + 33 * kMs, true, c + 101, s + 501, kAck, 0},
           {kT0 + 40 * kMs, true, c + 101, s + 501, kFin | kAck, 0},
           {kT0 + 55 * kMs, false, s + 501, c + 102, kFin | kAck, 0},  // FIN 15 ms
           {kT0 + 56 * kMs, true, c + 102, s + 502, kAck, 0}});
  e.finish();
  CHECK_EQ(sink.samples.size(), static_cast<size_t>(3));
  CHECK_EQ(sink.samples[0].rtt_ns, 10 * kMs);
  CHECK(sink.samples[0].kind == Kind::kHandshake);
  CHECK_EQ(sink.samples[1].rtt_ns, 20 * kMs);
  CHECK(sink.samples[1].kind == Kind::kData);
  CHECK_EQ(sink.samples[2].rtt_ns, 15 * kMs);
  CHECK_EQ(sink.samples[1].lport, 40000);
  CHECK_EQ(sink.samples[1].rport, 80);
  CHECK_EQ(sink.reports.size(), static_cast<size_t>(1));  // final report only (< 30 s)
  CHECK_EQ(sink.reports[0].ts_ns, kT0 + 56 * kMs);
  CHECK_EQ(sink.reports[0].rows.size(), static_cast<size_t>(1));
  CHECK_EQ(sink.reports[0].rows[0].samples, 3u);
  CHECK_EQ(sink.reports[0].rows[0].min, 10.0 * kMs);
  CHECK_EQ(sink.reports[0].rows[0].max, 20.0 * kMs);
  const Counters& k = e.counters();
  CHECK_EQ(k.packets, 10u);
  CHECK_EQ(k.tcp, 10u);
  CHECK_EQ(k.samples[0], 2u);
  CHECK_EQ(k.samples[1], 1u);
  CHECK_EQ(k.flows_created, 1u);
}

TEST(engine_retransmission_refused) {
  // Karn (RFC 6298 §3): a segment sent twice gives no sample without timestamps.
  Sink sink;
  Engine e(options(), &sink);
  feed(e, {{kT0, true, 100, 0, kSyn, 0},
           {kT0 + 10 * kMs, false, 900, 101, kSyn | kAck, 0},
           {kT0 + 11 * kMs, true, 101, 901, kAck, 0},
           {kT0 + 12 * kMs, true, 101, 901, kAck, 1000},
           {kT0 + 300 * kMs, true, 101, 901, kAck, 1000},  // retransmitted
           {kT0 + 320 * kMs, false, 901, 1101, kAck, 0}});
  e.finish();
  CHECK_EQ(sink.samples.size(), static_cast<size_t>(1));  // the handshake only
  CHECK(sink.samples[0].kind == Kind::kHandshake);
  CHECK_EQ(e.counters().retransmissions, 1u);
  CHECK_EQ(e.counters().karn_refused, 1u);
}

TEST(engine_eviction_and_expiry) {
  EngineOptions o = options();
  o.max_flows = 4;
  o.idle_ttl_ns = 10 * kSec;
  o.exp_ttl_ns = 1 * kSec;
  Sink sink;
  Engine e(o, &sink);
  // Ten one-packet flows: six evicted, four live.
  for (uint16_t i = 0; i < 10; ++i)
    feed(e, {{kT0 + i * kMs, false, 1000u * i, 0, kSyn, 0}}, static_cast<uint16_t>(5000 + i));
  CHECK_EQ(e.counters().flows_created, 10u);
  CHECK_EQ(e.counters().flows_evicted, 6u);
  CHECK_EQ(e.counters().flows_active, 4u);
  // The least recently seen go first: the four newest are still there (a
  // packet on one of them does not create a flow).
  feed(e, {{kT0 + 20 * kMs, false, 9000, 0, kSyn, 0}}, 5009);
  CHECK_EQ(e.counters().flows_created, 10u);
  // A RST closes a flow: expired exp_ttl after its last packet.
  feed(e, {{kT0 + 30 * kMs, false, 8001, 0, kRst, 0}}, 5008);
  feed(e, {{kT0 + 1500 * kMs, true, 1, 0, kSyn, 0}}, 6000);  // evicts the oldest open flow
  CHECK_EQ(e.counters().flows_expired, 1u);                  // the RST flow
  CHECK_EQ(e.counters().flows_evicted, 6u);
  // Everything idle for more than 10 s expires.
  feed(e, {{kT0 + 20 * kSec, true, 1, 0, kSyn, 0}}, 7000);
  const Counters& k = e.counters();
  CHECK_EQ(k.flows_active, 1u);
  CHECK_EQ(k.flows_created, k.flows_active + k.flows_evicted + k.flows_expired);
}

TEST(engine_segment_memory_comes_back_after_a_flood) {
  // A flood of one-segment flows carves the whole segment memory in the
  // smallest blocks. Once it has expired, a flow with 64 segments in flight
  // must still be timed: its ring grows through the larger classes.
  EngineOptions o = options();
  o.segment_memory = 64 << 10;  // 819 four-segment blocks
  o.idle_ttl_ns = 10 * kSec;
  o.report_interval_ns = 1 * kSec;
  Sink sink;
  Engine e(o, &sink);
  for (uint32_t i = 0; i < 2000; ++i)
    feed(e, {{kT0 + i * 1000, true, 7000u * i, 1, kPsh | kAck, 100}},
         static_cast<uint16_t>(10000 + i));
  const uint64_t skipped = e.counters().segments_skipped;
  CHECK(skipped > 1000);          // the cap was reached
  e.tick(kT0 + 20 * kSec);        // the flood idles out ...
  e.tick(kT0 + 21 * kSec + kMs);  // ... and the report after it trims
  CHECK_EQ(e.counters().flows_active, 0u);
  sink.samples.clear();
  // 64 segments of 1000 bytes, 1 ms apart, each acknowledged 25 ms after it
  // was sent.
  const int64_t t = kT0 + 22 * kSec;
  std::vector<Pkt> conv;
  for (uint32_t k = 0; k < 64; ++k)
    conv.push_back({t + k * kMs, true, 1 + 1000 * k, 1, kAck, 1000});
  for (uint32_t k = 0; k < 64; ++k)
    conv.push_back({t + k * kMs + 25 * kMs, false, 1, 1 + 1000 * (k + 1), kAck, 0});
  std::sort(conv.begin(), conv.end(), [](const Pkt& a, const Pkt& b) { return a.t < b.t; });
  feed(e, conv, 50000);
  e.finish();
  CHECK_EQ(e.counters().segments_skipped, skipped);
  CHECK_EQ(sink.samples.size(), static_cast<size_t>(64));
  for (const Sample& x : sink.samples) CHECK_EQ(x.rtt_ns, 25 * kMs);
}

TEST(engine_flow_expired_inside_the_batch) {
  // A packet's flow is looked up half a batch before its work (Engine's
  // stages). A flow that expires in between must be found gone, not used
  // from its freed entry (which still holds its key): flow A idles past its
  // TTL, and its next packet is staged right behind the packet whose work
  // expires it.
  EngineOptions o = options();
  o.idle_ttl_ns = 1 * kSec;
  Sink sink;
  Engine e(o, &sink);
  pk::Seg other;  // neither end local: only counted
  other.src = "198.51.100.1";
  other.dst = "198.51.100.2";
  const Bytes f = pk::ethernet(pk::ipv4(other));
  auto others = [&](int64_t t, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i)
      e.packet(kLinkEthernet, t, f.data(), static_cast<uint32_t>(f.size()), 0);
  };
  feed(e, {{kT0, true, 1, 0, kSyn, 0}}, 5001);  // A
  others(kT0, Engine::kBatch);
  others(kT0 + 2 * kSec, 1);                               // its work expires A
  feed(e, {{kT0 + 2 * kSec, true, 2, 0, kAck, 0}}, 5001);  // A again: a new flow
  others(kT0 + 2 * kSec, 2 * Engine::kBatch);
  const Counters& k = e.counters();
  CHECK_EQ(k.flows_expired, 1u);
  CHECK_EQ(k.flows_created, 2u);
  CHECK_EQ(k.flows_active, 1u);
}

TEST(engine_report_grid) {
  // Boundaries at first packet + k * interval; a report when the first
  // packet at or after a boundary arrives; then the final one at the last
  // packet's time.
  EngineOptions o = options();
  o.report_interval_ns = 1 * kSec;
  Sink sink;
  Engine e(o, &sink);
  feed(e, {{kT0, true, 100, 0, kSyn, 0},
           {kT0 + 10 * kMs, false, 900, 101, kSyn | kAck, 0},
           {kT0 + 500 * kMs, true, 101, 901, kAck, 0},
           {kT0 + 1 * kSec, true, 101, 901, kAck, 10},     // exactly on the boundary
           {kT0 + 1030 * kMs, false, 901, 111, kAck, 0},   // 30 ms
           {kT0 + 3200 * kMs, true, 111, 901, kAck, 0}});  // skips boundary 2 s
  e.finish();
  CHECK_EQ(sink.reports.size(), static_cast<size_t>(3));
  CHECK_EQ(sink.reports[0].ts_ns, kT0 + 1 * kSec);
  CHECK_EQ(sink.reports[0].rows[0].samples, 1u);  // the handshake
  CHECK_EQ(sink.reports[1].ts_ns, kT0 + 2 * kSec);
  CHECK_EQ(sink.reports[1].rows[0].samples, 1u);  // the 30 ms data sample
  CHECK_EQ(sink.reports[1].rows[0].last, 30.0 * kMs);
  CHECK_EQ(sink.reports[2].ts_ns, kT0 + 3200 * kMs);
  CHECK_EQ(sink.reports[2].rows[0].samples, 0u);
  // tick() moves the clock on an idle link.
  e.tick(kT0 + 10 * kSec);
  CHECK(e.last_time() == kT0 + 10 * kSec);
}

TEST(engine_counts_what_it_skips) {
  Sink sink;
  Engine e(options(), &sink);
  Bytes zero;
  uint8_t one = 0;
  e.packet(kLinkEthernet, kT0, &one, 0, 0);  // zero-length packet
  pk::Seg s;
  Bytes udp = pk::ipv4(s);
  udp[9] = 17;
  Bytes f = pk::ethernet(udp);
  e.packet(kLinkEthernet, kT0, f.data(), static_cast<uint32_t>(f.size()), 0);
  s.src = "192.0.2.7";  // neither end local
  f = pk::ethernet(pk::ipv4(s));
  e.packet(kLinkEthernet, kT0, f.data(), static_cast<uint32_t>(f.size()), 0);
  f = pk::ethernet(pk::ipv4(s, 0x0010));
  e.packet(kLinkEthernet, kT0, f.data(), static_cast<uint32_t>(f.size()), 0);
  const Counters& k = e.counters();
  CHECK_EQ(k.packets, 4u);
  CHECK_EQ(k.malformed, 1u);
  CHECK_EQ(k.not_tcp, 1u);
  CHECK_EQ(k.not_local, 1u);
  CHECK_EQ(k.fragments, 1u);
  CHECK_EQ(k.flows_created, 0u);
}

namespace {

// Conversations between local and remote hosts, every packet a frame with
// its capture time: handshakes, data each way with its ACK after a delay
// drawn per flow, FINs, some flows with timestamps, and frames the engine
// only counts (neither end local, UDP, cut short). Both directions of a
// flow between two local addresses are in it too.
struct Frame {
  int64_t t;
  Bytes bytes;
  uint32_t wire;
};

std::vector<Frame> conversations(uint32_t flows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Frame> out;
  auto emit = [&](int64_t t, const pk::Seg& s, bool v6) {
    Bytes f = pk::ethernet(v6 ? pk::ipv6(s) : pk::ipv4(s));
    out.push_back({t, f, static_cast<uint32_t>(f.size() + s.payload)});
  };
  for (uint32_t i = 0; i < flows; ++i) {
    const bool v6 = i % 4 == 3;
    const bool both_local = i % 17 == 5 && !v6;
    const std::string local = v6 ? "2001:db8::1" : (i % 2 ? "10.0.0.1" : "10.0.0.2");
    const std::string remote = both_local ? (local == "10.0.0.1" ? "10.0.0.2" : "10.0.0.1")
                               : v6       ? "2001:db8:1::" + std::to_string(i % 50 + 1)
                                          : "192.0.2." + std::to_string(i % 200 + 1);
    const uint16_t lport = static_cast<uint16_t>(30000 + i), rport = 443;
    const int64_t rtt = (1 + rng() % 40) * kMs;
    int64_t t = kT0 + static_cast<int64_t>(rng() % 5000) * kMs;
    const bool ts = i % 3 == 0;
    uint32_t tsv = 1000;
    uint32_t a = rng(), b = rng();  // ISNs
    auto seg = [&](bool from_local, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len) {
      pk::Seg s;
      s.src = from_local ? local : remote;
      s.dst = from_local ? remote : local;
      s.sport = from_local ? lport : rport;
      s.dport = from_local ? rport : lport;
      s.seq = seq;
      s.ack = ack;
      s.flags = flags;
      s.payload = len;
      s.ts = ts;
      s.tsval = tsv++;
      s.tsecr = tsv - 2;
      return s;
    };
    emit(t, seg(true, a, 0, kSyn, 0), v6);
    emit(t + rtt, seg(false, b, a + 1, kSyn | kAck, 0), v6);
    emit(t + rtt + 100000, seg(true, a + 1, b + 1, kAck, 0), v6);
    uint32_t sa = a + 1, sb = b + 1;
    t += rtt + 200000;
    const int rounds = 1 + static_cast<int>(rng() % 20);
    for (int r = 0; r < rounds; ++r) {
      const uint32_t len = 100 + rng() % 1300;
      emit(t, seg(true, sa, sb, kPsh | kAck, len), v6);
      sa += len;
      emit(t + rtt, seg(false, sb, sa, kAck, 0), v6);
      emit(t + rtt + 50000, seg(false, sb, sa, kPsh | kAck, 200), v6);
      sb += 200;
      emit(t + rtt + 60000, seg(true, sa, sb, kAck, 0), v6);
      t += rtt + static_cast<int64_t>(rng() % 400) * kMs;
    }
    if (i % 5 != 0) {
      emit(t, seg(true, sa, sb, kFin | kAck, 0), v6);
      emit(t + rtt, seg(false, sb, sa + 1, kFin | kAck, 0), v6);
    }
    if (i % 7 == 0) {  // neither end local
      pk::Seg s;
      s.src = "198.51.100.1";
      s.dst = "198.51.100.2";
      emit(t, s, false);
    }
    if (i % 11 == 0) {  // UDP, then a frame cut inside the IP header
      pk::Seg s;
      Bytes udp = pk::ipv4(s);
      udp[9] = 17;
      Bytes f = pk::ethernet(udp);
      out.push_back({t, f, static_cast<uint32_t>(f.size())});
      f.resize(20);
      out.push_back({t, f, 60});
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Frame& x, const Frame& y) { return x.t < y.t; });
  return out;
}

bool same_sample(const Sample& a, const Sample& b) {
  return a.ts_ns == b.ts_ns && a.rtt_ns == b.rtt_ns && a.local == b.local && a.remote == b.remote &&
         a.lport == b.lport && a.rport == b.rport && a.kind == b.kind;
}

bool same_row(const PairRow& a, const PairRow& b) {
  return a.local == b.local && a.remote == b.remote && a.samples == b.samples &&
         a.kinds[0] == b.kinds[0] && a.kinds[1] == b.kinds[1] && a.kinds[2] == b.kinds[2] &&
         a.flows == b.flows && a.total == b.total && a.has_interval == b.has_interval &&
         a.has_avg == b.has_avg && a.last == b.last && a.avg == b.avg && a.jitter == b.jitter &&
         a.min == b.min && a.max == b.max && a.p50 == b.p50 && a.p95 == b.p95 && a.p99 == b.p99;
}

}  // namespace

TEST(spsc_ring_in_order_through_waits) {
  // A ring of 64 entries, much smaller than what passes through it, so the
  // producer waits for room; pauses on either side make the other sleep on
  // its futex and be woken. Every value must arrive once, in order.
  constexpr uint64_t kCount = 300000;
  SpscRing<uint64_t, 64> ring;
  uint64_t sleeps = 0;
  std::thread consumer([&] {
    uint64_t want = 0;
    while (want < kCount) {
      uint64_t* v = ring.front();
      if (v == nullptr) {
        ring.wait([&] { sleeps++; });
        continue;
      }
      CHECK_EQ(*v, want);
      if (*v != want) return;
      ++want;
      ring.pop();
      // The producer finds the ring full for longer than it spins.
      if (want % 100000 == 25000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (uint64_t i = 0; i < kCount; ++i) {
    ring.slot() = i;
    ring.commit();
    if (i % 50000 == 49999) {
      ring.publish();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ring.publish();
  consumer.join();
  // Each of the first five producer pauses put the consumer to sleep (the
  // last one may end the run first).
  CHECK(sleeps >= 5);
}

TEST(spsc_ring_put_whole_entries) {
  // put() copies a line-sized entry into its slot (on x86 with
  // non-temporal stores, fenced at publication): every word of every entry
  // arrives, in order, through full rings and sleeps on both sides.
  struct alignas(64) Line {
    uint64_t w[8];
  };
  constexpr uint64_t kCount = 200000;
  SpscRing<Line, 64> ring;
  uint64_t bad = 0, seen = 0;
  std::thread consumer([&] {
    while (seen < kCount) {
      Line* v = ring.front();
      if (v == nullptr) {
        ring.wait([] {});
        continue;
      }
      for (uint64_t k = 0; k < 8; ++k) bad += v->w[k] != seen * 8 + k;
      ++seen;
      ring.pop();
      if (seen % 50000 == 20000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (uint64_t i = 0; i < kCount; ++i) {
    Line l;
    for (uint64_t k = 0; k < 8; ++k) l.w[k] = i * 8 + k;
    ring.put(l);
    if (i % 40000 == 39999) {
      ring.publish();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  ring.publish();
  consumer.join();
  CHECK_EQ(seen, kCount);
  CHECK_EQ(bad, 0u);
}

TEST(engine_thread_same_as_engine) {
  // The same frames through the engine alone and through EngineThread (the
  // capture thread decodes and orients, the engine thread does the rest):
  // the same samples, reports and counters, value for value.
  const std::vector<Frame> frames = conversations(600, 21);
  EngineOptions o = options();
  o.local = {addr("10.0.0.1"), addr("10.0.0.2"), addr("2001:db8::1")};
  o.report_interval_ns = 2 * kSec;
  o.idle_ttl_ns = 3 * kSec;
  o.max_flows = 256;  // evictions too
  Sink direct_sink, threaded_sink;
  Engine direct(o, &direct_sink);
  Engine threaded(o, &threaded_sink);
  Mailbox mailbox([] {});
  EngineThread thread(&threaded, &mailbox);
  thread.start();
  for (size_t i = 0; i < frames.size(); ++i) {
    const Frame& f = frames[i];
    const auto n = static_cast<uint32_t>(f.bytes.size());
    direct.packet(kLinkEthernet, f.t, f.bytes.data(), n, f.wire);
    thread.packet(kLinkEthernet, f.t, f.bytes.data(), n, f.wire);
    if (i % 1000 == 999) thread.flush();
  }
  direct.finish();
  PcapCounts pcap;
  pcap.valid = true;
  pcap.received = 12345;
  pcap.dropped = 6;
  thread.finish(pcap);

  const Counters& a = direct.counters();
  const Counters b = mailbox.counters();
  CHECK(a.samples[0] > 1000 && a.samples[1] > 300);
  CHECK(a.flows_evicted > 0 && a.not_local > 0 && a.not_tcp > 0 && a.malformed > 0);
  CHECK_EQ(b.packets, a.packets);
  CHECK_EQ(b.tcp, a.tcp);
  CHECK_EQ(b.not_tcp, a.not_tcp);
  CHECK_EQ(b.malformed, a.malformed);
  CHECK_EQ(b.not_local, a.not_local);
  CHECK_EQ(b.flows_created, a.flows_created);
  CHECK_EQ(b.flows_evicted, a.flows_evicted);
  CHECK_EQ(b.flows_expired, a.flows_expired);
  for (int k = 0; k < kKinds; ++k) CHECK_EQ(b.samples[k], a.samples[k]);
  CHECK_EQ(b.karn_refused, a.karn_refused);
  CHECK_EQ(b.reports, a.reports);
  CHECK_EQ(b.pcap_received, 12345u);
  CHECK_EQ(b.pcap_dropped, 6u);

  CHECK_EQ(threaded_sink.samples.size(), direct_sink.samples.size());
  bool samples_same = threaded_sink.samples.size() == direct_sink.samples.size();
  for (size_t i = 0; samples_same && i < direct_sink.samples.size(); ++i)
    samples_same = same_sample(direct_sink.samples[i], threaded_sink.samples[i]);
  CHECK(samples_same);
  CHECK(direct_sink.reports.size() >= 3);
  CHECK_EQ(threaded_sink.reports.size(), direct_sink.reports.size());
  bool reports_same = threaded_sink.reports.size() == direct_sink.reports.size();
  for (size_t i = 0; reports_same && i < direct_sink.reports.size(); ++i) {
    const Report& x = direct_sink.reports[i];
    const Report& y = threaded_sink.reports[i];
    reports_same = x.ts_ns == y.ts_ns && x.rows.size() == y.rows.size();
    for (size_t j = 0; reports_same && j < x.rows.size(); ++j)
      reports_same = same_row(x.rows[j], y.rows[j]);
  }
  CHECK(reports_same);
  // A pair between two local addresses was measured.
  bool local_pair = false;
  for (const Sample& s : direct_sink.samples)
    local_pair |= s.local == addr("10.0.0.1") && s.remote == addr("10.0.0.2");
  CHECK(local_pair);
}

TEST(local_detector) {
  LocalDetector d;
  pk::Seg a, b;
  a.src = "10.0.0.1";
  a.dst = "192.0.2.1";
  b.src = "192.0.2.2";
  b.dst = "10.0.0.1";
  Bytes fa = pk::ethernet(pk::ipv4(a)), fb = pk::ethernet(pk::ipv4(b));
  d.packet(kLinkEthernet, fa.data(), static_cast<uint32_t>(fa.size()), 0);
  d.packet(kLinkEthernet, fb.data(), static_cast<uint32_t>(fb.size()), 0);
  Addr got;
  std::string why;
  CHECK(d.result({}, &got, &why));
  CHECK(got == addr("10.0.0.1"));
  LocalDetector one;
  one.packet(kLinkEthernet, fa.data(), static_cast<uint32_t>(fa.size()), 0);
  CHECK(!one.result({}, &got, &why));  // both ends of the only flow
  CHECK(one.result({addr("192.0.2.1")}, &got, &why));
  CHECK(got == addr("10.0.0.1"));
  LocalDetector none;
  CHECK(!none.result({}, &got, &why));
  CHECK(!why.empty());
}

// ---------------------------------------------------------------- mailbox

TEST(mailbox_folds_and_drops_live) {
  int notified = 0;
  Mailbox m([&] { notified++; });
  Event r1;
  r1.type = Event::Type::kReport;
  Event r2 = r1;
  m.post(std::move(r1), true);
  m.post(std::move(r2), true);  // JS has not drained: folded into one delivery
  CHECK_EQ(notified, 1);
  CHECK_EQ(m.counters().batches_folded, 1u);
  CHECK_EQ(m.drain().size(), static_cast<size_t>(2));
  Event big;
  big.type = Event::Type::kSamples;
  big.samples.resize(1 << 20);
  m.post(std::move(big), true);
  Event more;
  more.type = Event::Type::kSamples;
  more.samples.resize(10);
  m.post(std::move(more), true);  // over the live cap: dropped and counted
  CHECK_EQ(m.counters().samples_dropped, 10u);
  CHECK_EQ(notified, 2);
  auto events = m.drain();
  CHECK_EQ(events.size(), static_cast<size_t>(1));
  CHECK_EQ(events[0].samples.size(), static_cast<size_t>(1 << 20));
}

TEST(mailbox_live_reports_bounded) {
  // JavaScript never drains: live reports fold up to 64, then the oldest
  // goes for each new one, counted; samples and other events stay.
  Mailbox m([] {});
  Event s;
  s.type = Event::Type::kSamples;
  s.samples.resize(3);
  m.post(std::move(s), true);
  for (int i = 0; i < 100; ++i) {
    Event r;
    r.type = Event::Type::kReport;
    r.report.ts_ns = i;
    m.post(std::move(r), true);
  }
  CHECK_EQ(m.counters().reports_dropped, 36u);
  CHECK_EQ(m.counters().batches_folded, 63u);  // 64 reports in one delivery
  auto events = m.drain();
  CHECK_EQ(events.size(), static_cast<size_t>(65));
  CHECK(events[0].type == Event::Type::kSamples);
  for (size_t i = 1; i < events.size(); ++i)
    CHECK_EQ(events[i].report.ts_ns, static_cast<int64_t>(35 + i));
  // Offline nothing is dropped (the capture thread waits for room instead).
  Mailbox off([] {});
  for (int i = 0; i < 100; ++i) {
    Event r;
    r.type = Event::Type::kReport;
    off.post(std::move(r), false);
  }
  CHECK_EQ(off.counters().reports_dropped, 0u);
  CHECK_EQ(off.drain().size(), static_cast<size_t>(100));
  // Large reports are bounded by their rows too (2^20 in all): of three
  // reports of 600k host pairs each, only the newest waits.
  Mailbox rows([] {});
  for (int i = 0; i < 3; ++i) {
    Event r;
    r.type = Event::Type::kReport;
    r.report.ts_ns = i;
    r.report.rows.resize(600000);
    rows.post(std::move(r), true);
  }
  CHECK_EQ(rows.counters().reports_dropped, 2u);
  CHECK_EQ(rows.counters().batches_folded, 0u);
  auto kept = rows.drain();
  CHECK_EQ(kept.size(), static_cast<size_t>(1));
  CHECK_EQ(kept[0].report.ts_ns, 2);
}

int main(int argc, char** argv) { return unit::run_all(argc, argv); }
