/**
 * Proven live (issue 4): real kernel TCP between two network namespaces,
 * through a delay line whose one-way delay the test sets, captured live by
 * RttMonitor inside the monitored namespace. Expected values come from the
 * delay the test injected, from the forwarder's own record of every frame
 * and from an independent capture of the monitored interface (expect.ts,
 * capture.ts), never from the monitor.
 *
 * Needs root, `ip netns`, /dev/net/tun, gcc and tcpdump; skips with the
 * reason otherwise. See test/live/README.md for the bed.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { HostPairReport, RttSample } from '../../src';
import { Tcpdump, type CapFrame } from './capture';
import { CAPTURE_PRECISION_MS, CLOCK_SLACK_MS, matchSamples, seqEnd, type Matched, type MatchResult } from './expect';
import { Bed, buildForwarder, liveSkipReason, type BedOptions, type FwdLog, type FwdRecord } from './netns';
import {
  median,
  MonitorProc,
  printTable,
  quantile,
  sortedOf,
  TABLE,
  runTraffic,
  type MonitorResult,
  type Program,
  type SsConn,
  type TrafficRun,
} from './scenario';

const PORT = { upload: 5001, download: 5002, rrHostClient: 5003, rrHostServer: 5004 } as const;
// Request/response: four keep-alive connections side by side, 30 exchanges
// each, both ways. 120 samples put p95 at the 6th largest, not at the luck of
// one or two exchanges, and side by side they take 30 round trips (0.6 to
// 1.5 s here), well inside the bulk transfers' time.
const RR_CLIENT = { connections: 4, requests: 30, requestBytes: 200, responseBytes: 2000, parallel: true };
const RR_SERVER = { connections: 4, requests: 30, requestBytes: 300, responseBytes: 3000, parallel: true };
/** Connections the host opens: upload, download and its request/response client's. */
const HOST_OPENS = 2 + RR_CLIENT.connections;

/**
 * The host stack's own time between the capture point and TCP, both ways,
 * which no capture sees: the kernel's RTT figures may exceed the monitor's by
 * it. It is microseconds here (the kernel's minrtt against the monitor's least
 * sample shows it in every run's output); a busy machine can hold an ACK in a
 * socket's backlog while the application has the socket locked (and is
 * preempted), for a scheduler slice or so.
 */
const HOST_STACK_MS = 1;

interface Scenario {
  title: string;
  bed: BedOptions;
  v6?: boolean;
  /** Also capture on `any` beside the TAP. */
  any?: boolean;
  /** Check the sizes of the frames the capture saw (MTU-sized on a TAP, super-segments on the veth). */
  frameSizes?: boolean;
  /**
   * Loss or jitter: the spread of the true RTT is not a constant, so
   * percentiles are compared with the truth of each sample (the forwarder's
   * record of each frame's hold, plus the measured hop to the capture point)
   * rather than with the nominal RTT.
   */
  fromLog?: boolean;
}

const SCENARIOS: Scenario[] = [
  { title: 'IPv4, 10 ms each way (RTT 20 ms), on the TAP and on any', bed: { delayMs: 10 }, any: true, frameSizes: true },
  { title: 'IPv4, 25 ms each way (RTT 50 ms)', bed: { delayMs: 25 } },
  { title: 'IPv6, 15 ms each way (RTT 30 ms)', bed: { delayMs: 15 }, v6: true },
  { title: 'TCP timestamps off, 10 ms each way (RTT 20 ms)', bed: { delayMs: 10, timestamps: false } },
  { title: '1 % loss each way, 10 ms each way (RTT 20 ms)', bed: { delayMs: 10, lossPct: 1, seed: 7 }, fromLog: true },
  { title: 'jitter ±4 ms per frame (order kept), 12 ms each way', bed: { delayMs: 12, jitterMs: 4, seed: 3 }, fromLog: true },
  { title: 'veth with TSO/GSO on, then 10 ms each way (RTT 20 ms)', bed: { delayMs: 10, vethHop: true }, frameSizes: true },
];

/** The bound of issue 4 on the median: 0.5 ms or 1 %, whichever is larger. */
function medianTolerance(rttMs: number): number {
  return Math.max(0.5, 0.01 * rttMs);
}

/**
 * Bulk and request/response run in separate processes: a request/response
 * server sharing its event loop with a bulk sender would answer late, and
 * its think time is part of every sample of that exchange.
 */
function programs(bed: Bed, v6: boolean, bulkMs: number): Program[] {
  const H = v6 ? bed.hostV6 : bed.hostV4;
  const P = v6 ? bed.peerV6 : bed.peerV4;
  return [
    {
      ns: bed.hostNs,
      roles: [
        { kind: 'upload', host: P, port: PORT.upload, durationMs: bulkMs },
        { kind: 'download', host: P, port: PORT.download },
      ],
    },
    {
      ns: bed.peerNs,
      roles: [
        { kind: 'sink', host: P, port: PORT.upload },
        { kind: 'source', host: P, port: PORT.download, durationMs: bulkMs },
      ],
    },
    {
      ns: bed.hostNs,
      nice: -10,
      roles: [
        { kind: 'rrClient', host: P, port: PORT.rrHostClient, ...RR_CLIENT },
        { kind: 'rrServer', host: H, port: PORT.rrHostServer, requestBytes: RR_SERVER.requestBytes, responseBytes: RR_SERVER.responseBytes },
      ],
    },
    {
      ns: bed.peerNs,
      nice: -10,
      roles: [
        { kind: 'rrServer', host: P, port: PORT.rrHostClient, requestBytes: RR_CLIENT.requestBytes, responseBytes: RR_CLIENT.responseBytes },
        { kind: 'rrClient', host: H, port: PORT.rrHostServer, ...RR_SERVER },
      ],
    },
  ];
}

type Group = 'upload' | 'download' | 'rrHostClient' | 'rrHostServer';

function groupOf(s: RttSample): Group | null {
  if (s.dport === PORT.upload) return 'upload';
  if (s.dport === PORT.download) return 'download';
  if (s.dport === PORT.rrHostClient) return 'rrHostClient';
  if (s.sport === PORT.rrHostServer) return 'rrHostServer';
  return null;
}

interface Run {
  sc: Scenario;
  bed: Bed;
  rttMs: number;
  /** Smallest RTT the delay line can produce (both holds at their minimum). */
  floorMs: number;
  traffic: TrafficRun;
  tap: MonitorResult;
  any: MonitorResult | null;
  log: FwdLog;
  match: MatchResult;
  /** Every TCP frame on the monitored interface, from the independent capture (capture.ts). */
  capture: CapFrame[];
  captureDropped: number;
  local: string;
  remote: string;
}

