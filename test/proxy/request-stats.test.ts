import { describe, expect, it } from 'vitest';
import { QueueStatReporter, RequestStats, type ReqEvent } from '../../proxy/request-stats.js';
import { FakeClock } from '../support/fake-clock.js';

const T0 = Date.UTC(2026, 0, 1);

interface Case {
  name: string;
  events: [atMs: number, ev: ReqEvent][];
  reportAtMs: number;
  want: { averageConcurrency: number; averageProxiedConcurrency: number; requestCount: number; proxiedRequestCount: number };
}

const cases: Case[] = [
  {
    name: '§a5 one request for a quarter second, one from half a second on: ∫c dt = 0.25 + 0.5',
    events: [[0, 'in'], [250, 'out'], [500, 'in']],
    reportAtMs: 1000,
    want: { averageConcurrency: 0.75, averageProxiedConcurrency: 0, requestCount: 2, proxiedRequestCount: 0 },
  },
  {
    name: '§a5 proxied requests count in both totals and apart',
    events: [[0, 'proxiedIn'], [0, 'in'], [500, 'proxiedOut']],
    reportAtMs: 1000,
    want: { averageConcurrency: 1.5, averageProxiedConcurrency: 0.5, requestCount: 2, proxiedRequestCount: 1 },
  },
  {
    name: '§a5 an out does not decrement the count',
    events: [[100, 'in'], [200, 'out'], [300, 'in'], [400, 'out']],
    reportAtMs: 1000,
    want: { averageConcurrency: 0.2, averageProxiedConcurrency: 0, requestCount: 2, proxiedRequestCount: 0 },
  },
  {
    name: '§a5 an event stamped before the previous one adds no negative time',
    events: [[500, 'in'], [400, 'in']],
    reportAtMs: 1000,
    want: { averageConcurrency: 1, averageProxiedConcurrency: 0, requestCount: 2, proxiedRequestCount: 0 },
  },
];

describe('RequestStats (§a5)', () => {
  it.each(cases)('$name', ({ events, reportAtMs, want }) => {
    const s = new RequestStats(T0);
    for (const [at, ev] of events) s.handle(ev, T0 + at);
    const r = s.report(T0 + reportAtMs);
    expect(r.requestCount).toBe(want.requestCount);
    expect(r.proxiedRequestCount).toBe(want.proxiedRequestCount);
    expect(r.averageConcurrency).toBeCloseTo(want.averageConcurrency, 10);
    expect(r.averageProxiedConcurrency).toBeCloseTo(want.averageProxiedConcurrency, 10);
  });

  it('§a5 concurrency carries over into the next period while counts and integrals reset', () => {
    const s = new RequestStats(T0);
    s.handle('in', T0);
    s.handle('in', T0 + 500);
    expect(s.report(T0 + 1000)).toMatchObject({ averageConcurrency: 1.5, requestCount: 2 });
    // Both still running for the whole next second.
    expect(s.report(T0 + 2000)).toMatchObject({ averageConcurrency: 2, requestCount: 0 });
    s.handle('out', T0 + 2500);
    expect(s.report(T0 + 3000)).toMatchObject({ averageConcurrency: 1.5, requestCount: 0 });
    expect(s.concurrency).toBe(1);
  });

  it('§a5 a report over an empty period gives zero averages, not NaN', () => {
    const s = new RequestStats(T0);
    s.handle('in', T0);
    expect(s.report(T0)).toEqual({ averageConcurrency: 0, averageProxiedConcurrency: 0, requestCount: 1, proxiedRequestCount: 0 });
  });
});

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
