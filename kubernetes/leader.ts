/**
 * Leader election with a coordination.k8s.io/v1 Lease (client-go's leaderelection, in small). The holder renews every
 * `retryPeriodMs`; it counts as leader only while its last successful renew, timed from when the request was sent, is
 * younger than `renewDeadlineMs`, so a leader that cannot renew stops writing at once, before anyone else may take
 * over. Others take the Lease once they have seen it unchanged for `leaseDurationMs` (their own clock). Updates are
 * optimistic (resourceVersion): two candidates racing for an expired Lease cannot both win.
 */
import type { Cancel, Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { KubeApiError, paths, type KubeApi } from './client.js';
import type { Lease } from './objects.js';

export interface LeaderElectorOptions {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly name: string;
  /** This candidate (the pod name). */
  readonly identity: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** client-go's defaults: 15 s, 10 s, 2 s. */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Extra annotations the leader keeps on the Lease (e.g. where followers forward stats). */
  readonly annotations?: Record<string, string>;
  readonly onChange?: (leader: boolean) => void;
}

/** MicroTime as the API writes it. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

export class LeaderElector {
  readonly #o: Required<Pick<LeaderElectorOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>> & LeaderElectorOptions;
  #timer: Cancel | undefined;
  #running = false;
  /** When our last successful acquire/renew was sent (clock ms); undefined = not holding. */
  #renewedAtMs: number | undefined;
  /** The Lease as last seen, and when its content last changed (clock ms). */
  #observed: { holder: string; renewTime: string; rv: string; transitions: number } | undefined;
  #observedAtMs = 0;
  #wasLeader = false;
  #term = 0;
  #busy = false;

  constructor(options: LeaderElectorOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
  }

  /** True only while this candidate holds a Lease renewed within the renew deadline. Checked before every write. */
  isLeader(): boolean {
    const leader = this.#renewedAtMs !== undefined && this.#o.clock.now() - this.#renewedAtMs < this.#o.renewDeadlineMs;
    if (!leader && this.#wasLeader) this.#setLeader(false);
    return leader;
  }

  /** The Lease's transition count when we took it (a "term"); 0 when not leader. */
  get term(): number {
    return this.isLeader() ? this.#term : 0;
  }

  /** The holder as last observed (may be another candidate). */
  get holder(): string | undefined {
    return this.#observed?.holder;
  }

  /** Annotations of the Lease as last observed. */
  observedAnnotations: Record<string, string> = {};

  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#tick();
  }

  /** Stops renewing and gives the Lease up (best effort) so a follower need not wait out the duration. */
  async stop(release = true): Promise<void> {
    this.#running = false;
    this.#timer?.();
    this.#timer = undefined;
    const held = this.#renewedAtMs !== undefined;
    this.#renewedAtMs = undefined;
    if (this.#wasLeader) this.#setLeader(false);
    if (release && held && this.#observed) {
      try {
        const lease = await this.#o.api.get<Lease>(paths.lease(this.#o.namespace, this.#o.name));
        if (lease.spec?.holderIdentity === this.#o.identity) {
          await this.#o.api.replace(paths.lease(this.#o.namespace, this.#o.name), {
            ...lease,
            spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime(this.#o.clock.now()) },
          });
        }
      } catch (err) {
        this.#o.logger.debug({ err }, 'releasing the lease failed; it expires on its own');
      }
    }
  }

  #setLeader(leader: boolean): void {
    this.#wasLeader = leader;
    this.#o.logger.info({ identity: this.#o.identity, lease: this.#o.name, leader, term: this.#term }, leader ? 'became leader' : 'stopped leading');
    try {
      this.#o.onChange?.(leader);
    } catch (err) {
      this.#o.logger.warn({ err }, 'leader change listener threw');
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer?.();
    this.#timer = this.#o.clock.setTimeout(() => void this.#tick(), this.#o.retryPeriodMs);
  }

  async #tick(): Promise<void> {
    if (!this.#running || this.#busy) return;
    this.#busy = true;
    try {
      await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'lease acquire/renew failed');
    } finally {
      this.#busy = false;
      this.isLeader();
      this.#schedule();
    }
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { api, namespace, name, identity, clock } = this.#o;
    const sentAt = clock.now();
    const durationSeconds = Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000));
    let lease: Lease | undefined;
    try {
      lease = await api.get<Lease>(paths.lease(namespace, name));
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
    if (!this.#running) return;
    if (lease === undefined) {
      const created = await api.create<Lease>(paths.leases(namespace), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace, ...(this.#o.annotations ? { annotations: this.#o.annotations } : {}) },
        spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: microTime(sentAt), renewTime: microTime(sentAt), leaseTransitions: 0 },
      });
      this.#took(created, sentAt);
      return;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const observed = { holder, renewTime: spec.renewTime ?? '', rv: lease.metadata.resourceVersion ?? '', transitions: spec.leaseTransitions ?? 0 };
    if (!this.#observed || this.#observed.holder !== observed.holder || this.#observed.renewTime !== observed.renewTime) this.#observedAtMs = clock.now();
    this.#observed = observed;
    this.observedAnnotations = { ...lease.metadata.annotations };
    const heldByUs = holder === identity;
    const leaseMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    const expired = holder === '' || clock.now() - this.#observedAtMs >= leaseMs;
    if (!heldByUs && !expired) {
      this.#renewedAtMs = undefined;
      return;
    }
    const transitions = heldByUs ? observed.transitions : observed.transitions + 1;
    const updated = await api.replace<Lease>(paths.lease(namespace, name), {
      ...lease,
      metadata: { ...lease.metadata, annotations: { ...lease.metadata.annotations, ...this.#o.annotations } },
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: heldByUs ? (spec.acquireTime ?? microTime(sentAt)) : microTime(sentAt),
        renewTime: microTime(sentAt),
        leaseTransitions: transitions,
      },
    });
    this.#took(updated, sentAt);
  }

  #took(lease: Lease, sentAt: number): void {
    if (!this.#running) return;
    this.#observed = {
      holder: lease.spec?.holderIdentity ?? '',
      renewTime: lease.spec?.renewTime ?? '',
      rv: lease.metadata.resourceVersion ?? '',
      transitions: lease.spec?.leaseTransitions ?? 0,
    };
    this.#observedAtMs = this.#o.clock.now();
    this.#term = this.#observed.transitions;
    this.#renewedAtMs = sentAt;
    if (!this.#wasLeader && this.isLeader()) this.#setLeader(true);
  }
}
