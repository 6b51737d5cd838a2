/** Entry: reads the environment, builds the queue-proxy, listens on its four ports and drains on SIGTERM (§a7). */
import { systemClock, type Cancel, type Clock } from '../common/clock.js';
import { createListener, type Listener, type ListenerOptions } from '../common/http/server.js';
import { serveQueueStats, type StartedGrpcServer } from '../common/http/stats-grpc.js';
import { createLogger, silentLogger, type Logger } from '../common/logger.js';
import type { Env } from '../common/env.js';
import { buildQueueProxy, type QueueProxy, type QueueProxyDeps } from './app.js';
import { parseQueueProxyConfig, type QueueProxyConfig } from './config.js';
import { REPORT_PERIOD_MS } from './request-stats.js';

export interface RunningQueueProxy {
  readonly qp: QueueProxy;
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
    stats = await serveQueueStats(() => qp.latestStat(), { host, port: config.statsPort });
    stopTicker = clock.setInterval(() => qp.reportTick(), REPORT_PERIOD_MS);
    // §a6: probe the app aggressively from the start, so the first kubelet probe after the app listens passes.
    void qp.readiness.isReady().then((ok) => logger.info({ ready: ok }, ok ? 'app is ready' : 'app not ready after the start-up probe'));
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
 * `tide queue-proxy`: parses the environment (a ConfigError names every bad variable), runs until SIGTERM/SIGINT, drains,
 * and resolves 0 after a clean drain.
 */
export async function runQueueProxy(env: Env, logger: Logger = createLogger('queue-proxy')): Promise<number> {
  const config = parseQueueProxyConfig(env);
  const running = await startQueueProxy(config, { logger });
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
