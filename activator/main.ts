/**
 * Standalone `tide activator`: reads the static config file, connects to the autoscaler's stats endpoint, listens,
 * and drains on SIGTERM (docs/knative-parity.md §b2: readiness fails at once, stop accepting after the drain delay,
 * finish what is held, exit). The Kubernetes endpoints source comes in a later issue.
 */
import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { systemClock } from '../common/clock.js';
import { ConfigError } from '../common/errors.js';
import { AutoscalerStatsClient } from '../common/http/stats-grpc.js';
import { createListener } from '../common/http/server.js';
import type { Logger } from '../common/logger.js';
import { buildActivator, type Activator, type StatsSink } from './app.js';
import { parseStaticConfig } from './config.js';
import { serveMetrics } from './http/metrics-server.js';
import { StaticEndpointsSource, StaticRevisionSource } from './static-source.js';

export interface ActivatorMainOptions {
  configFile: string;
  /** `host:port` of the autoscaler's stats endpoint; undefined = stats are dropped (logged once). */
  autoscaler: string | undefined;
  host: string;
  port: number;
  /** 0 = no metrics server. */
  metricsPort: number;
  cwd: string;
}

/** A running activator, for tests: ports and a way to drain it as SIGTERM would. */
export interface RunningActivator {
  readonly app: Activator;
  readonly port: number;
  readonly metricsPort: number;
  /** §b2 drain: readiness fails, wait drainDelayMs, close the listener (held requests finish), stop. */
  shutdown(): Promise<void>;
}

/** Reads and checks the static config file (YAML or JSON). */
export async function loadStaticConfig(path: string): Promise<ReturnType<typeof parseStaticConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError('activator config', [{ key: '--config', message: `cannot read ${path}: ${(err as Error).message}` }]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('activator config', [{ key: '--config', message: `${path} is not valid YAML/JSON: ${(err as Error).message}` }]);
  }
  return parseStaticConfig(doc);
}

export async function startActivator(opts: ActivatorMainOptions, logger: Logger): Promise<RunningActivator> {
  const file = resolvePath(opts.cwd, opts.configFile);
  const cfg = await loadStaticConfig(file);
  const revisions = new StaticRevisionSource(cfg.revisions.map((r) => r.info));
  const endpoints = new StaticEndpointsSource();
  for (const r of cfg.revisions) endpoints.set(r.info.namespace, r.info.revision, r.endpoints);
  let client: AutoscalerStatsClient | undefined;
  let stats: StatsSink;
  if (opts.autoscaler !== undefined) {
    client = new AutoscalerStatsClient(opts.autoscaler);
    stats = client;
  } else {
    logger.warn('no --autoscaler given: demand stats are dropped and scale-from-zero depends on something else');
    stats = { report: () => Promise.resolve(), isReachable: () => true };
  }
  const app = buildActivator({ revisions, endpoints, stats, clock: systemClock, random: Math.random, logger, config: cfg.settings });
  for (const r of cfg.revisions) app.setMode(r.info.namespace, r.info.revision, r.mode);
  app.start();
  const listener = createListener({
    handler: app.handler,
    onUpgrade: app.upgradeHandler,
    onError: (err, where) => logger.warn({ err: String(err), where }, 'listener error'),
    onNotice: (message, details) => logger.warn(details, message),
  });
  const port = await listener.listen(opts.port, opts.host);
  const metrics = opts.metricsPort > 0 ? await serveMetrics(app, { host: opts.host, port: opts.metricsPort }) : undefined;
  logger.info({ port, metricsPort: metrics?.port, revisions: cfg.revisions.length }, 'activator listening');
  let closing: Promise<void> | undefined;
  return {
    app,
    port,
    metricsPort: metrics?.port ?? 0,
    shutdown() {
      closing ??= (async () => {
        app.beginDrain();
        logger.info({ drainDelayMs: app.config.drainDelayMs }, 'draining: readiness fails; still serving');
        await new Promise<void>((r) => systemClock.setTimeout(r, app.config.drainDelayMs));
        await listener.close();
        await app.idle();
        await app.stop();
        await metrics?.close();
        client?.close();
        logger.info('activator stopped');
      })();
      return closing;
    },
  };
}

/** Runs until SIGTERM/SIGINT, then drains; resolves to the exit code. */
export async function runActivator(opts: ActivatorMainOptions, logger: Logger): Promise<number> {
  const running = await startActivator(opts, logger);
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string): void => {
      logger.info({ signal: sig }, 'shutting down');
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void running.shutdown().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}
