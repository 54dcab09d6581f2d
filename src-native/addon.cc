// The N-API surface: the Monitor class (one capture thread each) and a few
// libpcap helpers. This is the only file that includes N-API. Events cross
// to JavaScript through one thread-safe function per monitor, called when
// the mailbox goes from drained to non-empty; the JS thread then drains it.

#include <napi.h>

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "capture.h"
#include "mailbox.h"
#include "pcap_api.h"
#include "worker.h"

namespace prtt {
namespace {

Napi::Error coded_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

double ms(double ns) { return ns / 1e6; }
double secs(int64_t ns) { return static_cast<double>(ns) / 1e9; }

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kData:
      return "data";
    case Kind::kHandshake:
      return "handshake";
    case Kind::kTs:
      return "ts";
  }
  return "data";
}

// The numbers of a packed report row, in this order: REPORT_FIELDS in
// native.ts reads them so, and the addon exports the names as reportFields
// for a test to hold the two to the same order.
enum ReportField {
  kSamples,
  kData,
  kHandshake,
  kTsKind,
  kRtt,
  kAvg,
  kJitter,
  kMin,
  kMax,
  kP50,
  kP95,
  kP99,
  kTotal,
  kFlows,
  kReportFields
};
const char* const kReportFieldNames[kReportFields] = {
    "samples", "data",  "handshake", "ts",    "rttMs", "avgMs",        "jitterMs",
    "minMs",   "maxMs", "p50Ms",     "p95Ms", "p99Ms", "totalSamples", "flows"};

// The numbers of a packed sample, in this order (SAMPLE_FIELDS in native.ts;
// exported as sampleFields). kKind is the Kind's value, whose names in that
// order the addon exports as sampleKinds.
enum SampleField { kSampleTs, kSport, kDport, kSampleRtt, kKind, kSampleFields };
const char* const kSampleFieldNames[kSampleFields] = {"ts", "sport", "dport", "rttMs", "kind"};

// One delivery's records packed for JavaScript: `fields` numbers a record
// in one Float64Array, and two addresses a record (local, remote) in one
// array. The local addresses are few (one, usually): each JS string is made
// once. JS thread only.
class Packed {
 public:
  Packed(Napi::Env env, size_t n, size_t fields)
      : env_(env),
        n_(n),
        fields_(fields),
        buf_(Napi::ArrayBuffer::New(env, n * fields * sizeof(double))),
        data_(static_cast<double*>(buf_.Data())),
        addrs_(Napi::Array::New(env, 2 * n)) {}
  // Record i's addresses; returns where its numbers go.
  double* record(size_t i, const Addr& local, const Addr& remote) {
    addrs_.Set(static_cast<uint32_t>(2 * i), local_string(local));
    addrs_.Set(static_cast<uint32_t>(2 * i + 1), addr_to_string(remote));
    return data_ + i * fields_;
  }
  // Sets `addrs` and `values` on o.
  void into(Napi::Object o) {
    o.Set("addrs", addrs_);
    o.Set("values", Napi::Float64Array::New(env_, n_ * fields_, buf_, 0));
  }

 private:
  Napi::String local_string(const Addr& a) {
    for (const auto& l : locals_)
      if (l.first == a) return l.second;
    Napi::String s = Napi::String::New(env_, addr_to_string(a));
    if (locals_.size() < 8) locals_.emplace_back(a, s);
    return s;
  }

  Napi::Env env_;
  size_t n_;
  size_t fields_;
  Napi::ArrayBuffer buf_;
  double* data_;  // buf_'s bytes
  Napi::Array addrs_;
  std::vector<std::pair<Addr, Napi::String>> locals_;
};

// A JS array of these names.
Napi::Array name_array(Napi::Env env, const char* const* names, uint32_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; ++i) a.Set(i, names[i]);
  return a;
}

Napi::Object kinds_object(Napi::Env env, const uint64_t* k) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Number::New(env, static_cast<double>(k[0])));
  o.Set("handshake", Napi::Number::New(env, static_cast<double>(k[1])));
  o.Set("ts", Napi::Number::New(env, static_cast<double>(k[2])));
  return o;
}

