/**
 * `npm run bench e2e`: the data plane end to end, as Knative's dataplane-probe and scale-from-zero benchmarks measure
 * it (docs/knative-parity.md §d), with `tide load`'s open-model engine as the client (the real CLI, in its own process).
 * 1. 1,000 requests/s for BENCH_E2E_SECONDS (default 5) against the example app sleeping 100 ms: direct, through the
 *    queue-proxy, and through the activator (proxy mode) and the queue-proxy. Targets interleave over BENCH_ROUNDS
 *    (default 2) rounds; latency is measured from each request's scheduled start (no coordinated omission). Reports
 *    the p50/p95/p99 each path adds over direct. Knative's SLA: p95 ≤ +10 ms; our goal: ≤ +1 ms.
 * 2. Scale from zero with 25 parallel requests: the requests are sent while a pod (app + queue-proxy) starts; the
 *    activator holds them and releases them when the pod's endpoint is published. Reports the p95 of these first
 *    responses (Knative's SLA: ≤ 2 s) and the activator's own overhead over the pod's start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { systemClock } from '../common/clock.js';
import { createListener } from '../common/http/server.js';
import { silentLogger } from '../common/logger.js';
import { fromRoot } from '../common/paths.js';
import { buildActivator } from '../activator/app.js';
import { StaticEndpointsSource, StaticRevisionSource } from '../activator/static-source.js';
import { probeQueueProxy } from '../local/http/probe.js';
import { freePorts } from '../local/process/ports.js';
import { queueProxyCommand } from '../proxy/node-flags.js';
import { SCHEDULED_METRIC } from '../load/engine.js';
import type { SummaryData } from '../loadtest/scenarios/summary.ts';

type Log = (line: string) => void;

const TIDE = fromRoot('bin', 'tide.js');
const HELLO = fromRoot('examples', 'hello', 'server.mjs');
const SECONDS = Number(process.env['BENCH_E2E_SECONDS'] ?? '5');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? '2');
const RATE = 1000;
const COLD_REQUESTS = 25;

const children = new Set<ChildProcess>();
function start(cmd: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(cmd, args, { env: { ...process.env, TIDE_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await exited;
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    const r = await request(`http://127.0.0.1:${port}/?delay=0`, { headers: { host: 'hello.localhost' }, signal: AbortSignal.timeout(1000) });
    await r.body.dump();
    return r.statusCode === 200;
  } catch {
    return false;
  }
}

interface Pod {
  app: ChildProcess;
  qp: ChildProcess;
  appPort: number;
  qpPort: number;
}

/** The example app and a queue-proxy in front of it, as tide up starts a replica. */
async function startPod(drainQuiet = '0'): Promise<Pod> {
  const [appPort, qpPort] = (await freePorts(2)) as [number, number];
  const app = start(process.execPath, [HELLO], { PORT: String(appPort) });
  const [node, ...args] = queueProxyCommand(TIDE);
  const qp = start(node, args, {
    CONTAINER_CONCURRENCY: '0',
    QUEUE_SERVING_PORT: String(qpPort),
    USER_PORT: String(appPort),
    REVISION_TIMEOUT_SECONDS: '60',
    SERVING_NAMESPACE: 'default',
    SERVING_CONFIGURATION: 'hello',
    SERVING_REVISION: 'hello',
    SERVING_SERVICE: 'hello',
    SERVING_POD: 'hello-pod',
    SERVING_POD_IP: '127.0.0.1',
    TIDE_BIND_HOST: '127.0.0.1',
    TIDE_USER_HOST: '127.0.0.1',
    TIDE_ADMIN_PORT: '0',
    TIDE_STATS_PORT: '0',
    TIDE_METRICS_PORT: '0',
    TIDE_DRAIN_QUIET_SECONDS: drainQuiet,
  });
  return { app, qp, appPort, qpPort };
}

interface PathFigures {
  p50: number;
  p95: number;
  p99: number;
  requests: number;
  failed: number;
  dropped: number;
}

