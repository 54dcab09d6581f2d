/**
 * A small levelled logger for the command line and the daemon: stderr or a
 * file with size-based rotation, reopened on SIGHUP (logrotate's
 * `postrotate kill -HUP`). Lines look like go-metro's seelog format
 * (`date time zone | LEVEL | message`) so existing log parsing keeps working.
 *
 * Writes are synchronous: logging is rare (start-up, errors at most once a
 * minute, one debug line per report) and a line written right before
 * process.exit() must not be lost.
 */
import fs from 'node:fs';
import path from 'node:path';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'critical' | 'off';

const ORDER: Record<LogLevel, number> = {
  trace: 0,
  debug: 1,
  info: 2,
  warn: 3,
  error: 4,
  critical: 5,
  off: 6,
};

/** Every spelling go-metro documented plus the ones its switch statement lost (see README). */
const SPELLINGS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  critical: 'critical',
  crit: 'critical',
  off: 'off',
};

/** Parses a level name case-insensitively; undefined when unknown. */
export function parseLogLevel(name: string): LogLevel | undefined {
  return SPELLINGS[name.trim().toLowerCase()];
}

export const LOG_LEVEL_NAMES = Object.keys(SPELLINGS);

export interface LoggerOptions {
  level?: LogLevel;
  /** Log to this file instead of stderr. */
  file?: string;
  /** Rotate when the file would grow past this many bytes. Default 10 MiB. */
  maxBytes?: number;
  /** Rotated files kept (file.1 … file.N). Default 5. */
  maxFiles?: number;
  /** Where lines go when no file is set (tests). Default process.stderr. */
  stream?: { write(s: string): unknown };
}

export class Logger {
  private level: LogLevel;
  private file: string | undefined;
  private fd: number | undefined;
  private size = 0;
  private maxBytes: number;
  private maxFiles: number;
  private readonly stream: { write(s: string): unknown };
  private readonly onceKeys = new Set<string>();
  private readonly lastAt = new Map<string, number>();
  private readonly suppressed = new Map<string, number>();
  private beforeWrite: (() => void) | undefined;

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info';
    this.maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
    this.maxFiles = options.maxFiles ?? 5;
    this.stream = options.stream ?? process.stderr;
    if (options.file !== undefined) this.setFile(options.file);
  }

  /** Called before a line goes to the stream (not the file): the command line erases its progress line there. */
  setBeforeWrite(fn: (() => void) | undefined): void {
    this.beforeWrite = fn;
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }

  /** Size-based rotation of the log file: rotate past `maxBytes`, keep `maxFiles` old files. */
  setRotation(maxBytes: number, maxFiles: number): void {
    this.maxBytes = maxBytes;
    this.maxFiles = maxFiles;
  }

  getLevel(): LogLevel {
    return this.level;
  }

  /** The file being written, or undefined for stderr. */
  getFile(): string | undefined {
    return this.file;
  }

  /**
   * Switches to a log file (created with mode 0640 if missing). Throws the
   * fs error when the file cannot be opened; the caller decides whether that
   * is fatal (it is not for the daemon: it falls back to stderr).
   */
  setFile(file: string): void {
    // Like go-metro's seelog rolling file: a missing directory is created
    // (a fresh host has no /var/log/datadog until the Agent made one).
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    const fd = fs.openSync(file, 'a', 0o640);
    this.closeFile();
    this.file = file;
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
  }

  /** Reopens the log file by name: after logrotate moved it away (SIGHUP). */
  reopen(): void {
    if (this.file === undefined) return;
    const file = this.file;
    try {
      this.setFile(file);
      this.info(`log file ${file} reopened`);
    } catch (err) {
      this.file = undefined;
      this.fd = undefined;
      this.error(`cannot reopen log file ${file}: ${(err as Error).message}; logging to stderr`);
    }
  }

  close(): void {
    this.closeFile();
    this.file = undefined;
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level] && level !== 'off';
  }

  trace(msg: string): void {
    this.log('trace', msg);
  }
  debug(msg: string): void {
    this.log('debug', msg);
  }
  info(msg: string): void {
    this.log('info', msg);
  }
  warn(msg: string): void {
    this.log('warn', msg);
  }
  error(msg: string): void {
    this.log('error', msg);
  }
  critical(msg: string): void {
    this.log('critical', msg);
  }

  /** Logs a message only the first time `key` is seen in this process. */
  once(level: LogLevel, key: string, msg: string): void {
    if (this.onceKeys.has(key)) return;
    this.onceKeys.add(key);
    this.log(level, msg);
  }

  /**
   * Logs at most once per `intervalMs` for `key`; the next line that gets
   * through says how many were held back, so nothing is silently lost.
   */
  limited(level: LogLevel, key: string, intervalMs: number, msg: string, now = Date.now()): boolean {
    const last = this.lastAt.get(key);
    if (last !== undefined && now - last < intervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1);
      return false;
    }
    const held = this.suppressed.get(key) ?? 0;
    this.suppressed.delete(key);
    this.lastAt.set(key, now);
    this.log(level, held > 0 ? `${msg} (${held} similar messages suppressed)` : msg);
    return true;
  }

  /** Ends the limit on `key`: the next limited() message for it goes out at once (the condition cleared, then came back). */
  unlimit(key: string): void {
    this.lastAt.delete(key);
    this.suppressed.delete(key);
  }

  log(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    const line = `${stamp(new Date())} | ${level.toUpperCase()} | passive-rtt | ${msg}\n`;
    if (this.fd === undefined) {
      this.beforeWrite?.();
      this.stream.write(line);
      return;
    }
    const bytes = Buffer.byteLength(line);
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    if (this.fd === undefined) {
      this.stream.write(line);
      return;
    }
    try {
      fs.writeSync(this.fd, line);
      this.size += bytes;
    } catch {
      // A full disk must not stop capture; the line goes to stderr instead.
      this.stream.write(line);
    }
  }

  /** file.(N-1) -> file.N, …, file -> file.1, then a fresh file (seelog's "rollingfile type=size"). */
  private rotate(): void {
    const file = this.file;
    if (file === undefined) return;
    this.closeFile();
    try {
      if (this.maxFiles > 0) {
        for (let i = this.maxFiles - 1; i >= 1; i--) {
          const from = `${file}.${i}`;
          if (fs.existsSync(from)) fs.renameSync(from, `${file}.${i + 1}`);
        }
        fs.renameSync(file, `${file}.1`);
      } else {
        fs.truncateSync(file, 0);
      }
      this.setFile(file);
    } catch (err) {
      this.file = undefined;
      this.stream.write(`${stamp(new Date())} | ERROR | passive-rtt | cannot rotate log file ${file}: ${(err as Error).message}; logging to stderr\n`);
    }
  }

  private closeFile(): void {
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
  }
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `2026-01-02 15:04:05.123 UTC`: UTC, so lines from several hosts sort together. */
function stamp(d: Date): string {
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)} UTC`
  );
}
