/**
 * The go-metro drop-in on live captures (root: CAP_NET_RAW for lo, and
 * namespaces):
 *   - go-metro's documented example file, unchanged, on a host without eth0
 *     (a network namespace of its own, with a DogStatsD on its 127.0.0.1:8125);
 *   - `hosts` followed through a DNS change and `ips` named by reverse lookup,
 *     with the real resolver (getaddrinfo/getnameinfo) reading an /etc/hosts
 *     of a private mount namespace, so the machine's file is never touched;
 *   - sampling windows that really gate the capture.
 * Loopback traffic uses 127.0.31.x, away from the addresses other tests use;
 * go-metro's filter always excludes 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BIN, cleanEnv } from './helpers/cli';
import { udpReceiver } from './helpers/receivers';

const REPO = path.resolve(__dirname, '..', '..');
const EXAMPLE = path.join(REPO, 'examples', 'go-metro.yaml');
const LOCAL = '127.0.31.2';

/** A child whose output can be awaited line by line. */
class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => {
      this.stdout += d.toString();
      this.poke();
    });
    child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
      this.poke();
    });
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  }

  private poke(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `test` holds for the output so far (rejects after `ms`). */
  until(what: string, test: () => boolean, ms = 10000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), ms);
      const check = (): void => {
        if (test()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  json(): Array<Record<string, unknown>> {
    return this.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** A TCP echo server on `host`. */
async function echoServer(host: string): Promise<{ port: number; close(): void }> {
  const server = net.createServer((sock) => {
    sock.on('data', (d) => sock.write(d));
    sock.on('end', () => sock.end());
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

/** One connection from LOCAL: `n` request/response exchanges `gapMs` apart, then a close. */
function exchange(host: string, port: number, n: number, gapMs = 20): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port, localAddress: LOCAL });
    let got = 0;
    c.on('connect', () => c.write('q0'));
    c.on('data', () => {
      got++;
      if (got < n) setTimeout(() => c.write(`q${got}`), gapMs);
      else c.end();
    });
    c.on('close', () => resolve());
    c.on('error', reject);
  });
}

let tmp: string;
before(function () {
  if (process.getuid?.() !== 0) {
    console.log('      skipped: live capture and namespaces need root');
    this.skip();
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-gmlive-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('go-metro drop-in, live: the documented example on a host without eth0', function () {
  this.timeout(30000);

  it('exit 2, the interface named with the fix, a CRITICAL passive_rtt.can_capture on 127.0.0.1:8125, the last word in the log', async () => {
    // A network namespace of its own: only lo, so no eth0 whatever this
    // machine has, and its own 127.0.0.1:8125 for the DogStatsD receiver.
    const log = path.join(tmp, 'go-metro.log');
    const rxOut = path.join(tmp, 'rx.txt');
    const script = [
      'set -e',
      'ip link set lo up',
      `python3 -u -c '
import json, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 8125))
print("ready", flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
' > "$RX" &`,
      'rx=$!',
      'while ! grep -q ready "$RX" 2>/dev/null; do sleep 0.05; done',
      'set +e',
      '"$NODE" "$BIN" -cfg="$CFG" -log="$LOG"',
      'rc=$?',
      'sleep 0.2',
      'kill $rx',
      'exit $rc',
    ].join('\n');
    const p = new Proc(
      spawn('unshare', ['-n', 'sh', '-c', script], {
        env: { ...cleanEnv(), RX: rxOut, NODE: process.execPath, BIN, CFG: EXAMPLE, LOG: log },
      }),
    );
    try {
      const code = await p.exited;
      assert.equal(code, 2, p.stderr);
      assert.equal(p.stderr, 'passive-rtt: instances[0] (eth0): no network interface named "eth0": list them with `ip link`, or use "any"\n');
      const rx = fs
        .readFileSync(rxOut, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => JSON.parse(l) as string);
      assert.deepEqual(rx, [
        '_sc|passive_rtt.can_capture|2|#iface:eth0,env:prod|m:instances[0] (eth0): no network interface named "eth0": list them with `ip link`, or use "any"',
      ]);
      const text = fs.readFileSync(log, 'utf8');
      // The file's log_level info, the DNS failure of its hosts: (no network here) logged, not fatal.
      assert.match(text, /ERROR \| passive-rtt \| cannot resolve whitelisted host app\.datadoghq\.com: /);
      assert.match(text, /ERROR \| passive-rtt \| instances\[0\] \(eth0\): no network interface named "eth0"/);
      assert.match(text, /CRITICAL \| passive-rtt \| no instance could start; exiting with status 2\n$/);
    } finally {
      p.kill();
    }
  });
});

describe('go-metro drop-in, live: hosts resolved at start and again, ips named by reverse lookup', function () {
  this.timeout(60000);

  it('follows a DNS change of a whitelisted name, tags pairs with the names, keeps running past a name that does not resolve, flushes on SIGINT', async () => {
    const hosts = path.join(tmp, 'hosts');
    const hostsFile = (svc: string): string => `127.0.0.1 localhost\n${svc} svc.prtt.test\n127.0.31.6 gw.prtt.test\n`;
    fs.writeFileSync(hosts, hostsFile('127.0.31.4'));
    const rx = await udpReceiver();
    const s4 = await echoServer('127.0.31.4');
    const s5 = await echoServer('127.0.31.5');
    const s6 = await echoServer('127.0.31.6');
    const servers = [s4, s5, s6];
    const cfg = path.join(tmp, 'dns.yaml');
    fs.writeFileSync(
      cfg,
      [
        'init_config:',
        `  statsd_port: ${rx.port}`,
        '  dns_refresh_interval: 1',
        '  report_interval: 0.5',
        '  telemetry: false',
        'instances:',
        '  - interface: lo',
        `    local_ips: [${LOCAL}]`,
        '    hosts: [svc.prtt.test, gone.prtt.invalid]',
        '    ips: [127.0.31.6]',
        '',
      ].join('\n'),
    );
    // A private mount namespace in which /etc/hosts is our file: the real
    // resolver reads it at every lookup; writing it in place (same inode) is
    // the DNS change.
    const p = new Proc(
      spawn('unshare', ['-m', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, process.execPath, BIN, '-cfg', cfg, '--format', 'json'], {
        env: cleanEnv(),
      }),
    );
    try {
      await p.until('the capture', () =>
        /capturing with BPF filter "tcp and not host 127\.0\.0\.1 and \(host 127\.0\.31\.6 or host 127\.0\.31\.4\)"/.test(p.stderr),
      );
      assert.match(p.stderr, /INFO \| passive-rtt \| svc\.prtt\.test resolves to 127\.0\.31\.4/);
      assert.match(p.stderr, /INFO \| passive-rtt \| 127\.0\.31\.6 is named gw\.prtt\.test/);
      assert.match(p.stderr, /ERROR \| passive-rtt \| cannot resolve whitelisted host gone\.prtt\.invalid: .*it is left out of the filter until it resolves/);
      await rx.waitFor(1);
      await exchange('127.0.31.4', s4.port, 3);
      await exchange('127.0.31.6', s6.port, 3);
      const tagged = (dst: string): boolean =>
        rx.lines().some((l) => l.startsWith('system.net.tcp.rtt:') && l.endsWith(`|g|#src:${LOCAL},dst:${dst},iface:lo`));
      await p.until('reports of both pairs', () => tagged('svc.prtt.test') && tagged('gw.prtt.test'));
      const before = p.json().filter((o) => o.type === 'report');
      assert.ok(before.some((o) => o.dst === '127.0.31.4' && o.dst_host === 'svc.prtt.test'));
      assert.ok(before.some((o) => o.dst === '127.0.31.6' && o.dst_host === 'gw.prtt.test'));

      // The name moves to 127.0.31.5.
      fs.writeFileSync(hosts, hostsFile('127.0.31.5'));
      await p.until('the new filter', () =>
        /capturing with BPF filter "tcp and not host 127\.0\.0\.1 and \(host 127\.0\.31\.6 or host 127\.0\.31\.5\)"/.test(p.stderr),
      );
      assert.match(p.stderr, /INFO \| passive-rtt \| instances\[0\] \(lo\): whitelist addresses changed to 127\.0\.31\.6, 127\.0\.31\.5/);
      // Once per hour for a name that stays unresolvable, not at every refresh.
      assert.equal(p.stderr.split('\n').filter((l) => l.includes('cannot resolve whitelisted host gone.prtt.invalid')).length, 1);
      // The restarted capture is running once it has said where it is.
      await p.until('the restarted capture', () => (p.stderr.match(/local addresses 127\.0\.31\.2/g) ?? []).length === 2);
      const reportsBefore = p.json().filter((o) => o.type === 'report').length;
      // The old capture's last report, after the change, still named its pairs as they were.
      for (const o of p.json().filter((x) => x.type === 'report' && x.dst === '127.0.31.4')) assert.equal(o.dst_host, 'svc.prtt.test');
      assert.ok(!rx.lines().some((l) => l.includes('dst:127.0.31.4')), 'no series tagged with the bare old address');
      await exchange('127.0.31.4', s4.port, 3); // no longer whitelisted
      await exchange('127.0.31.5', s5.port, 3);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const rxBefore = rx.lines().length;
      p.child.kill('SIGINT');
      assert.equal(await p.exited, 0, p.stderr);
      const after = p
        .json()
        .filter((o) => o.type === 'report')
        .slice(reportsBefore);
      assert.ok(
        after.some((o) => o.dst === '127.0.31.5' && o.dst_host === 'svc.prtt.test' && (o.samples as number) > 0),
        JSON.stringify(after),
      );
      assert.ok(!after.some((o) => o.dst === '127.0.31.4'), 'the old address is filtered out');
      // The last report (SIGINT) went to DogStatsD too, named.
      await rx.waitForLines(rxBefore + 1).catch(() => undefined);
      assert.ok(rx.lines().some((l) => l.startsWith('system.net.tcp.rtt:') && l.endsWith(`|g|#src:${LOCAL},dst:svc.prtt.test,iface:lo`)));
      assert.match(p.stderr, /SIGINT received: flushing the last report and exiting/);
    } finally {
      p.kill();
      for (const s of servers) s.close();
      await rx.close();
    }
  });
});

describe('go-metro drop-in: names in the table and the tags, from hosts and from reverse lookups of ips', function () {
  this.timeout(30000);
  const FIXTURES = path.join(REPO, 'examples', 'captures');

  /** Runs the CLI on http-request.pcap with a private /etc/hosts naming its server. */
  async function withHosts(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; lines: string[] }> {
    const hosts = path.join(tmp, 'hosts-file');
    fs.writeFileSync(hosts, '127.0.0.1 localhost\n107.6.106.82 www.example.test\n');
    const rx = await udpReceiver();
    try {
      const p = new Proc(
        spawn(
          'unshare',
          [
            '-m',
            'sh',
            '-c',
            'mount --bind "$0" /etc/hosts && exec "$@"',
            hosts,
            process.execPath,
            BIN,
            '--pcap',
            path.join(FIXTURES, 'http-request.pcap'),
            '--local',
            '192.168.1.116',
            '--statsd',
            `127.0.0.1:${rx.port}`,
            '--no-telemetry',
            ...args,
          ],
          { env: cleanEnv() },
        ),
      );
      const code = await p.exited;
      await rx.waitForLines(5);
      return { code, stdout: p.stdout, stderr: p.stderr, lines: rx.lines() };
    } finally {
      await rx.close();
    }
  }

  for (const [how, args] of [
    ['hosts: (forward lookup)', ['--hosts', 'www.example.test']],
    ['ips: (reverse lookup)', ['--ips', '107.6.106.82']],
  ] as const) {
    it(how, async () => {
      const r = await withHosts([...args, '--format', 'text']);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.split('\n');
      assert.match(rows[1] ?? '', /^LOCAL +REMOTE +SAMPLES/);
      assert.match(rows[2] ?? '', /^192\.168\.1\.116 +-> +www\.example\.test \(107\.6\.106\.82\) +4 +74\.253 /);
      assert.equal(rows[1]?.length, rows[2]?.length, 'aligned');
      assert.ok(r.lines.includes('system.net.tcp.rtt:74.253|g|#src:192.168.1.116,dst:www.example.test,iface:file'), r.lines.join('\n'));
    });
  }
});

describe('go-metro drop-in, live: sampling windows', function () {
  this.timeout(60000);

  it('sample_duration 1 s every 1.5 s: samples only inside windows although the traffic never stops', async () => {
    const server = await echoServer('127.0.31.3');
    const cfg = path.join(tmp, 'sample.yaml');
    fs.writeFileSync(
      cfg,
      [
        'init_config:',
        '  report_interval: 0.5',
        'instances:',
        '  - interface: lo',
        `    local_ips: [${LOCAL}]`,
        '    ips: [127.0.31.3]',
        '    sample: true',
        '    sample_duration: 1',
        '    sample_interval: 1.5',
        '',
      ].join('\n'),
    );
    const p = new Proc(
      spawn(process.execPath, [BIN, '-cfg', cfg, '--no-statsd', '--format', 'json', '--samples', '--log-level', 'debug'], { env: cleanEnv() }),
    );
    try {
      await p.until('the capture', () => /capturing with BPF filter/.test(p.stderr));
      // One request every 50 ms for 5.5 s on one connection.
      await exchange('127.0.31.3', server.port, 110, 50);
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.stderr);
      const ts = p
        .json()
        .filter((o) => o.type === 'sample')
        .map((o) => o.ts as number);
      assert.ok(ts.length > 20, `${ts.length} samples`);
      const windows: number[][] = [[ts[0]]];
      for (let i = 1; i < ts.length; i++) {
        const t = ts[i];
        const cur = windows[windows.length - 1];
        // Without gating, samples come every ~50 ms: any gap over 0.5 s is a pause.
        if (t - cur[cur.length - 1] > 0.5) windows.push([t]);
        else cur.push(t);
      }
      assert.ok(windows.length >= 2, `windows: ${windows.map((w) => w.length).join(', ')}`);
      for (let i = 0; i < windows.length; i++) {
        const w = windows[i];
        const span = w[w.length - 1] - w[0];
        assert.ok(span <= 1.15, `window ${i} spans ${span.toFixed(3)} s`);
        if (i > 0) {
          const prev = windows[i - 1];
          const gap = w[0] - prev[prev.length - 1];
          assert.ok(gap >= 1.35, `pause before window ${i}: ${gap.toFixed(3)} s`);
        }
      }
      assert.match(p.stderr, /DEBUG \| passive-rtt \| instances\[0\] \(lo\): sampling window closed for 1\.5 s/);
      // A window opening is routine: said at debug level, not info.
      assert.equal(p.stderr.split('\n').filter((l) => /INFO \| .*capturing with BPF filter/.test(l)).length, 1);
    } finally {
      p.kill();
      server.close();
    }
  });
});
