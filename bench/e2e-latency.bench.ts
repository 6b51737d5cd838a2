/**
 * `npm run bench e2e-latency`: latency of the whole path under an open model (bench/open-loop.ts: 1,000 requests/s,
 * counted from each request's scheduled start) in front of the example app answering in 100 ms (examples/hello,
 * DELAY_MS=100). Two measures:
 * 1. Warm-up of a fresh queue-proxy (a replica that has just started under load): p99 of the first second against the
 *    steady p99 (seconds 2–4) of the same run; goal ≤ 2×. Reported raw (a fresh client process, as a new user's tool),
 *    against a control (the same fresh client straight to the warm app: the client's own warm-up), and under a warm
 *    long-lived client (the queue-proxy's own warm-up).
 *    BENCH_TIDE_BASELINE=/path/to/checkout/bin/tide.js adds that build's fresh queue-proxy under the warm client to
 *    each start, right after this build's, for a before/after comparison on the same machine minute.
 * 2. Side by side in one run, from one warm long-lived client: direct to the app, through the queue-proxy, through the
 *    activator + queue-proxy, in interleaved rounds; goal activator + queue-proxy ≤ +2 ms p95 and ≤ +5 ms p99 over
 *    direct.
 * The queue-proxy and activator run on core 1 (taskset when present), the app and the load client on core 0.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { fromRoot } from '../common/paths.js';
import { queueProxyCommand } from '../proxy/node-flags.js';
import { baselineTide, freePort, median, start, stop, waitForLine } from './proxy.bench.js';

type Log = (line: string) => void;

const here = dirname(fileURLToPath(import.meta.url));
const TIDE = fromRoot('bin', 'tide.js');
const RATE = Number(process.env['BENCH_RATE'] ?? '1000');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '5');
const WARMUP_STARTS = Number(process.env['BENCH_WARMUP_STARTS'] ?? '3');
const HOST = 'bench.localhost';

interface Load {
  offsets: number[];
  latencies: number[];
  statuses: number[];
}

/** The q-quantile of `xs` (nearest rank); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}

/** One load from a fresh client process (cold JIT, no connections yet). */
async function openLoad(port: number, seconds: number, host?: string): Promise<Load> {
  const child = start(0, process.execPath, [join(here, 'open-loop.js')], { TARGET: `127.0.0.1:${port}`, RATE: String(RATE), SECONDS: String(seconds), ...(host ? { HOST: host } : {}) });
  const m = await waitForLine(child, /(\{.*\})\n/, (seconds + 30) * 1000);
  return JSON.parse(m[1]!) as Load;
}

/** A long-lived client process (open-loop.ts SERVE=1) that runs one load per call and keeps its connections and JIT. */
class WarmClient {
  readonly #child: ChildProcess;
  readonly #waiting: ((line: string) => void)[] = [];
  constructor() {
    this.#child = start(0, process.execPath, [join(here, 'open-loop.js')], { SERVE: '1' }, 'pipe');
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.#waiting.shift()?.(line));
  }
  load(port: number, seconds: number, host?: string): Promise<Load> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('warm client: no answer')), (seconds + 30) * 1000);
      this.#waiting.push((line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Load);
      });
      this.#child.stdin!.write(`${JSON.stringify({ target: `127.0.0.1:${port}`, host, rate: RATE, seconds })}\n`);
    });
  }
  async close(): Promise<void> {
    this.#child.stdin!.end();
    await stop(this.#child);
  }
}