class Monitor : public Napi::ObjectWrap<Monitor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Monitor",
        {InstanceMethod<&Monitor::Start>("start"), InstanceMethod<&Monitor::Stop>("stop"),
         InstanceMethod<&Monitor::Join>("join"), InstanceMethod<&Monitor::Stats>("stats")});
  }

  Monitor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Monitor>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      throw coded_error(env, "INVALID_OPTION", "Monitor(options, callback)");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    auto str = [&](const char* k) {
      Napi::Value v = o.Get(k);
      return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
    };
    auto num = [&](const char* k, double d) {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : d;
    };
    auto addrs = [&](const char* k, std::vector<Addr>* out) {
      Napi::Value v = o.Get(k);
      if (!v.IsArray()) return;
      Napi::Array a = v.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); ++i) {
        std::string s = a.Get(i).ToString().Utf8Value();
        Addr addr;
        if (!addr_parse(s, &addr))
          throw coded_error(env, "INVALID_OPTION",
                            std::string(k) + ": \"" + s + "\" is not an IPv4 or IPv6 address");
        out->push_back(addr);
      }
    };
    opt_.capture.interface = str("interface");
    opt_.capture.file = str("file");
    opt_.capture.filter = str("filter");
    opt_.capture.snaplen = static_cast<int>(num("snaplen", 512));
    opt_.capture.buffer_size = static_cast<int>(num("bufferSize", 0));
    opt_.capture.timeout_ms = static_cast<int>(num("readTimeout", 200));
    opt_.threads = static_cast<int>(num("threads", 0));
    addrs("local", &opt_.engine.local);
    addrs("exclude", &opt_.exclude);
    opt_.engine.idle_ttl_ns = static_cast<int64_t>(num("idleTtl", 300) * 1e9);
    opt_.engine.exp_ttl_ns = static_cast<int64_t>(num("expTtl", 60) * 1e9);
    opt_.engine.report_interval_ns = static_cast<int64_t>(num("reportInterval", 30) * 1e9);
    opt_.engine.max_flows = static_cast<uint32_t>(num("maxFlows", 1000000));
    opt_.engine.soften = !o.Get("soften").IsBoolean() || o.Get("soften").As<Napi::Boolean>();
    opt_.engine.samples = o.Get("samples").IsBoolean() && o.Get("samples").As<Napi::Boolean>();
    opt_.engine.sample_window_ns = static_cast<int64_t>(num("sampleDuration", 0) * 1e9);
    opt_.engine.sample_gap_ns = static_cast<int64_t>(num("sampleInterval", 0) * 1e9);
    if (opt_.engine.sample_window_ns <= 0)
      opt_.engine.sample_window_ns = opt_.engine.sample_gap_ns = 0;
    if (opt_.engine.report_interval_ns <= 0) opt_.engine.report_interval_ns = 1000000000;
    if (opt_.engine.max_flows < 1) opt_.engine.max_flows = 1;
    label_ = str("label");
    if (label_.empty()) label_ = opt_.capture.interface.empty() ? "file" : opt_.capture.interface;
    cleanup_ = env.AddCleanupHook(&Monitor::Cleanup, this);
  }

  ~Monitor() override {
    Shutdown();
    if (!cleanup_.IsEmpty()) cleanup_.Remove(Env());
  }

 private:
  // Node frees the hook's own record after running it: forget it, so the
  // finaliser that may follow does not remove it again.
  static void Cleanup(Monitor* self) {
    self->Shutdown();
    self->cleanup_ = Napi::Env::CleanupHook<void (*)(Monitor*), Monitor>();
  }

  // Stop, join, release: the same path from stop+end, the finaliser and the
  // environment teardown (worker_threads, process exit).
  void Shutdown() {
    if (worker_) {
      worker_->request_stop();
      worker_->join();
      worker_.reset();
    }
    if (tsfn_active_) {
      tsfn_.Release();
      tsfn_active_ = false;
    }
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (started_) throw coded_error(env, "INVALID_STATE", "the monitor was already started");
    CaptureError err;
    std::unique_ptr<Capture> cap = Capture::open(opt_.capture, &err);
    if (!cap) throw coded_error(env, err.code, err.message);
    started_ = true;
    tsfn_ = Tsfn::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                      "passive-rtt", 0, 1, this);
    tsfn_active_ = true;
    mailbox_.reset(new Mailbox([this] {
      // napi_queue_full cannot happen (unbounded queue); napi_closing means
      // the environment is going away and nobody will read the events.
      // No data with the call: a call still queued when the environment
      // goes away is dropped by N-API with nothing to free.
      tsfn_.NonBlockingCall();
    }));
    worker_.reset(new Worker(opt_, std::move(cap), mailbox_.get()));
    worker_->start();
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (worker_) worker_->request_stop();
    return info.Env().Undefined();
  }

  // Called by JavaScript after the end event: the thread has finished.
  Napi::Value Join(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Counters c = mailbox_ ? mailbox_->counters() : Counters();
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, uint64_t v) {
      o.Set(k, Napi::Number::New(env, static_cast<double>(v)));
    };
    set("packets", c.packets);
    set("tcp", c.tcp);
    set("notTcp", c.not_tcp);
    set("malformed", c.malformed);
    set("fragments", c.fragments);
    set("notLocal", c.not_local);
    set("flowsActive", c.flows_active);
    set("flowsCreated", c.flows_created);
    set("flowsEvicted", c.flows_evicted);
    set("flowsExpired", c.flows_expired);
    set("hostPairs", c.host_pairs);
    set("samples", c.samples[0] + c.samples[1] + c.samples[2]);
    o.Set("samplesByKind", kinds_object(env, c.samples));
    set("karnRefused", c.karn_refused);
    set("segmentsSkipped", c.segments_skipped);
    set("retransmissions", c.retransmissions);
    set("pcapReceived", c.pcap_received);
    set("pcapDropped", c.pcap_dropped);
    set("pcapIfDropped", c.pcap_if_dropped);
    set("batchesFolded", c.batches_folded);
    set("samplesDropped", c.samples_dropped);
    set("reportsDropped", c.reports_dropped);
    set("outsideWindow", c.outside_window);
    set("reports", c.reports);
    return o;
  }

  // Whether JavaScript may run in env. A worker_thread being terminated
  // still runs its event loop, and so this callback, after JavaScript was
  // stopped: every N-API call that could run JavaScript then fails, and
  // node-addon-api turns the failure into an Error whose own construction
  // fails, which is fatal. napi_set_named_property on a fresh object runs no
  // JavaScript but checks exactly that (NAPI_PREAMBLE), without throwing.
  static bool CanRunJs(Napi::Env env) {
    napi_value probe;
    if (napi_create_object(env, &probe) != napi_ok) return false;
    return napi_set_named_property(env, probe, "probe", probe) == napi_ok;
  }

  // worker.terminate() can stop JavaScript at any N-API call made here, and
  // node-addon-api then throws Napi::Error out of a value constructor or a
  // Set(). Nothing may escape into N-API's C callback (std::terminate): the
  // remaining events go with the environment.
  void Deliver(Napi::Env env) {
    try {
      DeliverEvents(env);
    } catch (...) {
    }
  }

  void DeliverEvents(Napi::Env env) {
    if (!mailbox_) return;
    std::deque<Event> events = mailbox_->drain();
    Napi::HandleScope scope(env);
    if (!CanRunJs(env)) return;  // nobody is left to read the events
    Napi::Function cb = callback_.Value();
    // The call itself through the C API: it fails, without throwing, when
    // the environment is terminated during the callback; the rest of the
    // events are then dropped with it.
    auto call = [&](const char* type, napi_value payload) {
      napi_value argv[2] = {Napi::String::New(env, type), payload};
      napi_value result;
      return napi_call_function(env, env.Undefined(), cb, 2, argv, &result) == napi_ok;
    };
    for (Event& e : events) {
      bool ok = true;
      switch (e.type) {
        case Event::Type::kReady: {
          Napi::Array local = Napi::Array::New(env, e.local.size());
          for (size_t i = 0; i < e.local.size(); ++i)
            local.Set(static_cast<uint32_t>(i), addr_to_string(e.local[i]));
          ok = call("ready", local);
          break;
        }
        case Event::Type::kReport:
          ok = call("report", ReportValue(env, e.report));
          break;
        case Event::Type::kSamples:
          ok = call("samples", SamplesValue(env, e.samples));
          break;
        case Event::Type::kError: {
          Napi::Object err = Napi::Object::New(env);
          err.Set("code", e.code);
          err.Set("message", e.message);
          ok = call("error", err);
          break;
        }
        case Event::Type::kEnd:
          ok = call("end", env.Undefined());
          break;
      }
      // A failed call: the environment is going away, or the callback
      // threw (RttMonitor's never does), which surfaces as an uncaught
      // exception once this returns.
      if (!ok) return;
    }
  }

  // A report crosses to JavaScript packed: the interval's end, the label,
  // the addresses (local and remote, two a row) and one Float64Array of
  // kReportFields numbers a row, NaN where a row has no value (reportRows()
  // in native.ts builds the row objects). Built here property by property
  // through N-API, each row object cost the JS thread 7 to 10 µs (15-20 ms
  // for a report of 2000 host pairs); packing such a report takes about
  // 1.5 ms, and the object literals in JavaScript 5-7 ms, most of that the
  // young-generation collections their allocation brings.
  Napi::Value ReportValue(Napi::Env env, const Report& r) {
    const size_t n = r.rows.size();
    Packed packed(env, n, kReportFields);
    const double none = std::numeric_limits<double>::quiet_NaN();
    for (size_t i = 0; i < n; ++i) {
      const PairRow& p = r.rows[i];
      double* f = packed.record(i, p.local, p.remote);
      f[kSamples] = static_cast<double>(p.samples);
      f[kData] = static_cast<double>(p.kinds[0]);
      f[kHandshake] = static_cast<double>(p.kinds[1]);
      f[kTsKind] = static_cast<double>(p.kinds[2]);
      f[kRtt] = p.has_interval ? ms(p.last) : none;
      f[kAvg] = p.has_avg ? ms(p.avg) : none;
      f[kJitter] = p.has_avg ? ms(p.jitter) : none;
      f[kMin] = p.has_interval ? ms(p.min) : none;
      f[kMax] = p.has_interval ? ms(p.max) : none;
      f[kP50] = p.has_interval ? ms(p.p50) : none;
      f[kP95] = p.has_interval ? ms(p.p95) : none;
      f[kP99] = p.has_interval ? ms(p.p99) : none;
      f[kTotal] = static_cast<double>(p.total);
      f[kFlows] = static_cast<double>(p.flows);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("ts", secs(r.ts_ns));
    o.Set("iface", label_);
    packed.into(o);
    return o;
  }

  // Samples cross packed too, for the same reason: the addresses (local
  // and remote, two a sample) and kSampleFields numbers a sample
  // (sampleRows() in native.ts).
  Napi::Value SamplesValue(Napi::Env env, const std::vector<Sample>& samples) {
    const size_t n = samples.size();
    Packed packed(env, n, kSampleFields);
    for (size_t i = 0; i < n; ++i) {
      const Sample& s = samples[i];
      double* f = packed.record(i, s.local, s.remote);
      f[kSampleTs] = secs(s.ts_ns);
      f[kSport] = static_cast<double>(s.lport);
      f[kDport] = static_cast<double>(s.rport);
      f[kSampleRtt] = static_cast<double>(s.rtt_ns) / 1e6;
      f[kKind] = static_cast<double>(static_cast<int>(s.kind));
    }
    Napi::Object o = Napi::Object::New(env);
    packed.into(o);
    return o;
  }

  WorkerOptions opt_;
  std::string label_;
  Napi::Env::CleanupHook<void (*)(Monitor*), Monitor> cleanup_;
  Napi::FunctionReference callback_;
  // The monitor is the context of its thread-safe function; env is null
  // when a queued call is dropped at teardown.
  static void CallJs(Napi::Env env, Napi::Function, Monitor* self, void*) {
    if (env != nullptr && self != nullptr) self->Deliver(env);
  }
  using Tsfn = Napi::TypedThreadSafeFunction<Monitor, void, &Monitor::CallJs>;
  Tsfn tsfn_;
  bool tsfn_active_ = false;
  bool started_ = false;
  std::unique_ptr<Mailbox> mailbox_;
  std::unique_ptr<Worker> worker_;
};

