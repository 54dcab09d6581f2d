/**
 * A DogStatsD stand-in for the live tests, run inside a namespace:
 *   ip netns exec NS node udp-sink.js [address]
 * Binds a UDP socket (default 127.0.0.1, any free port), prints
 * {"port":N}, then one {"wall":ms,"data":"..."} line per datagram received.
 * Ends on stdin EOF or after 120 s.
 */
import dgram from 'node:dgram';

const address = process.argv[2] ?? '127.0.0.1';
const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
sock.on('message', (msg) => {
  process.stdout.write(`${JSON.stringify({ wall: Date.now(), data: msg.toString('utf8') })}\n`);
});
sock.bind(0, address, () => {
  process.stdout.write(`${JSON.stringify({ port: sock.address().port })}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
setTimeout(() => process.exit(0), 120000).unref();
