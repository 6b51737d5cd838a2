/** `tide simulate`: replays a traffic trace through the real autoscaler (windows, decider, scaler) on a virtual clock. */
import { readFile, writeFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConfigProblem } from '../common/errors.js';
import { ANNOTATIONS, resolveRevisionSpec } from '../autoscaler/config/annotations.js';
import { AUTOSCALER_CONFIG_KEYS, AUTOSCALER_DEFAULTS, KPA_CLASS, parseAutoscalerConfig, type AutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import type { RevisionScalingSpec } from '../autoscaler/config/revision-spec.js';
import { readWorkloads } from '../autoscaler/config/workloads.js';
import { renderHtmlChart } from '../autoscaler/simulate/chart-html.js';
import { renderSvgChart } from '../autoscaler/simulate/chart-svg.js';
import { formatDuration, jsonSummary, textSummary, timelineCsv, timelineJson, type RunDescription } from '../autoscaler/simulate/report.js';
import { ShapeError, describeShapes, shapeTrace } from '../autoscaler/simulate/shapes.js';
import { simulate } from '../autoscaler/simulate/simulator.js';
import { MAX_TRACE_SECONDS, TraceError, parseTrace, toWorkload, type Trace } from '../autoscaler/simulate/trace.js';
import { UsageError, readAll, type CliIo } from './io.js';
import { readUplotAssets } from './uplot.js';

const HELP = `usage: tide simulate (-f TRACE | --shape SHAPE) [flags]

Replays a traffic trace through Tide's real autoscaler code (metric windows, decider, scaler) on a virtual clock,
with pods that take --pod-start seconds to become ready, and reports replicas, cold starts, time spent waiting for
capacity and pod-seconds. Annotations are checked like 'tide validate' first.

input (one of):
  -f, --trace FILE            trace CSV ('-' for stdin); the header names the format:
                                second,concurrency | second,rps | arrival_seconds,duration_seconds
      --shape SHAPE           built-in load, NAME:key=value,... (add metric=rps for requests per second):
%SHAPES%

scaling knobs:
  -a, --annotation KEY=VALUE  an annotation, e.g. autoscaling.knative.dev/target=10 or just target=10
                              (short names: autoscaling.knative.dev/ or tide.dev/ is added). Repeatable.
      --deployment FILE       take annotations (and a config-autoscaler ConfigMap) from Kubernetes YAML;
                              --annotation values override them
      --workload NAME         which object of --deployment when it holds several
  -c, --config KEY=VALUE      a config-autoscaler key, e.g. stable-window=30s. Repeatable.

simulation:
      --pod-start SECONDS     pod start-up delay (default 2)
      --request-duration SEC  how long each request runs, for second,rps and second,concurrency traces (default 1)
      --initial-pods N        pods ready at time 0 (default max(min-scale, initial-scale)); 0 = start at zero
      --duration SECONDS      simulate this long (default: the trace's length)

output:
  -o, --output FMT            summary on stdout: text (default) or json
      --timeline FILE         per-second timeline, .csv or .json
      --chart FILE            chart: .html (interactive, self-contained) or .svg (static). Repeatable.
  -h, --help                  show this help

exit status: 0 simulated, 2 bad flags, trace or annotations (problems are printed; nothing is simulated).
`;

function help(): string {
  return HELP.replace('%SHAPES%', describeShapes().replace(/^/gm, '    '));
}

interface Flags {
  trace?: string;
  shape?: string;
  annotation?: string[];
  deployment?: string;
  workload?: string;
  config?: string[];
  'pod-start'?: string;
  'request-duration'?: string;
  'initial-pods'?: string;
  duration?: string;
  output?: string;
  timeline?: string;
  chart?: string[];
  help?: boolean;
}

function parseFlags(argv: string[]): Flags {
  try {
    return parseArgs({
      args: argv,
      options: {
        trace: { type: 'string', short: 'f' },
        shape: { type: 'string' },
        annotation: { type: 'string', short: 'a', multiple: true },
        deployment: { type: 'string' },
        workload: { type: 'string' },
        config: { type: 'string', short: 'c', multiple: true },
        'pod-start': { type: 'string' },
        'request-duration': { type: 'string' },
        'initial-pods': { type: 'string' },
        duration: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        timeline: { type: 'string' },
        chart: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see tide simulate --help)`);
  }
}

/** A non-negative number flag; `integer` also requires a whole number. */
function numberFlag(name: string, raw: string | undefined, fallback: number, opts: { integer?: boolean; positive?: boolean } = {}): number {
  if (raw === undefined) return fallback;
  const v = raw.trim() === '' ? NaN : Number(raw);
  const ok = Number.isFinite(v) && (opts.positive ? v > 0 : v >= 0) && (!opts.integer || Number.isInteger(v));
  if (!ok) throw new UsageError(`--${name} must be ${opts.integer ? 'a whole number' : 'a number'} ${opts.positive ? '> 0' : '>= 0'}, got ${JSON.stringify(raw)}`);
  return v;
}

function keyValues(flag: string, items: readonly string[]): [string, string][] {
  return items.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} ${JSON.stringify(item)}: expected KEY=VALUE`);
    return [item.slice(0, eq).trim(), item.slice(eq + 1)];
  });
}

const KNOWN_ANNOTATIONS: readonly string[] = Object.values(ANNOTATIONS).flat();

/** `target` → `autoscaling.knative.dev/target`; `container-concurrency` → `tide.dev/container-concurrency`. */
export function fullAnnotationKey(key: string): string {
  if (key.includes('/')) return key;
  for (const prefix of ['autoscaling.knative.dev/', 'tide.dev/', 'serving.knative.dev/']) {
    if (KNOWN_ANNOTATIONS.includes(prefix + key)) return prefix + key;
  }
  return 'autoscaling.knative.dev/' + key;
}

async function readInput(file: string, io: CliIo, what: string): Promise<string> {
  if (file === '-') return readAll(io.stdin);
  try {
    return await readFile(resolve(io.cwd, file), 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function printProblems(io: CliIo, lines: readonly string[]): number {
  for (const l of lines) io.stderr.write(`${l}\n`);
  io.stderr.write(`tide simulate: ${lines.length} problem${lines.length === 1 ? '' : 's'} found; nothing simulated\n`);
  return 2;
}

/** Applies `--config` keys on top of `base`, validating them with the ConfigMap parser. */
function applyConfigFlags(base: Readonly<AutoscalerConfig>, pairs: readonly [string, string][]): { config: AutoscalerConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const data: Record<string, string> = {};
  for (const [k, v] of pairs) {
    if (AUTOSCALER_CONFIG_KEYS[k] === undefined) problems.push({ key: k, message: 'unknown config-autoscaler key' });
    else data[k] = v;
  }
  const parsed = parseAutoscalerConfig(data);
  problems.push(...parsed.problems);
  const config: Record<string, unknown> = { ...base };
  for (const k of Object.keys(data)) {
    const field = AUTOSCALER_CONFIG_KEYS[k]!.field;
    config[field] = parsed.config[field];
  }
  return { config: config as unknown as AutoscalerConfig, problems };
}

function settings(spec: RevisionScalingSpec): string[] {
  const d = spec.decider;
  const s = spec.scaler;
  const n = (x: number): string => String(Number(x.toFixed(6)));
  const tu = d.totalValue > 0 ? Math.round((d.targetValue / d.totalValue) * 1000) / 10 : 0;
  return [
    `${d.metric} target ${n(d.targetValue)}/pod (${n(d.totalValue)} × ${tu}%)`,
    `containerConcurrency ${spec.containerConcurrency === 0 ? '0 (unlimited)' : spec.containerConcurrency}`,
    `windows ${formatDuration(d.stableWindowMs / 1000)}/${formatDuration(spec.panicWindowMs / 1000)}, panic at ${n(d.panicThreshold * 100)}%`,
    `scale ${s.minScale}..${s.maxScale === 0 ? '∞' : s.maxScale}${d.activationScale > 1 ? `, activation ${d.activationScale}` : ''}`,
    `TBC ${n(d.targetBurstCapacity)}`,
    s.enableScaleToZero ? `to zero after ${formatDuration(s.scaleToZeroGracePeriodMs / 1000)} grace` : 'no scale to zero',
    ...(d.scaleDownDelayMs > 0 ? [`scale-down delay ${formatDuration(d.scaleDownDelayMs / 1000)}`] : []),
  ];
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const flags = parseFlags(argv);
  if (flags.help) {
    io.stdout.write(help());
    return 0;
  }
  const output = flags.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`-o must be text or json, not ${JSON.stringify(output)}`);
  if ((flags.trace === undefined) === (flags.shape === undefined)) {
    throw new UsageError('give exactly one of -f TRACE or --shape SHAPE (see tide simulate --help)');
  }
  if (flags.trace === '-' && flags.deployment === '-') throw new UsageError('-f - and --deployment - cannot both read stdin');
  const podStart = numberFlag('pod-start', flags['pod-start'], 2);
  const requestDuration = numberFlag('request-duration', flags['request-duration'], 1, { positive: true });
  const duration = flags.duration === undefined ? undefined : numberFlag('duration', flags.duration, 0, { integer: true, positive: true });
  if (duration !== undefined && duration > MAX_TRACE_SECONDS) throw new UsageError(`--duration must be at most ${MAX_TRACE_SECONDS} (7 days), got ${duration}`);
  const initialPodsFlag = flags['initial-pods'] === undefined ? undefined : numberFlag('initial-pods', flags['initial-pods'], 0, { integer: true });
  if (flags.timeline !== undefined && !['.csv', '.json'].includes(extname(flags.timeline).toLowerCase())) {
    throw new UsageError(`--timeline ${flags.timeline}: the file must end in .csv or .json`);
  }
  for (const c of flags.chart ?? []) {
    if (!['.html', '.htm', '.svg'].includes(extname(c).toLowerCase())) throw new UsageError(`--chart ${c}: the file must end in .html or .svg`);
  }

  // Scaling spec: YAML, then --config, then --annotation; every problem is reported before anything runs.
  const problems: string[] = [];
  let config: Readonly<AutoscalerConfig> = AUTOSCALER_DEFAULTS;
  let annotations: Record<string, string> = {};
  if (flags.deployment !== undefined) {
    const file = flags.deployment;
    const read = readWorkloads(await readInput(file, io, 'deployment'));
    const name = file === '-' ? '<stdin>' : file;
    for (const p of read.problems) problems.push(`${name}:${p.line}:${p.column}: ${p.object === undefined ? '' : `${p.object}: `}${p.key}: ${p.message}`);
    config = read.config;
    const candidates = flags.workload === undefined ? read.workloads : read.workloads.filter((w) => w.name === flags.workload || `${w.namespace}/${w.name}` === flags.workload);
    if (problems.length === 0) {
      if (candidates.length === 0) {
        throw new UsageError(
          flags.workload === undefined
            ? `${name}: no Deployment or Knative Service, Configuration or Revision found`
            : `${name}: no workload named ${JSON.stringify(flags.workload)} (found: ${read.workloads.map((w) => `${w.namespace}/${w.name}`).join(', ') || 'none'})`,
        );
      }
      if (candidates.length > 1) {
        throw new UsageError(`${name} holds ${candidates.length} workloads (${candidates.map((w) => `${w.namespace}/${w.name}`).join(', ')}); pick one with --workload NAME`);
      }
      annotations = { ...candidates[0]!.annotations };
    }
  } else if (flags.workload !== undefined) {
    throw new UsageError('--workload needs --deployment FILE');
  }
  if ((flags.config ?? []).length > 0) {
    const applied = applyConfigFlags(config, keyValues('config', flags.config ?? []));
    config = applied.config;
    for (const p of applied.problems) problems.push(`--config ${p.key}: ${p.message}`);
  }
  const flagAnnotations = new Set<string>();
  for (const [k, v] of keyValues('annotation', flags.annotation ?? [])) {
    const key = fullAnnotationKey(k);
    annotations[key] = v;
    flagAnnotations.add(key);
  }
  const resolved = resolveRevisionSpec(annotations, config);
  for (const p of resolved.problems) {
    // Problems of YAML annotations were already reported with their line by readWorkloads.
    if (flags.deployment === undefined || flagAnnotations.has(p.key)) problems.push(`--annotation ${p.key}: ${p.message}`);
  }
  if (problems.length > 0) return printProblems(io, problems);
  const spec = resolved.spec;
  if (spec.autoscalerClass !== KPA_CLASS) {
    throw new UsageError(`class ${JSON.stringify(spec.autoscalerClass)} is not scaled by Tide's KPA; nothing to simulate`);
  }

  // Trace.
  let trace: Trace;
  try {
    if (flags.shape !== undefined) {
      trace = shapeTrace(flags.shape);
    } else {
      const file = flags.trace!;
      trace = parseTrace(await readInput(file, io, 'trace'), file === '-' ? '<stdin>' : file);
    }
  } catch (err) {
    if (err instanceof TraceError || err instanceof ShapeError) throw new UsageError(err instanceof ShapeError ? `--shape ${err.message}` : err.message);
    throw err;
  }
  const workload = toWorkload(trace, requestDuration);
  const result = simulate(workload, {
    spec,
    podStartSeconds: podStart,
    ...(initialPodsFlag !== undefined ? { initialPods: initialPodsFlag } : {}),
    ...(duration !== undefined ? { seconds: duration } : {}),
    ...(trace.format !== 'arrivals' ? { load: trace.values } : {}),
  });
  const runInfo: RunDescription = {
    source: trace.source,
    format: trace.format,
    podStartSeconds: podStart,
    settings: [...settings(spec), ...(trace.format !== 'arrivals' ? [`request duration ${formatDuration(requestDuration)}`] : [])],
  };

  if (flags.timeline !== undefined) {
    const text = extname(flags.timeline).toLowerCase() === '.json' ? timelineJson(result.timeline) : timelineCsv(result.timeline);
    await writeOutput(io, flags.timeline, text);
  }
  for (const chart of flags.chart ?? []) {
    if (extname(chart).toLowerCase() === '.svg') {
      await writeOutput(io, chart, renderSvgChart(result, runInfo));
    } else {
      await writeOutput(io, chart, renderHtmlChart(result, runInfo, await readUplotAssets()));
    }
  }
  io.stdout.write(output === 'json' ? jsonSummary(result, runInfo) : textSummary(result, runInfo));
  return 0;
}

async function writeOutput(io: CliIo, file: string, text: string): Promise<void> {
  try {
    await writeFile(resolve(io.cwd, file), text, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot write ${file}: ${(err as Error).message}`);
  }
}
