#include "worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <new>

#include "clock.h"

namespace prtt {
namespace {

// CPUs this process may run on (sched_getaffinity(2)); 1 when unknown.
int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

// The workers started and not yet joined, for the exit handler. Never
// destroyed: exit(3) runs it after nothing else may be relied on.
std::mutex& started_mu() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
std::vector<Worker*>& started() {
  static std::vector<Worker*>* v = new std::vector<Worker*>;
  return *v;
}
void stop_reading_at_exit() {
  std::lock_guard<std::mutex> lock(started_mu());
  std::vector<Worker*> stopped;
  for (Worker* w : started())
    if (w->stop_reading_for_exit()) stopped.push_back(w);
  const int64_t deadline = mono_ns() + 100000000;
  for (Worker* w : stopped) {
    while (w->reading() && mono_ns() < deadline) {
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, nullptr);
    }
  }
}

Event error_event(const std::string& code, const std::string& message) {
  Event e;
  e.type = Event::Type::kError;
  e.code = code;
  e.message = message;
  return e;
}

}  // namespace

Worker::Worker(const WorkerOptions& options, std::unique_ptr<Capture> capture, Mailbox* mailbox)
    : opt_(options), capture_(std::move(capture)), mailbox_(mailbox) {
  nano_ = capture_->nanoseconds();
  linktype_ = capture_->linktype();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Worker::~Worker() {
  request_stop();
  join();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Worker::start() {
  static std::once_flag at_exit;
  std::call_once(at_exit, [] { std::atexit(stop_reading_at_exit); });
  {
    std::lock_guard<std::mutex> lock(started_mu());
    started().push_back(this);
  }
  thread_ = std::thread([this] { run(); });
}

bool Worker::stop_reading_for_exit() {
  if (capture_->live()) return false;  // no stream: nothing of libc's to race with
  request_stop();
  return true;
}

void Worker::request_stop() {
  __atomic_store_n(&stopping_, true, __ATOMIC_SEQ_CST);
  if (capture_) capture_->breakloop();
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof one);
    (void)n;
  }
  mailbox_->wake();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(started_mu());
  auto& v = started();
  v.erase(std::remove(v.begin(), v.end(), this), v.end());
}

void Worker::on_report(Report&& report) {
  if (!capture_->live()) mailbox_->wait_room(&stopping_);
  Event e;
  e.type = Event::Type::kReport;
  e.report = std::move(report);
  mailbox_->post(std::move(e), capture_->live());
}

void Worker::on_samples(std::vector<Sample>&& samples) {
  if (!capture_->live()) mailbox_->wait_room(&stopping_);
  Event e;
  e.type = Event::Type::kSamples;
  e.samples = std::move(samples);
  mailbox_->post(std::move(e), capture_->live());
}

void Worker::on_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
  Worker* w = reinterpret_cast<Worker*>(user);
  int64_t ts = static_cast<int64_t>(h->ts.tv_sec) * 1000000000 +
               static_cast<int64_t>(h->ts.tv_usec) * (w->nano_ ? 1 : 1000);
  if (w->detector_ != nullptr) {
    w->detector_->packet(w->linktype_, bytes, h->caplen, h->len);
  } else if (w->engine_thread_) {
    w->engine_thread_->packet(w->linktype_, ts, bytes, h->caplen, h->len);
  } else {
    w->engine_->packet(w->linktype_, ts, bytes, h->caplen, h->len);
  }
}

bool Worker::detect_local(std::vector<Addr>* local, std::string* why) {
  // A first pass over the file, with the same filter, finds the address
  // that takes part in every TCP flow.
  CaptureError err;
  std::unique_ptr<Capture> scan = Capture::open(opt_.capture, &err);
  if (!scan) {
    *why = err.message;
    return false;
  }
  LocalDetector detector;
  detector_ = &detector;
  int linktype = linktype_;
  linktype_ = scan->linktype();
  while (dispatch(scan.get(), 65536) > 0) {
  }
  detector_ = nullptr;
  linktype_ = linktype;
  // Interrupted by stop(): a partial scan proves nothing either way.
  if (__atomic_load_n(&stopping_, __ATOMIC_ACQUIRE)) return false;
  Addr a;
  if (!detector.result(opt_.exclude, &a, why)) return false;
  local->push_back(a);
  return true;
}

int Worker::dispatch(Capture* capture, int count) {
  __atomic_store_n(&reading_, true, __ATOMIC_SEQ_CST);
  const int rc =
      __atomic_load_n(&stopping_, __ATOMIC_SEQ_CST)
          ? -2
          : capture->dispatch(count, &Worker::on_packet, reinterpret_cast<u_char*>(this));
  __atomic_store_n(&reading_, false, __ATOMIC_RELEASE);
  return rc;
}

PcapCounts Worker::pcap_counts(bool poll_pcap) {
  PcapCounts pc;
  if (poll_pcap) {
    pc.valid = true;
    capture_->stats(&pc.received, &pc.dropped, &pc.if_dropped);
  }
  return pc;
}

