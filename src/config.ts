/**
 * go-metro's YAML configuration (`conf.d/go-metro.yaml`), read with the
 * `yaml` package so that every problem names the file, the key path and
 * the line: `go-metro.yaml: instances[1].ips[0]: "a.b" is not an IP
 * address …, line 7`.
 *
 * The file is parsed as YAML 1.1, like go-metro's gopkg.in/yaml.v2, so
 * `log_to_file: yes` still means true. go-metro named the instance list
 * `config:`; the Agent's convention (and the documented example) is
 * `instances:`. Both are accepted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { RttError } from './errors';
import { parseLogLevel } from './logger';
import type { LogLevel } from './logger';
import { parseStatsdAddress } from './statsd';
import type { StatsdTarget } from './statsd';
import { hostNameProblem, parseWhitelistEntry } from './whitelist';
import { ipVersion } from './ip';

/** go-metro's defaults (metro.go, go-metro.yaml.example). */
export const DEFAULTS = {
  configFile: '/etc/dd-agent/checks.d/go-metro.yaml',
  logFile: '/var/log/datadog/go-metro.log',
  snaplen: 512,
  idleTtl: 300,
  expTtl: 60,
  statsdHost: '127.0.0.1',
  statsdPort: 8125,
  logLevel: 'info' as LogLevel,
  dnsRefreshInterval: 300,
  logMaxBytes: 10 * 1024 * 1024,
  logMaxFiles: 5,
} as const;

/**
 * Bounds of the command-line flags, shared with the configuration keys where
 * both exist (threads is a flag only). A snaplen of SNAPLEN_ALL_OPTIONS keeps
 * every TCP option behind the largest link header with two VLAN tags and IPv4
 * with options (22 + 60 + 60).
 */
export const LIMITS = {
  snaplen: { integer: true, min: 68, max: 262144 },
  bufferSize: { integer: true, min: 65536, max: 2 ** 31 - 1 },
  threads: { integer: true, min: 1, max: 2 },
} as const;
export const SNAPLEN_ALL_OPTIONS = 144;

export interface InitConfig {
  snaplen: number;
  idleTtl: number;
  expTtl: number;
  /** As written in the file (undefined when absent: the environment may then decide). */
  statsdIp?: string;
  statsdPort?: number;
  /** Extension: `udp://host:port` or `unix:///path`. */
  statsdUrl?: StatsdTarget;
  logToFile: boolean;
  logLevel: LogLevel;
  /** Extension: the log file (go-metro only had `-log`). */
  logFile?: string;
  logMaxBytes: number;
  logMaxFiles: number;
  /** Extensions. */
  reportInterval?: number;
  extendedMetrics: boolean;
  telemetry: boolean;
  soften?: boolean;
  maxFlows?: number;
  bufferSize?: number;
  filter?: string;
  dnsRefreshInterval: number;
}

export interface InstanceConfig {
  /** Position in the list, for messages (`instances[1]`). */
  index: number;
  /** `instances[1]` or `config[1]`. */
  where: string;
  line?: number;
  interface: string;
  /** Absolute path of the capture when interface is `file`. */
  pcap?: string;
  tags: string[];
  ips: string[];
  hosts: string[];
  localIps: string[];
  sample: boolean;
  sampleDuration?: number;
  sampleInterval?: number;
  extendedMetrics?: boolean;
}

export interface MetroConfig {
  /** The file as given (for messages). */
  file: string;
  init: InitConfig;
  instances: InstanceConfig[];
  /** Unknown keys and other non-fatal remarks, each once, with file, key and line. */
  warnings: string[];
}

export const FILE_INTERFACE = 'file';

const INIT_KEYS = new Set([
  'snaplen',
  'idle_ttl',
  'exp_ttl',
  'expired_ttl',
  'statsd_ip',
  'statsd_port',
  'statsd_url',
  'log_to_file',
  'log_level',
  'log_file',
  'log_max_bytes',
  'log_max_files',
  'report_interval',
  'extended_metrics',
  'telemetry',
  'soften',
  'max_flows',
  'buffer_size',
  'filter',
  'dns_refresh_interval',
]);

const INSTANCE_KEYS = new Set(['interface', 'pcap', 'tags', 'ips', 'hosts', 'local_ips', 'sample', 'sample_duration', 'sample_interval', 'extended_metrics']);

