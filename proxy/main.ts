/** Entry: reads the environment, builds the queue-proxy, listens on its four ports and drains on SIGTERM (§a7). */
import { flushCompileCache } from 'node:module';
import { systemClock, type Cancel, type Clock } from '../common/clock.js';
import { createListener, type Listener, type ListenerOptions } from '../common/http/server.js';
import type { StartedGrpcServer } from '../common/http/stats-grpc.js';
import { createLogger, silentLogger, type Logger } from '../common/logger.js';
import { startTrace, writeStartTrace } from '../common/start-trace.js';
import type { Env } from '../common/env.js';
import { buildQueueProxy, type QueueProxy, type QueueProxyDeps } from './app.js';
import { parseQueueProxyConfig, type QueueProxyConfig } from './config.js';
import { ReadinessProber } from './http/readiness-prober.js';
import { REPORT_PERIOD_MS } from './request-stats.js';
import { DEFAULT_WARM_UP, warmUpServingPath } from './warm-up.js';

export interface RunningQueueProxy {
  readonly qp: QueueProxy;
  /** `stats` is 0 while a deferred stats server has not started yet (see StartOptions.deferStats). */
  readonly ports: { serving: number; admin: number; stats: number; metrics: number };
  /** Resolves with the stats port once the gRPC server listens; rejects if it could not start. */
  readonly statsListening: Promise<number>;
  /**
   * What SIGTERM does (§a7): health checks fail at once and HTTP/1 responses carry `Connection: close` (h2: GOAWAY);
   * user requests keep being served, each restarting the quiet timer; after the quiet period every server closes
   * gracefully (in-flight and queued requests finish; upgraded sockets get the websocket grace); then resources are
   * released. Safe to call twice (returns the same promise).
   */
  terminate(): Promise<void>;
  /** Closes everything now without the quiet period (test cleanup). */
  close(): Promise<void>;
}

export type StartOptions = Omit<QueueProxyDeps, 'config'> & {
  /** Serving-port listener options over the ones config gives (tests shorten connection timeouts). */
  listener?: Partial<Omit<ListenerOptions, 'handler' | 'onUpgrade'>>;
  /**
   * Start the stats gRPC server (and load grpc-js) only once the first readiness check has finished, instead of before
   * resolving: the serving port answers its first probe without waiting for ~100 ms of gRPC and protobuf imports.
   * `ports.stats` is 0 until then; `statsListening` resolves with the port. `tide queue-proxy` sets it.
   */
  deferStats?: boolean;
};

/** With deferStats: how long after the app's readiness settled the stats server starts if no probe came. */
export const STATS_START_FALLBACK_MS = 1000;

/** Loads grpc-js and the stats proto, and serves the 1 s report (the only user of gRPC in the queue-proxy). */
async function startStats(qp: QueueProxy, host: string, port: number): Promise<StartedGrpcServer> {
  const { serveQueueStats } = await import('../common/http/stats-grpc.js');
  return serveQueueStats(() => qp.latestStat(), { host, port });
}

