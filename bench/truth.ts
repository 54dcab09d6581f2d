/**
 * Streaming comparison of the engine's samples with the generator's ground
 * truth. Both come in capture order (the truth file is written as packets
 * are written; the engine reports a sample when it reads the packet that
 * closes it), so one pass over the truth file suffices: at each sample
 * time, the truth records of that microsecond are gathered and matched by
 * flow, value and kind. Memory stays small whatever the file size.
 */
import fs from 'node:fs';
import type { RttSample, SampleKind } from '../src';

interface TruthRecord {
  ambiguous: boolean;
  t: number; // microseconds since the epoch
  key: string; // "local lport remote rport"
  rttUs: number;
  kind: string; // sample kind, or the reason an ACK is ambiguous
  used: boolean;
}

type Kinds = Record<SampleKind, number>;

export interface AccuracyResult {
  /** Samples the generator says the engine must produce. */
  truthSamples: number;
  truthByKind: Kinds;
  /** Of those, reproduced to the microsecond with the right kind. */
  exact: number;
  exactByKind: Kinds;
  /** An engine sample on a listed ACK, with another value or kind. */
  wrong: number;
  /** Listed samples the engine did not produce. */
  missed: number;
  missedByKind: Kinds;
  /** Engine samples on ACKs the truth does not list at all. */
  extra: number;
  /** ACKs the generator marks ambiguous (no sample allowed). */
  ambiguousMarked: number;
  /** Engine samples on those ACKs: must be 0. */
  onAmbiguous: number;
  onAmbiguousByReason: Record<string, number>;
  /** exact / truthSamples. */
  exactShare: number;
  /** Mean and largest |engine - truth| over engine samples matched to a listed sample, in microseconds. */
  maeUs: number;
  maxErrUs: number;
  /** Engine samples whose time went backwards (never expected). */
  outOfOrder: number;
  /** A few discrepancies, for the report. */
  examples: string[];
}

function kinds(): Kinds {
  return { data: 0, handshake: 0, ts: 0 };
}

export class TruthCursor {
  #fd: number;
  #buf = Buffer.alloc(4 << 20);
  #text = '';
  #pos = 0;
  #eof = false;
  #peeked: TruthRecord | undefined;
  #cur: TruthRecord[] = [];
  #curT = -1;
  #errSum = 0;
  #matched = 0;
  readonly r: AccuracyResult = {
    truthSamples: 0,
    truthByKind: kinds(),
    exact: 0,
    exactByKind: kinds(),
    wrong: 0,
    missed: 0,
    missedByKind: kinds(),
    extra: 0,
    ambiguousMarked: 0,
    onAmbiguous: 0,
    onAmbiguousByReason: {},
    exactShare: 0,
    maeUs: 0,
    maxErrUs: 0,
    outOfOrder: 0,
    examples: [],
  };

  constructor(path: string) {
    this.#fd = fs.openSync(path, 'r');
  }

  #line(): string | undefined {
    for (;;) {
      const nl = this.#text.indexOf('\n', this.#pos);
      if (nl >= 0) {
        const l = this.#text.slice(this.#pos, nl);
        this.#pos = nl + 1;
        return l;
      }
      if (this.#eof) {
        if (this.#pos < this.#text.length) {
          const l = this.#text.slice(this.#pos);
          this.#pos = this.#text.length;
          return l;
        }
        return undefined;
      }
      const n = fs.readSync(this.#fd, this.#buf, 0, this.#buf.length, null);
      if (n === 0) this.#eof = true;
      this.#text = this.#text.slice(this.#pos) + this.#buf.toString('latin1', 0, n);
      this.#pos = 0;
    }
  }