async function runScenario(sc: Scenario): Promise<Run> {
  const bed = await Bed.create({ durationS: 40, ...sc.bed });
  try {
    const monitors = [{ name: 'tap', options: { interface: bed.hostIf, samples: true, reportInterval: 1 } }];
    if (sc.any) monitors.push({ name: 'any', options: { interface: 'any', samples: true, reportInterval: 1 } });
    const mon = await MonitorProc.start(bed, bed.hostNs, monitors);
    let dump: Tcpdump | null = null;
    try {
      for (const m of monitors) {
        const e = mon.startError(m.name);
        if (e) throw new Error(`monitor ${m.name} did not start: ${e.code}: ${e.message}`);
      }
      dump = await Tcpdump.start(bed, bed.hostNs, bed.hostIf, path.join(bed.tmpDir, 'capture.pcap'));
      const progs = programs(bed, sc.v6 ?? false, 2500);
      const traffic = await runTraffic(bed, progs, { maxMs: 25000, ssAtMs: [500, 1200, 2200] });
      // Let the last ACKs and FINs cross the delay line before stopping.
      await new Promise((resolve) => setTimeout(resolve, 4 * sc.bed.delayMs + 300));
      await mon.stop();
      const { frames: capture, dropped } = await dump.stop();
      dump = null;
      const log = await bed.stopForwarder();
      const tap = mon.result('tap');
      const jitter = sc.bed.jitterMs ?? 0;
      const local = sc.v6 ? bed.hostV6 : bed.hostV4;
      return {
        sc,
        bed,
        rttMs: 2 * sc.bed.delayMs,
        floorMs: 2 * Math.max(0, sc.bed.delayMs - jitter),
        traffic,
        tap,
        any: sc.any ? mon.result('any') : null,
        log,
        match: matchSamples(log, tap.samples, capture, [bed.hostV4, bed.hostV6]),
        capture,
        captureDropped: dropped,
        local,
        remote: sc.v6 ? bed.peerV6 : bed.peerV4,
      };
    } finally {
      dump?.kill();
      mon.kill();
    }
  } catch (err) {
    await bed.destroy();
    throw err;
  }
}

function stats(xs: readonly number[]): { n: number; min: number; p50: number; p95: number; max: number } {
  const s = sortedOf(xs);
  return { n: s.length, min: s[0], p50: quantile(s, 0.5), p95: quantile(s, 0.95), max: s[s.length - 1] };
}

function show(label: string, xs: readonly number[]): string {
  if (xs.length === 0) return `${label}: no samples`;
  const s = stats(xs);
  return `${label}: n=${s.n} min=${s.min.toFixed(3)} p50=${s.p50.toFixed(3)} p95=${s.p95.toFixed(3)} max=${s.max.toFixed(3)} ms`;
}

/**
 * The central figures of a set of samples against the truth. Issue 4's
 * bounds: the median within 0.5 ms (or 1 %) of the injected RTT, p95 within
 * 2 ms; with loss and jitter the expected distribution is the truth's own
 * (the forwarder's record of each frame, plus the measured hop to the
 * capture point: expect.ts), since the true RTT is then no constant.
 */
function checkCentral(run: Run, label: string, matched: readonly Matched[], samples: readonly RttSample[]): void {
  const rtts = samples.map((s) => s.rttMs);
  const got = stats(rtts);
  const tol = medianTolerance(run.rttMs);
  const exp = stats(matched.map((m) => m.expectedMs));
  console.log(
    `      ${label} ${show('monitor', rtts)}; ${show(
      'truth',
      matched.map((m) => m.expectedMs),
    )}; ${show(
      'record',
      matched.map((m) => m.recordMs),
    )}`,
  );
  const slow = matched.filter((m) => m.sample.rttMs > run.rttMs + 2).slice(0, 5);
  for (const m of slow) {
    const hop = m.hopMs === null ? 'hop not captured' : `hops ${m.hopMs.toFixed(3)}`;
    console.log(
      `        slow: ${m.sample.rttMs.toFixed(3)} ms = held ${m.holdOutMs.toFixed(3)} + peer ${m.peerMs.toFixed(3)} + held ${m.holdBackMs.toFixed(3)} + ${hop} (truth ${m.expectedMs.toFixed(3)})`,
    );
  }
  if (run.sc.fromLog) {
    assert.ok(Math.abs(got.p50 - exp.p50) <= tol, `${label}: median ${got.p50.toFixed(3)} ms, the truth's ${exp.p50.toFixed(3)} ms (±${tol})`);
    assert.ok(Math.abs(got.p95 - exp.p95) <= 2, `${label}: p95 ${got.p95.toFixed(3)} ms, the truth's ${exp.p95.toFixed(3)} ms (±2)`);
    return;
  }
  // The injected RTT is the truth as long as the bed kept it: when the
  // frames' own times show that the bed moved the median (a peer application
  // answering late on a busy machine: its turnaround is part of every
  // request/response sample), the reference is the truth's median instead.
  const ref50 = Math.abs(exp.p50 - run.rttMs) <= tol ? run.rttMs : exp.p50;
  if (ref50 !== run.rttMs) console.log(`      note: the truth's own median is ${exp.p50.toFixed(3)} ms: the bed was slowed by the machine`);
  assert.ok(
    Math.abs(got.p50 - ref50) <= tol,
    `${label}: median ${got.p50.toFixed(3)} ms, injected RTT ${run.rttMs} ms, truth's median ${exp.p50.toFixed(3)} ms (±${tol})`,
  );
  // p95: 2 ms over the injected RTT, unless the truth itself spread further
  // (the peer answering late, a release held up, the veth hop delayed); then
  // the truth's p95, to the precision of the per-sample comparison.
  const bound = Math.max(run.rttMs + 2, exp.p95 + CAPTURE_PRECISION_MS);
  if (bound > run.rttMs + 2) console.log(`      note: the truth's own p95 is ${exp.p95.toFixed(3)} ms: the bed was slowed by the machine`);
  assert.ok(got.p95 <= bound, `${label}: p95 ${got.p95.toFixed(3)} ms, injected RTT ${run.rttMs} ms (+2), truth's p95 ${exp.p95.toFixed(3)} ms`);
  assert.ok(got.p95 >= run.rttMs - CLOCK_SLACK_MS, `${label}: p95 ${got.p95.toFixed(3)} ms below the injected RTT`);
}

/** RFC 6298 section 2 smoothing: SRTT <- 7/8 SRTT + 1/8 R, the first sample taken as is. */
function srttOf(xs: readonly number[]): number | null {
  let srtt: number | null = null;
  for (const r of xs) srtt = srtt === null ? r : 0.875 * srtt + 0.125 * r;
  return srtt;
}

