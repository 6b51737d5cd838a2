/**
 * The forwarder: proxies one request to an upstream picked per request (`host:port`), HTTP/1.1 over an undici Pool
 * per upstream and h2c over node:http2 sessions per upstream, with Knative's three timeouts (§a8), optional safe
 * retries (common/retry-policy.ts) and streaming with backpressure both ways. By default the upstream hears the
 * client's protocol (h2 requests, e.g. gRPC, go as h2c; HTTP/1.x as HTTP/1.1), as Knative's proxies do;
 * `upstreamH2` overrides that per request (the activator multiplexes HTTP/1.1 requests over h2c to queue-proxies,
 * which send them on to the app as HTTP/1.1).
 */
import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { systemClock, type Cancel, type Clock } from '../clock.js';
import { checkOptions, option, type OptionCheck } from '../options.js';
import { RETRY_OPTIONS, RetryBudget, backoffMs, isRetryable, resolveRetryConfig, type RetryConfig } from '../retry-policy.js';
import { H2_CANCEL, H2_FLAG_END_STREAM, H2_INTERNAL_ERROR } from './h2-codes.js';
import { H2cPool, streamNeverProcessed, type SessionSlot } from './h2c-pool.js';
import { downstreamHeadersFromRaw, downstreamResponseHeaders, upstreamRequestHeaders } from './proxy-headers.js';
import { type ErrorCode, UnforwardableError, UpstreamAbortedError, UpstreamFailedError, UpstreamResetError, UpstreamTimeoutError } from '../errors.js';
import { hasBody, receivedBodyBytes, respondFailure, type OutgoingHeaders, type ProxyRequest, type ProxyResponse } from './types.js';

export { synthesizeForwarded, upstreamRequestHeaders } from './proxy-headers.js';

export interface ForwarderOptions {
  /** Timers. Default systemClock. */
  clock?: Clock;
  /** Retry jitter source in [0, 1). Default Math.random. */
  random?: () => number;
  /** Idle upstream keep-alive sockets are closed after this; below Node's 5 s server default (nodejs/node#47130). */
  upstreamKeepAliveMs?: number;
  /** TCP connect timeout to the upstream. */
  connectTimeoutMs?: number;
  /** Connections per upstream; undefined = unlimited. */
  connectionsPerUpstream?: number;
  /** Body of timeout responses (activator: 'activator request timeout'). */
  timeoutBody?: string;
  /** Retries; absent = none (Knative default). */
  retry?: RetryConfig;
  /** undici Pool options merged over the defaults for every upstream pool (e.g. connection pacing, upstream-connect.ts). */
  upstreamPoolOptions?: Pool.Options;
  /**
   * Whether a request goes upstream as an h2c stream (true) or over HTTP/1.1 (false). Default: as the client spoke.
   * Upgrades never come here (websocket.ts). A module-level function: it runs once per request.
   */
  upstreamH2?: (req: ProxyRequest) => boolean;
  /** Streams per h2c session before another session to the same upstream is opened (capped by the peer's setting). */
  maxStreamsPerSession?: number;
}

/** The default `upstreamH2`: the upstream hears the client's protocol (Knative's auto transport). */
export function sameProtocolAsClient(req: ProxyRequest): boolean {
  return req.httpVersionMajor === 2;
}

/** Default `maxStreamsPerSession`: the shared listener's SETTINGS_MAX_CONCURRENT_STREAMS. */
export const DEFAULT_STREAMS_PER_SESSION = 100;

export interface ForwardCall {
  /** 'host:port' of the upstream. */
  upstream: string;
  /** When the request entered (the handler's startMs); all timers count from here. */
  startMs: number;
  /** 0/absent = off. */
  totalTimeoutMs?: number;
  /** 0/absent = off. Only fires if nothing was written to the client yet. */
  responseStartTimeoutMs?: number;
  /** 0/absent = off. Time since the last write to the client (from startMs). */
  idleTimeoutMs?: number;
  /** Edits the upstream request headers in place. Use a module-level function on the hot path. */
  rewriteHeaders?: (headers: OutgoingHeaders, req: ProxyRequest) => void;
  /** Called once with the status about to be written to the client (upstream's, or our 502/504/413). */
  onResponseStart?: (status: number, req: ProxyRequest) => void;
  /** Default true. false: if the upstream never received the request, write nothing (result 'never-sent'). */
  respondWhenNeverSent?: boolean;
  /** This request goes upstream as an h2c stream (true) or over HTTP/1.1 (false); absent: the forwarder's `upstreamH2`. */
  upstreamH2?: boolean;
}

