/**
 * One listener for HTTP/1.1 (keep-alive) and h2c (prior knowledge, as gRPC uses) on the same port, hardened so that
 * malformed, ambiguous or oversized requests never reach the handler, with drain for graceful shutdown.
 */
import * as http from 'node:http';
import type * as http2 from 'node:http2';
import * as net from 'node:net';
import { systemClock, type Clock } from '../clock.js';
import { BodyTooLargeError } from '../errors.js';
import { checkOptions, option, type OptionCheck } from '../options.js';
import { ConnectionGuard, type SessionState } from './connection-guard.js';
import { H2_INTERNAL_ERROR, H2_NO_ERROR, loadHttp2 } from './h2-codes.js';
import { H } from './headers.js';
import { BODY_BYTES, respondRaw, respondText, type Handler, type ProxyRequest, type ProxyResponse, type UpgradeHandler } from './types.js';

export interface ListenerOptions {
  handler: Handler;
  /** HTTP/1.1 Upgrade (WebSocket) requests. Absent: they get 501 and the socket is closed. */
  onUpgrade?: UpgradeHandler;
  /** Source of `startMs`. Default systemClock. */
  clock?: Clock;
  /** The whole header block must arrive within this, else 408 (slowloris). */
  headersTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this, else 408. 0 = off. */
  requestTimeoutMs?: number;
  /** Idle client keep-alive sockets are closed after this. */
  keepAliveTimeoutMs?: number;
  /** How often the two timeouts above are checked: a slow client lives at most timeout + interval. */
  checkIntervalMs?: number;
  /** Header block limit in bytes → 431. */
  maxHeaderBytes?: number;
  /** Header count limit (Envoy: 100) → 431. */
  maxHeaderCount?: number;
  /** Request body limit in bytes, 0 = unlimited → 413. Counted while streaming, never buffered. */
  maxBodyBytes?: number;
  /** h2 streams per session (Envoy edge: 100). */
  http2MaxConcurrentStreams?: number;
  /** h2c sessions with no open stream for this long are closed with GOAWAY (NO_ERROR). 0 = never. */
  http2IdleTimeoutMs?: number;
  /**
   * Client RST_STREAM frames a session may send: a token bucket of `http2ResetBurst` refilled at `http2ResetRate` per
   * second (node's nghttp2 `streamResetBurst`/`streamResetRate`); past it the session gets GOAWAY and is closed
   * (HTTP/2 rapid reset, CVE-2023-44487).
   */
  http2ResetBurst?: number;
  http2ResetRate?: number;
  /** Open client connections at most (node's `server.maxConnections`); beyond, new ones are closed at once. 0 = no cap. */
  maxConnections?: number;
  /** How long close() leaves upgraded (WebSocket) connections open (Knative: 60 s). */
  upgradeGraceMs?: number;
  /** Log hook for unexpected errors (handler crashes, session errors). Must not throw. */
  onError?: (err: unknown, where: string) => void;
  /** Called for each accepted TCP connection, before its protocol is known (counters, tests). Must not throw. */
  onConnection?: (socket: net.Socket) => void;
  /**
   * Operator notices (a limit biting: the connection cap), at most one per 10 s per kind with a count. Default: none.
   * Must not throw.
   */
  onNotice?: (message: string, details: Record<string, unknown>) => void;
}

type Limits = Required<Omit<ListenerOptions, 'handler' | 'onUpgrade' | 'clock' | 'onError' | 'onConnection' | 'onNotice'>>;

/** Defaults. Header timeout well below Node's 60 s so a flood of slow clients cannot hold sockets for ~90 s. */
export const LISTENER_DEFAULTS: Readonly<Limits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxBodyBytes: 0,
  http2MaxConcurrentStreams: 100,
  http2IdleTimeoutMs: 300_000,
  http2ResetBurst: 100,
  http2ResetRate: 10,
  maxConnections: 10_000,
  upgradeGraceMs: 60_000,
});

