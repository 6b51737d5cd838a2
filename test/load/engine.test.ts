import { describe, expect, it } from 'vitest';
import { defineMetrics, HTTP_METRICS, runLoad, SCHEDULED_METRIC, type IterationResult, type LoadClock } from '../../load/engine.js';
import { newHistogram, Registry, TREND_UNITS_PER_MS, type Trend } from '../../load/metrics.js';
import { prepareThresholds, summaryData } from '../../load/summary.js';
import { FakeClock } from '../support/fake-clock.js';
import { seededRandom } from '../support/seeded-random.js';

/** Drives a fake clock 1 ms at a time, letting promise callbacks run between steps, until `done` settles. */
async function drive<T>(clock: FakeClock, done: Promise<T>, maxMs: number): Promise<T> {
  let settled = false;
  void done.then(() => (settled = true));
  for (let i = 0; i < maxMs && !settled; i++) {
    clock.advance(1);
    for (let k = 0; k < 5; k++) await Promise.resolve();
  }
  if (!settled) throw new Error(`not done after ${maxMs} ms of fake time`);
  return done;
}

/** An issue function whose requests take `latency()` ms of fake time; records when each started. */
function fakeRequests(clock: FakeClock, latency: () => number, result: (i: number) => Partial<IterationResult> = () => ({})) {
  const starts: number[] = [];
  const issue = (signal: AbortSignal): Promise<IterationResult> =>
    new Promise((resolve) => {
      const i = starts.length;
      starts.push(clock.now());
      const cancel = clock.setTimeout(() => resolve({ ok: true, status: 200, tags: { kind: 'k' }, ...result(i) }), latency());
      signal.addEventListener('abort', () => {
        cancel();
        resolve({ ok: false, status: 0, tags: {}, error: 'aborted' });
      });
    });
  return { starts, issue };
}

describe('load engine: open model', () => {
  it('starts iterations exactly on the schedule whatever the responses do (fake clock, 0 ms tolerance)', async () => {
    const clock = new FakeClock(0);
    const { starts, issue } = fakeRequests(clock, () => 250);
    const run = runLoad({ plan: { model: 'open', startRate: 20, stages: [{ target: 20, durationMs: 1000 }], maxInFlight: 100, durationMs: 1000 }, issue, clock, names: HTTP_METRICS });
    const r = await drive(clock, run, 5000);
    expect(starts).toEqual(Array.from({ length: 20 }, (_, i) => i * 50));
    expect(r.metrics.get('iterations')).toMatchObject({ count: 20 });
    expect((r.metrics.get('http_req_duration') as Trend).max).toBe(250);
  });

  it('beyond the in-flight cap arrivals are dropped and counted, never delayed', async () => {
    const clock = new FakeClock(0);
    // 10/s for 1 s, each request 1 s long, cap 3: the first 3 run, the next 7 find 3 in flight.
    const { starts, issue } = fakeRequests(clock, () => 1000);
    const run = runLoad({ plan: { model: 'open', startRate: 10, stages: [{ target: 10, durationMs: 1000 }], maxInFlight: 3, durationMs: 1000 }, issue, clock, names: HTTP_METRICS });
    const r = await drive(clock, run, 5000);
    expect(starts).toEqual([0, 100, 200]);
    expect(r.metrics.get('dropped_iterations')).toMatchObject({ count: 7 });
    expect(r.metrics.get('iterations')).toMatchObject({ count: 3 });
  });

  it('latency from the scheduled start includes time the engine itself was late', async () => {
    const clock = new FakeClock(0);
    const { issue } = fakeRequests(clock, () => 10);
    const laggy: LoadClock = { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms + 5) };
    const run = runLoad({ plan: { model: 'open', startRate: 10, stages: [{ target: 10, durationMs: 500 }], maxInFlight: 10, durationMs: 500 }, issue, clock: laggy, names: HTTP_METRICS });
    const r = await drive(clock, run, 5000);
    const sched = r.metrics.get(SCHEDULED_METRIC) as Trend;
    const dur = r.metrics.get('http_req_duration') as Trend;
    expect(dur.max).toBe(10);
    expect(sched.max).toBe(15); // each wake-up is 5 ms late; the request still takes 10 ms
  });

  it('failures are counted by cause, in http_req_failed and checks', async () => {
    const clock = new FakeClock(0);
    const { issue } = fakeRequests(clock, () => 5, (i) => (i % 4 === 0 ? { ok: false, status: 503, error: 'status 503' } : {}));
    const run = runLoad({ plan: { model: 'open', startRate: 40, stages: [{ target: 40, durationMs: 1000 }], maxInFlight: 10, durationMs: 1000 }, issue, clock, names: HTTP_METRICS });
    const r = await drive(clock, run, 5000);
    expect(r.errors.get('status 503')).toBe(10);
    expect(r.metrics.get('http_req_failed')).toMatchObject({ passes: 10, fails: 30 });
    expect(r.metrics.get('checks')).toMatchObject({ passes: 30, fails: 10 });
  });

  it('in-flight iterations past the graceful stop are aborted and reported as interrupted', async () => {
    const clock = new FakeClock(0);
    const { issue } = fakeRequests(clock, () => 60_000);
    const run = runLoad({ plan: { model: 'open', startRate: 2, stages: [{ target: 2, durationMs: 1000 }], maxInFlight: 10, durationMs: 1000 }, issue, clock, names: HTTP_METRICS, gracefulStopMs: 500 });
    const r = await drive(clock, run, 5000);
    expect(r.interrupted).toBe(2);
    expect(r.durationMs).toBe(1500);
    expect(clock.pending).toBe(0);
  });
});

