/**
 * A small DogStatsD client of our own: the text encoder, datagram packing and
 * the two transports (UDP, Unix datagram socket).
 *
 * Why not hot-shots: what this tool sends is a handful of gauges per host
 * pair every report interval, and what matters is that the bytes on the wire
 * never change under a dependency upgrade (datagram size limits, tag
 * sanitising, value formatting, no client-side telemetry or origin
 * detection switched on by a new default), that an unreachable agent is
 * counted rather than thrown, and that a flush can be awaited before exit.
 * The protocol is a few lines of text (Datadog "DogStatsD datagram format"),
 * so owning it costs less than pinning and configuring around a client.
 * Node has no Unix datagram sockets; for `unix://` the optional dependency
 * `unix-dgram` (the same one hot-shots uses) provides sendto(2).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { ipVersion } from './ip';
import os from 'node:os';
import type { Logger } from './logger';

/** Datadog's recommended maximum for UDP payloads (fits a 1500-byte MTU). */
export const MAX_UDP_DATAGRAM = 1432;
/** Datadog's default for Unix domain sockets (dogstatsd_buffer_size). */
export const MAX_UDS_DATAGRAM = 8192;
/** Datadog truncates tags at 200 characters. */
export const MAX_TAG_LENGTH = 200;

export type StatsdTarget = { kind: 'udp'; host: string; port: number } | { kind: 'unix'; path: string };

export function describeTarget(t: StatsdTarget): string {
  return t.kind === 'udp' ? `udp://${ipVersion(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}` : `unix://${t.path}`;
}

/**
 * Parses `HOST:PORT`, `[v6]:PORT`, `HOST` (port 8125), `udp://HOST:PORT`,
 * `unix:///path`, `unixgram:///path` or an absolute socket path. Returns an
 * error message instead of throwing, for the caller to wrap.
 */
export function parseStatsdAddress(input: string, defaultPort = 8125): StatsdTarget | string {
  const s = input.trim();
  if (s === '') return 'empty DogStatsD address';
  const unix = /^(unix|unixgram):\/\/(.*)$/.exec(s);
  if (unix) {
    const p = unix[2] ?? '';
    if (p === '' || !p.startsWith('/')) return `${s}: a unix socket URL needs an absolute path, e.g. unix:///var/run/datadog/dsd.socket`;
    return { kind: 'unix', path: p };
  }
  if (/^unixstream:\/\//.test(s)) return `${s}: stream sockets are not supported; use unix:// (datagram) or udp://`;
  if (s.startsWith('/')) return { kind: 'unix', path: s };
  let rest = s;
  const udp = /^udp:\/\/(.*)$/.exec(s);
  if (udp) rest = udp[1] ?? '';
  else if (/^[a-z]+:\/\//i.test(s)) return `${s}: unknown scheme; use udp://HOST:PORT or unix:///PATH`;
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d*))?$/.exec(rest);
  if (v6) {
    host = v6[1] ?? '';
    portText = v6[2];
  } else if (ipVersion(rest) === 6) {
    host = rest;
  } else {
    const i = rest.lastIndexOf(':');
    if (i >= 0) {
      host = rest.slice(0, i);
      portText = rest.slice(i + 1);
    } else {
      host = rest;
    }
  }
  if (host === '') return `${s}: missing host`;
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) return `${s}: port must be a number`;
    port = Number(portText);
  }
  if (!(port >= 1 && port <= 65535)) return `${s}: port must be between 1 and 65535`;
  return { kind: 'udp', host, port };
}

/**
 * Datadog's tag rules ("Getting Started with Tags", the agent's NormalizeTag):
 * lower case; starts with a letter; letters (any script), digits, `_ - : . /`
 * allowed, anything else becomes `_` (runs of `_` collapse, trailing `_` go);
 * at most 200 characters; a tag cannot end with a colon (`env:` says
 * nothing and would be stored as a key without a value). The wire format can
 * then never be broken by a tag (no `,` `|` `#` or newline). Returns '' for a
 * tag with nothing left.
 */
export function sanitizeTag(tag: string): string {
  const lower = tag.toLowerCase();
  let out = '';
  let started = false;
  for (const ch of lower) {
    if (!started) {
      if (!/\p{L}/u.test(ch)) continue;
      started = true;
    }
    if (/[\p{L}\p{N}_\-:./]/u.test(ch)) {
      out += ch;
    } else if (!out.endsWith('_')) {
      out += '_';
    }
  }
  out = out.replace(/[_:]+$/, '');
  const chars = Array.from(out);
  if (chars.length > MAX_TAG_LENGTH)
    out = chars
      .slice(0, MAX_TAG_LENGTH)
      .join('')
      .replace(/[_:]+$/, '');
  return out;
}

export function sanitizeTags(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) {
    const s = sanitizeTag(t);
    if (s !== '') out.push(s);
  }
  return out;
}

