/**
 * What each RTT sample should have been, from the delay forwarder's own
 * record of every frame (delayfwd.c), independently of the monitor.
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
 * The expected sample is then release(P) - arrival(segment) at the forwarder:
 * it contains the injected holds, the jitter each frame really got, the peer's
 * turnaround and any retransmission wait, frame by frame. The monitor's
 * figure can only exceed it by the few microseconds between the TAP and the
 * forwarder's read, and between its write and the capture.
 */
import type { RttSample } from '../../src';
import type { FwdLog, FwdRecord } from './netns';

const SYN = 0x02;
const FIN = 0x01;

function seqEnd(r: FwdRecord): number {
  return (r.seq + r.plen + (r.flags & SYN ? 1 : 0) + (r.flags & FIN ? 1 : 0)) >>> 0;
}

export interface Matched {
  sample: RttSample;
  expectedMs: number;
  /** Monitor's sample minus the forwarder's figure. */
  diffMs: number;
  /** Parts of the expected figure: hold of the segment, peer turnaround, hold of the answer. */
  holdOutMs: number;
  peerMs: number;
  holdBackMs: number;
}

export interface MatchResult {
  matched: Matched[];
  unmatched: RttSample[];
}

interface FlowFrames {
  ab: FwdRecord[];
  /** Host frames by the end of their sequence space, and pure ACKs by TSval. */
  byEnd: Map<number, FwdRecord[]>;
  byTsval: Map<number, FwdRecord[]>;
  /** Forwarded peer->host frames, by release time. */
  ba: FwdRecord[];
}

/**
 * Pairs every sample with the forwarder's record. `ab` in the log is the
 * host side (TAP a), so a flow is keyed by (l3, host port, peer port).
 */
export function matchSamples(log: FwdLog, samples: readonly RttSample[]): MatchResult {
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

  // Monotonic ns -> unix seconds, relative to the log's clock pair to keep
  // double precision: rel ms = (mono - monoNs) / 1e6.
  const realMs = log.realNs / 1e6;
  const matched: Matched[] = [];
  const unmatched: RttSample[] = [];
  for (const s of samples) {
    const l3 = s.src.includes(':') ? 6 : 4;
    const f = flows.get(`${l3}/${s.sport}/${s.dport}`);
    if (!f || f.ba.length === 0) {
      unmatched.push(s);
      continue;
    }
    const tRel = s.ts * 1e3 - realMs; // ms since the log's clock pair
    // Nearest release to the closing packet's capture time (binary search).
    let lo = 0;
    let hi = f.ba.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((f.ba[mid].written - log.monoNs) / 1e6 < tRel) lo = mid + 1;
      else hi = mid;
    }
    let best: FwdRecord | null = null;
    let bestD = Infinity;
    for (const i of [lo - 1, lo]) {
      if (i < 0 || i >= f.ba.length) continue;
      const d = Math.abs((f.ba[i].written - log.monoNs) / 1e6 - tRel);
      if (d < bestD) {
        bestD = d;
        best = f.ba[i];
      }
    }
    if (!best || bestD > 1) {
      unmatched.push(s);
      continue;
    }
    const closing = best;
    let seg: FwdRecord | undefined;
    if (s.kind === 'ts') {
      seg = closing.tsecr === null ? undefined : f.byTsval.get(closing.tsecr)?.find((r) => r.arrival < closing.written);
    } else {
      const cands = (f.byEnd.get(closing.ack) ?? []).filter((r) => r.arrival < closing.written);
      seg = (closing.tsecr !== null ? cands.find((r) => r.tsval === closing.tsecr) : undefined) ?? cands[0];
    }
    if (!seg) {
      unmatched.push(s);
      continue;
    }
    const expectedMs = (closing.written - seg.arrival) / 1e6;
    matched.push({
      sample: s,
      expectedMs,
      diffMs: s.rttMs - expectedMs,
      // A lost segment has no release: its part is then all "turnaround".
      holdOutMs: seg.fate === 'F' ? (seg.written - seg.arrival) / 1e6 : 0,
      peerMs: (closing.arrival - (seg.fate === 'F' ? seg.written : seg.arrival)) / 1e6,
      holdBackMs: (closing.written - closing.arrival) / 1e6,
    });
  }
  return { matched, unmatched };
}
