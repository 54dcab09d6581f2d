/**
 * Proven live (issue 4): real kernel TCP between two network namespaces,
 * through a delay line whose one-way delay the test sets, captured live by
 * RttMonitor inside the monitored namespace. Expected values come from the
 * delay the test injected and from the forwarder's own record of every
 * frame (expect.ts), never from the monitor.
 *
 * Needs root, `ip netns`, /dev/net/tun and gcc; skips with the reason
 * otherwise. See test/live/README.md for the bed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { HostPairReport, RttSample } from '../../src';
import { matchSamples, type Matched, type MatchResult } from './expect';
import { Bed, buildForwarder, liveSkipReason, type BedOptions, type FwdLog } from './netns';
import { median, MonitorProc, pcapOrigLengths, printTable, quantile, sortedOf, TABLE, runTraffic, type MonitorResult, type Program, type TrafficRun } from './scenario';

const PORT = { upload: 5001, download: 5002, rrHostClient: 5003, rrHostServer: 5004 } as const;
const RR_CLIENT = { connections: 3, requests: 15, requestBytes: 200, responseBytes: 2000 };
const RR_SERVER = { connections: 3, requests: 15, requestBytes: 300, responseBytes: 3000 };

interface Scenario {
  title: string;
  bed: BedOptions;
  v6?: boolean;
  /** Also capture on `any` beside the TAP. */
  any?: boolean;
  /** Run tcpdump beside the monitor to look at frame sizes. */
  frameSizes?: boolean;
  /**
   * Loss or jitter: the spread of the true RTT is not a constant, so
   * percentiles are compared with the forwarder's record of each frame's
   * hold rather than with the nominal RTT.
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
  /** Frame lengths seen by tcpdump on the captured interface (frameSizes). */
  frames: number[];
  local: string;
  remote: string;
}

