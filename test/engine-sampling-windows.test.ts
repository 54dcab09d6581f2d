/**
 * go-metro's sampling windows (`sample`, `sample_duration`,
 * `sample_interval`) on capture files: the engine takes packets for
 * sampleDuration seconds, skips sampleInterval seconds, in packet time from
 * the first packet on. Expected samples come from the times written into the
 * capture: an exchange is timed only when both its segment and its ACK fall
 * in one window.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { analyze, RttError } from '../src';
import { BASE_S, Conversation, merge } from './helpers/conversation';
import { capture, near, tmpDir } from './helpers/expect';

const LOCAL = '10.0.0.1';
const REMOTE = '198.51.100.9';
const BIN = path.resolve(__dirname, '..', '..', 'bin', 'passive-rtt.js');

/** Window: 1 s of capture, then 2 s skipped (cycle 3 s), from t = 0. */
const WINDOW_US = 1_000_000;
const GAP_US = 2_000_000;
const inWindow = (tUs: number): boolean => tUs % (WINDOW_US + GAP_US) < WINDOW_US;

/**
 * Handshake at 0 (SYN/ACK 10 ms later), then a 100-byte request every
 * 100 ms for 10 s, each acknowledged 25 ms after it was sent.
 */
function build(): { file: string; packets: { t: number }[]; expected: { tUs: number; rttMs: number; kind: string }[] } {
  const c = new Conversation({ client: { addr: LOCAL, port: 40000, isn: 1000 }, server: { addr: REMOTE, port: 80, isn: 9000 } });
  c.handshake(0, 10_000, 10_100);
  const expected: { tUs: number; rttMs: number; kind: string }[] = [{ tUs: 10_000, rttMs: 10, kind: 'handshake' }];
  // spanning(): its handshake; its segment acknowledged after the gap is not timed.
  const spanHandshake = { tUs: 520_000, rttMs: 20, kind: 'handshake' };
  for (let j = 1; j < 100; j++) {
    const t = j * 100_000;
    c.data(t, 'client', 100);
    c.ack(t + 25_000, 'server');
    if (inWindow(t) && inWindow(t + 25_000) && Math.floor(t / 3e6) === Math.floor((t + 25_000) / 3e6)) {
      expected.push({ tUs: t + 25_000, rttMs: 25, kind: 'data' });
    }
  }
  expected.push(spanHandshake);
  expected.sort((a, b) => a.tUs - b.tUs);
  const d = spanning();
  return { file: capture(merge(c.records(), d.records()), { nano: true, name: 'windows' }), packets: [...c.packets, ...d.packets], expected };
}

/**
 * A second connection whose last segment before a gap is retransmitted in
 * the gap (not captured) and acknowledged after it: the ACK may answer the
 * retransmission (Karn), so nothing may be timed across the gap.
 */
function spanning(): Conversation {
  const d = new Conversation({ client: { addr: LOCAL, port: 40001, isn: 50_000 }, server: { addr: REMOTE, port: 8080, isn: 70_000 } });
  d.handshake(500_000, 520_000, 520_100);
  const seg = d.data(990_000, 'client', 300);
  d.retransmit(1_500_000, seg);
  d.ack(3_001_000, 'server');
  return d;
}

describe('sampling windows on a capture file (packet time)', () => {
  it('times only exchanges inside a window, counts the packets skipped, keeps the pair smoothed across gaps', async () => {
    const { file, packets, expected } = build();
    const r = await analyze({ file, local: [LOCAL], samples: true, reportInterval: 1, sampleDuration: 1, sampleInterval: 2 });
    // 9 requests in [0, 1), 10 in each of [3, 4), [6, 7) and [9, 10), and two handshakes.
    assert.equal(expected.length, 41);
    assert.deepEqual(
      r.samples.map((s) => ({ tUs: Math.round((s.ts - BASE_S) * 1e6), rttMs: Math.round(s.rttMs * 1e6) / 1e6, kind: s.kind })),
      expected,
    );
    const skipped = packets.filter((p) => !inWindow(p.t)).length;
    assert.ok(skipped > 100, `${skipped} packets between windows`);
    assert.equal(r.stats.outsideWindow, skipped);
    assert.equal(r.stats.packets, packets.length);
    // One host pair whose SRTT runs over every sample of every window
    // (RFC 6298 section 2: 7/8 of the old, 1/8 of the new).
    let srtt = 10;
    for (let i = 1; i < expected.length; i++) srtt = 0.875 * srtt + 0.125 * (expected[i]?.rttMs ?? 0);
    const last = r.reports
      .flat()
      .filter((p) => p.dst === REMOTE && p.avgMs !== null)
      .pop();
    near(last?.avgMs, srtt, 1e-6, 'avg_ms');
  });

  it('every packet without sampling; the windows refuse half a setting', async () => {
    const { file, packets } = build();
    const all = await analyze({ file, local: [LOCAL], samples: true });
    // Both handshakes and every request; the retransmitted segment is refused (Karn).
    assert.equal(all.samples.length, 101);
    assert.equal(all.stats.karnRefused, 1);
    assert.equal(all.stats.outsideWindow, 0);
    assert.equal(all.stats.packets, packets.length);
    await assert.rejects(analyze({ file, local: [LOCAL], sampleDuration: 1 }), (e: unknown) => e instanceof RttError && e.code === 'INVALID_OPTION');
    await assert.rejects(
      analyze({ file, local: [LOCAL], sampleDuration: 0, sampleInterval: 1 }),
      (e: unknown) => e instanceof RttError && e.code === 'INVALID_OPTION',
    );
  });

  it('go-metro.yaml with sample: true on interface: file gives the same windows through the command line', () => {
    const { file, expected } = build();
    const cfg = path.join(tmpDir(), 'windows.yaml');
    fs.writeFileSync(
      cfg,
      [
        'instances:',
        '  - interface: file',
        `    pcap: ${file}`,
        `    local_ips: [${LOCAL}]`,
        `    ips: [${REMOTE}]`,
        '    sample: true',
        '    sample_duration: 1',
        '    sample_interval: 2',
        '',
      ].join('\n'),
    );
    const out = execFileSync(process.execPath, [BIN, `-cfg=${cfg}`, '--no-statsd', '--format', 'json', '--samples'], { encoding: 'utf8', timeout: 30000 });
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; ts?: number; rtt_ms?: number });
    const samples = lines.filter((l) => l.type === 'sample');
    assert.deepEqual(
      samples.map((s) => Math.round(((s.ts ?? 0) - BASE_S) * 1e6)),
      expected.map((e) => e.tUs),
    );
    const stats = lines.find((l) => l.type === 'stats') as { outside_window?: number; samples?: number } | undefined;
    assert.ok(stats && (stats.outside_window ?? 0) > 100 && stats.samples === expected.length, `stats line: ${JSON.stringify(stats)}`);
  });
});