/** At most one connection-limit notice per this long. */
const NOTICE_INTERVAL_MS = 10_000;

/** What each option may be; createListener refuses anything else, naming the option. */
const LISTENER_OPTIONS: Readonly<Record<keyof ListenerOptions, OptionCheck>> = {
  handler: option.function,
  onUpgrade: option.function,
  clock: option.object,
  headersTimeoutMs: option.positiveInt,
  requestTimeoutMs: option.nonNegativeInt,
  keepAliveTimeoutMs: option.nonNegativeInt,
  checkIntervalMs: option.positiveInt,
  maxHeaderBytes: option.positiveInt,
  maxHeaderCount: option.positiveInt,
  maxBodyBytes: option.nonNegativeInt,
  http2MaxConcurrentStreams: option.positiveInt,
  http2IdleTimeoutMs: option.nonNegativeInt,
  http2ResetBurst: option.positiveInt,
  http2ResetRate: option.nonNegativeNumber,
  maxConnections: option.nonNegativeInt,
  upgradeGraceMs: option.nonNegativeInt,
  onError: option.function,
  onConnection: option.function,
  onNotice: option.function,
};

export interface Listener {
  /** Starts accepting. Resolves the bound port (port 0 picks one). */
  listen(port: number, host?: string): Promise<number>;
  /** The bound port, 0 before listen(). */
  readonly port: number;
  /** HTTP/1 responses carry `Connection: close` from now on (idle keep-alive sockets stay until close()); h2 sessions get GOAWAY. */
  startDrain(): void;
  readonly isDraining: boolean;
  /** Requests whose response has not finished. */
  readonly inFlight: number;
  /** Open upgraded (WebSocket) sockets. */
  readonly upgradedCount: number;
  /**
   * Stops accepting, waits for in-flight requests (all sockets destroyed after `timeoutMs` if given), then gives
   * upgraded sockets `upgradeGraceMs` before destroying them. Implies startDrain(). Safe to call twice.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** The 24-byte client connection preface of HTTP/2 (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Host / :authority syntax (RFC 3986 §3.2.2 reg-name or IP-literal, optional port). No userinfo (`a:80@evil`),
 * no spaces, no slashes, no second colon outside brackets.
 */
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{1,5})?$/;
const ABSOLUTE_RE = /^https?:\/\//i;
const CHUNKED_LAST_RE = /(?:^|,)[ \t]*chunked[ \t]*$/i;
const CHUNKED_ONLY_RE = /^[ \t]*chunked[ \t]*$/i;

/** RFC 9113 §6.5.2 size of an h2 header list, as nghttp2 counts it: name and value octets plus 32 per field. */
function headerListSize(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i++) n += (raw[i] as string).length;
  return n + 16 * raw.length;
}

/** `K-Original-Host` (the queue-proxy makes it the app's Host) must be a host like Host itself, and only one. */
function validOriginalHost(v: string | string[] | undefined): boolean {
  return v === undefined || (typeof v === 'string' && HOST_RE.test(v));
}

