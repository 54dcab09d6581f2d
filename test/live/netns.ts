/**
 * The live test bed: network namespaces joined by a user-space delay line
 * (delayfwd.c), built and torn down by the tests.
 *
 *   host ns (monitored)                       peer ns
 *   ┌──────────────┐   delayfwd (root ns)    ┌──────────────┐
 *   │ tapH 10.213.1.1 ├──── hold D ms ────────┤ tapP 10.213.1.2 │
 *   │  fd00:213:1::1 │◄─── hold D ms ────────┤  fd00:213:1::2 │
 *   └──────────────┘                         └──────────────┘
 *
 * The veth-hop variant puts a router namespace between the host and the
 * delay line, so the captured interface is a veth with its default offloads
 * (TSO/GSO on: the capture sees super-segments of tens of kilobytes) and the
 * round trip still crosses the known delay:
 *
 *   host ns: vethH 10.213.2.1 ── router ns: vethR 10.213.2.2, tapR 10.213.1.1 ══ delayfwd ══ peer ns: tapP 10.213.1.2
 *
 * Names carry the test process id and a counter, so parallel runs never
 * collide; addresses are private (10.213.0.0/16, fd00:213::/32) and exist only
 * inside the namespaces. Every bed is removed in the `after` hooks, and on
 * process exit or SIGINT/SIGTERM even when a test failed half-way.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (this file runs from dist/test/live). */
export const REPO = path.resolve(__dirname, '../../..');
const FWD_SOURCE = path.join(REPO, 'test/live/delayfwd.c');
const TOOLS = path.join(REPO, 'build/test-tools');
export const FWD_BINARY = path.join(TOOLS, 'delayfwd');

/** Why the live tests cannot run here, or null when they can. */
export function liveSkipReason(): string | null {
  if (process.platform !== 'linux') return 'live tests need Linux network namespaces';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'live tests need root (network namespaces, TAP devices, SCHED_FIFO); run the suite as root to include them';
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return '`ip netns` is unavailable (install iproute2)';
  }
  if (!fs.existsSync('/dev/net/tun')) return '/dev/net/tun is missing (no TUN/TAP support in this kernel)';
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'gcc is missing (needed to build the delay forwarder test/live/delayfwd.c)';
  }
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'tcpdump is missing (the independent capture the samples are checked against; scripts/setup-debian.sh --test installs it)';
  }
  return null;
}

/** Compiles delayfwd when the binary is missing or older than its source. */
export function buildForwarder(): string {
  const src = fs.statSync(FWD_SOURCE).mtimeMs;
  let bin: number;
  try {
    bin = fs.statSync(FWD_BINARY).mtimeMs;
  } catch {
    bin = 0; // not built yet
  }
  if (bin < src) {
    fs.mkdirSync(TOOLS, { recursive: true });
    const tmp = `${FWD_BINARY}.${process.pid}.tmp`;
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', tmp, FWD_SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
    fs.renameSync(tmp, FWD_BINARY);
  }
  return FWD_BINARY;
}

export interface BedOptions {
  /** One-way delay in ms, each direction. */
  delayMs: number;
  /** Per-packet hold = delay + uniform(-jitter, +jitter), order kept (see delayfwd.c). */
  jitterMs?: number;
  /** Random loss in percent, each direction. */
  lossPct?: number;
  seed?: number;
  /** The forwarder exits by itself after this many seconds. Default 60. */
  durationS?: number;
  /** net.ipv4.tcp_timestamps in both namespaces (per-netns). Default true. */
  timestamps?: boolean;
  /** Put a router namespace and a veth (offloads on) between the host and the delay line. */
  vethHop?: boolean;
  /**
   * net.ipv4.tcp_rmem max in both namespaces, bytes. It bounds the receive
   * window and so the bulk rate (window / RTT), keeping the forwarder far
   * from saturation so that no queue builds up in front of it. Default 131072.
   */
  rmemMax?: number;
}

export interface FwdRecord {
  dir: 'ab' | 'ba';
  /** CLOCK_MONOTONIC ns. */
  arrival: number;
  planned: number;
  written: number;
  fate: 'F' | 'L' | 'O' | 'E' | 'P';
  len: number;
  l3: number;
  proto: number;
  flags: number;
  seq: number;
  ack: number;
  plen: number;
  sport: number;
  dport: number;
  /** TCP Timestamps option (RFC 7323), null without one. */
  tsval: number | null;
  tsecr: number | null;
}

