// libpcap, resolved at run time. Distributions name the library differently
// (Debian/Ubuntu ship libpcap.so.0.8, Fedora/RHEL/Alpine libpcap.so.1), so
// one prebuilt addon dlopen()s the known names in order instead of linking
// one. The table is filled once, under a static-initialisation guard, and
// read-only afterwards: any thread may use it.
//
// The types and constants below are libpcap's public ABI as pcap/pcap.h and
// pcap/bpf.h declare it (pcap(3PCAP); unchanged since libpcap 1.5), written
// out here so that building the addon needs no libpcap headers: prebuilds
// are compiled in containers without libpcap-dev, and a build from source
// needs only a compiler. The types live in namespace prtt, so the system's
// pcap.h can be included beside this file (test/packaging.test.ts does, and
// fails if anything here differs from it); the macros are token for token
// libpcap's, so defining them twice is no conflict.
#pragma once

#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <string>
#include <vector>

#define PCAP_ERRBUF_SIZE 256

#define PCAP_ERROR -1
#define PCAP_ERROR_BREAK -2
#define PCAP_ERROR_NOT_ACTIVATED -3
#define PCAP_ERROR_ACTIVATED -4
#define PCAP_ERROR_NO_SUCH_DEVICE -5
#define PCAP_ERROR_RFMON_NOTSUP -6
#define PCAP_ERROR_NOT_RFMON -7
#define PCAP_ERROR_PERM_DENIED -8
#define PCAP_ERROR_IFACE_NOT_UP -9
#define PCAP_ERROR_CANTSET_TSTAMP_TYPE -10
#define PCAP_ERROR_PROMISC_PERM_DENIED -11
#define PCAP_ERROR_TSTAMP_PRECISION_NOTSUP -12

#define PCAP_WARNING 1
#define PCAP_WARNING_PROMISC_NOTSUP 2
#define PCAP_WARNING_TSTAMP_TYPE_NOTSUP 3

#define PCAP_NETMASK_UNKNOWN 0xffffffff

#define PCAP_TSTAMP_PRECISION_MICRO 0
#define PCAP_TSTAMP_PRECISION_NANO 1

namespace prtt {

typedef u_int bpf_u_int32;

struct pcap;  // opaque: only libpcap looks inside
typedef struct pcap pcap_t;

struct pcap_pkthdr {
  struct timeval ts;   // capture time (nanoseconds in tv_usec with PCAP_TSTAMP_PRECISION_NANO)
  bpf_u_int32 caplen;  // bytes captured
  bpf_u_int32 len;     // bytes on the wire
};

struct pcap_stat {
  u_int ps_recv;
  u_int ps_drop;
  u_int ps_ifdrop;
};

struct bpf_insn;  // filled by pcap_compile, read by pcap_setfilter

struct bpf_program {
  u_int bf_len;
  struct bpf_insn* bf_insns;
};

typedef void (*pcap_handler)(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes);

struct PcapApi {
  std::string library;  // the name (or path) that loaded
  pcap_t* (*create)(const char* source, char* errbuf);
  int (*set_snaplen)(pcap_t* p, int snaplen);
  int (*set_promisc)(pcap_t* p, int promisc);
  int (*set_timeout)(pcap_t* p, int to_ms);
  int (*set_buffer_size)(pcap_t* p, int buffer_size);
  int (*set_tstamp_precision)(pcap_t* p, int precision);
  int (*get_tstamp_precision)(pcap_t* p);
  int (*activate)(pcap_t* p);
  // pcap_fopen_offline_with_tstamp_precision: reads a stream the caller
  // opened; pcap_close fcloses it, and on failure the caller still owns it.
  pcap_t* (*fopen_offline)(FILE* fp, u_int precision, char* errbuf);
  int (*datalink)(pcap_t* p);
  int (*compile)(pcap_t* p, struct bpf_program* fp, const char* str, int optimize,
                 bpf_u_int32 netmask);
  int (*setfilter)(pcap_t* p, struct bpf_program* fp);
  void (*freecode)(struct bpf_program* fp);
  int (*dispatch)(pcap_t* p, int cnt, pcap_handler callback, u_char* user);
  void (*breakloop)(pcap_t* p);
  int (*setnonblock)(pcap_t* p, int nonblock, char* errbuf);
  int (*get_selectable_fd)(pcap_t* p);
  int (*stats)(pcap_t* p, struct pcap_stat* ps);
  void (*close)(pcap_t* p);
  char* (*geterr)(pcap_t* p);
  const char* (*statustostr)(int error);
  const char* (*lib_version)();
};

// The names tried, in order: PASSIVE_RTT_LIBPCAP (a colon-separated list of
// names or paths) when set and not empty, else libpcap.so.1, libpcap.so.0.8,
// libpcap.so.
std::vector<std::string> pcap_library_names();

// The loaded table, or nullptr with *error saying what was tried and how to
// install libpcap on this distribution. Resolved once, at the first call.
const PcapApi* pcap_api(std::string* error);

// Loads from an explicit list of names (for tests of the resolver); every
// call dlopen()s again.
bool pcap_api_load(const std::vector<std::string>& names, PcapApi* api, std::string* error);

// The install command for this distribution, from os-release(5), e.g.
// "apt-get install libpcap0.8".
std::string pcap_install_hint();

}  // namespace prtt
