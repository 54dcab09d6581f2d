/**
 * The RTT sampling rules (DESIGN.md "What counts as a sample") over captures
 * written with exact timestamps. Every expected RTT is the difference of two
 * times written below; every test lists all samples the capture must give.
 */
import assert from 'node:assert/strict';
import { analyze, type AnalyzeResult, type RttMonitorOptions } from '../src';
import { Conversation, U32, type Endpoint } from './helpers/conversation';
import { capture, expectSamples } from './helpers/expect';
import type { LinkSpec } from './helpers/packets';
import type { CaptureRecord } from './helpers/pcap-writer';

const LOCAL = '10.0.0.1';
const REMOTE = '10.0.0.2';

function conv(client: Partial<Endpoint> = {}, server: Partial<Endpoint> = {}, local: 'client' | 'server' = 'client'): Conversation {
  const l = { addr: LOCAL, port: local === 'client' ? 40000 : 8080 };
  const r = { addr: REMOTE, port: local === 'client' ? 80 : 50000 };
  return new Conversation({
    client: { ...(local === 'client' ? l : r), isn: 1000, ...client },
    server: { ...(local === 'client' ? r : l), isn: 5000, ...server },
    local,
  });
}

async function run(records: CaptureRecord[], opts: Partial<RttMonitorOptions> = {}, link?: LinkSpec): Promise<AnalyzeResult> {
  return analyze({ file: capture(records, { link }), local: [LOCAL], samples: true, ...opts });
}

