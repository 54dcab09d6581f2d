import { EventEmitter } from 'node:events';
import { ipVersion } from './ip';
import { RttError } from './errors';
import { addon, reportRows, sampleRows, toRttError, type NativeMonitor, type NativeReport, type NativeSamples, type NativeStats } from './native';
import type { HostPairReport, MonitorStats, RttMonitorOptions, RttSample } from './types';

type State = 'new' | 'starting' | 'running' | 'stopping' | 'ended';

const ZERO_STATS: NativeStats = {
  packets: 0,
  tcp: 0,
  notTcp: 0,
  malformed: 0,
  fragments: 0,
  notLocal: 0,
  flowsActive: 0,
  flowsCreated: 0,
  flowsEvicted: 0,
  flowsExpired: 0,
  hostPairs: 0,
  samples: 0,
  samplesByKind: { data: 0, handshake: 0, ts: 0 },
  karnRefused: 0,
  segmentsSkipped: 0,
  retransmissions: 0,
  pcapReceived: 0,
  pcapDropped: 0,
  pcapIfDropped: 0,
  batchesFolded: 0,
  samplesDropped: 0,
  reportsDropped: 0,
  outsideWindow: 0,
  reports: 0,
};

/** Counters of a monitor that has measured nothing yet. */
export function zeroStats(): MonitorStats {
  return { ...ZERO_STATS, samplesByKind: { ...ZERO_STATS.samplesByKind }, local: [] };
}

function invalid(message: string): RttError {
  return new RttError('INVALID_OPTION', message);
}

function checkNumber(options: RttMonitorOptions, key: keyof RttMonitorOptions, min: number, max: number, integer: boolean): void {
  const v = options[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw invalid(`${key}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${String(v)}`);
  }
}

function checkAddresses(key: string, v: unknown): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) throw invalid(`${key}: expected an array of IP addresses`);
  for (const a of v) {
    if (typeof a !== 'string' || ipVersion(a) === 0) {
      throw invalid(`${key}: "${String(a)}" is not an IPv4 or IPv6 address`);
    }
  }
}

/** Checks options the way the addon expects them (it assumes valid input). */
export function validateOptions(options: RttMonitorOptions): void {
  if (typeof options !== 'object' || options === null) throw invalid('options: expected an object');
  const live = options.interface !== undefined;
  const file = options.file !== undefined;
  if (live === file) throw invalid('give exactly one of `interface` (live capture) and `file` (a capture file)');
  if (live && (typeof options.interface !== 'string' || options.interface === '')) {
    throw invalid('interface: expected an interface name such as eth0, or "any"');
  }
  if (file && (typeof options.file !== 'string' || options.file === '')) {
    throw invalid('file: expected the path of a pcap or pcapng file');
  }
  if (options.filter !== undefined && typeof options.filter !== 'string') throw invalid('filter: expected a string');
  checkNumber(options, 'snaplen', 64, 262144, true);
  checkNumber(options, 'bufferSize', 0, 2 ** 31 - 1, true);
  checkNumber(options, 'readTimeout', 1, 60000, true);
  checkNumber(options, 'threads', 1, 2, true);
  checkNumber(options, 'idleTtl', 0.001, 1e7, false);
  checkNumber(options, 'expTtl', 0, 1e7, false);
  checkNumber(options, 'reportInterval', 0.001, 1e7, false);
  checkNumber(options, 'maxFlows', 1, 2 ** 26, true);
  checkAddresses('local', options.local);
  checkAddresses('exclude', options.exclude);
  for (const k of ['soften', 'samples'] as const) {
    if (options[k] !== undefined && typeof options[k] !== 'boolean') throw invalid(`${k}: expected true or false`);
  }
  if (options.label !== undefined && typeof options.label !== 'string') throw invalid('label: expected a string');
  checkNumber(options, 'sampleDuration', 0.001, 1e7, false);
  checkNumber(options, 'sampleInterval', 0, 1e7, false);
  if ((options.sampleDuration === undefined) !== (options.sampleInterval === undefined)) {
    throw invalid('sampleDuration and sampleInterval: give both (seconds of capture, then seconds skipped) or neither');
  }
}

export interface RttMonitorEvents {
  report: [HostPairReport[]];
  sample: [RttSample];
  error: [RttError];
  end: [];
}

/**
 * A passive RTT monitor on one interface or capture file. The capture runs on
 * a native thread of its own; JavaScript receives one `report` event per
 * report interval (and `sample` events in debug mode), never a packet.
 */
export class RttMonitor extends EventEmitter<RttMonitorEvents> {
  readonly options: Readonly<RttMonitorOptions>;
  #native: NativeMonitor | undefined;
  #state: State = 'new';
  #local: string[] = [];
  #final: NativeStats | undefined;
  #started: { resolve: () => void; reject: (e: RttError) => void } | undefined;
  #ended: Promise<void>;
  #resolveEnded!: () => void;