async function runScenario(sc: Scenario): Promise<Run> {
  const bed = await Bed.create({ durationS: 40, ...sc.bed });
  try {
    const monitors = [{ name: 'tap', options: { interface: bed.hostIf, samples: true, reportInterval: 1 } }];
    if (sc.any) monitors.push({ name: 'any', options: { interface: 'any', samples: true, reportInterval: 1 } });
    const mon = await MonitorProc.start(bed, bed.hostNs, monitors);
    try {
      for (const m of monitors) {
        const e = mon.startError(m.name);
        if (e) throw new Error(`monitor ${m.name} did not start: ${e.code}: ${e.message}`);
      }
      const progs = programs(bed, sc.v6 ?? false, 2500);
      const pcap = path.join(bed.tmpDir, 'frames.pcap');
      const dump = sc.frameSizes ? bed.spawnIn(bed.hostNs, 'tcpdump', ['-i', bed.hostIf, '-s', '96', '-c', '4000', '-w', pcap, `tcp port ${PORT.upload}`]) : null;
      if (dump) await new Promise((resolve) => setTimeout(resolve, 500));
      const traffic = await runTraffic(bed, progs, { maxMs: 25000, ssAtMs: [1200, 2200] });
      // Let the last ACKs and FINs cross the delay line before stopping.
      await new Promise((resolve) => setTimeout(resolve, 4 * sc.bed.delayMs + 300));
      await mon.stop();
      if (dump) {
        if (dump.exitCode === null) dump.kill('SIGINT');
        await new Promise((resolve) => (dump.exitCode !== null ? resolve(null) : dump.once('exit', resolve)));
      }
      const frames = dump && fs.existsSync(pcap) ? pcapOrigLengths(fs.readFileSync(pcap)) : [];
      const log = await bed.stopForwarder();
      const tap = mon.result('tap');
      const jitter = sc.bed.jitterMs ?? 0;
      return {
        sc,
        bed,
        rttMs: 2 * sc.bed.delayMs,
        floorMs: 2 * Math.max(0, sc.bed.delayMs - jitter),
        traffic,
        tap,
        any: sc.any ? mon.result('any') : null,
        log,
        match: matchSamples(log, tap.samples),
        frames,
        local: sc.v6 ? bed.hostV6 : bed.hostV4,
        remote: sc.v6 ? bed.peerV6 : bed.peerV4,
      };
    } finally {
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
 * The central figures of a set of samples against the truth: the injected
 * RTT, or (loss, jitter) the forwarder's record of the same samples.
 */
function checkCentral(run: Run, label: string, matched: readonly Matched[], samples: readonly RttSample[]): void {
  const rtts = samples.map((s) => s.rttMs);
  const got = stats(rtts);
  const tol = medianTolerance(run.rttMs);
  const info = `${label} ${show('monitor', rtts)}; ${show('forwarder record', matched.map((m) => m.expectedMs))}`;
  console.log(`      ${info}`);
  const slow = matched.filter((m) => m.sample.rttMs > run.rttMs + 2).slice(0, 5);
  for (const m of slow) {
    console.log(`        slow: ${m.sample.rttMs.toFixed(3)} ms = held ${m.holdOutMs.toFixed(3)} + peer ${m.peerMs.toFixed(3)} + held ${m.holdBackMs.toFixed(3)} (+${m.diffMs.toFixed(3)} unseen by the forwarder)`);
  }
  if (run.sc.fromLog) {
    const exp = stats(matched.map((m) => m.expectedMs));
    assert.ok(Math.abs(got.p50 - exp.p50) <= tol, `${label}: median ${got.p50.toFixed(3)} ms, the forwarder's record gives ${exp.p50.toFixed(3)} ms (±${tol})`);
    assert.ok(Math.abs(got.p95 - exp.p95) <= 2, `${label}: p95 ${got.p95.toFixed(3)} ms, the forwarder's record gives ${exp.p95.toFixed(3)} ms (±2)`);
  } else {
    assert.ok(Math.abs(got.p50 - run.rttMs) <= tol, `${label}: median ${got.p50.toFixed(3)} ms, injected RTT ${run.rttMs} ms (±${tol})`);
    // p95: 2 ms over the injected RTT, unless the record shows that the bed
    // itself spread the true RTT further (a busy machine: the peer's
    // application answering late, a release held up); then the record's p95.
    const exp95 = quantile(sortedOf(matched.map((m) => m.expectedMs)), 0.95);
    const bound = Math.max(run.rttMs + 2, exp95 + 0.5);
    if (bound > run.rttMs + 2) console.log(`      note: the record's own p95 is ${exp95.toFixed(3)} ms: the bed was slowed by the machine`);
    assert.ok(got.p95 <= bound, `${label}: p95 ${got.p95.toFixed(3)} ms, injected RTT ${run.rttMs} ms (+2), record p95 ${exp95.toFixed(3)} ms`);
    assert.ok(got.p95 >= run.rttMs - 0.1, `${label}: p95 ${got.p95.toFixed(3)} ms below the injected RTT`);
  }
}

function kernelRows(run: Run): { port: string; kernelMin: number | null; kernelSrtt: number; monitorMin: number; monitorMedian: number }[] {
  const out = [];
  const seen = new Set<string>();
  for (const c of [...run.traffic.ss].reverse()) {
    const group: Group | null =
      c.pport === PORT.upload ? 'upload' : c.pport === PORT.download ? 'download' : c.pport === PORT.rrHostClient ? 'rrHostClient' : c.lport === PORT.rrHostServer ? 'rrHostServer' : null;
    if (!group) continue;
    const key = `${c.lport}/${c.pport}`;
    if (seen.has(key)) continue; // the latest snapshot of each connection
    seen.add(key);
    // On a download the host sends nothing but its SYN (and later its FIN):
    // the kernel's only RTT sample of it is the handshake, so compare with that.
    // Only what both had seen when ss ran: the kernel's minrtt and srtt are as of then.
    const until = (c.wall ?? Infinity) / 1000;
    const mine = run.tap.samples
      .filter((s) => s.sport === c.lport && s.dport === c.pport && s.ts <= until && (group !== 'download' || s.kind === 'handshake'))
      .map((s) => s.rttMs);
    if (mine.length === 0) continue;
    out.push({ port: `${group} ${key}`, kernelMin: c.minRttMs, kernelSrtt: c.rttMs, monitorMin: Math.min(...mine), monitorMedian: median(mine) });
  }
  return out;
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
        const reportP50s = run.tap.reports.flat().filter((p) => p.samples >= 10 && p.p50Ms !== null).map((p) => p.p50Ms as number);
        const k = run.tap.stats?.samplesByKind;
        TABLE.push({
          scenario: sc.title,
          injectedMs: sc.fromLog ? `${run.rttMs}${sc.bed.jitterMs ? ` ±${2 * sc.bed.jitterMs}` : ''} (record p50 ${median(run.match.matched.map((m) => m.expectedMs)).toFixed(3)})` : String(run.rttMs),
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
        console.log(`      ${fwd.length} frames forwarded; release later than planned: p50 ${quantile(late, 0.5).toFixed(3)} p99 ${quantile(late, 0.99).toFixed(3)} max ${late[late.length - 1].toFixed(3)} ms; hold p50 ${quantile(holds, 0.5).toFixed(3)} ms`);
        assert.ok(quantile(late, 0.5) < 0.1, 'the forwarder releases frames late at the median: the bed is too busy to prove anything');
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
        assert.ok(s.length >= (sc.bed.lossPct ? n / 2 : n - RR_CLIENT.connections), `${s.length} data samples for ${n} exchanges`);
        checkCentral(run, 'rr, host client', matchedOf('rrHostClient', 'data'), s);
      });

      it('request/response, host as server', () => {
        const s = samplesOf('rrHostServer', 'data');
        const n = RR_SERVER.connections * RR_SERVER.requests;
        assert.ok(s.length >= (sc.bed.lossPct ? n / 2 : n - RR_SERVER.connections), `${s.length} data samples for ${n} exchanges`);
        checkCentral(run, 'rr, host server', matchedOf('rrHostServer', 'data'), s);
      });

      it('handshake samples in both roles (SYN -> SYN/ACK as client, SYN/ACK -> ACK as server)', () => {
        const client = run.tap.samples.filter((s) => s.kind === 'handshake' && groupOf(s) !== 'rrHostServer');
        const server = samplesOf('rrHostServer', 'handshake');
        console.log(`      ${show('client role', client.map((s) => s.rttMs))}; ${show('server role', server.map((s) => s.rttMs))}`);
        // 5 connections opened by the host, 3 accepted; a lost SYN or SYN/ACK is retransmitted and never timed.
        const need = sc.bed.lossPct ? 1 : 0;
        assert.ok(client.length >= 5 - 2 * need, `${client.length} client-role handshake samples for 5 connections`);
        assert.ok(server.length >= 3 - 2 * need, `${server.length} server-role handshake samples for 3 connections`);
        const hs = run.match.matched.filter((x) => x.sample.kind === 'handshake');
        assert.equal(hs.length, client.length + server.length, 'handshake samples missing from the record');
        for (const m of hs) {
          const what = `handshake sample ${m.sample.rttMs.toFixed(3)} ms (${m.sample.sport}->${m.sample.dport}), record ${m.expectedMs.toFixed(3)} ms, injected ${run.rttMs} ms`;
          assert.ok(Math.abs(m.diffMs) <= 0.5, what);
          assert.ok(m.sample.rttMs >= run.floorMs - 0.05, what);
          if (!sc.fromLog) assert.ok(m.sample.rttMs <= Math.max(run.rttMs + 2, m.expectedMs + 0.5), what);
        }
      });

      it("the host's own ACK delays never appear: no sample below the delay line's floor", () => {
        const low = run.tap.samples.filter((s) => s.rttMs < run.floorMs - 0.05);
        assert.deepEqual(low.slice(0, 5), [], `${low.length} samples below ${run.floorMs} ms, the least the delay line allows`);
      });

      it("every sample agrees with the forwarder's record of the same frames", () => {
        const { matched, unmatched } = run.match;
        const total = run.tap.samples.length;
        const diffs = sortedOf(matched.map((m) => m.diffMs));
        console.log(`      ${matched.length}/${total} samples found in the record; monitor - record: p50 ${quantile(diffs, 0.5).toFixed(4)} p95 ${quantile(diffs, 0.95).toFixed(4)} min ${diffs[0].toFixed(4)} max ${diffs[diffs.length - 1].toFixed(4)} ms`);
        assert.ok(unmatched.length <= total * 0.02, `${unmatched.length} samples have no frames in the record, e.g. ${JSON.stringify(unmatched.slice(0, 3))}`);
        // The capture sees a frame a little before the forwarder reads it and a little
        // after it writes one: the monitor may exceed the record by microseconds, never undercut it.
        assert.ok(diffs[0] >= -0.05, `a sample is ${(-diffs[0]).toFixed(3)} ms shorter than the frames' own hold: ${JSON.stringify(matched.find((m) => m.diffMs === diffs[0]))}`);
        assert.ok(quantile(diffs, 0.5) <= 0.1, `median excess over the record ${quantile(diffs, 0.5)} ms`);
        const far = matched.filter((m) => Math.abs(m.diffMs) > 0.5);
        assert.ok(far.length <= matched.length * 0.05, `${far.length} samples more than 0.5 ms from the record, e.g. ${JSON.stringify(far.slice(0, 3))}`);
      });

      it('reports: one series for the host pair, with figures within bounds', () => {
        const batches = run.tap.reports;
        assert.ok(batches.length >= 3, `${batches.length} reports at a 1 s interval`);
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
          const ref50 = sc.fromLog ? quantile(exp, 0.5) : run.rttMs;
          // The percentiles come from a histogram with 1 % relative error.
          assert.ok(Math.abs(p.p50Ms - ref50) <= tol + 0.01 * ref50, `report at ${p.ts}: p50 ${p.p50Ms} ms, expected ${ref50.toFixed(3)} ms`);
          const exp95 = quantile(exp, 0.95);
          if (sc.fromLog) assert.ok(Math.abs(p.p95Ms - exp95) <= 2 + 0.01 * exp95, `report at ${p.ts}: p95 ${p.p95Ms} ms, the record gives ${exp95.toFixed(3)} ms`);
          else {
            const bound = Math.max(run.rttMs + 2, exp95 + 0.5);
            assert.ok(p.p95Ms <= bound + 0.01 * bound, `report at ${p.ts}: p95 ${p.p95Ms} ms, injected RTT ${run.rttMs} ms, record p95 ${exp95.toFixed(3)} ms`);
          }
          assert.ok((p.minMs as number) >= run.floorMs - 0.05, `report min ${p.minMs}`);
        }
        // avg_ms is RFC 6298's SRTT (section 2: SRTT <- 7/8 SRTT + 1/8 R) over
        // every sample of the pair: recompute it from the record's figures.
        let srtt: number | null = null;
        const byTs = new Map(run.match.matched.map((m) => [m.sample, m.expectedMs]));
        for (const smp of run.tap.samples) {
          const r = byTs.get(smp) ?? smp.rttMs;
          srtt = srtt === null ? r : 0.875 * srtt + 0.125 * r;
        }
        const last = [...pairs].reverse().find((p) => p.avgMs !== null);
        assert.ok(last && srtt !== null && Math.abs((last.avgMs as number) - srtt) <= 0.5, `smoothed RTT ${last?.avgMs} ms, the record gives ${srtt} ms`);
      });

      it("the kernel's view (ss -tin in the host namespace) agrees", () => {
        const rows = kernelRows(run);
        for (const r of rows) {
          console.log(`      ${r.port}: kernel minrtt ${r.kernelMin} srtt ${r.kernelSrtt} ms | monitor min ${r.monitorMin.toFixed(3)} median ${r.monitorMedian.toFixed(3)} ms`);
        }
        assert.ok(rows.length >= 1, 'no connection of the test traffic in ss -tin');
        for (const r of rows) {
          if (r.kernelMin !== null) {
            assert.ok(Math.abs(r.kernelMin - r.monitorMin) <= 1, `${r.port}: kernel minrtt ${r.kernelMin} ms, monitor min ${r.monitorMin} ms`);
          }
          assert.ok(
            Math.abs(r.kernelSrtt - r.monitorMedian) <= Math.max(3, 0.15 * r.monitorMedian),
            `${r.port}: kernel srtt ${r.kernelSrtt} ms, monitor median ${r.monitorMedian} ms`,
          );
        }
      });

      if (sc.bed.lossPct) {
        it('retransmissions are seen and refused by Karn\'s rule; slow samples are explained by the record', () => {
          const st = run.tap.stats;
          assert.ok(st && st.retransmissions > 0, `retransmissions counted: ${st?.retransmissions}`);
          assert.ok(st && st.karnRefused > 0, `Karn refusals: ${st?.karnRefused}`);
          // A sample far above the RTT is legitimate only when the record shows the
          // frames themselves took that long (a lost answer retransmitted by the peer).
          const slow = run.match.matched.filter((m) => m.sample.rttMs > run.rttMs + 5);
          for (const m of slow) {
            console.log(`      slow sample ${m.sample.rttMs.toFixed(3)} ms (${m.sample.kind} ${m.sample.sport}->${m.sample.dport}); record ${m.expectedMs.toFixed(3)} ms (held ${m.holdOutMs.toFixed(3)} + peer ${m.peerMs.toFixed(3)} + held ${m.holdBackMs.toFixed(3)})`);
            assert.ok(Math.abs(m.diffMs) <= 1, `slow sample ${m.sample.rttMs} ms not explained by the record (${m.expectedMs} ms)`);
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
          console.log(`      ${show('any', a)}; ${show('tap', t)}`);
          assert.ok(Math.abs(a.length - t.length) <= t.length * 0.02, `any: ${a.length} samples, tap: ${t.length}`);
          assert.ok(Math.abs(median(a) - median(t)) <= 0.05, 'medians differ');
          assert.ok(Math.abs(median(a) - run.rttMs) <= medianTolerance(run.rttMs));
        });
      }

      if (sc.frameSizes && !sc.bed.vethHop) {
        it('the TAP carries MTU-sized frames (no offload): what a wire would show', () => {
          assert.ok(run.frames.length > 100, `tcpdump saw ${run.frames.length} frames`);
          const max = Math.max(...run.frames);
          console.log(`      largest frame on ${run.bed.hostIf}: ${max} bytes (${run.frames.length} frames)`);
          assert.ok(max <= 1514, `a ${max}-byte frame on a 1500-byte MTU TAP`);
          assert.ok(max >= 1500, 'no full-sized segment in a bulk upload');
        });
      }

      if (sc.bed.vethHop) {
        it('the veth capture saw offloaded super-segments (TSO/GSO), and samples stayed right', () => {
          // The engine times a super-segment's first partial ACK; the per-sample
          // check above already holds every sample to the forwarder's record of
          // the MTU-sized pieces. Here: the offload really happened.
          assert.ok(run.frames.length > 100, `tcpdump saw ${run.frames.length} frames`);
          const big = run.frames.filter((n) => n > 1514);
          const max = Math.max(...run.frames);
          console.log(`      ${big.length}/${run.frames.length} frames above 1514 bytes on ${run.bed.hostIf}, largest ${max} bytes`);
          assert.ok(max >= 10000, `largest frame ${max} bytes: no super-segments, offloads off?`);
        });
      }
    });
  }
});