/** Collects problems while walking the document; all are reported at once. */
class Walker {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
    readonly text: string,
  ) {}

  lineOf(node: YamlNode | null | undefined): number | undefined {
    const r = node?.range;
    if (!r) return undefined;
    return this.lines.linePos(r[0]).line;
  }

  at(where: string, line: number | undefined, msg: string): string {
    return `${this.file}: ${where}: ${msg}${line !== undefined ? `, line ${line}` : ''}`;
  }

  error(where: string, node: YamlNode | null | undefined, msg: string, fallbackLine?: number): void {
    this.errors.push(this.at(where, this.lineOf(node) ?? fallbackLine, msg));
  }

  warn(where: string, node: YamlNode | null | undefined, msg: string): void {
    this.warnings.push(this.at(where, this.lineOf(node), msg));
  }

  resolve(node: unknown): YamlNode | null {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return (node.resolve(this.doc) as YamlNode | undefined) ?? null;
    return node as YamlNode;
  }

  /** The pairs of a mapping node with string keys. */
  pairs(map: YAMLMap): Array<{ key: string; keyNode: YamlNode | null; value: YamlNode | null; pair: Pair }> {
    const out = [];
    for (const pair of map.items) {
      const keyNode = this.resolve(pair.key);
      const key = isScalar(keyNode) ? String(keyNode.value) : String(pair.key);
      out.push({ key, keyNode, value: this.resolve(pair.value), pair });
    }
    return out;
  }

  isNull(node: YamlNode | null): boolean {
    return node === null || (isScalar(node) && node.value === null);
  }

  number(where: string, node: YamlNode | null, opts: { integer?: boolean; min?: number; max?: number; minExclusive?: number }): number | undefined {
    if (this.isNull(node)) return undefined;
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.error(where, node, `expected a number, got ${this.describe(node)}`);
      return undefined;
    }
    const v = node.value;
    if (opts.integer && !Number.isInteger(v)) {
      this.error(where, node, `expected a whole number, got ${v}`);
      return undefined;
    }
    if (opts.min !== undefined && v < opts.min) {
      this.error(where, node, `must be at least ${opts.min}, got ${v}`);
      return undefined;
    }
    if (opts.minExclusive !== undefined && v <= opts.minExclusive) {
      this.error(where, node, `must be greater than ${opts.minExclusive}, got ${v}`);
      return undefined;
    }
    if (opts.max !== undefined && v > opts.max) {
      this.error(where, node, `must be at most ${opts.max}, got ${v}`);
      return undefined;
    }
    return v;
  }

  bool(where: string, node: YamlNode | null): boolean | undefined {
    if (this.isNull(node)) return undefined;
    if (!isScalar(node) || typeof node.value !== 'boolean') {
      this.error(where, node, `expected true or false, got ${this.describe(node)}`);
      return undefined;
    }
    return node.value;
  }

  /** A scalar as text: the source for plain scalars, so `10:30` stays `10:30` whatever YAML 1.1 makes of it. */
  scalarText(node: YamlNode): string | undefined {
    if (!isScalar(node) || node.value === null) return undefined;
    if (typeof node.value === 'string') return node.value;
    if (node.type === 'PLAIN' && node.range) return this.text.slice(node.range[0], node.range[1]).trim();
    if (typeof node.value === 'number' || typeof node.value === 'boolean') return String(node.value);
    return undefined;
  }

  string(where: string, node: YamlNode | null): string | undefined {
    if (this.isNull(node)) return undefined;
    const s = node === null ? undefined : this.scalarText(node);
    if (s === undefined) {
      this.error(where, node, `expected a string, got ${this.describe(node)}`);
      return undefined;
    }
    return s;
  }

  stringList(where: string, node: YamlNode | null): Array<{ text: string; node: YamlNode; where: string }> {
    if (this.isNull(node)) return [];
    if (!isSeq(node)) {
      this.error(where, node, `expected a list (one item per line starting with "- "), got ${this.describe(node)}`);
      return [];
    }
    const out = [];
    for (let i = 0; i < node.items.length; i++) {
      const item = this.resolve(node.items[i]);
      const w = `${where}[${i}]`;
      const s = item === null ? undefined : this.scalarText(item);
      if (s === undefined || s === '') {
        this.error(w, item, `expected a string, got ${this.describe(item)}`, this.lineOf(node));
        continue;
      }
      out.push({ text: s, node: item as YamlNode, where: w });
    }
    return out;
  }

  describe(node: YamlNode | null): string {
    if (node === null) return 'nothing';
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) {
      if (node.value === null) return 'nothing';
      const v: unknown = node.value;
      if (typeof v === 'string') return JSON.stringify(v);
      if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
      // A YAML 1.1 timestamp, binary, ...: say what it is rather than "[object Object]".
      return v instanceof Date ? `the date ${v.toISOString()}` : 'an unsupported value';
    }
    return 'an unsupported value';
  }
}

