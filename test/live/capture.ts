/**
 * An independent capture at the monitor's own capture point: tcpdump on the
 * same interface, in the same namespace, while the monitor runs.
 *
 * Why: the forwarder's record (delayfwd.c) times every frame where the delay
 * line reads and writes it, but the monitor captures a little farther out:
 * on the TAP before the forwarder has read a frame (and after it wrote one),
 * or, in the veth-hop bed, one routed hop before the delay line. Under load
 * that part of the path (the TAP queue, the veth and the router's forwarding)
 * takes time the record cannot see. Both AF_PACKET captures of one interface
 * are handed the same socket buffer with the same kernel time stamp (the
 * packet(7) taps share one clone per packet), so tcpdump's time stamps are
 * the ones the monitor gets: the frames' own times at the capture point,
 * measured by a program that is not the monitor.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Bed } from './netns';

export interface CapFrame {
  /** Capture time, unix ms (nanosecond precision file). */
  tsMs: number;
  /** Original frame length. */
  len: number;
  l3: 4 | 6;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  plen: number;
  tsval: number | null;
  tsecr: number | null;
}

function ipv4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

/** IPv6 address text, lower case, longest zero run compressed (RFC 5952), as Node prints it. */
function ipv6(b: Buffer, o: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(o + 2 * i));
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/**
 * TCP frames of a classic pcap file (pcap-savefile(5)) of Ethernet frames:
 * IPv4 or IPv6 (no extension headers), TCP header and Timestamps option
 * (RFC 7323). A snap length of 128 bytes holds every header.
 */
export function parsePcapTcp(buf: Buffer): CapFrame[] {
  const out: CapFrame[] = [];
  if (buf.length < 24) return out;
  const m = buf.readUInt32LE(0);
  const le = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
  const magic = le ? m : buf.readUInt32BE(0);
  const nano = magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`pcap link type ${u32(20)}, expected Ethernet`);
  for (let o = 24; o + 16 <= buf.length;) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const incl = u32(o + 8);
    const orig = u32(o + 12);
    const f = o + 16;
    o = f + incl;
    if (o > buf.length || incl < 14) break;
    const et = buf.readUInt16BE(f + 12);
    const ip = f + 14;
    let l3: 4 | 6;
    let proto: number;
    let hl: number;
    let total: number;
    let src: string;
    let dst: string;
    if (et === 0x0800 && incl >= 34 && buf[ip] >> 4 === 4) {
      l3 = 4;
      hl = (buf[ip] & 15) * 4;
      proto = buf[ip + 9];
      total = buf.readUInt16BE(ip + 2);
      if ((buf.readUInt16BE(ip + 6) & 0x1fff) !== 0) continue;
      src = ipv4(buf, ip + 12);
      dst = ipv4(buf, ip + 16);
    } else if (et === 0x86dd && incl >= 54 && buf[ip] >> 4 === 6) {
      l3 = 6;
      hl = 40;
      proto = buf[ip + 6];
      total = 40 + buf.readUInt16BE(ip + 4);
      src = ipv6(buf, ip + 8);
      dst = ipv6(buf, ip + 24);
    } else continue;
    if (proto !== 6) continue;
    const t = ip + hl;
    if (t + 20 > f + incl) continue;
    const thl = (buf[t + 12] >> 4) * 4;
    let tsval: number | null = null;
    let tsecr: number | null = null;
    const optEnd = Math.min(t + thl, f + incl);
    for (let p = t + 20; p < optEnd;) {
      const kind = buf[p];
      if (kind === 0) break;
      if (kind === 1) {
        p++;
        continue;
      }
      if (p + 1 >= optEnd) break;
      const len = buf[p + 1];
      if (len < 2 || p + len > optEnd) break;
      if (kind === 8 && len === 10) {
        tsval = buf.readUInt32BE(p + 2);
        tsecr = buf.readUInt32BE(p + 6);
        break;
      }
      p += len;
    }
    // A super-segment (TSO/GSO) carries an IP total length of up to 64 kB;
    // with a larger GSO frame the field may be 0: take the frame length then.
    const ipLen = total > 0 ? total : orig - 14;
    out.push({
      tsMs: sec * 1e3 + frac / (nano ? 1e6 : 1e3),
      len: orig,
      l3,
      src,
      dst,
      sport: buf.readUInt16BE(t),
      dport: buf.readUInt16BE(t + 2),
      seq: buf.readUInt32BE(t + 4),
      ack: buf.readUInt32BE(t + 8),
      flags: buf[t + 13],
      plen: Math.max(0, ipLen - hl - thl),
      tsval,
      tsecr,
    });
  }
  return out;
}

/** tcpdump on one interface of a namespace, writing every TCP frame's headers to a file. */
export class Tcpdump {
  readonly #child: ChildProcess;
  #stderr = '';
  readonly #exit: Promise<void>;

  private constructor(
    child: ChildProcess,
    readonly file: string,
  ) {
    this.#child = child;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      this.#stderr += d;
    });
    this.#exit = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts tcpdump and resolves once it listens (it says so on stderr). */
  static async start(bed: Bed, ns: string, iface: string, file: string, filter = 'tcp'): Promise<Tcpdump> {
    // -s 128: every header, no payload; nanosecond time stamps as the monitor
    // reads them; a 16 MiB kernel buffer so that a busy machine drops nothing;
    // immediate mode, or the frames of the ring's last, unfinished block
    // (up to a second of them) would never reach the file before SIGINT.
    const child = bed.spawnIn(ns, 'tcpdump', [
      '-i',
      iface,
      '-s',
      '128',
      '-B',
      '16384',
      '--immediate-mode',
      '--time-stamp-precision=nano',
      '-n',
      '-w',
      file,
      filter,
    ]);
    const d = new Tcpdump(child, file);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tcpdump on ${iface} did not start: ${d.#stderr}`)), 10000);
      const check = (): void => {
        if (/listening on/.test(d.#stderr)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump on ${iface} exited (${code}): ${d.#stderr}`));
      });
    });
    return d;
  }

  /** Stops tcpdump (SIGINT: it flushes the file) and returns the frames and its drop count. */
  async stop(): Promise<{ frames: CapFrame[]; dropped: number }> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGINT');
    await this.#exit;
    const m = /(\d+) packets? dropped by kernel/.exec(this.#stderr);
    const frames = fs.existsSync(this.file) ? parsePcapTcp(fs.readFileSync(this.file)) : [];
    return { frames, dropped: m ? Number(m[1]) : 0 };
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}
