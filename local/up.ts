/**
 * `tide up` wiring: the whole data plane in this process (activator as the front door, KPA autoscaler, gRPC stats
 * endpoint, dashboard) driving the local backend, whose replicas are child processes (app + `tide queue-proxy`).
 *
 *   client ─► front door (activator handler, Host routing) ─► replica queue-proxy ─► app
 *                 │ stats (gRPC, 1 s + poke)                    │ stats (gRPC scrape, 1 s)
 *                 ▼                                             ▼
 *             autoscaler stats endpoint ─► autoscaler (KPA) ─► LocalBackend.setReplicas ─► start/stop replicas
 *                                              └─ routing.setMode ─► activator (serve/proxy)
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, type Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { AutoscalerStatsClient } from '../common/http/stats-grpc.js';
import { createListener, type Listener } from '../common/http/server.js';
import { buildActivator, type Activator } from '../activator/app.js';
import { buildAutoscaler, type Autoscaler } from '../autoscaler/app.js';
import { createGrpcScraper } from '../autoscaler/http/scraper.js';
import { startAutoscalerServers } from '../autoscaler/http/servers.js';
import { LocalBackend, hostsFor } from './backend.js';
import { frontDoorBase, unknownHostText } from './not-found.js';
import { probeQueueProxy } from './http/probe.js';
import { prepareLaunch } from './launch.js';
import type { Replica } from './process/replica.js';
import { startReaper } from './process/reaper.js';
import type { ResolvedFile } from './resolve.js';

export interface UpOptions {
  readonly resolved: ResolvedFile;
  /** Loopback address for everything (default 127.0.0.1). */
  readonly host: string;
  /** Front door port (0 = any free port). */
  readonly port: number;
  /** Dashboard port (0 = any free port). */
  readonly dashboardPort: number;
  /** How to run `tide queue-proxy`. */
  readonly queueProxy: readonly [string, ...string[]];
  readonly logDir: string;
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
  /** Queue-proxy drain quiet period for local replicas (Knative: 30 s; locally 1 s is plenty). */
  readonly drainQuietSeconds: number;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Replica events, for the progress lines. */
  readonly onReplicaChange?: (namespace: string, revision: string, replica: Replica) => void;
  /** Scale decisions as applied, for the progress lines. */
  readonly onScale?: (namespace: string, revision: string, from: number, to: number) => void;
}

export interface RunningUp {
  readonly frontDoorPort: number;
  readonly dashboardPort: number;
  readonly statsPort: number;
  readonly backend: LocalBackend;
  readonly autoscaler: Autoscaler;
  readonly activator: Activator;
  /**
   * Resolves true once the autoscaler has had its first decision tick (2 s, §c1: that is when an initial scale is
   * applied) and every replica the backend was asked for is ready; false after `timeoutMs`.
   */
  settled(timeoutMs: number): Promise<boolean>;
  /** Graceful: stop deciding, close the front door (in-flight requests finish), stop replicas, close the rest. */
  stop(): Promise<void>;
  /** SIGKILL every replica now (synchronous). */
  killAll(): void;
}

/**
 * On Ctrl-C each replica gets its own grace period but at most this long: the front door has already waited for
 * in-flight requests, so what is left is the drain and the app's exit.
 */
const SHUTDOWN_GRACE_MS = 10_000;

/** The autoscaler's decision tick (§c1) plus a little: by then a service's initial scale has been asked for. */
const FIRST_TICK_MS = 2100;