/** Parses the text of a go-metro configuration; throws RttError CONFIG_INVALID listing every problem. */
export function parseConfig(text: string, file: string, baseDir = path.dirname(path.resolve(file))): MetroConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const label = file;
  if (doc.errors.length > 0) {
    const msgs = doc.errors.map((e) => {
      const line = e.linePos?.[0]?.line ?? (e.pos ? lines.linePos(e.pos[0]).line : undefined);
      const first = e.message.split('\n')[0] ?? e.message;
      return `${label}: YAML syntax: ${first}${line !== undefined ? `, line ${line}` : ''}`;
    });
    throw new RttError('CONFIG_INVALID', `${msgs.join('\n')}\nFix the YAML syntax (indent with spaces, "key: value", lists with "- ").`);
  }
  const w = new Walker(label, doc, lines, text);
  const root = w.resolve(doc.contents);
  if (w.isNull(root) || !isMap(root)) {
    throw new RttError('CONFIG_INVALID', `${label}: expected a mapping with init_config and instances, got ${w.describe(root)}; see examples/go-metro.yaml`);
  }

  const init: InitConfig = {
    snaplen: DEFAULTS.snaplen,
    idleTtl: DEFAULTS.idleTtl,
    expTtl: DEFAULTS.expTtl,
    logToFile: false,
    logLevel: DEFAULTS.logLevel,
    logMaxBytes: DEFAULTS.logMaxBytes,
    logMaxFiles: DEFAULTS.logMaxFiles,
    extendedMetrics: false,
    telemetry: true,
    dnsRefreshInterval: DEFAULTS.dnsRefreshInterval,
  };
  let instancesNode: YamlNode | null = null;
  let instancesKey = 'instances';
  let instancesKeyNode: YamlNode | null = null;

  for (const { key, keyNode, value } of w.pairs(root)) {
    if (key === 'init_config') {
      if (w.isNull(value)) continue;
      if (!isMap(value)) {
        w.error('init_config', value, `expected a mapping, got ${w.describe(value)}`);
        continue;
      }
      readInit(w, value, init, baseDir);
    } else if (key === 'instances' || key === 'config') {
      if (instancesKeyNode !== null) {
        w.error(key, keyNode, `both "instances" and "config" are present; keep one (go-metro read "config", the Agent convention is "instances")`);
        continue;
      }
      instancesKey = key;
      instancesKeyNode = keyNode;
      instancesNode = value;
    } else {
      w.warn(key, keyNode, 'unknown key ignored');
    }
  }

  const instances: InstanceConfig[] = [];
  if (instancesKeyNode === null || w.isNull(instancesNode)) {
    w.error(
      instancesKey,
      instancesKeyNode,
      'no instances configured: add at least one, e.g. "instances:\\n  - interface: eth0\\n    ips: [10.0.0.5]"',
      instancesKeyNode === null ? undefined : w.lineOf(instancesKeyNode),
    );
  } else if (!isSeq(instancesNode)) {
    w.error(instancesKey, instancesNode, `expected a list of instances (each starting with "- interface:"), got ${w.describe(instancesNode)}`);
  } else if (instancesNode.items.length === 0) {
    w.error(instancesKey, instancesNode, 'no instances configured: add at least one "- interface: eth0"');
  } else {
    instancesNode.items.forEach((raw, i) => {
      const inst = readInstance(w, w.resolve(raw), `${instancesKey}[${i}]`, i, baseDir, w.lineOf(instancesNode));
      if (inst) instances.push(inst);
    });
  }

  if (w.errors.length > 0) {
    throw new RttError('CONFIG_INVALID', w.errors.join('\n'));
  }
  return { file: label, init, instances, warnings: w.warnings };
}

