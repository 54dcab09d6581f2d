import assert from 'node:assert/strict';
import { Logger } from '../src/logger';
import {
  encodeMetric,
  encodeServiceCheck,
  formatValue,
  MAX_UDP_DATAGRAM,
  MAX_UDS_DATAGRAM,
  parseStatsdAddress,
  sanitizeTag,
  ServiceCheckStatus,
  StatsdClient,
} from '../src/statsd';
import { deadUdpPort, udpReceiver, unixgramReceiver } from './helpers/receivers';

describe('DogStatsD encoding', () => {
  it('formats milliseconds with nanosecond resolution and no exponent', () => {
    assert.equal(formatValue(74.599), '74.599');
    assert.equal(formatValue(74.306703125), '74.306703');
    assert.equal(formatValue(21.42325), '21.42325');
    assert.equal(formatValue(3), '3');
    assert.equal(formatValue(0.0000004), '0');
    assert.equal(formatValue(0.000001), '0.000001');
    assert.equal(formatValue(1e21 / 1e15), '1000000');
  });

  it('encodes gauges, counts and service checks in the DogStatsD datagram format', () => {
    assert.equal(encodeMetric('system.net.tcp.rtt', 74.253, 'g', ['src:a', 'dst:b']), 'system.net.tcp.rtt:74.253|g|#src:a,dst:b');
    assert.equal(encodeMetric('passive_rtt.packets', 16, 'c', []), 'passive_rtt.packets:16|c');
    assert.equal(encodeServiceCheck('passive_rtt.can_capture', ServiceCheckStatus.OK, ['iface:eth0']), '_sc|passive_rtt.can_capture|0|#iface:eth0');
    assert.equal(
      encodeServiceCheck('passive_rtt.can_capture', ServiceCheckStatus.CRITICAL, ['iface:eth0'], 'no device\nm: here'),
      '_sc|passive_rtt.can_capture|2|#iface:eth0|m:no device\\nm\\: here',
    );
  });

  it("sanitises tags by Datadog's rules", () => {
    assert.equal(sanitizeTag('env:Prod'), 'env:prod');
    assert.equal(sanitizeTag('team:net ops|x,y#z'), 'team:net_ops_x_y_z');
    assert.equal(sanitizeTag('dst:2001:db8::1'), 'dst:2001:db8::1');
    assert.equal(sanitizeTag('src:192.168.1.116'), 'src:192.168.1.116');
    assert.equal(sanitizeTag('9lives:yes'), 'lives:yes');
    assert.equal(sanitizeTag('a!!!'), 'a');
    assert.equal(sanitizeTag('région:été'), 'région:été');
    assert.equal(sanitizeTag('12345'), '');
    // a tag cannot end with a colon
    assert.equal(sanitizeTag('env:'), 'env');
    assert.equal(sanitizeTag('env:?'), 'env');
    assert.equal(sanitizeTag(`k:${'v'.repeat(300)}`).length, 200);
  });

  it('parses DogStatsD addresses', () => {
    assert.deepEqual(parseStatsdAddress('127.0.0.1:8125'), { kind: 'udp', host: '127.0.0.1', port: 8125 });
    assert.deepEqual(parseStatsdAddress('udp://agent:9125'), { kind: 'udp', host: 'agent', port: 9125 });
    assert.deepEqual(parseStatsdAddress('[::1]:8125'), { kind: 'udp', host: '::1', port: 8125 });
    assert.deepEqual(parseStatsdAddress('::1'), { kind: 'udp', host: '::1', port: 8125 });
    assert.deepEqual(parseStatsdAddress('localhost'), { kind: 'udp', host: 'localhost', port: 8125 });
    assert.deepEqual(parseStatsdAddress('unix:///var/run/datadog/dsd.socket'), { kind: 'unix', path: '/var/run/datadog/dsd.socket' });
    assert.deepEqual(parseStatsdAddress('unixgram:///tmp/x'), { kind: 'unix', path: '/tmp/x' });
    assert.deepEqual(parseStatsdAddress('/tmp/x.sock'), { kind: 'unix', path: '/tmp/x.sock' });
    assert.equal(typeof parseStatsdAddress('host:99999'), 'string');
    assert.equal(typeof parseStatsdAddress('http://x'), 'string');
    assert.equal(typeof parseStatsdAddress('unixstream:///x'), 'string');
  });
});

