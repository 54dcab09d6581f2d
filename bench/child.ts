/**
 * One benchmark measurement in a process of its own, so that peak RSS and
 * CPU time belong to that measurement only. Prints one JSON line on stdout.
 *
 *   node dist/bench/child.js baseline
 *   node dist/bench/child.js run FILE LOCAL[,LOCAL] MAXFLOWS
 *   node dist/bench/child.js accuracy FILE LOCAL[,LOCAL] MAXFLOWS TRUTH
 *   node dist/bench/child.js live IFACE LOCAL[,LOCAL] READYFILE STOPFILE
 *
 * --threads=N anywhere on the line sets RttMonitor's `threads` (default: the
 * monitor's own).
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RttMonitor, libpcap, type HostPairReport, type RttSample } from '../src';
import { TruthCursor } from './truth';

const threadsArg = process.argv.find((a) => a.startsWith('--threads='));
const THREADS: 1 | 2 | undefined = threadsArg === undefined ? undefined : threadsArg.endsWith('=1') ? 1 : 2;

function print(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

function seconds(us: number): number {
  return us / 1e6;
}

async function runFile(file: string, local: string[], maxFlows: number, truth?: string): Promise<void> {
  // The addon and libpcap loaded before the clock starts, as the floor's
  // libpcap is (the dynamic linker loads it before main): both clocks time
  // the reading of a file, not the loading of libraries.
  libpcap();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  const cursor = truth === undefined ? undefined : new TruthCursor(truth);
  let rows = 0;
  let reports = 0;
  let maxTracked = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  eld.enable();
  const m = new RttMonitor({ file, local, maxFlows, samples: cursor !== undefined, threads: THREADS });
  m.on('report', (batch: HostPairReport[]) => {
    reports++;
    rows += batch.length;
    let flows = 0;
    for (const r of batch) flows += r.flows;
    if (flows > maxTracked) maxTracked = flows;
  });
  if (cursor) m.on('sample', (s: RttSample) => cursor.sample(s));
  let failure: Error | undefined;
  m.on('error', (e) => {
    failure ??= e;
  });
  await m.start();
  await m.ended();
  eld.disable();
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  if (failure) throw failure;
  const stats = m.stats();
  print({
    packets: stats.packets,
    wallS,
    userS: seconds(cpu.user),
    sysS: seconds(cpu.system),
    maxRssKb: process.resourceUsage().maxRSS,
    eldP99Ms: eld.percentile(99) / 1e6,
    eldMaxMs: eld.max / 1e6,
    reports,
    rows,
    maxTrackedFlows: maxTracked,
    stats,
    accuracy: cursor?.finish(),
  });
}

/**
 * Live capture until STOPFILE appears; READYFILE is written once the
 * capture runs. Prints the counters (pcapReceived, pcapDropped...).
 */
async function runLive(iface: string, local: string[], ready: string, stop: string): Promise<void> {
  // libpcap's default buffer, as tcpdump uses it in the comparison.
  const m = new RttMonitor({ interface: iface, local, reportInterval: 1, threads: THREADS });
  let failure: Error | undefined;
  m.on('error', (e) => {
    failure ??= e;
  });
  m.on('report', () => {});
  await m.start();
  fs.writeFileSync(ready, 'ready\n');
  while (!fs.existsSync(stop)) await new Promise((r) => setTimeout(r, 50));
  await m.stop();
  if (failure) throw failure;
  print({ stats: m.stats(), maxRssKb: process.resourceUsage().maxRSS });
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2).filter((a) => !a.startsWith('--threads='));
  switch (mode) {
    case 'baseline': {
      // An idle process with the addon loaded: what every run pays anyway.
      const info = libpcap();
      await new Promise((r) => setTimeout(r, 100));
      print({ maxRssKb: process.resourceUsage().maxRSS, libpcap: info });
      return;
    }
    case 'run':
      return runFile(args[0], args[1].split(','), Number(args[2]));
    case 'accuracy':
      return runFile(args[0], args[1].split(','), Number(args[2]), args[3]);
    case 'live':
      return runLive(args[0], args[1].split(','), args[2], args[3]);
    default:
      throw new Error(`unknown mode ${String(mode)}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench child: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
