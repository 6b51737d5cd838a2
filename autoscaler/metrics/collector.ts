/** Per-revision metric windows fed by scrapes and activator stats, plus Knative's pod sampling maths (docs/knative-parity.md §c2). */
import { createWindow, type MetricWindow } from '../aggregation/bucketing.js';
import type { AggregationAlgorithm } from '../config/revision-spec.js';
import { emptyStat, type Stat } from '../../common/stats.js';

export interface CollectorOptions {
  metric: 'concurrency' | 'rps';
  stableWindowMs: number;
  panicWindowMs: number;
  algorithm: AggregationAlgorithm;
  /** False when TBC = −1 (no scraping, §c2): an empty window then reads 0 instead of ErrNoData. */
  hasScrapeTarget: boolean;
}

/**
 * The windows of one revision (Knative's `collection`, without the scrape loop: the adapter scrapes and calls
 * `record`). Both metrics are always recorded, as Knative does, so switching `metric` keeps history.
 */
export class MetricCollector {
  #opts: CollectorOptions;
  readonly #concurrencyStable: MetricWindow;
  readonly #concurrencyPanic: MetricWindow;
  readonly #rpsStable: MetricWindow;
  readonly #rpsPanic: MetricWindow;
  /** Latest time seen, used as "now" when resizing (Knative reads the wall clock there). */
  #lastNowMs: number;

  constructor(opts: CollectorOptions, nowMs: number) {
    this.#opts = opts;
    this.#lastNowMs = nowMs;
    // The algorithm is fixed at creation, as in Knative (an update only resizes).
    this.#concurrencyStable = createWindow(opts.algorithm, opts.stableWindowMs);
    this.#concurrencyPanic = createWindow(opts.algorithm, opts.panicWindowMs);
    this.#rpsStable = createWindow(opts.algorithm, opts.stableWindowMs);
    this.#rpsPanic = createWindow(opts.algorithm, opts.panicWindowMs);
  }

  get options(): CollectorOptions {
    return this.#opts;
  }

  /**
   * One stat (from a queue-proxy scrape, already scaled to the revision total, or from the activator).
   * concurrency = avg − proxiedAvg; rps = count − proxiedCount (so activator-proxied requests count once, by the
   * activator); values landing in the same second are summed (§c2).
   */
  record(nowMs: number, stat: Stat): void {
    if (nowMs > this.#lastNowMs) this.#lastNowMs = nowMs;
    const concurrency = stat.averageConcurrentRequests - stat.averageProxiedConcurrentRequests;
    const rps = stat.requestCount - stat.proxiedRequestCount;
    if (!Number.isFinite(concurrency) || !Number.isFinite(rps)) return; // bad input never poisons the windows
    this.#concurrencyStable.record(nowMs, concurrency);
    this.#concurrencyPanic.record(nowMs, concurrency);
    this.#rpsStable.record(nowMs, rps);
    this.#rpsPanic.record(nowMs, rps);
  }

  /**
   * Stable and panic averages of the chosen metric, or undefined for ErrNoData: the stable window is empty (no write
   * for longer than the window) and a scrape target exists (§c2).
   */
  read(nowMs: number): { stable: number; panic: number } | undefined {
    if (nowMs > this.#lastNowMs) this.#lastNowMs = nowMs;
    const [stable, panic] = this.#opts.metric === 'rps' ? [this.#rpsStable, this.#rpsPanic] : [this.#concurrencyStable, this.#concurrencyPanic];
    if (stable.isEmpty(nowMs) && this.#opts.hasScrapeTarget) return undefined;
    return { stable: stable.average(nowMs), panic: panic.average(nowMs) };
  }

  /** Applies new options; windows are resized keeping their newest buckets. The algorithm is not changed. */
  update(opts: CollectorOptions, nowMs: number = this.#lastNowMs): void {
    this.#opts = { ...opts, algorithm: this.#opts.algorithm };
    this.#concurrencyStable.resize(opts.stableWindowMs, nowMs);
    this.#concurrencyPanic.resize(opts.panicWindowMs, nowMs);
    this.#rpsStable.resize(opts.stableWindowMs, nowMs);
    this.#rpsPanic.resize(opts.panicWindowMs, nowMs);
  }
}

/** X = 1.96²·100/5² = 15.3664: the sample size for an unbounded population at 95% confidence, variance 100, MOE 5. */
const UNBOUNDED_SAMPLE_SIZE = (1.96 * 1.96 * 100) / (5 * 5);

/**
 * §c2 sample size: n = N if N ≤ 3 else ceil(N·X/(N+X−1)), X = 15.3664.
 * 5 → ceil(76.832/19.3664) = ceil(3.967) = 4; 10 → 7; 100 → 14; 1000 → 16. Negative N gives 0.
 */
export function sampleSize(readyPods: number): number {
  if (readyPods <= 3) return Math.max(readyPods, 0);
  return Math.ceil((readyPods * UNBOUNDED_SAMPLE_SIZE) / (readyPods + UNBOUNDED_SAMPLE_SIZE - 1));
}

/** The pod name of a combined scrape (Knative `scraperPodName`). */
export const SCRAPER_POD_NAME = 'service-scraper';

/**
 * §c2 combine sampled pod stats: per field sum(sampled)/n × N with n = {@link sampleSize}(N), pod name
 * `service-scraper`. Knative divides by n, not by the number of stats given (they are equal on success).
 * Uptime and timestamp are not combined (0). No stats or no pods gives an all-zero stat.
 */
export function scaleSample(stats: readonly Stat[], readyPods: number): Stat {
  const n = sampleSize(readyPods);
  const out = emptyStat(SCRAPER_POD_NAME);
  if (n <= 0) return out;
  for (const s of stats) {
    out.averageConcurrentRequests += s.averageConcurrentRequests;
    out.averageProxiedConcurrentRequests += s.averageProxiedConcurrentRequests;
    out.requestCount += s.requestCount;
    out.proxiedRequestCount += s.proxiedRequestCount;
  }
  out.averageConcurrentRequests = (out.averageConcurrentRequests / n) * readyPods;
  out.averageProxiedConcurrentRequests = (out.averageProxiedConcurrentRequests / n) * readyPods;
  out.requestCount = (out.requestCount / n) * readyPods;
  out.proxiedRequestCount = (out.proxiedRequestCount / n) * readyPods;
  return out;
}
