/**
 * `buildActivator(deps)`: the whole activator as a request handler plus lifecycle, wired from its parts; never reads the
 * environment and never listens (main.ts and `tide up` do). Request path, outermost first (knative-reference §b2):
 *   route (health / network probes / revision lookup, 404) → serve mode? straight to a ready pod
 *   → concurrency reporter (poke) → hold bounds (503) → throttler wait with deadline (504) → forward to the pod
 *   (another pod if the connection failed before sending; 502 when none could be reached).
 */
import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Clock, Cancel } from '../common/clock.js';
import { DataPlaneError } from '../common/errors.js';
import { createForwarder, type Forwarder } from '../common/http/forward.js';
import { pacedConnectPoolOptions } from '../common/http/upstream-connect.js';
import { CLIENT_PROTOCOL_HTTP1, H, PROXY_REQUEST_ACTIVATOR, INTERNAL_HEADERS } from '../common/http/headers.js';
import { isHttp2, requestHost, respondText, type Handler, type OutgoingHeaders, type ProxyRequest, type ProxyResponse, type UpgradeHandler } from '../common/http/types.js';
import { forwardUpgrade } from '../common/http/websocket.js';
import type { Logger } from '../common/logger.js';
import { revisionKey, type RevisionStat } from '../common/stats.js';
import { resolveActivatorConfig, type ActivatorConfig } from './config.js';
import type { EndpointsSource, EndpointsUpdate, RevisionInfo, RevisionSource } from './endpoints.js';
import { ActivatorMetrics } from './http/metrics.js';
import { createHttpProber, type Prober } from './http/prober.js';
import { ConcurrencyReporter } from './logic/concurrency-reporter.js';
import { EndpointSet } from './logic/endpoint-set.js';
import { HoldBudget, type HoldTicket } from './logic/hold-budget.js';
import { route } from './logic/routing.js';
import { RevisionThrottler, type Slot } from './logic/throttler.js';

/** Where the activator's demand goes (§b5). `AutoscalerStatsClient` (common/http/stats-grpc.ts) is one. */
export interface StatsSink {
  report(stats: readonly RevisionStat[]): Promise<void>;
  /** False while the autoscaler cannot be reached: the activator then reports not ready (§b2). */
  isReachable(): boolean;
}

export type RevisionMode = 'serve' | 'proxy';

export interface ActivatorDeps {
  revisions: RevisionSource;
  endpoints: EndpointsSource;
  stats: StatsSink;
  clock: Clock;
  /** [0, 1); power of two choices. */
  random: () => number;
  logger: Logger;
  config?: Partial<ActivatorConfig>;
  /** Pod probe; default the §b4 HTTP probe. */
  prober?: Prober;
  /**
   * The 404 body for a request that names no known revision (`host` as the client sent it). Default
   * `no such revision`: in a cluster the activator never tells a client what else it serves. `tide up` lists its hosts.
   */
  notFoundText?: (host: string | undefined) => string;
}

export interface Activator {
  /** For the shared listener (`createListener({ handler })`). */
  readonly handler: Handler;
  /** For the shared listener's `onUpgrade` (WebSockets). */
  readonly upgradeHandler: UpgradeHandler;
  readonly config: Readonly<ActivatorConfig>;
  /** Serve: straight to a ready pod, not counted, no buffering; proxy (default): buffer, throttle, count. */
  setMode(namespace: string, revision: string, mode: RevisionMode): void;
  /** §b3: this activator's index among `numActivators` (−1 = not known yet: every pod). */
  setActivatorAssignment(index: number, numActivators: number): void;
  /** Subscribes to endpoints and starts the stats ticker. */
  start(): void;
  /** SIGTERM: readiness fails from now on; requests are still served. */
  beginDrain(): void;
  /** True unless draining or the autoscaler is unreachable (§b2 health check). */
  isReady(): boolean;
  /** Requests in the activator (held, proxied or served) right now. */
  readonly inFlight: number;
  /** Resolves when no request is in the activator (held requests are served or time out). */
  idle(): Promise<void>;
  /** Stops tickers, probes and the endpoint stream, closes upstream pools. Call after the listener closed. */
  stop(): Promise<void>;
  /** Prometheus text and its content type. */
  metrics(): Promise<string>;
  readonly metricsContentType: string;
  /** For tests and `tide up`: what the activator knows of a revision. */
  revisionState(namespace: string, revision: string): { waiting: number; active: number; capacity: number; healthyPods: number; mode: RevisionMode } | undefined;
}