function groupOfConn(c: SsConn): Group | null {
  if (c.pport === PORT.upload) return 'upload';
  if (c.pport === PORT.download) return 'download';
  if (c.pport === PORT.rrHostClient) return 'rrHostClient';
  if (c.lport === PORT.rrHostServer) return 'rrHostServer';
  return null;
}

interface KernelRow {
  port: string;
  kernelMin: number | null;
  kernelSrtt: number;
  /** The monitor's smallest sample of the connection captured before ss started, and before it returned. */
  minBefore: number | null;
  minAfter: number;
  /** The modelled kernel SRTT (kernelModel) over ss's run: its value at the start, and the range while ss ran. */
  modelLo: number;
  modelHi: number;
  /** The longest modelled kernel sample of the connection until ss returned. */
  modelMax: number;
  monitorMedian: number;
  /** The record shows the host retransmitting on this connection. */
  retransmitted: boolean;
}

/**
 * The kernel's own RTT samples of a connection, modelled from the capture:
 * one per ACK that acknowledges new data, like the monitor's, but timed from
 * the oldest newly acknowledged segment (net/ipv4/tcp_input.c,
 * tcp_clean_rtx_queue(): seq_rtt_us from first_ackt, which feeds
 * tcp_rtt_estimator() and so srtt), where the monitor times the newest. So a
 * kernel sample is the monitor's plus the time between the two segments'
 * transmissions, which the capture shows: the segment that carried the byte
 * at the ACK point before this ACK (snd_una) against the one the sample timed.
 */
function kernelModel(run: Run, lport: number, pport: number, handshakeOnly: boolean): { ts: number; ms: number }[] {
  const mine = run.match.matched.filter((m) => m.sample.sport === lport && m.sample.dport === pport && (!handshakeOnly || m.sample.kind === 'handshake'));
  const inFrames = run.capture.filter((f) => f.sport === pport && f.dport === lport).sort((a, b) => a.tsMs - b.tsMs);
  const outFrames = run.capture.filter((f) => f.sport === lport && f.dport === pport && (f.plen > 0 || (f.flags & 0x03) !== 0)).sort((a, b) => a.tsMs - b.tsMs);
  // The highest ACK number before each incoming frame: the host's snd_una then.
  const una = new Map<CapFrame, number | null>();
  let high: number | null = null;
  for (const f of inFrames) {
    una.set(f, high);
    if (f.flags & 0x10 && (high === null || ((f.ack - high) | 0) > 0)) high = f.ack;
  }
  return mine.map((m) => {
    const close = m.capClosing;
    const seg = m.capSeg;
    if (!close || !seg || m.sample.kind !== 'data') return { ts: m.sample.ts, ms: m.sample.rttMs };
    const u = una.get(close) ?? null;
    let oldest = seg;
    if (u !== null) {
      for (const o of outFrames) {
        if (o.tsMs > seg.tsMs) break;
        const end = (o.seq + o.plen + (o.flags & 0x03 ? 1 : 0)) >>> 0;
        if (((o.seq - u) | 0) <= 0 && ((end - u) | 0) > 0) oldest = o; // the latest transmission carrying byte snd_una
      }
    }
    return { ts: m.sample.ts, ms: m.sample.rttMs + (seg.tsMs - oldest.tsMs) };
  });
}

function kernelRows(run: Run): KernelRow[] {
  const out: KernelRow[] = [];
  const seen = new Set<string>();
  // Host frames sent more than once, per connection (the forwarder's record).
  const sentTwice = new Set<string>();
  const firstSeen = new Set<string>();
  for (const r of run.log.records) {
    if (r.dir !== 'ab' || r.proto !== 6 || r.plen === 0) continue;
    const k = `${r.sport}/${r.dport}/${r.seq}`;
    if (firstSeen.has(k)) sentTwice.add(`${r.sport}/${r.dport}`);
    firstSeen.add(k);
  }
  for (const c of [...run.traffic.ss].reverse()) {
    const group = groupOfConn(c);
    if (!group) continue;
    const key = `${c.lport}/${c.pport}`;
    if (seen.has(key)) continue; // the latest snapshot of each connection
    seen.add(key);
    // On a download the host sends nothing but its SYN (and later its FIN):
    // the kernel's only RTT sample of it is the handshake, so compare with that.
    const mine = run.tap.samples.filter((s) => s.sport === c.lport && s.dport === c.pport && (group !== 'download' || s.kind === 'handshake'));
    const before = mine.filter((s) => s.ts * 1e3 < (c.before ?? Infinity)).map((s) => s.rttMs);
    const after = mine.filter((s) => s.ts * 1e3 <= (c.after ?? Infinity)).map((s) => s.rttMs);
    if (after.length === 0) continue;
    // The modelled kernel SRTT as of ss's start, and every value it took while ss ran.
    let srtt: number | null = null;
    let lo = Infinity;
    let hi = -Infinity;
    let max = -Infinity;
    for (const k of kernelModel(run, c.lport, c.pport, group === 'download')) {
      if (k.ts * 1e3 > (c.after ?? Infinity)) break;
      max = Math.max(max, k.ms);
      srtt = srtt === null ? k.ms : 0.875 * srtt + 0.125 * k.ms;
      if (k.ts * 1e3 < (c.before ?? Infinity)) lo = hi = srtt;
      else {
        lo = Math.min(lo, srtt);
        hi = Math.max(hi, srtt);
      }
    }
    out.push({
      port: `${group} ${key}`,
      kernelMin: c.minRttMs,
      kernelSrtt: c.rttMs,
      minBefore: before.length ? Math.min(...before) : null,
      minAfter: Math.min(...after),
      modelLo: lo,
      modelHi: hi,
      modelMax: max,
      monitorMedian: median(after),
      retransmitted: sentTwice.has(key),
    });
  }
  return out;
}

/**
 * Handshakes the record says can be timed (DESIGN.md: a retransmitted SYN or
 * SYN/ACK gives no sample). Client role: the host sent its SYN once, and the
 * peer's first SYN/ACK reached it (a lost one makes the host repeat its SYN;
 * a SYN/ACK the peer repeats later, because the host's ACK was lost, comes
 * after the sample). Server role: the host sent its SYN/ACK once.
 */