export interface FwdLog {
  monoNs: number;
  realNs: number;
  config: Record<string, number>;
  counters: Record<string, number>;
  records: FwdRecord[];
}

/** Parses the per-frame record delayfwd writes at exit (format: delayfwd.c). */
export function parseFwdLog(text: string): FwdLog {
  const log: FwdLog = { monoNs: 0, realNs: 0, config: {}, counters: {}, records: [] };
  const kv = (line: string, into: Record<string, number>): void => {
    for (const m of line.matchAll(/(\w+)=(\d+)/g)) into[m[1]] = Number(m[2]);
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('# clock')) {
        const c: Record<string, number> = {};
        kv(line, c);
        log.monoNs = c.mono_ns;
        log.realNs = c.real_ns;
      } else if (line.startsWith('# config')) kv(line, log.config);
      else if (line.startsWith('# counters')) kv(line, log.counters);
      continue;
    }
    const f = line.split(' ');
    log.records.push({
      dir: f[0] as 'ab' | 'ba',
      arrival: Number(f[1]),
      planned: Number(f[2]),
      written: Number(f[3]),
      fate: f[4] as FwdRecord['fate'],
      len: Number(f[5]),
      l3: Number(f[6]),
      proto: Number(f[7]),
      flags: parseInt(f[8], 16),
      seq: Number(f[9]),
      ack: Number(f[10]),
      plen: Number(f[11]),
      sport: Number(f[12]),
      dport: Number(f[13]),
      tsval: f[14] === '-' || f[14] === undefined ? null : Number(f[14]),
      tsecr: f[15] === '-' || f[15] === undefined ? null : Number(f[15]),
    });
  }
  return log;
}

/** Runs a command, returns stdout; the error names the command. */
export async function sh(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { timeout: opts.timeoutMs ?? 15000, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

const live = new Set<Bed>();
let counter = 0;
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const b of live) b.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const b of live) b.destroySync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** Reads a child's stdout line by line. */
export function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let buf = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(line);
    }
  });
}

export class Bed {
  readonly id: string;
  readonly hostNs: string;
  readonly peerNs: string;
  readonly routerNs: string | null;
  /** The interface the monitor captures on, in the host namespace. */
  readonly hostIf: string;
  readonly peerIf: string;
  readonly hostV4: string;
  readonly peerV4: string;
  readonly hostV6: string;
  readonly peerV6: string;
  readonly options: Required<BedOptions>;
  readonly logPath: string;
  readonly tmpDir: string;
  #tapA: string;
  #tapB: string;
  #fwd: ChildProcess | null = null;
  #fwdExit: Promise<number | null> | null = null;
  #fwdStderr = '';
  #destroyed = false;

