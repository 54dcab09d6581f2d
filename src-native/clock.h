// Clocks in nanoseconds (clock_gettime(2)). Plain functions, any thread.
#pragma once

#include <time.h>

#include <cstdint>

namespace prtt {

// Wall-clock time since the epoch: what live capture timestamps are.
inline int64_t wall_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Monotonic time: for intervals.
inline int64_t mono_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace prtt
