/** Time-bucketed window averages, linear and weighted-exponential, exactly as Knative's KPA keeps them (docs/knative-parity.md §c3). */
import type { AggregationAlgorithm } from '../config/revision-spec.js';

/**
 * A sliding window of per-granule sums. Times are milliseconds since the epoch; the window is split into
 * `ceil(window / granularity)` buckets kept in a ring indexed by `floor(timeMs / granularity)`.
 */
export interface MetricWindow {
  /** Adds `value` to the bucket of `nowMs` (values landing in the same bucket are summed, §c2). */
  record(nowMs: number, value: number): void;
  /** The window's average at `nowMs` (§c3). */
  average(nowMs: number): number;
  /** True when nothing was written for longer than the window (`now − lastWrite > window`, both truncated to the granule). */
  isEmpty(nowMs: number): boolean;
  /**
   * Changes the window length, keeping the newest buckets (§c3 "Resizing a window keeps the newest buckets").
   * Knative checks data freshness against the wall clock here; we take `nowMs` instead. Without it the data is
   * assumed fresh (it is copied whenever there was any write).
   */
  resize(windowMs: number, nowMs?: number): void;
}

/** The default bucket width: 1 s (§c2 "1 s buckets"). */
export const BUCKET_GRANULARITY_MS = 1000;

/** The sum of weights the weighted-exponential average should reach (Knative's `weightPrecision`). */
const WEIGHT_PRECISION = 0.9999;
/** Lower bound of the decay coefficient so that very long windows still decay (Knative's `minExponent`). */
const MIN_EXPONENT = 0.2;
/** Linear averages are rounded to this many decimals (§c3). */
const PRECISION_DIGITS = 6;

/**
 * §c3 weighted-exponential coefficient: `m = max(1 − 0.0001^(1/#buckets), 0.2)`.
 * 6 buckets: 1 − 10^(−4/6) = 1 − 0.215443 = 0.784557; 60 buckets: 1 − 10^(−4/60) = 0.142304 → 0.2.
 */
export function smoothingCoefficient(buckets: number): number {
  return Math.max(1 - Math.pow(1 - WEIGHT_PRECISION, 1 / buckets), MIN_EXPONENT);
}

