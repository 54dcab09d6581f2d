#include "engine_thread.h"

#include <pthread.h>

namespace prtt {

void EngineThread::start() {
  thread_ = std::thread([this] { run(); });
  // Named here, not by the thread itself: a new thread starts with its
  // creator's name ("passive-rtt"), and once start() returns (before the
  // monitor reports itself ready) it must not pass for a capture thread.
  pthread_setname_np(thread_.native_handle(), "passive-rtt-eng");
}

void EngineThread::control(Entry::What what, int64_t ts, const PcapCounts& pcap) {
  if (pcap.valid) {
    std::lock_guard<std::mutex> lock(pcap_mu_);
    pcap_ = pcap;
  }
  put_staged();  // packets before the control entry, in order
  Entry& e = ring_.slot();
  e.what = what;
  e.ts = ts;
  ring_.commit();
  ring_.publish();
}

PcapCounts EngineThread::take_pcap() {
  std::lock_guard<std::mutex> lock(pcap_mu_);
  return pcap_;
}

void EngineThread::tick(int64_t now) { control(Entry::kTick, now, PcapCounts{}); }

void EngineThread::publish(const PcapCounts& pcap) { control(Entry::kPublish, 0, pcap); }

void EngineThread::finish(const PcapCounts& pcap) {
  if (!thread_.joinable()) return;
  control(Entry::kFinish, 0, pcap);
  thread_.join();
}

void EngineThread::publish_counters(const PcapCounts& pcap) {
  if (mailbox_ == nullptr) return;
  Counters c = engine_->counters();
  pcap.apply(&c);
  mailbox_->publish(c);
}

void EngineThread::run() {
  for (;;) {
    Entry* e = ring_.front();
    if (e == nullptr) {
      // Nothing queued: what the engine holds in its prefetch batch is
      // worked off before sleeping, so that no packet waits for the next.
      ring_.wait([this] { engine_->flush(); });
      continue;
    }
    switch (e->what) {
      case Entry::kPacket:
        engine_->oriented(e->ts, e->o);
        break;
      case Entry::kTick:
        engine_->tick(e->ts);
        break;
      case Entry::kPublish:
        publish_counters(take_pcap());
        break;
      case Entry::kFinish: {
        ring_.pop();
        engine_->finish();
        publish_counters(take_pcap());
        return;
      }
    }
    ring_.pop();
  }
}

}  // namespace prtt
