/**
 * Hardening, bad captures (issue 7): files truncated in the middle of a
 * packet or of a record header, wrong magic numbers and versions, a caplen
 * larger than the snaplen or than 256 kB, zero-length packets, pcapng files
 * with unknown, oversized and damaged blocks, empty files. Each one gives a
 * clear error code (FILE_MALFORMED at start() when nothing can be read,
 * FILE_TRUNCATED once the capture is under way) or a counted skip, never a
 * crash, and the reports made before the damage are still delivered.
 *
 * Every file holds one host pair (hardening-helpers/capture-writer.ts,
 * RealPair): handshake 12 ms, then a 100-byte request every 100 ms
 * answered in exactly 25 ms, for 3 s. The damage goes in at DAMAGE_NS
 * (1.5 s); the expected reports, samples and packet counts follow from the
 * packet times written before (and, for skips, after) it.
 *
 * Not repeated here (engine-decode and engine-flows cover them): packets
 * cut by a snaplen inside their headers, a few small unknown pcapng blocks
 * among good ones, a text file, a missing file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RttError, RttMonitor, type HostPairReport, type MonitorStats, type RttErrorCode, type RttMonitorOptions } from '../src';
import {
  ACK,
  CB_COPY,
  CB_NOCOPY,
  MS,
  PSH,
  PcapWriter,
  RealPair,
  ip4,
  samplesPerReport,
  type CaptureFormat,
  type WriterOptions,
} from './hardening-helpers/capture-writer';

const REPO = path.resolve(__dirname, '..', '..');
const BIN = path.join(REPO, 'bin', 'passive-rtt.js');
const LOCAL = '192.0.2.10';
const REMOTE = '198.51.100.20';
const DAMAGE_NS = 1500 * MS;
const INTERVAL_NS = 1000 * MS;
/** Ethernet + IPv4 + TCP headers of every segment the writer makes. */
const HEADERS = 14 + 20 + 20;

function pair(): RealPair {
  return new RealPair({ local: LOCAL, remote: REMOTE, startNs: 1 * MS, endNs: 3000 * MS, handshakeMs: 12, rttMs: 25, everyMs: 100 });
}

interface Outcome {
  startError?: RttError;
  /** Samples of each report, in order. */
  reports: number[];
  rows: HostPairReport[];
  errors: RttError[];
  /** Event names in the order they came. */
  order: string[];
  stats: MonitorStats;
}

async function run(file: string): Promise<Outcome> {
  const m = new RttMonitor({ file, local: [LOCAL], reportInterval: INTERVAL_NS / 1e9 });
  const out: Outcome = { reports: [], rows: [], errors: [], order: [], stats: m.stats() };
  m.on('report', (batch) => {
    out.order.push('report');
    out.reports.push(batch.reduce((n, r) => n + r.samples, 0));
    out.rows.push(...batch);
  });
  m.on('error', (e) => {
    out.order.push('error');
    out.errors.push(e);
  });
  m.on('end', () => out.order.push('end'));
  try {
    await m.start();
  } catch (e) {
    assert.ok(e instanceof RttError, `start() rejects with an RttError, got ${String(e)}`);
    out.startError = e;
    return out;
  }
  await m.ended();
  out.stats = m.stats();
  return out;
}

/** What the monitor must report when the pair's packets stop at tNs (the damage). */
function expectedUntil(p: RealPair, tNs: number): { reports: number[]; samples: number; packets: number } {
  const times = p.sampleTimes.filter((t) => t <= tNs);
  return {
    reports: samplesPerReport(times, p.firstNs, p.lastPacketUntil(tNs), INTERVAL_NS),
    samples: times.length,
    packets: p.packetsUntil(tNs),
  };
}

/**
 * Every row: the pair, and exact RTTs (12 ms handshake, 25 ms requests, and
 * `extra` where a test adds an exchange of its own).
 */
function checkRows(rows: HostPairReport[], extra: number[] = []): void {
  assert.ok(rows.length > 0);
  const allowed = [12, 25, ...extra];
  for (const r of rows) {
    assert.equal(r.src, LOCAL);
    assert.equal(r.dst, REMOTE);
    if (r.samples === 0) continue;
    assert.ok(allowed.includes(r.maxMs ?? NaN), `max ${r.maxMs}`);
    assert.ok(allowed.includes(r.minMs ?? NaN), `min ${r.minMs}`);
  }
}