function readInit(w: Walker, map: YAMLMap, init: InitConfig, baseDir: string): void {
  let expSeen: { key: string; value: number } | undefined;
  for (const { key, keyNode, value } of w.pairs(map)) {
    const where = `init_config.${key}`;
    switch (key) {
      case 'snaplen': {
        const v = w.number(where, value, LIMITS.snaplen);
        if (v !== undefined) {
          init.snaplen = v;
          if (v < SNAPLEN_ALL_OPTIONS) w.warn(where, value, `snaplen ${v} may cut TCP options (timestamps); ${SNAPLEN_ALL_OPTIONS} or more keeps all of them`);
        }
        break;
      }
      case 'idle_ttl': {
        const v = w.number(where, value, { minExclusive: 0 });
        if (v !== undefined) init.idleTtl = v;
        break;
      }
      case 'exp_ttl':
      case 'expired_ttl': {
        // go-metro documented exp_ttl but read expired_ttl (config.go); both work here.
        const v = w.number(where, value, { minExclusive: 0 });
        if (v !== undefined) {
          if (expSeen !== undefined && expSeen.value !== v) {
            w.warn(where, value, `both ${expSeen.key} (${expSeen.value}) and ${key} (${v}) are set; using ${key}`);
          }
          expSeen = { key, value: v };
          init.expTtl = v;
        }
        break;
      }
      case 'statsd_ip': {
        const v = w.string(where, value);
        if (v !== undefined) {
          const h = v.trim();
          const port = /^(.+):(\d+)$/.exec(h);
          if (ipVersion(h) !== 0 || (h !== '' && hostNameProblem(h) === undefined)) {
            init.statsdIp = h;
          } else if (port && (ipVersion(port[1] ?? '') === 4 || hostNameProblem(port[1] ?? '') === undefined)) {
            w.error(where, value, `${JSON.stringify(v)}: give the address alone and the port as statsd_port: ${port[2]} (or statsd_url: udp://${h})`);
          } else {
            w.error(where, value, `expected an IP address or host name, got ${JSON.stringify(v)}`);
          }
        }
        break;
      }
      case 'statsd_port': {
        const v = w.number(where, value, { integer: true, min: 1, max: 65535 });
        if (v !== undefined) init.statsdPort = v;
        break;
      }
      case 'statsd_url': {
        const v = w.string(where, value);
        if (v !== undefined) {
          const t = parseStatsdAddress(v);
          if (typeof t === 'string') w.error(where, value, t);
          else init.statsdUrl = t;
        }
        break;
      }
      case 'log_to_file': {
        const v = w.bool(where, value);
        if (v !== undefined) init.logToFile = v;
        break;
      }
      case 'log_level': {
        const v = w.string(where, value);
        if (v !== undefined) {
          const lvl = parseLogLevel(v);
          if (lvl === undefined) {
            w.warn(where, value, `unknown log level ${JSON.stringify(v)}, using info (levels: trace, debug, info, warn, error, critical)`);
          } else {
            init.logLevel = lvl;
          }
        }
        break;
      }
      case 'log_file': {
        const v = w.string(where, value);
        if (v !== undefined) init.logFile = path.resolve(baseDir, v);
        break;
      }
      case 'log_max_bytes': {
        const v = w.number(where, value, { integer: true, min: 1024 });
        if (v !== undefined) init.logMaxBytes = v;
        break;
      }
      case 'log_max_files': {
        const v = w.number(where, value, { integer: true, min: 0, max: 100 });
        if (v !== undefined) init.logMaxFiles = v;
        break;
      }
      case 'report_interval': {
        const v = w.number(where, value, { minExclusive: 0 });
        if (v !== undefined) init.reportInterval = v;
        break;
      }
      case 'extended_metrics': {
        const v = w.bool(where, value);
        if (v !== undefined) init.extendedMetrics = v;
        break;
      }
      case 'telemetry': {
        const v = w.bool(where, value);
        if (v !== undefined) init.telemetry = v;
        break;
      }
      case 'soften': {
        const v = w.bool(where, value);
        if (v !== undefined) init.soften = v;
        break;
      }
      case 'max_flows': {
        const v = w.number(where, value, { integer: true, min: 1 });
        if (v !== undefined) init.maxFlows = v;
        break;
      }
      case 'buffer_size': {
        const v = w.number(where, value, LIMITS.bufferSize);
        if (v !== undefined) init.bufferSize = v;
        break;
      }
      case 'filter': {
        const v = w.string(where, value);
        if (v !== undefined) {
          if (v.trim() === '') w.error(where, value, 'the base filter is empty; remove the key to use "tcp"');
          else init.filter = v.trim();
        }
        break;
      }
      case 'dns_refresh_interval': {
        const v = w.number(where, value, { minExclusive: 0 });
        if (v !== undefined) init.dnsRefreshInterval = v;
        break;
      }
      default:
        if (INSTANCE_KEYS.has(key)) w.warn(where, keyNode, `ignored: ${key} belongs to each instance (under instances:), not to init_config`);
        else if (!INIT_KEYS.has(key)) w.warn(where, keyNode, 'unknown key ignored');
    }
  }
}

