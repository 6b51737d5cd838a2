/** Test pods: small loopback servers that answer the §b4 probe like a queue-proxy and count their own in-flight requests. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

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
  /** Headers of every request (not probes), in arrival order. */
  readonly seen: http.IncomingHttpHeaders[];
  /** TCP connections accepted. */
  readonly connections: number;
  /** Stops accepting and drops open connections (the pod dies). */
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
}

export async function startPod(name: string, opts: FakePodOptions = {}): Promise<FakePod> {
  let inFlight = 0;
  let maxInFlight = 0;
  let served = 0;
  let probes = 0;
  let probeUserAgent: string | undefined;
  let connections = 0;
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz' && req.headers['k-network-probe'] === 'queue') {
      probes++;
      probeUserAgent = req.headers['user-agent'];
      const ok = opts.healthy?.() ?? true;
      res.writeHead(ok ? 200 : 503).end(ok ? 'queue' : 'not ready');
      return;
    }
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    seen.push(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = setTimeout(() => {
        inFlight--;
        served++;
        res.writeHead(200, { 'content-type': 'text/plain', 'x-pod': name }).end(`${name}:${Buffer.concat(chunks).length}`);
      }, opts.delayMs ?? 0);
      res.on('close', () => clearTimeout(t));
    });
  });
  server.on('connection', () => connections++);
  const wss = opts.websocket ? new WebSocketServer({ server }) : undefined;
  wss?.on('connection', (ws, req) => {
    seen.push(req.headers);
    ws.on('message', (m: Buffer) => ws.send(`${name}:${m.toString()}`));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((r) => {
      for (const c of wss?.clients ?? []) c.terminate();
      wss?.close();
      server.close(() => r());
      server.closeAllConnections();
    });
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
    seen,
    kill: close,
    close: () => (server.listening ? close() : Promise.resolve()),
  };
}
