// bench/floor: the libpcap floor. The least any libpcap-based tool must do
// per packet: pcap_dispatch(3PCAP) over the file in batches, parse Ethernet
// (with one VLAN tag), IPv4 or IPv6 to the TCP header, and touch the TCP
// header (ports, flags, sequence and acknowledgment numbers) so that nothing
// is optimised away. The file is read as passive-rtt reads it
// (savefile.h). Prints one JSON line: packets, TCP packets, a checksum of
// what it touched, wall and CPU seconds and peak RSS (getrusage(2)).
//
// Usage: floor FILE

#include <pcap/pcap.h>
#include <sys/resource.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <ctime>

#include "clock.h"
#include "savefile.h"

namespace {

struct Tally {
  uint64_t packets = 0;
  uint64_t tcp = 0;
  uint64_t sum = 0;
};

inline uint16_t rd16(const u_char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const u_char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

void on_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* b) {
  Tally* t = reinterpret_cast<Tally*>(user);
  t->packets++;
  uint32_t n = h->caplen;
  if (n < 14) return;
  uint16_t type = rd16(b + 12);
  uint32_t off = 14;
  if (type == 0x8100 && n >= 18) {  // IEEE 802.1Q
    type = rd16(b + 16);
    off = 18;
  }
  const u_char* tcp;
  if (type == 0x0800) {
    if (n < off + 20) return;
    const u_char* ip = b + off;
    uint32_t ihl = (ip[0] & 0x0f) * 4u;
    if (ip[9] != 6 || (rd16(ip + 6) & 0x1fff) != 0 || n < off + ihl + 20) return;
    tcp = ip + ihl;
  } else if (type == 0x86dd) {
    if (n < off + 40 + 20) return;
    const u_char* ip = b + off;
    if (ip[6] != 6) return;  // extension headers: not in the benchmark's files
    tcp = ip + 40;
  } else {
    return;
  }
  t->tcp++;
  t->sum += rd16(tcp) + rd16(tcp + 2) + tcp[13] + (rd32(tcp + 4) ^ rd32(tcp + 8)) + (tcp[12] >> 4);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: floor FILE\n");
    return 2;
  }
  double t0 = bench::mono_seconds();
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = bench::open_savefile(argv[1], err);
  if (!p) {
    std::fprintf(stderr, "floor: %s\n", err);
    return 1;
  }
  Tally t;
  int rc;
  // The same batch size as the engine's offline loop.
  while ((rc = pcap_dispatch(p, 65536, on_packet, reinterpret_cast<u_char*>(&t))) > 0) {
  }
  if (rc == -1) {
    std::fprintf(stderr, "floor: %s\n", pcap_geterr(p));
    return 1;
  }
  pcap_close(p);
  double wall = bench::mono_seconds() - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("{\"packets\":%" PRIu64 ",\"tcp\":%" PRIu64 ",\"sum\":%" PRIu64
              ",\"wallS\":%.6f,\"userS\":%.6f,\"sysS\":%.6f,\"maxRssKb\":%ld}\n",
              t.packets, t.tcp, t.sum, wall, bench::seconds(ru.ru_utime),
              bench::seconds(ru.ru_stime), ru.ru_maxrss);
  return 0;
}