export type ForwardResult = 'ok' | 'upstream-error' | 'never-sent' | 'timeout' | 'client-gone' | 'body-too-large' | 'unforwardable';

export interface ForwardOutcome {
  result: ForwardResult;
  /** Status written to the client; 0 if none. */
  status: number;
  /** No byte of the last attempt reached the upstream (safe to send elsewhere). */
  neverSent: boolean;
  /** 1 + retries. */
  attempts: number;
  /** Request body bytes sent upstream in the last attempt (as far as known). */
  requestBytes: number;
  /** Response body bytes written to the client. */
  responseBytes: number;
  /**
   * What failed: an errors.ts code for the proxy's own outcomes (`UPSTREAM_TIMEOUT`, `BODY_TOO_LARGE`, `CLIENT_GONE`),
   * else the underlying failure's code (`ECONNREFUSED`, `UND_ERR_SOCKET`, `H2_RST_<code>` for a stream reset).
   */
  errorCode?: string;
}

/** Receives a forward's outcome (the callback form of `forward`; see `callbackForward`). */
export interface ForwardSink {
  /** Called once, possibly before the call that started the forward returns. Must not throw. */
  onForwarded(outcome: ForwardOutcome): void;
}

/** `forward` without a promise: the outcome goes to `sink`. */
export type CallbackForward = (req: ProxyRequest, res: ProxyResponse, call: ForwardCall, sink: ForwardSink) => void;

/** Where createForwarder's forwarders keep their callback form. */
const kCallbackForward = Symbol('tide.callbackForward');

/**
 * The promise-free form of `forwarder.forward` when `forwarder` was made by createForwarder (saves a promise and its
 * continuation per request on hot paths); undefined for other Forwarder implementations.
 */
export function callbackForward(forwarder: Forwarder): CallbackForward | undefined {
  return (forwarder as { [kCallbackForward]?: CallbackForward })[kCallbackForward];
}

export interface ForwarderCounters {
  readonly retriesAttempted: number;
  readonly retryBudgetExhausted: number;
}

export interface Forwarder {
  /** Proxies one request. Never rejects; resolves when the response is finished, cut or abandoned. */
  forward(req: ProxyRequest, res: ProxyResponse, call: ForwardCall): Promise<ForwardOutcome>;
  /** Closes and forgets the pool/session of one upstream (the pod went away). */
  closeUpstream(upstream: string): Promise<void>;
  /** Closes every pool and session. */
  close(): Promise<void>;
  readonly counters: ForwarderCounters;
}

/** The `:path` for a request target: origin-form as is; absolute-form reduced to its path and query. */
function requestPath(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  if (url.charCodeAt(0) === 47 /* / */ || url === '*') return url;
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

const TIMEOUT_CODE: ErrorCode = 'UPSTREAM_TIMEOUT';
const BODY_TOO_LARGE: ErrorCode = 'BODY_TOO_LARGE';
const CLIENT_GONE: ErrorCode = 'CLIENT_GONE';
/** How the proxy aborts an undici request it gave up (timeout, client gone): shared, it carries nothing per request. */
const ABORTED = new UpstreamAbortedError();

/**
 * Errors thrown while the upstream request is being formed (undici's or node:http2's argument checks): the client's
 * request cannot be expressed to the upstream. The client gets 400 and the outcome is 'unforwardable', never an upstream
 * failure, so it cannot count against the app (circuit breaker, metrics).
 */
const UNFORWARDABLE: ReadonlySet<string> = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_INVALID_CHAR',
  'ERR_HTTP2_INVALID_HEADER_VALUE',
  'ERR_HTTP2_INVALID_CONNECTION_HEADERS',
  'ERR_HTTP2_HEADER_SINGLE_VALUE',
  'ERR_HTTP2_INVALID_PSEUDOHEADER',
]);

