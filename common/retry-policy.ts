/**
 * When a failed upstream attempt may be tried again, how long to wait, and how many retries the budget allows.
 * Pure logic: time (`nowMs`) and randomness (`random()`) are arguments. Execution lives in common/http/forward.ts.
 *
 * Rules (docs/knative-parity.md §e1): retries are off unless configured (Knative never retries at HTTP level); a retry is only
 * allowed when the upstream never received the request (connection refused or failed before a byte was written) AND
 * the request can be replayed (an idempotent method, or a body we still hold), so a POST is never duplicated. Backoff is
 * Envoy's full jitter (base 25 ms, cap 250 ms). The budget is Linkerd's (Finagle's): over a sliding window, retries may
 * add at most `budgetRatio` of the requests, plus a floor of `budgetMinPerSecond` so a quiet service can still retry.
 */
import { option, type OptionCheck } from './options.js';

export interface RetryConfig {
  /** Retries after the first attempt. Default 2. */
  maxRetries?: number;
  /** Full-jitter base in ms (Envoy 25). */
  baseBackoffMs?: number;
  /** Full-jitter cap in ms (Envoy 250). */
  maxBackoffMs?: number;
  /** Retries may add at most this fraction of requests over the window (Linkerd retryRatio 0.2). */
  budgetRatio?: number;
  /** Floor: this many retries per second are always allowed (Linkerd minRetriesPerSecond 10). */
  budgetMinPerSecond?: number;
  /** Sliding window of the budget (Linkerd ttl 10 s). */
  budgetWindowMs?: number;
  /** A request body up to this size is held so the request can be replayed; larger bodies are streamed, never retried. */
  maxBufferedBodyBytes?: number;
}

export const RETRY_DEFAULTS: Readonly<Required<RetryConfig>> = Object.freeze({
  maxRetries: 2,
  baseBackoffMs: 25,
  maxBackoffMs: 250,
  budgetRatio: 0.2,
  budgetMinPerSecond: 10,
  budgetWindowMs: 10_000,
  maxBufferedBodyBytes: 64 * 1024,
});

/** What each retry setting may be (checked by the forwarder, which takes them as options). */
export const RETRY_OPTIONS: Readonly<Record<keyof RetryConfig, OptionCheck>> = {
  maxRetries: option.nonNegativeInt,
  baseBackoffMs: option.nonNegativeInt,
  maxBackoffMs: option.nonNegativeInt,
  budgetRatio: (v) => (typeof v === 'number' && v >= 0 && v <= 1 ? undefined : `expected a number in [0, 1], got ${JSON.stringify(v)}`),
  budgetMinPerSecond: option.nonNegativeNumber,
  budgetWindowMs: option.positiveInt,
  maxBufferedBodyBytes: option.nonNegativeInt,
};

/** Fills unset fields from RETRY_DEFAULTS. */
export function resolveRetryConfig(config: RetryConfig | undefined): Readonly<Required<RetryConfig>> {
  if (config === undefined) return RETRY_DEFAULTS;
  return Object.freeze({ ...RETRY_DEFAULTS, ...stripUndefined(config) });
}

function stripUndefined(c: RetryConfig): RetryConfig {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(c)) if (typeof v === 'number') out[k] = v;
  return out;
}

/** RFC 9110 §9.2.2 idempotent methods (undici RetryHandler's default list). Upper case. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * Full-jitter backoff before retry number `retry` (1 for the first retry): uniform in
 * [0, min(cap, base · 2^(retry−1))). With base 25 and cap 250: retry 1 → [0, 25), 2 → [0, 50), 3 → [0, 100), 5+ → [0, 250).
 * `random()` must return a value in [0, 1).
 */
export function backoffMs(retry: number, random: () => number, config?: RetryConfig): number {
  const c = resolveRetryConfig(config);
  const exp = Math.max(0, Math.min(30, retry - 1));
  const ceiling = Math.min(c.maxBackoffMs, c.baseBackoffMs * 2 ** exp);
  return Math.floor(random() * ceiling);
}

/** What the forwarder knows about a failed attempt. */
export interface FailedAttempt {
  /** Request method, upper case. */
  method: string;
  /** True if no byte of the request reached the upstream (connection refused, connect timeout, reset while connecting). */
  neverSent: boolean;
  /** True if the request has no body or its whole body is held in memory. */
  bodyReplayable: boolean;
  /** Retries already made for this request. */
  retriesSoFar: number;
}

/**
 * True if the attempt may be retried, budget aside. A request the upstream may have received is never retried:
 * even an idempotent one could have side effects twice, and a POST must never be duplicated.
 */
export function isRetryable(a: FailedAttempt, config?: RetryConfig): boolean {
  const c = resolveRetryConfig(config);
  if (a.retriesSoFar >= c.maxRetries) return false;
  // Only a request the upstream never saw, and only if we can send it again byte for byte. An idempotent method
  // with a streamed (already consumed) body is not replayable; a POST whose small body we hold is, because it
  // never reached the upstream, so it cannot be duplicated.
  return a.neverSent && a.bodyReplayable;
}

/**
 * Retry budget over a sliding window split into 10 buckets. A retry is allowed when
 * retriesInWindow + 1 ≤ budgetMinPerSecond · windowSeconds + budgetRatio · requestsInWindow.
 * Example (defaults): 1000 requests in the last 10 s allow 100 + 200 = 300 retries in that window.
 */
export class RetryBudget {
  readonly #bucketMs: number;
  readonly #floor: number;
  readonly #ratio: number;
  readonly #starts: number[];
  readonly #requests: number[];
  readonly #retries: number[];

  constructor(config?: RetryConfig) {
    const c = resolveRetryConfig(config);
    const buckets = 10;
    this.#bucketMs = Math.max(1, Math.floor(c.budgetWindowMs / buckets));
    this.#floor = (c.budgetMinPerSecond * this.#bucketMs * buckets) / 1000;
    this.#ratio = c.budgetRatio;
    this.#starts = new Array<number>(buckets).fill(-Infinity);
    this.#requests = new Array<number>(buckets).fill(0);
    this.#retries = new Array<number>(buckets).fill(0);
  }

  /** Counts one original request (not a retry). */
  recordRequest(nowMs: number): void {
    const i = this.#bucket(nowMs);
    this.#requests[i] = (this.#requests[i] ?? 0) + 1;
  }

  /** True (and counts the retry) if the budget allows one more retry now. */
  tryAcquireRetry(nowMs: number): boolean {
    const i = this.#bucket(nowMs);
    let requests = 0;
    let retries = 0;
    const oldest = nowMs - this.#bucketMs * this.#starts.length;
    for (let j = 0; j < this.#starts.length; j++) {
      if ((this.#starts[j] ?? -Infinity) > oldest) {
        requests += this.#requests[j] ?? 0;
        retries += this.#retries[j] ?? 0;
      }
    }
    if (retries + 1 > this.#floor + this.#ratio * requests) return false;
    this.#retries[i] = (this.#retries[i] ?? 0) + 1;
    return true;
  }

  /** Index of the bucket for `nowMs`, reset if it last held an older slot. */
  #bucket(nowMs: number): number {
    const slot = Math.floor(nowMs / this.#bucketMs);
    const i = ((slot % this.#starts.length) + this.#starts.length) % this.#starts.length;
    const start = slot * this.#bucketMs;
    if (this.#starts[i] !== start) {
      this.#starts[i] = start;
      this.#requests[i] = 0;
      this.#retries[i] = 0;
    }
    return i;
  }
}
