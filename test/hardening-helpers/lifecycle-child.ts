/**
 * Lifecycle abuse in a process of its own, for hardening-lifecycle.test.ts:
 * whatever could crash or hang must not take mocha with it. One scenario
 * per run, given as JSON in argv[2] (see Scenario); results come back as one
 * JSON line on stdout ("result": ...), stage notices over the IPC channel
 * when the parent forked this with one.
 *
 *   node lifecycle-child.js '{"scenario":"stage", ...}'
 *
 * The same file is the script of the worker_threads it starts (workerData
 * says what to run there).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RttMonitor, type RttMonitorOptions } from '../../src';
import { loTraffic } from './lo-traffic';
import { captureThreads, monitorThreads, openFds, rssKb, waitNoMonitorThreads } from './proc';

export type Stage = 'open' | 'running' | 'closing';

export type Scenario =
  /**
   * Sends `stage` over IPC once the monitor reaches it (open: start() was
   * called; running: the first report arrived; closing: stop() was called
   * after the first report, end not yet seen), then goes on capturing. On
   * IPC disconnect or SIGTERM it calls process.exit(0) at once.
   */
  | { scenario: 'stage'; stage: Stage; options: RttMonitorOptions; traffic?: boolean }
  /** process.exit(exitCode) from inside the first report listener. */
  | { scenario: 'report-exit'; options: RttMonitorOptions; exitCode: number; traffic?: boolean }
  /** A report listener that throws on every report; `handled`: an uncaughtException handler counts them. */
  | { scenario: 'throw'; options: RttMonitorOptions; handled: boolean }
  /** A monitor in a worker_thread that reads a file to its end and exits by itself. */
  | { scenario: 'worker-end'; options: RttMonitorOptions }
  /** `rounds` workers, each terminated after `reports` reports, mid-capture. */
  | { scenario: 'worker-terminate'; options: RttMonitorOptions; rounds: number; reports: number; traffic?: boolean }
  /** Unreferenced monitors and the garbage collector (needs --expose-gc). */
  | { scenario: 'gc'; file: string; local: string[]; expectSamples: number }
  /** Many monitors started and stopped in a loop; fds, threads and RSS around it. */
  | { scenario: 'loop'; file: string; local: string[]; offline: number; live: number; concurrent: number };

/** What a worker posts to its parent. */
type WorkerMessage = { t: 'started' } | { t: 'report'; samples: number } | { t: 'error'; code: string } | { t: 'end'; packets: number; samples: number };

function result(value: unknown): void {
  process.stdout.write(`${JSON.stringify({ result: value })}\n`);
}

function samplesIn(batch: { samples: number }[]): number {
  return batch.reduce((n, r) => n + r.samples, 0);
}