const TIMEOUT_BODY = 'activator request timeout';

interface RevState {
  readonly key: string;
  info: RevisionInfo;
  readonly pods: EndpointSet;
  throttler: RevisionThrottler;
  mode: RevisionMode;
  /** Serve-mode round-robin position. */
  rr: number;
  /** Proxy-mode requests from arrival to end (the concurrency gauge). */
  concurrency: number;
  probeTimer: Cancel | undefined;
  probing: Set<string>;
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

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Whether the request carries a body the activator must hold while it waits. */
function hasBody(req: ProxyRequest): boolean {
  const cl = firstHeader(req.headers['content-length']);
  if (cl !== undefined) return Number(cl) > 0;
  if (req.headers['transfer-encoding'] !== undefined) return true;
  if (isHttp2(req)) return !req.stream.endAfterHeaders && !req.readableEnded;
  return false;
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}
class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

export function buildActivator(deps: ActivatorDeps): Activator {
  const config = resolveActivatorConfig(deps.config ?? {});
  const { clock, logger } = deps;
  const revs = new Map<string, RevState>();
  const pendingEndpoints = new Map<string, EndpointsUpdate>();
  const reporter = new ConcurrencyReporter();
  const budget = new HoldBudget(config);
  const prober = deps.prober ?? createHttpProber({ clock, timeoutMs: config.probeTimeoutMs });
  const forwarder: Forwarder = createForwarder({
    clock,
    random: deps.random,
    timeoutBody: TIMEOUT_BODY,
    connectTimeoutMs: config.connectTimeoutMs,
    ...(config.maxNewConnectionsPerPod > 0
      ? { upstreamPoolOptions: pacedConnectPoolOptions({ clock, connectTimeoutMs: config.connectTimeoutMs, maxUnconfirmed: config.maxNewConnectionsPerPod }) }
      : {}),
  });
  /**
   * Whether a request goes to its pod as an h2c stream (config.ts `upstreamProtocol`). h2 clients always do (gRPC);
   * `auto` sends the requests released together after a wait (a cold start, a capacity shortage) over a few multiplexed
   * sessions instead of hundreds of new connections, and everything else over warm HTTP/1.1 keep-alive connections,
   * which cost less per request.
   */
  const viaH2c = (req: ProxyRequest, waited: boolean): boolean =>
    isHttp2(req) || config.upstreamProtocol === 'h2c' || (config.upstreamProtocol === 'auto' && waited);
  /** Requests per upstream address (both modes), so a pod that left is closed only once its requests finish. */
  const perUpstream = new Map<string, number>();
  const closeWhenIdle = new Set<string>();
  let activatorIndex = config.activatorIndex;
  let numActivators = config.numActivators;
  let draining = false;
  let started = false;
  let stopped = false;
  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];
  let unsubscribe: (() => void) | undefined;
  let stopTicker: Cancel | undefined;

  const metrics = new ActivatorMetrics({
    forEachRevision(fn) {
      for (const s of revs.values()) fn(s.info.namespace, s.info.revision, s.throttler.waiting, s.concurrency);
    },
  });

  // ---- revisions and pods -------------------------------------------------------------------------------------

  function newThrottler(info: RevisionInfo): RevisionThrottler {
    return new RevisionThrottler({ containerConcurrency: info.containerConcurrency, random: deps.random, activatorIndex, numActivators });
  }

  function stateFor(info: RevisionInfo): RevState {
    const key = revisionKey(info.namespace, info.revision);
    let s = revs.get(key);
    if (!s) {
      s = {
        key,
        info,
        pods: new EndpointSet({ trustReady: config.trustReadyEndpoints }),
        throttler: newThrottler(info),
        mode: 'proxy',
        rr: 0,
        concurrency: 0,
        probeTimer: undefined,
        probing: new Set(),
      };
      revs.set(key, s);
      const pending = pendingEndpoints.get(key);
      if (pending) {
        pendingEndpoints.delete(key);
        applyEndpoints(s, pending);
      }
    } else if (s.info !== info) {
      if (s.info.containerConcurrency !== info.containerConcurrency && s.throttler.active === 0 && s.throttler.waiting === 0) {
        s.throttler = newThrottler(info);
        s.throttler.setPods(s.pods.healthy());
      }
      s.info = info;
    }
    return s;
  }

