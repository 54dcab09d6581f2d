/**
 * The go-metro whitelist: `ips` (addresses, and CIDR blocks as an
 * extension) and `hosts` (names resolved at start and again periodically),
 * turned into the BPF filter go-metro compiled, and into names for tags
 * (forward names of `hosts`, reverse lookups of `ips`).
 */
import dns from 'node:dns';
import net from 'node:net';
import os from 'node:os';
import type { Logger } from './logger';

export type WhitelistEntry = { kind: 'host'; address: string } | { kind: 'net'; address: string; prefix: number };

/**
 * Canonical text of an IP address (IPv6 compressed and lower case, an
 * IPv4-mapped IPv6 address kept as written by the URL parser), so that the
 * same address written two ways compares equal.
 */
export function canonicalIp(ip: string): string {
  const v = net.isIP(ip);
  if (v === 4)
    return ip
      .split('.')
      .map((o) => String(Number(o)))
      .join('.');
  if (v === 6) {
    const zone = ip.indexOf('%');
    const bare = zone >= 0 ? ip.slice(0, zone) : ip;
    try {
      return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
      return bare.toLowerCase();
    }
  }
  return ip;
}

/** An address or CIDR block from `ips`; a string error when it is neither. */
export function parseWhitelistEntry(text: string): WhitelistEntry | string {
  const s = text.trim();
  const slash = s.indexOf('/');
  if (slash < 0) {
    if (net.isIP(s) === 0) return `${JSON.stringify(text)} is not an IP address or CIDR block (names go under hosts:)`;
    return { kind: 'host', address: canonicalIp(s) };
  }
  const addr = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  const v = net.isIP(addr);
  if (v === 0 || !/^\d+$/.test(bits)) return `${JSON.stringify(text)} is not a CIDR block like 10.0.0.0/8 or 2001:db8::/32`;
  const prefix = Number(bits);
  if (prefix > (v === 4 ? 32 : 128)) return `${JSON.stringify(text)}: prefix length must be at most ${v === 4 ? 32 : 128}`;
  if (prefix === (v === 4 ? 32 : 128)) return { kind: 'host', address: canonicalIp(addr) };
  // libpcap refuses a block with host bits set ("non-network bits set"), and
  // only when the capture starts; say it here, with the block that was meant.
  const network = networkAddress(addr, prefix);
  if (network !== canonicalIp(addr)) {
    return `${JSON.stringify(text)} has bits set after the /${prefix} prefix; write the block as ${network}/${prefix} (or the single address without /${prefix})`;
  }
  return { kind: 'net', address: network, prefix };
}

/** The 16 (IPv6) or 4 (IPv4) bytes of an address that net.isIP() accepts. */
function addressBytes(ip: string): number[] {
  if (net.isIP(ip) === 4) return ip.split('.').map(Number);
  const bare = canonicalIp(ip);
  const [head = '', tail] = bare.split('::') as [string, string | undefined];
  const words = (part: string): number[] => {
    const out: number[] = [];
    for (const w of part === '' ? [] : part.split(':')) {
      if (w.includes('.')) {
        const b = w.split('.').map(Number);
        out.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0));
      } else {
        out.push(parseInt(w, 16));
      }
    }
    return out;
  };
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return all.flatMap((w) => [w >> 8, w & 0xff]);
}