Napi::Value LibpcapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string error;
  const PcapApi* api = pcap_api(&error);
  if (api == nullptr) throw coded_error(env, "PCAP_MISSING", error);
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", api->library);
  o.Set("version", api->lib_version());
  return o;
}

// Runs the resolver over the given names, for tests: { library } or
// { error }.
Napi::Value ResolveLibpcap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names;
  if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) names.push_back(a.Get(i).ToString().Utf8Value());
  } else {
    names = pcap_library_names();
  }
  PcapApi api;
  std::string error;
  Napi::Object o = Napi::Object::New(env);
  if (pcap_api_load(names, &api, &error)) {
    o.Set("library", api.library);
  } else {
    o.Set("error", error);
  }
  return o;
}

Napi::Value LibraryNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& names = pcap_library_names();
  Napi::Array a = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(static_cast<uint32_t>(i), names[i]);
  return a;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Monitor", Monitor::Define(env));
  exports.Set("libpcapInfo", Napi::Function::New(env, LibpcapInfo));
  exports.Set("resolveLibpcap", Napi::Function::New(env, ResolveLibpcap));
  exports.Set("libpcapNames", Napi::Function::New(env, LibraryNames));
  exports.Set("reportFields", name_array(env, kReportFieldNames, kReportFields));
  exports.Set("sampleFields", name_array(env, kSampleFieldNames, kSampleFields));
  Napi::Array kinds = Napi::Array::New(env, kKinds);
  for (int i = 0; i < kKinds; ++i)
    kinds.Set(static_cast<uint32_t>(i), kind_name(static_cast<Kind>(i)));
  exports.Set("sampleKinds", kinds);
  return exports;
}

}  // namespace
}  // namespace prtt

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return prtt::Init(env, exports);
}
NODE_API_MODULE(passive_rtt, InitModule)