/**
 * Milliseconds with nanosecond resolution, no exponent, no trailing zeros:
 * 74.306703125 -> "74.306703", 72.322 -> "72.322", 3 -> "3".
 */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '0';
  if (Number.isInteger(v)) return String(v);
  const fixed = v.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return fixed === '-0' ? '0' : fixed;
}

export type MetricType = 'g' | 'c';

/** `name:value|type|#tag,tag` (tags must already be sanitised). */
export function encodeMetric(name: string, value: number, type: MetricType, tags: readonly string[]): string {
  const t = tags.length > 0 ? `|#${tags.join(',')}` : '';
  return `${name}:${formatValue(value)}|${type}${t}`;
}

export const enum ServiceCheckStatus {
  OK = 0,
  WARNING = 1,
  CRITICAL = 2,
  UNKNOWN = 3,
}

/** `_sc|name|status|#tags|m:message`; `m:` must come last, newlines are escaped (DogStatsD service check format). */
export function encodeServiceCheck(name: string, status: ServiceCheckStatus, tags: readonly string[], message?: string): string {
  let s = `_sc|${name}|${status}`;
  if (tags.length > 0) s += `|#${tags.join(',')}`;
  if (message !== undefined && message !== '') s += `|m:${message.replace(/\r?\n/g, '\\n').replace(/m:/g, 'm\\:')}`;
  return s;
}

/** Something that sends one datagram; errors are reported, never thrown. */
interface Transport {
  send(buf: Buffer, done: (err?: Error) => void): void;
  close(): void;
}

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error & { code?: unknown }) => void): void;
  on(event: 'error', cb: (err: Error) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram'): UnixDgramSocket;
}

/** Loads the optional `unix-dgram` addon; undefined when it did not install. */
function loadUnixDgram(): UnixDgramModule | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('unix-dgram') as UnixDgramModule;
  } catch {
    return undefined;
  }
}

export function unixDatagramsAvailable(): boolean {
  return loadUnixDgram() !== undefined;
}

/** unix-dgram reports errors as negative errno numbers; give them their names. */
function errnoName(code: unknown): string {
  if (typeof code === 'number') {
    const n = Math.abs(code);
    for (const [name, value] of Object.entries(os.constants.errno)) if (value === n) return name;
    if (code === 1) return 'EAGAIN';
    return `errno ${n}`;
  }
  return String(code);
}

class UnixTransport implements Transport {
  private readonly sock: UnixDgramSocket;

  constructor(
    mod: UnixDgramModule,
    private readonly path: string,
    private readonly onAsyncError: (err: Error) => void,
  ) {
    this.sock = mod.createSocket('unix_dgram');
    this.sock.on('error', (err) => this.onAsyncError(err));
  }

  send(buf: Buffer, done: (err?: Error) => void): void {
    // sendto(2) each time rather than connect(2): the agent recreates its
    // socket file on restart and a connected socket would stay dead.
    this.sock.send(buf, 0, buf.length, this.path, (err) => {
      if (err) {
        const e = new Error(errnoName((err as { code?: unknown }).code)) as Error & { code?: string };
        e.code = errnoName((err as { code?: unknown }).code);
        done(e);
      } else {
        done();
      }
    });
  }

  close(): void {
    try {
      this.sock.close();
    } catch {
      // already closed
    }
  }
}

