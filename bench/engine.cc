// bench/engine: the engine alone, without Node: pcap_dispatch over a file
// into prtt::Engine, as the capture thread does it, with reports counted and
// dropped. For profiling the per-packet path (valgrind --tool=callgrind,
// perf) and quick A/B timing of engine changes; `npm run bench` measures the
// whole pipeline through RttMonitor instead.
//
// Usage: engine FILE LOCAL[,LOCAL...] [MAXFLOWS] [THREADS]
// THREADS 2: the engine on a thread of its own (EngineThread), as the addon
// runs it on a machine with two cores or more; 1 (the default): one thread.
// Prints one JSON line: packets, samples, reports, wall and CPU seconds.

#include "../src-native/engine.h"

#include <pcap/pcap.h>
#include <sys/resource.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "../src-native/engine_thread.h"
#include "clock.h"
#include "savefile.h"

namespace {

struct Sink : prtt::EngineSink {
  uint64_t reports = 0;
  uint64_t rows = 0;
  void on_report(prtt::Report&& r) override {
    reports++;
    rows += r.rows.size();
  }
  void on_samples(std::vector<prtt::Sample>&&) override {}
};

struct Ctx {
  prtt::Engine* engine;
  prtt::EngineThread* thread;
  int linktype;
  bool nano;
};

void on_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* b) {
  Ctx* c = reinterpret_cast<Ctx*>(user);
  int64_t ts = static_cast<int64_t>(h->ts.tv_sec) * 1000000000 +
               static_cast<int64_t>(h->ts.tv_usec) * (c->nano ? 1 : 1000);
  if (c->thread != nullptr)
    c->thread->packet(c->linktype, ts, b, h->caplen, h->len);
  else
    c->engine->packet(c->linktype, ts, b, h->caplen, h->len);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: engine FILE LOCAL[,LOCAL...] [MAXFLOWS] [THREADS]\n");
    return 2;
  }
  prtt::EngineOptions eo;
  std::string locals = argv[2];
  for (size_t i = 0; i <= locals.size();) {
    size_t j = locals.find(',', i);
    if (j == std::string::npos) j = locals.size();
    prtt::Addr a;
    if (!prtt::addr_parse(locals.substr(i, j - i), &a)) {
      std::fprintf(stderr, "engine: not an address: %s\n", locals.substr(i, j - i).c_str());
      return 2;
    }
    eo.local.push_back(a);
    i = j + 1;
  }
  if (argc > 3) eo.max_flows = static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10));
  const bool threaded = argc > 4 && std::strtoul(argv[4], nullptr, 10) >= 2;
  char err[PCAP_ERRBUF_SIZE];
  double t0 = bench::mono_seconds();
  pcap_t* p = bench::open_savefile(argv[1], err);
  if (!p) {
    std::fprintf(stderr, "engine: %s\n", err);
    return 1;
  }
  Sink sink;
  prtt::Engine engine(eo, &sink);
  prtt::EngineThread thread(&engine, nullptr);
  if (threaded) thread.start();
  Ctx ctx{&engine, threaded ? &thread : nullptr, pcap_datalink(p), true};
  int rc;
  while ((rc = pcap_dispatch(p, 65536, on_packet, reinterpret_cast<u_char*>(&ctx))) > 0) {
    if (threaded) thread.flush();
  }
  if (rc == -1) {
    std::fprintf(stderr, "engine: %s\n", pcap_geterr(p));
    return 1;
  }
  if (threaded)
    thread.finish(prtt::PcapCounts{});
  else
    engine.finish();
  pcap_close(p);
  double wall = bench::mono_seconds() - t0;
  struct timespec tcpu;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &tcpu);
  const double reader_cpu =
      static_cast<double>(tcpu.tv_sec) + static_cast<double>(tcpu.tv_nsec) / 1e9;
  const prtt::Counters& c = engine.counters();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t samples = c.samples[0] + c.samples[1] + c.samples[2];
  std::printf(
      "{\"packets\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"evicted\":%" PRIu64
      ",\"reports\":%" PRIu64 ",\"rows\":%" PRIu64
      ",\"wallS\":%.6f,\"userS\":%.6f,\"readerCpuS\":%.6f,\"mpps\":%.3f,\"maxRssKb\":%ld}\n",
      c.packets, samples, c.flows_evicted, sink.reports, sink.rows, wall,
      bench::seconds(ru.ru_utime), reader_cpu, static_cast<double>(c.packets) / wall / 1e6,
      ru.ru_maxrss);
  return 0;
}
