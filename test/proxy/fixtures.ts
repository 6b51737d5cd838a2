/** Test fixtures for the queue-proxy: a scriptable app on 127.0.0.1:0 and a whole queue-proxy on ports 0. */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, request } from 'undici';
import { parseQueueProxyConfig } from '../../proxy/config.js';
import { startQueueProxy, type RunningQueueProxy, type StartOptions } from '../../proxy/main.js';

/** What the app saw of one request. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type AppBehaviour = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

export interface TestApp {
  port: number;
  seen: Seen[];
  /** Replace the behaviour for later requests. */
  behave(b: AppBehaviour): void;
  server: Server;
  close(): Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** 200 `ok` after `delayMs`. */
export const slow =
  (delayMs: number, status = 200): AppBehaviour =>
  async (_req, res) => {
    await sleep(delayMs);
    if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'fail');
  };

export async function startApp(behaviour: AppBehaviour = slow(0), port = 0): Promise<TestApp> {
  let b = behaviour;
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      void Promise.resolve(b(req, res, body)).catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    server,
    behave: (nb) => (b = nb),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export const BASE_ENV: Record<string, string> = {
  CONTAINER_CONCURRENCY: '0',
  QUEUE_SERVING_PORT: '0',
  REVISION_TIMEOUT_SECONDS: '30',
  SERVING_NAMESPACE: 'default',
  SERVING_CONFIGURATION: 'hello',
  SERVING_REVISION: 'hello-00001',
  SERVING_SERVICE: 'hello',
  SERVING_POD: 'hello-00001-pod',
  SERVING_POD_IP: '127.0.0.1',
  TIDE_BIND_HOST: '127.0.0.1',
  TIDE_ADMIN_PORT: '0',
  TIDE_STATS_PORT: '0',
  TIDE_METRICS_PORT: '0',
  TIDE_DRAIN_QUIET_SECONDS: '0.2',
  TIDE_WEBSOCKET_GRACE_SECONDS: '1',
};

/** A queue-proxy in this process in front of `appPort`, with BASE_ENV plus `env`. */
export function startQp(appPort: number, env: Record<string, string> = {}, opts: StartOptions = {}): Promise<RunningQueueProxy> {
  return startQueueProxy(parseQueueProxyConfig({ ...BASE_ENV, USER_PORT: String(appPort), ...env }), opts);
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

/** One request over `agent` (a fresh connection pool the test closes). Never throws for HTTP statuses. */
export async function call(
  agent: Agent,
  port: number,
  opts: { path?: string; method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const t = Date.now();
  const r = await request(`http://127.0.0.1:${port}${opts.path ?? '/'}`, {
    dispatcher: agent,
    method: (opts.method ?? 'GET') as 'GET',
    headers: opts.headers ?? {},
    body: opts.body ?? null,
  });
  const body = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body, ms: Date.now() - t };
}

/** Polls `cond` every 5 ms for up to `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

export const KUBE_PROBE = { 'user-agent': 'kube-probe/1.29', 'k-network-probe': 'queue' };
