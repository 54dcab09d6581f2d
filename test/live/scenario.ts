/**
 * Drivers for the live tests: the monitor child, the traffic programs, the
 * kernel's own view (`ss -tin`) and the small statistics the assertions use.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { HostPairReport, MonitorStats, RttMonitorOptions, RttSample } from '../../src';
import { lines, type Bed } from './netns';
import type { Role, RoleResult } from './traffic';

const HERE = __dirname; // dist/test/live
export const TRAFFIC_JS = path.join(HERE, 'traffic.js');
export const MONITOR_JS = path.join(HERE, 'monitor-child.js');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Line = Record<string, any>;

/** Collects a child's JSON lines and lets a test wait for one. */
export class JsonLines {
  readonly lines: Line[] = [];
  readonly stderr: string[] = [];
  #waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  #exited = false;
  exitCode: number | null = null;

  constructor(
    readonly child: ChildProcess,
    readonly what: string,
  ) {
    lines(child, (text) => {
      let l: Line;
      try {
        l = JSON.parse(text) as Line;
      } catch {
        this.stderr.push(`stdout: ${text}`);
        return;
      }
      this.lines.push(l);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pred(l)) return true;
        w.resolve(l);
        return false;
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => this.stderr.push(d));
    // A command sent as the child exits fails with EPIPE: its exit code and
    // output tell the test what happened, not an uncaught stream error.
    child.stdin?.on('error', () => undefined);
    child.once('exit', (code) => {
      this.#exited = true;
      this.exitCode = code;
    });
  }

