import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Logger, parseLogLevel } from '../src/logger';

describe('logger', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-log-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('knows every spelling of every level, case-insensitively', () => {
    const want: Record<string, string> = {
      TRACE: 'trace',
      Debug: 'debug',
      info: 'info',
      warn: 'warn',
      WARNING: 'warn',
      error: 'error',
      err: 'error',
      critical: 'critical',
      CRIT: 'critical',
    };
    for (const [s, l] of Object.entries(want)) assert.equal(parseLogLevel(s), l);
    assert.equal(parseLogLevel('verbose'), undefined);
  });

  it('filters by level and formats lines like go-metro (date time zone | LEVEL | message)', () => {
    const out: string[] = [];
    const log = new Logger({ level: 'warn', stream: { write: (s: string) => out.push(s) } });
    log.info('hidden');
    log.warn('shown');
    log.critical('also');
    assert.equal(out.length, 2);
    assert.match(out[0], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \| WARN \| passive-rtt \| shown\n$/);
    assert.match(out[1], /\| CRITICAL \| passive-rtt \| also\n$/);
  });

  it('rotates by size, keeping N old files', () => {
    const file = path.join(dir, 'go-metro.log');
    const log = new Logger({ level: 'info', file, maxBytes: 1000, maxFiles: 2 });
    for (let i = 0; i < 60; i++) log.info(`line ${i} ${'x'.repeat(40)}`);
    log.close();
    assert.deepEqual(fs.readdirSync(dir).sort(), ['go-metro.log', 'go-metro.log.1', 'go-metro.log.2']);
    for (const f of fs.readdirSync(dir)) assert.ok(fs.statSync(path.join(dir, f)).size <= 1000, f);
    const last = fs.readFileSync(file, 'utf8').trim().split('\n').pop() ?? '';
    assert.match(last, /line 59 /);
  });

  it('reopens the file by name after logrotate moved it (SIGHUP)', () => {
    const file = path.join(dir, 'a.log');
    const log = new Logger({ level: 'info', file });
    log.info('before');
    fs.renameSync(file, `${file}.old`);
    log.info('still into the moved file');
    log.reopen();
    log.info('after');
    log.close();
    assert.match(fs.readFileSync(`${file}.old`, 'utf8'), /before[\s\S]*still into the moved file/);
    const now = fs.readFileSync(file, 'utf8');
    assert.match(now, /log file .*a\.log reopened[\s\S]*after/);
    assert.doesNotMatch(now, /before/);
  });

  it('limits repeated messages and says how many were held back', () => {
    const out: string[] = [];
    const log = new Logger({ level: 'info', stream: { write: (s: string) => out.push(s) } });
    assert.equal(log.limited('warn', 'k', 60_000, 'm', 0), true);
    assert.equal(log.limited('warn', 'k', 60_000, 'm', 1000), false);
    assert.equal(log.limited('warn', 'k', 60_000, 'm', 2000), false);
    assert.equal(log.limited('warn', 'k', 60_000, 'm', 61_000), true);
    assert.equal(out.length, 2);
    assert.match(out[1], /m \(2 similar messages suppressed\)/);
  });
});
