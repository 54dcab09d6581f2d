/**
 * go-metro's own test captures, bundled as examples/captures (see its
 * README: http-request.pcap is go-metro's test_tcp.pcap, scp-upload.pcap
 * its test_scp.pcap). http-request.pcap: the values read from the capture
 * with tshark. scp-upload.pcap: every sample must equal Wireshark's tcp.analysis.ack_rtt
 * for the same ACK, computed here by running tshark on the file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { analyze, type RttSample } from '../src';

const REPO = path.resolve(__dirname, '..', '..'); // dist/test -> the checkout
const FIXTURES = path.join(REPO, 'examples', 'captures');
const TCP_PCAP = path.join(FIXTURES, 'http-request.pcap');
const SCP_PCAP = path.join(FIXTURES, 'scp-upload.pcap');

/** "1357501494.589279000" -> microseconds, exactly (no float rounding). */
function epochUs(s: string): number {
  const [sec, frac = ''] = s.trim().split('.');
  return Number(sec) * 1e6 + Math.round(Number(`${frac}000000000`.slice(0, 9)) / 1000);
}

/** "0.010139000" -> nanoseconds, exactly. */
function secondsNs(s: string): number {
  const [sec, frac = ''] = s.trim().split('.');
  return Number(sec) * 1e9 + Number(`${frac}000000000`.slice(0, 9));
}

function sampleUs(s: RttSample): number {
  return Math.round(s.ts * 1e6);
}

