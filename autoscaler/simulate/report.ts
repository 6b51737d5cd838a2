/** What `tide simulate` prints and writes: the text summary, and the per-second timeline as CSV or JSON. */
import type { SimulationResult, SimulationSummary, TimelineRow } from './simulator.js';

/** What was simulated, for headers: the trace and the settings that shaped the result. */
export interface RunDescription {
  /** File name or shape spec. */
  readonly source: string;
  readonly format: string;
  readonly podStartSeconds: number;
  /** Human-readable settings, e.g. `target 7 (CC 10 × 70%)`. */
  readonly settings: readonly string[];
}

/** Timeline columns in file order. */
export const TIMELINE_COLUMNS = [
  't',
  'load',
  'arrivals',
  'concurrency',
  'waiting',
  'timedOut',
  'stable',
  'panic',
  'target',
  'desired',
  'replicas',
  'ready',
  'pods',
  'inPanic',
  'ebc',
  'state',
  'mode',
] as const satisfies readonly (keyof TimelineRow)[];

/** Rounds to 6 decimals, as the windows do, so files do not carry float dust (0.30000000000000004). */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function roundRow(r: TimelineRow): TimelineRow {
  return {
    ...r,
    load: round6(r.load),
    arrivals: round6(r.arrivals),
    concurrency: round6(r.concurrency),
    waiting: round6(r.waiting),
    timedOut: round6(r.timedOut),
    stable: round6(r.stable),
    panic: round6(r.panic),
    target: round6(r.target),
  };
}

/** The timeline as CSV with a header row; booleans as true/false. */
export function timelineCsv(rows: readonly TimelineRow[]): string {
  const out: string[] = [TIMELINE_COLUMNS.join(',')];
  for (const row of rows) {
    const r = roundRow(row);
    out.push(TIMELINE_COLUMNS.map((c) => String(r[c])).join(','));
  }
  return out.join('\n') + '\n';
}

/** The timeline as a JSON array of row objects, one row a line (easy to diff and to stream). */
export function timelineJson(rows: readonly TimelineRow[]): string {
  return '[\n' + rows.map((r) => JSON.stringify(roundRow(r))).join(',\n') + '\n]\n';
}

/** The summary with numbers rounded for people and machines alike. */
export function roundedSummary(s: SimulationSummary): SimulationSummary {
  const out = { ...s };
  for (const k of Object.keys(out) as (keyof SimulationSummary)[]) out[k] = round6(out[k]);
  return out;
}

/** Seconds as `1h02m03s`, `4m05s` or `12.5s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${round6(Number(seconds.toFixed(3)))}s`;
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(h > 0 ? 2 : 1, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}h${mm}m${ss}s` : `${mm}m${ss}s`;
}

/** A count for people: thousands grouped (1,234,567), at most 3 decimals below 100 and 1 above. */
function num(x: number): string {
  const r = Number(x.toFixed(Number.isInteger(x) ? 0 : x >= 100 ? 1 : 3));
  return r.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** Label/value pairs of the summary, in reading order (shared by the text output and the chart headers). */
export function summaryFacts(s: SimulationSummary): [string, string][] {
  return [
    ['simulated', formatDuration(s.seconds)],
    [
      'requests',
      `${num(s.requests)} (${num(s.served)} served${s.timedOut > 0 ? `, ${num(s.timedOut)} timed out waiting` : ''}${s.unservedAtEnd > 0 ? `, ${num(s.unservedAtEnd)} still waiting at the end` : ''})`,
    ],
    ['pod-seconds', `${num(s.podSeconds)} (${num(s.podSeconds / 3600)} pod-hours; ready ${num(s.readyPodSeconds)})`],
    ['cold starts', num(s.coldStarts)],
    ['wait for capacity', `max ${formatDuration(s.waitMaxSeconds)}, p99 ${formatDuration(s.waitP99Seconds)}, p50 ${formatDuration(s.waitP50Seconds)}, mean ${formatDuration(s.waitMeanSeconds)}`],
    ['time in panic', formatDuration(s.panicSeconds)],
    ['replicas', `max ${s.maxReplicas}, final ${s.finalReplicas} (${s.finalReady} ready)`],
  ];
}

/** The short text summary printed to stdout by default. */
export function textSummary(result: SimulationResult, run: RunDescription): string {
  const facts = summaryFacts(result.summary);
  const width = Math.max(...facts.map(([k]) => k.length));
  const lines = [
    `tide simulate: ${run.source} (${run.format}), pod start ${formatDuration(run.podStartSeconds)}`,
    ...(run.settings.length > 0 ? [`  ${run.settings.join('; ')}`] : []),
    '',
    ...facts.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
  ];
  return lines.join('\n') + '\n';
}

/** The JSON printed with `-o json`: what was run and the summary. */
export function jsonSummary(result: SimulationResult, run: RunDescription): string {
  return JSON.stringify({ run, summary: roundedSummary(result.summary) }, null, 2) + '\n';
}

/** [start, end) second ranges in which the decider was in panic, merged. */
export function panicRanges(rows: readonly TimelineRow[]): [number, number][] {
  const out: [number, number][] = [];
  for (const r of rows) {
    if (!r.inPanic) continue;
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === r.t) last[1] = r.t + 1;
    else out.push([r.t, r.t + 1]);
  }
  return out;
}
