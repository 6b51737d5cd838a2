/** The activator's Prometheus metrics on a private registry (Knative's `kn.revision.request.*` meanings, §c8). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Per-revision numbers read at scrape time (no work on the request path). */
export interface RevisionGaugeSource {
  forEachRevision(fn: (namespace: string, revision: string, queued: number, concurrency: number) => void): void;
}

export class ActivatorMetrics {
  readonly registry = new Registry();
  readonly coldStartWait: Histogram<'namespace' | 'revision'>;
  readonly rejected: Counter<'namespace' | 'revision' | 'reason'>;
  readonly timedOut: Counter<'namespace' | 'revision'>;
  readonly upstreamErrors: Counter<'namespace' | 'revision'>;

  constructor(source: RevisionGaugeSource) {
    const labelNames = ['namespace', 'revision'] as const;
    const gauge = (name: string, help: string, pick: (queued: number, concurrency: number) => number): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers: [this.registry],
        collect() {
          this.reset();
          source.forEachRevision((namespace, revision, queued, concurrency) => this.set({ namespace, revision }, pick(queued, concurrency)));
        },
      });
    };
    gauge('tide_activator_requests_queued', 'Requests waiting in the activator for a pod with a free slot.', (q) => q);
    gauge('tide_activator_request_concurrency', 'Requests in the activator (waiting or proxied) for the revision.', (_q, c) => c);
    // Knative's names (§c8) with dots made Prometheus-legal.
    gauge('kn_revision_request_queued', 'kn.revision.request.queued: requests queued in the activator.', (q) => q);
    gauge('kn_revision_request_concurrency', 'kn.revision.request.concurrency: concurrent requests routed to the activator.', (_q, c) => c);
    this.coldStartWait = new Histogram({
      name: 'tide_activator_cold_start_wait_seconds',
      help: 'Time from arrival to dispatch for requests that had to wait for capacity.',
      labelNames,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [this.registry],
    });
    this.rejected = new Counter({
      name: 'tide_activator_rejected_total',
      help: '503 answers because a holding bound was full (reason: revision-full, total-full, body-full).',
      labelNames: ['namespace', 'revision', 'reason'],
      registers: [this.registry],
    });
    this.timedOut = new Counter({
      name: 'tide_activator_timeouts_total',
      help: '504 answers: no pod had room before the revision timeout.',
      labelNames,
      registers: [this.registry],
    });
    this.upstreamErrors = new Counter({
      name: 'tide_activator_upstream_errors_total',
      help: '502 answers: no pod could be reached within the dispatch attempts.',
      labelNames,
      registers: [this.registry],
    });
  }

  /** Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
