/** `tide load SCENARIO --target URL`: runs a loadtest/ scenario without k6, with k6's semantics and output. */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SCENARIOS } from '../loadtest/scenarios/index.ts';
import { textSummary, thresholdsPassed } from '../loadtest/scenarios/summary.ts';
import type { ScenarioDef } from '../loadtest/scenarios/types.ts';
import { durationMs, planFor, ScheduleError, type Overrides } from '../load/schedule.js';
import { realLoadClock, runScenario } from '../load/run.js';
import { ThresholdError } from '../load/thresholds.js';
import { fetchSamples, pickRevision, type Feed } from '../load/autoscaler-feed.js';
import { renderReport } from '../load/report-html.js';
import { parseFlags } from './flags.js';
import { UsageError, type CliIo } from './io.js';
import { readUplotAssets } from './uplot.js';

/** k6's exit code when a threshold fails. */
export const THRESHOLDS_FAILED_EXIT = 99;

const HELP = `usage: tide load SCENARIO --target URL [flags]

Runs one of loadtest/'s scenarios (the same definition its k6 script uses) against a target: an open model for the
arrival-rate scenarios (requests start on schedule whatever the responses do; beyond the in-flight cap they are
dropped and counted), VUs looping for the others. Prints k6's end-of-test summary; exit 99 when a threshold fails.

scenarios: ${Object.keys(SCENARIOS).join(', ')}

flags:
      --target URL           where to send requests, e.g. http://127.0.0.1:8080 (tide up's front door)
      --host H               Host header / gRPC authority, e.g. hello.localhost (default: the URL's host)
      --vus N                N VUs in a closed loop instead of the scenario's executor (ramping-vus: peak N)
      --rate R               R iterations per second, open model (ramping-arrival-rate: stages scaled to peak R)
      --duration D           how long, like k6's 30s or 1m30s (ramping scenarios: every stage scaled to fit)
      --timeout D            per-request timeout (default 60s, as k6)
      --summary-export FILE  write the handleSummary-shaped JSON here
      --report FILE.html     latency and throughput per second, and the service's replicas and panic periods
                             from the autoscaler's dashboard when reachable
      --dashboard URL        the autoscaler's dashboard (default http://127.0.0.1:8081/, tide up's)
      --revision NAME        which revision's replicas to chart (default: the Host's first label)
  -h, --help                 show this help

exit status: 0 every threshold held, 99 a threshold failed, 2 bad flags.
`;

function positive(flag: string, raw: string | undefined, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${flag} must be ${integer ? 'a whole number' : 'a number'} > 0, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function durationFlag(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  try {
    return durationMs(raw, `--${flag}`);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function urlFlag(flag: string, raw: string, protocols: readonly string[]): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--${flag} must be a URL like http://127.0.0.1:8080, got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(u.protocol)) throw new UsageError(`--${flag} must be an ${protocols.join(' or ')} URL, got ${JSON.stringify(raw)}`);
  return u;
}

export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values: f, positionals } = parseFlags(
    argv,
    {
      target: { type: 'string' },
      host: { type: 'string' },
      vus: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      timeout: { type: 'string' },
      'summary-export': { type: 'string' },
      report: { type: 'string' },
      dashboard: { type: 'string' },
      revision: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
    true,
  );
  if (f.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`expected one SCENARIO (${Object.keys(SCENARIOS).join(', ')}), got ${positionals.length}\n\n${HELP}`);
  const name = positionals[0]!;
  const def: ScenarioDef | undefined = SCENARIOS[name];
  if (!def) throw new UsageError(`unknown scenario ${JSON.stringify(name)}; one of ${Object.keys(SCENARIOS).join(', ')}`);
  if (f.target === undefined) throw new UsageError('--target is required, e.g. --target http://127.0.0.1:8080');
  const target = urlFlag('target', f.target, ['http:']);
  if (f.host !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(f.host)) throw new UsageError(`--host must be a host name (optionally :port), got ${JSON.stringify(f.host)}`);
  if (f.vus !== undefined && f.rate !== undefined) throw new UsageError('--vus and --rate exclude each other (closed or open model)');
  const overrides: Overrides = {
    ...(f.vus !== undefined ? { vus: positive('vus', f.vus, true)! } : {}),
    ...(f.rate !== undefined ? { rate: positive('rate', f.rate, false)! } : {}),
    ...(f.duration !== undefined ? { durationMs: durationFlag('duration', f.duration)! } : {}),
  };
  const timeoutMs = durationFlag('timeout', f.timeout) ?? 60_000;
  const dashboard = urlFlag('dashboard', f.dashboard ?? 'http://127.0.0.1:8081/', ['http:']);
  if (f.report !== undefined && !/\.html?$/i.test(f.report)) throw new UsageError(`--report must name an .html file, got ${JSON.stringify(f.report)}`);

  let plan;
  try {
    plan = planFor(def, overrides);
  } catch (err) {
    if (err instanceof ScheduleError) throw new UsageError(err.message);
    throw err;
  }
  const tty = { stdout: Boolean((io.stdout as { isTTY?: boolean }).isTTY), stderr: Boolean((io.stderr as { isTTY?: boolean }).isTTY) };
  const wallStart = Date.now();
  let out;
  try {
    out = await runScenario({
      def,
      plan,
      target: { url: target, ...(f.host !== undefined ? { host: f.host } : {}), timeoutMs, connections: plan.model === 'open' ? plan.maxInFlight : plan.maxVUs },
      clock: realLoadClock(),
      tty,
      random: Math.random,
      ...(tty.stderr
        ? {
            onSecond: (p) =>
              io.stderr.write(
                `\r${def.name}: ${(p.elapsedMs / 1000).toFixed(0)}s  ${p.ratePerSecond}/s  in flight ${p.inFlight}  p95 ${p.p95.toFixed(1)}ms  errors ${p.failed}  dropped ${p.dropped}   `,
              ),
          }
        : {}),
    });
  } catch (err) {
    if (err instanceof ThresholdError) throw new UsageError(err.message);
    throw err;
  }
  if (tty.stderr) io.stderr.write('\n');
  const wallEnd = Date.now();
  io.stdout.write(textSummary(out.summary, `scenario: ${def.name} (${def.description})`));
  if (out.result.errors.size > 0) {
    io.stdout.write(`  failures by cause: ${[...out.result.errors].map(([c, n]) => `${c} ×${n}`).join(', ')}\n`);
  }
  if (out.result.interrupted > 0) io.stdout.write(`  interrupted at the end of the graceful stop: ${out.result.interrupted}\n`);
  if (f['summary-export'] !== undefined) await writeOut(io, f['summary-export'], JSON.stringify(out.summary, null, 2) + '\n');
  if (f.report !== undefined) {
    const got = await fetchSamples(dashboard);
    const revision = f.revision ?? (f.host ?? target.hostname).split('.')[0];
    const feed: Feed = typeof got === 'string' ? { unavailable: got } : pickRevision(got, wallStart, wallEnd, revision);
    const html = renderReport({ title: `tide load ${def.name} → ${target.href}`, startMs: wallStart, timeline: out.result.timeline, summary: out.summary, durationMetric: out.names.duration, feed }, await readUplotAssets());
    await writeOut(io, f.report, html);
  }
  return thresholdsPassed(out.summary) ? 0 : THRESHOLDS_FAILED_EXIT;
}

async function writeOut(io: CliIo, file: string, text: string): Promise<void> {
  try {
    await writeFile(resolve(io.cwd, file), text, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot write ${file}: ${(err as Error).message}`);
  }
}
