// Packet builders for the unit tests: TCP over IPv4/IPv6, framed under each
// link type the decoder supports. Header layouts: RFC 791 §3.1 (IPv4),
// RFC 8200 §3 (IPv6), RFC 9293 §3.1 (TCP), RFC 7323 §3 (timestamps),
// pcap-linktype(7) for the link layers.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace pk {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = v >> 8;
  b[at + 1] = v & 0xff;
}
inline void put32(Bytes& b, size_t at, uint32_t v) {
  b[at] = v >> 24;
  b[at + 1] = (v >> 16) & 0xff;
  b[at + 2] = (v >> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

struct Seg {
  std::string src = "10.0.0.1";
  std::string dst = "192.0.2.1";
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0x10;
  uint32_t payload = 0;  // stated in the IP header; not captured
  bool ts = false;
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  Bytes extra_options;  // appended after the timestamp option
};

// TCP header with options (padded to 4 bytes).
inline Bytes tcp(const Seg& s) {
  Bytes opt;
  if (s.ts) {
    opt = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    put32(opt, 4, s.tsval);
    put32(opt, 8, s.tsecr);
  }
  opt.insert(opt.end(), s.extra_options.begin(), s.extra_options.end());
  while (opt.size() % 4) opt.push_back(0);
  Bytes t(20, 0);
  put16(t, 0, s.sport);
  put16(t, 2, s.dport);
  put32(t, 4, s.seq);
  put32(t, 8, s.ack);
  t[12] = static_cast<uint8_t>(((20 + opt.size()) / 4) << 4);
  t[13] = s.flags;
  put16(t, 14, 65535);
  t.insert(t.end(), opt.begin(), opt.end());
  return t;
}

// IPv4 packet: header + TCP header; total length counts the payload too.
inline Bytes ipv4(const Seg& s, uint16_t frag = 0x4000) {
  Bytes t = tcp(s);
  Bytes ip(20, 0);
  ip[0] = 0x45;
  put16(ip, 2, static_cast<uint16_t>(20 + t.size() + s.payload));
  put16(ip, 6, frag);
  ip[8] = 64;
  ip[9] = 6;
  inet_pton(AF_INET, s.src.c_str(), &ip[12]);
  inet_pton(AF_INET, s.dst.c_str(), &ip[16]);
  ip.insert(ip.end(), t.begin(), t.end());
  return ip;
}

// IPv6 packet; ext is a chain of extension headers whose first Next Header
// is first_next (the last one must point to 6).
inline Bytes ipv6(const Seg& s, uint8_t first_next = 6, const Bytes& ext = {}) {
  Bytes t = tcp(s);
  Bytes ip(40, 0);
  ip[0] = 0x60;
  put16(ip, 4, static_cast<uint16_t>(ext.size() + t.size() + s.payload));
  ip[6] = first_next;
  ip[7] = 64;
  inet_pton(AF_INET6, s.src.c_str(), &ip[8]);
  inet_pton(AF_INET6, s.dst.c_str(), &ip[24]);
  ip.insert(ip.end(), ext.begin(), ext.end());
  ip.insert(ip.end(), t.begin(), t.end());
  return ip;
}

inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline bool is_v6(const Bytes& ip) { return !ip.empty() && (ip[0] >> 4) == 6; }

inline Bytes ethernet(const Bytes& ip, const std::vector<uint16_t>& tags = {}) {
  Bytes f = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
  for (uint16_t tpid : tags) {
    Bytes tag(4, 0);
    put16(tag, 0, tpid);
    put16(tag, 2, 7);
    f = cat(f, tag);
  }
  Bytes et(2, 0);
  put16(et, 0, is_v6(ip) ? 0x86dd : 0x0800);
  return cat(cat(f, et), ip);
}

inline Bytes sll(const Bytes& ip) {  // Linux cooked v1: protocol at 14
  Bytes h(16, 0);
  put16(h, 0, 0);  // packet type: to us
  put16(h, 2, 1);  // ARPHRD_ETHER
  put16(h, 4, 6);
  put16(h, 14, is_v6(ip) ? 0x86dd : 0x0800);
  return cat(h, ip);
}

inline Bytes sll2(const Bytes& ip) {  // Linux cooked v2: protocol at 0
  Bytes h(20, 0);
  put16(h, 0, is_v6(ip) ? 0x86dd : 0x0800);
  put32(h, 4, 1);  // interface index
  put16(h, 8, 1);
  h[11] = 6;
  return cat(h, ip);
}

// BSD loopback: address family in the capturing host's byte order (NULL) or
// network order (LOOP).
inline Bytes null_le(const Bytes& ip, uint32_t family) {
  Bytes h = {static_cast<uint8_t>(family), static_cast<uint8_t>(family >> 8),
             static_cast<uint8_t>(family >> 16), static_cast<uint8_t>(family >> 24)};
  return cat(h, ip);
}
inline Bytes null_be(const Bytes& ip, uint32_t family) {
  Bytes h(4, 0);
  put32(h, 0, family);
  return cat(h, ip);
}

}  // namespace pk
