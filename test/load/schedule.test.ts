import { describe, expect, it } from 'vitest';
import { ramp } from '../../loadtest/scenarios/ramp.ts';
import { spike } from '../../loadtest/scenarios/spike.ts';
import { steady } from '../../loadtest/scenarios/steady.ts';
import { websocket } from '../../loadtest/scenarios/websocket.ts';
import { k6Options, pickPath } from '../../loadtest/scenarios/types.ts';
import { arrivalTimes, levelAt, planFor } from '../../load/schedule.js';

describe('arrival schedule (k6 arrival-rate executors)', () => {
  it('constant rate r: the i-th start is at i × 1000 / r ms, the first at 0', () => {
    const t = [...arrivalTimes(40, [{ target: 40, durationMs: 2000 }])];
    expect(t).toHaveLength(80);
    t.forEach((x, i) => expect(x).toBeCloseTo((i * 1000) / 40, 9));
  });

  it('a linear ramp: the count started by t is the integral of the rate', () => {
    // 0 → 100/s over 10 s: N(t) = 5 t², 500 in all; the i-th start at sqrt(i / 5) s.
    const t = [...arrivalTimes(0, [{ target: 100, durationMs: 10_000 }])];
    expect(t).toHaveLength(500);
    t.forEach((x, i) => expect(x).toBeCloseTo(Math.sqrt(i / 5) * 1000, 6));
  });

  it('stages chain: a ramp down then a hold give the integral of each', () => {
    // 100 → 20 over 2 s (120 starts), then 20/s for 1 s (20 starts).
    const t = [...arrivalTimes(100, [{ target: 20, durationMs: 2000 }, { target: 20, durationMs: 1000 }])];
    expect(t).toHaveLength(140);
    for (let i = 1; i < t.length; i++) expect(t[i]!).toBeGreaterThan(t[i - 1]!);
    expect(t[120]).toBeCloseTo(2000, 6);
    expect(t[139]).toBeCloseTo(2000 + (19 * 1000) / 20, 6);
  });

  it('levelAt interpolates linearly within a stage', () => {
    const stages = [{ target: 100, durationMs: 1000 }, { target: 100, durationMs: 1000 }];
    expect(levelAt(0, stages, 250)).toBe(25);
    expect(levelAt(0, stages, 1500)).toBe(100);
    expect(levelAt(0, stages, 9999)).toBe(100);
  });
});

describe('plans from scenario definitions and flags', () => {
  it('steady is an open model with its cap; --rate and --duration override it', () => {
    expect(planFor(steady)).toEqual({ model: 'open', startRate: 50, stages: [{ target: 50, durationMs: 60_000 }], maxInFlight: 200, durationMs: 60_000 });
    expect(planFor(steady, { rate: 10, durationMs: 2000 })).toMatchObject({ model: 'open', startRate: 10, durationMs: 2000 });
  });

  it('--rate on a ramping scenario keeps its shape with the peak at the rate; --duration scales every stage', () => {
    const p = planFor(spike, { rate: 20, durationMs: 7400 });
    if (p.model !== 'open') throw new Error('open expected');
    expect(p.startRate).toBeCloseTo(2, 9);
    expect(p.stages.map((s) => s.target)).toEqual([2, 20, 20, 2, 2]);
    expect(p.durationMs).toBeCloseTo(7400, 6);
    expect(planFor(ramp).durationMs).toBe(120_000);
  });

  it('--vus turns any scenario into a closed model with that many VUs', () => {
    expect(planFor(steady, { vus: 3, durationMs: 1000 })).toEqual({ model: 'closed', startVUs: 3, stages: [{ target: 3, durationMs: 1000 }], maxVUs: 3, durationMs: 1000 });
    expect(planFor(websocket)).toMatchObject({ model: 'closed', maxVUs: 20, durationMs: 30_000 });
  });

  it('the k6 options built from a definition carry the same numbers', () => {
    const o = k6Options(spike);
    expect(o.scenarios['spike']).toEqual({ executor: 'ramping-arrival-rate', exec: 'run', startRate: 20, stages: spike.stages, preAllocatedVUs: 50, maxVUs: 1000, timeUnit: '1s' });
    expect(o.thresholds).toEqual({ http_req_failed: ['rate<0.01'], http_req_duration: ['p(99)<3000'], dropped_iterations: ['count<50'] });
  });

  it('weighted paths are drawn in proportion', () => {
    const paths = [{ path: '/a', weight: 9, kind: 'a' }, { path: '/b', weight: 1, kind: 'b' }];
    expect(pickPath(paths, 0).kind).toBe('a');
    expect(pickPath(paths, 0.899).kind).toBe('a');
    expect(pickPath(paths, 0.9).kind).toBe('b');
    expect(pickPath(paths, 0.999999).kind).toBe('b');
  });
});
