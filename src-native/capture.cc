#include "capture.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio_ext.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "decode.h"

namespace prtt {
namespace {

// The stdio buffer of an offline capture: 256 KiB, a few thousand packets
// per read(2).
constexpr size_t kFileBuffer = 256 * 1024;

std::string permission_message(const std::string& iface) {
  return "capturing on " + iface +
         " needs the CAP_NET_RAW and CAP_NET_ADMIN capabilities. Run as root, or grant them: "
         "to the node binary with `setcap cap_net_raw,cap_net_admin+eip <path to node>`, or in "
         "a systemd unit with AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN";
}

}  // namespace

std::unique_ptr<Capture> Capture::open(const CaptureOptions& o, CaptureError* err) {
  std::string load_error;
  const PcapApi* api = pcap_api(&load_error);
  if (api == nullptr) {
    *err = {"PCAP_MISSING", load_error};
    return nullptr;
  }
  std::unique_ptr<Capture> c(new Capture());
  c->api_ = api;
  char errbuf[PCAP_ERRBUF_SIZE] = {0};

  if (!o.interface.empty()) {
    c->live_ = true;
    if (o.interface != "any" && if_nametoindex(o.interface.c_str()) == 0) {
      *err = {"NO_SUCH_INTERFACE", "no network interface named \"" + o.interface +
                                       "\": list them with `ip link`, or use \"any\""};
      return nullptr;
    }
    c->p_ = api->create(o.interface.c_str(), errbuf);
    if (c->p_ == nullptr) {
      *err = {"CAPTURE_FAILED", "cannot capture on " + o.interface + ": " + errbuf};
      return nullptr;
    }
    api->set_snaplen(c->p_, o.snaplen);
    api->set_promisc(c->p_, 0);
    // The read timeout bounds how long an idle link delays reports and
    // stop requests (pcap_set_timeout(3PCAP)).
    api->set_timeout(c->p_, o.timeout_ms);
    if (o.buffer_size > 0) api->set_buffer_size(c->p_, o.buffer_size);
    api->set_tstamp_precision(c->p_, PCAP_TSTAMP_PRECISION_NANO);
    int rc = api->activate(c->p_);
    if (rc < 0) {
      std::string detail = api->geterr(c->p_);
      if (detail.empty()) detail = api->statustostr(rc);
      if (rc == PCAP_ERROR_NO_SUCH_DEVICE) {
        *err = {"NO_SUCH_INTERFACE", "no network interface named \"" + o.interface + "\" (" +
                                         detail + "): list them with `ip link`"};
      } else if (rc == PCAP_ERROR_PERM_DENIED ||
                 (rc == PCAP_ERROR && detail.find("ermission") != std::string::npos)) {
        *err = {"CAPTURE_PERMISSION", permission_message(o.interface) + " (" + detail + ")"};
      } else if (rc == PCAP_ERROR_IFACE_NOT_UP) {
        *err = {"CAPTURE_FAILED",
                o.interface + " is down: bring it up with `ip link set " + o.interface + " up`"};
      } else {
        *err = {"CAPTURE_FAILED", "cannot capture on " + o.interface + ": " + detail};
      }
      return nullptr;
    }
  } else {
    // Tell an unreadable file from one libpcap cannot parse. The buffer
    // first: nothing may throw while the FILE is held here. "e": the
    // descriptor is not inherited by programs this process runs.
    c->file_buffer_.reset(new FilePage[kFileBuffer / sizeof(FilePage)]);
    FILE* f = std::fopen(o.file.c_str(), "rbe");
    if (f == nullptr) {
      *err = {"FILE_UNREADABLE",
              "cannot read capture file " + o.file + ": " + std::strerror(errno)};
      return nullptr;
    }
    // libpcap reads a savefile with two fread(3) calls per packet. One
    // thread at a time uses the stream (this one, then the capture thread
    // it is handed to), so it needs none of stdio's per-call locking
    // (__fsetlocking(3)); glibc skips that only in a single-threaded
    // process, which a Node process never is (musl ignores the request).
    // The one other user is exit(3), which unbuffers every stream: an
    // atexit handler stops the reading first (Worker::stop_reading_for_exit).
    // A larger buffer than stdio's default (st_blksize, 4 KiB) takes the
    // file in fewer read(2) calls. It starts on a page: the kernel's copy
    // into it (rep movsb) runs at about half speed into a buffer 16 bytes
    // off a boundary, where malloc(3) puts a block this large.
    __fsetlocking(f, FSETLOCKING_BYCALLER);
    std::setvbuf(f, c->file_buffer_[0].bytes, _IOFBF, kFileBuffer);
    c->p_ = api->fopen_offline(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (c->p_ == nullptr) {
      std::fclose(f);
      *err = {"FILE_MALFORMED", o.file + " is not a capture libpcap can read (" +
                                    std::string(errbuf) +
                                    "): give a pcap or pcapng file, e.g. written by tcpdump -w"};
      return nullptr;
    }
  }
  if (c->live_ && api->setnonblock(c->p_, 1, errbuf) != 0) {
    *err = {"CAPTURE_FAILED", "cannot capture on " + o.interface + ": " + errbuf};
    return nullptr;
  }
  c->nano_ = api->get_tstamp_precision(c->p_) == PCAP_TSTAMP_PRECISION_NANO;
  c->linktype_ = api->datalink(c->p_);
  if (!linktype_supported(c->linktype_)) {
    std::string where = c->live_ ? o.interface : o.file;
    *err = {c->live_ ? "CAPTURE_FAILED" : "FILE_MALFORMED",
            where + " has link-layer type " + std::to_string(c->linktype_) +
                ", which passive-rtt does not decode (Ethernet, Linux cooked v1/v2, raw IP and "
                "BSD loopback are supported)"};
    return nullptr;
  }
  if (!o.filter.empty()) {
    struct bpf_program prog;
    if (api->compile(c->p_, &prog, o.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      *err = {"BAD_FILTER", "invalid BPF filter \"" + o.filter + "\": " + api->geterr(c->p_) +
                                " (see pcap-filter(7))"};
      return nullptr;
    }
    int rc = api->setfilter(c->p_, &prog);
    api->freecode(&prog);
    if (rc != 0) {
      *err = {"BAD_FILTER", "cannot apply BPF filter \"" + o.filter + "\": " + api->geterr(c->p_)};
      return nullptr;
    }
  }
  return c;
}

Capture::~Capture() {
  if (p_ != nullptr) api_->close(p_);
}

int Capture::dispatch(int count, pcap_handler handler, u_char* user) {
  return api_->dispatch(p_, count, handler, user);
}

void Capture::breakloop() { api_->breakloop(p_); }

void Capture::wait(int timeout_ms, int wake_fd) {
  struct pollfd fds[2];
  fds[0].fd = api_->get_selectable_fd(p_);
  fds[0].events = POLLIN;
  fds[1].fd = wake_fd;
  fds[1].events = POLLIN;
  poll(fds, wake_fd >= 0 ? 2 : 1, timeout_ms);
}

std::string Capture::last_error() { return api_->geterr(p_); }

void Capture::stats(uint64_t* received, uint64_t* dropped, uint64_t* if_dropped) {
  if (live_) {
    struct pcap_stat st;
    if (api_->stats(p_, &st) == 0) {
      uint32_t now[3] = {st.ps_recv, st.ps_drop, st.ps_ifdrop};
      for (int i = 0; i < 3; ++i) {
        total_[i] += static_cast<uint32_t>(now[i] - last_[i]);  // wraps at 2^32
        last_[i] = now[i];
      }
    }
  }
  *received = total_[0];
  *dropped = total_[1];
  *if_dropped = total_[2];
}

std::vector<Addr> Capture::interface_addresses(const std::string& name) {
  std::vector<Addr> out;
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (struct ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (name != "any" && name != i->ifa_name) continue;
    Addr a;
    if (i->ifa_addr->sa_family == AF_INET) {
      a = Addr::v4(reinterpret_cast<const uint8_t*>(
          &reinterpret_cast<struct sockaddr_in*>(i->ifa_addr)->sin_addr));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a = Addr::v6(reinterpret_cast<struct sockaddr_in6*>(i->ifa_addr)->sin6_addr.s6_addr);
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace prtt
