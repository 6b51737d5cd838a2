/**
 * Per-revision throttler (docs/knative-parity.md §b3, `pkg/activator/net/throttler.go`): one revision breaker whose capacity is
 * this activator's share of the pods' concurrency, plus one non-blocking tracker per pod, so a request is only ever
 * dispatched to a pod with a free slot and no pod ever exceeds containerConcurrency because of this activator.
 * No timers and no I/O: waiting is bounded by the AbortSignal the caller passes.
 */
import { Breaker, MAX_BREAKER_CAPACITY, type Release } from '../../common/breaker.js';
import { assignPods, revisionCapacity, sortAddresses } from './capacity.js';
import { policyFor, type LbPolicy, type PolicyTracker } from './lb-policy.js';

/** One pod as seen by the throttler: in-flight count and, for CC > 0, a breaker of capacity CC used only with tryAcquire. */
export class PodTracker implements PolicyTracker {
  readonly name: string;
  readonly address: string;
  readonly #breaker: Breaker | undefined;
  #inFlight = 0;

  constructor(name: string, address: string, containerConcurrency: number) {
    this.name = name;
    this.address = address;
    this.#breaker =
      containerConcurrency > 0
        ? new Breaker({ queueDepth: 1, maxConcurrency: containerConcurrency, initialCapacity: containerConcurrency })
        : undefined;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  tryAcquire(): Release | undefined {
    const inner = this.#breaker ? this.#breaker.tryAcquire() : noop;
    if (!inner) return undefined;
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      inner();
    };
  }

  /** §b3: tracker capacities are reset to CC on every recomputation. */
  resetCapacity(containerConcurrency: number): void {
    if (this.#breaker && containerConcurrency > 0) this.#breaker.updateConcurrency(containerConcurrency);
  }
}

function noop(): void {}

/** What `acquire` hands back: the pod to send to and the release to call exactly once when the request ends. */
export interface Slot {
  readonly tracker: PodTracker;
  readonly release: Release;
}

export interface ThrottlerOptions {
  /** 0 = unlimited. */
  containerConcurrency: number;
  /** [0, 1), for power of two choices. */
  random: () => number;
  /** This activator's index among the revision's activators (−1 = not yet known: use every pod). */
  activatorIndex?: number;
  /** How many activators share the revision. */
  numActivators?: number;
}

interface ChangeWaiter {
  resolve: () => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class RevisionThrottler {
  readonly containerConcurrency: number;
  readonly #breaker: Breaker;
  readonly #policy: LbPolicy<PodTracker>;
  /** Every usable pod by address (this activator's share, in address order, is #assigned). */
  #trackers = new Map<string, PodTracker>();
  #assigned: PodTracker[] = [];
  #activatorIndex: number;
  #numActivators: number;
  #changeWaiters: ChangeWaiter[] = [];

  constructor(opts: ThrottlerOptions) {
    this.containerConcurrency = opts.containerConcurrency;
    this.#activatorIndex = opts.activatorIndex ?? 0;
    this.#numActivators = opts.numActivators ?? 1;
    this.#policy = policyFor<PodTracker>(opts.containerConcurrency, opts.random);
    // Revision breaker (§b3): capacity starts at 0; waiting is bounded by the caller (HoldBudget + signal), so the
    // queue depth here is Knative's practically-unbounded one.
    this.#breaker = new Breaker({
      queueDepth: MAX_BREAKER_CAPACITY,
      maxConcurrency: MAX_BREAKER_CAPACITY,
      initialCapacity: 0,
    });
  }

  /** Current revision capacity (§b3). */
  get capacity(): number {
    return this.#breaker.capacity;
  }

  /** Requests waiting for capacity. */
  get waiting(): number {
    return this.#breaker.waiting + this.#changeWaiters.length;
  }

  /** Requests holding a slot. */
  get active(): number {
    return this.#breaker.active;
  }

  /** The pods this activator currently uses, in address order. */
  get assigned(): readonly PodTracker[] {
    return this.#assigned;
  }

  /** Tracker for an address, if the pod is usable. */
  tracker(address: string): PodTracker | undefined {
    return this.#trackers.get(address);
  }

  /**
   * Replaces the set of usable pods. Existing trackers keep their in-flight counts (so a pod that stays never gets
   * more than CC); trackers of pods that left are forgotten, and their in-flight requests finish on their own.
   */
  setPods(pods: readonly { name: string; address: string }[]): void {
    const next = new Map<string, PodTracker>();
    for (const p of sortAddresses(pods)) {
      next.set(p.address, this.#trackers.get(p.address) ?? new PodTracker(p.name, p.address, this.containerConcurrency));
    }
    this.#trackers = next;
    this.#recompute();
  }

  /** §b3: this activator's position among the revision's activators. */
  setActivatorAssignment(index: number, numActivators: number): void {
    this.#activatorIndex = index;
    this.#numActivators = numActivators;
    this.#recompute();
  }

  /**
   * A slot right now without waiting (the hot path when capacity exists), or undefined if the request would have to
   * wait: no free revision slot, requests already queued (no jumping the queue), or no tracker with room.
   */
  tryAcquireNow(): Slot | undefined {
    const revRelease = this.#breaker.tryAcquire();
    if (!revRelease) return undefined;
    const pick = this.#policy(this.#assigned);
    if (!pick) {
      revRelease();
      return undefined;
    }
    return this.#slot(pick, revRelease);
  }

  /**
   * Waits for a slot on a pod with room. Rejects with the signal's reason if it aborts first. A race where the
   * revision breaker admits a request but no tracker has room (capacity just shrank) waits for the next change
   * instead of spinning, then goes back through the breaker (Knative loops the same way).
   */
  async acquire(signal?: AbortSignal): Promise<Slot> {
    for (;;) {
      const revRelease = await this.#breaker.acquire(signal);
      const pick = this.#policy(this.#assigned);
      if (pick) return this.#slot(pick, revRelease);
      revRelease();
      await this.#waitForChange(signal);
    }
  }

  #slot(pick: { tracker: PodTracker; release: Release }, revRelease: Release): Slot {
    let done = false;
    return {
      tracker: pick.tracker,
      release: () => {
        if (done) return;
        done = true;
        pick.release();
        revRelease();
        this.#notifyChange();
      },
    };
  }

  /** §b3: reset tracker capacities, re-slice the pods for this activator, and set the revision capacity. */
  #recompute(): void {
    const all = [...this.#trackers.values()];
    if (this.containerConcurrency > 0) {
      for (const t of all) t.resetCapacity(this.containerConcurrency);
      this.#assigned = assignPods(all, this.#activatorIndex, this.#numActivators);
    } else {
      this.#assigned = all;
    }
    this.#breaker.updateConcurrency(revisionCapacity(this.containerConcurrency, this.#assigned.length));
    this.#notifyChange();
  }

  #waitForChange(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const w: ChangeWaiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          this.#changeWaiters = this.#changeWaiters.filter((x) => x !== w);
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#changeWaiters.push(w);
    });
  }

  #notifyChange(): void {
    if (this.#changeWaiters.length === 0) return;
    const ws = this.#changeWaiters;
    this.#changeWaiters = [];
    for (const w of ws) {
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('aborted');
}