/** Starts everything; rejects (after cleaning up what started) if a port cannot be bound. */
export async function startUp(o: UpOptions): Promise<RunningUp> {
  const clock = o.clock ?? systemClock;
  const { resolved, logger } = o;
  const namespace = resolved.namespace;
  // Replicas come and go quickly locally: close a gone pod's gRPC channel after 10 s unused.
  const scraper = createGrpcScraper({ timeoutMs: 3000, idleMs: 10_000 });

  // No replica outlives this process, however it ends (SIGKILL, a closed terminal): see process/reaper.ts.
  const groups = startReaper();
  const backend = new LocalBackend({
    clock,
    groups,
    logger: logger.child({ component: 'local-backend' }),
    probe: probeQueueProxy,
    onReplicaChange: (ns, rev, r) => o.onReplicaChange?.(ns, rev, r),
    ...(o.onScale ? { onScale: o.onScale } : {}),
  });
  for (const s of resolved.services) {
    rmSync(join(o.logDir, s.decl.name), { recursive: true, force: true });
    backend.addRevision({
      info: {
        namespace,
        revision: s.decl.name,
        hosts: hostsFor(namespace, s.decl.name),
        containerConcurrency: s.spec.containerConcurrency,
        timeoutSeconds: s.spec.timeoutSeconds,
        responseStartTimeoutSeconds: s.spec.responseStartTimeoutSeconds,
        idleTimeoutSeconds: s.spec.idleTimeoutSeconds,
      },
      gracePeriodMs: s.gracePeriodMs,
      prepare: (replicaName) =>
        prepareLaunch(s.decl, s.spec, replicaName, {
          namespace,
          queueProxy: o.queueProxy,
          logDir: o.logDir,
          baseEnv: o.baseEnv,
          drainQuietSeconds: o.drainQuietSeconds,
          host: o.host,
        }),
    });
  }

  // The first cleanup runs last: once every replica is stopped the reaper is told to exit without killing anything.
  const cleanups: (() => Promise<void> | void)[] = [() => groups.close()];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err }, 'cleanup step failed');
      }
    }
  };

  try {
    // routing → activator is wired once the activator exists (it needs the stats endpoint's port, which needs the autoscaler).
    const routeTo: { activator?: Activator } = {};
    // The 404 text's curl line needs the front door's port, known once it listens (before any request).
    let frontDoorPortForText = o.port;
    const autoscaler = buildAutoscaler({
      scaleTarget: backend,
      routing: {
        setMode: (ns, rev, mode) => routeTo.activator?.setMode(ns, rev, mode),
        activatorReady: () => routeTo.activator?.isReady() ?? false,
      },
      scraper: (address) => scraper.scrape(address),
      clock,
      logger: logger.child({ component: 'autoscaler' }),
      config: resolved.config,
      random: Math.random,
    });
    // The autoscaler's gRPC stats endpoint (the activator reports its demand there, and pokes it at zero, §b5) and
    // its dashboard (live charts over Server-Sent Events, /api/revisions, /metrics).
    const servers = await startAutoscalerServers(autoscaler, {
      host: o.host,
      statsPort: 0,
      httpPort: o.dashboardPort,
      logger: logger.child({ component: 'autoscaler' }),
    });
    cleanups.push(() => servers.close());
    const statsClient = new AutoscalerStatsClient(servers.statsAddress);
    cleanups.push(() => statsClient.close());
    cleanups.push(() => scraper.close());

    const activator = buildActivator({
      revisions: backend,
      endpoints: backend,
      stats: statsClient,
      clock,
      random: Math.random,
      logger: logger.child({ component: 'activator' }),
      // Locally a 404 lists the hosts served and the curl line; a cluster's activator never does (its default).
      notFoundText: (host) => unknownHostText(host, backend.revisions(), frontDoorBase(o.host, frontDoorPortForText)),
    });
    routeTo.activator = activator;

    const frontDoor: Listener = createListener({
      handler: activator.handler,
      onUpgrade: activator.upgradeHandler,
      clock,
      onError: (err, where) => logger.debug({ err, where }, 'front door connection error'),
      onNotice: (message, details) => logger.warn(details, message),
    });
    // Stop order (cleanups run last-in first-out): front door (in-flight and held requests finish while the
    // autoscaler still runs), autoscaler, replicas (graceful), activator, scrape clients, stats client, the
    // autoscaler's stats endpoint and dashboard.
    activator.start();
    cleanups.push(() => activator.stop());
    cleanups.push(() => backend.stopAll(SHUTDOWN_GRACE_MS));
    autoscaler.start();
    cleanups.push(() => autoscaler.stop());
    const frontDoorPort = await frontDoor.listen(o.port, o.host);
    frontDoorPortForText = frontDoorPort;
    cleanups.push(async () => {
      activator.beginDrain();
      await frontDoor.close({ timeoutMs: 10_000 });
    });

    // Only now (every port bound) do replicas start: Knative's revision reconciler creates the Deployment at the
    // initial scale, and the autoscaler takes over from there (it does nothing until its first valid decision, §c7).
    for (const s of resolved.services) {
      await backend.setReplicas(namespace, s.decl.name, s.spec.scaler.initialScale);
      autoscaler.upsertRevision(namespace, s.decl.name, s.spec);
    }

    const startedAtMs = clock.now();
    let stopping: Promise<void> | undefined;
    return {
      frontDoorPort,
      dashboardPort: servers.httpPort,
      statsPort: servers.statsPort,
      backend,
      autoscaler,
      activator,
      settled: async (timeoutMs) => {
        const end = clock.now() + timeoutMs;
        const isSettled = (): boolean =>
          clock.now() >= startedAtMs + FIRST_TICK_MS &&
          backend.revisions().every((info) => backend.pods(info.namespace, info.revision).filter((p) => p.ready).length >= backend.replicas(info.namespace, info.revision));
        while (!isSettled()) {
          if (clock.now() >= end) return false;
          await new Promise<void>((r) => clock.setTimeout(r, 100));
        }
        return true;
      },
      stop: () => (stopping ??= cleanup()),
      killAll: () => backend.killAll(),
    };
  } catch (err) {
    backend.killAll();
    await cleanup();
    throw err;
  }
}
