// Packet decoding: link layer -> IPv4/IPv6 -> TCP header and options.
// Reads only the captured bytes (caplen), never past them, and never copies
// or keeps payload. Pure function; called on the capture thread only.
#pragma once

#include <cstdint>

#include "addr.h"

namespace prtt {

// libpcap link-layer types the decoder understands (pcap-linktype(7)).
enum LinkType : int {
  kLinkNull = 0,       // DLT_NULL: 4-byte address family, host byte order
  kLinkEthernet = 1,   // DLT_EN10MB
  kLinkRaw = 12,       // DLT_RAW on Linux (LINKTYPE_RAW 101 in files)
  kLinkRawBsd = 14,    // DLT_RAW on OpenBSD
  kLinkRawFile = 101,  // LINKTYPE_RAW
  kLinkLoop = 108,     // DLT_LOOP: 4-byte address family, network order
  kLinkSll = 113,      // DLT_LINUX_SLL: Linux cooked capture v1
  kLinkIpv4 = 228,     // DLT_IPV4
  kLinkIpv6 = 229,     // DLT_IPV6
  kLinkSll2 = 276,     // DLT_LINUX_SLL2: Linux cooked capture v2
};

bool linktype_supported(int linktype);

enum class Decoded : uint8_t {
  kTcp,        // a TCP header was decoded into the packet
  kNotIp,      // link layer carries something other than IPv4/IPv6
  kNotTcp,     // IP, but not TCP
  kFragment,   // a non-first IP fragment: no TCP header in it
  kMalformed,  // truncated or inconsistent headers
};

// TCP flag bits (RFC 9293 §3.1).
enum : uint8_t {
  kFin = 0x01,
  kSyn = 0x02,
  kRst = 0x04,
  kPsh = 0x08,
  kAck = 0x10,
};

// What the sampler reads of a TCP segment: everything but its addresses
// and ports (which orientation turns into a flow key).
struct TcpFields {
  uint32_t seq;
  uint32_t ack;
  // Payload bytes as the IP header states them (the segment as sent, not as
  // captured): a snaplen cuts the capture, not the sequence space.
  uint32_t payload;
  uint32_t tsval;
  uint32_t tsecr;
  uint16_t window;
  uint8_t flags;
  uint8_t sack_blocks;
  // False for the first fragment of a fragmented datagram: the segment's
  // length is unknown, only its ACK field can be used.
  bool length_known;
  bool has_ts;
};

// Who sent it to whom: what orientation turns into a flow key.
struct Endpoints {
  Addr src;
  Addr dst;
  uint16_t sport;
  uint16_t dport;
  // IPv6 addresses (else IPv4, stored IPv4-mapped).
  bool v6;
};

struct TcpPacket : TcpFields, Endpoints {};

// The same without the fast path for common packets: the reference the
// fast path is tested against.
Decoded decode_packet_general(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                              TcpFields* tcp, Endpoints* ends);
inline Decoded decode_packet_general(int linktype, const uint8_t* data, uint32_t caplen,
                                     uint32_t wirelen, TcpPacket* out) {
  return decode_packet_general(linktype, data, caplen, wirelen, out, out);
}

namespace detail {
inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;

// TCP options (RFC 9293 §3.2, RFC 7323 §3 timestamps, RFC 2018 §3 SACK).
void parse_options(const uint8_t* p, uint32_t len, TcpFields* out);

// The fields of a TCP header whose length (hlen) the caller has checked
// against the IP payload; opt_cap bytes of options are captured.
__attribute__((always_inline)) inline void tcp_fields(const uint8_t* p, uint32_t hlen,
                                                      uint32_t ip_payload, uint32_t opt_cap,
                                                      TcpFields* out, Endpoints* ends) {
  ends->sport = rd16(p);
  ends->dport = rd16(p + 2);
  out->seq = rd32(p + 4);
  out->ack = rd32(p + 8);
  out->flags = p[13] & 0x3f;
  out->window = rd16(p + 14);
  out->payload = ip_payload - hlen;
  out->sack_blocks = 0;
  if (opt_cap >= 12 && rd32(p + 20) == 0x0101080a) {
    // NOP, NOP, Timestamps first: the layout Linux and most stacks put on
    // every segment after the handshake (RFC 7323 Appendix A), read without
    // walking the option list.
    out->has_ts = true;
    out->tsval = rd32(p + 24);
    out->tsecr = rd32(p + 28);
    if (opt_cap > 12) parse_options(p + 32, opt_cap - 12, out);
    return;
  }
  out->has_ts = false;
  out->tsval = 0;
  out->tsecr = 0;
  if (opt_cap > 0) parse_options(p + 20, opt_cap, out);
}

}  // namespace detail

// Decodes a captured frame: the TCP fields go to out, the addresses and
// ports to ends (which may be different memory: the capture thread decodes
// the fields straight into the entry it hands to the engine thread). Always
// inline: it runs once per packet on the capture thread, the fast path
// below first, and left to itself the compiler keeps it (and tcp_fields,
// called from two places) out of line.
__attribute__((always_inline)) inline Decoded decode_packet(int linktype, const uint8_t* data,
                                                            uint32_t caplen, uint32_t wirelen,
                                                            TcpFields* out, Endpoints* ends) {
  // Fast path for what nearly every packet is: Ethernet without VLAN tags,
  // IPv4 without options (RFC 791: IHL 5) or IPv6 without extension headers
  // (RFC 8200: next header TCP), not a fragment, with the whole TCP header
  // captured. It gives exactly what decode_packet_general gives for these
  // packets (the unit tests and the fuzzer compare the two); anything else
  // takes the general path.
  if (linktype == kLinkEthernet && caplen >= 14 + 20 + 20) {
    const uint16_t type = detail::rd16(data + 12);
    const uint8_t* ip = data + 14;
    const uint32_t cap = caplen - 14;
    // The tests are combined with & rather than &&: all the bytes are
    // captured (54 at least), and one branch predicts better than four.
    if ((type == detail::kEtherIpv4) & (ip[0] == 0x45) & (ip[9] == 6) &
        ((detail::rd16(ip + 6) & 0x3fff) == 0)) {
      const uint32_t total = detail::rd16(ip + 2);
      const uint8_t* t = ip + 20;
      const uint32_t hlen = static_cast<uint32_t>(t[12] >> 4) * 4;
      if ((total >= 20 + hlen) & (hlen >= 20) & (cap >= 20 + hlen)) {
        ends->src = Addr::v4(ip + 12);
        ends->dst = Addr::v4(ip + 16);
        ends->v6 = false;
        out->length_known = true;
        detail::tcp_fields(t, hlen, total - 20, hlen - 20, out, ends);
        return Decoded::kTcp;
      }
    } else if (type == detail::kEtherIpv6 && (ip[0] >> 4) == 6 && ip[6] == 6 && cap >= 40 + 20) {
      const uint32_t plen = detail::rd16(ip + 4);
      const uint8_t* t = ip + 40;
      const uint32_t hlen = static_cast<uint32_t>(t[12] >> 4) * 4;
      if ((plen >= hlen) & (hlen >= 20) & (cap >= 40 + hlen)) {
        ends->src = Addr::v6(ip + 8);
        ends->dst = Addr::v6(ip + 24);
        ends->v6 = true;
        out->length_known = true;
        detail::tcp_fields(t, hlen, plen, hlen - 20, out, ends);
        return Decoded::kTcp;
      }
    }
  }
  return decode_packet_general(linktype, data, caplen, wirelen, out, ends);
}

inline Decoded decode_packet(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                             TcpPacket* out) {
  return decode_packet(linktype, data, caplen, wirelen, out, out);
}
}  // namespace prtt
