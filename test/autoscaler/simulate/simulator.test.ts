import { describe, expect, it } from 'vitest';
import { shapeTrace } from '../../../autoscaler/simulate/shapes.js';
import { simulate, type SimulationOptions, type TimelineRow } from '../../../autoscaler/simulate/simulator.js';
import { parseTrace, toWorkload, type Trace } from '../../../autoscaler/simulate/trace.js';
import { specWith } from './fixtures.js';

function run(trace: Trace, opts: SimulationOptions, requestDuration = 1): ReturnType<typeof simulate> {
  return simulate(toWorkload(trace, requestDuration), opts);
}

/** The row of second t; its pod counts and decisions are those at the end of the second (t + 1). */
function at(rows: readonly TimelineRow[], t: number): TimelineRow {
  const r = rows[t];
  if (r === undefined) throw new Error(`no row ${t}`);
  return r;
}

// target annotation 10, tu 0.7 → 7 per pod; CC 0 so one ready pod serves everything and nothing waits.
const target7 = specWith({ decider: { targetValue: 7, totalValue: 10 } });

describe('simulate: the real windows, decider and scaler on a virtual clock', () => {
  it('§c5 a step to 50 concurrent with target 10 × 0.7 = 7 per pod settles at ceil(50/7) = 8 pods', () => {
    const r = run(shapeTrace('step:from=0,to=50,at=60,duration=400'), { spec: target7, podStartSeconds: 2, initialPods: 1 });
    const rows = r.timeline;
    expect(at(rows, 399).desired).toBe(8);
    expect(at(rows, 399).ready).toBe(8);
    expect(r.summary.finalReplicas).toBe(8);
    // Neither window can average more than 50, so 8 is also the most ever asked for.
    expect(r.summary.maxReplicas).toBe(8);
    expect(rows.some((x) => x.inPanic)).toBe(true);
  });

  it('§c5 panic on a spike: enters at the first tick over 2× the ready pods, leaves a stable window after the last', () => {
    // base 5, peak 100 for [120, 130); target 7. Stats of second t are recorded at t+1; ticks at even seconds.
    // Tick 122: panic window (117..122) = (4·5 + 2·100)/6 = 36.67 → dP = 6; 6/1 ≥ 2 → panic (the only time over).
    // Tick 124: 6 ready, panic (119..124) = (2·5 + 4·100)/6 = 68.3 → dP 10, 10/6 < 2. Tick 126: dP 15, 15/10 < 2.
    // Leaves panic at the first tick with 122 + 60 < now: 184. So seconds 121..182 end in panic: 62 s.
    const r = run(shapeTrace('spike:base=5,peak=100,at=120,width=10,duration=300'), { spec: target7, podStartSeconds: 2, initialPods: 1 });
    const rows = r.timeline;
    expect(at(rows, 120).inPanic).toBe(false);
    expect(at(rows, 121).inPanic).toBe(true);
    expect(at(rows, 121).desired).toBe(6);
    expect(at(rows, 123).desired).toBe(10);
    expect(at(rows, 125).desired).toBe(15);
    expect(at(rows, 182).inPanic).toBe(true);
    expect(at(rows, 183).inPanic).toBe(false);
    expect(r.summary.panicSeconds).toBe(62);
    expect(r.summary.maxReplicas).toBe(15);
    // Tick 184, out of panic: stable (125..184) = 6·100/60 = 10 → dS 2, but maxDown = floor(15/2) = 7.
    expect(at(rows, 183).desired).toBe(7);
  });

  it('§c7 scale to zero: desired 0 once the stable window holds no load, pods gone a grace period later (TBC 0)', () => {
    // 20 concurrent until 120 with target 70 → 1 pod. The last non-zero stat is recorded at 120; at tick 180 the
    // stable window (121..180) is all zeros → desired 0; the PA (active since 0) turns inactive and the SKS goes to
    // proxy at 180. With TBC 0 the activator was not in the path before, so the grace period runs from 180: 0 at 210.
    const spec = specWith({ decider: { targetBurstCapacity: 0 } });
    const r = run(shapeTrace('step:from=20,to=0,at=120,duration=300'), { spec, podStartSeconds: 2, initialPods: 1 });
    const rows = r.timeline;
    expect(at(rows, 177).desired).toBe(1);
    expect(at(rows, 179).desired).toBe(0);
    expect(at(rows, 179).state).toBe('inactive');
    expect(at(rows, 208).replicas).toBe(1);
    expect(at(rows, 209).replicas).toBe(0);
    expect(at(rows, 209).ready).toBe(0);
    expect(r.summary.finalReplicas).toBe(0);
  });

  it('§c7 scale to zero with the default TBC 211: the activator was already in the path, so no extra grace', () => {
    const r = run(shapeTrace('step:from=20,to=0,at=120,duration=300'), { spec: specWith(), podStartSeconds: 2, initialPods: 1 });
    const rows = r.timeline;
    expect(at(rows, 179).desired).toBe(0);
    // Tick 182: inactive, and the SKS has been in proxy mode since the first reconcile → apply 0.
    expect(at(rows, 180).replicas).toBe(1);
    expect(at(rows, 181).replicas).toBe(0);
  });

  it('§c7 scale-to-zero-pod-retention-period keeps the last pod for the retention after the PA turns inactive', () => {
    // Inactive at 180 (as above); retention 60 s > grace 30 s → the scaler waits until inactive ≥ 60 s: 0 at 240.
    const spec = specWith({ scaler: { scaleToZeroPodRetentionPeriodMs: 60_000 } });
    const r = run(shapeTrace('step:from=20,to=0,at=120,duration=300'), { spec, podStartSeconds: 2, initialPods: 1 });
    expect(at(r.timeline, 179).state).toBe('inactive');
    expect(at(r.timeline, 238).replicas).toBe(1);
    expect(at(r.timeline, 239).replicas).toBe(0);
  });

  it('§c5 activation-scale: leaving zero asks for at least that many pods', () => {
    const trace = parseTrace('arrival_seconds,duration_seconds\n10.5,1\n', 'one');
    const r = run(trace, { spec: specWith({ decider: { activationScale: 3 } }), podStartSeconds: 2, initialPods: 0, seconds: 20 });
    expect(at(r.timeline, 10).desired).toBe(3);
    expect(at(r.timeline, 10).replicas).toBe(3);
    expect(at(r.timeline, 12).ready).toBe(3);
  });

  it('§c7 min-scale is respected: no load for 5 minutes keeps 3 pods', () => {
    const spec = specWith({ scaler: { minScale: 3 } });
    const r = run(shapeTrace('step:from=0,to=0,duration=300'), { spec, podStartSeconds: 2 });
    expect(r.timeline.every((x) => x.replicas === 3 && x.ready === 3)).toBe(true);
    expect(r.summary.finalReplicas).toBe(3);
    // 3 pods × 300 s.
    expect(r.summary.podSeconds).toBe(900);
  });

  it('§b5 scale from zero: the first request pokes the decider at once, so it waits only the pod start-up delay', () => {
    // One request at 10.5. The activator's immediate stat (concurrency 1) makes desired ceil(1/70) = 1 at 10.5;
    // the pod is ready at 12.5. Without the poke the next tick (12) would make it 14.
    const trace = parseTrace('arrival_seconds,duration_seconds\n10.5,1\n', 'one');
    const r = run(trace, { spec: specWith(), podStartSeconds: 2, initialPods: 0, seconds: 20 });
    expect(r.summary.pokes).toBeGreaterThanOrEqual(1);
    expect(r.summary.coldStarts).toBe(1);
    expect(r.summary.waitMaxSeconds).toBe(2);
    expect(r.summary.served).toBe(1);
    expect(at(r.timeline, 10).replicas).toBe(1);
  });

  it('an arrivals trace ends with its last request; requests still waiting then are reported, not dropped silently', () => {
    const trace = parseTrace('arrival_seconds,duration_seconds\n10.5,1\n', 'one');
    const r = run(trace, { spec: specWith(), podStartSeconds: 2, initialPods: 0 });
    // The trace is 12 s long (10.5 + 1, rounded up); the pod is ready only at 12.5.
    expect(r.summary.seconds).toBe(12);
    expect(r.summary.unservedAtEnd).toBe(1);
    expect(r.summary.served).toBe(0);
  });

  it('§b5 requests that wait at zero are counted as concurrency, so the decider sees the whole queue', () => {
    // 50 one-second requests a second from 10, CC 10 (target 7), starting at zero: the queue grows until pods are up.
    const spec = specWith({ containerConcurrency: 10, decider: { targetValue: 7, totalValue: 10 } });
    const r = run(shapeTrace('step:from=0,to=50,at=10,duration=300'), { spec, podStartSeconds: 2, initialPods: 0 });
    expect(r.summary.coldStarts).toBe(1);
    // Second 10: 50 arrive at 10.0 and wait all second (poke → 1 pod, ready at 12).
    expect(at(r.timeline, 10).waiting).toBe(50);
    expect(at(r.timeline, 11).concurrency).toBe(100);
    expect(r.summary.waitMaxSeconds).toBeGreaterThanOrEqual(2);
    expect(r.summary.unservedAtEnd).toBe(0);
    expect(r.summary.finalReplicas).toBe(8);
  });

  it('rps metric: 300 rps with target 200 × 0.7 = 140 needs ceil(300/140) = 3 pods', () => {
    const spec = specWith({ decider: { metric: 'rps', targetValue: 140, totalValue: 200 } });
    const r = run(shapeTrace('step:from=300,to=300,metric=rps,duration=200'), { spec, podStartSeconds: 2, initialPods: 1 }, 0.1);
    expect(r.summary.finalReplicas).toBe(3);
  });

  it('max-scale caps replicas', () => {
    const spec = specWith({ decider: { targetValue: 7, totalValue: 10 }, scaler: { maxScale: 4 } });
    const r = run(shapeTrace('step:from=0,to=50,at=10,duration=200'), { spec, podStartSeconds: 2, initialPods: 1 });
    expect(r.summary.maxReplicas).toBe(4);
    expect(r.timeline.some((x) => x.desired > 4)).toBe(true);
  });

  it('§a8 overload past max-scale: requests that wait the whole timeoutSeconds are counted as timed out', () => {
    // One pod of CC 1 (max-scale 1), 2 one-second requests a second for 100 s, timeout 10 s: only 1 a second fits,
    // so the queue grows by 1 a second and everything that has waited 10 s is dropped.
    const spec = specWith({ containerConcurrency: 1, timeoutSeconds: 10, decider: { targetValue: 0.7, totalValue: 1 }, scaler: { maxScale: 1 } });
    const r = run(shapeTrace('step:from=2,to=2,metric=rps,duration=100'), { spec, podStartSeconds: 2, initialPods: 1 });
    expect(r.summary.maxReplicas).toBe(1);
    expect(r.summary.timedOut).toBeGreaterThan(0);
    expect(r.summary.waitMaxSeconds).toBeLessThanOrEqual(10);
    expect(r.summary.requests).toBeCloseTo(200, 9);
    expect(r.summary.served + r.summary.timedOut + r.summary.unservedAtEnd).toBeCloseTo(200, 9);
  });

  it('is deterministic: the same input gives the same timeline', () => {
    const a = run(shapeTrace('sine:min=0,max=80,period=600,duration=1200'), { spec: target7, podStartSeconds: 3 }, 0.3);
    const b = run(shapeTrace('sine:min=0,max=80,period=600,duration=1200'), { spec: target7, podStartSeconds: 3 }, 0.3);
    expect(b).toEqual(a);
  });

  it('a 24-hour one-second trace completes (bounded by the test timeout, not timed)', () => {
    const r = run(shapeTrace('sine:min=0,max=400,duration=86400'), { spec: specWith({ containerConcurrency: 10, decider: { targetValue: 7, totalValue: 10 } }), podStartSeconds: 2 }, 0.25);
    expect(r.timeline).toHaveLength(86_400);
    expect(r.summary.seconds).toBe(86_400);
    // Peak 400 concurrent at target 7: at least ceil(400/7) = 58 pods at some point.
    expect(r.summary.maxReplicas).toBeGreaterThanOrEqual(58);
  });

  it('--duration longer than the trace keeps simulating with no load', () => {
    const r = run(shapeTrace('step:from=5,to=5,duration=10'), { spec: specWith(), podStartSeconds: 2, initialPods: 1, seconds: 300 });
    expect(r.timeline).toHaveLength(300);
    expect(r.summary.finalReplicas).toBe(0);
  });
});
