/** The stats message every reporter sends the autoscaler (common/proto/stats.proto), as plain TypeScript. */

/** One 1-second report of one pod or activator. Rates are per second. */
export interface Stat {
  podName: string;
  averageConcurrentRequests: number;
  averageProxiedConcurrentRequests: number;
  requestCount: number;
  proxiedRequestCount: number;
  processUptimeSeconds: number;
  /** When the period ended (ms since epoch); 0 if unknown. */
  timestampMs: number;
  /** Activator only: requests waiting for capacity at the end of the period. */
  queuedRequests?: number;
  /** Activator only: longest wait for capacity among requests dispatched in the period, in seconds. */
  maxWaitSeconds?: number;
}

/** A stat for one revision. */
export interface RevisionStat {
  namespace: string;
  revision: string;
  stat: Stat;
}

/** A stat that holds only a pod name: what a queue-proxy serves before its first report (§a5). */
export function emptyStat(podName: string): Stat {
  return {
    podName,
    averageConcurrentRequests: 0,
    averageProxiedConcurrentRequests: 0,
    requestCount: 0,
    proxiedRequestCount: 0,
    processUptimeSeconds: 0,
    timestampMs: 0,
  };
}

/** `namespace/revision`, the key used for a revision everywhere in Tide. */
export function revisionKey(namespace: string, revision: string): string {
  return `${namespace}/${revision}`;
}