function timeableHandshakes(log: FwdLog): { client: Set<string>; server: Set<string> } {
  const count = new Map<string, { syn: number; synAckOut: number; firstSynAckIn: FwdRecord | null }>();
  const of = (k: string): { syn: number; synAckOut: number; firstSynAckIn: FwdRecord | null } => {
    let c = count.get(k);
    if (!c) count.set(k, (c = { syn: 0, synAckOut: 0, firstSynAckIn: null }));
    return c;
  };
  const isSyn = (r: FwdRecord): boolean => (r.flags & 0x12) === 0x02;
  const isSynAck = (r: FwdRecord): boolean => (r.flags & 0x12) === 0x12;
  // Every frame either side sent is in the record (arrival order), whatever became of it.
  for (const r of log.records) {
    if (r.proto !== 6) continue;
    if (r.dir === 'ab') {
      const k = `${r.l3}/${r.sport}/${r.dport}`;
      if (isSyn(r)) of(k).syn++;
      if (isSynAck(r)) of(k).synAckOut++;
    } else if (isSynAck(r)) {
      const c = of(`${r.l3}/${r.dport}/${r.sport}`);
      c.firstSynAckIn ??= r;
    }
  }
  const client = new Set<string>();
  const server = new Set<string>();
  for (const [k, c] of count) {
    if (c.syn === 1 && c.firstSynAckIn?.fate === 'F') client.add(k);
    if (c.synAckOut === 1) server.add(k);
  }
  return { client, server };
}

interface Turn {
  key: string;
  /** Sequence-space ends of its segments. */
  ends: Set<number>;
  /** The forwarder's arrival time of its first segment (CLOCK_MONOTONIC ns). */
  arrival: number;
}

/**
 * The host's request/response turns the record shows sent once: per
 * connection, each run of the host's data frames between two of the peer's
 * (a request, or a response of a few segments), when none of its segments
 * was ever sent again, nor any of the turn before it. Each must give a
 * sample that times one of its segments (DESIGN.md: the ACK that covers a
 * turn times its newest segment; Karn's rule and its relatives refuse only
 * what retransmissions make ambiguous). Without loss a busy machine can
 * still make the host repeat a segment (a tail loss probe when an answer is
 * late beyond about two RTTs, RFC 8985 section 7), so the turns come from
 * the record, not from the number of exchanges.
 */
function turnsSentOnce(log: FwdLog, host: (r: FwdRecord) => boolean): Turn[] {
  const flows = new Map<string, FwdRecord[]>();
  const sends = new Map<string, number>();
  for (const r of log.records) {
    if (r.proto !== 6 || r.plen === 0) continue;
    const out = r.dir === 'ab';
    if (out && !host(r)) continue;
    const key = out ? `${r.l3}/${r.sport}/${r.dport}` : `${r.l3}/${r.dport}/${r.sport}`;
    const list = flows.get(key);
    if (list) list.push(r);
    else if (out) flows.set(key, [r]);
    if (out) sends.set(`${key}/${r.seq}`, (sends.get(`${key}/${r.seq}`) ?? 0) + 1);
  }
  // A repeated segment also draws a duplicate ACK from the peer, and the
  // ACK that moves forward after duplicate ACKs is no sample either
  // (DESIGN.md): the turn after an unclean one does not count.
  const turns: Turn[] = [];
  for (const [key, frames] of flows) {
    let cur: FwdRecord[] = [];
    let prevClean = true;
    const close = (): void => {
      if (cur.length === 0) return;
      const clean = cur.every((r) => (sends.get(`${key}/${r.seq}`) ?? 0) === 1);
      if (clean && prevClean) turns.push({ key, ends: new Set(cur.map(seqEnd)), arrival: cur[0].arrival });
      prevClean = clean;
      cur = [];
    };
    for (const r of frames) {
      if (r.dir === 'ba') close();
      else cur.push(r);
    }
    close();
  }
  return turns;
}

/** Each turn the record shows sent once must have a sample timing one of its segments. */
function checkTurns(run: Run, label: string, host: (r: FwdRecord) => boolean, matched: readonly Matched[], samples: number, exchanges: number): void {
  const turns = turnsSentOnce(run.log, host);
  const timed = new Set(matched.map((m) => `${m.sample.src.includes(':') ? 6 : 4}/${m.sample.sport}/${m.sample.dport}/${seqEnd(m.segment)}`));
  const missing = turns.filter((t) => ![...t.ends].some((e) => timed.has(`${t.key}/${e}`)));
  console.log(
    `      ${label}: ${samples} data samples for ${exchanges} exchanges; ${turns.length} turns sent once (the record), ${missing.length} of them without a sample`,
  );
  const at = (t: Turn): string => `${t.key} ends ${[...t.ends].join(',')} at +${((t.arrival - run.log.monoNs) / 1e6).toFixed(3)} ms`;
  assert.deepEqual(missing.slice(0, 3).map(at), [], `${label}: ${missing.length} of ${turns.length} turns sent once have no sample`);
}

/** The longest stretch of the run in which TCP frames never paused for a whole report interval, in seconds. */
function busySpanS(times: readonly number[], intervalMs: number): number {
  const t = sortedOf(times);
  let best = 0;
  let start = t[0];
  for (let i = 1; i < t.length; i++) {
    if (t[i] - t[i - 1] >= intervalMs) start = t[i];
    best = Math.max(best, t[i] - start);
  }
  return best / 1e3;
}

