/** Entry: reads the environment, builds the queue-proxy, listens on its four ports and drains on SIGTERM (§a7). */
import { flushCompileCache } from 'node:module';
import { systemClock, type Cancel, type Clock } from '../common/clock.js';
import { createListener, type Listener, type ListenerOptions } from '../common/http/server.js';
import { loadHttp2 } from '../common/http/h2-codes.js';
import { serveQueueStats, type StartedQueueStatsServer } from '../common/http/queue-stats-server.js';
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
  /** The bound ports (a port of 0 in the config picks a free one). */
  readonly ports: { serving: number; admin: number; stats: number; metrics: number };
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
};


/** Builds and listens. Ports of 0 in `config` pick free ports (see `ports`). */
export async function startQueueProxy(config: Readonly<QueueProxyConfig>, opts: StartOptions = {}): Promise<RunningQueueProxy> {
  const clock: Clock = opts.clock ?? systemClock;
  const logger: Logger = opts.logger ?? silentLogger();
  const { listener: listenerOptions, ...deps } = opts;
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
  const host = config.bindHost;
  let stats: StartedQueueStatsServer | undefined;
  let stopTicker: Cancel | undefined;
  try {
    // The stats port listens before the serving port can answer a probe: the autoscaler scrapes ready pods, and one
    // sampled pod that does not answer fails the revision's whole scrape (§c2).
    stats = await serveQueueStats(() => qp.latestStat(), { host, port: config.statsPort, onError, onNotice });
    startTrace.mark('stats listening');
    const [serving, adminPort, metricsPort] = await Promise.all([
      main.listen(config.servingPort, host),
      admin.listen(config.adminPort, host),
      metrics.listen(config.metricsPort, host),
    ]);
    startTrace.mark('listening');
    stopTicker = clock.setInterval(() => qp.reportTick(), REPORT_PERIOD_MS);
    // §a6: probe the app aggressively from the start, so the first kubelet probe after the app listens passes.
    void qp.readiness.isReady().then((ok) => {
      logger.info({ ready: ok }, ok ? 'app is ready' : 'app not ready after the start-up probe');
    });
    const ports = { serving, admin: adminPort, stats: stats.port, metrics: metricsPort };
    logger.info({ ports, containerConcurrency: config.containerConcurrency, userPort: config.userPort }, 'queue-proxy listening');

    const release = async (): Promise<void> => {
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
 * While the app is still starting this thread has nothing to do: load now what the first h2c connection or stats
 * scrape (node:http2 with node:tls, ~25 ms) and the first Prometheus scrape (prom-client, ~30 ms) would otherwise load
 * while requests are flowing, where each stalls every request in flight. An app that was up before the warm-up ended
 * leaves them to their first use: the first ready answer never waits for them.
 */
async function prepareWhileAppStarts(running: RunningQueueProxy, appReady: () => boolean, logger: Logger): Promise<void> {
  if (appReady()) return;
  loadHttp2();
  startTrace.mark('http2 loaded while the app starts');
  if (appReady()) return;
  await running.qp.metrics.prepare();
  startTrace.mark('prom-client loaded while the app starts');
  logger.info('node:http2 and prom-client loaded ahead while the app starts');
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
  let appReady = false;
  const readiness = {
    async isReady(): Promise<boolean> {
      const ok = await prober.isReady();
      appReady ||= ok;
      startTrace.mark('app probed');
      if (ok) await warm;
      return ok;
    },
    close: () => prober.close(),
  };
  const running = await startQueueProxy(config, { logger, readiness });
  warm.then(() => prepareWhileAppStarts(running, () => appReady, logger)).catch((err: unknown) => logger.warn({ err }, 'loading ahead while the app starts failed'));
  // Once the first ready answer is out: the start-up marks (TIDE_START_TRACE=1, common/start-trace.ts), and the compile
  // cache (bin/tide.js) written without waiting for the exit, since everything start-up loads is loaded by then.
  void running.qp.firstReadyAnswer.then(() => {
    startTrace.mark('first ready answer');
    writeStartTrace();
    flushCompileCache?.();
  });
  return new Promise<number>((resolve) => {
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
