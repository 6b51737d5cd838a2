/** The KPA decision for one revision: stable/panic modes, rate limits, scale-down delay, burst capacity (docs/knative-parity.md §c5, §c6). */
import { TimeWindowMax } from '../aggregation/windowed-max.js';
import type { DeciderSpec } from './decider-spec.js';

/** Decider ticks are 2 s apart (§c1 `tickInterval`); the scale-down-delay window uses the same bucket width (§c6). */
export const TICK_INTERVAL_MS = 2000;

/** One tick's outcome (Knative `ScaleResult`). An invalid result must be ignored by the caller (§c1). */
export interface ScaleResult {
  valid: boolean;
  /** Recommended pods; −1 only in the initial status (see {@link initialDeciderStatus}). */
  desiredPods: number;
  /** EBC: negative means the activator should stay in the path (§b1). */
  excessBurstCapacity: number;
  inPanic: boolean;
}

/** What the metric source reports for one tick: ready pods (raw count) and the stable and panic window averages. */
export interface Observation {
  readyPods: number;
  stable: number;
  panic: number;
}

/** The one-method pod counter the tick needs (Knative `podCounter`); adapters implement it. */
export interface ReadyPods {
  readyCount(): number;
}

/**
 * §c1: a new decider's status before its first valid tick: desired −1 (unknown);
 * EBC = TBC when TBC ∈ {−1, 0}, else trunc(initialScale·TotalValue − TBC).
 * E.g. defaults (initial scale 1, total 100, TBC 211): trunc(100 − 211) = −111.
 */
export function initialDeciderStatus(spec: Pick<DeciderSpec, 'targetBurstCapacity' | 'totalValue'>, initialScale: number): { desiredPods: number; excessBurstCapacity: number } {
  const tbc = spec.targetBurstCapacity;
  const ebc = tbc === -1 || tbc === 0 ? tbc : toInt(initialScale * spec.totalValue - tbc);
  return { desiredPods: -1, excessBurstCapacity: ebc };
}

const INVALID: ScaleResult = Object.freeze({ valid: false, desiredPods: 0, excessBurstCapacity: 0, inPanic: false });

/** Go's int32(x) for the integral floats the tick produces: truncation towards zero (and no −0). */
function toInt(x: number): number {
  return Math.trunc(x) + 0;
}

/**
 * Knative's `autoscaler.Scale` (§c5) with the time passed in. Keeps panic state and the scale-down-delay window
 * between ticks; create one per revision and keep it (restarting it restarts in panic, which is the point of §c5's
 * last line).
 */
export class Decider {
  #spec: DeciderSpec;
  /** Undefined when not panicking (Knative's zero `panicTime`). */
  #panicTimeMs: number | undefined;
  #maxPanicPods: number;
  /** Created only when the delay is > 0 at construction and never resized (§c6). */
  readonly #delayWindow: TimeWindowMax | undefined;

  /**
   * @param readyPodsAtStart ready pods when the decider is created; > 1 starts in panic with maxPanicPods = ready,
   *   so a restarted autoscaler never scales down before a stable window has passed (§c5 last line).
   */
  constructor(spec: DeciderSpec, readyPodsAtStart: number, nowMs: number) {
    this.#spec = spec;
    this.#panicTimeMs = readyPodsAtStart > 1 ? nowMs : undefined;
    // Knative sets maxPanicPods to the start count whatever it is.
    this.#maxPanicPods = toInt(readyPodsAtStart);
    this.#delayWindow = spec.scaleDownDelayMs > 0 ? new TimeWindowMax(spec.scaleDownDelayMs, TICK_INTERVAL_MS) : undefined;
  }

  get spec(): DeciderSpec {
    return this.#spec;
  }

  /** Replaces the spec from the next tick on. The scale-down-delay window is not created, removed or resized (§c6). */
  updateSpec(spec: DeciderSpec): void {
    this.#spec = spec;
  }

  get inPanic(): boolean {
    return this.#panicTimeMs !== undefined;
  }

  /**
   * One tick (§c5). `obs` undefined means no data (ErrNoData or a failed pod count): the result is invalid and no
   * state changes. Non-finite averages or a negative/NaN pod count are treated the same way.
   */
  scale(nowMs: number, obs: Observation | undefined): ScaleResult {
    if (obs === undefined) return INVALID;
    // Bad input never crashes or poisons the state: treat it like no data.
    if (!Number.isFinite(obs.stable) || !Number.isFinite(obs.panic) || !(obs.readyPods >= 0)) return INVALID;
    const spec = this.#spec;
    const ready = obs.readyPods;
    // R = max(1, ready): with no pods we still reason about one.
    const r = Math.max(1, ready);

    // Growth of at least one pod per tick even with a timid rate (ceil); shrink by floor(R / rate),
    // so with rate 2 a single pod can drop straight to 0. Unreachable revisions may drop to 0 at once.
    const maxUp = Math.ceil(spec.maxScaleUpRate * r);
    const maxDown = spec.reachable ? Math.floor(r / spec.maxScaleDownRate) : 0;

    const dS = Math.ceil(obs.stable / spec.targetValue);
    const dP = Math.ceil(obs.panic / spec.targetValue);

    let ds = toInt(Math.min(Math.max(dS, maxDown), maxUp));
    let dp = toInt(Math.min(Math.max(dP, maxDown), maxUp));

    // Activation scale applies after the clamp and is not limited by the rates.
    if (spec.activationScale > 1) {
      if (dS > 0 && spec.activationScale > ds) ds = spec.activationScale;
      if (dP > 0 && spec.activationScale > dp) dp = spec.activationScale;
    }

    // Panic on the unclamped panic recommendation.
    const isOverPanicThreshold = dP / r >= spec.panicThreshold;
    if (isOverPanicThreshold) {
      // Enter panic, or extend it.
      this.#panicTimeMs = nowMs;
    } else if (this.#panicTimeMs !== undefined && this.#panicTimeMs + spec.stableWindowMs < nowMs) {
      // The surge has made it into the stable window: leave panic.
      this.#panicTimeMs = undefined;
      this.#maxPanicPods = 0;
    }

    let desired = ds;
    if (this.#panicTimeMs !== undefined) {
      // Provision for the larger of the two; never scale down while panicking.
      if (desired < dp) desired = dp;
      if (desired > this.#maxPanicPods) this.#maxPanicPods = desired;
      desired = this.#maxPanicPods;
    }

    if (spec.reachable && this.#delayWindow !== undefined) {
      this.#delayWindow.record(nowMs, desired);
      desired = this.#delayWindow.current();
    }

    // EBC on the panic value and the raw ready count: total capacity − TBC − current load.
    let ebc = -1;
    if (spec.targetBurstCapacity === 0) ebc = 0;
    else if (spec.targetBurstCapacity > 0) ebc = Math.floor(ready * spec.totalValue - spec.targetBurstCapacity - obs.panic);

    return { valid: true, desiredPods: desired, excessBurstCapacity: toInt(ebc), inPanic: this.#panicTimeMs !== undefined };
  }
}