/** The status a request must be refused with before the handler, or 0 if it is acceptable. May normalise req.url. */
function validateHttp1(req: http.IncomingMessage, limits: Limits): number {
  const raw = req.rawHeaders;
  if (raw.length > 2 * limits.maxHeaderCount) return 431;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1 (llhttp lets a second one through; node keeps the first).
  if (hosts > 1) return 400;
  const host = req.headers.host;
  // HTTP/1.0 without Host too: the upstream request needs one, and inventing it (the upstream's address) would tell the
  // app a host the client never named.
  if (host === undefined || !HOST_RE.test(host)) return 400;
  const te = req.headers['transfer-encoding'];
  if (te !== undefined) {
    // HTTP/1.0 has no chunked coding (measured: llhttp accepts it); refuse the framing ambiguity.
    if (req.httpVersionMinor === 0) return 400;
    // RFC 9112 §6.3: a request whose last transfer coding is not chunked cannot be framed → 400 and close.
    if (!CHUNKED_LAST_RE.test(te)) return 400;
    // Another coding before chunked (`gzip, chunked`): we would have to decode it or pass it on; we do neither, so
    // 501 as node's and Envoy's servers answer (RFC 9112 §6.1), never a silently dropped coding.
    if (!CHUNKED_ONLY_RE.test(te)) return 501;
  }
  if (!validOriginalHost(req.headers[H.originalHost])) return 400;
  const url = req.url ?? '';
  if (url.charCodeAt(0) !== 47 /* / */) {
    if (url === '*' && req.method === 'OPTIONS') return 0;
    if (!ABSOLUTE_RE.test(url)) return 400;
    // Absolute form: its authority must equal Host (RFC 9112 §3.2.2 says the URI wins; we refuse the ambiguity).
    const start = url.indexOf('//') + 2;
    let end = start;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break; // / ? #
      end++;
    }
    const authority = url.slice(start, end);
    if (host === undefined || authority.toLowerCase() !== host.toLowerCase()) return 400;
    const rest = url.slice(end);
    req.url = rest === '' || rest.charCodeAt(0) !== 47 ? `/${rest}` : rest;
  }
  if (limits.maxBodyBytes > 0) {
    const cl = req.headers['content-length'];
    if (cl !== undefined && Number(cl) > limits.maxBodyBytes) return 413;
  }
  return 0;
}

function validateHttp2(req: http2.Http2ServerRequest, limits: Limits): number {
  const h = req.headers;
  const method = h[':method'];
  if (method === 'CONNECT') return 501;
  // Node resets a stream whose header list passes SETTINGS_MAX_HEADER_LIST_SIZE, but only once the client has
  // acknowledged our SETTINGS; a client that never does (measured: raw frames) gets node's 64 KiB default. Same limit here.
  if (headerListSize(req.rawHeaders) > limits.maxHeaderBytes) return 431;
  if (!validOriginalHost(h[H.originalHost])) return 400;
  const path = h[':path'];
  if (typeof path !== 'string' || (path.charCodeAt(0) !== 47 && !(path === '*' && method === 'OPTIONS'))) return 400;
  const authority = h[':authority'];
  const host = h.host;
  if (typeof authority === 'string') {
    if (!HOST_RE.test(authority)) return 400;
    if (typeof host === 'string' && host.toLowerCase() !== authority.toLowerCase()) return 400;
  } else if (typeof host === 'string') {
    if (!HOST_RE.test(host)) return 400;
  }
  if (limits.maxBodyBytes > 0) {
    const cl = h['content-length'];
    if (typeof cl === 'string' && Number(cl) > limits.maxBodyBytes) return 413;
  }
  return 0;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'bad request',
  413: 'request body too large',
  431: 'request header fields too large',
  501: 'not implemented',
};

/** The HTTP/1.1 answer to CONNECT (node hands it to a 'connect' listener, or closes the socket without a word). */
const CONNECT_501 = `HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\nConnection: close\r\n\r\nnot implemented`;

/**
 * `OPTIONS *` asks about the server, not a resource (RFC 9110 §9.3.7): answered here, 200 with an empty body, as Go's
 * net/http server answers it for Knative's queue-proxy and activator. It never reaches the handler (so it never counts
 * against the app, its circuit or its metrics).
 */
function answerOptionsStar(res: ProxyResponse): void {
  const r = res as http.ServerResponse;
  r.statusCode = 200;
  r.setHeader('content-length', 0);
  r.end();
}

function refuse(req: ProxyRequest, res: ProxyResponse, status: number): void {
  if (req.httpVersionMajor === 2) {
    respondText(res, status, STATUS_TEXT[status] ?? 'bad request');
    return;
  }
  // HTTP/1: the rest of this connection cannot be trusted (unread body, ambiguous framing): close it.
  (res as http.ServerResponse).shouldKeepAlive = false;
  respondText(res, status, STATUS_TEXT[status] ?? 'bad request');
}

