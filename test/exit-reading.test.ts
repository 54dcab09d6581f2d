/**
 * process.exit() while a capture file is read. libpcap reads the file
 * through a stdio stream that passive-rtt opens without stdio's locking,
 * and exit(3) unbuffers every stream after the atexit handlers have run:
 * a capture thread still inside fread then would read through pointers
 * libc is rewriting. passive-rtt's atexit handler stops offline reads
 * first. Seen from outside with strace: when the process ends, the capture
 * thread is not inside a read(2) that never returns. The file is a FIFO
 * that a writer feeds a little every few milliseconds, so that without the
 * handler the capture thread is nearly always blocked in read(2) when the
 * process ends, and with it the next chunk lets the read return at once.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers/expect';
import { stracedCapture, traceCaptureThread } from './helpers/strace';

describe('process.exit() while a capture file is read', function () {
  this.timeout(60_000);
  const capture = stracedCapture('exit-reading', ['--packets', '200000', '--flows', '500', '--seed', '3']);

  for (const threads of [1, 2] as const) {
    it(`threads ${threads}: the capture thread has left its read when the process ends`, function () {
      const fifo = path.join(tmpDir(), `exit-${threads}.fifo`);
      const trace = path.join(tmpDir(), `exit-${threads}.strace`);
      fs.rmSync(fifo, { force: true });
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      // 2 kB every 5 ms: the monitor is always waiting for the next chunk.
      const writer = spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('fs'); const b = fs.readFileSync(process.argv[1]); const fd = fs.openSync(process.argv[2], 'w');
             let at = 0; const t = setInterval(() => { try { fs.writeSync(fd, b.subarray(at, at + 2048)); } catch { clearInterval(t); return; }
             at += 2048; if (at >= b.length) { clearInterval(t); fs.closeSync(fd); } }, 5);`,
          capture.file,
          fifo,
        ],
        { stdio: 'ignore' },
      );
      try {
        const lines = traceCaptureThread(fifo, threads, trace, ['-e', 'trace=read,prctl,exit_group'], 'setTimeout(() => process.exit(0), 500);');
        const reads = lines.filter((l) => /read\(|read resumed/.test(l));
        assert.ok(reads.length > 10, `the capture thread read the FIFO (${reads.length} reads)`);
        // A read cut off by the end of the process is shown as resumed with
        // no result ("= ?").
        const cut = reads.filter((l) => /read resumed>.*= \?/.test(l));
        assert.deepEqual(cut, [], 'a read of the capture thread was still in progress when the process ended');
      } finally {
        writer.kill();
        fs.rmSync(fifo, { force: true });
      }
    });
  }
});