async function stage(s: Extract<Scenario, { scenario: 'stage' }>): Promise<void> {
  // The parent's reaction to a stage notice: the environment exits while
  // the capture thread runs (no stop(), no join()).
  process.on('disconnect', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  if (s.traffic) await loTraffic();
  const m = new RttMonitor(s.options);
  const notice = (st: Stage): void => {
    if (st === s.stage) process.send?.({ stage: st, threads: captureThreads() });
  };
  let reports = 0;
  m.on('report', () => {
    if (++reports !== 1) return;
    notice('running');
    if (s.stage === 'closing') {
      void m.stop();
      notice('closing');
    }
  });
  m.on('error', () => {});
  const started = m.start();
  notice('open');
  await started;
  await m.ended();
  // The stage was never reached, or the parent did not react: keep the
  // process alive a while so the parent's kill still finds it, then fail.
  setTimeout(() => process.exit(3), 20_000);
}

async function reportExit(s: Extract<Scenario, { scenario: 'report-exit' }>): Promise<void> {
  if (s.traffic) await loTraffic();
  const m = new RttMonitor(s.options);
  m.on('report', () => process.exit(s.exitCode));
  await m.start();
  await m.ended();
  process.exit(3); // no report came
}

async function throwing(s: Extract<Scenario, { scenario: 'throw' }>): Promise<void> {
  let uncaught = 0;
  if (s.handled) {
    process.on('uncaughtException', (err) => {
      if (err.message !== 'listener failure') throw err;
      uncaught++;
    });
  }
  const m = new RttMonitor(s.options);
  let reports = 0;
  let samples = 0;
  let ends = 0;
  m.on('report', (batch) => {
    reports++;
    samples += samplesIn(batch);
    throw new Error('listener failure');
  });
  m.on('end', () => ends++);
  await m.start();
  // Without a handler the first throw ends the process; a hang (the old
  // failure: N-API swallowed the error and the rest of the delivery, 'end'
  // included) is caught by this timer.
  const hang = setTimeout(() => {
    result({ hang: true, reports, samples, ends });
    process.exit(4);
  }, 20_000);
  await m.ended();
  clearTimeout(hang);
  // Let the re-thrown errors of the last delivery surface.
  await new Promise((r) => setImmediate(r));
  result({ reports, samples, ends, uncaught, stats: m.stats(), threads: await waitNoMonitorThreads() });
}

/** Inside a worker_thread: one monitor, every event posted to the parent. */
async function workerMain(options: RttMonitorOptions, traffic: boolean): Promise<void> {
  const port = parentPort;
  if (!port) return;
  if (traffic) await loTraffic();
  const m = new RttMonitor(options);
  m.on('report', (batch) => port.postMessage({ t: 'report', samples: samplesIn(batch) } satisfies WorkerMessage));
  m.on('error', (e) => port.postMessage({ t: 'error', code: e.code } satisfies WorkerMessage));
  await m.start();
  port.postMessage({ t: 'started' } satisfies WorkerMessage);
  await m.ended();
  const st = m.stats();
  port.postMessage({ t: 'end', packets: st.packets, samples: st.samples } satisfies WorkerMessage);
  // Nothing else keeps this worker's event loop alive: it must end by itself.
}

async function workerEnd(s: Extract<Scenario, { scenario: 'worker-end' }>): Promise<void> {
  const w = new Worker(__filename, { workerData: { options: s.options, traffic: false } });
  let reports = 0;
  let samples = 0;
  let end: WorkerMessage | undefined;
  const errors: string[] = [];
  w.on('message', (msg: WorkerMessage) => {
    if (msg.t === 'report') {
      reports++;
      samples += msg.samples;
    } else if (msg.t === 'end') {
      end = msg;
    } else if (msg.t === 'error') {
      errors.push(msg.code);
    }
  });
  const t0 = Date.now();
  const exitCode = await new Promise<number>((resolve, reject) => {
    w.on('exit', resolve);
    w.on('error', reject);
  });
  result({ exitCode, reports, samples, end, errors, ms: Date.now() - t0, threads: await waitNoMonitorThreads() });
}

async function workerTerminate(s: Extract<Scenario, { scenario: 'worker-terminate' }>): Promise<void> {
  const rounds: { reports: number; threadsBefore: number; terminateMs: number; exitCode: number }[] = [];
  for (let i = 0; i < s.rounds; i++) {
    const w = new Worker(__filename, { workerData: { options: s.options, traffic: s.traffic === true } });
    let reports = 0;
    const exited = new Promise<number>((resolve) => w.on('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      w.on('message', (msg: WorkerMessage) => {
        if (msg.t === 'report' && ++reports === s.reports) resolve();
        if (msg.t === 'end') reject(new Error(`the capture ended before ${s.reports} reports`));
      });
      w.on('error', reject);
    });
    const threadsBefore = captureThreads();
    const t0 = Date.now();
    // Terminated mid-capture: the worker's environment runs its cleanup
    // hooks while the capture thread is still posting reports.
    await w.terminate();
    const terminateMs = Date.now() - t0;
    rounds.push({ reports, threadsBefore, terminateMs, exitCode: await exited });
  }
  result({ rounds, threads: await waitNoMonitorThreads() });
}

