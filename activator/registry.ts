/**
 * The activator's registry of revisions and their pods: one entry per revision seen (its info, pod set, throttler and
 * mode), endpoint updates applied as they come (kept for a revision not known yet), and a count of requests per pod
 * address so that a pod that left is closed only when its last request finishes. Probing is probing.ts's.
 */
import type { Cancel } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { revisionKey } from '../common/stats.js';
import type { ActivatorConfig } from './config.js';
import type { EndpointsUpdate, RevisionInfo, RevisionSource } from './endpoints.js';
import { EndpointSet } from './logic/endpoint-set.js';
import { RevisionThrottler } from './logic/throttler.js';

export type RevisionMode = 'serve' | 'proxy';

/** One revision as the activator knows it. */
export interface RevState {
  readonly key: string;
  info: RevisionInfo;
  readonly pods: EndpointSet;
  throttler: RevisionThrottler;
  mode: RevisionMode;
  /** Serve-mode round-robin position. */
  rr: number;
  /** Proxy-mode requests from arrival to end (the concurrency gauge). */
  concurrency: number;
  /** probing.ts: the re-probe timer while some pod is unverified, and the addresses being probed now. */
  probeTimer: Cancel | undefined;
  readonly probing: Set<string>;
}

export interface RegistryDeps {
  revisions: RevisionSource;
  config: Readonly<ActivatorConfig>;
  random: () => number;
  logger: Logger;
  /** Closes the forwarder's pool and sessions to a pod that left and has no request left. */
  closeUpstream: (address: string) => Promise<void>;
  /** Some pod of `s` is unverified after an endpoints update: probe it (probing.ts). */
  probe: (s: RevState) => void;
}

export class RevisionRegistry {
  readonly #deps: RegistryDeps;
  readonly #revs = new Map<string, RevState>();
  readonly #pendingEndpoints = new Map<string, EndpointsUpdate>();
  /** Requests per upstream address (both modes), so a pod that left is closed only once its requests finish. */
  readonly #perUpstream = new Map<string, number>();
  readonly #closeWhenIdle = new Set<string>();
  #activatorIndex: number;
  #numActivators: number;

  constructor(deps: RegistryDeps) {
    this.#deps = deps;
    this.#activatorIndex = deps.config.activatorIndex;
    this.#numActivators = deps.config.numActivators;
  }

  /** Every revision seen so far. */
  values(): IterableIterator<RevState> {
    return this.#revs.values();
  }

  get(namespace: string, revision: string): RevState | undefined {
    return this.#revs.get(revisionKey(namespace, revision));
  }

  /** The entry for `info`, created on first sight; a changed containerConcurrency takes effect once the revision is idle. */
  stateFor(info: RevisionInfo): RevState {
    const key = revisionKey(info.namespace, info.revision);
    let s = this.#revs.get(key);
    if (!s) {
      s = {
        key,
        info,
        pods: new EndpointSet({ trustReady: this.#deps.config.trustReadyEndpoints }),
        throttler: this.#newThrottler(info),
        mode: 'proxy',
        rr: 0,
        concurrency: 0,
        probeTimer: undefined,
        probing: new Set(),
      };
      this.#revs.set(key, s);
      const pending = this.#pendingEndpoints.get(key);
      if (pending) {
        this.#pendingEndpoints.delete(key);
        this.#applyEndpoints(s, pending);
      }
    } else if (s.info !== info) {
      if (s.info.containerConcurrency !== info.containerConcurrency && s.throttler.active === 0 && s.throttler.waiting === 0) {
        s.throttler = this.#newThrottler(info);
        s.throttler.setPods(s.pods.healthy());
      }
      s.info = info;
    }
    return s;
  }

  /** The EndpointsSource's callback. */
  readonly onEndpoints = (u: EndpointsUpdate): void => {
    const info = this.#deps.revisions.byName(u.namespace, u.revision);
    if (!info) {
      // Kept (the latest set only) until the revision becomes known: sources need not be updated in order.
      this.#pendingEndpoints.set(revisionKey(u.namespace, u.revision), u);
      return;
    }
    this.#applyEndpoints(this.stateFor(info), u);
  };

  /** docs/knative-parity.md §b3: this activator's share of every revision's pods. */
  setActivatorAssignment(index: number, count: number): void {
    this.#activatorIndex = index;
    this.#numActivators = Math.max(1, count);
    for (const s of this.#revs.values()) s.throttler.setActivatorAssignment(this.#activatorIndex, this.#numActivators);
  }

  /** Serve mode: round robin over the pods the backend calls ready; undefined if there are none. */
  pickServePod(s: RevState): string | undefined {
    const ready = s.pods.ready();
    if (ready.length === 0) return undefined;
    return ready[s.rr++ % ready.length]!.address;
  }

  /** A request to `address` starts. */
  upstreamIn(address: string): void {
    this.#perUpstream.set(address, (this.#perUpstream.get(address) ?? 0) + 1);
  }

  /** A request to `address` ended: if the pod left and this was its last request, its pool is closed. */
  upstreamOut(address: string): void {
    const n = (this.#perUpstream.get(address) ?? 1) - 1;
    if (n <= 0) this.#perUpstream.delete(address);
    else this.#perUpstream.set(address, n);
    this.#maybeCloseUpstream(address);
  }

  #newThrottler(info: RevisionInfo): RevisionThrottler {
    return new RevisionThrottler({
      containerConcurrency: info.containerConcurrency,
      random: this.#deps.random,
      activatorIndex: this.#activatorIndex,
      numActivators: this.#numActivators,
    });
  }

  #applyEndpoints(s: RevState, u: EndpointsUpdate): void {
    const delta = s.pods.update(u.endpoints);
    for (const ep of delta.removed) {
      this.#closeWhenIdle.add(ep.address);
      this.#maybeCloseUpstream(ep.address);
    }
    for (const ep of delta.added) this.#closeWhenIdle.delete(ep.address);
    s.throttler.setPods(s.pods.healthy());
    if (s.pods.unverified().length > 0) this.#deps.probe(s);
  }

  #maybeCloseUpstream(address: string): void {
    if (!this.#closeWhenIdle.has(address) || (this.#perUpstream.get(address) ?? 0) > 0) return;
    this.#closeWhenIdle.delete(address);
    // Another revision may still list the same address (a reused port): keep its pool.
    for (const s of this.#revs.values()) if (s.pods.has(address)) return;
    this.#deps.closeUpstream(address).catch((err: unknown) => this.#deps.logger.warn({ err, address }, 'closing upstream pool failed'));
  }
}
