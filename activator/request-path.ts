/**
 * The activator's request path, for plain requests and WebSocket upgrades alike: `handle()` runs every request
 * through the same stages (docs/knative-parity.md §b2), and each transport (HttpExchange, UpgradeExchange) only says
 * how to answer, how to notice the client leaving and how to send to a pod. So the two paths cannot drift apart.
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Clock } from '../common/clock.js';
import { ClientGoneError, NoPodReachableError, QueueFullError, QueueTimeoutError, UnknownRevisionError, hasCode, type TideError } from '../common/errors.js';
import type { Forwarder } from '../common/http/forward.js';
import { CLIENT_PROTOCOL_HTTP1, H, INTERNAL_HEADERS, PROXY_REQUEST_ACTIVATOR } from '../common/http/headers.js';
import {
  hasBody,
  isHttp2,
  requestHost,
  respondFailure,
  respondRaw,
  respondRawFailure,
  respondText,
  type Handler,
  type OutgoingHeaders,
  type ProxyRequest,
  type ProxyResponse,
  type UpgradeHandler,
} from '../common/http/types.js';
import { forwardUpgrade } from '../common/http/websocket.js';
import type { Logger } from '../common/logger.js';
import type { ActivatorConfig } from './config.js';
import type { RevisionInfo, RevisionSource } from './endpoints.js';
import type { ActivatorMetrics } from './http/metrics.js';
import type { ConcurrencyReporter, DemandStat } from './logic/concurrency-reporter.js';
import type { HoldBudget, HoldRefusal, HoldTicket } from './logic/hold-budget.js';
import { route, type Route } from './logic/routing.js';
import type { Slot } from './logic/throttler.js';
import type { PodProbing } from './probing.js';
import type { RevisionMode, RevisionRegistry, RevState } from './registry.js';

/** Knative's activator timeout body (docs/knative-parity.md §b2). */
export const TIMEOUT_BODY = 'activator request timeout';

/** A revision's three timers in ms (0 = off), the activator's fallbacks where the revision gives none (§b2). */
export interface RequestTimeouts {
  readonly total: number;
  readonly responseStart: number;
  readonly idle: number;
}

export function requestTimeouts(info: RevisionInfo, config: Readonly<ActivatorConfig>): RequestTimeouts {
  const total = info.timeoutSeconds > 0 ? info.timeoutSeconds : config.fallbackTimeoutSeconds;
  const rs = info.responseStartTimeoutSeconds > 0 ? info.responseStartTimeoutSeconds : config.fallbackResponseStartTimeoutSeconds;
  const idle = info.idleTimeoutSeconds > 0 ? info.idleTimeoutSeconds : config.fallbackIdleTimeoutSeconds;
  return { total: total * 1000, responseStart: rs * 1000, idle: idle * 1000 };
}

/**
 * When a held request stops waiting for capacity. Knative's timeout handler wraps the throttler and starts its three
 * timers at entry (pkg/http/handler/timeout.go): while a request waits nothing has been written, so the response-start
 * timer and the idle timer (counted from entry) bound the wait as well as the total one. The earliest non-zero one wins.
 */
export function admissionDeadlineMs(startMs: number, t: RequestTimeouts): number {
  let ms = Infinity;
  if (t.total > 0) ms = t.total;
  if (t.responseStart > 0 && t.responseStart < ms) ms = t.responseStart;
  if (t.idle > 0 && t.idle < ms) ms = t.idle;
  return startMs + ms;
}

/** Proxy mode (§b2, §a9): mark as proxied, move Host into K-Original-Host, strip the revision headers. */
function proxyRewrite(h: OutgoingHeaders): void {
  const host = h['host'];
  if (typeof host === 'string') h[H.originalHost] = host;
  else delete h[H.originalHost];
  delete h['host'];
  h[H.proxyRequest] = PROXY_REQUEST_ACTIVATOR;
  for (const name of INTERNAL_HEADERS) delete h[name];
  delete h[H.clientProtocol];
}

