/**
 * The load engine: runs a plan's iterations against an `Issue` function and records k6's metrics. Open model:
 * iterations start on the arrival schedule whatever the responses do, at most `maxInFlight` at once, the rest counted
 * in `dropped_iterations`. Closed model: that many VUs loop. Time and timers come from the clock passed in, so tests
 * run a schedule on a fake clock and see exact start times.
 */
import type { Cancel } from '../common/clock.js';
import { newHistogram, Registry, TREND_UNITS_PER_MS, type Tags } from './metrics.js';
import { arrivalTimes, levelAt, type Plan } from './schedule.js';

/** What the engine needs of time: `now()` in ms (fractional is fine) and one-shot timers. */
export interface LoadClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Cancel;
}

/** The outcome of one iteration, as the request adapter reports it. */
export interface IterationResult {
  /** The check: the request did what the scenario expects. */
  readonly ok: boolean;
  /** HTTP status (0 when no response arrived). */
  readonly status: number;
  /** Tags for sub-metrics (`kind`, …). */
  readonly tags: Tags;
  /** Short cause when it failed (`ECONNREFUSED`, `status 503`, `bad echo`). */
  readonly error?: string;
}

/** Runs one iteration; must settle (never hang) once `signal` aborts. */
export type Issue = (signal: AbortSignal) => Promise<IterationResult>;

/** Which request metrics the scenario's type fills (k6's names). */
export interface MetricNames {
  /** Trend of each request's (or session's) duration: http_req_duration, ws_session_duration, grpc_req_duration. */
  readonly duration: string;
  /** Counter of requests: http_reqs, ws_sessions, grpc_reqs. */
  readonly count: string;
  /** Rate of failed requests (http only: http_req_failed). */
  readonly failed?: string;
}

export const HTTP_METRICS: MetricNames = { duration: 'http_req_duration', count: 'http_reqs', failed: 'http_req_failed' };
export const WS_METRICS: MetricNames = { duration: 'ws_session_duration', count: 'ws_sessions' };
export const GRPC_METRICS: MetricNames = { duration: 'grpc_req_duration', count: 'grpc_reqs' };

/** Latency from the scheduled start (open model): includes any wait for the engine itself, so no coordinated omission. */
export const SCHEDULED_METRIC = 'tide_req_latency_from_schedule';

/** One second of the run, for the report's charts. */
export interface SecondRow {
  /** Seconds since the start (the second the responses completed in). */
  readonly t: number;
  readonly started: number;
  readonly completed: number;
  readonly failed: number;
  readonly dropped: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly inFlight: number;
}

export interface Progress {
  readonly elapsedMs: number;
  readonly started: number;
  readonly completed: number;
  readonly failed: number;
  readonly dropped: number;
  readonly inFlight: number;
  /** Completions per second over the last full second. */
  readonly ratePerSecond: number;
  /** p95 of the last full second, ms. */
  readonly p95: number;
}

export interface RunResult {
  readonly metrics: Registry;
  readonly timeline: readonly SecondRow[];
  readonly durationMs: number;
  /** Failures by cause. */
  readonly errors: ReadonlyMap<string, number>;
  /** Iterations still running at the end of the graceful stop, aborted. */
  readonly interrupted: number;
}

export interface EngineOptions {
  readonly plan: Plan;
  readonly issue: Issue;
  readonly clock: LoadClock;
  readonly names: MetricNames;
  /** Sub-metrics to keep (thresholds on `name{tag:value}`): key → [metric, tags]. */
  readonly subMetrics?: readonly (readonly [string, string, Tags])[];
  /** k6's gracefulStop: how long in-flight iterations may finish after the schedule ends (default 30 s). */
  readonly gracefulStopMs?: number;
  /** Called once per second of the run. */
  readonly onSecond?: (p: Progress) => void;
}

/** Registers the metrics a run of this type produces (so thresholds can be checked against them before it starts). */
export function defineMetrics(reg: Registry, names: MetricNames, open: boolean): void {
  reg.define('checks', 'rate');
  reg.define(names.duration, 'trend', 'time');
  reg.define(names.count, 'counter');
  if (names.failed) reg.define(names.failed, 'rate');
  reg.define('iterations', 'counter');
  reg.define('iteration_duration', 'trend', 'time');
  reg.define('dropped_iterations', 'counter');
  reg.define('vus', 'gauge');
  reg.define('vus_max', 'gauge');
  if (open) reg.define(SCHEDULED_METRIC, 'trend', 'time');
}

