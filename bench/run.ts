/**
 * npm run bench: passive-rtt beside the libpcap floor, on generated captures.
 *
 * For each flow count (the scaling table: 1k, 10k, 100k, 1M concurrent
 * flows, the same packet count; the 10k row is the realistic scenario) it
 * generates a capture and its ground truth (bench/gen), then, on the same
 * file, alternates timed runs of the floor (bench/floor: pcap_dispatch and a
 * parse to the TCP header) and of passive-rtt's full pipeline (RttMonitor in
 * a fresh Node process, reports delivered to JavaScript), and finally one run
 * with samples on that is compared with the ground truth. Medians of the
 * timed runs are printed as a table and written with every run's figures to
 * bench/out/results.json.
 *
 *   node dist/bench/run.js [--smoke] [--packets N] [--flows 1k,10k,100k,1M]
 *       [--repeats N] [--seed N] [--keep] [--live] [--live-packets N]
 *       [--perf] [--threads 1|2] [--out DIR]
 *
 * --smoke: tiny files, one repeat, fails (exit 1) if the harness breaks or
 * accuracy misses its target; for CI. --live: also replays a capture onto a
 * veth pair in a network namespace of its own and compares pcap drop
 * counters of passive-rtt and tcpdump (root only). --threads: RttMonitor's
 * `threads` for passive-rtt's runs (default: the monitor's own, 2 on a
 * machine with two CPUs or more). Throughput is the packet rate by the wall
 * clock; "cpu ns/pkt" is every thread's CPU time (user and system) per
 * packet, beside the floor's in "floor cpu".
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccuracyResult } from './truth';

const ROOT = path.resolve(__dirname, '..', '..');
const BENCH = path.join(ROOT, 'bench');
const GEN = path.join(BENCH, 'gen');
const FLOOR = path.join(BENCH, 'floor');
const CHILD = path.join(__dirname, 'child.js');
const LOCAL = ['198.18.0.1', '2001:2::1'];

interface Options {
  smoke: boolean;
  packets: number;
  flows: number[];
  repeats: number;
  seed: number;
  keep: boolean;
  live: boolean;
  livePackets: number;
  perf: boolean;
  threads?: 1 | 2;
  out: string;
}

function count(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`not a count: ${text}`);
  const mult = m[2] === '' ? 1 : m[2].toLowerCase() === 'k' ? 1e3 : 1e6;
  return Math.round(Number(m[1]) * mult);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    smoke: false,
    packets: 10_000_000,
    flows: [1000, 10000, 100000, 1000000],
    repeats: 5,
    seed: 1,
    keep: false,
    live: false,
    livePackets: 2_000_000,
    perf: false,
    out: path.join(BENCH, 'out'),
  };
  let packetsGiven = false;
  let flowsGiven = false;
  let repeatsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--smoke':
        o.smoke = true;
        break;
      case '--packets':
        o.packets = count(value());
        packetsGiven = true;
        break;
      case '--flows':
        o.flows = value().split(',').map(count);
        flowsGiven = true;
        break;
      case '--repeats':
        o.repeats = count(value());
        repeatsGiven = true;
        break;
      case '--seed':
        o.seed = count(value());
        break;
      case '--keep':
        o.keep = true;
        break;
      case '--live':
        o.live = true;
        break;
      case '--live-packets':
        o.livePackets = count(value());
        break;
      case '--perf':
        o.perf = true;
        break;
      case '--out':
        o.out = path.resolve(value());
        break;
      case '--threads': {
        const t = value();
        if (t !== '1' && t !== '2') throw new Error('--threads: 1 or 2');
        o.threads = t === '1' ? 1 : 2;
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(
          'usage: npm run bench -- [--smoke] [--packets N] [--flows 1k,10k,100k,1M] [--repeats N]\n' +
            '       [--seed N] [--keep] [--live] [--live-packets N] [--perf] [--threads 1|2] [--out DIR]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (o.smoke) {
    if (!packetsGiven) o.packets = 200_000;
    if (!flowsGiven) o.flows = [1000, 10000];
    if (!repeatsGiven) o.repeats = 1;
  }
  return o;
}

// ------------------------------------------------------------ processes

function log(s: string): void {
  process.stderr.write(s + '\n');
}

function check(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what} exited with ${r.status ?? r.signal}: ${(r.stderr || '').trim().slice(-2000)}`);
  }
  return r.stdout;
}

function lastJson<T>(stdout: string, what: string): T {
  const lines = stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    throw new Error(`${what}: no JSON result in its output: ${stdout.slice(-500)}`);
  }
}

function run<T>(cmd: string, args: string[], what: string): T {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return lastJson<T>(check(r, what), what);
}

// ------------------------------------------------------------ figures

interface TimedRun {
  packets: number;
  wallS: number;
  userS: number;
  sysS: number;
  maxRssKb: number;
}

interface EngineRun extends TimedRun {
  eldP99Ms: number;
  eldMaxMs: number;
  reports: number;
  rows: number;
  maxTrackedFlows: number;
  stats: Record<string, unknown> & { samples: number; flowsEvicted: number; segmentsSkipped: number };
  accuracy?: AccuracyResult;
}

interface GenSummary {
  packets: number;
  flows: number;
  flowsStarted: number;
  flowsClosed: number;
  maxOpen: number;
  durationS: number;
  samples: { data: number; handshake: number; ts: number };
  ambiguous: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

interface Summary {
  runs: number;
  wallS: number;
  cpuS: number;
  mpps: number;
  nsPerPacket: number;
  cpuNsPerPacket: number;
  maxRssKb: number;
  eldP99Ms?: number;
  eldMaxMs?: number;
}

function summarize(runs: TimedRun[], packets: number): Summary {
  const wallS = median(runs.map((r) => r.wallS));
  const cpuS = median(runs.map((r) => r.userS + r.sysS));
  const s: Summary = {
    runs: runs.length,
    wallS,
    cpuS,
    mpps: packets / wallS / 1e6,
    nsPerPacket: (wallS * 1e9) / packets,
    cpuNsPerPacket: (cpuS * 1e9) / packets,
    maxRssKb: median(runs.map((r) => r.maxRssKb)),
  };
  const e = runs as EngineRun[];
  if (e.length > 0 && e[0].eldP99Ms !== undefined) {
    s.eldP99Ms = median(e.map((r) => r.eldP99Ms));
    s.eldMaxMs = Math.max(...e.map((r) => r.eldMaxMs));
  }
  return s;
}

interface Scenario {
  name: string;
  flows: number;
  packets: number;
  file: string;
  gen: GenSummary;
  genWallS: number;
  fileBytes: number;
  floorRuns: TimedRun[];
  engineRuns: EngineRun[];
  floor: Summary;
  engine: Summary;
  ratio: number;
  bytesPerFlow: number;
  maxTrackedFlows: number;
  flowsEvicted: number;
  segmentsSkipped: number;
  accuracy: AccuracyResult;
  accuracyRun: { wallS: number; samples: number; maxRssKb: number };
  perf?: string;
}

// ------------------------------------------------------------ scenario

function generate(o: Options, flows: number, packets: number, base: string): { gen: GenSummary; wallS: number } {
  const args = ['--packets', String(packets), '--flows', String(flows), '--seed', String(o.seed)];
  args.push('--local4', LOCAL[0], '--local6', LOCAL[1], '-o', `${base}.pcap`, '-t', `${base}.truth`);
  const side = `${base}.gen.json`;
  if (fs.existsSync(side) && fs.existsSync(`${base}.pcap`) && fs.existsSync(`${base}.truth`)) {
    const prev = JSON.parse(fs.readFileSync(side, 'utf8')) as { args: string[]; gen: GenSummary; wallS: number };
    if (JSON.stringify(prev.args) === JSON.stringify(args)) {
      log(`  reusing ${path.basename(base)}.pcap (kept from an earlier run)`);
      return { gen: prev.gen, wallS: prev.wallS };
    }
  }
  const t0 = process.hrtime.bigint();
  const gen = run<GenSummary>(GEN, args, 'bench/gen');
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  fs.writeFileSync(side, JSON.stringify({ args, gen, wallS }) + '\n');
  return { gen, wallS };
}

function removeFiles(base: string): void {
  for (const ext of ['.pcap', '.truth', '.gen.json']) fs.rmSync(base + ext, { force: true });
}

function floorRun(file: string): TimedRun {
  return run<TimedRun>(FLOOR, [file], 'bench/floor');
}

function engineRun(file: string, flows: number): EngineRun {
  return run<EngineRun>(process.execPath, [CHILD, 'run', file, LOCAL.join(','), String(maxFlows(flows)), ...THREADS_ARG], 'engine run');
}

// The default maxFlows (1M) is the expected working set; closed flows stay
// tracked for expTtl (60 s) after their FIN, so give the table room beyond
// the concurrent flows rather than measure evictions.
function maxFlows(flows: number): number {
  return Math.max(1_000_000, 2 * flows);
}

function perfStat(file: string, flows: number): string {
  const r = spawnSync(
    'perf',
    [
      'stat',
      '-e',
      'task-clock,cycles,instructions,branch-misses,cache-misses,page-faults',
      '--',
      process.execPath,
      CHILD,
      'run',
      file,
      LOCAL.join(','),
      String(maxFlows(flows)),
      ...THREADS_ARG,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.error) return `perf unavailable: ${r.error.message}`;
  return (r.stderr || '').trim();
}

function scenario(o: Options, flows: number, baselineKb: number): Scenario {
  const name = flows === 10000 ? '10k flows (realistic)' : `${human(flows)} flows`;
  const base = path.join(o.out, `f${flows}-p${o.packets}-s${o.seed}`);
  log(`\n== ${name}, ${human(o.packets)} packets`);
  const { gen, wallS: genWallS } = generate(o, flows, o.packets, base);
  const file = `${base}.pcap`;
  const fileBytes = fs.statSync(file).size;
  log(
    `  generated in ${genWallS.toFixed(1)} s: ${(fileBytes / 1e6).toFixed(0)} MB, ${gen.maxOpen} flows open at once, ` +
      `${gen.samples.data + gen.samples.handshake + gen.samples.ts} samples, ${gen.ambiguous} ambiguous ACKs`,
  );
  try {
    floorRun(file); // brings the file into the page cache
    const floorRuns: TimedRun[] = [];
    const engineRuns: EngineRun[] = [];
    // Floor and passive-rtt run as back-to-back pairs, in alternating order,
    // and the ratio is the median of the pairs' ratios: on a shared machine
    // the speed of both drifts together from minute to minute, far more than
    // it does between two runs a second apart.
    const pairRatios: number[] = [];
    for (let i = 0; i < o.repeats; i++) {
      let f: TimedRun;
      let e: EngineRun;
      if (i % 2 === 0) {
        f = floorRun(file);
        e = engineRun(file, flows);
      } else {
        e = engineRun(file, flows);
        f = floorRun(file);
      }
      floorRuns.push(f);
      engineRuns.push(e);
      pairRatios.push(f.wallS / e.wallS);
      log(
        `  run ${i + 1}/${o.repeats}: floor ${mpps(f.packets, f.wallS)} Mpps, passive-rtt ${mpps(e.packets, e.wallS)} Mpps ` +
          `(${(f.wallS / e.wallS).toFixed(2)} x), ${(e.maxRssKb / 1024).toFixed(0)} MB, event loop p99 ${e.eldP99Ms.toFixed(2)} ms`,
      );
      if (e.packets !== f.packets) throw new Error(`passive-rtt read ${e.packets} packets, the floor ${f.packets}`);
    }
    const acc = run<EngineRun>(
      process.execPath,
      [CHILD, 'accuracy', file, LOCAL.join(','), String(maxFlows(flows)), `${base}.truth`, ...THREADS_ARG],
      'accuracy run',
    );
    const a = acc.accuracy as AccuracyResult;
    log(
      `  accuracy: ${a.exact}/${a.truthSamples} exact (${pct(a.exactShare)}), ${a.onAmbiguous} on ambiguous ACKs, ` +
        `${a.missed} missed, ${a.wrong} wrong, ${a.extra} extra, MAE ${a.maeUs.toFixed(2)} us`,
    );
    for (const ex of a.examples.slice(0, 5)) log(`    ${ex}`);
    const perf = o.perf ? perfStat(file, flows) : undefined;
    const floor = summarize(floorRuns, o.packets);
    const engine = summarize(engineRuns, o.packets);
    return {
      name,
      flows,
      packets: o.packets,
      file: path.relative(ROOT, file),
      gen,
      genWallS,
      fileBytes,
      floorRuns,
      engineRuns: engineRuns.map((e) => ({ ...e, accuracy: undefined })),
      floor,
      engine,
      ratio: median(pairRatios),
      bytesPerFlow: ((engine.maxRssKb - baselineKb) * 1024) / flows,
      maxTrackedFlows: Math.max(...engineRuns.map((e) => e.maxTrackedFlows)),
      flowsEvicted: engineRuns[0].stats.flowsEvicted,
      segmentsSkipped: engineRuns[0].stats.segmentsSkipped,
      accuracy: a,
      accuracyRun: { wallS: acc.wallS, samples: acc.stats.samples, maxRssKb: acc.maxRssKb },
      perf,
    };
  } finally {
    if (!o.keep) removeFiles(base);
  }
}

// ------------------------------------------------------------ live

interface LiveSide {
  tool: string;
  replayPps: number;
  sent: number;
  received: number;
  dropped: number;
  ifDropped?: number;
  captured: number;
}

interface LiveResult {
  packets: number;
  interface: string;
  alone: LiveSide[];
  together: LiveSide[];
  note?: string;
}

function sh(cmd: string, args: string[]): string {
  return check(spawnSync(cmd, args, { encoding: 'utf8' }), `${cmd} ${args.join(' ')}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Bg {
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill: (sig: NodeJS.Signals) => void;
  stderr: () => string;
}

function background(cmd: string, args: string[]): Bg {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
  return { done, kill: (sig) => p.kill(sig), stderr: () => stderr };
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function replay(ns: string, iface: string, file: string): { pps: number; sent: number } {
  const out = sh('ip', ['netns', 'exec', ns, 'tcpreplay', '--topspeed', '-i', iface, file]);
  const pps = /Rated:.*?([\d.]+) pps/.exec(out);
  const sent = /Successful packets:\s+(\d+)/.exec(out);
  return { pps: pps ? Number(pps[1]) : NaN, sent: sent ? Number(sent[1]) : NaN };
}

function startTcpdump(ns: string, iface: string): Bg {
  // Same snaplen as passive-rtt's default; libpcap's default buffer for both.
  return background('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-n', '-s', '512', '-w', '/dev/null']);
}

async function stopTcpdump(bg: Bg, tool: string, rep: { pps: number; sent: number }): Promise<LiveSide> {
  // tcpdump opens the interface with a 1000 ms buffer timeout
  // (pcap_set_timeout(3PCAP)); with TPACKET_V3 a partly filled block reaches
  // it only when that timeout retires the block, so wait past it before
  // SIGINT, or the last packets are counted received but never captured.
  await sleep(1500);
  bg.kill('SIGINT');
  const r = await bg.done;
  const num = (re: RegExp): number => Number(re.exec(r.stderr)?.[1] ?? NaN);
  return {
    tool,
    replayPps: rep.pps,
    sent: rep.sent,
    captured: num(/(\d+) packets captured/),
    received: num(/(\d+) packets received by filter/),
    dropped: num(/(\d+) packets dropped by kernel/),
  };
}

function startMonitor(ns: string, iface: string, dir: string, tag: string): { bg: Bg; ready: string; stop: string } {
  const ready = path.join(dir, `${tag}.ready`);
  const stop = path.join(dir, `${tag}.stop`);
  fs.rmSync(ready, { force: true });
  fs.rmSync(stop, { force: true });
  const bg = background('ip', ['netns', 'exec', ns, process.execPath, CHILD, 'live', iface, LOCAL.join(','), ready, stop, ...THREADS_ARG]);
  return { bg, ready, stop };
}

async function stopMonitor(m: { bg: Bg; stop: string }, rep: { pps: number; sent: number }): Promise<LiveSide> {
  await sleep(500);
  fs.writeFileSync(m.stop, 'stop\n');
  const r = await m.bg.done;
  if (r.code !== 0) throw new Error(`passive-rtt live child failed: ${r.stderr.trim()}`);
  const s = lastJson<{ stats: { pcapReceived: number; pcapDropped: number; pcapIfDropped: number; packets: number } }>(r.stdout, 'live child');
  return {
    tool: 'passive-rtt',
    replayPps: rep.pps,
    sent: rep.sent,
    captured: s.stats.packets,
    received: s.stats.pcapReceived,
    dropped: s.stats.pcapDropped,
    ifDropped: s.stats.pcapIfDropped,
  };
}

async function live(o: Options): Promise<LiveResult> {
  if (process.getuid?.() !== 0) throw new Error('--live needs root (network namespaces, packet capture)');
  const ns = `prtt-bench-${process.pid}`;
  const base = path.join(o.out, `live-p${o.livePackets}-s${o.seed}`);
  log(`\n== live: tcpreplay --topspeed of ${human(o.livePackets)} packets onto a veth pair in namespace ${ns}`);
  generate(o, 10000, o.livePackets, base);
  const file = `${base}.pcap`;
  const cleanup = (): void => {
    spawnSync('ip', ['netns', 'del', ns]);
  };
  process.once('exit', cleanup);
  try {
    // A namespace of our own: the veth pair never touches the host's interfaces.
    sh('ip', ['netns', 'add', ns]);
    sh('ip', ['-n', ns, 'link', 'add', 'prtt-tx', 'type', 'veth', 'peer', 'name', 'prtt-rx']);
    sh('ip', ['-n', ns, 'link', 'set', 'prtt-tx', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'prtt-rx', 'up']);
    // IPv6 would send router solicitations onto the pair; keep it quiet.
    sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1']);
    const alone: LiveSide[] = [];
    const together: LiveSide[] = [];
    {
      const td = startTcpdump(ns, 'prtt-rx');
      await waitFor(() => /listening on/.test(td.stderr()), 10000, 'tcpdump to start');
      const rep = replay(ns, 'prtt-tx', file);
      alone.push(await stopTcpdump(td, 'tcpdump', rep));
    }
    {
      const m = startMonitor(ns, 'prtt-rx', o.out, 'alone');
      await waitFor(() => fs.existsSync(m.ready), 10000, 'passive-rtt to start');
      const rep = replay(ns, 'prtt-tx', file);
      alone.push(await stopMonitor(m, rep));
    }
    {
      const td = startTcpdump(ns, 'prtt-rx');
      const m = startMonitor(ns, 'prtt-rx', o.out, 'together');
      await waitFor(() => /listening on/.test(td.stderr()) && fs.existsSync(m.ready), 10000, 'both captures to start');
      const rep = replay(ns, 'prtt-tx', file);
      together.push(await stopTcpdump(td, 'tcpdump', rep));
      together.push(await stopMonitor(m, rep));
    }
    for (const s of [...alone, ...together]) {
      log(`  ${s.tool.padEnd(12)} replay ${(s.replayPps / 1e3).toFixed(0)} kpps: received ${s.received}, captured ${s.captured}, dropped ${s.dropped}`);
    }
    return { packets: o.livePackets, interface: 'veth (prtt-rx)', alone, together };
  } finally {
    cleanup();
    process.removeListener('exit', cleanup);
    if (!o.keep) removeFiles(base);
    for (const t of ['alone', 'together']) for (const e of ['ready', 'stop']) fs.rmSync(path.join(o.out, `${t}.${e}`), { force: true });
  }
}

// ------------------------------------------------------------ output

function human(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(n);
}

function mpps(packets: number, wallS: number): string {
  return (packets / wallS / 1e6).toFixed(2);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(3)} %`;
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

interface Target {
  what: string;
  goal: string;
  reached: string;
  ok: boolean;
  // Accuracy holds on any file; rates and delays mean something only over
  // full-size files, so a smoke judges accuracy targets alone.
  accuracy: boolean;
}

function targets(scs: Scenario[]): Target[] {
  const t: Target[] = [];
  const s10k = scs.find((s) => s.flows === 10000);
  const s1m = scs.find((s) => s.flows === 1000000);
  if (s10k) {
    t.push({ what: '10k flows throughput', goal: '>= 0.6 x floor', reached: `${s10k.ratio.toFixed(2)} x`, ok: s10k.ratio >= 0.6, accuracy: false });
    const p99 = s10k.engine.eldP99Ms ?? NaN;
    t.push({ what: 'event loop p99 (10k flows)', goal: '< 10 ms', reached: `${p99.toFixed(2)} ms`, ok: p99 < 10, accuracy: false });
  }
  if (s1m) {
    t.push({ what: '1M flows throughput', goal: '>= 0.3 x floor', reached: `${s1m.ratio.toFixed(2)} x`, ok: s1m.ratio >= 0.3, accuracy: false });
    const mb = s1m.engine.maxRssKb / 1024;
    t.push({ what: '1M flows peak RSS', goal: '<= 250 MB', reached: `${mb.toFixed(0)} MB`, ok: mb <= 250, accuracy: false });
  }
  for (const s of scs) {
    const a = s.accuracy;
    t.push({ what: `accuracy, ${human(s.flows)} flows`, goal: '>= 99.9 % exact', reached: pct(a.exactShare), ok: a.exactShare >= 0.999, accuracy: true });
    t.push({ what: `ambiguous ACKs, ${human(s.flows)} flows`, goal: '0 samples', reached: String(a.onAmbiguous), ok: a.onAmbiguous === 0, accuracy: true });
  }
  return t;
}

// passive-rtt's runs with --threads (RttMonitor's `threads`); none: its default.
let THREADS_ARG: string[] = [];

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.threads !== undefined) THREADS_ARG = [`--threads=${o.threads}`];
  for (const [p, what] of [
    [GEN, 'bench/gen'],
    [FLOOR, 'bench/floor'],
  ] as const) {
    if (!fs.existsSync(p)) throw new Error(`${what} is not built: run make -C bench`);
  }
  fs.mkdirSync(o.out, { recursive: true });
  const t0 = Date.now();
  // Other work on the machine skews every figure: record how busy it was.
  const loadStart = os.loadavg();
  const base = run<{ maxRssKb: number; libpcap: { library: string; version: string } }>(process.execPath, [CHILD, 'baseline'], 'baseline child');
  log(`baseline: an idle node process with the addon loaded peaks at ${(base.maxRssKb / 1024).toFixed(1)} MB`);
  const scs: Scenario[] = [];
  const failed: { flows: number; error: string }[] = [];
  for (const flows of o.flows) {
    try {
      scs.push(scenario(o, flows, base.maxRssKb));
    } catch (err) {
      // One broken scenario (say, the addon rebuilt under us) must not lose the others.
      const error = err instanceof Error ? err.message : String(err);
      failed.push({ flows, error });
      log(`  FAILED: ${error.split('\n')[0]}`);
    }
  }
  let liveResult: LiveResult | { error: string } | undefined;
  if (o.live) {
    try {
      liveResult = await live(o);
    } catch (err) {
      liveResult = { error: err instanceof Error ? err.message : String(err) };
      log(`live part failed: ${liveResult.error}`);
    }
  }

  const rows = scs.map((s) => [
    s.name,
    human(s.packets),
    s.floor.mpps.toFixed(2),
    s.engine.mpps.toFixed(2),
    s.ratio.toFixed(2),
    s.engine.nsPerPacket.toFixed(0),
    s.engine.cpuNsPerPacket.toFixed(0),
    s.floor.cpuNsPerPacket.toFixed(0),
    (s.engine.maxRssKb / 1024).toFixed(0),
    s.bytesPerFlow.toFixed(0),
    (s.engine.eldP99Ms ?? NaN).toFixed(2),
    pct(s.accuracy.exactShare),
    String(s.accuracy.onAmbiguous),
    s.accuracy.maeUs.toFixed(2),
  ]);
  const out = [
    '',
    `passive-rtt benchmark: medians of ${o.repeats} run(s), ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}, ` +
      `load average ${loadStart.map((x) => x.toFixed(1)).join(' ')} at start, threads ${o.threads ?? 'default'}`,
    table(
      [
        'scenario',
        'packets',
        'floor Mpps',
        'prtt Mpps',
        'ratio',
        'ns/pkt',
        'cpu ns/pkt',
        'floor cpu',
        'RSS MB',
        'B/flow',
        'ELD p99 ms',
        'exact',
        'on ambig.',
        'MAE us',
      ],
      rows,
    ),
    '',
    table(
      ['target', 'goal', 'reached', ''],
      targets(scs).map((t) => [t.what, t.goal, t.reached, o.smoke && !t.accuracy ? 'not judged (smoke)' : t.ok ? 'ok' : 'MISSED']),
    ),
  ];
  if (liveResult && 'alone' in liveResult) {
    const lr = liveResult;
    out.push('', `live: tcpreplay --topspeed, ${human(lr.packets)} packets onto a veth pair (own namespace)`);
    out.push(
      table(
        ['capture', 'replay kpps', 'sent', 'received', 'captured', 'dropped'],
        [...lr.alone.map((s) => [`${s.tool} alone`, s]), ...lr.together.map((s) => [`${s.tool} (both at once)`, s])].map(([n, s]) => {
          const x = s as LiveSide;
          return [n as string, (x.replayPps / 1e3).toFixed(0), String(x.sent), String(x.received), String(x.captured), String(x.dropped)];
        }),
      ),
    );
  }
  for (const f of failed) out.push('', `${human(f.flows)} flows: FAILED: ${f.error.split('\n')[0]}`);
  process.stdout.write(out.join('\n') + '\n');

  const results = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      node: process.version,
      libpcap: base.libpcap,
      loadAverageAtStart: loadStart,
      loadAverageAtEnd: os.loadavg(),
    },
    options: o,
    baselineRssKb: base.maxRssKb,
    scenarios: scs,
    failed,
    targets: targets(scs),
    live: liveResult,
    totalS: (Date.now() - t0) / 1000,
  };
  const jsonPath = path.join(o.out, 'results.json');
  fs.writeFileSync(jsonPath, JSON.stringify(results, null, 2) + '\n');
  log(`\nwrote ${path.relative(process.cwd(), jsonPath)} (${((Date.now() - t0) / 1000).toFixed(0)} s in all)`);

  if (failed.length > 0) process.exitCode = 1;
  if (o.smoke) {
    const bad = targets(scs).filter((t) => t.accuracy && !t.ok);
    if (bad.length > 0) {
      log(`smoke: FAILED: ${bad.map((t) => `${t.what} ${t.reached}`).join('; ')}`);
      process.exitCode = 1;
    } else {
      log('smoke: harness ran and accuracy holds');
    }
  }
}

main().catch((err: unknown) => {
  log(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
