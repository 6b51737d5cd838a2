import { describe, expect, it } from 'vitest';
import { RevisionModel } from '../../../autoscaler/simulate/revision-model.js';
import { parseTrace, toWorkload } from '../../../autoscaler/simulate/trace.js';

function arrivals(lines: string): ReturnType<typeof toWorkload> {
  return toWorkload(parseTrace(`arrival_seconds,duration_seconds\n${lines}`, 'test'), 1);
}

/** Advances one second at a time and collects each second's totals. */
function run(model: RevisionModel, seconds: number): ReturnType<RevisionModel['takeTotals']>[] {
  const out = [];
  for (let t = 1; t <= seconds; t++) {
    model.advanceTo(t);
    out.push(model.takeTotals());
    model.settle();
  }
  return out;
}

describe('RevisionModel: requests wait for capacity, first come first served', () => {
  it('one pod with containerConcurrency 1: waits worked out by hand', () => {
    // A arrives at 0 and runs 0–3. B and C arrive at 1 (1 s each): B waits 1→3 (2 s), runs 3–4; C waits 1→4 (3 s).
    const m = new RevisionModel(arrivals('0,3\n1,1\n1,1\n'), { containerConcurrency: 1, podStartSeconds: 2, initialReadyPods: 1 });
    const totals = run(m, 5);
    // In the revision (waiting + running) per second: [0,1) A; [1,2) A B C; [2,3) A B C; [3,4) B C; [4,5) C.
    expect(totals.map((t) => t.inSystemArea)).toEqual([1, 3, 3, 2, 1]);
    expect(totals.map((t) => t.waitingArea)).toEqual([0, 2, 2, 1, 0]);
    expect(totals.map((t) => t.arrivals)).toEqual([1, 2, 0, 0, 0]);
    expect(m.maxWaitSeconds).toBe(3);
    expect(m.waitMeanSeconds()).toBeCloseTo((0 + 2 + 3) / 3, 12);
    // Waits sorted 0, 2, 3 (weight 1 each): the median is 2; p99 needs 2.97 requests → 3.
    expect(m.waitQuantile(0.5)).toBe(2);
    expect(m.waitQuantile(0.99)).toBe(3);
    expect(m.admitted).toBe(3);
    expect(m.coldStarts).toBe(0);
  });

  it('a second pod asked for at 1 is ready at 1 + start delay and takes the queue', () => {
    const m = new RevisionModel(arrivals('0,3\n1,1\n1,1\n'), { containerConcurrency: 1, podStartSeconds: 2, initialReadyPods: 1 });
    m.advanceTo(1);
    m.setPods(2);
    expect(m.readyPods).toBe(1);
    expect(m.pods).toBe(2);
    run(m, 4);
    // At 3: A completes and the new pod is ready → capacity 2, B and C start together after waiting 2 s each.
    expect(m.maxWaitSeconds).toBe(2);
    expect(m.waitQuantile(0.5)).toBe(2);
    expect(m.readyPods).toBe(2);
  });

  it('at zero pods everything waits; the first pod ready while requests wait is a cold start', () => {
    const m = new RevisionModel(arrivals('0.5,1\n'), { containerConcurrency: 0, podStartSeconds: 2, initialReadyPods: 0 });
    expect(m.capacity()).toBe(0);
    m.advanceTo(0.5);
    m.setPods(1); // ready at 2.5
    const totals = run(m, 4);
    expect(m.coldStarts).toBe(1);
    expect(m.maxWaitSeconds).toBe(2);
    // Waiting 0.5–2.5 (2 request-seconds), running 2.5–3.5.
    expect(totals.reduce((s, t) => s + t.waitingArea, 0)).toBeCloseTo(2, 12);
    expect(totals.reduce((s, t) => s + t.inSystemArea, 0)).toBeCloseTo(3, 12);
    // Pod-seconds: the pod exists from 0.5 (asked for) to 4; ready from 2.5.
    expect(totals.reduce((s, t) => s + t.podArea, 0)).toBeCloseTo(3.5, 12);
    expect(totals.reduce((s, t) => s + t.readyArea, 0)).toBeCloseTo(1.5, 12);
  });

  it('containerConcurrency 0 means one ready pod takes any number of requests', () => {
    const m = new RevisionModel(toWorkload(parseTrace('second,concurrency\n0,500\n', 'c'), 1), { containerConcurrency: 0, podStartSeconds: 2, initialReadyPods: 1 });
    expect(m.capacity()).toBe(Infinity);
    const [t0] = run(m, 1);
    expect(t0!.inSystemArea).toBe(500);
    expect(t0!.waitingArea).toBe(0);
  });

  it('fractional rates are a fluid: 2.5 rps of 1 s on capacity 2 leaves 0.5 waiting', () => {
    const m = new RevisionModel(toWorkload(parseTrace('second,rps\n0,2.5\n', 'r'), 1), { containerConcurrency: 2, podStartSeconds: 2, initialReadyPods: 1 });
    const [t0, t1] = run(m, 2);
    expect(t0!.waitingArea).toBeCloseTo(0.5, 12);
    // The half request starts at 1 when the first two finish, and runs [1, 2).
    expect(t1!.inSystemArea).toBeCloseTo(0.5, 12);
    expect(m.maxWaitSeconds).toBe(1);
    expect(m.waitQuantile(0.99)).toBe(1);
    expect(m.waitQuantile(0.5)).toBe(0);
  });

  it('scale-down removes starting pods first, then ready ones, at once', () => {
    const m = new RevisionModel(arrivals('100,1\n'), { containerConcurrency: 1, podStartSeconds: 5, initialReadyPods: 3 });
    m.setPods(5);
    expect([m.readyPods, m.pods]).toEqual([3, 5]);
    m.setPods(2);
    expect([m.readyPods, m.pods]).toEqual([2, 2]);
    m.setPods(0);
    expect([m.readyPods, m.pods]).toEqual([0, 0]);
  });

  it('a zero start-up delay makes pods ready at once', () => {
    const m = new RevisionModel(arrivals('0,1\n'), { containerConcurrency: 1, podStartSeconds: 0, initialReadyPods: 0 });
    m.setPods(2);
    expect(m.readyPods).toBe(2);
  });

  it('§a8/§b2 a request still waiting after the request timeout is given up (504), not run', () => {
    // Timeout 2 s. A runs 0–5 on the only slot; B (arrives 1) is dropped at 3; C (arrives 4) waits 4→5 and runs.
    const m = new RevisionModel(arrivals('0,5\n1,1\n4,1\n'), { containerConcurrency: 1, podStartSeconds: 2, initialReadyPods: 1, timeoutSeconds: 2 });
    const totals = run(m, 7);
    expect(m.timedOut).toBe(1);
    expect(totals[3]!.timedOut).toBe(1);
    expect(m.admitted).toBe(2);
    expect(m.maxWaitSeconds).toBe(1);
    // B waited [1, 3): 2 request-seconds; C waited [4, 5): 1.
    expect(totals.reduce((x, t) => x + t.waitingArea, 0)).toBe(3);
  });

  it('time only moves forward', () => {
    const m = new RevisionModel(arrivals('0,1\n'), { containerConcurrency: 1, podStartSeconds: 0, initialReadyPods: 1 });
    m.advanceTo(2);
    expect(() => m.advanceTo(1)).toThrow(RangeError);
  });
});