/** A damaged file: the reports before the damage, then one FILE_TRUNCATED error naming it, then end. */
function checkDamaged(o: Outcome, p: RealPair, detail: RegExp, code: RttErrorCode = 'FILE_TRUNCATED'): void {
  assert.equal(o.startError, undefined, `start() succeeded: ${o.startError?.message}`);
  const want = expectedUntil(p, DAMAGE_NS);
  assert.deepEqual(o.reports, want.reports, 'the reports of everything before the damage');
  assert.equal(o.stats.samples, want.samples);
  assert.equal(o.stats.packets, want.packets, 'every packet before the damage was read, none after');
  assert.equal(o.errors.length, 1);
  const e = o.errors[0];
  assert.equal(e.code, code);
  assert.match(e.message, detail);
  assert.match(e.message, /the reports before the damage were delivered/);
  assert.deepEqual(o.order, [...want.reports.map(() => 'report'), 'error', 'end']);
  checkRows(o.rows);
}

/** A file whose damage is skipped: every report of the whole pair, `extra` more packets counted. */
function checkSkipped(o: Outcome, p: RealPair, extra: { packets: number; malformed: number; samples?: number; rttMs?: number[] }): void {
  assert.equal(o.startError, undefined, `start() succeeded: ${o.startError?.message}`);
  assert.deepEqual(o.errors, []);
  const all = expectedUntil(p, Infinity);
  assert.equal(o.stats.samples, all.samples + (extra.samples ?? 0));
  assert.equal(o.stats.packets, all.packets + extra.packets);
  assert.equal(o.stats.malformed, extra.malformed);
  assert.deepEqual(o.order.slice(-1), ['end']);
  checkRows(o.rows, extra.rttMs);
}

