/**
 * Public types of passive-rtt. Everything a program sees of the engine is
 * described here; the native addon's own surface is typed in `native.ts`.
 */

/** Where an RTT sample came from (see README, "How RTT is measured"). */
export type SampleKind = 'data' | 'handshake' | 'ts';

export interface RttMonitorOptions {
  /** Live capture: an interface name, or `any` for every interface. */
  interface?: string;
  /** Offline: a pcap or pcapng file. Exactly one of `interface` and `file`. */
  file?: string;
  /**
   * Addresses of the monitored host (IPv4 and/or IPv6). Live default: the
   * addresses of the captured interface (every interface for `any`).
   * Offline default: detected from the file (the one address outside
   * `exclude` that takes part in every TCP flow).
   */
  local?: string[];
  /** Addresses that are never taken as the local host by offline detection (the whitelist). */
  exclude?: string[];
  /** A BPF filter (pcap-filter(7)), compiled against the capture handle. */
  filter?: string;
  /**
   * Bytes captured per packet. Default 512; 144 or more keeps every TCP option
   * (the largest link header with two VLAN tags, IPv4 with options or IPv6,
   * TCP with options: 22 + 60 + 60), IPv6 extension headers aside.
   */
  snaplen?: number;
  /** Kernel capture buffer in bytes (live only). Default: libpcap's (2 MiB on Linux). */
  bufferSize?: number;
  /** Live read timeout in milliseconds: how soon an idle link notices reports and stop(). Default 200. */
  readTimeout?: number;
  /**
   * Native threads per monitor. 2: one reads and decodes packets, the other
   * tracks flows and RTTs (about 1.7 times the packet rate of one thread
   * over a file, for about the same CPU in all). 1: one thread does both.
   * Default: 2 when the process may run on two CPUs or more, else 1.
   */
  threads?: 1 | 2;
  /** Seconds without packets after which a flow is dropped. Default 300. */
  idleTtl?: number;
  /** Seconds a flow is kept after FIN or RST. Default 60. */
  expTtl?: number;
  /** Seconds between reports, in packet time. Default 30. */
  reportInterval?: number;
  /** true: RFC 6298 smoothing (SRTT, RTTVAR). false: running mean and mean absolute difference (go-metro `-st=false`). Default true. */
  soften?: boolean;
  /** Most flows tracked at once; the least recently seen is evicted beyond it. Default 1000000. */
  maxFlows?: number;
  /** Deliver every RTT sample as a `sample` event (debug mode; batched at least once a second). Default false. */
  samples?: boolean;
  /** Name used in reports for a file capture (the `iface` field). Default `file`. */
  label?: string;
  /**
   * go-metro's sampling, in packet time: take packets for `sampleDuration`
   * seconds, then skip `sampleInterval` seconds, from the first packet on
   * (give both). Flows start afresh in each window; host pairs keep their
   * smoothed figures. Default: every packet.
   */
  sampleDuration?: number;
  sampleInterval?: number;
}

/** One host pair's figures for one report interval. Times are milliseconds. */
export interface HostPairReport {
  /** End of the interval, unix seconds (packet time). */
  ts: number;
  /** Interface name (`file` or the label for an offline capture). */
  iface: string;
  /** Local address. */
  src: string;
  /** Remote address. */
  dst: string;
  /** Samples taken in this interval. */
  samples: number;
  samplesByKind: Record<SampleKind, number>;
  /** Last sample of the interval; null when the interval had none. */
  rttMs: number | null;
  /** Smoothed RTT (SRTT) or, with soften off, the running mean; null before the first sample. */
  avgMs: number | null;
  /** RTTVAR or, with soften off, the running mean absolute difference; null before the first sample. */
  jitterMs: number | null;
  /** Interval minimum, maximum and percentiles; null when the interval had no sample. */
  minMs: number | null;
  maxMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  /** Samples of the pair since it was first seen. */
  totalSamples: number;
  /** Live flows of the pair at the end of the interval. */
  flows: number;
}

/** One RTT sample (only with `samples: true`). */
export interface RttSample {
  /** Time of the packet that closed the sample, unix seconds. */
  ts: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  rttMs: number;
  kind: SampleKind;
}

/** Counters of one monitor, cumulative since start(). */
export interface MonitorStats {
  packets: number;
  tcp: number;
  notTcp: number;
  malformed: number;
  fragments: number;
  notLocal: number;
  flowsActive: number;
  flowsCreated: number;
  flowsEvicted: number;
  flowsExpired: number;
  hostPairs: number;
  samples: number;
  samplesByKind: Record<SampleKind, number>;
  /** Samples refused by Karn's rule and its relatives (retransmission ambiguity). */
  karnRefused: number;
  /** Outgoing segments not timed because the per-flow or global segment memory was full. */
  segmentsSkipped: number;
  retransmissions: number;
  /** From pcap_stats(3PCAP) on live captures; 0 offline. */
  pcapReceived: number;
  pcapDropped: number;
  pcapIfDropped: number;
  /** Report batches folded into one delivery because JavaScript was slow. */
  batchesFolded: number;
  /** Per-sample records dropped because JavaScript could not keep up (live only). */
  samplesDropped: number;
  /** Live reports dropped, oldest first, while JavaScript did not run: beyond 64 waiting reports or 2^20 waiting host-pair rows. */
  reportsDropped: number;
  /** Packets skipped because they fell between sampling windows. */
  outsideWindow: number;
  /** Reports emitted. */
  reports: number;
  /** Local addresses in use (given, from the interface, or detected). */
  local: string[];
}

/** Stable error codes. Programs branch on `err.code`, never on the message. */
export type RttErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_STATE'
  | 'NO_SUCH_INTERFACE'
  | 'CAPTURE_PERMISSION'
  | 'FILE_UNREADABLE'
  | 'FILE_MALFORMED'
  | 'FILE_TRUNCATED'
  | 'BAD_FILTER'
  | 'LOCAL_ADDRESS_UNKNOWN'
  | 'CAPTURE_FAILED'
  | 'PCAP_MISSING'
  | 'OUT_OF_MEMORY'
  | 'CONFIG_INVALID'
  | 'CONFIG_UNREADABLE'
  | 'USAGE';
