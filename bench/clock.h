// Time readings shared by the benchmark's native tools: a monotonic clock
// for wall time, and getrusage(2) timevals as seconds.
#pragma once

#include <sys/resource.h>

#include <ctime>

namespace bench {

inline double mono_seconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline double seconds(const struct timeval& v) {
  return static_cast<double>(v.tv_sec) + static_cast<double>(v.tv_usec) / 1e6;
}

}  // namespace bench
