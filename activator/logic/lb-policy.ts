/** Knative's load-balancing policies over pod trackers (docs/knative-parity.md §b3, `pkg/activator/net/lb_policy.go`). */

/** Releases what `tryAcquire` reserved. Idempotent. */
export type Release = () => void;

/** What a policy needs from a pod tracker: its in-flight count and a non-blocking slot reservation. */
export interface PolicyTracker {
  /** Requests this activator has in flight to the pod. */
  readonly inFlight: number;
  /** Reserves a slot, or returns undefined if the pod has none free. Never waits. */
  tryAcquire(): Release | undefined;
}

/** A policy picks a tracker and reserves a slot on it in one step, or returns undefined when no pod has room. */
export type LbPolicy<T extends PolicyTracker> = (trackers: readonly T[]) => { tracker: T; release: Release } | undefined;

/**
 * §b3, CC = 0: power of two choices. Two distinct trackers chosen at random; the one with fewer requests in flight
 * wins, a tie is a coin flip. Trackers have no limit at CC = 0, so the reservation always succeeds.
 * `random` returns values in [0, 1).
 */
export function powerOfTwoChoices<T extends PolicyTracker>(random: () => number): LbPolicy<T> {
  return (trackers) => {
    const n = trackers.length;
    if (n === 0) return undefined;
    if (n === 1) return reserve(trackers[0]!);
    const i = Math.floor(random() * n);
    // Second pick among the other n − 1 trackers: draw in [0, n − 1) and skip over i.
    let j = Math.floor(random() * (n - 1));
    if (j >= i) j++;
    const a = trackers[i]!;
    const b = trackers[j]!;
    let first = a;
    let second = b;
    if (b.inFlight < a.inFlight || (b.inFlight === a.inFlight && random() < 0.5)) {
      first = b;
      second = a;
    }
    return reserve(first) ?? reserve(second);
  };
}

/** §b3, 0 < CC ≤ 3: the first tracker, in address order, with a free slot. */
export function firstAvailable<T extends PolicyTracker>(): LbPolicy<T> {
  return (trackers) => {
    for (const t of trackers) {
      const r = reserve(t);
      if (r) return r;
    }
    return undefined;
  };
}

/**
 * §b3, CC > 3: round robin from a remembered index, skipping full trackers. The index moves past the tracker chosen,
 * so consecutive requests spread over the pods.
 */
export function roundRobin<T extends PolicyTracker>(): LbPolicy<T> {
  let next = 0;
  return (trackers) => {
    const n = trackers.length;
    if (n === 0) return undefined;
    const start = next % n;
    for (let k = 0; k < n; k++) {
      const idx = (start + k) % n;
      const r = reserve(trackers[idx]!);
      if (r) {
        next = idx + 1;
        return r;
      }
    }
    return undefined;
  };
}

/** §b3: the policy Knative picks for a revision's container concurrency. */
export function policyFor<T extends PolicyTracker>(containerConcurrency: number, random: () => number): LbPolicy<T> {
  if (containerConcurrency === 0) return powerOfTwoChoices<T>(random);
  if (containerConcurrency <= 3) return firstAvailable<T>();
  return roundRobin<T>();
}

function reserve<T extends PolicyTracker>(tracker: T): { tracker: T; release: Release } | undefined {
  const release = tracker.tryAcquire();
  return release ? { tracker, release } : undefined;
}
