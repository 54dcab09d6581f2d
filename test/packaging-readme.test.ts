/**
 * README.md is the one page a user reads: it must stay true to the code.
 * These checks fail when the command line, the configuration keys, the
 * environment variables, the metrics, the error codes or the RttMonitor
 * options change without the README following (or the other way round).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');
const README = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');

function source(file: string): string {
  return fs.readFileSync(path.join(REPO, file), 'utf8');
}

/** The text of a README section: from its `## title` to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has a section "## ${title}"`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** Every `code` span of a text. */
function codeSpans(text: string): Set<string> {
  return new Set([...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]));
}

/** The string literals of `const NAME = new Set([...])` in a source file. */
function setLiteral(file: string, name: string): string[] {
  const m = new RegExp(`const ${name} = new Set(?:<[^>]+>)?\\(\\[([^\\]]*)\\]`).exec(source(file));
  assert.ok(m, `${file} defines ${name}`);
  return [...m[1].matchAll(/'([^']+)'/g)].map((x) => x[1]);
}

describe('README.md tells the truth', () => {
  it('shows exactly what passive-rtt --help prints', () => {
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'passive-rtt.js'), '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = /\n```\n\$ passive-rtt --help\n([\s\S]*?)\n```\n/.exec(section('Command line'));
    assert.ok(m, 'the Command line section has a "$ passive-rtt --help" block');
    assert.equal(`${m[1]}\n`, r.stdout, 'README\'s "$ passive-rtt --help" block is not what the command prints: update it');
  });

  it('documents every configuration key the code accepts', () => {
    const documented = codeSpans(section('Configuration (go-metro.yaml)'));
    for (const key of [...setLiteral('src/config.ts', 'INIT_KEYS'), ...setLiteral('src/config.ts', 'INSTANCE_KEYS')]) {
      assert.ok(documented.has(key), `configuration key ${key} (src/config.ts) is not in README's Configuration section`);
    }
  });

  it('documents every environment variable the code reads', () => {
    const m = /export interface DatadogEnv \{([^}]*)\}/.exec(source('src/config.ts'));
    assert.ok(m, 'src/config.ts defines DatadogEnv');
    const vars = [...m[1].matchAll(/(DD_[A-Z_]+)\?:/g)].map((x) => x[1]);
    assert.ok(vars.length >= 8, `found the DD_* variables: ${vars.join(', ')}`);
    const text = section('Configuration (go-metro.yaml)');
    for (const v of [...vars, 'PASSIVE_RTT_LIBPCAP']) assert.ok(text.includes(`\`${v}\``), `${v} is not in README's Configuration section`);
  });

  it('documents every metric and service check the runner sends', () => {
    const runner = source('src/runner.ts');
    const sent = [...runner.matchAll(/statsd\.(?:gauge|count)\('([^']+)'/g)].map((m) => m[1]);
    const check = /SERVICE_CHECK = '([^']+)'/.exec(runner)?.[1];
    assert.ok(sent.length >= 10 && check, 'found the metric names in src/runner.ts');
    const text = section('Metrics');
    for (const name of [...new Set(sent), check]) assert.ok(text.includes(`\`${name}\``), `metric ${name} (src/runner.ts) is not in README's Metrics section`);
  });

  it('documents every error code', () => {
    const m = /export type RttErrorCode =([^;]*);/.exec(source('src/types.ts'));
    assert.ok(m, 'src/types.ts defines RttErrorCode');
    const codes = [...m[1].matchAll(/'([A-Z_]+)'/g)].map((x) => x[1]);
    const text = section('API');
    for (const code of codes) assert.ok(text.includes(`\`${code}\``), `error code ${code} is not in README's error table`);
  });

  it('documents every RttMonitor option', () => {
    const m = /export interface RttMonitorOptions \{([\s\S]*?)\n\}/.exec(source('src/types.ts'));
    assert.ok(m, 'src/types.ts defines RttMonitorOptions');
    const options = [...m[1].matchAll(/^ {2}(\w+)\?:/gm)].map((x) => x[1]);
    assert.ok(options.length >= 10, `found the options: ${options.join(', ')}`);
    const rows = new Set([...section('API').matchAll(/^\| `(\w+)` \|/gm)].map((x) => x[1]));
    for (const o of options) assert.ok(rows.has(o), `RttMonitor option ${o} is not in README's options table`);
  });

  it('names only files, scripts and npm scripts that exist', () => {
    const pkg = JSON.parse(source('package.json')) as { scripts: Record<string, string> };
    for (const m of README.matchAll(/npm run ([a-z:]+)/g)) assert.ok(pkg.scripts[m[1]], `npm run ${m[1]}: no such script`);
    for (const m of README.matchAll(/`((?:examples|scripts|src-native|test|\.github\/workflows)\/[\w./-]+)`/g)) {
      assert.ok(fs.existsSync(path.join(REPO, m[1])), `${m[1]} does not exist`);
    }
  });
});
