import { describe, expect, it } from 'vitest';
import { RequestStats } from '../../common/request-stats.js';
import { QueueStatReporter } from '../../proxy/request-stats.js';
import { FakeClock } from '../support/fake-clock.js';

const T0 = Date.UTC(2026, 0, 1);

describe('QueueStatReporter (§a5)', () => {
  it('§a5 holds only the pod name before the first report', () => {
    const r = new QueueStatReporter({ stats: new RequestStats(T0), podName: 'hello-00001-abc', processStartMs: T0 });
    expect(r.latest()).toEqual({
      podName: 'hello-00001-abc',
      averageConcurrentRequests: 0,
      averageProxiedConcurrentRequests: 0,
      requestCount: 0,
      proxiedRequestCount: 0,
      processUptimeSeconds: 0,
      timestampMs: 0,
    });
  });

  it('§a5 each 1 s tick publishes per-second counts and the uptime, driven by a FakeClock', () => {
    const clock = new FakeClock(T0);
    const stats = new RequestStats(clock.now());
    const r = new QueueStatReporter({ stats, podName: 'p', processStartMs: T0 - 5000 });
    clock.setInterval(() => r.tick(clock.now()), 1000);
    // Three arrivals in the first second, one proxied; two finish at 600 ms.
    stats.handle('in', T0 + 100);
    stats.handle('in', T0 + 200);
    stats.handle('proxiedIn', T0 + 200);
    clock.advance(600);
    stats.handle('out', clock.now());
    stats.handle('proxiedOut', clock.now());
    clock.advance(400);
    // ∫c: 1×0.1 + 3×0.4 + 1×0.4 = 1.7; proxied: 1×0.4 = 0.4
    expect(r.latest().podName).toBe('p');
    expect(r.latest().averageConcurrentRequests).toBeCloseTo(1.7, 10);
    expect(r.latest().averageProxiedConcurrentRequests).toBeCloseTo(0.4, 10);
    expect(r.latest().requestCount).toBe(3);
    expect(r.latest().proxiedRequestCount).toBe(1);
    expect(r.latest().processUptimeSeconds).toBe(6);
    expect(r.latest().timestampMs).toBe(T0 + 1000);
    clock.advance(1000);
    expect(r.latest()).toMatchObject({ averageConcurrentRequests: 1, requestCount: 0, processUptimeSeconds: 7 });
  });

  it('§a5 counts are divided by the report period', () => {
    const stats = new RequestStats(T0);
    const r = new QueueStatReporter({ stats, podName: 'p', processStartMs: T0, periodMs: 2000 });
    for (let i = 0; i < 4; i++) stats.handle('in', T0 + i);
    expect(r.tick(T0 + 2000).requestCount).toBe(2);
  });
});
