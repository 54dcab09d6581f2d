/**
 * The package as a user gets it. The tree of this clone is compiled the way
 * the release workflow does it (tsc, then prebuildify --napi --strip
 * --tag-libc for this platform), packed with npm pack, and installed into an
 * empty directory with --ignore-scripts and PREBUILDS_ONLY=1, so that nothing
 * can be compiled on install: the installed CLI must then read a bundled
 * capture and give its RTTs.
 *
 * Then the run-time libpcap resolver (src-native/pcap_api.cc) with real
 * dlopen(3): the names and their order, PASSIVE_RTT_LIBPCAP, the PCAP_MISSING
 * error and the install command per distribution (as root, in a mount
 * namespace where libpcap is gone); and the libpcap declarations of
 * src-native/pcap_api.h against the system's pcap.h.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, cleanEnv } from './helpers/cli';

const REPO = path.resolve(__dirname, '..', '..');
const CAPTURE = path.join(REPO, 'examples', 'captures', 'http-request.pcap');
const CAPTURE_LOCAL = '192.168.1.116';
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };

/** The samples of http-request.pcap (examples/captures/README.md), in order. */
const CAPTURE_SAMPLES = [
  { rtt_ms: 74.599, kind: 'handshake' },
  { rtt_ms: 72.322, kind: 'data' },
  { rtt_ms: 69.204, kind: 'ts' },
  { rtt_ms: 74.253, kind: 'data' },
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const input = opts.input;
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    if (child.stdin) {
      // A child that exits without reading its input makes the write fail
      // with EPIPE; its exit status says what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 120000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 120000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<Run> {
  const r = await run(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited with ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function jsonLines(s: string): Array<Record<string, unknown>> {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** libc flavour as prebuildify and node-gyp-build name it. */
function libc(): string {
  return fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

/** The files a clone holds (tracked and not ignored), relative to the repository. */
function treeFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed: ${r.stderr}`);
  return r.stdout
    .split('\0')
    .filter((f) => f !== '' && !f.startsWith('prebuilds/'))
    .filter((f) => fs.statSync(path.join(REPO, f), { throwIfNoEntry: false })?.isFile() === true);
}

describe('packaging: npm pack, then an install that compiles nothing', function () {
  this.timeout(300000);

  let tmp: string;
  let stage: string;
  let app: string;
  let installed: string;
  let pack: { filename: string; size: number; unpackedSize: number; files: Array<{ path: string; size: number }> };
  const prebuild = `prebuilds/${process.platform}-${process.arch}/${PKG.name}.${libc()}.node`;

  before(async function () {
    if (!have('git') || !fs.existsSync(path.join(REPO, '.git'))) this.skip();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-pack-'));
    stage = path.join(tmp, 'stage');
    app = path.join(tmp, 'app');
    installed = path.join(app, 'node_modules', PKG.name);

    // A fresh checkout: the files of the clone, the dependencies already installed.
    for (const f of treeFiles()) {
      fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
      fs.copyFileSync(path.join(REPO, f), path.join(stage, f));
    }
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(stage, 'node_modules'));

    // Headers of the running Node for node-gyp (every Node install has them
    // in <prefix>/include/node), so that nothing is downloaded.
    const env = cleanEnv();
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;

    // What `npm run build:ts` and `npm run prebuildify` do, side by side.
    await Promise.all([
      mustRun(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: stage, env }),
      mustRun(process.execPath, [path.join(REPO, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip', '--tag-libc'], { cwd: stage, env }),
    ]);
    const packed = await mustRun('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: stage, env });
    pack = (JSON.parse(packed.stdout) as Array<typeof pack>)[0];

    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke', version: '1.0.0', private: true }));
    await mustRun('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', path.join(tmp, pack.filename)], {
      cwd: app,
      env,
    });
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs only what users need', () => {
    const files = pack.files.map((f) => f.path).sort();
    console.log(`      ${pack.filename}: ${pack.size} bytes packed, ${pack.unpackedSize} unpacked, ${files.length} files`);
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'binding.gyp',
      'binding.map',
      'bin/passive-rtt.js',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli.js',
      'dist/src/types.d.ts',
      'examples/go-metro.yaml',
      'examples/passive-rtt.service',
      prebuild,
    ]) {
      assert.ok(files.includes(f), `${f} is missing from the package`);
    }
    // Whatever binding.gyp compiles is there, so a build from source works too.
    const gyp = JSON.parse(fs.readFileSync(path.join(REPO, 'binding.gyp'), 'utf8')) as { targets: Array<{ sources: string[] }> };
    for (const src of gyp.targets.flatMap((t) => t.sources)) assert.ok(files.includes(src), `${src} (binding.gyp) is missing from the package`);
    for (const f of files) {
      assert.doesNotMatch(f, /^(test|bench|fuzz|scripts|src|build|node_modules|\.github|\.ci)\//, `${f} does not belong in the package`);
      if (f.startsWith('dist/')) assert.match(f, /^dist\/src\/[^/]+(\.js|\.d\.ts)$/, `${f}: only compiled JavaScript and types of dist/src`);
    }
    assert.ok(!files.some((f) => f.startsWith('examples/captures/')), 'the captures stay in the repository');
    assert.ok(pack.size < 1024 * 1024, `packed size ${pack.size} bytes: something large slipped in`);
  });

  it('installed without compiling: no build directory, the prebuild is what loads', async () => {
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'nothing was built on install');
    assert.ok(fs.statSync(path.join(installed, prebuild)).size > 0, `${prebuild} is installed`);
    const code = `console.log(require('node-gyp-build').path(${JSON.stringify(installed)}))`;
    const r = await mustRun(process.execPath, ['-e', code], { cwd: app, env: cleanEnv({ PREBUILDS_ONLY: '1' }) });
    assert.equal(r.stdout.trim(), path.join(installed, prebuild));
    const lib = await mustRun(process.execPath, ['-e', `console.log(JSON.stringify(require(${JSON.stringify(PKG.name)}).libpcap()))`], {
      cwd: app,
      env: cleanEnv({ PREBUILDS_ONLY: '1' }),
    });
    const info = JSON.parse(lib.stdout) as { library: string; version: string };
    assert.match(info.library, /libpcap\.so/);
    assert.match(info.version, /^libpcap version \d/);
  });

  it('the installed CLI reads a bundled capture and gives its RTTs', async () => {
    const cli = path.join(app, 'node_modules', '.bin', PKG.name);
    const env = cleanEnv({ PREBUILDS_ONLY: '1' });
    const v = await mustRun(cli, ['--version'], { cwd: app, env });
    assert.equal(v.stdout, `passive-rtt ${PKG.version}\n`);
    const r = await mustRun(cli, ['--pcap', CAPTURE, '--local', CAPTURE_LOCAL, '--format', 'json', '--samples'], { cwd: app, env });
    const lines = jsonLines(r.stdout);
    const samples = lines.filter((l) => l.type === 'sample').map((l) => ({ rtt_ms: l.rtt_ms, kind: l.kind }));
    assert.deepEqual(samples, CAPTURE_SAMPLES);
    const reports = lines.filter((l) => l.type === 'report');
    assert.equal(reports.length, 1);
    assert.deepEqual(
      { src: reports[0]?.src, dst: reports[0]?.dst, samples: reports[0]?.samples, min: reports[0]?.min_ms, p50: reports[0]?.p50_ms, max: reports[0]?.max_ms },
      { src: CAPTURE_LOCAL, dst: '107.6.106.82', samples: 4, min: 69.204, p50: 72.322, max: 74.599 },
    );
    const stats = lines[lines.length - 1];
    assert.equal(stats?.type, 'stats');
    assert.equal(stats?.packets, 16);
  });

  it("scripts/smoke-package.sh (the release workflow's check on every platform) passes on the package", async () => {
    const r = await mustRun('sh', [path.join(REPO, 'scripts', 'smoke-package.sh'), path.join(tmp, pack.filename)], { env: cleanEnv() });
    assert.match(
      r.stdout,
      new RegExp(`^smoke: ${process.platform}-${process.arch} node ${process.version}: ${prebuild.replace(/\./g, '\\.')}, libpcap\\.so`, 'm'),
    );
    assert.match(r.stdout, /^smoke: handshake 74\.599, data 72\.322, ts 69\.204, data 74\.253 ms; report p50 72\.322 ms/m);
  });

  it('the prebuild exports only the Node-API entry points and does not link libpcap', async function () {
    if (!have('nm') || !have('readelf')) this.skip();
    const file = path.join(installed, prebuild);
    const exported = (await mustRun('nm', ['-D', '--defined-only', file])).stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.trim().split(/\s+/).pop())
      .sort();
    assert.deepEqual(exported, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    const needed = (await mustRun('readelf', ['-d', file])).stdout;
    assert.match(needed, /\(NEEDED\)/);
    assert.doesNotMatch(needed, /libpcap/, 'libpcap is resolved at run time, never linked');
  });
});

/** Runs a script in a child node with the repository's build, in an environment of our choosing. */
async function nodeEval(script: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return run(process.execPath, ['-e', script], { env: cleanEnv(env) });
}

const NATIVE = JSON.stringify(path.join(REPO, 'dist', 'src', 'native.js'));
const INDEX = JSON.stringify(path.join(REPO, 'dist', 'src', 'index.js'));

describe('libpcap resolver (real dlopen)', function () {
  this.timeout(60000);

  let loaded: { library: string; version: string };

  before(async () => {
    const r = await nodeEval(`console.log(JSON.stringify(require(${INDEX}).libpcap()))`);
    assert.equal(r.code, 0, `this machine has a libpcap: ${r.stderr}`);
    loaded = JSON.parse(r.stdout) as typeof loaded;
  });

  it('tries libpcap.so.1 (Fedora, RHEL, Alpine), then libpcap.so.0.8 (Debian, Ubuntu), then libpcap.so', async () => {
    const r = await nodeEval(
      `const a = require(${NATIVE}).addon(); const names = a.libpcapNames();
       console.log(JSON.stringify({ names, each: names.map((n) => a.resolveLibpcap([n])) }))`,
    );
    assert.equal(r.code, 0, r.stderr);
    const { names, each } = JSON.parse(r.stdout) as { names: string[]; each: Array<{ library?: string; error?: string }> };
    assert.deepEqual(names, ['libpcap.so.1', 'libpcap.so.0.8', 'libpcap.so']);
    // The one that loaded is the first of the list that loads on its own.
    const first = each.findIndex((e) => e.library !== undefined);
    assert.equal(loaded.library, names[first]);
    if (fs.existsSync('/etc/debian_version') && !fs.existsSync('/usr/lib/x86_64-linux-gnu/libpcap.so.1')) assert.equal(loaded.library, 'libpcap.so.0.8');
  });

  it('PASSIVE_RTT_LIBPCAP replaces the list and keeps its order', async () => {
    const names = `console.log(JSON.stringify(require(${INDEX}).libpcap().library))`;
    let r = await nodeEval(names, { PASSIVE_RTT_LIBPCAP: `/nonexistent/libpcap.so.1:${loaded.library}` });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout), loaded.library);
    r = await nodeEval(names, { PASSIVE_RTT_LIBPCAP: `${loaded.library}:/nonexistent/libpcap.so.1` });
    assert.equal(JSON.parse(r.stdout), loaded.library);
  });

  it('without a loadable libpcap: PCAP_MISSING naming what was tried and the fix, from the API and the CLI', async () => {
    const env = { PASSIVE_RTT_LIBPCAP: '/nonexistent/libpcap.so.1:/nonexistent/libpcap.so.0.8' };
    const want =
      'libpcap could not be loaded from PASSIVE_RTT_LIBPCAP (tried /nonexistent/libpcap.so.1, /nonexistent/libpcap.so.0.8). ' +
      "Point PASSIVE_RTT_LIBPCAP at libpcap 1.5 or newer (a name such as libpcap.so.1, or a path), or unset it to use the system's libpcap";
    const r = await nodeEval(
      `try { require(${INDEX}).libpcap(); } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`,
      env,
    );
    assert.deepEqual(JSON.parse(r.stdout), { name: 'RttError', code: 'PCAP_MISSING', message: want });
    // The addon itself loads without libpcap; the capture is what fails.
    const cli = await run(process.execPath, [BIN, '--pcap', CAPTURE, '--local', CAPTURE_LOCAL, '--format', 'json'], { env: cleanEnv(env) });
    assert.equal(cli.code, 1, cli.stderr);
    assert.equal(cli.stdout, '');
    assert.equal(cli.stderr, `passive-rtt: command line (file ${CAPTURE}): ${want}\n`);
  });

  it('tells a file that is no libpcap, or too old a libpcap, from a missing one', async () => {
    // Some shared library of this process that is not libpcap: it has none of its functions.
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const other = maps
      .split('\n')
      .map((l) => l.split(/\s+/)[5] ?? '')
      .find((p) => /\/lib[^/]*\.so(\.\d+)*$/.test(p) && !p.includes('pcap'));
    assert.ok(other, 'a shared library is mapped');
    const r = await nodeEval(
      `const a = require(${NATIVE}).addon(); console.log(JSON.stringify([a.resolveLibpcap([${JSON.stringify(CAPTURE)}]), a.resolveLibpcap([${JSON.stringify(other)}])]))`,
    );
    assert.equal(r.code, 0, r.stderr);
    const [notElf, notPcap] = JSON.parse(r.stdout) as Array<{ error: string }>;
    assert.ok(notElf?.error.startsWith(`no usable libpcap (tried ${CAPTURE} (`), notElf?.error);
    assert.ok(
      notPcap?.error.startsWith(
        `no usable libpcap (tried ${other} (lacks pcap_create, pcap_set_snaplen, pcap_set_promisc and 19 more: libpcap 1.5 or newer is needed)). Install or upgrade it: `,
      ),
      notPcap?.error,
    );
  });

  it('on a system without libpcap, names the install command of its distribution (os-release)', async function () {
    // As root, in a private mount namespace: the directories that hold
    // libpcap are replaced by copies without it, and /etc/os-release by
    // each distribution's. Nothing outside the namespace changes.
    if (process.getuid?.() !== 0 || !have('unshare') || !have('mount')) this.skip();
    const dirs = new Set<string>();
    const ldconfig = spawnSync('sh', ['-c', 'ldconfig -p 2>/dev/null'], { encoding: 'utf8' }).stdout;
    for (const m of ldconfig.matchAll(/=> (\S*libpcap\.so\S*)/g)) dirs.add(path.dirname(fs.realpathSync(m[1])));
    const r0 = await nodeEval(`require(${INDEX}).libpcap(); console.log(require('fs').readFileSync('/proc/self/maps', 'utf8'))`);
    for (const m of r0.stdout.matchAll(/\s(\/\S*libpcap\.so\S*)$/gm)) dirs.add(path.dirname(m[1]));
    assert.ok(dirs.size > 0, 'found where libpcap is');

    const cases: Array<[string, string]> = [
      ['ID=debian\nVERSION_ID="12"\n', 'apt-get install libpcap0.8'],
      ['ID=debian\nVERSION_ID="13"\n', 'apt-get install libpcap0.8t64'],
      ['ID=debian\n', 'apt-get install libpcap0.8t64'],
      ['ID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n', 'apt-get install libpcap0.8'],
      ['ID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n', 'apt-get install libpcap0.8t64'],
      [
        'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="21.3"\n',
        'apt-get install libpcap0.8 (libpcap0.8t64 on releases based on Debian 13 or Ubuntu 24.04 and later)',
      ],
      ['ID=fedora\nVERSION_ID=40\n', 'dnf install libpcap'],
      ['ID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n', 'dnf install libpcap'],
      ['ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n', 'yum install libpcap'],
      ['ID="amzn"\nID_LIKE="centos rhel fedora"\nVERSION_ID="2"\n', 'yum install libpcap'],
      ['ID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n', 'dnf install libpcap'],
      ['ID=alpine\nVERSION_ID=3.20.3\n', 'apk add libpcap'],
      ['ID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.6"\n', 'zypper install libpcap1'],
      ['ID=arch\n', 'pacman -S libpcap'],
      ['ID=plan9\n', "install your distribution's libpcap package (it provides libpcap.so.1 or libpcap.so.0.8)"],
    ];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-nopcap-'));
    try {
      cases.forEach(([text], i) => fs.writeFileSync(path.join(dir, `os-release.${i}`), text));
      // The copy of a directory is a farm of symbolic links to the original
      // (kept reachable by a bind mount), less libpcap, put in place with one
      // mount: every command before and after finds the C library.
      const script = [
        'set -eu',
        'n=0',
        'for d in "$@"; do',
        '  n=$((n+1)); keep="$TMPD/orig.$n"; farm="$TMPD/farm.$n"; mkdir "$keep" "$farm"',
        '  mount --bind "$d" "$keep"',
        '  ln -s "$keep"/* "$farm"/',
        '  rm -f "$farm"/libpcap.so*',
        '  mount --bind "$farm" "$d"',
        'done',
        'i=0',
        'while [ -e "$TMPD/os-release.$i" ]; do',
        '  mount --bind "$TMPD/os-release.$i" /etc/os-release',
        '  set +e; "$NODE" "$BIN" --pcap "$CAPTURE" --local "$LOCAL" 2>"$TMPD/err.$i" >/dev/null; echo $? >"$TMPD/code.$i"; set -e',
        '  umount /etc/os-release',
        '  i=$((i+1))',
        'done',
      ].join('\n');
      const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...dirs], {
        env: cleanEnv({ TMPD: dir, NODE: process.execPath, BIN, CAPTURE, LOCAL: CAPTURE_LOCAL }),
      });
      assert.equal(r.code, 0, `namespace set-up: ${r.stderr}`);
      cases.forEach(([text, hint], i) => {
        const stderr = fs.readFileSync(path.join(dir, `err.${i}`), 'utf8');
        assert.equal(
          stderr,
          `passive-rtt: command line (file ${CAPTURE}): libpcap is not installed (tried libpcap.so.1, libpcap.so.0.8, libpcap.so). Install it: ${hint}\n`,
          `os-release: ${JSON.stringify(text)}`,
        );
        assert.equal(fs.readFileSync(path.join(dir, `code.${i}`), 'utf8').trim(), '1');
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('src-native/pcap_api.h declares libpcap as pcap.h does', function () {
  this.timeout(60000);

  it('every function, type and constant matches the system pcap.h', async function () {
    const cxx = ['c++', 'g++', 'clang++'].find(have);
    if (!cxx) this.skip();
    const probe = await run(cxx, ['-x', 'c++', '-fsyntax-only', '-'], { input: '#include <pcap/pcap.h>\n' });
    if (probe.code !== 0) this.skip(); // no libpcap headers (libpcap-dev) here

    // The table of bound functions, read from the resolver itself.
    const cc = fs.readFileSync(path.join(REPO, 'src-native', 'pcap_api.cc'), 'utf8');
    const bound = [...cc.matchAll(/bind\(h, "(\w+)", &api->(\w+),/g)].map((m) => ({ fn: m[1], member: m[2] }));
    const h = fs.readFileSync(path.join(REPO, 'src-native', 'pcap_api.h'), 'utf8');
    const members = [...h.matchAll(/\(\*(\w+)\)\(/g)].map((m) => m[1]).filter((m) => m !== 'pcap_handler');
    assert.deepEqual(bound.map((b) => b.member).sort(), members.sort(), 'every function pointer of PcapApi is bound by name');

    const tu = [
      // pcap.h first: a macro of pcap_api.h that differs from it is then a
      // redefinition, diagnosed (-Werror) because pcap_api.h is no system header.
      '#include <pcap/pcap.h>',
      '#include "pcap_api.h"',
      '#include <cstddef>',
      '#include <type_traits>',
      'template <class T> struct M { using type = T; };',
      'template <> struct M<prtt::pcap> { using type = ::pcap; };',
      'template <> struct M<prtt::pcap_pkthdr> { using type = ::pcap_pkthdr; };',
      'template <> struct M<prtt::pcap_stat> { using type = ::pcap_stat; };',
      'template <> struct M<prtt::bpf_program> { using type = ::bpf_program; };',
      'template <> struct M<prtt::bpf_insn> { using type = ::bpf_insn; };',
      'template <class T> struct M<T*> { using type = typename M<T>::type*; };',
      'template <class T> struct M<const T> { using type = const typename M<T>::type; };',
      'template <class R, class... A> struct M<R (*)(A...)> { using type = typename M<R>::type (*)(typename M<A>::type...); };',
      'template <class Mine, class Theirs> constexpr bool same = std::is_same<typename M<Mine>::type, Theirs>::value;',
      ...bound.map((b) => `static_assert(same<decltype(prtt::PcapApi::${b.member}), decltype(&::${b.fn})>, "${b.fn}");`),
      'static_assert(same<prtt::pcap_handler, ::pcap_handler>, "pcap_handler");',
      'static_assert(std::is_same<prtt::bpf_u_int32, ::bpf_u_int32>::value, "bpf_u_int32");',
      '#define LAYOUT(T, f) static_assert(offsetof(prtt::T, f) == offsetof(::T, f) && sizeof(prtt::T::f) == sizeof(::T::f), #T "." #f);',
      'LAYOUT(pcap_pkthdr, ts) LAYOUT(pcap_pkthdr, caplen) LAYOUT(pcap_pkthdr, len)',
      'LAYOUT(pcap_stat, ps_recv) LAYOUT(pcap_stat, ps_drop) LAYOUT(pcap_stat, ps_ifdrop)',
      'LAYOUT(bpf_program, bf_len) LAYOUT(bpf_program, bf_insns)',
      'static_assert(sizeof(prtt::pcap_pkthdr) == sizeof(::pcap_pkthdr), "pcap_pkthdr");',
      'static_assert(sizeof(prtt::pcap_stat) == sizeof(::pcap_stat), "pcap_stat");',
      'static_assert(sizeof(prtt::bpf_program) == sizeof(::bpf_program), "bpf_program");',
      '',
    ].join('\n');
    const r = await run(cxx, ['-std=c++17', '-Wall', '-Werror', '-fsyntax-only', '-I', path.join(REPO, 'src-native'), '-x', 'c++', '-'], {
      input: tu,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(bound.length, 22);
  });
});
