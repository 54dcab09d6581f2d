#include "pcap_api.h"

#include <dlfcn.h>

#include <fstream>

namespace prtt {
namespace {

// A hint naming the install command for this distribution (os-release(5)).
std::string install_hint() {
  std::ifstream in("/etc/os-release");
  std::string line, id, like;
  while (std::getline(in, line)) {
    if (line.rfind("ID=", 0) == 0) id = line.substr(3);
    if (line.rfind("ID_LIKE=", 0) == 0) like = line.substr(8);
  }
  std::string all = id + " " + like;
  if (all.find("alpine") != std::string::npos) return "apk add libpcap";
  if (all.find("debian") != std::string::npos || all.find("ubuntu") != std::string::npos)
    return "apt-get install libpcap0.8";
  if (all.find("fedora") != std::string::npos || all.find("rhel") != std::string::npos ||
      all.find("centos") != std::string::npos)
    return "dnf install libpcap";
  if (all.find("suse") != std::string::npos) return "zypper install libpcap1";
  if (all.find("arch") != std::string::npos) return "pacman -S libpcap";
  return "install your distribution's libpcap package";
}

template <typename F>
bool bind(void* h, const char* name, F* slot, std::string* missing) {
  *slot = reinterpret_cast<F>(dlsym(h, name));
  if (*slot == nullptr) {
    if (!missing->empty()) *missing += ", ";
    *missing += name;
    return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& pcap_library_names() {
  static const std::vector<std::string> names = {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"};
  return names;
}

bool pcap_api_load(const std::vector<std::string>& names, PcapApi* api, std::string* error) {
  std::string tried;
  for (const std::string& name : names) {
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      if (!tried.empty()) tried += ", ";
      tried += name;
      continue;
    }
    std::string missing;
    bool ok = true;
    ok &= bind(h, "pcap_create", &api->create, &missing);
    ok &= bind(h, "pcap_set_snaplen", &api->set_snaplen, &missing);
    ok &= bind(h, "pcap_set_promisc", &api->set_promisc, &missing);
    ok &= bind(h, "pcap_set_timeout", &api->set_timeout, &missing);
    ok &= bind(h, "pcap_set_buffer_size", &api->set_buffer_size, &missing);
    ok &= bind(h, "pcap_set_tstamp_precision", &api->set_tstamp_precision, &missing);
    ok &= bind(h, "pcap_get_tstamp_precision", &api->get_tstamp_precision, &missing);
    ok &= bind(h, "pcap_activate", &api->activate, &missing);
    ok &= bind(h, "pcap_open_offline_with_tstamp_precision", &api->open_offline, &missing);
    ok &= bind(h, "pcap_datalink", &api->datalink, &missing);
    ok &= bind(h, "pcap_compile", &api->compile, &missing);
    ok &= bind(h, "pcap_setfilter", &api->setfilter, &missing);
    ok &= bind(h, "pcap_freecode", &api->freecode, &missing);
    ok &= bind(h, "pcap_dispatch", &api->dispatch, &missing);
    ok &= bind(h, "pcap_breakloop", &api->breakloop, &missing);
    ok &= bind(h, "pcap_setnonblock", &api->setnonblock, &missing);
    ok &= bind(h, "pcap_get_selectable_fd", &api->get_selectable_fd, &missing);
    ok &= bind(h, "pcap_stats", &api->stats, &missing);
    ok &= bind(h, "pcap_close", &api->close, &missing);
    ok &= bind(h, "pcap_geterr", &api->geterr, &missing);
    ok &= bind(h, "pcap_statustostr", &api->statustostr, &missing);
    ok &= bind(h, "pcap_lib_version", &api->lib_version, &missing);
    if (!ok) {
      dlclose(h);
      *error = name + " lacks " + missing + " (libpcap 1.5 or newer is needed)";
      return false;
    }
    api->library = name;
    return true;  // the handle stays open for the life of the process
  }
  *error = "libpcap was not found (tried " + tried + "). Install it: " + install_hint();
  return false;
}

const PcapApi* pcap_api(std::string* error) {
  static std::string load_error;
  static PcapApi* api = [] {
    PcapApi* a = new PcapApi();
    if (!pcap_api_load(pcap_library_names(), a, &load_error)) {
      delete a;
      return static_cast<PcapApi*>(nullptr);
    }
    return a;
  }();
  if (api == nullptr && error) *error = load_error;
  return api;
}

}  // namespace prtt