describe('live: real kernel TCP through a known delay (network namespaces)', function () {
  this.timeout(120000);

  before(function () {
    const reason = liveSkipReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    buildForwarder();
  });

  after(() => printTable());

  for (const sc of SCENARIOS) {
    describe(sc.title, function () {
      let run: Run;
      const samplesOf = (g: Group, kind?: RttSample['kind']): RttSample[] =>
        run.tap.samples.filter((s) => groupOf(s) === g && (kind === undefined || s.kind === kind));
      const matchedOf = (g: Group, kind?: RttSample['kind']): Matched[] =>
        run.match.matched.filter((m) => groupOf(m.sample) === g && (kind === undefined || m.sample.kind === kind));

      before(async function () {
        this.timeout(90000);
        run = await runScenario(sc);
        const all = run.tap.samples.map((s) => s.rttMs);
        const ker = kernelRows(run);
        const reportP50s = run.tap.reports
          .flat()
          .filter((p) => p.samples >= 10 && p.p50Ms !== null)
          .map((p) => p.p50Ms as number);
        const k = run.tap.stats?.samplesByKind;
        TABLE.push({
          scenario: sc.title,
          injectedMs: sc.fromLog
            ? `${run.rttMs}${sc.bed.jitterMs ? ` ±${2 * sc.bed.jitterMs}` : ''} (record p50 ${median(run.match.matched.map((m) => m.recordMs)).toFixed(3)})`
            : String(run.rttMs),
          medianMs: all.length ? median(all) : null,
          p95Ms: all.length ? quantile(sortedOf(all), 0.95) : null,
          reportP50Ms: reportP50s.length ? median(reportP50s) : null,
          kernelMinMs: ker.length ? Math.min(...ker.map((r) => r.kernelMin ?? Infinity)) : null,
          kernelSrttMs: ker.length ? median(ker.map((r) => r.kernelSrtt)) : null,
          byKind: k ? `${k.data}/${k.handshake}/${k.ts}` : '-',
        });
      });

      after(async () => {
        await run?.bed.destroy();
      });

      it('the traffic ran: bulk both ways, every request answered', () => {
        const [[up, down], , [rrc, rrs], [, peerRrc]] = run.traffic.results;
        for (const r of run.traffic.results.flat()) assert.equal(r.error, undefined, `${r.kind}: ${r.error}`);
        assert.ok(up.bytes > 1e6, `upload moved ${up.bytes} bytes`);
        assert.ok(down.bytes > 1e6, `download moved ${down.bytes} bytes`);
        assert.equal(rrc.requests, RR_CLIENT.connections * RR_CLIENT.requests);
        assert.equal(peerRrc.requests, RR_SERVER.connections * RR_SERVER.requests);
        assert.equal(rrs.connections, RR_SERVER.connections);
      });

      it('the delay line held each frame as asked (its own record)', () => {
        const c = run.log.counters;
        assert.equal(c.overflow, 0, 'frames dropped for lack of queue space');
        // Frames the host sends before the peer's TAP is up (IPv6 MLD, router
        // solicitations) cannot be written; no TCP frame may be among them.
        const tcpErrors = run.log.records.filter((r) => r.fate === 'E' && r.proto === 6);
        assert.deepEqual(tcpErrors, [], 'TCP frames the forwarder failed to write');
        const fwd = run.log.records.filter((r) => r.fate === 'F');
        const late = sortedOf(fwd.map((r) => (r.written - r.planned) / 1e6));
        const holds = sortedOf(fwd.map((r) => (r.written - r.arrival) / 1e6));
        // One thread writes every frame, and a write(2) to a TAP runs the
        // receiving namespace's stack before it returns: frames due together
        // (a burst of a window, or frames bunched by order-keeping jitter)
        // leave one write apart, like frames on a link. What the forwarder
        // itself answers for is starting each write on time: after the frame
        // was due and the write before it was done (taken here as the next
        // write's start: the loop does nothing else in between).
        const byWrite = [...fwd, ...run.log.records.filter((r) => r.fate === 'E')].sort((a, b) => a.written - b.written);
        const ownLate = sortedOf(byWrite.map((r, i) => (r.written - Math.max(r.planned, i > 0 ? byWrite[i - 1].written : 0)) / 1e6));
        console.log(
          `      ${fwd.length} frames forwarded; release later than planned: p50 ${quantile(late, 0.5).toFixed(3)} p99 ${quantile(late, 0.99).toFixed(3)} max ${late[late.length - 1].toFixed(3)} ms, of which the forwarder's own: p50 ${quantile(ownLate, 0.5).toFixed(3)} p99 ${quantile(ownLate, 0.99).toFixed(3)} ms; hold p50 ${quantile(holds, 0.5).toFixed(3)} ms`,
        );
        // The bed's precision (delayfwd.c: SCHED_FIFO, sleep, then spin the last 100 us).
        assert.ok(quantile(ownLate, 0.5) < 0.1, "the forwarder's own release lateness at the median: the bed is too busy to prove anything");
        // Late releases are in the record (written), so every figure judged
        // against the record carries them; early ones would break the injected delay.
        assert.ok(
          fwd.every((r) => r.written >= r.planned),
          'a frame was released before its time',
        );
        assert.ok(holds[0] >= run.floorMs / 2 - 0.001, `a frame was held ${holds[0]} ms, less than the configured minimum`);
        const lossPct = sc.bed.lossPct ?? 0;
        const lost = run.log.records.filter((r) => r.fate === 'L').length;
        const share = (100 * lost) / run.log.records.length;
        if (lossPct > 0) assert.ok(share > lossPct / 3 && share < lossPct * 3, `lost ${share.toFixed(2)} % of frames, asked ${lossPct} %`);
        else assert.equal(lost, 0);
      });

      it('upload from the host: data samples at the RTT', () => {
        const s = samplesOf('upload', 'data');
        assert.ok(s.length >= 100, `only ${s.length} data samples on the upload`);
        checkCentral(run, 'upload', matchedOf('upload', 'data'), s);
      });

      if (sc.bed.timestamps === false) {
        it('download without TCP timestamps: nothing to time, and nothing wrongly timed', () => {
          const s = samplesOf('download');
          console.log(`      download: ${s.length} samples (${s.map((x) => `${x.kind} ${x.rttMs.toFixed(3)}`).join(', ')})`);
          assert.equal(run.tap.samples.filter((x) => x.kind === 'ts').length, 0, 'timestamp-echo samples without timestamps');
          // The host sends only its SYN and its FIN on a download.
          assert.ok(s.length <= 2, `${s.length} samples on a download without timestamps`);
          for (const x of s) assert.ok(x.rttMs >= run.floorMs - 0.05, `download sample ${x.rttMs} ms below the RTT`);
        });
      } else {
        it('download to the host: measured from timestamp echoes (kind ts)', () => {
          const s = samplesOf('download', 'ts');
          assert.ok(s.length >= 20, `only ${s.length} timestamp-echo samples on the download`);
          checkCentral(run, 'download (ts)', matchedOf('download', 'ts'), s);
        });
      }

      it('request/response, host as client (keep-alive, several requests each)', () => {
        const s = samplesOf('rrHostClient', 'data');
        const n = RR_CLIENT.connections * RR_CLIENT.requests;
        checkTurns(run, 'rr, host client', (r) => r.dport === PORT.rrHostClient, matchedOf('rrHostClient', 'data'), s.length, n);
        checkCentral(run, 'rr, host client', matchedOf('rrHostClient', 'data'), s);
      });

      it('request/response, host as server', () => {
        const s = samplesOf('rrHostServer', 'data');
        const n = RR_SERVER.connections * RR_SERVER.requests;
        checkTurns(run, 'rr, host server', (r) => r.sport === PORT.rrHostServer, matchedOf('rrHostServer', 'data'), s.length, n);
        checkCentral(run, 'rr, host server', matchedOf('rrHostServer', 'data'), s);
      });

      it('handshake samples in both roles (SYN -> SYN/ACK as client, SYN/ACK -> ACK as server)', () => {
        const client = run.tap.samples.filter((s) => s.kind === 'handshake' && groupOf(s) !== 'rrHostServer');
        const server = samplesOf('rrHostServer', 'handshake');
        console.log(
          `      ${show(
            'client role',
            client.map((s) => s.rttMs),
          )}; ${show(
            'server role',
            server.map((s) => s.rttMs),
          )}`,
        );
        // Which handshakes can be timed follows from the record
        // (timeableHandshakes): exactly those, once each.
        const want = timeableHandshakes(run.log);
        const key = (s: RttSample): string => `${s.src.includes(':') ? 6 : 4}/${s.sport}/${s.dport}`;
        const got = (xs: RttSample[]): string[] => xs.map(key).sort();
        assert.deepEqual(got(client), [...want.client].sort(), 'client-role handshake samples, against the handshakes the record shows timeable');
        assert.deepEqual(got(server), [...want.server].sort(), 'server-role handshake samples, against the handshakes the record shows timeable');
        if (!sc.bed.lossPct) {
          assert.equal(client.length, HOST_OPENS, `${client.length} client-role handshake samples for ${HOST_OPENS} connections`);
          assert.equal(server.length, RR_SERVER.connections, `${server.length} server-role handshake samples for ${RR_SERVER.connections} connections`);
        }
        const hs = run.match.matched.filter((x) => x.sample.kind === 'handshake');
        assert.equal(hs.length, client.length + server.length, 'handshake samples missing from the record');
        for (const m of hs) {
          const what = `handshake sample ${m.sample.rttMs.toFixed(3)} ms (${m.sample.sport}->${m.sample.dport}), truth ${m.expectedMs.toFixed(3)} ms, record ${m.recordMs.toFixed(3)} ms, injected ${run.rttMs} ms`;
          assert.ok(Math.abs(m.diffMs) <= (m.hopMs === null ? 0.5 : CAPTURE_PRECISION_MS), what);
          assert.ok(m.sample.rttMs >= run.floorMs - CLOCK_SLACK_MS, what);
          if (!sc.fromLog) assert.ok(m.sample.rttMs <= Math.max(run.rttMs + 2, m.expectedMs + CAPTURE_PRECISION_MS), what);
        }
      });

      it("the host's own ACK delays never appear: no sample below the delay line's floor", () => {
        const low = run.tap.samples.filter((s) => s.rttMs < run.floorMs - 0.05);
        assert.deepEqual(low.slice(0, 5), [], `${low.length} samples below ${run.floorMs} ms, the least the delay line allows`);
      });

      it("every sample agrees with the forwarder's record and the capture of the same frames", () => {
        const { matched, unmatched, captured } = run.match;
        const total = run.tap.samples.length;
        const inCap = matched.filter((m) => m.hopMs !== null);
        const notCap = matched.filter((m) => m.hopMs === null);
        const diffs = sortedOf(inCap.map((m) => m.diffMs));
        const hops = sortedOf(inCap.map((m) => m.hopMs as number));
        const vsRecord = sortedOf(matched.map((m) => m.sample.rttMs - m.recordMs));
        console.log(`      ${matched.length}/${total} samples found in the record, ${captured} of them in the capture (tcpdump dropped ${run.captureDropped})`);
        console.log(
          `      monitor - capture truth: min ${diffs[0]?.toFixed(4)} max ${diffs[diffs.length - 1]?.toFixed(4)} ms; capture point <-> delay line, both ways: p50 ${quantile(hops, 0.5).toFixed(4)} p95 ${quantile(hops, 0.95).toFixed(4)} max ${hops[hops.length - 1]?.toFixed(4)} ms`,
        );
        // Every frame of the test traffic passes the forwarder and the capture.
        assert.ok(unmatched.length <= total * 0.02, `${unmatched.length} samples have no frames in the record, e.g. ${JSON.stringify(unmatched.slice(0, 3))}`);
        assert.ok(captured >= matched.length * 0.98, `only ${captured} of ${matched.length} samples found in the capture`);
        // The monitor and the independent capture see the same time stamps:
        // each sample is exactly capture(answer) - capture(segment).
        const off = inCap.filter((m) => Math.abs(m.diffMs) > CAPTURE_PRECISION_MS);
        assert.deepEqual(off.slice(0, 3), [], `${off.length} samples differ from the capture of their own frames`);
        // The capture point lies outside the delay line: a frame is captured
        // before the forwarder reads it and after it writes one, so no
        // sample can be shorter than the forwarder's own figure.
        assert.ok(
          vsRecord[0] >= -CLOCK_SLACK_MS,
          `a sample is ${(-vsRecord[0]).toFixed(3)} ms shorter than the frames' own hold: ${JSON.stringify(matched.find((m) => m.sample.rttMs - m.recordMs === vsRecord[0]))}`,
        );
        assert.ok(hops[0] >= -CLOCK_SLACK_MS, `a negative hop ${hops[0]} ms: the capture and the record disagree on the order of events`);
        // The few not found in the capture (tcpdump drops) are held to the record alone.
        for (const m of notCap) assert.ok(m.diffMs >= -CLOCK_SLACK_MS, `sample ${JSON.stringify(m)} below the record`);
      });

      it('reports: one series for the host pair, with figures within bounds', () => {
        const batches = run.tap.reports;
        // Reports follow a grid in packet time (every second here): within a
        // stretch of traffic that never pauses for a whole second, each grid
        // point is crossed by a packet, so a stretch of L seconds gives at
        // least floor(L) reports.
        const span = busySpanS(
          run.capture.length > 0 ? run.capture.map((f) => f.tsMs) : run.log.records.filter((r) => r.proto === 6).map((r) => r.arrival / 1e6),
          1000,
        );
        assert.ok(batches.length >= Math.floor(span), `${batches.length} reports at a 1 s interval over ${span.toFixed(2)} s of traffic`);
        const pairs: HostPairReport[] = batches.flat();
        for (const p of pairs) {
          assert.equal(p.iface, run.bed.hostIf);
          assert.equal(p.src, run.local, `report for local ${p.src}`);
          assert.equal(p.dst, run.remote, `report for remote ${p.dst}`);
          assert.equal(p.samples, p.samplesByKind.data + p.samplesByKind.handshake + p.samplesByKind.ts);
        }
        const total = pairs.reduce((a, p) => a + p.samples, 0);
        assert.equal(total, run.tap.samples.length, 'reports count every sample once');
        assert.equal(total, run.tap.stats?.samples);
        const tol = medianTolerance(run.rttMs);
        let prev = -Infinity;
        for (const p of pairs) {
          const inInterval = run.match.matched.filter((m) => m.sample.ts > prev && m.sample.ts <= p.ts + 1e-6);
          prev = p.ts;
          if (p.samples < 30 || p.p50Ms === null || p.p95Ms === null) continue;
          const exp = sortedOf(inInterval.map((m) => m.expectedMs));
          const exp50 = quantile(exp, 0.5);
          const exp95 = quantile(exp, 0.95);
          // As in checkCentral: the injected RTT unless the truth itself moved.
          const ref50 = sc.fromLog || Math.abs(exp50 - run.rttMs) > tol ? exp50 : run.rttMs;
          // The percentiles come from a histogram with 1 % relative error.
          assert.ok(Math.abs(p.p50Ms - ref50) <= tol + 0.01 * ref50, `report at ${p.ts}: p50 ${p.p50Ms} ms, expected ${ref50.toFixed(3)} ms`);
          if (sc.fromLog) assert.ok(Math.abs(p.p95Ms - exp95) <= 2 + 0.01 * exp95, `report at ${p.ts}: p95 ${p.p95Ms} ms, the truth's ${exp95.toFixed(3)} ms`);
          else {
            const bound = Math.max(run.rttMs + 2, exp95 + CAPTURE_PRECISION_MS);
            assert.ok(
              p.p95Ms <= bound + 0.01 * bound,
              `report at ${p.ts}: p95 ${p.p95Ms} ms, injected RTT ${run.rttMs} ms, truth's p95 ${exp95.toFixed(3)} ms`,
            );
          }
          assert.ok((p.minMs as number) >= run.floorMs - CLOCK_SLACK_MS, `report min ${p.minMs}`);
        }
        // avg_ms is RFC 6298's SRTT (section 2: SRTT <- 7/8 SRTT + 1/8 R) over
        // every sample of the pair, in order: first the arithmetic, over the
        // monitor's own samples, then against the same recurrence over the
        // truth of each sample (a sample without frames keeps its own figure).
        const last = [...pairs].reverse().find((p) => p.avgMs !== null);
        assert.ok(last, 'no report with a smoothed RTT');
        const own = srttOf(run.tap.samples.map((x) => x.rttMs));
        const byS = new Map(run.match.matched.map((m) => [m.sample, m.expectedMs]));
        const truth = srttOf(run.tap.samples.map((x) => byS.get(x) ?? x.rttMs));
        console.log(
          `      smoothed RTT: reported ${last.avgMs?.toFixed(3)} ms, RFC 6298 over the samples ${own?.toFixed(3)} ms, over the truth ${truth?.toFixed(3)} ms`,
        );
        assert.ok(
          own !== null && Math.abs((last.avgMs as number) - own) <= 0.001,
          `smoothed RTT ${last.avgMs} ms, RFC 6298 over the monitor's samples gives ${own} ms`,
        );
        assert.ok(
          truth !== null && Math.abs((last.avgMs as number) - truth) <= medianTolerance(run.rttMs),
          `smoothed RTT ${last.avgMs} ms, the truth gives ${truth} ms`,
        );
      });

      it("the kernel's view (ss -tin in the host namespace) agrees", () => {
        const rows = kernelRows(run);
        for (const r of rows) {
          console.log(
            `      ${r.port}: kernel minrtt ${r.kernelMin} srtt ${r.kernelSrtt} ms | monitor min ${r.minBefore?.toFixed(3)} (${r.minAfter.toFixed(3)} counting ss's own run) median ${r.monitorMedian.toFixed(3)} ms, kernel's srtt modelled from the capture ${r.modelLo.toFixed(3)}..${r.modelHi.toFixed(3)} ms${r.retransmitted ? ' (retransmissions)' : ''}`,
          );
        }
        assert.ok(rows.length >= 1, 'no connection of the test traffic in ss -tin');
        for (const r of rows) {
          // After a retransmission the kernel may time from TSecr in 1 ms
          // ticks (tcp_ack_update_rtt(), TCP_TS_HZ): up to a tick low.
          const tick = r.retransmitted ? 1 : 0;
          if (r.kernelMin !== null) {
            // minrtt is the least of the kernel's RTT samples, and each of
            // them times the newest segment an ACK acknowledges (net/ipv4/
            // tcp_input.c: tcp_ack_update_rtt() feeds tcp_update_rtt_min()
            // with ca_rtt_us, "RTT of last (S)ACKed packet"): the monitor's
            // rule. The kernel's clock points lie inside the capture points
            // (it stamps a segment before the capture sees it leave and an
            // ACK after the capture saw it come), so its figure for an ACK is
            // never below the monitor's.
            assert.ok(
              r.kernelMin >= r.minAfter - CLOCK_SLACK_MS - tick,
              `${r.port}: kernel minrtt ${r.kernelMin} ms below the monitor's least sample ${r.minAfter} ms`,
            );
            // Above: the kernel had the monitor's least sample before ss
            // started; it can only have added the host stack's own time.
            if (r.minBefore !== null)
              assert.ok(
                r.kernelMin <= r.minBefore + HOST_STACK_MS,
                `${r.port}: kernel minrtt ${r.kernelMin} ms, monitor min ${r.minBefore} ms (+${HOST_STACK_MS})`,
              );
          }
          if (!r.retransmitted) {
            // srtt: the kernel's RFC 6298 recurrence (gain 1/8) over its own
            // samples, modelled sample by sample from the monitor's
            // (kernelModel), between its value when ss started and the
            // values it took while ss ran, plus the host stack's own time.
            assert.ok(r.kernelSrtt >= r.modelLo - CLOCK_SLACK_MS, `${r.port}: kernel srtt ${r.kernelSrtt} ms, the model of it ${r.modelLo}..${r.modelHi} ms`);
            assert.ok(
              r.kernelSrtt <= r.modelHi + HOST_STACK_MS,
              `${r.port}: kernel srtt ${r.kernelSrtt} ms, the model of it ${r.modelLo}..${r.modelHi} ms (+${HOST_STACK_MS})`,
            );
          } else {
            // With retransmissions the kernel's samples and the monitor's
            // differ (the kernel's TSecr samples of retransmitted data, the
            // monitor's Karn refusals), but the kernel's srtt is still a
            // weighted mean of true RTTs of this connection: within their range.
            assert.ok(
              r.kernelSrtt >= r.minAfter - CLOCK_SLACK_MS - tick,
              `${r.port}: kernel srtt ${r.kernelSrtt} ms below the connection's least RTT ${r.minAfter} ms`,
            );
            assert.ok(
              r.kernelSrtt <= r.modelMax + HOST_STACK_MS,
              `${r.port}: kernel srtt ${r.kernelSrtt} ms above the connection's longest RTT ${r.modelMax} ms`,
            );
          }
        }
      });

      if (sc.bed.lossPct) {
        it("retransmissions are seen and refused by Karn's rule; slow samples are explained by the record", () => {
          const st = run.tap.stats;
          assert.ok(st && st.retransmissions > 0, `retransmissions counted: ${st?.retransmissions}`);
          assert.ok(st && st.karnRefused > 0, `Karn refusals: ${st?.karnRefused}`);
          // A sample far above the RTT is legitimate only when the record shows the
          // frames themselves took that long (a lost answer retransmitted by the peer).
          const slow = run.match.matched.filter((m) => m.sample.rttMs > run.rttMs + 5);
          for (const m of slow) {
            console.log(
              `      slow sample ${m.sample.rttMs.toFixed(3)} ms (${m.sample.kind} ${m.sample.sport}->${m.sample.dport}); truth ${m.expectedMs.toFixed(3)} ms (held ${m.holdOutMs.toFixed(3)} + peer ${m.peerMs.toFixed(3)} + held ${m.holdBackMs.toFixed(3)} + hops ${m.hopMs?.toFixed(3) ?? 'not captured'})`,
            );
            assert.ok(
              Math.abs(m.diffMs) <= (m.hopMs === null ? 1 : CAPTURE_PRECISION_MS),
              `slow sample ${m.sample.rttMs} ms not explained by the frames (${m.expectedMs} ms)`,
            );
          }
        });
      }

      if (sc.any) {
        it('the capture on any measures the same', () => {
          const any = run.any as MonitorResult;
          assert.deepEqual(any.errors, []);
          assert.ok(any.reports.flat().every((p) => p.iface === 'any'));
          const a = any.samples.filter((s) => s.dst === run.remote).map((s) => s.rttMs);
          const t = run.tap.samples.map((s) => s.rttMs);
          console.log(`      ${show('any', a)}; ${show('tap', t)}; pcap drops ${any.stats?.pcapDropped ?? 0}/${run.tap.stats?.pcapDropped ?? 0}`);
          // Both sockets are handed the same packets with the kernel's same
          // time stamps (capture.ts), so every sample on any is held to the
          // same truth as on the TAP. Not necessarily the very same samples:
          // two capture sockets may be handed an ACK and a data packet that
          // cross within microseconds in either order (one per CPU), and a
          // timestamp-echo sample starts at whichever pure ACK the monitor
          // saw first with a pending echo.
          const anyMatch = matchSamples(
            run.log,
            any.samples.filter((s) => s.dst === run.remote),
            run.capture,
            [run.bed.hostV4, run.bed.hostV6],
          );
          const off = anyMatch.matched.filter((m) => m.hopMs !== null && Math.abs(m.diffMs) > CAPTURE_PRECISION_MS);
          assert.ok(
            anyMatch.captured >= anyMatch.matched.length * 0.98,
            `only ${anyMatch.captured} of ${anyMatch.matched.length} samples on any found in the capture`,
          );
          assert.deepEqual(off.slice(0, 3), [], `${off.length} samples on any differ from the capture of their own frames`);
          const key = (s: RttSample): string => `${s.sport}/${s.dport}/${s.kind}/${s.ts.toFixed(6)}/${s.rttMs.toFixed(4)}`;
          const tapKeys = new Set(run.tap.samples.map(key));
          const differ = any.samples.filter((s) => s.dst === run.remote && !tapKeys.has(key(s)));
          console.log(`      ${differ.length} samples on any not among the TAP's (${[...new Set(differ.map((s) => s.kind))].join(', ') || 'none'})`);
          assert.ok(Math.abs(a.length - t.length) <= t.length * 0.02, `any: ${a.length} samples, tap: ${t.length}`);
          assert.ok(anyMatch.unmatched.length <= a.length * 0.02, `${anyMatch.unmatched.length} samples on any have no frames in the record`);
          assert.ok(Math.abs(median(a) - median(t)) <= 0.05, 'medians differ');
          // As in checkCentral: the injected RTT, unless the truth's own median moved.
          const tol = medianTolerance(run.rttMs);
          const exp50 = median(anyMatch.matched.map((m) => m.expectedMs));
          const ref50 = Math.abs(exp50 - run.rttMs) <= tol ? run.rttMs : exp50;
          assert.ok(Math.abs(median(a) - ref50) <= tol, `median on any ${median(a)} ms, injected RTT ${run.rttMs} ms, truth's median ${exp50} ms`);
        });
      }

      if (sc.frameSizes) {
        // The host's data frames of the upload, as the capture saw them.
        const uploadFrames = (): number[] => run.capture.filter((f) => f.src === run.local && f.dport === PORT.upload && f.plen > 0).map((f) => f.len);
        // Ethernet + IP + TCP headers (with the Timestamps option when on), and the MSS on a 1500-byte MTU.
        const ipHdr = sc.v6 ? 40 : 20;
        const tcpHdr = sc.bed.timestamps === false ? 20 : 32;
        const mtuFrame = 14 + 1500;
        const mss = 1500 - ipHdr - tcpHdr;
        if (!sc.bed.vethHop) {
          it('the TAP carries MTU-sized frames (no offload): what a wire would show', () => {
            const frames = uploadFrames();
            assert.ok(frames.length > 100, `the capture saw ${frames.length} upload data frames`);
            const max = Math.max(...frames);
            console.log(`      largest frame on ${run.bed.hostIf}: ${max} bytes (${frames.length} upload data frames)`);
            assert.ok(max <= mtuFrame, `a ${max}-byte frame on a 1500-byte MTU TAP`);
            assert.equal(max, mtuFrame, 'no full-sized segment in a bulk upload');
          });
        } else {
          it('the veth capture saw offloaded super-segments (TSO/GSO), and samples stayed right', () => {
            // The engine times a super-segment's first partial ACK; the
            // per-sample check above holds every sample to the capture of
            // the super-segment and to the forwarder's record of its
            // MTU-sized pieces. Here: the offload really happened. No frame
            // above the MTU can cross a wire, so every one is a super-segment;
            // the kernel sizes them to about 1 ms of data at the pacing rate
            // but never below tcp_min_tso_segs (2) segments
            // (tcp_tso_autosize(), net/ipv4/tcp_output.c), and in a
            // window-limited upload every ACK (one per two segments, RFC 5681
            // section 4.2) lets at least two go: most frames carry two MSS or
            // more.
            const frames = uploadFrames();
            assert.ok(frames.length > 100, `the capture saw ${frames.length} upload data frames`);
            const big = frames.filter((n) => n > mtuFrame);
            const max = Math.max(...frames);
            const twoMss = 14 + ipHdr + tcpHdr + 2 * mss;
            console.log(
              `      ${big.length}/${frames.length} upload data frames above ${mtuFrame} bytes on ${run.bed.hostIf}, largest ${max} bytes (${((max - 14 - ipHdr - tcpHdr) / mss).toFixed(1)} MSS)`,
            );
            assert.ok(big.length >= frames.length / 2, `only ${big.length} of ${frames.length} upload frames larger than the MTU: offloads off?`);
            assert.ok(max >= twoMss, `largest frame ${max} bytes, less than two MSS (${twoMss} bytes): no super-segments, offloads off?`);
          });
        }
      }
    });
  }
});
