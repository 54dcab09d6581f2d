/**
 * The `passive-rtt` command: go-metro's flags and configuration file, the
 * conventional long options, DogStatsD reporting, text/JSON output, and the
 * process lifecycle (SIGINT/SIGTERM flush and exit 0 within 2 s, SIGHUP
 * reopens the log file).
 */
import fs from 'node:fs';
import path from 'node:path';
import { HELP, parseArgs } from './args';
import type { CliOptions, OutputFormat } from './args';
import { DEFAULTS, environmentTags, FILE_INTERFACE, loadConfig, resolveStatsdTarget } from './config';
import type { DatadogEnv, InitConfig, MetroConfig } from './config';
import { RttError } from './errors';
import { reportTable, reportToJson, sampleLine, sampleToJson, statsSummary, statsToJson } from './format';
import { Logger } from './logger';
import type { LogLevel } from './logger';
import { exitCodeFor, Runner } from './runner';
import type { InstancePlan, OutputSink, RunSettings } from './runner';
import { describeTarget, StatsdClient } from './statsd';
import { DEFAULT_BASE_FILTER } from './whitelist';

/** SIGINT/SIGTERM: everything flushed and the process gone within 2 s. */
const SHUTDOWN_DEADLINE_MS = 1900;
/** go-metro slept 5 s before exiting 0 without a configuration, so that supervisord does not see "exited too quickly". */
const MISSING_CONFIG_SLEEP_MS = 5000;

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Set while a progress line may be on the terminal: erases it before anything else is written. */
let beforeOutput: () => void = () => {};

function writeOut(s: string): void {
  beforeOutput();
  process.stdout.write(s);
}

function jsonSink(): OutputSink {
  return {
    report: (batch, names) => {
      let s = '';
      for (const r of batch) s += `${JSON.stringify(reportToJson(r, names))}\n`;
      writeOut(s);
    },
    sample: (smp, iface) => writeOut(`${JSON.stringify(sampleToJson(smp, iface))}\n`),
    stats: (stats, iface, extra) => writeOut(`${JSON.stringify(statsToJson(stats, iface, extra))}\n`),
  };
}

function textSink(withSamples: boolean): OutputSink {
  return {
    report: (batch, names) => {
      if (batch.length > 0) writeOut(`${reportTable(batch, names)}\n`);
    },
    sample: (smp) => {
      if (withSamples) writeOut(sampleLine(smp));
    },
    stats: (stats, iface) => writeOut(statsSummary(stats, iface)),
  };
}

function statsdFromEnv(env: DatadogEnv): boolean {
  return Boolean(env.DD_DOGSTATSD_URL?.trim() || env.DD_DOGSTATSD_SOCKET?.trim() || env.DD_AGENT_HOST?.trim());
}

/** The instances to run: the file's, with command-line overrides, or the one the command line describes. */
function plans(opts: CliOptions, config: MetroConfig | undefined, init: InitConfig | undefined): InstancePlan[] {
  const pcap = opts.pcap !== undefined ? path.resolve(opts.pcap) : undefined;
  const extended = opts.extendedMetrics ?? init?.extendedMetrics ?? false;
  if (!config) {
    return [
      {
        where: 'command line',
        interface: opts.interface ?? FILE_INTERFACE,
        pcap,
        tags: opts.tags ?? [],
        ips: opts.ips ?? [],
        hosts: opts.hosts ?? [],
        localIps: opts.local ?? [],
        extendedMetrics: extended,
      },
    ];
  }
  return config.instances.map((inst) => {
    const p: InstancePlan = {
      where: inst.where,
      interface: inst.interface,
      pcap: inst.interface === FILE_INTERFACE ? inst.pcap : undefined,
      tags: opts.tags ?? inst.tags,
      ips: opts.ips ?? inst.ips,
      hosts: opts.hosts ?? inst.hosts,
      localIps: opts.local ?? inst.localIps,
      extendedMetrics: opts.extendedMetrics ?? inst.extendedMetrics ?? init?.extendedMetrics ?? false,
    };
    if (opts.interface !== undefined) {
      p.interface = opts.interface;
      p.pcap = undefined;
    } else if (pcap !== undefined) {
      p.interface = FILE_INTERFACE;
      p.pcap = pcap;
    }
    if (inst.sample && inst.sampleDuration !== undefined && inst.sampleInterval !== undefined) {
      p.sample = { duration: inst.sampleDuration, interval: inst.sampleInterval };
    }
    return p;
  });
}

