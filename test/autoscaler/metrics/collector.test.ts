import { describe, expect, it } from 'vitest';
import { MetricCollector, sampleSize, scaleSample, SCRAPER_POD_NAME, type CollectorOptions } from '../../../autoscaler/metrics/collector.js';
import type { Stat } from '../../../common/stats.js';

const T0 = Date.UTC(2026, 0, 1);
const s = (sec: number): number => T0 + sec * 1000;

const OPTS: CollectorOptions = { metric: 'concurrency', stableWindowMs: 60_000, panicWindowMs: 6000, algorithm: 'linear', hasScrapeTarget: true };

function stat(fields: Partial<Stat>): Stat {
  return {
    podName: 'p',
    averageConcurrentRequests: 0,
    averageProxiedConcurrentRequests: 0,
    requestCount: 0,
    proxiedRequestCount: 0,
    processUptimeSeconds: 0,
    timestampMs: 0,
    ...fields,
  };
}

describe('MetricCollector (§c2 recording)', () => {
  it.each([
    // 10 − 4 = 6 in both windows, one bucket
    { name: '§c2 concurrency = average − proxied average', opts: {}, stats: [stat({ averageConcurrentRequests: 10, averageProxiedConcurrentRequests: 4 })], want: { stable: 6, panic: 6 } },
    // 30 − 10 = 20
    { name: '§c2 rps = request count − proxied count', opts: { metric: 'rps' as const }, stats: [stat({ requestCount: 30, proxiedRequestCount: 10, averageConcurrentRequests: 99 })], want: { stable: 20, panic: 20 } },
    // queue-proxy (5 − 2 proxied = 3) + activator (2) in the same second → 5: activator-proxied requests count once
    {
      name: '§c2 stats landing in the same second are summed (activator + scrape)',
      opts: {},
      stats: [stat({ averageConcurrentRequests: 5, averageProxiedConcurrentRequests: 2 }), stat({ podName: 'activator', averageConcurrentRequests: 2 })],
      want: { stable: 5, panic: 5 },
    },
  ])('$name', ({ opts, stats, want }) => {
    const c = new MetricCollector({ ...OPTS, ...opts }, s(0));
    for (const st of stats) c.record(s(0), st);
    expect(c.read(s(0))).toEqual(want);
  });

  it('§c2 stable and panic windows average over their own lengths', () => {
    // 0 at seconds 0..3, 12 at 4..9: stable = 72 / min(10, 60) = 7.2; panic (6 s) = 72 / min(10, 6) = 12
    const c = new MetricCollector(OPTS, s(0));
    for (let i = 0; i < 10; i++) c.record(s(i), stat({ averageConcurrentRequests: i < 4 ? 0 : 12 }));
    expect(c.read(s(9))).toEqual({ stable: 7.2, panic: 12 });
  });

  it.each([
    { name: '§c2 ErrNoData when the stable window is empty and a scrape target exists', hasScrapeTarget: true, want: undefined },
    { name: '§c2 no scrape target (TBC −1): an empty window reads 0', hasScrapeTarget: false, want: { stable: 0, panic: 0 } },
  ])('$name', ({ hasScrapeTarget, want }) => {
    const c = new MetricCollector({ ...OPTS, hasScrapeTarget }, s(0));
    expect(c.read(s(0))).toEqual(want);
  });

  it.each([
    // last write at 0; at 60 s: 60 > 60 is false → not empty, but Δ = window → average 0
    { name: '§c2 a write exactly a window ago: not empty, reads 0', readAtSec: 60, want: { stable: 0, panic: 0 } },
    // at 61 s: 61 > 60 → empty → ErrNoData
    { name: '§c2 no write for longer than the window: ErrNoData', readAtSec: 61, want: undefined },
  ])('$name', ({ readAtSec, want }) => {
    const c = new MetricCollector(OPTS, s(0));
    c.record(s(0), stat({ averageConcurrentRequests: 5 }));
    expect(c.read(s(readAtSec))).toEqual(want);
  });

  it('§c3 update resizes the windows keeping the newest buckets', () => {
    // as above, then shrink the stable window to 6 s: the newest 6 buckets (12 each) = 72; divisor min(60, 6) = 6 → 12
    const c = new MetricCollector(OPTS, s(0));
    for (let i = 0; i < 10; i++) c.record(s(i), stat({ averageConcurrentRequests: i < 4 ? 0 : 12 }));
    c.update({ ...OPTS, stableWindowMs: 6000 }, s(9));
    expect(c.read(s(9))).toEqual({ stable: 12, panic: 12 });
  });

  it('§c3 update without a time resizes as of the latest time seen (stale data dropped)', () => {
    // 5 at 0; read at 61 s (latest time seen). Growing the stable window to 120 s: 61 − 0 > 60 → old data dropped,
    // so the 120 s window reads 0 at 61 s (copied, it would read 5 / min(60, 120 − 61) = 5/59).
    const c = new MetricCollector({ ...OPTS, hasScrapeTarget: false }, s(0));
    c.record(s(0), stat({ averageConcurrentRequests: 5 }));
    expect(c.read(s(61))).toEqual({ stable: 0, panic: 0 });
    c.update({ ...OPTS, hasScrapeTarget: false, stableWindowMs: 120_000 });
    expect(c.read(s(61))).toEqual({ stable: 0, panic: 0 });
  });

  it('§c3 update keeps recent data when growing the window', () => {
    // 5 at 0; grow to 120 s at 30 s: 30 − 0 ≤ 60 → copied; at 61 s: Δ 61 < 120, divisor min(60, 120 − 61) = 59 → 5/59
    const c = new MetricCollector(OPTS, s(0));
    c.record(s(0), stat({ averageConcurrentRequests: 5 }));
    c.update({ ...OPTS, stableWindowMs: 120_000 }, s(30));
    expect(c.read(s(61))?.stable).toBe(Math.round((5 / 59) * 1e6) / 1e6);
  });

  it('§c2 switching the metric keeps both histories', () => {
    const c = new MetricCollector(OPTS, s(0));
    c.record(s(0), stat({ averageConcurrentRequests: 3, requestCount: 40 }));
    c.update({ ...OPTS, metric: 'rps' });
    expect(c.read(s(0))).toEqual({ stable: 40, panic: 40 });
  });

  it('ignores non-finite stats', () => {
    const c = new MetricCollector(OPTS, s(0));
    c.record(s(0), stat({ averageConcurrentRequests: 2 }));
    c.record(s(0), stat({ averageConcurrentRequests: Number.NaN }));
    expect(c.read(s(0))).toEqual({ stable: 2, panic: 2 });
  });
});

