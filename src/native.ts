/**
 * The one file that touches the native addon: loads it with node-gyp-build
 * (a prebuild for this platform, else the local build) and states its
 * surface as types, so nothing past this file sees `any`.
 */
import path from 'node:path';
import { RttError } from './errors';
import type { HostPairReport, MonitorStats, RttErrorCode, RttSample, SampleKind } from './types';

export interface NativeMonitorOptions {
  interface?: string;
  file?: string;
  filter?: string;
  snaplen?: number;
  bufferSize?: number;
  readTimeout?: number;
  threads?: number;
  local?: string[];
  exclude?: string[];
  idleTtl?: number;
  expTtl?: number;
  reportInterval?: number;
  soften?: boolean;
  maxFlows?: number;
  samples?: boolean;
  label?: string;
  sampleDuration?: number;
  sampleInterval?: number;
}

/** Counters as the addon returns them (MonitorStats without `local`). */
/** The addon's counters: the public MonitorStats without the local addresses (known to JavaScript). */
export type NativeStats = Omit<MonitorStats, 'local'>;

export type NativeEventCallback = (type: string, payload: unknown) => void;

export interface NativeMonitor {
  /** Opens the capture (throws an Error with `code`) and starts the capture thread. */
  start(): void;
  /** Asks the capture thread to stop; an `end` event follows. */
  stop(): void;
  /** Joins the finished capture thread and releases the thread-safe function. */
  join(): void;
  stats(): NativeStats;
}

export interface NativeAddon {
  Monitor: new (options: NativeMonitorOptions, callback: NativeEventCallback) => NativeMonitor;
  libpcapInfo(): { library: string; version: string };
  resolveLibpcap(names?: string[]): { library?: string; error?: string };
  libpcapNames(): string[];
  /** The numbers of a packed report row, in order (REPORT_FIELDS). */
  reportFields: string[];
  /** The numbers of a packed sample, in order (SAMPLE_FIELDS). */
  sampleFields: string[];
  /** The sample kinds by the number a packed sample gives (SAMPLE_KINDS). */
  sampleKinds: string[];
}

/**
 * A report as the addon delivers it: the addresses of row i at 2i (local)
 * and 2i + 1 (remote), its numbers at REPORT_FIELDS.length · i, NaN where
 * the row has none. Packed because building each row object through N-API
 * costs the JS thread several times what an object literal here costs.
 */
export interface NativeReport {
  ts: number;
  iface: string;
  addrs: string[];
  values: Float64Array;
}

/** The layout of a packed report row: the addon's reportFields, in its order. */
export const REPORT_FIELDS = [
  'samples',
  'data',
  'handshake',
  'ts',
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
] as const;
const W = REPORT_FIELDS.length;

function orNull(v: number): number | null {
  return v === v ? v : null; // NaN: no value
}

/** The row objects of a packed report. */
export function reportRows(r: NativeReport): HostPairReport[] {
  const { ts, iface, addrs, values: v } = r;
  const n = addrs.length >> 1;
  const rows = new Array<HostPairReport>(n);
  for (let i = 0, j = 0; i < n; i++, j += W) {
    rows[i] = {
      ts,
      iface,
      src: addrs[2 * i],
      dst: addrs[2 * i + 1],
      samples: v[j],
      samplesByKind: { data: v[j + 1], handshake: v[j + 2], ts: v[j + 3] },
      rttMs: orNull(v[j + 4]),
      avgMs: orNull(v[j + 5]),
      jitterMs: orNull(v[j + 6]),
      minMs: orNull(v[j + 7]),
      maxMs: orNull(v[j + 8]),
      p50Ms: orNull(v[j + 9]),
      p95Ms: orNull(v[j + 10]),
      p99Ms: orNull(v[j + 11]),
      totalSamples: v[j + 12],
      flows: v[j + 13],
    };
  }
  return rows;
}

/**
 * A batch of samples as the addon delivers it: the addresses of sample i
 * at 2i (local) and 2i + 1 (remote), its numbers at SAMPLE_FIELDS.length · i.
 */
export interface NativeSamples {
  addrs: string[];
  values: Float64Array;
}

/** The layout of a packed sample: the addon's sampleFields, in its order. */
export const SAMPLE_FIELDS = ['ts', 'sport', 'dport', 'rttMs', 'kind'] as const;
/** Sample kinds by their number in a packed sample: the addon's sampleKinds. */
export const SAMPLE_KINDS: readonly SampleKind[] = ['data', 'handshake', 'ts'];
const SW = SAMPLE_FIELDS.length;

/** The sample objects of a packed batch. */
export function sampleRows(b: NativeSamples): RttSample[] {
  const { addrs, values: v } = b;
  const n = addrs.length >> 1;
  const out = new Array<RttSample>(n);
  for (let i = 0, j = 0; i < n; i++, j += SW) {
    out[i] = {
      ts: v[j],
      src: addrs[2 * i],
      sport: v[j + 1],
      dst: addrs[2 * i + 1],
      dport: v[j + 2],
      rttMs: v[j + 3],
      kind: SAMPLE_KINDS[v[j + 4]],
    };
  }
  return out;
}

let cached: NativeAddon | undefined;

export function addon(): NativeAddon {
  if (cached === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    cached = load(path.resolve(__dirname, '..', '..'));
  }
  return cached;
}

/** Turns an Error thrown by the addon (with a `code`) into an RttError. */
export function toRttError(err: unknown): RttError {
  if (err instanceof RttError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return new RttError(typeof code === 'string' ? (code as RttErrorCode) : 'CAPTURE_FAILED', err.message);
  }
  return new RttError('CAPTURE_FAILED', String(err));
}
