// libFuzzer target: arbitrary bytes as one captured packet of every link type
// the decoder supports. Built with -fsanitize=fuzzer,address,undefined, so a
// read past the captured bytes (caplen) is an ASan report, not a silent
// misparse.
//
// Input layout: byte 0 picks the link type, byte 1 how the wire length
// relates to caplen, the rest is the packet. The packet is copied into a
// heap block of exactly caplen bytes so that ASan's redzone starts right
// after the last captured byte.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../src-native/decode.h"

namespace {

const int kLinkTypes[] = {
    prtt::kLinkNull, prtt::kLinkEthernet, prtt::kLinkRaw,  prtt::kLinkRawBsd, prtt::kLinkRawFile,
    prtt::kLinkLoop, prtt::kLinkSll,      prtt::kLinkIpv4, prtt::kLinkIpv6,   prtt::kLinkSll2,
};
constexpr size_t kNumLinkTypes = sizeof kLinkTypes / sizeof kLinkTypes[0];

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // An unsupported type now and then: decode_packet must refuse it cleanly.
  const int linktype = data[0] < 250 ? kLinkTypes[data[0] % kNumLinkTypes] : data[0] * 7;
  const uint32_t caplen = static_cast<uint32_t>(size - 2);
  uint32_t wirelen;
  switch (data[1] & 3) {
    case 0:
      wirelen = caplen;
      break;  // nothing cut
    case 1:
      wirelen = caplen + (static_cast<uint32_t>(data[1]) << 6);
      break;  // snaplen cut
    case 2:
      wirelen = 0;
      break;  // inconsistent record header
    default:
      wirelen = 0xffffffffu - (data[1] >> 2);
      break;  // absurd wire length
  }
  // Exactly caplen bytes on the heap (a zero-length packet gets a 1-byte
  // block that decode_packet must not read).
  uint8_t* pkt = static_cast<uint8_t*>(std::malloc(caplen ? caplen : 1));
  if (caplen) std::memcpy(pkt, data + 2, caplen);

  prtt::TcpPacket out;
  std::memset(&out, 0xa5, sizeof out);
  prtt::Decoded d = prtt::decode_packet(linktype, caplen ? pkt : pkt + 1, caplen, wirelen, &out);
  if (d == prtt::Decoded::kTcp) {
    // Every field the engine reads was written (0xa5 poison replaced where
    // it must be) and flags hold TCP flag bits only.
    check((out.flags & ~0x3f) == 0);
    check(out.has_ts == true || out.has_ts == false);
    check(out.length_known == true || out.length_known == false);
    check(out.has_ts || (out.tsval == 0 && out.tsecr == 0));
    check(out.sack_blocks <= (255 - 2) / 8);
    // A second decode of the same bytes gives the same answer (no hidden state).
    prtt::TcpPacket again;
    check(prtt::decode_packet(linktype, caplen ? pkt : pkt + 1, caplen, wirelen, &again) == d);
    check(again.seq == out.seq && again.ack == out.ack && again.payload == out.payload &&
          again.sport == out.sport && again.dport == out.dport && again.src == out.src &&
          again.dst == out.dst);
  }
  // The fast path for common packets (Ethernet, plain IPv4/IPv6, TCP) gives
  // exactly what the general decoder gives.
  prtt::TcpPacket general;
  std::memset(&general, 0x5a, sizeof general);
  check(prtt::decode_packet_general(linktype, caplen ? pkt : pkt + 1, caplen, wirelen, &general) ==
        d);
  if (d == prtt::Decoded::kTcp) {
    check(general.src == out.src && general.dst == out.dst && general.sport == out.sport &&
          general.dport == out.dport && general.seq == out.seq && general.ack == out.ack &&
          general.payload == out.payload && general.window == out.window &&
          general.flags == out.flags && general.length_known == out.length_known &&
          general.v6 == out.v6 && general.has_ts == out.has_ts &&
          general.sack_blocks == out.sack_blocks && general.tsval == out.tsval &&
          general.tsecr == out.tsecr);
  }
  std::free(pkt);
  return 0;
}