function fail(logger: Logger | undefined, err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`passive-rtt: ${msg}\n`);
  // Also into the log file, where an operator of the daemon looks first.
  if (logger?.getFile() !== undefined) logger.critical(msg);
  return exitCodeFor(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the command; resolves with the exit status (0 done, 1 runtime
 * failure, 2 usage or configuration error).
 */
/** Signals caught by the launcher before main() could install its handlers. */
export interface EarlySignals {
  signals: readonly NodeJS.Signals[];
  /** Removes the launcher's handlers (called once main's own are in place). */
  release(): void;
}

export async function main(argv: readonly string[], env: DatadogEnv = process.env, early?: EarlySignals): Promise<number> {
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    return fail(undefined, err);
  }
  if (opts.help) {
    writeOut(HELP);
    return 0;
  }
  if (opts.version) {
    writeOut(`passive-rtt ${version()}\n`);
    return 0;
  }

  const cliOnly = opts.config === undefined && (opts.interface !== undefined || opts.pcap !== undefined);
  const logger = new Logger({ level: opts.logLevel ?? (cliOnly ? 'warn' : DEFAULTS.logLevel) });

  // Signals: installed first, so that a SIGTERM while the configuration is
  // read or names are resolved still ends the process with status 0 (Node's
  // default would be death by the signal, status 143).
  let stopRequested: (sig: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stopRequested = resolve;
  });
  let signalled = false;
  const onStop = (sig: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn(`${sig} again: exiting now`);
      process.exit(0);
    }
    signalled = true;
    logger.info(`${sig} received: flushing the last report and exiting`);
    // The deadline is a backstop; a normal stop takes a few milliseconds.
    setTimeout(() => {
      logger.error(`shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`);
      process.exit(0);
    }, SHUTDOWN_DEADLINE_MS).unref();
    stopRequested(sig);
  };
  const onHup = (): void => logger.reopen();
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
  process.on('SIGHUP', onHup);
  const cleanup = (): void => {
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    process.off('SIGHUP', onHup);
  };
  // Both sets of handlers were in place for a moment: no signal fell between them.
  early?.release();
  const first = early?.signals[0];
  if (first !== undefined) onStop(first);

  try {
    return await runMain(opts, env, logger, cliOnly, stopped);
  } finally {
    cleanup();
    logger.close();
  }
}

