import { describe, expect, it } from 'vitest';
import { ConcurrencyReporter } from '../../../activator/logic/concurrency-reporter.js';

const T0 = 1_000_000;

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

  it('a report over an empty period keeps an entry whose requests are still in flight (no second poke)', () => {
    const r = new ConcurrencyReporter();
    r.requestIn('ns/a', T0);
    r.report(T0 + 1000);
    expect(r.report(T0 + 1000)).toEqual([{ key: 'ns/a', averageConcurrency: 0, requestCount: 0 }]);
    expect(r.tracked).toBe(1);
    expect(r.requestIn('ns/a', T0 + 1000)).toBeUndefined();
  });
});
