/** The queue-proxy's 1 s stat for the autoscaler (docs/knative-parity.md §a5), from the shared RequestStats. */
import type { RequestStats } from '../common/request-stats.js';
import { emptyStat, type Stat } from '../common/stats.js';

/** Knative's queue-proxy reports once a second and divides counts by this period. */
export const REPORT_PERIOD_MS = 1000;

/**
 * Holds the stat served to the autoscaler: only the pod name until the first `tick`, then the last 1 s report with counts
 * per second and the process uptime (§a5).
 */
export class QueueStatReporter {
  readonly #stats: RequestStats;
  readonly #podName: string;
  readonly #processStartMs: number;
  readonly #periodMs: number;
  #latest: Stat;

  constructor(opts: { stats: RequestStats; podName: string; processStartMs: number; periodMs?: number }) {
    this.#stats = opts.stats;
    this.#podName = opts.podName;
    this.#processStartMs = opts.processStartMs;
    this.#periodMs = opts.periodMs ?? REPORT_PERIOD_MS;
    this.#latest = emptyStat(opts.podName);
  }

  /** Takes a report (call every `periodMs`). */
  tick(nowMs: number): Stat {
    const r = this.#stats.report(nowMs);
    const periodSecs = this.#periodMs / 1000;
    this.#latest = {
      podName: this.#podName,
      averageConcurrentRequests: r.averageConcurrency,
      averageProxiedConcurrentRequests: r.averageProxiedConcurrency,
      requestCount: r.requestCount / periodSecs,
      proxiedRequestCount: r.proxiedRequestCount / periodSecs,
      processUptimeSeconds: Math.max(0, (nowMs - this.#processStartMs) / 1000),
      timestampMs: nowMs,
    };
    return this.#latest;
  }

  latest(): Stat {
    return this.#latest;
  }
}