  function onEndpoints(u: EndpointsUpdate): void {
    const info = deps.revisions.byName(u.namespace, u.revision);
    if (!info) {
      // Kept (the latest set only) until the revision becomes known: sources need not be updated in order.
      pendingEndpoints.set(revisionKey(u.namespace, u.revision), u);
      return;
    }
    applyEndpoints(stateFor(info), u);
  }

  function applyEndpoints(s: RevState, u: EndpointsUpdate): void {
    const delta = s.pods.update(u.endpoints);
    for (const ep of delta.removed) {
      closeWhenIdle.add(ep.address);
      maybeCloseUpstream(ep.address);
    }
    for (const ep of delta.added) closeWhenIdle.delete(ep.address);
    s.throttler.setPods(s.pods.healthy());
    if (s.pods.unverified().length > 0) probeNow(s);
  }

  function maybeCloseUpstream(address: string): void {
    if (!closeWhenIdle.has(address) || (perUpstream.get(address) ?? 0) > 0) return;
    closeWhenIdle.delete(address);
    // Another revision may still list the same address (a reused port): keep its pool.
    for (const s of revs.values()) if (s.pods.has(address)) return;
    forwarder.closeUpstream(address).catch((err: unknown) => logger.warn({ err, address }, 'closing upstream pool failed'));
  }

  /** §b4: probe every unverified pod now, then every probeIntervalMs while any stays unverified. */
  function probeNow(s: RevState): void {
    if (stopped) return;
    for (const ep of s.pods.unverified()) {
      if (s.probing.has(ep.address)) continue;
      s.probing.add(ep.address);
      const address = ep.address;
      void prober(address)
        .catch(() => false)
        .then((ok) => {
          s.probing.delete(address);
          if (stopped) return;
          if (ok && s.pods.markHealthy(address)) {
            logger.debug({ revision: s.key, address }, 'pod passed its probe');
            s.throttler.setPods(s.pods.healthy());
          }
        });
    }
    if (s.pods.unverified().length > 0) {
      s.probeTimer ??= clock.setInterval(() => {
        if (s.pods.unverified().length === 0) {
          s.probeTimer?.();
          s.probeTimer = undefined;
          return;
        }
        probeNow(s);
      }, config.probeIntervalMs);
    }
  }

  /** A connection that never carried the request: drop the pod and probe it again (§b4). */
  function podFailed(s: RevState, address: string): void {
    if (s.pods.markFailed(address)) {
      logger.info({ revision: s.key, address }, 'pod unreachable; re-probing');
      s.throttler.setPods(s.pods.healthy());
      probeNow(s);
    }
  }

  // ---- accounting -----------------------------------------------------------------------------------------------

  function enter(): void {
    inFlight++;
  }
  function leave(): void {
    inFlight--;
    if (inFlight === 0 && idleWaiters.length > 0) {
      const ws = idleWaiters;
      idleWaiters = [];
      for (const w of ws) w();
    }
  }
  function upstreamIn(address: string): void {
    perUpstream.set(address, (perUpstream.get(address) ?? 0) + 1);
  }
  function upstreamOut(address: string): void {
    const n = (perUpstream.get(address) ?? 1) - 1;
    if (n <= 0) perUpstream.delete(address);
    else perUpstream.set(address, n);
    maybeCloseUpstream(address);
  }

  function sendStats(stats: RevisionStat[]): void {
    if (stats.length === 0) return;
    deps.stats.report(stats).catch((err: unknown) => logger.warn({ err: String(err) }, 'stats report to the autoscaler failed'));
  }

  function toRevisionStat(key: string, averageConcurrency: number, requestCount: number, nowMs: number): RevisionStat {
    const slash = key.indexOf('/');
    return {
      namespace: key.slice(0, slash),
      revision: key.slice(slash + 1),
      stat: {
        podName: config.podName,
        averageConcurrentRequests: averageConcurrency,
        averageProxiedConcurrentRequests: 0,
        requestCount,
        proxiedRequestCount: 0,
        processUptimeSeconds: 0,
        timestampMs: nowMs,
      },
    };
  }

