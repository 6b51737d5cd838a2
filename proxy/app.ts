/** Builds the queue-proxy from its parts: the request chain, listed once in request order, plus its admin and metrics handlers. */
import { Breaker, QUEUE_FULL_BODY } from '../common/breaker.js';
import { QueueFullError, type TideError } from '../common/errors.js';
import { checkOptions, option, type OptionCheck } from '../common/options.js';
import { systemClock, type Clock } from '../common/clock.js';
import { callbackForward, createForwarder, type Forwarder } from '../common/http/forward.js';
import { respondRawFailure, respondText, type Handler, type UpgradeHandler } from '../common/http/types.js';
import { forwardUpgrade } from '../common/http/websocket.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Stat } from '../common/stats.js';
import type { QueueProxyConfig } from './config.js';
import { Drainer } from './drainer.js';
import { RequestStats } from '../common/request-stats.js';
import { QueueStatReporter } from './request-stats.js';
import { OpossumCircuit, type CircuitGate } from './http/circuit.js';
import { QueueProxyMetrics } from './http/metrics.js';
import { ReadinessProber, type ReadinessCheck } from './http/readiness-prober.js';
import { FastRequest, type FastPathEnv } from './http/fast-path.js';
import { appHearsH2, proxyToApp, rewriteForApp } from './http/reverse-proxy.js';
import { withBreaker } from './http/with-breaker.js';
import { CIRCUIT_OPEN, withCircuit } from './http/with-circuit.js';
import { withDrain } from './http/with-drain.js';
import { withRequestMetrics } from './http/with-request-metrics.js';
import { countIn, countOut, withStats } from './http/with-stats.js';

const noRelease = (): void => undefined;

/** Knative's timeout body (§a8). */
export const TIMEOUT_BODY = 'request timeout';
/** Path on the admin port that the app's preStop hook calls (§a7). */
export const WAIT_FOR_DRAIN_PATH = '/wait-for-drain';
/** If no SIGTERM follows a `/wait-for-drain` call within this long, the drain is reset (§a7). */
export const WAIT_FOR_DRAIN_RESET_MS = 1000;

export interface QueueProxyDeps {
  config: Readonly<QueueProxyConfig>;
  clock?: Clock;
  logger?: Logger;
  /** Retry jitter; default Math.random. */
  random?: () => number;
  /** Default: a ReadinessProber of `config.readinessProbes`. */
  readiness?: ReadinessCheck & { close?: () => void };
  /** Default: createForwarder with the retry settings from config. */
  forwarder?: Forwarder;
  /** Default: an OpossumCircuit when `config.circuit.enabled`, else none. `null` forces none. */
  circuit?: CircuitGate | null;
  /** When this process started (uptime in stats). Default: now. */
  processStartMs?: number;
}

export interface QueueProxy {
  /** The main port's handler (8012). */
  handler: Handler;
  /** The main port's Upgrade (websocket) handler. */
  onUpgrade: UpgradeHandler;
  /** The admin port's handler (8022). */
  adminHandler: Handler;
  /** The metrics port's handler (9091). */
  metricsHandler: Handler;
  /** The stat the stats port serves (9090). */
  latestStat(): Stat;
  /** Takes the 1 s report; main calls it every second. */
  reportTick(): Stat;
  /** SIGTERM arrived: `/wait-for-drain` callers keep waiting instead of resetting after 1 s. */
  markTerminating(): void;
  readonly drainer: Drainer;
  readonly breaker: Breaker | undefined;
  readonly stats: RequestStats;
  readonly metrics: QueueProxyMetrics;
  readonly forwarder: Forwarder;
  readonly readiness: ReadinessCheck;
  readonly circuit: CircuitGate | undefined;
  /** Resolves once the main port has answered a health check with 200 (the pod's first readiness as others see it). */
  readonly firstReadyAnswer: Promise<void>;
  /** Releases what build created (forwarder pools, circuit timers, probe loops). Listeners are main's. */
  close(): Promise<void>;
}

/** What each of buildQueueProxy's deps may be (its config is checked by the config reader). */
const QUEUE_PROXY_DEPS: Readonly<Record<keyof QueueProxyDeps, OptionCheck>> = {
  config: option.object,
  clock: option.object,
  logger: option.object,
  random: option.function,
  readiness: option.object,
  forwarder: option.object,
  circuit: (v) => (v === null ? undefined : option.object(v)),
  processStartMs: option.nonNegativeNumber,
};

