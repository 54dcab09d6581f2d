/**
 * Output for people (an aligned table per report) and for programs (JSON
 * lines, each with a `type`: `report`, `sample`, `stats`).
 */
import type { HostPairReport, MonitorStats, RttSample } from './types';

/** Address -> name, for `src_host`/`dst_host` and the table. */
export type NameLookup = (address: string) => string | undefined;

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function reportToJson(r: HostPairReport, names: NameLookup): Record<string, unknown> {
  return {
    type: 'report',
    ts: r.ts,
    iface: r.iface,
    src: r.src,
    dst: r.dst,
    src_host: names(r.src) ?? r.src,
    dst_host: names(r.dst) ?? r.dst,
    samples: r.samples,
    rtt_ms: r.rttMs,
    avg_ms: r.avgMs,
    jitter_ms: r.jitterMs,
    min_ms: r.minMs,
    max_ms: r.maxMs,
    p50_ms: r.p50Ms,
    p95_ms: r.p95Ms,
    p99_ms: r.p99Ms,
    samples_data: r.samplesByKind.data,
    samples_handshake: r.samplesByKind.handshake,
    samples_ts: r.samplesByKind.ts,
    total_samples: r.totalSamples,
    flows: r.flows,
  };
}

export function sampleToJson(s: RttSample, iface?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: 'sample',
    ts: s.ts,
    src: s.src,
    sport: s.sport,
    dst: s.dst,
    dport: s.dport,
    rtt_ms: s.rttMs,
    kind: s.kind,
  };
  if (iface !== undefined) out.iface = iface;
  return out;
}

/** Counters in snake_case; samples by kind flattened to samples_data, samples_handshake, samples_ts. */
export function statsToJson(stats: MonitorStats, iface: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'stats', iface };
  for (const [k, v] of Object.entries(stats)) {
    if (k === 'samplesByKind') {
      const byKind = v as MonitorStats['samplesByKind'];
      out.samples_data = byKind.data;
      out.samples_handshake = byKind.handshake;
      out.samples_ts = byKind.ts;
    } else {
      out[snake(k)] = v;
    }
  }
  return { ...out, ...extra };
}

function ms(v: number | null): string {
  return v === null ? '-' : v.toFixed(3);
}

function when(ts: number): string {
  const d = new Date(Math.round(ts * 1000));
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString().replace('T', ' ').replace('Z', ' UTC');
}

/** `name (address)` when a name is known, else the address. */
function label(address: string, names: NameLookup): string {
  const n = names(address);
  return n !== undefined && n !== address ? `${n} (${address})` : address;
}

const HEADERS = ['LOCAL', '', 'REMOTE', 'SAMPLES', 'LAST', 'AVG', 'JITTER', 'P50', 'P95', 'P99', 'FLOWS'];
const RIGHT = [false, false, false, true, true, true, true, true, true, true, true];

/**
 * One report as an aligned table; times in milliseconds, `-` where the
 * interval had no sample. Pairs are sorted by local then remote address.
 */
export function reportTable(batch: readonly HostPairReport[], names: NameLookup): string {
  const first = batch[0];
  if (first === undefined) return '';
  const ifaces = [...new Set(batch.map((r) => r.iface))].join(',');
  const title = `${when(first.ts)}  iface ${ifaces}  ${batch.length} host pair${batch.length === 1 ? '' : 's'}  (times in ms)`;
  const rows = [...batch]
    .sort((a, b) => (a.src === b.src ? a.dst.localeCompare(b.dst) : a.src.localeCompare(b.src)))
    .map((r) => [
      label(r.src, names),
      '->',
      label(r.dst, names),
      String(r.samples),
      ms(r.rttMs),
      ms(r.avgMs),
      ms(r.jitterMs),
      ms(r.p50Ms),
      ms(r.p95Ms),
      ms(r.p99Ms),
      String(r.flows),
    ]);
  const all = [HEADERS, ...rows];
  const widths = HEADERS.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  const lines = all.map((row) =>
    row
      .map((cell, c) => (RIGHT[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
  return `${title}\n${lines.join('\n')}\n`;
}

export function sampleLine(s: RttSample): string {
  return `${when(s.ts)}  sample  ${s.src}:${s.sport} -> ${s.dst}:${s.dport}  ${s.rttMs.toFixed(3)} ms  ${s.kind}\n`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function statsSummary(stats: MonitorStats, iface: string): string {
  const k = stats.samplesByKind;
  return (
    `${iface}: ${count(stats.packets, 'packet')} (${stats.tcp} TCP, ${stats.malformed} malformed), ` +
    `${count(stats.flowsCreated, 'flow')}, ${count(stats.hostPairs, 'host pair')}, ` +
    `${count(stats.samples, 'sample')} (data ${k.data}, handshake ${k.handshake}, ts ${k.ts}), ` +
    `${stats.karnRefused} refused by Karn's rule` +
    (stats.pcapDropped > 0 || stats.pcapIfDropped > 0 ? `, pcap dropped ${stats.pcapDropped} (interface ${stats.pcapIfDropped})` : '') +
    (stats.local.length > 0 ? `; local ${stats.local.join(', ')}` : '') +
    '\n'
  );
}
