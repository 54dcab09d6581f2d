// The capture thread: owns the Capture handle and the Engine, runs the
// pcap_dispatch loop, and posts results to the Mailbox. With two threads
// (WorkerOptions::threads) it decodes and hands the packets to an
// EngineThread, which then runs the Engine and calls on_report/on_samples.
// Created and joined by the JS thread; request_stop() may be called from any
// thread, stop_reading_for_exit() by the thread that calls exit(3).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "capture.h"
#include "engine.h"
#include "engine_thread.h"
#include "mailbox.h"

namespace prtt {

struct WorkerOptions {
  EngineOptions engine;
  CaptureOptions capture;
  std::vector<Addr> exclude;  // never the local address (offline detection)
  // 1: the capture thread runs the engine itself; 2: the engine gets a
  // thread of its own (EngineThread); 0: 2 when the process may run on two
  // CPUs or more (sched_getaffinity(2)), else 1.
  int threads = 0;
};

class Worker : public EngineSink {
 public:
  Worker(const WorkerOptions& options, std::unique_ptr<Capture> capture, Mailbox* mailbox);
  ~Worker() override;

  void start();
  void request_stop();
  void join();
  // For exit(3), through an atexit handler, on every worker started and not
  // yet joined: libc unbuffers every stream after the atexit handlers, and
  // the capture file's stream has no lock (Capture::open) to keep that out
  // of a read in progress. An offline capture is asked to stop (true); the
  // handler then waits (at most a tenth of a second: a read of a FIFO
  // cannot be interrupted) until none of those is reading().
  bool stop_reading_for_exit();
  bool reading() const { return __atomic_load_n(&reading_, __ATOMIC_SEQ_CST); }
  bool joinable() const { return thread_.joinable(); }

  void on_report(Report&& report) override;
  void on_samples(std::vector<Sample>&& samples) override;

 private:
  void run();
  // Posts an error event and the end: the monitor could not start.
  void fail(const std::string& code, const std::string& message);
  bool detect_local(std::vector<Addr>* local, std::string* why);
  void publish(bool poll_pcap);
  // pcap_dispatch, unless stop was requested (then -2, as after
  // pcap_breakloop), with reading_ set around it.
  int dispatch(Capture* capture, int count);
  // Engine::finish and the last publication.
  void finish(bool poll_pcap);
  // pcap_stats(3PCAP) for a publication (none unless poll_pcap).
  PcapCounts pcap_counts(bool poll_pcap);
  static void on_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes);

  WorkerOptions opt_;
  std::unique_ptr<Capture> capture_;
  Mailbox* mailbox_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<EngineThread> engine_thread_;  // with two threads; ends before engine_
  std::thread thread_;
  bool stopping_ = false;  // atomic builtins: written by any thread, read by the capture thread
  // Atomic builtins: in pcap_dispatch (capture thread), read by the exit
  // handler. Set before stopping_ is tested, both sequentially consistent
  // (dispatch(), request_stop()): either the capture thread sees stopping_,
  // or the exit handler sees it reading.
  bool reading_ = false;
  bool nano_ = false;
  int wake_fd_ = -1;  // eventfd(2): request_stop() wakes the capture thread's poll
  int linktype_ = 0;
  LocalDetector* detector_ = nullptr;
};

}  // namespace prtt
