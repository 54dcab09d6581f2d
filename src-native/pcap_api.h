// libpcap, resolved at run time. Distributions name the library differently
// (Debian/Ubuntu ship libpcap.so.0.8, Fedora/RHEL/Alpine libpcap.so.1), so
// one prebuilt addon dlopen()s the known names in order instead of linking
// one. pcap.h is used for types and constants only. The table is filled
// once, under a static-initialisation guard, and read-only afterwards: any
// thread may use it.
#pragma once

#include <pcap/pcap.h>

#include <string>
#include <vector>

namespace prtt {

struct PcapApi {
  std::string library;  // the name that loaded
  decltype(&::pcap_create) create;
  decltype(&::pcap_set_snaplen) set_snaplen;
  decltype(&::pcap_set_promisc) set_promisc;
  decltype(&::pcap_set_timeout) set_timeout;
  decltype(&::pcap_set_buffer_size) set_buffer_size;
  decltype(&::pcap_set_tstamp_precision) set_tstamp_precision;
  decltype(&::pcap_get_tstamp_precision) get_tstamp_precision;
  decltype(&::pcap_activate) activate;
  decltype(&::pcap_open_offline_with_tstamp_precision) open_offline;
  decltype(&::pcap_datalink) datalink;
  decltype(&::pcap_compile) compile;
  decltype(&::pcap_setfilter) setfilter;
  decltype(&::pcap_freecode) freecode;
  decltype(&::pcap_dispatch) dispatch;
  decltype(&::pcap_breakloop) breakloop;
  decltype(&::pcap_setnonblock) setnonblock;
  decltype(&::pcap_get_selectable_fd) get_selectable_fd;
  decltype(&::pcap_stats) stats;
  decltype(&::pcap_close) close;
  decltype(&::pcap_geterr) geterr;
  decltype(&::pcap_statustostr) statustostr;
  decltype(&::pcap_lib_version) lib_version;
};

// The names tried, in order.
const std::vector<std::string>& pcap_library_names();

// The loaded table, or nullptr with *error saying what was tried and how to
// install libpcap on this distribution.
const PcapApi* pcap_api(std::string* error);

// Loads from an explicit list of names (for tests of the resolver).
bool pcap_api_load(const std::vector<std::string>& names, PcapApi* api, std::string* error);

}  // namespace prtt
