/**
 * `npm run bench e2e-latency`: latency of the whole path under an open model (bench/open-loop.ts: 1,000 requests/s,
 * counted from each request's scheduled start) in front of the example app answering in 100 ms (examples/hello,
 * DELAY_MS=100). Two measures:
 * 1. Warm-up of a fresh queue-proxy (a replica that has just started under load): p99 of the first second against the
 *    steady p99 (seconds 2–4) of the same run; goal ≤ 2×.
 * 2. Side by side in one run: direct to the app, through the queue-proxy, through the activator + queue-proxy, in
 *    interleaved rounds; goal activator + queue-proxy ≤ +2 ms p95 and ≤ +5 ms p99 over direct.
 * The queue-proxy and activator run on core 1 (taskset when present), the app and the load client on core 0.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { fromRoot } from '../common/paths.js';
import { queueProxyCommand } from '../proxy/node-flags.js';
import { freePort, median, start, stop, waitForLine } from './proxy.bench.js';

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

async function openLoad(port: number, seconds: number, host?: string): Promise<Load> {
  const child = start(0, process.execPath, [join(here, 'open-loop.js')], { TARGET: `127.0.0.1:${port}`, RATE: String(RATE), SECONDS: String(seconds), ...(host ? { HOST: host } : {}) });
  const m = await waitForLine(child, /(\{.*\})\n/, (seconds + 30) * 1000);
  return JSON.parse(m[1]!) as Load;
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

async function startQueueProxy(appPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const [node, ...args] = queueProxyCommand(TIDE);
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

async function warmUp(log: Log, appPort: number): Promise<void> {
  log(`warm-up: a fresh queue-proxy gets ${RATE} req/s the moment it is ready, for 4 s; ${WARMUP_STARTS} fresh starts`);
  log('start  first-second p50 / p99 ms   steady (2-4 s) p50 / p99 ms   ratio p99   errors');
  const ratios: number[] = [];
  for (let s = 0; s < WARMUP_STARTS; s++) {
    const qp = await startQueueProxy(appPort);
    try {
      const l = await openLoad(qp.port, 4);
      const first = oks(l, 0, 1000);
      const steady = oks(l, 2000, 4000);
      const ratio = quantile(first, 0.99) / quantile(steady, 0.99);
      ratios.push(ratio);
      log(`${String(s + 1).padStart(5)}  ${ms(quantile(first, 0.5)).padStart(10)} / ${ms(quantile(first, 0.99)).padEnd(12)}  ${ms(quantile(steady, 0.5)).padStart(10)} / ${ms(quantile(steady, 0.99)).padEnd(14)} ${ratio.toFixed(2).padStart(8)}  ${String(errors(l)).padStart(6)}`);
    } finally {
      await stop(qp.child);
    }
  }
  const r = median(ratios);
  log(`goal first-second p99 ≤ 2× steady p99 (median of starts): ${r?.toFixed(2) ?? 'n/a'} → ${r !== undefined && r <= 2 ? 'met' : 'MISSED'}`);
}

async function sideBySide(log: Log, appPort: number, dir: string): Promise<void> {
  const qp = await startQueueProxy(appPort);
  const act = await startActivator(qp.port, dir);
  try {
    const targets = [
      { name: 'direct', port: appPort, host: undefined as string | undefined },
      { name: 'queue-proxy', port: qp.port, host: undefined },
      { name: 'activator + queue-proxy', port: act.port, host: HOST },
    ];
    // Warm every path (connections, JIT) before the measured rounds.
    for (const t of targets) await openLoad(t.port, 1, t.host);
    const rounds: { p50: number; p95: number; p99: number; errors: number }[][] = targets.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < targets.length; k++) {
        const i = (k + round) % targets.length;
        const t = targets[i]!;
        const l = await openLoad(t.port, 3, t.host);
        const v = oks(l);
        rounds[i]!.push({ p50: quantile(v, 0.5), p95: quantile(v, 0.95), p99: quantile(v, 0.99), errors: errors(l) });
      }
    }
    log('');
    log(`side by side: ${RATE} req/s open model, 3 s per target per round, ${ROUNDS} interleaved rounds; medians over rounds (ms, from the scheduled start)`);
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
