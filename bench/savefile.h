// Opens a capture file for the benchmark's native tools the way passive-rtt
// opens one (src-native/capture.cc): a page-aligned 256 KiB stdio buffer and, on glibc,
// no stdio locking (__fsetlocking(3)), so that the floor and the engine differ from
// passive-rtt in their per-packet work only, not in how the file is read.
#pragma once

#include <pcap/pcap.h>
#include <stdio_ext.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace bench {

// A handle with nanosecond timestamps, or nullptr with err filled. The
// buffer is static (each tool opens one file in its life) and starts on a
// page, as passive-rtt's does.
inline pcap_t* open_savefile(const char* path, char* err) {
  alignas(4096) static char buffer[256 * 1024];
  FILE* f = std::fopen(path, "rbe");
  if (f == nullptr) {
    std::snprintf(err, PCAP_ERRBUF_SIZE, "%s: %s", path, std::strerror(errno));
    return nullptr;
  }
  __fsetlocking(f, FSETLOCKING_BYCALLER);
  std::setvbuf(f, buffer, _IOFBF, sizeof buffer);
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) std::fclose(f);
  return p;
}

}  // namespace bench
