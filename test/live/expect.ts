/**
 * What each RTT sample should have been, from the delay forwarder's own
 * record of every frame (delayfwd.c) and, where the test captured them, the
 * frames' own times at the monitor's capture point (capture.ts), never from
 * the monitor's figures.
 *
 * For a sample closed by packet P (the monitor gives P's capture time and the
 * flow), the forwarder log has P's release time (`written`), its ACK number
 * and its TCP timestamps. The segment P acknowledges is found in the log by
 * the TCP rules themselves, not by the monitor's figure:
 * - data and handshake: the host's frame whose sequence space ends exactly at
 *   P's ACK number (RFC 9293 section 3.4: SYN and FIN count one); when it was
 *   sent more than once, the transmission whose TSval P echoes (RFC 7323
 *   section 4, the "RTTM" rule);
 * - timestamp echo: the host's pure ACK whose TSval P echoes in TSecr.
 * The record's figure is then release(P) - arrival(segment) at the
 * forwarder: it contains the injected holds, the jitter each frame really
 * got, the peer's turnaround and any retransmission wait, frame by frame.
 *
 * What the record cannot see is the path between the capture point and the
 * delay line: the TAP's queue before the forwarder reads a frame and after it
 * writes one (microseconds idle, more when the forwarder is busy writing a
 * burst), and in the veth-hop bed the veth and the router namespace's
 * forwarding (softirq work that a busy machine delays). When the test ran an
 * independent capture on the monitored interface, that hop is measured frame
 * by frame: P is the captured frame with the sample's own time stamp, the
 * segment is the captured frame that carried the record's transmission (for
 * a TSO/GSO super-segment, the one that contained it), and the expected
 * sample is capture(P) - capture(segment) = record + hop out + hop back.
 */
import type { RttSample } from '../../src';
import type { CapFrame } from './capture';
import type { FwdLog, FwdRecord } from './netns';

/**
 * Per-sample precision against the independent capture of the same frames
 * (capture.ts): both captures get the kernel's one time stamp per packet in
 * nanoseconds; unix seconds in a double keep ~0.25 us, so two of them and a
 * difference stay within a few microseconds.
 */
export const CAPTURE_PRECISION_MS = 0.005;
/**
 * Slack between the forwarder's clocks and the capture's: the record's times
 * are CLOCK_MONOTONIC mapped to CLOCK_REALTIME through one pair of readings
 * taken together at the forwarder's start (no clock discipline runs here).
 */
export const CLOCK_SLACK_MS = 0.05;

const SYN = 0x02;
const FIN = 0x01;

export function seqEnd(r: { seq: number; plen: number; flags: number }): number {
  return (r.seq + r.plen + (r.flags & SYN ? 1 : 0) + (r.flags & FIN ? 1 : 0)) >>> 0;
}

/** a < b in sequence space (RFC 9293 section 3.4, serial arithmetic). */
function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export interface Matched {
  sample: RttSample;
  /** The forwarder's figure: release of the closing frame minus arrival of the segment. */
  recordMs: number;
  /**
   * The truth at the monitor's capture point: capture(P) - capture(segment)
   * when both frames are in the independent capture, else the record's figure.
   */
  expectedMs: number;
  /** Monitor's sample minus expectedMs. */
  diffMs: number;
  /** expectedMs - recordMs: the capture point <-> delay line hops, both ways (null without a capture). */
  hopMs: number | null;
  /** The record's frames: the segment the sample timed and the packet that closed it. */
  segment: FwdRecord;
  closing: FwdRecord;
  /** The captured frames: the one that closed the sample and the segment it timed (null when not captured). */
  capClosing: CapFrame | null;
  capSeg: CapFrame | null;
  /** Parts of the record's figure: hold of the segment, peer turnaround, hold of the answer. */
  holdOutMs: number;
  peerMs: number;
  holdBackMs: number;
}

export interface MatchResult {
  matched: Matched[];
  unmatched: RttSample[];
  /** Matched samples whose frames were both found in the capture. */
  captured: number;
}

