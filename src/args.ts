/**
 * Command-line parsing. go-metro used Go's `flag` package, and the Datadog
 * Agent v5 supervisor runs `go-metro -cfg=/etc/dd-agent/conf.d/go-metro.yaml`,
 * so every option here follows Go's rules (pkg.go.dev/flag, "Command line
 * flag syntax"): one or two dashes alike, `-flag=value` or `-flag value`,
 * booleans only as `-flag` or `-flag=false` (never `-flag false`), parsing
 * stops at `--`. Conventional long options are the same mechanism with
 * longer names, so `--config FILE`, `--config=FILE` and `-config FILE` are one.
 */
import { LIMITS } from './config';
import { RttError } from './errors';
import { parseLogLevel } from './logger';
import type { LogLevel } from './logger';
import { parseStatsdAddress } from './statsd';
import type { StatsdTarget } from './statsd';
import { hostNameProblem, parseWhitelistEntry } from './whitelist';
import { ipVersion } from './ip';

export type OutputFormat = 'text' | 'json' | 'none';

export interface CliOptions {
  config?: string;
  /** True when the configuration came from go-metro's `-cfg` spelling (or the default path). */
  goMetroStyle: boolean;
  logFile?: string;
  logLevel?: LogLevel;
  filter?: string;
  soften?: boolean;
  interface?: string;
  pcap?: string;
  local?: string[];
  ips?: string[];
  hosts?: string[];
  tags?: string[];
  statsd?: StatsdTarget;
  noStatsd: boolean;
  reportInterval?: number;
  format?: OutputFormat;
  samples: boolean;
  maxFlows?: number;
  snaplen?: number;
  bufferSize?: number;
  threads?: 1 | 2;
  extendedMetrics?: boolean;
  telemetry?: boolean;
  progress?: boolean;
  help: boolean;
  version: boolean;
}

type Kind = 'string' | 'bool' | 'list' | 'number';

interface Spec {
  names: string[];
  kind: Kind;
  apply(o: CliOptions, v: string | boolean, name: string): void;
}

function usage(msg: string): RttError {
  return new RttError('USAGE', `${msg}\nRun "passive-rtt --help" for the options.`);
}

