/**
 * When iterations start, as k6's executors decide it, from a scenario definition: arrival-rate executors give a list
 * of start times (open model, independent of responses); VU executors give the number of looping VUs over time
 * (closed model). Pure functions of the definition; durations in ms.
 */
import { parseGoDuration } from '../common/duration.js';
import type { ScenarioDef, Stage } from '../loadtest/scenarios/types.ts';

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

/** A stage with its duration in ms. */
export interface MsStage {
  readonly target: number;
  readonly durationMs: number;
}

export type Plan =
  | {
      readonly model: 'open';
      /** Iterations per second over time: starts at `startRate`, then each stage ramps linearly to its target. */
      readonly startRate: number;
      readonly stages: readonly MsStage[];
      /** Cap on iterations in flight; an arrival beyond it is dropped (k6's dropped_iterations). */
      readonly maxInFlight: number;
      readonly durationMs: number;
    }
  | {
      readonly model: 'closed';
      /** VUs over time, ramping linearly from `startVUs` through the stages (constant-vus: one flat stage). */
      readonly startVUs: number;
      readonly stages: readonly MsStage[];
      readonly maxVUs: number;
      readonly durationMs: number;
    };

export interface Overrides {
  /** --vus: a closed model with this many VUs (ramping-vus: stages scaled so the peak is this). */
  readonly vus?: number;
  /** --rate: an open model at this many per second (ramping-arrival-rate: stages scaled so the peak is this). */
  readonly rate?: number;
  /** --duration: how long (ramping executors: every stage scaled in proportion). */
  readonly durationMs?: number;
}

export function durationMs(text: string, what: string): number {
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0) throw new ScheduleError(`${what}: ${JSON.stringify(text)} is not a positive duration like 30s or 1m30s`);
  return ms;
}

function msStages(stages: readonly Stage[] | undefined, what: string): MsStage[] {
  if (!stages || stages.length === 0) throw new ScheduleError(`${what}: a ramping executor needs stages`);
  return stages.map((s, i) => ({ target: s.target, durationMs: durationMs(s.duration, `${what} stage ${i + 1}`) }));
}

const total = (stages: readonly MsStage[]): number => stages.reduce((s, x) => s + x.durationMs, 0);

function rescale(stages: readonly MsStage[], start: number, peakTo: number | undefined, lengthTo: number | undefined): { start: number; stages: MsStage[] } {
  const peak = Math.max(start, ...stages.map((s) => s.target));
  const k = peakTo !== undefined && peak > 0 ? peakTo / peak : 1;
  const t = lengthTo !== undefined ? lengthTo / total(stages) : 1;
  return { start: start * k, stages: stages.map((s) => ({ target: s.target * k, durationMs: s.durationMs * t })) };
}

/** The plan for `def` with the command line's overrides applied. */
export function planFor(def: ScenarioDef, o: Overrides = {}): Plan {
  const what = `scenario ${def.name}`;
  const cap = def.maxVUs ?? def.preAllocatedVUs ?? 100;
  const openExec = def.executor === 'constant-arrival-rate' || def.executor === 'ramping-arrival-rate';
  const flat = (target: number, ms: number): MsStage[] => [{ target, durationMs: ms }];
  if (o.vus !== undefined) {
    if (def.executor === 'ramping-vus') {
      const r = rescale(msStages(def.stages, what), 0, o.vus, o.durationMs);
      return { model: 'closed', startVUs: r.start, stages: r.stages, maxVUs: o.vus, durationMs: total(r.stages) };
    }
    const ms = o.durationMs ?? planFor(def).durationMs;
    return { model: 'closed', startVUs: o.vus, stages: flat(o.vus, ms), maxVUs: o.vus, durationMs: ms };
  }
  if (o.rate !== undefined || openExec) {
    if (def.executor === 'ramping-arrival-rate') {
      const r = rescale(msStages(def.stages, what), def.startRate ?? 0, o.rate, o.durationMs);
      return { model: 'open', startRate: r.start, stages: r.stages, maxInFlight: cap, durationMs: total(r.stages) };
    }
    const ms = o.durationMs ?? (def.executor === 'constant-arrival-rate' ? durationMs(def.duration ?? '', what) : planFor(def).durationMs);
    const rate = o.rate ?? def.rate;
    if (rate === undefined || !(rate > 0)) throw new ScheduleError(`${what}: constant-arrival-rate needs a rate > 0`);
    return { model: 'open', startRate: rate, stages: flat(rate, ms), maxInFlight: cap, durationMs: ms };
  }
  if (def.executor === 'ramping-vus') {
    const r = rescale(msStages(def.stages, what), 0, undefined, o.durationMs);
    const peak = Math.max(...r.stages.map((s) => s.target));
    return { model: 'closed', startVUs: 0, stages: r.stages, maxVUs: Math.ceil(peak), durationMs: total(r.stages) };
  }
  const vus = def.vus ?? 1;
  const ms = o.durationMs ?? durationMs(def.duration ?? '', what);
  return { model: 'closed', startVUs: vus, stages: flat(vus, ms), maxVUs: vus, durationMs: ms };
}

/** The level (rate or VUs) at `t` ms: linear within each stage, as k6 ramps. */
export function levelAt(start: number, stages: readonly MsStage[], t: number): number {
  let from = start;
  let t0 = 0;
  for (const s of stages) {
    if (t < t0 + s.durationMs) return from + ((s.target - from) * (t - t0)) / s.durationMs;
    from = s.target;
    t0 += s.durationMs;
  }
  return from;
}

/**
 * Start times (ms from the beginning) of an open-model plan: the i-th iteration (from 0) starts when the integral of
 * the rate reaches i, so the first starts at 0 and a constant rate r gives i × 1000 / r (k6's arrival-rate executors).
 * Lazy: a long run never holds its whole schedule.
 */
export function* arrivalTimes(startRate: number, stages: readonly MsStage[]): Generator<number> {
  let i = 0;
  let done = 0; // iterations due before the current stage
  let t0 = 0;
  let from = startRate;
  for (const s of stages) {
    const T = s.durationMs / 1000;
    const a = (s.target - from) / T; // rate change per second within the stage
    const inStage = from * T + (a * T * T) / 2;
    const end = done + inStage;
    // Float noise must not add or lose an iteration at a stage boundary.
    while (i < end - 1e-9) {
      const need = i - done;
      let x: number; // seconds into the stage where the integral reaches `need`
      if (Math.abs(a) < 1e-12) x = from > 0 ? need / from : T;
      else x = (-from + Math.sqrt(Math.max(0, from * from + 2 * a * need))) / a;
      yield t0 + Math.min(x, T) * 1000;
      i++;
    }
    done = end;
    t0 += s.durationMs;
    from = s.target;
  }
}