/** The failure's own code, as relayed in a 502 body and ForwardOutcome.errorCode: the errno for a connect failure. */
function errorCode(err: unknown): string {
  // The stream's RST_STREAM code tells more than UPSTREAM_RESET.
  if (err instanceof UpstreamResetError) return `H2_RST_${err.rstCode}`;
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  if (e && typeof e.code === 'string') {
    // undici wraps connect failures in UND_ERR_SOCKET/other errors with the errno in `cause`; node:http2 cancels the
    // streams of a session that failed (e.g. connection refused) with ERR_HTTP2_STREAM_CANCEL, the session's error in `cause`.
    if ((e.code.startsWith('UND_ERR') || e.code === 'ERR_HTTP2_STREAM_CANCEL') && e.cause && typeof e.cause.code === 'string') return e.cause.code;
    return e.code;
  }
  return 'UNKNOWN';
}

interface Shared {
  clock: Clock;
  random: () => number;
  timeoutBody: string;
  retry: Readonly<Required<RetryConfig>> | undefined;
  budget: RetryBudget | undefined;
  counters: { retriesAttempted: number; retryBudgetExhausted: number };
  upstreamH2: (req: ProxyRequest) => boolean;
  pool(upstream: string): Pool;
  /** The h2c sessions (h2c-pool.ts). */
  h2c: H2cPool;
}

/** What each option may be; createForwarder refuses anything else, naming the option. */
const FORWARDER_OPTIONS: Readonly<Record<keyof ForwarderOptions, OptionCheck>> = {
  clock: option.object,
  random: option.function,
  upstreamKeepAliveMs: option.positiveInt,
  connectTimeoutMs: option.positiveInt,
  connectionsPerUpstream: option.positiveInt,
  timeoutBody: option.string,
  retry: option.object,
  upstreamPoolOptions: option.object,
  upstreamH2: option.function,
  maxStreamsPerSession: option.positiveInt,
};

/** Creates a forwarder. Pools and sessions are created lazily per upstream. Throws a ConfigError naming a bad option. */
export function createForwarder(options: ForwarderOptions = {}): Forwarder {
  checkOptions('createForwarder', options, FORWARDER_OPTIONS);
  if (options.retry !== undefined) checkOptions('createForwarder retry', options.retry, RETRY_OPTIONS);
  const clock = options.clock ?? systemClock;
  const keepAliveMs = options.upstreamKeepAliveMs ?? 4_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const pools = new Map<string, Pool>();
  const h2c = new H2cPool({ maxStreamsPerSession: options.maxStreamsPerSession ?? DEFAULT_STREAMS_PER_SESSION, keepAliveMs });
  const retry = options.retry ? resolveRetryConfig(options.retry) : undefined;

  const shared: Shared = {
    clock,
    random: options.random ?? Math.random,
    timeoutBody: options.timeoutBody ?? 'request timeout',
    retry,
    budget: retry ? new RetryBudget(retry) : undefined,
    counters: { retriesAttempted: 0, retryBudgetExhausted: 0 },
    upstreamH2: options.upstreamH2 ?? sameProtocolAsClient,
    pool(upstream) {
      let p = pools.get(upstream);
      if (p === undefined) {
        p = new Pool(`http://${upstream}`, {
          connections: options.connectionsPerUpstream ?? null,
          pipelining: 1,
          // undici 8 negotiates h2 by default; this pool is the HTTP/1.1 path (h2c goes through our own sessions).
          allowH2: false,
          keepAliveTimeout: keepAliveMs,
          keepAliveMaxTimeout: keepAliveMs,
          // An upstream's `Keep-Alive: timeout=N` hint is honoured minus 1 s, so we always close first (node#47130).
          keepAliveTimeoutThreshold: 1_000,
          headersTimeout: 0,
          bodyTimeout: 0,
          connect: { timeout: connectTimeoutMs, noDelay: true },
          ...options.upstreamPoolOptions,
        });
        pools.set(upstream, p);
      }
      return p;
    },
    h2c,
  };

  const forwarder: Forwarder = {
    forward(req, res, call) {
      return new Exchange(shared, req, res, call).start();
    },
    async closeUpstream(upstream) {
      const p = pools.get(upstream);
      pools.delete(upstream);
      h2c.close(upstream);
      if (p) await p.destroy().catch(() => undefined);
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      h2c.closeAll();
      await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
    },
    get counters() {
      return shared.counters;
    },
  };
  const viaCallback: CallbackForward = (req, res, call, sink) => new Exchange(shared, req, res, call).startWith(sink);
  Object.defineProperty(forwarder, kCallbackForward, { value: viaCallback });
  return forwarder;
}

