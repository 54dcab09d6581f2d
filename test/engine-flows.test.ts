/**
 * Flows, reports and aggregates over written captures: port reuse,
 * maxFlows eviction, idle and FIN expiry and report intervals in packet
 * time, RFC 6298 smoothing, percentiles, offline local-address detection,
 * error codes and BPF filters.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { analyze, RttError, type HostPairReport, type RttSample } from '../src';
import { BASE_S, Conversation, merge } from './helpers/conversation';
import { capture, expectSamples, near, tmpDir } from './helpers/expect';
import { prng } from './helpers/prng';
import { addon, REPORT_FIELDS, SAMPLE_FIELDS, SAMPLE_KINDS } from '../src/native';

const LOCAL = '10.0.0.1';

function conv(lport: number, remote: string, opts: { isn?: number; risn?: number; offset?: number } = {}): Conversation {
  return new Conversation({
    client: { addr: LOCAL, port: lport, isn: opts.isn ?? 1000 },
    server: { addr: remote, port: 80, isn: opts.risn ?? 5000 },
    offset: opts.offset,
  });
}

/** The row of a report for a remote address, if present. */
function row(batch: HostPairReport[] | undefined, remote: string): HostPairReport | undefined {
  assert.ok(batch, 'report batch missing');
  return batch.find((r) => r.dst === remote);
}

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof RttError, `expected an RttError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

/** RFC 6298 §2: SRTT and RTTVAR after each sample (RTTVAR updated with the old SRTT first). */
function rfc6298(rtts: number[]): { srtt: number; rttvar: number } {
  let srtt = 0;
  let rttvar = 0;
  rtts.forEach((r, i) => {
    if (i === 0) {
      srtt = r;
      rttvar = r / 2;
    } else {
      rttvar = 0.75 * rttvar + 0.25 * Math.abs(srtt - r);
      srtt = 0.875 * srtt + 0.125 * r;
    }
  });
  return { srtt, rttvar };
}

/** go-metro with soften off: the mean, and the mean absolute difference of consecutive samples. */
function plain(rtts: number[]): { mean: number; jitter: number } {
  const mean = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  let d = 0;
  for (let i = 1; i < rtts.length; i++) d += Math.abs(rtts[i] - rtts[i - 1]);
  return { mean, jitter: rtts.length > 1 ? d / (rtts.length - 1) : 0 };
}

/** A flow that handshakes (RTT hs µs) and then times one request per RTT of `rtts` (µs), each after the previous ACK. */
function requests(c: Conversation, hs: number, rtts: number[], gap = 1000): number[] {
  c.handshake(0, hs, hs + 100);
  let t = hs + 200;
  const acks: number[] = [];
  for (const r of rtts) {
    c.data(t, 'client', 10);
    c.ack(t + r, 'server');
    acks.push(t + r);
    t += r + gap;
  }
  return acks;
}

describe('engine: flows, reports and aggregates', () => {
  it('port reuse: a new SYN with a new ISN starts a new connection', async () => {
    const c = conv(40000, '10.0.0.2', { isn: 1000 });
    c.handshake(0, 30_000, 30_100); // 30 000 µs
    c.data(50_000, 'client', 100); // [1001, 1101)
    c.ack(80_000, 'server'); // 30 000 µs
    c.data(100_000, 'client', 100, { lost: true }); // [1101, 1201): never acknowledged
    // The same 5-tuple, two seconds later: ISN 1150 lies inside the stale segment.
    const n = conv(40000, '10.0.0.2', { isn: 1150, risn: 777_777 });
    n.syn(2_000_000);
    n.synAck(2_020_000); // handshake again: 20 000 µs
    n.ack(2_020_100, 'client');
    n.data(2_020_200, 'client', 50); // [1151, 1201): ends where the stale segment ended
    n.ack(2_050_200, 'server'); // 1201: 30 000 µs from the new segment
    const r = await analyze({ file: capture(merge(c.records(), n.records())), local: [LOCAL], samples: true });
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 80_000, rtt: 30_000, kind: 'data' },
      { at: 2_020_000, rtt: 20_000, kind: 'handshake' },
      { at: 2_050_200, rtt: 30_000, kind: 'data' },
    ]);
  });

  it("port reuse, server role: the client's new SYN restarts the connection", async () => {
    const srv = (isn: number, cisn: number): Conversation =>
      new Conversation({
        client: { addr: '10.0.0.2', port: 50000, isn: cisn },
        server: { addr: LOCAL, port: 8080, isn },
        local: 'server',
      });
    const c = srv(1000, 5000);
    c.syn(0);
    c.synAck(100);
    c.ack(30_100, 'client'); // 30 000 µs
    c.data(30_200, 'client', 100);
    c.data(31_000, 'server', 100); // [1001, 1101)
    c.ack(61_000, 'client'); // 30 000 µs
    c.data(100_000, 'server', 100, { lost: true }); // [1101, 1201): never acknowledged
    const n = srv(1150, 900_000); // ISN 1150 inside the stale segment
    n.syn(2_000_000);
    n.synAck(2_000_100);
    n.ack(2_025_100, 'client'); // 1151: handshake, 25 000 µs
    n.data(2_025_200, 'client', 100);
    n.data(2_026_000, 'server', 50); // [1151, 1201)
    n.ack(2_051_000, 'client'); // 1201: 25 000 µs from the new segment
    const r = await analyze({ file: capture(merge(c.records(), n.records())), local: [LOCAL], samples: true });
    expectSamples(r.samples, [
      { at: 30_100, rtt: 30_000, kind: 'handshake' },
      { at: 61_000, rtt: 30_000, kind: 'data' },
      { at: 2_025_100, rtt: 25_000, kind: 'handshake' },
      { at: 2_051_000, rtt: 25_000, kind: 'data' },
    ]);
  });

  it('a connection reopened on the 5-tuple after a FIN is open again: it expires by idleTtl, not expTtl', async () => {
    const old = conv(40000, '10.0.0.2', { isn: 1000 });
    old.handshake(0, 20_000, 20_100);
    old.fin(100_000, 'client');
    old.fin(120_000, 'server');
    old.ack(120_100, 'client'); // closed at 0.12 s: would expire at 2.12 s
    const n = conv(40000, '10.0.0.2', { isn: 3_000_000, risn: 4_000_000 });
    n.syn(1_000_000); // a new connection on the same 5-tuple, 0.88 s later
    n.synAck(1_020_000); // 20 000 µs
    n.ack(1_020_100, 'client');
    n.data(1_500_000, 'client', 10);
    n.ack(1_520_000, 'server'); // 20 000 µs; then idle: expires at 11.52 s with idleTtl 10
    const k = conv(40004, '10.0.0.4');
    k.handshake(300, 10_300, 10_400);
    for (let t = 500_000; t <= 8_000_000; t += 500_000) {
      k.data(t, 'client', 10);
      k.ack(t + 5000, 'server');
    }
    const r = await analyze({
      file: capture(merge(old.records(), n.records(), k.records())),
      local: [LOCAL],
      samples: true,
      idleTtl: 10,
      expTtl: 2,
      reportInterval: 1,
    });
    expectSamples(
      r.samples.filter((s) => s.dst === '10.0.0.2'),
      [
        { at: 20_000, rtt: 20_000, kind: 'handshake' },
        { at: 120_000, rtt: 20_000, kind: 'data' }, // the FIN
        { at: 1_020_000, rtt: 20_000, kind: 'handshake' },
        { at: 1_520_000, rtt: 20_000, kind: 'data' },
      ],
    );
    assert.equal(r.stats.flowsExpired, 0);
    for (const batch of r.reports.slice(3)) {
      assert.equal(row(batch, '10.0.0.2')?.flows, 1, `at ${(batch[0]?.ts ?? 0) - BASE_S} s`);
    }
  });

  // Times are multiplied by `k`: k = 1 keeps every gap under a second (a
  // recency list refreshed lazily, e.g. once a second, must still evict
  // exactly), k = 40 spreads them over seconds.
  for (const k of [1, 40]) {
    it(`maxFlows evicts the least recently seen flow (gaps × ${k})`, async () => {
      const a = conv(40001, '10.0.0.2');
      const b = conv(40002, '10.0.0.2');
      const c = conv(40003, '10.0.0.2');
      a.syn(k * 0);
      b.syn(k * 100);
      a.synAck(k * 30_000);
      b.synAck(k * 30_100);
      a.ack(k * 30_200, 'client');
      b.ack(k * 30_300, 'client');
      b.data(k * 100_000, 'client', 100); // B seen at 100 000
      a.data(k * 100_100, 'client', 100); // A seen later, although created first
      c.syn(k * 100_200); // a third flow: B is the least recently seen
      c.synAck(k * 120_200); // 20 000 µs
      a.ack(k * 130_100, 'server'); // A kept its segment: 30 000 µs
      b.ack(k * 130_200, 'server'); // B was evicted with its segment: nothing
      const file = capture(merge(a.records(), b.records(), c.records()));
      const r = await analyze({ file, local: [LOCAL], samples: true, maxFlows: 2 });
      expectSamples(r.samples, [
        { at: k * 30_000, rtt: k * 30_000, kind: 'handshake', sport: 40001 },
        { at: k * 30_100, rtt: k * 30_000, kind: 'handshake', sport: 40002 },
        { at: k * 120_200, rtt: k * 20_000, kind: 'handshake', sport: 40003 },
        { at: k * 130_100, rtt: k * 30_000, kind: 'data', sport: 40001 },
      ]);
      // C evicted B; B's late ACK made a flow again and evicted C (seen at 120 200, before A).
      assert.equal(r.stats.flowsEvicted, 2);
      assert.equal(r.stats.flowsCreated, 4);
      // Control: without the bound, B's ACK is timed.
      const all = await analyze({ file, local: [LOCAL], samples: true });
      expectSamples(all.samples, [
        { at: k * 30_000, rtt: k * 30_000, kind: 'handshake', sport: 40001 },
        { at: k * 30_100, rtt: k * 30_000, kind: 'handshake', sport: 40002 },
        { at: k * 120_200, rtt: k * 20_000, kind: 'handshake', sport: 40003 },
        { at: k * 130_100, rtt: k * 30_000, kind: 'data', sport: 40001 },
        { at: k * 130_200, rtt: k * 30_200, kind: 'data', sport: 40002 },
      ]);
      assert.equal(all.stats.flowsEvicted, 0);
    });
  }

  it('idle and FIN expiry happen in packet time and show in the reports', async () => {
    // A: idle after 80 ms (expires at 10.08 s with idleTtl 10).
    const a = conv(40001, '10.0.0.2');
    a.syn(100);
    a.synAck(30_100);
    a.ack(30_200, 'client');
    a.data(50_000, 'client', 100);
    a.ack(80_000, 'server');
    // B: closed by FIN at 0.62 s (expires at 2.62 s with expTtl 2).
    const b = conv(40002, '10.0.0.3');
    b.syn(200);
    b.synAck(20_200);
    b.ack(20_300, 'client');
    b.data(500_000, 'client', 100);
    b.ack(520_000, 'server');
    b.fin(600_000, 'client');
    b.fin(620_000, 'server');
    b.ack(620_100, 'client');
    // C: a request every second until 30 s moves packet time on.
    const k = conv(40003, '10.0.0.4');
    k.syn(0);
    k.synAck(10_000);
    k.ack(10_100, 'client');
    for (let s = 1; s <= 30; s++) {
      k.data(s * 1e6, 'client', 10);
      k.ack(s * 1e6 + 10_000, 'server');
    }
    const r = await analyze({
      file: capture(merge(a.records(), b.records(), k.records())),
      local: [LOCAL],
      samples: true,
      idleTtl: 10,
      expTtl: 2,
      reportInterval: 5,
    });
    assert.equal(r.samples.length, 2 + 3 + 31);
    assert.equal(r.stats.flowsExpired, 2);
    assert.equal(r.stats.flowsActive, 1);
    const ts = r.reports.map((b) => b[0]?.ts);
    assert.deepEqual(
      ts.map((t) => Math.round(((t ?? 0) - BASE_S) * 1e6)),
      [5e6, 10e6, 15e6, 20e6, 25e6, 30e6, 30_010_000],
    );
    // 5 s: B had samples in the interval but its flow expired at 2.62 s.
    const b5 = row(r.reports[0], '10.0.0.3');
    assert.equal(b5?.samples, 3);
    assert.equal(b5?.flows, 0);
    assert.equal(row(r.reports[0], '10.0.0.2')?.flows, 1);
    assert.equal(row(r.reports[0], '10.0.0.4')?.samples, 5); // handshake, 1.01 .. 4.01 s
    // 10 s: B is gone; A is idle (no sample) but alive, its smoothed RTT kept.
    assert.equal(row(r.reports[1], '10.0.0.3'), undefined);
    const a10 = row(r.reports[1], '10.0.0.2');
    assert.ok(a10, 'A still reported at 10 s');
    assert.equal(a10.samples, 0);
    assert.equal(a10.flows, 1);
    assert.equal(a10.rttMs, null);
    assert.equal(a10.minMs, null);
    assert.equal(a10.p50Ms, null);
    near(a10.avgMs, rfc6298([30, 30]).srtt, 1e-6, 'A avg');
    near(a10.jitterMs, rfc6298([30, 30]).rttvar, 1e-6, 'A jitter');
    // 15 s on: A expired at 10.08 s.
    for (let i = 2; i < 7; i++) {
      assert.equal(row(r.reports[i], '10.0.0.2'), undefined, `report ${i}`);
      assert.deepEqual(
        r.reports[i]?.map((x) => x.dst),
        ['10.0.0.4'],
      );
    }
  });

  it("idle expiry follows each flow's last packet exactly, whatever order the flows were created in", async () => {
    // A is created first but seen last at 0.6 s; B second, seen last at
    // 0.05 s. With idleTtl 10, B is gone by 10.05 s and A by 10.6 s, so
    // the report at 10.5 s lists A and not B.
    const a = conv(40001, '10.0.0.2');
    a.syn(0);
    a.synAck(20_000);
    a.ack(20_100, 'client');
    a.data(500_000, 'client', 10);
    a.ack(600_000, 'server');
    const b = conv(40002, '10.0.0.3');
    b.syn(100);
    b.synAck(30_100);
    b.ack(50_000, 'client');
    const k = conv(40003, '10.0.0.4');
    k.syn(200);
    k.synAck(10_200);
    k.ack(10_300, 'client');
    for (let t = 300_000; t <= 12_000_000; t += 100_000) {
      k.data(t, 'client', 10);
      k.ack(t + 5000, 'server');
    }
    const r = await analyze({
      file: capture(merge(a.records(), b.records(), k.records())),
      local: [LOCAL],
      idleTtl: 10,
      reportInterval: 0.5,
    });
    const at = (s: number): HostPairReport[] | undefined => r.reports.find((x) => Math.round(((x[0]?.ts ?? 0) - BASE_S) * 1000) === s * 1000);
    const dsts = (s: number): string[] => (at(s) ?? []).map((x) => x.dst).sort();
    assert.deepEqual(dsts(10), ['10.0.0.2', '10.0.0.3', '10.0.0.4']);
    assert.equal(row(at(10), '10.0.0.3')?.flows, 1);
    assert.deepEqual(dsts(10.5), ['10.0.0.2', '10.0.0.4'], 'at 10.5 s: B idle for 10.45 s, A for 9.9 s');
    assert.deepEqual(dsts(11), ['10.0.0.4']);
    assert.equal(r.stats.flowsExpired, 2);
  });

  it('report intervals in packet time: which samples land in which report', async () => {
    const c = conv(40000, '10.0.0.2');
    c.handshake(0, 30_000, 30_100); // 30 ms at 0.03 s
    c.data(200_000, 'client', 100);
    c.ack(240_000, 'server'); // 40 ms at 0.24 s
    c.data(500_000, 'client', 100);
    c.ack(550_000, 'server'); // 50 ms at 0.55 s
    c.data(980_000, 'client', 100);
    c.ack(1_000_000, 'server'); // 20 ms exactly at the 1 s boundary: the second interval
    c.data(1_500_000, 'client', 100);
    c.ack(1_560_000, 'server'); // 60 ms at 1.56 s
    c.data(2_000_000, 'client', 100); // the first packet at 2 s emits the second report
    c.ack(2_010_000, 'server'); // 10 ms
    c.fin(2_500_000, 'client');
    c.fin(2_530_000, 'server'); // 30 ms
    c.ack(2_530_100, 'client');
    const r = await analyze({ file: capture(c.records()), local: [LOCAL], samples: true, reportInterval: 1 });
    assert.equal(r.reports.length, 3);
    const rows = r.reports.map((b) => {
      assert.equal(b.length, 1);
      return b[0];
    });
    const at = rows.map((x) => Math.round((x.ts - BASE_S) * 1e6));
    assert.deepEqual(at, [1_000_000, 2_000_000, 2_530_100]);
    const want = [
      { samples: 3, kinds: { data: 2, handshake: 1, ts: 0 }, last: 50, min: 30, max: 50 },
      { samples: 2, kinds: { data: 2, handshake: 0, ts: 0 }, last: 60, min: 20, max: 60 },
      { samples: 2, kinds: { data: 2, handshake: 0, ts: 0 }, last: 30, min: 10, max: 30 },
    ];
    rows.forEach((x, i) => {
      const w = want[i];
      assert.equal(x.samples, w.samples, `report ${i} samples`);
      assert.deepEqual(x.samplesByKind, w.kinds, `report ${i} kinds`);
      near(x.rttMs, w.last, 1e-6, `report ${i} rtt`);
      near(x.minMs, w.min, 1e-6, `report ${i} min`);
      near(x.maxMs, w.max, 1e-6, `report ${i} max`);
      assert.equal(x.flows, 1);
      assert.equal(x.src, LOCAL);
      assert.equal(x.dst, '10.0.0.2');
      assert.equal(x.iface, 'file');
    });
    assert.deepEqual(
      rows.map((x) => x.totalSamples),
      [3, 5, 7],
    );
  });

  for (const soften of [true, false]) {
    it(`avg and jitter over intervals, soften ${String(soften)} (${soften ? 'RFC 6298 SRTT/RTTVAR' : 'running means'})`, async () => {
      const c = conv(40000, '10.0.0.2');
      c.handshake(0, 30_000, 30_100);
      const sends = [200_000, 400_000, 600_000, 800_000, 1_200_000, 1_400_000];
      const rtts = [25_000, 40_000, 35_000, 60_000, 20_000, 33_333];
      sends.forEach((t, i) => {
        c.data(t, 'client', 100);
        c.ack(t + rtts[i], 'server');
      });
      const r = await analyze({ file: capture(c.records()), local: [LOCAL], samples: true, reportInterval: 1, soften });
      const ms = [30, ...rtts.map((x) => x / 1000)];
      assert.deepEqual(
        r.samples.map((s) => Math.round(s.rttMs * 1000)),
        ms.map((x) => Math.round(x * 1000)),
      );
      assert.equal(r.reports.length, 2);
      const first = ms.slice(0, 5); // acked before 1 s
      [first, ms].forEach((upto, i) => {
        const x = r.reports[i]?.[0];
        assert.ok(x);
        const want = soften ? rfc6298(upto) : { srtt: plain(upto).mean, rttvar: plain(upto).jitter };
        near(x.avgMs, want.srtt, 1e-6, `report ${i} avg`);
        near(x.jitterMs, want.rttvar, 1e-6, `report ${i} jitter`);
        near(x.rttMs, upto.at(-1) as number, 1e-6, `report ${i} last`);
      });
    });
  }

  it('a report row carries every field, in order, each from its own source', async () => {
    // Interval 1 (0-1 s): handshake 30 ms, a request of 10 ms. Interval 2: a
    // second connection's handshake of 25 ms, requests of 20, 40 and 15 ms.
    const a = conv(40001, '10.0.0.2');
    a.handshake(0, 30_000, 30_100);
    a.data(100_000, 'client', 10);
    a.ack(110_000, 'server');
    for (const [t, rtt] of [
      [1_200_000, 20_000],
      [1_400_000, 40_000],
      [1_600_000, 15_000],
    ]) {
      a.data(t, 'client', 10);
      a.ack(t + rtt, 'server');
    }
    a.data(2_500_000, 'client', 10); // moves packet time past the second report
    const b = conv(40002, '10.0.0.2', { offset: 1_000_000 });
    b.handshake(0, 25_000, 25_100);
    const r = await analyze({ file: capture(merge(a.records(), b.records())), local: [LOCAL], reportInterval: 1 });
    const x = r.reports[1]?.[0];
    assert.ok(x, 'second report');
    assert.deepEqual(Object.keys(x), [
      'ts',
      'iface',
      'src',
      'dst',
      'samples',
      'samplesByKind',
      'rttMs',
      'avgMs',
      'jitterMs',
      'minMs',
      'maxMs',
      'p50Ms',
      'p95Ms',
      'p99Ms',
      'totalSamples',
      'flows',
    ]);
    const { srtt, rttvar } = rfc6298([30, 10, 25, 20, 40, 15]);
    assert.deepEqual(
      { ...x, ts: Math.round((x.ts - BASE_S) * 1e6) },
      {
        ts: 2_000_000,
        iface: 'file',
        src: LOCAL,
        dst: '10.0.0.2',
        samples: 4,
        samplesByKind: { data: 3, handshake: 1, ts: 0 },
        rttMs: x.rttMs,
        avgMs: x.avgMs,
        jitterMs: x.jitterMs,
        minMs: x.minMs,
        maxMs: x.maxMs,
        p50Ms: x.p50Ms,
        p95Ms: x.p95Ms,
        p99Ms: x.p99Ms,
        totalSamples: 6,
        flows: 2,
      },
    );
    near(x.rttMs, 15, 1e-6, 'last');
    near(x.avgMs, srtt, 1e-6, 'avg');
    near(x.jitterMs, rttvar, 1e-6, 'jitter');
    near(x.minMs, 15, 1e-6, 'min');
    near(x.maxMs, 40, 1e-6, 'max');
    near(x.p50Ms, 20, 0.2, 'p50');
    near(x.p95Ms, 40, 0.4, 'p95');
    near(x.p99Ms, 40, 0.4, 'p99');
    // The addon packs these numbers in the order native.ts unpacks them.
    assert.deepEqual(addon().reportFields, [...REPORT_FIELDS]);
  });

  it('a sample carries every field, in order, each from its own source', async () => {
    const a = conv(40001, '10.0.0.2');
    a.handshake(0, 30_000, 30_100);
    a.data(100_000, 'client', 10);
    a.ack(112_500, 'server');
    const r = await analyze({ file: capture(a.records()), local: [LOCAL], samples: true });
    assert.deepEqual(
      r.samples.map((s) => ({ ...s, ts: Math.round((s.ts - BASE_S) * 1e6) })),
      [
        { ts: 30_000, src: LOCAL, sport: 40001, dst: '10.0.0.2', dport: 80, rttMs: 30, kind: 'handshake' },
        { ts: 112_500, src: LOCAL, sport: 40001, dst: '10.0.0.2', dport: 80, rttMs: 12.5, kind: 'data' },
      ],
    );
    assert.deepEqual(addon().sampleFields, [...SAMPLE_FIELDS]);
    assert.deepEqual(addon().sampleKinds, [...SAMPLE_KINDS]);
  });

  it('percentiles: exact on a multiset, within 1 % of the order statistics on a log-uniform set', async () => {
    // Ten samples: 3 × 10 ms, 5 × 20 ms (with the handshake), 2 × 100 ms.
    const few = conv(40000, '10.0.0.2');
    requests(few, 20_000, [100_000, 10_000, 20_000, 10_000, 20_000, 100_000, 20_000, 10_000, 20_000]);
    const f = (await analyze({ file: capture(few.records()), local: [LOCAL], reportInterval: 1e6 })).reports[0]?.[0];
    assert.ok(f);
    assert.equal(f.samples, 10);
    near(f.p50Ms, 20, 0.2, 'p50 of ten');
    near(f.p95Ms, 100, 1, 'p95 of ten');
    near(f.p99Ms, 100, 1, 'p99 of ten');

    // 400 × 10 ms, 501 × 20 ms (with the 20 ms handshake), 80 × 50 ms, 20 × 100 ms.
    const rand = prng(42);
    const set = [...Array<number>(400).fill(10_000), ...Array<number>(500).fill(20_000), ...Array<number>(80).fill(50_000), ...Array<number>(20).fill(100_000)];
    for (let i = set.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [set[i], set[j]] = [set[j], set[i]];
    }
    const c = conv(40000, '10.0.0.2');
    requests(c, 20_000, set);
    const r = await analyze({ file: capture(c.records()), local: [LOCAL], reportInterval: 1e6 });
    assert.equal(r.reports.length, 1);
    const x = r.reports[0]?.[0];
    assert.ok(x);
    assert.equal(x.samples, 1001);
    near(x.minMs, 10, 1e-6, 'min');
    near(x.maxMs, 100, 1e-6, 'max');
    // Every common definition (nearest rank, interpolation) gives these.
    near(x.p50Ms, 20, 0.2, 'p50');
    near(x.p95Ms, 50, 0.5, 'p95');
    near(x.p99Ms, 100, 1, 'p99');

    // 2000 RTTs log-uniform from 5 µs to 50 s, in whole nanoseconds.
    const rtts: number[] = [];
    for (let i = 0; i < 2000; i++) rtts.push(Math.round(5 * Math.exp(rand() * Math.log(1e7)) * 1000) / 1000);
    const d = conv(40000, '10.0.0.2');
    requests(d, 1000, rtts);
    const all = [1000, ...rtts].map((v) => v / 1000).sort((p, q) => p - q);
    const q = await analyze({ file: capture(d.records(), { nano: true }), local: [LOCAL], reportInterval: 1e6 });
    const y = q.reports.at(-1)?.[0];
    assert.ok(y);
    assert.equal(y.samples, 2001);
    near(y.minMs, all[0], 1e-6, 'min');
    near(y.maxMs, all.at(-1) as number, 1e-6, 'max');
    for (const [p, v] of [
      [0.5, y.p50Ms],
      [0.95, y.p95Ms],
      [0.99, y.p99Ms],
    ] as const) {
      // Nearest rank is ceil(p·n); accept anything between its neighbours, ±1 %.
      const k = Math.ceil(p * all.length) - 1;
      const lo = all[Math.max(0, k - 1)] * 0.99;
      const hi = all[Math.min(all.length - 1, k + 1)] * 1.01;
      assert.ok(typeof v === 'number' && v >= lo && v <= hi, `p${p * 100}: ${String(v)} not in [${lo}, ${hi}] (nearest rank ${all[k]})`);
    }
  });

  describe('offline local-address detection', () => {
    function twoRemotes(): string {
      const a = conv(40001, '10.0.0.2');
      a.handshake(0, 30_000, 30_100);
      a.data(30_200, 'client', 100);
      a.ack(60_200, 'server');
      const b = conv(40002, '10.0.0.3');
      b.handshake(1000, 21_000, 21_100);
      b.data(21_200, 'client', 100);
      b.ack(46_200, 'server');
      return capture(merge(a.records(), b.records()));
    }

    it('finds the one address in every flow of a file with two remote hosts', async () => {
      const r = await analyze({ file: twoRemotes(), samples: true });
      assert.deepEqual(r.stats.local, [LOCAL]);
      expectSamples(r.samples, [
        { at: 21_000, rtt: 20_000, kind: 'handshake', dst: '10.0.0.3' },
        { at: 30_000, rtt: 30_000, kind: 'handshake', dst: '10.0.0.2' },
        { at: 46_200, rtt: 25_000, kind: 'data', dst: '10.0.0.3' },
        { at: 60_200, rtt: 30_000, kind: 'data', dst: '10.0.0.2' },
      ]);
    });

    it('a single flow is ambiguous: LOCAL_ADDRESS_UNKNOWN, resolved by exclude', async () => {
      const a = conv(40001, '10.0.0.2');
      a.handshake(0, 30_000, 30_100);
      a.data(30_200, 'client', 100);
      a.ack(60_200, 'server');
      const file = capture(a.records());
      await assert.rejects(analyze({ file, samples: true }), isCode('LOCAL_ADDRESS_UNKNOWN'));
      const r = await analyze({ file, samples: true, exclude: ['10.0.0.2'] });
      assert.deepEqual(r.stats.local, [LOCAL]);
      expectSamples(r.samples, [
        { at: 30_000, rtt: 30_000, kind: 'handshake' },
        { at: 60_200, rtt: 30_000, kind: 'data' },
      ]);
      // Excluding the other side makes the remote the local host: the
      // SYN/ACK is then ours and the client's ACK times it.
      const other = await analyze({ file, samples: true, exclude: [LOCAL] });
      assert.deepEqual(other.stats.local, ['10.0.0.2']);
      expectSamples(other.samples, [{ at: 30_100, rtt: 100, kind: 'handshake' }]);
    });

    it('no address in every flow: LOCAL_ADDRESS_UNKNOWN that says so and names the fix', async () => {
      // Two conversations with no endpoint in common.
      const a = conv(40001, '10.0.0.2');
      a.handshake(0, 30_000, 30_100);
      const b = new Conversation({ client: { addr: '10.0.9.1', port: 40002, isn: 1 }, server: { addr: '10.0.9.2', port: 80, isn: 9 } });
      b.handshake(1000, 21_000, 21_100);
      const file = capture(merge(a.records(), b.records()));
      await assert.rejects(analyze({ file }), (e: unknown) => {
        assert.ok(isCode('LOCAL_ADDRESS_UNKNOWN')(e));
        const m = (e as Error).message;
        assert.match(m, /no single address takes part in every TCP flow/);
        assert.match(m, /--local/);
        return true;
      });
      // Named, it is no longer a question: the other flow is not local.
      const r = await analyze({ file, local: [LOCAL] });
      assert.equal(r.stats.notLocal, 3);
      assert.deepEqual(r.stats.local, [LOCAL]);
    });

    it('a capture without TCP: LOCAL_ADDRESS_UNKNOWN says so; with the address named it ends cleanly with nothing', async () => {
      const empty = capture([]);
      await assert.rejects(analyze({ file: empty }), (e: unknown) => {
        assert.ok(isCode('LOCAL_ADDRESS_UNKNOWN')(e));
        assert.match((e as Error).message, /the capture holds no TCP packet/);
        return true;
      });
      const r = await analyze({ file: empty, local: [LOCAL] });
      assert.equal(r.stats.packets, 0);
      assert.deepEqual(r.reports, []);
    });
  });

  describe('errors and filters', () => {
    it('a missing file: FILE_UNREADABLE', async () => {
      await assert.rejects(analyze({ file: path.join(tmpDir(), 'no-such.pcap'), local: [LOCAL] }), isCode('FILE_UNREADABLE'));
    });

    it('a file that is not a capture: FILE_MALFORMED', async () => {
      const f = path.join(tmpDir(), 'not-a-capture.pcap');
      fs.writeFileSync(f, 'this is a text file, not a pcap\n'.repeat(10));
      await assert.rejects(analyze({ file: f, local: [LOCAL] }), isCode('FILE_MALFORMED'));
    });

    it('an invalid BPF filter: BAD_FILTER', async () => {
      const a = conv(40001, '10.0.0.2');
      a.handshake(0, 30_000, 30_100);
      await assert.rejects(analyze({ file: capture(a.records()), local: [LOCAL], filter: 'tcp and and port' }), isCode('BAD_FILTER'));
    });

    it('a BPF filter excludes a flow', async () => {
      const a = conv(40001, '10.0.0.2');
      a.handshake(0, 30_000, 30_100);
      a.data(30_200, 'client', 100);
      a.ack(60_200, 'server');
      const b = conv(40002, '10.0.0.3');
      b.handshake(1000, 21_000, 21_100);
      b.data(21_200, 'client', 100);
      b.ack(46_200, 'server');
      const file = capture(merge(a.records(), b.records()));
      const r = await analyze({ file, local: [LOCAL], samples: true, filter: 'tcp and not host 10.0.0.3' });
      expectSamples(r.samples, [
        { at: 30_000, rtt: 30_000, kind: 'handshake', dst: '10.0.0.2' },
        { at: 60_200, rtt: 30_000, kind: 'data', dst: '10.0.0.2' },
      ]);
      assert.equal(r.stats.packets, 5);
      assert.equal(r.stats.flowsCreated, 1);
      const samples: RttSample[] = r.samples;
      assert.ok(samples.every((s) => s.dst === '10.0.0.2'));
    });
  });
});
