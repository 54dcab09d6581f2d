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

struct TcpPacket {
  Addr src;
  Addr dst;
  uint16_t sport;
  uint16_t dport;
  uint32_t seq;
  uint32_t ack;
  // Payload bytes as the IP header states them (the segment as sent, not as
  // captured): a snaplen cuts the capture, not the sequence space.
  uint32_t payload;
  uint16_t window;
  uint8_t flags;
  // False for the first fragment of a fragmented datagram: the segment's
  // length is unknown, only its ACK field can be used.
  bool length_known;
  // IPv6 addresses (else IPv4, stored IPv4-mapped).
  bool v6;
  bool has_ts;
  uint8_t sack_blocks;
  uint32_t tsval;
  uint32_t tsecr;
};

Decoded decode_packet(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                      TcpPacket* out);
// The same without the fast path for common packets: the reference the
// fast path is tested against.
Decoded decode_packet_general(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                              TcpPacket* out);

}  // namespace prtt
