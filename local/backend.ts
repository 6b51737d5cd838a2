/**
 * The local backend (docs/architecture.md, Backends): replicas are child processes on this machine. One object implements
 * the three narrow interfaces the components depend on: ScaleTarget (autoscaler), EndpointsSource and RevisionSource
 * (activator and the front door).
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { revisionKey } from '../common/stats.js';
import type { PodInfo, ScaleTarget } from '../autoscaler/backend.js';
import type { Endpoint, EndpointsSource, EndpointsUpdate, RevisionInfo, RevisionSource } from '../activator/endpoints.js';
import { Replica, type ReadinessProbe, type ReplicaLaunch } from './process/replica.js';
import type { GroupWatch } from './process/reaper.js';

/** A revision the backend can run. */
export interface LocalRevision {
  readonly info: RevisionInfo;
  /** SIGTERM → SIGKILL grace for each replica. */
  readonly gracePeriodMs: number;
  /** Builds what a new replica runs (allocates its ports, names its log files). */
  prepare(replicaName: string): Promise<ReplicaLaunch>;
}

export interface LocalBackendOptions {
  readonly clock: Clock;
  /** Told of every replica process group, so none outlives tide up (process/reaper.ts). */
  readonly groups?: GroupWatch;
  readonly logger: Logger;
  readonly probe: ReadinessProbe;
  readonly startingProbeMs?: number;
  readonly readyProbeMs?: number;
  /** Called on every replica change (phase, restart, added, removed): the dashboard and the progress line listen. */
  readonly onReplicaChange?: (namespace: string, revision: string, replica: Replica) => void;
  /** Called when desired replicas change (the autoscaler's decisions, as the backend applies them). */
  readonly onScale?: (namespace: string, revision: string, from: number, to: number) => void;
}

interface RevisionState {
  readonly rev: LocalRevision;
  desired: number;
  /** Replicas that are not `stopped` (starting, ready, crashed, stopping), oldest first (by `created`). */
  readonly replicas: Replica[];
  /** Each replica's creation number (its name's suffix): preparations finish in any order, age does not. */
  readonly created: WeakMap<Replica, number>;
  /** Replicas being prepared (ports being found): counted so reconcile never over-creates. */
  preparing: number;
  seq: number;
  lastPublished: string;
  /** Serialises reconciles of one revision. */
  chain: Promise<void>;
}

/** Hosts a local service answers on. Port stripped and lower-cased before lookup. */
export function hostsFor(namespace: string, name: string): string[] {
  return [`${name}.localhost`, `${name}.${namespace}.localhost`, `${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}.svc`, `${name}.${namespace}`];
}

/** Normalises a Host header: lower-case, without the port (IPv6 literals keep their brackets). */
export function normaliseHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const i = h.indexOf(':');
  return (i === -1 ? h : h.slice(0, i)).replace(/\.$/, '');
}

export class LocalBackend implements ScaleTarget, EndpointsSource, RevisionSource {
  readonly #o: LocalBackendOptions;
  readonly #revisions = new Map<string, RevisionState>();
  readonly #hosts = new Map<string, RevisionInfo>();
  readonly #subscribers = new Set<(u: EndpointsUpdate) => void>();
  #closed = false;

  constructor(options: LocalBackendOptions) {
    this.#o = options;
  }

