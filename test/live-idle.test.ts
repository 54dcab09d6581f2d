/**
 * A live capture on an idle link (loopback, as root): reports keep coming by
 * the wall clock, on the packet-time grid, while a connection stays open and
 * nothing is sent; per-sample records reach JavaScript within about a
 * second of being measured; stop() delivers one last report.
 *
 * The traffic is a real TCP connection between 127.0.0.2 (the monitored
 * host) and 127.0.0.3 through the kernel's loopback.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { RttMonitor, type HostPairReport, type RttSample } from '../src';

// Reports every 2 s, so that samples (flushed at least once a second) reach
// JavaScript before the first report would have carried them.
const INTERVAL_S = 2;
const IDLE_MS = 5500;
const READ_TIMEOUT_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('live capture on an idle link (lo, root)', function () {
  this.timeout(30_000);

  before(function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: live capture on lo needs root (CAP_NET_RAW)');
      this.skip();
    }
  });

  it('reports by the wall clock while idle, delivers samples within a second, and reports once more on stop()', async () => {
    const server = net.createServer((sock) => {
      sock.on('data', (d) => sock.write(`re:${d.toString()}`));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.3', () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const m = new RttMonitor({
      interface: 'lo',
      local: ['127.0.0.2'],
      filter: `tcp port ${port}`,
      reportInterval: INTERVAL_S,
      readTimeout: READ_TIMEOUT_MS,
      samples: true,
    });
    const reports: { at: number; pairs: HostPairReport[] }[] = [];
    const samples: { at: number; s: RttSample }[] = [];
    m.on('report', (pairs: HostPairReport[]) => reports.push({ at: Date.now(), pairs }));
    m.on('sample', (s: RttSample) => samples.push({ at: Date.now(), s }));
    let client: net.Socket | undefined;
    try {
      await m.start();
      // Three request/response exchanges, then the connection stays open
      // with nothing on the wire (no keep-alive probes by default).
      client = net.connect({ host: '127.0.0.3', port, localAddress: '127.0.0.2' });
      const c = client;
      await new Promise<void>((resolve, reject) => {
        let n = 0;
        c.on('error', reject);
        c.on('connect', () => c.write('q0'));
        c.on('data', () => {
          if (++n < 3) setTimeout(() => c.write(`q${n}`), 50);
          else resolve();
        });
      });
      await sleep(IDLE_MS);
      const before = reports.length;
      await m.stop();
      const stoppedReports = reports.length - before;

      // Samples: the handshake and the three requests at least, each
      // delivered within a second (and the capture thread's clock lag of up
      // to two read timeouts) of the packet that closed it, before the
      // first report.
      assert.ok(samples.length >= 4, `samples ${samples.length}`);
      const firstReport = reports[0]?.at ?? Infinity;
      for (const { at, s } of samples) {
        assert.equal(s.src, '127.0.0.2');
        assert.equal(s.dst, '127.0.0.3');
        const lag = at / 1000 - s.ts;
        assert.ok(lag >= -0.05 && lag < 1 + (2 * READ_TIMEOUT_MS) / 1000 + 0.3, `a sample reached JavaScript ${lag.toFixed(3)} s after it was measured`);
        assert.ok(at < firstReport, 'samples are delivered on their own clock, not with the report');
      }

      const pairOf = (r: { pairs: HostPairReport[] }): HostPairReport | undefined => r.pairs.find((p) => p.src === '127.0.0.2' && p.dst === '127.0.0.3');
      // Reports while idle: the pair has a live flow, so it is reported every
      // interval, with no new sample, one interval apart in packet time.
      // The exchanges take ~0.1 s, so every sample is in the first interval;
      // the reports after it cover intervals with nothing on the wire.
      const lastSample = Math.max(...samples.map((x) => x.s.ts));
      const idle = reports.slice(0, before).filter((r) => (pairOf(r)?.ts ?? 0) > lastSample + INTERVAL_S);
      assert.ok(idle.length >= 1, `reports during ${IDLE_MS} ms of silence: ${idle.length}`);
      for (const r of idle) {
        const p = pairOf(r);
        assert.ok(p, 'the idle pair is reported');
        assert.equal(p.flows, 1);
        assert.equal(p.samples, 0);
        assert.equal(p.rttMs, null, 'no stale rtt on an interval without samples');
        assert.ok(p.avgMs !== null && p.avgMs > 0, 'the smoothed figure is kept');
      }
      const ts = reports
        .slice(0, before)
        .map((r) => pairOf(r)?.ts)
        .filter((t): t is number => t !== undefined);
      for (let i = 1; i < ts.length; i++) {
        const step = (ts[i] ?? 0) - (ts[i - 1] ?? 0);
        assert.ok(Math.abs(step - INTERVAL_S) < 0.01, `reports ${step.toFixed(3)} s apart, not ${INTERVAL_S} s`);
      }
      // Each idle report arrived close to its boundary: the wall clock, not a
      // packet, moved it on.
      for (const r of idle) {
        const p = pairOf(r);
        if (p) assert.ok(r.at / 1000 - p.ts < 0.5, `an idle report arrived ${(r.at / 1000 - p.ts).toFixed(3)} s after its boundary`);
      }
      assert.equal(stoppedReports, 1, 'stop() delivered one last report');
      const last = reports[reports.length - 1];
      assert.ok(last && pairOf(last), 'the last report holds the pair');
    } finally {
      client?.destroy();
      await m.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