describe('DogStatsD client on real sockets', () => {
  it('packs lines into UDP datagrams of at most 1432 bytes, in order', async () => {
    const rx = await udpReceiver();
    try {
      const client = new StatsdClient({ target: { kind: 'udp', host: '127.0.0.1', port: rx.port } });
      const sent: string[] = [];
      for (let i = 0; i < 200; i++) {
        const tags = [`src:10.0.0.${i % 250}`, `dst:host-${i}.example.com`, 'iface:eth0', 'env:prod'];
        client.gauge('system.net.tcp.rtt', i + 0.5, tags);
        sent.push(encodeMetric('system.net.tcp.rtt', i + 0.5, 'g', tags));
      }
      await client.flush();
      const total = sent.reduce((n, l) => n + l.length + 1, 0);
      const minDatagrams = Math.ceil(total / MAX_UDP_DATAGRAM);
      await rx.waitFor(minDatagrams);
      await new Promise((r) => setTimeout(r, 100));
      await client.close();
      for (const d of rx.datagrams) assert.ok(Buffer.byteLength(d) <= MAX_UDP_DATAGRAM, `datagram of ${Buffer.byteLength(d)} bytes`);
      // packed: each datagram is full enough that the next line would not have fit
      for (let i = 0; i + 1 < rx.datagrams.length; i++) {
        const next = rx.datagrams[i + 1].split('\n')[0];
        assert.ok(Buffer.byteLength(rx.datagrams[i]) + 1 + Buffer.byteLength(next) > MAX_UDP_DATAGRAM);
      }
      assert.deepEqual(rx.lines(), sent);
      assert.equal(client.stats().errors, 0);
      assert.equal(client.stats().datagrams, rx.datagrams.length);
    } finally {
      await rx.close();
    }
  });

  it('sends over a Unix datagram socket with datagrams of at most 8192 bytes', async function () {
    const rx = await unixgramReceiver();
    try {
      const client = new StatsdClient({ target: { kind: 'unix', path: rx.path } });
      assert.equal(client.maxDatagram, MAX_UDS_DATAGRAM);
      const sent: string[] = [];
      for (let i = 0; i < 300; i++) {
        const tags = [`src:10.1.0.${i % 250}`, `dst:10.2.0.${i % 250}`, 'iface:eth1'];
        client.gauge('system.net.tcp.rtt.avg', i / 8, tags);
        sent.push(encodeMetric('system.net.tcp.rtt.avg', i / 8, 'g', tags));
      }
      client.serviceCheck('passive_rtt.can_capture', ServiceCheckStatus.OK, ['iface:eth1']);
      sent.push('_sc|passive_rtt.can_capture|0|#iface:eth1');
      await client.flush();
      const total = sent.reduce((n, l) => n + l.length + 1, 0);
      await rx.waitFor(Math.ceil(total / MAX_UDS_DATAGRAM));
      await new Promise((r) => setTimeout(r, 200));
      await client.close();
      assert.ok(rx.datagrams.length >= 2, 'more than one datagram');
      for (const d of rx.datagrams) assert.ok(Buffer.byteLength(d) <= MAX_UDS_DATAGRAM);
      assert.deepEqual(rx.lines(), sent);
      assert.equal(client.stats().errors, 0);
    } finally {
      await rx.close();
    }
  });

  it('counts errors when nothing listens, logs them at most once a minute, and never throws', async () => {
    const port = await deadUdpPort();
    const logged: string[] = [];
    const logger = new Logger({ level: 'warn', stream: { write: (s: string) => logged.push(s) } });
    const client = new StatsdClient({ target: { kind: 'udp', host: '127.0.0.1', port }, logger });
    for (let i = 0; i < 5; i++) {
      client.gauge('x', i, []);
      await client.flush();
      await new Promise((r) => setTimeout(r, 30));
    }
    await client.close();
    // connect(2)ed UDP: the ICMP port unreachable of one datagram fails a later one (ECONNREFUSED)
    assert.ok(client.stats().errors >= 1, `errors: ${client.stats().errors}`);
    assert.equal(logged.filter((l) => l.includes('cannot send to DogStatsD')).length, 1);

    const missing = new StatsdClient({ target: { kind: 'unix', path: '/nonexistent/dsd.socket' }, logger });
    missing.gauge('x', 1, []);
    await missing.flush();
    await missing.close();
    assert.equal(missing.stats().errors, 1);
  });

  it('drops a single line longer than the datagram limit and counts it', async () => {
    const rx = await udpReceiver();
    try {
      const client = new StatsdClient({ target: { kind: 'udp', host: '127.0.0.1', port: rx.port }, maxDatagram: 100 });
      client.gauge('a', 1, ['t:'.padEnd(120, 'x')]);
      client.gauge('b', 2, []);
      await client.flush();
      await rx.waitFor(1);
      await client.close();
      assert.deepEqual(rx.lines(), ['b:2|g']);
      assert.equal(client.stats().dropped, 1);
    } finally {
      await rx.close();
    }
  });
});
