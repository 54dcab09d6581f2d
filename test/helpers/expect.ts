/**
 * Test plumbing: temporary capture files and exact comparisons of samples.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RttSample, SampleKind } from '../../src';
import { BASE_S } from './conversation';
import { linktypeOf, type LinkSpec } from './packets';
import { pcapBuffer, pcapngBuffer, type CaptureRecord, type PcapngOptions } from './pcap-writer';

let dir: string | undefined;

/** A per-process temporary directory, removed at exit. */
export function tmpDir(): string {
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passive-rtt-test-'));
    const d = dir;
    process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

let counter = 0;

/** Writes a classic pcap file of the records and returns its path. */
export function capture(records: CaptureRecord[], opts: { link?: LinkSpec; linktype?: number; nano?: boolean; snaplen?: number; name?: string } = {}): string {
  const linktype = opts.linktype ?? linktypeOf(opts.link ?? { type: 'ether' });
  const file = path.join(tmpDir(), `${opts.name ?? 'capture'}-${++counter}.pcap`);
  fs.writeFileSync(file, pcapBuffer({ linktype, nano: opts.nano, snaplen: opts.snaplen }, records));
  return file;
}

/** Writes a pcapng file of the records and returns its path. */
export function captureNg(records: CaptureRecord[], opts: PcapngOptions, name = 'capture'): string {
  const file = path.join(tmpDir(), `${name}-${++counter}.pcapng`);
  fs.writeFileSync(file, pcapngBuffer(opts, records));
  return file;
}

/** An expected sample: closing packet time and RTT in µs after BASE, kind, and optionally the flow. */
export interface Expected {
  at: number;
  rtt: number;
  kind: SampleKind;
  /** Local port, when the capture has several flows. */
  sport?: number;
  dst?: string;
}

/** 1e-6 ms: RTTs are exact to the nanosecond. */
export const RTT_TOLERANCE_MS = 1e-6;

function show(s: RttSample): string {
  const at = (s.ts - BASE_S) * 1e6;
  return `${s.kind} rtt=${(s.rttMs * 1000).toFixed(3)}us at=${at.toFixed(1)}us ${s.src}:${s.sport}->${s.dst}:${s.dport}`;
}

/**
 * Asserts that `actual` is exactly the expected list, in order: same kinds,
 * RTTs within 1 ns, closing times within 1 µs (a float of unix seconds
 * holds about 0.24 µs at this epoch).
 */
export function expectSamples(actual: RttSample[], expected: Expected[]): void {
  const msg = (): string =>
    `samples:\n  ${actual.map(show).join('\n  ') || '(none)'}\nexpected:\n  ${
      expected.map((e) => `${e.kind} rtt=${e.rtt}us at=${e.at}us`).join('\n  ') || '(none)'
    }`;
  assert.equal(actual.length, expected.length, `sample count differs\n${msg()}`);
  expected.forEach((e, i) => {
    const a = actual[i];
    assert.equal(a.kind, e.kind, `sample ${i}: kind\n${msg()}`);
    assert.ok(Math.abs(a.rttMs - e.rtt / 1000) <= RTT_TOLERANCE_MS, `sample ${i}: rtt ${a.rttMs} ms, expected ${e.rtt / 1000} ms\n${msg()}`);
    assert.ok(Math.abs((a.ts - BASE_S) * 1e6 - e.at) < 1, `sample ${i}: at ${(a.ts - BASE_S) * 1e6} us, expected ${e.at}\n${msg()}`);
    if (e.sport !== undefined) assert.equal(a.sport, e.sport, `sample ${i}: sport\n${msg()}`);
    if (e.dst !== undefined) assert.equal(a.dst, e.dst, `sample ${i}: dst\n${msg()}`);
  });
}

export function near(actual: number | null | undefined, expected: number, tol = RTT_TOLERANCE_MS, what = 'value'): void {
  assert.ok(typeof actual === 'number', `${what}: expected a number near ${expected}, got ${String(actual)}`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual}, expected ${expected} (±${tol})`);
}
