// bench/engine: the engine alone, without Node: pcap_dispatch over a file
// into prtt::Engine, as the capture thread does it, with reports counted and
// dropped. For profiling the per-packet path (valgrind --tool=callgrind,
// perf) and quick A/B timing of engine changes; `npm run bench` measures the
// whole pipeline through RttMonitor instead.
//
// Usage: engine FILE LOCAL[,LOCAL...] [MAXFLOWS]
// Prints one JSON line: packets, samples, reports, wall and CPU seconds.

#include "../src-native/engine.h"

#include <pcap/pcap.h>
#include <sys/resource.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "clock.h"

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
  int linktype;
  bool nano;
};

void on_packet(u_char* user, const struct pcap_pkthdr* h, const u_char* b) {
  Ctx* c = reinterpret_cast<Ctx*>(user);
  int64_t ts = static_cast<int64_t>(h->ts.tv_sec) * 1000000000 +
               static_cast<int64_t>(h->ts.tv_usec) * (c->nano ? 1 : 1000);
  c->engine->packet(c->linktype, ts, b, h->caplen, h->len);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: engine FILE LOCAL[,LOCAL...] [MAXFLOWS]\n");
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
  char err[PCAP_ERRBUF_SIZE];
  double t0 = bench::mono_seconds();
  pcap_t* p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
  if (!p) {
    std::fprintf(stderr, "engine: %s\n", err);
    return 1;
  }
  Sink sink;
  prtt::Engine engine(eo, &sink);
  Ctx ctx{&engine, pcap_datalink(p), true};
  int rc;
  while ((rc = pcap_dispatch(p, 65536, on_packet, reinterpret_cast<u_char*>(&ctx))) > 0) {
  }
  if (rc == -1) {
    std::fprintf(stderr, "engine: %s\n", pcap_geterr(p));
    return 1;
  }
  engine.finish();
  pcap_close(p);
  double wall = bench::mono_seconds() - t0;
  const prtt::Counters& c = engine.counters();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  uint64_t samples = c.samples[0] + c.samples[1] + c.samples[2];
  std::printf("{\"packets\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"evicted\":%" PRIu64
              ",\"reports\":%" PRIu64 ",\"rows\":%" PRIu64
              ",\"wallS\":%.6f,\"userS\":%.6f,\"mpps\":%.3f,\"maxRssKb\":%ld}\n",
              c.packets, samples, c.flows_evicted, sink.reports, sink.rows, wall,
              bench::seconds(ru.ru_utime), static_cast<double>(c.packets) / wall / 1e6,
              ru.ru_maxrss);
  return 0;
}
