import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { environmentTags, loadConfig, parseConfig, resolveStatsdTarget } from '../src/config';
import { RttError } from '../src/errors';
import { buildFilter, onlyLocalAddresses, parseWhitelistEntry, Whitelist } from '../src/whitelist';
import type { Resolver, WhitelistEntry } from '../src/whitelist';

const REPO = path.resolve(__dirname, '..', '..');

/** go-metro's sniff_test.go configurations, verbatim (they name the list `config:`). */
const INIT = `
init_config:
    snaplen: 512
    idle_ttl: 300
    exp_ttl: 60
    statsd_ip: 127.0.0.1
    statsd_port: 8125
    log_to_file: true
    log_level: debug
`;
const goodCfg = `${INIT}
config:
- interface: en0
  tags: [mytag]
  ips: []
`;
const goodFileCfg = `${INIT}
config:
- interface: file
  pcap: fixtures/test_tcp.pcap
  tags: [mytag]
  ips: []
`;
const badFileCfg = `${INIT}
config:
- interface: file
  tags: [mytag]
  ips: []
`;
const badCfg = `${INIT}
config:
`;
const badInterfaceCfg = `${INIT}
config:
- interface: noifc0
  tags: [mytag]
  ips: []
`;

function configError(text: string, file = 'go-metro.yaml'): RttError {
  try {
    parseConfig(text, file, '/nonexistent');
  } catch (err) {
    assert.ok(err instanceof RttError);
    return err;
  }
  assert.fail('expected a configuration error');
}

describe("go-metro configuration: go-metro's own test cases", () => {
  it('goodCfg parses: go-metro values, `config:` list, flow list shorthand', () => {
    const c = parseConfig(goodCfg, 'go-metro.yaml', '/nonexistent');
    assert.deepEqual(
      {
        snaplen: c.init.snaplen,
        idle: c.init.idleTtl,
        exp: c.init.expTtl,
        ip: c.init.statsdIp,
        port: c.init.statsdPort,
        file: c.init.logToFile,
        level: c.init.logLevel,
      },
      { snaplen: 512, idle: 300, exp: 60, ip: '127.0.0.1', port: 8125, file: true, level: 'debug' },
    );
    assert.equal(c.instances.length, 1);
    assert.equal(c.instances[0]?.interface, 'en0');
    assert.deepEqual(c.instances[0]?.tags, ['mytag']);
    assert.deepEqual(c.instances[0]?.ips, []);
    assert.deepEqual(c.warnings, []);
  });

  it('goodFileCfg parses: interface file with pcap (resolved beside the file, else the working directory)', () => {
    const c = parseConfig(goodFileCfg, 'go-metro.yaml', '/etc/dd-agent/conf.d');
    assert.equal(c.instances[0]?.interface, 'file');
    assert.equal(c.instances[0]?.pcap, '/etc/dd-agent/conf.d/fixtures/test_tcp.pcap');
  });

  it('badCfg (no instances) is refused with CONFIG_INVALID naming the key and line', () => {
    const e = configError(badCfg);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /^go-metro\.yaml: config: no instances configured.*, line 11$/m);
  });

  it('badFileCfg (interface file without pcap) is refused naming instances path and line', () => {
    const e = configError(badFileCfg);
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /^go-metro\.yaml: config\[0\]\.pcap: required when interface is "file".*, line 12$/m);
  });

  it('badInterfaceCfg parses (the unknown interface is found when capture starts; see cli tests)', () => {
    const c = parseConfig(badInterfaceCfg, 'go-metro.yaml', '/nonexistent');
    assert.equal(c.instances[0]?.interface, 'noifc0');
  });
});