void Worker::publish(bool poll_pcap) {
  if (engine_thread_) {
    // The engine's counters belong to its thread: it publishes them, with
    // the pcap counts read here (the handle belongs to this thread).
    engine_thread_->publish(pcap_counts(poll_pcap));
    return;
  }
  Counters c = engine_->counters();
  pcap_counts(poll_pcap).apply(&c);
  mailbox_->publish(c);
}

void Worker::finish(bool poll_pcap) {
  if (engine_thread_) {
    // Returns once the engine thread has ended.
    engine_thread_->finish(pcap_counts(poll_pcap));
    return;
  }
  engine_->finish();
  publish(poll_pcap);
}

void Worker::fail(const std::string& code, const std::string& message) {
  const bool live = capture_->live();
  mailbox_->post(error_event(code, message), live);
  Event end;
  end.type = Event::Type::kEnd;
  mailbox_->post(std::move(end), live);
}

void Worker::run() {
  pthread_setname_np(pthread_self(), "passive-rtt");
  const bool live = capture_->live();
  EngineOptions eo = opt_.engine;
  if (eo.local.empty()) {
    std::string why;
    if (live) {
      eo.local = Capture::interface_addresses(opt_.capture.interface);
      if (eo.local.empty()) why = opt_.capture.interface + " has no IPv4 or IPv6 address";
    } else if (!detect_local(&eo.local, &why)) {
      // falls through with why set
    }
    if (eo.local.empty() && !live && __atomic_load_n(&stopping_, __ATOMIC_ACQUIRE)) {
      // stop() interrupted the detection pass: nothing is known to be wrong
      // with the file, so no LOCAL_ADDRESS_UNKNOWN; the monitor starts (with
      // no local address) and ends at once, as it does when stop() follows
      // start() on a monitor given its local addresses.
      Event ready;
      ready.type = Event::Type::kReady;
      mailbox_->post(std::move(ready), live);
      Event end;
      end.type = Event::Type::kEnd;
      mailbox_->post(std::move(end), live);
      return;
    }
    if (eo.local.empty()) {
      fail("LOCAL_ADDRESS_UNKNOWN", "cannot tell which address is the monitored host: " + why +
                                        ". Name it with --local ADDRESS (local_ips in a "
                                        "configuration, `local` in RttMonitor options)");
      return;
    }
  }
  try {
    engine_.reset(new Engine(eo, this));
  } catch (const std::bad_alloc&) {
    // The flow table reserves address space for maxFlows entries up front.
    fail("OUT_OF_MEMORY", "not enough memory for a flow table of " + std::to_string(eo.max_flows) +
                              " flows: lower maxFlows (--max-flows)");
    return;
  }
  const int threads = opt_.threads > 0 ? opt_.threads : (usable_cpus() >= 2 ? 2 : 1);
  if (threads >= 2) {
    engine_thread_.reset(new EngineThread(engine_.get(), mailbox_));
    engine_thread_->start();
  }
  {
    Event ready;
    ready.type = Event::Type::kReady;
    ready.local = eo.local;
    mailbox_->post(std::move(ready), live);
  }

  std::string error_code, error_message;
  int64_t last_publish = mono_ns();
  for (;;) {
    const int rc = dispatch(capture_.get(), live ? -1 : 65536);
    if (rc == -2) break;  // stop requested (pcap_breakloop)
    if (rc == -1) {
      std::string detail = capture_->last_error();
      if (live) {
        error_code = "CAPTURE_FAILED";
        error_message = "capture on " + opt_.capture.interface + " failed: " + detail +
                        " (was the interface removed or brought down?)";
      } else {
        error_code = "FILE_TRUNCATED";
        error_message = "capture file " + opt_.capture.file + " is damaged: " + detail +
                        "; the reports before the damage were delivered";
      }
      break;
    }
    if (engine_thread_) engine_thread_->flush();
    if (live) {
      if (rc == 0) capture_->wait(opt_.capture.timeout_ms, wake_fd_);
      // Packets stamped up to one read timeout ago may still be in the
      // kernel's ring: keep the report clock that far behind the wall.
      const int64_t now = wall_ns() - static_cast<int64_t>(opt_.capture.timeout_ms) * 1000000;
      if (engine_thread_)
        engine_thread_->tick(now);
      else
        engine_->tick(now);
    }
    int64_t now = mono_ns();
    if (now - last_publish >= 250000000 || (!live && rc == 0)) {
      publish(live);
      last_publish = now;
    }
    if (!live && rc == 0) break;  // end of file
  }
  finish(live);
  if (!error_code.empty()) mailbox_->post(error_event(error_code, error_message), live);
  Event end;
  end.type = Event::Type::kEnd;
  mailbox_->post(std::move(end), live);
}

}  // namespace prtt