/** One open-model run of `tide load steady` (1,000/s of `/?delay=100`) against `port`. */
async function loadRun(dir: string, port: number, name: string): Promise<PathFigures> {
  const out = join(dir, `${name}.json`);
  const child = spawn(process.execPath, [TIDE, 'load', 'steady', '--target', `http://127.0.0.1:${port}`, '--host', 'hello.localhost', '--rate', String(RATE), '--duration', `${SECONDS}s`, '--summary-export', out], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  children.delete(child);
  if (code !== 0 && code !== 99) throw new Error(`tide load exited ${code}`);
  const data = JSON.parse(readFileSync(out, 'utf8')) as SummaryData;
  const lat = data.metrics[SCHEDULED_METRIC]!.values;
  return {
    p50: lat['med']!,
    p95: lat['p(95)']!,
    p99: lat['p(99)']!,
    requests: data.metrics['http_reqs']!.values['count']!,
    failed: data.metrics['http_req_failed']!.values['passes']!,
    dropped: data.metrics['dropped_iterations']!.values['count']!,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function endToEnd(dir: string, log: Log): Promise<Record<string, unknown>> {
  const pod = await startPod();
  const [actPort] = (await freePorts(1)) as [number];
  const config = join(dir, 'activator.yaml');
  writeFileSync(
    config,
    `activator: { trustReadyEndpoints: true }\nrevisions:\n  - revision: hello\n    hosts: [hello.localhost]\n    mode: proxy\n    endpoints:\n      - { name: hello-pod, address: "127.0.0.1:${pod.qpPort}", ready: true }\n`,
  );
  const activator = start(process.execPath, [TIDE, 'activator', '--config', config, '--port', String(actPort), '--metrics-port', '0', '--host', '127.0.0.1'], {});
  try {
    await until('the app', () => answers(pod.appPort));
    await until('the queue-proxy', () => answers(pod.qpPort));
    await until('the activator', () => answers(actPort));
    const targets: [string, number][] = [
      ['direct', pod.appPort],
      ['queue-proxy', pod.qpPort],
      ['activator+queue-proxy', actPort],
    ];
    const runs = new Map<string, PathFigures[]>(targets.map(([n]) => [n, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, port] of targets) runs.get(name)!.push(await loadRun(dir, port, `${name}-${round}`));
    }
    const fig = (name: string, k: 'p50' | 'p95' | 'p99'): number => median(runs.get(name)!.map((r) => r[k]));
    const direct = { p50: fig('direct', 'p50'), p95: fig('direct', 'p95'), p99: fig('direct', 'p99') };
    const out: Record<string, unknown> = { rate: RATE, seconds: SECONDS, rounds: ROUNDS, appSleepMs: 100 };
    log(`open model ${RATE}/s × ${SECONDS} s × ${ROUNDS} rounds, app sleeps 100 ms; latency from the scheduled start (ms, median over rounds):`);
    log(`  path                    p50      p95      p99     added p50/p95/p99      requests  failed  dropped`);
    for (const [name] of targets) {
      const f = { p50: fig(name, 'p50'), p95: fig(name, 'p95'), p99: fig(name, 'p99') };
      const rs = runs.get(name)!;
      const added = { p50: f.p50 - direct.p50, p95: f.p95 - direct.p95, p99: f.p99 - direct.p99 };
      const sum = (k: 'requests' | 'failed' | 'dropped'): number => rs.reduce((a, r) => a + r[k], 0);
      out[name] = { ...f, added, requests: sum('requests'), failed: sum('failed'), dropped: sum('dropped') };
      log(
        `  ${name.padEnd(22)} ${f.p50.toFixed(2).padStart(7)}  ${f.p95.toFixed(2).padStart(7)}  ${f.p99.toFixed(2).padStart(7)}   ` +
          `${name === 'direct' ? '      —           ' : `+${added.p50.toFixed(2)}/+${added.p95.toFixed(2)}/+${added.p99.toFixed(2)}`.padEnd(20)}  ${String(sum('requests')).padStart(8)}  ${String(sum('failed')).padStart(6)}  ${String(sum('dropped')).padStart(7)}`,
      );
    }
    const p95Added = (out['activator+queue-proxy'] as { added: { p95: number } }).added.p95;
    log(`  goal p95 added ≤ 1 ms (Knative's SLA ≤ 10 ms) through activator+queue-proxy: ${p95Added <= 1 ? 'met' : p95Added <= 10 ? 'missed ours, within Knative SLA' : 'missed'} (+${p95Added.toFixed(2)} ms)`);
    return out;
  } finally {
    await stop(activator);
    await stop(pod.qp);
    await stop(pod.app);
  }
}

/** 25 parallel requests at a revision with no pod; a pod starts at the same moment. */
async function scaleFromZero(log: Log): Promise<Record<string, unknown>> {
  const revisions = new StaticRevisionSource([
    { namespace: 'default', revision: 'hello', hosts: ['hello.localhost'], containerConcurrency: 0, timeoutSeconds: 60, responseStartTimeoutSeconds: 60, idleTimeoutSeconds: 0 },
  ]);
  const endpoints = new StaticEndpointsSource();
  const app = buildActivator({ revisions, endpoints, stats: { report: () => Promise.resolve(), isReachable: () => true }, clock: systemClock, random: Math.random, logger: silentLogger(), config: { drainDelayMs: 0 } });
  app.start();
  const listener = createListener({ handler: app.handler });
  const port = await listener.listen(0, '127.0.0.1');
  const agent = new Agent({ connections: COLD_REQUESTS });
  let pod: Pod | undefined;
  try {
    const t0 = performance.now();
    const replies = Array.from({ length: COLD_REQUESTS }, async () => {
      const r = await request(`http://127.0.0.1:${port}/?delay=0`, { dispatcher: agent, headers: { host: 'hello.localhost' } });
      await r.body.dump();
      return { status: r.statusCode, ms: performance.now() - t0 };
    });
    pod = await startPod();
    const qpAddress = `127.0.0.1:${pod.qpPort}`;
    await until('the pod ready', () => probeQueueProxy(qpAddress, 200), 20_000);
    const readyMs = performance.now() - t0;
    endpoints.set('default', 'hello', [{ name: 'hello-pod', address: qpAddress, ready: true }]);
    const got = await Promise.all(replies);
    const ms = got.map((g) => g.ms).sort((a, b) => a - b);
    const p95 = ms[Math.ceil(0.95 * ms.length) - 1]!;
    const overhead = p95 - readyMs;
    const ok = got.filter((g) => g.status === 200).length;
    log(`scale from zero, ${COLD_REQUESTS} parallel requests: pod ready after ${readyMs.toFixed(0)} ms (process start to passing probe);`);
    log(`  first responses p50 ${median(ms).toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, max ${ms[ms.length - 1]!.toFixed(0)} ms; ${ok}/${COLD_REQUESTS} × 200`);
    log(`  activator overhead over the pod's start (p95 − ready): ${overhead.toFixed(1)} ms; Knative's SLA p95 ≤ 2 s: ${p95 <= 2000 ? 'met' : 'missed'}`);
    return { requests: COLD_REQUESTS, ok, podReadyMs: readyMs, p50Ms: median(ms), p95Ms: p95, maxMs: ms[ms.length - 1], activatorOverheadMs: overhead };
  } finally {
    await agent.close();
    await listener.close({ timeoutMs: 1000 });
    await app.stop();
    if (pod) {
      await stop(pod.qp);
      await stop(pod.app);
    }
  }
}

export default async function bench(log: Log): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'tide-bench-e2e-'));
  const onExit = (): void => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', onExit);
  try {
    const e2e = await endToEnd(dir, log);
    const cold = await scaleFromZero(log);
    return { endToEnd: e2e, scaleFromZero: cold };
  } finally {
    process.off('exit', onExit);
    onExit();
    rmSync(dir, { recursive: true, force: true });
  }
}
