import { describe, expect, it } from 'vitest';
import { RequestStats, type ReqEvent } from '../../common/request-stats.js';

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
    name: '§b5 two overlapping requests, one leaving early: ∫ = 1·0.25 + 2·0.5 + 1·0.25',
    events: [[0, 'in'], [250, 'in'], [750, 'out']],
    reportAtMs: 1000,
    want: { averageConcurrency: 1.5, averageProxiedConcurrency: 0, requestCount: 2, proxiedRequestCount: 0 },
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
