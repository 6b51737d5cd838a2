/** Sliding maximum over time buckets: the scale-down-delay window (docs/knative-parity.md §c6). */

interface Entry {
  index: number;
  value: number;
}

/**
 * Knative's `max.TimeWindow`: a descending-maxima deque over `ceil(window / granularity)` buckets.
 * Bucket index = `floor(unixSeconds / granularitySeconds)`; values in one bucket keep their maximum; an entry expires
 * when `currentIndex − entryIndex ≥ #buckets`. Expiry happens on `record`, so `current()` is the maximum as of the
 * last record (the decider always records before it reads).
 */
export class TimeWindowMax {
  readonly #buckets: number;
  readonly #granularityMs: number;
  /** Entries in ascending index and strictly descending value order. */
  #maxima: Entry[] = [];

  constructor(windowMs: number, granularityMs = 2000) {
    if (!(windowMs > 0) || !(granularityMs > 0)) throw new RangeError(`window ${windowMs} ms and granularity ${granularityMs} ms must be > 0`);
    this.#granularityMs = granularityMs;
    this.#buckets = Math.ceil(windowMs / granularityMs);
  }

  /** Number of buckets: ceil(delay / 2 s) by default. */
  get size(): number {
    return this.#buckets;
  }

  record(nowMs: number, value: number): void {
    const index = Math.floor(Math.floor(nowMs / 1000) / (this.#granularityMs / 1000));
    const m = this.#maxima;
    // 1. Entries not larger than the new value can never be the maximum again (newer and at least as large).
    while (m.length > 0 && !(value < m[m.length - 1]!.value)) m.pop();
    // 2. Expire entries that left the window.
    while (m.length > 0 && index - m[0]!.index >= this.#buckets) m.shift();
    // 2b. Same bucket recorded twice: keep the larger value.
    const last = m[m.length - 1];
    if (last !== undefined && last.index === index) {
      if (last.value > value) value = last.value;
      m.pop();
    }
    m.push({ index, value });
  }

  /** The maximum over the window as of the last record; 0 before any record. */
  current(): number {
    return this.#maxima[0]?.value ?? 0;
  }
}