/** Field set on requests by the listener: the response, so a body overflow can answer 413 at once. */
const kRes = Symbol('tide.res');
/** Field set on h2 responses: the bookkeeping of the session they belong to (idle timeout). */
const kSession = Symbol('tide.session');
const kLimit = Symbol('tide.bodyLimit');

/** An h2 response with its session's bookkeeping (the class is built with the h2c server). */
type TrackedResponse = ProxyResponse & { [kSession]?: SessionState | undefined };

interface LimitedRequest {
  [kRes]?: ProxyResponse | undefined;
  [kLimit]: number;
  [BODY_BYTES]: number;
}

/**
 * Counts body bytes as the parser pushes them. Past the limit: answers 413 (Connection: close) if nothing was
 * written yet, then errors the request stream with a BodyTooLargeError, which aborts any upstream request reading it.
 * Returns true if `chunk` may be pushed.
 */
function admitChunk(self: LimitedRequest & { destroy(e: Error): void }, chunk: unknown): boolean {
  if (chunk === null || chunk === undefined) return true;
  const limit = self[kLimit];
  if (limit > 0 && self[BODY_BYTES] > limit) return false;
  self[BODY_BYTES] += (chunk as { length: number }).length;
  if (limit <= 0 || self[BODY_BYTES] <= limit) return true;
  const res = self[kRes];
  if (res !== undefined && !res.headersSent) {
    if ('shouldKeepAlive' in res) res.shouldKeepAlive = false;
    respondText(res, 413, STATUS_TEXT[413] ?? '');
  }
  self.destroy(new BodyTooLargeError(limit));
  return false;
}

