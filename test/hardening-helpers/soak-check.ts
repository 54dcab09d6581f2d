/**
 * The verdict of scripts/soak.sh, from what the soak wrote:
 *   node soak-check.js MONITOR_LOG TCPREPLAY_LOG GEN_SUMMARY INTERVAL_S WARMUP_S READ_TIMEOUT_MS
 * MONITOR_LOG is soak-monitor.js's output, TCPREPLAY_LOG tcpreplay's, and
 * GEN_SUMMARY the JSON line bench/gen printed (its ground truth: how many
 * samples of each kind the capture holds).
 *
 * Checks, each printed with its figures:
 *  - RSS flat after the warm-up: every sample after it within 5 % of the
 *    first one at or after it;
 *  - reports on time: one per interval of packet time, none skipped (each
 *    report's time is the previous one's plus the interval, exactly), each
 *    delivered to JavaScript within two read timeouts plus half a second of
 *    its boundary (the report clock runs one read timeout behind the wall,
 *    and the capture thread may be waiting up to one more in poll(2));
 *  - the replay ran on schedule (its length that of the capture);
 *  - counters consistent: the monitor's own identities (packets, flows,
 *    samples by kind), the reports add up to the counters, every TCP packet
 *    tcpreplay sent was seen (or counted as a pcap drop), and the samples
 *    by kind equal the generator's ground truth when nothing was dropped.
 * Exit code 0 when every check holds.
 */
import fs from 'node:fs';
import type { MonitorStats } from '../../src';

type Kinds = { data: number; handshake: number; ts: number };

type LogLine =
  | { t: 'start'; wall: number; local: string[] }
  | { t: 'rss'; wall: number; rssKb: number; anonKb: number; heapKb: number }
  | { t: 'report'; wall: number; ts: number; rows: number; samples: number; kinds: Kinds }
  | { t: 'stats'; wall: number; stats: MonitorStats }
  | { t: 'error'; wall: number; code: string; message: string }
  | { t: 'end'; wall: number; stats: MonitorStats };

interface GenSummary {
  packets: number;
  flowsStarted: number;
  durationS: number;
  samples: Kinds;
}

const [logFile, replayFile, genFile, intervalArg, warmupArg, timeoutArg] = process.argv.slice(2);
const interval = Number(intervalArg);
const warmupS = Number(warmupArg);
const readTimeoutS = Number(timeoutArg) / 1000;
const lines = fs
  .readFileSync(logFile ?? '', 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l) as LogLine);
const gen = JSON.parse(
  fs
    .readFileSync(genFile ?? '', 'utf8')
    .trim()
    .split('\n')
    .pop() ?? '{}',
) as GenSummary;
const replay = fs.readFileSync(replayFile ?? '', 'utf8');

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v.length === 0 ? NaN : v[Math.floor(v.length / 2)];
}

let failed = 0;
function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed++;
}

const start = lines.find((l) => l.t === 'start');
const end = lines.find((l) => l.t === 'end');
const rss = lines.filter((l): l is Extract<LogLine, { t: 'rss' }> => l.t === 'rss');
const reports = lines.filter((l): l is Extract<LogLine, { t: 'report' }> => l.t === 'report');
const errors = lines.filter((l): l is Extract<LogLine, { t: 'error' }> => l.t === 'error');
if (!start || !end) {
  console.log('FAIL the monitor log has no start or no end line');
  process.exit(1);
}
const st = end.stats;
const runS = (end.wall - start.wall) / 1000;
console.log(`monitor ran ${runS.toFixed(1)} s on ${start.local.join(', ')}`);
check(errors.length === 0, `no error event (${errors.map((e) => `${e.code}: ${e.message}`).join('; ') || 'none'})`);

// ---- RSS
const warmAt = start.wall + warmupS * 1000;
const after = rss.filter((r) => r.wall >= warmAt);
const warm = after[0];
if (!warm) {
  check(false, `an RSS sample after the ${warmupS} s warm-up`);
} else {
  const max = Math.max(...after.map((r) => r.rssKb));
  const min = Math.min(...after.map((r) => r.rssKb));
  const last = after[after.length - 1];
  const mb = (kb: number): string => `${(kb / 1024).toFixed(1)} MB`;
  const anon = after.map((r) => r.anonKb);
  console.log(
    `RSS: start ${mb(rss[0]?.rssKb ?? 0)}, after warm-up (${((warm.wall - start.wall) / 1000).toFixed(0)} s) ${mb(warm.rssKb)}, ` +
      `then min ${mb(min)} max ${mb(max)}, end ${mb(last.rssKb)} (${after.length} samples over ${((last.wall - warm.wall) / 1000).toFixed(0)} s)`,
  );
  console.log(
    `     anonymous part: ${mb(warm.anonKb)} after warm-up, min ${mb(Math.min(...anon))} max ${mb(Math.max(...anon))}, end ${mb(last.anonKb)}; ` +
      `JS heap used at end ${mb(last.heapKb)}`,
  );
  check(
    max <= warm.rssKb * 1.05 && min >= warm.rssKb * 0.95,
    `RSS within 5 % of ${mb(warm.rssKb)} after the warm-up (${(((max - warm.rssKb) / warm.rssKb) * 100).toFixed(2)} % at most)`,
  );
  check(Math.abs(last.rssKb - warm.rssKb) <= warm.rssKb * 0.05, `RSS at the end within 5 % of the warm-up figure`);
}

