import { describe, expect, it } from 'vitest';
import { Decider, initialDeciderStatus, type Observation, type ScaleResult } from '../../../autoscaler/scaling/decider.js';
import type { DeciderSpec } from '../../../autoscaler/scaling/decider-spec.js';

const T0 = Date.UTC(2026, 0, 1);
const s = (sec: number): number => T0 + sec * 1000;

/** target 10 per pod, total 100, TBC 211, panic at 200 %, up 1000, down 2, 60 s stable window. */
const BASE: DeciderSpec = {
  metric: 'concurrency',
  targetValue: 10,
  totalValue: 100,
  targetBurstCapacity: 211,
  panicThreshold: 2,
  maxScaleUpRate: 1000,
  maxScaleDownRate: 2,
  stableWindowMs: 60_000,
  scaleDownDelayMs: 0,
  activationScale: 1,
  reachable: true,
};

const obs = (readyPods: number, stable: number, panic = stable): Observation => ({ readyPods, stable, panic });

interface TickCase {
  name: string;
  spec?: Partial<DeciderSpec>;
  readyAtStart?: number;
  obs: Observation;
  want: Partial<ScaleResult>;
}

describe('Decider one tick (§c5)', () => {
  const cases: TickCase[] = [
    // R = 5; dS = ceil(31/10) = 4; dP/R = 4/5 < 2; maxDown = floor(5/2) = 2 → 4. EBC = floor(5·100 − 211 − 31) = 258
    { name: '§c5 desired = ceil(S / target) in stable mode', obs: obs(5, 31), want: { valid: true, desiredPods: 4, excessBurstCapacity: 258, inPanic: false } },
    // dS = ceil(100/10) = 10; maxUp = ceil(1.5 · 3) = ceil(4.5) = 5 (panic threshold 10 keeps us out of panic)
    { name: '§c5 maxUp = ceil(rate · R)', spec: { maxScaleUpRate: 1.5, panicThreshold: 10 }, obs: obs(3, 100), want: { desiredPods: 5, inPanic: false } },
    // rate 1.1, R = 2: 1.1 · 2 = 2.2 → ceil 3, so growth is at least +1
    { name: '§c5 growth is at least one pod per tick (ceil)', spec: { maxScaleUpRate: 1.1, panicThreshold: 10 }, obs: obs(2, 100), want: { desiredPods: 3 } },
    // S = 0: dS = 0; maxDown = floor(5/2) = 2 → 2
    { name: '§c5 maxDown = floor(R / downRate)', obs: obs(5, 0), want: { desiredPods: 2 } },
    // one pod: floor(1/2) = 0 → straight to 0
    { name: '§c5 with rate 2 only 1 pod drops straight to 0', obs: obs(1, 0), want: { desiredPods: 0 } },
    // two pods: floor(2/2) = 1 → not below 1
    { name: '§c5 with rate 2, 2 pods cannot drop to 0 in one tick', obs: obs(2, 0), want: { desiredPods: 1 } },
    // unreachable: maxDown = 0 → 0 from 10 pods. EBC = floor(10·100 − 211 − 0) = 789
    { name: '§c5 unreachable revisions scale down without limit', spec: { reachable: false }, obs: obs(10, 0), want: { desiredPods: 0, excessBurstCapacity: 789 } },
    // 0 ready: R = 1; dS = dP = ceil(25/10) = 3; 3/1 ≥ 2 → panic; desired max(0, 3, 3) = 3; EBC uses raw 0: floor(0 − 211 − 25) = −236
    { name: '§c5 R = max(1, ready), EBC uses the raw ready count', obs: obs(0, 25), want: { desiredPods: 3, excessBurstCapacity: -236, inPanic: true } },
    // dS = ceil(1/10) = 1; maxUp = ceil(1.5 · 1) = 2; ds = 1 → activation scale 5 (above maxUp: not clamped)
    { name: '§c5 activation scale is applied after the clamp and not clamped', spec: { activationScale: 5, maxScaleUpRate: 1.5 }, obs: obs(1, 1), want: { desiredPods: 5, inPanic: false } },
    // dS = 0 → activation scale does not apply
    { name: '§c5 activation scale only when dS > 0', spec: { activationScale: 5 }, obs: obs(1, 0), want: { desiredPods: 0 } },
    // dS = ceil(71/10) = 8 > activation 3 → 8
    { name: '§c5 activation scale never lowers the recommendation', spec: { activationScale: 3, panicThreshold: 10 }, obs: obs(4, 71), want: { desiredPods: 8 } },
    { name: '§c5 EBC is 0 when TBC = 0', spec: { targetBurstCapacity: 0 }, obs: obs(3, 10), want: { excessBurstCapacity: 0 } },
    { name: '§c5 EBC is −1 when TBC = −1', spec: { targetBurstCapacity: -1 }, obs: obs(30, 10), want: { excessBurstCapacity: -1 } },
    // floor(2·100 − 211 − 0) = −11
    { name: '§c5 EBC negative when capacity is short of TBC', obs: obs(2, 0), want: { excessBurstCapacity: -11 } },
    // floor(200 − 211 − 0.5) = floor(−11.5) = −12 (floor, not truncation)
    { name: '§c5 EBC rounds down (floor) when negative', obs: obs(2, 0, 0.5), want: { excessBurstCapacity: -12 } },
    // floor(3·100 − 211 − 10.5) = floor(78.5) = 78; uses the panic value, not the stable one (stable 0)
    { name: '§c5 EBC uses the panic value', obs: obs(3, 0, 10.5), want: { excessBurstCapacity: 78 } },
    // rps metric: same maths on the rps averages: ceil(450/200) = 3 with target 200
    { name: '§c5 rps metric uses the same maths', spec: { metric: 'rps', targetValue: 200 }, obs: obs(3, 450, 450), want: { desiredPods: 3 } },
    // dP = ceil(40/10) = 4; 4/2 = 2 ≥ 2 → panic (threshold is inclusive)
    { name: '§c5 panic when dP / R ≥ threshold (inclusive)', obs: obs(2, 10, 40), want: { inPanic: true, desiredPods: 4 } },
    // dP = ceil(39/10) = 4 as well: ceil before the ratio
    { name: '§c5 panic ratio uses ceil(P / target)', obs: obs(2, 10, 31), want: { inPanic: true, desiredPods: 4 } },
    // dP = 3; 3/2 = 1.5 < 2 → no panic, desired = ds = ceil(1) = 1
    { name: '§c5 no panic below the threshold', obs: obs(2, 10, 30), want: { inPanic: false, desiredPods: 1 } },
    // maxUp = ceil(1.5·1) = 2 clamps dp to 2, but the panic test uses unclamped dP = 10: 10/1 ≥ 2
    { name: '§c5 panic decision uses the unclamped dP', spec: { maxScaleUpRate: 1.5 }, obs: obs(1, 0, 100), want: { inPanic: true, desiredPods: 2 } },
  ];

  it.each(cases)('$name', ({ spec, readyAtStart, obs: o, want }) => {
    const d = new Decider({ ...BASE, ...spec }, readyAtStart ?? 0, s(0));
    expect(d.scale(s(2), o)).toMatchObject(want);
  });
});

