/**
 * Traffic program of the live test bed: real kernel TCP through real sockets,
 * run inside a namespace with `ip netns exec NS node traffic.js '<spec JSON>'`.
 *
 * One process per namespace plays every role given in the spec. Servers
 * listen at once; the process then prints {"event":"ready"} and waits for a
 * line "go" on stdin before starting its clients, so the test can start the
 * monitor and both sides first. When every client has finished it prints
 * {"event":"clientsDone"}; on a line "stop" (or stdin EOF) it prints
 * {"event":"done","results":[...]} and exits. It exits by itself after
 * `maxMs` whatever happens (bounded run time).
 *
 * Roles:
 * - sink: accepts connections and discards what it reads (the far end of an upload).
 * - source: on each accepted connection writes as fast as the socket takes
 *   for `durationMs`, then ends it (the far end of a download).
 * - upload / download: the client side of the two above.
 * - rrServer: reads fixed-size requests, answers each with a fixed-size response.
 * - rrClient: `connections` keep-alive connections one after another (or all
 *   at once with `parallel`), each `requests` request/response exchanges, the
 *   next request sent as soon as the whole response arrived (after `gapMs` if
 *   given), then closes.
 * Every socket sets TCP_NODELAY: Nagle's algorithm (RFC 896) would hold
 * small requests back and add its wait to the measured exchange.
 */
import net from 'node:net';

export type Role =
  | { kind: 'sink'; host: string; port: number }
  | { kind: 'source'; host: string; port: number; durationMs: number }
  | { kind: 'upload'; host: string; port: number; durationMs: number }
  | { kind: 'download'; host: string; port: number }
  | { kind: 'rrServer'; host: string; port: number; requestBytes: number; responseBytes: number }
  | {
      kind: 'rrClient';
      host: string;
      port: number;
      connections: number;
      requests: number;
      requestBytes: number;
      responseBytes: number;
      gapMs?: number;
      /** Run the connections side by side rather than one after another. */
      parallel?: boolean;
    };

export interface TrafficSpec {
  roles: Role[];
  maxMs: number;
}

export interface RoleResult {
  kind: Role['kind'];
  port: number;
  bytes: number;
  connections: number;
  requests?: number;
  /** Local ports of the client connections (to attribute samples). */
  localPorts: number[];
  error?: string;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

function print(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function listen(host: string, port: number, onConn: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((s) => {
      s.setNoDelay(true);
      s.on('error', () => undefined);
      onConn(s);
    });
    srv.once('error', reject);
    srv.listen({ host, port, ipv6Only: host.includes(':') }, () => resolve(srv));
  });
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes as fast as the socket drains for `ms`, then ends. Resolves with bytes written. */
function blast(s: net.Socket, ms: number): Promise<number> {
  return new Promise((resolve) => {
    const until = Date.now() + ms;
    let bytes = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      s.end();
      resolve(bytes);
    };
    const pump = (): void => {
      while (!done) {
        if (Date.now() >= until) return finish();
        bytes += CHUNK.length;
        if (!s.write(CHUNK)) {
          s.once('drain', pump);
          return;
        }
      }
    };
    s.once('error', finish);
    s.once('close', finish);
    pump();
  });
}

async function runServer(role: Role, result: RoleResult): Promise<net.Server | null> {
  switch (role.kind) {
    case 'sink':
      return listen(role.host, role.port, (s) => {
        result.connections++;
        s.on('data', (d) => {
          result.bytes += d.length;
        });
        s.on('end', () => s.end());
      });
    case 'source':
      return listen(role.host, role.port, (s) => {
        result.connections++;
        s.resume();
        void blast(s, role.durationMs).then((b) => {
          result.bytes += b;
        });
      });
    case 'rrServer':
      return listen(role.host, role.port, (s) => {
        result.connections++;
        let pending = 0;
        const response = Buffer.alloc(role.responseBytes, 0x62);
        s.on('data', (d) => {
          pending += d.length;
          result.bytes += d.length;
          while (pending >= role.requestBytes) {
            pending -= role.requestBytes;
            result.requests = (result.requests ?? 0) + 1;
            s.write(response);
          }
        });
        s.on('end', () => s.end());
      });
    default:
      return null;
  }
}

async function runClient(role: Role, result: RoleResult): Promise<void> {
  switch (role.kind) {
    case 'upload': {
      const s = await connect(role.host, role.port);
      result.connections++;
      result.localPorts.push(s.localPort ?? 0);
      s.resume();
      result.bytes = await blast(s, role.durationMs);
      await new Promise((r) => s.once('close', r));
      return;
    }
    case 'download': {
      const s = await connect(role.host, role.port);
      result.connections++;
      result.localPorts.push(s.localPort ?? 0);
      s.on('data', (d) => {
        result.bytes += d.length;
      });
      await new Promise<void>((resolve) => {
        s.once('end', () => {
          s.end();
          resolve();
        });
        s.once('error', () => resolve());
      });
      return;
    }
    case 'rrClient': {
      const request = Buffer.alloc(role.requestBytes, 0x63);
      result.requests = 0;
      const one = async (): Promise<void> => {
        const s = await connect(role.host, role.port);
        result.connections++;
        result.localPorts.push(s.localPort ?? 0);
        await new Promise<void>((resolve, reject) => {
          let got = 0;
          let sent = 0;
          const send = (): void => {
            sent++;
            s.write(request);
          };
          s.on('data', (d) => {
            got += d.length;
            result.bytes += d.length;
            if (got >= role.responseBytes) {
              got -= role.responseBytes;
              result.requests = (result.requests ?? 0) + 1;
              if (sent >= role.requests) {
                s.end();
                resolve();
              } else if (role.gapMs) setTimeout(send, role.gapMs);
              else send();
            }
          });
          s.once('error', reject);
          send();
        });
        await new Promise((r) => (s.destroyed ? r(undefined) : s.once('close', r)));
      };
      if (role.parallel) await Promise.all(Array.from({ length: role.connections }, one));
      else for (let c = 0; c < role.connections; c++) await one();
      return;
    }
    default:
      return;
  }
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as TrafficSpec;
  const bound = setTimeout(() => {
    print({ event: 'timeout' });
    process.exit(3);
  }, spec.maxMs);
  bound.unref();

  const results: RoleResult[] = spec.roles.map((r) => ({ kind: r.kind, port: r.port, bytes: 0, connections: 0, localPorts: [] }));
  const servers: net.Server[] = [];
  for (let i = 0; i < spec.roles.length; i++) {
    const srv = await runServer(spec.roles[i], results[i]);
    if (srv) servers.push(srv);
  }
  print({ event: 'ready' });

  let stdinBuf = '';
  const finish = (): void => {
    for (const s of servers) s.close();
    print({ event: 'done', results });
    process.exit(0);
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d: string) => {
    stdinBuf += d;
    if (/\bstop\b/.test(stdinBuf)) finish();
    if (/\bgo\b/.test(stdinBuf)) {
      stdinBuf = stdinBuf.replace(/\bgo\b/, '');
      const clients = spec.roles.map((r, i) =>
        runClient(r, results[i]).catch((err: Error) => {
          results[i].error = err.message;
        }),
      );
      void Promise.all(clients).then(() => print({ event: 'clientsDone', results }));
    }
  });
  process.stdin.on('end', finish);
}

void main().catch((err: Error) => {
  print({ event: 'error', message: err.message });
  process.exit(1);
});
