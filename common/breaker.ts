/**
 * Knative's breaker (docs/knative-parity.md §a4): a semaphore of `capacity` running slots plus a bounded queue.
 * Used by the queue-proxy (capacity = containerConcurrency, depth = 10 × CC) and by the activator
 * (per-revision breaker and non-blocking per-pod trackers).
 */
import { ConfigError, QueueFullError, type ConfigProblem } from './errors.js';

/** Releases a slot. Idempotent: a second call does nothing. */
export type Release = () => void;

export interface BreakerOptions {
  /** Requests that may wait beyond the running ones. Must be > 0. */
  queueDepth: number;
  /** The largest capacity this breaker can ever have. Total admission slots = queueDepth + maxConcurrency. */
  maxConcurrency: number;
  /** Running slots at start, in [0, maxConcurrency]. */
  initialCapacity: number;
}

interface Waiter {
  resolve: (r: Release) => void;
  reject: (e: unknown) => void;
  done: boolean;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Knative's body for a breaker refusal. */
export const QUEUE_FULL_BODY = 'pending request queue full';

/** Largest breaker capacity Knative allows (2^31 − 1). */
export const MAX_BREAKER_CAPACITY = 2_147_483_647;

export class Breaker {
  readonly totalSlots: number;
  readonly #maxConcurrency: number;
  #capacity: number;
  /** Admitted requests, waiting or running. */
  #inFlight = 0;
  /** Requests holding a running slot. */
  #active = 0;
  #waiters: Waiter[] = [];
  #head = 0;

  constructor(opts: BreakerOptions) {
    const problems: ConfigProblem[] = [];
    if (!(opts.queueDepth > 0)) problems.push({ key: 'queueDepth', message: `must be > 0, got ${opts.queueDepth}` });
    if (!(opts.maxConcurrency >= 0)) problems.push({ key: 'maxConcurrency', message: `must be >= 0, got ${opts.maxConcurrency}` });
    if (!(opts.initialCapacity >= 0 && opts.initialCapacity <= opts.maxConcurrency)) {
      problems.push({ key: 'initialCapacity', message: `must be in [0, ${opts.maxConcurrency}], got ${opts.initialCapacity}` });
    }
    if (problems.length > 0) throw new ConfigError('Breaker', problems);
    this.totalSlots = opts.queueDepth + opts.maxConcurrency;
    this.#maxConcurrency = opts.maxConcurrency;
    this.#capacity = opts.initialCapacity;
  }

  /** Admitted requests: waiting plus running (Knative's `InFlight`, the queue-depth gauge). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests holding a running slot. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.#inFlight - this.#active;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /**
   * Takes a running slot without waiting, or returns undefined if none is free (or the queue holds waiters,
   * so a non-blocking caller never jumps the queue). Used for the activator's per-pod trackers.
   */
  tryAcquire(): Release | undefined {
    if (this.#active >= this.#capacity || this.#inFlight >= this.totalSlots || this.waiting > 0) return undefined;
    this.#inFlight++;
    this.#active++;
    return this.#makeRelease();
  }

  /**
   * Admits a request and resolves once it holds a running slot. Rejects at once with a QueueFullError
   * (`pending request queue full`) when waiting plus running requests fill every slot, and with the
   * signal's reason if it aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (this.#inFlight >= this.totalSlots) {
      return Promise.reject(new QueueFullError(QUEUE_FULL_BODY));
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    this.#inFlight++;
    if (this.#active < this.#capacity && this.waiting === 1) {
      // Fast path: nobody is waiting ahead of us (waiting counts this request itself).
      this.#active++;
      return Promise.resolve(this.#makeRelease());
    }
    return new Promise<Release>((resolve, reject) => {
      const w: Waiter = { resolve, reject, done: false, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          if (w.done) return;
          w.done = true;
          this.#inFlight--;
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
    });
  }

  /** Changes the running capacity (Knative `UpdateConcurrency`); raising it wakes waiters. */
  updateConcurrency(capacity: number): void {
    if (!(capacity >= 0 && capacity <= this.#maxConcurrency)) {
      throw new RangeError(`breaker capacity must be in [0, ${this.#maxConcurrency}], got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#dispatch();
  }

  #makeRelease(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#inFlight--;
      this.#dispatch();
    };
  }

  /** Hands free slots to waiters in arrival order, skipping those whose signal aborted. */
  #dispatch(): void {
    while (this.#active < this.#capacity && this.#head < this.#waiters.length) {
      const w = this.#waiters[this.#head]!;
      this.#waiters[this.#head] = undefined as unknown as Waiter;
      this.#head++;
      if (w.done) continue;
      w.done = true;
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      this.#active++;
      w.resolve(this.#makeRelease());
    }
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head);
      this.#head = 0;
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error('aborted');
}