  #peek(): TruthRecord | undefined {
    while (this.#peeked === undefined) {
      const l = this.#line();
      if (l === undefined) return undefined;
      if (l === '' || l[0] === '#') continue;
      const f = l.split(' ');
      const ambiguous = f[0] === 'A';
      const rec: TruthRecord = {
        ambiguous,
        t: Number(f[1]),
        key: `${f[2]} ${f[3]} ${f[4]} ${f[5]}`,
        rttUs: ambiguous ? 0 : Number(f[6]),
        kind: ambiguous ? f[6] : f[7],
        used: false,
      };
      if (ambiguous) {
        this.r.ambiguousMarked++;
      } else {
        this.r.truthSamples++;
        this.r.truthByKind[rec.kind as SampleKind]++;
      }
      this.#peeked = rec;
    }
    return this.#peeked;
  }

  #next(): void {
    this.#peeked = undefined;
  }

  #example(s: string): void {
    if (this.r.examples.length < 20) this.r.examples.push(s);
  }

  #settle(rec: TruthRecord): void {
    if (rec.used || rec.ambiguous) return;
    this.r.missed++;
    this.r.missedByKind[rec.kind as SampleKind]++;
    this.#example(`missed ${rec.t} ${rec.key} ${rec.rttUs}us ${rec.kind}`);
  }

  /** One engine sample, in the order the engine delivered them. */
  sample(s: RttSample): void {
    const t = Math.round(s.ts * 1e6);
    const rtt = Math.round(s.rttMs * 1000);
    const key = `${s.src} ${s.sport} ${s.dst} ${s.dport}`;
    if (t !== this.#curT) {
      if (t < this.#curT) {
        this.r.outOfOrder++;
        this.#example(`out-of-order ${t} ${key} ${rtt}us ${s.kind}`);
      } else {
        for (const rec of this.#cur) this.#settle(rec);
        this.#cur = [];
        for (let rec = this.#peek(); rec !== undefined && rec.t < t; rec = this.#peek()) {
          this.#settle(rec);
          this.#next();
        }
        for (let rec = this.#peek(); rec !== undefined && rec.t === t; rec = this.#peek()) {
          this.#cur.push(rec);
          this.#next();
        }
        this.#curT = t;
      }
    }
    let exact: TruthRecord | undefined;
    let listed: TruthRecord | undefined;
    let ambiguous: TruthRecord | undefined;
    for (const rec of this.#cur) {
      if (rec.used || rec.key !== key) continue;
      if (rec.ambiguous) ambiguous ??= rec;
      else if (rec.rttUs === rtt && rec.kind === s.kind) exact ??= rec;
      else listed ??= rec;
    }
    const hit = exact ?? listed;
    if (hit) {
      hit.used = true;
      const err = Math.abs(rtt - hit.rttUs);
      this.#errSum += err;
      this.#matched++;
      if (err > this.r.maxErrUs) this.r.maxErrUs = err;
      if (hit === exact) {
        this.r.exact++;
        this.r.exactByKind[s.kind]++;
      } else {
        this.r.wrong++;
        this.#example(`wrong ${t} ${key} engine ${rtt}us ${s.kind}, truth ${hit.rttUs}us ${hit.kind}`);
      }
    } else if (ambiguous) {
      ambiguous.used = true;
      this.r.onAmbiguous++;
      this.r.onAmbiguousByReason[ambiguous.kind] = (this.r.onAmbiguousByReason[ambiguous.kind] ?? 0) + 1;
      this.#example(`on-ambiguous ${t} ${key} engine ${rtt}us ${s.kind} (${ambiguous.kind})`);
    } else {
      this.r.extra++;
      this.#example(`extra ${t} ${key} engine ${rtt}us ${s.kind}`);
    }
  }

  /** Settles what is left and returns the figures. */
  finish(): AccuracyResult {
    for (const rec of this.#cur) this.#settle(rec);
    this.#cur = [];
    for (let rec = this.#peek(); rec !== undefined; rec = this.#peek()) {
      this.#settle(rec);
      this.#next();
    }
    fs.closeSync(this.#fd);
    this.r.exactShare = this.r.truthSamples === 0 ? 1 : this.r.exact / this.r.truthSamples;
    this.r.maeUs = this.#matched === 0 ? 0 : this.#errSum / this.#matched;
    return this.r;
  }
}
