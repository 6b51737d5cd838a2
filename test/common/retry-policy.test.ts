import { describe, expect, it } from 'vitest';
import { IDEMPOTENT_METHODS, RETRY_DEFAULTS, RetryBudget, backoffMs, isRetryable } from '../../common/retry-policy.js';
import { seededRandom } from '../support/seeded-random.js';

describe('backoffMs (Envoy full jitter: base 25 ms, cap 250 ms)', () => {
  it.each([
    { retry: 1, ceiling: 25 },
    { retry: 2, ceiling: 50 },
    { retry: 3, ceiling: 100 },
    { retry: 4, ceiling: 200 },
    { retry: 5, ceiling: 250 },
    { retry: 9, ceiling: 250 },
  ])('retry $retry stays in [0, $ceiling)', ({ retry, ceiling }) => {
    const random = seededRandom(42 + retry);
    const seen: number[] = [];
    for (let i = 0; i < 500; i++) seen.push(backoffMs(retry, random));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...seen)).toBeLessThan(ceiling);
    // Full jitter spreads over the whole range, not just near the ceiling.
    expect(Math.max(...seen)).toBeGreaterThan(ceiling * 0.8);
    expect(Math.min(...seen)).toBeLessThan(ceiling * 0.2);
  });

  it('is the random draw scaled to the ceiling (deterministic with a seeded source)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const draws = [backoffMs(1, a), backoffMs(2, a), backoffMs(3, a)];
    expect(draws).toEqual([Math.floor(b() * 25), Math.floor(b() * 50), Math.floor(b() * 100)]);
  });

  it('honours a configured base and cap', () => {
    expect(backoffMs(3, () => 0.999999, { baseBackoffMs: 10, maxBackoffMs: 30 })).toBe(29);
    expect(backoffMs(1, () => 0.5, { baseBackoffMs: 10, maxBackoffMs: 30 })).toBe(5);
  });
});

describe('isRetryable', () => {
  it.each([
    { name: 'GET refused before sending is retried', method: 'GET', neverSent: true, bodyReplayable: true, retriesSoFar: 0, want: true },
    { name: 'GET that reached the upstream is not retried', method: 'GET', neverSent: false, bodyReplayable: true, retriesSoFar: 0, want: false },
    { name: 'POST with a streamed body is never retried', method: 'POST', neverSent: true, bodyReplayable: false, retriesSoFar: 0, want: false },
    { name: 'POST that may have reached the upstream is never retried (no duplicate)', method: 'POST', neverSent: false, bodyReplayable: true, retriesSoFar: 0, want: false },
    { name: 'POST with a held body never sent is retried', method: 'POST', neverSent: true, bodyReplayable: true, retriesSoFar: 0, want: true },
    { name: 'PUT with a streamed body is not retried', method: 'PUT', neverSent: true, bodyReplayable: false, retriesSoFar: 0, want: false },
    { name: 'no more than maxRetries (2)', method: 'GET', neverSent: true, bodyReplayable: true, retriesSoFar: 2, want: false },
    { name: 'second retry allowed', method: 'GET', neverSent: true, bodyReplayable: true, retriesSoFar: 1, want: true },
  ])('$name', ({ want, ...attempt }) => {
    expect(isRetryable(attempt)).toBe(want);
  });

  it('maxRetries 0 turns retries off', () => {
    expect(isRetryable({ method: 'GET', neverSent: true, bodyReplayable: true, retriesSoFar: 0 }, { maxRetries: 0 })).toBe(false);
  });

  it('lists the RFC 9110 idempotent methods only', () => {
    expect([...IDEMPOTENT_METHODS].sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PUT', 'TRACE']);
  });
});

describe('RetryBudget (Linkerd: ratio 0.2 + 10/s floor over 10 s)', () => {
  const t0 = Date.UTC(2026, 0, 1);

  it('allows the floor with no traffic, then refuses', () => {
    const b = new RetryBudget({ budgetMinPerSecond: 1, budgetWindowMs: 10_000, budgetRatio: 0.2 });
    let allowed = 0;
    for (let i = 0; i < 50; i++) if (b.tryAcquireRetry(t0)) allowed++;
    expect(allowed).toBe(10); // 1/s × 10 s
  });

  it('allows at most ratio × requests on top of the floor', () => {
    const b = new RetryBudget({ budgetMinPerSecond: 0, budgetWindowMs: 10_000, budgetRatio: 0.2 });
    for (let i = 0; i < 1000; i++) b.recordRequest(t0 + i);
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (b.tryAcquireRetry(t0 + 1000)) allowed++;
    expect(allowed).toBe(200);
  });

  it('forgets requests and retries that left the window', () => {
    const b = new RetryBudget({ budgetMinPerSecond: 0, budgetWindowMs: 10_000, budgetRatio: 0.5 });
    for (let i = 0; i < 10; i++) b.recordRequest(t0);
    let allowed = 0;
    while (b.tryAcquireRetry(t0)) allowed++;
    expect(allowed).toBe(5);
    // 11 s later both the requests and the retries have expired: nothing is allowed without new requests.
    expect(b.tryAcquireRetry(t0 + 11_000)).toBe(false);
    for (let i = 0; i < 4; i++) b.recordRequest(t0 + 11_000);
    expect(b.tryAcquireRetry(t0 + 11_000)).toBe(true);
    expect(b.tryAcquireRetry(t0 + 11_000)).toBe(true);
    expect(b.tryAcquireRetry(t0 + 11_000)).toBe(false);
  });

  it('defaults match Envoy/Linkerd numbers', () => {
    expect(RETRY_DEFAULTS).toMatchObject({ maxRetries: 2, baseBackoffMs: 25, maxBackoffMs: 250, budgetRatio: 0.2, maxBufferedBodyBytes: 65536 });
  });
});
