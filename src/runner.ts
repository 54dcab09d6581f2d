/**
 * Runs the configured instances: one RttMonitor per instance (a new one when
 * the whitelist's addresses change or a sampling window opens), and turns
 * every report into go-metro's DogStatsD gauges, self-telemetry, a service
 * check, and the table or JSON lines of the command line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RttError } from './errors';
import type { NameLookup } from './format';
import type { Logger } from './logger';
import { RttMonitor } from './index';
import { zeroStats } from './monitor';
import { sanitizeTag, sanitizeTags, ServiceCheckStatus } from './statsd';
import type { StatsdClient } from './statsd';
import type { HostPairReport, MonitorStats, RttErrorCode, RttMonitorOptions, RttSample } from './types';
import { buildFilter, canonicalIp, interfaceAddresses, onlyLocalAddresses, Whitelist } from './whitelist';
import type { Resolver } from './whitelist';

/** One instance of the configuration (or the one the command line describes). */
export interface InstancePlan {
  /** For messages: `instances[0]`, or `command line`. */
  where: string;
  /** Interface name, or `file` for a capture file. */
  interface: string;
  pcap?: string;
  tags: string[];
  ips: string[];
  hosts: string[];
  localIps: string[];
  /** go-metro sampling: capture `duration` s, then pause `interval` s (live only). */
  sample?: { duration: number; interval: number };
  extendedMetrics: boolean;
}

export interface RunSettings {
  snaplen: number;
  idleTtl: number;
  expTtl: number;
  reportInterval?: number;
  soften?: boolean;
  maxFlows?: number;
  bufferSize?: number;
  threads?: 1 | 2;
  /** go-metro's `-f` (default `tcp`). */
  baseFilter: string;
  telemetry: boolean;
  /** Seconds between re-resolutions of `hosts`. */
  dnsRefreshInterval: number;
  /** Deliver per-sample records to the output. */
  samples: boolean;
  /** Show progress on stderr while reading files. */
  progress: boolean;
  /** Do reverse lookups of `ips` for tag names. */
  reverseLookups: boolean;
}

export interface OutputSink {
  report(batch: readonly HostPairReport[], names: NameLookup): void;
  sample(s: RttSample, iface: string): void;
  stats(stats: MonitorStats, iface: string, extra: Record<string, unknown>): void;
}

export interface RunContext {
  logger: Logger;
  statsd?: StatsdClient;
  output?: OutputSink;
  /** env/service/version/entity tags from DD_* variables, per instance tags given. */
  envTags: (instanceTags: readonly string[]) => string[];
  resolver?: Resolver;
  /** Where progress goes (a terminal). */
  progressStream?: NodeJS.WriteStream;
}

export const SERVICE_CHECK = 'passive_rtt.can_capture';

/** Errors a user fixes in the command line or configuration: exit status 2. */
const USER_ERRORS = new Set<RttErrorCode>([
  'USAGE',
  'CONFIG_INVALID',
  'CONFIG_UNREADABLE',
  'INVALID_OPTION',
  'NO_SUCH_INTERFACE',
  'BAD_FILTER',
  'LOCAL_ADDRESS_UNKNOWN',
  'FILE_UNREADABLE',
  'FILE_MALFORMED',
]);

export function exitCodeFor(err: unknown): number {
  return err instanceof RttError && USER_ERRORS.has(err.code) ? 2 : 1;
}

const COUNTERS: ReadonlyArray<keyof MonitorStats> = [
  'packets',
  'tcp',
  'notTcp',
  'malformed',
  'fragments',
  'notLocal',
  'flowsCreated',
  'flowsEvicted',
  'flowsExpired',
  'samples',
  'karnRefused',
  'segmentsSkipped',
  'retransmissions',
  'pcapReceived',
  'pcapDropped',
  'pcapIfDropped',
  'batchesFolded',
  'samplesDropped',
  'reportsDropped',
  'outsideWindow',
  'reports',
];

