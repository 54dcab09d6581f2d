/**
 * Live faults (issue 4): what an operator's machine does to a capture. Each
 * runs RttMonitor in a child inside the test's namespaces, so a crash shows
 * as a dead child, never as a dead test runner.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Bed, buildForwarder, liveSkipReason, sh } from './netns';
import { MonitorProc, runTraffic } from './scenario';

/** A classic pcap (pcap-savefile(5)) of Ethernet frames, for tcpreplay. */
function writeBurst(file: string, dstMac: string, srcMac: string, src: string, dst: string, count: number): void {
  const mac = (m: string): Buffer => Buffer.from(m.split(':').map((h) => parseInt(h, 16)));
  const ip = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(hdr);
  for (let i = 0; i < count; i++) {
    const payload = 64;
    const frame = Buffer.alloc(14 + 20 + 20 + payload);
    mac(dstMac).copy(frame, 0);
    mac(srcMac).copy(frame, 6);
    frame.writeUInt16BE(0x0800, 12);
    const iph = frame.subarray(14, 34);
    iph[0] = 0x45;
    iph.writeUInt16BE(20 + 20 + payload, 2);
    iph.writeUInt16BE(i & 0xffff, 4);
    iph[8] = 64;
    iph[9] = 6;
    ip(src).copy(iph, 12);
    ip(dst).copy(iph, 16);
    let sum = 0;
    for (let k = 0; k < 20; k += 2) sum += iph.readUInt16BE(k);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    iph.writeUInt16BE(~sum & 0xffff, 10);
    const tcp = frame.subarray(34, 54);
    // Many flows, each a data segment: the engine does real per-flow work.
    tcp.writeUInt16BE(20000 + (i % 4096), 0);
    tcp.writeUInt16BE(9, 2);
    tcp.writeUInt32BE((i * 1000) >>> 0, 4);
    tcp.writeUInt32BE(1, 8);
    tcp[12] = 5 << 4;
    tcp[13] = 0x18; // PSH|ACK
    tcp.writeUInt16BE(65535, 14);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000 + Math.floor(i / 1e6), 0);
    rec.writeUInt32LE(i % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

async function macOf(ns: string, dev: string): Promise<string> {
  const out = await sh('ip', ['-n', ns, '-o', 'link', 'show', 'dev', dev]);
  const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
  if (!m) throw new Error(`no MAC on ${dev}`);
  return m[1];
}

describe('live faults: a deleted interface, no permission, bad input, more packets than the machine can take', function () {
  this.timeout(90000);
  let bed: Bed;

  before(async function () {
    const reason = liveSkipReason();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    buildForwarder();
    bed = await Bed.create({ delayMs: 5, durationS: 80 });
  });

  after(async () => {
    await bed?.destroy();
  });

  it('the captured interface is deleted mid-capture: CAPTURE_FAILED on that monitor, the others keep running', async () => {
    const doomed = `xd${process.pid % 100000}`;
    await sh('ip', ['link', 'add', doomed, 'netns', bed.hostNs, 'type', 'veth', 'peer', 'name', `${doomed}p`, 'netns', bed.peerNs]);
    await sh('ip', ['-n', bed.hostNs, 'addr', 'add', '10.213.3.1/24', 'dev', doomed]);
    await sh('ip', ['-n', bed.hostNs, 'link', 'set', doomed, 'up']);
    await sh('ip', ['-n', bed.peerNs, 'link', 'set', `${doomed}p`, 'up']);
    const mon = await MonitorProc.start(bed, bed.hostNs, [
      { name: 'doomed', options: { interface: doomed, reportInterval: 1 } },
      { name: 'tap', options: { interface: bed.hostIf, reportInterval: 1, samples: true } },
    ]);
    try {
      assert.equal(mon.startError('doomed'), null);
      assert.equal(mon.startError('tap'), null);
      // Exchanges over the TAP for ~3 s; the other interface goes away after 1 s.
      let deletedAt = 0;
      const deletion = new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          deletedAt = Date.now();
          sh('ip', ['-n', bed.hostNs, 'link', 'del', doomed]).then(() => resolve(), reject);
        }, 1000),
      );
      await runTraffic(
        bed,
        [
          {
            ns: bed.hostNs,
            roles: [{ kind: 'rrClient', host: bed.peerV4, port: 5101, connections: 3, requests: 10, requestBytes: 100, responseBytes: 1000, gapMs: 80 }],
          },
          { ns: bed.peerNs, roles: [{ kind: 'rrServer', host: bed.peerV4, port: 5101, requestBytes: 100, responseBytes: 1000 }] },
        ],
        { maxMs: 20000 },
      );
      await deletion;
      const err = await mon.out.wait((l) => l.t === 'error' && l.m === 'doomed', 5000, 'error event of the deleted interface');
      console.log(`      ${String(err.code)}: ${String(err.message)}`);
      assert.equal(err.code, 'CAPTURE_FAILED');
      await mon.out.wait((l) => l.t === 'end' && l.m === 'doomed', 5000, 'end of the failed monitor');
      await mon.stop();
      assert.equal(mon.out.exitCode, 0, 'the monitor process exits cleanly');
      const tap = mon.result('tap');
      const after = tap.reports.filter((_, i) => tap.reportWall[i] > deletedAt + 500);
      const samplesAfter = tap.samples.filter((s) => s.ts * 1000 > deletedAt + 500).length;
      console.log(`      the TAP monitor: ${after.length} reports and ${samplesAfter} samples after the deletion`);
      assert.ok(after.length >= 1, 'no report from the other monitor after the deletion');
      assert.ok(samplesAfter >= 3, 'the other monitor stopped sampling');
      assert.deepEqual(tap.errors, []);
    } finally {
      mon.kill();
    }
  });

  it('a user without capabilities: CAPTURE_PERMISSION naming cap_net_raw/cap_net_admin and how to grant them', async () => {
    // nobody, no groups, no inheritable or bounding capabilities (setpriv(1)).
    const wrap = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
    const mon = await MonitorProc.start(bed, bed.hostNs, [{ name: 'unprivileged', options: { interface: bed.hostIf } }], 10000, wrap);
    try {
      const e = mon.startError('unprivileged');
      assert.ok(e, 'start() succeeded without capabilities');
      console.log(`      ${e.code}: ${e.message}`);
      assert.equal(e.code, 'CAPTURE_PERMISSION');
      assert.match(e.message, /cap_net_raw/i);
      assert.match(e.message, /cap_net_admin/i);
      assert.match(e.message, /setcap/);
      assert.match(e.message, /AmbientCapabilities/);
      await mon.stop();
      assert.equal(mon.out.exitCode, 0);
    } finally {
      mon.kill();
    }
  });

  it('a nonexistent interface: NO_SUCH_INTERFACE; an invalid BPF filter: BAD_FILTER', async () => {
    const mon = await MonitorProc.start(bed, bed.hostNs, [
      { name: 'nosuch', options: { interface: 'prt-nope0' } },
      { name: 'badfilter', options: { interface: bed.hostIf, filter: 'tcp and and port' } },
    ]);
    try {
      const a = mon.startError('nosuch');
      const b = mon.startError('badfilter');
      console.log(`      ${a?.code}: ${a?.message}\n      ${b?.code}: ${b?.message}`);
      assert.equal(a?.code, 'NO_SUCH_INTERFACE');
      assert.match(a?.message ?? '', /prt-nope0/);
      assert.equal(b?.code, 'BAD_FILTER');
      await mon.stop();
      assert.equal(mon.out.exitCode, 0);
    } finally {
      mon.kill();
    }
  });

  it('a burst faster than the machine can take: pcap drops counted in stats, nothing crashes', async function () {
    try {
      await sh('tcpreplay', ['--version']);
    } catch {
      console.log('      skipped: tcpreplay is not installed (scripts/setup-debian.sh --test installs it)');
      this.skip();
    }
    const dev = `xb${process.pid % 100000}`;
    await sh('ip', ['link', 'add', dev, 'netns', bed.hostNs, 'type', 'veth', 'peer', 'name', `${dev}p`, 'netns', bed.peerNs]);
    await sh('ip', ['-n', bed.hostNs, 'addr', 'add', '10.213.4.1/24', 'dev', dev]);
    await sh('ip', ['-n', bed.peerNs, 'addr', 'add', '10.213.4.2/24', 'dev', `${dev}p`]);
    await sh('ip', ['-n', bed.hostNs, 'link', 'set', dev, 'up']);
    await sh('ip', ['-n', bed.peerNs, 'link', 'set', `${dev}p`, 'up']);
    const file = path.join(bed.tmpDir, 'burst.pcap');
    writeBurst(file, await macOf(bed.hostNs, dev), await macOf(bed.peerNs, `${dev}p`), '10.213.4.2', '10.213.4.1', 20000);
    // A ring of one small block: the kernel drops whatever the capture thread has not taken yet.
    const mon = await MonitorProc.start(bed, bed.hostNs, [
      { name: 'burst', options: { interface: dev, bufferSize: 65536, reportInterval: 1 } },
      { name: 'tap', options: { interface: bed.hostIf, reportInterval: 1 } },
    ]);
    try {
      assert.equal(mon.startError('burst'), null);
      const out = await bed.exec(bed.peerNs, 'tcpreplay', ['-q', '-i', `${dev}p`, '--topspeed', '--loop=25', file]);
      console.log(
        `      tcpreplay: ${
          out
            .split('\n')
            .find((l) => /Rated|Actual/.test(l))
            ?.trim() ?? ''
        }`,
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await mon.stop();
      assert.equal(mon.out.exitCode, 0, 'the monitor process died');
      const r = mon.result('burst');
      const st = r.stats;
      assert.ok(st, 'no final stats');
      console.log(
        `      packets ${st.packets}, pcap received ${st.pcapReceived}, dropped ${st.pcapDropped}, if-dropped ${st.pcapIfDropped}; flows created ${st.flowsCreated}`,
      );
      assert.deepEqual(r.errors, []);
      assert.ok(st.pcapDropped > 0, `no pcap drop with ${st.packets} packets through a 64 KiB ring`);
      assert.ok(st.packets > 1000, 'the capture saw almost nothing');
      assert.ok(r.reports.length >= 1, 'no report during or after the burst');
      assert.ok(mon.result('tap').stats, 'the other monitor did not end cleanly');
    } finally {
      mon.kill();
    }
  });
});