function num(name: string, v: string, opts: { integer?: boolean; min?: number; positive?: boolean; max?: number }): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw usage(`-${name}: expected a number, got ${JSON.stringify(v)}`);
  if (opts.integer && !Number.isInteger(n)) throw usage(`-${name}: expected a whole number, got ${v}`);
  if (opts.positive && n <= 0) throw usage(`-${name}: must be greater than 0, got ${v}`);
  if (opts.min !== undefined && n < opts.min) throw usage(`-${name}: must be at least ${opts.min}, got ${v}`);
  if (opts.max !== undefined && n > opts.max) throw usage(`-${name}: must be at most ${opts.max}, got ${v}`);
  return n;
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const SPECS: Spec[] = [
  {
    names: ['cfg'],
    kind: 'string',
    apply: (o, v) => {
      o.config = String(v);
      o.goMetroStyle = true;
    },
  },
  { names: ['config', 'c'], kind: 'string', apply: (o, v) => (o.config = String(v)) },
  { names: ['log', 'log-file'], kind: 'string', apply: (o, v) => (o.logFile = String(v)) },
  {
    names: ['log-level'],
    kind: 'string',
    apply: (o, v, name) => {
      const l = parseLogLevel(String(v));
      if (l === undefined) throw usage(`-${name}: unknown level ${JSON.stringify(v)}; use trace, debug, info, warn, error or critical`);
      o.logLevel = l;
    },
  },
  { names: ['f', 'filter'], kind: 'string', apply: (o, v) => (o.filter = String(v)) },
  { names: ['st', 'soften'], kind: 'bool', apply: (o, v) => (o.soften = v === true) },
  { names: ['interface', 'i'], kind: 'string', apply: (o, v) => (o.interface = String(v)) },
  { names: ['pcap', 'r'], kind: 'string', apply: (o, v) => (o.pcap = String(v)) },
  {
    names: ['local'],
    kind: 'list',
    apply: (o, v, name) => {
      for (const a of list(String(v))) if (ipVersion(a) === 0) throw usage(`-${name}: ${JSON.stringify(a)} is not an IP address`);
      o.local = [...(o.local ?? []), ...list(String(v))];
    },
  },
  {
    names: ['ips'],
    kind: 'list',
    apply: (o, v, name) => {
      for (const a of list(String(v))) {
        const e = parseWhitelistEntry(a);
        if (typeof e === 'string') throw usage(`-${name}: ${e}`);
      }
      o.ips = [...(o.ips ?? []), ...list(String(v))];
    },
  },
  {
    names: ['hosts'],
    kind: 'list',
    apply: (o, v, name) => {
      for (const h of list(String(v))) {
        const e = hostNameProblem(h);
        if (e !== undefined) throw usage(`-${name}: ${e}${ipVersion(h) !== 0 ? ' (addresses go after --ips)' : ''}`);
      }
      o.hosts = [...(o.hosts ?? []), ...list(String(v))];
    },
  },
  { names: ['tags'], kind: 'list', apply: (o, v) => (o.tags = [...(o.tags ?? []), ...list(String(v))]) },
  {
    names: ['statsd'],
    kind: 'string',
    apply: (o, v, name) => {
      const t = parseStatsdAddress(String(v));
      if (typeof t === 'string') throw usage(`-${name}: ${t}`);
      o.statsd = t;
    },
  },
  { names: ['no-statsd'], kind: 'bool', apply: (o, v) => (o.noStatsd = v === true) },
  { names: ['report-interval'], kind: 'number', apply: (o, v, n) => (o.reportInterval = num(n, String(v), { positive: true })) },
  {
    names: ['format'],
    kind: 'string',
    apply: (o, v, name) => {
      const f = String(v).toLowerCase();
      if (f !== 'text' && f !== 'json' && f !== 'none') throw usage(`-${name}: expected text, json or none, got ${JSON.stringify(v)}`);
      o.format = f;
    },
  },
  { names: ['json'], kind: 'bool', apply: (o, v) => (o.format = v === true ? 'json' : o.format) },
  { names: ['samples'], kind: 'bool', apply: (o, v) => (o.samples = v === true) },
  { names: ['max-flows'], kind: 'number', apply: (o, v, n) => (o.maxFlows = num(n, String(v), { integer: true, min: 1 })) },
  { names: ['snaplen'], kind: 'number', apply: (o, v, n) => (o.snaplen = num(n, String(v), LIMITS.snaplen)) },
  { names: ['buffer-size'], kind: 'number', apply: (o, v, n) => (o.bufferSize = num(n, String(v), LIMITS.bufferSize)) },
  { names: ['threads'], kind: 'number', apply: (o, v, n) => (o.threads = num(n, String(v), LIMITS.threads) === 1 ? 1 : 2) },
  { names: ['extended-metrics'], kind: 'bool', apply: (o, v) => (o.extendedMetrics = v === true) },
  { names: ['telemetry'], kind: 'bool', apply: (o, v) => (o.telemetry = v === true) },
  { names: ['no-telemetry'], kind: 'bool', apply: (o, v) => (o.telemetry = v !== true) },
  { names: ['progress'], kind: 'bool', apply: (o, v) => (o.progress = v === true) },
  { names: ['no-progress'], kind: 'bool', apply: (o, v) => (o.progress = v !== true) },
  { names: ['help', 'h'], kind: 'bool', apply: (o, v) => (o.help = v === true) },
  { names: ['version', 'V'], kind: 'bool', apply: (o, v) => (o.version = v === true) },
];

const BY_NAME = new Map<string, Spec>();
for (const s of SPECS) for (const n of s.names) BY_NAME.set(n, s);

/** Go's strconv.ParseBool, which the flag package uses for `-flag=value`. */
function parseGoBool(name: string, v: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw usage(`invalid boolean value ${JSON.stringify(v)} for -${name}: use -${name} or -${name}=false`);
}

/** Values that a Go user may have meant for the boolean flag before them (`-st false`). */
const BOOL_WORDS = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False', 'yes', 'no', 'on', 'off']);

export function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = { goMetroStyle: false, noStatsd: false, samples: false, help: false, version: false };
  let i = 0;
  /** The boolean flag just before, written without a value (for the `-st false` message). */
  let lastBool: string | undefined;
  while (i < argv.length) {
    const arg = argv[i];
    i++;
    if (arg === '--') {
      if (i < argv.length) throw usage(`unexpected argument ${JSON.stringify(argv[i])}: passive-rtt takes no positional arguments`);
      break;
    }
    if (arg.length < 2 || arg[0] !== '-') {
      if (lastBool !== undefined && BOOL_WORDS.has(arg)) {
        // Go's flag package never reads a boolean's value from the next
        // argument: it sets the flag and stops parsing, so go-metro silently
        // ignored "false" and every flag after it. Refuse instead of running
        // with settings the operator did not mean.
        throw usage(
          `-${lastBool} ${arg}: a boolean flag takes its value after "=" (Go's flag syntax), so this would set -${lastBool} and leave ${JSON.stringify(arg)} over; ` +
            `write -${lastBool}=${arg}`,
        );
      }
      throw usage(`unexpected argument ${JSON.stringify(arg)}: passive-rtt takes no positional arguments (a capture file goes after --pcap)`);
    }
    lastBool = undefined;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body.startsWith('-') || body.startsWith('=')) throw usage(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const spec = BY_NAME.get(name);
    if (!spec) throw usage(`unknown option ${arg.split('=')[0]}`);
    if (spec.kind === 'bool') {
      spec.apply(o, inline === undefined ? true : parseGoBool(name, inline), name);
      if (inline === undefined) lastBool = name;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i >= argv.length) throw usage(`option -${name} needs a value`);
      value = argv[i];
      i++;
    }
    // An empty value is a mistake (an unset shell variable in "-cfg=$CONF"
    // is the usual one), except for a list: "--hosts=" clears the file's list.
    if (value.trim() === '' && spec.kind !== 'list') throw usage(`option -${name} needs a value, got an empty string`);
    spec.apply(o, value, name);
  }
  if (o.interface !== undefined && o.pcap !== undefined) throw usage('give either --interface or --pcap, not both');
  return o;
}

