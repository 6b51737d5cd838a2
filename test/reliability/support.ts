/** Reliability suite helpers: open-model load through tide load's engine, and one printed line of figures per case. */
import { Agent, request } from 'undici';
import { HTTP_METRICS, runLoad, type IterationResult, type RunResult } from '../../load/engine.js';
import { realLoadClock } from '../../load/run.js';

/** What a case sent and what became of it. */
export interface Figures {
  sent: number;
  succeeded: number;
  failed: Record<string, number>;
  retried?: number;
  [k: string]: unknown;
}

/** Prints `reliability <case>: {...}` so each run leaves its numbers in the log. */
export function printFigures(name: string, f: Figures): void {
  console.log(`reliability ${name}: ${JSON.stringify(f)}`);
}

export function figuresOf(r: RunResult): Figures {
  const iterations = (r.metrics.get('iterations') as { count: number } | undefined)?.count ?? 0;
  const dropped = (r.metrics.get('dropped_iterations') as { count: number } | undefined)?.count ?? 0;
  const failed = Object.fromEntries(r.errors);
  const nFailed = [...r.errors.values()].reduce((a, b) => a + b, 0);
  return { sent: iterations + dropped, succeeded: iterations - nFailed, failed: dropped > 0 ? { ...failed, dropped } : failed };
}

export interface OpenLoad {
  /** Requests per second, open model. */
  rate: number;
  durationMs: number;
  maxInFlight: number;
  /** One request; `ok` false with a cause on failure. */
  issue: (signal: AbortSignal) => Promise<IterationResult>;
}

/** Runs an open-model load with the same engine as `tide load` (arrivals on schedule, capped in flight). */
export function openLoad(o: OpenLoad): Promise<RunResult> {
  return runLoad({
    plan: { model: 'open', startRate: o.rate, stages: [{ target: o.rate, durationMs: o.durationMs }], maxInFlight: o.maxInFlight, durationMs: o.durationMs },
    issue: o.issue,
    clock: realLoadClock(),
    names: HTTP_METRICS,
    gracefulStopMs: 30_000,
  });
}

/** A GET (or other method) through `agent`; 200 is success, anything else a failure named by status or error code. */
export async function httpIssue(agent: Agent, url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}, signal?: AbortSignal): Promise<IterationResult & { headers?: Record<string, unknown> }> {
  try {
    const res = await request(url, { dispatcher: agent, method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, body: init.body ?? null, ...(signal ? { signal } : {}) });
    await res.body.dump({ limit: Infinity });
    return { ok: res.statusCode === 200, status: res.statusCode, tags: {}, headers: res.headers, ...(res.statusCode === 200 ? {} : { error: `status ${res.statusCode}` }) };
  } catch (err) {
    const e = err as { code?: string; cause?: { code?: string }; message?: string };
    return { ok: false, status: 0, tags: {}, error: e.cause?.code ?? e.code ?? String(e.message) };
  }
}
