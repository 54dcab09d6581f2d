/**
 * How a capture file is read, seen from outside with strace: in 256 KiB
 * read(2) calls into a buffer that starts on a page. The kernel copies a
 * file into a buffer 16 bytes off a page boundary (where malloc puts a
 * block this large) at about half the speed, and on an offline pass that
 * copy is a tenth of the capture thread's time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './helpers/expect';
import { stracedCapture, traceCaptureThread } from './helpers/strace';

describe('reading a capture file', function () {
  this.timeout(60_000);
  const capture = stracedCapture('file-reading', ['--packets', '100000', '--flows', '200', '--seed', '5']);

  for (const threads of [1, 2] as const) {
    it(`threads ${threads}: 256 KiB reads into a page-aligned buffer`, function () {
      const trace = path.join(tmpDir(), `file-reading-${threads}.strace`);
      const { file } = capture;
      // raw=read: the buffer's address as a number, not its contents.
      const reads = traceCaptureThread(file, threads, trace, ['-e', 'trace=read,prctl', '-e', 'raw=read'], 'return m.ended();')
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
