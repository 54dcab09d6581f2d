/**
 * Real DogStatsD receivers for tests: a UDP socket (node:dgram) and a Unix
 * datagram socket. Node cannot bind AF_UNIX/SOCK_DGRAM, so the latter is a
 * ten-line python3 child that prints each datagram as a JSON string per line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export interface Receiver {
  /** Each datagram as received, in order. */
  datagrams: string[];
  /** Every protocol line of every datagram, in order. */
  lines(): string[];
  /** Resolves once at least `n` datagrams arrived (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<void>;
  /** Resolves once at least `n` protocol lines arrived, however they were packed (rejects after `ms`). */
  waitForLines(n: number, ms?: number): Promise<void>;
  close(): Promise<void>;
}

function makeWaiter(datagrams: string[]): {
  notify(): void;
  waitFor(n: number, ms?: number): Promise<void>;
  waitForLines(n: number, ms?: number): Promise<void>;
} {
  let waiters: Array<() => void> = [];
  const wait = (what: string, count: () => number, n: number, ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${n} ${what}, got ${count()}: ${JSON.stringify(datagrams)}`)), ms);
      const check = (): void => {
        if (count() >= n) {
          clearTimeout(deadline);
          resolve();
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return {
    notify() {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    },
    waitForLines: (n: number, ms = 5000) => wait('lines', () => splitLines(datagrams).length, n, ms),
    waitFor(n: number, ms = 5000): Promise<void> {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`timed out waiting for ${n} datagrams, got ${datagrams.length}: ${JSON.stringify(datagrams)}`)), ms);
        const check = (): void => {
          if (datagrams.length >= n) {
            clearTimeout(deadline);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        check();
      });
    },
  };
}

function splitLines(datagrams: string[]): string[] {
  return datagrams.flatMap((d) => d.split('\n')).filter((l) => l !== '');
}

export async function udpReceiver(): Promise<Receiver & { port: number }> {
  const sock = dgram.createSocket('udp4');
  const datagrams: string[] = [];
  const w = makeWaiter(datagrams);
  sock.on('message', (msg) => {
    datagrams.push(msg.toString('utf8'));
    w.notify();
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: sock.address().port,
    datagrams,
    lines: () => splitLines(datagrams),
    waitFor: (n: number, ms?: number) => w.waitFor(n, ms),
    waitForLines: (n: number, ms?: number) => w.waitForLines(n, ms),
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

const PY_RECEIVER = `
import json, os, socket, sys
p = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(p)
print("ready", flush=True)
while True:
    d = s.recv(65536)
    print(json.dumps(d.decode("utf-8")), flush=True)
`;

export async function unixgramReceiver(): Promise<Receiver & { path: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-uds-'));
  const sockPath = path.join(dir, 'dsd.socket');
  const child: ChildProcess = spawn('python3', ['-c', PY_RECEIVER, sockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const datagrams: string[] = [];
  const w = makeWaiter(datagrams);
  const rl = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`python3 receiver exited with ${code}`));
    child.once('exit', onExit);
    rl.on('line', (line) => {
      if (line === 'ready') {
        child.off('exit', onExit);
        resolve();
        return;
      }
      datagrams.push(JSON.parse(line) as string);
      w.notify();
    });
  });
  return {
    path: sockPath,
    datagrams,
    lines: () => splitLines(datagrams),
    waitFor: (n: number, ms?: number) => w.waitFor(n, ms),
    waitForLines: (n: number, ms?: number) => w.waitForLines(n, ms),
    close: async () => {
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A UDP port on 127.0.0.1 with nothing listening (bound, noted, closed). */
export async function deadUdpPort(): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  const port = sock.address().port;
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}