function get(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function until200(port: number, headers: Record<string, string>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while ((await get(port, headers)) !== 200) {
    if (Date.now() > end) throw new Error(`port ${port} never answered 200`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const PROBE = { 'user-agent': 'kube-probe/1.31', 'k-network-probe': 'queue' };

async function startApp(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = start(0, process.execPath, [fromRoot('examples', 'hello', 'server.mjs')], { PORT: String(port), DELAY_MS: '100' });
  await until200(port, {});
  return { port, child };
}

async function startQueueProxy(appPort: number, tideBin = TIDE): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const [node, ...args] = queueProxyCommand(tideBin);
  const child = start(1, node, args, {
    CONTAINER_CONCURRENCY: '0',
    QUEUE_SERVING_PORT: String(port),
    USER_PORT: String(appPort),
    REVISION_TIMEOUT_SECONDS: '30',
    SERVING_NAMESPACE: 'default',
    SERVING_CONFIGURATION: 'bench',
    SERVING_REVISION: 'bench',
    SERVING_POD: 'bench-1',
    SERVING_POD_IP: '127.0.0.1',
    TIDE_BIND_HOST: '127.0.0.1',
    TIDE_ADMIN_PORT: '0',
    TIDE_STATS_PORT: '0',
    TIDE_METRICS_PORT: '0',
    TIDE_DRAIN_QUIET_SECONDS: '0',
    TIDE_LOG_LEVEL: 'warn',
  });
  await until200(port, PROBE);
  return { port, child };
}

async function startActivator(qpPort: number, dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const config = join(dir, 'activator.json');
  writeFileSync(config, JSON.stringify({ revisions: [{ namespace: 'default', revision: 'bench', hosts: [HOST], containerConcurrency: 0, timeoutSeconds: 30, endpoints: [{ name: 'bench-1', address: `127.0.0.1:${qpPort}`, ready: true }] }] }));
  const child = start(1, process.execPath, [TIDE, 'activator', '--config', config, '--port', String(port), '--metrics-port', '0', '--host', '127.0.0.1'], { TIDE_LOG_LEVEL: 'warn' });
  await until200(port, { host: HOST });
  return { port, child };
}

const ms = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(1));
const oks = (l: Load, from = 0, to = Infinity): number[] => l.latencies.filter((_, i) => l.statuses[i] === 200 && l.offsets[i]! >= from && l.offsets[i]! < to);
const errors = (l: Load): number => l.statuses.filter((s) => s !== 200).length;

interface Split {
  first: number[];
  steady: number[];
}
const split = (l: Load): Split => ({ first: oks(l, 0, 1000), steady: oks(l, 2000, 4000) });
const ratio99 = (x: Split): number => quantile(x.first, 0.99) / quantile(x.steady, 0.99);
const cell = (x: Split): string => `${ms(quantile(x.first, 0.99)).padStart(7)} / ${ms(quantile(x.steady, 0.99)).padEnd(6)} ${ratio99(x).toFixed(2).padStart(5)}`;

/**
 * Per start, in this order: the control (a fresh client process straight to the warm app: the client's own warm-up, the
 * floor any proxy is judged against), then a fresh queue-proxy under a fresh client (raw: what a new user's tool sees),
 * then another fresh queue-proxy under the long-lived warm client (JIT warm, connections only to the new port to open:
 * the queue-proxy's own warm-up, which is what a warm activator or ingress meets when a replica scales up).
 */
async function warmUp(log: Log, appPort: number): Promise<void> {
  log(`warm-up: a fresh queue-proxy gets ${RATE} req/s the moment it is ready, for 4 s; ${WARMUP_STARTS} fresh starts`);
  log('p99 ms of the first second / steady (2-4 s) and their ratio; errors over all three loads');
  const baseline = baselineTide();
  log(`start  control: fresh client→app   raw: fresh client→fresh QP   raw÷control   warm client→fresh QP   errors${baseline ? '   warm client→baseline QP' : ''}`);
  const client = new WarmClient();
  const raws: number[] = [];
  const vsControl: number[] = [];
  const warms: number[] = [];
  const baselines: number[] = [];
  try {
    await client.load(appPort, 2); // the warm client's own warm-up (JIT, its code paths), against the app
    for (let s = 0; s < WARMUP_STARTS; s++) {
      const control = await openLoad(appPort, 4);
      const qp = await startQueueProxy(appPort);
      let raw: Load;
      try {
        raw = await openLoad(qp.port, 4);
      } finally {
        await stop(qp.child);
      }
      const qp2 = await startQueueProxy(appPort);
      let warm: Load;
      try {
        warm = await client.load(qp2.port, 4);
      } finally {
        await stop(qp2.child);
      }
      let before = '';
      if (baseline !== undefined) {
        const qp3 = await startQueueProxy(appPort, baseline);
        try {
          const b = split(await client.load(qp3.port, 4));
          baselines.push(ratio99(b));
          before = `   ${cell(b)}`;
        } finally {
          await stop(qp3.child);
        }
      }
      const [c, r, w] = [split(control), split(raw), split(warm)];
      raws.push(ratio99(r));
      vsControl.push(ratio99(r) / ratio99(c));
      warms.push(ratio99(w));
      log(`${String(s + 1).padStart(5)}  ${cell(c).padEnd(24)}  ${cell(r).padEnd(27)}  ${vsControl.at(-1)!.toFixed(2).padStart(10)}   ${cell(w).padEnd(21)} ${String(errors(control) + errors(raw) + errors(warm)).padStart(6)}${before}`);
    }
  } finally {
    await client.close();
  }
  const verdict = (r: number | undefined): string => `${r?.toFixed(2) ?? 'n/a'} → ${r !== undefined && r <= 2 ? 'met' : 'MISSED'}`;
  log(`goal first-second p99 ≤ 2× steady p99 (median of starts): raw ${verdict(median(raws))}; raw÷control ${verdict(median(vsControl))}; warm client ${verdict(median(warms))}`);
  if (baseline !== undefined) log(`baseline (${baseline}) under the warm client, median of starts: ${median(baselines)?.toFixed(2) ?? 'n/a'}`);
}

async function sideBySide(log: Log, appPort: number, dir: string): Promise<void> {
  const qp = await startQueueProxy(appPort);
  const act = await startActivator(qp.port, dir);
  const client = new WarmClient();
  try {
    const targets = [
      { name: 'direct', port: appPort, host: undefined as string | undefined },
      { name: 'queue-proxy', port: qp.port, host: undefined },
      { name: 'activator + queue-proxy', port: act.port, host: HOST },
    ];
    // Warm every path and the one client (its connections to each target, JIT) before the measured rounds.
    for (let w = 0; w < 2; w++) for (const t of targets) await client.load(t.port, 1, t.host);
    const rounds: { p50: number; p95: number; p99: number; errors: number }[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (k + round) % targets.length;
        const t = targets[i]!;
        const l = await client.load(t.port, 3, t.host);
        const v = oks(l);
        rounds[i]!.push({ p50: quantile(v, 0.5), p95: quantile(v, 0.95), p99: quantile(v, 0.99), errors: errors(l) });
      }
    }
    log('');
    log(`side by side: ${RATE} req/s open model from one warm client, 3 s per target per round, ${ROUNDS} interleaved rounds; medians over rounds (ms, from the scheduled start; added = median of per-round differences)`);
    log('path                       p50     p95     p99   added p95  added p99  errors');
    const added = (i: number, pick: 'p95' | 'p99'): number | undefined => median(rounds[i]!.map((r, j) => r[pick] - rounds[0]![j]![pick]));
    for (const [i, t] of targets.entries()) {
      const r = rounds[i]!;
      log(
        `${t.name.padEnd(24)} ${ms(median(r.map((x) => x.p50))).padStart(6)}  ${ms(median(r.map((x) => x.p95))).padStart(6)}  ${ms(median(r.map((x) => x.p99))).padStart(6)}  ` +
          `${(i === 0 ? '–' : '+' + ms(added(i, 'p95'))).padStart(9)}  ${(i === 0 ? '–' : '+' + ms(added(i, 'p99'))).padStart(9)}  ${String(r.reduce((n, x) => n + x.errors, 0)).padStart(6)}`,
      );
    }
    const a95 = added(2, 'p95');
    const a99 = added(2, 'p99');
    log(`goal activator + queue-proxy ≤ +2 ms p95: +${ms(a95)} → ${a95 !== undefined && a95 <= 2 ? 'met' : 'MISSED'}; ≤ +5 ms p99: +${ms(a99)} → ${a99 !== undefined && a99 <= 5 ? 'met' : 'MISSED'}`);
  } finally {
    await client.close();
    await stop(act.child);
    await stop(qp.child);
  }
}

export default async function bench(log: Log): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tide-bench-e2e-'));
  const app = await startApp();
  try {
    if (process.env['BENCH_E2E'] !== 'side') await warmUp(log, app.port);
    if (process.env['BENCH_E2E'] !== 'warmup') await sideBySide(log, app.port, dir);
  } finally {
    await stop(app.child);
    rmSync(dir, { recursive: true, force: true });
  }
}
