/**
 * Tide's app circuit breaker (beyond Knative), on opossum 10: opens when failures exceed a percentage of at least
 * `minRequests` requests in a rolling window, fails fast while open, lets exactly one trial through when half-open.
 */
import CircuitBreaker from 'opossum';
import type { Clock } from '../../common/clock.js';
import type { CircuitConfig } from '../config.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** One admitted request's ticket: report whether the app failed it (5xx or a connection error). Idempotent. */
export interface CircuitPass {
  done(failed: boolean): void;
}

/** What the request path needs from a circuit (declared here, implemented by OpossumCircuit and by test fakes). */
export interface CircuitGate {
  /** True while requests must fail fast: open, or half-open with its one trial already taken. */
  isRejecting(): boolean;
  /** Admits a request about to reach the app, or returns undefined when the circuit refuses it. */
  enter(): CircuitPass | undefined;
  /** Seconds a refused client should wait: until the next half-open trial, at least 1. */
  retryAfterSeconds(): number;
  state(): CircuitState;
  onStateChange(fn: (s: CircuitState) => void): void;
  close(): void;
}

class AppFailure extends Error {}

interface Deferred {
  resolve: () => void;
  reject: (e: Error) => void;
  /** Set by the action, which opossum runs synchronously inside fire() only when it admits the call. */
  admitted: boolean;
}

/**
 * The opossum adapter. opossum's own defaults open on the first failure (volumeThreshold 0) and time calls out after 10 s;
 * here `volumeThreshold = minRequests`, `timeout = false` (the forwarder owns timeouts), and the action is a promise we
 * settle when the forward ends, so the app's response still streams to the client while the circuit counts it.
 */
export class OpossumCircuit implements CircuitGate {
  readonly #cb: CircuitBreaker<[Deferred], void>;
  readonly #clock: Clock;
  readonly #resetMs: number;
  #openedAtMs = 0;
  readonly #listeners: ((s: CircuitState) => void)[] = [];

  constructor(config: CircuitConfig, clock: Clock) {
    this.#clock = clock;
    this.#resetMs = config.resetMs;
    this.#cb = new CircuitBreaker<[Deferred], void>((d: Deferred) => new Promise<void>((resolve, reject) => {
      d.resolve = resolve;
      d.reject = reject;
      d.admitted = true;
    }), {
      timeout: false,
      errorThresholdPercentage: config.errorThresholdPercent,
      volumeThreshold: config.minRequests,
      rollingCountTimeout: config.windowMs,
      rollingCountBuckets: 10,
      resetTimeout: config.resetMs,
      allowWarmUp: false,
      capacity: Number.MAX_SAFE_INTEGER,
    });
    this.#cb.on('open', () => {
      this.#openedAtMs = this.#clock.now();
      this.#emit('open');
    });
    this.#cb.on('halfOpen', () => this.#emit('half-open'));
    this.#cb.on('close', () => this.#emit('closed'));
  }

  isRejecting(): boolean {
    return !this.#cb.closed && !this.#cb.pendingClose;
  }

  enter(): CircuitPass | undefined {
    if (this.isRejecting()) return undefined;
    // opossum decides admission synchronously inside fire(): the action runs now or the call is refused.
    const d: Deferred = { resolve: () => undefined, reject: () => undefined, admitted: false };
    const trial = this.#cb.fire(d);
    trial.catch(() => undefined);
    if (!d.admitted) return undefined;
    let settled = false;
    return {
      done: (failed) => {
        if (settled) return;
        settled = true;
        if (failed) d.reject(new AppFailure('app failure'));
        else d.resolve();
      },
    };
  }

  retryAfterSeconds(): number {
    const leftMs = this.#openedAtMs + this.#resetMs - this.#clock.now();
    return Math.max(1, Math.ceil(leftMs / 1000));
  }

  state(): CircuitState {
    if (this.#cb.closed) return 'closed';
    return this.#cb.halfOpen ? 'half-open' : 'open';
  }

  onStateChange(fn: (s: CircuitState) => void): void {
    this.#listeners.push(fn);
  }

  /** Stops opossum's rolling-window timers. */
  close(): void {
    this.#cb.shutdown();
  }

  #emit(s: CircuitState): void {
    for (const fn of this.#listeners) fn(s);
  }
}
