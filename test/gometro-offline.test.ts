/**
 * The go-metro drop-in as a process, on capture files: every behaviour of
 * the configuration that a capture can show (exp_ttl and its alias, no stale
 * last RTT, -st=false, flags over the file, the DD_* environment against the
 * file, warnings said once, exit statuses, progress on a terminal), each
 * checked on what a real DogStatsD socket receives or the CLI prints.
 *
 * Captures are either go-metro's test_tcp.pcap (bundled as
 * examples/captures/http-request.pcap, values read with tshark, see cli.test.ts) or written here with the
 * conversation builder, so every expected value follows from the packets.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Conversation, merge } from './helpers/conversation';
import { capture } from './helpers/expect';
import { udpReceiver, unixgramReceiver } from './helpers/receivers';
import { BIN, cleanEnv, runCli as run, type Run } from './helpers/cli';

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(REPO, 'examples', 'captures');
const TCP_PCAP = path.join(FIXTURES, 'http-request.pcap');
const EXAMPLE = path.join(REPO, 'examples', 'go-metro.yaml');

/** http-request.pcap's samples in capture order (ms): handshake, request, ts echo, FIN. */
const TCP_SAMPLES = [74.599, 72.322, 69.204, 74.253];
const TCP_TAGS = 'src:192.168.1.116,dst:107.6.106.82,iface:file';

/** The command line with extra environment variables, to its end. */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 20000): Promise<Run> {
  return run(args, { env, timeoutMs });
}

