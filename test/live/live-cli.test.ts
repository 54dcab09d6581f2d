/**
 * The command line, live (issue 4): `passive-rtt` capturing inside the
 * monitored namespace, as JSON lines and as go-metro's whole chain (YAML
 * configuration -> live capture -> DogStatsD datagrams on a real UDP socket).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RttSample } from '../../src';
import { matchSamples } from './expect';
import { Bed, buildForwarder, liveSkipReason, REPO } from './netns';
import { JsonLines, median, runTraffic, type Program } from './scenario';

const CLI = path.join(REPO, 'bin/passive-rtt.js');
const DELAY_MS = 10;
const RTT_MS = 2 * DELAY_MS;
const TOL = Math.max(0.5, 0.01 * RTT_MS);

function traffic(bed: Bed, rr: boolean): Program[] {
  const P = bed.peerV4;
  const host: Program = { ns: bed.hostNs, roles: [{ kind: 'upload', host: P, port: 5201, durationMs: 2000 }] };
  const peer: Program = { ns: bed.peerNs, roles: [{ kind: 'sink', host: P, port: 5201 }] };
  if (!rr) return [host, peer];
  return [
    host,
    peer,
    { ns: bed.hostNs, nice: -10, roles: [{ kind: 'rrClient', host: P, port: 5202, connections: 2, requests: 10, requestBytes: 100, responseBytes: 1000 }] },
    { ns: bed.peerNs, nice: -10, roles: [{ kind: 'rrServer', host: P, port: 5202, requestBytes: 100, responseBytes: 1000 }] },
  ];
}

/** Starts the CLI in the host namespace; resolves once it has had a second to open its capture. */
async function startCli(bed: Bed, args: string[]): Promise<JsonLines> {
  const out = new JsonLines(bed.spawnIn(bed.hostNs, process.execPath, [CLI, ...args]), 'passive-rtt');
  await new Promise((resolve) => setTimeout(resolve, 1200));
  if (out.exitCode !== null) {
    throw new Error(`passive-rtt ${args.join(' ')} exited with ${out.exitCode}: ${out.stderr.join('').slice(-1500)}`);
  }
  return out;
}

async function sigterm(cli: JsonLines): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  cli.child.kill('SIGTERM');
  const code = await cli.exited();
  return { code, ms: Date.now() - t0 };
}

