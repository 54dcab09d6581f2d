#include "pcap_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace prtt {
namespace {

const char kEnvNames[] = "PASSIVE_RTT_LIBPCAP";

// KEY=value from os-release(5): /etc/os-release, else /usr/lib/os-release;
// values may be quoted.
std::string os_release(const std::string& key) {
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    std::ifstream in(path);
    if (!in) continue;
    std::string line;
    while (std::getline(in, line)) {
      if (line.compare(0, key.size() + 1, key + "=") != 0) continue;
      std::string v = line.substr(key.size() + 1);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
        v = v.substr(1, v.size() - 2);
      return v;
    }
    return "";
  }
  return "";
}

bool has_word(const std::string& words, const char* word) {
  std::istringstream in(words);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

// The leading number of a VERSION_ID ("24.04" -> 24), 0 when there is none.
int major_version(const std::string& v) { return std::atoi(v.c_str()); }

template <typename F>
bool bind(void* h, const char* name, F* slot, std::string* missing, int* count) {
  *slot = reinterpret_cast<F>(dlsym(h, name));
  if (*slot == nullptr) {
    if (++*count <= 3) *missing += std::string(missing->empty() ? "" : ", ") + name;
    return false;
  }
  return true;
}

// Binds every function; false with the missing ones listed.
bool bind_all(void* h, PcapApi* api, std::string* missing) {
  bool ok = true;
  int count = 0;
  ok &= bind(h, "pcap_create", &api->create, missing, &count);
  ok &= bind(h, "pcap_set_snaplen", &api->set_snaplen, missing, &count);
  ok &= bind(h, "pcap_set_promisc", &api->set_promisc, missing, &count);
  ok &= bind(h, "pcap_set_timeout", &api->set_timeout, missing, &count);
  ok &= bind(h, "pcap_set_buffer_size", &api->set_buffer_size, missing, &count);
  ok &= bind(h, "pcap_set_tstamp_precision", &api->set_tstamp_precision, missing, &count);
  ok &= bind(h, "pcap_get_tstamp_precision", &api->get_tstamp_precision, missing, &count);
  ok &= bind(h, "pcap_activate", &api->activate, missing, &count);
  ok &= bind(h, "pcap_fopen_offline_with_tstamp_precision", &api->fopen_offline, missing, &count);
  ok &= bind(h, "pcap_datalink", &api->datalink, missing, &count);
  ok &= bind(h, "pcap_compile", &api->compile, missing, &count);
  ok &= bind(h, "pcap_setfilter", &api->setfilter, missing, &count);
  ok &= bind(h, "pcap_freecode", &api->freecode, missing, &count);
  ok &= bind(h, "pcap_dispatch", &api->dispatch, missing, &count);
  ok &= bind(h, "pcap_breakloop", &api->breakloop, missing, &count);
  ok &= bind(h, "pcap_setnonblock", &api->setnonblock, missing, &count);
  ok &= bind(h, "pcap_get_selectable_fd", &api->get_selectable_fd, missing, &count);
  ok &= bind(h, "pcap_stats", &api->stats, missing, &count);
  ok &= bind(h, "pcap_close", &api->close, missing, &count);
  ok &= bind(h, "pcap_geterr", &api->geterr, missing, &count);
  ok &= bind(h, "pcap_statustostr", &api->statustostr, missing, &count);
  ok &= bind(h, "pcap_lib_version", &api->lib_version, missing, &count);
  if (count > 3) *missing += " and " + std::to_string(count - 3) + " more";
  return ok;
}

// Why dlopen() failed, without the name it repeats; empty for a plain
// "not there", which the list of names already says.
std::string open_failure(const std::string& name) {
  const char* e = dlerror();
  std::string why = e != nullptr ? e : "";
  if (why.compare(0, name.size() + 2, name + ": ") == 0) why = why.substr(name.size() + 2);
  if (why.find("No such file or directory") != std::string::npos) return "";
  return why;
}

// PASSIVE_RTT_LIBPCAP split at colons; empty when unset.
std::vector<std::string> env_names() {
  std::vector<std::string> names;
  const char* env = std::getenv(kEnvNames);
  if (env == nullptr) return names;
  std::istringstream in(env);
  std::string name;
  while (std::getline(in, name, ':'))
    if (!name.empty()) names.push_back(name);
  return names;
}

bool load(const std::vector<std::string>& names, bool from_env, PcapApi* api, std::string* error) {
  std::string tried;
  bool found = false;  // a file that is there but cannot be used
  for (const std::string& name : names) {
    if (!tried.empty()) tried += ", ";
    tried += name;
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::string why = open_failure(name);
      if (!why.empty()) {
        tried += " (" + why + ")";
        found = true;
      }
      continue;
    }
    std::string missing;
    if (!bind_all(h, api, &missing)) {
      dlclose(h);
      tried += " (lacks " + missing + ": libpcap 1.5 or newer is needed)";
      found = true;
      continue;
    }
    api->library = name;
    return true;  // the handle stays open for the life of the process
  }
  if (from_env) {
    *error = std::string("libpcap could not be loaded from ") + kEnvNames + " (tried " + tried +
             "). Point " + kEnvNames + " at libpcap 1.5 or newer (a name such as libpcap.so.1, " +
             "or a path), or unset it to use the system's libpcap";
  } else if (found) {
    *error =
        "no usable libpcap (tried " + tried + "). Install or upgrade it: " + pcap_install_hint();
  } else {
    *error = "libpcap is not installed (tried " + tried + "). Install it: " + pcap_install_hint();
  }
  return false;
}

}  // namespace

