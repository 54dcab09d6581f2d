/**
 * A TCP conversation builder for test captures. A test states what each
 * side sends and when (microseconds after the conversation's time base);
 * the builder fills in absolute sequence and acknowledgment numbers
 * (RFC 9293 §3.4) from configurable ISNs, TSval/TSecr from per-side clocks
 * (RFC 7323 §4.3 TS.Recent rule, simplified), and the TCP options a Linux
 * host would send. Tests then read like a trace:
 *
 *   c.syn(0); c.synAck(30_000); c.ack(30_100, 'client'); c.data(30_200, 'client', 100);
 *
 * Times are microseconds and may carry fractions down to the nanosecond.
 */
import net from 'node:net';
import type { CaptureRecord } from './pcap-writer';
import { frame, ipv4, ipv6, tcpFlags, tcpSegment, ACK, FIN, SYN, type Ipv4Spec, type Ipv6Ext, type LinkSpec, type TcpOption } from './packets';

/** 2023-11-14T22:13:20Z: the time base of every test capture. */
export const BASE_S = 1_700_000_000;
export const BASE_NS = BigInt(BASE_S) * 1_000_000_000n;

export const U32 = 2 ** 32;

/** Absolute capture time in ns of a time in µs after BASE (fractions allowed down to 1 ns). */
export function tsNs(us: number): bigint {
  return BASE_NS + BigInt(Math.round(us * 1000));
}

/** A TCP timestamp clock (RFC 7323 §5.4: TSval ticks between 1 ms and 1 s). */
export interface TsClock {
  /** TSval at time 0. */
  start: number;
  /** Ticks per second. Default 1000. */
  hz?: number;
}

export interface Endpoint {
  addr: string;
  port: number;
  /** Initial sequence number (absolute, 0..2^32-1). */
  isn: number;
  /** TCP timestamps on for this side (both sides need it for it to be used). */
  ts?: TsClock;
  mss?: number;
}

export type Side = 'client' | 'server';

export interface SendSpec {
  /** Flags as tcpdump letters; default 'A', plus 'P' when there is payload. */
  flags?: string;
  /** Payload bytes. */
  payload?: number;
  /** Absolute sequence number; default the side's next new sequence number. */
  seq?: number;
  /** Absolute acknowledgment number; default what the side has received in order. */
  ack?: number;
  tsval?: number;
  tsecr?: number;
  /** Leave out the timestamps option even when the side has a clock. */
  noTs?: boolean;
  /** Replace the generated options. */
  options?: TcpOption[];
  /** SACK blocks (absolute) appended to the options (RFC 2018 §3). */
  sack?: [number, number][];
  window?: number;
  /** The peer never receives it (lost after the capture point). */
  lost?: boolean;
  /** Whether the capture holds it (a packet lost before the capture point is not). Default true. */
  captured?: boolean;
  /** Bytes of the frame to store (a snaplen cut). */
  caplen?: number;
  /** IPv4 header fields (options, fragment bits). */
  ipv4?: Partial<Ipv4Spec>;
  /** IPv6 extension headers for this packet; default the conversation's. */
  ipv6Ext?: Ipv6Ext[];
}

export interface BuiltPacket {
  index: number;
  /** Microseconds after BASE. */
  t: number;
  from: Side;
  seq: number;
  ack: number;
  flags: number;
  payload: number;
  tsval?: number;
  tsecr?: number;
  spec: SendSpec;
}

interface SideState {
  ep: Endpoint;
  /** Next new sequence number, relative to the ISN (the SYN is 0). */
  nxt: number;
  /** Peer's sequence space received, relative to the peer's ISN: ranges [start, end). */
  got: [number, number][];
  /** In-order end of the peer's sequence space (relative). */
  rcv: number;
  /** TS.Recent: the TSval to echo. */
  tsRecent: number;
}

