/**
 * Pod probing (docs/knative-parity.md §b4): every unverified pod of a revision is probed at once, then every
 * `probeIntervalMs` while any stays unverified; a pod that passes joins the throttler. A pod whose connection failed
 * before it carried a request is dropped from the throttler and probed again.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import type { Prober } from './http/prober.js';
import type { RevState } from './registry.js';

export interface PodProbingDeps {
  prober: Prober;
  clock: Clock;
  logger: Logger;
  probeIntervalMs: number;
}

export class PodProbing {
  readonly #deps: PodProbingDeps;
  readonly #states = new Set<RevState>();
  #stopped = false;

  constructor(deps: PodProbingDeps) {
    this.#deps = deps;
  }

  /** Probes every unverified pod of `s` now, then every probeIntervalMs while any stays unverified. */
  readonly probeNow = (s: RevState): void => {
    if (this.#stopped) return;
    const { prober, clock, logger } = this.#deps;
    for (const ep of s.pods.unverified()) {
      if (s.probing.has(ep.address)) continue;
      s.probing.add(ep.address);
      const address = ep.address;
      void prober(address)
        .catch(() => false)
        .then((ok) => {
          s.probing.delete(address);
          if (this.#stopped) return;
          if (ok && s.pods.markHealthy(address)) {
            logger.debug({ revision: s.key, address }, 'pod passed its probe');
            s.throttler.setPods(s.pods.healthy());
          }
        });
    }
    if (s.pods.unverified().length > 0 && s.probeTimer === undefined) {
      this.#states.add(s);
      s.probeTimer = clock.setInterval(() => {
        if (s.pods.unverified().length === 0) {
          s.probeTimer?.();
          s.probeTimer = undefined;
          this.#states.delete(s);
          return;
        }
        this.probeNow(s);
      }, this.#deps.probeIntervalMs);
    }
  };

  /** A connection to `address` never carried the request: drop the pod and probe it again. */
  podFailed(s: RevState, address: string): void {
    if (s.pods.markFailed(address)) {
      this.#deps.logger.info({ revision: s.key, address }, 'pod unreachable; re-probing');
      s.throttler.setPods(s.pods.healthy());
      this.probeNow(s);
    }
  }

  /** Stops every re-probe timer; probes in flight are ignored when they end. */
  stop(): void {
    this.#stopped = true;
    for (const s of this.#states) {
      s.probeTimer?.();
      s.probeTimer = undefined;
    }
    this.#states.clear();
  }
}
