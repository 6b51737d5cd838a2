/**
 * The Kubernetes backend against the fake API server (test/support/kube), which runs in a child process from its
 * TypeScript source (bench/children/kube-apiserver.ts):
 * - time from the first request at zero (sent to the kube activator) to the `/scale` write, and from the pods being
 *   ready (the private Service's EndpointSlice seen by the autoscaler) to the Service switch's EndpointSlice flip, with
 *   the cluster simulator turning /scale into Pods and EndpointSlices;
 * - 1,000 managed Deployments (issue 12): the autoscaler alone in a child pinned to one core
 *   (bench/children/kube-autoscaler.ts) against a fake seeded with them (bench/children/kube-seed.ts): informer memory,
 *   memory per Deployment, and the time of its 1-second tick, against the goal of fitting in that second.
 * The fake's own round-trip latency is measured and printed, so the figures can be read against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { AutoscalerStatsClient } from '../common/http/stats-grpc.js';
import { silentLogger } from '../common/logger.js';
import { fromRoot } from '../common/paths.js';
import { emptyStat } from '../common/stats.js';
import { parseAutoscalerConfig } from '../autoscaler/config/autoscaler-config.js';
import { startKubeActivator } from '../kubernetes/activator-main.js';
import { startKubeAutoscaler } from '../kubernetes/autoscaler-main.js';
import { createKubeApi, loadKubeConfig, paths, type KubeApi } from '../kubernetes/client.js';
import type { EndpointSlice } from '../kubernetes/objects.js';
import { servesDirect, type Seeded } from './children/kube-scale-names.js';
import type { KubeScaleResult, Memory } from './children/kube-autoscaler.js';
import { pinned, TASKSET } from './proxy.bench.js';

const ROUNDS = 5;
const POD_START_MS = 300;

const SCALE_DEPLOYMENTS = 1000;
const SCALE_WARMUP_TICKS = 4;
const SCALE_TICKS = 20;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`bench kube: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function deployment(name: string, annotations: Record<string, string>): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default', labels: { app: name, 'tide.dev/managed': 'true' }, annotations },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'app' }] } } },
  };
}

function service(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: 'default',
      labels: { 'tide.dev/managed': 'true' },
      annotations: { 'tide.dev/deployment': name, 'tide.dev/original-selector': JSON.stringify({ app: name }) },
    },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

type Log = (line: string) => void;

/**
 * The fake API server in a child (core 0 when taskset is there), from source: `cluster` runs the cluster simulator
 * (ARG = pod start delay, ms), `scale` seeds ARG managed Deployments. Stops on `stop`.
 */
async function startFake(dir: string, mode: 'cluster' | 'scale', arg: number): Promise<{ child: ChildProcess; kubeconfig: string; seeded?: Seeded }> {
  const [cmd, args] = pinned(0, process.execPath, [
    '--experimental-transform-types',
    '--no-warnings',
    '--import',
    fromRoot('bench', 'children', 'ts-resolve.ts'),
    fromRoot('bench', 'children', 'kube-apiserver.ts'),
    dir,
    mode,
    String(arg),
  ]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const m = await new Promise<{ kubeconfig: string; seeded?: Seeded }>((resolve, reject) => {
    child.once('message', (msg: { kubeconfig: string; seeded?: Seeded }) => resolve(msg));
    child.once('exit', (code) => reject(new Error(`fake API server exited (${code})`)));
  });
  return { child, ...m };
}

async function stopFake(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.send('stop');
  await exited;
}

export default async function run(log: Log): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'tide-bench-kube-'));
  try {
    const { child, kubeconfig } = await startFake(dir, 'cluster', POD_START_MS);
    let rttMs: number;
    let cold: Awaited<ReturnType<typeof coldStart>>;
    try {
      const api = createKubeApi(loadKubeConfig({ kind: 'kubeconfig', file: kubeconfig }).kc);
      // The fake's own latency: one GET round trip (TLS keep-alive), median of 50.
      const rtt: number[] = [];
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        await api.get('/version');
        rtt.push(performance.now() - t);
      }
      rttMs = median(rtt);
      log(`fake API server (child process, HTTPS): GET round trip median ${ms(rttMs)}; pods start ${POD_START_MS} ms after their creation`);
      cold = await coldStart(api, log);
    } finally {
      await stopFake(child);
    }
    const scale = await manyDeployments(dir, log);
    return { fakeRoundTripMs: round(rttMs), ...cold, scale };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** The nearest-rank percentile `p` (0–100). */
