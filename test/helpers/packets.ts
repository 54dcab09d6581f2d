/**
 * Packet builders for test captures: link layers, IPv4/IPv6, TCP with
 * options. Bytes follow the RFCs cited at each builder; checksums are
 * computed although the engine does not verify them (a capture taken on
 * the sending host often has offloaded, wrong checksums).
 */
import net from 'node:net';

// LINKTYPE_* values as written in capture files (pcap-linktype(7)).
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW on Linux; a file with this value is read as DLT 12 unchanged. */
export const DLT_RAW = 12;
/** LINKTYPE_RAW; libpcap maps it to DLT_RAW (12 on Linux) when reading. */
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q
export const ETHERTYPE_QINQ = 0x88a8; // IEEE 802.1ad service tag

export function ipBytes(addr: string): Buffer {
  const kind = net.isIP(addr);
  if (kind === 4) return Buffer.from(addr.split('.').map((x) => Number(x)));
  if (kind === 6) {
    // Expand "::" and embedded IPv4 into 8 groups.
    let a = addr;
    if (a.includes('.')) {
      const i = a.lastIndexOf(':');
      const v4 = ipBytes(a.slice(i + 1));
      a = `${a.slice(0, i + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
    }
    const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
    return out;
  }
  throw new Error(`not an IP address: ${addr}`);
}

/** The Internet checksum (RFC 1071) over the concatenated buffers. */
export function inetChecksum(...bufs: Buffer[]): number {
  let sum = 0;
  let odd: number | undefined;
  for (const b of bufs) {
    for (let i = 0; i < b.length; i++) {
      if (odd === undefined) {
        odd = b[i];
      } else {
        sum += (odd << 8) | b[i];
        odd = undefined;
      }
    }
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

// ---------------------------------------------------------------- TCP

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'sack'; blocks: [number, number][] }
  | { kind: 'ts'; val: number; ecr: number }
  | { kind: 'raw'; bytes: Buffer };

/** TCP options (RFC 9293 §3.2; SACK RFC 2018 §2-3; timestamps RFC 7323 §3). */
export function encodeTcpOptions(opts: readonly TcpOption[]): Buffer {
  const parts: Buffer[] = [];
  for (const o of opts) {
    switch (o.kind) {
      case 'eol':
        parts.push(Buffer.from([0]));
        break;
      case 'nop':
        parts.push(Buffer.from([1]));
        break;
      case 'mss': {
        const b = Buffer.from([2, 4, 0, 0]);
        b.writeUInt16BE(o.value, 2);
        parts.push(b);
        break;
      }
      case 'wscale':
        parts.push(Buffer.from([3, 3, o.shift]));
        break;
      case 'sackPermitted':
        parts.push(Buffer.from([4, 2]));
        break;
      case 'sack': {
        const b = Buffer.alloc(2 + 8 * o.blocks.length);
        b[0] = 5;
        b[1] = b.length;
        o.blocks.forEach(([l, r], i) => {
          b.writeUInt32BE(l >>> 0, 2 + 8 * i);
          b.writeUInt32BE(r >>> 0, 6 + 8 * i);
        });
        parts.push(b);
        break;
      }
      case 'ts': {
        const b = Buffer.alloc(10);
        b[0] = 8;
        b[1] = 10;
        b.writeUInt32BE(o.val >>> 0, 2);
        b.writeUInt32BE(o.ecr >>> 0, 6);
        parts.push(b);
        break;
      }
      case 'raw':
        parts.push(o.bytes);
        break;
    }
  }
  let out = Buffer.concat(parts);
  // The header length counts 32-bit words: pad with end-of-option-list.
  if (out.length % 4 !== 0) out = Buffer.concat([out, Buffer.alloc(4 - (out.length % 4))]);
  if (out.length > 40) throw new Error(`TCP options too long: ${out.length} bytes`);
  return out;
}

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

/** Flags from letters: F S R P A U (tcpdump's). */
export function tcpFlags(s: string): number {
  let f = 0;
  for (const c of s) {
    const bit = { F: FIN, S: SYN, R: RST, P: PSH, A: ACK, U: URG }[c];
    if (bit === undefined) throw new Error(`unknown TCP flag ${c}`);
    f |= bit;
  }
  return f;
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number | string;
  window?: number;
  options?: readonly TcpOption[];
  /** Payload bytes, or a count of zero bytes. */
  payload?: Buffer | number;
}

/** A TCP segment (RFC 9293 §3.1); checksum over the pseudo-header of src/dst. */
export function tcpSegment(spec: TcpSpec, src?: string, dst?: string): Buffer {
  const opts = encodeTcpOptions(spec.options ?? []);
  const payload = typeof spec.payload === 'number' ? Buffer.alloc(spec.payload, 0x61) : (spec.payload ?? Buffer.alloc(0));
  const h = Buffer.alloc(20);
  h.writeUInt16BE(spec.sport, 0);
  h.writeUInt16BE(spec.dport, 2);
  h.writeUInt32BE(spec.seq >>> 0, 4);
  h.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = typeof spec.flags === 'string' ? tcpFlags(spec.flags) : spec.flags;
  h.writeUInt16BE(spec.window ?? 65535, 14);
  const seg = Buffer.concat([h, opts, payload]);
  if (src !== undefined && dst !== undefined) {
    const s = ipBytes(src);
    const d = ipBytes(dst);
    let pseudo: Buffer;
    if (s.length === 4) {
      pseudo = Buffer.alloc(12);
      s.copy(pseudo, 0);
      d.copy(pseudo, 4);
      pseudo[9] = 6;
      pseudo.writeUInt16BE(seg.length, 10);
    } else {
      pseudo = Buffer.alloc(40);
      s.copy(pseudo, 0);
      d.copy(pseudo, 16);
      pseudo.writeUInt32BE(seg.length, 32);
      pseudo[39] = 6;
    }
    seg.writeUInt16BE(inetChecksum(pseudo, seg), 16);
  }
  return seg;
}

// ---------------------------------------------------------------- IP

export interface Ipv4Spec {
  src: string;
  dst: string;
  protocol?: number;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragmentOffset?: number;
  /** Raw option bytes (RFC 791 §3.1), padded to 4 bytes with end-of-options. */
  options?: Buffer;
}

/** An IPv4 datagram (RFC 791 §3.1) with header checksum. */
export function ipv4(spec: Ipv4Spec, payload: Buffer): Buffer {
  let opts = spec.options ?? Buffer.alloc(0);
  if (opts.length % 4 !== 0) opts = Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const ihl = 20 + opts.length;
  const h = Buffer.alloc(20);
  h[0] = 0x40 | (ihl / 4);
  h[1] = 0;
  h.writeUInt16BE(ihl + payload.length, 2);
  h.writeUInt16BE(spec.id ?? 0x1234, 4);
  const off = spec.fragmentOffset ?? 0;
  if (off % 8 !== 0) throw new Error('fragment offset must be a multiple of 8');
  h.writeUInt16BE((spec.dontFragment ? 0x4000 : 0) | (spec.moreFragments ? 0x2000 : 0) | (off / 8), 6);
  h[8] = spec.ttl ?? 64;
  h[9] = spec.protocol ?? 6;
  ipBytes(spec.src).copy(h, 12);
  ipBytes(spec.dst).copy(h, 16);
  const header = Buffer.concat([h, opts]);
  header.writeUInt16BE(inetChecksum(header), 10);
  return Buffer.concat([header, payload]);
}

/** IPv4 options: a Record Route option (RFC 791 §3.1, type 7) with room for `slots` addresses. */
export function ipv4RecordRoute(slots: number): Buffer {
  const len = 3 + 4 * slots;
  const b = Buffer.alloc(len);
  b[0] = 7;
  b[1] = len;
  b[2] = 4; // pointer to the first free slot
  return b;
}

export type Ipv6Ext =
  /** Hop-by-hop options (RFC 8200 §4.3), padded with PadN. `octets` = 8, 16, ... */
  | { type: 'hopByHop'; octets?: number }
  /** Destination options (RFC 8200 §4.6). */
  | { type: 'destOpts'; octets?: number }
  /**
   * Routing header (RFC 8200 §4.4), type 2 (RFC 6275 §6.4) whose one address
   * is the packet's destination, so the upper-layer checksum (RFC 8200 §8.1:
   * computed with the final destination) stays that of `dst`.
   */
  | { type: 'routing' }
  /** Fragment header (RFC 8200 §4.5); offset in bytes, multiple of 8. */
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number };

const EXT_NUMBER: Record<Ipv6Ext['type'], number> = { hopByHop: 0, destOpts: 60, routing: 43, fragment: 44 };

export interface Ipv6Spec {
  src: string;
  dst: string;
  nextHeader?: number;
  hopLimit?: number;
  ext?: readonly Ipv6Ext[];
}

function extHeader(e: Ipv6Ext, next: number, dst: string): Buffer {
  switch (e.type) {
    case 'hopByHop':
    case 'destOpts': {
      const n = e.octets ?? 8;
      if (n % 8 !== 0 || n < 8) throw new Error('option header length must be a multiple of 8');
      const b = Buffer.alloc(n);
      b[0] = next;
      b[1] = n / 8 - 1;
      // PadN (RFC 8200 §4.2) filling the rest.
      b[2] = 1;
      b[3] = n - 4;
      return b;
    }
    case 'routing': {
      const b = Buffer.alloc(24);
      b[0] = next;
      b[1] = 2; // 2 units of 8 octets after the first 8
      b[2] = 2; // routing type 2
      b[3] = 1; // segments left
      ipBytes(dst).copy(b, 8);
      return b;
    }
    case 'fragment': {
      const b = Buffer.alloc(8);
      b[0] = next;
      const off = e.offset ?? 0;
      if (off % 8 !== 0) throw new Error('fragment offset must be a multiple of 8');
      b.writeUInt16BE(off | (e.more ? 1 : 0), 2);
      b.writeUInt32BE(e.id ?? 0xabcd, 4);
      return b;
    }
  }
}

/** An IPv6 packet (RFC 8200 §3) with its extension-header chain. */
export function ipv6(spec: Ipv6Spec, payload: Buffer): Buffer {
  const exts = spec.ext ?? [];
  const upper = spec.nextHeader ?? 6;
  const parts: Buffer[] = [];
  for (let i = 0; i < exts.length; i++) {
    const next = i + 1 < exts.length ? EXT_NUMBER[exts[i + 1].type] : upper;
    parts.push(extHeader(exts[i], next, spec.dst));
  }
  const body = Buffer.concat([...parts, payload]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(body.length, 4);
  h[6] = exts.length > 0 ? EXT_NUMBER[exts[0].type] : upper;
  h[7] = spec.hopLimit ?? 64;
  ipBytes(spec.src).copy(h, 8);
  ipBytes(spec.dst).copy(h, 24);
  return Buffer.concat([h, body]);
}

// ---------------------------------------------------------------- link layers

export type LinkSpec =
  /** Ethernet II; `vlan` are 802.1Q tags, outermost first; `qinq` makes the outer tag 802.1ad (0x88a8). */
  | { type: 'ether'; vlan?: number[]; qinq?: boolean }
  /** Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 16-byte header). */
  | { type: 'sll' }
  /** Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 20-byte header). */
  | { type: 'sll2'; ifindex?: number }
  /** Raw IP; `linktype` 101 (LINKTYPE_RAW) or 12 (DLT_RAW). */
  | { type: 'raw'; linktype?: 101 | 12 }
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  | { type: 'null'; bigEndian?: boolean; af6?: number };

export function linktypeOf(link: LinkSpec): number {
  switch (link.type) {
    case 'ether':
      return LINKTYPE_ETHERNET;
    case 'sll':
      return LINKTYPE_LINUX_SLL;
    case 'sll2':
      return LINKTYPE_LINUX_SLL2;
    case 'raw':
      return link.linktype ?? LINKTYPE_RAW;
    case 'null':
      return LINKTYPE_NULL;
  }
}

const MAC_A = Buffer.from([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B = Buffer.from([0x02, 0, 0, 0, 0, 0x0b]);

/**
 * Wraps an IP packet in a link-layer header. `outgoing` tells whether the
 * capturing host sent it (SLL packet type 4, PACKET_OUTGOING) or received it
 * (0, PACKET_HOST) — packet(7).
 */
export function frame(link: LinkSpec, ip: Buffer, outgoing = false): Buffer {
  const v6 = ip[0] >> 4 === 6;
  const ethertype = v6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  switch (link.type) {
    case 'ether': {
      const tags = link.vlan ?? [];
      const h = Buffer.alloc(14 + 4 * tags.length);
      (outgoing ? MAC_B : MAC_A).copy(h, 0);
      (outgoing ? MAC_A : MAC_B).copy(h, 6);
      let off = 12;
      tags.forEach((vid, i) => {
        // IEEE 802.1ad: the outer (service) tag of a QinQ frame uses 0x88a8.
        h.writeUInt16BE(link.qinq && i === 0 && tags.length > 1 ? ETHERTYPE_QINQ : ETHERTYPE_VLAN, off);
        h.writeUInt16BE(vid & 0x0fff, off + 2);
        off += 4;
      });
      h.writeUInt16BE(ethertype, off);
      return Buffer.concat([h, ip]);
    }
    case 'sll': {
      // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html
      const h = Buffer.alloc(16);
      h.writeUInt16BE(outgoing ? 4 : 0, 0);
      h.writeUInt16BE(1, 2); // ARPHRD_ETHER
      h.writeUInt16BE(6, 4);
      (outgoing ? MAC_A : MAC_B).copy(h, 6);
      h.writeUInt16BE(ethertype, 14);
      return Buffer.concat([h, ip]);
    }
    case 'sll2': {
      // https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html
      const h = Buffer.alloc(20);
      h.writeUInt16BE(ethertype, 0);
      h.writeUInt32BE(link.ifindex ?? 2, 4);
      h.writeUInt16BE(1, 8); // ARPHRD_ETHER
      h[10] = outgoing ? 4 : 0;
      h[11] = 6;
      (outgoing ? MAC_A : MAC_B).copy(h, 12);
      return Buffer.concat([h, ip]);
    }
    case 'raw':
      return ip;
    case 'null': {
      // https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html: AF_INET = 2;
      // AF_INET6 differs per OS (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS).
      const h = Buffer.alloc(4);
      const af = v6 ? (link.af6 ?? 30) : 2;
      if (link.bigEndian) h.writeUInt32BE(af, 0);
      else h.writeUInt32LE(af, 0);
      return Buffer.concat([h, ip]);
    }
  }
}
