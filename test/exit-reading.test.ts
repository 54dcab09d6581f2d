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
import { CAPTURE_THREAD } from './hardening-helpers/proc';
import { tmpDir } from './helpers/expect';
import { generateCapture } from './helpers/generate';

const REPO = path.resolve(__dirname, '..', '..');
const LOCAL = ['198.18.0.1', '2001:2::1'];

describe('process.exit() while a capture file is read', function () {
  this.timeout(60_000);
  let file = '';

  before(function () {
    if (spawnSync('strace', ['-V']).status !== 0) {
      console.log('      skipped: strace is not installed (scripts/setup-debian.sh --test installs it)');
      this.skip();
    }
    ({ file } = generateCapture('exit-reading', ['--packets', '200000', '--flows', '500', '--seed', '3']));
  });

  after(() => {
    if (file) fs.rmSync(file, { force: true });
  });

  for (const threads of [1, 2] as const) {
    it(`threads ${threads}: the capture thread has left its read when the process ends`, function () {
      const fifo = path.join(tmpDir(), `exit-${threads}.fifo`);
      const trace = path.join(tmpDir(), `exit-${threads}.strace`);
      fs.rmSync(fifo, { force: true });
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      try {
        // 2 kB every 5 ms: the monitor is always waiting for the next chunk.
        const writer = spawn(
          process.execPath,
          [
            '-e',
            `const fs = require('fs'); const b = fs.readFileSync(process.argv[1]); const fd = fs.openSync(process.argv[2], 'w');
             let at = 0; const t = setInterval(() => { try { fs.writeSync(fd, b.subarray(at, at + 2048)); } catch { clearInterval(t); return; }
             at += 2048; if (at >= b.length) { clearInterval(t); fs.closeSync(fd); } }, 5);`,
            file,
            fifo,
          ],
          { stdio: 'ignore' },
        );
        const monitor = `const { RttMonitor } = require(${JSON.stringify(path.join(REPO, 'dist', 'src'))});
          const m = new RttMonitor({ file: ${JSON.stringify(fifo)}, local: ${JSON.stringify(LOCAL)}, threads: ${threads} });
          m.on('report', () => {});
          m.start().then(() => setTimeout(() => process.exit(0), 500));`;
        const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=read,prctl,exit_group', '-o', trace, process.execPath, '-e', monitor], {
          encoding: 'utf8',
          timeout: 30_000,
        });
        writer.kill();
        assert.equal(r.status, 0, `exit status ${r.status}, signal ${r.signal}: ${r.stderr}`);
        const lines = fs.readFileSync(trace, 'utf8').split('\n');
        // The capture thread names itself (pthread_setname_np: prctl PR_SET_NAME).
        const named = lines.find((l) => l.includes(`prctl(PR_SET_NAME, "${CAPTURE_THREAD}")`));
        assert.ok(named, 'the capture thread named itself');
        const tid = named.split(/\s+/)[0];
        const reads = lines.filter((l) => l.startsWith(`${tid} `) && /read\(|read resumed/.test(l));
        assert.ok(reads.length > 10, `the capture thread read the FIFO (${reads.length} reads)`);
        // A read cut off by the end of the process is shown as resumed with
        // no result ("= ?").
        const cut = reads.filter((l) => /read resumed>.*= \?/.test(l));
        assert.deepEqual(cut, [], 'a read of the capture thread was still in progress when the process ended');
      } finally {
        fs.rmSync(fifo, { force: true });
      }
    });
  }
});