  // ---- waiting for a slot ------------------------------------------------------------------------------------

  /**
   * Waits for a pod slot until `deadlineMs` or until the client leaves. Rejects with TimeoutError or ClientGoneError.
   * The caller's `onClientGone` registration is reused across dispatch attempts.
   */
  function waitForSlot(s: RevState, deadlineMs: number, gone: AbortSignal): Promise<Slot> {
    const ac = new AbortController();
    const remaining = deadlineMs - clock.now();
    if (remaining <= 0) return Promise.reject(new TimeoutError('deadline'));
    const cancelTimer = clock.setTimeout(() => ac.abort(new TimeoutError('deadline')), remaining);
    const onGone = (): void => ac.abort(new ClientGoneError('client gone'));
    if (gone.aborted) onGone();
    else gone.addEventListener('abort', onGone, { once: true });
    return s.throttler.acquire(ac.signal).finally(() => {
      cancelTimer();
      gone.removeEventListener('abort', onGone);
    });
  }

  function retryAfter503(res: ProxyResponse, s: RevState, reason: string): void {
    metrics.rejected.inc({ namespace: s.info.namespace, revision: s.info.revision, reason });
    if (!res.headersSent) res.setHeader(H.retryAfter, String(config.retryAfterSeconds));
    respondText(res, 503, `activator queue full (${reason})`);
  }

  function timeoutsMs(info: RevisionInfo): { total: number; responseStart: number; idle: number } {
    const total = (info.timeoutSeconds > 0 ? info.timeoutSeconds : config.fallbackTimeoutSeconds) * 1000;
    const rs = info.responseStartTimeoutSeconds > 0 ? info.responseStartTimeoutSeconds : config.fallbackResponseStartTimeoutSeconds;
    const idle = info.idleTimeoutSeconds > 0 ? info.idleTimeoutSeconds : config.fallbackIdleTimeoutSeconds;
    return { total, responseStart: rs * 1000, idle: idle * 1000 };
  }

  // ---- the request path ----------------------------------------------------------------------------------------

  /** Serve mode: round robin over the pods the backend calls ready; undefined if there are none. */
  function pickServePod(s: RevState): string | undefined {
    const ready = s.pods.ready();
    if (ready.length === 0) return undefined;
    const ep = ready[s.rr++ % ready.length]!;
    return ep.address;
  }

  async function serve(req: ProxyRequest, res: ProxyResponse, startMs: number, s: RevState, address: string): Promise<void> {
    const t = timeoutsMs(s.info);
    const h2 = viaH2c(req, false);
    upstreamIn(address);
    try {
      await forwarder.forward(req, res, {
        upstream: address,
        startMs,
        totalTimeoutMs: t.total,
        responseStartTimeoutMs: t.responseStart,
        idleTimeoutMs: t.idle,
        upstreamH2: h2,
        rewriteHeaders: h2 ? serveRewriteH2c : serveRewrite,
      });
    } finally {
      upstreamOut(address);
    }
  }

