/**
 * `npm run bench startup`: how long `tide queue-proxy` takes from exec to its first 200 readiness answer (the app
 * already listening), against Node's own empty process (`node -e` up to its first output), over N interleaved execs.
 * Wall time and CPU time (all threads, /proc/<pid>/task/<tid>/schedstat) are both reported: on a shared machine the
 * CPU figure is the steadier one. Goal: median ≤ 2× the empty process, and ≤ 100 ms.
 * BENCH_TIDE_BASELINE=/path/to/checkout/bin/tide.js adds that build's queue-proxy to the same interleaved rounds, for a
 * before/after comparison in one run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromRoot } from '../common/paths.js';
import { queueProxyCommand } from '../proxy/node-flags.js';
import { baselineTide, freePort, median, stop } from './proxy.bench.js';

type Log = (line: string) => void;

const EXECS = Number(process.env['BENCH_EXECS'] ?? '9');
const PROBE = { 'user-agent': 'kube-probe/1.31', 'k-network-probe': 'queue' };

/** CPU time of every thread of `pid` so far, in ms (Linux); NaN elsewhere. */
function cpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return NaN;
  }
}

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: PROBE, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function queueProxyStart(appPort: number, tideBin = fromRoot('bin', 'tide.js')): Promise<Sample> {
  const port = await freePort();
  const [node, ...args] = queueProxyCommand(tideBin);
  const t0 = performance.now();
  const child: ChildProcess = spawn(node, args, {
    stdio: 'ignore',
    env: {
      ...process.env,
      CONTAINER_CONCURRENCY: '10',
      QUEUE_SERVING_PORT: String(port),
      USER_PORT: String(appPort),
      REVISION_TIMEOUT_SECONDS: '300',
      SERVING_NAMESPACE: 'bench',
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
    },
  });
  try {
    const deadline = t0 + 20_000;
    while (!(await probe(port))) {
      if (performance.now() > deadline) throw new Error('queue-proxy not ready after 20 s');
      await new Promise((r) => setTimeout(r, 1));
    }
    return { wallMs: performance.now() - t0, cpuMs: cpuMs(child.pid!) };
  } finally {
    await stop(child);
  }
}

async function emptyNode(): Promise<Sample> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ['-e', "process.stdout.write('r'); setInterval(() => {}, 1e6)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((r) => child.stdout.once('data', r));
  const s = { wallMs: performance.now() - t0, cpuMs: cpuMs(child.pid!) };
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return s;
}

export default async function bench(log: Log): Promise<void> {
  const app = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const appPort = (app.address() as AddressInfo).port;
  const qp: Sample[] = [];
  const empty: Sample[] = [];
  const before: Sample[] = [];
  const baseline = baselineTide();
  try {
    // The first start after a build fills the compile cache (bin/tide.js).
    await queueProxyStart(appPort);
    if (baseline !== undefined) await queueProxyStart(appPort, baseline);
    for (let i = 0; i < EXECS; i++) {
      empty.push(await emptyNode());
      qp.push(await queueProxyStart(appPort));
      if (baseline !== undefined) before.push(await queueProxyStart(appPort, baseline));
    }
  } finally {
    await new Promise((r) => app.close(r));
  }
  const m = (xs: Sample[], k: keyof Sample): number => median(xs.map((x) => x[k])) ?? NaN;
  log(`queue-proxy exec → first 200 readiness answer (app already listening) vs node's empty process, median of ${EXECS} interleaved execs (BENCH_EXECS)`);
  log(`                 wall ms   CPU ms`);
  log(`queue-proxy     ${m(qp, 'wallMs').toFixed(1).padStart(8)} ${m(qp, 'cpuMs').toFixed(1).padStart(8)}`);
  if (baseline !== undefined) log(`baseline        ${m(before, 'wallMs').toFixed(1).padStart(8)} ${m(before, 'cpuMs').toFixed(1).padStart(8)}   (${baseline})`);
  log(`node (empty)    ${m(empty, 'wallMs').toFixed(1).padStart(8)} ${m(empty, 'cpuMs').toFixed(1).padStart(8)}`);
  const wallRatio = m(qp, 'wallMs') / m(empty, 'wallMs');
  const cpuRatio = m(qp, 'cpuMs') / m(empty, 'cpuMs');
  log(`ratio           ${wallRatio.toFixed(2).padStart(8)} ${cpuRatio.toFixed(2).padStart(8)}`);
  log(`goal ≤ 2× node's empty process (wall): ${wallRatio.toFixed(2)} → ${wallRatio <= 2 ? 'met' : 'MISSED'}; ≤ 100 ms (wall): ${m(qp, 'wallMs').toFixed(0)} ms → ${m(qp, 'wallMs') <= 100 ? 'met' : 'MISSED'}`);
}