export interface ConversationOptions {
  client: Endpoint;
  server: Endpoint;
  /** Which side the capture is taken on (for SLL packet types). Default 'client'. */
  local?: Side;
  /** IPv6 extension headers on every packet. */
  ipv6Ext?: Ipv6Ext[];
  /** Time offset in µs added to every event (to place several conversations in one file). */
  offset?: number;
}

export class Conversation {
  readonly packets: BuiltPacket[] = [];
  readonly options: ConversationOptions;
  #s: Record<Side, SideState>;

  constructor(options: ConversationOptions) {
    this.options = options;
    const mk = (ep: Endpoint): SideState => ({ ep, nxt: 0, got: [], rcv: 0, tsRecent: 0 });
    this.#s = { client: mk(options.client), server: mk(options.server) };
  }

  get client(): Endpoint {
    return this.options.client;
  }

  get server(): Endpoint {
    return this.options.server;
  }

  /** The absolute sequence number `rel` bytes after `side`'s ISN (the first data byte is rel 1). */
  seq(side: Side, rel: number): number {
    return (this.#s[side].ep.isn + rel) % U32;
  }

  /** The TSval `side`'s clock shows at time t (µs). */
  tsval(side: Side, t: number): number {
    const c = this.#s[side].ep.ts;
    if (!c) throw new Error(`${side} has no timestamp clock`);
    return (c.start + Math.floor(((t + (this.options.offset ?? 0)) * (c.hz ?? 1000)) / 1e6)) % U32;
  }

  /** Next new relative sequence number of a side. */
  next(side: Side): number {
    return this.#s[side].nxt;
  }

  send(t: number, from: Side, spec: SendSpec = {}): BuiltPacket {
    const me = this.#s[from];
    const peer = this.#s[from === 'client' ? 'server' : 'client'];
    const payload = spec.payload ?? 0;
    const flags = tcpFlags(spec.flags ?? (payload > 0 ? 'PA' : 'A'));
    const syn = (flags & SYN) !== 0;
    const fin = (flags & FIN) !== 0;
    const len = payload + (syn ? 1 : 0) + (fin ? 1 : 0);
    let rel: number;
    if (spec.seq !== undefined) {
      rel = (spec.seq - me.ep.isn + U32) % U32;
      if (rel > 2 ** 31) rel -= U32; // a sequence number before the ISN
    } else {
      rel = me.nxt;
    }
    me.nxt = Math.max(me.nxt, rel + len);
    const seq = (((me.ep.isn + rel) % U32) + U32) % U32;
    const ack = spec.ack ?? (peer.ep.isn + me.rcv) % U32;

    let tsval: number | undefined;
    let tsecr: number | undefined;
    const useTs = me.ep.ts !== undefined && peer.ep.ts !== undefined && !spec.noTs;
    if (useTs) {
      tsval = spec.tsval ?? this.tsval(from, t);
      // A SYN echoes nothing (RFC 7323 §3.2: TSecr is zero unless ACK is set).
      tsecr = spec.tsecr ?? ((flags & ACK) !== 0 ? me.tsRecent : 0);
    }
    if (!spec.lost) {
      // The peer receives it: reassembly of its view of our sequence space.
      const inOrder = rel <= peer.rcv;
      if (len > 0) {
        peer.got.push([rel, rel + len]);
        peer.got.sort((a, b) => a[0] - b[0]);
        for (const [s, e] of peer.got) if (s <= peer.rcv && e > peer.rcv) peer.rcv = e;
      }
      // TS.Recent follows segments at the left edge of the window (RFC 7323 §4.3).
      if (tsval !== undefined && inOrder) peer.tsRecent = tsval;
    }

    const p: BuiltPacket = { index: this.packets.length, t, from, seq, ack, flags, payload, tsval, tsecr, spec };
    this.packets.push(p);
    return p;
  }

  // Conveniences, named after what the packet is.
  syn(t: number, spec: SendSpec = {}): BuiltPacket {
    return this.send(t, 'client', { flags: 'S', ...spec });
  }
  synAck(t: number, spec: SendSpec = {}): BuiltPacket {
    return this.send(t, 'server', { flags: 'SA', ...spec });
  }
  ack(t: number, from: Side, spec: SendSpec = {}): BuiltPacket {
    return this.send(t, from, { flags: 'A', ...spec });
  }
  data(t: number, from: Side, bytes: number, spec: SendSpec = {}): BuiltPacket {
    return this.send(t, from, { payload: bytes, ...spec });
  }
  fin(t: number, from: Side, spec: SendSpec = {}): BuiltPacket {
    return this.send(t, from, { flags: 'FA', ...spec });
  }
  /** Sends the same sequence range, flags and payload as an earlier packet again. */
  retransmit(t: number, of: BuiltPacket, spec: SendSpec = {}): BuiltPacket {
    let flags = '';
    for (const [bit, c] of [
      [SYN, 'S'],
      [FIN, 'F'],
      [0x08, 'P'],
      [ACK, 'A'],
    ] as const)
      if (of.flags & bit) flags += c;
    return this.send(t, of.from, { flags, seq: of.seq, payload: of.payload, ...spec });
  }
  /** The three-way handshake: SYN at t0, SYN/ACK at t1, ACK at t2. */
  handshake(t0: number, t1: number, t2: number): void {
    this.syn(t0);
    this.synAck(t1);
    this.ack(t2, 'client');
  }

  /** The captured packets as capture records on the given link layer. */
  records(link: LinkSpec = { type: 'ether' }): CaptureRecord[] {
    const local = this.options.local ?? 'client';
    const off = this.options.offset ?? 0;
    const out: CaptureRecord[] = [];
    for (const p of this.packets) {
      if (p.spec.captured === false) continue;
      const src = p.from === 'client' ? this.client : this.server;
      const dst = p.from === 'client' ? this.server : this.client;
      const tcp = tcpSegment(
        {
          sport: src.port,
          dport: dst.port,
          seq: p.seq,
          ack: p.flags & ACK ? p.ack : 0,
          flags: p.flags,
          window: p.spec.window,
          options: this.#options(p),
          payload: p.payload,
        },
        src.addr,
        dst.addr,
      );
      const ip =
        net.isIP(src.addr) === 6
          ? ipv6({ src: src.addr, dst: dst.addr, ext: p.spec.ipv6Ext ?? this.options.ipv6Ext }, tcp)
          : ipv4({ src: src.addr, dst: dst.addr, id: (p.index * 7 + 1) & 0xffff, dontFragment: true, ...p.spec.ipv4 }, tcp);
      const data = frame(link, ip, p.from === local);
      out.push({ tsNs: tsNs(p.t + off), data, caplen: p.spec.caplen });
    }
    return out;
  }

  #options(p: BuiltPacket): TcpOption[] {
    // Rebuilt from the recorded fields so records() can be called repeatedly.
    const spec = p.spec;
    if (spec.options) return spec.sack ? [...spec.options, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: spec.sack }] : spec.options;
    const me = p.from === 'client' ? this.client : this.server;
    let options: TcpOption[];
    if (p.flags & SYN) {
      options = [{ kind: 'mss', value: me.mss ?? 1460 }, { kind: 'sackPermitted' }];
      if (p.tsval !== undefined) options.push({ kind: 'ts', val: p.tsval, ecr: p.tsecr ?? 0 });
      else options.push({ kind: 'nop' }, { kind: 'nop' });
      options.push({ kind: 'nop' }, { kind: 'wscale', shift: 7 });
    } else {
      options = p.tsval !== undefined ? [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'ts', val: p.tsval, ecr: p.tsecr ?? 0 }] : [];
    }
    if (spec.sack) options = [...options, { kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: spec.sack }];
    return options;
  }
}

/** Records of several sources merged in time order (stable). */
export function merge(...lists: CaptureRecord[][]): CaptureRecord[] {
  return lists
    .flat()
    .map((r, i) => ({ r, i }))
    .sort((a, b) => (a.r.tsNs < b.r.tsNs ? -1 : a.r.tsNs > b.r.tsNs ? 1 : a.i - b.i))
    .map((x) => x.r);
}
