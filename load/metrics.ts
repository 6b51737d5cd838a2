/**
 * The run's metrics, named and typed as k6 names them: trends in an HDR histogram (hdr-histogram-js; exact count,
 * sum, min and max kept beside it), rates, counters and gauges, each with sub-metrics selected by tags. Values only;
 * time comes in from the engine.
 */
import { build, type Histogram } from 'hdr-histogram-js';
import type { MetricType } from './thresholds.js';

/** Trend samples are milliseconds, recorded in microseconds: 1 µs resolution, 3 significant digits (0.1% error). */
export const TREND_UNITS_PER_MS = 1000;

/** A fresh histogram as every trend uses it (tests build their reference the same way). */
export function newHistogram(): Histogram {
  return build({ bitBucketSize: 'packed', autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 2, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export type Tags = Readonly<Record<string, string>>;

export class Trend {
  readonly type = 'trend' as const;
  readonly histogram = newHistogram();
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(ms: number): void {
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    this.histogram.recordValue(Math.max(1, Math.round(ms * TREND_UNITS_PER_MS)));
  }

  /** `p` in [0, 100], from the histogram, in ms. */
  percentile(p: number): number {
    return this.count === 0 ? 0 : this.histogram.getValueAtPercentile(p) / TREND_UNITS_PER_MS;
  }

  /** k6's trend values for the named stats (`avg`, `min`, `med`, `max`, `p(N)`). */
  values(stats: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of stats) out[s] = this.stat(s);
    return out;
  }

  stat(s: string): number {
    if (this.count === 0) return 0;
    if (s === 'avg') return this.sum / this.count;
    if (s === 'min') return this.min;
    if (s === 'max') return this.max;
    if (s === 'med') return this.percentile(50);
    if (s === 'count') return this.count;
    const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(s);
    if (m) return this.percentile(Number(m[1]));
    throw new Error(`unknown trend stat ${s}`);
  }
}

export class Rate {
  readonly type = 'rate' as const;
  passes = 0;
  fails = 0;
  /** k6: a rate metric's sample is "true" (counted in passes) or "false". */
  add(value: boolean): void {
    if (value) this.passes++;
    else this.fails++;
  }
  get rate(): number {
    const n = this.passes + this.fails;
    return n === 0 ? 0 : this.passes / n;
  }
  values(): Record<string, number> {
    return { rate: this.rate, passes: this.passes, fails: this.fails };
  }
}

export class Counter {
  readonly type = 'counter' as const;
  count = 0;
  add(n = 1): void {
    this.count += n;
  }
  values(durationMs: number): Record<string, number> {
    return { count: this.count, rate: durationMs > 0 ? (this.count * 1000) / durationMs : 0 };
  }
}

export class Gauge {
  readonly type = 'gauge' as const;
  value = 0;
  min = Infinity;
  max = -Infinity;
  set(v: number): void {
    this.value = v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
  values(): Record<string, number> {
    return { value: this.value, min: Number.isFinite(this.min) ? this.min : 0, max: Number.isFinite(this.max) ? this.max : 0 };
  }
}

export type Metric = Trend | Rate | Counter | Gauge;

/** What `contains` k6 reports for a metric: trends of durations are `time`. */
export type Contains = 'time' | 'default' | 'data';

interface Entry {
  readonly metric: Metric;
  readonly contains: Contains;
  /** Sub-metrics by their key (`name{k:v}`), with the tags they select. */
  readonly subs: Map<string, { tags: Tags; metric: Metric }>;
}

function newMetric(type: MetricType): Metric {
  return type === 'trend' ? new Trend() : type === 'rate' ? new Rate() : type === 'counter' ? new Counter() : new Gauge();
}

function matches(want: Tags, have: Tags): boolean {
  for (const k in want) if (have[k] !== want[k]) return false;
  return true;
}

/** The metrics of one run, by name. */
export class Registry {
  readonly #m = new Map<string, Entry>();

  define(name: string, type: MetricType, contains: Contains = 'default'): void {
    if (!this.#m.has(name)) this.#m.set(name, { metric: newMetric(type), contains, subs: new Map() });
  }

  has(name: string): boolean {
    return this.#m.has(name);
  }

  typeOf(name: string): MetricType | undefined {
    return this.#m.get(name)?.metric.type;
  }

  /** Adds a sub-metric (what a threshold on `name{tags}` reads). */
  defineSub(key: string, name: string, tags: Tags): void {
    const e = this.#m.get(name);
    if (!e) throw new Error(`no metric ${name}`);
    if (!e.subs.has(key)) e.subs.set(key, { tags, metric: newMetric(e.metric.type) });
  }

  get(key: string): Metric | undefined {
    const brace = key.indexOf('{');
    if (brace < 0) return this.#m.get(key)?.metric;
    return this.#m.get(key.slice(0, brace))?.subs.get(key)?.metric;
  }

  /** Records a trend sample (ms), a rate sample (boolean) or a counter increment (number), with its tags. */
  add(name: string, value: number | boolean, tags: Tags = {}): void {
    const e = this.#m.get(name);
    if (!e) return;
    apply(e.metric, value);
    for (const s of e.subs.values()) if (matches(s.tags, tags)) apply(s.metric, value);
  }

  /** Every metric and sub-metric, in definition order: [key, metric, contains]. */
  *entries(): Iterable<[string, Metric, Contains]> {
    for (const [name, e] of this.#m) {
      yield [name, e.metric, e.contains];
      for (const [key, s] of e.subs) yield [key, s.metric, e.contains];
    }
  }
}

function apply(m: Metric, value: number | boolean): void {
  if (m.type === 'trend') m.add(Number(value));
  else if (m.type === 'rate') m.add(Boolean(value));
  else if (m.type === 'counter') m.add(Number(value));
  else m.set(Number(value));
}
