/**
 * `tide activator --backend kubernetes`: the activator with its revisions and pods from the Kubernetes API
 * (activator-sources.ts) and its share of each revision's capacity from its index among the ready activators.
 * Built with `buildActivator`, listening like the static mode; drains on SIGTERM the same way.
 */
import { systemClock, type Clock } from '../common/clock.js';
import { AutoscalerStatsClient } from '../common/http/stats-grpc.js';
import { createListener } from '../common/http/server.js';
import type { Logger } from '../common/logger.js';
import { buildActivator, type Activator, type StatsSink } from '../activator/app.js';
import type { ActivatorConfig } from '../activator/config.js';
import { serveMetrics } from '../activator/http/metrics-server.js';
import type { Prober } from '../activator/http/prober.js';
import { AUTOSCALER_DEFAULTS, type AutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import { KubeActivatorSources } from './activator-sources.js';
import type { KubeApi } from './client.js';

export interface KubeActivatorOptions {
  readonly api: KubeApi;
  readonly namespace: string | undefined;
  readonly systemNamespace: string;
  /** env POD_IP: this activator's address among the `tide-activator` endpoints. */
  readonly podIp: string | undefined;
  /** `host:port` of the autoscaler's stats endpoint. */
  readonly autoscaler: string;
  readonly host: string;
  readonly port: number;
  /** 0 = no metrics server. */
  readonly metricsPort: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly config?: Partial<ActivatorConfig>;
  readonly autoscalerConfig?: Readonly<AutoscalerConfig>;
  readonly prober?: Prober;
  /** Replaces the gRPC stats client (tests). */
  readonly stats?: StatsSink;
}

export interface RunningKubeActivator {
  readonly app: Activator;
  readonly sources: KubeActivatorSources;
  readonly port: number;
  readonly metricsPort: number;
  synced(): Promise<void>;
  /** Drain: readiness fails, wait drainDelayMs, close the listener, finish held requests, stop. */
  shutdown(): Promise<void>;
}

export async function startKubeActivator(opts: KubeActivatorOptions): Promise<RunningKubeActivator> {
  const clock = opts.clock ?? systemClock;
  const { logger } = opts;
  const sources = new KubeActivatorSources({
    api: opts.api,
    clock,
    logger: logger.child({ part: 'kubernetes' }),
    namespace: opts.namespace,
    systemNamespace: opts.systemNamespace,
    config: opts.autoscalerConfig ?? AUTOSCALER_DEFAULTS,
    podIp: opts.podIp,
  });
  const client = opts.stats ? undefined : new AutoscalerStatsClient(opts.autoscaler);
  const app = buildActivator({
    revisions: sources,
    endpoints: sources,
    stats: opts.stats ?? client!,
    clock,
    random: Math.random,
    logger,
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.prober ? { prober: opts.prober } : {}),
  });
  const stopAssignment = sources.onAssignment((index, count) => app.setActivatorAssignment(index, count));
  sources.start();
  app.start();
  const listener = createListener({
    handler: app.handler,
    onUpgrade: app.upgradeHandler,
    onError: (err, where) => logger.debug({ err: String(err), where }, 'listener error'),
  });
  let port: number;
  let metrics;
  try {
    port = await listener.listen(opts.port, opts.host);
    metrics = opts.metricsPort > 0 ? await serveMetrics(app, { host: opts.host, port: opts.metricsPort }) : undefined;
  } catch (err) {
    stopAssignment();
    sources.stop();
    await app.stop();
    await listener.close();
    client?.close();
    throw err;
  }
  logger.info({ port, metricsPort: metrics?.port, namespace: opts.namespace ?? '(all)', autoscaler: opts.autoscaler }, 'activator listening (kubernetes backend)');
  let closing: Promise<void> | undefined;
  return {
    app,
    sources,
    port,
    metricsPort: metrics?.port ?? 0,
    synced: () => sources.synced(),
    shutdown() {
      closing ??= (async () => {
        app.beginDrain();
        await new Promise<void>((r) => clock.setTimeout(r, app.config.drainDelayMs));
        await listener.close();
        await app.idle();
        stopAssignment();
        sources.stop();
        await app.stop();
        await metrics?.close();
        client?.close();
        logger.info('activator stopped');
      })();
      return closing;
    },
  };
}