// ---- reports
// The last report is the one stop() delivers, off the interval grid.
const periodic = reports.slice(0, -1);
let skipped = 0;
let worstDelay = 0;
const delays: number[] = [];
for (let i = 0; i < periodic.length; i++) {
  const r = periodic[i];
  if (i > 0) {
    const step = r.ts - periodic[i - 1].ts;
    if (Math.abs(step - interval) > 1e-3) skipped++;
  }
  worstDelay = Math.max(worstDelay, r.wall / 1000 - r.ts);
  delays.push(r.wall / 1000 - r.ts);
}
const expectedReports = Math.floor(runS / interval);
console.log(
  `reports: ${reports.length} (${periodic.length} on the ${interval} s grid + the last at stop), ` +
    `about ${expectedReports} expected from the run time; delivered after their boundary: ` +
    `median ${(median(delays) * 1000).toFixed(0)} ms, latest ${(worstDelay * 1000).toFixed(0)} ms`,
);
check(skipped === 0, `every periodic report ${interval} s of packet time after the previous one (${skipped} off)`);
check(Math.abs(periodic.length - expectedReports) <= 1, `one report per interval of the run (${periodic.length} vs ${expectedReports})`);
const onTime = 2 * readTimeoutS + 0.5;
check(Math.min(...delays) >= 0 && worstDelay <= onTime, `each report delivered within ${onTime.toFixed(1)} s of its boundary, none before it`);
check(st.reports === reports.length, `the engine's report counter (${st.reports}) equals the reports delivered (${reports.length})`);

// ---- counters
const sumKinds = (xs: Kinds[]): Kinds =>
  xs.reduce((a, k) => ({ data: a.data + k.data, handshake: a.handshake + k.handshake, ts: a.ts + k.ts }), { data: 0, handshake: 0, ts: 0 });
const reported = sumKinds(reports.map((r) => r.kinds));
const reportedSamples = reports.reduce((n, r) => n + r.samples, 0);
const sent = Number(/Successful packets:\s+(\d+)/.exec(replay)?.[1] ?? NaN);
const actual = [...replay.matchAll(/Actual: (\d+) packets .* sent in ([\d.]+) seconds/g)].pop();
const replayS = Number(actual?.[2] ?? NaN);
const failedSend = Number(/Failed packets:\s+(\d+)/.exec(replay)?.[1] ?? NaN);
console.log(
  `counters: packets ${st.packets} (tcp ${st.tcp}, not tcp ${st.notTcp}, malformed ${st.malformed}, fragments ${st.fragments}, not local ${st.notLocal}); ` +
    `pcap received ${st.pcapReceived} dropped ${st.pcapDropped} if-dropped ${st.pcapIfDropped}; batches folded ${st.batchesFolded}`,
);
console.log(
  `flows: created ${st.flowsCreated} = active ${st.flowsActive} + evicted ${st.flowsEvicted} + expired ${st.flowsExpired}; host pairs ${st.hostPairs}; ` +
    `samples ${st.samples} ${JSON.stringify(st.samplesByKind)}, Karn refused ${st.karnRefused}`,
);
console.log(
  `tcpreplay: ${sent} packets sent, ${failedSend} failed; generator: ${gen.packets} packets, ${gen.flowsStarted} flows, samples ${JSON.stringify(gen.samples)}`,
);
check(st.packets === st.tcp + st.notTcp + st.malformed + st.fragments, 'packets = tcp + not tcp + malformed + fragments');
check(st.flowsCreated === st.flowsActive + st.flowsEvicted + st.flowsExpired, 'flows created = active + evicted + expired');
check(st.samples === st.samplesByKind.data + st.samplesByKind.handshake + st.samplesByKind.ts, 'samples = data + handshake + ts');
check(reportedSamples === st.samples, `the reports hold every sample (${reportedSamples} vs ${st.samples})`);
check(JSON.stringify(reported) === JSON.stringify(st.samplesByKind), `the reports hold every sample by kind (${JSON.stringify(reported)})`);
check(sent === gen.packets && failedSend === 0, `tcpreplay sent the whole capture (${sent} of ${gen.packets})`);
check(
  Math.abs(replayS - gen.durationS) <= 0.02 * gen.durationS + 1,
  `the replay ran on schedule (${replayS.toFixed(1)} s for ${gen.durationS.toFixed(1)} s of capture)`,
);
check(st.malformed === 0 && st.notLocal === 0, 'no malformed and no foreign packet among the generated ones');
if (st.pcapDropped === 0) {
  check(st.tcp === sent, `every TCP packet sent was seen (${st.tcp} of ${sent})`);
  for (const k of ['data', 'handshake', 'ts'] as const) {
    check(st.samplesByKind[k] === gen.samples[k], `${k} samples equal the ground truth (${st.samplesByKind[k]} vs ${gen.samples[k]})`);
  }
} else {
  check(st.tcp <= sent && st.tcp + st.pcapDropped >= sent, `TCP packets seen plus pcap drops cover what was sent (${st.tcp} + ${st.pcapDropped} vs ${sent})`);
  console.log('     (pcap dropped packets: the samples cannot be compared with the ground truth exactly)');
}

console.log(failed === 0 ? 'soak: PASS' : `soak: FAIL (${failed} check${failed > 1 ? 's' : ''})`);
process.exit(failed === 0 ? 0 : 1);
