/**
 * Start-up marks of `tide queue-proxy` (issue 15 item 1), on only with TIDE_START_TRACE=1: each mark is the time since
 * the process started (performance.now()), and the report, written once to stderr as one JSON line, adds Node's own
 * boot milestones. proxy/README.md ("Start-up") explains how to read it. Off, a mark costs one boolean test.
 */
export const START_TRACE_ENV = 'TIDE_START_TRACE';

export interface StartTrace {
  mark(name: string): void;
  /** Node's milestones plus the marks, in ms since the process started, rounded to 0.1 ms. */
  report(): Record<string, number>;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * A trace over `now` (ms since the process started); `enabled` false makes mark() a no-op. A name is recorded once,
 * at its first mark: a mark on a path that repeats (each readiness probe) keeps the start-up time and grows nothing.
 */
export function createStartTrace(enabled: boolean, now: () => number = () => performance.now()): StartTrace {
  const marks = new Map<string, number>();
  return {
    mark(name) {
      if (enabled && !marks.has(name)) marks.set(name, round(now()));
    },
    report() {
      return Object.fromEntries(marks);
    },
  };
}

/** The process's trace (TIDE_START_TRACE=1 turns it on). */
export const startTrace: StartTrace = createStartTrace(process.env[START_TRACE_ENV] === '1');

/** Writes the process trace with Node's boot milestones (bin/tide.js marks `bin` as a performance mark). */
export function writeStartTrace(write: (line: string) => void = (l) => process.stderr.write(l)): void {
  if (process.env[START_TRACE_ENV] !== '1') return;
  const t = performance.nodeTiming;
  const bin = performance.getEntriesByName('tide:bin')[0]?.startTime;
  const node = { v8Start: t.v8Start, environment: t.environment, bootstrapComplete: t.bootstrapComplete, ...(bin === undefined ? {} : { bin }) };
  const rounded = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, round(v)]));
  write(`${JSON.stringify({ startTrace: { ...rounded, ...startTrace.report() } })}\n`);
}
