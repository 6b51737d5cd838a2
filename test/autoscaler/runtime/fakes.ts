/** Hand-written fakes for the autoscaler runtime: a scale target whose pods follow replicas, a routing log, scrapers. */
import type { PodInfo, ScaleTarget } from '../../../autoscaler/backend.js';
import type { Routing } from '../../../autoscaler/app.js';
import { resolveRevisionSpec } from '../../../autoscaler/config/annotations.js';
import type { RevisionScalingSpec } from '../../../autoscaler/config/revision-spec.js';
import type { Clock } from '../../../common/clock.js';
import { emptyStat, revisionKey, type Stat } from '../../../common/stats.js';

/**
 * Pods per revision. With `autoReady` (the default) `setReplicas` adds pods (ready since now, or after
 * `readyDelayMs` of cold start) or removes the newest ones; otherwise pods change only through `setPods`.
 */
export class FakeScaleTarget implements ScaleTarget {
  readonly calls: { key: string; replicas: number }[] = [];
  readonly #pods = new Map<string, PodInfo[]>();
  readonly #replicas = new Map<string, number>();
  readonly #timers = new Set<() => void>();
  #next = 0;

  constructor(
    readonly clock: Clock,
    readonly autoReady = true,
    readonly readyDelayMs = 0,
  ) {}

  pods(namespace: string, revision: string): readonly PodInfo[] {
    return this.#pods.get(revisionKey(namespace, revision)) ?? [];
  }

  replicas(namespace: string, revision: string): number {
    return this.#replicas.get(revisionKey(namespace, revision)) ?? 0;
  }

  setReplicas(namespace: string, revision: string, replicas: number): Promise<void> {
    const key = revisionKey(namespace, revision);
    this.calls.push({ key, replicas });
    this.#replicas.set(key, replicas);
    if (this.autoReady) {
      const pods = [...this.pods(namespace, revision)];
      while (pods.length > replicas) pods.pop();
      while (pods.length < replicas) {
        const pod = this.pod(revision, this.clock.now(), this.readyDelayMs === 0);
        pods.push(pod);
        if (this.readyDelayMs > 0) this.#readyLater(key, pod.name);
      }
      this.#pods.set(key, pods);
    }
    return Promise.resolve();
  }

  /** Cancels pending cold starts (for afterEach). */
  cancelAll(): void {
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
  }

  #readyLater(key: string, name: string): void {
    const cancel = this.clock.setTimeout(() => {
      this.#timers.delete(cancel);
      const pods = this.#pods.get(key) ?? [];
      this.#pods.set(
        key,
        pods.map((p) => (p.name === name ? { ...p, ready: true, readySinceMs: this.clock.now() } : p)),
      );
    }, this.readyDelayMs);
    this.#timers.add(cancel);
  }

  /** Replaces a revision's pods and replica count (a test's starting point). */
  setPods(namespace: string, revision: string, pods: PodInfo[]): void {
    const key = revisionKey(namespace, revision);
    this.#pods.set(key, pods);
    this.#replicas.set(key, pods.length);
  }

  /** A ready pod; its stats address is `<name>:9090`. */
  pod(revision: string, readySinceMs: number, ready = true): PodInfo {
    const name = `${revision}-pod-${++this.#next}`;
    return { name, statsAddress: `${name}:9090`, servingAddress: `${name}:8012`, ready, readySinceMs: ready ? readySinceMs : undefined };
  }
}

/** Records every mode change; the activator is ready unless told otherwise. */
export class FakeRouting implements Routing {
  readonly modes: { key: string; mode: 'serve' | 'proxy' }[] = [];
  ready = true;

  setMode(namespace: string, revision: string, mode: 'serve' | 'proxy'): void {
    this.modes.push({ key: revisionKey(namespace, revision), mode });
  }

  activatorReady(): boolean {
    return this.ready;
  }
}

/** A queue-proxy stat with this concurrency and request count (nothing proxied). */
export function podStat(podName: string, concurrency: number, requests = concurrency): Stat {
  return { ...emptyStat(podName), averageConcurrentRequests: concurrency, requestCount: requests, processUptimeSeconds: 100 };
}

/** An activator stat (§b5) carrying demand, queue depth and the longest wait. */
export function activatorStat(concurrency: number, extra: Partial<Stat> = {}): Stat {
  return { ...emptyStat('activator-0'), averageConcurrentRequests: concurrency, requestCount: concurrency, ...extra };
}

/** Knative's defaults (target 70 concurrency per pod, TBC 211, stable 60 s, panic 6 s) plus the given annotations. */
export function specWith(annotations: Record<string, string> = {}): RevisionScalingSpec {
  const { spec, problems } = resolveRevisionSpec(annotations);
  if (problems.length > 0) throw new Error(`bad test annotations: ${JSON.stringify(problems)}`);
  return spec;
}

/** Lets every pending promise callback run (scrapes resolve in microtasks between fake-clock steps). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
