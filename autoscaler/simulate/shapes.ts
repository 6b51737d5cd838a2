/** Built-in load shapes for `tide simulate --shape NAME:key=value,...`: step, spike, ramp and sine (diurnal). */
import { MAX_TRACE_SECONDS, type Trace } from './trace.js';

/** A shape name with its parameters, their defaults and what each means (used by `--help` and docs). */
interface ShapeDef {
  readonly summary: string;
  readonly params: Readonly<Record<string, { readonly default: number; readonly help: string }>>;
  /** Load at second t, given the resolved parameters. */
  readonly value: (t: number, p: Readonly<Record<string, number>>) => number;
}

/** Every built-in shape. All times are in seconds; values are concurrency (or rps with `metric=rps`). */
export const SHAPES: Readonly<Record<string, ShapeDef>> = {
  step: {
    summary: 'load jumps from `from` to `to` at second `at`',
    params: {
      from: { default: 0, help: 'load before the step' },
      to: { default: 50, help: 'load from the step on' },
      at: { default: 60, help: 'second of the step' },
      duration: { default: 600, help: 'trace length, seconds' },
    },
    value: (t, p) => (t < p.at! ? p.from! : p.to!),
  },
  spike: {
    summary: 'load `base`, with `peak` for `width` seconds from second `at`',
    params: {
      base: { default: 5, help: 'load outside the spike' },
      peak: { default: 100, help: 'load during the spike' },
      at: { default: 120, help: 'second the spike starts' },
      width: { default: 10, help: 'spike length, seconds' },
      duration: { default: 600, help: 'trace length, seconds' },
    },
    value: (t, p) => (t >= p.at! && t < p.at! + p.width! ? p.peak! : p.base!),
  },
  ramp: {
    summary: 'load `from` until `start`, rising linearly to `to` at `end`, then held',
    params: {
      from: { default: 0, help: 'load before the ramp' },
      to: { default: 100, help: 'load at the end of the ramp and after' },
      start: { default: 0, help: 'second the ramp starts' },
      end: { default: 300, help: 'second the ramp reaches `to`' },
      duration: { default: 600, help: 'trace length, seconds' },
    },
    value: (t, p) => {
      if (t <= p.start!) return p.from!;
      if (t >= p.end!) return p.to!;
      return p.from! + ((p.to! - p.from!) * (t - p.start!)) / (p.end! - p.start!);
    },
  },
  sine: {
    summary: 'diurnal wave between `min` and `max` with period `period`, starting at `min` (shifted by `phase` seconds)',
    params: {
      min: { default: 5, help: 'lowest load (at t = phase)' },
      max: { default: 100, help: 'highest load (half a period later)' },
      period: { default: 86_400, help: 'seconds per cycle (a day by default)' },
      phase: { default: 0, help: 'second at which the load is at its lowest' },
      duration: { default: 86_400, help: 'trace length, seconds' },
    },
    value: (t, p) => p.min! + ((p.max! - p.min!) * (1 - Math.cos((2 * Math.PI * (t - p.phase!)) / p.period!))) / 2,
  },
};

/** A bad `--shape` value; the message names the parameter. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

/**
 * Builds a per-second trace from `name:key=value,key=value`. Every parameter has a default; `metric=rps` makes the
 * values requests per second instead of concurrency. Values are rounded to 6 decimals.
 * @throws ShapeError for an unknown shape or parameter, a non-numeric value, or an impossible combination.
 * @example shapeTrace('step:from=0,to=50,at=60,duration=600') // 600 seconds, 0 before second 60 and 50 from it
 */
export function shapeTrace(spec: string): Trace {
  const colon = spec.indexOf(':');
  const name = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const def = SHAPES[name];
  if (def === undefined) throw new ShapeError(`unknown shape ${JSON.stringify(name)}: expected one of ${Object.keys(SHAPES).join(', ')}`);
  const p: Record<string, number> = {};
  for (const [k, d] of Object.entries(def.params)) p[k] = d.default;
  let metric: 'concurrency' | 'rps' = 'concurrency';
  const rest = colon < 0 ? '' : spec.slice(colon + 1).trim();
  for (const part of rest === '' ? [] : rest.split(',')) {
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (eq < 0) throw new ShapeError(`${name}: parameter ${JSON.stringify(part.trim())} needs a value (key=value)`);
    if (key === 'metric') {
      if (raw !== 'concurrency' && raw !== 'rps') throw new ShapeError(`${name}: metric must be concurrency or rps, got ${JSON.stringify(raw)}`);
      metric = raw;
      continue;
    }
    if (!(key in def.params)) {
      throw new ShapeError(`${name}: unknown parameter ${JSON.stringify(key)}: expected ${[...Object.keys(def.params), 'metric'].join(', ')}`);
    }
    const v = raw === '' ? NaN : Number(raw);
    if (!Number.isFinite(v)) throw new ShapeError(`${name}: ${key} ${JSON.stringify(raw)} is not a number`);
    p[key] = v;
  }
  const duration = p.duration!;
  if (!Number.isInteger(duration) || duration < 1 || duration > MAX_TRACE_SECONDS) {
    throw new ShapeError(`${name}: duration must be a whole number of seconds in [1, ${MAX_TRACE_SECONDS}], got ${duration}`);
  }
  if (name === 'ramp' && !(p.end! > p.start!)) throw new ShapeError(`ramp: end (${p.end}) must be after start (${p.start})`);
  if (name === 'sine' && !(p.period! > 0)) throw new ShapeError(`sine: period must be > 0, got ${p.period}`);
  if (name === 'spike' && p.width! < 0) throw new ShapeError(`spike: width must be >= 0, got ${p.width}`);
  const values = new Float64Array(duration);
  for (let t = 0; t < duration; t++) {
    const v = Math.round(def.value(t, p) * 1e6) / 1e6;
    if (v < 0) throw new ShapeError(`${name}: load at second ${t} would be negative (${v})`);
    values[t] = v;
  }
  return { format: metric, source: `shape ${spec}`, values };
}

/** One line per shape, for `--help` and error messages. */
export function describeShapes(): string {
  return Object.entries(SHAPES)
    .map(([n, d]) => `  ${n}: ${d.summary}\n      ${Object.entries(d.params).map(([k, v]) => `${k}=${v.default}`).join(',')}`)
    .join('\n');
}