/** undici 8 keeps the response's raw header list on the controller beside the parsed object it passes. */
interface RawHeadersController extends Dispatcher.DispatchController {
  readonly rawHeaders?: Buffer[] | null;
}

/**
 * One proxied request: at most one upstream attempt in flight, timers, relay. Implements undici's DispatchHandler
 * (the controller API: onRequestStart/onResponseStart/…) so no per-chunk closures are needed. The response's raw
 * header list (`controller.rawHeaders`) is turned into the client's headers in one pass.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #s: Shared;
  readonly #req: ProxyRequest;
  readonly #res: ProxyResponse;
  readonly #call: ForwardCall;
  /** The client spoke h2. */
  readonly #isH2: boolean;
  /** The upstream hears h2c (else HTTP/1.1). */
  readonly #upH2: boolean;
  #resolve: ((o: ForwardOutcome) => void) | undefined;
  #sink: ForwardSink | undefined;
  #done = false;
  #headers!: OutgoingHeaders;
  #body: Buffer | ProxyRequest | null = null;
  #bodyReplayable = true;
  #attempts = 0;
  #requestStarted = false;
  #responseStarted = false;
  #status = 0;
  #responseBytes = 0;
  #lastWriteMs: number;
  #cancelTimer: Cancel | undefined;
  /** undici's controller for the current attempt (set once the request is being written): abort, pause, resume. */
  #controller: Dispatcher.DispatchController | undefined;
  /** The upstream body is paused while the client is slow. */
  #paused = false;
  #drainListening = false;
  #h2stream: http2.ClientHttp2Stream | undefined;
  /** The session of the current h2c attempt; its `connected` stands in for #requestStarted. */
  #h2slot: SessionSlot | undefined;
  #timedOut = false;
  #clientGone = false;

  constructor(s: Shared, req: ProxyRequest, res: ProxyResponse, call: ForwardCall) {
    this.#s = s;
    this.#req = req;
    this.#res = res;
    this.#call = call;
    this.#isH2 = req.httpVersionMajor === 2;
    this.#upH2 = call.upstreamH2 ?? s.upstreamH2(req);
    this.#lastWriteMs = call.startMs;
  }

  start(): Promise<ForwardOutcome> {
    const p = new Promise<ForwardOutcome>((resolve) => (this.#resolve = resolve));
    this.#run();
    return p;
  }

  /** The callback form of start(): the outcome goes to `sink`. */
  startWith(sink: ForwardSink): void {
    this.#sink = sink;
    this.#run();
  }

  #run(): void {
    const res = this.#res;
    // 'close' is emitted once; `on` avoids once()'s wrapper. 'drain' is listened to only when a write is refused.
    res.on('close', this.#onClientClose);
    const headers = upstreamRequestHeaders(this.#req);
    try {
      this.#call.rewriteHeaders?.(headers, this.#req);
    } catch (err) {
      // A bug in the caller's hook: the request cannot be sent as intended; never send it half-rewritten (500).
      const wrote = respondFailure(res, err);
      this.#finish('upstream-error', errorCode(err), true, wrote ? res.statusCode : 0);
      return;
    }
    // `te: trailers` is kept for h2 clients (gRPC); on HTTP/1.1 TE is hop-by-hop, so it stays behind.
    if (!this.#upH2 && headers.te !== undefined) delete headers.te;
    this.#headers = headers;
    this.#armTimer();
    if (this.#done) return;
    if (!hasBody(this.#req)) {
      this.#attempt();
      return;
    }
    const retry = this.#s.retry;
    const cl = Number(this.#req.headers['content-length']);
    if (retry && retry.maxRetries > 0 && Number.isFinite(cl) && cl <= retry.maxBufferedBodyBytes) {
      this.#bufferBodyThenAttempt(cl);
    } else {
      this.#body = this.#req;
      this.#bodyReplayable = false;
      this.#attempt();
    }
  }

  #bufferBodyThenAttempt(expected: number): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const req = this.#req;
    const onData = (c: Buffer): void => {
      chunks.push(c);
      size += c.length;
    };
    const cleanup = (): void => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onError);
    };
    const onEnd = (): void => {
      cleanup();
      if (this.#done) return;
      this.#body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
      this.#bodyReplayable = size <= expected;
      this.#attempt();
    };
    const onError = (err: unknown): void => {
      cleanup();
      this.#fail(err, false);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  }

  #attempt(): void {
    if (this.#done) return;
    this.#attempts++;
    this.#requestStarted = false;
    this.#controller = undefined;
    this.#h2slot = undefined;
    // The budget's base is original requests: counting retries too would let them grow it (20% → 25% of requests).
    if (this.#attempts === 1) this.#s.budget?.recordRequest(this.#s.clock.now());
    if (this.#upH2) this.#attemptH2();
    else this.#attemptH1();
  }

  // ---- HTTP/1.1 via undici --------------------------------------------------------------------------------------

  #attemptH1(): void {
    const req = this.#req as http.IncomingMessage;
    const pool = this.#s.pool(this.#call.upstream);
    try {
      pool.dispatch(
        {
          path: req.url ?? '/',
          method: req.method as Dispatcher.HttpMethod,
          headers: this.#headers as Record<string, string | string[]>,
          body: this.#body,
          headersTimeout: 0,
          bodyTimeout: 0,
          upgrade: null,
        },
        this,
      );
    } catch (err) {
      this.#fail(err, true);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#done) {
      this.#abortH1();
      return;
    }
    this.#requestStarted = true;
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number): void {
    if (statusCode < 200) return; // 1xx: node answers 100-continue itself
    if (this.#done) {
      this.#abortH1();
      return;
    }
    // undici 8 also hands over the headers parsed into an object; the raw list is what we relay, in one pass.
    const raw = (controller as RawHeadersController).rawHeaders;
    this.#startResponseRaw(statusCode, Array.isArray(raw) ? raw : []);
    if (this.#paused) controller.pause();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#done) return;
    if (!this.#write(chunk)) {
      this.#paused = true;
      controller.pause();
    }
  }

  onResponseEnd(): void {
    this.#endResponse(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err, !this.#requestStarted);
  }

  /** Some byte of the current attempt may have reached the upstream. */
  #started(): boolean {
    return this.#requestStarted || (this.#h2slot?.connected ?? false);
  }

  #abortH1(): void {
    const controller = this.#controller;
    if (controller === undefined || controller.aborted) return;
    controller.abort(ABORTED);
  }

  // ---- h2c via node:http2 -----------------------------------------------------------------------------------------

  #attemptH2(): void {
    const req = this.#req;
    const h = this.#headers;
    const out: http2.OutgoingHttpHeaders = Object.create(null) as http2.OutgoingHttpHeaders;
    for (const name in h) if (name !== 'host') out[name] = h[name];
    out[':method'] = req.method;
    out[':path'] = requestPath(req.url);
    out[':scheme'] = 'http';
    out[':authority'] = typeof h.host === 'string' ? h.host : this.#call.upstream;
    const hasBody = this.#body !== null;
    let stream: http2.ClientHttp2Stream;
    try {
      const opened = this.#s.h2c.stream(this.#call.upstream, out, !hasBody);
      stream = opened.stream;
      this.#h2slot = opened.slot;
    } catch (err) {
      // Thrown before a stream existed (bad header, session gone): the upstream never saw this request.
      this.#fail(err, true);
      return;
    }
    this.#h2stream = stream;
    stream.on('response', (headers, flags) => {
      const status = Number(headers[':status']);
      if (status < 200) return;
      if ((flags & H2_FLAG_END_STREAM) !== 0) {
        // Trailers-only response (gRPC errors): grpc-status must arrive in a HEADERS frame that ends the stream.
        this.#trailersOnly(status, headers);
        return;
      }
      this.#startResponse(status, headers);
    });
    stream.on('data', (chunk: Buffer) => {
      if (!this.#done && !this.#write(chunk)) stream.pause();
    });
    stream.on('trailers', (trailers) => {
      // HTTP/1.1 clients get no trailers (they would have had to ask with `TE: trailers`, a hop-by-hop header).
      if (!this.#done && this.#isH2) {
        (this.#res as http2.Http2ServerResponse).addTrailers(
          downstreamResponseHeaders(trailers as IncomingHttpHeaders),
        );
      }
    });
    stream.once('end', () => this.#endResponse(undefined));
    stream.once('error', (err) => {
      this.#fail(err, !this.#started() || streamNeverProcessed(stream, this.#h2slot));
    });
    stream.once('close', () => {
      if (this.#done) return;
      // Closed without 'end' or 'error': an RST_STREAM from the upstream.
      this.#fail(new UpstreamResetError(stream.rstCode), streamNeverProcessed(stream, this.#h2slot));
    });
    if (hasBody) {
      const body = this.#body;
      if (Buffer.isBuffer(body)) stream.end(body);
      else this.#pipeRequestBody(req, stream);
    }
  }

  /** Streams the client's request body into the upstream stream with backpressure; errors abort the upstream. */
  #pipeRequestBody(req: ProxyRequest, stream: http2.ClientHttp2Stream): void {
    req.on('data', (chunk: Buffer) => {
      if (!stream.write(chunk)) req.pause();
    });
    stream.on('drain', () => req.resume());
    req.once('end', () => stream.end());
    req.once('error', (err) => {
      this.#fail(err, false);
    });
  }

  // ---- response relay ---------------------------------------------------------------------------------------------

  #startResponse(status: number, headers: IncomingHttpHeaders): void {
    if (this.#done || this.#responseStarted) return;
    this.#writeHead(status, headers, undefined);
  }

  #startResponseRaw(status: number, raw: Buffer[]): void {
    if (this.#done || this.#responseStarted) return;
    this.#writeHead(status, undefined, raw);
  }

  #writeHead(status: number, headers: IncomingHttpHeaders | undefined, raw: Buffer[] | undefined): void {
    this.#responseStarted = true;
    this.#status = status;
    this.#call.onResponseStart?.(status, this.#req);
    const res = this.#res as http.ServerResponse;
    try {
      res.writeHead(status, raw !== undefined ? downstreamHeadersFromRaw(raw) : downstreamResponseHeaders(headers ?? {}));
    } catch (err) {
      this.#fail(err, false);
      return;
    }
    // Only the idle timer reads the last write time; skip the clock read otherwise.
    if (this.#call.idleTimeoutMs) this.#lastWriteMs = this.#s.clock.now();
  }

  #trailersOnly(status: number, headers: IncomingHttpHeaders): void {
    if (this.#done || this.#responseStarted) return;
    if (!this.#isH2) {
      // An HTTP/1.1 client: a response with headers and no body.
      this.#startResponse(status, headers);
      this.#endResponse(undefined);
      return;
    }
    this.#responseStarted = true;
    this.#status = status;
    this.#call.onResponseStart?.(status, this.#req);
    const down = (this.#res as http2.Http2ServerResponse).stream;
    try {
      const out = downstreamResponseHeaders(headers) as http2.OutgoingHttpHeaders;
      out[':status'] = status;
      down.respond(out, { endStream: true });
    } catch (err) {
      this.#fail(err, false);
      return;
    }
    this.#finish('ok', undefined, false);
  }

  /** Writes a body chunk; false = the client is slow, pause the upstream until 'drain'. */
  #write(chunk: Buffer): boolean {
    this.#responseBytes += chunk.length;
    if (this.#call.idleTimeoutMs) this.#lastWriteMs = this.#s.clock.now();
    const ok = (this.#res as http.ServerResponse).write(chunk);
    if (!ok && !this.#drainListening) {
      this.#drainListening = true;
      this.#res.on('drain', this.#onDrain);
    }
    return ok;
  }

  readonly #onDrain = (): void => {
    if (this.#paused) {
      this.#paused = false;
      this.#controller?.resume();
    }
    if (this.#h2stream?.isPaused()) this.#h2stream.resume();
  };

  #endResponse(_trailers: unknown): void {
    if (this.#done) return;
    if (!this.#responseStarted) this.#startResponse(this.#status || 502, {});
    this.#res.end();
    this.#finish('ok', undefined, false);
  }

  // ---- failure, retry, timeouts -----------------------------------------------------------------------------------

  #fail(err: unknown, neverSent: boolean): void {
    if (this.#done) return;
    const code = errorCode(err);
    if (this.#timedOut || this.#clientGone) return; // already handled
    if (code === BODY_TOO_LARGE) {
      this.#abortUpstream();
      // The listener already answered 413 if it could.
      this.#finish('body-too-large', code, false, this.#res.headersSent ? 413 : 0);
      return;
    }
    if (neverSent && !this.#responseStarted && UNFORWARDABLE.has(code)) {
      this.#call.onResponseStart?.(400, this.#req);
      const wrote = respondFailure(this.#res, new UnforwardableError(code, { cause: err }));
      this.#finish('unforwardable', code, true, wrote ? 400 : 0);
      return;
    }
    // Callers pass neverSent only when sure: not connected yet, a connect error, REFUSED_STREAM or a stream the peer's
    // GOAWAY says it never processed (RFC 9113 §8.7: safe to send again).
    const connectFailure = neverSent;
    if (!this.#responseStarted && connectFailure && this.#maybeRetry()) return;
    if (!this.#responseStarted) {
      if (connectFailure && this.#call.respondWhenNeverSent === false) {
        this.#finish('never-sent', code, true, 0);
        return;
      }
      this.#abortUpstream();
      this.#call.onResponseStart?.(502, this.#req);
      const wrote = respondFailure(this.#res, new UpstreamFailedError(code, { cause: err }));
      this.#finish('upstream-error', code, connectFailure, wrote ? 502 : 0);
      return;
    }
    // The response already started: cut it so the client sees an incomplete response, not a silent truncation.
    this.#abortUpstream();
    this.#cut();
    this.#finish('upstream-error', code, false);
  }

  #maybeRetry(): boolean {
    const s = this.#s;
    if (!s.retry || !s.budget) return false;
    const method = (this.#req.method ?? 'GET').toUpperCase();
    if (
      !isRetryable(
        { method, neverSent: true, bodyReplayable: this.#bodyReplayable, retriesSoFar: this.#attempts - 1 },
        s.retry,
      )
    ) {
      return false;
    }
    if (!s.budget.tryAcquireRetry(s.clock.now())) {
      s.counters.retryBudgetExhausted++;
      return false;
    }
    s.counters.retriesAttempted++;
    const wait = backoffMs(this.#attempts, s.random, s.retry);
    if (wait <= 0) {
      this.#attempt();
    } else {
      s.clock.setTimeout(() => this.#attempt(), wait);
    }
    return true;
  }

  readonly #onClientClose = (): void => {
    if (this.#done) return;
    const res = this.#res;
    if (res.writableEnded && !this.#responseStarted && !this.#timedOut) {
      // Someone else answered: the listener's 413 for a streamed body over the limit.
      this.#abortUpstream();
      const status = res.statusCode;
      this.#finish(status === 413 ? 'body-too-large' : 'client-gone', status === 413 ? BODY_TOO_LARGE : CLIENT_GONE, false, status);
      return;
    }
    // 'close' before we ended the response: the client went away.
    this.#clientGone = true;
    this.#abortUpstream();
    this.#finish('client-gone', CLIENT_GONE, !this.#started(), this.#responseStarted ? this.#status : 0);
  };

  #abortUpstream(): void {
    this.#abortH1();
    const st = this.#h2stream;
    if (st && !st.closed) st.close(H2_CANCEL);
  }

  /** Ends a started response abnormally (HTTP/1: socket closed; h2: stream reset). */
  #cut(): void {
    const res = this.#res as http.ServerResponse & { stream?: http2.ServerHttp2Stream };
    if (res.stream) {
      if (!res.stream.closed) res.stream.close(H2_INTERNAL_ERROR);
    } else {
      res.destroy();
    }
  }

  #armTimer(): void {
    const c = this.#call;
    let due = Infinity;
    if (c.totalTimeoutMs) due = Math.min(due, c.startMs + c.totalTimeoutMs);
    if (c.responseStartTimeoutMs && !this.#responseStarted) due = Math.min(due, c.startMs + c.responseStartTimeoutMs);
    if (c.idleTimeoutMs) due = Math.min(due, this.#lastWriteMs + c.idleTimeoutMs);
    if (due === Infinity) return;
    const now = this.#s.clock.now();
    if (due <= now) {
      this.#onTimer();
      return;
    }
    // One timer per request (the earliest of the three), re-armed on expiry if a later one remains.
    this.#cancelTimer = this.#s.clock.setTimeout(() => this.#onTimer(), due - now);
  }

  #onTimer(): void {
    this.#cancelTimer = undefined;
    if (this.#done) return;
    const c = this.#call;
    const now = this.#s.clock.now();
    const expired =
      (c.totalTimeoutMs !== undefined && c.totalTimeoutMs > 0 && now >= c.startMs + c.totalTimeoutMs) ||
      (c.responseStartTimeoutMs !== undefined &&
        c.responseStartTimeoutMs > 0 &&
        !this.#responseStarted &&
        now >= c.startMs + c.responseStartTimeoutMs) ||
      (c.idleTimeoutMs !== undefined && c.idleTimeoutMs > 0 && now >= this.#lastWriteMs + c.idleTimeoutMs);
    if (!expired) {
      this.#armTimer();
      return;
    }
    this.#timedOut = true;
    this.#abortUpstream();
    const body = this.#s.timeoutBody;
    if (!this.#responseStarted && !this.#res.headersSent) {
      this.#call.onResponseStart?.(504, this.#req);
      const wrote = respondFailure(this.#res, new UpstreamTimeoutError(body));
      this.#finish('timeout', TIMEOUT_CODE, !this.#started(), wrote ? 504 : 0);
      return;
    }
    // §a8: the response started; append the text and cut the stream.
    const res = this.#res as http.ServerResponse;
    if (!res.writableEnded && !res.destroyed) {
      const flushed = res.write(body, () => this.#cut());
      if (!flushed) this.#cut();
    }
    this.#finish('timeout', TIMEOUT_CODE, false);
  }

  #finish(result: ForwardResult, errorCode: string | undefined, neverSent: boolean, status = this.#status): void {
    if (this.#done) return;
    this.#done = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#res.removeListener('close', this.#onClientClose);
    if (this.#drainListening) this.#res.removeListener('drain', this.#onDrain);
    const outcome: ForwardOutcome = {
      result,
      status,
      neverSent,
      attempts: this.#attempts,
      requestBytes: Buffer.isBuffer(this.#body) ? this.#body.length : receivedBodyBytes(this.#req),
      responseBytes: this.#responseBytes,
    };
    if (errorCode !== undefined) outcome.errorCode = errorCode;
    const sink = this.#sink;
    if (sink !== undefined) sink.onForwarded(outcome);
    else this.#resolve?.(outcome);
  }
}