describe('go-metro configuration: the documented example and extensions', () => {
  it('examples/go-metro.yaml (the documented example) works unchanged', () => {
    const c = loadConfig(path.join(REPO, 'examples', 'go-metro.yaml'));
    assert.equal(c.init.logToFile, true);
    assert.equal(c.init.logLevel, 'info');
    assert.deepEqual(
      c.instances.map((i) => [i.interface, i.tags, i.ips, i.hosts]),
      [['eth0', ['env:prod'], ['45.33.125.153'], ['app.datadoghq.com']]],
    );
    assert.deepEqual(c.warnings, []);
  });

  it("go-metro's defaults apply to keys left out; expired_ttl is an alias of exp_ttl", () => {
    const c = parseConfig('instances:\n  - interface: eth0\n', 'f.yaml');
    assert.equal(c.init.snaplen, 512);
    assert.equal(c.init.idleTtl, 300);
    assert.equal(c.init.expTtl, 60);
    assert.equal(c.init.statsdIp, undefined);
    assert.equal(c.init.logToFile, false);
    const d = parseConfig('init_config:\n  expired_ttl: 17\ninstances:\n  - interface: eth0\n', 'f.yaml');
    assert.equal(d.init.expTtl, 17);
  });

  it('log_level: every spelling, any case (go-metro lost err, crit, warning and warn to its switch statement)', () => {
    const want: Record<string, string> = {
      trace: 'trace',
      DEBUG: 'debug',
      Info: 'info',
      warn: 'warn',
      WARNING: 'warn',
      error: 'error',
      err: 'error',
      critical: 'critical',
      Crit: 'critical',
    };
    for (const [spelling, level] of Object.entries(want)) {
      const c = parseConfig(`init_config:\n  log_level: ${spelling}\ninstances:\n  - interface: eth0\n`, 'f.yaml');
      assert.equal(c.init.logLevel, level, spelling);
      assert.deepEqual(c.warnings, []);
    }
    const bad = parseConfig('init_config:\n  log_level: loud\ninstances:\n  - interface: eth0\n', 'f.yaml');
    assert.equal(bad.init.logLevel, 'info');
    assert.deepEqual(bad.warnings, [
      'f.yaml: init_config.log_level: unknown log level "loud", using info (levels: trace, debug, info, warn, error, critical), line 2',
    ]);
  });

  it('reads YAML 1.1 booleans as go-metro (yaml.v2) did', () => {
    const c = parseConfig(
      'init_config:\n  log_to_file: yes\ninstances:\n  - interface: eth0\n    sample: on\n    sample_duration: 10\n    sample_interval: 50\n',
      'f.yaml',
    );
    assert.equal(c.init.logToFile, true);
    assert.equal(c.instances[0]?.sample, true);
  });

  it('names file, key path and line for a wrong type', () => {
    const text = [
      'init_config:',
      '  snaplen: 512',
      'instances:',
      '  - interface: eth0',
      '  - interface: eth1',
      '    ips:',
      '      - 10.0.0.1',
      '      - not-an-ip',
      '    sample_duration: soon',
    ].join('\n');
    const e = configError(text, 'conf.d/go-metro.yaml');
    assert.equal(e.code, 'CONFIG_INVALID');
    const lines = e.message.split('\n');
    assert.ok(
      lines.includes('conf.d/go-metro.yaml: instances[1].ips[1]: "not-an-ip" is not an IP address or CIDR block (names go under hosts:), line 8'),
      e.message,
    );
    assert.ok(lines.includes('conf.d/go-metro.yaml: instances[1].sample_duration: expected a number, got "soon", line 9'), e.message);
  });

  it('statsd_ip is an address or a name, without a port', () => {
    for (const ip of ['127.0.0.1', '::1', 'dogstatsd.local', 'agent']) {
      assert.equal(parseConfig(`init_config:\n  statsd_ip: ${JSON.stringify(ip)}\ninstances:\n  - interface: eth0\n`, 'f.yaml').init.statsdIp, ip);
    }
    assert.match(
      configError('init_config:\n  statsd_ip: 127.0.0.1:8125\ninstances:\n  - interface: eth0\n').message,
      /init_config\.statsd_ip: "127\.0\.0\.1:8125": give the address alone and the port as statsd_port: 8125 \(or statsd_url: udp:\/\/127\.0\.0\.1:8125\), line 2/,
    );
    assert.match(
      configError('init_config:\n  statsd_ip: "udp://x"\ninstances:\n  - interface: eth0\n').message,
      /init_config\.statsd_ip: expected an IP address or host name, got "udp:\/\/x", line 2/,
    );
  });

  it('statsd_port must be a port number', () => {
    const e = configError('init_config:\n  statsd_port: eighty\ninstances:\n  - interface: eth0\n');
    assert.match(e.message, /init_config\.statsd_port: expected a number, got "eighty", line 2/);
    const f = configError('init_config:\n  statsd_port: 70000\ninstances:\n  - interface: eth0\n');
    assert.match(f.message, /init_config\.statsd_port: must be at most 65535, got 70000, line 2/);
  });

  it('warns about unknown keys with their line, never fails on them', () => {
    const c = parseConfig('init_config:\n  snaplen: 512\n  colour: blue\nfoo: 1\ninstances:\n  - interface: eth0\n    bar: 2\n', 'x.yaml');
    assert.deepEqual(c.warnings, [
      'x.yaml: init_config.colour: unknown key ignored, line 3',
      'x.yaml: foo: unknown key ignored, line 4',
      'x.yaml: instances[0].bar: unknown key ignored, line 7',
    ]);
  });

  it('says where a key belongs when it is at the wrong level', () => {
    const c = parseConfig('init_config:\n  tags: [a]\ninstances:\n  - interface: eth0\n    statsd_port: 9125\n', 'x.yaml');
    assert.deepEqual(c.warnings, [
      'x.yaml: init_config.tags: ignored: tags belongs to each instance (under instances:), not to init_config, line 2',
      'x.yaml: instances[0].statsd_port: ignored: statsd_port is a process-wide setting; move it under init_config:, line 5',
    ]);
  });

  it('takes sampling windows on a capture file without a warning (they run in packet time)', () => {
    const c = parseConfig(
      'instances:\n  - interface: file\n    pcap: x.pcap\n    sample: true\n    sample_duration: 5\n    sample_interval: 10\n',
      'x.yaml',
      '/nonexistent',
    );
    assert.deepEqual(c.warnings, []);
    assert.equal(c.instances[0].sample, true);
    assert.equal(c.instances[0].sampleDuration, 5);
    assert.equal(c.instances[0].sampleInterval, 10);
  });

  it('refuses a CIDR block with host bits set, naming the block that was meant', () => {
    const e = configError('instances:\n  - interface: eth0\n    ips:\n      - 10.1.2.3/16\n      - 2001:db8::1/32\n    hosts: [app.example.com, "bad name"]\n');
    const lines = e.message.split('\n');
    assert.ok(
      lines.includes(
        'go-metro.yaml: instances[0].ips[0]: "10.1.2.3/16" has bits set after the /16 prefix; write the block as 10.1.0.0/16 (or the single address without /16), line 4',
      ),
      e.message,
    );
    assert.ok(
      lines.includes(
        'go-metro.yaml: instances[0].ips[1]: "2001:db8::1/32" has bits set after the /32 prefix; write the block as 2001:db8::/32 (or the single address without /32), line 5',
      ),
      e.message,
    );
    assert.ok(
      lines.some((l) => l.startsWith('go-metro.yaml: instances[0].hosts[1]: "bad name" is not a host name')),
      e.message,
    );
  });

  it('reports YAML syntax errors with their line', () => {
    const e = configError('init_config:\n  snaplen: 512\n instances: [\n');
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /go-metro\.yaml: YAML syntax: .*line \d/);
  });

  it('refuses both `instances` and `config`', () => {
    const e = configError('instances:\n  - interface: a\nconfig:\n  - interface: b\n');
    assert.match(e.message, /config: both "instances" and "config" are present.*line 3/);
  });

  it('sampling windows need both durations', () => {
    const e = configError('instances:\n  - interface: eth0\n    sample: true\n    sample_duration: 5\n');
    assert.match(e.message, /instances\[0\]\.sample_interval: required when sample is true/);
  });

  it('a missing file is CONFIG_UNREADABLE with the cause and a fix', () => {
    const missing = path.join(os.tmpdir(), 'no-such-dir-prtt', 'go-metro.yaml');
    assert.throws(
      () => loadConfig(missing),
      (err: unknown) => {
        assert.ok(err instanceof RttError);
        assert.equal(err.code, 'CONFIG_UNREADABLE');
        assert.match(err.message, /ENOENT; create it/);
        return true;
      },
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prtt-cfg-'));
    try {
      assert.throws(() => loadConfig(dir), /EISDIR/);
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});

describe('DogStatsD destination and environment tags', () => {
  it('file values win over the environment, per value', () => {
    const env = { DD_AGENT_HOST: 'agent.local', DD_DOGSTATSD_PORT: '9125', DD_DOGSTATSD_URL: 'unix:///run/dsd.socket' };
    assert.deepEqual(resolveStatsdTarget({}, {}), { kind: 'udp', host: '127.0.0.1', port: 8125 });
    assert.deepEqual(resolveStatsdTarget({}, env), { kind: 'unix', path: '/run/dsd.socket' });
    assert.deepEqual(resolveStatsdTarget({}, { DD_AGENT_HOST: 'agent.local', DD_DOGSTATSD_PORT: '9125' }), { kind: 'udp', host: 'agent.local', port: 9125 });
    assert.deepEqual(resolveStatsdTarget({ statsdPort: 8126 }, env), { kind: 'udp', host: 'agent.local', port: 8126 });
    assert.deepEqual(resolveStatsdTarget({ statsdIp: '10.0.0.1' }, env), { kind: 'udp', host: '10.0.0.1', port: 9125 });
    assert.deepEqual(resolveStatsdTarget({}, { DD_DOGSTATSD_SOCKET: '/var/run/datadog/dsd.socket' }), { kind: 'unix', path: '/var/run/datadog/dsd.socket' });
    assert.deepEqual(resolveStatsdTarget({ statsdIp: '10.0.0.1' }, {}, { kind: 'udp', host: 'cli', port: 1 }), { kind: 'udp', host: 'cli', port: 1 });
    assert.throws(() => resolveStatsdTarget({}, { DD_DOGSTATSD_PORT: 'x' }), /DD_DOGSTATSD_PORT/);
  });

  it('DD_ENV, DD_SERVICE, DD_VERSION, DD_ENTITY_ID become tags unless the instance sets them', () => {
    const env = { DD_ENV: 'staging', DD_SERVICE: 'web', DD_VERSION: '1.2', DD_ENTITY_ID: 'abc-123' };
    assert.deepEqual(environmentTags(env), ['env:staging', 'service:web', 'version:1.2', 'dd.internal.entity_id:abc-123']);
    assert.deepEqual(environmentTags(env, ['env:prod']), ['service:web', 'version:1.2', 'dd.internal.entity_id:abc-123']);
  });
});

describe('whitelist and BPF filter (go-metro sniff.go)', () => {
  const host = (address: string): WhitelistEntry => ({ kind: 'host', address });

  it('builds the filter exactly as go-metro did', () => {
    assert.equal(buildFilter('tcp', []), 'tcp and not host 127.0.0.1');
    assert.equal(buildFilter('tcp', [host('45.33.125.153')]), 'tcp and not host 127.0.0.1 and (host 45.33.125.153)');
    assert.equal(
      buildFilter('tcp port 443', [host('10.0.0.1'), host('2001:db8::1'), { kind: 'net', address: '10.1.0.0', prefix: 16 }]),
      'tcp port 443 and not host 127.0.0.1 and (host 10.0.0.1 or host 2001:db8::1 or net 10.1.0.0/16)',
    );
  });

  it('refuses a whitelist of only local addresses', () => {
    assert.equal(onlyLocalAddresses([host('192.168.1.116')], ['192.168.1.116']), true);
    assert.equal(onlyLocalAddresses([host('192.168.1.116'), host('107.6.106.82')], ['192.168.1.116']), false);
    assert.equal(onlyLocalAddresses([], ['192.168.1.116']), false);
    assert.equal(onlyLocalAddresses([{ kind: 'net', address: '192.168.1.0', prefix: 24 }], ['192.168.1.116']), false);
  });

  it('parses addresses and CIDR blocks', () => {
    assert.deepEqual(parseWhitelistEntry('10.0.0.0/8'), { kind: 'net', address: '10.0.0.0', prefix: 8 });
    assert.deepEqual(parseWhitelistEntry('2001:DB8:0:0::1'), { kind: 'host', address: '2001:db8::1' });
    assert.deepEqual(parseWhitelistEntry('10.0.0.1/32'), { kind: 'host', address: '10.0.0.1' });
    assert.equal(typeof parseWhitelistEntry('example.com'), 'string');
    assert.equal(typeof parseWhitelistEntry('10.0.0.0/33'), 'string');
    assert.deepEqual(parseWhitelistEntry('2001:db8:0:0::/48'), { kind: 'net', address: '2001:db8::', prefix: 48 });
    assert.deepEqual(parseWhitelistEntry('10.128.0.0/9'), { kind: 'net', address: '10.128.0.0', prefix: 9 });
    assert.match(parseWhitelistEntry('10.255.0.0/9') as string, /write the block as 10\.128\.0\.0\/9/);
    assert.match(parseWhitelistEntry('2001:db8:ffff::/33') as string, /write the block as 2001:db8:8000::\/33/);
    assert.match(parseWhitelistEntry('::ffff:10.1.2.3/120') as string, /write the block as ::ffff:a01:200\/120/);
  });

  it('resolves hosts, follows a DNS change, keeps going when a name fails, names ips by reverse lookup', async () => {
    let answer: Record<string, string[]> = { 'app.example': ['10.9.0.1'], 'db.example': ['10.9.0.2', '2001:db8::2'] };
    const resolver: Resolver = {
      lookup: (name) => {
        const a = answer[name];
        return a ? Promise.resolve(a) : Promise.reject(new Error('ENOTFOUND'));
      },
      reverse: (ip) => Promise.resolve(ip === '10.8.0.1' ? 'gw.example' : undefined),
    };
    const w = new Whitelist(['10.8.0.1'], ['app.example', 'db.example', 'gone.example'], resolver);
    assert.equal(await w.resolve(), true);
    assert.equal(
      buildFilter('tcp', w.resolved?.entries ?? []),
      'tcp and not host 127.0.0.1 and (host 10.8.0.1 or host 10.9.0.1 or host 10.9.0.2 or host 2001:db8::2)',
    );
    assert.deepEqual(w.resolved?.unresolved, ['gone.example']);
    assert.equal(w.resolved?.names.get('10.9.0.2'), 'db.example');
    assert.equal(w.resolved?.names.get('10.8.0.1'), 'gw.example');
    assert.equal(await w.resolve(), false, 'same answers: no change');
    answer = { 'app.example': ['10.9.0.7'], 'db.example': ['10.9.0.2', '2001:db8::2'] };
    assert.equal(await w.resolve(), true, 'app.example moved');
    assert.equal(
      buildFilter('tcp', w.resolved?.entries ?? []),
      'tcp and not host 127.0.0.1 and (host 10.8.0.1 or host 10.9.0.7 or host 10.9.0.2 or host 2001:db8::2)',
    );
    answer = {};
    assert.equal(await w.resolve(), false, 'a failing lookup keeps the previous addresses');
  });
});
