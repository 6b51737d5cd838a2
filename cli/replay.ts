/** `tide replay`: feeds recorded window averages straight into the decider and prints each decision (docs/architecture.md, "`tide replay` input and output"). */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AUTOSCALER_DEFAULTS } from '../autoscaler/config/autoscaler-config.js';
import { Decider, initialDeciderStatus } from '../autoscaler/scaling/decider.js';
import type { DeciderSpec } from '../autoscaler/scaling/decider-spec.js';
import { readAll, UsageError, type CliIo } from './io.js';

const USAGE = `usage: tide replay [-f FILE | -f -]

Feeds recorded stable/panic window averages into the KPA decider (one decider, kept across steps,
as the autoscaler keeps it) and prints one JSON decision per step, one per line.

  -f, --file FILE   input JSON; '-' or no -f reads stdin
  -h, --help        show this help

Input:
  { "spec": { "metric": "concurrency"|"rps", "targetValue": n, "totalValue": n, "targetBurstCapacity": n,
              "panicThreshold": ratio, "maxScaleUpRate": n, "maxScaleDownRate": n, "stableWindowSeconds": n,
              "scaleDownDelaySeconds": n, "activationScale": n, "reachable": bool },
    "readyPodsAtStart": n,
    "steps": [ { "atSeconds": n, "readyPods": n, "observedStable": n|null, "observedPanic": n|null,
                 "spec": { ...optional, replaces the spec from this step on } } ] }
Output, per step:
  { "atSeconds": n, "valid": bool, "desiredPods": n, "excessBurstCapacity": n, "inPanic": bool }

The decider is created at the first step's time (so >1 ready pods at start means panic until a stable
window has passed). A null observation means "no data": the step is invalid, changes nothing, and
prints the last valid decision (before any, desired -1 and the initial EBC of a 1-pod revision, §c1).
stableWindowSeconds may be 0 (a panic then ends at the first later step under the threshold); absent, it
is 60. A step earlier than the one before it is computed for its own time, as Knative's decider does for
any \`now\`, with a warning on stderr.
`;

/** One replay step after validation. */
interface Step {
  atSeconds: number;
  readyPods: number;
  observedStable: number | null;
  observedPanic: number | null;
  spec: DeciderSpec | undefined;
}

interface ReplayInput {
  spec: DeciderSpec;
  readyPodsAtStart: number;
  steps: Step[];
  /** One line per step whose time is earlier than the step before it (replayed anyway, as Knative would). */
  warnings: string[];
}

/** One output line. */
export interface ReplayDecision {
  atSeconds: number;
  valid: boolean;
  desiredPods: number;
  excessBurstCapacity: number;
  inPanic: boolean;
}

/** An absent `stableWindowSeconds` means the `config-autoscaler` default (60 s). */
const DEFAULT_STABLE_WINDOW_MS = AUTOSCALER_DEFAULTS.stableWindowMs;

/** Collects validation problems, each naming the field path. */
class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

type Bound = { min: number; exclusive?: boolean; integer?: boolean };

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function num(p: Problems, obj: Record<string, unknown>, key: string, path: string, bound: Bound): number {
  const v = obj[key];
  const want = `expected a number ${bound.exclusive ? '>' : '>='} ${bound.min}${bound.integer ? ' (a whole number)' : ''}`;
  if (typeof v !== 'number' || !Number.isFinite(v) || (bound.integer && !Number.isInteger(v)) || (bound.exclusive ? v <= bound.min : v < bound.min)) {
    p.add(join(path, key), `${want}, got ${describe(v)}`);
    return NaN;
  }
  return v;
}

function nullableNum(p: Problems, obj: Record<string, unknown>, key: string, path: string): number | null {
  const v = obj[key];
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    p.add(join(path, key), `expected a number >= 0 or null, got ${describe(v)}`);
    return NaN;
  }
  return v;
}

