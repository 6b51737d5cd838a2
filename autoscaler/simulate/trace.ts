/** Traffic traces for `tide simulate`: the three CSV formats, parsed into one workload of request batches. */

/** Which CSV format a trace is in; the header row names it. */
export type TraceFormat = 'concurrency' | 'rps' | 'arrivals';

/** The header row of each format, exactly as it must appear (case-insensitive, spaces ignored). */
export const TRACE_HEADERS: Readonly<Record<TraceFormat, string>> = {
  concurrency: 'second,concurrency',
  rps: 'second,rps',
  arrivals: 'arrival_seconds,duration_seconds',
};

/** Longest trace accepted: 7 days of seconds. Bounds memory and run time. */
export const MAX_TRACE_SECONDS = 7 * 86_400;

/** A bad trace: names the source and line (1-based) and says what is wrong. */
export class TraceError extends Error {
  override readonly name = 'TraceError';
  constructor(
    readonly source: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(line > 0 ? `${source}:${line}: ${problem}` : `${source}: ${problem}`);
  }
}

/** A parsed trace before it is turned into requests. */
export type Trace =
  | {
      readonly format: 'concurrency' | 'rps';
      readonly source: string;
      /** Value of each second, index = second; seconds the file does not list are 0. */
      readonly values: Float64Array;
    }
  | {
      readonly format: 'arrivals';
      readonly source: string;
      /** Request start times in seconds, sorted ascending. */
      readonly arrivals: Float64Array;
      /** Request durations in seconds, same order as `arrivals`. */
      readonly durations: Float64Array;
    };

/**
 * What the simulator replays: batches of requests, each arriving at one instant with one duration, in time order.
 * A cursor rather than arrays, so a 24-hour trace split into sub-second batches is never held in memory at once.
 */
export interface Workload {
  /** Seconds the trace covers: the simulation runs this long unless told otherwise. */
  readonly seconds: number;
  /** A fresh cursor at the first batch. */
  open(): WorkloadCursor;
}

/** Walks a workload's batches. `at` is Infinity once every batch has been taken. */
export interface WorkloadCursor {
  /** Arrival instant of the current batch, seconds from the start. */
  readonly at: number;
  /** Requests in the current batch; may be fractional (a fluid approximation of a rate). */
  readonly count: number;
  /** How long each request of the batch runs once admitted, seconds (> 0). */
  readonly duration: number;
  /** Moves to the next batch. */
  next(): void;
}

/** At most this many batches per second when spreading a per-second rate over the second. */
export const MAX_BATCHES_PER_SECOND = 50;

function normaliseHeader(line: string): string {
  return line.replace(/\s+/g, '').toLowerCase();
}

function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === '' || !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses a trace CSV. The first line that is not blank and not a `#` comment is the header and picks the format:
 * `second,concurrency`, `second,rps` or `arrival_seconds,duration_seconds`. Blank lines and `#` comments are skipped.
 * @throws TraceError naming `source:line` and the problem (unknown header, wrong column count, bad number, …).
 */
