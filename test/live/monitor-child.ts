/**
 * Runs one or more RttMonitors (the compiled package, dist/src) inside a
 * namespace for the live tests:
 *   ip netns exec NS node monitor-child.js '<spec JSON>'
 * and writes every event as one JSON line on stdout:
 *   {"t":"ready","m":name,"local":[...]}           start() resolved
 *   {"t":"startError","m":name,"code":..,"message":..}   start() rejected
 *   {"t":"report","m":name,"wall":ms,"batch":[...]}
 *   {"t":"samples","m":name,"samples":[...]}       batched every 200 ms
 *   {"t":"error","m":name,"wall":ms,"code":..,"message":..}
 *   {"t":"end","m":name,"wall":ms,"stats":{...}}
 *   {"t":"exit"}                                    every monitor ended
 * A line "stop" on stdin (or EOF, or SIGTERM) stops every monitor; each
 * delivers its last report and `end` before the process exits. The process
 * also ends by itself after `maxMs`.
 */
import { RttMonitor, type RttMonitorOptions, type RttSample } from '../../src';

export interface MonitorChildSpec {
  monitors: { name: string; options: RttMonitorOptions }[];
  maxMs: number;
}

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as MonitorChildSpec;
  const running: RttMonitor[] = [];
  const ended: Promise<void>[] = [];
  const pending = new Map<string, RttSample[]>();

  const flush = (): void => {
    for (const [name, samples] of pending) {
      if (samples.length > 0) print({ t: 'samples', m: name, samples });
    }
    pending.clear();
  };
  const flusher = setInterval(flush, 200);

  await Promise.all(
    spec.monitors.map(async ({ name, options }) => {
      let m: RttMonitor;
      try {
        m = new RttMonitor(options);
      } catch (err) {
        const e = err as { code?: string; message: string };
        print({ t: 'startError', m: name, code: e.code, message: e.message });
        return;
      }
      m.on('report', (batch) => print({ t: 'report', m: name, wall: Date.now(), batch }));
      m.on('sample', (s) => {
        let list = pending.get(name);
        if (!list) pending.set(name, (list = []));
        list.push(s);
      });
      m.on('error', (err) => print({ t: 'error', m: name, wall: Date.now(), code: err.code, message: err.message }));
      // Awaited only once started: a monitor whose start() failed may never emit `end`.
      const endedOne = new Promise<void>((resolve) =>
        m.once('end', () => {
          flush();
          print({ t: 'end', m: name, wall: Date.now(), stats: m.stats() });
          resolve();
        }),
      );
      try {
        await m.start();
        running.push(m);
        ended.push(endedOne);
        print({ t: 'ready', m: name, local: m.local });
      } catch (err) {
        const e = err as { code?: string; message: string };
        print({ t: 'startError', m: name, code: e.code, message: e.message });
      }
    }),
  );
  print({ t: 'started' });

  let stopping = false;
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await Promise.all(running.map((m) => m.stop()));
    await Promise.all(ended);
    clearInterval(flusher);
    flush();
    print({ t: 'exit' });
    process.exit(0);
  };
  const bound = setTimeout(() => void stopAll(), spec.maxMs);
  bound.unref();
  process.on('SIGTERM', () => void stopAll());
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    if (d.includes('stop')) void stopAll();
  });
  process.stdin.on('end', () => void stopAll());
}

void main().catch((err: Error) => {
  print({ t: 'fatal', message: err.stack ?? err.message });
  process.exit(1);
});