describe('sampleSize (§c2)', () => {
  it.each([
    { n: 0, want: 0 },
    { n: 1, want: 1 },
    { n: 3, want: 3 },
    // 4·15.3664 / 18.3664 = 3.347 → 4
    { n: 4, want: 4 },
    // 5·15.3664 / 19.3664 = 3.967 → 4
    { n: 5, want: 4 },
    // 153.664 / 24.3664 = 6.306 → 7
    { n: 10, want: 7 },
    // 1536.64 / 114.3664 = 13.436 → 14
    { n: 100, want: 14 },
    // 15366.4 / 1014.3664 = 15.148 → 16
    { n: 1000, want: 16 },
  ])('§c2 sample size for $n ready pods is $want', ({ n, want }) => {
    expect(sampleSize(n)).toBe(want);
  });
});

describe('scaleSample (§c2)', () => {
  it('§c2 per field sum(sampled) / n × N, pod name service-scraper', () => {
    // N = 10 → n = 7. Seven stats of (2, 1, 3, 0.5): sums 14, 7, 21, 3.5; × 10/7 → 20, 10, 30, 5
    const stats = Array.from({ length: 7 }, (_, i) =>
      stat({ podName: `p${i}`, averageConcurrentRequests: 2, averageProxiedConcurrentRequests: 1, requestCount: 3, proxiedRequestCount: 0.5, processUptimeSeconds: 100 }),
    );
    const out = scaleSample(stats, 10);
    expect(out.podName).toBe(SCRAPER_POD_NAME);
    expect(out.averageConcurrentRequests).toBeCloseTo(20, 12);
    expect(out.averageProxiedConcurrentRequests).toBeCloseTo(10, 12);
    expect(out.requestCount).toBeCloseTo(30, 12);
    expect(out.proxiedRequestCount).toBeCloseTo(5, 12);
  });

  it('§c2 small revisions are scraped whole (n = N)', () => {
    // N = 2 → n = 2: (4 + 6) / 2 × 2 = 10
    const out = scaleSample([stat({ averageConcurrentRequests: 4 }), stat({ averageConcurrentRequests: 6 })], 2);
    expect(out.averageConcurrentRequests).toBe(10);
  });

  it('no ready pods gives an all-zero stat', () => {
    expect(scaleSample([], 0).averageConcurrentRequests).toBe(0);
  });
});
