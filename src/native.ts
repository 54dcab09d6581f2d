/**
 * The one file that touches the native addon: loads it with node-gyp-build
 * (a prebuild for this platform, else the local build) and states its
 * surface as types, so nothing past this file sees `any`.
 */
import path from 'node:path';
import { RttError } from './errors';
import type { MonitorStats, RttErrorCode } from './types';

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
