/**
 * The monitor side of scripts/soak.sh: one live RttMonitor on an interface
 * for as long as the soak runs, writing JSON lines to stdout:
 *   {"t":"start","wall":ms,"local":[...]}
 *   {"t":"rss","wall":ms,"rssKb":n,"anonKb":n,"heapKb":n}  every RSS_EVERY_MS
 *   {"t":"report","wall":ms,"ts":s,"rows":n,"samples":n,"kinds":{...}}
 *   {"t":"stats","wall":ms,"stats":{...}}               with every report
 *   {"t":"error","wall":ms,"code":..,"message":..}
 *   {"t":"end","wall":ms,"stats":{...}}                 after SIGTERM: stop(), last report, end
 *
 *   node soak-monitor.js '<RttMonitorOptions as JSON>'
 */
import { RttMonitor, type RttMonitorOptions } from '../../src';
import { rssAnonKb, rssKb } from './proc';

const RSS_EVERY_MS = 5000;

function line(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...obj, wall: Date.now() })}\n`);
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as RttMonitorOptions;
  const m = new RttMonitor(options);
  m.on('report', (batch) => {
    const kinds = { data: 0, handshake: 0, ts: 0 };
    let samples = 0;
    for (const r of batch) {
      samples += r.samples;
      kinds.data += r.samplesByKind.data;
      kinds.handshake += r.samplesByKind.handshake;
      kinds.ts += r.samplesByKind.ts;
    }
    line({ t: 'report', ts: batch[0]?.ts ?? 0, rows: batch.length, samples, kinds });
    line({ t: 'stats', stats: m.stats() });
  });
  m.on('error', (e) => line({ t: 'error', code: e.code, message: e.message }));
  const sampleRss = (): void => line({ t: 'rss', rssKb: rssKb(), anonKb: rssAnonKb(), heapKb: Math.round(process.memoryUsage().heapUsed / 1024) });
  await m.start();
  line({ t: 'start', local: [...m.local] });
  sampleRss();
  const timer = setInterval(sampleRss, RSS_EVERY_MS);
  const stop = (): void => {
    clearInterval(timer);
    void m.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await m.ended();
  line({ t: 'end', stats: m.stats() });
}

main().catch((e: unknown) => {
  process.stderr.write(`soak-monitor: ${String(e)}\n`);
  process.exit(1);
});