function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** 1,000 managed Deployments: informer memory, memory per Deployment, tick time (bench/children/kube-autoscaler.ts). */
async function manyDeployments(dir: string, log: Log): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  log(`1,000 Deployments: seeding ${SCALE_DEPLOYMENTS} managed Deployments into the fake (in its process)…`);
  const { child: fake, kubeconfig, seeded } = await startFake(dir, 'scale', SCALE_DEPLOYMENTS);
  try {
    const s = seeded!;
    log(
      `seeded in ${s.ms} ms: ${s.deployments} Deployments and their Services as \`tide inject\` makes them, ${s.services - s.deployments} private Services, ` +
        `${s.slices} EndpointSlices (${s.pods} ready pods; ${s.atZero} Deployments at zero, the rest at 1–3 pods)`,
    );
    const script = fileURLToPath(new URL('./children/kube-autoscaler.js', import.meta.url));
    const [cmd, args] = pinned(1, process.execPath, ['--expose-gc', script, kubeconfig, String(SCALE_WARMUP_TICKS), String(SCALE_TICKS)]);
    log(TASKSET ? 'the autoscaler runs alone in a child pinned to core 1 (taskset), the fake on core 0' : 'taskset not found: the autoscaler child is NOT pinned to one core');
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const timeout = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const r = await new Promise<KubeScaleResult>((resolve, reject) => {
      child.on('message', (m: { progress?: string; result?: KubeScaleResult }) => {
        if (m.progress !== undefined) log(m.progress);
        if (m.result) resolve(m.result);
      });
      child.once('exit', (code) => reject(new Error(`the autoscaler child exited (${code}) before its result`)));
    }).finally(() => clearTimeout(timeout));
    await new Promise((res) => (child.exitCode !== null ? res(undefined) : child.once('exit', res)));

    const n = s.deployments;
    const delta = (a: Memory, b: Memory): Memory => ({ heapUsed: b.heapUsed - a.heapUsed, rss: b.rss - a.rss });
    const inf = delta(r.informers.before, r.informers.after);
    const all = delta(r.autoscaler.before, r.autoscaler.synced);
    const later = delta(r.autoscaler.before, r.autoscaler.afterTicks);
    log(
      `informers alone (4, as kubernetes/watched.ts): listed in ${r.informers.syncMs.toFixed(0)} ms; JS heap +${mib(inf.heapUsed)}, RSS +${mib(inf.rss)} ` +
        `(after a forced GC, from started-nothing-listed to all synced) = ${kib(inf.heapUsed / n)} heap per Deployment (with its 2 Services and slices)`,
    );
    log(
      `backend + autoscaler (informers, indexes, ${n} revision loops): heap +${mib(all.heapUsed)}, RSS +${mib(all.rss)} once synced = ${kib(all.heapUsed / n)} heap per Deployment; ` +
        `heap +${mib(later.heapUsed)} after the ticks (the windows filling)`,
    );
    const direct = Array.from({ length: n }, (_, i) => i).filter(servesDirect).length;
    log(
      `start: listed in ${r.autoscaler.listedMs.toFixed(0)} ms; ${r.autoscaler.startupWrites} switch EndpointSlice writes at start, answered by ${r.autoscaler.syncMs.toFixed(0)} ms ` +
        `(the ${direct} Deployments in serve mode keep their switches as written until their first decider tick)`,
    );
    const wall = r.ticks.map((t) => t.wallMs);
    const cpu = r.ticks.map((t) => t.cpuMs);
    const deciding = r.ticks.filter((t) => t.timers > 2 * n).map((t) => t.wallMs);
    const tickWrites = r.ticks.reduce((a, t) => a + t.writes, 0);
    log(
      `tick (${n} revisions: scrape ${s.pods} pods, decide every 2 s, reconcile, write), ${r.ticks.length} ticks after the warm-up (≥ ${SCALE_WARMUP_TICKS} ticks, 2 with decisions): ` +
        `median ${ms(median(wall))}, p99 ${ms(percentile(wall, 99))}, max ${ms(Math.max(...wall))}; CPU median ${ms(median(cpu))}, max ${ms(Math.max(...cpu))}; ` +
        `seconds with a decider tick: median ${ms(median(deciding))}; ${tickWrites} writes (/scale, switches)`,
    );
    const first = r.firstDecision;
    if (first) {
      log(
        `first decider tick after the start: ${ms(first.wallMs)} (CPU ${ms(first.cpuMs)}, ${first.writes} writes: the first /scale and switch writes)`,
      );
    }
    const met = Math.max(...wall) < 1000;
    log(`goal tick < 1000 ms on one core: ${met ? 'met' : 'MISSED'} (median ${median(wall).toFixed(1)} ms, max ${Math.max(...wall).toFixed(1)} ms)`);
    log(`(the 1,000-Deployment case took ${((performance.now() - t0) / 1000).toFixed(1)} s; stats: pods fed by a load model, activator demand for 3 more revisions at zero each second)`);
    return {
      deployments: n,
      services: s.services,
      endpointSlices: s.slices,
      readyPods: s.pods,
      atZero: s.atZero,
      seedMs: s.ms,
      pinned: TASKSET !== undefined,
      informers: { listedMs: round(r.informers.syncMs, 0), heapBytes: inf.heapUsed, rssBytes: inf.rss, heapBytesPerDeployment: Math.round(inf.heapUsed / n) },
      autoscaler: {
        listedMs: round(r.autoscaler.listedMs, 0),
        settledMs: round(r.autoscaler.syncMs, 0),
        startupWrites: r.autoscaler.startupWrites,
        heapBytes: all.heapUsed,
        rssBytes: all.rss,
        heapBytesPerDeployment: Math.round(all.heapUsed / n),
        heapBytesAfterTicks: later.heapUsed,
        rssBytesAfterTicks: later.rss,
      },
      tick: {
        count: wall.length,
        medianMs: round(median(wall)),
        p99Ms: round(percentile(wall, 99)),
        maxMs: round(Math.max(...wall)),
        cpuMedianMs: round(median(cpu)),
        cpuMaxMs: round(Math.max(...cpu)),
        decidingMedianMs: round(median(deciding)),
        writes: tickWrites,
      },
      firstDecisionTick: first ? { wallMs: round(first.wallMs), cpuMs: round(first.cpuMs), writes: first.writes } : null,
      goalTickUnder1000Ms: met,
    };
  } finally {
    await stopFake(fake);
  }
}

