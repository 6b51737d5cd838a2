import { describe, expect, it } from 'vitest';
import { DEACTIVATE_REQUEUE_MS, RevisionScaler, revisionScalerSpec, type PaState, type ReconcileInput, type ReconcileResult, type RevisionScalerSpec } from '../../../autoscaler/scaling/scaler.js';

const T0 = Date.UTC(2026, 0, 1);
const s = (sec: number): number => T0 + sec * 1000;

/** Knative defaults: min 0, max 0, initial 1, scale to zero on, grace 30 s, retention 0, activation 600 + 30 s, window 60 s, TBC 211. */
const SPEC: RevisionScalerSpec = {
  minScale: 0,
  maxScale: 0,
  initialScale: 1,
  enableScaleToZero: true,
  scaleToZeroGracePeriodMs: 30_000,
  scaleToZeroPodRetentionPeriodMs: 0,
  activationTimeoutMs: 630_000,
  stableWindowMs: 60_000,
  targetBurstCapacity: 211,
};

const IN: ReconcileInput = { desired: 1, excessBurstCapacity: 0, readyPods: 1, currentReplicas: 1, reachable: true, activatorReady: true };

interface OneCase {
  name: string;
  spec?: Partial<RevisionScalerSpec>;
  state?: PaState;
  initialized?: boolean;
  atSec?: number;
  input: Partial<ReconcileInput>;
  want: Partial<ReconcileResult>;
}

describe('RevisionScaler single reconcile (§c7, §b1)', () => {
  const cases: OneCase[] = [
    { name: '§c7 step 1: unknown desire and not activating → nothing applied', state: 'active', input: { desired: -1 }, want: { replicas: undefined, want: -1 } },
    { name: '§c7 step 2: desired above max-scale is clamped', input: { desired: 5, readyPods: 3 }, spec: { maxScale: 3 }, want: { replicas: 3, want: 3 } },
    { name: '§c7 step 2: desired below min-scale is raised', input: { desired: 0 }, spec: { minScale: 2 }, want: { replicas: 2, want: 2 } },
    // unreachable: min ignored → 0 → gate (active for 0 s < 60 s) → keep 1 for the rest of the window
    { name: '§c7 step 2: min-scale is ignored when unreachable', state: 'active', input: { desired: 0, reachable: false }, spec: { minScale: 2 }, want: { want: 1, replicas: undefined, requeueAfterMs: 60_000 } },
    { name: '§c7 step 2: initial scale > 1 raises min until the target is initialised', input: { desired: 1, readyPods: 0 }, spec: { initialScale: 3 }, want: { replicas: 3, state: 'activating' } },
    { name: '§c7 step 2: initial scale ignored once initialised', initialized: true, state: 'active', input: { desired: 1, currentReplicas: 3, readyPods: 3 }, spec: { initialScale: 3 }, want: { replicas: 1 } },
    { name: '§c7 step 2: initial scale ignored when unreachable', input: { desired: 1, reachable: false, readyPods: 0 }, spec: { initialScale: 3 }, want: { want: 1, replicas: undefined } },
    { name: '§c7 step 3: enable-scale-to-zero=false keeps 1', state: 'active', input: { desired: 0, currentReplicas: 2 }, spec: { enableScaleToZero: false }, want: { replicas: 1, want: 1 } },
    { name: '§c7 step 4: nothing applied when replicas already match', state: 'active', input: { desired: 4, currentReplicas: 4, readyPods: 4 }, want: { replicas: undefined, want: 4 } },
    { name: '§b1 serve iff want > 0 and EBC ≥ 0', state: 'active', input: { desired: 2, excessBurstCapacity: 0, readyPods: 2 }, want: { mode: 'serve' } },
    { name: '§b1 negative EBC keeps the activator in the path', state: 'active', input: { desired: 2, excessBurstCapacity: -1, readyPods: 2 }, want: { mode: 'proxy' } },
    { name: '§b1 no ready pods forces proxy', input: { desired: 2, excessBurstCapacity: 50, readyPods: 0 }, want: { mode: 'proxy' } },
    { name: '§b1 no activator endpoints forces serve', input: { desired: 2, excessBurstCapacity: -5, readyPods: 1, activatorReady: false }, state: 'active', want: { mode: 'serve' } },
    { name: '§b1 unknown want is proxy', state: 'inactive', input: { desired: -1, excessBurstCapacity: 100 }, want: { mode: 'proxy' } },
    { name: '§c7 PA: ready < threshold → activating', state: 'inactive', input: { desired: 2, readyPods: 0 }, want: { state: 'activating' } },
    { name: '§c7 PA: ready ≥ threshold → active', state: 'activating', input: { desired: 2, readyPods: 1 }, want: { state: 'active' } },
    { name: '§c7 PA: threshold is max(min, initialScale) before initialisation', spec: { initialScale: 3 }, input: { desired: 3, readyPods: 2, currentReplicas: 3 }, want: { state: 'activating' } },
    { name: '§c7 PA: threshold is max(min, 1) after initialisation', spec: { initialScale: 3 }, initialized: true, state: 'activating', input: { desired: 3, readyPods: 1, currentReplicas: 3 }, want: { state: 'active' } },
    { name: '§c7 PA: unknown want while inactive stays inactive', state: 'inactive', input: { desired: -1, readyPods: 1 }, want: { state: 'inactive' } },
    { name: '§c7 PA: unknown want while active with too few pods → activating', state: 'active', initialized: true, input: { desired: -1, readyPods: 0 }, want: { state: 'activating' } },
  ];

  it.each(cases)('$name', ({ spec, state, initialized, atSec, input, want }) => {
    const opts: { state?: PaState; scaleTargetInitialized?: boolean } = {};
    if (state !== undefined) opts.state = state;
    if (initialized !== undefined) opts.scaleTargetInitialized = initialized;
    const sc = new RevisionScaler({ ...SPEC, ...spec }, s(0), opts);
    expect(sc.reconcile(s(atSec ?? 0), { ...IN, ...input })).toMatchObject(want);
  });

  it('revisionScalerSpec joins the scaler and decider specs', () => {
    const { stableWindowMs: _w, targetBurstCapacity: _t, ...scaler } = SPEC;
    expect(revisionScalerSpec(scaler, { stableWindowMs: 60_000, targetBurstCapacity: 211 })).toEqual(SPEC);
  });
});