/** Runs the plan to the end (schedule, then graceful stop) and resolves with every metric. */
export function runLoad(o: EngineOptions, registry = new Registry()): Promise<RunResult> {
  const { plan, clock, names } = o;
  const open = plan.model === 'open';
  defineMetrics(registry, names, open);
  for (const [key, name, tags] of o.subMetrics ?? []) registry.defineSub(key, name, tags);
  registry.add('vus_max', open ? plan.maxInFlight : plan.maxVUs);

  const start = clock.now();
  const abort = new AbortController();
  const errors = new Map<string, number>();
  const timeline: SecondRow[] = [];
  let started = 0;
  let completed = 0;
  let failed = 0;
  let dropped = 0;
  let inFlight = 0;
  let scheduleDone = false;
  let stopCancel: Cancel | undefined;
  let settle!: (r: RunResult) => void;
  const result = new Promise<RunResult>((r) => (settle = r));
  let finished = false;

  // Per-second rows: counts, and a histogram reset each second.
  const secHist = newHistogram();
  let sec = { started: 0, completed: 0, failed: 0, dropped: 0 };
  let lastRow: SecondRow | undefined;
  const closeSecond = (): void => {
    const t = timeline.length + 1;
    const pct = (p: number): number => (secHist.totalCount === 0 ? 0 : secHist.getValueAtPercentile(p) / TREND_UNITS_PER_MS);
    lastRow = { t, ...sec, p50: pct(50), p95: pct(95), p99: pct(99), max: secHist.totalCount === 0 ? 0 : secHist.maxValue / TREND_UNITS_PER_MS, inFlight };
    timeline.push(lastRow);
    secHist.reset();
    sec = { started: 0, completed: 0, failed: 0, dropped: 0 };
    registry.add('vus', inFlight);
    o.onSecond?.(progress());
  };
  const progress = (): Progress => ({
    elapsedMs: clock.now() - start,
    started,
    completed,
    failed,
    dropped,
    inFlight,
    ratePerSecond: lastRow?.completed ?? 0,
    p95: lastRow?.p95 ?? 0,
  });
  let tickCancel: Cancel | undefined;
  const tick = (): void => {
    closeSecond();
    if (!finished) tickCancel = clock.setTimeout(tick, start + (timeline.length + 1) * 1000 - clock.now());
  };
  tickCancel = clock.setTimeout(tick, 1000);

  const finish = (): void => {
    if (finished) return;
    finished = true;
    stopCancel?.();
    tickCancel?.();
    if (sec.started + sec.completed + sec.dropped > 0) closeSecond();
    settle({ metrics: registry, timeline, durationMs: clock.now() - start, errors, interrupted: inFlight });
    abort.abort();
  };
  const maybeFinish = (): void => {
    if (scheduleDone && inFlight === 0) finish();
  };
  const endSchedule = (): void => {
    scheduleDone = true;
    maybeFinish();
    if (!finished) stopCancel = clock.setTimeout(finish, o.gracefulStopMs ?? 30_000);
  };

  /** Starts one iteration; `scheduledAt` is its planned start (clock ms), `done` runs after it settles. */
  const launch = (scheduledAt: number, done?: () => void): void => {
    started++;
    sec.started++;
    inFlight++;
    const t0 = clock.now();
    const record = (r: IterationResult): void => {
      inFlight--;
      if (finished) return; // aborted at the end of the graceful stop: counted as interrupted, not as a result
      const end = clock.now();
      const ms = end - t0;
      completed++;
      sec.completed++;
      if (!r.ok) {
        failed++;
        sec.failed++;
        const cause = r.error ?? `status ${r.status}`;
        errors.set(cause, (errors.get(cause) ?? 0) + 1);
      }
      const tags = { ...r.tags, status: String(r.status) };
      registry.add(names.duration, ms, tags);
      registry.add(names.count, 1, tags);
      if (names.failed) registry.add(names.failed, !r.ok, tags);
      registry.add('checks', r.ok, tags);
      registry.add('iterations', 1, tags);
      registry.add('iteration_duration', ms, tags);
      if (open) registry.add(SCHEDULED_METRIC, end - scheduledAt, tags);
      secHist.recordValue(Math.max(1, Math.round(ms * TREND_UNITS_PER_MS)));
      done?.();
      maybeFinish();
    };
    let p: Promise<IterationResult>;
    try {
      p = o.issue(abort.signal);
    } catch (err) {
      p = Promise.resolve({ ok: false, status: 0, tags: {}, error: (err as Error).message });
    }
    p.then(record, (err: unknown) => record({ ok: false, status: 0, tags: {}, error: err instanceof Error ? err.message : String(err) }));
  };

  if (plan.model === 'open') {
    const times = arrivalTimes(plan.startRate, plan.stages);
    let next = times.next();
    const wake = (): void => {
      const now = clock.now() - start;
      while (!next.done && next.value <= now) {
        if (next.value >= plan.durationMs) break;
        if (inFlight >= plan.maxInFlight) {
          dropped++;
          sec.dropped++;
          registry.add('dropped_iterations', 1);
        } else {
          launch(start + next.value);
        }
        next = times.next();
      }
      // The schedule ends at the plan's duration (not at the last start); the graceful stop counts from there.
      if (next.done || next.value >= plan.durationMs) clock.setTimeout(endSchedule, start + plan.durationMs - clock.now());
      else clock.setTimeout(wake, start + next.value - clock.now());
    };
    wake();
  } else {
    const end = start + plan.durationMs;
    const running = new Set<number>();
    const target = (): number => Math.round(levelAt(plan.startVUs, plan.stages, clock.now() - start));
    const loop = (vu: number): void => {
      if (clock.now() >= end || vu >= target()) {
        running.delete(vu);
        maybeFinish();
        return;
      }
      launch(clock.now(), () => loop(vu));
    };
    const control = (): void => {
      if (clock.now() >= end) {
        endSchedule();
        return;
      }
      const want = Math.min(plan.maxVUs, target());
      for (let vu = 0; vu < want; vu++) {
        if (!running.has(vu)) {
          running.add(vu);
          loop(vu);
        }
      }
      clock.setTimeout(control, Math.min(100, end - clock.now()));
    };
    control();
  }
  return result;
}
