/**
 * Test support for the proxy core: recording upstreams (HTTP/1.1 and h2c), a raw-socket client, small HTTP/1.1 and h2
 * clients, and a listener+forwarder rig.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
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

/**
 * A TCP server that accepts and never says anything (a stuck or hostile peer). `close()` destroys what it accepted;
 * pass it to the suite's cleanups.
 */
export async function startSilentServer(): Promise<{ port: number; accepted: net.Socket[]; close(): Promise<void> }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => accepted.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted,
    close: () =>
      new Promise<void>((r) => {
        for (const s of accepted) s.destroy();
        server.close(() => r());
      }),
  };
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

/** What an h2c upstream saw of one stream. */
export interface H2Recorded {
  method: string;
  path: string;
  authority: string | undefined;
  /** Regular headers only (pseudo-headers are in the fields above). */
  headers: http2.IncomingHttpHeaders;
  body: string;
  /** The request stream ended normally (its whole body arrived). */
  ended: boolean;
}

export interface H2Upstream {
  port: number;
  address: string;
  requests: H2Recorded[];
  /** h2 sessions (= TCP connections) accepted. */
  sessions: number;
  close(): Promise<void>;
}

/**
 * An h2c upstream (`http2.createServer`, prior knowledge) that records every stream when it arrives and calls
 * `handler` once the request body has ended. Default answer: 200 `ok`.
 */
export async function startH2Upstream(
  handler: (stream: http2.ServerHttp2Stream, rec: H2Recorded) => void = (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  },
  options: http2.ServerOptions = {},
): Promise<H2Upstream> {
  const server = http2.createServer(options);
  const open = new Set<http2.ServerHttp2Session>();
  const up: H2Upstream = {
    port: 0,
    address: '',
    requests: [],
    sessions: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
  server.on('session', (session: http2.ServerHttp2Session) => {
    up.sessions++;
    open.add(session);
    session.on('error', () => undefined);
    session.once('close', () => open.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const regular: http2.IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':')) regular[name] = value;
    const authority = headers[':authority'];
    const rec: H2Recorded = {
      method: String(headers[':method']),
      path: String(headers[':path']),
      authority: typeof authority === 'string' ? authority : undefined,
      headers: regular,
      body: '',
      ended: false,
    };
    up.requests.push(rec);
    stream.on('error', () => undefined);
    stream.on('data', (c: Buffer) => (rec.body += c.toString('latin1')));
    stream.once('end', () => {
      rec.ended = true;
      if (!stream.destroyed) handler(stream, rec);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.port = (server.address() as net.AddressInfo).port;
  up.address = `127.0.0.1:${up.port}`;
  return up;
}

export interface ClientReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Trailers received (empty when there were none). */
  trailers: http.IncomingHttpHeaders;
}

/**
 * One HTTP/1.1 request on its own connection. `body` chunks are written one per `gapMs` (no Content-Length unless the
 * caller sets one: the body goes chunked, streamed); a string is sent whole.
 */
export function h1Request(
  port: number,
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | string[]; gapMs?: number } = {},
): Promise<ClientReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error('response cut'));
      });
    });
    req.on('error', reject);
    const body = opts.body;
    if (body === undefined || typeof body === 'string') {
      req.end(body);
      return;
    }
    writeChunks(req, body, opts.gapMs ?? 0);
  });
}

/** Writes `chunks` one per `gapMs`, then ends the stream (a streamed request body, without a content-length). */
function writeChunks(stream: { write(chunk: string): unknown; end(): unknown }, chunks: readonly string[], gapMs: number): void {
  let i = 0;
  const next = (): void => {
    if (i === chunks.length) {
      stream.end();
      return;
    }
    stream.write(chunks[i++]!);
    setTimeout(next, gapMs);
  };
  next();
}

/**
 * One h2 request on `session`. `body` chunks are written one per `gapMs` (no content-length unless given in
 * `headers`); without a body the HEADERS frame ends the stream.
 */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  opts: { body?: string[]; gapMs?: number } = {},
): Promise<ClientReply> {
  return new Promise((resolve, reject) => {
    const st = session.request(headers, { endStream: opts.body === undefined });
    let status = 0;
    let resHeaders: http.IncomingHttpHeaders = {};
    let trailers: http.IncomingHttpHeaders = {};
    let body = '';
    st.setEncoding('latin1');
    st.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h;
    });
    st.on('trailers', (t: http.IncomingHttpHeaders) => {
      trailers = t;
    });
    st.on('data', (d: string) => (body += d));
    st.on('end', () => resolve({ status, headers: resHeaders, body, trailers }));
    st.on('error', reject);
    // Settled already if 'end' came first; otherwise the stream was reset.
    st.on('close', () => reject(new Error(`stream closed, code ${st.rstCode}`)));
    if (opts.body === undefined) return;
    writeChunks(st, opts.body, opts.gapMs ?? 0);
  });
}
