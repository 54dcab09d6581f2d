/**
 * TCP traffic on the loopback interface for live monitors on `lo`: a client
 * sends a small request every few milliseconds to an echo server on
 * 127.0.0.1, so every interval has samples and a live monitor reports.
 */
import net from 'node:net';

export interface LoTraffic {
  /** Requests sent so far. */
  readonly sent: () => number;
  stop(): Promise<void>;
}

export async function loTraffic(everyMs = 5): Promise<LoTraffic> {
  const server = net.createServer((c) => {
    c.on('data', (d) => c.write(d));
    c.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  client.setNoDelay(true);
  client.on('error', () => {});
  client.on('data', () => {});
  let sent = 0;
  const timer = setInterval(() => {
    client.write(Buffer.alloc(100, 0x61));
    sent++;
  }, everyMs);
  return {
    sent: () => sent,
    async stop(): Promise<void> {
      clearInterval(timer);
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
