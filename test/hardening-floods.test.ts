/**
 * Hardening, floods (issue 7): a SYN flood from a million spoofed sources
 * and a flood of a million one-packet flows, each through an offline
 * monitor with maxFlows 10000 in a child process, with a real host pair's
 * connection interleaved. The flow table must stay bounded (peak RSS within
 * what 10000 flows imply over the same capture without the flood), every
 * flow beyond the bound must be counted as evicted, and the real pair's
 * RTTs must come out exactly as written.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HostPairReport, MonitorStats } from '../src';
import { ACK, MS, PSH, PcapWriter, RealPair, SYN, US, ip4, ip4str, isn } from './hardening-helpers/capture-writer';

const CHILD = path.join(__dirname, 'hardening-helpers', 'monitor-child.js');
const LOCAL = '192.0.2.10';
const REAL_REMOTE = '198.51.100.20';
const FLOOD = 1_000_000;
const MAX_FLOWS = 10_000;
/** Flood packets are 20 µs apart: 50 000 per second, 20 s of packet time. */
const STEP_NS = 20 * US;
/** 100.64.0.0/10: a million distinct spoofed sources. */
const SPOOF_BASE = ip4('100.64.0.0');

interface ChildResult {
  maxRssKb: number;
  seconds: number;
  stats: MonitorStats;
  rows: HostPairReport[];
  reports: number;
  rowsTotal: number;
  maxRows: number;
  errors: string[];
}

