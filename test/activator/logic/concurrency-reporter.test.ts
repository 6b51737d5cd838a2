import { describe, expect, it } from 'vitest';
import { ConcurrencyReporter, RequestStats } from '../../../activator/logic/concurrency-reporter.js';

const T0 = 1_000_000;

describe('RequestStats: time-weighted concurrency', () => {
  it('averages in-flight requests over the period', () => {
    const s = new RequestStats(T0);
    s.requestIn(T0); // 1 from 0 ms
    s.requestIn(T0 + 250); // 2 from 250 ms
    s.requestOut(T0 + 750); // 1 from 750 ms
    // ∫ = 1·250 + 2·500 + 1·250 = 1500 request·ms over 1000 ms.
    expect(s.report(T0 + 1000)).toEqual({ averageConcurrency: 1.5, requestCount: 2 });
    // Next period: one request in flight the whole time, no arrivals.
    expect(s.report(T0 + 2000)).toEqual({ averageConcurrency: 1, requestCount: 0 });
  });
});

describe('§b5 concurrency reporter', () => {
  it('the first request for a revision with no entry pokes at once with concurrency 1 and count 1', () => {
    const r = new ConcurrencyReporter();
    expect(r.requestIn('ns/a', T0)).toEqual({ key: 'ns/a', averageConcurrency: 1, requestCount: 1 });
    expect(r.requestIn('ns/a', T0 + 10)).toBeUndefined();
    expect(r.requestIn('ns/b', T0 + 10)).toEqual({ key: 'ns/b', averageConcurrency: 1, requestCount: 1 });
  });

  it('the first report subtracts the poke (floored at 0), later ones do not', () => {
    const r = new ConcurrencyReporter();
    r.requestIn('ns/a', T0);
    r.requestIn('ns/a', T0);
    r.requestIn('ns/a', T0 + 500);
    // ∫ = 2·500 + 3·500 = 2500 → 2.5; minus 1 → 1.5. Count 3 − 1 = 2.
    expect(r.report(T0 + 1000)).toEqual([{ key: 'ns/a', averageConcurrency: 1.5, requestCount: 2 }]);
    expect(r.report(T0 + 2000)).toEqual([{ key: 'ns/a', averageConcurrency: 3, requestCount: 0 }]);
  });

  it('a single short request reports 0 after the adjustment, not a negative value', () => {
    const r = new ConcurrencyReporter();
    r.requestIn('ns/a', T0);
    r.requestOut('ns/a', T0 + 100);
    expect(r.report(T0 + 1000)).toEqual([{ key: 'ns/a', averageConcurrency: 0, requestCount: 0 }]);
  });

  it('entries with zero average concurrency are reported once more, then deleted, and the next request pokes again', () => {
    const r = new ConcurrencyReporter();
    r.requestIn('ns/a', T0);
    r.requestOut('ns/a', T0 + 500);
    r.report(T0 + 1000);
    expect(r.tracked).toBe(1);
    expect(r.report(T0 + 2000)).toEqual([{ key: 'ns/a', averageConcurrency: 0, requestCount: 0 }]);
    expect(r.tracked).toBe(0);
    expect(r.report(T0 + 3000)).toEqual([]);
    expect(r.requestIn('ns/a', T0 + 3500)).toEqual({ key: 'ns/a', averageConcurrency: 1, requestCount: 1 });
  });
});
