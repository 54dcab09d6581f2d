/**
 * The command line, live (issue 4): `passive-rtt` capturing inside the
 * monitored namespace, as JSON lines and as go-metro's whole chain (YAML
 * configuration -> live capture -> DogStatsD datagrams on a real UDP socket).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { RttSample } from '../../src';
import { Tcpdump } from './capture';
import { CAPTURE_PRECISION_MS, matchSamples, type Matched } from './expect';
import { Bed, buildForwarder, liveSkipReason, REPO } from './netns';
import { JsonLines, median, runTraffic, type Program } from './scenario';

type Line = JsonLines['lines'][number];

/** The RttSample of a `--samples` JSON line. */
function sampleOf(l: Line): RttSample {
  return {
    ts: Number(l.ts),
    src: String(l.src),
    sport: Number(l.sport),
    dst: String(l.dst),
    dport: Number(l.dport),
    rttMs: Number(l.rtt_ms),
    kind: l.kind as RttSample['kind'],
  };
}

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
    const dump = await Tcpdump.start(bed, bed.hostNs, bed.hostIf, path.join(bed.tmpDir, 'capture-json.pcap'));
    try {
      await runTraffic(bed, traffic(bed, true), { maxMs: 20000 });
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const { code, ms } = await sigterm(cli);
      assert.equal(code, 0, `exit status ${code}: ${cli.stderr.join('').slice(-1500)}`);
      assert.ok(ms < 2000, `exited ${ms} ms after SIGTERM`);
      const { frames } = await dump.stop();
      const log = await bed.stopForwarder();
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
      const samples: RttSample[] = sampleLines.map(sampleOf);
      const kinds = new Set(samples.map((s) => s.kind));
      const total = reports.reduce((a, r) => a + Number(r.samples), 0);
      console.log(
        `      ${reports.length} reports, ${samples.length} sample lines (${[...kinds].join(', ')}), median ${median(samples.map((s) => s.rttMs)).toFixed(3)} ms; stats: ${JSON.stringify(stats)}`,
      );
      assert.equal(total, samples.length, 'reports and sample lines disagree');
      assert.ok(kinds.has('data') && kinds.has('handshake'));
      assert.ok(
        samples.every((s) => s.rttMs >= RTT_MS - 0.05),
        'a sample below the injected RTT',
      );
      // snake_case counters
      assert.equal(typeof stats.packets, 'number');
      assert.equal(typeof stats.pcap_dropped, 'number');
      // Each sample against the truth of its own frames (expect.ts): the
      // forwarder's record plus the hop to the capture point, measured.
      const m = matchSamples(log, samples, frames, [bed.hostV4, bed.hostV6]);
      const inCap = m.matched.filter((x) => x.hopMs !== null);
      assert.ok(m.matched.length >= samples.length * 0.98, `${m.unmatched.length} samples not in the forwarder's record`);
      assert.ok(inCap.length >= m.matched.length * 0.98, `only ${inCap.length} of ${m.matched.length} samples in the capture`);
      const off = inCap.filter((x) => Math.abs(x.diffMs) > CAPTURE_PRECISION_MS);
      assert.deepEqual(off.slice(0, 3), [], `${off.length} samples differ from the capture of their own frames`);
      // Medians: the injected RTT, unless the truth's own median moved
      // (a busy machine slowing the bed), as in live.test.ts.
      const ref50 = (ms: readonly Matched[]): number => {
        const t = median(ms.map((x) => x.expectedMs));
        return Math.abs(t - RTT_MS) <= TOL ? RTT_MS : t;
      };
      assert.ok(
        Math.abs(median(samples.map((s) => s.rttMs)) - ref50(m.matched)) <= TOL,
        `median ${median(samples.map((s) => s.rttMs))} ms, injected ${RTT_MS} ms`,
      );
      const withSamples = reports.filter((r) => r.samples >= 30);
      assert.ok(withSamples.length >= 1, `no report with 30 samples: ${JSON.stringify(reports)}`);
      let prev = -Infinity;
      for (const r of reports) {
        const inInterval = m.matched.filter((x) => x.sample.ts > prev && x.sample.ts <= Number(r.ts) + 1e-6);
        prev = Number(r.ts);
        if (r.samples < 30) continue;
        // The percentiles come from a histogram with 1 % relative error.
        const ref = ref50(inInterval);
        assert.ok(Math.abs(r.p50_ms - ref) <= TOL + 0.01 * ref, `report p50_ms ${r.p50_ms}, injected ${RTT_MS}, expected ${ref}`);
      }
    } finally {
      dump.kill();
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
      // JSON lines beside the DogStatsD datagrams: each report's samples, so
      // that the gauge can be held to the truth of the very samples behind it.
      cli = await startCli(bed, [`-cfg=${cfg}`, '--report-interval', '1', '--format', 'json', '--samples']);
    } catch (err) {
      const msg = (err as Error).message;
      if (/unknown|usage|not supported/i.test(msg)) {
        console.log(`      pending: the CLI does not take this yet: ${msg}`);
        sink.child.kill();
        this.skip();
      }
      throw err;
    }
    const dump = await Tcpdump.start(bed, bed.hostNs, bed.hostIf, path.join(bed.tmpDir, 'capture.pcap'));
    try {
      await runTraffic(bed, traffic(bed, false), { maxMs: 20000 });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const { code, ms } = await sigterm(cli);
      assert.equal(code, 0, `exit status ${code}: ${cli.stderr.join('').slice(-1500)}`);
      assert.ok(ms < 2000, `exited ${ms} ms after SIGTERM`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { frames } = await dump.stop();
      const log = await bed.stopForwarder();
      const metric = sink.lines
        .filter((l) => typeof l.data === 'string')
        .flatMap((l) => String(l.data).split('\n'))
        .filter((line) => line.startsWith('system.net.tcp.rtt.avg:'));
      console.log(`      ${metric.length} system.net.tcp.rtt.avg lines, e.g. ${metric[0]}`);
      assert.ok(metric.length >= 2, `received: ${JSON.stringify(sink.lines.slice(0, 5))}`);
      const values: number[] = [];
      for (const line of metric) {
        const m = /^system\.net\.tcp\.rtt\.avg:([\d.]+)\|g\|#(.*)$/.exec(line);
        assert.ok(m, `malformed line ${line}`);
        const tags = m[2].split(',');
        assert.ok(tags.includes(`src:${bed.hostV4}`), line);
        assert.ok(tags.includes(`dst:${bed.peerV4}`), line);
        assert.ok(tags.includes(`iface:${bed.hostIf}`), line);
        assert.ok(tags.includes('env:live'), line);
        values.push(Number(m[1]));
      }
      // One gauge per report of the pair, in order, carrying the report's
      // avg_ms (DogStatsD values have 6 decimals).
      const reports = cli.lines.filter((l) => l.type === 'report' && l.avg_ms !== null);
      assert.equal(values.length, reports.length, `${values.length} gauges for ${reports.length} reports`);
      reports.forEach((r, i) => assert.ok(Math.abs(values[i] - Number(r.avg_ms)) <= 5e-7, `gauge ${values[i]}, report avg_ms ${r.avg_ms}`));
      // The gauge is RFC 6298's SRTT (section 2: SRTT <- 7/8 SRTT + 1/8 R)
      // over the pair's samples so far: a weighted mean of the last dozen or
      // so. A busy machine gives some samples a real extra wait (the sink
      // reading late, a delayed ACK: the forwarder's record shows it as peer
      // time), and one such sample moves the mean by an eighth of it. So the
      // gauge is held, within issue 4's 0.5 ms (or 1 %), to the same
      // recurrence over the truth of each sample: the forwarder's record plus
      // the capture point's hop (expect.ts).
      const samples = cli.lines.filter((l) => l.type === 'sample').map(sampleOf);
      const match = matchSamples(log, samples, frames, [bed.hostV4, bed.hostV6]);
      assert.ok(match.matched.length >= samples.length * 0.98, `${match.unmatched.length} of ${samples.length} samples not in the forwarder's record`);
      const truthOf = new Map(match.matched.map((x) => [x.sample, x.expectedMs]));
      reports.forEach((r, i) => {
        let srtt: number | null = null;
        for (const x of samples) {
          if (x.ts > Number(r.ts) + 1e-6) break;
          const t = truthOf.get(x) ?? x.rttMs;
          srtt = srtt === null ? t : 0.875 * srtt + 0.125 * t;
        }
        const note = srtt !== null && Math.abs(srtt - RTT_MS) > TOL ? ' (the bed itself moved the truth)' : '';
        console.log(
          `      report ${i}: system.net.tcp.rtt.avg ${values[i]} ms; RFC 6298 over the truth ${srtt?.toFixed(6)} ms; injected RTT ${RTT_MS} ms${note}`,
        );
        assert.ok(
          srtt !== null && Math.abs(values[i] - srtt) <= TOL,
          `system.net.tcp.rtt.avg ${values[i]} ms, the truth's smoothed RTT ${srtt} ms, injected RTT ${RTT_MS} ms (±${TOL})`,
        );
      });
    } finally {
      dump.kill();
      cli.child.kill('SIGKILL');
      sink.child.kill('SIGKILL');
    }
  });
});
