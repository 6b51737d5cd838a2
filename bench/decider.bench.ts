/**
 * How many revision decisions one core makes per second: per revision, collector read + decider scale + scaler
 * reconcile (docs/knative-parity.md §c2, §c5, §c7), for 10,000 revisions per 2 s tick. Goal: one tick in under 50 ms.
 */
import { performance } from 'node:perf_hooks';
import { MetricCollector } from '../autoscaler/metrics/collector.js';
import { Decider } from '../autoscaler/scaling/decider.js';
import type { DeciderSpec } from '../autoscaler/scaling/decider-spec.js';
import { RevisionScaler, type RevisionScalerSpec } from '../autoscaler/scaling/scaler.js';
import type { Stat } from '../common/stats.js';

const REVISIONS = 10_000;
const GOAL_MS = 50;
/** Bounded: at most this many ticks, and at most this long. */
const MAX_TICKS = 30;
const MAX_RUN_MS = 4000;

const DECIDER: DeciderSpec = {
  metric: 'concurrency',
  targetValue: 70,
  totalValue: 100,
  targetBurstCapacity: 211,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  stableWindowMs: 60_000,
  scaleDownDelayMs: 30_000,
  activationScale: 1,
  reachable: true,
};

const SCALER: RevisionScalerSpec = {
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  enableScaleToZero: true,
  scaleToZeroGracePeriodMs: 30_000,
  scaleToZeroPodRetentionPeriodMs: 0,
  activationTimeoutMs: 630_000,
  stableWindowMs: 60_000,
  targetBurstCapacity: 211,
};

interface Revision {
  collector: MetricCollector;
  decider: Decider;
  scaler: RevisionScaler;
  ready: number;
  replicas: number;
}

/** A deterministic pseudo-random load per revision and second (no Math.random: reproducible runs). */
function load(i: number, sec: number): number {
  return ((i * 7919 + sec * 104_729) % 1000) / 4;
}

export default function bench(log: (line: string) => void): Promise<void> {
  const start = Date.UTC(2026, 0, 1);
  const revisions: Revision[] = [];
  for (let i = 0; i < REVISIONS; i++) {
    revisions.push({
      collector: new MetricCollector({ metric: 'concurrency', stableWindowMs: 60_000, panicWindowMs: 6000, algorithm: i % 2 === 0 ? 'linear' : 'weighted-exponential', hasScrapeTarget: true }, start),
      decider: new Decider(DECIDER, 1, start),
      scaler: new RevisionScaler(SCALER, start),
      ready: 1,
      replicas: 1,
    });
  }
  const stat: Stat = { podName: 'service-scraper', averageConcurrentRequests: 0, averageProxiedConcurrentRequests: 0, requestCount: 0, proxiedRequestCount: 0, processUptimeSeconds: 0, timestampMs: 0 };

  const tickTimes: number[] = [];
  let recordMs = 0;
  let decisions = 0;
  const runStart = performance.now();
  for (let tick = 0; tick < MAX_TICKS && performance.now() - runStart < MAX_RUN_MS; tick++) {
    const nowMs = start + tick * 2000;
    // Two 1 s scrapes per 2 s tick (not part of the decision figure, reported separately).
    const r0 = performance.now();
    for (let sec = 0; sec < 2; sec++) {
      for (let i = 0; i < REVISIONS; i++) {
        stat.averageConcurrentRequests = load(i, tick * 2 + sec);
        stat.requestCount = stat.averageConcurrentRequests * 3;
        revisions[i]!.collector.record(nowMs - 1000 + sec * 1000, stat);
      }
    }
    recordMs += performance.now() - r0;

    const t0 = performance.now();
    for (const rev of revisions) {
      const obs = rev.collector.read(nowMs);
      const res = rev.decider.scale(nowMs, obs === undefined ? undefined : { readyPods: rev.ready, ...obs });
      const out = rev.scaler.reconcile(nowMs, {
        desired: res.valid ? res.desiredPods : -1,
        excessBurstCapacity: res.excessBurstCapacity,
        readyPods: rev.ready,
        currentReplicas: rev.replicas,
        reachable: true,
        activatorReady: true,
      });
      if (out.replicas !== undefined) rev.replicas = out.replicas;
      // Pods become ready by the next tick.
      rev.ready = rev.replicas;
      decisions++;
    }
    tickTimes.push(performance.now() - t0);
  }

  // Skip the first ticks (JIT warm-up) when there are enough.
  const measured = tickTimes.length > 5 ? tickTimes.slice(3) : tickTimes;
  const sorted = [...measured].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  const mean = measured.reduce((a, b) => a + b, 0) / measured.length;
  const perSecond = (REVISIONS / mean) * 1000;
  log(`revisions per tick: ${REVISIONS}, ticks: ${tickTimes.length} (${decisions} decisions, first 3 ticks are warm-up)`);
  log(`tick (read + scale + reconcile): median ${median.toFixed(2)} ms, mean ${mean.toFixed(2)} ms, max ${Math.max(...measured).toFixed(2)} ms`);
  log(`decisions per second on one core: ${Math.round(perSecond).toLocaleString('en-US')}`);
  log(`goal: ${REVISIONS} revisions in < ${GOAL_MS} ms per tick; median is ${(median / GOAL_MS).toFixed(2)}× the goal (${median < GOAL_MS ? 'met' : 'NOT met'})`);
  log(`stat recording (2 scrapes per tick, not in the figure above): ${(recordMs / tickTimes.length).toFixed(2)} ms per tick`);
  return Promise.resolve();
}
