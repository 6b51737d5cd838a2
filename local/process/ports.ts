/** Free loopback ports for replicas: bind port 0, read the number, close, hand it on (the app or queue-proxy binds it next). */
import net from 'node:net';

/**
 * Ports handed out recently by this process. The kernel may give a just-closed ephemeral port to the next bind(0), so
 * two replicas started back to back, or prepared in parallel, could be given the same number before either has bound
 * it; we skip those. A port is recorded here the moment it is read (check and record run in one synchronous step), so
 * concurrent `freePorts` calls see each other's ports and can never hand one out twice.
 */
const recent = new Map<number, number>();
const RECENT_MS = 60_000;

/** Binds port 0 on `host`, closes it again and resolves the number the kernel gave. */
export type BindZero = (host: string) => Promise<number>;

const bindZero: BindZero = (host) =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not read the port bound on ${host}`))));
    });
  });

/**
 * Returns `count` distinct free TCP ports on `host`, none handed out by this process in the last minute, even to a
 * call running at the same time. A port is only free at the moment it is read: whoever gets it should bind it soon.
 * `bind` is for tests (a kernel that repeats numbers).
 */
export async function freePorts(count: number, host = '127.0.0.1', nowMs = Date.now(), bind: BindZero = bindZero): Promise<number[]> {
  for (const [port, at] of recent) if (nowMs - at > RECENT_MS) recent.delete(port);
  const out: number[] = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries > count * 20) {
      for (const p of out) recent.delete(p);
      throw new Error(`could not find ${count} free ports on ${host}`);
    }
    const port = await bind(host);
    // No await between this check and the record below: the reservation is atomic with respect to other calls.
    if (recent.has(port)) continue;
    recent.set(port, nowMs);
    out.push(port);
  }
  return out;
}

/** True if something accepts TCP connections on host:port right now. */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (v: boolean): void => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