class UdpTransport implements Transport {
  private sock: dgram.Socket | undefined;
  private connecting: Promise<dgram.Socket> | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onAsyncError: (err: Error) => void,
  ) {}

  /**
   * A connected socket (connect(2) on UDP, as datadog-go's net.DialUDP): the
   * kernel then reports ICMP port-unreachable as ECONNREFUSED, so a missing
   * agent shows up in the error counter instead of vanishing silently.
   */
  private open(): Promise<dgram.Socket> {
    if (this.sock) return Promise.resolve(this.sock);
    if (!this.connecting) {
      this.connecting = new Promise<dgram.Socket>((resolve, reject) => {
        const family = ipVersion(this.host);
        const withAddress = (address: string, fam: number): void => {
          const sock = dgram.createSocket(fam === 6 ? 'udp6' : 'udp4');
          sock.on('error', (err) => this.onAsyncError(err));
          sock.connect(this.port, address, () => {
            sock.removeAllListeners('connect');
            this.sock = sock;
            resolve(sock);
          });
        };
        if (family !== 0) {
          withAddress(this.host, family);
        } else {
          dns.lookup(this.host, (err, address, fam) => {
            if (err) reject(err);
            else withAddress(address, fam);
          });
        }
      }).finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  send(buf: Buffer, done: (err?: Error) => void): void {
    this.open().then(
      (sock) => sock.send(buf, (err) => done(err ?? undefined)),
      (err: Error) => done(err),
    );
  }

  close(): void {
    if (this.sock) {
      try {
        this.sock.close();
      } catch {
        // already closed
      }
      this.sock = undefined;
    }
  }
}

export interface StatsdClientOptions {
  target: StatsdTarget;
  logger?: Logger;
  /** Override the datagram limit (tests); defaults by transport. */
  maxDatagram?: number;
  /** Minimum milliseconds between two logged send errors. Default 60000. */
  errorLogInterval?: number;
}

export interface StatsdClientStats {
  /** Datagrams handed to the kernel successfully. */
  datagrams: number;
  /** Metric, service check lines queued. */
  lines: number;
  bytes: number;
  /** Send failures (unreachable, refused, socket missing, congestion, DNS). */
  errors: number;
  /** Lines dropped because a single line exceeded the datagram limit. */
  dropped: number;
}

/**
 * Buffers lines and packs as many as fit into one datagram, separated by
 * newlines, never more than the transport's limit. Call flush() after a
 * report; the returned promise settles once every datagram was handed to the
 * kernel or failed.
 */
export class StatsdClient {
  readonly target: StatsdTarget;
  readonly maxDatagram: number;
  private readonly transport: Transport;
  private readonly logger: Logger | undefined;
  private readonly errorLogInterval: number;
  private buffer: string[] = [];
  private bufferBytes = 0;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private closed = false;
  private readonly counters: StatsdClientStats = { datagrams: 0, lines: 0, bytes: 0, errors: 0, dropped: 0 };

  constructor(options: StatsdClientOptions) {
    this.target = options.target;
    this.logger = options.logger;
    this.errorLogInterval = options.errorLogInterval ?? 60_000;
    const onAsync = (err: Error): void => this.recordError(err);
    if (options.target.kind === 'udp') {
      this.maxDatagram = options.maxDatagram ?? MAX_UDP_DATAGRAM;
      this.transport = new UdpTransport(options.target.host, options.target.port, onAsync);
    } else {
      this.maxDatagram = options.maxDatagram ?? MAX_UDS_DATAGRAM;
      const mod = loadUnixDgram();
      if (mod === undefined) {
        throw new Error(
          `DogStatsD over ${describeTarget(options.target)} needs the optional package unix-dgram, which is not installed ` +
            '(it is compiled at install time): reinstall passive-rtt where a C++ compiler is available, or send over UDP (statsd_ip/statsd_port, --statsd HOST:PORT)',
        );
      }
      this.transport = new UnixTransport(mod, options.target.path, onAsync);
    }
  }

  stats(): StatsdClientStats {
    return { ...this.counters };
  }

  gauge(name: string, value: number, tags: readonly string[]): void {
    this.line(encodeMetric(name, value, 'g', tags));
  }

  count(name: string, value: number, tags: readonly string[]): void {
    this.line(encodeMetric(name, value, 'c', tags));
  }

  serviceCheck(name: string, status: ServiceCheckStatus, tags: readonly string[], message?: string): void {
    this.line(encodeServiceCheck(name, status, tags, message));
  }

  /** Queues one protocol line; sends the buffer first when the line would not fit. */
  line(text: string): void {
    if (this.closed) return;
    const bytes = Buffer.byteLength(text);
    if (bytes > this.maxDatagram) {
      this.counters.dropped++;
      this.logger?.limited(
        'warn',
        'statsd-oversize',
        this.errorLogInterval,
        `DogStatsD line of ${bytes} bytes exceeds the ${this.maxDatagram}-byte datagram limit and was dropped: ${text.slice(0, 120)}…`,
      );
      return;
    }
    const sep = this.buffer.length > 0 ? 1 : 0;
    if (this.bufferBytes + sep + bytes > this.maxDatagram) this.sendBuffer();
    this.bufferBytes += (this.buffer.length > 0 ? 1 : 0) + bytes;
    this.buffer.push(text);
    this.counters.lines++;
  }

  /** Sends what is buffered; resolves when every datagram so far has been sent or failed. */
  flush(): Promise<void> {
    this.sendBuffer();
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Flushes (bounded by `timeoutMs`) and closes the socket. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.flush(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (this.target.kind === 'udp' && this.counters.datagrams + this.counters.errors > 0) {
      // An ICMP port-unreachable for the last datagram comes back as an
      // asynchronous socket error a moment later; let it be counted.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    this.closed = true;
    this.transport.close();
  }

  private sendBuffer(): void {
    if (this.buffer.length === 0 || this.closed) return;
    const buf = Buffer.from(this.buffer.join('\n'));
    this.buffer = [];
    this.bufferBytes = 0;
    this.inFlight++;
    this.transport.send(buf, (err) => {
      if (err) this.recordError(err);
      else {
        this.counters.datagrams++;
        this.counters.bytes += buf.length;
      }
      this.inFlight--;
      if (this.inFlight === 0) {
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      }
    });
  }

  private recordError(err: Error): void {
    this.counters.errors++;
    const code = (err as Error & { code?: unknown }).code;
    const why = typeof code === 'string' ? code : err.message;
    this.logger?.limited(
      'warn',
      'statsd-send',
      this.errorLogInterval,
      `cannot send to DogStatsD at ${describeTarget(this.target)} (${why}); capture goes on and metrics are dropped until the agent is reachable ` +
        `(${this.counters.errors} errors so far; check that the Datadog Agent runs with DogStatsD enabled on that address)`,
    );
  }
}