function parseSpec(p: Problems, v: unknown, path: string): DeciderSpec {
  if (!isObject(v)) {
    p.add(path, `expected an object, got ${describe(v)}`);
    return undefined as unknown as DeciderSpec;
  }
  const metric = v.metric;
  if (metric !== 'concurrency' && metric !== 'rps') p.add(`${path}.metric`, `expected "concurrency" or "rps", got ${describe(metric)}`);
  const tbc = v.targetBurstCapacity;
  if (typeof tbc !== 'number' || !Number.isFinite(tbc) || (tbc < 0 && tbc !== -1)) {
    p.add(`${path}.targetBurstCapacity`, `expected a number >= 0 or exactly -1, got ${describe(tbc)}`);
  }
  const reachable = v.reachable;
  if (typeof reachable !== 'boolean') p.add(`${path}.reachable`, `expected true or false, got ${describe(reachable)}`);
  const spec: DeciderSpec = {
    metric: metric === 'rps' ? 'rps' : 'concurrency',
    targetValue: num(p, v, 'targetValue', path, { min: 0, exclusive: true }),
    totalValue: num(p, v, 'totalValue', path, { min: 0 }),
    targetBurstCapacity: typeof tbc === 'number' ? tbc : NaN,
    panicThreshold: num(p, v, 'panicThreshold', path, { min: 0, exclusive: true }),
    maxScaleUpRate: num(p, v, 'maxScaleUpRate', path, { min: 0, exclusive: true }),
    maxScaleDownRate: num(p, v, 'maxScaleDownRate', path, { min: 0, exclusive: true }),
    // Knative's decider takes any StableWindow, 0 included (its own scale-down-delay tests run with 0).
    stableWindowMs: v.stableWindowSeconds === undefined ? DEFAULT_STABLE_WINDOW_MS : num(p, v, 'stableWindowSeconds', path, { min: 0 }) * 1000,
    scaleDownDelayMs: num(p, v, 'scaleDownDelaySeconds', path, { min: 0 }) * 1000,
    activationScale: num(p, v, 'activationScale', path, { min: 0, integer: true }),
    reachable: reachable === true,
  };
  return spec;
}

/** Validates the whole document; throws a UsageError listing every problem by field path. */
export function parseReplayInput(doc: unknown): ReplayInput {
  const p = new Problems();
  if (!isObject(doc)) throw new UsageError(`input: expected a JSON object, got ${describe(doc)}`);
  const spec = parseSpec(p, doc.spec, 'spec');
  const readyPodsAtStart = num(p, doc, 'readyPodsAtStart', '', { min: 0, integer: true });
  const steps: Step[] = [];
  const warnings: string[] = [];
  if (!Array.isArray(doc.steps)) {
    p.add('steps', `expected an array, got ${describe(doc.steps)}`);
  } else {
    let previousAt = -Infinity;
    doc.steps.forEach((raw: unknown, i) => {
      const path = `steps[${i}]`;
      if (!isObject(raw)) {
        p.add(path, `expected an object, got ${describe(raw)}`);
        return;
      }
      const atSeconds = num(p, raw, 'atSeconds', path, { min: 0 });
      // Knative's Scale(now) takes any now: an earlier step is computed for its own time, not refused.
      if (atSeconds < previousAt) warnings.push(`${path}.atSeconds: ${atSeconds} is earlier than the step before it (${previousAt}); computed for that time, as Knative's decider would`);
      if (!Number.isNaN(atSeconds)) previousAt = atSeconds;
      steps.push({
        atSeconds,
        readyPods: num(p, raw, 'readyPods', path, { min: 0, integer: true }),
        observedStable: nullableNum(p, raw, 'observedStable', path),
        observedPanic: nullableNum(p, raw, 'observedPanic', path),
        spec: raw.spec === undefined ? undefined : parseSpec(p, raw.spec, `${path}.spec`),
      });
    });
  }
  if (p.list.length > 0) throw new UsageError(`invalid input:\n  ${p.list.join('\n  ')}`);
  return { spec, readyPodsAtStart, steps, warnings };
}

/** Runs the steps through one decider and returns one decision per step. Pure. */
export function replay(input: Pick<ReplayInput, 'spec' | 'readyPodsAtStart' | 'steps'>): ReplayDecision[] {
  const startMs = (input.steps[0]?.atSeconds ?? 0) * 1000;
  const decider = new Decider(input.spec, input.readyPodsAtStart, startMs);
  const initial = initialDeciderStatus(input.spec, 1);
  let last = { desiredPods: initial.desiredPods, excessBurstCapacity: initial.excessBurstCapacity };
  const out: ReplayDecision[] = [];
  for (const step of input.steps) {
    if (step.spec !== undefined) decider.updateSpec(step.spec);
    const nowMs = step.atSeconds * 1000;
    const obs = step.observedStable === null || step.observedPanic === null ? undefined : { readyPods: step.readyPods, stable: step.observedStable, panic: step.observedPanic };
    const r = decider.scale(nowMs, obs);
    if (r.valid) last = { desiredPods: r.desiredPods, excessBurstCapacity: r.excessBurstCapacity };
    out.push({ atSeconds: step.atSeconds, valid: r.valid, desiredPods: last.desiredPods, excessBurstCapacity: last.excessBurstCapacity, inPanic: decider.inPanic });
  }
  return out;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  let values: { file?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { file: { type: 'string', short: 'f' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
  }
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const file = values.file;
  let text: string;
  if (file === undefined || file === '-') {
    text = await readAll(io.stdin);
  } else {
    try {
      text = await readFile(resolve(io.cwd, file), 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file === undefined || file === '-' ? 'stdin' : file}: not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const input = parseReplayInput(doc);
  for (const w of input.warnings) io.stderr.write(`tide replay: warning: ${w}\n`);
  const decisions = replay(input);
  io.stdout.write(decisions.map((d) => `${JSON.stringify(d)}\n`).join(''));
  return 0;
}