/** First request at zero → /scale write, and pods ready → switch flip, over ROUNDS fresh Deployments. */
async function coldStart(api: KubeApi, log: Log): Promise<{ coldStartRounds: number; firstRequestToScaleMs: number; podsReadyToFlipMs: number }> {
  const { config } = parseAutoscalerConfig({ 'stable-window': '6s', 'scale-to-zero-grace-period': '30s' });
  const writes: { atMs: number; method: string; path: string; body: unknown }[] = [];
  const recording: KubeApi = {
    ...api,
    create: (p, b) => (writes.push({ atMs: performance.now(), method: 'POST', path: p, body: b }), api.create(p, b)),
    replace: (p, b) => (writes.push({ atMs: performance.now(), method: 'PUT', path: p, body: b }), api.replace(p, b)),
    patch: (p, b, t) => (writes.push({ atMs: performance.now(), method: 'PATCH', path: p, body: b }), api.patch(p, b, t)),
  };
  const autoscaler = await startKubeAutoscaler({
    api: recording,
    namespace: 'default',
    systemNamespace: 'tide-system',
    identity: 'bench',
    podIp: '127.0.0.1',
    host: '127.0.0.1',
    statsPort: 0,
    httpPort: 0,
    config,
    logger: silentLogger(),
    // Simulated pods listen nowhere: they report idle.
    scraper: (address) => Promise.resolve({ ...emptyStat(address), timestampMs: Date.now() }),
    lease: { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 500 },
  });
  const stats = new AutoscalerStatsClient(autoscaler.servers.statsAddress);
  const activator = await startKubeActivator({
    api,
    namespace: 'default',
    systemNamespace: 'tide-system',
    podIp: '127.0.0.1',
    autoscaler: autoscaler.servers.statsAddress,
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    logger: silentLogger(),
    config: { drainDelayMs: 0 },
    stats,
  });
  await api.create(paths.services('tide-system'), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'tide-activator', namespace: 'tide-system' }, spec: { ports: [{ name: 'http', port: 8012 }] } });
  await api.create(paths.endpointSlices('tide-system'), {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'tide-activator-0', namespace: 'tide-system', labels: { 'kubernetes.io/service-name': 'tide-activator', 'endpointslice.kubernetes.io/managed-by': 'bench' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    ports: [{ name: 'http', port: activator.port }],
  });
  await until('leader', () => autoscaler.elector.isLeader());
  const toScale: number[] = [];
  const toFlip: number[] = [];
  const readyAt = new Map<string, number>();
  autoscaler.backend.slices.on({
    update: (s) => seeReady(s),
    add: (s) => seeReady(s),
  });
  function seeReady(s: EndpointSlice): void {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'] ?? '';
    if (!svc.endsWith('-private') || readyAt.has(svc)) return;
    if ((s.endpoints ?? []).some((e) => e.conditions?.ready !== false)) readyAt.set(svc, performance.now());
  }
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const name = `cold-${i}`;
      await api.create(paths.deployments('default'), deployment(name, { 'tide.dev/container-concurrency': '10', 'autoscaling.knative.dev/target-burst-capacity': '0' }));
      await api.create(paths.services('default'), service(name));
      const slicePath = paths.endpointSlice('default', `${name}-tide`);
      await until(`${name}: switch on the activator`, async () => {
        try {
          const s = await api.get<EndpointSlice>(slicePath);
          return (s.endpoints ?? []).some((e) => e.addresses[0] === '127.0.0.1');
        } catch {
          return false;
        }
      });
      await until(`${name}: activator knows it`, () => activator.sources.byName('default', name) !== undefined);
      const abort = new AbortController();
      const t0 = performance.now();
      const req = request(`http://127.0.0.1:${activator.port}/`, { headers: { host: `${name}.default.svc` }, signal: abort.signal }).catch(() => undefined);
      await until(`${name}: /scale write`, () => writes.some((w) => w.path.endsWith(`/deployments/${name}/scale`) && w.atMs >= t0));
      toScale.push(writes.find((w) => w.path.endsWith(`/deployments/${name}/scale`) && w.atMs >= t0)!.atMs - t0);
      abort.abort();
      await req;
      const flipped = (): { atMs: number } | undefined =>
        writes.find((w) => w.path.includes(`/endpointslices`) && (w.body as EndpointSlice).metadata.name === `${name}-tide` && ((w.body as EndpointSlice).endpoints ?? []).some((e) => e.addresses[0] !== '127.0.0.1'));
      await until(`${name}: switch flipped to the pods`, () => flipped() !== undefined && readyAt.has(`${name}-private`));
      toFlip.push(flipped()!.atMs - readyAt.get(`${name}-private`)!);
    }
  } finally {
    await activator.shutdown();
    stats.close();
    await autoscaler.close();
  }
  log(`first request at zero → /scale write: median ${ms(median(toScale))} over ${ROUNDS} rounds (${toScale.map((x) => x.toFixed(0)).join(', ')} ms)`);
  log(
    `pods ready (private EndpointSlice seen) → switch EndpointSlice written: median ${ms(median(toFlip))} (${toFlip.map((x) => x.toFixed(0)).join(', ')} ms);` +
      ` the autoscaler decides serve mode on its 2 s decider tick`,
  );
  return { coldStartRounds: ROUNDS, firstRequestToScaleMs: round(median(toScale)), podsReadyToFlipMs: round(median(toFlip)) };
}
