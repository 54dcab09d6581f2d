/**
 * `threads`: with 2 the capture thread reads and decodes and an engine
 * thread of its own does the rest; with 1 one thread does both. Both must
 * give the same reports and samples, packet for packet, and the samples
 * the capture generator wrote (bench/gen's own count of the unambiguous
 * samples in the file, by kind). The engine thread is seen by its name in
 * /proc while it runs (the file comes through a FIFO that pauses halfway),
 * and only with 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RttError, RttMonitor, type HostPairReport, type RttSample } from '../src';
import { threadNames } from './hardening-helpers/proc';
import { GEN_LOCAL, generateCapture, type GenSummary } from './helpers/generate';

interface Run {
  reports: HostPairReport[][];
  samples: RttSample[];
  stats: ReturnType<RttMonitor['stats']>;
}

async function run(file: string, threads: 1 | 2): Promise<Run> {
  const m = new RttMonitor({ file, local: GEN_LOCAL, threads, samples: true, reportInterval: 0.25 });
  const out: Run = { reports: [], samples: [], stats: m.stats() };
  m.on('report', (r) => out.reports.push(r));
  m.on('sample', (s) => out.samples.push(s));
  await m.start();
  await m.ended();
  out.stats = m.stats();
  return out;
}

describe('threads: 1 and 2', function () {
  this.timeout(120_000);
  let file = '';
  let gen: GenSummary;

  before(function () {
    ({ file, summary: gen } = generateCapture('threads', ['--packets', '400000', '--flows', '3000', '--seed', '7']));
  });

  after(() => {
    if (file) fs.rmSync(file, { force: true });
  });

  it('give the same reports and samples, the ones the generator wrote', async () => {
    const one = await run(file, 1);
    const two = await run(file, 2);
    for (const r of [one, two]) {
      assert.equal(r.stats.packets, gen.packets);
      assert.deepEqual(r.stats.samplesByKind, gen.samples, 'samples by kind, as the generator counted them');
    }
    assert.ok(one.reports.length >= 3, `${one.reports.length} reports`);
    assert.deepEqual(two.reports, one.reports);
    assert.equal(two.samples.length, one.samples.length);
    assert.deepEqual(two.samples, one.samples);
    // The engine's counters; how many deliveries JavaScript found folded
    // together depends on its own timing, not on the engine.
    const { local: _l1, batchesFolded: _f1, ...s1 } = one.stats;
    const { local: _l2, batchesFolded: _f2, ...s2 } = two.stats;
    assert.deepEqual(s2, s1);
  });

  it('runs the engine on a thread of its own with 2 only', async () => {
    const fifo = path.join(path.dirname(file), 'threads.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    try {
      for (const threads of [1, 2] as const) {
        // The first 64 kB, a pause, then the rest: the monitor is mid-file
        // while the names are read.
        const writer = spawn('sh', ['-c', '{ head -c 65536 "$1"; sleep 1; tail -c +65537 "$1"; } > "$2"', 'sh', file, fifo], {
          stdio: 'inherit',
        });
        const exited = new Promise((r) => writer.once('exit', r));
        const m = new RttMonitor({ file: fifo, local: GEN_LOCAL, threads });
        m.on('report', () => {});
        await m.start();
        await new Promise((r) => setTimeout(r, 400));
        const names = threadNames();
        await m.ended();
        await exited;
        assert.equal(m.stats().packets, gen.packets);
        assert.ok(names.includes('passive-rtt'), `threads: ${names.join(', ')}`);
        assert.equal(names.includes('passive-rtt-eng'), threads === 2, `threads: ${names.join(', ')}`);
      }
    } finally {
      fs.rmSync(fifo, { force: true });
    }
  });

  it('refuses any other count', () => {
    for (const threads of [0, 3, 1.5]) {
      assert.throws(
        () => new RttMonitor({ file, local: GEN_LOCAL, threads: threads as 1 }),
        (e: unknown) => e instanceof RttError && e.code === 'INVALID_OPTION' && /threads/.test(e.message),
      );
    }
  });
});