describe('go-metro fixtures', () => {
  describe('http-request.pcap (one HTTP request, local 192.168.1.116)', () => {
    it('gives the handshake, request and FIN samples read from the capture', async () => {
      const r = await analyze({ file: TCP_PCAP, local: ['192.168.1.116'], samples: true });
      // Frame times (tshark, 1357501494.xxxxxx): SYN .514680, SYN/ACK
      // .589279 (74.599 ms); request (143 bytes) .589689, its ACK 144 at
      // .662011 (72.322 ms); FIN .732161, its ACK 145 at .806414
      // (74.253 ms). One timestamp-echo sample (RFC 7323 §4.3): frame 8
      // (.662512) is the first local pure ACK with TSval 451664999, with
      // nothing of ours outstanding; frame 9 carries new data echoing the
      // older TSval 451664928, so the server was still sending when frame 8
      // left; frame 11 (.731716) is the first new data echoing 451664999:
      // 69.204 ms.
      const got = r.samples.map((s) => ({ kind: s.kind, rttUs: Math.round(s.rttMs * 1000), at: sampleUs(s) }));
      assert.deepEqual(got, [
        { kind: 'handshake', rttUs: 74_599, at: 1357501494_589279 },
        { kind: 'data', rttUs: 72_322, at: 1357501494_662011 },
        { kind: 'ts', rttUs: 69_204, at: 1357501494_731716 },
        { kind: 'data', rttUs: 74_253, at: 1357501494_806414 },
      ]);
      for (const s of r.samples) {
        assert.equal(s.src, '192.168.1.116');
        assert.equal(s.sport, 49296);
        assert.equal(s.dst, '107.6.106.82');
        assert.equal(s.dport, 80);
        assert.ok(Math.abs(s.rttMs * 1000 - Math.round(s.rttMs * 1000)) < 1e-6, 'a microsecond capture gives whole microseconds');
      }
      assert.equal(r.stats.packets, 16);
      assert.equal(r.stats.flowsCreated, 1);
    });

    it("go-metro's filter case: `tcp and host 200.100.200.100` sees no flow", async () => {
      const r = await analyze({ file: TCP_PCAP, local: ['200.100.200.100'], filter: 'tcp and host 200.100.200.100', samples: true });
      assert.equal(r.samples.length, 0);
      assert.equal(r.stats.packets, 0);
      assert.equal(r.stats.flowsCreated, 0);
      assert.ok(r.reports.every((b) => b.length === 0));
    });
  });

  describe('scp-upload.pcap (an scp upload, local 10.42.31.222)', () => {
    const LOCAL = '10.42.31.222';

    it('gives the 10.139 ms handshake sample', async () => {
      const r = await analyze({ file: SCP_PCAP, local: [LOCAL], samples: true });
      const hs = r.samples.filter((s) => s.kind === 'handshake');
      assert.equal(hs.length, 1);
      assert.equal(Math.round(hs[0].rttMs * 1000), 10_139);
      assert.equal(sampleUs(hs[0]), 1454455868_759660);
    });

    it("every sample equals Wireshark's tcp.analysis.ack_rtt for the same ACK", async function () {
      const ts = spawnSync(
        'tshark',
        [
          '-r',
          SCP_PCAP,
          '-n',
          '-T',
          'fields',
          '-E',
          'separator=,',
          '-E',
          'occurrence=f',
          '-e',
          'frame.time_epoch',
          '-e',
          'ip.src',
          '-e',
          'ip.dst',
          '-e',
          'tcp.analysis.ack_rtt',
          '-e',
          'tcp.analysis.duplicate_ack_num',
          '-e',
          'tcp.analysis.retransmission',
        ],
        { encoding: 'utf8', maxBuffer: 64 << 20 },
      );
      if (ts.error && (ts.error as NodeJS.ErrnoException).code === 'ENOENT') {
        console.log('      skipped: tshark is not installed (apt-get install tshark)');
        this.skip();
      }
      assert.equal(ts.status, 0, `tshark failed: ${ts.stderr}`);

      // Wireshark's RTTs of ACKs towards the local host, by ACK time (µs).
      // Wireshark times an ACK against the captured segment whose end equals
      // the ACK number; our rules refuse some of those (an ACK after
      // duplicate ACKs, an ACK covering a retransmission), so the reverse
      // inclusion is only required when the capture has neither.
      const wireshark = new Map<number, number[]>();
      let wsCount = 0;
      let dupacksIn = 0;
      let retransOut = 0;
      for (const line of ts.stdout.split('\n')) {
        if (line.trim() === '') continue;
        const [time = '', src, dst, rtt = '', dup = '', retx = ''] = line.split(',');
        if (dst === LOCAL && dup !== '') dupacksIn++;
        if (src === LOCAL && retx !== '') retransOut++;
        if (dst !== LOCAL || rtt === '') continue;
        const at = epochUs(time);
        const list = wireshark.get(at) ?? [];
        list.push(secondsNs(rtt));
        wireshark.set(at, list);
        wsCount++;
      }

      const r = await analyze({ file: SCP_PCAP, local: [LOCAL], samples: true });
      const unmatched: string[] = [];
      for (const s of r.samples) {
        const at = sampleUs(s);
        const list = wireshark.get(at) ?? [];
        // Equal to the nanosecond (a microsecond capture: whole µs either way).
        const i = list.findIndex((ns) => Math.abs(ns / 1e6 - s.rttMs) < 1e-6);
        if (i < 0) {
          unmatched.push(`${s.kind} ${s.rttMs} ms at ${at} us (Wireshark there: ${list.map((ns) => ns / 1e6).join(', ') || 'none'})`);
        } else {
          list.splice(i, 1);
        }
      }
      const left = [...wireshark.entries()].flatMap(([at, l]) => l.map((ns) => `${ns / 1e6} ms at ${at} us`));
      const kinds = r.samples.reduce<Record<string, number>>((m, s) => ({ ...m, [s.kind]: (m[s.kind] ?? 0) + 1 }), {});
      console.log(
        `      scp-upload.pcap: ${r.samples.length} samples (${JSON.stringify(kinds)}), Wireshark ack_rtt towards ${LOCAL}: ${wsCount}, ` +
          `matched ${r.samples.length - unmatched.length}, Wireshark only ${left.length}; dupacks in ${dupacksIn}, retransmissions out ${retransOut}`,
      );
      assert.deepEqual(unmatched, [], 'samples without an equal Wireshark ack_rtt');
      assert.ok(r.samples.length > 100, `only ${r.samples.length} samples`);
      if (dupacksIn === 0 && retransOut === 0) {
        assert.deepEqual(left, [], 'Wireshark RTTs the engine did not take, although nothing makes them ambiguous');
      }
    });
  });
});
