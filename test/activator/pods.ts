/**
 * Test pods: small loopback servers that answer the §b4 probe like a queue-proxy and count their own in-flight requests.
 * Like a real queue-proxy, a pod listens on the shared listener (common/http/server.ts): HTTP/1.1 and h2c on one port,
 * so it takes whatever protocol the activator speaks to pods (h2c by default, HTTP/1.1 with upstreamProtocol http1).
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import type * as net from 'node:net';
import { WebSocketServer } from 'ws';
import { createListener } from '../../common/http/server.js';
import type { ProxyRequest } from '../../common/http/types.js';

export interface FakePod {
  readonly name: string;
  readonly address: string;
  /** Requests (not probes) now in flight, and the most ever at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Requests served (not probes). */
  readonly served: number;
  readonly probes: number;
  /** User-Agent of the last probe. */
  readonly probeUserAgent: string | undefined;
  /**
   * Headers of every request (not probes) and WebSocket upgrade, in arrival order, normalised to HTTP/1 shape: no
   * pseudo-headers, and for h2 requests `host` from `:authority`.
   */
  readonly seen: http.IncomingHttpHeaders[];
  /** `req.httpVersion` ('1.1' or '2.0') of each entry in `seen`, same order. */
  readonly versions: string[];
  /** Request target (`req.url`, `:path` for h2) of each entry in `seen`, same order. */
  readonly urls: string[];
  /** TCP connections accepted (probes included). */
  readonly connections: number;
  /** Distinct TCP connections (h2: sessions) that carried requests or upgrades, probes excluded. */
  readonly requestConnections: number;
  /** Stops accepting and drops open connections at once (the pod dies). */
  kill(): Promise<void>;
  close(): Promise<void>;
}

export interface FakePodOptions {
  /** ms each request takes. */
  delayMs?: number;
  /** Whether probes pass (default true). */
  healthy?: () => boolean;
  /** Also echo WebSocket messages (prefixed with the pod name). */
  websocket?: boolean;
  /** Requests are answered only once this settles (then after delayMs), so a test can hold a burst at the pod. */
  hold?: Promise<unknown>;
}

/** `req.headers` without pseudo-headers; an h2 request's `:authority` becomes `host`. */
function normalisedHeaders(req: ProxyRequest): http.IncomingHttpHeaders {
  const out: http.IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith(':')) out[name] = value;
  }
  const authority = req.httpVersionMajor === 2 ? req.headers[':authority'] : undefined;
  if (typeof authority === 'string' && out.host === undefined) out.host = authority;
  return out;
}

/** The connection a request came on: the h2 session for h2 streams (their `req.socket` is a per-stream proxy). */
function connectionOf(req: ProxyRequest): object | undefined {
  return req.httpVersionMajor === 2 ? (req as http2.Http2ServerRequest).stream.session : (req as http.IncomingMessage).socket;
}

export async function startPod(name: string, opts: FakePodOptions = {}): Promise<FakePod> {
  let inFlight = 0;
  let maxInFlight = 0;
  let served = 0;
  let probes = 0;
  let probeUserAgent: string | undefined;
  let connections = 0;
  let requestConnections = 0;
  const carriers = new WeakSet<object>();
  const seen: http.IncomingHttpHeaders[] = [];
  const versions: string[] = [];
  const urls: string[] = [];
  const sockets = new Set<net.Socket>();

  const record = (req: ProxyRequest): void => {
    seen.push(normalisedHeaders(req));
    versions.push(req.httpVersion);
    urls.push(req.url ?? '');
    const conn = connectionOf(req);
    if (conn !== undefined && !carriers.has(conn)) {
      carriers.add(conn);
      requestConnections++;
    }
  };

  const wss = opts.websocket ? new WebSocketServer({ noServer: true }) : undefined;
  wss?.on('connection', (ws, req: http.IncomingMessage) => {
    record(req);
    ws.on('message', (m: Buffer) => ws.send(`${name}:${m.toString()}`));
  });

  const listener = createListener({
    // A dead pod must not keep its upgraded sockets for Knative's 60 s grace.
    upgradeGraceMs: 0,
    onConnection: (socket) => {
      connections++;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
    handler: (req, res) => {
      if (req.url === '/healthz' && req.headers['k-network-probe'] === 'queue') {
        probes++;
        probeUserAgent = req.headers['user-agent'];
        const ok = opts.healthy?.() ?? true;
        (res as http.ServerResponse).writeHead(ok ? 200 : 503).end(ok ? 'queue' : 'not ready');
        return;
      }
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      record(req);
      let answered = false;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      const answer = (): void => {
        if (answered) return; // abandoned while held
        const t = setTimeout(() => {
          answered = true;
          inFlight--;
          served++;
          (res as http.ServerResponse).writeHead(200, { 'content-type': 'text/plain', 'x-pod': name }).end(`${name}:${Buffer.concat(chunks).length}`);
        }, opts.delayMs ?? 0);
        res.on('close', () => clearTimeout(t));
      };
      req.on('end', () => {
        if (opts.hold === undefined) answer();
        else void opts.hold.then(answer, answer);
      });
      res.on('close', () => {
        // A request abandoned before its answer is no longer in flight either.
        if (!answered) {
          answered = true;
          inFlight--;
        }
      });
    },
    onUpgrade: (req, socket, head) => {
      if (wss === undefined) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
  });
  const port = await listener.listen(0, '127.0.0.1');

  let closed: Promise<void> | undefined;
  const kill = (): Promise<void> => {
    closed ??= (async () => {
      // close() stops accepting at once (synchronously); the rest of the pod's connections are cut here, not drained.
      const closing = listener.close({ timeoutMs: 0 });
      for (const c of wss?.clients ?? []) c.terminate();
      for (const s of sockets) s.destroy();
      wss?.close();
      await closing;
    })();
    return closed;
  };
  return {
    name,
    address: `127.0.0.1:${port}`,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get served() {
      return served;
    },
    get probes() {
      return probes;
    },
    get probeUserAgent() {
      return probeUserAgent;
    },
    get connections() {
      return connections;
    },
    get requestConnections() {
      return requestConnections;
    },
    seen,
    versions,
    urls,
    kill,
    close: kill,
  };
}