std::string pcap_install_hint() {
  const std::string id = os_release("ID");
  const std::string like = id + " " + os_release("ID_LIKE");
  const int version = major_version(os_release("VERSION_ID"));
  if (has_word(like, "alpine")) return "apk add libpcap";
  if (has_word(like, "debian") || has_word(like, "ubuntu")) {
    // Debian 13 and Ubuntu 24.04 renamed the package in the 64-bit time_t
    // transition; Debian testing and sid have no VERSION_ID.
    if ((id == "debian" && (version == 0 || version >= 13)) || (id == "ubuntu" && version >= 24))
      return "apt-get install libpcap0.8t64";
    if (id == "debian" || id == "ubuntu") return "apt-get install libpcap0.8";
    return "apt-get install libpcap0.8 (libpcap0.8t64 on releases based on Debian 13 or Ubuntu "
           "24.04 and later)";
  }
  if (has_word(like, "fedora") || has_word(like, "rhel") || has_word(like, "centos")) {
    const bool old = (id == "amzn" && version == 2) ||
                     (id != "fedora" && id != "amzn" && version > 0 && version < 8);
    return old ? "yum install libpcap" : "dnf install libpcap";
  }
  if (has_word(like, "suse") || has_word(like, "opensuse")) return "zypper install libpcap1";
  if (has_word(like, "arch")) return "pacman -S libpcap";
  return "install your distribution's libpcap package (it provides libpcap.so.1 or libpcap.so.0.8)";
}

std::vector<std::string> pcap_library_names() {
  std::vector<std::string> names = env_names();
  if (names.empty()) names = {"libpcap.so.1", "libpcap.so.0.8", "libpcap.so"};
  return names;
}

bool pcap_api_load(const std::vector<std::string>& names, PcapApi* api, std::string* error) {
  return load(names, false, api, error);
}

const PcapApi* pcap_api(std::string* error) {
  static std::string load_error;
  static PcapApi* api = [] {
    PcapApi* a = new PcapApi();
    if (!load(pcap_library_names(), !env_names().empty(), a, &load_error)) {
      delete a;
      return static_cast<PcapApi*>(nullptr);
    }
    return a;
  }();
  if (api == nullptr && error) *error = load_error;
  return api;
}

}  // namespace prtt
