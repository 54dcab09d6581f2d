/**
 * The capture runs off the main thread: while RttMonitor reads a large file,
 * the JavaScript event loop keeps turning. A monitor that decoded on the main
 * thread would hold the loop for the whole file (hundreds of milliseconds
 * here), so a 1 ms timer would stop firing and the loop delay would be as
 * long as the file. The file is generated traffic (bench/gen: 10k flows,
 * IPv4 and IPv6, the project's capture generator).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RttMonitor } from '../src';
import { GEN_LOCAL, generateCapture } from './helpers/generate';

const PACKETS = 3_000_000;

describe('the event loop while a large file is read', function () {
  this.timeout(180_000);
  let file = '';

  before(function () {
    file = generateCapture('event-loop', ['--packets', String(PACKETS), '--flows', '10000']).file;
  });

  after(() => {
    if (file) fs.rmSync(file, { force: true });
  });

  it('keeps a 1 ms timer firing, with a small loop delay, from start() to the end of the file', async () => {
    const delay = monitorEventLoopDelay({ resolution: 1 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const m = new RttMonitor({ file, local: GEN_LOCAL });
    let reports = 0;
    m.on('report', () => reports++);
    const t0 = process.hrtime.bigint();
    delay.enable();
    try {
      await m.start();
      await m.ended();
    } finally {
      delay.disable();
      clearInterval(timer);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const p99 = delay.percentile(99) / 1e6;
    const max = delay.max / 1e6;
    console.log(
      `      ${PACKETS} packets in ${ms.toFixed(0)} ms, ${reports} reports; timer fired ${ticks} times; loop delay p99 ${p99.toFixed(2)} ms, max ${max.toFixed(2)} ms`,
    );
    const s = m.stats();
    assert.equal(s.packets, PACKETS, 'the whole file was read');
    assert.ok(s.samples > 100_000, `samples ${s.samples}`);
    assert.ok(reports > 0);
    // The check means something only if the file took a while.
    assert.ok(ms > 150, `the file took ${ms.toFixed(0)} ms: make it larger`);
    // A 1 ms timer on a free loop fires about once a millisecond; a blocked
    // loop fires it a few times in all.
    assert.ok(ticks >= ms / 5, `timer fired ${ticks} times in ${ms.toFixed(0)} ms`);
    assert.ok(p99 < 50, `event loop delay p99 ${p99.toFixed(2)} ms`);
    assert.ok(max < ms / 2, `event loop blocked for ${max.toFixed(0)} ms of ${ms.toFixed(0)} ms`);
  });
});