/** Builds and listens. Ports of 0 in `config` pick free ports (see `ports`). */
export async function startQueueProxy(config: Readonly<QueueProxyConfig>, opts: StartOptions = {}): Promise<RunningQueueProxy> {
  const clock: Clock = opts.clock ?? systemClock;
  const logger: Logger = opts.logger ?? silentLogger();
  const { listener: listenerOptions, deferStats: _deferStats, ...deps } = opts;
  const qp = buildQueueProxy({ ...deps, config, clock, logger });
  startTrace.mark('built');
  const onError = (err: unknown, where: string): void => logger.warn({ err, where }, 'listener error');
  const onNotice = (message: string, details: Record<string, unknown>): void => logger.warn(details, message);
  const main: Listener = createListener({
    handler: qp.handler,
    onUpgrade: qp.onUpgrade,
    clock,
    headersTimeoutMs: config.headersTimeoutMs,
    ...(config.revisionTimeoutMs > 0 ? { requestTimeoutMs: Math.max(config.revisionTimeoutMs, config.headersTimeoutMs) } : {}),
    maxBodyBytes: config.maxBodyBytes,
    upgradeGraceMs: config.websocketGraceMs,
    onError,
    onNotice,
    ...listenerOptions,
  });
  const admin = createListener({ handler: qp.adminHandler, clock, onError });
  const metrics = createListener({ handler: qp.metricsHandler, clock, onError });
  const listeners = [main, admin, metrics];
  let stats: StartedGrpcServer | undefined;
  let stopTicker: Cancel | undefined;
  try {
    const host = config.bindHost;
    const [serving, adminPort, metricsPort] = await Promise.all([
      main.listen(config.servingPort, host),
      admin.listen(config.adminPort, host),
      metrics.listen(config.metricsPort, host),
    ]);
    startTrace.mark('listening');
    stopTicker = clock.setInterval(() => qp.reportTick(), REPORT_PERIOD_MS);
    // §a6: probe the app aggressively from the start, so the first kubelet probe after the app listens passes.
    const firstReadiness = qp.readiness.isReady().then((ok) => {
      logger.info({ ready: ok }, ok ? 'app is ready' : 'app not ready after the start-up probe');
    });
    const ports = { serving, admin: adminPort, stats: 0, metrics: metricsPort };
    let closed = false;
    const listenStats = async (): Promise<number> => {
      const started = await startStats(qp, host, config.statsPort);
      if (closed) {
        await started.close(0);
        throw new Error('queue-proxy closed before its stats server started');
      }
      stats = started;
      ports.stats = started.port;
      return started.port;
    };
    let statsListening: Promise<number>;
    if (opts.deferStats) {
      // Once the main port has told a prober the pod is ready (the autoscaler scrapes only ready pods), or at the latest
      // STATS_START_FALLBACK_MS after the app's own readiness settled when nobody probes us: the first probe answer never
      // waits for ~100 ms of gRPC and protobuf imports.
      const fallback = firstReadiness.then(() => new Promise<void>((r) => setTimeout(r, STATS_START_FALLBACK_MS).unref()));
      statsListening = Promise.race([qp.firstReadyAnswer, fallback]).then(listenStats);
      statsListening.then(
        (port) => logger.info({ stats: port }, 'stats server listening'),
        (err: unknown) => {
          if (!closed) logger.error({ err }, 'stats server failed to start');
        },
      );
    } else {
      statsListening = Promise.resolve(await listenStats());
    }
    logger.info({ ports, containerConcurrency: config.containerConcurrency, userPort: config.userPort }, 'queue-proxy listening');

    const release = async (): Promise<void> => {
      closed = true;
      stopTicker?.();
      await Promise.all(listeners.map((l) => l.close()));
      await stats?.close(1000);
      await qp.close();
    };
    let terminating: Promise<void> | undefined;
    let closing: Promise<void> | undefined;
    return {
      qp,
      ports,
      statsListening,
      terminate() {
        terminating ??= (async () => {
          logger.info({ quietMs: config.drainQuietMs }, 'draining');
          qp.markTerminating();
          main.startDrain();
          await qp.drainer.drain();
          logger.info({ inFlight: main.inFlight, upgraded: main.upgradedCount }, 'drained; closing servers');
          closing ??= release();
          await closing;
          logger.info('queue-proxy stopped');
        })();
        return terminating;
      },
      close() {
        closing ??= release();
        return closing;
      },
    };
  } catch (err) {
    stopTicker?.();
    await Promise.allSettled([...listeners.map((l) => l.close({ timeoutMs: 0 })), stats?.close(0), qp.close()]);
    throw err;
  }
}

/**
 * `tide queue-proxy`: parses the environment (a ConfigError names every bad variable), runs until SIGTERM/SIGINT, drains,
 * and resolves 0 after a clean drain.
 */
export async function runQueueProxy(env: Env, logger: Logger = createLogger('queue-proxy')): Promise<number> {
  const config = parseQueueProxyConfig(env);
  startTrace.mark('config parsed');
  // Issue 15 item 2: the serving path is warmed up (proxy/warm-up.ts) while the app's readiness is probed, and the first
  // ready answer waits for it (at most TIDE_WARM_UP_MS), so the first real requests meet compiled code.
  const warm =
    config.warmUpMs > 0
      ? warmUpServingPath(config, { ...DEFAULT_WARM_UP, maxMs: config.warmUpMs }).then((w) => logger.info({ requests: w.requests, ms: Math.round(w.ms) }, 'serving path warmed up'))
      : Promise.resolve();
  const prober = new ReadinessProber(config.readinessProbes);
  const readiness = {
    async isReady(): Promise<boolean> {
      const ok = await prober.isReady();
      startTrace.mark('app probed');
      if (ok) await warm;
      return ok;
    },
    close: () => prober.close(),
  };
  const running = await startQueueProxy(config, { logger, deferStats: true, readiness });
  // TIDE_START_TRACE=1 (common/start-trace.ts): the start-up marks, written once the first ready answer has gone out.
  void running.qp.firstReadyAnswer.then(() => {
    startTrace.mark('first ready answer');
    writeStartTrace();
  });
  return new Promise<number>((resolve) => {
    // A stats port that cannot be served stops the process, as it did when it was started before the others.
    // Everything start-up loads is loaded now: write the compile cache (bin/tide.js) without waiting for the exit.
    running.statsListening.then(() => flushCompileCache?.(), () => undefined);
    running.statsListening.catch(() =>
      running.close().then(
        () => resolve(1),
        () => resolve(1),
      ),
    );
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'signal received');
      running.terminate().then(
        () => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'drain failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