/** The address with every bit after `prefix` cleared, in canonical text. */
export function networkAddress(ip: string, prefix: number): string {
  const bytes = addressBytes(ip).map((b, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  if (bytes.length === 4) return bytes.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return canonicalIp(words.join(':'));
}

/**
 * Why `name` cannot be a whitelisted host name (RFC 1123 labels: letters,
 * digits, hyphens, dots; underscores too, as resolvers accept them), or
 * undefined when it can.
 */
export function hostNameProblem(name: string): string | undefined {
  const h = name.trim();
  if (net.isIP(h) !== 0) return `${h} is an address, not a host name`;
  if (h.length > 253 || !/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/.test(h)) {
    return `${JSON.stringify(name)} is not a host name (letters, digits, "-" and "." only, e.g. app.example.com)`;
  }
  return undefined;
}

/** go-metro's default base filter (its `-f` flag). */
export const DEFAULT_BASE_FILTER = 'tcp';

/**
 * The filter exactly as go-metro built it (sniff.go): the base filter, then
 * ` and not host 127.0.0.1`, then ` and (host A or host B …)` when there is
 * a whitelist. CIDR blocks become `net A/N` (pcap-filter(7)).
 */
export function buildFilter(base: string, entries: readonly WhitelistEntry[]): string {
  let f = `${base} and not host 127.0.0.1`;
  if (entries.length > 0) {
    const terms = entries.map((e) => (e.kind === 'host' ? `host ${e.address}` : `net ${e.address}/${e.prefix}`));
    f += ` and (${terms.join(' or ')})`;
  }
  return f;
}

/**
 * go-metro refused a whitelist made only of the host's own addresses (it
 * would measure nothing: RTT needs a remote end). CIDR blocks never count as
 * local. An empty whitelist is not "only local".
 */
export function onlyLocalAddresses(entries: readonly WhitelistEntry[], local: readonly string[]): boolean {
  if (entries.length === 0) return false;
  const mine = new Set(local.map(canonicalIp));
  mine.add('127.0.0.1');
  mine.add('::1');
  return entries.every((e) => e.kind === 'host' && mine.has(e.address));
}

/** Addresses of a live interface (every interface for `any`), from the OS. */
export function interfaceAddresses(iface: string): string[] {
  const all = os.networkInterfaces();
  const out: string[] = [];
  for (const [name, list] of Object.entries(all)) {
    if (iface !== 'any' && name !== iface) continue;
    for (const a of list ?? []) out.push(canonicalIp(a.address));
  }
  return out;
}

export interface Resolver {
  /** Forward lookup of a name: every address (IPv4 and IPv6), like getaddrinfo(3). */
  lookup(name: string): Promise<string[]>;
  /** Reverse lookup of an address: a name or undefined. */
  reverse(address: string): Promise<string | undefined>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => {
    if (timer) clearTimeout(timer);
  });
}

/**
 * The system resolver: getaddrinfo(3) and getnameinfo(3) through libuv, so
 * /etc/hosts and nsswitch are honoured as they were by go-metro's
 * net.LookupHost/LookupAddr. Each call is bounded by `timeoutMs`.
 */
export function systemResolver(timeoutMs = 5000): Resolver {
  return {
    lookup: (name) =>
      withTimeout(
        dns.promises.lookup(name, { all: true }).then((list) => list.map((a) => canonicalIp(a.address))),
        timeoutMs,
        `lookup of ${name}`,
      ),
    reverse: (address) =>
      withTimeout(
        dns.promises.lookupService(address, 0).then(
          (r) => (r.hostname !== '' && net.isIP(r.hostname) === 0 ? r.hostname : undefined),
          () => undefined,
        ),
        timeoutMs,
        `reverse lookup of ${address}`,
      ).catch(() => undefined),
  };
}

export interface ResolvedWhitelist {
  /** Filter entries: `ips` then the addresses of `hosts`, without duplicates. */
  entries: WhitelistEntry[];
  /** Address -> name for tags. */
  names: Map<string, string>;
  /** Names in `hosts` that did not resolve this time. */
  unresolved: string[];
}

/** A whitelisted name that keeps failing to resolve is logged at most this often. */
export const UNRESOLVED_LOG_INTERVAL_MS = 60 * 60 * 1000;

/** The whitelist of one instance. */
export class Whitelist {
  private readonly ipEntries: WhitelistEntry[];
  /** Last good resolution of each name: a name that fails later keeps its addresses. */
  private readonly hostAddrs = new Map<string, string[]>();
  private readonly reverseNames = new Map<string, string>();
  private current: ResolvedWhitelist | undefined;

  constructor(
    ips: readonly string[],
    readonly hosts: readonly string[],
    private readonly resolver: Resolver = systemResolver(),
    private readonly logger?: Logger,
    private readonly reverseLookups = true,
  ) {
    this.ipEntries = [];
    for (const ip of ips) {
      const e = parseWhitelistEntry(ip);
      if (typeof e === 'string') throw new Error(e);
      this.ipEntries.push(e);
    }
  }

  get empty(): boolean {
    return this.ipEntries.length === 0 && this.hosts.length === 0;
  }

  /** Addresses (not CIDR blocks) of `ips`: passed to the monitor as `exclude` for offline local detection. */
  get ipAddresses(): string[] {
    return this.ipEntries.filter((e) => e.kind === 'host').map((e) => e.address);
  }

  get resolved(): ResolvedWhitelist | undefined {
    return this.current;
  }

  /**
   * Resolves `hosts` (and, the first time, reverse names of `ips`). A name
   * that does not resolve is logged and skipped; the rest keeps working.
   * Returns true when the set of filter entries changed.
   */
  async resolve(): Promise<boolean> {
    const first = this.current === undefined;
    const unresolved: string[] = [];
    await Promise.all(
      this.hosts.map(async (h) => {
        try {
          const addrs = await this.resolver.lookup(h);
          if (addrs.length === 0) throw new Error('no address');
          const before = this.hostAddrs.get(h);
          if (before === undefined || before.join(',') !== addrs.join(',')) this.logger?.info(`${h} resolves to ${addrs.join(', ')}`);
          this.hostAddrs.set(h, addrs);
          this.logger?.unlimit(`unresolved-${h}`);
        } catch (err) {
          unresolved.push(h);
          const kept = this.hostAddrs.get(h);
          // Re-resolution runs every few minutes: a name that stays broken is
          // said again hourly, not at every refresh.
          this.logger?.limited(
            'error',
            `unresolved-${h}`,
            UNRESOLVED_LOG_INTERVAL_MS,
            `cannot resolve whitelisted host ${h}: ${(err as Error).message}; ` +
              (kept ? `keeping its previous addresses ${kept.join(', ')}` : 'it is left out of the filter until it resolves') +
              ' (check the name and the DNS configuration)',
          );
        }
      }),
    );
    if (first && this.reverseLookups) {
      await Promise.all(
        this.ipEntries.map(async (e) => {
          if (e.kind !== 'host') return;
          const name = await this.resolver.reverse(e.address);
          if (name !== undefined) {
            this.reverseNames.set(e.address, name);
            this.logger?.info(`${e.address} is named ${name}`);
          }
        }),
      );
    }
    const entries: WhitelistEntry[] = [];
    const seen = new Set<string>();
    const add = (e: WhitelistEntry): void => {
      const key = e.kind === 'host' ? e.address : `${e.address}/${e.prefix}`;
      if (seen.has(key)) return;
      seen.add(key);
      entries.push(e);
    };
    for (const e of this.ipEntries) add(e);
    const names = new Map(this.reverseNames);
    for (const h of this.hosts) {
      for (const a of this.hostAddrs.get(h) ?? []) {
        add({ kind: 'host', address: a });
        names.set(a, h);
      }
    }
    const prev = this.current;
    this.current = { entries, names, unresolved };
    if (prev === undefined) return true;
    const key = (list: WhitelistEntry[]): string =>
      list
        .map((e) => (e.kind === 'host' ? e.address : `${e.address}/${e.prefix}`))
        .sort()
        .join(',');
    return key(prev.entries) !== key(entries);
  }
}
