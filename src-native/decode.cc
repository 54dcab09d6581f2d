#include "decode.h"

#include <cstring>

namespace prtt {
namespace detail {

// TCP options (RFC 9293 §3.2, RFC 7323 §3 timestamps, RFC 2018 §3 SACK).
// Options cut by the snaplen are parsed as far as they were captured.
void parse_options(const uint8_t* p, uint32_t len, TcpFields* out) {
  uint32_t i = 0;
  while (i < len) {
    uint8_t kind = p[i];
    if (kind == 0) break;  // end of option list
    if (kind == 1) {       // no-operation
      ++i;
      continue;
    }
    if (i + 1 >= len) break;
    uint8_t olen = p[i + 1];
    if (olen < 2 || i + olen > len) break;
    if (kind == 8 && olen == 10) {
      out->has_ts = true;
      out->tsval = rd32(p + i + 2);
      out->tsecr = rd32(p + i + 6);
    } else if (kind == 5 && olen >= 10) {
      out->sack_blocks = static_cast<uint8_t>((olen - 2) / 8);
    }
    i += olen;
  }
}

}  // namespace detail

namespace {

using detail::kEtherIpv4;
using detail::kEtherIpv6;
using detail::rd16;
using detail::rd32;
using detail::tcp_fields;

Decoded decode_tcp(const uint8_t* p, uint32_t cap, uint32_t ip_payload, TcpFields* out,
                   Endpoints* ends) {
  if (cap < 20 || ip_payload < 20) return Decoded::kMalformed;
  uint32_t hlen = static_cast<uint32_t>(p[12] >> 4) * 4;
  if (hlen < 20 || hlen > ip_payload) return Decoded::kMalformed;
  // Options cut by the snaplen are parsed as far as they were captured.
  tcp_fields(p, hlen, ip_payload, (cap < hlen ? cap : hlen) - 20, out, ends);
  return Decoded::kTcp;
}

// IPv4 (RFC 791 §3.1).
Decoded decode_ipv4(const uint8_t* p, uint32_t cap, uint32_t wire, TcpFields* out,
                    Endpoints* ends) {
  if (cap < 20) return Decoded::kMalformed;
  if ((p[0] >> 4) != 4) return Decoded::kMalformed;
  uint32_t ihl = static_cast<uint32_t>(p[0] & 0x0f) * 4;
  if (ihl < 20 || cap < ihl) return Decoded::kMalformed;
  uint32_t total = rd16(p + 2);
  // A segmentation-offload super-packet captured on the sending host may
  // carry total length 0 (beyond 64 kB): fall back to the wire length.
  if (total == 0) total = wire;
  if (total < ihl) return Decoded::kMalformed;
  uint16_t frag = rd16(p + 6);
  if ((frag & 0x1fff) != 0) return Decoded::kFragment;
  if (p[9] != 6) return Decoded::kNotTcp;
  ends->src = Addr::v4(p + 12);
  ends->dst = Addr::v4(p + 16);
  ends->v6 = false;
  out->length_known = (frag & 0x2000) == 0;
  return decode_tcp(p + ihl, cap - ihl, total - ihl, out, ends);
}

// IPv6 and its extension-header chain (RFC 8200 §4).
Decoded decode_ipv6(const uint8_t* p, uint32_t cap, uint32_t wire, TcpFields* out,
                    Endpoints* ends) {
  if (cap < 40) return Decoded::kMalformed;
  if ((p[0] >> 4) != 6) return Decoded::kMalformed;
  uint32_t plen = rd16(p + 4);
  // Jumbograms (RFC 2675) and offload super-packets state payload length 0.
  if (plen == 0) plen = wire > 40 ? wire - 40 : 0;
  uint8_t next = p[6];
  uint32_t off = 40;
  bool length_known = true;
  for (int hops = 0; hops < 16; ++hops) {
    switch (next) {
      case 6: {
        uint32_t used = off - 40;
        if (used > plen) return Decoded::kMalformed;
        ends->src = Addr::v6(p + 8);
        ends->dst = Addr::v6(p + 24);
        ends->v6 = true;
        out->length_known = length_known;
        return decode_tcp(p + off, cap - off, plen - used, out, ends);
      }
      case 0:      // hop-by-hop options
      case 43:     // routing
      case 60:     // destination options
      case 135:    // mobility
      case 139:    // HIP
      case 140: {  // shim6
        if (cap < off + 2) return Decoded::kMalformed;
        uint32_t len = (static_cast<uint32_t>(p[off + 1]) + 1) * 8;
        next = p[off];
        off += len;
        if (cap < off) return Decoded::kMalformed;
        break;
      }
      case 44: {  // fragment header (RFC 8200 §4.5)
        if (cap < off + 8) return Decoded::kMalformed;
        uint16_t fo = rd16(p + off + 2);
        if ((fo & 0xfff8) != 0) return Decoded::kFragment;
        if (fo & 1) length_known = false;
        next = p[off];
        off += 8;
        break;
      }
      case 51: {  // authentication header (RFC 4302 §2.2): length in 4-octet units, minus 2
        if (cap < off + 2) return Decoded::kMalformed;
        uint32_t len = (static_cast<uint32_t>(p[off + 1]) + 2) * 4;
        next = p[off];
        off += len;
        if (cap < off) return Decoded::kMalformed;
        break;
      }
      default:  // 59 no next header, 50 ESP, anything else
        return Decoded::kNotTcp;
    }
  }
  return Decoded::kMalformed;
}

Decoded decode_ip(const uint8_t* p, uint32_t cap, uint32_t wire, TcpFields* out, Endpoints* ends) {
  if (cap < 1) return Decoded::kMalformed;
  switch (p[0] >> 4) {
    case 4:
      return decode_ipv4(p, cap, wire, out, ends);
    case 6:
      return decode_ipv6(p, cap, wire, out, ends);
    default:
      return Decoded::kNotIp;
  }
}

Decoded decode_ethertype(uint16_t type, const uint8_t* p, uint32_t cap, uint32_t wire,
                         TcpFields* out, Endpoints* ends) {
  if (type == kEtherIpv4) return decode_ipv4(p, cap, wire, out, ends);
  if (type == kEtherIpv6) return decode_ipv6(p, cap, wire, out, ends);
  return Decoded::kNotIp;
}

// BSD loopback address families: AF_INET is 2 everywhere; AF_INET6 is 10
// (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
Decoded decode_null(uint32_t family, const uint8_t* p, uint32_t cap, uint32_t wire, TcpFields* out,
                    Endpoints* ends) {
  if (family == 2) return decode_ipv4(p, cap, wire, out, ends);
  if (family == 10 || family == 24 || family == 28 || family == 30)
    return decode_ipv6(p, cap, wire, out, ends);
  return Decoded::kNotIp;
}

}  // namespace

bool linktype_supported(int linktype) {
  switch (linktype) {
    case kLinkNull:
    case kLinkEthernet:
    case kLinkRaw:
    case kLinkRawBsd:
    case kLinkRawFile:
    case kLinkLoop:
    case kLinkSll:
    case kLinkIpv4:
    case kLinkIpv6:
    case kLinkSll2:
      return true;
    default:
      return false;
  }
}

Decoded decode_packet_general(int linktype, const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                              TcpFields* out, Endpoints* ends) {
  if (caplen > wirelen) wirelen = caplen;
  switch (linktype) {
    case kLinkEthernet: {
      if (caplen < 14) return Decoded::kMalformed;
      uint32_t off = 12;
      uint16_t type = rd16(data + off);
      // 802.1Q (0x8100), 802.1ad (0x88a8) and the pre-standard QinQ 0x9100:
      // each tag is 4 bytes before the next EtherType.
      for (int tags = 0; (type == 0x8100 || type == 0x88a8 || type == 0x9100) && tags < 4; ++tags) {
        off += 4;
        if (caplen < off + 2) return Decoded::kMalformed;
        type = rd16(data + off);
      }
      off += 2;
      return decode_ethertype(type, data + off, caplen - off, wirelen - off, out, ends);
    }
    case kLinkSll: {  // 16-byte header, protocol type at offset 14
      if (caplen < 16) return Decoded::kMalformed;
      return decode_ethertype(rd16(data + 14), data + 16, caplen - 16, wirelen - 16, out, ends);
    }
    case kLinkSll2: {  // 20-byte header, protocol type at offset 0
      if (caplen < 20) return Decoded::kMalformed;
      return decode_ethertype(rd16(data), data + 20, caplen - 20, wirelen - 20, out, ends);
    }
    case kLinkRaw:
    case kLinkRawBsd:
    case kLinkRawFile:
      return decode_ip(data, caplen, wirelen, out, ends);
    case kLinkIpv4:
      return decode_ipv4(data, caplen, wirelen, out, ends);
    case kLinkIpv6:
      return decode_ipv6(data, caplen, wirelen, out, ends);
    case kLinkNull: {
      if (caplen < 4) return Decoded::kMalformed;
      uint32_t fam;
      std::memcpy(&fam, data, 4);
      // Host byte order of the capturing machine, which may not be ours.
      if (fam > 0xffff) fam = __builtin_bswap32(fam);
      return decode_null(fam, data + 4, caplen - 4, wirelen - 4, out, ends);
    }
    case kLinkLoop: {
      if (caplen < 4) return Decoded::kMalformed;
      return decode_null(rd32(data), data + 4, caplen - 4, wirelen - 4, out, ends);
    }
    default:
      return Decoded::kNotIp;
  }
}

}  // namespace prtt
