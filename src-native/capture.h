// A libpcap handle, live or offline (pcap(3PCAP)). Opened on the JS thread so
// that opening errors reach the caller at once, then handed to the capture
// thread, which is the only user from then on. breakloop() is the one method
// another thread may call (pcap_breakloop(3PCAP) is made for that).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "addr.h"
#include "pcap_api.h"

namespace prtt {

struct CaptureOptions {
  std::string interface;  // live, when non-empty
  std::string file;       // offline otherwise
  std::string filter;
  int snaplen = 512;
  int buffer_size = 0;  // 0: libpcap's default
  int timeout_ms = 200;
};

struct CaptureError {
  std::string code;
  std::string message;
};

class Capture {
 public:
  static std::unique_ptr<Capture> open(const CaptureOptions& options, CaptureError* error);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  int linktype() const { return linktype_; }
  bool live() const { return live_; }
  bool nanoseconds() const { return nano_; }
  // pcap_dispatch(3PCAP): packets processed, 0 at end of file (or a live
  // timeout), -1 on error, -2 after breakloop().
  int dispatch(int count, pcap_handler handler, u_char* user);
  void breakloop();
  // Live only: waits up to timeout_ms for packets, or until wake_fd is
  // readable. libpcap's own read timeout does not fire on an idle link with
  // TPACKET_V3 (the kernel retires only non-empty blocks), so live handles
  // are non-blocking and the capture thread polls (poll(2)).
  void wait(int timeout_ms, int wake_fd);
  // Cumulative pcap_stats(3PCAP), widened past its 32-bit counters.
  void stats(uint64_t* received, uint64_t* dropped, uint64_t* if_dropped);
  std::string last_error();

  // Addresses of an interface (every interface for "any"), getifaddrs(3).
  static std::vector<Addr> interface_addresses(const std::string& name);

 private:
  Capture() = default;
  const PcapApi* api_ = nullptr;
  pcap_t* p_ = nullptr;
  int linktype_ = 0;
  bool live_ = false;
  bool nano_ = false;
  // Offline: the stdio buffer of the file libpcap reads (setvbuf(3)), in
  // whole pages; it must outlive the FILE, which pcap_close() closes in
  // ~Capture.
  struct alignas(4096) FilePage {
    char bytes[4096];
  };
  std::unique_ptr<FilePage[]> file_buffer_;
  uint32_t last_[3] = {0, 0, 0};
  uint64_t total_[3] = {0, 0, 0};
};

}  // namespace prtt
