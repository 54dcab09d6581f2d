import assert from 'node:assert/strict';
import { parseArgs } from '../src/args';
import { RttError } from '../src/errors';

function usageError(argv: string[]): RttError {
  try {
    parseArgs(argv);
  } catch (err) {
    assert.ok(err instanceof RttError);
    assert.equal(err.code, 'USAGE');
    return err;
  }
  assert.fail(`expected a usage error for ${argv.join(' ')}`);
}

describe("command line: go-metro's flags as Go's flag package reads them", () => {
  it('-cfg FILE, -cfg=FILE, --cfg=FILE, --cfg FILE', () => {
    for (const argv of [['-cfg', '/a.yaml'], ['-cfg=/a.yaml'], ['--cfg=/a.yaml'], ['--cfg', '/a.yaml']]) {
      const o = parseArgs(argv);
      assert.equal(o.config, '/a.yaml', argv.join(' '));
      assert.equal(o.goMetroStyle, true);
    }
  });

  it('the supervisor line of Datadog Agent v5', () => {
    const o = parseArgs(['-cfg=/etc/dd-agent/conf.d/go-metro.yaml']);
    assert.equal(o.config, '/etc/dd-agent/conf.d/go-metro.yaml');
  });

  it('-log FILE, -f FILTER', () => {
    const o = parseArgs(['-log', '/tmp/m.log', '-f', 'tcp port 443']);
    assert.equal(o.logFile, '/tmp/m.log');
    assert.equal(o.filter, 'tcp port 443');
    assert.equal(parseArgs(['-f=tcp and port 80']).filter, 'tcp and port 80');
    assert.equal(parseArgs(['-log=/x']).logFile, '/x');
  });

  it('-st, -st=false, --st=0, -st=true; never "-st false"', () => {
    assert.equal(parseArgs(['-st']).soften, true);
    assert.equal(parseArgs(['-st=false']).soften, false);
    assert.equal(parseArgs(['--st=0']).soften, false);
    assert.equal(parseArgs(['-st=T']).soften, true);
    assert.equal(parseArgs([]).soften, undefined);
    // Go: a boolean flag takes no separate value; "false" is then a positional
    // argument (go-metro ignored it and every flag after it): refused, with the spelling that works
    assert.match(usageError(['-st', 'false']).message, /^-st false: a boolean flag takes its value after "=".*write -st=false$/m);
    assert.match(usageError(['-cfg', 'x.yaml', '--samples', 'true']).message, /write -samples=true/);
    // -st before another flag is still -st alone
    assert.deepEqual([parseArgs(['-st', '-cfg', 'x']).soften, parseArgs(['-st', '-cfg', 'x']).config], [true, 'x']);
    // and a word that is not a boolean after a flag is the ordinary positional argument error
    assert.match(usageError(['-st', 'capture.pcap']).message, /unexpected argument "capture\.pcap"/);
    assert.match(usageError(['-st=no']).message, /invalid boolean value "no" for -st/);
  });

  it('stops at --, refuses unknown flags and positional arguments', () => {
    assert.match(usageError(['-cfg']).message, /option -cfg needs a value/);
    assert.match(usageError(['-nope']).message, /unknown option -nope/);
    assert.match(usageError(['file.pcap']).message, /no positional arguments/);
    assert.match(usageError(['---cfg=x']).message, /bad flag syntax/);
    // an unset shell variable: -cfg=$CONF
    assert.match(usageError(['-cfg=']).message, /option -cfg needs a value, got an empty string/);
    assert.match(usageError(['--log-file', '']).message, /option -log-file needs a value/);
    // but an empty list is a list: it clears the file's
    assert.deepEqual(parseArgs(['--hosts=']).hosts, []);
    assert.deepEqual(parseArgs(['--ips', '']).ips, []);
    assert.deepEqual(parseArgs(['--']).config, undefined);
  });
});