export const HELP = `passive-rtt: passive TCP round-trip times, per host pair, to DogStatsD.
A drop-in successor of Datadog's go-metro (same YAML file, flags and metrics).

Usage:
  passive-rtt [-cfg FILE] [-log FILE] [-f FILTER] [-st=false]      go-metro style
  passive-rtt --config FILE [options]                               daemon with a go-metro.yaml
  passive-rtt --interface IFACE [options]                           live capture, no file needed
  passive-rtt --pcap FILE [--local IP,...] [options]                read a capture file

Go-metro flags (one or two dashes, "-flag value" or "-flag=value"):
  -cfg FILE           YAML configuration (default /etc/dd-agent/checks.d/go-metro.yaml)
  -log FILE           log file (default /var/log/datadog/go-metro.log when log_to_file)
  -f FILTER           base BPF filter (default "tcp"); go-metro appends
                      "and not host 127.0.0.1" and the whitelist "(host A or host B ...)"
  -st, -st=false      RFC 6298 smoothing of avg/jitter (default on); false: running means

Options (they override the configuration file):
  --config FILE       same as -cfg
  --interface IFACE   capture live on IFACE ("any" for all)
  --pcap FILE         read a pcap/pcapng file, then exit 0
  --local IP,...      addresses of the monitored host (default: the interface's,
                      or detected from the file)
  --ips IP,...        whitelist of remote addresses or CIDR blocks
  --hosts NAME,...    whitelist of remote host names (resolved now and every 5 min)
  --filter FILTER     same as -f
  --statsd ADDR       DogStatsD: HOST:PORT, udp://HOST:PORT or unix:///PATH
                      (default 127.0.0.1:8125, or DD_DOGSTATSD_URL, DD_AGENT_HOST, ...)
  --no-statsd         send nothing to DogStatsD
  --tags K:V,...      extra tags on every metric
                      (--local, --ips, --hosts and --tags replace the file's lists;
                      an empty value, e.g. --hosts=, clears it)
  --report-interval S seconds between reports (default 30, packet time for files)
  --format FMT        text (a table), json (JSON lines) or none; default: text on
                      a terminal, otherwise json (none with a configuration file)
  --samples           one line per RTT sample too (with --format json or text)
  --max-flows N       most flows tracked at once (default 1000000)
  --snaplen N         bytes captured per packet (default 512)
  --buffer-size N     kernel capture buffer in bytes, at least 65536 (live;
                      default libpcap's)
  --threads N         1 or 2 native threads (default 2 on a machine with two
                      CPUs or more, else 1)
  --extended-metrics  also send .min .max .p50 .p95 .p99 and a sample count
  --no-telemetry      do not send passive_rtt.* self-metrics
  --progress          show progress on stderr while reading files (default: when
                      stderr is a terminal and a read lasts over a second);
                      --no-progress never
  --log-file FILE     log to FILE (rotated by size; SIGHUP reopens it)
  --log-level LEVEL   trace, debug, info, warn, error or critical (also warning,
                      err, crit); default info, warn without a configuration file
  --help, --version

Examples:
  passive-rtt -cfg=/etc/dd-agent/conf.d/go-metro.yaml
  passive-rtt --interface eth0 --ips 10.0.0.5,10.1.0.0/16 --statsd 127.0.0.1:8125
  passive-rtt --interface eth0 --hosts app.datadoghq.com --statsd unix:///var/run/datadog/dsd.socket
  passive-rtt --pcap capture.pcap --local 192.168.1.116 --format json --samples
  passive-rtt --config examples/file.yaml --no-statsd --format text

Exit status: 0 done (end of file, or SIGINT/SIGTERM), 1 runtime failure,
2 usage or configuration error.
`;