/**
 * Composes the queue-proxy. Never reads the environment and never listens.
 * The breaker exists only when CC ≥ 1 (§a4): capacity CC, queue 10 × CC.
 */
export function buildQueueProxy(deps: QueueProxyDeps): QueueProxy {
  checkOptions('buildQueueProxy', deps, QUEUE_PROXY_DEPS, ['config']);
  const { config } = deps;
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger();
  const cc = config.containerConcurrency;
  const breaker = cc >= 1 ? new Breaker({ queueDepth: 10 * cc, maxConcurrency: cc, initialCapacity: cc }) : undefined;
  const forwarder =
    deps.forwarder ??
    createForwarder({
      clock,
      ...(deps.random ? { random: deps.random } : {}),
      timeoutBody: TIMEOUT_BODY,
      upstreamH2: appHearsH2,
      ...(config.retry.maxRetries > 0
        ? {
            retry: {
              maxRetries: config.retry.maxRetries,
              baseBackoffMs: config.retry.backoffBaseMs,
              maxBackoffMs: config.retry.backoffMaxMs,
              budgetRatio: config.retry.budgetPercent / 100,
              budgetMinPerSecond: config.retry.budgetMinPerSecond,
              maxBufferedBodyBytes: config.retry.maxBodyBytes,
            },
          }
        : {}),
    });
  const circuit = deps.circuit === null ? undefined : (deps.circuit ?? (config.circuit.enabled ? new OpossumCircuit(config.circuit, clock) : undefined));
  const readiness = deps.readiness ?? new ReadinessProber(config.readinessProbes);
  const stats = new RequestStats(clock.now());
  const reporter = new QueueStatReporter({ stats, podName: config.pod, processStartMs: deps.processStartMs ?? clock.now() });
  const drainer = new Drainer(clock, config.drainQuietMs);
  const metrics = new QueueProxyMetrics(
    {
      namespace_name: config.namespace,
      service_name: config.service,
      configuration_name: config.configuration,
      revision_name: config.revision,
      pod_name: config.pod,
      container_name: 'queue-proxy',
    },
    {
      queueDepth: () => breaker?.inFlight ?? 0,
      retries: () => forwarder.counters.retriesAttempted,
      retryBudgetExhausted: () => forwarder.counters.retryBudgetExhausted,
    },
  );
  if (circuit) {
    circuit.onStateChange((s) => {
      metrics.circuitState(s);
      logger.warn({ circuit: s }, `app circuit ${s}`);
    });
  }
  const onCircuitReject = (): void => metrics.circuitRejected();
  const upstream = `${config.userHost}:${config.userPort}`;
  const timeouts = [config.revisionTimeoutMs, config.responseStartTimeoutMs, config.idleTimeoutMs].filter((t) => t > 0);

  // The chain, outermost first (cf. knative pkg/queue/sharedmain/handlers.go). Each stage wraps the next.
  //  1. drain: probes answered here for any path (never counted, never queued); others restart the quiet timer
  //  2. request metrics: revision_request_count/latencies, with whatever status the client got (our 503/504 too)
  //  3. stats: counted from arrival, so time queued in the breaker counts as concurrency (§a5)
  //  4. circuit: fail fast while open, before taking a place in the queue (Tide)
  //  5. breaker: CC slots + 10×CC queue, 503 beyond, 504 if a timer expires while queued (§a4, §a8)
  //  6. app: circuit pass, app metrics, forward with the three timers (§a3 steps 9–10, §a8)
  let h: Handler = proxyToApp(forwarder, {
    upstream,
    totalTimeoutMs: config.revisionTimeoutMs,
    responseStartTimeoutMs: config.responseStartTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    clock,
    metrics,
    circuit,
    onCircuitReject,
  });
  if (breaker) {
    h = withBreaker(h, breaker, {
      clock,
      queueTimeoutMs: timeouts.length > 0 ? Math.min(...timeouts) : 0,
      timeoutBody: TIMEOUT_BODY,
      onOverflow: () => metrics.breakerOverflow(),
    });
  }
  if (circuit) h = withCircuit(h, circuit, onCircuitReject);
  h = withStats(h, stats, clock);
  h = withRequestMetrics(h, metrics, clock);
  // The common case (no circuit, a free slot, our own forwarder) skips stages 2–6 as separate async layers: one
  // FastRequest does their work in the same order with no promise or closure per request (proxy/http/fast-path.ts).
  const forward = callbackForward(forwarder);
  let entry: Handler = h;
  if (circuit === undefined && forward !== undefined) {
    const chain = h;
    const env: FastPathEnv = {
      forward,
      upstream,
      totalTimeoutMs: config.revisionTimeoutMs,
      responseStartTimeoutMs: config.responseStartTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      rewriteHeaders: rewriteForApp,
      clock,
      stats,
      metrics,
      logger,
    };
    entry = (req, res, startMs) => {
      const release = breaker === undefined ? noRelease : breaker.tryAcquire();
      // No free slot: the composed chain queues it (its breaker stage asks again in this same tick, and fails again).
      if (release === undefined) return chain(req, res, startMs);
      new FastRequest(env, req, res, startMs, release).start();
    };
  }
  let readyAnswered: (() => void) | undefined;
  const firstReadyAnswer = new Promise<void>((resolve) => (readyAnswered = resolve));
  const handler = withDrain(entry, drainer, readiness, () => {
    readyAnswered?.();
    readyAnswered = undefined;
  });

  // Upgraded (websocket) connections go through the same accounting: counted, restart the drain timer, hold a breaker slot
  // for their lifetime (as a hijacked Knative request does).
  const onUpgrade: UpgradeHandler = (req, socket, head) => {
    drainer.requestSeen();
    const proxied = countIn(stats, req, clock.now());
    let counted = true;
    const out = (): void => {
      if (!counted) return;
      counted = false;
      countOut(stats, proxied, clock.now());
    };
    const refuse = (err: TideError): void => {
      out();
      respondRawFailure(socket, err);
    };
    if (circuit?.isRejecting()) {
      onCircuitReject();
      refuse(CIRCUIT_OPEN);
      return;
    }
    const relay = (release: () => void): void => {
      forwardUpgrade(req, socket, head, {
        upstream,
        rewriteHeaders: rewriteForApp,
        onClose: () => {
          release();
          out();
        },
      });
    };
    if (!breaker) {
      relay(() => undefined);
      return;
    }
    const ac = new AbortController();
    const onClose = (): void => ac.abort();
    socket.once('close', onClose);
    breaker.acquire(ac.signal).then(
      (release) => {
        socket.off('close', onClose);
        if (socket.destroyed) {
          release();
          out();
          return;
        }
        relay(release);
      },
      (err: unknown) => {
        socket.off('close', onClose);
        if (socket.destroyed) {
          out();
          return;
        }
        metrics.breakerOverflow();
        refuse(err instanceof QueueFullError ? err : new QueueFullError(QUEUE_FULL_BODY));
      },
    );
  };

  let terminating = false;
  const adminHandler: Handler = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WAIT_FOR_DRAIN_PATH) {
      respondText(res, 404, 'not found');
      return;
    }
    logger.info('attached drain handler from the user container');
    // §a7: join the drain; if no SIGTERM reaches us within 1 s (a liveness restart of the app), reset the drainer.
    const cancel = clock.setTimeout(() => {
      if (!terminating) drainer.reset();
    }, WAIT_FOR_DRAIN_RESET_MS);
    await drainer.drain();
    cancel();
    respondText(res, 200, '');
  };

  const metricsHandler: Handler = async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      respondText(res, 404, 'not found');
      return;
    }
    const text = await metrics.text();
    if (res.headersSent) return;
    res.statusCode = 200;
    res.setHeader('content-type', metrics.contentType);
    res.end(text);
  };

  return {
    handler,
    onUpgrade,
    adminHandler,
    metricsHandler,
    latestStat: () => reporter.latest(),
    reportTick: () => reporter.tick(clock.now()),
    markTerminating: () => {
      terminating = true;
    },
    drainer,
    breaker,
    stats,
    metrics,
    forwarder,
    readiness,
    circuit,
    firstReadyAnswer,
    async close() {
      deps.readiness?.close?.();
      if (!deps.readiness) (readiness as ReadinessProber).close();
      circuit?.close();
      await forwarder.close();
    },
  };
}
