/**
 * The activator's Kubernetes sources: `RevisionSource` (managed Deployments: container concurrency and timeouts from
 * their annotations; hosts from the user Services `tide inject` prepared) and `EndpointsSource` (the pods, from the
 * private Services' EndpointSlices), plus this activator's place among the activators (the `tide-activator`
 * Service's ready endpoints, sorted by address) for Knative's capacity split (activator/logic/capacity.ts).
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { revisionKey } from '../common/stats.js';
import type { AutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import type { Endpoint, EndpointsSource, EndpointsUpdate, RevisionInfo, RevisionSource } from '../activator/endpoints.js';
import type { KubeApi } from './client.js';
import type { Informer, InformerHealth } from './informer.js';
import { watchedObjects } from './watched.js';
import { hostPort, serviceHosts, servingPort, targetsOf } from './logic/switch.js';
import { resolveWorkload } from './logic/workload.js';
import {
  ANNOTATION_DEPLOYMENT,
  LABEL_SERVICE_NAME,
  isManaged,
  objectKey,
  privateServiceName,
  type Deployment,
  type EndpointSlice,
  type KubeObject,
  type Service,
} from './objects.js';

export interface KubeActivatorSourcesOptions {
  readonly api: KubeApi;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly namespace: string | undefined;
  readonly systemNamespace: string;
  readonly config: Readonly<AutoscalerConfig>;
  /** This activator's pod IP (env POD_IP); undefined = index unknown (every pod is used). */
  readonly podIp: string | undefined;
}

/**
 * This activator's index among the ready activator addresses (sorted as strings), and their count. −1 when its own
 * address is not (yet) among them, which makes the throttler use every pod (capacity.ts `assignPods`).
 */
export function activatorAssignment(readyIps: readonly string[], podIp: string | undefined): { index: number; count: number } {
  const sorted = [...new Set(readyIps)].sort();
  return { index: podIp === undefined ? -1 : sorted.indexOf(podIp), count: Math.max(1, sorted.length) };
}

export class KubeActivatorSources implements RevisionSource, EndpointsSource {
  readonly deployments: Informer<Deployment>;
  readonly services: Informer<Service>;
  readonly slices: Informer<EndpointSlice>;
  readonly activatorSlices: Informer<EndpointSlice>;
  readonly #o: KubeActivatorSourcesOptions;
  readonly #byName = new Map<string, RevisionInfo>();
  readonly #byHost = new Map<string, RevisionInfo>();
  readonly #published = new Map<string, string>();
  readonly #subscribers = new Set<(u: EndpointsUpdate) => void>();
  readonly #assignmentListeners = new Set<(index: number, count: number) => void>();
  #assignment = { index: -1, count: 1 };
  #rebuildQueued = false;