/** Creates (does not start) a listener. */
export function createListener(options: ListenerOptions): Listener {
  checkOptions('createListener', options, LISTENER_OPTIONS, ['handler']);
  const limits: Limits = { ...LISTENER_DEFAULTS };
  for (const k of Object.keys(LISTENER_DEFAULTS) as (keyof Limits)[]) {
    const v = options[k];
    if (v !== undefined) limits[k] = v;
  }
  const clock = options.clock ?? systemClock;
  const handler = options.handler;
  const onUpgrade = options.onUpgrade;
  const onError = options.onError ?? (() => undefined);
  const bodyLimit = limits.maxBodyBytes;

  class LimitedIncomingMessage extends http.IncomingMessage implements LimitedRequest {
    [kRes]: ProxyResponse | undefined = undefined;
    [kLimit] = bodyLimit;
    [BODY_BYTES] = 0;
    override push(chunk: unknown, encoding?: BufferEncoding): boolean {
      if (!admitChunk(this, chunk)) return false;
      return super.push(chunk, encoding);
    }
    override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
      // After a 413 the socket must live until the 413 is written; Connection: close then ends it.
      if (isOverBodyLimit(this)) {
        cb(err);
        return;
      }
      super._destroy(err, cb);
    }
  }

  /**
   * Responses whose headers are written after startDrain() carry `Connection: close`, whenever their request arrived.
   * Checked here rather than by keeping a set of pending responses: a long-lived collection holding every response
   * made V8 promote each request's objects to the old space (measured: 3–4× longer scavenges, ~10 % of the proxy's CPU).
   */
  class DrainAwareResponse extends http.ServerResponse<LimitedIncomingMessage> {
    override writeHead(statusCode: number, reason?: unknown, headers?: unknown): this {
      if (draining) this.shouldKeepAlive = false;
      return (super.writeHead as (c: number, r?: unknown, h?: unknown) => this)(statusCode, reason, headers);
    }
  }

  const h1 = http.createServer({
    IncomingMessage: LimitedIncomingMessage,
    ServerResponse: DrainAwareResponse,
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
    requireHostHeader: true,
    insecureHTTPParser: false,
    noDelay: true,
  });
  // One more than the limit, so that an over-long list is seen (node silently truncates at maxHeadersCount).
  h1.maxHeadersCount = limits.maxHeaderCount + 1;

  let draining = false;
  let closing = false;
  let inFlight = 0;
  let boundPort = 0;
  let idleWaiter: (() => void) | undefined;
  const sockets = new Set<net.Socket>();
  const upgraded = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const onNotice = options.onNotice ?? noop;
  const guard = new ConnectionGuard({
    clock,
    headersTimeoutMs: limits.headersTimeoutMs,
    idleTimeoutMs: limits.http2IdleTimeoutMs,
    checkIntervalMs: limits.checkIntervalMs,
    noticeIntervalMs: NOTICE_INTERVAL_MS,
    onNotice,
  });
  /** Set while an h2 connection is handed to the http2 server, which emits 'session' synchronously. */
  let handingOverAcceptedMs = 0;

  function onResClose(this: ProxyResponse): void {
    inFlight--;
    const s = (this as TrackedResponse)[kSession];
    if (s !== undefined) {
      s.open--;
      s.lastActiveMs = clock.now();
    }
    if (inFlight === 0 && idleWaiter) idleWaiter();
  }

  function onRequest(req: ProxyRequest, res: ProxyResponse): void {
    const isH2 = req.httpVersionMajor === 2;
    if (isH2) {
      const stream = (req as http2.Http2ServerRequest).stream;
      // Reset by the client before we got to it (HEADERS and RST_STREAM in one read: rapid reset): nothing to serve,
      // and nothing may reach the upstream.
      if (stream.rstCode !== H2_NO_ERROR || stream.closed || stream.destroyed) return;
    }
    const status = isH2
      ? validateHttp2(req as http2.Http2ServerRequest, limits)
      : validateHttp1(req as http.IncomingMessage, limits);
    if (status !== 0) {
      refuse(req, res, status);
      return;
    }
    if (req.url === '*') {
      answerOptionsStar(res);
      return;
    }
    inFlight++;
    res.on('close', onResClose); // emitted once; `on` skips once()'s per-request wrapper
    if (bodyLimit > 0) (req as unknown as LimitedRequest)[kRes] = res;
    if (isH2) {
      const session = (req as http2.Http2ServerRequest).stream.session;
      const state = session === undefined ? undefined : sessionStates.get(session);
      if (state !== undefined) {
        state.open++;
        (res as TrackedResponse)[kSession] = state;
      }
      // Serve this stream, then GOAWAY: the h2 equivalent of Connection: close.
      if (draining) session?.close();
    } else {
      if (draining) (res as http.ServerResponse).shouldKeepAlive = false;
    }
    const startMs = clock.now();
    try {
      const p = handler(req, res, startMs);
      if (p !== undefined) p.then(undefined, (err: unknown) => handlerFailed(err, res));
    } catch (err) {
      handlerFailed(err, res);
    }
  }

  function handlerFailed(err: unknown, res: ProxyResponse): void {
    onError(err, 'handler');
    if (!respondText(res, 500, 'internal error') && !res.writableEnded) {
      if (res instanceof http.ServerResponse) res.destroy();
      else res.stream.close(H2_INTERNAL_ERROR);
    }
  }

  h1.on('request', onRequest);
  h1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', noop);
    const status = validateHttp1(req, limits) || (onUpgrade ? 0 : 501);
    if (status !== 0) {
      respondRaw(socket, status, '');
      socket.destroySoon();
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    try {
      onUpgrade?.(req, socket, head, clock.now());
    } catch (err) {
      onError(err, 'upgrade');
      socket.destroy();
    }
  });

  // CONNECT: a reverse proxy has no tunnel to offer (RFC 9110 §9.3.6); answer instead of closing without a word.
  h1.on('connect', (_req: http.IncomingMessage, socket: net.Socket) => {
    socket.on('error', noop);
    socket.end(CONNECT_501);
    socket.destroySoon();
  });

  /**
   * The h2c server, built at the first h2c connection: loading node:http2 (and node:tls and node:crypto with it) costs
   * ~25 ms, which neither the queue-proxy's start (issue 15 item 1) nor an HTTP/1-only workload pays.
   */
  let h2: net.Server | undefined;
  const sessionStates = new WeakMap<http2.Http2Session, SessionState>();
  function http2Server(): net.Server {
    if (h2 !== undefined) return h2;
    const http2Module = loadHttp2();
    class LimitedHttp2Request extends http2Module.Http2ServerRequest implements LimitedRequest {
      [kRes]: ProxyResponse | undefined = undefined;
      [kLimit] = bodyLimit;
      [BODY_BYTES] = 0;
      override push(chunk: unknown, encoding?: BufferEncoding): boolean {
        if (!admitChunk(this, chunk)) return false;
        return super.push(chunk, encoding);
      }
      override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
        if (isOverBodyLimit(this)) {
          cb(err);
          return;
        }
        (super._destroy)(err, cb);
      }
    }

    /** An h2 response that knows its session's bookkeeping (a declared field: no shape change per request). */
    class TrackedHttp2Response extends http2Module.Http2ServerResponse<LimitedHttp2Request> {
      [kSession]: SessionState | undefined = undefined;
    }

    const server = http2Module.createServer({
      Http2ServerRequest: LimitedHttp2Request,
      Http2ServerResponse: TrackedHttp2Response,
      maxHeaderListPairs: limits.maxHeaderCount + 4, // + pseudo-headers
      maxSessionMemory: 10,
      // Rapid reset (CVE-2023-44487): nghttp2 counts the client's RST_STREAM frames in a token bucket and ends the
      // session with GOAWAY when it is empty. Node's default (1000, 33/s) lets each reconnecting attacker connection
      // cost a thousand dispatched streams; ours is set on the numbers in README (Listener → HTTP/2 rapid reset).
      streamResetBurst: limits.http2ResetBurst,
      streamResetRate: limits.http2ResetRate,
      settings: {
        maxConcurrentStreams: limits.http2MaxConcurrentStreams,
        // Node enforces this on what it receives: a header list over it (name + value octets) resets the stream with
        // ENHANCE_YOUR_CALM before any handler sees it. The same number as HTTP/1.1's 431 limit (measured, Node 24).
        maxHeaderListSize: limits.maxHeaderBytes,
      },
    });

    server.on('request', onRequest);
    server.on('session', (session: http2.ServerHttp2Session) => {
      sessions.add(session);
      const state = guard.addSession(session, handingOverAcceptedMs || clock.now());
      sessionStates.set(session, state);
      session.once('remoteSettings', () => (state.settled = true));
      session.on('error', (err) => onError(err, 'http2-session'));
      session.once('close', () => {
        sessions.delete(session);
        guard.removeSession(session);
      });
    });
    server.on('sessionError', (err) => onError(err, 'http2-session'));

    // h2 CONNECT: node's compatibility layer would answer 405; 501 as for HTTP/1.1, the method is not supported at all.
    server.on('connect', (_req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      respondText(res, 501, STATUS_TEXT[501] ?? '');
    });

    h2 = server;
    return server;
  }

  // Node arms the header/request timeout checks on 'listening'; these servers never listen themselves.
  h1.emit('listening');

  const tcp = net.createServer({ noDelay: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    options.onConnection?.(socket);
    socket.on('error', noop);
    socket.once('close', () => {
      sockets.delete(socket);
      guard.classified(socket);
    });
    // The preface (or the first request byte) must arrive within headersTimeoutMs of accept, however it is dripped
    // (an inactivity timeout would restart on every byte).
    guard.accepted(socket);
    let seen: Buffer | undefined;
    const onData = (chunk: Buffer): void => {
      const buf = seen ? Buffer.concat([seen, chunk]) : chunk;
      const n = Math.min(buf.length, PREFACE.length);
      const isPrefix = buf.compare(PREFACE, 0, n, 0, n) === 0;
      if (isPrefix && buf.length < PREFACE.length) {
        seen = buf; // a slow client sent part of what may be the preface: wait for more
        return;
      }
      socket.removeListener('data', onData);
      const acceptedMs = guard.classified(socket);
      socket.pause();
      socket.unshift(buf);
      if (isPrefix) {
        // Until its first SETTINGS arrives the session is still held to the same deadline (ConnectionGuard).
        handingOverAcceptedMs = acceptedMs;
        http2Server().emit('connection', socket);
        handingOverAcceptedMs = 0;
      } else {
        h1.emit('connection', socket);
        // The h1 parser reads the socket handle directly; the unshifted bytes flow through 'data' once resumed.
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  if (limits.maxConnections > 0) tcp.maxConnections = limits.maxConnections;
  tcp.on('drop', () => guard.dropped(limits.maxConnections));

  function startDrain(): void {
    if (draining) return;
    draining = true;
    // Idle HTTP/1 keep-alive sockets stay open until close(), as Go's server keeps them through Knative's quiet period:
    // closing one while a client is writing a request on it loses that request (the client cannot tell whether it
    // arrived). A request on one is served with `Connection: close`. h2 gets GOAWAY at once: its last-stream-id tells
    // the client exactly which streams were never processed.
    for (const s of sessions) s.close();
  }

  let closed: Promise<void> | undefined;
  async function close(opts?: { timeoutMs?: number }): Promise<void> {
    startDrain();
    closing = true;
    tcp.close(noop);
    guard.stop();
    const timeoutMs = opts?.timeoutMs;
    await waitFor(() => inFlight === 0, timeoutMs, (fn) => (idleWaiter = fn));
    idleWaiter = undefined;
    h1.close(noop); // stops the timeout checks; the server never listened itself
    for (const s of sessions) s.destroy();
    for (const s of sockets) if (!upgraded.has(s)) s.destroy();
    if (upgraded.size > 0) {
      await new Promise<void>((resolve) => {
        const cancel = clock.setTimeout(finish, limits.upgradeGraceMs);
        const tick = clock.setInterval(() => {
          if (upgraded.size === 0) finish();
        }, 50);
        function finish(): void {
          cancel();
          tick();
          resolve();
        }
      });
      for (const s of upgraded) s.destroy();
    }
    for (const s of sockets) s.destroy();
  }

  /** Resolves when `done()` holds, or after `timeoutMs`; `register` receives a callback to call on progress. */
  function waitFor(done: () => boolean, timeoutMs: number | undefined, register: (fn: () => void) => void): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let cancel: (() => void) | undefined;
      const finish = (): void => {
        cancel?.();
        resolve();
      };
      if (timeoutMs !== undefined) cancel = clock.setTimeout(finish, timeoutMs);
      register(() => {
        if (done()) finish();
      });
    });
  }

  return {
    listen(port: number, host = '0.0.0.0'): Promise<number> {
      return new Promise((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          tcp.removeListener('error', reject);
          guard.start();
          const addr = tcp.address();
          boundPort = typeof addr === 'object' && addr !== null ? addr.port : 0;
          resolve(boundPort);
        });
      });
    },
    get port() {
      return boundPort;
    },
    startDrain,
    get isDraining() {
      return draining;
    },
    get inFlight() {
      return inFlight;
    },
    get upgradedCount() {
      return upgraded.size;
    },
    close(opts) {
      closed ??= close(opts);
      return closed;
    },
  };
}

function noop(): void {
  // errors on sockets are handled where the socket is used; this keeps a stray one from crashing the process
}

/** True once a request's body passed its limit (a 413 is being written; the socket must outlive the request). */
function isOverBodyLimit(r: LimitedRequest): boolean {
  return r[kLimit] > 0 && r[BODY_BYTES] > r[kLimit];
}
