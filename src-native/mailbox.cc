#include "mailbox.h"

namespace prtt {

void Mailbox::post(Event&& e, bool live) {
  const Event::Type type = e.type;
  bool call = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (type == Event::Type::kSamples) {
      if (live && samples_ + e.samples.size() > kMaxSamples) {
        // JavaScript is far behind: per-sample records are a debug aid, the
        // aggregates already hold these samples.
        dropped_ += e.samples.size();
        return;
      }
      samples_ += e.samples.size();
      if (!queue_.empty() && queue_.back().type == Event::Type::kSamples) {
        auto& dst = queue_.back().samples;
        dst.insert(dst.end(), e.samples.begin(), e.samples.end());
      } else {
        queue_.push_back(std::move(e));
      }
    } else {
      if (type == Event::Type::kReport) {
        // Another report still waits for JavaScript: both go in one delivery.
        if (reports_ > 0) folded_++;
        reports_++;
        rows_ += e.report.rows.size();
        // JavaScript has not run for many intervals: the oldest waiting
        // reports go (e is not queued yet), the newest is always kept.
        while (live && reports_ > 1 && (reports_ > kMaxLiveReports || rows_ > kMaxLiveRows)) {
          for (auto it = queue_.begin(); it != queue_.end(); ++it) {
            if (it->type == Event::Type::kReport) {
              rows_ -= it->report.rows.size();
              queue_.erase(it);
              break;
            }
          }
          reports_--;
          folded_--;  // it will not be delivered with the others after all
          reports_dropped_++;
        }
      }
      queue_.push_back(std::move(e));
    }
    if (!notified_) {
      notified_ = true;
      call = true;
    }
  }
  if (call) notify_();
}

std::deque<Event> Mailbox::drain() {
  std::deque<Event> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.swap(queue_);
    reports_ = 0;
    rows_ = 0;
    samples_ = 0;
    notified_ = false;
  }
  room_.notify_all();
  return out;
}

void Mailbox::wait_room(const bool* stopping) {
  std::unique_lock<std::mutex> lock(mu_);
  room_.wait(lock, [&] {
    return __atomic_load_n(stopping, __ATOMIC_ACQUIRE) ||
           (reports_ < kMaxReports && samples_ < kMaxSamples);
  });
}

void Mailbox::wake() {
  { std::lock_guard<std::mutex> lock(mu_); }
  room_.notify_all();
}

void Mailbox::publish(const Counters& c) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_ = c;
}

Counters Mailbox::counters() {
  std::lock_guard<std::mutex> lock(mu_);
  Counters c = counters_;
  c.batches_folded = folded_;
  c.samples_dropped = dropped_;
  c.reports_dropped = reports_dropped_;
  return c;
}

}  // namespace prtt