describe('command line: long options', () => {
  it('parses every option', () => {
    const o = parseArgs([
      '--config',
      'c.yaml',
      '--interface=eth0',
      '--local',
      '10.0.0.1,10.0.0.2',
      '--ips',
      '10.1.0.0/16,192.0.2.7',
      '--hosts=a.example,b.example',
      '--filter',
      'tcp port 443',
      '--statsd',
      'unix:///var/run/datadog/dsd.socket',
      '--tags',
      'env:prod,team:net',
      '--report-interval',
      '10',
      '--format',
      'json',
      '--samples',
      '--log-file',
      '/tmp/l',
      '--log-level',
      'WARNING',
      '--max-flows',
      '5000',
      '--snaplen',
      '200',
      '--buffer-size',
      '4194304',
      '--threads',
      '1',
      '--extended-metrics',
      '--no-telemetry',
    ]);
    assert.equal(o.config, 'c.yaml');
    assert.equal(o.goMetroStyle, false);
    assert.equal(o.interface, 'eth0');
    assert.deepEqual(o.local, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(o.ips, ['10.1.0.0/16', '192.0.2.7']);
    assert.deepEqual(o.hosts, ['a.example', 'b.example']);
    assert.equal(o.filter, 'tcp port 443');
    assert.deepEqual(o.statsd, { kind: 'unix', path: '/var/run/datadog/dsd.socket' });
    assert.deepEqual(o.tags, ['env:prod', 'team:net']);
    assert.equal(o.reportInterval, 10);
    assert.equal(o.format, 'json');
    assert.equal(o.samples, true);
    assert.equal(o.logFile, '/tmp/l');
    assert.equal(o.logLevel, 'warn');
    assert.equal(o.maxFlows, 5000);
    assert.equal(o.snaplen, 200);
    assert.equal(o.bufferSize, 4194304);
    assert.equal(o.threads, 1);
    assert.equal(parseArgs(['--threads', '2']).threads, 2);
    assert.equal(parseArgs([]).threads, undefined);
    assert.equal(o.extendedMetrics, true);
    assert.equal(o.telemetry, false);
    assert.equal(parseArgs(['--progress']).progress, true);
    assert.equal(parseArgs(['--no-progress']).progress, false);
    assert.equal(parseArgs([]).progress, undefined);
  });

  it('accepts every log level spelling', () => {
    const want: Record<string, string> = {
      trace: 'trace',
      debug: 'debug',
      info: 'info',
      warn: 'warn',
      warning: 'warn',
      error: 'error',
      err: 'error',
      critical: 'critical',
      crit: 'critical',
    };
    for (const [spelling, level] of Object.entries(want)) assert.equal(parseArgs(['--log-level', spelling]).logLevel, level);
    assert.match(usageError(['--log-level', 'loud']).message, /unknown level "loud"/);
  });

  it('validates values with the cause', () => {
    assert.match(usageError(['--report-interval', '0']).message, /must be greater than 0/);
    assert.match(usageError(['--report-interval', 'x']).message, /expected a number/);
    assert.match(usageError(['--local', 'host']).message, /"host" is not an IP address/);
    assert.match(usageError(['--ips', 'example.com']).message, /not an IP address or CIDR block/);
    assert.match(usageError(['--statsd', 'h:0']).message, /port must be between 1 and 65535/);
    assert.match(usageError(['--format', 'xml']).message, /expected text, json or none/);
    assert.match(usageError(['--interface', 'lo', '--pcap', 'x']).message, /either --interface or --pcap/);
    assert.match(usageError(['--max-flows', '1.5']).message, /whole number/);
    assert.match(usageError(['--buffer-size', '4096']).message, /-buffer-size: must be at least 65536/);
    assert.match(usageError(['--threads', '3']).message, /-threads: must be at most 2/);
    assert.match(usageError(['--threads', '0']).message, /-threads: must be at least 1/);
    assert.match(usageError(['--hosts', 'app.example.com,bad name!']).message, /-hosts: "bad name!" is not a host name/);
    assert.match(usageError(['--hosts', '10.0.0.1']).message, /10\.0\.0\.1 is an address, not a host name \(addresses go after --ips\)/);
    assert.match(usageError(['--ips', '10.1.2.3/16']).message, /has bits set after the \/16 prefix; write the block as 10\.1\.0\.0\/16/);
  });

  it('--help and --version', () => {
    assert.equal(parseArgs(['--help']).help, true);
    assert.equal(parseArgs(['-h']).help, true);
    assert.equal(parseArgs(['--version']).version, true);
  });
});
