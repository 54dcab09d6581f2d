/**
 * Decoding: every link layer, IPv4 options, IPv6 extension headers, pcap
 * and pcapng at micro- and nanosecond precision, truncated and fragmented
 * packets. Each capture holds the same exchange, so each must give the same
 * exactly known samples.
 */
import assert from 'node:assert/strict';
import { analyze, type AnalyzeResult } from '../src';
import { Conversation, tsNs, type ConversationOptions } from './helpers/conversation';
import { capture, captureNg, expectSamples, type Expected } from './helpers/expect';
import { frame, ipv4, ipv4RecordRoute, ipv6, linktypeOf, tcpSegment, DLT_RAW, LINKTYPE_RAW, type LinkSpec } from './helpers/packets';
import type { CaptureRecord } from './helpers/pcap-writer';

const V4 = { local: '10.0.0.1', remote: '10.0.0.2' };
const V6 = { local: 'fd00::1', remote: 'fd00::2' };

/**
 * Client (local) SYN at 0, SYN/ACK at 30 000 + f, request at 30 200 + g,
 * response at 55 200 + h, FIN at 100 000, FIN/ACK at 127 000 µs. The
 * fractions f, g, h (µs) put the times off the microsecond grid.
 */
function exchange(addrs: { local: string; remote: string }, frac = [0, 0, 0], extra: Partial<ConversationOptions> = {}): Conversation {
  const [f, g, h] = frac as [number, number, number];
  const c = new Conversation({
    client: { addr: addrs.local, port: 40000, isn: 1000 },
    server: { addr: addrs.remote, port: 443, isn: 9000 },
    ...extra,
  });
  c.syn(0);
  c.synAck(30_000 + f);
  c.ack(30_100, 'client');
  c.data(30_200 + g, 'client', 517);
  c.data(55_200 + h, 'server', 1400);
  c.ack(55_300, 'client');
  c.fin(100_000, 'client');
  c.fin(127_000, 'server');
  c.ack(127_100, 'client');
  return c;
}

function expected(frac = [0, 0, 0]): Expected[] {
  const [f, g, h] = frac as [number, number, number];
  return [
    { at: 30_000 + f, rtt: 30_000 + f, kind: 'handshake' },
    { at: 55_200 + h, rtt: 25_000 + h - g, kind: 'data' },
    { at: 127_000, rtt: 27_000, kind: 'data' },
  ];
}

async function run(file: string, local: string, extra: { filter?: string } = {}): Promise<AnalyzeResult> {
  return analyze({ file, local: [local], samples: true, ...extra });
}

async function checkLink(link: LinkSpec, addrs = V4, linktype?: number): Promise<AnalyzeResult> {
  const c = exchange(addrs);
  const r = await run(capture(c.records(link), { link, linktype }), addrs.local);
  expectSamples(r.samples, expected());
  assert.equal(r.stats.packets, 9);
  assert.equal(r.stats.tcp, 9);
  assert.equal(r.stats.malformed, 0);
  assert.equal(r.samples[0]?.src, addrs.local);
  assert.equal(r.samples[0]?.dst, addrs.remote);
  return r;
}

