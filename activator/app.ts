/**
 * `buildActivator(deps)`: the whole activator as a request handler plus lifecycle, wired from its parts; never reads the
 * environment and never listens (main.ts and `tide up` do). The parts: the registry of revisions and their pods
 * (registry.ts), pod probing (probing.ts), and the request path shared by plain requests and upgrades, whose stages
 * `handle()` in request-path.ts lists in order.
 */
import type { Clock, Cancel } from '../common/clock.js';
import { createForwarder, type Forwarder } from '../common/http/forward.js';
import { checkOptions, option, type OptionCheck } from '../common/options.js';
import { pacedConnectPoolOptions } from '../common/http/upstream-connect.js';
import type { Handler, UpgradeHandler } from '../common/http/types.js';
import type { Logger } from '../common/logger.js';
import type { RevisionStat } from '../common/stats.js';
import { resolveActivatorConfig, type ActivatorConfig } from './config.js';
import type { EndpointsSource, RevisionSource } from './endpoints.js';
import { ActivatorMetrics } from './http/metrics.js';
import { createHttpProber, type Prober } from './http/prober.js';
import { ConcurrencyReporter, type DemandStat } from './logic/concurrency-reporter.js';
import { HoldBudget } from './logic/hold-budget.js';
import { PodProbing } from './probing.js';
import { RevisionRegistry, type RevisionMode } from './registry.js';
import { buildRequestPaths, TIMEOUT_BODY } from './request-path.js';

export type { RevisionMode } from './registry.js';

/** Where the activator's demand goes (§b5). `AutoscalerStatsClient` (common/http/stats-grpc.ts) is one. */
export interface StatsSink {
  report(stats: readonly RevisionStat[]): Promise<void>;
  /** False while the autoscaler cannot be reached: the activator then reports not ready (§b2). */
  isReachable(): boolean;
}

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

/** What each of buildActivator's deps may be (its config is checked by resolveActivatorConfig). */
const ACTIVATOR_DEPS: Readonly<Record<keyof ActivatorDeps, OptionCheck>> = {
  revisions: option.object,
  endpoints: option.object,
  stats: option.object,
  clock: option.object,
  random: option.function,
  logger: option.object,
  config: option.object,
  prober: option.function,
  notFoundText: option.function,
};

/** Throws a ConfigError naming a missing or bad dep, or each bad config key. */
export function buildActivator(deps: ActivatorDeps): Activator {
  checkOptions('buildActivator', deps, ACTIVATOR_DEPS, ['revisions', 'endpoints', 'stats', 'clock', 'random', 'logger']);
  const config = resolveActivatorConfig(deps.config ?? {});
  const { clock, logger } = deps;
  const reporter = new ConcurrencyReporter();
  const forwarder: Forwarder = createForwarder({
    clock,
    random: deps.random,
    timeoutBody: TIMEOUT_BODY,
    connectTimeoutMs: config.connectTimeoutMs,
    ...(config.maxNewConnectionsPerPod > 0
      ? { upstreamPoolOptions: pacedConnectPoolOptions({ clock, connectTimeoutMs: config.connectTimeoutMs, maxUnconfirmed: config.maxNewConnectionsPerPod }) }
      : {}),
  });
  const probing = new PodProbing({ prober: deps.prober ?? createHttpProber({ clock, timeoutMs: config.probeTimeoutMs }), clock, logger, probeIntervalMs: config.probeIntervalMs });
  const registry = new RevisionRegistry({
    revisions: deps.revisions,
    config,
    random: deps.random,
    logger,
    closeUpstream: (address) => forwarder.closeUpstream(address),
    probe: probing.probeNow,
  });
  let draining = false;
  let started = false;
  let stopped = false;
  let inFlight = 0;
  let idleWaiters: (() => void)[] = [];
  let unsubscribe: (() => void) | undefined;
  let stopTicker: Cancel | undefined;

  const metrics = new ActivatorMetrics({
    forEachRevision(fn) {
      for (const s of registry.values()) fn(s.info.namespace, s.info.revision, s.throttler.waiting, s.concurrency);
    },
  });

  function healthy(): boolean {
    return !draining && deps.stats.isReachable();
  }

  // ---- demand reports to the autoscaler (§b5) ------------------------------------------------------------------

  function sendStats(stats: RevisionStat[]): void {
    if (stats.length === 0) return;
    deps.stats.report(stats).catch((err: unknown) => logger.warn({ err: String(err) }, 'stats report to the autoscaler failed'));
  }

  function toRevisionStat(d: DemandStat, nowMs: number): RevisionStat {
    const slash = d.key.indexOf('/');
    return {
      namespace: d.key.slice(0, slash),
      revision: d.key.slice(slash + 1),
      stat: {
        podName: config.podName,
        averageConcurrentRequests: d.averageConcurrency,
        averageProxiedConcurrentRequests: 0,
        requestCount: d.requestCount,
        proxiedRequestCount: 0,
        processUptimeSeconds: 0,
        timestampMs: nowMs,
      },
    };
  }

  function tick(): void {
    const now = clock.now();
    sendStats(reporter.report(now).map((d) => toRevisionStat(d, now)));
  }

  // ---- the request path (request-path.ts) -------------------------------------------------------------------------

  const { handler, upgradeHandler } = buildRequestPaths({
    config,
    clock,
    logger,
    revisions: deps.revisions,
    registry,
    probing,
    forwarder,
    budget: new HoldBudget(config),
    reporter,
    metrics,
    poke: (d, nowMs) => sendStats([toRevisionStat(d, nowMs)]),
    enter() {
      inFlight++;
    },
    leave() {
      inFlight--;
      if (inFlight === 0 && idleWaiters.length > 0) {
        const ws = idleWaiters;
        idleWaiters = [];
        for (const w of ws) w();
      }
    },
    healthy,
    ...(deps.notFoundText ? { notFoundText: deps.notFoundText } : {}),
  });

  // ---- lifecycle ---------------------------------------------------------------------------------------------

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
      registry.stateFor(info).mode = mode;
    },
    setActivatorAssignment(index, count) {
      registry.setActivatorAssignment(index, count);
    },
    start() {
      if (started) return;
      started = true;
      unsubscribe = deps.endpoints.subscribe(registry.onEndpoints);
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
      probing.stop();
      await forwarder.close();
    },
    metrics: () => metrics.text(),
    get metricsContentType() {
      return metrics.contentType;
    },
    revisionState(namespace, revision) {
      const s = registry.get(namespace, revision);
      if (!s) return undefined;
      return { waiting: s.throttler.waiting, active: s.throttler.active, capacity: s.throttler.capacity, healthyPods: s.pods.healthy().length, mode: s.mode };
    },
  };
}