/** Serve mode: the activator stands in for the ingress; a client may not claim to be the activator. */
function serveRewrite(h: OutgoingHeaders): void {
  delete h[H.proxyRequest];
  delete h[H.originalHost];
  delete h[H.clientProtocol];
}

/**
 * An HTTP/1.x client's request carried to the pod as an h2c stream is marked, so the queue-proxy sends it on to the
 * app over HTTP/1.1 (headers.ts CLIENT_PROTOCOL_HTTP1). h2 clients' requests stay unmarked.
 */
function markHttp1Client(h: OutgoingHeaders, req: ProxyRequest): void {
  if (req.httpVersionMajor !== 2) h[H.clientProtocol] = CLIENT_PROTOCOL_HTTP1;
}

/** proxyRewrite for a request going as an h2c stream. */
function proxyRewriteH2c(h: OutgoingHeaders, req: ProxyRequest): void {
  proxyRewrite(h);
  markHttp1Client(h, req);
}

/** serveRewrite for a request going as an h2c stream. */
function serveRewriteH2c(h: OutgoingHeaders, req: ProxyRequest): void {
  serveRewrite(h);
  markHttp1Client(h, req);
}

/** What `handle()` needs from the transport that carries one request. */
interface Exchange {
  readonly req: ProxyRequest;
  /** The listener's entry time: every timer counts from here. */
  readonly startMs: number;
  /** Body bytes to reserve in the hold budget while the request waits. */
  heldBodyBytes(config: Readonly<ActivatorConfig>): number;
  /** Aborts when the client leaves; set up only when the request has to wait (the common path allocates nothing). */
  goneSignal(): AbortSignal;
  /** The client is gone: no point trying another pod. */
  isGone(): boolean;
  /** Answers a request that is not for a revision (health checks, network probes). */
  answerRoute(r: Exclude<Route, { kind: 'revision' }>): void;
  /** Answers a failure (failureReply's status and body; Retry-After on a full hold queue). */
  refuse(err: TideError): void;
  /**
   * Sends the request to the pod at `address`; resolves when the exchange with it is over (for an upgrade, when the
   * connection closes): true if the pod certainly never received the request (another pod may be tried).
   */
  send(address: string, s: RevState, mode: RevisionMode, waited: boolean, t: RequestTimeouts): Promise<boolean>;
}

export interface RequestPathDeps {
  config: Readonly<ActivatorConfig>;
  clock: Clock;
  logger: Logger;
  revisions: RevisionSource;
  registry: RevisionRegistry;
  probing: PodProbing;
  forwarder: Forwarder;
  budget: HoldBudget;
  reporter: ConcurrencyReporter;
  metrics: ActivatorMetrics;
  /** Sends a poke (§b5) to the autoscaler at once. */
  poke(stat: DemandStat, nowMs: number): void;
  /** Requests in the activator, for `inFlight` and `idle()`. */
  enter(): void;
  leave(): void;
  /** Readiness for health checks. */
  healthy(): boolean;
  /** The 404 body for an unknown revision (ActivatorDeps.notFoundText); default UnknownRevisionError's. */
  notFoundText?: (host: string | undefined) => string;
}

export interface RequestPaths {
  readonly handler: Handler;
  readonly upgradeHandler: UpgradeHandler;
}