  /** Resolves with the first line (already seen or to come) matching `pred`. */
  wait(pred: (l: Line) => boolean, timeoutMs: number, label: string): Promise<Line> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.what}: no ${label} within ${timeoutMs} ms (exited: ${this.#exited}, code ${this.exitCode}); stderr: ${this.stderr.join('').slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  send(text: string): void {
    if (this.child.stdin && !this.child.stdin.destroyed) this.child.stdin.write(text);
  }

  exited(): Promise<number | null> {
    if (this.#exited) return Promise.resolve(this.exitCode);
    return new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }
}

export interface MonitorResult {
  reports: HostPairReport[][];
  /** Wall-clock ms at which each report batch arrived. */
  reportWall: number[];
  samples: RttSample[];
  errors: { code: string; message: string; wall: number }[];
  stats: MonitorStats | null;
  local: string[];
}

/** RttMonitors running in a namespace (monitor-child.js). */
export class MonitorProc {
  readonly out: JsonLines;

  private constructor(
    child: ChildProcess,
    readonly names: string[],
  ) {
    this.out = new JsonLines(child, 'monitor child');
  }

  static async start(bed: Bed, ns: string, monitors: { name: string; options: RttMonitorOptions }[], maxMs = 60000, wrap: string[] = []): Promise<MonitorProc> {
    const spec = JSON.stringify({ monitors, maxMs });
    const child =
      wrap.length > 0
        ? bed.spawnIn(ns, wrap[0], [...wrap.slice(1), process.execPath, MONITOR_JS, spec])
        : bed.spawnIn(ns, process.execPath, [MONITOR_JS, spec]);
    const p = new MonitorProc(
      child,
      monitors.map((m) => m.name),
    );
    await p.out.wait((l) => l.t === 'started' || l.t === 'fatal', 15000, 'start');
    const fatal = p.out.lines.find((l) => l.t === 'fatal');
    if (fatal) throw new Error(`monitor child failed: ${String(fatal.message)}`);
    return p;
  }

  startError(name: string): { code: string; message: string } | null {
    const l = this.out.lines.find((x) => x.t === 'startError' && x.m === name);
    return l ? { code: String(l.code), message: String(l.message) } : null;
  }

  result(name: string): MonitorResult {
    const mine = this.out.lines.filter((l) => l.m === name);
    const reports = mine.filter((l) => l.t === 'report');
    return {
      reports: reports.map((l) => l.batch as HostPairReport[]),
      reportWall: reports.map((l) => Number(l.wall)),
      samples: mine.filter((l) => l.t === 'samples').flatMap((l) => l.samples as RttSample[]),
      errors: mine.filter((l) => l.t === 'error').map((l) => ({ code: String(l.code), message: String(l.message), wall: Number(l.wall) })),
      stats: (mine.find((l) => l.t === 'end')?.stats as MonitorStats | undefined) ?? null,
      local: (mine.find((l) => l.t === 'ready')?.local as string[] | undefined) ?? [],
    };
  }

  /** Stops every monitor; resolves when the child has written its last line. */
  async stop(): Promise<void> {
    this.out.send('stop\n');
    await this.out.wait((l) => l.t === 'exit', 15000, 'exit after stop');
    await this.out.exited();
  }

  kill(): void {
    this.out.child.kill('SIGKILL');
  }
}

export interface SsConn {
  local: string;
  lport: number;
  peer: string;
  pport: number;
  rttMs: number;
  rttVarMs: number;
  minRttMs: number | null;
  /**
   * Wall-clock ms just before `ss` was started and just after it returned
   * (set by runTraffic): the kernel's figures are as of some moment between
   * the two, so samples before `before` are certainly in them and samples
   * after `after` certainly not.
   */
  before?: number;
  after?: number;
}

/** Parses `ss -tin` (ss(8)): the state line, then the info line with rtt:SRTT/RTTVAR and minrtt:. */
export function parseSs(text: string): SsConn[] {
  const out: SsConn[] = [];
  const rows = text.split('\n');
  const split = (hp: string): [string, number] => {
    const i = hp.lastIndexOf(':');
    return [
      hp
        .slice(0, i)
        .replace(/^\[|\]$/g, '')
        .replace(/%.*$/, ''),
      Number(hp.slice(i + 1)),
    ];
  };
  for (let i = 0; i < rows.length; i++) {
    const f = rows[i].trim().split(/\s+/);
    if (f[0] !== 'ESTAB' || f.length < 5) continue;
    const info = rows[i + 1] ?? '';
    const rtt = /\brtt:([\d.]+)\/([\d.]+)/.exec(info);
    if (!rtt) continue;
    const min = /\bminrtt:([\d.]+)/.exec(info);
    const [local, lport] = split(f[3]);
    const [peer, pport] = split(f[4]);
    out.push({ local, lport, peer, pport, rttMs: Number(rtt[1]), rttVarMs: Number(rtt[2]), minRttMs: min ? Number(min[1]) : null });
  }
  return out;
}

export interface TrafficRun {
  /** Per program, per role, in the order given. */
  results: RoleResult[][];
  /** `ss -tin` snapshots taken in the host namespace while the traffic ran. */
  ss: SsConn[];
  wallStart: number;
  wallEnd: number;
}

/** A traffic program to run: its namespace and roles (traffic.ts). */
export interface Program {
  ns: string;
  roles: Role[];
  /** Scheduling niceness (nice(1)); a request/response server answers sooner under load. */
  nice?: number;
}

/**
 * Runs traffic programs (one process each), starts their clients together
 * once every server listens, takes `ss -tin` in the host namespace at the
 * given moments, and returns what each program did, in order.
 */
export async function runTraffic(bed: Bed, programs: Program[], opts: { maxMs: number; ssAtMs?: number[] }): Promise<TrafficRun> {
  const sides = programs.map((p) => {
    const args = [TRAFFIC_JS, JSON.stringify({ roles: p.roles, maxMs: opts.maxMs })];
    const child = p.nice ? bed.spawnIn(p.ns, 'nice', ['-n', String(p.nice), process.execPath, ...args]) : bed.spawnIn(p.ns, process.execPath, args);
    return new JsonLines(child, `traffic in ${p.ns}`);
  });
  try {
    for (const s of sides) await s.wait((l) => l.event === 'ready' || l.event === 'error', 15000, 'ready');
    for (const s of sides) {
      const err = s.lines.find((l) => l.event === 'error');
      if (err) throw new Error(`${s.what}: ${String(err.message)}`);
    }
    const wallStart = Date.now();
    for (const s of sides) s.send('go\n');
    const ss: SsConn[] = [];
    const snaps = (opts.ssAtMs ?? []).map(
      (at) =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            const before = Date.now();
            bed
              .exec(bed.hostNs, 'ss', ['-tin'])
              .then((text) => {
                const after = Date.now();
                ss.push(...parseSs(text).map((c) => ({ ...c, before, after })));
              })
              .catch(() => undefined)
              .finally(resolve);
          }, at),
        ),
    );
    for (const s of sides) await s.wait((l) => l.event === 'clientsDone', opts.maxMs, 'clientsDone');
    const wallEnd = Date.now();
    await Promise.all(snaps);
    for (const s of sides) s.send('stop\n');
    const done = await Promise.all(sides.map((s) => s.wait((l) => l.event === 'done', 10000, 'done')));
    return { results: done.map((d) => d.results as RoleResult[]), ss, wallStart, wallEnd };
  } finally {
    for (const s of sides) s.child.kill('SIGKILL');
  }
}

/** Quantile of a sorted array (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export function sortedOf(xs: Iterable<number>): number[] {
  return [...xs].sort((a, b) => a - b);
}

export function median(xs: Iterable<number>): number {
  return quantile(sortedOf(xs), 0.5);
}

/** One row of the closing table (printed once, after every live test). */
export interface TableRow {
  scenario: string;
  injectedMs: string;
  medianMs: number | null;
  p95Ms: number | null;
  reportP50Ms: number | null;
  kernelMinMs: number | null;
  kernelSrttMs: number | null;
  byKind: string;
}

export const TABLE: TableRow[] = [];

function fmt(v: number | null, digits = 3): string {
  return v === null || Number.isNaN(v) ? '-' : v.toFixed(digits);
}

export function printTable(): void {
  if (TABLE.length === 0) return;
  const head = ['scenario', 'injected RTT', 'median', 'p95', 'report p50', 'kernel minrtt', 'kernel srtt', 'samples data/handshake/ts'];
  const rows = TABLE.map((r) => [
    r.scenario,
    r.injectedMs,
    fmt(r.medianMs),
    fmt(r.p95Ms),
    fmt(r.reportP50Ms),
    fmt(r.kernelMinMs),
    fmt(r.kernelSrttMs),
    r.byKind,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `  | ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log('\n  Live RTT (ms): monitor figures from its samples and reports, kernel figures from ss -tin in the host namespace');
  console.log(line(head));
  console.log(`  |${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log('');
}