function runChild(file: string, extra: Record<string, unknown> = {}): ChildResult {
  const options = { file, local: [LOCAL], maxFlows: MAX_FLOWS, reportInterval: 5, ...extra };
  const out = execFileSync(process.execPath, [CHILD, JSON.stringify(options), REAL_REMOTE], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as ChildResult;
}

function realPair(): RealPair {
  // Handshake RTT 12 ms, then a request every 100 ms acknowledged 25 ms later.
  return new RealPair({
    local: LOCAL,
    remote: REAL_REMOTE,
    startNs: 1 * MS,
    endNs: FLOOD * STEP_NS,
    handshakeMs: 12,
    rttMs: 25,
    everyMs: 100,
  });
}

/**
 * Upper bound of what maxFlows flows may add to the peak RSS, from the
 * engine's layout (src-native/flow.h, pool.h, pairs.h, slab.h), each term
 * rounded up generously:
 *  - flow entries: 144 B each in 4096-entry chunks -> at most 3 chunks;
 *  - flow and host-pair hash indexes: 8 B slots, 2 slots per entry, rounded
 *    to a power of two -> 32768 slots each;
 *  - host pairs (one per spoofed source): ~128 B each in 4096-entry chunks;
 *  - per-flow segment rings: a 4-entry block of 20 B segments, slab chunks
 *    of 256 kB;
 *  - the report rows of one report in JavaScript (one row per host pair
 *    with a live flow: 10000 objects of ~17 properties, ~1 kB each) and the
 *    same rows in the native mailbox (~140 B each), twice over (a report is
 *    built while the previous one is still referenced).
 * The sum is doubled for allocator and GC slack. A table that grew with the
 * flood instead (a million flows) would add at least 144 MB of flow entries
 * alone.
 */
function boundBytes(flows: number): number {
  const chunks = (n: number, per: number, size: number): number => Math.ceil(n / per) * per * size;
  const slots = 2 ** Math.ceil(Math.log2(flows * 2)) * 8;
  const engine = chunks(flows, 4096, 144) + 2 * slots + chunks(flows, 4096, 128) + chunks(flows * 80, 256 * 1024, 1);
  const rows = 2 * flows * (1024 + 140);
  return 2 * (engine + rows);
}

describe('hardening: floods', function () {
  this.timeout(240_000);
  let dir: string;
  let baseline: ChildResult;
  let pairPackets = 0;
  let pairSamples = 0;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passive-rtt-flood-'));
    const w = new PcapWriter(path.join(dir, 'baseline.pcap'));
    const pair = realPair();
    pair.writeUntil(w, Infinity);
    w.close();
    pairPackets = pair.packets;
    pairSamples = pair.samples;
    baseline = runChild(w.file);
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The real pair's rows: exactly the RTTs written, whatever the flood did. */
  function checkRealPair(r: ChildResult): void {
    const samples = r.rows.reduce((n, row) => n + row.samples, 0);
    assert.equal(samples, pairSamples, 'every sample of the real pair is reported');
    for (const row of r.rows) {
      assert.equal(row.src, LOCAL);
      if (row.samples === 0) continue;
      assert.equal(row.maxMs, 25, `interval max ${row.maxMs}`);
      assert.equal(row.p50Ms, 25);
      assert.equal(row.p99Ms, 25);
      assert.ok(row.minMs === 25 || row.minMs === 12, `interval min ${row.minMs}`);
    }
    const first = r.rows.find((row) => row.samples > 0);
    assert.equal(first?.minMs, 12, 'the handshake sample (12 ms) is in the first report');
    assert.equal(r.stats.samples, pairSamples, 'the flood gives no sample');
  }

  it('baseline: the real pair alone', function () {
    assert.deepEqual(baseline.errors, []);
    assert.equal(baseline.stats.packets, pairPackets);
    assert.equal(baseline.stats.flowsCreated, 1);
    assert.equal(baseline.stats.flowsEvicted, 0);
    checkRealPair(baseline);
  });

  it('a SYN flood from a million spoofed sources (with SYN/ACK replies) stays within maxFlows', function () {
    const file = path.join(dir, 'synflood.pcap');
    const w = new PcapWriter(file);
    const pair = realPair();
    const local = ip4(LOCAL);
    for (let i = 0; i < FLOOD; i++) {
      const t = 1 * MS + i * STEP_NS;
      pair.writeUntil(w, t);
      const src = SPOOF_BASE + i;
      const sport = 1024 + (i % 60000);
      const seq = isn(i);
      w.tcp(t, { src, dst: local, sport, dport: 80, seq, ack: 0, flags: SYN });
      // The local host answers every SYN (its SYN/ACK is an outgoing segment
      // the sampler records and that is never acknowledged).
      w.tcp(t + 5 * US, { src: local, dst: src, sport: 80, dport: sport, seq: isn(i + FLOOD), ack: seq + 1, flags: SYN | ACK });
    }
    pair.writeUntil(w, Infinity);
    w.close();
    const r = runChild(file);
    const bound = baseline.maxRssKb + boundBytes(MAX_FLOWS) / 1024;
    console.log(
      `      SYN flood: ${w.count} packets in ${r.seconds.toFixed(1)} s, peak RSS ${(r.maxRssKb / 1024).toFixed(1)} MB ` +
        `(baseline ${(baseline.maxRssKb / 1024).toFixed(1)} MB, bound ${(bound / 1024).toFixed(1)} MB), ` +
        `evicted ${r.stats.flowsEvicted}, largest report ${r.maxRows} rows`,
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.stats.packets, 2 * FLOOD + pairPackets);
    assert.equal(r.stats.tcp, r.stats.packets);
    // One flow per spoofed source plus the real one; the table holds
    // maxFlows at the end, nothing idled out (idleTtl 300 s > 20 s), so
    // every other flow was evicted.
    assert.equal(r.stats.flowsCreated, FLOOD + 1, 'the real flow was never evicted (it would be created again)');
    assert.equal(r.stats.flowsActive, MAX_FLOWS);
    assert.equal(r.stats.flowsExpired, 0);
    assert.equal(r.stats.flowsEvicted, FLOOD + 1 - MAX_FLOWS);
    assert.ok(r.stats.hostPairs <= MAX_FLOWS, `host pairs ${r.stats.hostPairs}`);
    assert.ok(r.maxRows <= MAX_FLOWS, `a report holds at most one row per live flow's pair, got ${r.maxRows}`);
    assert.ok(r.maxRssKb <= bound, `peak RSS ${r.maxRssKb} kB above the bound ${bound.toFixed(0)} kB`);
    checkRealPair(r);
  });

  it('a flood of a million one-packet flows stays within maxFlows', function () {
    const file = path.join(dir, 'oneshot.pcap');
    const w = new PcapWriter(file);
    const pair = realPair();
    const local = ip4(LOCAL);
    for (let i = 0; i < FLOOD; i++) {
      const t = 1 * MS + i * STEP_NS;
      pair.writeUntil(w, t);
      const remote = SPOOF_BASE + i;
      const port = 1024 + (i % 60000);
      if (i % 2 === 0) {
        // Outgoing data to a new destination: a recorded segment, never acknowledged.
        w.tcp(t, { src: local, dst: remote, sport: port, dport: 443, seq: isn(i), ack: 1, flags: PSH | ACK, payload: 100 });
      } else {
        // An incoming ACK for data the capture never saw: no sample, still a flow.
        w.tcp(t, { src: remote, dst: local, sport: port, dport: 80, seq: isn(i), ack: isn(~i), flags: ACK });
      }
    }
    pair.writeUntil(w, Infinity);
    w.close();
    const r = runChild(file);
    const bound = baseline.maxRssKb + boundBytes(MAX_FLOWS) / 1024;
    console.log(
      `      one-packet flows: ${w.count} packets in ${r.seconds.toFixed(1)} s, peak RSS ${(r.maxRssKb / 1024).toFixed(1)} MB ` +
        `(baseline ${(baseline.maxRssKb / 1024).toFixed(1)} MB, bound ${(bound / 1024).toFixed(1)} MB), evicted ${r.stats.flowsEvicted}`,
    );
    assert.deepEqual(r.errors, []);
    assert.equal(r.stats.packets, FLOOD + pairPackets);
    assert.equal(r.stats.flowsCreated, FLOOD + 1);
    assert.equal(r.stats.flowsActive, MAX_FLOWS);
    assert.equal(r.stats.flowsEvicted, FLOOD + 1 - MAX_FLOWS);
    assert.ok(r.maxRssKb <= bound, `peak RSS ${r.maxRssKb} kB above the bound ${bound.toFixed(0)} kB`);
    checkRealPair(r);
    // The remotes were distinct: check one from each end of the range is a plain address.
    assert.equal(ip4str(SPOOF_BASE + FLOOD - 1), '100.79.66.63');
  });
});
