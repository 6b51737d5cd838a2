/**
 * The autoscaler's Prometheus metrics: Knative's `kn.revision.*` and `kn.autoscaler.*` meanings (docs/knative-parity.md
 * §c8) under Prometheus-legal names (dots become underscores, as an OpenTelemetry Prometheus exporter writes them).
 */
import { Gauge, Histogram, Registry } from 'prom-client';
import type { Autoscaler } from '../app.js';

/** Label names as Knative's OpenTelemetry attributes `k8s.namespace.name` and `kn.revision.name` are exported. */
const LABELS = ['k8s_namespace_name', 'kn_revision_name'] as const;

/** Every metric name served, for docs and tests. */
export const METRIC_NAMES = {
  podsDesired: 'kn_revision_pods_desired',
  capacityExcess: 'kn_revision_capacity_excess',
  panicMode: 'kn_revision_panic_mode',
  concurrencyStable: 'kn_revision_concurrency_stable',
  concurrencyPanic: 'kn_revision_concurrency_panic',
  concurrencyTarget: 'kn_revision_concurrency_target',
  rpsStable: 'kn_revision_rps_stable',
  rpsPanic: 'kn_revision_rps_panic',
  rpsTarget: 'kn_revision_rps_target',
  podsRequested: 'kn_revision_pods_requested',
  podsCount: 'kn_revision_pods_count',
  podsNotReady: 'kn_revision_pods_not_ready_count',
  scrapeDuration: 'kn_autoscaler_scrape_duration_seconds',
} as const;

export interface AutoscalerMetrics {
  /** Prometheus text for the current state. */
  render(): Promise<string>;
  readonly contentType: string;
  /** Stops listening to scrape events. */
  close(): void;
}

/** Builds the metrics over a private registry (so several autoscalers in one process, e.g. tests, never collide). */
export function createAutoscalerMetrics(source: Pick<Autoscaler, 'snapshot' | 'onScrape'>): AutoscalerMetrics {
  const registry = new Registry();
  const gauge = (name: string, help: string): Gauge<(typeof LABELS)[number]> =>
    new Gauge({ name, help, labelNames: LABELS, registers: [registry] });
  const g = {
    podsDesired: gauge(METRIC_NAMES.podsDesired, 'Number of pods the autoscaler wants (kn.revision.pods.desired).'),
    capacityExcess: gauge(METRIC_NAMES.capacityExcess, 'Excess burst capacity observed (kn.revision.capacity.excess).'),
    panicMode: gauge(METRIC_NAMES.panicMode, '1 if the autoscaler is in panic mode (kn.revision.panic.mode).'),
    concurrencyStable: gauge(METRIC_NAMES.concurrencyStable, 'Average in-flight requests over the stable window (kn.revision.concurrency.stable).'),
    concurrencyPanic: gauge(METRIC_NAMES.concurrencyPanic, 'Average in-flight requests over the panic window (kn.revision.concurrency.panic).'),
    concurrencyTarget: gauge(METRIC_NAMES.concurrencyTarget, 'Per-pod concurrency target (kn.revision.concurrency.target).'),
    rpsStable: gauge(METRIC_NAMES.rpsStable, 'Average requests per second over the stable window (kn.revision.rps.stable).'),
    rpsPanic: gauge(METRIC_NAMES.rpsPanic, 'Average requests per second over the panic window (kn.revision.rps.panic).'),
    rpsTarget: gauge(METRIC_NAMES.rpsTarget, 'Per-pod requests-per-second target (kn.revision.rps.target).'),
    podsRequested: gauge(METRIC_NAMES.podsRequested, 'Replicas requested from the backend (kn.revision.pods.requested).'),
    podsCount: gauge(METRIC_NAMES.podsCount, 'Ready pods (kn.revision.pods.count).'),
    podsNotReady: gauge(METRIC_NAMES.podsNotReady, 'Pods not ready (kn.revision.pods.not_ready.count).'),
  };
  const scrapeDuration = new Histogram({
    name: METRIC_NAMES.scrapeDuration,
    help: 'Time to scrape one revision (kn.autoscaler.scrape.duration).',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const unsubscribe = source.onScrape((e) => scrapeDuration.observe({ outcome: e.ok ? 'ok' : 'error' }, e.durationMs / 1000));

  return {
    contentType: registry.contentType,
    async render() {
      for (const m of Object.values(g)) m.reset();
      for (const r of source.snapshot().revisions) {
        const labels = { k8s_namespace_name: r.namespace, kn_revision_name: r.revision };
        const live = r.live;
        // Knative does not report a desired scale it does not know yet (−1).
        if (live.desired >= 0) g.podsDesired.set(labels, live.desired);
        g.capacityExcess.set(labels, live.excessBurstCapacity);
        g.panicMode.set(labels, live.inPanic ? 1 : 0);
        const [stable, panic, target] =
          r.spec.metric === 'rps' ? [g.rpsStable, g.rpsPanic, g.rpsTarget] : [g.concurrencyStable, g.concurrencyPanic, g.concurrencyTarget];
        if (live.stable !== null) stable.set(labels, live.stable);
        if (live.panic !== null) panic.set(labels, live.panic);
        target.set(labels, r.spec.targetValue);
        g.podsRequested.set(labels, live.requested);
        g.podsCount.set(labels, live.ready);
        g.podsNotReady.set(labels, r.pods.length - live.ready);
      }
      return registry.metrics();
    },
    close: unsubscribe,
  };
}