describe('engine: RTT samples from written captures', () => {
  it('request/response, client role, keep-alive with several requests', async () => {
    const c = conv();
    c.syn(0);
    c.synAck(30_000); // handshake: 30 000 µs
    c.ack(30_100, 'client');
    c.data(30_200, 'client', 100); // request 1 [1, 101)
    c.data(55_200, 'server', 1000); // response acks 101: 25 000 µs
    c.ack(55_300, 'client'); // our ACK of the response: never a sample
    c.data(1_000_000, 'client', 200); // request 2 [101, 301)
    c.ack(1_020_000, 'server'); // pure ACK 301: 20 000 µs
    c.data(1_040_000, 'server', 800); // response, same ACK: nothing
    c.ack(1_040_100, 'client');
    c.data(2_000_000, 'client', 50); // request 3 [301, 351)
    c.data(2_031_234, 'server', 300); // 31 234 µs
    c.ack(2_031_300, 'client');
    c.fin(3_000_000, 'client'); // FIN [351, 352)
    c.fin(3_028_000, 'server'); // acks the FIN: 28 000 µs
    c.ack(3_028_100, 'client');
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 55_200, rtt: 25_000, kind: 'data' },
      { at: 1_020_000, rtt: 20_000, kind: 'data' },
      { at: 2_031_234, rtt: 31_234, kind: 'data' },
      { at: 3_028_000, rtt: 28_000, kind: 'data' },
    ]);
    assert.equal(r.samples[0]?.src, LOCAL);
    assert.equal(r.samples[0]?.sport, 40000);
    assert.equal(r.samples[0]?.dst, REMOTE);
    assert.equal(r.samples[0]?.dport, 80);
    assert.deepEqual(r.stats.samplesByKind, { data: 4, handshake: 1, ts: 0 });
    assert.equal(r.stats.packets, 16);
    assert.equal(r.stats.tcp, 16);
    assert.equal(r.stats.malformed, 0);
  });

  it('server role: SYN/ACK -> ACK handshake and response data', async () => {
    const c = conv({}, {}, 'server');
    c.syn(0);
    c.synAck(100); // ours
    c.ack(40_100, 'client'); // handshake: 40 000 µs
    c.data(40_200, 'client', 300); // request
    c.data(41_000, 'server', 1448); // response [1, 1449)
    c.data(41_010, 'server', 552); // [1449, 2001)
    c.ack(81_000, 'client', { ack: c.seq('server', 1449) }); // 40 000 µs from the first
    c.ack(81_500, 'client'); // 2001: 40 490 µs from the second
    c.data(100_000, 'client', 100);
    c.data(100_500, 'server', 100); // [2001, 2101)
    c.ack(139_000, 'client'); // 38 500 µs
    c.fin(200_000, 'client');
    c.fin(200_100, 'server'); // our FIN [2101, 2102)
    c.ack(240_600, 'client'); // 40 500 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 40_100, rtt: 40_000, kind: 'handshake' },
      { at: 81_000, rtt: 40_000, kind: 'data' },
      { at: 81_500, rtt: 40_490, kind: 'data' },
      { at: 139_000, rtt: 38_500, kind: 'data' },
      { at: 240_600, rtt: 40_500, kind: 'data' },
    ]);
    assert.equal(r.samples[0]?.sport, 8080);
    assert.equal(r.samples[0]?.dport, 50000);
  });

  it('bulk upload: cumulative and delayed ACKs time the newest fully covered segment', async () => {
    const c = conv();
    c.handshake(0, 20_000, 20_100); // 20 000 µs
    for (let i = 0; i < 6; i++) c.data(100_000 + i * 100, 'client', 1000); // [1+1000i, 1001+1000i)
    c.ack(150_050, 'server', { ack: c.seq('client', 2001) }); // segments 0,1: newest sent at 100 100
    c.ack(150_400, 'server', { ack: c.seq('client', 5001) }); // 2,3,4: newest sent at 100 400
    c.ack(190_500, 'server', { ack: c.seq('client', 6001) }); // 5, delayed ACK: 90 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 20_000, rtt: 20_000, kind: 'handshake' },
      { at: 150_050, rtt: 49_950, kind: 'data' },
      { at: 150_400, rtt: 50_000, kind: 'data' },
      { at: 190_500, rtt: 90_000, kind: 'data' },
    ]);
  });

  it('segmentation offload: the first partial ACK of a super-segment is timed, later ones are not', async () => {
    const c = conv();
    c.handshake(0, 20_000, 20_100);
    c.data(100_000, 'client', 10_000); // one 10 000-byte TSO segment [1, 10001)
    c.ack(130_000, 'server', { ack: c.seq('client', 2897) }); // first partial ACK: 30 000 µs
    c.ack(130_100, 'server', { ack: c.seq('client', 5793) }); // later partial: nothing
    c.ack(131_000, 'server', { ack: c.seq('client', 10_001) }); // full ACK of it: nothing
    c.data(200_000, 'client', 500);
    c.ack(225_000, 'server'); // 25 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 20_000, rtt: 20_000, kind: 'handshake' },
      { at: 130_000, rtt: 30_000, kind: 'data' },
      { at: 225_000, rtt: 25_000, kind: 'data' },
    ]);
  });

  it('a lost and retransmitted segment without timestamps gives no sample (Karn, dupacks)', async () => {
    const c = conv();
    c.handshake(0, 30_000, 30_100);
    c.data(100_000, 'client', 1000); // s0 [1, 1001)
    const s1 = c.data(100_100, 'client', 1000, { lost: true }); // s1 [1001, 2001), lost
    c.data(100_200, 'client', 1000); // s2
    c.data(100_300, 'client', 1000); // s3
    c.ack(130_000, 'server'); // 1001: s0, 30 000 µs
    // Duplicate ACKs with SACK blocks (RFC 2018 §4) for what arrived beyond the hole.
    c.ack(130_200, 'server', { sack: [[c.seq('client', 2001), c.seq('client', 3001)]] }); // s2 arrived
    c.ack(130_300, 'server', { sack: [[c.seq('client', 2001), c.seq('client', 4001)]] }); // s3 arrived
    c.retransmit(130_400, s1); // fast retransmit
    c.ack(160_400, 'server'); // 4001: first advancing ACK after dupacks, covers a retransmission: nothing
    c.data(200_000, 'client', 1000); // [4001, 5001)
    c.ack(230_000, 'server'); // 30 000 µs: sampling resumes
    // Retransmission timeout: the retransmitted segment's ACK is ambiguous.
    const s5 = c.data(300_000, 'client', 1000, { lost: true }); // [5001, 6001)
    c.retransmit(600_000, s5);
    c.ack(630_000, 'server'); // 6001: nothing (Karn)
    c.data(700_000, 'client', 1000); // [6001, 7001)
    c.ack(725_000, 'server'); // 25 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 130_000, rtt: 30_000, kind: 'data' },
      { at: 230_000, rtt: 30_000, kind: 'data' },
      { at: 725_000, rtt: 25_000, kind: 'data' },
    ]);
    assert.equal(r.stats.retransmissions, 2);
    assert.ok(r.stats.karnRefused >= 2, `karnRefused ${r.stats.karnRefused}`);
  });

  it('reordering: the first advancing ACK after duplicate ACKs gives no sample, without any retransmission', async () => {
    const c = conv();
    c.handshake(0, 30_000, 30_100);
    c.data(100_000, 'client', 1000); // s0
    c.data(100_100, 'client', 1000, { lost: true }); // s1, delayed in the network
    c.data(100_200, 'client', 1000); // s2 overtakes it
    c.ack(130_000, 'server'); // 1001: 30 000 µs
    c.ack(130_200, 'server', { sack: [[c.seq('client', 2001), c.seq('client', 3001)]] }); // duplicate: s2 beyond a hole
    c.ack(130_600, 'server', { ack: c.seq('client', 3001) }); // s1 arrived late: held back by the hole, nothing
    c.data(200_000, 'client', 1000);
    c.ack(230_000, 'server', { ack: c.seq('client', 4001) }); // 30 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 130_000, rtt: 30_000, kind: 'data' },
      { at: 230_000, rtt: 30_000, kind: 'data' },
    ]);
    assert.equal(r.stats.retransmissions, 0);
  });

  it('an ACK that also covers a retransmitted segment gives no sample, even for the newest segment it covers', async () => {
    const c = conv();
    c.handshake(0, 30_000, 30_100);
    const a = c.data(100_000, 'client', 1000, { lost: true }); // A [1, 1001), lost
    c.data(100_100, 'client', 1000); // B
    c.data(100_200, 'client', 1000); // C [2001, 3001)
    // The receiver's duplicate ACKs were not captured (lost before the capture point).
    c.ack(130_100, 'server', { captured: false });
    c.ack(130_200, 'server', { captured: false });
    c.retransmit(400_000, a); // retransmission timeout
    c.ack(430_000, 'server'); // 3001: newest covered is C (sent once), but A was retransmitted after C was sent
    c.data(500_000, 'client', 100);
    c.ack(531_000, 'server'); // 31 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 531_000, rtt: 31_000, kind: 'data' },
    ]);
  });

  it('timestamps disambiguate a retransmission: echo of the retransmission, and a spurious retransmission', async () => {
    const c = conv({ ts: { start: 1000 } }, { ts: { start: 50_000 } });
    c.handshake(0, 30_000, 30_100);
    const s0 = c.data(100_000, 'client', 1000, { lost: true }); // TSval 1100, lost
    const rx = c.retransmit(400_000, s0); // TSval 1400
    assert.equal(rx.tsval, 1400);
    c.ack(430_000, 'server'); // TSecr 1400 (the retransmission arrived): 30 000 µs from it
    assert.equal(c.packets.at(-1)?.tsecr, 1400);
    const s1 = c.data(1_000_000, 'client', 1000); // TSval 2000, arrives; its ACK is slow
    c.retransmit(1_300_000, s1, { lost: true }); // spurious retransmission, TSval 2300
    c.ack(1_310_000, 'server', { tsecr: 2000 }); // echoes the original: 310 000 µs from it
    c.ack(1_330_000, 'server', { tsecr: 2000 }); // the retransmission arrived: duplicate, nothing
    c.data(2_000_000, 'client', 100);
    c.ack(2_022_000, 'server'); // 22 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 430_000, rtt: 30_000, kind: 'data' },
      { at: 1_310_000, rtt: 310_000, kind: 'data' },
      { at: 2_022_000, rtt: 22_000, kind: 'data' },
    ]);
  });

  it('a retransmitted SYN gives no handshake sample (client role)', async () => {
    // With timestamps: the SYN/ACK echoes the second SYN's TSval, and still
    // a SYN is never disambiguated (DESIGN.md: a retransmitted SYN gives no sample).
    const c = conv({ ts: { start: 100 } }, { ts: { start: 900 } });
    const syn = c.syn(0, { lost: true });
    c.send(1_000_000, 'client', { flags: 'S', seq: syn.seq }); // same ISN again
    c.synAck(1_030_000); // answers one of the two: no sample
    c.ack(1_030_100, 'client');
    c.data(1_030_200, 'client', 100);
    c.ack(1_060_200, 'server'); // 30 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [{ at: 1_060_200, rtt: 30_000, kind: 'data' }]);
  });

  it('a retransmitted SYN/ACK gives no handshake sample (server role)', async () => {
    const c = conv({}, {}, 'server');
    const syn = c.syn(0);
    const sa = c.synAck(100, { lost: true });
    c.send(1_000_000, 'client', { flags: 'S', seq: syn.seq }); // the client retransmits its SYN
    c.retransmit(1_000_100, sa); // and we our SYN/ACK
    c.ack(1_040_100, 'client'); // no sample
    c.data(1_040_200, 'client', 100);
    c.data(1_041_000, 'server', 500);
    c.ack(1_081_000, 'client'); // 40 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [{ at: 1_081_000, rtt: 40_000, kind: 'data' }]);
  });

  it('sequence numbers wrap around 2^32', async () => {
    const c = conv({ isn: U32 - 1500 }, { isn: U32 - 1 });
    c.handshake(0, 30_000, 30_100); // the SYN/ACK's own sequence wraps on the next byte
    c.data(100_000, 'client', 1000); // [2^32-1499, 2^32-499)
    c.data(100_100, 'client', 1000); // [2^32-499, 501): crosses zero
    c.data(100_200, 'client', 1000); // [501, 1501)
    assert.equal(c.seq('client', 2001), 501);
    c.ack(130_000, 'server', { ack: c.seq('client', 1001) }); // 30 000 µs
    c.ack(130_150, 'server', { ack: 501 }); // 30 050 µs
    c.data(131_000, 'server', 100); // acks 1501: 30 800 µs; the server's data wraps too
    c.ack(131_100, 'client');
    c.fin(200_000, 'client'); // [3001, 3002)
    c.fin(230_000, 'server'); // 30 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 130_000, rtt: 30_000, kind: 'data' },
      { at: 130_150, rtt: 30_050, kind: 'data' },
      { at: 131_000, rtt: 30_800, kind: 'data' },
      { at: 230_000, rtt: 30_000, kind: 'data' },
    ]);
  });

  it('TSval wraparound: disambiguation still compares echoes correctly', async () => {
    // The local clock passes 2^32 between the original (TSval 2^32-30) and
    // the retransmission (TSval 250).
    const c = conv({ ts: { start: U32 - 150 } }, { ts: { start: 77 } });
    c.handshake(0, 30_000, 30_100);
    const s0 = c.data(120_000, 'client', 1000, { lost: true });
    assert.equal(s0.tsval, U32 - 30);
    const rx = c.retransmit(400_000, s0);
    assert.equal(rx.tsval, 250);
    c.ack(430_000, 'server'); // echoes 250: 30 000 µs from the retransmission
    const s1 = c.data(500_000, 'client', 1000); // TSval 350
    c.retransmit(800_000, s1, { lost: true }); // spurious, TSval 650
    c.ack(805_000, 'server', { tsecr: 350 }); // echoes the original: 305 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 30_000, rtt: 30_000, kind: 'handshake' },
      { at: 430_000, rtt: 30_000, kind: 'data' },
      { at: 805_000, rtt: 305_000, kind: 'data' },
    ]);
  });

  /**
   * A download measured by timestamp echoes (RFC 7323 §4.3): our pure ACK
   * with TSval X, sent while the server still had unacknowledged data, comes
   * back as TSecr X on the first new data the server sends after it.
   */
  function download(localStart: number): { c: Conversation; x: number[] } {
    const c = conv({ ts: { start: localStart } }, { ts: { start: 7_000_000 } });
    c.handshake(0, 20_000, 20_100); // 20 000 µs
    c.data(20_200, 'client', 100); // the request
    c.data(40_200, 'server', 1000); // r0 acks it: 20 000 µs (data)
    c.data(40_201, 'server', 1000); // r1
    c.data(40_202, 'server', 1000); // r2
    // ACK of r0,r1 while r2 is unacknowledged: TSval X1 starts a sample.
    const a1 = c.ack(40_203, 'client', { ack: c.seq('server', 2001) });
    // The server sends r3, r4, r4b on reading X1 (one-way 10 ms each way).
    c.data(60_203, 'server', 1000); // r3 echoes X1: ts sample 20 000 µs
    c.data(60_204, 'server', 1000); // r4 echoes X1 too: the sample is closed
    const a2 = c.ack(60_205, 'client', { ack: c.seq('server', 4001) }); // X2, r4 unacknowledged
    c.data(60_206, 'server', 1000, { tsecr: a1.tsval }); // r4b, sent before X2 arrived: older echo
    c.data(85_205, 'server', 1000); // r5 echoes X2: ts sample 25 000 µs
    c.data(85_206, 'server', 1000); // r6
    // ACK of everything: the server has nothing in flight, so X3 is not timed
    // even though the server echoes it when it next sends, a second later.
    const a3 = c.ack(85_300, 'client');
    c.data(1_085_300, 'server', 1000);
    c.ack(1_085_400, 'client');
    return { c, x: [a1.tsval ?? -1, a2.tsval ?? -1, a3.tsval ?? -1] };
  }

  const downloadSamples = [
    { at: 20_000, rtt: 20_000, kind: 'handshake' as const },
    { at: 40_200, rtt: 20_000, kind: 'data' as const },
    { at: 60_203, rtt: 20_000, kind: 'ts' as const },
    { at: 85_205, rtt: 25_000, kind: 'ts' as const },
  ];

  it('a download is measured by timestamp echoes (kind ts)', async () => {
    const { c, x } = download(1_000_000);
    assert.deepEqual(x, [1_000_040, 1_000_060, 1_000_085]);
    assert.equal(c.packets.find((p) => p.t === 85_205)?.tsecr, x[1]);
    assert.equal(c.packets.find((p) => p.t === 1_085_300)?.tsecr, x[2]);
    const r = await run(c.records());
    expectSamples(r.samples, downloadSamples);
    assert.deepEqual(r.stats.samplesByKind, { data: 1, handshake: 1, ts: 2 });
  });

  it('timestamp echoes across TSval wraparound', async () => {
    const { c, x } = download(U32 - 50);
    // X1 = 2^32-10 is older than X2 = 10 in serial arithmetic (RFC 7323 §5.2),
    // so r4b's echo of X1 must not cancel the pending X2 sample.
    assert.deepEqual(x, [U32 - 10, 10, 35]);
    const r = await run(c.records());
    expectSamples(r.samples, downloadSamples);
  });

  it('local data while a timestamp sample is pending cancels it', async () => {
    const c = conv({ ts: { start: 1_000_000 } }, { ts: { start: 7_000_000 } });
    c.handshake(0, 20_000, 20_100);
    c.data(20_200, 'client', 100);
    c.data(40_200, 'server', 1000); // data sample 20 000 µs
    c.data(40_201, 'server', 1000);
    c.data(40_202, 'server', 1000);
    c.ack(40_203, 'client', { ack: c.seq('server', 2001) }); // X1 = 1 000 040
    c.data(41_500, 'client', 10); // our data (TSval 1 000 041) while X1 is pending: cancels it
    // r3, sent on reading X1 before our 10 bytes arrived, echoes X1 and acks only the request.
    c.data(60_203, 'server', 1000, { tsecr: 1_000_040, ack: c.seq('client', 101) });
    c.data(70_000, 'server', 1000); // acks the 10 bytes: 28 500 µs
    assert.equal(c.packets.at(-1)?.ack, c.seq('client', 111));
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 20_000, rtt: 20_000, kind: 'handshake' },
      { at: 40_200, rtt: 20_000, kind: 'data' },
      { at: 70_000, rtt: 28_500, kind: 'data' },
    ]);
  });

  it('an echo of a newer TSval cancels the pending timestamp sample, and the next one is timed', async () => {
    const c = conv({ ts: { start: 1_000_000 } }, { ts: { start: 7_000_000 } });
    c.handshake(0, 20_000, 20_100);
    c.data(20_200, 'client', 100);
    c.data(40_200, 'server', 1000); // data sample 20 000 µs
    c.data(40_201, 'server', 1000);
    c.data(40_202, 'server', 1000);
    c.ack(40_203, 'client', { ack: c.seq('server', 2001), lost: true }); // X1 = 1 000 040 starts a sample; lost
    c.ack(41_300, 'client'); // X2 = 1 000 041 (one pending sample at a time: not timed)
    c.data(61_300, 'server', 1000); // r3 echoes X2, newer than X1: the X1 sample is cancelled
    assert.equal(c.packets.at(-1)?.tsecr, 1_000_041);
    c.data(61_301, 'server', 1000); // r4
    c.ack(61_302, 'client', { ack: c.seq('server', 4001) }); // X3 = 1 000 061, r4 unacknowledged
    c.data(81_302, 'server', 1000); // echoes X3: 20 000 µs
    assert.equal(c.packets.at(-1)?.tsecr, 1_000_061);
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 20_000, rtt: 20_000, kind: 'handshake' },
      { at: 40_200, rtt: 20_000, kind: 'data' },
      { at: 81_302, rtt: 20_000, kind: 'ts' },
    ]);
  });

  it('only the remote sends data, timestamps off: no data samples (our ACK delay is no RTT)', async () => {
    const c = conv();
    c.handshake(0, 25_000, 25_100); // 25 000 µs
    c.data(100_000, 'server', 1448);
    c.data(100_010, 'server', 1448);
    c.ack(100_050, 'client'); // ACK every second segment
    c.data(200_000, 'server', 700);
    c.ack(240_000, 'client'); // delayed ACK, 40 ms
    c.data(300_000, 'server', 10);
    c.ack(300_020, 'client');
    const r = await run(c.records());
    expectSamples(r.samples, [{ at: 25_000, rtt: 25_000, kind: 'handshake' }]);
  });

  it('ACKs for data the capture never saw sent give no sample', async () => {
    // The capture starts in the middle of a connection: an ACK of something
    // sent before it, then normal traffic.
    const c = conv({ isn: 70_000 });
    const srv = { seq: c.seq('server', 1) };
    const cli = { ack: c.seq('server', 1) };
    c.ack(0, 'server', { ...srv, ack: c.seq('client', 5001) });
    c.data(1000, 'client', 1000, { ...cli, seq: c.seq('client', 5001) }); // [5001, 6001)
    c.ack(31_000, 'server', { ...srv, ack: c.seq('client', 6001) }); // 30 000 µs
    // A segment the capture missed: the ACK reaches beyond what was seen.
    c.data(100_000, 'client', 1000, cli); // [6001, 7001)
    c.data(100_100, 'client', 1000, { ...cli, captured: false }); // [7001, 8001), not in the capture
    c.ack(130_100, 'server', { ...srv, ack: c.seq('client', 8001) }); // nothing
    c.data(200_000, 'client', 1000, cli); // [8001, 9001)
    c.ack(226_000, 'server', { ...srv, ack: c.seq('client', 9001) }); // 26 000 µs
    const r = await run(c.records());
    expectSamples(r.samples, [
      { at: 31_000, rtt: 30_000, kind: 'data' },
      { at: 226_000, rtt: 26_000, kind: 'data' },
    ]);
  });
});