describe('live CLI: passive-rtt in the monitored namespace', function () {
  this.timeout(90000);
  let bed: Bed;

  before(async function () {
    const reason = liveSkipReason() ?? (fs.existsSync(CLI) ? null : `${path.relative(REPO, CLI)} does not exist yet`);
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    buildForwarder();
    bed = await Bed.create({ delayMs: DELAY_MS, durationS: 80 });
  });

  after(async () => {
    await bed?.destroy();
  });

  it('--interface TAP --format json --samples --report-interval 1: reports and samples at the injected RTT, stats last', async () => {
    const cli = await startCli(bed, ['--interface', bed.hostIf, '--format', 'json', '--samples', '--report-interval', '1', '--no-statsd']);
    try {
      await runTraffic(bed, traffic(bed, true), { maxMs: 20000 });
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const { code, ms } = await sigterm(cli);
      assert.equal(code, 0, `exit status ${code}: ${cli.stderr.join('').slice(-1500)}`);
      assert.ok(ms < 2000, `exited ${ms} ms after SIGTERM`);
      const lines = cli.lines;
      assert.ok(lines.length > 0, `no output; stderr: ${cli.stderr.join('').slice(-1500)}`);
      assert.equal(lines[lines.length - 1].type, 'stats', 'the last line is the stats');
      const stats = lines[lines.length - 1];
      const reports = lines.filter((l) => l.type === 'report');
      const sampleLines = lines.filter((l) => l.type === 'sample');
      for (const r of reports) {
        assert.equal(r.iface, bed.hostIf);
        assert.equal(r.src, bed.hostV4);
        assert.equal(r.dst, bed.peerV4);
      }
      const withSamples = reports.filter((r) => r.samples >= 30);
      assert.ok(withSamples.length >= 1, `no report with 30 samples: ${JSON.stringify(reports)}`);
      for (const r of withSamples) {
        assert.ok(Math.abs(r.p50_ms - RTT_MS) <= TOL + 0.01 * RTT_MS, `report p50_ms ${r.p50_ms}, injected ${RTT_MS}`);
      }
      const samples: RttSample[] = sampleLines.map((l) => ({ ts: l.ts, src: l.src, sport: l.sport, dst: l.dst, dport: l.dport, rttMs: l.rtt_ms, kind: l.kind }));
      const kinds = new Set(samples.map((s) => s.kind));
      const total = reports.reduce((a, r) => a + Number(r.samples), 0);
      console.log(`      ${reports.length} reports, ${samples.length} sample lines (${[...kinds].join(', ')}), median ${median(samples.map((s) => s.rttMs)).toFixed(3)} ms; stats: ${JSON.stringify(stats)}`);
      assert.equal(total, samples.length, 'reports and sample lines disagree');
      assert.ok(kinds.has('data') && kinds.has('handshake'));
      assert.ok(Math.abs(median(samples.map((s) => s.rttMs)) - RTT_MS) <= TOL);
      assert.ok(samples.every((s) => s.rttMs >= RTT_MS - 0.05), 'a sample below the injected RTT');
      // snake_case counters
      assert.equal(typeof stats.packets, 'number');
      assert.equal(typeof stats.pcap_dropped, 'number');
      const log = await bed.stopForwarder().catch(() => null);
      if (log) {
        const m = matchSamples(log, samples);
        const far = m.matched.filter((x) => Math.abs(x.diffMs) > 0.5);
        assert.ok(m.matched.length >= samples.length * 0.98, `${m.unmatched.length} samples not in the forwarder's record`);
        assert.ok(far.length <= m.matched.length * 0.05, `${far.length} samples far from the record`);
      }
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('go-metro YAML (-cfg=FILE), live capture, DogStatsD on a real UDP socket: system.net.tcp.rtt.avg at the injected RTT', async function () {
    // A fresh delay line: the previous test stopped the forwarder to read its record.
    await bed.destroy();
    bed = await Bed.create({ delayMs: DELAY_MS, durationS: 80 });
    const sink = new JsonLines(bed.spawnIn(bed.hostNs, process.execPath, [path.join(__dirname, 'udp-sink.js')]), 'udp sink');
    const { port } = await sink.wait((l) => typeof l.port === 'number', 10000, 'the sink port');
    // go-metro's documented example, pointed at this namespace.
    const cfg = path.join(bed.tmpDir, 'go-metro.yaml');
    fs.writeFileSync(
      cfg,
      [
        'init_config:',
        '  snaplen: 512',
        '  idle_ttl: 300',
        '  exp_ttl: 60',
        '  statsd_ip: 127.0.0.1',
        `  statsd_port: ${port}`,
        '  log_to_file: false',
        '  log_level: info',
        'instances:',
        `  - interface: ${bed.hostIf}`,
        '    tags:',
        '      - env:live',
        '    ips:',
        `      - ${bed.peerV4}`,
        '',
      ].join('\n'),
    );
    let cli: JsonLines;
    try {
      cli = await startCli(bed, [`-cfg=${cfg}`, '--report-interval', '1']);
    } catch (err) {
      const msg = (err as Error).message;
      if (/unknown|usage|not supported/i.test(msg)) {
        console.log(`      pending: the CLI does not take this yet: ${msg}`);
        sink.child.kill();
        this.skip();
      }
      throw err;
    }
    try {
      await runTraffic(bed, traffic(bed, false), { maxMs: 20000 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const { code, ms } = await sigterm(cli);
      assert.equal(code, 0, `exit status ${code}: ${cli.stderr.join('').slice(-1500)}`);
      assert.ok(ms < 2000, `exited ${ms} ms after SIGTERM`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const metric = sink.lines
        .filter((l) => typeof l.data === 'string')
        .flatMap((l) => String(l.data).split('\n'))
        .filter((line) => line.startsWith('system.net.tcp.rtt.avg:'));
      console.log(`      ${metric.length} system.net.tcp.rtt.avg lines, e.g. ${metric[0]}`);
      assert.ok(metric.length >= 2, `received: ${JSON.stringify(sink.lines.slice(0, 5))}`);
      for (const line of metric) {
        const m = /^system\.net\.tcp\.rtt\.avg:([\d.]+)\|g\|#(.*)$/.exec(line);
        assert.ok(m, `malformed line ${line}`);
        const tags = m[2].split(',');
        assert.ok(tags.includes(`src:${bed.hostV4}`), line);
        assert.ok(tags.includes(`dst:${bed.peerV4}`), line);
        assert.ok(tags.includes(`iface:${bed.hostIf}`), line);
        assert.ok(tags.includes('env:live'), line);
        const v = Number(m[1]);
        assert.ok(Math.abs(v - RTT_MS) <= TOL, `system.net.tcp.rtt.avg ${v} ms, injected RTT ${RTT_MS} ms (±${TOL})`);
      }
    } finally {
      cli.child.kill('SIGKILL');
      sink.child.kill('SIGKILL');
    }
  });
});
