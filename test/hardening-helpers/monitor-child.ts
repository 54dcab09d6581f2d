/**
 * Runs one offline RttMonitor in a process of its own and prints one JSON
 * line: its peak RSS (process.resourceUsage().maxRSS, kB), the counters, the
 * report rows of one watched remote address, and how many reports and rows
 * there were. The flood tests compare the peak RSS of a flooded capture
 * with that of the same capture without the flood.
 *
 *   node monitor-child.js '<RttMonitorOptions as JSON>' <watched remote>
 */
import { RttMonitor, type HostPairReport } from '../../src';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
  const watch = process.argv[3] ?? '';
  const monitor = new RttMonitor(options);
  const rows: HostPairReport[] = [];
  let reports = 0;
  let rowsTotal = 0;
  let maxRows = 0;
  const errors: string[] = [];
  monitor.on('report', (batch) => {
    reports++;
    rowsTotal += batch.length;
    maxRows = Math.max(maxRows, batch.length);
    for (const r of batch) if (r.dst === watch) rows.push(r);
  });
  monitor.on('error', (e) => errors.push(e.code));
  const t0 = process.hrtime.bigint();
  await monitor.start();
  await monitor.ended();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const out = {
    maxRssKb: process.resourceUsage().maxRSS,
    seconds,
    stats: monitor.stats(),
    rows,
    reports,
    rowsTotal,
    maxRows,
    errors,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