function readInstance(w: Walker, node: YamlNode | null, where: string, index: number, baseDir: string, listLine?: number): InstanceConfig | undefined {
  if (w.isNull(node) || !isMap(node)) {
    w.error(where, node, `expected a mapping with at least "interface:", got ${w.describe(node)}`, listLine);
    return undefined;
  }
  const inst: InstanceConfig = {
    index,
    where,
    line: w.lineOf(node),
    interface: '',
    tags: [],
    ips: [],
    hosts: [],
    localIps: [],
    sample: false,
  };
  let ifaceNode: YamlNode | null = null;
  let pcapNode: YamlNode | null = null;
  const errorsBefore = w.errors.length;
  const given = new Set<string>();
  for (const { key, keyNode, value } of w.pairs(node)) {
    const k = `${where}.${key}`;
    if (!w.isNull(value)) given.add(key);
    switch (key) {
      case 'interface': {
        ifaceNode = value;
        const v = w.string(k, value);
        if (v !== undefined) inst.interface = v.trim();
        break;
      }
      case 'pcap': {
        pcapNode = value;
        const v = w.string(k, value);
        if (v !== undefined && v.trim() !== '') inst.pcap = resolvePcap(v.trim(), baseDir);
        break;
      }
      case 'tags':
        inst.tags = w.stringList(k, value).map((t) => t.text);
        break;
      case 'ips':
        for (const item of w.stringList(k, value)) {
          const e = parseWhitelistEntry(item.text);
          if (typeof e === 'string') w.error(item.where, item.node, e);
          else inst.ips.push(item.text.trim());
        }
        break;
      case 'hosts':
        for (const item of w.stringList(k, value)) {
          const h = item.text.trim();
          const problem = hostNameProblem(h);
          if (problem !== undefined) {
            w.error(item.where, item.node, ipVersion(h) !== 0 ? `${h} is an address; put it under ips:` : problem);
          } else {
            inst.hosts.push(h);
          }
        }
        break;
      case 'local_ips':
        for (const item of w.stringList(k, value)) {
          if (ipVersion(item.text.trim()) === 0) w.error(item.where, item.node, `${JSON.stringify(item.text)} is not an IP address`);
          else inst.localIps.push(item.text.trim());
        }
        break;
      case 'sample': {
        const v = w.bool(k, value);
        if (v !== undefined) inst.sample = v;
        break;
      }
      case 'sample_duration': {
        const v = w.number(k, value, { minExclusive: 0 });
        if (v !== undefined) inst.sampleDuration = v;
        break;
      }
      case 'sample_interval': {
        const v = w.number(k, value, { min: 0 });
        if (v !== undefined) inst.sampleInterval = v;
        break;
      }
      case 'extended_metrics': {
        const v = w.bool(k, value);
        if (v !== undefined) inst.extendedMetrics = v;
        break;
      }
      default:
        // The same key in every instance is still one warning per place, so
        // each can be found and fixed.
        if (INIT_KEYS.has(key)) w.warn(k, keyNode, `ignored: ${key} is a process-wide setting; move it under init_config:`);
        else if (!INSTANCE_KEYS.has(key)) w.warn(k, keyNode, 'unknown key ignored');
    }
  }
  if (inst.interface === '' && w.errors.length === errorsBefore) {
    // go-metro: "Error parsing configuration - empty iface field."
    w.error(`${where}.interface`, ifaceNode ?? node, 'missing: name the interface to capture on (e.g. eth0, any) or "file" with pcap:');
  }
  if (inst.interface === FILE_INTERFACE && inst.pcap === undefined) {
    // go-metro: "empty pcap field for file interface."
    w.error(`${where}.pcap`, pcapNode ?? node, 'required when interface is "file": give the capture file to read');
  }
  if (inst.interface !== FILE_INTERFACE && inst.pcap !== undefined) {
    w.warn(`${where}.pcap`, pcapNode, `ignored: interface is ${JSON.stringify(inst.interface)}, not "file"`);
  }
  if (inst.sample) {
    // A key that is there but wrong was reported already; only a missing one is "required".
    if (!given.has('sample_duration')) w.error(`${where}.sample_duration`, node, 'required when sample is true: seconds of capture per window');
    if (!given.has('sample_interval')) w.error(`${where}.sample_interval`, node, 'required when sample is true: seconds without capture between windows');
  }
  return inst;
}