function jsonLines(s: string): Array<Record<string, unknown>> {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The value of a DogStatsD line `name:value|type|#tags`. */
function valueOf(line: string): number {
  return Number(line.slice(line.indexOf(':') + 1, line.indexOf('|')));
}

/** How the CLI writes a value on the wire: at most 6 decimals, no trailing zeros. */
function wire(v: number): string {
  return v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

let tmp: string;
function writeFile(name: string, lines: string[]): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-gometro-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Three connections of 10.0.0.1 (the monitored host), 30 s of packet time:
 *   A to 10.0.0.2: handshake (30 ms) and one request (30 ms) in the first
 *     80 ms, then silence: idle-expired at 10.08 s with idle_ttl 10;
 *   B to 10.0.0.3: handshake (20 ms), a request (20 ms), FIN from both sides
 *     by 0.62 s: expired at 2.62 s with an expiry of 2 s after FIN, at
 *     60.62 s (after the end of the file) with go-metro's default 60;
 *   C to 10.0.0.4: a request every second to 30 s, so packet time moves on.
 * With report_interval 5 the reports fall at 5, 10, ... 30 s and at the end.
 */
function expiryCapture(): string {
  const conv = (port: number, remote: string): Conversation =>
    new Conversation({ client: { addr: '10.0.0.1', port, isn: 1000 }, server: { addr: remote, port: 80, isn: 5000 } });
  const a = conv(40001, '10.0.0.2');
  a.handshake(100, 30_100, 30_200);
  a.data(50_000, 'client', 100);
  a.ack(80_000, 'server');
  const b = conv(40002, '10.0.0.3');
  b.handshake(200, 20_200, 20_300);
  b.data(500_000, 'client', 100);
  b.ack(520_000, 'server');
  b.fin(600_000, 'client');
  b.fin(620_000, 'server');
  b.ack(620_100, 'client');
  const c = conv(40003, '10.0.0.4');
  c.handshake(0, 10_000, 10_100);
  for (let s = 1; s <= 30; s++) {
    c.data(s * 1e6, 'client', 10);
    c.ack(s * 1e6 + 10_000, 'server');
  }
  return capture(merge(a.records(), b.records(), c.records()), { name: 'expiry' });
}

describe('go-metro drop-in: exp_ttl, expired_ttl, idle_ttl and stale gauges, through the CLI', function () {
  this.timeout(60000);
  let pcap: string;
  before(() => {
    pcap = expiryCapture();
  });

  async function runWith(expiryLine: string | undefined): Promise<{ lines: string[]; out: Array<Record<string, unknown>> }> {
    const rx = await udpReceiver();
    try {
      const cfg = writeFile(`expiry-${expiryLine?.split(':')[0] ?? 'default'}.yaml`, [
        'init_config:',
        '  idle_ttl: 10',
        ...(expiryLine !== undefined ? [`  ${expiryLine}`] : []),
        '  statsd_ip: 127.0.0.1',
        `  statsd_port: ${rx.port}`,
        '  report_interval: 5',
        'instances:',
        '  - interface: file',
        `    pcap: ${pcap}`,
        '    local_ips: [10.0.0.1]',
      ]);
      const r = await runCli(['-cfg', cfg, '--format', 'json']);
      assert.equal(r.code, 0, r.stderr);
      const out = jsonLines(r.stdout);
      // Every datagram is sent before exit; wait for the last service check.
      const reports = out.filter((o) => o.type === 'report');
      const pairLines = reports.length * 3 - reports.filter((o) => o.samples === 0).length;
      await rx.waitForLines(pairLines);
      return { lines: rx.lines(), out };
    } finally {
      await rx.close();
    }
  }

  /** Report rows for a remote address, by report time (seconds after the first packet). */
  function rowsFor(out: Array<Record<string, unknown>>, dst: string): Map<number, Record<string, unknown>> {
    const m = new Map<number, Record<string, unknown>>();
    for (const o of out) if (o.type === 'report' && o.dst === dst) m.set(Math.round(((o.ts as number) - 1_700_000_000) * 100) / 100, o);
    return m;
  }

  for (const key of ['exp_ttl', 'expired_ttl']) {
    it(`${key}: 2 drops a closed flow 2 s after its FIN (go-metro read only expired_ttl; both work)`, async () => {
      const { lines, out } = await runWith(`${key}: 2`);
      const b = rowsFor(out, '10.0.0.3');
      assert.deepEqual([...b.keys()], [5], 'B reported at 5 s only');
      assert.equal(b.get(5)?.flows, 0, 'B expired at 2.62 s');
      const stats = out[out.length - 1];
      assert.equal(stats.type, 'stats');
      assert.equal(stats.flows_expired, 2, 'A by idle_ttl at 10.08 s, B by the FIN expiry at 2.62 s');
      const expired = lines.filter((l) => l.startsWith('passive_rtt.flows.expired:')).map(valueOf);
      assert.equal(
        expired.reduce((x, y) => x + y, 0),
        2,
        `telemetry: ${expired.join(',')}`,
      );
    });
  }

  it("without either key, go-metro's 60 s: the closed flow is still there at the end of the file", async () => {
    const { out } = await runWith(undefined);
    const b = rowsFor(out, '10.0.0.3');
    assert.deepEqual([...b.keys()], [5, 10, 15, 20, 25, 30, 30.01]);
    assert.equal(b.get(30)?.flows, 1);
    assert.equal(out[out.length - 1].flows_expired, 1, 'only A (idle)');
  });

  it('a host pair with no new sample keeps .avg and .jitter but does not re-send a stale system.net.tcp.rtt', async () => {
    const { lines, out } = await runWith('exp_ttl: 2');
    // A: samples 30 and 30 ms by 0.08 s, then none; its flow lives until 10.08 s.
    const a = rowsFor(out, '10.0.0.2');
    assert.deepEqual([...a.keys()], [5, 10]);
    assert.equal(a.get(5)?.samples, 2);
    assert.equal(a.get(10)?.samples, 0);
    const tags = '|g|#src:10.0.0.1,dst:10.0.0.2,iface:file';
    // RFC 6298 over 30, 30: SRTT 30, RTTVAR 30/2 then 3/4 of it.
    assert.deepEqual(
      lines.filter((l) => l.endsWith(tags)),
      [
        `system.net.tcp.rtt:30${tags}`,
        `system.net.tcp.rtt.avg:30${tags}`,
        `system.net.tcp.rtt.jitter:11.25${tags}`,
        `system.net.tcp.rtt.avg:30${tags}`,
        `system.net.tcp.rtt.jitter:11.25${tags}`,
      ],
    );
  });
});

describe('go-metro drop-in: command line over the file', function () {
  this.timeout(60000);

  it('--max-flows and max_flows bound the flow table (three connections, room for one)', async () => {
    const pcap = expiryCapture();
    const stats = async (args: string[]): Promise<Record<string, unknown>> => {
      const r = await runCli(['--pcap', pcap, '--local', '10.0.0.1', '--format', 'json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return jsonLines(r.stdout).pop() as Record<string, unknown>;
    };
    const free = await stats([]);
    assert.deepEqual([free.flows_created, free.flows_evicted], [3, 0]);
    const one = await stats(['--max-flows', '1']);
    assert.ok((one.flows_evicted as number) >= 2, `evicted ${String(one.flows_evicted)}`);
    assert.ok((one.flows_active as number) <= 1);
    const cfg = writeFile('maxflows.yaml', [
      'init_config:',
      '  max_flows: 1',
      'instances:',
      '  - interface: file',
      `    pcap: ${pcap}`,
      '    local_ips: [10.0.0.1]',
    ]);
    const r = await runCli(['-cfg', cfg, '--no-statsd', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((jsonLines(r.stdout).pop() as Record<string, unknown>).flows_evicted, one.flows_evicted);
  });

  it('-st=false: .avg is the running mean and .jitter the mean absolute difference, as go-metro computed them', async () => {
    const rx = await udpReceiver();
    try {
      const cfg = writeFile('soft.yaml', [
        'init_config:',
        `  statsd_port: ${rx.port}`,
        '  telemetry: false',
        'instances:',
        '  - interface: file',
        `    pcap: ${TCP_PCAP}`,
        '    local_ips: [192.168.1.116]',
      ]);
      const r = await runCli(['-cfg', cfg, '-st=false']);
      assert.equal(r.code, 0, r.stderr);
      await rx.waitForLines(5);
      const mean = TCP_SAMPLES.reduce((x, y) => x + y, 0) / TCP_SAMPLES.length;
      let d = 0;
      for (let i = 1; i < TCP_SAMPLES.length; i++) d += Math.abs(TCP_SAMPLES[i] - TCP_SAMPLES[i - 1]);
      const jitter = d / (TCP_SAMPLES.length - 1);
      assert.deepEqual(
        rx.lines().filter((l) => !l.startsWith('_sc')),
        [
          `system.net.tcp.rtt:74.253|g|#${TCP_TAGS}`,
          `system.net.tcp.rtt.avg:${wire(mean)}|g|#${TCP_TAGS}`,
          `system.net.tcp.rtt.jitter:${wire(jitter)}|g|#${TCP_TAGS}`,
        ],
      );
      assert.equal(wire(mean), '72.5945');
    } finally {
      await rx.close();
    }
  });

  it("go-metro's example file, with flags over every value it sets: capture file, whitelist, DogStatsD, tags, interval, filter, log file", async () => {
    const rx = await udpReceiver();
    const log = path.join(tmp, 'override.log');
    try {
      const r = await runCli([
        '-cfg=' + EXAMPLE,
        '-log=' + log,
        '--pcap',
        TCP_PCAP,
        '--local',
        '192.168.1.116',
        '--ips',
        '107.6.106.82',
        '--hosts=',
        '--statsd',
        `127.0.0.1:${rx.port}`,
        '--tags',
        'team:net',
        '--report-interval',
        '0.1',
        '-f',
        'tcp port 80',
        '--no-telemetry',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const text = fs.readFileSync(log, 'utf8');
      assert.match(
        text,
        /INFO \| passive-rtt \| instances\[0\] \(file .*http-request\.pcap\): capturing with BPF filter "tcp port 80 and not host 127\.0\.0\.1 and \(host 107\.6\.106\.82\)"/,
      );
      assert.doesNotMatch(text, /app\.datadoghq\.com/, '--hosts= cleared the hosts of the file');
      await rx.waitForLines(5);
      const rtt = rx.lines().filter((l) => l.startsWith('system.net.tcp.rtt:'));
      // Reports every 0.1 s of packet time: more than the one report of the
      // default 30 s, each last sample one of the capture's, the final one the FIN's.
      assert.ok(rtt.length >= 3, rtt.join('\n'));
      for (const l of rtt) {
        assert.ok(l.endsWith(`|g|#${TCP_TAGS},team:net`), `--tags replaces the file's env:prod: ${l}`);
        assert.ok(TCP_SAMPLES.includes(valueOf(l)), l);
      }
      assert.equal(valueOf(rtt[rtt.length - 1]), 74.253);
      assert.equal(rx.lines().filter((l) => l.startsWith('passive_rtt.')).length, 0, '--no-telemetry');
      assert.ok(rx.lines().includes('_sc|passive_rtt.can_capture|0|#iface:file,team:net'));
    } finally {
      await rx.close();
    }
  });

  it('-f replaces the base filter (no packet of port 80 passes "tcp port 81"), --log-level over the file level', async () => {
    const log = path.join(tmp, 'filter.log');
    const r = await runCli([
      '-cfg',
      EXAMPLE,
      '-log',
      log,
      '--pcap',
      TCP_PCAP,
      '--local',
      '192.168.1.116',
      '--ips',
      '107.6.106.82',
      '--hosts=',
      '-f',
      'tcp port 81',
      '--no-statsd',
      '--format',
      'json',
      '--log-level',
      'warn',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = jsonLines(r.stdout);
    assert.equal(out.filter((o) => o.type === 'report').length, 0);
    assert.equal(out[out.length - 1].packets, 0);
    assert.doesNotMatch(fs.readFileSync(log, 'utf8'), /\| INFO \|/);
  });
});

describe('go-metro drop-in: DogStatsD from the DD_* environment, the file winning', function () {
  this.timeout(60000);

  function cfgLines(statsd: string[]): string[] {
    return ['init_config:', ...statsd, '  telemetry: false', 'instances:', '  - interface: file', `    pcap: ${TCP_PCAP}`, '    local_ips: [192.168.1.116]'];
  }

  it('DD_AGENT_HOST and DD_DOGSTATSD_PORT when the file names no DogStatsD; DD_ENTITY_ID as a tag', async () => {
    const rx = await udpReceiver();
    try {
      const r = await runCli(['-cfg', writeFile('env-udp.yaml', cfgLines([]))], {
        DD_AGENT_HOST: '127.0.0.1',
        DD_DOGSTATSD_PORT: String(rx.port),
        DD_ENTITY_ID: 'pod-1234',
      });
      assert.equal(r.code, 0, r.stderr);
      await rx.waitForLines(5);
      assert.ok(rx.lines().includes(`system.net.tcp.rtt:74.253|g|#${TCP_TAGS},dd.internal.entity_id:pod-1234`), rx.lines().join('\n'));
    } finally {
      await rx.close();
    }
  });

  it('DD_DOGSTATSD_URL (unix://, unixgram://, udp://) and DD_DOGSTATSD_SOCKET', async () => {
    const uds = await unixgramReceiver();
    const rx = await udpReceiver();
    try {
      const cfg = writeFile('env-any.yaml', cfgLines([]));
      const envs: Array<Record<string, string>> = [
        { DD_DOGSTATSD_URL: `unix://${uds.path}` },
        { DD_DOGSTATSD_URL: `unixgram://${uds.path}` },
        { DD_DOGSTATSD_SOCKET: uds.path },
      ];
      for (const env of envs) {
        const before = uds.lines().length;
        const r = await runCli(['-cfg', cfg], env);
        assert.equal(r.code, 0, r.stderr);
        await uds.waitForLines(before + 5);
        assert.ok(uds.lines().slice(before).includes(`system.net.tcp.rtt:74.253|g|#${TCP_TAGS}`), JSON.stringify(env));
      }
      const r = await runCli(['-cfg', cfg], { DD_DOGSTATSD_URL: `udp://127.0.0.1:${rx.port}` });
      assert.equal(r.code, 0, r.stderr);
      await rx.waitForLines(5);
      assert.ok(rx.lines().includes(`system.net.tcp.rtt:74.253|g|#${TCP_TAGS}`));
    } finally {
      await uds.close();
      await rx.close();
    }
  });

  it('statsd_ip/statsd_port written in the file win over every DD_* variable', async () => {
    const fileRx = await udpReceiver();
    const envRx = await udpReceiver();
    const uds = await unixgramReceiver();
    try {
      const cfg = writeFile('env-file.yaml', cfgLines(['  statsd_ip: 127.0.0.1', `  statsd_port: ${fileRx.port}`]));
      const r = await runCli(['-cfg', cfg], { DD_AGENT_HOST: '127.0.0.9', DD_DOGSTATSD_PORT: String(envRx.port), DD_DOGSTATSD_URL: `unix://${uds.path}` });
      assert.equal(r.code, 0, r.stderr);
      await fileRx.waitForLines(5);
      assert.ok(fileRx.lines().includes(`system.net.tcp.rtt:74.253|g|#${TCP_TAGS}`));
      // Both envs' receivers stay empty; the file's got everything already.
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual([envRx.datagrams.length, uds.datagrams.length], [0, 0]);
      // statsd_port alone: the host still comes from the environment (each value on its own).
      const portOnly = writeFile('env-port.yaml', cfgLines([`  statsd_port: ${fileRx.port}`]));
      const before = fileRx.lines().length;
      const p = await runCli(['-cfg', portOnly], { DD_AGENT_HOST: '127.0.0.1', DD_DOGSTATSD_PORT: String(envRx.port) });
      assert.equal(p.code, 0, p.stderr);
      await fileRx.waitForLines(before + 5);
      assert.equal(envRx.datagrams.length, 0);
    } finally {
      await fileRx.close();
      await envRx.close();
      await uds.close();
    }
  });

  it('without a configuration file, DogStatsD is used when a DD_* variable names it', async () => {
    const rx = await udpReceiver();
    try {
      const r = await runCli(['--pcap', TCP_PCAP, '--local', '192.168.1.116', '--format', 'none'], {
        DD_AGENT_HOST: '127.0.0.1',
        DD_DOGSTATSD_PORT: String(rx.port),
        DD_ENV: 'lab',
      });
      assert.equal(r.code, 0, r.stderr);
      await rx.waitForLines(5);
      assert.ok(rx.lines().includes(`system.net.tcp.rtt:74.253|g|#${TCP_TAGS},env:lab`), rx.lines().join('\n'));
    } finally {
      await rx.close();
    }
  });

  it('a malformed DD_DOGSTATSD_PORT is a configuration error (exit 2) naming the variable', async () => {
    const r = await runCli(['-cfg', writeFile('env-bad.yaml', cfgLines([]))], { DD_DOGSTATSD_PORT: 'eighty' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /passive-rtt: DD_DOGSTATSD_PORT: "eighty" is not a port number \(1-65535\)/);
  });
});

describe('go-metro drop-in: whitelists in the BPF filter, IPv4 and IPv6, addresses and CIDR blocks', function () {
  this.timeout(60000);

  async function reportsWith(args: string[]): Promise<Array<Record<string, unknown>>> {
    const r = await runCli([...args, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    return jsonLines(r.stdout).filter((o) => o.type === 'report');
  }

  it('IPv4: an address or a block holding the remote end lets the flow through; others do not', async () => {
    const base = ['--pcap', TCP_PCAP, '--local', '192.168.1.116'];
    assert.equal((await reportsWith([...base, '--ips', '107.6.106.0/24'])).length, 1);
    assert.equal((await reportsWith([...base, '--ips', '107.6.0.0/16,10.0.0.1'])).length, 1);
    assert.equal((await reportsWith([...base, '--ips', '107.6.107.0/24'])).length, 0);
  });

  it('IPv6: go-metro\'s "host A" terms and CIDR "net" terms compile and match on an IPv6 capture', async () => {
    const c = new Conversation({ client: { addr: '2001:db8:1::2', port: 40000, isn: 1000 }, server: { addr: '2001:db8:2::80', port: 443, isn: 9000 } });
    c.handshake(0, 25_000, 25_100);
    c.data(30_000, 'client', 200);
    c.ack(55_000, 'server');
    const pcap = capture(c.records(), { name: 'v6' });
    const base = ['--pcap', pcap, '--local', '2001:db8:1::2'];
    for (const ips of ['2001:db8:2::80', '2001:DB8:2:0::80', '2001:db8:2::/48', '2001:db8::/32,10.0.0.1']) {
      const got = await reportsWith([...base, '--ips', ips]);
      assert.equal(got.length, 1, ips);
      assert.deepEqual([got[0]?.src, got[0]?.dst, got[0]?.samples, got[0]?.rtt_ms], ['2001:db8:1::2', '2001:db8:2::80', 2, 25], ips);
    }
    for (const ips of ['2001:db8:2::81', '2001:db8:3::/48']) assert.equal((await reportsWith([...base, '--ips', ips])).length, 0, ips);
  });

  it("a whitelist of only the live interface's own addresses is refused before capture starts (exit 2)", async () => {
    const r = await runCli(['--interface', 'lo', '--ips', '127.0.0.1,::1', '--no-statsd']);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /passive-rtt: command line \(lo\): the whitelist \(127\.0\.0\.1, ::1\) holds only this host's own addresses, so there is no remote end to measure; list remote hosts under ips:\/hosts: \(or --ips\/--hosts\)/,
    );
  });
});

describe('go-metro drop-in: log files', function () {
  this.timeout(60000);

  it('log_to_file with log_file in a directory that does not exist yet: created, rotated by size (log_max_bytes, log_max_files)', async () => {
    const dir = path.join(tmp, 'logs', 'nested');
    const file = path.join(dir, 'passive-rtt.log');
    const cfg = writeFile('logfile.yaml', [
      'init_config:',
      '  log_to_file: true',
      `  log_file: ${file}`,
      '  log_level: Trace',
      '  log_max_bytes: 1024',
      '  log_max_files: 2',
      'instances:',
      '  - interface: file',
      `    pcap: ${TCP_PCAP}`,
      '    local_ips: [192.168.1.116]',
    ]);
    for (let i = 0; i < 4; i++) {
      const r = await runCli(['-cfg', cfg, '--no-statsd']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', 'everything goes to the file');
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['passive-rtt.log', 'passive-rtt.log.1', 'passive-rtt.log.2']);
    for (const f of fs.readdirSync(dir)) assert.ok(fs.statSync(path.join(dir, f)).size <= 1024, f);
    assert.match(fs.readFileSync(file, 'utf8'), /INFO \| passive-rtt \| all capture files read; exiting\n$/);
  });
});

describe('go-metro drop-in: warnings once, exit statuses', function () {
  this.timeout(60000);

  it('unknown keys are warned about once each with file, key and line; no whitelist is said once for all instances', async () => {
    const cfg = writeFile('unknown.yaml', [
      'init_config:',
      '  colour: blue',
      'instances:',
      '  - interface: file',
      `    pcap: ${TCP_PCAP}`,
      '    local_ips: [192.168.1.116]',
      '    bar: 1',
      '  - interface: file',
      `    pcap: ${TCP_PCAP}`,
      '    local_ips: [192.168.1.116]',
    ]);
    const r = await runCli(['-cfg', cfg, '--no-statsd']);
    assert.equal(r.code, 0, r.stderr);
    const count = (re: RegExp): number => r.stderr.split('\n').filter((l) => re.test(l)).length;
    assert.equal(count(new RegExp(`WARN \\| passive-rtt \\| ${cfg.replace(/[.]/g, '\\.')}: init_config\\.colour: unknown key ignored, line 2$`)), 1, r.stderr);
    assert.equal(count(/WARN \| passive-rtt \| .*unknown\.yaml: instances\[0\]\.bar: unknown key ignored, line 7$/), 1, r.stderr);
    assert.equal(count(/unknown key/), 2);
    assert.equal(count(/INFO \| passive-rtt \| no whitelist \(ips\/hosts\) configured: monitoring every remote host/), 1, r.stderr);
  });

  it('exit 1 when the run fails (no whitelisted host resolves for a capture file), with the cause and the fix', async () => {
    const r = await runCli(['--pcap', TCP_PCAP, '--local', '192.168.1.116', '--hosts', 'no-such-host.invalid']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot resolve whitelisted host no-such-host\.invalid: .*\(check the name and the DNS configuration\)/);
    assert.match(
      r.stderr,
      /passive-rtt: command line \(file .*\): none of the whitelisted hosts \(no-such-host\.invalid\) resolves, so there is nothing to capture; check the names and the DNS configuration/,
    );
  });

  it('an unreadable capture file: exit 2, the cause and where a relative pcap: was looked for', async () => {
    const cfg = writeFile('nopcap.yaml', ['instances:', '  - interface: file', '    pcap: captures/missing.pcap', '    local_ips: [10.0.0.1]']);
    const r = await runCli(['-cfg', cfg, '--no-statsd']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr.split('\n').slice(-2).join('\n'),
      `passive-rtt: instances[0] (file ${path.join(tmp, 'captures', 'missing.pcap')}): cannot read capture file ${path.join(tmp, 'captures', 'missing.pcap')}: No such file or directory; ` +
        'check pcap: in instances[0] (a relative path is taken beside the configuration file, then in the working directory) and that this user may read the file\n',
    );
    const c = await runCli(['--pcap', '/nonexistent/x.pcap']);
    assert.equal(c.code, 2);
    assert.match(
      c.stderr,
      /cannot read capture file \/nonexistent\/x\.pcap: No such file or directory; check the path after --pcap and that this user may read the file\n$/,
    );
  });

  it('go-metro style without a configuration waits 5 s for supervisord, but SIGTERM ends the wait at once with status 0', async () => {
    const child = spawn(process.execPath, [BIN, '-cfg=' + path.join(tmp, 'absent.yaml')], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const waiting = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('nothing to do, exiting with status 0 in 5 s')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waiting;
    const t0 = Date.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.match(stderr, /cannot read configuration .*absent\.yaml: ENOENT; create it \(see examples\/go-metro\.yaml\) or pass another with --config FILE/);
  });

  it('a capture cut short (the writer was killed): what came before is reported, one warning, exit 0', async () => {
    // http-request.pcap up to the middle of the sixth record header: the
    // handshake (74.599 ms) and the request (72.322 ms) are in.
    const data = fs.readFileSync(TCP_PCAP);
    let at = 24;
    for (let k = 0; k < 5; k++) at += 16 + data.readUInt32LE(at + 8);
    const cut = path.join(tmp, 'cut.pcap');
    fs.writeFileSync(cut, data.subarray(0, at + 10));
    const rx = await udpReceiver();
    try {
      const r = await runCli(['--pcap', cut, '--local', '192.168.1.116', '--statsd', `127.0.0.1:${rx.port}`, '--no-telemetry', '--format', 'none']);
      assert.equal(r.code, 0, r.stderr);
      const warnings = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(warnings.length, 1, r.stderr);
      assert.match(warnings[0], /WARN \| passive-rtt \| command line \(file .*cut\.pcap\): capture file .*cut\.pcap is damaged: truncated dump file/);
      await rx.waitForLines(5);
      assert.ok(rx.lines().includes(`system.net.tcp.rtt:72.322|g|#${TCP_TAGS}`), rx.lines().join('\n'));
      assert.ok(rx.lines().includes(`system.net.tcp.rtt.avg:${wire(74.599 * 0.875 + 72.322 * 0.125)}|g|#${TCP_TAGS}`), rx.lines().join('\n'));
    } finally {
      await rx.close();
    }
  });

  it('exit 2 for configuration errors, with the file, key path and line', async () => {
    const cfg = writeFile('bad-port.yaml', [
      'init_config:',
      '  statsd_port: 8125',
      'instances:',
      '  - interface: file',
      `    pcap: ${TCP_PCAP}`,
      '  - interface: eth0',
      '    ips: [10.0.0.5]',
      '    sample: true',
      '    sample_duration: soon',
    ]);
    const r = await runCli(['-cfg', cfg]);
    assert.equal(r.code, 2);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      `passive-rtt: ${cfg}: instances[1].sample_duration: expected a number, got "soon", line 9`,
      `${cfg}: instances[1].sample_interval: required when sample is true: seconds without capture between windows, line 6`,
    ]);
  });
});

describe('go-metro drop-in: on a terminal', function () {
  this.timeout(60000);

  /** Runs the CLI under script(1), so stdin, stdout and stderr are a pseudo-terminal. */
  function onTerminal(args: string[], cwd = tmp): { code: number | null; out: string } {
    const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd, env: cleanEnv({ COLUMNS: '200' }), encoding: 'utf8', timeout: 30000 });
    if (r.error) throw r.error;
    return { code: r.status, out: r.stdout };
  }

  before(function () {
    if (spawnSync('script', ['--version']).error) {
      console.log('      skipped: script(1) from util-linux is not installed');
      this.skip();
    }
  });

  it('without -cfg, the default /etc/dd-agent/checks.d/go-metro.yaml is read; missing, on a terminal: exit 2 and how to go on', function () {
    if (fs.existsSync('/etc/dd-agent/checks.d/go-metro.yaml')) this.skip();
    const r = onTerminal([]);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /cannot read configuration \/etc\/dd-agent\/checks\.d\/go-metro\.yaml: ENOENT; create it/);
    assert.match(r.out, /To capture without a file: passive-rtt --interface eth0, or passive-rtt --pcap FILE/);
  });

  it('a read that lasts over a second shows progress on stderr, erased before the table', async () => {
    // A FIFO fed in two parts a second and a half apart: the capture file
    // header first, then every packet.
    const fifo = path.join(tmp, 'slow.pcap');
    fs.rmSync(fifo, { force: true });
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const data = fs.readFileSync(TCP_PCAP);
    const writer = (async () => {
      const fd = await fs.promises.open(fifo, 'w');
      await fd.write(data.subarray(0, 24));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await fd.write(data.subarray(24));
      await fd.close();
    })();
    const run = new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const cmd = [process.execPath, BIN, '--pcap', fifo, '--local', '192.168.1.116'].map((a) => `'${a}'`).join(' ');
      const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: cleanEnv({ COLUMNS: '200' }), stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    const [r] = await Promise.all([run, writer]);
    assert.equal(r.code, 0, r.out);
    // ESC [ K: erase to the end of the line (ECMA-48 EL).
    const EL = '\r\u001b[K';
    const progress = r.out.split(EL).filter((part) => /^reading slow\.pcap: 0 packets, 0 samples; \d\.\d s$/.test(part));
    assert.ok(progress.length >= 1, JSON.stringify(r.out));
    // The progress line is erased, then the table starts at the left margin.
    assert.ok(r.out.includes(`s${EL}2013-01-06 19:44:54.807 UTC  iface file  1 host pair`), JSON.stringify(r.out));
    assert.match(r.out, /192\.168\.1\.116 +-> +107\.6\.106\.82 +4 +74\.253 /);
  });

  it('a short read shows no progress at all', () => {
    const r = onTerminal(['--pcap', TCP_PCAP, '--local', '192.168.1.116']);
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(r.out, /reading /);
    assert.match(r.out, /^LOCAL +REMOTE +SAMPLES/m);
  });
});