  private constructor(options: BedOptions) {
    this.options = {
      jitterMs: 0,
      lossPct: 0,
      seed: 1,
      durationS: 60,
      timestamps: true,
      vethHop: false,
      rmemMax: 131072,
      ...options,
    };
    const n = counter++;
    this.id = `${process.pid}-${n}`;
    this.hostNs = `prt-host-${this.id}`;
    this.peerNs = `prt-peer-${this.id}`;
    this.routerNs = this.options.vethHop ? `prt-rtr-${this.id}` : null;
    // IFNAMSIZ is 16 with the NUL: "pa" + pid (<= 7 digits) + "-" + n stays short.
    this.#tapA = `pa${process.pid}-${n}`;
    this.#tapB = `pb${process.pid}-${n}`;
    this.peerIf = this.#tapB;
    if (this.options.vethHop) {
      this.hostIf = `vh${process.pid}-${n}`;
      this.hostV4 = '10.213.2.1';
      this.hostV6 = 'fd00:213:2::1';
    } else {
      this.hostIf = this.#tapA;
      this.hostV4 = '10.213.1.1';
      this.hostV6 = 'fd00:213:1::1';
    }
    this.peerV4 = '10.213.1.2';
    this.peerV6 = 'fd00:213:1::2';
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'prt-live-'));
    this.logPath = path.join(this.tmpDir, 'delayfwd.log');
  }

  /** Builds the namespaces, starts the forwarder and wires everything up. */
  static async create(options: BedOptions): Promise<Bed> {
    hookExit();
    const bed = new Bed(options);
    live.add(bed);
    try {
      await bed.#setup();
    } catch (err) {
      await bed.destroy();
      throw err;
    }
    return bed;
  }

  async #ip(ns: string | null, ...args: string[]): Promise<void> {
    await sh('ip', ns ? ['-n', ns, ...args] : args);
  }

  async #sysctl(ns: string, ...settings: string[]): Promise<void> {
    await sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...settings]);
  }

  async #mac(ns: string, dev: string): Promise<string> {
    const out = await sh('ip', ['-n', ns, '-o', 'link', 'show', 'dev', dev]);
    const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
    if (!m) throw new Error(`no MAC address on ${dev} in ${ns}: ${out}`);
    return m[1];
  }

  async #setup(): Promise<void> {
    const o = this.options;
    const nsList = [this.hostNs, this.peerNs, ...(this.routerNs ? [this.routerNs] : [])];
    for (const ns of nsList) {
      await this.#ip(null, 'netns', 'add', ns);
      await this.#ip(ns, 'link', 'set', 'lo', 'up');
      const settings = [
        `net.ipv4.tcp_timestamps=${o.timestamps ? 1 : 0}`,
        `net.ipv4.tcp_rmem=4096 ${Math.min(131072, o.rmemMax)} ${o.rmemMax}`,
        // No IPv6 router solicitations or DAD probes crossing the delay line.
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.default.router_solicitations=0',
      ];
      if (ns === this.routerNs) settings.push('net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
      await this.#sysctl(ns, ...settings);
    }

    // The forwarder creates both TAPs in the root namespace, then we move
    // them: its file descriptors follow the devices.
    const bin = buildForwarder();
    const args = [
      '--tap-a',
      this.#tapA,
      '--tap-b',
      this.#tapB,
      '--delay',
      String(o.delayMs),
      '--jitter',
      String(o.jitterMs),
      '--loss',
      String(o.lossPct),
      '--seed',
      String(o.seed),
      '--duration',
      String(o.durationS),
      '--log',
      this.logPath,
    ];
    const fwd = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#fwd = fwd;
    fwd.stderr?.setEncoding('utf8');
    fwd.stderr?.on('data', (d: string) => {
      this.#fwdStderr += d;
    });
    this.#fwdExit = new Promise((resolve) => fwd.once('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`delayfwd did not start: ${this.#fwdStderr}`)), 5000);
      lines(fwd, (line) => {
        if (line.startsWith('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      fwd.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`delayfwd exited (${code}) before it was ready: ${this.#fwdStderr}`));
      });
    });
    if (/SCHED_FIFO refused/.test(this.#fwdStderr)) {
      throw new Error(`delayfwd could not get SCHED_FIFO: ${this.#fwdStderr}`);
    }

    const near = this.routerNs ?? this.hostNs;
    await this.#ip(null, 'link', 'set', this.#tapA, 'netns', near);
    await this.#ip(null, 'link', 'set', this.#tapB, 'netns', this.peerNs);
    const nearV4 = '10.213.1.1';
    const nearV6 = 'fd00:213:1::1';
    await this.#ip(near, 'addr', 'add', `${nearV4}/24`, 'dev', this.#tapA);
    await this.#ip(near, 'addr', 'add', `${nearV6}/64`, 'dev', this.#tapA, 'nodad');
    await this.#ip(this.peerNs, 'addr', 'add', `${this.peerV4}/24`, 'dev', this.#tapB);
    await this.#ip(this.peerNs, 'addr', 'add', `${this.peerV6}/64`, 'dev', this.#tapB, 'nodad');
    await this.#ip(near, 'link', 'set', this.#tapA, 'up');
    await this.#ip(this.peerNs, 'link', 'set', this.#tapB, 'up');
    // Static neighbours: no ARP or neighbour discovery crosses the delay
    // line (their probes would be lost with --loss and add noise).
    const macA = await this.#mac(near, this.#tapA);
    const macB = await this.#mac(this.peerNs, this.#tapB);
    await this.#ip(near, 'neigh', 'replace', this.peerV4, 'lladdr', macB, 'dev', this.#tapA, 'nud', 'permanent');
    await this.#ip(near, 'neigh', 'replace', this.peerV6, 'lladdr', macB, 'dev', this.#tapA, 'nud', 'permanent');
    await this.#ip(this.peerNs, 'neigh', 'replace', nearV4, 'lladdr', macA, 'dev', this.#tapB, 'nud', 'permanent');
    await this.#ip(this.peerNs, 'neigh', 'replace', nearV6, 'lladdr', macA, 'dev', this.#tapB, 'nud', 'permanent');

    if (this.routerNs) {
      const r = this.routerNs;
      const vr = `vr${process.pid}-${this.id.split('-')[1]}`;
      await this.#ip(null, 'link', 'add', this.hostIf, 'netns', this.hostNs, 'type', 'veth', 'peer', 'name', vr, 'netns', r);
      await this.#ip(this.hostNs, 'addr', 'add', `${this.hostV4}/24`, 'dev', this.hostIf);
      await this.#ip(this.hostNs, 'addr', 'add', `${this.hostV6}/64`, 'dev', this.hostIf, 'nodad');
      await this.#ip(r, 'addr', 'add', '10.213.2.2/24', 'dev', vr);
      await this.#ip(r, 'addr', 'add', 'fd00:213:2::2/64', 'dev', vr, 'nodad');
      await this.#ip(this.hostNs, 'link', 'set', this.hostIf, 'up');
      await this.#ip(r, 'link', 'set', vr, 'up');
      await this.#ip(this.hostNs, 'route', 'add', 'default', 'via', '10.213.2.2');
      await this.#ip(this.hostNs, '-6', 'route', 'add', 'default', 'via', 'fd00:213:2::2');
      await this.#ip(this.peerNs, 'route', 'add', 'default', 'via', nearV4);
      await this.#ip(this.peerNs, '-6', 'route', 'add', 'default', 'via', nearV6);
      // The router's own copy of the host's address on the TAP side would
      // shadow the host: the TAP side uses 10.213.1.1, the host 10.213.2.1.
    }
  }

  /** `ip netns exec NS cmd args` as a spawned child (stdio piped). */
  spawnIn(ns: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
  }

  /** Runs a command in a namespace and returns its stdout. */
  async exec(ns: string, cmd: string, args: string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
  }

  /** Stops the forwarder (if still running) and returns its per-frame record. */
  async stopForwarder(): Promise<FwdLog> {
    if (this.#fwd && this.#fwd.exitCode === null && this.#fwd.signalCode === null) this.#fwd.kill('SIGTERM');
    const code = await this.#fwdExit;
    this.#fwd = null;
    if (code !== 0) throw new Error(`delayfwd exited with ${code}: ${this.#fwdStderr}`);
    return parseFwdLog(fs.readFileSync(this.logPath, 'utf8'));
  }

  get forwarderStderr(): string {
    return this.#fwdStderr;
  }

  /** Removes the namespaces (and with them every interface) and the forwarder. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    if (this.#fwd && this.#fwd.exitCode === null && this.#fwd.signalCode === null) {
      this.#fwd.kill('SIGTERM');
      await this.#fwdExit;
    }
    for (const ns of [this.hostNs, this.peerNs, this.routerNs]) {
      if (!ns) continue;
      // Processes left in a namespace keep nothing alive: `ip netns del`
      // unmounts the name; the namespace dies with its last process.
      await sh('ip', ['netns', 'pids', ns])
        .then((out) => {
          for (const pid of out.split(/\s+/).filter(Boolean)) {
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              /* already gone */
            }
          }
        })
        .catch(() => undefined);
      await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** Synchronous teardown for process exit and signals. */
  destroySync(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    try {
      this.#fwd?.kill('SIGKILL');
    } catch {
      /* gone */
    }
    for (const ns of [this.hostNs, this.peerNs, this.routerNs]) {
      if (!ns) continue;
      try {
        const out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
        for (const pid of out.split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      } catch {
        /* no such namespace */
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }
}