/** Rounds half away from zero to `digits` decimals, as Go's `math.Round(f·10^n)/10^n`. */
export function roundToDigits(value: number, digits: number): number {
  const p = Math.pow(10, digits);
  return (Math.sign(value) * Math.round(Math.abs(value) * p)) / p;
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/**
 * Knative's `TimedFloat64Buckets`: the linear window average with partial-window rules (§c3).
 * `lastWrite` starts at −∞ and `firstWrite` is undefined until the first write.
 */
export class LinearWindow implements MetricWindow {
  protected buckets: Float64Array;
  protected readonly granularityMs: number;
  protected windowMs: number;
  /** Sum of all buckets, including ones outside [firstWrite, lastWrite] (always 0 there after a reset). */
  protected windowTotal = 0;
  protected firstWrite: number | undefined = undefined;
  protected lastWrite = Number.NEGATIVE_INFINITY;

  constructor(windowMs: number, granularityMs: number = BUCKET_GRANULARITY_MS) {
    if (!(windowMs > 0) || !(granularityMs > 0)) throw new RangeError(`window ${windowMs} ms and granularity ${granularityMs} ms must be > 0`);
    this.granularityMs = granularityMs;
    this.windowMs = windowMs;
    this.buckets = new Float64Array(Math.ceil(windowMs / granularityMs));
  }

  /** Bucket start time for `t` (Go `Truncate`). */
  protected truncate(t: number): number {
    return Math.floor(t / this.granularityMs) * this.granularityMs;
  }

  /** Monotonic bucket number (Knative `timeToIndex`: unix seconds / granularity seconds). */
  protected index(t: number): number {
    return Math.floor(t / this.granularityMs);
  }

  record(nowMs: number, value: number): void {
    const bucketTime = this.truncate(nowMs);
    const writeIdx = this.index(nowMs);
    const n = this.buckets.length;
    if (this.lastWrite !== bucketTime) {
      // §c3: a write at or before lastWrite − window is ignored.
      if (!(bucketTime + this.windowMs > this.lastWrite)) return;
      // First write ever, or an out-of-order write older than the first one: move firstWrite earlier.
      if (this.firstWrite === undefined || this.firstWrite > bucketTime) this.firstWrite = bucketTime;
      if (bucketTime > this.lastWrite) {
        if (bucketTime - this.lastWrite >= this.windowMs) {
          // §c3: a gap of at least a window resets everything, including firstWrite.
          this.firstWrite = bucketTime;
          this.buckets.fill(0);
          this.windowTotal = 0;
        } else {
          // Zero the buckets skipped since the last write, and the one we are about to reuse.
          for (let i = this.index(this.lastWrite) + 1; i <= writeIdx; i++) {
            const k = mod(i, n);
            this.windowTotal -= this.buckets[k]!;
            this.buckets[k] = 0;
          }
        }
        this.lastWrite = bucketTime;
      }
      // Else lastWrite − window < bucketTime < lastWrite: an out-of-order write inside the window, added below.
    }
    const k = mod(writeIdx, n);
    this.buckets[k] = this.buckets[k]! + value;
    this.windowTotal += value;
  }

  isEmpty(nowMs: number): boolean {
    return this.truncate(nowMs) - this.lastWrite > this.windowMs;
  }

  /**
   * Number of buckets from firstWrite to lastWrite inclusive. After a stale resize firstWrite is unset (Knative's zero
   * time) and a write into the last-written bucket does not set it again; Knative's subtraction from the zero time then
   * saturates, so the divisor becomes the whole window. Infinity reproduces that through the callers' min().
   */
  protected bucketsSinceFirstWrite(): number {
    if (this.firstWrite === undefined) return Infinity;
    return Math.floor((this.lastWrite - this.firstWrite) / this.granularityMs) + 1;
  }

  average(nowMs: number): number {
    const now = this.truncate(nowMs);
    const d = now - this.lastWrite;
    const n = this.buckets.length;
    if (d <= 0) {
      // §c3: last write at/after now → total / min(buckets since first write inclusive, #buckets).
      const numB = Math.min(this.bucketsSinceFirstWrite(), n);
      return roundToDigits(this.windowTotal / numB, PRECISION_DIGITS);
    }
    if (d < this.windowMs) {
      // §c3: last write Δ < window ago → drop the buckets after the last write (they hold data older than a window),
      // divide by min(buckets since first write, #buckets − Δbuckets).
      const stIdx = this.index(this.lastWrite);
      const eIdx = this.index(now);
      let total = this.windowTotal;
      for (let i = stIdx + 1; i <= eIdx; i++) total -= this.buckets[mod(i, n)]!;
      const numB = Math.min(this.bucketsSinceFirstWrite(), n - (eIdx - stIdx));
      return roundToDigits(total / numB, PRECISION_DIGITS);
    }
    // §c3: nothing for a whole window → 0.
    return 0;
  }

  resize(windowMs: number, nowMs?: number): void {
    if (windowMs === this.windowMs) return;
    if (!(windowMs > 0)) throw new RangeError(`window ${windowMs} ms must be > 0`);
    const numBuckets = Math.ceil(windowMs / this.granularityMs);
    const next = new Float64Array(numBuckets);
    let total = 0;
    const now = nowMs === undefined ? this.lastWrite : this.truncate(nowMs);
    if (now - this.lastWrite <= this.windowMs) {
      // Copy the newest min(old, new) buckets, walking back from the last write.
      const oldN = this.buckets.length;
      let t = this.index(this.lastWrite);
      for (let i = 0; i < Math.min(numBuckets, oldN); i++) {
        const v = this.buckets[mod(t, oldN)]!;
        next[mod(t, numBuckets)] = v;
        total += v;
        t--;
      }
      // As Knative: firstWrite becomes the earliest time the old window could have held data.
      this.firstWrite = this.lastWrite - (oldN - 1) * this.granularityMs;
    } else {
      this.firstWrite = undefined;
    }
    this.windowMs = windowMs;
    this.buckets = next;
    this.windowTotal = total;
  }
}

/**
 * Knative's `WeightedFloat64Buckets` (§c3): `Σ_i b_i·m·(1−m)^age_i`, newest bucket age 0, seconds since the last
 * write counted as age, no normalisation and no rounding.
 */
export class WeightedWindow extends LinearWindow {
  #coefficient: number;

  constructor(windowMs: number, granularityMs: number = BUCKET_GRANULARITY_MS) {
    super(windowMs, granularityMs);
    this.#coefficient = smoothingCoefficient(this.buckets.length);
  }

  /** The decay coefficient m for the current bucket count. */
  get coefficient(): number {
    return this.#coefficient;
  }

  override average(nowMs: number): number {
    const now = this.truncate(nowMs);
    if (this.isEmpty(now)) return 0;
    const n = this.buckets.length;
    const m = this.#coefficient;
    let numB = n;
    let multiplier = m;
    if (now > this.lastWrite) {
      // Empty seconds since the last write age every bucket: skip straight to m·(1−m)^numZ.
      const numZ = Math.floor((now - this.lastWrite) / this.granularityMs);
      multiplier *= Math.pow(1 - m, numZ);
      numB -= numZ;
    }
    const start = this.index(this.lastWrite);
    let sum = 0;
    for (let i = 0; i < numB; i++) {
      sum += this.buckets[mod(start - i, n)]! * multiplier;
      multiplier *= 1 - m;
    }
    return sum;
  }

  override resize(windowMs: number, nowMs?: number): void {
    super.resize(windowMs, nowMs);
    this.#coefficient = smoothingCoefficient(this.buckets.length);
  }
}

/** Creates the window for an aggregation algorithm (annotation `metric-aggregation-algorithm`, §c3). */
export function createWindow(algorithm: AggregationAlgorithm, windowMs: number, granularityMs: number = BUCKET_GRANULARITY_MS): MetricWindow {
  return algorithm === 'weighted-exponential' ? new WeightedWindow(windowMs, granularityMs) : new LinearWindow(windowMs, granularityMs);
}