interface Step {
  atSec: number;
  input: Partial<ReconcileInput>;
  want: Partial<ReconcileResult>;
}

function runSteps(sc: RevisionScaler, steps: Step[]): void {
  for (const st of steps) {
    const r = sc.reconcile(s(st.atSec), { ...IN, ...st.input });
    expect({ at: st.atSec, ...r }).toMatchObject({ at: st.atSec, ...st.want });
  }
}

describe('RevisionScaler over time (§c7 scale-to-zero gate)', () => {
  it('§c7 activating: requeue after the activation timeout, then give up and apply 0 strictly after it', () => {
    const sc = new RevisionScaler(SPEC, s(0));
    runSteps(sc, [
      // unknown desire while activating goes through bounds (→ min 0) and the gate
      { atSec: 100, input: { desired: -1, readyPods: 0 }, want: { replicas: undefined, want: -1, requeueAfterMs: 630_000, state: 'activating' } },
      // 630 s is not > 630 s
      { atSec: 630, input: { desired: 0, readyPods: 0 }, want: { replicas: undefined, want: -1, state: 'activating' } },
      // 631 s > 630 s → apply 0 (current 1); want 0 → inactive (Knative's TimedOut)
      { atSec: 631, input: { desired: 0, readyPods: 0 }, want: { replicas: 0, want: 0, state: 'inactive', mode: 'proxy' } },
    ]);
  });

  it('§c7 active: keep 1 pod until active for a stable window, then turn inactive unapplied; grace already served in proxy', () => {
    const sc = new RevisionScaler(SPEC, s(0), { state: 'active', scaleTargetInitialized: true });
    runSteps(sc, [
      // active 20 s < 60 s → apply 1 (already 1 → nothing to patch), requeue after 40 s; EBC < 0 → proxy from 20 s
      { atSec: 20, input: { desired: 0, excessBurstCapacity: -111 }, want: { want: 1, replicas: undefined, requeueAfterMs: 40_000, state: 'active', mode: 'proxy' } },
      // active 60 s ≥ 60 s → want 0 unapplied, SKS already proxy → requeue 3 s; PA inactive
      { atSec: 60, input: { desired: 0, excessBurstCapacity: -111 }, want: { want: 0, replicas: undefined, requeueAfterMs: DEACTIVATE_REQUEUE_MS, state: 'inactive', mode: 'proxy' } },
      // inactive 1 s < grace 30 s; retention 0; proxied since 20 s → 41 s ≥ 30 s → apply 0
      { atSec: 61, input: { desired: 0, excessBurstCapacity: -111 }, want: { want: 0, replicas: 0, state: 'inactive' } },
    ]);
  });

  it('§c7 inactive: wait for the grace period measured from when the activator came into the path', () => {
    const sc = new RevisionScaler(SPEC, s(0), { state: 'active', scaleTargetInitialized: true });
    runSteps(sc, [
      // EBC ≥ 0 → serve mode while active
      { atSec: 20, input: { desired: 0, excessBurstCapacity: 50 }, want: { mode: 'serve' } },
      // active 60 s → inactive; SKS was serve → no 3 s requeue; want 0 → proxy from 60 s
      { atSec: 60, input: { desired: 0, excessBurstCapacity: 50 }, want: { want: 0, replicas: undefined, requeueAfterMs: undefined, state: 'inactive', mode: 'proxy' } },
      // inactive 29 s < 30 s; proxied 29 s → requeue after 1 s, nothing applied
      { atSec: 89, input: { desired: 0 }, want: { want: 0, replicas: undefined, requeueAfterMs: 1000 } },
      // inactive 30 s ≥ max(30 s, 0) → apply 0
      { atSec: 90, input: { desired: 0 }, want: { want: 0, replicas: 0 } },
    ]);
  });

  it('§c7 inactive: pod retention period keeps the last pod', () => {
    const sc = new RevisionScaler({ ...SPEC, scaleToZeroPodRetentionPeriodMs: 120_000 }, s(0), { state: 'inactive', scaleTargetInitialized: true });
    runSteps(sc, [
      // inactive since 0; mode starts proxy; 1 s < max(30, 120) s; retention > 0 and 1 s < 120 s → requeue 119 s
      { atSec: 1, input: { desired: 0 }, want: { replicas: undefined, requeueAfterMs: 119_000 } },
      // 120 s ≥ 120 s → apply 0
      { atSec: 120, input: { desired: 0 }, want: { replicas: 0 } },
    ]);
  });

  it('§c7 inactive: retention is 0 when unreachable', () => {
    const sc = new RevisionScaler({ ...SPEC, scaleToZeroPodRetentionPeriodMs: 120_000 }, s(0), { state: 'inactive', scaleTargetInitialized: true });
    runSteps(sc, [
      // grace path: proxied since 1 s (first reconcile) → 30 − 0 = 30 s to wait
      { atSec: 1, input: { desired: 0, reachable: false }, want: { replicas: undefined, requeueAfterMs: 30_000 } },
      // inactive 31 s ≥ max(30, 0) → 0
      { atSec: 31, input: { desired: 0, reachable: false }, want: { replicas: 0 } },
    ]);
  });

  it('§c7 inactive: activator not in the path → probe fails, nothing applied, retry in 1 s', () => {
    const sc = new RevisionScaler(SPEC, s(0), { state: 'inactive', scaleTargetInitialized: true });
    runSteps(sc, [
      // no activator endpoints → the SKS serves pods directly
      { atSec: 1, input: { desired: 0, activatorReady: false }, want: { mode: 'serve' } },
      // the probe of the previous routing fails even though inactive for 100 s
      { atSec: 100, input: { desired: 0, activatorReady: true }, want: { replicas: undefined, want: 0, requeueAfterMs: 1000, mode: 'proxy' } },
      // now in proxy: inactive 101 s ≥ 30 s → 0
      { atSec: 101, input: { desired: 0 }, want: { replicas: 0 } },
    ]);
  });

  it('§c7 inactive with TBC −1: the activator probe is skipped', () => {
    const sc = new RevisionScaler({ ...SPEC, targetBurstCapacity: -1 }, s(0), { state: 'inactive', scaleTargetInitialized: true });
    runSteps(sc, [
      { atSec: 1, input: { desired: 0, activatorReady: false }, want: { mode: 'serve' } },
      { atSec: 100, input: { desired: 0 }, want: { replicas: 0 } },
    ]);
  });

  it('§c7 scale from zero: inactive → activating → active', () => {
    const sc = new RevisionScaler(SPEC, s(0), { state: 'inactive', scaleTargetInitialized: true });
    runSteps(sc, [
      { atSec: 1, input: { desired: 3, currentReplicas: 0, readyPods: 0, excessBurstCapacity: -211 }, want: { replicas: 3, state: 'activating', mode: 'proxy' } },
      { atSec: 5, input: { desired: 3, currentReplicas: 3, readyPods: 3, excessBurstCapacity: 89 }, want: { replicas: undefined, state: 'active', mode: 'serve' } },
    ]);
  });
});