  /** Registers a revision at zero replicas. */
  addRevision(rev: LocalRevision): void {
    const key = revisionKey(rev.info.namespace, rev.info.revision);
    if (this.#revisions.has(key)) throw new Error(`revision ${key} is already registered`);
    this.#revisions.set(key, { rev, desired: 0, replicas: [], created: new WeakMap(), preparing: 0, seq: 0, lastPublished: '[]', chain: Promise.resolve() });
    for (const h of rev.info.hosts) this.#hosts.set(normaliseHost(h), rev.info);
    this.#publish(key);
  }

  /** Every registered revision. */
  revisions(): RevisionInfo[] {
    return [...this.#revisions.values()].map((s) => s.rev.info);
  }

  // --- RevisionSource ---
  byName(namespace: string, revision: string): RevisionInfo | undefined {
    return this.#revisions.get(revisionKey(namespace, revision))?.rev.info;
  }
  byHost(host: string): RevisionInfo | undefined {
    return this.#hosts.get(normaliseHost(host));
  }

  // --- ScaleTarget ---
  pods(namespace: string, revision: string): readonly PodInfo[] {
    const s = this.#revisions.get(revisionKey(namespace, revision));
    if (!s) return [];
    return s.replicas
      .filter((r) => r.phase !== 'stopped')
      .map((r) => ({
        name: r.name,
        statsAddress: r.launch.statsAddress,
        servingAddress: r.launch.servingAddress,
        ready: r.ready,
        readySinceMs: r.readySinceMs,
      }));
  }
  replicas(namespace: string, revision: string): number {
    return this.#revisions.get(revisionKey(namespace, revision))?.desired ?? 0;
  }
  setReplicas(namespace: string, revision: string, replicas: number): Promise<void> {
    const key = revisionKey(namespace, revision);
    const s = this.#revisions.get(key);
    if (!s) return Promise.reject(new Error(`unknown revision ${key}`));
    if (!Number.isInteger(replicas) || replicas < 0) return Promise.reject(new RangeError(`replicas must be a whole number >= 0, got ${replicas}`));
    if (this.#closed) return Promise.resolve();
    if (s.desired !== replicas) {
      this.#o.logger.info({ revision: key, from: s.desired, to: replicas }, 'scaling');
      this.#o.onScale?.(namespace, revision, s.desired, replicas);
    }
    s.desired = replicas;
    // Accepted once recorded; starting and stopping happen in the background, like a Deployment's /scale.
    s.chain = s.chain.then(() => this.#reconcile(key, s)).catch((err: unknown) => this.#o.logger.error({ err, revision: key }, 'reconcile failed'));
    return Promise.resolve();
  }

  // --- EndpointsSource ---
  subscribe(onUpdate: (update: EndpointsUpdate) => void): () => void {
    this.#subscribers.add(onUpdate);
    for (const s of this.#revisions.values()) onUpdate(this.#endpointsOf(s));
    return () => void this.#subscribers.delete(onUpdate);
  }

  /** The live replicas of a revision (for the dashboard and tests). */
  replicasOf(namespace: string, revision: string): readonly Replica[] {
    return this.#revisions.get(revisionKey(namespace, revision))?.replicas ?? [];
  }

  /**
   * Stops every replica gracefully, each with its own grace period, capped at `maxGraceMs` if given (a person
   * pressing Ctrl-C should not wait a 300 s request timeout). No new replicas after this.
   */
  async stopAll(maxGraceMs = Infinity): Promise<void> {
    this.#closed = true;
    for (const s of this.#revisions.values()) s.desired = 0;
    await Promise.all([...this.#revisions.values()].map((s) => s.chain));
    await Promise.all([...this.#revisions.values()].flatMap((s) => s.replicas.map((r) => r.stop(Math.min(s.rev.gracePeriodMs, maxGraceMs)))));
  }

  /** SIGKILLs every replica's process groups at once. Synchronous, for a second Ctrl-C or process exit. */
  killAll(): void {
    this.#closed = true;
    for (const s of this.#revisions.values()) for (const r of s.replicas) r.killNow();
  }

  async #reconcile(key: string, s: RevisionState): Promise<void> {
    const active = (): Replica[] => s.replicas.filter((r) => r.phase !== 'stopping' && r.phase !== 'stopped');
    // Scale down: not-ready replicas go first, then the newest (Kubernetes' ReplicaSet picks the same way).
    const surplus = active().length - s.desired;
    if (surplus > 0) {
      const rank = (r: Replica): number => (r.ready ? 1 : 0);
      const victims = [...active()].sort((a, b) => rank(a) - rank(b) || s.replicas.indexOf(b) - s.replicas.indexOf(a)).slice(0, surplus);
      for (const r of victims) void r.stop(s.rev.gracePeriodMs);
    }
    const missing = s.desired - active().length - s.preparing;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < missing && !this.#closed; i++) starts.push(this.#startReplica(key, s));
    await Promise.all(starts);
  }

  async #startReplica(key: string, s: RevisionState): Promise<void> {
    const seq = ++s.seq;
    const name = `${s.rev.info.revision}-${seq}`;
    s.preparing++;
    let launch: ReplicaLaunch;
    try {
      launch = await s.rev.prepare(name);
    } finally {
      s.preparing--;
    }
    if (this.#closed) return;
    const replica = new Replica({
      name,
      launch,
      probe: this.#o.probe,
      clock: this.#o.clock,
      logger: this.#o.logger,
      gracePeriodMs: s.rev.gracePeriodMs,
      ...(this.#o.groups ? { groups: this.#o.groups } : {}),
      ...(this.#o.startingProbeMs === undefined ? {} : { startingProbeMs: this.#o.startingProbeMs }),
      ...(this.#o.readyProbeMs === undefined ? {} : { readyProbeMs: this.#o.readyProbeMs }),
      onChange: (r) => {
        if (r.phase === 'stopped') {
          const i = s.replicas.indexOf(r);
          if (i !== -1) s.replicas.splice(i, 1);
        }
        this.#o.onReplicaChange?.(s.rev.info.namespace, s.rev.info.revision, r);
        this.#publish(key);
      },
    });
    // Keep the list oldest first even when a later replica's ports were found sooner: scale-down takes the newest.
    s.created.set(replica, seq);
    const at = s.replicas.findIndex((r) => (s.created.get(r) ?? 0) > seq);
    if (at === -1) s.replicas.push(replica);
    else s.replicas.splice(at, 0, replica);
    this.#o.logger.info({ revision: key, replica: name, serving: launch.servingAddress }, 'starting replica');
    replica.start();
  }

  #endpointsOf(s: RevisionState): EndpointsUpdate {
    // Terminating and crashed replicas leave the set at once (Kubernetes drops terminating pods from EndpointSlices);
    // starting ones are listed not-ready, so the activator may probe them and use them early (§b4).
    const endpoints: Endpoint[] = s.replicas
      .filter((r) => r.phase === 'starting' || r.phase === 'ready')
      .map((r) => ({ name: r.name, address: r.launch.servingAddress, ready: r.ready }));
    return { namespace: s.rev.info.namespace, revision: s.rev.info.revision, endpoints };
  }

  #publish(key: string): void {
    const s = this.#revisions.get(key);
    if (!s) return;
    const update = this.#endpointsOf(s);
    const text = JSON.stringify(update.endpoints);
    if (text === s.lastPublished) return;
    s.lastPublished = text;
    for (const fn of this.#subscribers) {
      try {
        fn(update);
      } catch (err) {
        this.#o.logger.error({ err }, 'endpoints subscriber threw');
      }
    }
  }
}