/** Everything after the signal handlers are in place; `stopped` resolves on SIGINT/SIGTERM. */
async function runMain(opts: CliOptions, env: DatadogEnv, logger: Logger, cliOnly: boolean, stopped: Promise<string>): Promise<number> {
  let config: MetroConfig | undefined;
  if (!cliOnly) {
    const file = opts.config ?? DEFAULTS.configFile;
    const goMetroStyle = opts.goMetroStyle || opts.config === undefined;
    try {
      config = loadConfig(file);
    } catch (err) {
      const missing = err instanceof RttError && err.code === 'CONFIG_UNREADABLE' && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      if (missing && goMetroStyle && !process.stderr.isTTY) {
        // Started by the Agent's supervisor without a go-metro.yaml: exit 0
        // after a pause, as go-metro did, instead of a restart loop.
        logger.warn(`${(err as Error).message}; nothing to do, exiting with status 0 in ${MISSING_CONFIG_SLEEP_MS / 1000} s (go-metro behaviour)`);
        await Promise.race([sleep(MISSING_CONFIG_SLEEP_MS), stopped]);
        return 0;
      }
      if (missing && opts.config === undefined) {
        process.stderr.write(
          `passive-rtt: ${(err as Error).message}\nTo capture without a file: passive-rtt --interface eth0, or passive-rtt --pcap FILE. See passive-rtt --help.\n`,
        );
        return 2;
      }
      return fail(logger, err);
    }
  }
  const init = config?.init;

  // Logging: the file's level and destination, the command line over both.
  const level: LogLevel = opts.logLevel ?? init?.logLevel ?? (cliOnly ? 'warn' : DEFAULTS.logLevel);
  logger.setLevel(level);
  const logFile = opts.logFile ?? (init?.logToFile ? (init.logFile ?? DEFAULTS.logFile) : undefined);
  if (logFile !== undefined) {
    try {
      logger.setRotation(init?.logMaxBytes ?? DEFAULTS.logMaxBytes, init?.logMaxFiles ?? DEFAULTS.logMaxFiles);
      logger.setFile(path.resolve(logFile));
    } catch (err) {
      logger.warn(`cannot open log file ${logFile}: ${(err as Error).message}; logging to stderr (fix the directory's permissions or set -log FILE)`);
    }
  }
  for (const w of config?.warnings ?? []) logger.warn(w);

  const runPlans = plans(opts, config, init);

  // DogStatsD: always with a configuration file (go-metro's job); on the
  // command line only when asked for (--statsd or the DD_* variables).
  let statsd: StatsdClient | undefined;
  const wantStatsd = !opts.noStatsd && (config !== undefined || opts.statsd !== undefined || statsdFromEnv(env));
  if (wantStatsd) {
    try {
      const target = resolveStatsdTarget(init ?? {}, env, opts.statsd);
      statsd = new StatsdClient({ target, logger });
      logger.info(`reporting to DogStatsD at ${describeTarget(target)}`);
    } catch (err) {
      return fail(logger, err instanceof RttError ? err : new RttError('CAPTURE_FAILED', (err as Error).message));
    }
  }

  const isTTY = process.stdout.isTTY === true;
  const format: OutputFormat = opts.format ?? (config !== undefined ? (isTTY ? 'text' : 'none') : isTTY ? 'text' : 'json');
  const output = format === 'json' ? jsonSink() : format === 'text' ? textSink(opts.samples) : undefined;

  const settings: RunSettings = {
    snaplen: opts.snaplen ?? init?.snaplen ?? DEFAULTS.snaplen,
    idleTtl: init?.idleTtl ?? DEFAULTS.idleTtl,
    expTtl: init?.expTtl ?? DEFAULTS.expTtl,
    reportInterval: opts.reportInterval ?? init?.reportInterval,
    soften: opts.soften ?? init?.soften,
    maxFlows: opts.maxFlows ?? init?.maxFlows,
    bufferSize: opts.bufferSize ?? init?.bufferSize,
    threads: opts.threads,
    baseFilter: opts.filter ?? init?.filter ?? DEFAULT_BASE_FILTER,
    telemetry: opts.telemetry ?? init?.telemetry ?? true,
    dnsRefreshInterval: init?.dnsRefreshInterval ?? DEFAULTS.dnsRefreshInterval,
    samples: opts.samples && output !== undefined,
    // On a terminal, a file read that takes more than a second shows progress.
    progress: opts.progress ?? process.stderr.isTTY === true,
    reverseLookups: true,
  };

  const runner = new Runner(runPlans, settings, {
    logger,
    statsd,
    output,
    envTags: (tags) => environmentTags(env, tags),
    progressStream: process.stderr,
  });
  beforeOutput = () => runner.clearProgress();
  logger.setBeforeWrite(beforeOutput);

  try {
    const { started, failures } = await runner.start();
    if (started > 0 || logger.getFile() !== undefined) for (const f of failures) logger.error(f.error.message);
    if (started === 0) {
      await statsd?.close();
      let code = 0;
      for (const f of failures) {
        process.stderr.write(`passive-rtt: ${f.error.message}\n`);
        code = Math.max(code, exitCodeFor(f.error));
      }
      if (failures.length > 1) process.stderr.write('passive-rtt: no instance could start\n');
      code = code === 0 ? 1 : code;
      // go-metro's last word in its log ("No sniffers available, baling out").
      if (logger.getFile() !== undefined) logger.critical(`no instance could start; exiting with status ${code}`);
      return code;
    }
    const why = await Promise.race([runner.finished().then(() => 'end'), stopped]);
    if (why !== 'end') await runner.stop();
    await statsd?.close(500);
    runner.writeStats();
    const failure = why === 'end' ? runner.runtimeFailure() : undefined;
    if (failure) {
      process.stderr.write(`passive-rtt: ${failure.message}\n`);
      return 1;
    }
    logger.info(why === 'end' ? 'all capture files read; exiting' : 'stopped');
    return 0;
  } catch (err) {
    await runner.stop().catch(() => undefined);
    await statsd?.close(500);
    return fail(logger, err);
  } finally {
    runner.clearProgress();
    beforeOutput = () => {};
    logger.setBeforeWrite(undefined);
    logger.close();
  }
}

/** Entry point of bin/passive-rtt.js: runs main() and exits with its status once stdout is flushed. */
export function run(early?: EarlySignals): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // `passive-rtt … | head`: the reader went away; that is not a failure.
    if (err.code === 'EPIPE') process.exit(0);
  });
  main(process.argv.slice(2), process.env as DatadogEnv, early).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (err: unknown) => {
      process.stderr.write(`passive-rtt: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) run();
