/**
 * How a capture file is read, seen from outside with strace: in 256 KiB
 * read(2) calls into a buffer that starts on a page. The kernel copies a
 * file into a buffer 16 bytes off a page boundary (where malloc puts a
 * block this large) at about half the speed, and on an offline pass that
 * copy is a tenth of the capture thread's time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CAPTURE_THREAD } from './hardening-helpers/proc';
import { tmpDir } from './helpers/expect';
import { generateCapture } from './helpers/generate';

const REPO = path.resolve(__dirname, '..', '..');
const LOCAL = ['198.18.0.1', '2001:2::1'];

describe('reading a capture file', function () {
  this.timeout(60_000);
  let file = '';

  before(function () {
    if (spawnSync('strace', ['-V']).status !== 0) {
      console.log('      skipped: strace is not installed (scripts/setup-debian.sh --test installs it)');
      this.skip();
    }
    ({ file } = generateCapture('file-reading', ['--packets', '100000', '--flows', '200', '--seed', '5']));
  });

  after(() => {
    if (file) fs.rmSync(file, { force: true });
  });

  for (const threads of [1, 2] as const) {
    it(`threads ${threads}: 256 KiB reads into a page-aligned buffer`, function () {
      const trace = path.join(tmpDir(), `file-reading-${threads}.strace`);
      const monitor = `const { RttMonitor } = require(${JSON.stringify(path.join(REPO, 'dist', 'src'))});
        const m = new RttMonitor({ file: ${JSON.stringify(file)}, local: ${JSON.stringify(LOCAL)}, threads: ${threads} });
        m.on('report', () => {});
        m.start().then(() => m.ended());`;
      // raw=read: the buffer's address as a number, not its contents.
      const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=read,prctl', '-e', 'raw=read', '-o', trace, process.execPath, '-e', monitor], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, `exit status ${r.status}, signal ${r.signal}: ${r.stderr}`);
      const lines = fs.readFileSync(trace, 'utf8').split('\n');
      const named = lines.find((l) => l.includes(`prctl(0xf, "${CAPTURE_THREAD}"`) || l.includes(`prctl(PR_SET_NAME, "${CAPTURE_THREAD}")`));
      assert.ok(named, 'the capture thread named itself');
      const tid = named.split(/\s+/)[0];
      const reads = lines
        .filter((l) => l.startsWith(`${tid} `))
        .map((l) => /read\(0x[0-9a-f]+, (0x[0-9a-f]+), (0x[0-9a-f]+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null);
      const size = fs.statSync(file).size;
      assert.ok(reads.length >= Math.floor(size / 262144), `${reads.length} reads of a ${size}-byte file`);
      for (const m of reads) {
        assert.equal(Number.parseInt(m[2], 16), 262144, `read size ${m[2]}`);
        assert.equal(BigInt(m[1]) % 4096n, 0n, `buffer ${m[1]} does not start on a page`);
      }
    });
  }
});
