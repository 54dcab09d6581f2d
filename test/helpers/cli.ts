/**
 * Running the command line from the tests: the environment it gets and a
 * child process whose exit status and output are awaited.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

/** bin/passive-rtt.js of this checkout (the tests run from dist/test). */
export const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'passive-rtt.js');

/**
 * The environment for the command-line processes the tests start: the
 * test runner's own, without what changes how passive-rtt behaves (the
 * Datadog client variables, the libpcap override, PREBUILDS_ONLY), plus
 * what a test sets.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('DD_') || k === 'PASSIVE_RTT_LIBPCAP' || k === 'PREBUILDS_ONLY') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from start to exit. */
  ms: number;
}

/** Runs passive-rtt with these arguments to its end (killed after timeoutMs). */
export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Run> {
  const timeoutMs = opts.timeoutMs ?? 20000;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`passive-rtt ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    // 'close': the process has exited and its output has been read to the end.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