describe('load engine: closed model', () => {
  it('N VUs loop back to back for the duration', async () => {
    const clock = new FakeClock(0);
    const { starts, issue } = fakeRequests(clock, () => 100);
    const run = runLoad({ plan: { model: 'closed', startVUs: 2, stages: [{ target: 2, durationMs: 1000 }], maxVUs: 2, durationMs: 1000 }, issue, clock, names: HTTP_METRICS });
    const r = await drive(clock, run, 5000);
    expect(starts.filter((t) => t === 0)).toHaveLength(2);
    expect(r.metrics.get('iterations')).toMatchObject({ count: 20 });
  });
});

describe('percentiles', () => {
  it('trend percentiles equal the HDR library fed the same samples; avg/min/max are exact', () => {
    const reg = new Registry();
    defineMetrics(reg, HTTP_METRICS, true);
    const sets = prepareThresholds({ http_req_duration: ['p(95)<500', 'p(99.9)<900'] }, reg);
    const rnd = seededRandom(7);
    const ref = newHistogram();
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const ms = 100 + -Math.log(1 - rnd()) * 40; // exponential tail above 100 ms
      values.push(ms);
      reg.add('http_req_duration', ms);
      ref.recordValue(Math.round(ms * TREND_UNITS_PER_MS));
    }
    const s = summaryData(reg, sets, 1000, { stdout: false, stderr: false }).metrics['http_req_duration']!;
    for (const p of [50, 90, 95, 99, 99.9]) {
      const key = p === 50 ? 'med' : `p(${p})`;
      expect(s.values[key], key).toBe(ref.getValueAtPercentile(p) / TREND_UNITS_PER_MS);
    }
    expect(s.values['avg']).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
    expect(s.values['max']).toBe(Math.max(...values));
    expect(s.values['min']).toBe(Math.min(...values));
    // And the library's answer is within its 3 significant digits of the exact order statistic.
    const sorted = [...values].sort((a, b) => a - b);
    expect(Math.abs(s.values['p(95)']! - sorted[Math.ceil(0.95 * sorted.length) - 1]!) / s.values['p(95)']!).toBeLessThan(0.002);
    expect(s.thresholds?.['p(95)<500']?.ok).toBe(s.values['p(95)']! < 500);
  });
});
