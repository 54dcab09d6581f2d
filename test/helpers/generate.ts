/**
 * Captures from the project's generator (bench/gen, built here with make):
 * generated traffic of many flows, with the generator's own summary of what
 * it wrote (packets, unambiguous samples by kind).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from './expect';

const REPO = path.resolve(__dirname, '..', '..', '..');

/** The local addresses bench/gen writes (its one local host, IPv4 and IPv6). */
export const GEN_LOCAL = ['198.18.0.1', '2001:2::1'];

export interface GenSummary {
  packets: number;
  samples: { data: number; handshake: number; ts: number };
}

/** Writes NAME.pcap in the test directory with bench/gen and these options. */
export function generateCapture(name: string, options: string[]): { file: string; summary: GenSummary } {
  const make = spawnSync('make', ['-s', '-C', path.join(REPO, 'bench'), 'gen'], { encoding: 'utf8' });
  assert.equal(make.status, 0, `building bench/gen: ${make.stderr}`);
  const file = path.join(tmpDir(), `${name}.pcap`);
  const truth = path.join(tmpDir(), `${name}.truth`);
  const gen = spawnSync(path.join(REPO, 'bench', 'gen'), [...options, '-o', file, '-t', truth], { encoding: 'utf8' });
  assert.equal(gen.status, 0, `bench/gen: ${gen.stderr}`);
  fs.rmSync(truth, { force: true });
  return { file, summary: JSON.parse(gen.stdout.trim().split('\n').pop() ?? '{}') as GenSummary };
}
