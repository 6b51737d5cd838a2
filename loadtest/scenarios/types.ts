/**
 * The one definition of a load scenario, read by the k6 scripts in loadtest/ and by `tide load`. Plain data and pure
 * functions only: k6 runs these modules as ES modules, so nothing here may import Node or k6.
 */

/** k6's executors that the scenarios use (https://grafana.com/docs/k6/latest/using-k6/scenarios/executors/). */
export type Executor = 'constant-arrival-rate' | 'ramping-arrival-rate' | 'constant-vus' | 'ramping-vus';

/** A k6 stage: ramp linearly to `target` (iterations per second, or VUs) over `duration` (`30s`, `1m`). */
export interface Stage {
  readonly target: number;
  readonly duration: string;
}

/** One weighted request of an HTTP scenario. `path` may carry the example app's `?delay=ms`. */
export interface WeightedPath {
  readonly path: string;
  readonly weight: number;
  /** k6 tag `kind`, so thresholds can name one kind (`http_req_duration{kind:short}`). */
  readonly kind: string;
}

export type RequestShape =
  /** One HTTP request per iteration, a path drawn by weight; 2xx/3xx is success (k6's default for http_req_failed). */
  | { readonly type: 'http'; readonly method: 'GET' | 'POST'; readonly paths: readonly WeightedPath[]; readonly body?: string }
  /** One WebSocket session per iteration: `messages` text frames sent and each echo awaited, then a normal close. */
  | { readonly type: 'websocket'; readonly path: string; readonly messages: number; readonly payload: string }
  /** One unary gRPC call per iteration to loadtest/echo.proto's `tide.loadtest.Echo/Say`. */
  | { readonly type: 'grpc'; readonly method: 'tide.loadtest.Echo/Say'; readonly payload: string };

export interface ScenarioDef {
  readonly name: string;
  /** One line: what the scenario shows. */
  readonly description: string;
  readonly executor: Executor;
  /** constant-arrival-rate: iterations per second. */
  readonly rate?: number;
  /** ramping-arrival-rate: iterations per second at the start. */
  readonly startRate?: number;
  /** constant-vus: VUs. */
  readonly vus?: number;
  /** constant-*: how long. */
  readonly duration?: string;
  /** ramping-*: the stages. */
  readonly stages?: readonly Stage[];
  /** Arrival-rate executors: VUs ready at start and the cap on iterations in flight (beyond it: dropped_iterations). */
  readonly preAllocatedVUs?: number;
  readonly maxVUs?: number;
  /** k6 thresholds: metric (optionally with tags) → expressions such as `p(95)<500`, `rate<0.01`. */
  readonly thresholds: Readonly<Record<string, readonly string[]>>;
  readonly request: RequestShape;
}

/** The options object a k6 script exports, built from a definition (the k6 scripts use this; tide load reads the def). */
export interface K6ScenarioOptions {
  scenarios: Record<string, Record<string, unknown>>;
  thresholds: Record<string, string[]>;
  summaryTrendStats: string[];
}

/** The trend statistics both k6 (with these options) and tide load print. */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

/** k6 `options` for a scenario (`exec` names the script's exported function). */
export function k6Options(def: ScenarioDef): K6ScenarioOptions {
  const base: Record<string, unknown> = { executor: def.executor, exec: 'run' };
  const pick = <K extends keyof ScenarioDef>(k: K): void => {
    if (def[k] !== undefined) base[k] = Array.isArray(def[k]) ? (def[k] as readonly Stage[]).map((s) => ({ ...s })) : def[k];
  };
  if (def.executor === 'constant-arrival-rate') {
    (['rate', 'duration', 'preAllocatedVUs', 'maxVUs'] as const).forEach(pick);
    base['timeUnit'] = '1s';
  } else if (def.executor === 'ramping-arrival-rate') {
    (['startRate', 'stages', 'preAllocatedVUs', 'maxVUs'] as const).forEach(pick);
    base['timeUnit'] = '1s';
  } else if (def.executor === 'constant-vus') {
    (['vus', 'duration'] as const).forEach(pick);
  } else {
    (['stages'] as const).forEach(pick);
    base['startVUs'] = 0;
  }
  const thresholds: Record<string, string[]> = {};
  for (const [metric, exprs] of Object.entries(def.thresholds)) thresholds[metric] = [...exprs];
  return { scenarios: { [def.name]: base }, thresholds, summaryTrendStats: [...SUMMARY_TREND_STATS] };
}

/** Picks a path by weight from a number in [0, 1) (k6 scripts pass Math.random(); tests pass fixed values). */
export function pickPath(paths: readonly WeightedPath[], u: number): WeightedPath {
  const total = paths.reduce((s, p) => s + p.weight, 0);
  let x = u * total;
  for (const p of paths) {
    if (x < p.weight) return p;
    x -= p.weight;
  }
  return paths[paths.length - 1]!;
}
