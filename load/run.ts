/** One scenario run end to end: thresholds checked up front, the engine over the scenario's request adapter, the summary. */
import type { SummaryData } from '../loadtest/scenarios/summary.ts';
import type { ScenarioDef } from '../loadtest/scenarios/types.ts';
import { defineMetrics, runLoad, type LoadClock, type MetricNames, type Progress, type RunResult } from './engine.js';
import { Registry } from './metrics.js';
import { requesterFor, type Target } from './requests.js';
import type { Plan } from './schedule.js';
import { prepareThresholds, summaryData } from './summary.js';

/** The wall clock for a real run: sub-millisecond `now`, and timers that keep the process alive while it runs. */
export function realLoadClock(): LoadClock {
  return {
    now: () => performance.now(),
    setTimeout(fn, ms) {
      const t = setTimeout(fn, Math.max(0, ms));
      return () => clearTimeout(t);
    },
  };
}

export interface ScenarioRun {
  readonly def: ScenarioDef;
  readonly plan: Plan;
  readonly target: Target;
  readonly clock: LoadClock;
  readonly tty: { stdout: boolean; stderr: boolean };
  /** Picks weighted paths. */
  readonly random: () => number;
  readonly onSecond?: (p: Progress) => void;
  readonly gracefulStopMs?: number;
}

export interface ScenarioOutcome {
  readonly result: RunResult;
  readonly summary: SummaryData;
  readonly names: MetricNames;
}

/** Runs the scenario; throws ThresholdError before sending anything when a threshold is not valid k6. */
export async function runScenario(r: ScenarioRun): Promise<ScenarioOutcome> {
  const requester = requesterFor(r.def.request, r.target, r.random);
  try {
    const registry = new Registry();
    defineMetrics(registry, requester.names, r.plan.model === 'open');
    const sets = prepareThresholds(r.def.thresholds, registry);
    const result = await runLoad(
      { plan: r.plan, issue: requester.issue, clock: r.clock, names: requester.names, ...(r.onSecond ? { onSecond: r.onSecond } : {}), ...(r.gracefulStopMs !== undefined ? { gracefulStopMs: r.gracefulStopMs } : {}) },
      registry,
    );
    return { result, summary: summaryData(result.metrics, sets, result.durationMs, r.tty), names: requester.names };
  } finally {
    await requester.close();
  }
}
