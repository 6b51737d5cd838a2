/**
 * The autoscaler's Kubernetes backend: informers for managed Deployments, their Services and EndpointSlices and the
 * activators' EndpointSlices; `ScaleTarget` (pods from the private Services' slices, replicas through `/scale`) and
 * `Routing` (the Service switch, docs/kubernetes.md) for `buildAutoscaler`. Only the Lease holder writes; every
 * replica keeps its revisions, pods and windows up to date so a takeover starts warm.
 */
import type { Cancel, Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { revisionKey } from '../common/stats.js';
import type { Autoscaler, Routing } from '../autoscaler/app.js';
import type { PodInfo, ScaleTarget } from '../autoscaler/backend.js';
import type { AutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import type { RoutingMode } from '../autoscaler/scaling/scaler.js';
import { KubeApiError, paths, type KubeApi } from './client.js';
import type { Informer, InformerHealth } from './informer.js';
import { watchedObjects } from './watched.js';
import {
  buildPrivateService,
  buildSwitchSlices,
  effectiveMode,
  hostPort,
  originalSelector,
  sameSlice,
  samePrivateService,
  servingPort,
  statsPort,
  targetsOf,
  type SliceTarget,
  type SwitchMode,
} from './logic/switch.js';
import { problemsMessage, resolveWorkload } from './logic/workload.js';
import {
  ANNOTATION_DEPLOYMENT,
  LABEL_DEPLOYMENT,
  LABEL_MANAGED,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  MANAGED_BY_TIDE,
  isManaged,
  objectKey,
  privateServiceName,
  switchSliceName,
  type Deployment,
  type EndpointSlice,
  type KubeObject,
  type Service,
} from './objects.js';

export interface KubeAutoscalerBackendOptions {
  readonly api: KubeApi;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Namespace to manage; undefined = every namespace. */
  readonly namespace: string | undefined;
  /** Where the activator runs (its Service's EndpointSlices). */
  readonly systemNamespace: string;
  readonly config: Readonly<AutoscalerConfig>;
  /** True while this replica may write (the Lease holder). Checked before every write. */
  readonly isLeader: () => boolean;
  /** Delay before a failed write is retried; default 1 s. */
  readonly retryMs?: number;
  /** Component name on Events. */
  readonly component?: string;
}

interface Revision {
  readonly key: string;
  deployment: Deployment;
  fingerprint: string;
  /** Last bad-annotation message seen ('' = none). */
  reported: string;
  /** A message whose Event is still to be written (by the leader). */
  pendingEvent: string | undefined;
}

/** A write counted for `/metrics` and tests. */
export interface WriteCounts {
  scale: number;
  slices: number;
  services: number;
  events: number;
  deletes: number;
  failures: number;
}

export class KubeAutoscalerBackend implements ScaleTarget, Routing {
  readonly deployments: Informer<Deployment>;
  readonly services: Informer<Service>;
  readonly slices: Informer<EndpointSlice>;
  readonly activatorSlices: Informer<EndpointSlice>;
  readonly writes: WriteCounts = { scale: 0, slices: 0, services: 0, events: 0, deletes: 0, failures: 0 };
  readonly #o: KubeAutoscalerBackendOptions;
  readonly #revisions = new Map<string, Revision>();
  /** Slices by `namespace/service-name`. */
  readonly #slicesByService = new Map<string, Map<string, EndpointSlice>>();
  /** User Services (prepared by `tide inject`) by their Deployment's key. */
  readonly #servicesByDeployment = new Map<string, Set<string>>();
  readonly #desiredMode = new Map<string, SwitchMode>();
  /** Replicas as last written by us or seen on the Deployment, whichever is newer. */
  readonly #replicas = new Map<string, number>();
  readonly #readySince = new Map<string, number>();
  readonly #dirty = new Set<string>();
  #flushing = false;
  #retryTimer: Cancel | undefined;
  #autoscaler: Pick<Autoscaler, 'upsertRevision' | 'removeRevision'> | undefined;
  #stopped = false;

  constructor(options: KubeAutoscalerBackendOptions) {
    this.#o = options;
    ({ deployments: this.deployments, services: this.services, slices: this.slices, activatorSlices: this.activatorSlices } = watchedObjects(options));

    this.deployments.on({
      add: (d) => this.#onDeployment(d),
      update: (d) => this.#onDeployment(d),
      // A watch with a label selector reports an object that lost the label as DELETED, carrying its new state.
      delete: (d) => this.#unmanage(d, d.metadata.labels?.[LABEL_MANAGED] === 'true' ? 'deleted' : 'unlabelled'),
    });
    this.services.on({
      add: (s) => this.#onService(s, undefined),
      update: (s, old) => this.#onService(s, old),
      delete: (s) => this.#onService(undefined, s),
      synced: () => this.#sweep(),
    });
    const sliceIndex = (s: EndpointSlice, present: boolean): void => {
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (svc === undefined) return;
      const k = objectKey(s.metadata.namespace, svc);
      let m = this.#slicesByService.get(k);
      if (present) {
        if (!m) this.#slicesByService.set(k, (m = new Map<string, EndpointSlice>()));
        m.set(s.metadata.name, s);
      } else if (m) {
        m.delete(s.metadata.name);
        if (m.size === 0) this.#slicesByService.delete(k);
      }
      this.#markService(s.metadata.namespace ?? 'default', svc);
    };
    this.slices.on({ add: (s) => sliceIndex(s, true), update: (s) => sliceIndex(s, true), delete: (s) => sliceIndex(s, false), synced: () => this.#sweep() });
    this.activatorSlices.on({ add: () => this.#markAll(), update: () => this.#markAll(), delete: () => this.#markAll() });
  }

  /** The autoscaler the Deployments are fed to (upsert on add and on annotation change, remove on unmanage). */
  attach(autoscaler: Pick<Autoscaler, 'upsertRevision' | 'removeRevision'>): void {
    this.#autoscaler = autoscaler;
    for (const r of this.#revisions.values()) this.#upsert(r);
  }

  start(): void {
    for (const i of this.informers()) i.start();
  }

  /** Resolves when every informer has listed once. */
  async synced(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.whenSynced()));
  }

  stop(): void {
    this.#stopped = true;
    this.#retryTimer?.();
    for (const i of this.informers()) i.stop();
  }

  informers(): Informer<KubeObject & Record<string, unknown>>[] {
    return [this.deployments, this.services, this.slices, this.activatorSlices] as unknown as Informer<KubeObject & Record<string, unknown>>[];
  }

  health(): InformerHealth[] {
    return this.informers().map((i) => i.health());
  }

  /** Call when this replica became leader: every switch and private Service is checked, leftovers swept. */
  onLeadership(leader: boolean): void {
    if (!leader) return;
    for (const r of this.#revisions.values()) this.#report(r);
    this.#sweep();
    this.#markAll();
  }

  /** Managed revisions (namespace, name), for tests and metrics. */
  revisions(): { namespace: string; revision: string }[] {
    return [...this.#revisions.values()].map((r) => ({ namespace: r.deployment.metadata.namespace ?? 'default', revision: r.deployment.metadata.name }));
  }

  // ---- ScaleTarget ------------------------------------------------------------------------------------------------

  pods(namespace: string, revision: string): readonly PodInfo[] {
    const out: PodInfo[] = [];
    const now = this.#o.clock.now();
    for (const t of this.#podTargets(namespace, revision)) {
      const serving = hostPort(t.ip, servingPort(t));
      let since: number | undefined;
      if (t.ready) {
        since = this.#readySince.get(serving);
        if (since === undefined) this.#readySince.set(serving, (since = now));
      } else this.#readySince.delete(serving);
      out.push({ name: t.name, statsAddress: hostPort(t.ip, statsPort(t)), servingAddress: serving, ready: t.ready, readySinceMs: since });
    }
    return out;
  }

  replicas(namespace: string, revision: string): number {
    const key = revisionKey(namespace, revision);
    const known = this.#replicas.get(key);
    if (known !== undefined) return known;
    return this.#revisions.get(key)?.deployment.spec?.replicas ?? 1;
  }

  async setReplicas(namespace: string, revision: string, replicas: number): Promise<void> {
    const key = revisionKey(namespace, revision);
    if (!this.#revisions.has(key)) return;
    if (this.replicas(namespace, revision) === replicas) return;
    if (!this.#o.isLeader()) {
      this.#o.logger.debug({ namespace, revision, replicas }, 'not the leader: /scale left to the leader');
      return;
    }
    try {
      await this.#o.api.patch(paths.deploymentScale(namespace, revision), { spec: { replicas } });
      this.#o.logger.info({ namespace, revision, from: this.replicas(namespace, revision), to: replicas }, 'scaling');
      this.writes.scale++;
      this.#replicas.set(key, replicas);
    } catch (err) {
      this.writes.failures++;
      throw err;
    }
  }

  // ---- Routing ----------------------------------------------------------------------------------------------------

  setMode(namespace: string, revision: string, mode: RoutingMode): void {
    const key = revisionKey(namespace, revision);
    this.#desiredMode.set(key, mode);
    for (const svc of this.#servicesByDeployment.get(key) ?? []) this.#markService(namespace, svc);
  }

  activatorReady(): boolean {
    return this.#activatorTargets().length > 0;
  }

  /** The mode each user Service's switch is in, as last written (tests, dashboard). */
  switchMode(namespace: string, service: string): SwitchMode | undefined {
    const ours = this.#ourSlices(namespace, service);
    if (ours.length === 0) return undefined;
    const activatorIps = new Set(this.#activatorTargets().map((t) => t.ip));
    const ips = ours.flatMap((s) => (s.endpoints ?? []).map((e) => e.addresses[0] ?? ''));
    return ips.length > 0 && ips.every((ip) => activatorIps.has(ip)) ? 'proxy' : ips.length === 0 ? 'proxy' : 'serve';
  }

  // ---- informer events --------------------------------------------------------------------------------------------

  #onDeployment(d: Deployment): void {
    if (!isManaged(d)) {
      this.#unmanage(d, 'unlabelled');
      return;
    }
    const key = revisionKey(d.metadata.namespace ?? 'default', d.metadata.name);
    const r = this.#revisions.get(key);
    const replicas = d.spec?.replicas ?? 1;
    if (r && r.deployment.spec?.replicas !== d.spec?.replicas) this.#replicas.set(key, replicas);
    if (!r) this.#replicas.set(key, replicas);
    const { fingerprint } = resolveWorkload(d, this.#o.config);
    if (r && r.fingerprint === fingerprint) {
      r.deployment = d;
      return;
    }
    const rev: Revision = r ?? { key, deployment: d, fingerprint, reported: '', pendingEvent: undefined };
    rev.deployment = d;
    rev.fingerprint = fingerprint;
    this.#revisions.set(key, rev);
    this.#upsert(rev);
    for (const svc of this.#servicesByDeployment.get(key) ?? []) this.#markService(d.metadata.namespace ?? 'default', svc);
  }

  #upsert(r: Revision): void {
    const d = r.deployment;
    const { spec, problems } = resolveWorkload(d, this.#o.config);
    const namespace = d.metadata.namespace ?? 'default';
    if (problems.length > 0) {
      this.#o.logger.warn({ namespace, deployment: d.metadata.name, problems }, 'bad annotations; the defaults apply');
    }
    this.#report(r, problems.length > 0 ? problemsMessage(problems) : '');
    this.#autoscaler?.upsertRevision(namespace, d.metadata.name, spec);
  }

  /** Writes one Warning Event per new bad-annotation message (leader only). */
  #report(r: Revision, message?: string): void {
    if (message !== undefined && message !== r.reported) {
      r.reported = message;
      r.pendingEvent = message === '' ? undefined : message;
    }
    const pending = r.pendingEvent;
    if (pending === undefined || !this.#o.isLeader()) return;
    r.pendingEvent = undefined;
    void this.#event(r.deployment, 'Warning', 'InvalidAnnotation', pending, { unlessWritten: true });
  }

  #unmanage(d: Deployment, why: 'deleted' | 'unlabelled'): void {
    const namespace = d.metadata.namespace ?? 'default';
    const key = revisionKey(namespace, d.metadata.name);
    if (!this.#revisions.delete(key)) return;
    this.#replicas.delete(key);
    this.#desiredMode.delete(key);
    this.#autoscaler?.removeRevision(namespace, d.metadata.name);
    this.#o.logger.info({ namespace, deployment: d.metadata.name, why }, 'deployment no longer managed; removing what Tide created');
    const services = [...(this.#servicesByDeployment.get(key) ?? [])];
    if (!this.#o.isLeader()) return;
    if (why === 'unlabelled') {
      const names = services.length > 0 ? services.join(', ') : '(none)';
      void this.#event(
        d,
        'Normal',
        'Unmanaged',
        `Tide stopped managing this Deployment: removed its private Service and EndpointSlices; Service ${names} stays selector-less until \`tide uninject\` restores it`,
      );
    }
    this.#sweep();
  }

  #onService(svc: Service | undefined, old: Service | undefined): void {
    for (const s of [old, svc]) {
      if (!s) continue;
      const dep = s.metadata.annotations?.[ANNOTATION_DEPLOYMENT];
      if (dep === undefined) continue;
      const k = revisionKey(s.metadata.namespace ?? 'default', dep);
      const set = this.#servicesByDeployment.get(k) ?? new Set<string>();
      if (s === svc && s.metadata.labels !== undefined && isManaged(s)) set.add(s.metadata.name);
      else set.delete(s.metadata.name);
      if (set.size > 0) this.#servicesByDeployment.set(k, set);
      else this.#servicesByDeployment.delete(k);
    }
    const s = svc ?? old;
    if (!s) return;
    const ns = s.metadata.namespace ?? 'default';
    // A private Service changed or vanished: its user Service's switch is checked.
    const owner = s.metadata.labels?.[LABEL_DEPLOYMENT];
    if (owner !== undefined && s.metadata.annotations?.[ANNOTATION_DEPLOYMENT] === undefined) {
      for (const u of this.#servicesByDeployment.get(revisionKey(ns, owner)) ?? []) this.#markService(ns, u);
    } else this.#markService(ns, s.metadata.name);
  }

  // ---- the switch -------------------------------------------------------------------------------------------------

  #podTargets(namespace: string, revision: string): SliceTarget[] {
    const out: SliceTarget[] = [];
    for (const svc of this.#servicesByDeployment.get(revisionKey(namespace, revision)) ?? []) {
      const slices = this.#slicesByService.get(objectKey(namespace, privateServiceName(svc)));
      if (slices) out.push(...targetsOf([...slices.values()]));
    }
    return out;
  }

  #activatorTargets(): SliceTarget[] {
    return targetsOf(this.activatorSlices.list()).filter((t) => t.ready);
  }

  #ourSlices(namespace: string, service: string): EndpointSlice[] {
    const m = this.#slicesByService.get(objectKey(namespace, service));
    return m ? [...m.values()].filter((s) => s.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_TIDE) : [];
  }

  #markService(namespace: string, service: string): void {
    this.#dirty.add(objectKey(namespace, service));
    this.#kick();
  }

  #markAll(): void {
    for (const [k, set] of this.#servicesByDeployment) {
      const ns = k.slice(0, k.indexOf('/'));
      for (const s of set) this.#dirty.add(objectKey(ns, s));
    }
    this.#kick();
  }

  #kick(): void {
    if (this.#flushing || this.#stopped || this.#dirty.size === 0) return;
    this.#flushing = true;
    queueMicrotask(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    let failed = false;
    try {
      while (this.#dirty.size > 0 && !this.#stopped) {
        if (!this.#o.isLeader()) {
          this.#dirty.clear();
          break;
        }
        const [key] = this.#dirty;
        this.#dirty.delete(key!);
        const slash = key!.indexOf('/');
        try {
          await this.#reconcileService(key!.slice(0, slash), key!.slice(slash + 1));
        } catch (err) {
          this.writes.failures++;
          failed = true;
          this.#o.logger.warn({ service: key, err: err instanceof Error ? err.message : String(err) }, 'switch write failed; retrying');
          this.#retryLater(key!);
        }
      }
    } finally {
      this.#flushing = false;
      if (!failed) this.#kick();
    }
  }

  #retryLater(key: string): void {
    const pending = this.#pendingRetry;
    pending.add(key);
    if (this.#retryTimer) return;
    this.#retryTimer = this.#o.clock.setTimeout(() => {
      this.#retryTimer = undefined;
      for (const k of pending) this.#dirty.add(k);
      pending.clear();
      this.#kick();
    }, this.#o.retryMs ?? 1000);
  }
  readonly #pendingRetry = new Set<string>();

  /** Brings user Service `name`'s private Service and switch slices to what they should be. */
  async #reconcileService(namespace: string, name: string): Promise<void> {
    const svc = this.services.get(namespace, name);
    const dep = svc?.metadata.annotations?.[ANNOTATION_DEPLOYMENT];
    const rev = dep === undefined ? undefined : this.#revisions.get(revisionKey(namespace, dep));
    if (!svc || !rev || !isManaged(svc)) return; // not a prepared user Service of a managed Deployment (sweep handles leftovers)
    const selector = originalSelector(svc);
    if (selector === undefined) {
      this.#o.logger.warn({ namespace, service: name }, `Service has no valid tide.dev/original-selector annotation; run \`tide inject\` again`);
      return;
    }
    const wantPrivate = buildPrivateService(svc, rev.deployment, selector);
    const havePrivate = this.services.get(namespace, wantPrivate.metadata.name);
    if (!havePrivate) {
      await this.#write(() => this.#o.api.create(paths.services(namespace), wantPrivate), 'services', true);
    } else if (!samePrivateService(havePrivate, wantPrivate)) {
      await this.#write(
        () =>
          this.#o.api.replace(paths.service(namespace, wantPrivate.metadata.name), {
            ...havePrivate,
            metadata: { ...havePrivate.metadata, labels: { ...havePrivate.metadata.labels, ...wantPrivate.metadata.labels } },
            spec: { ...havePrivate.spec, selector: wantPrivate.spec?.selector, ports: wantPrivate.spec?.ports },
          }),
        'services',
      );
    }
    const pods = this.#podTargets(namespace, dep!).filter((t) => t.ready);
    const activators = this.#activatorTargets();
    // Until this revision's loop has chosen a mode (a start, a new leader), the switch stays as it was written: a
    // new leader does not flip serving Services to the activator and back. No switch yet: through the activator.
    const desired = this.#desiredMode.get(rev.key) ?? this.switchMode(namespace, name) ?? 'proxy';
    const mode = effectiveMode(desired, pods.length, activators.length);
    const targets = (mode === 'serve' ? pods : activators).map((t) => ({ ip: t.ip, name: t.name, port: servingPort(t) }));
    const want = buildSwitchSlices(svc, targets);
    const have = new Map(this.#ourSlices(namespace, name).map((s) => [s.metadata.name, s]));
    for (const w of want) {
      const h = have.get(w.metadata.name);
      have.delete(w.metadata.name);
      if (h && sameSlice(h, w)) continue;
      if (h) {
        await this.#write(() => this.#o.api.replace(paths.endpointSlice(namespace, w.metadata.name), { ...w, metadata: { ...w.metadata, resourceVersion: h.metadata.resourceVersion } }), 'slices');
      } else {
        await this.#write(() => this.#o.api.create(paths.endpointSlices(namespace), w), 'slices', true);
      }
    }
    // Extra slices go only after the new ones are written, so the Service never points at nothing mid-flip.
    for (const extra of have.values()) await this.#delete(paths.endpointSlice(namespace, extra.metadata.name));
  }

  async #write(fn: () => Promise<unknown>, what: 'slices' | 'services', creating = false): Promise<void> {
    if (!this.#o.isLeader()) throw new Error('lost the lease; not writing');
    try {
      await fn();
    } catch (err) {
      // Created meanwhile (our informer lags): the next event reconciles again.
      if (creating && err instanceof KubeApiError && err.status === 409) return;
      throw err;
    }
    this.writes[what]++;
  }

  async #delete(path: string): Promise<void> {
    if (!this.#o.isLeader()) throw new Error('lost the lease; not deleting');
    try {
      await this.#o.api.delete(path);
      this.writes.deletes++;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  /** Deletes private Services and switch slices whose Deployment is no longer managed (leader only). */
  #sweep(): void {
    if (!this.#o.isLeader() || !this.services.synced || !this.slices.synced || !this.deployments.synced) return;
    const doomed: string[] = [];
    for (const s of this.services.list()) {
      const owner = s.metadata.labels?.[LABEL_DEPLOYMENT];
      const ns = s.metadata.namespace ?? 'default';
      if (owner === undefined || s.metadata.annotations?.[ANNOTATION_DEPLOYMENT] !== undefined) continue;
      if (!this.#revisions.has(revisionKey(ns, owner))) doomed.push(paths.service(ns, s.metadata.name));
    }
    for (const sl of this.slices.list()) {
      if (sl.metadata.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_TIDE) continue;
      const ns = sl.metadata.namespace ?? 'default';
      const svcName = sl.metadata.labels[LABEL_SERVICE_NAME] ?? '';
      const svc = this.services.get(ns, svcName);
      const dep = svc?.metadata.annotations?.[ANNOTATION_DEPLOYMENT];
      const managed = svc !== undefined && isManaged(svc) && dep !== undefined && this.#revisions.has(revisionKey(ns, dep));
      if (!managed && sl.metadata.name.startsWith(switchSliceName(svcName))) doomed.push(paths.endpointSlice(ns, sl.metadata.name));
    }
    if (doomed.length === 0) return;
    void (async () => {
      for (const p of doomed) {
        try {
          await this.#delete(p);
        } catch (err) {
          this.writes.failures++;
          this.#o.logger.warn({ path: p, err: err instanceof Error ? err.message : String(err) }, 'cleanup delete failed; retried on the next sweep');
          this.#o.clock.setTimeout(() => this.#sweep(), this.#o.retryMs ?? 1000);
          return;
        }
      }
    })();
  }

  /**
   * Writes an Event on `d`. `unlessWritten`: not when the Deployment already has one with this reason and message (a
   * new leader reports every bad annotation it finds, and the old leader may have written them already); when that
   * lookup fails the Event is written anyway.
   */
  async #event(d: Deployment, type: 'Normal' | 'Warning', reason: string, message: string, opts: { unlessWritten?: boolean } = {}): Promise<void> {
    const ns = d.metadata.namespace ?? 'default';
    const now = new Date(this.#o.clock.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const suffix = `${this.#o.clock.now().toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`;
    if (opts.unlessWritten) {
      const fieldSelector = [`involvedObject.kind=Deployment`, `involvedObject.name=${d.metadata.name}`, `reason=${reason}`, ...(d.metadata.uid ? [`involvedObject.uid=${d.metadata.uid}`] : [])].join(',');
      try {
        const { items } = await this.#o.api.list<{ message?: string }>(paths.events(ns), { fieldSelector });
        if (items.some((e) => e.message === message)) return;
      } catch (err) {
        this.#o.logger.debug({ err: err instanceof Error ? err.message : String(err), deployment: `${ns}/${d.metadata.name}` }, 'listing Events failed; writing the Event anyway');
      }
    }
    try {
      if (!this.#o.isLeader()) return;
      await this.#o.api.create(paths.events(ns), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${d.metadata.name}.${suffix}`, namespace: ns },
        involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name, namespace: ns, uid: d.metadata.uid, resourceVersion: d.metadata.resourceVersion },
        reason,
        message,
        type,
        source: { component: this.#o.component ?? 'tide-autoscaler' },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
      this.writes.events++;
    } catch (err) {
      this.writes.failures++;
      this.#o.logger.warn({ err: err instanceof Error ? err.message : String(err), deployment: `${ns}/${d.metadata.name}`, reason }, 'writing an Event failed');
    }
  }
}
