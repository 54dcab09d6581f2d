/**
 * Minimal capture-file writers for tests: classic pcap (microsecond and
 * nanosecond magic) and pcapng (SHB, IDB, EPB, optionally an unknown block).
 * Formats: pcap-savefile(5) and draft-ietf-opsawg-pcapng (sections 4.1 SHB,
 * 4.2 IDB, 4.3 EPB; readers must skip block types they do not know, 3.1).
 * Everything is little-endian, as written by an x86 host.
 */
import fs from 'node:fs';

/** One captured packet. `tsNs` is absolute: nanoseconds since the epoch. */
export interface CaptureRecord {
  tsNs: bigint;
  /** The packet as it was on the wire. */
  data: Buffer;
  /** Bytes to store (caplen); the rest is cut as a snaplen would. Default: all. */
  caplen?: number;
  /** pcapng only: index of the interface (IDB) the packet was captured on. */
  iface?: number;
}

export interface PcapOptions {
  /** LINKTYPE_* value of the file header (pcap-linktype(7)). */
  linktype: number;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds (0xa1b2c3d4). */
  nano?: boolean;
  /** Snapshot length in the header; every record is cut to it. Default 262144. */
  snaplen?: number;
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;

function cut(r: CaptureRecord, snaplen: number): Buffer {
  const caplen = Math.min(r.caplen ?? r.data.length, snaplen, r.data.length);
  return r.data.subarray(0, caplen);
}

/** A classic pcap file as bytes (pcap-savefile(5)). */
export function pcapBuffer(options: PcapOptions, records: readonly CaptureRecord[]): Buffer {
  const snaplen = options.snaplen ?? 262144;
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(options.nano ? PCAP_MAGIC_NS : PCAP_MAGIC_US, 0);
  hdr.writeUInt16LE(2, 4); // version 2.4
  hdr.writeUInt16LE(4, 6);
  hdr.writeInt32LE(0, 8); // thiszone
  hdr.writeUInt32LE(0, 12); // sigfigs
  hdr.writeUInt32LE(snaplen, 16);
  hdr.writeUInt32LE(options.linktype, 20);
  parts.push(hdr);
  const unit = options.nano ? 1n : 1000n;
  for (const r of records) {
    if (!options.nano && r.tsNs % 1000n !== 0n) {
      throw new Error(`pcapBuffer: ${r.tsNs} ns needs a nanosecond file`);
    }
    const body = cut(r, snaplen);
    const rh = Buffer.alloc(16);
    rh.writeUInt32LE(Number(r.tsNs / 1_000_000_000n), 0);
    rh.writeUInt32LE(Number((r.tsNs % 1_000_000_000n) / unit), 4);
    rh.writeUInt32LE(body.length, 8);
    rh.writeUInt32LE(r.data.length, 12);
    parts.push(rh, body);
  }
  return Buffer.concat(parts);
}

export function writePcap(path: string, options: PcapOptions, records: readonly CaptureRecord[]): void {
  fs.writeFileSync(path, pcapBuffer(options, records));
}

export interface PcapngInterface {
  linktype: number;
  snaplen?: number;
  /** Timestamp resolution as a power of ten (if_tsresol): 6 = µs (the default), 9 = ns. */
  tsresol?: 6 | 9;
}

export interface PcapngOptions {
  interfaces: PcapngInterface[];
  /**
   * Blocks of an unknown type to insert before the record with the given
   * index (readers skip them, pcapng section 3.1). `type` defaults to
   * 0x0BAD0001 (a local-use type, high bit clear).
   */
  unknownBlocks?: { before: number; type?: number; body?: Buffer }[];
}

function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n === 0 ? b : Buffer.concat([b, Buffer.alloc(n)]);
}

function block(type: number, body: Buffer): Buffer {
  const padded = pad4(body);
  const total = 12 + padded.length;
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type >>> 0, 0);
  head.writeUInt32LE(total, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(total, 0);
  return Buffer.concat([head, padded, tail]);
}

function option(code: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(code, 0);
  h.writeUInt16LE(value.length, 2);
  return Buffer.concat([h, pad4(value)]);
}

/** A pcapng file with one section as bytes. */
export function pcapngBuffer(options: PcapngOptions, records: readonly CaptureRecord[]): Buffer {
  const parts: Buffer[] = [];
  // SHB: byte-order magic, version 1.0, section length unknown (-1).
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeUInt16LE(0, 6);
  shb.writeBigInt64LE(-1n, 8);
  parts.push(block(0x0a0d0d0a, shb));
  for (const i of options.interfaces) {
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(i.linktype, 0);
    idb.writeUInt16LE(0, 2);
    idb.writeUInt32LE(i.snaplen ?? 262144, 4);
    const opts: Buffer[] = [];
    if (i.tsresol !== undefined) opts.push(option(9, Buffer.from([i.tsresol])));
    if (opts.length > 0) opts.push(Buffer.alloc(4)); // opt_endofopt
    parts.push(block(0x00000001, Buffer.concat([idb, ...opts])));
  }
  const unknown = options.unknownBlocks ?? [];
  records.forEach((r, index) => {
    for (const u of unknown) {
      if (u.before === index) parts.push(block(u.type ?? 0x0bad0001, u.body ?? Buffer.from('test block, skip me')));
    }
    const ifIndex = r.iface ?? 0;
    const iface = options.interfaces[ifIndex];
    if (!iface) throw new Error(`pcapngBuffer: no interface ${ifIndex}`);
    const nano = iface.tsresol === 9;
    if (!nano && r.tsNs % 1000n !== 0n) throw new Error(`pcapngBuffer: ${r.tsNs} ns needs tsresol 9`);
    const units = nano ? r.tsNs : r.tsNs / 1000n;
    const body = cut(r, iface.snaplen ?? 262144);
    const epb = Buffer.alloc(20);
    epb.writeUInt32LE(ifIndex, 0);
    epb.writeUInt32LE(Number(units >> 32n), 4);
    epb.writeUInt32LE(Number(units & 0xffffffffn), 8);
    epb.writeUInt32LE(body.length, 12);
    epb.writeUInt32LE(r.data.length, 16);
    parts.push(block(0x00000006, Buffer.concat([epb, pad4(body)])));
  });
  for (const u of unknown) {
    if (u.before >= records.length) parts.push(block(u.type ?? 0x0bad0001, u.body ?? Buffer.from('test block, skip me')));
  }
  return Buffer.concat(parts);
}

export function writePcapng(path: string, options: PcapngOptions, records: readonly CaptureRecord[]): void {
  fs.writeFileSync(path, pcapngBuffer(options, records));
}