export function buildRequestPaths(deps: RequestPathDeps): RequestPaths {
  const { config, clock, logger, registry, probing, forwarder, budget, reporter, metrics } = deps;

  /**
   * Every request's stages, outermost first (docs/knative-parity.md §b2):
   *   1. route: health checks and network probes answered, an unknown revision 404
   *   2. serve mode: straight to a ready pod, neither counted nor held
   *   3. count: the revision's concurrency, and a poke to the autoscaler on its first request (§b5)
   *   4. admit: a slot on a pod now, or a place in the hold bounds (503) and a wait for one until the deadline (504)
   *      or until the client leaves
   *   5. dispatch to the slot's pod; a pod that never received the request is dropped and re-probed and the request
   *      admitted again for another (502 after `maxDispatchAttempts`)
   *   6. uncount
   */
  async function handle(x: Exchange): Promise<void> {
    const r = route(x.req.headers, requestHost(x.req), deps.revisions);
    if (r.kind !== 'revision') {
      x.answerRoute(r);
      return;
    }
    const s = registry.stateFor(r.revision);
    const t = requestTimeouts(s.info, config);
    deps.enter();
    try {
      if (s.mode === 'serve') {
        const address = registry.pickServePod(s);
        if (address !== undefined) {
          await dispatch(x, s, address, 'serve', false, t);
          return;
        }
        // No ready pod (mid-change): held, as in proxy mode.
      }
      countIn(s);
      try {
        const deadlineMs = admissionDeadlineMs(x.startMs, t);
        let waited = false;
        for (let attempt = 1; ; attempt++) {
          const got = admit(x, s, deadlineMs, attempt === 1);
          const slot = got instanceof Promise ? await got : got;
          if (got instanceof Promise) {
            if (!waited) metrics.coldStartWait.observe({ namespace: s.info.namespace, revision: s.info.revision }, (clock.now() - x.startMs) / 1000);
            waited = true;
          }
          const address = slot.tracker.address;
          let neverSent: boolean;
          try {
            neverSent = await dispatch(x, s, address, 'proxy', waited, t);
          } finally {
            slot.release();
          }
          if (!neverSent) return;
          probing.podFailed(s, address);
          if (attempt >= config.maxDispatchAttempts || x.isGone()) throw new NoPodReachableError();
        }
      } catch (err) {
        refuse(x, s, err);
      } finally {
        countOut(s);
      }
    } finally {
      deps.leave();
    }
  }

  function countIn(s: RevState): void {
    s.concurrency++;
    const now = clock.now();
    const poke = reporter.requestIn(s.key, now);
    if (poke) deps.poke(poke, now);
  }

  function countOut(s: RevState): void {
    s.concurrency--;
    reporter.requestOut(s.key, clock.now());
  }

  /**
   * Stage 4, admission: a slot now (returned as is), or, on the first attempt, a place in the hold bounds
   * (QueueFullError) and then a wait for a slot until `deadlineMs` (QueueTimeoutError) or the client leaves
   * (ClientGoneError). Later attempts wait without taking a new place.
   */
  function admit(x: Exchange, s: RevState, deadlineMs: number, first: boolean): Slot | Promise<Slot> {
    const now = s.throttler.tryAcquireNow();
    if (now) return now;
    if (!first) return waitForSlot(s, deadlineMs, x.goneSignal());
    const ticket: HoldTicket | HoldRefusal = budget.tryHold(s.key, x.heldBodyBytes(config));
    if (typeof ticket === 'string') return Promise.reject(new QueueFullError(`activator queue full (${ticket})`, ticket));
    // Nothing reads the body while the request waits: node's request stream is not flowing until the forwarder
    // consumes it, so once its buffer (and the h2 stream window) is full the socket is no longer read and the rest
    // stays in the kernel. (An explicit pause() would keep 'data' listeners from resuming it.)
    return waitForSlot(s, deadlineMs, x.goneSignal()).finally(() => ticket.release());
  }

  /** Waits for a pod slot until `deadlineMs` or until `gone` aborts. */
  function waitForSlot(s: RevState, deadlineMs: number, gone: AbortSignal): Promise<Slot> {
    const remaining = deadlineMs - clock.now();
    if (remaining <= 0) return Promise.reject(new QueueTimeoutError(TIMEOUT_BODY));
    const ac = new AbortController();
    const cancelTimer = clock.setTimeout(() => ac.abort(new QueueTimeoutError(TIMEOUT_BODY)), remaining);
    const onGone = (): void => ac.abort(new ClientGoneError());
    if (gone.aborted) onGone();
    else gone.addEventListener('abort', onGone, { once: true });
    return s.throttler.acquire(ac.signal).finally(() => {
      cancelTimer();
      gone.removeEventListener('abort', onGone);
    });
  }

  /** Stage 5: the pod's request count held for the exchange, so a pod that left is closed after its last one. */
  async function dispatch(x: Exchange, s: RevState, address: string, mode: RevisionMode, waited: boolean, t: RequestTimeouts): Promise<boolean> {
    registry.upstreamIn(address);
    try {
      return await x.send(address, s, mode, waited, t);
    } finally {
      registry.upstreamOut(address);
    }
  }

  /** Counts a failure under its metric and answers it; a client that left gets nothing. */
  function refuse(x: Exchange, s: RevState, err: unknown): void {
    if (err instanceof ClientGoneError) return;
    const labels = { namespace: s.info.namespace, revision: s.info.revision };
    if (hasCode(err, 'QUEUE_FULL')) metrics.rejected.inc({ ...labels, reason: (err as QueueFullError).reason ?? 'queue-full' });
    else if (hasCode(err, 'QUEUE_TIMEOUT')) metrics.timedOut.inc(labels);
    else if (hasCode(err, 'NO_POD_REACHABLE')) metrics.upstreamErrors.inc(labels);
    else logger.error({ err, revision: s.key }, 'activator request failed');
    x.refuse(err as TideError);
  }

  /**
   * Whether a request goes to its pod as an h2c stream (config.ts `upstreamProtocol`). h2 clients always do (gRPC);
   * `auto` sends the requests released together after a wait (a cold start, a capacity shortage) over a few multiplexed
   * sessions instead of hundreds of new connections, and everything else over warm HTTP/1.1 keep-alive connections,
   * which cost less per request.
   */
  const viaH2c = (req: ProxyRequest, waited: boolean): boolean =>
    isHttp2(req) || config.upstreamProtocol === 'h2c' || (config.upstreamProtocol === 'auto' && waited);

  class HttpExchange implements Exchange {
    readonly req: ProxyRequest;
    readonly res: ProxyResponse;
    readonly startMs: number;
    #gone: AbortController | undefined;
    #onClose: (() => void) | undefined;

    constructor(req: ProxyRequest, res: ProxyResponse, startMs: number) {
      this.req = req;
      this.res = res;
      this.startMs = startMs;
    }

    heldBodyBytes(c: Readonly<ActivatorConfig>): number {
      return hasBody(this.req) ? c.heldBodyBytesPerRequest : 0;
    }

    goneSignal(): AbortSignal {
      if (!this.#gone) {
        const ac = new AbortController();
        const res = this.res;
        this.#gone = ac;
        this.#onClose = () => {
          if (!res.writableFinished) ac.abort();
        };
        res.on('close', this.#onClose);
        if (res.destroyed) ac.abort();
      }
      return this.#gone.signal;
    }

    isGone(): boolean {
      return this.res.destroyed || this.#gone?.signal.aborted === true;
    }

    /** Stops watching for the client leaving (the request is over). */
    done(): void {
      if (this.#onClose) this.res.off('close', this.#onClose);
    }

    answerRoute(r: Exclude<Route, { kind: 'revision' }>): void {
      const res = this.res;
      switch (r.kind) {
        case 'health': {
          const ok = deps.healthy();
          respondText(res, ok ? 200 : 500, ok ? 'ok' : 'not ready');
          return;
        }
        case 'hash-probe':
          if (r.hash === undefined) {
            respondText(res, 400, 'no K-Network-Hash header');
            return;
          }
          res.setHeader(H.networkHash, r.hash);
          respondText(res, 200, '');
          return;
        case 'activator-probe':
          respondText(res, 200, 'activator');
          return;
        case 'bad-probe':
          respondText(res, 400, `unexpected K-Network-Probe value ${JSON.stringify(r.value)}`);
          return;
        case 'unknown-revision':
          if (deps.notFoundText) respondText(res, 404, deps.notFoundText(requestHost(this.req)));
          else respondFailure(res, new UnknownRevisionError());
          return;
      }
    }

    refuse(err: TideError): void {
      if (hasCode(err, 'QUEUE_FULL') && !this.res.headersSent) this.res.setHeader(H.retryAfter, String(config.retryAfterSeconds));
      respondFailure(this.res, err);
    }

    async send(address: string, s: RevState, mode: RevisionMode, waited: boolean, t: RequestTimeouts): Promise<boolean> {
      const h2 = viaH2c(this.req, waited);
      const serve = mode === 'serve';
      const out = await forwarder.forward(this.req, this.res, {
        upstream: address,
        startMs: this.startMs,
        totalTimeoutMs: t.total,
        responseStartTimeoutMs: t.responseStart,
        idleTimeoutMs: t.idle,
        upstreamH2: h2,
        rewriteHeaders: serve ? (h2 ? serveRewriteH2c : serveRewrite) : h2 ? proxyRewriteH2c : proxyRewrite,
        // Proxy mode: a pod that never got the request is another pod's chance, not the client's 502.
        respondWhenNeverSent: serve,
      });
      if (!serve && out.result === 'timeout') metrics.timedOut.inc({ namespace: s.info.namespace, revision: s.info.revision });
      return out.result === 'never-sent';
    }
  }

  class UpgradeExchange implements Exchange {
    readonly req: http.IncomingMessage;
    readonly socket: net.Socket;
    readonly head: Buffer;
    readonly startMs: number;
    #gone: AbortController | undefined;
    #onClose: (() => void) | undefined;

    constructor(req: http.IncomingMessage, socket: net.Socket, head: Buffer, startMs: number) {
      this.req = req;
      this.socket = socket;
      this.head = head;
      this.startMs = startMs;
    }

    /** An upgrade's body, if any, flows after the switch: nothing is held. */
    heldBodyBytes(): number {
      return 0;
    }

    goneSignal(): AbortSignal {
      if (!this.#gone) {
        const ac = new AbortController();
        this.#gone = ac;
        this.#onClose = () => ac.abort();
        this.socket.once('close', this.#onClose);
        if (this.socket.destroyed) ac.abort();
      }
      return this.#gone.signal;
    }

    isGone(): boolean {
      return this.socket.destroyed;
    }

    #unwatch(): void {
      if (this.#onClose) this.socket.off('close', this.#onClose);
    }

    done(): void {
      this.#unwatch();
    }

    answerRoute(r: Exclude<Route, { kind: 'revision' }>): void {
      if (r.kind === 'unknown-revision') respondRawFailure(this.socket, new UnknownRevisionError());
      else respondRaw(this.socket, 400, 'not a revision request');
    }

    refuse(err: TideError): void {
      respondRawFailure(this.socket, err, hasCode(err, 'QUEUE_FULL') ? { 'Retry-After': String(config.retryAfterSeconds) } : undefined);
    }

    /** Hands the socket to the relay; resolves when both sides closed. Upgrades are never retried on another pod. */
    send(address: string, _s: RevState, mode: RevisionMode): Promise<boolean> {
      this.#unwatch();
      return new Promise<boolean>((resolve) => {
        forwardUpgrade(this.req, this.socket, this.head, {
          upstream: address,
          rewriteHeaders: mode === 'serve' ? serveRewrite : proxyRewrite,
          onClose: () => resolve(false),
        });
      });
    }
  }

  const handler: Handler = async (req, res, startMs) => {
    const x = new HttpExchange(req, res, startMs);
    try {
      await handle(x);
    } finally {
      x.done();
    }
  };

  const upgradeHandler: UpgradeHandler = (req, socket, head, startMs) => {
    const x = new UpgradeExchange(req, socket, head, startMs);
    handle(x)
      .catch((err: unknown) => {
        logger.error({ err }, 'activator upgrade failed');
        respondRawFailure(socket, err);
      })
      .finally(() => x.done());
  };

  return { handler, upgradeHandler };
}
