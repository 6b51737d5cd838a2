/**
 * `tide autoscaler --backend kubernetes`: the KPA autoscaler over the Kubernetes backend. Every replica runs the
 * informers and the revision loops (so windows are warm on takeover); the Lease holder alone writes `/scale`,
 * EndpointSlices, private Services and Events. Activator reports that reach a follower are recorded there and
 * forwarded to the leader (its stats address is an annotation on the Lease), so the leader sees all demand.
 */
import { systemClock, type Clock } from '../common/clock.js';
import { AutoscalerStatsClient } from '../common/http/stats-grpc.js';
import type { Logger } from '../common/logger.js';
import type { RevisionStat } from '../common/stats.js';
import { buildAutoscaler, type Autoscaler, type Scraper } from '../autoscaler/app.js';
import { AUTOSCALER_DEFAULTS, type AutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import { createGrpcScraper } from '../autoscaler/http/scraper.js';
import { startAutoscalerServers, type StartedAutoscalerServers } from '../autoscaler/http/servers.js';
import { KubeAutoscalerBackend } from './autoscaler-backend.js';
import type { KubeApi } from './client.js';
import { LeaderElector } from './leader.js';
import { createKubeMetrics } from './metrics.js';
import { AUTOSCALER_LEASE } from './objects.js';

/** Lease annotation naming the leader's stats endpoint (`host:port`), where followers forward activator reports. */
export const ANNOTATION_STATS_ADDRESS = 'tide.dev/stats-address';

export interface KubeAutoscalerOptions {
  readonly api: KubeApi;
  /** undefined = every namespace. */
  readonly namespace: string | undefined;
  readonly systemNamespace: string;
  /** Lease identity: the pod name. */
  readonly identity: string;
  /** This pod's IP (env POD_IP), advertised to followers for stats forwarding; undefined = no forwarding to us. */
  readonly podIp: string | undefined;
  readonly host: string;
  readonly statsPort: number;
  readonly httpPort: number;
  readonly config?: Readonly<AutoscalerConfig>;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Default: the gRPC scraper. */
  readonly scraper?: Scraper;
  readonly random?: () => number;
  readonly lease?: { readonly durationMs?: number; readonly renewDeadlineMs?: number; readonly retryPeriodMs?: number };
  readonly leaseName?: string;
}

export interface RunningKubeAutoscaler {
  readonly autoscaler: Autoscaler;
  readonly backend: KubeAutoscalerBackend;
  readonly elector: LeaderElector;
  readonly servers: StartedAutoscalerServers;
  /** Resolves once every informer listed once. */
  synced(): Promise<void>;
  /** Stops writing at once, releases the Lease, stops loops, informers and servers. `release: false` = die (no hand-over). */
  close(opts?: { release?: boolean }): Promise<void>;
}

export async function startKubeAutoscaler(opts: KubeAutoscalerOptions): Promise<RunningKubeAutoscaler> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger;
  let elector: LeaderElector | undefined = undefined;
  const isLeader = (): boolean => elector?.isLeader() ?? false;
  const backend = new KubeAutoscalerBackend({
    api: opts.api,
    clock,
    logger: logger.child({ part: 'kubernetes' }),
    namespace: opts.namespace,
    systemNamespace: opts.systemNamespace,
    config: opts.config ?? AUTOSCALER_DEFAULTS,
    isLeader,
  });
  const grpcScraper = opts.scraper ? undefined : createGrpcScraper();
  const autoscaler = buildAutoscaler({
    scaleTarget: backend,
    routing: backend,
    scraper: opts.scraper ?? ((address) => grpcScraper!.scrape(address)),
    clock,
    logger,
    config: opts.config ?? AUTOSCALER_DEFAULTS,
    random: opts.random ?? Math.random,
  });
  backend.attach(autoscaler);

  const forwarders = new Map<string, AutoscalerStatsClient>();
  let ownAddress = '';
  const forward = (batch: readonly RevisionStat[]): void => {
    if (isLeader() || !elector) return;
    const to = elector.observedAnnotations[ANNOTATION_STATS_ADDRESS];
    if (to === undefined || to === '' || to === ownAddress) return;
    let client = forwarders.get(to);
    if (!client) {
      for (const c of forwarders.values()) c.close();
      forwarders.clear();
      forwarders.set(to, (client = new AutoscalerStatsClient(to)));
    }
    client.report(batch).catch((err: unknown) => logger.debug({ err: String(err), to }, 'forwarding activator stats to the leader failed'));
  };
  // The servers see an autoscaler whose `record` also forwards (followers) what the activators sent here.
  const front: Autoscaler = {
    upsertRevision: (ns, rev, spec) => autoscaler.upsertRevision(ns, rev, spec),
    removeRevision: (ns, rev) => autoscaler.removeRevision(ns, rev),
    record: (batch) => {
      autoscaler.record(batch);
      forward(batch);
    },
    start: () => autoscaler.start(),
    stop: () => autoscaler.stop(),
    snapshot: () => autoscaler.snapshot(),
    history: (after) => autoscaler.history(after),
    subscribe: (l) => autoscaler.subscribe(l),
    onScrape: (l) => autoscaler.onScrape(l),
  };
  const kubeMetrics = createKubeMetrics({
    health: () => backend.health(),
    isLeader,
    writes: () => ({ ...backend.writes }),
    now: () => clock.now(),
  });
  const servers = await startAutoscalerServers(front, {
    host: opts.host,
    statsPort: opts.statsPort,
    httpPort: opts.httpPort,
    logger,
    extraMetrics: () => kubeMetrics.render(),
  });
  ownAddress = opts.podIp !== undefined ? `${opts.podIp.includes(':') ? `[${opts.podIp}]` : opts.podIp}:${servers.statsPort}` : '';
  elector = new LeaderElector({
    api: opts.api,
    namespace: opts.systemNamespace,
    name: opts.leaseName ?? AUTOSCALER_LEASE,
    identity: opts.identity,
    clock,
    logger,
    ...(opts.lease?.durationMs !== undefined ? { leaseDurationMs: opts.lease.durationMs } : {}),
    ...(opts.lease?.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.lease.renewDeadlineMs } : {}),
    ...(opts.lease?.retryPeriodMs !== undefined ? { retryPeriodMs: opts.lease.retryPeriodMs } : {}),
    annotations: { [ANNOTATION_STATS_ADDRESS]: ownAddress },
    onChange: (leader) => backend.onLeadership(leader),
  });
  backend.start();
  autoscaler.start();
  elector.start();
  let closing: Promise<void> | undefined;
  return {
    autoscaler,
    backend,
    elector,
    servers,
    synced: () => backend.synced(),
    close(closeOpts = {}) {
      closing ??= (async () => {
        await elector.stop(closeOpts.release ?? true);
        autoscaler.stop();
        backend.stop();
        await servers.close();
        grpcScraper?.close();
        for (const c of forwarders.values()) c.close();
      })();
      return closing;
    },
  };
}
