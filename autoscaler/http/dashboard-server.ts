/**
 * The autoscaler's HTTP server: the dashboard page and its uPlot assets, a JSON snapshot, Server-Sent Events with one
 * sample per revision per second, `/healthz` and Prometheus `/metrics`.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { Autoscaler, RevisionSample } from '../app.js';
import { DASHBOARD_HTML } from '../dashboard/page.js';
import { createAutoscalerMetrics } from './metrics.js';
import type { Logger } from '../../common/logger.js';
import { fromRoot } from '../../common/paths.js';

/** Open event streams at most; more get 503 (each holds a socket and a listener). */
export const MAX_EVENT_STREAMS = 64;
/** A stream whose unsent output exceeds this is cut: the client is not reading, and memory must stay bounded. */
export const MAX_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;
/** Comment line sent on idle streams so proxies keep them open. */
const HEARTBEAT_MS = 15_000;

export interface DashboardServerOptions {
  readonly host?: string;
  readonly port: number;
  readonly logger: Logger;
  /** More Prometheus text appended to `/metrics` (a backend's own metrics, e.g. informer health). */
  readonly extraMetrics?: () => Promise<string>;
}

export interface StartedDashboardServer {
  readonly port: number;
  /** `http://host:port/` */
  readonly url: string;
  /** Ends every event stream and stops listening. */
  close(): Promise<void>;
}

interface Asset {
  body: Buffer;
  type: string;
}

/** uPlot's browser build, read once from the installed package (no network at run time). */
function loadAssets(): Map<string, Asset> {
  const resolveDist = (file: string): string => {
    try {
      return createRequire(import.meta.url).resolve(`uplot/dist/${file}`);
    } catch {
      return fromRoot('node_modules', 'uplot', 'dist', file);
    }
  };
  return new Map([
    ['/assets/uPlot.iife.min.js', { body: readFileSync(resolveDist('uPlot.iife.min.js')), type: 'text/javascript; charset=utf-8' }],
    ['/assets/uPlot.min.css', { body: readFileSync(resolveDist('uPlot.min.css')), type: 'text/css; charset=utf-8' }],
  ]);
}

function sseEvent(s: RevisionSample): string {
  return `id: ${s.seq}\ndata: ${JSON.stringify(s)}\n\n`;
}

/** Starts the server on `host:port` (port 0 picks a free one). */
export async function startDashboardServer(
  source: Pick<Autoscaler, 'snapshot' | 'history' | 'subscribe' | 'onScrape'>,
  opts: DashboardServerOptions,
): Promise<StartedDashboardServer> {
  const assets = loadAssets();
  const page = Buffer.from(DASHBOARD_HTML, 'utf8');
  const metrics = createAutoscalerMetrics(source);
  const streams = new Set<ServerResponse>();
  const log = opts.logger;

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
    res.end(body);
  };

  const openStream = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (streams.size >= MAX_EVENT_STREAMS) {
      send(res, 503, 'text/plain; charset=utf-8', 'too many event streams\n', { 'retry-after': '5' });
      return;
    }
    // Resume after the last event the client saw (EventSource sends Last-Event-ID on reconnect), else send history.
    const lastId = Number(req.headers['last-event-id'] ?? url.searchParams.get('after') ?? 0);
    const after = Number.isFinite(lastId) && lastId > 0 ? lastId : 0;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n\n${source.history(after).map(sseEvent).join('')}`);
    streams.add(res);
    const unsubscribe = source.subscribe((s) => {
      if (res.writableLength > MAX_STREAM_BUFFER_BYTES) {
        log.warn({ buffered: res.writableLength }, 'event stream client is not reading; closing it');
        res.destroy();
        return;
      }
      res.write(sseEvent(s));
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    const done = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    res.on('close', done);
    res.on('error', done);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    const path = url.pathname;
    if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page);
    const asset = assets.get(path);
    if (asset) return send(res, 200, asset.type, asset.body, { 'cache-control': 'public, max-age=3600' });
    if (path === '/api/revisions') return send(res, 200, 'application/json', JSON.stringify(source.snapshot()));
    if (path === '/api/events') return openStream(req, res, url);
    if (path === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    if (path === '/metrics') return send(res, 200, metrics.contentType, (await metrics.render()) + (opts.extraMetrics ? await opts.extraMetrics() : ''));
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        metrics.close();
        for (const res of streams) res.destroy();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
