// The one structure shared between the capture thread and the JS thread: a
// queue of finished events (ready, reports, sample batches, errors, end) and
// the latest counters, under one mutex. The capture thread posts and never
// blocks on JavaScript when live: if JavaScript has not drained the previous
// delivery, new events fold into the same delivery (counted), up to
// kMaxLiveReports reports or kMaxLiveRows host-pair rows (about 140 MB);
// beyond that the oldest waiting report is dropped (counted), so a
// JavaScript thread blocked for hours cannot make the queue grow without
// bound. Offline, where waiting loses nothing, the capture thread waits for
// room instead.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "sample.h"

namespace prtt {

struct Event {
  enum class Type { kReady, kReport, kSamples, kError, kEnd };
  Type type;
  Report report;
  std::vector<Sample> samples;
  std::vector<Addr> local;
  std::string code;
  std::string message;
};

class Mailbox {
 public:
  // notify is called (from the capture thread) when the queue goes from
  // drained to non-empty; it must schedule drain() on the JS thread.
  explicit Mailbox(std::function<void()> notify) : notify_(std::move(notify)) {}

  void post(Event&& e, bool live);
  // JS thread: everything queued, in order.
  std::deque<Event> drain();
  // Offline only: waits while the JS side is far behind, until stopping.
  void wait_room(const bool* stopping);
  void wake();

  void publish(const Counters& c);
  Counters counters();

 private:
  static constexpr size_t kMaxReports = 16;        // offline: wait beyond this
  static constexpr size_t kMaxLiveReports = 64;    // live: drop the oldest beyond this,
  static constexpr size_t kMaxLiveRows = 1 << 20;  // or beyond this many host-pair rows
  static constexpr size_t kMaxSamples = 1 << 20;

  std::function<void()> notify_;
  std::mutex mu_;
  std::condition_variable room_;
  std::deque<Event> queue_;
  size_t reports_ = 0;
  size_t rows_ = 0;  // host-pair rows in the queued reports
  size_t samples_ = 0;
  bool notified_ = false;
  Counters counters_;
  uint64_t folded_ = 0;
  uint64_t dropped_ = 0;
  uint64_t reports_dropped_ = 0;
};

}  // namespace prtt