interface Step {
  atSec: number;
  obs: Observation | undefined;
  wantPods: number;
  wantPanic: boolean;
  wantValid?: boolean;
}

function runSteps(d: Decider, steps: Step[]): void {
  for (const st of steps) {
    const r = d.scale(s(st.atSec), st.obs);
    expect({ at: st.atSec, valid: r.valid, pods: r.valid ? r.desiredPods : st.wantPods, panic: d.inPanic }).toEqual({
      at: st.atSec,
      valid: st.wantValid ?? true,
      pods: st.wantPods,
      panic: st.wantPanic,
    });
  }
}

describe('Decider over time (§c5 panic, §c6 scale-down delay)', () => {
  it('§c5 panic: entry, never scaling down, growth allowed, exit only after a full stable window', () => {
    const d = new Decider(BASE, 1, s(0));
    runSteps(d, [
      // dP = 5, 5/2 ≥ 2 → panic at 0; ds = max(1, floor(2/2)=1) = 1; desired = max(maxPanicPods 1, 1, 5) = 5
      { atSec: 0, obs: obs(2, 10, 50), wantPods: 5, wantPanic: true },
      // dP = 1, 1/5 < 2; 0 + 60 s < 2 s? no → still panic; ds = max(1, floor(5/2)=2) = 2 → held at 5
      { atSec: 2, obs: obs(5, 10, 10), wantPods: 5, wantPanic: true },
      // dS = dP = 6; 6/5 < 2; still panic (30 s in); max(5, 6, 6) = 6 → grows
      { atSec: 30, obs: obs(5, 60, 60), wantPods: 6, wantPanic: true },
      // 0 + 60 s < 60 s is false (strict) → still panic, held at 6
      { atSec: 60, obs: obs(6, 10, 10), wantPods: 6, wantPanic: true },
      // 60 s < 62 s → leave panic, maxPanicPods = 0; ds = max(ceil(10/10)=1, floor(6/2)=3) = 3
      { atSec: 62, obs: obs(6, 10, 10), wantPods: 3, wantPanic: false },
    ]);
  });

  it('§c5 panic is extended while over the threshold (panicTime = now)', () => {
    const d = new Decider(BASE, 0, s(0));
    runSteps(d, [
      { atSec: 0, obs: obs(2, 10, 50), wantPods: 5, wantPanic: true },
      // over again at 40 s → panicTime = 40 s; dP = 10, 10/5 ≥ 2; desired max(5, 1→2, 10) = 10
      { atSec: 40, obs: obs(5, 10, 100), wantPods: 10, wantPanic: true },
      // 40 + 60 = 100 s, not < 62 s → still panic
      { atSec: 62, obs: obs(10, 10, 10), wantPods: 10, wantPanic: true },
      // 100 s < 100 s false → still panic
      { atSec: 100, obs: obs(10, 10, 10), wantPods: 10, wantPanic: true },
      // 100 s < 102 s → exit; ds = max(1, floor(10/2) = 5) = 5
      { atSec: 102, obs: obs(10, 10, 10), wantPods: 5, wantPanic: false },
    ]);
  });

  it('§c5 a decider created with >1 ready pods starts in panic with maxPanicPods = ready', () => {
    const d = new Decider(BASE, 3, s(0));
    expect(d.inPanic).toBe(true);
    runSteps(d, [
      // ds = max(0, floor(3/2) = 1) = 1; panic keeps max(3, 1, 1) = 3
      { atSec: 2, obs: obs(3, 0), wantPods: 3, wantPanic: true },
      // 0 + 60 s < 61 s → leave panic → 1
      { atSec: 61, obs: obs(3, 0), wantPods: 1, wantPanic: false },
    ]);
  });

  it.each([0, 1])('§c5 a decider created with %i ready pods does not start in panic', (ready) => {
    const d = new Decider(BASE, ready, s(0));
    expect(d.inPanic).toBe(false);
    // S = 0, 1 pod → 0 (no panic hold)
    expect(d.scale(s(2), obs(1, 0)).desiredPods).toBe(0);
  });

  it('§c1 no data: the tick is invalid and changes nothing', () => {
    const d = new Decider(BASE, 3, s(0));
    runSteps(d, [
      // well past the stable window, but an invalid tick does not evaluate panic exit
      { atSec: 100, obs: undefined, wantPods: 0, wantPanic: true, wantValid: false },
      // the next valid tick leaves panic: 0 + 60 < 102 → ds = max(0, floor(3/2)=1) = 1
      { atSec: 102, obs: obs(3, 0), wantPods: 1, wantPanic: false },
    ]);
  });

  it.each([
    { name: 'NaN stable', o: obs(1, Number.NaN, 0) },
    { name: 'infinite panic', o: obs(1, 0, Number.POSITIVE_INFINITY) },
    { name: 'negative ready pods', o: obs(-1, 0) },
  ])('bad observation ($name) is an invalid tick that changes nothing', ({ o }) => {
    const d = new Decider(BASE, 3, s(0));
    expect(d.scale(s(100), o).valid).toBe(false);
    expect(d.inPanic).toBe(true);
  });

  it('§c6 scale-down delay holds the maximum of the last ceil(delay / 2 s) buckets', () => {
    const d = new Decider({ ...BASE, scaleDownDelayMs: 10_000 }, 0, s(0));
    runSteps(d, [
      // dS = 5, 5/5 < 2 → 5
      { atSec: 0, obs: obs(5, 50), wantPods: 5, wantPanic: false },
      // ds = max(0, floor(5/2) = 2) = 2 but the window (5 buckets) still holds 5
      { atSec: 2, obs: obs(5, 0), wantPods: 5, wantPanic: false },
      // index 4 − 0 < 5 → still 5
      { atSec: 8, obs: obs(5, 0), wantPods: 5, wantPanic: false },
      // index 5 − 0 ≥ 5 → 5 expired; the window max is 2
      { atSec: 10, obs: obs(5, 0), wantPods: 2, wantPanic: false },
    ]);
  });

  it('§c6 scale-down delay is not used when the revision is unreachable', () => {
    const d = new Decider({ ...BASE, scaleDownDelayMs: 10_000, reachable: false }, 0, s(0));
    runSteps(d, [
      { atSec: 0, obs: obs(5, 50), wantPods: 5, wantPanic: false },
      // unreachable: maxDown = 0 and no delay → 0
      { atSec: 2, obs: obs(5, 0), wantPods: 0, wantPanic: false },
    ]);
  });

  it('§c6 the delay window is created with the decider; a later spec update does not add one', () => {
    const d = new Decider(BASE, 0, s(0));
    d.updateSpec({ ...BASE, scaleDownDelayMs: 10_000 });
    runSteps(d, [
      { atSec: 0, obs: obs(5, 50), wantPods: 5, wantPanic: false },
      { atSec: 2, obs: obs(5, 0), wantPods: 2, wantPanic: false },
    ]);
  });

  it('§c5 updateSpec applies from the next tick', () => {
    const d = new Decider({ ...BASE, panicThreshold: 10 }, 0, s(0));
    // ceil(50/10) = 5
    expect(d.scale(s(0), obs(5, 50)).desiredPods).toBe(5);
    d.updateSpec({ ...BASE, panicThreshold: 10, targetValue: 5 });
    // ceil(50/5) = 10
    expect(d.scale(s(2), obs(5, 50)).desiredPods).toBe(10);
  });
});

describe('initialDeciderStatus (§c1)', () => {
  it.each([
    { name: '§c1 TBC −1 → EBC −1', tbc: -1, initialScale: 1, total: 100, want: -1 },
    { name: '§c1 TBC 0 → EBC 0', tbc: 0, initialScale: 1, total: 100, want: 0 },
    // trunc(1·100 − 211) = −111
    { name: '§c1 TBC > 0 → trunc(initialScale·total − TBC) (defaults)', tbc: 211, initialScale: 1, total: 100, want: -111 },
    // trunc(3·100 − 211) = 89
    { name: '§c1 TBC > 0 with initial scale 3', tbc: 211, initialScale: 3, total: 100, want: 89 },
    // trunc(1·10 − 10.5) = trunc(−0.5) = 0 (truncation, not floor)
    { name: '§c1 trunc rounds towards zero', tbc: 10.5, initialScale: 1, total: 10, want: 0 },
  ])('$name', ({ tbc, initialScale, total, want }) => {
    const st = initialDeciderStatus({ targetBurstCapacity: tbc, totalValue: total }, initialScale);
    expect(st.desiredPods).toBe(-1);
    expect(st.excessBurstCapacity).toBe(want);
  });
});