async function gc(s: Extract<Scenario, { scenario: 'gc' }>): Promise<void> {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  const collected = new Set<string>();
  const registry = new FinalizationRegistry<string>((name) => collected.add(name));
  const settle = async (rounds: number): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      collect();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  let fileReports = 0;
  let fileSamples = 0;
  let fileEnded = false;
  let liveReports = 0;
  // Each monitor is made in a function of its own, so no variable of this
  // one refers to it afterwards.
  (() => {
    registry.register(new RttMonitor({ file: s.file, local: s.local }), 'never started');
  })();
  (() => {
    const m = new RttMonitor({ file: s.file, local: s.local, reportInterval: 1 });
    m.on('report', (batch) => {
      fileReports++;
      fileSamples += samplesIn(batch);
    });
    m.on('end', () => {
      fileEnded = true;
    });
    registry.register(m, 'file');
    void m.start();
  })();
  await settle(30);
  const afterFile = { collected: [...collected].sort(), fileReports, fileSamples, fileEnded, threads: monitorThreads() };
  let liveStillRunning = false;
  let liveThreads = 0;
  if (process.getuid?.() === 0) {
    const traffic = await loTraffic(2);
    (() => {
      const m = new RttMonitor({ interface: 'lo', reportInterval: 0.05, readTimeout: 20 });
      m.on('report', () => liveReports++);
      registry.register(m, 'live');
      void m.start();
    })();
    await settle(10);
    const before = liveReports;
    await settle(20);
    // A running monitor is held by its capture thread: collecting it would
    // stop the reports without a word (and free what the thread uses).
    liveStillRunning = liveReports > before && !collected.has('live');
    liveThreads = captureThreads();
    await traffic.stop();
  }
  result({ ...afterFile, expectSamples: s.expectSamples, liveReports, liveStillRunning, liveThreads, liveCollected: collected.has('live') });
  // The live monitor is still capturing: the environment exits around it.
  process.exit(0);
}

async function loop(s: Extract<Scenario, { scenario: 'loop' }>): Promise<void> {
  const collect = (globalThis as { gc?: () => void }).gc ?? ((): void => {});
  const one = async (): Promise<number> => {
    const m = new RttMonitor({ file: s.file, local: s.local });
    let samples = 0;
    m.on('report', (batch) => {
      samples += samplesIn(batch);
    });
    await m.start();
    await m.ended();
    return samples;
  };
  // Warm-up: the addon loaded, libpcap resolved, the heap grown to its working size.
  for (let i = 0; i < 50; i++) await one();
  collect();
  const fds0 = openFds();
  const rss0 = rssKb();
  const offlineSamples: number[] = [];
  for (let i = 0; i < s.offline; i++) {
    const n = await one();
    if (offlineSamples[offlineSamples.length - 1] !== n) offlineSamples.push(n);
  }
  collect();
  const rss1 = rssKb();
  const fds1 = openFds();
  let liveCycles = 0;
  let concurrentThreads = 0;
  if (process.getuid?.() === 0 && s.live > 0) {
    for (let i = 0; i < s.live; i++) {
      const m = new RttMonitor({ interface: 'lo', readTimeout: 10 });
      await m.start();
      // Half stop at once, half after the thread has waited on the link.
      if (i % 2 === 1) await new Promise((r) => setTimeout(r, 15));
      await m.stop();
      liveCycles++;
    }
    const many: RttMonitor[] = [];
    for (let i = 0; i < s.concurrent; i++) {
      const m = new RttMonitor({ interface: 'lo', readTimeout: 10 });
      await m.start();
      many.push(m);
    }
    concurrentThreads = captureThreads();
    await Promise.all(many.map((m) => m.stop()));
  }
  collect();
  result({
    offlineSamples,
    liveCycles,
    concurrentThreads,
    threads: await waitNoMonitorThreads(),
    fds0,
    fds1,
    fds2: openFds(),
    rssKb: [rss0, rss1, rssKb()],
  });
}

async function main(): Promise<void> {
  if (!isMainThread) {
    const d = workerData as { options: RttMonitorOptions; traffic: boolean };
    await workerMain(d.options, d.traffic);
    return;
  }
  const s = JSON.parse(process.argv[2] ?? '{}') as Scenario;
  switch (s.scenario) {
    case 'stage':
      return stage(s);
    case 'report-exit':
      return reportExit(s);
    case 'throw':
      return throwing(s);
    case 'worker-end':
      return workerEnd(s);
    case 'worker-terminate':
      return workerTerminate(s);
    case 'gc':
      return gc(s);
    case 'loop':
      return loop(s);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`lifecycle-child: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
