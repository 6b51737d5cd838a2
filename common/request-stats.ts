/**
 * Time-weighted request accounting for the autoscaler (docs/knative-parity.md §a5, §b5): pure, fed `(event, nowMs)`.
 * Knative's `network.RequestStats` (knative/networking pkg/http/stats/request.go), used by the queue-proxy's stats
 * reporter and, per revision, by the activator's concurrency reporter.
 */

/** What happened to one request: arrival (`in`) or completion (`out`); `proxied` = it came through the activator. */
export type ReqEvent = 'in' | 'out' | 'proxiedIn' | 'proxiedOut';

/** One reporting period's raw figures. */
export interface RequestStatsReport {
  /** ∫c dt / elapsed over the period. */
  averageConcurrency: number;
  averageProxiedConcurrency: number;
  /** Arrivals in the period (not divided by the period). */
  requestCount: number;
  proxiedRequestCount: number;
}

/**
 * Concurrency and arrival counter. On each event, first add `c·Δt` to the integral (Δt since the previous event or report,
 * ignored if negative), then apply the event. `report(nowMs)` closes the period: averages = integral / period length,
 * then integrals and counts reset while current concurrency carries over.
 *
 * Worked example: a request arrives at t=0 and leaves at t=250 ms, a second arrives at t=500 ms and is still running;
 * report at t=1000 → ∫c dt = 1·0.25 + 0·0.25 + 1·0.5 = 0.75 s, average 0.75, count 2.
 */
export class RequestStats {
  #lastChangeMs: number;
  #periodStartMs: number;
  #concurrency = 0;
  #proxiedConcurrency = 0;
  #integral = 0;
  #proxiedIntegral = 0;
  #count = 0;
  #proxiedCount = 0;

  constructor(startMs: number) {
    this.#lastChangeMs = startMs;
    this.#periodStartMs = startMs;
  }

  /** Requests currently counted (arrived, not yet finished), queued ones included. */
  get concurrency(): number {
    return this.#concurrency;
  }

  get proxiedConcurrency(): number {
    return this.#proxiedConcurrency;
  }

  #compute(nowMs: number): void {
    const dtMs = nowMs - this.#lastChangeMs;
    if (dtMs > 0) {
      this.#integral += (this.#concurrency * dtMs) / 1000;
      this.#proxiedIntegral += (this.#proxiedConcurrency * dtMs) / 1000;
      this.#lastChangeMs = nowMs;
    }
  }

  handle(event: ReqEvent, nowMs: number): void {
    this.#compute(nowMs);
    switch (event) {
      case 'in':
        this.#concurrency++;
        this.#count++;
        break;
      case 'proxiedIn':
        this.#concurrency++;
        this.#count++;
        this.#proxiedConcurrency++;
        this.#proxiedCount++;
        break;
      case 'out':
        this.#concurrency = Math.max(0, this.#concurrency - 1);
        break;
      case 'proxiedOut':
        this.#concurrency = Math.max(0, this.#concurrency - 1);
        this.#proxiedConcurrency = Math.max(0, this.#proxiedConcurrency - 1);
        break;
    }
  }

  /** Closes the period ending at `nowMs` and starts the next one. An empty or negative period reports zero averages. */
  report(nowMs: number): RequestStatsReport {
    this.#compute(nowMs);
    const secs = (nowMs - this.#periodStartMs) / 1000;
    const out: RequestStatsReport = {
      averageConcurrency: secs > 0 ? this.#integral / secs : 0,
      averageProxiedConcurrency: secs > 0 ? this.#proxiedIntegral / secs : 0,
      requestCount: this.#count,
      proxiedRequestCount: this.#proxiedCount,
    };
    this.#integral = 0;
    this.#proxiedIntegral = 0;
    this.#count = 0;
    this.#proxiedCount = 0;
    if (nowMs > this.#periodStartMs) this.#periodStartMs = nowMs;
    return out;
  }
}