export function parseTrace(text: string, source: string): Trace {
  const lines = text.split(/\r?\n/);
  let format: TraceFormat | undefined;
  let headerLine = 0;
  const a: number[] = [];
  const b: number[] = [];
  const lineOf: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const lineNo = i + 1;
    if (format === undefined) {
      const h = normaliseHeader(trimmed);
      const found = (Object.keys(TRACE_HEADERS) as TraceFormat[]).find((f) => TRACE_HEADERS[f] === h);
      if (found === undefined) {
        throw new TraceError(
          source,
          lineNo,
          `unknown header ${JSON.stringify(trimmed)}: the first line must be one of ${Object.values(TRACE_HEADERS).map((x) => JSON.stringify(x)).join(', ')}`,
        );
      }
      format = found;
      headerLine = lineNo;
      continue;
    }
    const cols = trimmed.split(',');
    if (cols.length !== 2) throw new TraceError(source, lineNo, `expected 2 comma-separated values, got ${cols.length}`);
    const names = TRACE_HEADERS[format].split(',');
    const x = parseNumber(cols[0]!);
    const y = parseNumber(cols[1]!);
    if (x === undefined) throw new TraceError(source, lineNo, `${names[0]!} ${JSON.stringify(cols[0]!.trim())} is not a number`);
    if (y === undefined) throw new TraceError(source, lineNo, `${names[1]!} ${JSON.stringify(cols[1]!.trim())} is not a number`);
    if (x < 0) throw new TraceError(source, lineNo, `${names[0]!} ${x} is negative`);
    if (x >= MAX_TRACE_SECONDS) throw new TraceError(source, lineNo, `${names[0]!} ${x} is beyond the ${MAX_TRACE_SECONDS / 86_400}-day limit`);
    if (format === 'arrivals') {
      if (y <= 0) throw new TraceError(source, lineNo, `duration_seconds ${y} must be greater than 0`);
      if (x + y > MAX_TRACE_SECONDS) throw new TraceError(source, lineNo, `request ends beyond the ${MAX_TRACE_SECONDS / 86_400}-day limit`);
    } else {
      if (!Number.isInteger(x)) throw new TraceError(source, lineNo, `second ${x} is not a whole number`);
      if (y < 0) throw new TraceError(source, lineNo, `${names[1]!} ${y} is negative`);
      const prev = a.length > 0 ? a[a.length - 1]! : -1;
      if (x <= prev) throw new TraceError(source, lineNo, `second ${x} is not after the previous second ${prev} (line ${lineOf[lineOf.length - 1]!})`);
    }
    a.push(x);
    b.push(y);
    lineOf.push(lineNo);
  }
  if (format === undefined) throw new TraceError(source, 0, 'empty trace: no header line');
  if (a.length === 0) throw new TraceError(source, headerLine, 'the trace has a header but no data lines');
  if (format === 'arrivals') {
    const order = a.map((_, i) => i).sort((i, j) => a[i]! - a[j]! || i - j);
    return {
      format,
      source,
      arrivals: Float64Array.from(order, (i) => a[i]!),
      durations: Float64Array.from(order, (i) => b[i]!),
    };
  }
  const values = new Float64Array(a[a.length - 1]! + 1);
  for (let i = 0; i < a.length; i++) values[a[i]!] = b[i]!;
  return { format, source, values };
}

/**
 * Turns a trace into request batches.
 * - `rps`: each second t, `rps` requests arrive during [t, t+1), each lasting `requestDurationSeconds`.
 * - `concurrency`: each second t, `c / requestDurationSeconds` requests arrive during [t, t+1), each lasting
 *   `requestDurationSeconds`, so that with enough capacity the number in flight averages `c` (Little's law, L = λ·W).
 * - `arrivals`: one batch of 1 per request, as listed.
 * A second's requests are spread evenly over it in k = min(ceil(1/duration), 50) batches at t, t+1/k, …, so short
 * requests do not all land at the same instant (with duration 1/k exactly, the number in flight stays at c).
 * `seconds` is the trace's length: last listed second + 1, or the end of the last request rounded up.
 */
export function toWorkload(trace: Trace, requestDurationSeconds: number): Workload {
  if (!(requestDurationSeconds > 0)) throw new RangeError(`request duration must be > 0, got ${requestDurationSeconds}`);
  if (trace.format === 'arrivals') {
    const { arrivals, durations } = trace;
    let end = 0;
    for (let i = 0; i < arrivals.length; i++) end = Math.max(end, arrivals[i]! + durations[i]!);
    return {
      seconds: Math.max(1, Math.ceil(end)),
      open(): WorkloadCursor {
        let i = 0;
        return {
          get at() {
            return i < arrivals.length ? arrivals[i]! : Infinity;
          },
          count: 1,
          get duration() {
            return durations[i] ?? 0;
          },
          next() {
            i++;
          },
        };
      },
    };
  }
  const { values, format } = trace;
  const d = requestDurationSeconds;
  const k = Math.min(Math.max(1, Math.ceil(1 / d - 1e-9)), MAX_BATCHES_PER_SECOND);
  const perSecond = (v: number): number => (format === 'rps' ? v : v / d);
  return {
    seconds: values.length,
    open(): WorkloadCursor {
      let t = -1;
      let j = k;
      const skipToNextSecond = (): void => {
        t++;
        while (t < values.length && !(values[t]! > 0)) t++;
        j = 0;
      };
      const cursor = {
        at: Infinity,
        count: 0,
        duration: d,
        next(): void {
          j++;
          if (j >= k) skipToNextSecond();
          if (t >= values.length) {
            cursor.at = Infinity;
            cursor.count = 0;
            return;
          }
          cursor.at = t + j / k;
          cursor.count = perSecond(values[t]!) / k;
        },
      };
      j = k - 1;
      cursor.next();
      return cursor;
    },
  };
}