interface FlowFrames {
  ab: FwdRecord[];
  /** Host frames by the end of their sequence space, and pure ACKs by TSval. */
  byEnd: Map<number, FwdRecord[]>;
  byTsval: Map<number, FwdRecord[]>;
  /** Forwarded peer->host frames, by release time. */
  ba: FwdRecord[];
}

interface CapFlow {
  /** Host -> peer frames, in capture order. */
  out: CapFrame[];
  /** Peer -> host frames, in capture order. */
  in: CapFrame[];
}

/** First index i with key(xs[i]) >= v (xs sorted by key). */
function lowerBound<T>(xs: readonly T[], v: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (key(xs[mid]) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Pairs every sample with the forwarder's record, and with the capture of
 * the monitored interface when given. `ab` in the log is the host side
 * (TAP a), so a flow is keyed by (l3, host port, peer port).
 */
export function matchSamples(log: FwdLog, samples: readonly RttSample[], capture: readonly CapFrame[] = [], hostAddrs: readonly string[] = []): MatchResult {
  const flows = new Map<string, FlowFrames>();
  const get = (key: string): FlowFrames => {
    let f = flows.get(key);
    if (!f) flows.set(key, (f = { ab: [], byEnd: new Map(), byTsval: new Map(), ba: [] }));
    return f;
  };
  for (const r of log.records) {
    if (r.proto !== 6 || r.l3 === 0) continue;
    if (r.dir === 'ab') {
      const f = get(`${r.l3}/${r.sport}/${r.dport}`);
      f.ab.push(r);
      const end = seqEnd(r);
      if (end !== r.seq) {
        const list = f.byEnd.get(end) ?? [];
        list.push(r);
        f.byEnd.set(end, list);
      } else if (r.tsval !== null) {
        const list = f.byTsval.get(r.tsval) ?? [];
        list.push(r);
        f.byTsval.set(r.tsval, list);
      }
    } else if (r.fate === 'F') get(`${r.l3}/${r.dport}/${r.sport}`).ba.push(r);
  }
  for (const f of flows.values()) f.ba.sort((x, y) => x.written - y.written);

  const host = new Set(hostAddrs);
  const cap = new Map<string, CapFlow>();
  for (const c of capture) {
    const out = host.has(c.src);
    if (!out && !host.has(c.dst)) continue;
    const key = out ? `${c.l3}/${c.sport}/${c.dport}` : `${c.l3}/${c.dport}/${c.sport}`;
    let cf = cap.get(key);
    if (!cf) cap.set(key, (cf = { out: [], in: [] }));
    (out ? cf.out : cf.in).push(c);
  }
  for (const cf of cap.values()) {
    cf.out.sort((a, b) => a.tsMs - b.tsMs);
    cf.in.sort((a, b) => a.tsMs - b.tsMs);
  }

  // Monotonic ns -> unix ms, relative to the log's clock pair (read together
  // at the forwarder's start; no clock discipline runs on the test machines,
  // and every comparison below is within milliseconds of the frames' times).
  const realMs = log.realNs / 1e6;
  const toUnixMs = (mono: number): number => (mono - log.monoNs) / 1e6 + realMs;

  /** The record of a captured incoming frame: same headers, written just before it was captured. */
  const recordOfIn = (f: FlowFrames, c: CapFrame): FwdRecord | null => {
    // Walk back from the last frame written before the capture (plus the clock pair's slack).
    for (let k = lowerBound(f.ba, c.tsMs + 0.05, (r) => toUnixMs(r.written)) - 1; k >= 0; k--) {
      const r = f.ba[k];
      if (c.tsMs - toUnixMs(r.written) > 1000) break;
      if (r.seq === c.seq && r.ack === c.ack && r.flags === c.flags && r.plen === c.plen && r.tsval === c.tsval) return r;
    }
    return null;
  };

  /** The captured outgoing frame that carried the record's segment: the latest one containing its end, captured before the forwarder read it. */
  const captureOfOut = (cf: CapFlow, seg: FwdRecord, pureAck: boolean): CapFrame | null => {
    const arrival = toUnixMs(seg.arrival) + 0.05;
    const end = seqEnd(seg);
    const i = lowerBound(cf.out, arrival, (c) => c.tsMs);
    let first: CapFrame | null = null;
    for (let k = i - 1; k >= 0; k--) {
      const c = cf.out[k];
      if (arrival - c.tsMs > 1000) break;
      if (pureAck) {
        // The first pure ACK with that TSval starts a sample (DESIGN.md): keep the earliest.
        if (c.plen === 0 && !(c.flags & (SYN | FIN)) && c.tsval === seg.tsval) first = c;
        continue;
      }
      const cEnd = seqEnd(c);
      if (cEnd === c.seq) continue;
      // seg's end within (c.seq, c.end]: c carried it (a super-segment carries several).
      if (seqLt(c.seq, end) && !seqLt(cEnd, end)) return c;
    }
    return first;
  };

  const matched: Matched[] = [];
  const unmatched: RttSample[] = [];
  let captured = 0;
  for (const s of samples) {
    const l3 = s.src.includes(':') ? 6 : 4;
    const key = `${l3}/${s.sport}/${s.dport}`;
    const f = flows.get(key);
    if (!f || f.ba.length === 0) {
      unmatched.push(s);
      continue;
    }
    const tMs = s.ts * 1e3;
    // The closing packet: in the capture by its own time stamp (the monitor
    // and tcpdump get the same one; doubles of unix seconds keep ~0.25 us).
    const cf = cap.get(key);
    let capClosing: CapFrame | null = null;
    // Frames released together by the delay line come a microsecond or two
    // apart: the nearest one is P.
    if (cf) {
      let bestD = 0.002;
      for (let i = lowerBound(cf.in, tMs - 0.002, (c) => c.tsMs); i < cf.in.length && cf.in[i].tsMs <= tMs + 0.002; i++) {
        const d = Math.abs(cf.in[i].tsMs - tMs);
        if (d <= bestD) {
          bestD = d;
          capClosing = cf.in[i];
        }
      }
    }
    let closing: FwdRecord | null = null;
    if (capClosing) closing = recordOfIn(f, capClosing);
    else {
      // No capture of it: the release nearest to the sample's time.
      const i = lowerBound(f.ba, tMs, (r) => toUnixMs(r.written));
      let bestD = Infinity;
      for (const k of [i - 1, i]) {
        if (k < 0 || k >= f.ba.length) continue;
        const d = Math.abs(toUnixMs(f.ba[k].written) - tMs);
        if (d < bestD) {
          bestD = d;
          closing = f.ba[k];
        }
      }
      if (bestD > 1) closing = null;
    }
    if (!closing) {
      unmatched.push(s);
      continue;
    }
    const close = closing;
    let seg: FwdRecord | undefined;
    if (s.kind === 'ts') {
      seg = close.tsecr === null ? undefined : f.byTsval.get(close.tsecr)?.find((r) => r.arrival < close.written);
    } else {
      const cands = (f.byEnd.get(close.ack) ?? []).filter((r) => r.arrival < close.written);
      seg = (close.tsecr !== null ? cands.find((r) => r.tsval === close.tsecr) : undefined) ?? cands[0];
    }
    if (!seg) {
      unmatched.push(s);
      continue;
    }
    const recordMs = (close.written - seg.arrival) / 1e6;
    const capSeg = capClosing && cf ? captureOfOut(cf, seg, s.kind === 'ts') : null;
    const expectedMs = capClosing && capSeg ? capClosing.tsMs - capSeg.tsMs : recordMs;
    if (capClosing && capSeg) captured++;
    matched.push({
      sample: s,
      segment: seg,
      closing: close,
      recordMs,
      expectedMs,
      diffMs: s.rttMs - expectedMs,
      hopMs: capClosing && capSeg ? expectedMs - recordMs : null,
      capClosing: capClosing && capSeg ? capClosing : null,
      capSeg: capClosing && capSeg ? capSeg : null,
      // A lost segment has no release: its part is then all "turnaround".
      holdOutMs: seg.fate === 'F' ? (seg.written - seg.arrival) / 1e6 : 0,
      peerMs: (close.arrival - (seg.fate === 'F' ? seg.written : seg.arrival)) / 1e6,
      holdBackMs: (close.written - close.arrival) / 1e6,
    });
  }
  return { matched, unmatched, captured };
}