  async function proxy(req: ProxyRequest, res: ProxyResponse, startMs: number, s: RevState): Promise<void> {
    const labels = { namespace: s.info.namespace, revision: s.info.revision };
    const t = timeoutsMs(s.info);
    // The wait ends when the response could no longer start in time (§b2 timeout handler: total / response-start).
    const deadlineMs = startMs + (t.responseStart > 0 ? Math.min(t.total, t.responseStart) : t.total);
    const arrivedMs = clock.now();
    const poke = reporter.requestIn(s.key, arrivedMs);
    if (poke) sendStats([toRevisionStat(poke.key, poke.averageConcurrency, poke.requestCount, arrivedMs)]);
    s.concurrency++;
    // Client-gone watch, set up only when the request has to wait (the hot path allocates nothing for it).
    let gone: AbortController | undefined;
    let onClose: (() => void) | undefined;
    const goneSignal = (): AbortSignal => {
      if (!gone) {
        const ac = new AbortController();
        gone = ac;
        onClose = () => {
          if (!res.writableFinished) ac.abort();
        };
        res.on('close', onClose);
        if (res.destroyed) ac.abort();
      }
      return gone.signal;
    };
    let ticket: HoldTicket | undefined;
    try {
      let waited = false;
      for (let attempt = 1; ; attempt++) {
        let slot = s.throttler.tryAcquireNow();
        if (!slot) {
          if (attempt === 1) {
            // Hold: bounded by count per revision and in total, and by body bytes.
            const got = budget.tryHold(s.key, hasBody(req) ? config.heldBodyBytesPerRequest : 0);
            if (typeof got === 'string') {
              retryAfter503(res, s, got);
              return;
            }
            ticket = got;
            // Nothing reads the body while the request waits: node's request stream is not flowing until the
            // forwarder consumes it, so once its buffer (and the h2 stream window) is full the socket is no longer
            // read and the rest stays in the kernel. (An explicit pause() would keep 'data' listeners from resuming it.)
          }
          waited = true;
          slot = await waitForSlot(s, deadlineMs, goneSignal());
          ticket?.release();
          ticket = undefined;
        }
        if (waited && attempt === 1) metrics.coldStartWait.observe(labels, (clock.now() - startMs) / 1000);
        const address = slot.tracker.address;
        upstreamIn(address);
        const h2 = viaH2c(req, waited);
        let neverSent = false;
        try {
          const out = await forwarder.forward(req, res, {
            upstream: address,
            startMs,
            totalTimeoutMs: t.total,
            responseStartTimeoutMs: t.responseStart,
            idleTimeoutMs: t.idle,
            upstreamH2: h2,
            rewriteHeaders: h2 ? proxyRewriteH2c : proxyRewrite,
            respondWhenNeverSent: false,
          });
          neverSent = out.result === 'never-sent';
          if (out.result === 'timeout') metrics.timedOut.inc(labels);
        } finally {
          slot.release();
          upstreamOut(address);
        }
        if (!neverSent) return;
        podFailed(s, address);
        if (attempt >= config.maxDispatchAttempts || res.destroyed || gone?.signal.aborted === true) {
          metrics.upstreamErrors.inc(labels);
          respondText(res, 502, 'activator: no pod reachable');
          return;
        }
      }
    } catch (err) {
      if (err instanceof TimeoutError) {
        metrics.timedOut.inc(labels);
        respondText(res, 504, TIMEOUT_BODY);
      } else if (!(err instanceof ClientGoneError)) {
        logger.error({ err, revision: s.key }, 'activator request failed');
        respondText(res, err instanceof DataPlaneError ? err.httpStatus || 500 : 500, 'activator error');
      }
    } finally {
      ticket?.release();
      if (onClose) res.off('close', onClose);
      s.concurrency--;
      reporter.requestOut(s.key, clock.now());
    }
  }

  function healthy(): boolean {
    return !draining && deps.stats.isReachable();
  }

  const handler: Handler = async (req, res, startMs) => {
    const r = route(req.headers, requestHost(req), deps.revisions);
    switch (r.kind) {
      case 'health':
        respondText(res, healthy() ? 200 : 500, healthy() ? 'ok' : 'not ready');
        return;
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
        respondText(res, 404, deps.notFoundText ? deps.notFoundText(requestHost(req)) : 'no such revision');
        return;
      case 'revision':
        break;
    }
    const s = stateFor(r.revision);
    enter();
    try {
      if (s.mode === 'serve') {
        const address = pickServePod(s);
        if (address !== undefined) {
          await serve(req, res, startMs, s, address);
          return;
        }
        // No ready pod (mid-change): fall back to holding, as in proxy mode.
      }
      await proxy(req, res, startMs, s);
    } finally {
      leave();
    }
  };

  const upgradeHandler: UpgradeHandler = (req, socket, head, startMs) => {
    void handleUpgrade(req, socket, head, startMs);
  };

