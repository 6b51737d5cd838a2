/** What one local replica runs: the app with its port variable, and `tide queue-proxy` configured by Knative's environment. */
import { join } from 'node:path';
import type { RevisionScalingSpec } from '../autoscaler/config/revision-spec.js';
import type { ServiceDecl } from './tide-file.js';
import type { ReplicaLaunch } from './process/replica.js';
import { freePorts } from './process/ports.js';

export interface LaunchOptions {
  readonly namespace: string;
  /** How to run `tide queue-proxy` (command + args), e.g. `[process.execPath, bin/tide.js, 'queue-proxy']`. */
  readonly queueProxy: readonly [string, ...string[]];
  /** Log folder; files go to `<logDir>/<service>/<replica>.log` and `<replica>.queue-proxy.log`. */
  readonly logDir: string;
  /** The environment tide up itself runs with; the app inherits it (like a shell would), plus its own variables. */
  readonly baseEnv: Readonly<Record<string, string | undefined>>;
  /**
   * Queue-proxy drain quiet period (TIDE_DRAIN_QUIET_SECONDS). Knative waits 30 s so load balancers notice the pod
   * leaving; locally the activator learns at once, so a short pause is enough.
   */
  readonly drainQuietSeconds: number;
  /** Loopback address everything binds. */
  readonly host: string;
}

/** Log file paths of a replica. */
export function logFiles(logDir: string, service: string, replica: string): { app: string; sidecar: string } {
  return { app: join(logDir, service, `${replica}.log`), sidecar: join(logDir, service, `${replica}.queue-proxy.log`) };
}

/** `node` means this Node binary, so `tide up` works the same under nvm, volta or a bundled runtime. */
export function resolveCommand(command: string): string {
  return command === 'node' ? process.execPath : command;
}

/** The resolved per-request knobs the queue-proxy enforces. */
export type RequestKnobs = Pick<RevisionScalingSpec, 'containerConcurrency' | 'timeoutSeconds' | 'responseStartTimeoutSeconds' | 'idleTimeoutSeconds'>;

/** Allocates five loopback ports and returns the replica's processes. */
export async function prepareLaunch(service: ServiceDecl, knobs: RequestKnobs, replicaName: string, o: LaunchOptions): Promise<ReplicaLaunch> {
  const [userPort, servingPort, adminPort, statsPort, metricsPort] = (await freePorts(5, o.host)) as [number, number, number, number, number];
  const files = logFiles(o.logDir, service.name, replicaName);
  const appEnv: Record<string, string | undefined> = {
    ...o.baseEnv,
    ...service.env,
    [service.portEnv]: String(userPort),
    // Knative's container contract gives the app these three.
    K_SERVICE: service.name,
    K_CONFIGURATION: service.name,
    K_REVISION: service.name,
  };
  const qpEnv: Record<string, string | undefined> = {
    PATH: o.baseEnv['PATH'],
    TIDE_LOG_LEVEL: o.baseEnv['TIDE_LOG_LEVEL'],
    NODE_OPTIONS: o.baseEnv['NODE_OPTIONS'],
    CONTAINER_CONCURRENCY: String(knobs.containerConcurrency),
    QUEUE_SERVING_PORT: String(servingPort),
    USER_PORT: String(userPort),
    REVISION_TIMEOUT_SECONDS: String(knobs.timeoutSeconds),
    REVISION_RESPONSE_START_TIMEOUT_SECONDS: String(knobs.responseStartTimeoutSeconds),
    REVISION_IDLE_TIMEOUT_SECONDS: String(knobs.idleTimeoutSeconds),
    SERVING_NAMESPACE: o.namespace,
    SERVING_CONFIGURATION: service.name,
    SERVING_REVISION: service.name,
    SERVING_SERVICE: service.name,
    SERVING_POD: replicaName,
    SERVING_POD_IP: o.host,
    ...(service.readinessProbe ? { SERVING_READINESS_PROBE: JSON.stringify(service.readinessProbe) } : {}),
    TIDE_ADMIN_PORT: String(adminPort),
    TIDE_STATS_PORT: String(statsPort),
    TIDE_METRICS_PORT: String(metricsPort),
    TIDE_BIND_HOST: o.host,
    TIDE_USER_HOST: o.host,
    TIDE_DRAIN_QUIET_SECONDS: String(o.drainQuietSeconds),
  };
  const [qpCommand, ...qpArgs] = o.queueProxy;
  return {
    app: { command: resolveCommand(service.command), args: service.args, env: appEnv, cwd: service.cwd, logFile: files.app },
    sidecar: { command: qpCommand, args: qpArgs, env: qpEnv, cwd: service.cwd, logFile: files.sidecar },
    servingAddress: `${o.host}:${servingPort}`,
    statsAddress: `${o.host}:${statsPort}`,
  };
}