describe('hardening: bad captures', function () {
  this.timeout(120_000);
  let dir: string;
  let n = 0;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passive-rtt-badcap-'));
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Writes the pair up to DAMAGE_NS, then `damage` (given the file offset
   * where it starts), then, unless `rest` is false, the rest of the pair.
   */
  function write(
    format: CaptureFormat,
    damage: (w: PcapWriter, offset: number) => void,
    opts: { rest?: boolean; writer?: WriterOptions } = {},
  ): { file: string; pair: RealPair; offset: number } {
    const file = path.join(dir, `bad-${++n}.${format}`);
    const w = new PcapWriter(file, { format, ...opts.writer });
    const p = pair();
    p.writeUntil(w, DAMAGE_NS);
    const offset = w.flush();
    damage(w, offset);
    if (opts.rest !== false) p.writeUntil(w, Infinity);
    w.close();
    return { file, pair: p, offset };
  }

  it('the undamaged file gives every sample (the reference for the rest)', async function () {
    for (const format of ['pcap', 'pcapng'] as const) {
      const { file, pair: p } = write(format, () => {});
      const o = await run(file);
      assert.deepEqual(o.reports, [10, 10, 10], format);
      assert.deepEqual(o.reports, expectedUntil(p, Infinity).reports);
      checkSkipped(o, p, { packets: 0, malformed: 0 });
      // The pair up to the damage point: 15 samples in 31 packets.
      assert.deepEqual(expectedUntil(p, DAMAGE_NS), { reports: [10, 5], samples: 15, packets: 31 });
    }
  });

  describe('truncated files', function () {
    it('cut in the middle of a packet (pcap): FILE_TRUNCATED after the reports before the cut', async function () {
      const { file, pair: p, offset } = write('pcap', () => {});
      // The next record: 16 header bytes, then 20 of its 54 packet bytes.
      fs.truncateSync(file, offset + 16 + 20);
      const o = await run(file);
      checkDamaged(o, p, /truncated dump file; tried to read 54 captured bytes, only got 20/);
    });

    it('cut in the middle of a record header (pcap)', async function () {
      const { file, pair: p, offset } = write('pcap', () => {});
      fs.truncateSync(file, offset + 7);
      const o = await run(file);
      checkDamaged(o, p, /truncated dump file; tried to read 16 header bytes, only got 7/);
    });

    it('cut in the middle of an enhanced packet block (pcapng)', async function () {
      const { file, pair: p, offset } = write('pcapng', () => {});
      // EPB: 28 bytes of head, 56 of packet (54 padded), 4 of trailer = 88; keep 40.
      fs.truncateSync(file, offset + 40);
      const o = await run(file);
      checkDamaged(o, p, /truncated pcapng dump file; tried to read 80 bytes, only got 32/);
    });

    it('the iterator yields the reports before the cut, then throws FILE_TRUNCATED', async function () {
      const { file, pair: p, offset } = write('pcap', () => {});
      fs.truncateSync(file, offset + 16 + 20);
      const m = new RttMonitor({ file, local: [LOCAL], reportInterval: 1 });
      const seen: number[] = [];
      // Iterating from before start(): the loop's first next() attaches
      // its listeners at once, so no report can come before them.
      const consumed = (async () => {
        for await (const batch of m) seen.push(batch.reduce((k, r) => k + r.samples, 0));
      })();
      await m.start();
      await assert.rejects(consumed, (e: unknown) => e instanceof RttError && e.code === 'FILE_TRUNCATED');
      assert.deepEqual(seen, expectedUntil(p, DAMAGE_NS).reports);
    });

    it('the command line prints the reports before the cut and names the damage', function () {
      const { file, pair: p, offset } = write('pcap', () => {});
      fs.truncateSync(file, offset + 16 + 20);
      const r = spawnSync(process.execPath, [BIN, '--pcap', file, '--local', LOCAL, '--format', 'json', '--report-interval', '1'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; samples?: number; packets?: number });
      const want = expectedUntil(p, DAMAGE_NS);
      assert.deepEqual(
        lines.filter((l) => l.type === 'report').map((l) => l.samples),
        want.reports,
      );
      assert.equal(lines[lines.length - 1]?.type, 'stats');
      assert.equal(lines[lines.length - 1]?.packets, want.packets);
      assert.match(r.stderr, /is damaged: truncated dump file/);
      // A file cut short (a tcpdump killed mid-write) is a warning: what it held was measured.
      assert.equal(r.status, 0, r.stderr);
    });
  });

  describe('not a capture libpcap can read: FILE_MALFORMED at start()', function () {
    const cases: { name: string; bytes: () => Buffer; detail: RegExp }[] = [
      { name: 'an empty file', bytes: () => Buffer.alloc(0), detail: /tried to read 4 file header bytes, only got 0/ },
      { name: 'a pcap file header cut at 10 bytes', bytes: () => pcapHeader().subarray(0, 10), detail: /tried to read 24 file header bytes, only got 6/ },
      { name: 'a wrong magic number', bytes: () => withMagic(0xdeadbeef), detail: /unknown file format/ },
      { name: 'a pcap magic number with one bit flipped', bytes: () => withMagic(0xa1b23c4d ^ 0x100), detail: /unknown file format/ },
      { name: 'pcap version 3.4', bytes: () => withVersion(3), detail: /unsupported pcap savefile version 3\.4/ },
      { name: 'pcap version 1.4 (archaic)', bytes: () => withVersion(1), detail: /archaic pcap savefile format/ },
      { name: 'a pcapng section header with a wrong byte-order magic', bytes: () => withByteOrderMagic(0x11223344), detail: /unknown file format/ },
      { name: 'a pcapng section header and no interface', bytes: () => pcapngShbOnly(), detail: /no Interface Description Blocks/ },
    ];
    for (const c of cases) {
      it(c.name, async function () {
        const file = path.join(dir, `malformed-${++n}`);
        fs.writeFileSync(file, c.bytes());
        const o = await run(file);
        assert.ok(o.startError, 'start() rejects');
        assert.equal(o.startError.code, 'FILE_MALFORMED');
        assert.match(o.startError.message, c.detail);
        assert.match(o.startError.message, /give a pcap or pcapng file/);
        assert.deepEqual(o.order, [], 'no event after a failed start()');
      });
    }

    it('rejected 200 times, each way: every descriptor it opened is closed again', async function () {
      // passive-rtt opens the stream libpcap reads: when libpcap rejects it,
      // closing it is passive-rtt's job; when passive-rtt rejects what
      // libpcap opened (link type, filter), pcap_close's.
      const notPcap = path.join(dir, `malformed-${++n}`);
      fs.writeFileSync(notPcap, withMagic(0xdeadbeef));
      const wifi = path.join(dir, `wifi-${++n}.pcap`);
      const b = good('pcap');
      b.writeUInt32LE(105, 20); // LINKTYPE_IEEE802_11
      fs.writeFileSync(wifi, b);
      const goodFile = path.join(dir, `good-${++n}.pcap`);
      fs.writeFileSync(goodFile, good('pcap'));
      const ways: { name: string; options: RttMonitorOptions; code: RttErrorCode }[] = [
        { name: 'not a capture', options: { file: notPcap, local: [LOCAL] }, code: 'FILE_MALFORMED' },
        { name: 'a link type passive-rtt does not decode', options: { file: wifi, local: [LOCAL] }, code: 'FILE_MALFORMED' },
        { name: 'an invalid filter', options: { file: goodFile, local: [LOCAL], filter: 'tcp and and port' }, code: 'BAD_FILTER' },
      ];
      const fds = (): number => fs.readdirSync('/proc/self/fd').length;
      for (const w of ways) {
        const before = fds();
        for (let i = 0; i < 200; i++) {
          await assert.rejects(new RttMonitor(w.options).start(), (e: RttError) => e.code === w.code, w.name);
        }
        assert.equal(fds(), before, `open descriptors after ${w.name}`);
      }
    });

    it('a pcap file header and no packet: a capture of nothing, no error', async function () {
      const file = path.join(dir, `header-only-${++n}.pcap`);
      fs.writeFileSync(file, pcapHeader());
      const o = await run(file);
      assert.equal(o.startError, undefined);
      assert.deepEqual(o.order, ['end']);
      assert.equal(o.stats.packets, 0);
    });

    /** The 24-byte header PcapWriter writes (nanosecond magic, Ethernet). */
    function pcapHeader(): Buffer {
      const file = path.join(dir, `hdr-${++n}.pcap`);
      new PcapWriter(file).close();
      return fs.readFileSync(file);
    }

    /** A whole good capture with its first bytes changed. */
    function good(format: CaptureFormat): Buffer {
      return fs.readFileSync(write(format, () => {}).file);
    }

    function withMagic(magic: number): Buffer {
      const b = good('pcap');
      b.writeUInt32LE(magic >>> 0, 0);
      return b;
    }

    function withVersion(major: number): Buffer {
      const b = good('pcap');
      b.writeUInt16LE(major, 4);
      return b;
    }

    function withByteOrderMagic(bom: number): Buffer {
      const b = good('pcapng');
      b.writeUInt32LE(bom, 8); // SHB: type, length, then the byte-order magic
      return b;
    }

    function pcapngShbOnly(): Buffer {
      return good('pcapng').subarray(0, 28); // the SHB: 12 + 16 bytes
    }
  });

  describe('caplen against snaplen and the 256 kB limit', function () {
    it('pcap: a record longer than the file snaplen is cut to it, decoded, and the file stays in step', async function () {
      // The file's snaplen is exactly the headers; one request carries its
      // 1000 payload bytes anyway (caplen 1054). libpcap hands over the
      // first 54 and skips the rest, so this request (answered in 30 ms)
      // is sampled and every record after it is read.
      const local = ip4(LOCAL);
      const remote = ip4(REMOTE);
      const { file, pair: p } = write(
        'pcap',
        (w) => {
          w.tcp(DAMAGE_NS + 10 * MS, {
            src: local,
            dst: remote,
            sport: 50001,
            dport: 443,
            seq: 1000,
            ack: 5000,
            flags: PSH | ACK,
            payload: 1000,
            storePayload: true,
          });
          w.tcp(DAMAGE_NS + 40 * MS, { src: remote, dst: local, sport: 443, dport: 50001, seq: 5000, ack: 2000, flags: ACK });
        },
        { writer: { snaplen: HEADERS } },
      );
      const o = await run(file);
      checkSkipped(o, p, { packets: 2, malformed: 0, samples: 1, rttMs: [30] });
      assert.ok(
        o.rows.some((r) => r.samples > 0 && r.maxMs === 30),
        'the oversized request was decoded and timed (30 ms)',
      );
      assert.equal(o.stats.samplesByKind.data, 29 + 1);
    });

    it('pcapng: an EPB longer than its interface snaplen is damage (FILE_TRUNCATED), after the reports', async function () {
      const { file, pair: p } = write('pcapng', (w) => w.raw(DAMAGE_NS + MS, Buffer.alloc(300, 0x11)), { writer: { snaplen: 100 } });
      const o = await run(file);
      checkDamaged(o, p, /invalid packet capture length 300, bigger than snaplen of 100/);
    });

    for (const [snaplen, caplen] of [
      [262144, 262145],
      [2000, 300_000],
      [262144, 0xffffffff],
    ] as const) {
      it(`pcap: caplen ${caplen} (over 256 kB), snaplen ${snaplen}: FILE_TRUNCATED, after the reports`, async function () {
        // Only 64 bytes follow the header: libpcap must refuse the length
        // before it tries to read (or allocate) that much.
        const { file, pair: p } = write('pcap', (w) => w.raw(DAMAGE_NS + MS, Buffer.alloc(64, 0x11), { caplen, wirelen: caplen }), {
          writer: { snaplen },
        });
        const o = await run(file);
        checkDamaged(o, p, new RegExp(`invalid packet capture length ${caplen}, bigger than snaplen of ${snaplen}`));
      });
    }
  });

  describe('zero-length packets', function () {
    it('pcap: records of 0 bytes (wire length 0, 60 and 2^32-1) are counted as malformed and skipped', async function () {
      const { file, pair: p } = write('pcap', (w) => {
        w.raw(DAMAGE_NS + 1 * MS, Buffer.alloc(0));
        w.raw(DAMAGE_NS + 2 * MS, Buffer.alloc(0), { wirelen: 60 });
        w.raw(DAMAGE_NS + 3 * MS, Buffer.alloc(0), { wirelen: 0xffffffff });
      });
      const o = await run(file);
      checkSkipped(o, p, { packets: 3, malformed: 3 });
      assert.deepEqual(o.reports, expectedUntil(p, Infinity).reports);
    });

    it('pcapng: an EPB of 0 bytes is counted as malformed and skipped', async function () {
      const { file, pair: p } = write('pcapng', (w) => {
        w.raw(DAMAGE_NS + 1 * MS, Buffer.alloc(0));
        w.raw(DAMAGE_NS + 2 * MS, Buffer.alloc(0), { wirelen: 1514 });
      });
      const o = await run(file);
      checkSkipped(o, p, { packets: 2, malformed: 2 });
    });
  });

  describe('pcapng blocks', function () {
    it('unknown, custom and large blocks, before the first interface too, are skipped', async function () {
      const file = path.join(dir, `blocks-${++n}.pcapng`);
      const w = new PcapWriter(file, { format: 'pcapng' });
      const p = pair();
      p.writeUntil(w, 500 * MS);
      w.block(0x0bad0001, Buffer.from('local use, skip me'));
      w.block(CB_COPY, Buffer.concat([Buffer.from([0, 0, 0x7f, 0xff]), Buffer.alloc(100, 1)])); // PEN, then data
      w.block(CB_NOCOPY, Buffer.from([0, 0, 0x7f, 0xff]));
      w.block(0x00000099, Buffer.alloc(0)); // a reserved type, empty body
      p.writeUntil(w, DAMAGE_NS);
      // 1 MiB: more than libpcap's initial block buffer, less than its 16 MiB limit.
      w.block(0x0bad0002, Buffer.alloc(1 << 20, 7));
      p.writeUntil(w, Infinity);
      w.block(0x0bad0003, Buffer.alloc(13, 3)); // last in the file, padded
      w.close();
      // An unknown block between the section header and the interface.
      const b = fs.readFileSync(file);
      const unknown = Buffer.alloc(16);
      unknown.writeUInt32LE(0x0bad0004, 0);
      unknown.writeUInt32LE(16, 4);
      unknown.writeUInt32LE(0x01020304, 8);
      unknown.writeUInt32LE(16, 12);
      fs.writeFileSync(file, Buffer.concat([b.subarray(0, 28), unknown, b.subarray(28)]));
      const o = await run(file);
      checkSkipped(o, p, { packets: 0, malformed: 0 });
      assert.deepEqual(o.reports, [10, 10, 10]);
    });

    const damaged: { name: string; damage: (w: PcapWriter) => void; detail: RegExp }[] = [
      { name: 'a block length under 12', damage: (w) => w.block(0x0bad0001, Buffer.alloc(0), 8), detail: /has a length of 8 < 12/ },
      {
        name: 'a block length not a multiple of 4',
        damage: (w) => w.block(0x0bad0001, Buffer.alloc(4), 17),
        detail: /has a length of 17 that is not a multiple of 4/,
      },
      {
        name: 'a block length of 2 GB',
        damage: (w) => w.block(0x0bad0001, Buffer.alloc(4), 0x7ffffff0),
        detail: /pcapng block size 2147483632 > maximum 16777216/,
      },
      {
        name: 'a real unknown block over 16 MiB',
        damage: (w) => w.block(0x0bad0001, Buffer.alloc(17 << 20, 7)),
        detail: /pcapng block size 17825804 > maximum 16777216/,
      },
      {
        name: 'an EPB caplen past the end of its block',
        damage: (w) => w.raw(DAMAGE_NS + MS, Buffer.alloc(60, 1), { caplen: 200 }),
        detail: /block of type 6 in pcapng dump file is too short/,
      },
      {
        name: 'an EPB on an interface that was never described',
        damage: (w) => w.raw(DAMAGE_NS + MS, Buffer.alloc(60, 1), { iface: 3 }),
        detail: /a packet arrived on interface 3, but there's no Interface Description Block/,
      },
    ];
    for (const c of damaged) {
      it(`${c.name}: FILE_TRUNCATED, after the reports before it`, async function () {
        const { file, pair: p } = write('pcapng', c.damage);
        const o = await run(file);
        checkDamaged(o, p, c.detail);
      });
    }
  });
});
