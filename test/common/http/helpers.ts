/** Test support for the proxy core: a recording upstream, a raw-socket client, and a listener+forwarder rig. */
import * as http from 'node:http';
import * as net from 'node:net';
import { createForwarder, type ForwardCall, type ForwardOutcome, type Forwarder, type ForwarderOptions } from '../../../common/http/forward.js';
import { createListener, type Listener, type ListenerOptions } from '../../../common/http/server.js';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  aborted: boolean;
}

export interface Upstream {
  port: number;
  address: string;
  requests: Recorded[];
  /** Number of TCP connections accepted. */
  connections: number;
  server: http.Server;
  close(): Promise<void>;
}

/** An HTTP/1.1 upstream that records every request it sees (after its body ends or aborts). */
export async function startUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, rec: Recorded) => void = (_q, res) => res.end('ok'),
): Promise<Upstream> {
  const requests: Recorded[] = [];
  const server = http.createServer();
  const up: Upstream = {
    port: 0,
    address: '',
    requests,
    connections: 0,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => up.connections++);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: '', aborted: false };
    requests.push(rec);
    req.on('data', (c: Buffer) => (rec.body += c.toString('latin1')));
    req.on('aborted', () => (rec.aborted = true));
    req.on('error', () => (rec.aborted = true));
    handler(req, res, rec);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.port = (server.address() as net.AddressInfo).port;
  up.address = `127.0.0.1:${up.port}`;
  return up;
}

/** A port nothing listens on (bound, then closed). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Sends raw bytes, returns everything received until the server closes or `waitMs` passes. */
export function rawExchange(port: number, data: string | Buffer, waitMs = 1000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      resolve({ text, closed });
    };
    const t = setTimeout(() => finish(false), waitMs);
    sock.on('data', (c: Buffer) => (text += c.toString('latin1')));
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    sock.write(data);
  });
}

/** Status code of the first response in a raw exchange, or 0. */
export function firstStatus(text: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}

export interface Rig {
  listener: Listener;
  forwarder: Forwarder;
  port: number;
  outcomes: ForwardOutcome[];
  close(): Promise<void>;
}

/** A listener whose handler forwards every request to `upstream` with `call` options. */
export async function startProxy(
  upstream: () => string,
  call: Partial<ForwardCall> = {},
  forwarderOptions: ForwarderOptions = {},
  listenerOptions: Partial<ListenerOptions> = {},
): Promise<Rig> {
  const forwarder = createForwarder(forwarderOptions);
  const outcomes: ForwardOutcome[] = [];
  const listener = createListener({
    ...listenerOptions,
    handler: async (req, res, startMs) => {
      outcomes.push(await forwarder.forward(req, res, { ...call, upstream: upstream(), startMs }));
    },
  });
  const port = await listener.listen(0, '127.0.0.1');
  return {
    listener,
    forwarder,
    port,
    outcomes,
    async close() {
      await listener.close({ timeoutMs: 1000 });
      await forwarder.close();
    },
  };
}

/** Polls `cond` every 5 ms up to `ms`. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Rigs that close themselves: `upstream()` and `proxy()` start what startUpstream/startProxy start and register the
 * close with `cleanups`, which the test file drains in afterEach.
 */
export function trackedRigs(cleanups: (() => Promise<void> | void)[]): {
  upstream: (h?: Parameters<typeof startUpstream>[0]) => Promise<Upstream>;
  proxy: (...args: Parameters<typeof startProxy>) => Promise<Rig>;
} {
  return {
    async upstream(h) {
      const u = await startUpstream(h);
      cleanups.push(() => u.close());
      return u;
    },
    async proxy(...args) {
      const r = await startProxy(...args);
      cleanups.push(() => r.close());
      return r;
    },
  };
}
