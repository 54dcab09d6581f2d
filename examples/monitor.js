// Ten lines of RttMonitor: live RTTs per host pair on one interface.
// Run as root (or with CAP_NET_RAW+CAP_NET_ADMIN): node examples/monitor.js eth0
const { RttMonitor } = require('passive-rtt');

const monitor = new RttMonitor({ interface: process.argv[2] ?? 'any', reportInterval: 10 });
monitor.on('report', (pairs) => {
  for (const p of pairs) console.log(`${p.src} -> ${p.dst}: ${p.samples} samples, avg ${p.avgMs?.toFixed(3)} ms, p95 ${p.p95Ms?.toFixed(3) ?? '-'} ms`);
});
monitor.on('error', (err) => console.error(`${err.code}: ${err.message}`));
process.once('SIGINT', () => monitor.stop());
monitor.start().catch((err) => {
  console.error(`${err.code}: ${err.message}`);
  process.exitCode = 1;
});