/** a + b for counters; gauges (flows active, host pairs, local) from b. */
function addStats(a: MonitorStats, b: MonitorStats): MonitorStats {
  const out: MonitorStats = { ...b, samplesByKind: { ...b.samplesByKind }, local: [...b.local] };
  for (const k of COUNTERS) (out as unknown as Record<string, number>)[k] = (a[k] as number) + (b[k] as number);
  out.samplesByKind = {
    data: a.samplesByKind.data + b.samplesByKind.data,
    handshake: a.samplesByKind.handshake + b.samplesByKind.handshake,
    ts: a.samplesByKind.ts + b.samplesByKind.ts,
  };
  return out;
}

type Phase = 'idle' | 'running' | 'paused' | 'waiting' | 'done';

/** One configured instance and its current monitor. */
class Instance {
  readonly plan: InstancePlan;
  readonly iface: string;
  readonly whitelist: Whitelist;
  /** Instance tags and environment tags, sanitised once. */
  readonly tags: string[];
  private monitor: RttMonitor | undefined;
  private phase: Phase = 'idle';
  private finished: Stats = { total: zeroStats() };
  private sent: MonitorStats = zeroStats();
  private timers: NodeJS.Timeout[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private failure: RttError | undefined;
  private stopping = false;
  /** A service check went out for the current monitor. */
  private checkSent = false;
  private resolveDone!: () => void;
  readonly done: Promise<void>;

  constructor(
    plan: InstancePlan,
    private readonly settings: RunSettings,
    private readonly ctx: RunContext,
    private readonly runner: Runner,
  ) {
    this.plan = plan;
    this.iface = plan.interface;
    this.whitelist = new Whitelist(plan.ips, plan.hosts, ctx.resolver, ctx.logger, settings.reverseLookups);
    this.tags = sanitizeTags([...plan.tags, ...ctx.envTags(plan.tags)]);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get isFile(): boolean {
    return this.plan.pcap !== undefined;
  }

  get name(): string {
    return this.isFile ? `${this.plan.where} (file ${this.plan.pcap})` : `${this.plan.where} (${this.iface})`;
  }

  /** The error that ended a file run, if any. */
  get error(): RttError | undefined {
    return this.failure;
  }

  /** Names as of now (whitelist resolved last). */
  names: NameLookup = (address) => this.whitelist.resolved?.names.get(canonicalIp(address));

  /** Resolves the whitelist, checks it and starts the first monitor. Throws RttError. */
  async start(): Promise<void> {
    const log = this.ctx.logger;
    await this.whitelist.resolve();
    const local = this.isFile ? this.plan.localIps : this.plan.localIps.length > 0 ? this.plan.localIps : interfaceAddresses(this.iface);
    const entries = this.whitelist.resolved?.entries ?? [];
    if (onlyLocalAddresses(entries, local)) {
      // go-metro: "Whitelist cannot contain just local addresses! Bailing out"
      throw new RttError(
        'CONFIG_INVALID',
        `${this.name}: the whitelist (${entries.map((e) => e.address).join(', ')}) holds only this host's own addresses, so there is no remote end to measure; ` +
          'list remote hosts under ips:/hosts: (or --ips/--hosts)',
      );
    }
    if (this.whitelist.empty) {
      log.once(
        'info',
        'no-whitelist',
        'no whitelist (ips/hosts) configured: monitoring every remote host; memory stays bounded by max_flows (go-metro refused to start in this case)',
      );
    }
    if (!this.isFile && this.plan.hosts.length > 0) {
      this.refreshTimer = setInterval(() => void this.refreshWhitelist(), this.settings.dnsRefreshInterval * 1000);
      this.refreshTimer.unref();
    }
    if (!this.whitelist.empty && entries.length === 0) {
      const msg = `${this.name}: none of the whitelisted hosts (${this.plan.hosts.join(', ')}) resolves, so there is nothing to capture`;
      if (this.isFile) throw new RttError('CAPTURE_FAILED', `${msg}; check the names and the DNS configuration`);
      log.error(`${msg} yet; retrying every ${this.settings.dnsRefreshInterval} s`);
      this.phase = 'waiting';
      this.serviceCheck(ServiceCheckStatus.CRITICAL, 'no whitelisted host resolves');
      return;
    }
    await this.startMonitor();
  }

  private monitorOptions(): RttMonitorOptions {
    const s = this.settings;
    const entries = this.whitelist.resolved?.entries ?? [];
    const o: RttMonitorOptions = {
      filter: buildFilter(s.baseFilter, entries),
      snaplen: s.snaplen,
      idleTtl: s.idleTtl,
      expTtl: s.expTtl,
      samples: s.samples,
    };
    if (this.isFile) {
      o.file = this.plan.pcap;
      o.label = this.iface;
    } else {
      o.interface = this.iface;
    }
    if (this.plan.localIps.length > 0) o.local = [...this.plan.localIps];
    const exclude = this.whitelist.ipAddresses;
    if (this.isFile && exclude.length > 0) o.exclude = exclude;
    if (s.reportInterval !== undefined) o.reportInterval = s.reportInterval;
    if (s.soften !== undefined) o.soften = s.soften;
    if (s.maxFlows !== undefined) o.maxFlows = s.maxFlows;
    if (s.bufferSize !== undefined && !this.isFile) o.bufferSize = s.bufferSize;
    if (s.threads !== undefined) o.threads = s.threads;
    // A file is sampled in packet time by the engine, so the same capture
    // gives the same windows however fast it is read; live capture closes
    // the handle between windows (pauseWindow), as go-metro stopped sniffing.
    if (this.isFile && this.plan.sample) {
      o.sampleDuration = this.plan.sample.duration;
      o.sampleInterval = this.plan.sample.interval;
    }
    return o;
  }

  /** `routine`: a sampling window opening, said at debug level (it happens every window, forever). */
  private async startMonitor(routine = false): Promise<void> {
    const log = this.ctx.logger;
    const options = this.monitorOptions();
    const level = routine ? 'debug' : 'info';
    log.log(level, `${this.name}: capturing with BPF filter "${options.filter}"`);
    const m = new RttMonitor(options);
    // The names this capture started with: when a DNS change restarts the
    // capture, the old one's last report still names its pairs as before,
    // instead of sending one stray series tagged with a bare address.
    const known = new Map(this.whitelist.resolved?.names ?? []);
    const names: NameLookup = (address) => known.get(canonicalIp(address));
    m.on('report', (batch) => this.onReport(m, batch, names));
    m.on('sample', (s) => this.ctx.output?.sample(s, this.iface));
    m.on('error', (err) => this.onError(err));
    m.on('end', () => this.onEnd(m));
    this.monitor = m;
    this.sent = zeroStats();
    this.checkSent = false;
    try {
      await m.start();
    } catch (err) {
      this.monitor = undefined;
      const e = err instanceof RttError ? err : new RttError('CAPTURE_FAILED', String(err));
      let fix = '';
      if (e.code === 'FILE_UNREADABLE') {
        fix =
          this.plan.where === 'command line'
            ? '; check the path after --pcap and that this user may read the file'
            : `; check pcap: in ${this.plan.where} (a relative path is taken beside the configuration file, then in the working directory) and that this user may read the file`;
      }
      throw new RttError(e.code, `${this.name}: ${e.message}${fix}`, { cause: e });
    }
    this.phase = 'running';
    if (m.local.length > 0) log.log(level, `${this.name}: local addresses ${m.local.join(', ')}`);
    if (!this.checkSent) {
      this.serviceCheck(ServiceCheckStatus.OK);
      void this.ctx.statsd?.flush();
    }
    if (this.plan.sample && !this.isFile) {
      this.timers.push(setTimeout(() => void this.pauseWindow(), this.plan.sample.duration * 1000));
    }
  }

  /** go-metro's sampling: after `sample_duration` s of capture, `sample_interval` s without. */
  private async pauseWindow(): Promise<void> {
    if (this.stopping || this.phase !== 'running') return;
    this.phase = 'paused';
    this.ctx.logger.debug(`${this.name}: sampling window closed for ${this.plan.sample?.interval} s`);
    await this.monitor?.stop();
    if (this.stopping) return;
    this.timers.push(setTimeout(() => void this.resume('sampling window opened', true), (this.plan.sample?.interval ?? 0) * 1000));
  }

  private async resume(why: string, routine = false): Promise<void> {
    if (this.stopping) return;
    this.ctx.logger.debug(`${this.name}: ${why}`);
    try {
      await this.startMonitor(routine);
    } catch (err) {
      const e = err as RttError;
      this.ctx.logger.limited('error', `restart-${this.plan.where}`, 60_000, `${e.message}; retrying in 10 s`);
      this.serviceCheck(ServiceCheckStatus.CRITICAL, e.message);
      void this.ctx.statsd?.flush();
      this.phase = 'waiting';
      this.timers.push(setTimeout(() => void this.resume('retrying the capture'), 10_000));
    }
  }

  /** Follows DNS changes of `hosts`: a new address set means a new filter, so a new monitor. */
  private async refreshWhitelist(): Promise<void> {
    if (this.stopping) return;
    const changed = await this.whitelist.resolve();
    if (!changed || this.stopping) return;
    const entries = this.whitelist.resolved?.entries ?? [];
    this.ctx.logger.info(`${this.name}: whitelist addresses changed to ${entries.map((e) => e.address).join(', ') || '(none)'}`);
    if (entries.length === 0) return; // keep the previous filter rather than capture everything
    if (this.phase === 'running') {
      this.phase = 'paused';
      await this.monitor?.stop();
      await this.resume('restarting the capture with the new filter');
    } else if (this.phase === 'waiting') {
      await this.resume('whitelisted hosts resolve now');
    }
  }

  private onReport(m: RttMonitor, batch: HostPairReport[], names: NameLookup): void {
    this.ctx.output?.report(batch, names);
    const statsd = this.ctx.statsd;
    if (!statsd) return;
    // A short file can be read and reported before start() resolves: the
    // capture's OK still goes first.
    if (!this.checkSent) this.serviceCheck(ServiceCheckStatus.OK);
    const ext = this.plan.extendedMetrics;
    for (const r of batch) {
      const tags = [
        sanitizeTag(`src:${names(r.src) ?? r.src}`),
        sanitizeTag(`dst:${names(r.dst) ?? r.dst}`),
        sanitizeTag(`iface:${r.iface}`),
        ...this.tags,
      ].filter((t) => t !== '');
      // A pair with no sample in this interval keeps its avg/jitter, but its
      // last RTT would be stale: not re-sent (DESIGN.md, Metrics).
      if (r.samples > 0 && r.rttMs !== null) statsd.gauge('system.net.tcp.rtt', r.rttMs, tags);
      if (r.avgMs !== null) statsd.gauge('system.net.tcp.rtt.avg', r.avgMs, tags);
      if (r.jitterMs !== null) statsd.gauge('system.net.tcp.rtt.jitter', r.jitterMs, tags);
      if (ext && r.samples > 0) {
        if (r.minMs !== null) statsd.gauge('system.net.tcp.rtt.min', r.minMs, tags);
        if (r.maxMs !== null) statsd.gauge('system.net.tcp.rtt.max', r.maxMs, tags);
        if (r.p50Ms !== null) statsd.gauge('system.net.tcp.rtt.p50', r.p50Ms, tags);
        if (r.p95Ms !== null) statsd.gauge('system.net.tcp.rtt.p95', r.p95Ms, tags);
        if (r.p99Ms !== null) statsd.gauge('system.net.tcp.rtt.p99', r.p99Ms, tags);
        statsd.count('system.net.tcp.rtt.samples', r.samples, tags);
      }
    }
    if (this.settings.telemetry) this.telemetry(m.stats());
    // Reports flowing means the capture works: the check is renewed with each one.
    this.serviceCheck(ServiceCheckStatus.OK);
    void statsd.flush();
  }

  /** passive_rtt.* self-metrics: counters as deltas since the last report, gauges as they are. */
  private telemetry(now: MonitorStats): void {
    const statsd = this.ctx.statsd;
    if (!statsd) return;
    const tags = [sanitizeTag(`iface:${this.iface}`), ...this.tags];
    const prev = this.sent;
    const d = (k: keyof MonitorStats): number => Math.max(0, (now[k] as number) - (prev[k] as number));
    statsd.count('passive_rtt.packets', d('packets'), tags);
    statsd.count('passive_rtt.packets.malformed', d('malformed'), tags);
    statsd.count('passive_rtt.pcap.received', d('pcapReceived'), tags);
    statsd.count('passive_rtt.pcap.dropped', d('pcapDropped'), tags);
    statsd.count('passive_rtt.pcap.if_dropped', d('pcapIfDropped'), tags);
    statsd.gauge('passive_rtt.flows.active', now.flowsActive, tags);
    statsd.count('passive_rtt.flows.created', d('flowsCreated'), tags);
    statsd.count('passive_rtt.flows.evicted', d('flowsEvicted'), tags);
    statsd.count('passive_rtt.flows.expired', d('flowsExpired'), tags);
    statsd.gauge('passive_rtt.host_pairs', now.hostPairs, tags);
    for (const kind of ['data', 'handshake', 'ts'] as const) {
      statsd.count('passive_rtt.samples', Math.max(0, now.samplesByKind[kind] - prev.samplesByKind[kind]), [...tags, `kind:${kind}`]);
    }
    statsd.count('passive_rtt.samples.karn_refused', d('karnRefused'), tags);
    statsd.count('passive_rtt.dogstatsd.errors', this.runner.takeStatsdErrors(), tags);
    this.sent = { ...now, samplesByKind: { ...now.samplesByKind } };
  }

  private onError(err: RttError): void {
    const log = this.ctx.logger;
    if (err.code === 'FILE_TRUNCATED') {
      // The engine's message already says that the reports before the damage went out.
      log.warn(`${this.name}: ${err.message}`);
      return;
    }
    this.failure = err;
    log.error(`${this.name}: ${err.message}`);
    this.serviceCheck(ServiceCheckStatus.CRITICAL, err.message);
    void this.ctx.statsd?.flush();
  }

  private onEnd(m: RttMonitor): void {
    this.finished.total = addStats(this.finished.total, m.stats());
    if (this.monitor === m) this.monitor = undefined;
    if (this.isFile) {
      this.phase = 'done';
      this.ctx.logger.info(`${this.name}: end of file`);
      this.resolveDone();
      return;
    }
    if (this.phase === 'running' && !this.stopping) {
      // The capture died under us (interface gone, fatal pcap error): live
      // instances keep trying, the rest of the process keeps running.
      this.phase = 'waiting';
      this.ctx.logger.error(`${this.name}: capture ended unexpectedly; restarting in 10 s`);
      this.timers.push(setTimeout(() => void this.resume('restarting the capture'), 10_000));
    }
  }

  /** For the progress line: what this instance is reading and how far it got; undefined when not reading a file. */
  progressText(): string | undefined {
    if (!this.isFile || this.phase === 'done' || !this.plan.pcap) return undefined;
    const s = this.stats();
    const size = this.fileSize();
    const n = (v: number): string => v.toLocaleString('en-US');
    return `${path.basename(this.plan.pcap)}${size !== undefined ? ` (${formatBytes(size)})` : ''}: ${n(s.packets)} packets, ${n(s.samples)} samples`;
  }

  private sizeCache: number | undefined | null = null;
  private fileSize(): number | undefined {
    if (this.sizeCache === null) {
      try {
        const st = fs.statSync(this.plan.pcap as string);
        // A pipe or a device has no length worth showing.
        this.sizeCache = st.isFile() ? st.size : undefined;
      } catch {
        this.sizeCache = undefined;
      }
    }
    return this.sizeCache;
  }

  serviceCheck(status: ServiceCheckStatus, message?: string): void {
    this.checkSent = true;
    this.ctx.statsd?.serviceCheck(SERVICE_CHECK, status, [sanitizeTag(`iface:${this.iface}`), ...this.tags], message);
  }

  /** Stops capture; a live monitor delivers its last report first. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    const m = this.monitor;
    if (m) await m.stop();
    this.phase = 'done';
    this.resolveDone();
  }

  stats(): MonitorStats {
    const current = this.monitor?.stats();
    return current ? addStats(this.finished.total, current) : this.finished.total;
  }
}

interface Stats {
  total: MonitorStats;
}

export interface StartResult {
  started: number;
  failures: Array<{ where: string; error: RttError }>;
}

/** A read that ends sooner than this shows no progress at all (no flicker for small files). */
export const PROGRESS_DELAY_MS = 1000;
const PROGRESS_EVERY_MS = 250;

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export class Runner {
  private readonly instances: Instance[];
  private statsdErrorsTaken = 0;
  private progressTimer: NodeJS.Timeout | undefined;
  private progressShown = false;
  private progressT0 = 0;

  constructor(
    plans: readonly InstancePlan[],
    private readonly settings: RunSettings,
    private readonly ctx: RunContext,
  ) {
    this.instances = plans.map((p) => new Instance(p, settings, ctx, this));
  }

  /**
   * One line on stderr, redrawn in place, while capture files are read:
   * file, size, packets and samples so far, elapsed time. It starts only once
   * a read has lasted PROGRESS_DELAY_MS and is cut to the terminal's width,
   * since a wrapped line could not be redrawn with a carriage return.
   */
  private startProgress(): void {
    const out = this.ctx.progressStream;
    if (!this.settings.progress || !out || !this.instances.some((i) => i.isFile)) return;
    this.progressT0 = Date.now();
    this.progressTimer = setInterval(() => {
      const elapsed = Date.now() - this.progressT0;
      if (elapsed < PROGRESS_DELAY_MS) return;
      const parts = this.instances.map((i) => i.progressText()).filter((t): t is string => t !== undefined);
      if (parts.length === 0) {
        // Every file is read; live instances may keep running.
        this.clearProgress();
        return;
      }
      let line = `reading ${parts.join('; ')}; ${(elapsed / 1000).toFixed(1)} s`;
      const width = out.columns;
      if (typeof width === 'number' && width > 1 && line.length > width - 1) line = `${line.slice(0, width - 2)}…`;
      out.write(`\r\x1b[K${line}`);
      this.progressShown = true;
    }, PROGRESS_EVERY_MS);
    this.progressTimer.unref();
  }

  /** Erases the progress line, so that a table or a log line written next starts on a clean line. */
  clearProgress(): void {
    if (this.progressShown) {
      this.ctx.progressStream?.write('\r\x1b[K');
      this.progressShown = false;
    }
  }

  private stopProgress(): void {
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.progressTimer = undefined;
    this.clearProgress();
  }

  /** DogStatsD errors since the previous call: each is counted in exactly one telemetry line. */
  takeStatsdErrors(): number {
    const total = this.ctx.statsd?.stats().errors ?? 0;
    const d = total - this.statsdErrorsTaken;
    this.statsdErrorsTaken = total;
    return Math.max(0, d);
  }

  get hasLive(): boolean {
    return this.instances.some((i) => !i.isFile);
  }

  /**
   * Starts every instance. An instance that cannot start is logged and gets
   * a CRITICAL service check; the others run (go-metro skipped a bad
   * interface the same way and gave up only when none was left).
   */
  async start(): Promise<StartResult> {
    const failures: StartResult['failures'] = [];
    let started = 0;
    for (const inst of this.instances) {
      try {
        await inst.start();
        started++;
      } catch (err) {
        const e = err instanceof RttError ? err : new RttError('CAPTURE_FAILED', String(err));
        failures.push({ where: inst.plan.where, error: e });
        inst.serviceCheck(ServiceCheckStatus.CRITICAL, e.message);
        await inst.stop();
      }
    }
    await this.ctx.statsd?.flush();
    if (started > 0) this.startProgress();
    return { started, failures };
  }

  /** Resolves when every instance has ended by itself (capture files read); never for live ones until stop(). */
  async finished(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.done));
    this.stopProgress();
  }

  /** Stops every instance (last reports delivered) and flushes DogStatsD. */
  async stop(): Promise<void> {
    this.stopProgress();
    await Promise.all(this.instances.map((i) => i.stop()));
    await this.ctx.statsd?.flush();
  }

  /** Writes the final counters of each instance to the output. */
  writeStats(): void {
    const out = this.ctx.output;
    if (!out) return;
    const statsd = this.ctx.statsd?.stats();
    for (const inst of this.instances) {
      const extra: Record<string, unknown> = {};
      if (statsd) {
        extra.statsd_datagrams = statsd.datagrams;
        extra.statsd_errors = statsd.errors;
      }
      out.stats(inst.stats(), inst.iface, extra);
    }
  }

  /** The worst error of file instances (exit status 1 when a capture failed at run time). */
  runtimeFailure(): RttError | undefined {
    for (const i of this.instances) if (i.error) return i.error;
    return undefined;
  }
}