  constructor(options: RttMonitorOptions) {
    super();
    validateOptions(options);
    this.options = Object.freeze({ ...options });
    this.#ended = new Promise((resolve) => {
      this.#resolveEnded = resolve;
    });
  }

  /** Addresses taken as the monitored host (known once started). */
  get local(): readonly string[] {
    return this.#local;
  }

  /** Whether the capture is running. */
  get running(): boolean {
    return this.#state === 'running' || this.#state === 'stopping';
  }

  /**
   * Opens the capture and starts the capture thread. Resolves once the
   * local addresses are known; rejects with an RttError (NO_SUCH_INTERFACE,
   * CAPTURE_PERMISSION, FILE_UNREADABLE, FILE_MALFORMED, BAD_FILTER,
   * LOCAL_ADDRESS_UNKNOWN, PCAP_MISSING, INVALID_STATE).
   */
  start(): Promise<void> {
    if (this.#state !== 'new') {
      return Promise.reject(new RttError('INVALID_STATE', 'start(): this monitor was already started; create a new RttMonitor'));
    }
    this.#state = 'starting';
    return new Promise<void>((resolve, reject) => {
      this.#started = { resolve, reject };
      try {
        const { Monitor } = addon();
        const native = new Monitor({ ...this.options }, (type, payload) => this.#onEvent(type, payload));
        native.start();
        this.#native = native;
      } catch (err) {
        this.#started = undefined;
        this.#state = 'ended';
        this.#resolveEnded();
        reject(toRttError(err));
      }
    });
  }

  /**
   * Stops the capture. A live monitor first delivers a last report of what
   * was measured since the previous one. Resolves after `end`. Calling it
   * before start() or more than once is harmless.
   */
  stop(): Promise<void> {
    if (this.#state === 'new') {
      this.#state = 'ended';
      this.#resolveEnded();
      return this.#ended;
    }
    if (this.#state === 'running' || this.#state === 'starting') {
      this.#state = 'stopping';
      this.#native?.stop();
    }
    return this.#ended;
  }

  /** Cumulative counters. */
  stats(): MonitorStats {
    const s = this.#final ?? this.#native?.stats() ?? ZERO_STATS;
    return { ...s, samplesByKind: { ...s.samplesByKind }, local: [...this.#local] };
  }

  /** Resolves when the capture has ended (file done, stop(), fatal error). */
  ended(): Promise<void> {
    return this.#ended;
  }

  /**
   * Emits so that a listener that throws cannot cut a delivery short: the
   * events after it (more reports, then 'end') must still arrive, or
   * ended() would never resolve and the capture thread would never be
   * joined. The addon's callback must not throw either: N-API would only
   * print a warning and drop the error. So the error is thrown again on a
   * tick of its own, an ordinary uncaught exception, as from any listener.
   * (An 'error' event without a listener throws the error itself.)
   */
  #emitSafely(emit: () => boolean): void {
    try {
      emit();
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  #onEvent(type: string, payload: unknown): void {
    switch (type) {
      case 'ready': {
        this.#local = payload as string[];
        if (this.#state === 'starting') this.#state = 'running';
        const s = this.#started;
        this.#started = undefined;
        s?.resolve();
        break;
      }
      case 'report':
        this.#emitSafely(() => this.emit('report', reportRows(payload as NativeReport)));
        break;
      case 'samples':
        for (const s of sampleRows(payload as NativeSamples)) this.#emitSafely(() => this.emit('sample', s));
        break;
      case 'error': {
        const e = payload as { code: string; message: string };
        const err = toRttError(Object.assign(new Error(e.message), { code: e.code }));
        const s = this.#started;
        if (s) {
          this.#started = undefined;
          s.reject(err);
        } else {
          this.#emitSafely(() => this.emit('error', err));
        }
        break;
      }
      case 'end': {
        const native = this.#native;
        if (native) {
          this.#final = native.stats();
          native.join();
        }
        this.#native = undefined;
        this.#state = 'ended';
        const s = this.#started;
        this.#started = undefined;
        s?.reject(new RttError('CAPTURE_FAILED', 'the capture ended before it started'));
        this.#emitSafely(() => this.emit('end'));
        this.#resolveEnded();
        break;
      }
      default:
        break;
    }
  }

  /** Iterates over report batches until the capture ends; throws on a capture error. */
  async *[Symbol.asyncIterator](): AsyncGenerator<HostPairReport[], void, undefined> {
    const queue: HostPairReport[][] = [];
    let failure: RttError | undefined;
    let done = this.#state === 'ended';
    let wake: (() => void) | undefined;
    const poke = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onReport = (batch: HostPairReport[]): void => {
      queue.push(batch);
      poke();
    };
    const onError = (err: RttError): void => {
      failure ??= err;
      poke();
    };
    const onEnd = (): void => {
      done = true;
      poke();
    };
    this.on('report', onReport);
    this.on('error', onError);
    this.on('end', onEnd);
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as HostPairReport[];
        if (failure) throw failure;
        if (done) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      this.off('report', onReport);
      this.off('error', onError);
      this.off('end', onEnd);
    }
  }
}

export interface AnalyzeResult {
  reports: HostPairReport[][];
  samples: RttSample[];
  stats: MonitorStats;
}

/**
 * Reads a capture file to its end and returns every report, every sample
 * (with `samples: true`) and the counters. Rejects with the first error.
 */
export async function analyze(options: RttMonitorOptions & { file: string }): Promise<AnalyzeResult> {
  const monitor = new RttMonitor(options);
  const reports: HostPairReport[][] = [];
  const samples: RttSample[] = [];
  let failure: RttError | undefined;
  monitor.on('report', (r) => reports.push(r));
  monitor.on('sample', (s) => samples.push(s));
  monitor.on('error', (e) => {
    failure ??= e;
  });
  await monitor.start();
  await monitor.ended();
  if (failure) throw failure;
  return { reports, samples, stats: monitor.stats() };
}