/**
 * A relative `pcap:` is looked up beside the configuration file (so an
 * example directory works from anywhere), then in the working directory
 * (where go-metro looked).
 */
function resolvePcap(p: string, baseDir: string): string {
  if (path.isAbsolute(p)) return p;
  const beside = path.resolve(baseDir, p);
  if (fs.existsSync(beside)) return beside;
  const cwd = path.resolve(p);
  if (fs.existsSync(cwd)) return cwd;
  return beside;
}

/** Reads and parses a configuration file; CONFIG_UNREADABLE when it cannot be read. */
export function loadConfig(file: string): MetroConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix =
      code === 'ENOENT'
        ? 'create it (see examples/go-metro.yaml) or pass another with --config FILE'
        : code === 'EACCES'
          ? 'make it readable by this user (chmod/chown) or run as the agent user'
          : code === 'EISDIR'
            ? 'give the path of the YAML file, not of its directory'
            : 'check the path';
    throw new RttError('CONFIG_UNREADABLE', `cannot read configuration ${file}: ${code ?? (err as Error).message}; ${fix}`, { cause: err });
  }
  return parseConfig(text, file);
}

/** The environment variables of Datadog's clients that passive-rtt honours. */
export interface DatadogEnv {
  DD_AGENT_HOST?: string;
  DD_DOGSTATSD_PORT?: string;
  DD_DOGSTATSD_URL?: string;
  DD_DOGSTATSD_SOCKET?: string;
  DD_ENV?: string;
  DD_SERVICE?: string;
  DD_VERSION?: string;
  DD_ENTITY_ID?: string;
}

/**
 * Where DogStatsD is. Precedence: the command line, then what the file
 * writes (statsd_url, statsd_ip/statsd_port, each value on its own), then
 * the environment (DD_DOGSTATSD_URL, DD_DOGSTATSD_SOCKET, DD_AGENT_HOST /
 * DD_DOGSTATSD_PORT), then go-metro's default 127.0.0.1:8125.
 */
export function resolveStatsdTarget(init: Partial<InitConfig>, env: DatadogEnv, cli?: StatsdTarget): StatsdTarget {
  if (cli) return cli;
  if (init.statsdUrl) return init.statsdUrl;
  const wroteUdp = init.statsdIp !== undefined || init.statsdPort !== undefined;
  if (!wroteUdp) {
    const url = env.DD_DOGSTATSD_URL?.trim();
    if (url) {
      const t = parseStatsdAddress(url);
      if (typeof t === 'string') throw new RttError('CONFIG_INVALID', `DD_DOGSTATSD_URL: ${t}`);
      return t;
    }
    const sock = env.DD_DOGSTATSD_SOCKET?.trim();
    if (sock) {
      const t = parseStatsdAddress(sock.includes('://') ? sock : `unix://${sock}`);
      if (typeof t === 'string') throw new RttError('CONFIG_INVALID', `DD_DOGSTATSD_SOCKET: ${t}`);
      return t;
    }
  }
  const host = init.statsdIp ?? (env.DD_AGENT_HOST?.trim() || DEFAULTS.statsdHost);
  let port: number = DEFAULTS.statsdPort;
  if (init.statsdPort !== undefined) {
    port = init.statsdPort;
  } else if (env.DD_DOGSTATSD_PORT?.trim()) {
    const p = Number(env.DD_DOGSTATSD_PORT.trim());
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new RttError('CONFIG_INVALID', `DD_DOGSTATSD_PORT: ${JSON.stringify(env.DD_DOGSTATSD_PORT)} is not a port number (1-65535)`);
    }
    port = p;
  }
  return { kind: 'udp', host, port };
}

/**
 * Tags every metric carries from the environment, as Datadog's clients add
 * them: env, service, version (unified service tagging) and the entity id
 * (origin detection). A key already given in the instance tags wins.
 */
export function environmentTags(env: DatadogEnv, instanceTags: readonly string[] = []): string[] {
  const have = new Set(instanceTags.map((t) => t.split(':')[0]?.toLowerCase()));
  const out: string[] = [];
  const add = (key: string, v: string | undefined): void => {
    const value = v?.trim();
    if (value && !have.has(key)) out.push(`${key}:${value}`);
  };
  add('env', env.DD_ENV);
  add('service', env.DD_SERVICE);
  add('version', env.DD_VERSION);
  add('dd.internal.entity_id', env.DD_ENTITY_ID);
  return out;
}