  constructor(options: KubeActivatorSourcesOptions) {
    this.#o = options;
    ({ deployments: this.deployments, services: this.services, slices: this.slices, activatorSlices: this.activatorSlices } = watchedObjects(options));
    // Coalesced: a list of N objects costs one rebuild, not N.
    const rebuild = (): void => {
      if (this.#rebuildQueued) return;
      this.#rebuildQueued = true;
      queueMicrotask(() => {
        this.#rebuildQueued = false;
        this.#rebuild();
      });
    };
    this.deployments.on({ add: rebuild, update: rebuild, delete: rebuild });
    this.services.on({ add: rebuild, update: rebuild, delete: rebuild });
    this.slices.on({ add: rebuild, update: rebuild, delete: rebuild });
    const assign = (): void => this.#reassign();
    this.activatorSlices.on({ add: assign, update: assign, delete: assign, synced: assign });
  }

  start(): void {
    for (const i of this.#informers()) i.start();
  }

  stop(): void {
    for (const i of this.#informers()) i.stop();
  }

  async synced(): Promise<void> {
    await Promise.all(this.#informers().map((i) => i.whenSynced()));
  }

  health(): InformerHealth[] {
    return this.#informers().map((i) => i.health());
  }

  #informers(): Informer<KubeObject>[] {
    return [this.deployments, this.services, this.slices, this.activatorSlices];
  }

  /** Calls `fn` with this activator's (index, count) now and on every change. */
  onAssignment(fn: (index: number, count: number) => void): () => void {
    this.#assignmentListeners.add(fn);
    fn(this.#assignment.index, this.#assignment.count);
    return () => this.#assignmentListeners.delete(fn);
  }

  byName(namespace: string, revision: string): RevisionInfo | undefined {
    return this.#byName.get(revisionKey(namespace, revision));
  }

  byHost(host: string): RevisionInfo | undefined {
    return this.#byHost.get(host);
  }

  subscribe(onUpdate: (update: EndpointsUpdate) => void): () => void {
    this.#subscribers.add(onUpdate);
    for (const info of this.#byName.values()) onUpdate({ namespace: info.namespace, revision: info.revision, endpoints: this.#endpoints(info.namespace, info.revision) });
    return () => {
      this.#subscribers.delete(onUpdate);
    };
  }

  #reassign(): void {
    const ips = targetsOf(this.activatorSlices.list())
      .filter((t) => t.ready)
      .map((t) => t.ip);
    const next = activatorAssignment(ips, this.#o.podIp);
    if (next.index === this.#assignment.index && next.count === this.#assignment.count) return;
    this.#assignment = next;
    this.#o.logger.info({ index: next.index, activators: next.count }, 'activator assignment');
    for (const fn of this.#assignmentListeners) fn(next.index, next.count);
  }

  /** User Services (prepared by `tide inject`) by Deployment key. */
  #userServices(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const s of this.services.list()) {
      const dep = s.metadata.annotations?.[ANNOTATION_DEPLOYMENT];
      if (dep === undefined || !isManaged(s)) continue;
      const k = revisionKey(s.metadata.namespace ?? 'default', dep);
      const list = out.get(k) ?? [];
      list.push(s.metadata.name);
      out.set(k, list);
    }
    return out;
  }

  #endpoints(namespace: string, revision: string): Endpoint[] {
    const slices: EndpointSlice[] = [];
    for (const svc of this.#servicesOf.get(revisionKey(namespace, revision)) ?? []) {
      slices.push(...(this.#slicesOf.get(objectKey(namespace, privateServiceName(svc))) ?? []));
    }
    return targetsOf(slices)
      .filter((t) => !t.terminating)
      .map((t) => ({ name: t.name, address: hostPort(t.ip, servingPort(t)), ready: t.ready }));
  }

  #slicesOf = new Map<string, EndpointSlice[]>();
  #servicesOf = new Map<string, string[]>();

  /** Recomputes revisions, hosts and endpoint sets; publishes only the sets that changed. */
  #rebuild(): void {
    this.#servicesOf = this.#userServices();
    this.#slicesOf = new Map();
    for (const sl of this.slices.list()) {
      const svc = sl.metadata.labels?.[LABEL_SERVICE_NAME];
      if (svc === undefined) continue;
      const k = objectKey(sl.metadata.namespace, svc);
      const list = this.#slicesOf.get(k) ?? [];
      list.push(sl);
      this.#slicesOf.set(k, list);
    }
    const seen = new Set<string>();
    this.#byHost.clear();
    for (const d of this.deployments.list()) {
      if (!isManaged(d)) continue;
      const namespace = d.metadata.namespace ?? 'default';
      const key = revisionKey(namespace, d.metadata.name);
      seen.add(key);
      const { spec } = resolveWorkload(d, this.#o.config);
      const services = this.#servicesOf.get(key) ?? [];
      const hosts = services.flatMap((s) => serviceHosts(s, namespace));
      const old = this.#byName.get(key);
      let info: RevisionInfo = {
        namespace,
        revision: d.metadata.name,
        hosts,
        containerConcurrency: spec.containerConcurrency,
        timeoutSeconds: spec.timeoutSeconds,
        responseStartTimeoutSeconds: spec.responseStartTimeoutSeconds,
        idleTimeoutSeconds: spec.idleTimeoutSeconds,
      };
      // Unchanged revisions keep their object: the activator takes a new object as a changed revision.
      if (old && JSON.stringify(old) === JSON.stringify(info)) info = old;
      this.#byName.set(key, info);
      for (const h of hosts) this.#byHost.set(h.toLowerCase(), info);
    }
    for (const key of [...this.#byName.keys()]) {
      if (seen.has(key)) continue;
      const info = this.#byName.get(key)!;
      this.#byName.delete(key);
      this.#published.delete(key);
      for (const fn of this.#subscribers) fn({ namespace: info.namespace, revision: info.revision, endpoints: [] });
    }
    for (const info of this.#byName.values()) {
      const key = revisionKey(info.namespace, info.revision);
      const endpoints = this.#endpoints(info.namespace, info.revision);
      const text = JSON.stringify(endpoints);
      if (this.#published.get(key) === text) continue;
      this.#published.set(key, text);
      for (const fn of this.#subscribers) fn({ namespace: info.namespace, revision: info.revision, endpoints });
    }
  }
}

