/** The Kubernetes backend's own Prometheus metrics: informer health, leadership and API writes. */
import { Gauge, Registry } from 'prom-client';
import type { InformerHealth } from './informer.js';

export const KUBE_METRIC_NAMES = {
  informerSynced: 'tide_kube_informer_synced',
  informerWatching: 'tide_kube_informer_watching',
  informerObjects: 'tide_kube_informer_objects',
  informerLists: 'tide_kube_informer_lists_total',
  informerWatchRestarts: 'tide_kube_informer_watch_restarts_total',
  informerErrors: 'tide_kube_informer_errors_total',
  informerLastEventAge: 'tide_kube_informer_last_event_age_seconds',
  leader: 'tide_kube_leader',
  writes: 'tide_kube_api_writes_total',
} as const;

export interface KubeMetricsSource {
  health(): readonly InformerHealth[];
  isLeader?(): boolean;
  writes?(): Readonly<Record<string, number>>;
  now(): number;
}

/** Renders the metrics (private registry: several components in one process never collide). */
export function createKubeMetrics(source: KubeMetricsSource): { render(): Promise<string> } {
  const registry = new Registry();
  const g = (name: string, help: string, labels: string[]): Gauge<string> => new Gauge({ name, help, labelNames: labels, registers: [registry] });
  const m = {
    synced: g(KUBE_METRIC_NAMES.informerSynced, '1 once the informer listed at least once.', ['informer']),
    watching: g(KUBE_METRIC_NAMES.informerWatching, '1 while the informer has a watch open.', ['informer']),
    objects: g(KUBE_METRIC_NAMES.informerObjects, 'Objects in the informer cache.', ['informer']),
    lists: g(KUBE_METRIC_NAMES.informerLists, 'Lists (first and re-lists) done.', ['informer']),
    restarts: g(KUBE_METRIC_NAMES.informerWatchRestarts, 'Watches ended and reopened.', ['informer']),
    errors: g(KUBE_METRIC_NAMES.informerErrors, 'List or watch errors (each followed by a backoff).', ['informer']),
    age: g(KUBE_METRIC_NAMES.informerLastEventAge, 'Seconds since the last list or watch event.', ['informer']),
    leader: g(KUBE_METRIC_NAMES.leader, '1 while this replica holds the leader Lease.', []),
    writes: g(KUBE_METRIC_NAMES.writes, 'Writes to the API server by kind (and failures).', ['kind']),
  };
  return {
    async render() {
      for (const x of Object.values(m)) x.reset();
      const now = source.now();
      for (const h of source.health()) {
        const l = { informer: h.name };
        m.synced.set(l, h.synced ? 1 : 0);
        m.watching.set(l, h.watching ? 1 : 0);
        m.objects.set(l, h.objects);
        m.lists.set(l, h.lists);
        m.restarts.set(l, h.watchRestarts);
        m.errors.set(l, h.errors);
        if (h.lastEventMs > 0) m.age.set(l, Math.max(0, (now - h.lastEventMs) / 1000));
      }
      if (source.isLeader) m.leader.set(source.isLeader() ? 1 : 0);
      for (const [kind, n] of Object.entries(source.writes?.() ?? {})) m.writes.set({ kind }, n);
      return registry.metrics();
    },
  };
}
