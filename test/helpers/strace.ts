/**
 * Runs an RttMonitor over a capture file in a child process under
 * strace(1), for tests that look at the capture thread's system calls.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CAPTURE_THREAD } from '../hardening-helpers/proc';
import { GEN_LOCAL, generateCapture } from './generate';

const REPO = path.resolve(__dirname, '..', '..', '..');

/**
 * In a describe(): skips the suite when strace is missing, and generates a
 * capture (bench/gen arguments) before it, removed after. The returned
 * object's `file` is set once the before hook has run.
 */
export function stracedCapture(name: string, genArgs: string[]): { file: string } {
  const capture = { file: '' };
  before(function () {
    if (spawnSync('strace', ['-V']).status !== 0) {
      console.log('      skipped: strace is not installed (scripts/setup-debian.sh --test installs it)');
      this.skip();
    }
    capture.file = generateCapture(name, genArgs).file;
  });
  after(() => {
    if (capture.file) fs.rmSync(capture.file, { force: true });
  });
  return capture;
}

/**
 * Runs `node -e` with an RttMonitor reading `file` under `strace -f -o
 * trace` with the given strace options, `then` the code run once started
 * (`m` is the monitor); the capture thread's lines of the trace.
 */
export function traceCaptureThread(file: string, threads: 1 | 2, trace: string, straceOptions: string[], then: string): string[] {
  const monitor = `const { RttMonitor } = require(${JSON.stringify(path.join(REPO, 'dist', 'src'))});
    const m = new RttMonitor({ file: ${JSON.stringify(file)}, local: ${JSON.stringify(GEN_LOCAL)}, threads: ${threads} });
    m.on('report', () => {});
    m.start().then(() => { ${then} });`;
  const r = spawnSync('strace', ['-f', '-qq', ...straceOptions, '-o', trace, process.execPath, '-e', monitor], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, `exit status ${r.status}, signal ${r.signal}: ${r.stderr}`);
  const lines = fs.readFileSync(trace, 'utf8').split('\n');
  // The capture thread names itself (pthread_setname_np: prctl
  // PR_SET_NAME, shown as 0xf when the trace is raw).
  const named = lines.find((l) => l.includes(`prctl(PR_SET_NAME, "${CAPTURE_THREAD}")`) || l.includes(`prctl(0xf, "${CAPTURE_THREAD}"`));
  assert.ok(named, 'the capture thread named itself');
  const tid = named.split(/\s+/)[0];
  return lines.filter((l) => l.startsWith(`${tid} `));
}
