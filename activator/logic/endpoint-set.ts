/**
 * Which of a revision's pods may take requests (docs/knative-parity.md §b4, `revision_backends.go`): every new address is
 * probed until it passes, then used at once, even before the backend calls it ready; an address that fails (a probe,
 * or a connection that never carried the request) goes back to probing; an address that leaves the set is dropped.
 * Pure state: the prober adapter asks what to probe and reports results.
 */
import type { Endpoint } from '../endpoints.js';

export type EndpointState = 'unverified' | 'healthy';

interface Known {
  endpoint: Endpoint;
  state: EndpointState;
}

/** What an update changed, so the adapter can close pools of pods that left and probe new ones. */
export interface EndpointDelta {
  readonly added: readonly Endpoint[];
  readonly removed: readonly Endpoint[];
}

export class EndpointSet {
  readonly #known = new Map<string, Known>();
  /** Skip probing for endpoints the backend already calls ready (Knative outside mesh mode). */
  readonly #trustReady: boolean;

  constructor(opts: { trustReady?: boolean } = {}) {
    this.#trustReady = opts.trustReady ?? false;
  }

  /** Replaces the set. Known addresses keep their state, except that a pod that was ready and no longer is must be probed again. */
  update(endpoints: readonly Endpoint[]): EndpointDelta {
    const seen = new Set<string>();
    const added: Endpoint[] = [];
    for (const ep of endpoints) {
      if (seen.has(ep.address)) continue;
      seen.add(ep.address);
      const k = this.#known.get(ep.address);
      if (!k) {
        this.#known.set(ep.address, { endpoint: ep, state: this.#trustReady && ep.ready ? 'healthy' : 'unverified' });
        added.push(ep);
        continue;
      }
      // §b4: a pod moving from ready to not-ready is dropped and re-probed.
      if (k.endpoint.ready && !ep.ready) k.state = 'unverified';
      k.endpoint = ep;
    }
    const removed: Endpoint[] = [];
    for (const [addr, k] of this.#known) {
      if (!seen.has(addr)) {
        this.#known.delete(addr);
        removed.push(k.endpoint);
      }
    }
    return { added, removed };
  }

  /** Records a passed probe. Returns true if the pod just became usable. Unknown addresses are ignored. */
  markHealthy(address: string): boolean {
    const k = this.#known.get(address);
    if (!k || k.state === 'healthy') return false;
    k.state = 'healthy';
    return true;
  }

  /** Records a failure (probe, or a request that could not reach the pod). Returns true if the pod was usable. */
  markFailed(address: string): boolean {
    const k = this.#known.get(address);
    if (!k || k.state === 'unverified') return false;
    k.state = 'unverified';
    return true;
  }

  has(address: string): boolean {
    return this.#known.has(address);
  }

  /** Pods that passed their probe, to hand to the throttler. */
  healthy(): Endpoint[] {
    return [...this.#known.values()].filter((k) => k.state === 'healthy').map((k) => k.endpoint);
  }

  /** Pods still to be probed. */
  unverified(): Endpoint[] {
    return [...this.#known.values()].filter((k) => k.state === 'unverified').map((k) => k.endpoint);
  }

  /** Pods the backend calls ready (serve mode uses these). */
  ready(): Endpoint[] {
    return [...this.#known.values()].filter((k) => k.endpoint.ready).map((k) => k.endpoint);
  }

  get size(): number {
    return this.#known.size;
  }
}
