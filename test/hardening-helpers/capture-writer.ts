/**
 * A fast, streaming capture writer for the hardening tests: millions of
 * Ethernet/IPv4/TCP records straight into a file through one reused buffer,
 * and records and blocks whose header fields lie (caplen, wire length,
 * block length, interface) for the bad-capture tests. Classic pcap with
 * nanosecond timestamps (pcap-savefile(5), magic 0xa1b23c4d) or pcapng
 * (draft-ietf-opsawg-pcapng: SHB 4.1, IDB 4.2 with if_tsresol 9, EPB 4.3),
 * little-endian. Times are nanoseconds after BASE_S.
 */
import fs from 'node:fs';
import { ACK, FIN, PSH, RST, SYN } from '../helpers/packets';

/** 2023-11-14T22:13:20Z: the time base of the hardening captures. */
export const BASE_S = 1_700_000_000;
export const MS = 1_000_000;
export const US = 1_000;

// The TCP flag bits, as the other packet builders of the tests name them.
export { ACK, FIN, PSH, RST, SYN };

/** A dotted quad as a 32-bit number. */
export function ip4(a: string): number {
  const p = a.split('.').map(Number);
  return (((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0;
}

export function ip4str(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Seg {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  /** Payload bytes: stated in the IP total length and the wire length, not stored (a snaplen cut). */
  payload?: number;
  /** Store the payload (zeros) too, as a capture without a snaplen cut would. */
  storePayload?: boolean;
  /** TCP timestamps option (RFC 7323 §3). */
  tsval?: number;
  tsecr?: number;
}

const ETH = 14;
const IP = 20;

/** pcapng block types (draft-ietf-opsawg-pcapng section 10.1). */
export const SHB = 0x0a0d0d0a;
export const IDB = 0x00000001;
export const EPB = 0x00000006;
/** Custom blocks (section 4.8): copyable and not; readers skip both. */
export const CB_COPY = 0x00000bad;
export const CB_NOCOPY = 0x40000bad;

export type CaptureFormat = 'pcap' | 'pcapng';

export interface WriterOptions {
  format?: CaptureFormat;
  /** Snapshot length in the file header (pcap) or the IDB (pcapng). */
  snaplen?: number;
  linktype?: number;
  /** pcap only: the magic number, to write a file libpcap must refuse. */
  magic?: number;
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

export class PcapWriter {
  readonly file: string;
  readonly format: CaptureFormat;
  /** Packet records written. */
  count = 0;
  private fd: number;
  private buf = Buffer.alloc(1 << 20);
  private off = 0;
  /** pcapng: where the open EPB starts in buf (recordHeader makes room for all of it). */
  private epbStart = 0;

  constructor(file: string, opts: WriterOptions = {}) {
    this.file = file;
    this.format = opts.format ?? 'pcap';
    this.fd = fs.openSync(file, 'w');
    const h = this.buf;
    if (this.format === 'pcap') {
      h.writeUInt32LE(opts.magic ?? 0xa1b23c4d, 0);
      h.writeUInt16LE(2, 4); // version 2.4
      h.writeUInt16LE(4, 6);
      h.writeInt32LE(0, 8);
      h.writeUInt32LE(0, 12);
      h.writeUInt32LE(opts.snaplen ?? 262144, 16);
      h.writeUInt32LE(opts.linktype ?? 1, 20); // LINKTYPE_ETHERNET
      this.off = 24;
    } else {
      // SHB: byte-order magic, version 1.0, section length unknown (-1).
      const shb = Buffer.alloc(16);
      shb.writeUInt32LE(0x1a2b3c4d, 0);
      shb.writeUInt16LE(1, 4);
      shb.writeUInt16LE(0, 6);
      shb.writeBigInt64LE(-1n, 8);
      this.block(SHB, shb);
      this.interface(opts.linktype ?? 1, opts.snaplen ?? 262144);
    }
  }

  /** pcapng: one more interface (IDB), nanosecond timestamps (if_tsresol 9). */
  interface(linktype: number, snaplen = 262144): void {
    const idb = Buffer.alloc(8 + 8 + 4);
    idb.writeUInt16LE(linktype, 0);
    idb.writeUInt32LE(snaplen, 4);
    idb.writeUInt16LE(9, 8); // if_tsresol
    idb.writeUInt16LE(1, 10);
    idb.writeUInt8(9, 12);
    this.block(IDB, idb); // the last 4 bytes: opt_endofopt
  }

  /** pcapng: a whole block of the given type (unknown types included), padded. */
  block(type: number, body: Buffer, lengthField?: number): void {
    const total = 12 + body.length + pad4(body.length);
    this.room(total);
    const b = this.buf;
    b.writeUInt32LE(type >>> 0, this.off);
    b.writeUInt32LE((lengthField ?? total) >>> 0, this.off + 4);
    body.copy(b, this.off + 8);
    b.fill(0, this.off + 8 + body.length, this.off + total - 4);
    b.writeUInt32LE((lengthField ?? total) >>> 0, this.off + total - 4);
    this.off += total;
  }

  /** Bytes as they are: a damaged structure no writer would make. */
  bytes(data: Buffer): void {
    this.room(data.length);
    data.copy(this.buf, this.off);
    this.off += data.length;
  }

  private room(n: number): void {
    if (this.off + n > this.buf.length) {
      fs.writeSync(this.fd, this.buf, 0, this.off);
      this.off = 0;
      if (n > this.buf.length) this.buf = Buffer.alloc(n);
    }
  }

  /**
   * The record header (pcap) or EPB head (pcapng) of a packet whose stored
   * bytes, `stored` of them, follow; endRecord() closes it. `caplen` is
   * what the header claims, normally `stored`. `iface` is the pcapng
   * interface the EPB names.
   */
  private recordHeader(tNs: number, caplen: number, wirelen: number, stored: number, iface = 0): void {
    const b = this.buf;
    const s = Math.floor(tNs / 1e9);
    if (this.format === 'pcap') {
      const o = this.off;
      b.writeUInt32LE(BASE_S + s, o);
      b.writeUInt32LE(tNs - s * 1e9, o + 4);
      b.writeUInt32LE(caplen >>> 0, o + 8);
      b.writeUInt32LE(wirelen >>> 0, o + 12);
      this.off += 16;
      return;
    }
    this.room(28 + stored + pad4(stored) + 4);
    const o = this.off;
    this.epbStart = o;
    const units = BigInt(BASE_S + s) * 1_000_000_000n + BigInt(tNs - s * 1e9);
    b.writeUInt32LE(EPB, o);
    // Block length: written by endRecord.
    b.writeUInt32LE(iface, o + 8);
    b.writeUInt32LE(Number(units >> 32n), o + 12);
    b.writeUInt32LE(Number(units & 0xffffffffn), o + 16);
    b.writeUInt32LE(caplen >>> 0, o + 20);
    b.writeUInt32LE(wirelen >>> 0, o + 24);
    this.off += 28;
  }

  private endRecord(): void {
    this.count++;
    if (this.format === 'pcap') return;
    const b = this.buf;
    const stored = this.off - this.epbStart - 28;
    b.fill(0, this.off, this.off + pad4(stored));
    this.off += pad4(stored);
    const total = this.off + 4 - this.epbStart;
    b.writeUInt32LE(total, this.epbStart + 4);
    b.writeUInt32LE(total, this.off);
    this.off += 4;
  }

  /** One Ethernet/IPv4/TCP segment; the payload is counted, and stored only when asked. */
  tcp(tNs: number, s: Seg): void {
    const ts = s.tsval !== undefined;
    const thl = ts ? 32 : 20;
    const headers = ETH + IP + thl;
    const payload = s.payload ?? 0;
    const stored = headers + (s.storePayload ? payload : 0);
    this.room(16 + stored);
    this.recordHeader(tNs, stored, headers + payload, stored);
    const b = this.buf;
    let o = this.off;
    // Ethernet: locally administered MACs, EtherType IPv4.
    b.writeUInt32BE(0x02000000, o);
    b.writeUInt16BE(0x0001, o + 4);
    b.writeUInt32BE(0x02000000, o + 6);
    b.writeUInt16BE(0x0002, o + 10);
    b.writeUInt16BE(0x0800, o + 12);
    o += ETH;
    // IPv4 (RFC 791 §3.1); the checksum is left 0 (the engine does not check it).
    b.writeUInt32BE(0x45000000 | (IP + thl + payload), o);
    b.writeUInt32BE(0x00004000, o + 4); // id 0, DF
    b.writeUInt32BE(0x40060000, o + 8); // TTL 64, TCP, checksum 0
    b.writeUInt32BE(s.src >>> 0, o + 12);
    b.writeUInt32BE(s.dst >>> 0, o + 16);
    o += IP;
    // TCP (RFC 9293 §3.1).
    b.writeUInt16BE(s.sport, o);
    b.writeUInt16BE(s.dport, o + 2);
    b.writeUInt32BE(s.seq >>> 0, o + 4);
    b.writeUInt32BE(s.ack >>> 0, o + 8);
    b.writeUInt16BE(((thl / 4) << 12) | s.flags, o + 12);
    b.writeUInt32BE(0xffff0000, o + 14); // window, checksum
    b.writeUInt16BE(0, o + 18);
    if (ts) {
      b.writeUInt32BE(0x0101080a, o + 20); // NOP NOP TS len 10
      b.writeUInt32BE((s.tsval ?? 0) >>> 0, o + 24);
      b.writeUInt32BE((s.tsecr ?? 0) >>> 0, o + 28);
    }
    this.off += headers;
    this.buf.fill(0, this.off, this.off + stored - headers);
    this.off += stored - headers;
    this.endRecord();
  }

  /**
   * A record of arbitrary bytes whose header may state other lengths than
   * it holds (caplen, wire length) or, in pcapng, another interface.
   */
  raw(tNs: number, data: Buffer, fields: { caplen?: number; wirelen?: number; iface?: number } = {}): void {
    this.room(16 + data.length);
    this.recordHeader(tNs, fields.caplen ?? data.length, fields.wirelen ?? data.length, data.length, fields.iface);
    data.copy(this.buf, this.off);
    this.off += data.length;
    this.endRecord();
  }

  /** Bytes written so far (the file position once flushed). */
  flush(): number {
    fs.writeSync(this.fd, this.buf, 0, this.off);
    this.off = 0;
    return fs.fstatSync(this.fd).size;
  }

  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}

/** Knuth's multiplicative hash: spread-out, reproducible sequence numbers. */
export function isn(i: number): number {
  return Math.imul(i + 1, 2654435761) >>> 0;
}

/**
 * A real host pair's connection, written into a capture: handshake (the
 * SYN/ACK `handshakeMs` after the SYN), then every `everyMs` a 100-byte
 * request acknowledged exactly `rttMs` later. The expected samples follow
 * from these times alone.
 */
export class RealPair {
  readonly local: number;
  readonly remote: number;
  readonly lport: number;
  readonly rport: number;
  /** Times (ns after BASE) at which the writer must emit the next packet. */
  private queue: { t: number; seg: Seg }[] = [];
  private qi = 0;
  readonly handshakeMs: number;
  readonly rttMs: number;
  /** Data exchanges written (each one sample of rttMs). */
  exchanges = 0;
  /** Packet times (ns) of the packets that close a sample: the SYN/ACK, then each ACK. */
  readonly sampleTimes: number[] = [];

  constructor(opts: {
    local: string;
    remote: string;
    lport?: number;
    rport?: number;
    startNs: number;
    endNs: number;
    handshakeMs: number;
    rttMs: number;
    everyMs: number;
  }) {
    this.local = ip4(opts.local);
    this.remote = ip4(opts.remote);
    this.lport = opts.lport ?? 50000;
    this.rport = opts.rport ?? 443;
    this.handshakeMs = opts.handshakeMs;
    this.rttMs = opts.rttMs;
    const c = 1_000_000; // client ISN
    const s = 7_000_000; // server ISN
    const out = (t: number, seq: number, ack: number, flags: number, payload = 0): void => {
      this.queue.push({ t, seg: { src: this.local, dst: this.remote, sport: this.lport, dport: this.rport, seq, ack, flags, payload } });
    };
    const inc = (t: number, seq: number, ack: number, flags: number): void => {
      this.queue.push({ t, seg: { src: this.remote, dst: this.local, sport: this.rport, dport: this.lport, seq, ack, flags } });
    };
    let t = opts.startNs;
    out(t, c, 0, SYN);
    inc(t + opts.handshakeMs * MS, s, c + 1, SYN | ACK);
    this.sampleTimes.push(t + opts.handshakeMs * MS);
    out(t + opts.handshakeMs * MS + 100 * US, c + 1, s + 1, ACK);
    let next = c + 1;
    t += opts.everyMs * MS;
    while (t + opts.rttMs * MS < opts.endNs) {
      out(t, next, s + 1, PSH | ACK, 100);
      next += 100;
      inc(t + opts.rttMs * MS, s + 1, next, ACK);
      this.sampleTimes.push(t + opts.rttMs * MS);
      this.exchanges++;
      t += opts.everyMs * MS;
    }
    this.queue.sort((a, b) => a.t - b.t);
  }

  /** Writes every packet of the pair stamped at or before tNs. */
  writeUntil(w: PcapWriter, tNs: number): void {
    while (this.qi < this.queue.length && (this.queue[this.qi] as { t: number }).t <= tNs) {
      const q = this.queue[this.qi++];
      w.tcp(q.t, q.seg);
    }
  }

  /** Packets of the pair. */
  get packets(): number {
    return this.queue.length;
  }

  /** Packets of the pair stamped at or before tNs. */
  packetsUntil(tNs: number): number {
    return this.queue.filter((q) => q.t <= tNs).length;
  }

  /** Packet time (ns) of the pair's last packet stamped at or before tNs. */
  lastPacketUntil(tNs: number): number {
    let last = -Infinity;
    for (const q of this.queue) if (q.t <= tNs) last = q.t;
    return last;
  }

  /** Packet time (ns) of the pair's first and last packet. */
  get firstNs(): number {
    return (this.queue[0] as { t: number }).t;
  }

  get lastNs(): number {
    return (this.queue[this.queue.length - 1] as { t: number }).t;
  }

  /** Samples the pair gives: the handshake and one per exchange. */
  get samples(): number {
    return 1 + this.exchanges;
  }
}

/**
 * Samples per report of an offline pass, from the packet times alone: the
 * report clock runs in packet time from the first packet, a report is due
 * at every `intervalNs` boundary and goes out when the first packet at or
 * past it arrives (a sample closed exactly on a boundary belongs to the
 * next interval), and the end of the file (its last packet at `lastNs`)
 * sends one more. `times` are the closing times of the samples. Holds for
 * traffic with a live flow throughout and no gap between packets longer
 * than an interval (the engine skips the boundaries of a longer gap), as
 * RealPair writes.
 */
export function samplesPerReport(times: readonly number[], firstNs: number, lastNs: number, intervalNs: number): number[] {
  const out: number[] = [];
  let boundary = firstNs + intervalNs;
  let n = 0;
  for (const t of [...times].sort((a, b) => a - b)) {
    while (t >= boundary) {
      out.push(n);
      n = 0;
      boundary += intervalNs;
    }
    n++;
  }
  while (lastNs >= boundary) {
    out.push(n);
    n = 0;
    boundary += intervalNs;
  }
  out.push(n);
  return out;
}