  function rawRespond(socket: net.Socket, status: number, text: string, extra = ''): void {
    if (socket.destroyed) return;
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}\r\n${text}`);
  }

  async function handleUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer, startMs: number): Promise<void> {
    const r = route(req.headers, requestHost(req), deps.revisions);
    if (r.kind !== 'revision') {
      rawRespond(socket, r.kind === 'unknown-revision' ? 404 : 400, r.kind === 'unknown-revision' ? 'no such revision' : 'not a revision request');
      return;
    }
    const s = stateFor(r.revision);
    if (s.mode === 'serve') {
      const address = pickServePod(s);
      if (address !== undefined) {
        enter();
        upstreamIn(address);
        forwardUpgrade(req, socket, head, {
          upstream: address,
          rewriteHeaders: serveRewrite,
          onClose: () => {
            upstreamOut(address);
            leave();
          },
        });
        return;
      }
    }
    const t = timeoutsMs(s.info);
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    socket.once('close', onClose);
    enter();
    s.concurrency++;
    const poke = reporter.requestIn(s.key, clock.now());
    if (poke) sendStats([toRevisionStat(poke.key, poke.averageConcurrency, poke.requestCount, clock.now())]);
    let ticket: HoldTicket | undefined;
    let handedOff = false;
    const finish = (): void => {
      ticket?.release();
      s.concurrency--;
      reporter.requestOut(s.key, clock.now());
      leave();
    };
    try {
      let slot = s.throttler.tryAcquireNow();
      if (!slot) {
        const got = budget.tryHold(s.key, 0);
        if (typeof got === 'string') {
          metrics.rejected.inc({ namespace: s.info.namespace, revision: s.info.revision, reason: got });
          rawRespond(socket, 503, `activator queue full (${got})`, `Retry-After: ${config.retryAfterSeconds}\r\n`);
          return;
        }
        ticket = got;
        slot = await waitForSlot(s, startMs + t.total, gone.signal);
        ticket.release();
        ticket = undefined;
      }
      socket.off('close', onClose);
      const address = slot.tracker.address;
      upstreamIn(address);
      handedOff = true;
      forwardUpgrade(req, socket, head, {
        upstream: address,
        rewriteHeaders: proxyRewrite,
        onClose: () => {
          slot.release();
          upstreamOut(address);
          finish();
        },
      });
    } catch (err) {
      if (err instanceof TimeoutError) {
        metrics.timedOut.inc({ namespace: s.info.namespace, revision: s.info.revision });
        rawRespond(socket, 504, TIMEOUT_BODY);
      } else if (!(err instanceof ClientGoneError)) {
        logger.error({ err, revision: s.key }, 'activator upgrade failed');
        rawRespond(socket, 500, 'activator error');
      }
    } finally {
      socket.off('close', onClose);
      if (!handedOff) finish();
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  function tick(): void {
    const now = clock.now();
    sendStats(reporter.report(now).map((d) => toRevisionStat(d.key, d.averageConcurrency, d.requestCount, now)));
  }

  return {
    handler,
    upgradeHandler,
    config,
    setMode(namespace, revision, mode) {
      const info = deps.revisions.byName(namespace, revision);
      if (!info) {
        logger.warn({ namespace, revision, mode }, 'setMode for an unknown revision ignored');
        return;
      }
      stateFor(info).mode = mode;
    },
    setActivatorAssignment(index, count) {
      activatorIndex = index;
      numActivators = Math.max(1, count);
      for (const s of revs.values()) s.throttler.setActivatorAssignment(activatorIndex, numActivators);
    },
    start() {
      if (started) return;
      started = true;
      unsubscribe = deps.endpoints.subscribe(onEndpoints);
      stopTicker = clock.setInterval(tick, config.statsIntervalMs);
    },
    beginDrain() {
      draining = true;
    },
    isReady: healthy,
    get inFlight() {
      return inFlight;
    },
    idle() {
      if (inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      draining = true;
      unsubscribe?.();
      stopTicker?.();
      for (const s of revs.values()) {
        s.probeTimer?.();
        s.probeTimer = undefined;
      }
      await forwarder.close();
    },
    metrics: () => metrics.text(),
    get metricsContentType() {
      return metrics.contentType;
    },
    revisionState(namespace, revision) {
      const s = revs.get(revisionKey(namespace, revision));
      if (!s) return undefined;
      return { waiting: s.throttler.waiting, active: s.throttler.active, capacity: s.throttler.capacity, healthyPods: s.pods.healthy().length, mode: s.mode };
    },
  };
}