describe('engine: decoding link layers, IP versions and capture formats', () => {
  it('Ethernet, IPv4', async () => {
    await checkLink({ type: 'ether' });
  });

  it('Ethernet with an 802.1Q VLAN tag', async () => {
    await checkLink({ type: 'ether', vlan: [100] });
  });

  it('Ethernet QinQ: 802.1ad service tag over an 802.1Q tag, IPv4 and IPv6', async () => {
    await checkLink({ type: 'ether', vlan: [200, 100], qinq: true });
    await checkLink({ type: 'ether', vlan: [200, 100], qinq: true }, V6);
  });

  it('Linux cooked capture v1 (SLL), IPv4 and IPv6', async () => {
    await checkLink({ type: 'sll' });
    await checkLink({ type: 'sll' }, V6);
  });

  it('Linux cooked capture v2 (SLL2), IPv4 and IPv6', async () => {
    await checkLink({ type: 'sll2' });
    await checkLink({ type: 'sll2' }, V6);
  });

  it('raw IP as LINKTYPE_RAW (101) and as DLT_RAW (12), IPv4 and IPv6', async () => {
    await checkLink({ type: 'raw', linktype: LINKTYPE_RAW });
    await checkLink({ type: 'raw', linktype: LINKTYPE_RAW }, V6);
    await checkLink({ type: 'raw', linktype: DLT_RAW }, V4, DLT_RAW);
    await checkLink({ type: 'raw', linktype: DLT_RAW }, V6, DLT_RAW);
  });

  it('BSD loopback (NULL): address family in little- and big-endian host order', async () => {
    await checkLink({ type: 'null' });
    await checkLink({ type: 'null', bigEndian: true });
    for (const af6 of [24, 28, 30]) await checkLink({ type: 'null', af6 }, V6);
    await checkLink({ type: 'null', bigEndian: true, af6: 30 }, V6);
  });

  it('IPv4 with options (Record Route)', async () => {
    const c = exchange(V4);
    for (const p of c.packets) p.spec.ipv4 = { options: ipv4RecordRoute(4) }; // a 40-byte header
    const rec = c.records();
    assert.equal(rec[0]?.data[14] & 0x0f, 10, 'IHL of 10 words');
    const r = await run(capture(rec), V4.local);
    expectSamples(r.samples, expected());
  });

  it('IPv6 with hop-by-hop, destination options, routing and fragment extension headers', async () => {
    const c = exchange(V6, [0, 0, 0], {
      // An atomic fragment (offset 0, no more fragments; RFC 6946) still holds the whole segment.
      ipv6Ext: [{ type: 'hopByHop' }, { type: 'destOpts', octets: 16 }, { type: 'routing' }, { type: 'fragment' }],
    });
    const r = await run(capture(c.records()), V6.local);
    expectSamples(r.samples, expected());
    assert.equal(r.samples[0]?.src, 'fd00::1');
    assert.equal(r.stats.malformed, 0);
  });

  it('packets that are not TCP are counted, not sampled', async () => {
    const c = exchange(V4);
    const udp = Buffer.from([0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4]);
    const arp = Buffer.concat([Buffer.alloc(12, 0xff), Buffer.from([0x08, 0x06]), Buffer.alloc(28)]);
    const others: CaptureRecord[] = [
      { tsNs: tsNs(40_000), data: frame({ type: 'ether' }, ipv4({ src: V4.remote, dst: V4.local, protocol: 17 }, udp)) },
      { tsNs: tsNs(41_000), data: arp },
    ];
    const rec = [...c.records()];
    rec.splice(4, 0, ...others); // after the request at 30 200
    const r = await run(capture(rec), V4.local);
    expectSamples(r.samples, expected());
    assert.equal(r.stats.packets, 11);
    assert.equal(r.stats.notTcp, 2);
    assert.equal(r.stats.tcp, 9);
  });

  it('nanosecond pcap keeps sub-microsecond RTTs', async () => {
    const frac = [0.123, 0.001, 0.999];
    const c = exchange(V4, frac);
    const r = await run(capture(c.records(), { nano: true }), V4.local);
    expectSamples(r.samples, expected(frac));
    // 30 000.123 µs exactly: 30.000123 ms.
    assert.ok(Math.abs((r.samples[0]?.rttMs ?? 0) - 30.000123) < 1e-9);
    assert.ok(Math.abs((r.samples[1]?.rttMs ?? 0) - 25.000998) < 1e-9);
  });

  it('pcapng (microsecond default resolution) with an unknown block type in between', async () => {
    const c = exchange(V4);
    const file = captureNg(c.records(), {
      interfaces: [{ linktype: 1 }],
      unknownBlocks: [{ before: 0 }, { before: 4, type: 0x00000bad }, { before: 9 }],
    });
    const r = await run(file, V4.local);
    expectSamples(r.samples, expected());
    assert.equal(r.stats.packets, 9);
  });

  it('pcapng with nanosecond resolution (if_tsresol 9) keeps sub-microsecond RTTs, IPv6', async () => {
    const frac = [0.777, 0.5, 0.25];
    const c = exchange(V6, frac);
    const file = captureNg(c.records({ type: 'sll2' }), { interfaces: [{ linktype: linktypeOf({ type: 'sll2' }), tsresol: 9 }] });
    const r = await run(file, V6.local);
    expectSamples(r.samples, expected(frac));
    assert.ok(Math.abs((r.samples[1]?.rttMs ?? 0) - 24.99975) < 1e-9);
  });

  it('truncated packets are counted as malformed and skipped', async () => {
    const c = new Conversation({
      client: { addr: V4.local, port: 40000, isn: 1000 },
      server: { addr: V4.remote, port: 80, isn: 9000 },
    });
    c.handshake(0, 30_000, 30_100);
    c.data(100_000, 'client', 1000);
    c.data(100_100, 'client', 1000);
    // The ACK of the first segment, cut inside the TCP header (14 + 20 + 10
    // bytes): if it were used, it would time the first segment.
    c.ack(130_000, 'server', { ack: c.seq('client', 1001), caplen: 44 });
    c.ack(130_100, 'server'); // 2001: 30 000 µs from the second
    c.ack(140_000, 'client', { caplen: 26 }); // cut inside the IPv4 header
    c.ack(140_100, 'client', { caplen: 10 }); // cut inside the Ethernet header
    c.data(200_000, 'client', 10);
    c.ack(221_000, 'server'); // 21 000 µs
    const r = await run(capture(c.records()), V4.local);
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 130_100, rtt: 30_000, kind: 'data' },
      { at: 221_000, rtt: 21_000, kind: 'data' },
    ]);
    assert.equal(r.stats.malformed, 3);
    assert.equal(r.stats.packets, 11);
    assert.equal(r.stats.tcp, 8);
  });

  it('a snaplen that cuts the TCP options keeps the data samples', async () => {
    const c = new Conversation({
      client: { addr: V4.local, port: 40000, isn: 1000, ts: { start: 5 } },
      server: { addr: V4.remote, port: 443, isn: 9000, ts: { start: 100 } },
    });
    c.syn(0);
    c.synAck(30_000);
    c.ack(30_100, 'client');
    c.data(30_200, 'client', 517);
    c.data(55_200, 'server', 1400);
    c.ack(55_300, 'client');
    c.fin(100_000, 'client');
    c.fin(127_000, 'server');
    c.ack(127_100, 'client');
    // 14 + 20 + 20 + 4: the fixed TCP header and 4 of its 12 or 20 option bytes.
    const r = await run(capture(c.records(), { snaplen: 58 }), V4.local);
    expectSamples(r.samples, expected());
    assert.equal(r.stats.malformed, 0);
  });

  it('a non-first IPv4 fragment is skipped (its bytes are not a TCP header)', async () => {
    const c = exchange(V4);
    // Bytes that would read as the server's ACK of the request: decoded as
    // TCP they would give a 23 800 µs sample at 54 000 µs.
    const fake = tcpSegment({ sport: 443, dport: 40000, seq: c.seq('server', 1), ack: c.seq('client', 518), flags: 'A' });
    const frag = frame({ type: 'ether' }, ipv4({ src: V4.remote, dst: V4.local, id: 777, fragmentOffset: 1480 }, fake));
    const rec = [...c.records()];
    rec.splice(4, 0, { tsNs: tsNs(54_000), data: frag });
    const r = await run(capture(rec), V4.local);
    expectSamples(r.samples, expected());
    assert.equal(r.stats.fragments, 1);
    assert.equal(r.stats.malformed, 0);
  });

  it('a non-first IPv6 fragment is skipped', async () => {
    const c = exchange(V6);
    const fake = tcpSegment({ sport: 443, dport: 40000, seq: c.seq('server', 1), ack: c.seq('client', 518), flags: 'A' });
    const frag = frame({ type: 'ether' }, ipv6({ src: V6.remote, dst: V6.local, ext: [{ type: 'hopByHop' }, { type: 'fragment', offset: 1448 }] }, fake));
    const rec = [...c.records()];
    rec.splice(4, 0, { tsNs: tsNs(54_000), data: frag });
    const r = await run(capture(rec), V6.local);
    expectSamples(r.samples, expected());
    assert.equal(r.stats.fragments, 1);
  });
});
